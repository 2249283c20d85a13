/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): D only acks CLOSE_SWEEP. A subscribe
 * that installs an object after H's close took its list sees closing and
 * returns -ENOENT, keeping the object installed for the close to free; no
 * CLOSE comes for it (H never saw it), and without the sweep it is never
 * freed. The final check fails: leaked object.
 */
#define MUTANT_NOSWEEP
#include "topic_sub.pml"
