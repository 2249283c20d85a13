/* SPDX-License-Identifier: MIT */
/* migrate_out.pml, scenario 2: the receiver is pending (held sends) on the
 * shard the mover leaves. Verifies. */
#define SCENARIO 2
#include "migrate_out.pml"
