/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): the subscribe reads its start from seq
 * before it installs the channel object (activation by hearsay). H numbers
 * a message and loads members before the install, so it does not send it
 * to the object, while the start read before the install is below it: the
 * entry misses it, and the next delivery is not start + 1. Assertion
 * fails.
 */
#define MUTANT_GOSSIP
#include "topic_sub.pml"
