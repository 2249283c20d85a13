/* SPDX-License-Identifier: MIT */
/*
 * The gate without membarrier (rt->fenced): gate_order() is a seq_cst
 * fence between the producer's busy store and its phase load, and each
 * pn__heavy_barrier() (the closer's, ring_wait()'s) is only the caller's
 * own fence, which drains no other thread's store buffer. Must verify.
 */
#define FENCED
#include "gate.pml"
