/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): D frees the channel object as soon as
 * it sends RETIRE, without waiting for RETIRED. H still has the object in
 * its list and touches it when it handles the RETIRE (or sends it a slot),
 * and slots for it may still be in the ring: use after free, assertion
 * fails.
 */
#define MUTANT_FREEONRETIRE
#include "topic_sub.pml"
