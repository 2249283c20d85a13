/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): P sets the ring's waiter word only
 * after its recheck of head. C frees room between P's recheck (full) and
 * P's tag, and its room_check() reads waiter == 0: nobody wakes P, invalid
 * end state. The tag must be set before the barrier and the recheck.
 */
#define MUTANT_LATEARM
#include "room.pml"
