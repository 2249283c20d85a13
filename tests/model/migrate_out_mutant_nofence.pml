/* SPDX-License-Identifier: MIT */
/* MUTANT (spin must find an error): migrate_out.pml with the mover run on
 * its new shard as soon as its INSTALL arrives, without waiting for its
 * fence. A message it sends there straight to a direct guest overtakes
 * one it sent before the move that is still on its way through the
 * guest's home: the mover's own order breaks. */
#define MUTANT_NOFENCE
#include "migrate_out.pml"
