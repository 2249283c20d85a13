/* SPDX-License-Identifier: MIT */
/*
 * What the core runtime's stress tests share: the seed (PN_SEED, printed at
 * start and on every failure), the scale (PN_STRESS_SCALE), checks that stay
 * on in release builds, a seeded generator, a runtime set up the way the
 * tests want it, bounded waits that detect a stall (no progress for a while)
 * and name what is missing, and a sync round that makes every shard's
 * earlier work visible to the test thread.
 *
 * Failure, from any thread (test thread, shard, producer thread): the first
 * caller prints the message, the seed and every shard's counters, then ends
 * the process with status 1; later callers wait for that to happen.
 */
#ifndef PN_STRESS_UTIL_H
#define PN_STRESS_UTIL_H

#include "pinion.h"

#include <stdbool.h>
#include <stdint.h>

/* Message types the helpers use (tests use types below 0x1000). */
#define SU_MSG_SYNC 0x7001u
/* pn_runtime_notify() codes the helpers use (tests use codes < 1000). */
#define SU_CODE_SYNC 1001

struct su_state {
	const char *name;      /* test name, prefixes every line */
	uint64_t seed;	       /* PN_SEED, or from the clock */
	double scale;	       /* PN_STRESS_SCALE, default 1 */
	struct pn_runtime *rt; /* the runtime whose stats a failure prints */
	pn_pid probe[64];      /* one sync actor per shard (su_runtime) */
	unsigned nprobes;
};
extern struct su_state su;

/* Read PN_SEED and PN_STRESS_SCALE and print them. Test thread, first. */
void su_init(const char *name);

/* @base scaled by PN_STRESS_SCALE, at least @min. */
uint64_t su_scaled(double base, uint64_t min);

/* splitmix64: one step of a generator seeded from su.seed. */
uint64_t su_rnd(uint64_t *state);
static inline uint64_t su_rnd_below(uint64_t *state, uint64_t n)
{
	return n ? su_rnd(state) % n : 0;
}
/* A generator state for stream @salt derived from the seed. */
uint64_t su_stream(uint64_t salt);

__attribute__((noreturn, format(printf, 1, 2))) void su_fail(const char *fmt,
							     ...);
/* A check that stays on in release builds. */
#define SU_CHECK(cond, ...)                                                    \
	do {                                                                   \
		if (__builtin_expect(!(cond), 0))                              \
			su_fail_check(__FILE__, __LINE__, #cond, __VA_ARGS__); \
	} while (0)
__attribute__((noreturn, format(printf, 4, 5))) void
su_fail_check(const char *file, int line, const char *cond, const char *fmt,
	      ...);

/* Print like printf with the test's name in front (any thread). */
__attribute__((format(printf, 1, 2))) void su_log(const char *fmt, ...);

/* Seconds since @t0 (pn_now_ns() clock). */
double su_secs(uint64_t t0);

/* pn_config_init() + 2 shards + the PINION_* environment. */
void su_config(struct pn_config *c);

/* Create and start a runtime from @c, spawn one sync probe per shard and
 * make it the runtime su_fail() reports on. Fails the test on error. */
struct pn_runtime *su_runtime(const struct pn_config *c);

/* Spawn @b on @shard from outside, its init getting @arg (a uint32_t,
 * copied). Fails the test on error. */
pn_pid su_spawn(struct pn_runtime *rt, const struct pn_behaviour *b, int shard,
		uint32_t arg);

/* Shut @rt down (10 s bound), fail if any stage did not finish or if the
 * accounting identity does not hold exactly (accepted = handled + dead
 * letters, nothing in flight), destroy it. _totals also hands back the
 * totals (@out may be NULL). */
void su_shutdown(struct pn_runtime *rt);
void su_shutdown_totals(struct pn_runtime *rt, struct pn_runtime_totals *out);

/*
 * A sync round: one message through the runtime's own producer to every
 * shard's probe, which answers with pn_runtime_notify(). When it returns,
 * every handler that ran on any shard before the probe saw the message
 * (and whatever that handler wrote) happens-before the caller's next step;
 * in particular actor stops whose DOWN the test has already seen are
 * complete and counted. The probes stay alive (count them in baselines).
 * Any other notify code arriving meanwhile fails the test.
 */
void su_sync(struct pn_runtime *rt);

/* Sum of every shard's counters. */
void su_stats_sum(struct pn_runtime *rt, struct pn_shard_stats *sum);
/* Print every shard's counters (any thread). */
void su_stats_print(struct pn_runtime *rt);
/* Print every shard's parked flag, doorbell and inbound rings holding
 * unreleased messages (white box; any thread). su_fail() calls it. */
void su_dump_rings(struct pn_runtime *rt);

/*
 * Wait for @n notifies of @code, bounded: the wait fails the test when
 * @progress (called about every 250 ms) has not changed for @stall_ns, or
 * when @limit_ns has passed; before failing it calls @report, which should
 * print what is missing (which sender, receiver, message). Any other code
 * fails at once. @progress and @report run on the test thread and may read
 * only atomics (the shards are still running).
 */
void su_wait(struct pn_runtime *rt, int code, unsigned n, uint64_t stall_ns,
	     uint64_t limit_ns, uint64_t (*progress)(void *),
	     void (*report)(void *), void *arg, const char *what);

#endif /* PN_STRESS_UTIL_H */
