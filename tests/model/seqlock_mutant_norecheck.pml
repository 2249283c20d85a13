/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): the reader does not reload seq after
 * the fields; an even begin value is enough. It loads seq == 0 and w0 == 0,
 * the writer then runs section 1 (or more), and the reader loads w1 == 1:
 * assertion r0 == r1 fails.
 */
#define MUTANT_NORECHECK
#include "seqlock.pml"
