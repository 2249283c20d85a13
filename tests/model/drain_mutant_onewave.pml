/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): the controller stops when S(w) == D(w)
 * within one wave. The reports of one wave are taken at different moments,
 * so a shard that reports late counts as done the answers to messages the
 * other shard sent after its own report, which no sent report covers. A
 * run spin finds: S1 reports (0 sent, 0 done); S0 handles the injected
 * message and sends a and b to S1; S1 answers them (a with two sends, b
 * with one); S0 handles two of those three and reports (2 sent, 3 done):
 * S(w) = 1 + 2 + 0 = 3 = D(w) = 3 + 0, with one message still in in[0].
 * Assertion QUIET fails. (The smallest such run has four sends: S0
 * answers the injected message with two, S1 answers one of them with two,
 * and S0 handles those and reports before S1 handles the other.)
 */
#define MUTANT_ONEWAVE
#include "drain.pml"
