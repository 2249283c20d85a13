/* SPDX-License-Identifier: MIT */
/*
 * The room handshake without membarrier (rt->fenced): P's heavy barrier is
 * its own seq_cst fence and room_check() fences between publishing head
 * and loading waiter. Must verify.
 */
#define FENCED
#include "room.pml"
