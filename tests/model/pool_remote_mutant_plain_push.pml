/* SPDX-License-Identifier: MIT */
/*
 * Mutant of pool_remote.pml: the push publishes with a plain store, not a CAS: two pushers
 * that read the same head overwrite each other and a batch is lost (the
 * owner waits forever: invalid end state).
 */
#define MUTANT_PLAIN_PUSH
#include "pool_remote.pml"
