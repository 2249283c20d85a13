/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): DISCONNECT, D handles CUT(o) as usual
 * for an object it has already uninstalled (the CUT step taken literally).
 * The entry unsubscribes (RETIRE(o)) while H, full, sends CUT(o); D then
 * uninstalls again and sends CUT_ACK(o). H answers both with RETIRED(o):
 * the first frees o, and H touches o again for the second. Assertion fails
 * (use after free; the second RETIRED would free it twice).
 */
#define POLICY_CUT
#define MUTANT_CUTRETIRING
#include "topic_credit.pml"
