/* SPDX-License-Identifier: MIT */
/* migrate_out.pml, scenario 3: the receiver is pending on the shard the
 * mover leaves and may itself go home at any moment. Verifies. */
#define SCENARIO 3
#include "migrate_out.pml"
