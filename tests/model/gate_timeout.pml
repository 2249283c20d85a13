/* SPDX-License-Identifier: MIT */
/*
 * The gate with deadlines: each call's deadline may pass while it waits.
 * In the budget wait, cond_timedwait() returns ETIMEDOUT and budget_wait()
 * rechecks once more (a release that raced the timeout still admits)
 * before -ETIMEDOUT; in the ring wait the futex sleep ends and the
 * deadline check returns -ETIMEDOUT, and inject() gives the bytes back.
 * Must verify: the budget stays consistent (used == 2 + admitted -
 * released == the units still held) and nothing publishes after the gate
 * is empty. (A timed-out wait can always end, so property 1 is checked by
 * gate.pml, not here.)
 */
#define TIMEOUT
#include "gate.pml"
