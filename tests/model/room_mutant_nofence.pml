/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): the fenced fallback with room_check()'s
 * fence left out. P's own fence cannot drain C's store buffer: C's head
 * store is still buffered when P rechecks, and C's load of waiter passed
 * it and read 0 (the store-buffering litmus). P sleeps with its overflow
 * waiting: invalid end state.
 */
#define FENCED
#define MUTANT_NOFENCE
#include "room.pml"
