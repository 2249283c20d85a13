/* SPDX-License-Identifier: MIT */
/* MUTANT (spin must find an error): migrate_flow.pml with the sender not
 * looking at the home's congested flag, as before the fix: the home's
 * exempt forwarding overflow grows past the bound. */
#define MUTANT_NOFLAG
#include "migrate_flow.pml"
