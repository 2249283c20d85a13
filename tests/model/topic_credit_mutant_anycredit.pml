/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): BACKPRESSURE, H acts on every CREDIT(o)
 * (reloads o.done), in its list or not (the credit step taken literally).
 * The entry unsubscribes; D's turn handles o's last slots after its
 * RETIRE(o) and, want being set, sends CREDIT(o) behind it; H answers the
 * RETIRE with RETIRED(o), D frees o, and H then reads the credit's object.
 * Assertion fails (use after free).
 */
#define MUTANT_ANYCREDIT
#include "topic_credit.pml"
