/* SPDX-License-Identifier: MIT */
/*
 * Mutant of pool_remote.pml: the push publishes with a plain store, not a
 * CAS. Two pushers that read the same head overwrite each other: a batch is
 * lost, or a stale head is re-published (assertion or invalid end state).
 */
#define MUTANT_PLAIN_PUSH
#include "pool_remote.pml"
