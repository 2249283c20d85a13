/* SPDX-License-Identifier: MIT */
/* MUTANT (spin must find an error): migrate_out.pml, scenario 2, as the
 * code was before its fix: the mover's fence is posted at once although
 * its sends are held for a pending receiver, and DIRECT moves the held
 * sends to the local queue (behind later arrivals) instead of handing
 * them over at once. A message the mover sent after its move, forwarded
 * behind DIRECT, is taken from the ring before the local queue and
 * overtakes the held ones. Either fix alone is enough here (the verified
 * scenario 2 has both; scenario 3 needs the deferral). */
#define SCENARIO 2
#define MUTANT_HELDLOCAL
#define MUTANT_NODEFER
#include "migrate_out.pml"
