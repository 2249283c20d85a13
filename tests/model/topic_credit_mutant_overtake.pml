/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): DROP_OLDEST, a publish that finds room
 * pushes its message at once even with older ones pending (the publish
 * step taken literally). D handled slots and its credit is on its way;
 * H's next publish reloads done, finds room and sends the new message
 * ahead of the pending one: D gets it with no gap reported for the one it
 * skipped. Assertion fails.
 */
#define POLICY_DROP
#define MUTANT_OVERTAKE
#include "topic_credit.pml"
