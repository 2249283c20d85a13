/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): BACKPRESSURE, H does not reload done
 * after it stores want. D handled the last slots and read want == 0 before
 * H stored it; H, trusting the done it read before, refuses the publish
 * and the publisher waits for a WRITABLE no credit will bring. Invalid end
 * state.
 */
#define MUTANT_NORELOAD
#include "topic_credit.pml"
