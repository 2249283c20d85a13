/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): the drain before the waves (the old
 * drain_wait()). Each shard keeps a beacon busy flag, stored 0 on its first
 * idle turn and 1 again only on a working turn that follows an idle turn
 * that did not park (after a park the flag stays 0 while the shard handles
 * its next messages), and a handled counter published at the top of each
 * turn. The controller decides "drained" when no flag is set and the sum
 * of handled is the same on consecutive polls. Spin's run: S0 is parked
 * (busy 0; the model starts each shard as just out of a park) and the
 * injected message has reached its ring: the polls see no flag and no
 * change, and the controller decides with the message unhandled. A handler
 * that runs long after a park is caught the same way: it publishes nothing
 * while it runs and its flag stays 0. Assertion QUIET fails.
 */
#define MUTANT_TRUSTBUSY
#include "drain.pml"
