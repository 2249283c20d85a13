/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): BACKPRESSURE, the window has room when
 * sent - done <= W instead of < W. H pushes a third slot while D has
 * handled none: assertion sent - handled <= W fails.
 */
#define MUTANT_WINDOW
#include "topic_credit.pml"
