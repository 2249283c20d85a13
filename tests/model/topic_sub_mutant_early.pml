/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): the delivery test is q >= start. A
 * second subscriber joins an object whose slot for message S is still in
 * the ring, with start S: it gets S, which was published before its
 * subscribe returned. Assertion fails.
 */
#define MUTANT_EARLY
#include "topic_sub.pml"
