/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): the producer tests full as
 * tail - head > capacity instead of tail - head > mask (i.e. >= capacity).
 * With tail - head == capacity it fills the slot of the oldest message the
 * consumer has not released: the producer's "slot is clear" assertion (or
 * the consumer's FIFO / release check) fails.
 */
#define MUTANT_FULLCHECK
#include "ring.pml"
