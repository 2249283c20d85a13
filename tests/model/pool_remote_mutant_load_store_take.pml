/* SPDX-License-Identifier: MIT */
/*
 * Mutant of pool_remote.pml: the owner takes the stack with a load and a
 * separate store of NIL, not one exchange. A batch pushed in between is
 * wiped out and the owner waits for it forever (invalid end state).
 */
#define MUTANT_LOAD_STORE_TAKE
#include "pool_remote.pml"
