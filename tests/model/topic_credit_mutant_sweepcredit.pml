/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): BACKPRESSURE, D keeps the objects its
 * turn touched when it handles CLOSE_SWEEP. The entry unsubscribed, so H
 * sent no CLOSE, and the turn that handled the object's last slots and
 * then the sweep sends CREDIT after CLOSE_ACK, when H may have freed the
 * topic's table slot. Assertion fails (nothing may follow the ack).
 */
#define MUTANT_SWEEPCREDIT
#include "topic_credit.pml"
