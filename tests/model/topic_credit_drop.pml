/* SPDX-License-Identifier: MIT */
/*
 * The DROP_OLDEST policy: when the window is full, messages wait in a FIFO
 * at the home (at most W, the oldest dropped and counted in the next slot's
 * gap), flushed oldest first when a credit brings room. K = 5: two in the
 * window, two pending, one more drops the oldest. Must verify.
 */
#define POLICY_DROP
#include "topic_credit.pml"
