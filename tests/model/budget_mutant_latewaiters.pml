/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): a waiter increments waiters only after
 * its failed recheck. Between the recheck (used is 100) and waiters++, A's
 * release makes used 0 and reads waiters == 0, so it neither locks nor
 * broadcasts; B then counts itself and waits forever: invalid end state.
 * Holding the mutex does not help, since the releaser takes it only when it
 * sees a waiter: waiters++ must come before the recheck.
 */
#define MUTANT_LATEWAITERS
#include "budget.pml"
