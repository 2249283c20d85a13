/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): the releaser signals ONE waiter instead
 * of broadcasting. With B and C both waiting, A's release of 100 wakes only
 * one of them (say B); B is admitted and C sleeps on although 50 would fit:
 * invalid end state (C blocked in cond_wait). One wake-up per release
 * strands weighted waiters (an incident a client library once shipped).
 */
#define MUTANT_SIGNAL
#include "budget.pml"
