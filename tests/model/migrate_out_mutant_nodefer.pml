/* SPDX-License-Identifier: MIT */
/* MUTANT (spin must find an error): migrate_out.pml, scenario 3, with the
 * mover's fence posted at once although its sends are still held for a
 * pending receiver there. The receiver then leaves: its held sends go to
 * its home as new messages, behind what the home holds as stragglers,
 * while a later message of the mover's, forwarded to the old location and
 * bounced, is one of those stragglers and comes out first. */
#define SCENARIO 3
#define MUTANT_NODEFER
#include "migrate_out.pml"
