/* SPDX-License-Identifier: MIT */
/* MUTANT (spin must find an error): migrate_flow.pml with the home
 * clearing its flag without telling the senders (no PN__MSG_FLOW): a
 * sender refused while it was congested waits for a PN_MSG_WRITABLE that
 * never comes (invalid end state). */
#define MUTANT_SILENT
#include "migrate_flow.pml"
