/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): the closer does not wake ring-room
 * waiters (no wake_room_waiters()) and ring_wait() rechecks only the ring,
 * not the phase, after its barrier. A producer that got its budget units
 * and found its ring full sleeps on the waiter word; the shard never frees
 * that ring, and nobody changes the word: the producer sleeps on, the
 * closer waits for its busy word forever, invalid end state. (In C the
 * sleep is cut into ROOM_NAP_NS slices; see gate.pml for why the model
 * holds the closer to waking it.)
 */
#define MUTANT_NOWAKE
#include "gate.pml"
