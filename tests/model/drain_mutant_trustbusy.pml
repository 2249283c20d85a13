/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): the drain before the waves (the old
 * drain_wait()). Each shard keeps a beacon busy flag, stored 0 on its first
 * idle turn and 1 again only on a working turn that follows an idle turn
 * that did not park (after a park the flag stays 0 while the shard handles
 * its next messages), and a handled counter published at the top of each
 * turn. The controller decides "drained" when no flag is set and the sum
 * of handled is the same on consecutive polls. A handler that takes long
 * (here S0's on the injected message, or any handler after a park)
 * publishes nothing while it runs: the controller decides with the
 * handler running or its sends in flight, assertion QUIET fails.
 */
#define MUTANT_TRUSTBUSY
#include "drain.pml"
