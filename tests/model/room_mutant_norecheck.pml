/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): P sleeps right after its barrier,
 * without looking at head again (no has_input()). C consumed the ring and
 * looked at waiter before P set it (read 0: no wake-up); P's barrier makes
 * the room visible but P never looks: P asleep with its overflow waiting, C
 * waiting on an empty ring, invalid end state.
 */
#define MUTANT_NORECHECK
#include "room.pml"
