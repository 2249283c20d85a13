/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): the closer wakes the ring-room waiters
 * before it stores the phase. A producer asleep on a full ring wakes,
 * still reads RUNNING, finds the ring full, stores its tag again and
 * sleeps; the closer stores CLOSED and never wakes it again (nor does the
 * stuck shard free the slot): invalid end state. The phase must be
 * visible before any wake-up it is the reason for.
 */
#define MUTANT_WAKEFIRST
#include "gate.pml"
