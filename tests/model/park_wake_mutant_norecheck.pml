/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): the consumer sleeps right after setting
 * parked (a, b, then d): no recheck. A producer that published and read
 * parked == 0 just before step a strands its message: invalid end state,
 * the consumer blocked in step d.
 */
#define MUTANT_NORECHECK
#include "park_wake.pml"
