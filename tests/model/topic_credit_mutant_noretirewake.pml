/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): BACKPRESSURE, H does not look at the
 * waiting publisher again when it drops a channel. The entry unsubscribes
 * while the window is full, the publish is refused, and the credit D sends
 * for the channel's last slots comes after the RETIRE, so H ignores it (the
 * object is no longer in its list): the publisher waits for ever although
 * nothing is full. Invalid end state.
 */
#define MUTANT_NORETIREWAKE
#include "topic_credit.pml"
