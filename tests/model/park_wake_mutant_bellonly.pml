/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): the park recheck (step c) looks only at
 * rings whose doorbell bit is set. The bit is a hint: a producer skips the
 * fetch_or when its bit is already set, the consumer clears the bit while
 * the new tail is still buffered, and the recheck, after membarrier made the
 * tail visible, never looks at that ring: stranded message, invalid end
 * state.
 */
#define MUTANT_BELLONLY
#include "park_wake.pml"
