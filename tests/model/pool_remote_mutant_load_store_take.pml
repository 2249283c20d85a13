/* SPDX-License-Identifier: MIT */
/*
 * Mutant of pool_remote.pml: the owner takes the stack with a load and a separate store of
 * NIL, not one exchange: a batch pushed in between is wiped out (invalid
 * end state).
 */
#define MUTANT_LOAD_STORE_TAKE
#include "pool_remote.pml"
