/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): DROP_OLDEST, D loads want at the end
 * of its turn without the fence. Its stores of done are still in its store
 * buffer when it reads want == 0, and H, which stored want = 1 just after,
 * reloads the old done: each side misses the other (store buffering), no
 * credit is sent, H keeps messages pending for ever. Invalid end state.
 */
#define POLICY_DROP
#define MUTANT_NOFENCE
#include "topic_credit.pml"
