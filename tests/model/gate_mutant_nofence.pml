/* SPDX-License-Identifier: MIT */
/*
 * MUTANT (spin must find an error): the fenced fallback with gate_order()
 * reduced to a compiler barrier. The closer's own fence cannot drain the
 * producer's store buffer: the producer reads RUNNING while its busy store
 * is still buffered, the closer reads busy == 0 and takes the gate for
 * empty, and the producer, admitted by the budget (its check of closed ran
 * before the close) and given the slot the shard freed, publishes:
 * assertion !gate_empty fails. The store-buffering litmus again.
 */
#define FENCED
#define MUTANT_NOFENCE
#include "gate.pml"
