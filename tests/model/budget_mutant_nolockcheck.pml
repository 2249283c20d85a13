/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): the releaser checks waiters but
 * broadcasts without taking the mutex. B holds the mutex, has counted itself
 * in waiters and its recheck failed (used is still 100) but it has not yet
 * entered cond_wait; A's release makes used 0, sees waiters == 1 and
 * broadcasts to an empty wait set; B then waits forever although it fits:
 * invalid end state. Taking the mutex for the broadcast is what makes it
 * wait until B is inside cond_wait (cond_wait releases the mutex and joins
 * the wait set in one step).
 */
#define MUTANT_NOLOCK
#include "budget.pml"
