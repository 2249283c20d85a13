/* SPDX-License-Identifier: MIT */
/*
 * The C side of pinion-gbench. The hot paths under test are C inline
 * functions (pn_ring.h uses C11 _Atomic, which C++ cannot compile), so each
 * micro-benchmark's inner loop lives in shim.c, compiled as C with the
 * inline code inlined, and the google-benchmark harness (*.cc) times calls
 * that each do @iters operations. This header is plain C and C++-safe.
 */
#ifndef PN_GBENCH_SHIM_H
#define PN_GBENCH_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- core/pn_ring.h ------------------------------------------------------ */

struct gb_ring;
struct gb_ring *gb_ring_create(uint32_t slots);
void gb_ring_destroy(struct gb_ring *r);
/* @iters times: push one message, publish, peek it, consume, release. */
uint64_t gb_ring_single(struct gb_ring *r, uint64_t iters);
/* @iters times: push @burst messages, publish once, pop them, release. */
uint64_t gb_ring_burst(struct gb_ring *r, uint64_t iters, unsigned burst);

/* --- PIDs (pn_msg.h) ------------------------------------------------------ */

struct gb_pids;
struct gb_pids *gb_pids_create(unsigned nactors);
void gb_pids_destroy(struct gb_pids *p);
/* Resolve @iters PIDs against a generation table: shard, slot, generation
 * check, as a shard does before delivering. Returns the live ones found. */
uint64_t gb_pids_resolve(struct gb_pids *p, uint64_t iters);

/* --- core/timers.h (internal) ----------------------------------------------
 */

struct gb_timers;
struct gb_timers *gb_timers_create(void);
void gb_timers_destroy(struct gb_timers *t);
/* @iters times: arm a one-shot timer 1 ms ahead, then cancel it. */
int gb_timers_arm_cancel(struct gb_timers *t, uint64_t iters);
/* Arm @n timers spread over 0..100 ms, then cancel them all. */
int gb_timers_arm_many(struct gb_timers *t, unsigned n);

/* --- the runtime -------------------------------------------------------- */

/* Start (once) a runtime with one shard per core; false if it cannot. */
bool gb_rt_start(void);
unsigned gb_rt_nshards(void);
/*
 * A producer actor on shard 0 sends @n 8-byte messages to a consumer on
 * shard 0 (@cross false) or shard 1, in chunks of 256; returns the ns from
 * the first send to the consumer's last handler, or 0 on failure.
 */
uint64_t gb_rt_send(bool cross, uint64_t n);

#ifdef __cplusplus
}
#endif
#endif /* PN_GBENCH_SHIM_H */
