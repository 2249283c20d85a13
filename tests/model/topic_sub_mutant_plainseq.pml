/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): H stores seq with a plain (release)
 * store, which on x86 waits in its store buffer while H loads members (no
 * xchg, no fence). H misses a new object's members bump while the
 * subscribe, after the bump, still reads the old seq: the message is not
 * sent to the entry that counts it as after its start. Assertion fails:
 * the Dekker pair needs the seq_cst store.
 */
#define MUTANT_PLAINSEQ
#include "topic_sub.pml"
