/* SPDX-License-Identifier: MIT */
/*
 * The fallback when membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) is not
 * available: the consumer's step b is its own full fence, and every producer
 * runs a full fence between steps 1 and 3. Must verify.
 */
#define FENCED
#include "park_wake.pml"
