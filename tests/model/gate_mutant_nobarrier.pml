/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): the closer leaves out its heavy
 * barrier. The producer marks busy (the store stays in its store buffer),
 * reads RUNNING and closed == 0; the closer stores CLOSED, closes the
 * budget, wakes nobody (nobody sleeps) and reads both busy words 0, which
 * it takes for an empty gate; the shard frees a unit and a slot, and the
 * producer's CAS admits it and it publishes. Assertion !gate_empty fails:
 * the membarrier is what makes the caller's compiler barrier enough.
 */
#define MUTANT_NOBARRIER
#include "gate.pml"
