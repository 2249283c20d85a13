/* SPDX-License-Identifier: MIT */
/*
 * The DISCONNECT policy: when the window is full, the home sends one CUT
 * slot beyond it and sends the channel nothing more; the destination tells
 * its entry CLOSED(-ENOBUFS), uninstalls the object and acks, and frees it
 * on RETIRED. Must verify.
 */
#define POLICY_CUT
#include "topic_credit.pml"
