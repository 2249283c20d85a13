/* SPDX-License-Identifier: MIT */
/*
 * Mutant of pool_remote.pml: the pusher links its tail to the old head only
 * after the CAS that published the batch. The owner can take the stack and
 * walk off the batch's end before the link exists, losing what lies below.
 */
#define MUTANT_LINK_AFTER_CAS
#include "pool_remote.pml"
