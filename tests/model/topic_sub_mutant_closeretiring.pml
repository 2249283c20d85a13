/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): D frees on CLOSE(o) an object it has
 * already uninstalled (the protocol's steps taken literally). The last
 * subscriber unsubscribes after H's close loaded members: H sends CLOSE(o),
 * D frees o, then H handles the RETIRE(o) that was on its way, touches o and
 * answers RETIRED(o), which would free it a second time. Assertion fails
 * (use after free).
 */
#define MUTANT_CLOSERETIRING
#include "topic_sub.pml"
