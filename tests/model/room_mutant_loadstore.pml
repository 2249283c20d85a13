/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): wake_claim() decides on its load of
 * parked and then stores 0 instead of one exchange. C (room_check(), the
 * room freed) and O (a message for P) both see parked == 1 and both send a
 * wake-up for the same park: assertion claimed <= 1 fails, which shows
 * that property 3 is not vacuous.
 */
#define MUTANT_LOADSTORE
#include "room.pml"
