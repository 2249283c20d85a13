/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): the producer loads the phase before it
 * marks itself busy. It reads RUNNING, the closer stores CLOSED, passes its
 * barrier (nothing buffered yet), closes the budget and finds every busy
 * word 0, which it takes for an empty gate. The producer's budget check ran
 * before the close, its busy store is still in its store buffer, and the
 * shard has freed a slot and a unit: it publishes after the closer saw the
 * gate empty. Assertion !gate_empty fails at the publish.
 */
#define MUTANT_LOADFIRST
#include "gate.pml"
