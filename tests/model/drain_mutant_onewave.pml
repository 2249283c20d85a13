/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): the controller stops when S(w) == D(w)
 * within one wave. The reports of one wave are taken at different moments.
 * Spin's run: S1 reports (0 sent, 0 done); S0 takes the injected message
 * and sends a to S1; S1 answers a with two sends; S0's handler sends b and
 * returns, S0 handles S1's two messages and only then reports (2 sent,
 * 3 done). S(w) = 1 + 2 + 0 = 3 = D(w) = 3 + 0 with b still in in[1]
 * (done counts answers to sends the other shard made after its report):
 * assertion QUIET fails.
 */
#define MUTANT_ONEWAVE
#include "drain.pml"
