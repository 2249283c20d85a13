/* SPDX-License-Identifier: MIT */
/*
 * The room handshake over a ring of capacity 1 (K = 3 messages): every
 * message fills the ring, so P parks between any two. Must verify.
 */
#define CAP1
#include "room.pml"
