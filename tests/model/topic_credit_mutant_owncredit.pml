/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): two destination shards, BACKPRESSURE;
 * on a credit H looks again only at the crediting channel and trusts its
 * cached done for the others. The pre-check stopped at D0's full channel
 * (asking it for a credit); D1's channel is full by H's cached count, but
 * D1 has handled it all and read want == 0. D0's credit brings room there,
 * H sees D1's channel full and keeps the publisher waiting without asking
 * D1 for a credit: invalid end state. A credit must rerun the whole check,
 * asking every channel still full.
 */
#define TWO
#define MUTANT_OWNCREDIT
#include "topic_credit.pml"
