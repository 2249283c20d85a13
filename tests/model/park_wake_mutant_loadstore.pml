/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): a producer claims the wake with
 * if (load(parked)) { store(parked, 0); wake; } instead of one exchange.
 * Both producers can see parked == 1 and both send a wake for the same
 * park: the assertion claimed <= 1 fails.
 */
#define MUTANT_LOADSTORE
#include "park_wake.pml"
