/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): the fenced fallback (no membarrier)
 * without the producer's fence between steps 1 and 3. The consumer's own
 * fence cannot drain a producer's store buffer: the store-buffering (Dekker)
 * failure, stranded message, invalid end state.
 */
#define FENCED
#define MUTANT_NOPRODFENCE
#include "park_wake.pml"
