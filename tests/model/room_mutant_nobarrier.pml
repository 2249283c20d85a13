/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): P parks without the heavy barrier. C
 * publishes its head (still in C's store buffer) and, with only a compiler
 * barrier, loads waiter: 0, since P's tag is not set yet. P sets the tag and
 * rechecks head: the old value, the store is still buffered. Both look
 * before the other's store is visible (store buffering): P sleeps, C has
 * nothing more to consume, invalid end state.
 */
#define MUTANT_NOBARRIER
#include "room.pml"
