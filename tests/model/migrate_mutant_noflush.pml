/* SPDX-License-Identifier: MIT */
/* migrate.pml with the home skipping the FLUSH/FLUSHED handshake: on MOVE it
 * sends INSTALL to the next location at once and forwards bounced messages
 * there like new ones. Spin must find the reordering. */
#define MUTANT_NOFLUSH
#include "migrate.pml"
