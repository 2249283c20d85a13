/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): BACKPRESSURE, H does not wake the
 * waiting publisher when it closes the topic. A refused publisher waits for
 * WRITABLE; the close takes the channel out of H's list, so the credit on
 * its way is ignored, and nothing else will wake it (its retry would get
 * -ENOENT). Invalid end state.
 */
#define MUTANT_CLOSENOWAKE
#include "topic_credit.pml"
