/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): the closer does not close the budget.
 * A producer that passed the gate waits in budget_wait() for a unit the
 * shard never releases: no broadcast comes, it sleeps forever, and the
 * closer waits for its busy word: invalid end state.
 */
#define MUTANT_NOCLOSE
#include "gate.pml"
