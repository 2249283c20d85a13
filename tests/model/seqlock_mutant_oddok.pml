/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): pn__seq_read_ok() accepts an odd begin
 * value if seq is unchanged. The reader loads seq == 1 inside section 1
 * after the writer stored w0 = 1 but not yet w1, reads w0 == 1 and
 * w1 == 0, and the reload still sees 1: assertion r0 == r1 fails.
 */
#define MUTANT_ODDOK
#include "seqlock.pml"
