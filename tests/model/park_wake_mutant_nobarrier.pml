/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): no membarrier (step b). A producer whose
 * doorbell bit is already set skips the fetch_or, so its tail store can still
 * be in its store buffer when it reads parked == 0 and when the consumer
 * rechecks: stranded message, invalid end state (consumer blocked in d).
 */
#define MUTANT_NOBARRIER
#include "park_wake.pml"
