// SPDX-License-Identifier: MIT
/*
 * The per-shard timer wheel (core/base/timers.c): timers fire at their tick and
 * never early, in expiry order across levels and cascades, ties in arming
 * order; cancel and stale ids; periodic timers without drift; arming and
 * cancelling from callbacks; next_ns as a lower bound; and a randomized
 * run against a sorted-array reference model (seed from PN_SEED).
 * Deterministic: every time is an explicit now_ns, nothing sleeps.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include "pn_alloc.h"
#include "timers.h"

#include <cmocka.h>

#define MAXFIRED 512

/* What the callbacks saw, plus what they should do. */
struct log {
	struct pn__timers *t;
	uint64_t now;	   /* the now_ns of the advance() in progress */
	uint64_t prev_now; /* the previous advance()'s */
	uint64_t tick;
	unsigned n;
	uint64_t id[MAXFIRED];
	uint64_t ref[MAXFIRED];
	/* behaviour switches for individual tests */
	bool cancel_self;
	int cancel_rc;
	unsigned arm_on_fire;
};

struct fixture {
	struct pn_arena *arena;
	struct pn__timers *t;
	struct log log;
};

static struct pn_msg mk_msg(uint64_t ref)
{
	struct pn_msg m;

	memset(&m, 0, sizeof(m));
	m.type = 7;
	m.ref = ref;
	return m;
}

static uint64_t round_up(uint64_t ns, uint64_t tick)
{
	return (ns + tick - 1) / tick * tick;
}

/* Records each firing; msg.ref carries the timer's expiry in ns. */
static void log_fire(void *arg, const struct pn_msg *msg, uint64_t id)
{
	struct log *l = arg;

	assert_int_equal(msg->type, 7);
	assert_true(l->n < MAXFIRED);
	l->id[l->n] = id;
	l->ref[l->n] = msg->ref;
	l->n++;
	if (l->cancel_self)
		l->cancel_rc = pn__timers_cancel(l->t, id);
}

static unsigned advance(struct fixture *f, uint64_t now)
{
	unsigned n, before = f->log.n;

	f->log.prev_now = f->log.now;
	f->log.now = now;
	n = pn__timers_advance(f->t, now, log_fire, &f->log);
	assert_int_equal(n, f->log.n - before);
	return n;
}

static uint64_t arm(struct fixture *f, uint64_t now, uint64_t delay,
		    uint64_t period, uint64_t ref)
{
	struct pn_msg m = mk_msg(ref);
	uint64_t id = 0;

	assert_int_equal(pn__timers_arm(f->t, now, delay, period, &m, &id), 0);
	assert_true(id != 0);
	return id;
}

static int make_fixture(void **state, uint64_t now, uint64_t tick)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || pn_arena_create(-1, &f->arena) < 0)
		return -1;
	if (pn__timers_create(f->arena, now, tick, &f->t) < 0)
		return -1;
	f->log.t = f->t;
	f->log.now = now;
	f->log.tick = tick;
	*state = f;
	return 0;
}

/* Tick 100 ns, clock starting at 0. */
static int setup(void **state)
{
	return make_fixture(state, 0, 100);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pn__timers_destroy(f->t);
	pn_arena_destroy(f->arena);
	free(f);
	return 0;
}

static void test_timers_create_rejects_zero_tick(void **state)
{
	struct fixture *f = *state;
	struct pn__timers *t = NULL;

	assert_int_equal(pn__timers_create(f->arena, 0, 0, &t), -EINVAL);
	assert_null(t);
}

static void test_timers_fire_at_tick_never_early(void **state)
{
	struct fixture *f = *state;
	uint64_t a = arm(f, 0, 250, 0, 250); /* rounds up to 300 */
	uint64_t b = arm(f, 0, 400, 0, 400); /* exactly on a tick */

	assert_int_equal(pn__timers_armed(f->t), 2);
	assert_int_equal(advance(f, 249), 0);
	assert_int_equal(advance(f, 250), 0); /* due, but not at its tick */
	assert_int_equal(advance(f, 299), 0);
	assert_int_equal(advance(f, 300), 1);
	assert_true(f->log.id[0] == a);
	assert_int_equal(advance(f, 399), 0);
	assert_int_equal(advance(f, 400), 1);
	assert_true(f->log.id[1] == b);
	assert_int_equal(pn__timers_armed(f->t), 0);
	assert_int_equal(advance(f, 100000), 0);
}

static void test_timers_zero_delay_fires_at_next_advance(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(advance(f, 1000), 0);
	arm(f, 1000, 0, 0, 1000); /* due now: its tick is processed */
	assert_true(pn__timers_next_ns(f->t, 1000) == 0);
	assert_int_equal(advance(f, 1000), 1);
	arm(f, 1050, 0, 0, 1050); /* between ticks: fires at 1100 */
	assert_int_equal(advance(f, 1099), 0);
	assert_int_equal(advance(f, 1100), 1);
}

static void test_timers_earlier_now_counts_as_last(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(advance(f, 1000), 0);
	arm(f, 1000, 500, 0, 1500);
	assert_int_equal(advance(f, 900), 0); /* as if 1000 again */
	assert_int_equal(pn__timers_advance(f->t, 0, log_fire, &f->log), 0);
	assert_int_equal(advance(f, 1500), 1);
}

/* Checks every firing so far happened at the first advance() at or after
 * its expiry rounded up to the tick, and in expiry order. */
static void check_fired_on_time(const struct log *l, unsigned from)
{
	unsigned i;

	for (i = from; i < l->n; i++) {
		uint64_t due = round_up(l->ref[i], l->tick);

		assert_true(due <= l->now);
		assert_true(due > l->prev_now);
		if (i > 0)
			assert_true(l->ref[i - 1] <= l->ref[i]);
	}
}

static const uint64_t far_delays[] = {
	/* ticks of 100 ns, across all six levels and the overflow list */
	64ull * 64 * 64 * 64 * 100 + 700,
	300,
	64ull * 64 * 100 + 500,
	64ull * 64 * 64 * 100,
	6500,
	64ull * 64 * 64 * 64 * 64 * 100 + 1,
	2 * 64ull * 64 * 64 * 64 * 64 * 64 * 100 + 42,
	100,
	64ull * 64 * 64 * 64 * 64 * 100 - 1,
	65 * 64ull * 100,
};
#define NFAR (sizeof(far_delays) / sizeof(far_delays[0]))

static void test_timers_order_across_levels_in_one_advance(void **state)
{
	struct fixture *f = *state;
	unsigned i;

	for (i = 0; i < NFAR; i++)
		arm(f, 0, far_delays[i], 0, far_delays[i]);
	assert_int_equal(advance(f, UINT64_MAX / 2), NFAR);
	check_fired_on_time(&f->log, 0);
}

static void test_timers_order_across_levels_stepwise(void **state)
{
	struct fixture *f = *state;
	uint64_t now = 0, step = 37;
	unsigned i;

	for (i = 0; i < NFAR; i++)
		arm(f, 0, far_delays[i], 0, far_delays[i]);
	/* Growing steps: each advance crosses slots at rising levels, so
	 * timers cascade down several times before they fire. */
	while (pn__timers_armed(f->t) > 0) {
		unsigned before = f->log.n;

		now += step;
		step += step / 3;
		advance(f, now);
		check_fired_on_time(&f->log, before);
	}
	assert_int_equal(f->log.n, NFAR);
}

static void test_timers_ties_fire_in_arming_order(void **state)
{
	struct fixture *f = *state;
	uint64_t a, b, c, d;

	/* a sits high in the wheel and cascades; b and d are armed later
	 * straight into level 0 with the same expiry; c is earlier by 1 ns
	 * within the same tick, armed last. */
	a = arm(f, 0, 10000, 0, 1);
	assert_int_equal(advance(f, 9000), 0);
	b = arm(f, 9000, 1000, 0, 2);
	d = arm(f, 9500, 500, 0, 3);
	c = arm(f, 9000, 999, 0, 4);
	assert_int_equal(advance(f, 10000), 4);
	assert_true(f->log.id[0] == c);
	assert_true(f->log.id[1] == a);
	assert_true(f->log.id[2] == b);
	assert_true(f->log.id[3] == d);
}

static void test_timers_cancel_before_fire(void **state)
{
	struct fixture *f = *state;
	uint64_t a = arm(f, 0, 5000, 0, 1);
	uint64_t far = arm(f, 0, 1ull << 40, 0, 2);

	assert_int_equal(pn__timers_cancel(f->t, a), 0);
	assert_int_equal(pn__timers_cancel(f->t, far), 0);
	assert_int_equal(pn__timers_armed(f->t), 0);
	assert_true(pn__timers_next_ns(f->t, 0) == UINT64_MAX);
	assert_int_equal(advance(f, 1ull << 41), 0);
}

static void test_timers_cancel_unknown_or_gone_is_enoent(void **state)
{
	struct fixture *f = *state;
	uint64_t a, b;

	assert_int_equal(pn__timers_cancel(f->t, 0), -ENOENT);
	assert_int_equal(pn__timers_cancel(f->t, 12345), -ENOENT);
	assert_int_equal(pn__timers_cancel(f->t, UINT64_MAX), -ENOENT);
	a = arm(f, 0, 100, 0, 1);
	b = arm(f, 0, 200, 0, 2);
	assert_int_equal(pn__timers_cancel(f->t, a ^ (1ull << 32)), -ENOENT);
	assert_int_equal(advance(f, 100), 1); /* a fired */
	assert_int_equal(pn__timers_cancel(f->t, a), -ENOENT);
	assert_int_equal(pn__timers_cancel(f->t, b), 0);
	assert_int_equal(pn__timers_cancel(f->t, b), -ENOENT);
	assert_int_equal(pn__timers_armed(f->t), 0);
}

static void test_timers_stale_id_does_not_cancel_reused_record(void **state)
{
	struct fixture *f = *state;
	uint64_t a = arm(f, 0, 500, 0, 1), b;

	assert_int_equal(pn__timers_cancel(f->t, a), 0);
	b = arm(f, 0, 500, 0, 2);
	assert_true((uint32_t)a == (uint32_t)b); /* same record, reused */
	assert_true(a != b);
	assert_int_equal(pn__timers_cancel(f->t, a), -ENOENT);
	assert_int_equal(pn__timers_armed(f->t), 1);
	assert_int_equal(advance(f, 500), 1);
	assert_true(f->log.id[0] == b);
	assert_true(f->log.ref[0] == 2);
}

static void test_timers_periodic_no_drift(void **state)
{
	struct fixture *f = *state;
	uint64_t id = arm(f, 0, 1000, 1000, 9);

	assert_int_equal(advance(f, 1050), 1);
	assert_int_equal(advance(f, 1999), 0);
	assert_int_equal(advance(f, 2010), 1); /* late; next still 3000 */
	assert_int_equal(advance(f, 2999), 0);
	assert_int_equal(advance(f, 3999), 1);
	assert_int_equal(advance(f, 4000), 1);
	assert_int_equal(advance(f, 4999), 0);
	assert_int_equal(advance(f, 5000), 1);
	assert_int_equal(pn__timers_armed(f->t), 1);
	assert_int_equal(f->log.n, 5);
	for (unsigned i = 0; i < f->log.n; i++)
		assert_true(f->log.id[i] == id); /* one id for its whole life */
}

static void test_timers_periodic_off_tick_keeps_phase(void **state)
{
	struct fixture *f = *state;

	/* Period 250 with tick 100: due 250, 500, 750, 1000, 1250, ...
	 * each rounded up to its tick, none shifted by the rounding. */
	arm(f, 0, 250, 250, 9);
	assert_int_equal(advance(f, 299), 0);
	assert_int_equal(advance(f, 300), 1);
	assert_int_equal(advance(f, 499), 0);
	assert_int_equal(advance(f, 500), 1);
	assert_int_equal(advance(f, 799), 0);
	assert_int_equal(advance(f, 800), 1);
	assert_int_equal(advance(f, 1000), 1);
	assert_int_equal(advance(f, 1299), 0);
	assert_int_equal(advance(f, 1300), 1);
}

static void test_timers_periodic_behind_fires_once(void **state)
{
	struct fixture *f = *state;

	arm(f, 0, 1000, 1000, 9);
	assert_int_equal(advance(f, 1000), 1);
	/* Due at 2000 .. 9000: one firing, then the next on phase: 10000. */
	assert_int_equal(advance(f, 9500), 1);
	assert_true(pn__timers_next_ns(f->t, 9500) <= 500);
	assert_int_equal(advance(f, 9999), 0);
	assert_int_equal(advance(f, 10000), 1);
	/* A period shorter than the tick: once per advance, not a loop. */
	arm(f, 10000, 10, 10, 8);
	assert_int_equal(advance(f, 10100), 1);
	assert_int_equal(advance(f, 10200), 1);
}

static void test_timers_periodic_cancel_from_own_callback(void **state)
{
	struct fixture *f = *state;

	arm(f, 0, 100, 100, 9);
	assert_int_equal(advance(f, 100), 1);
	assert_int_equal(advance(f, 200), 1);
	f->log.cancel_self = true;
	f->log.cancel_rc = 1;
	assert_int_equal(advance(f, 300), 1);
	assert_int_equal(f->log.cancel_rc, 0);
	assert_int_equal(pn__timers_armed(f->t), 0);
	assert_int_equal(advance(f, 100000), 0);
	/* A one-shot is already gone when its callback runs. */
	arm(f, 100000, 100, 0, 10);
	f->log.cancel_rc = 1;
	assert_int_equal(advance(f, 100100), 1);
	assert_int_equal(f->log.cancel_rc, -ENOENT);
}

/* Arms on each firing: one timer due later in this advance, one due at
 * the tick being processed (so: next advance), and arm_on_fire more that
 * make the record table move under the callback (then cancelled). */
static void arming_fire(void *arg, const struct pn_msg *msg, uint64_t id)
{
	struct log *l = arg;
	uint64_t nid, extra[512];
	struct pn_msg m;
	unsigned i;

	log_fire(arg, msg, id);
	if (msg->ref != 1000)
		return;
	m = mk_msg(1500);
	assert_int_equal(pn__timers_arm(l->t, 1000, 500, 0, &m, &nid), 0);
	m = mk_msg(999);
	assert_int_equal(pn__timers_arm(l->t, 999, 0, 0, &m, &nid), 0);
	assert_true(l->arm_on_fire <= 512);
	for (i = 0; i < l->arm_on_fire; i++) {
		m = mk_msg(77);
		assert_int_equal(pn__timers_arm(l->t, 1000, 1000000 + i, 0, &m,
						&extra[i]),
				 0);
	}
	for (i = 0; i < l->arm_on_fire; i++)
		assert_int_equal(pn__timers_cancel(l->t, extra[i]), 0);
}

static void test_timers_arm_from_callback(void **state)
{
	struct fixture *f = *state;
	struct pn_msg m = mk_msg(1000);
	uint64_t id;

	f->log.arm_on_fire = 300; /* the table starts with 64 records */
	assert_int_equal(pn__timers_arm(f->t, 0, 1000, 0, &m, &id), 0);
	m = mk_msg(2000);
	assert_int_equal(pn__timers_arm(f->t, 0, 2000, 0, &m, &id), 0);
	f->log.now = 10000;
	assert_int_equal(pn__timers_advance(f->t, 10000, arming_fire, &f->log),
			 3);
	assert_true(f->log.ref[0] == 1000);
	assert_true(f->log.ref[1] == 1500);
	assert_true(f->log.ref[2] == 2000);
	assert_int_equal(pn__timers_armed(f->t), 1);
	assert_true(pn__timers_next_ns(f->t, 10000) == 0);
	assert_int_equal(pn__timers_advance(f->t, 10000, arming_fire, &f->log),
			 1);
	assert_true(f->log.ref[3] == 999);
}

static void test_timers_next_ns_empty_is_max(void **state)
{
	struct fixture *f = *state;

	assert_true(pn__timers_next_ns(f->t, 0) == UINT64_MAX);
	assert_true(pn__timers_next_ns(f->t, UINT64_MAX / 2) == UINT64_MAX);
}

static void test_timers_next_ns_exact_at_level0(void **state)
{
	struct fixture *f = *state;

	arm(f, 0, 1050, 0, 1); /* tick 11 of the first 64-tick block */
	assert_true(pn__timers_next_ns(f->t, 0) == 1100);
	assert_true(pn__timers_next_ns(f->t, 500) == 600);
	assert_true(pn__timers_next_ns(f->t, 1100) == 0);
	assert_true(pn__timers_next_ns(f->t, 5000) == 0);
}

static void test_timers_next_ns_is_lower_bound(void **state)
{
	struct fixture *f = *state;
	uint64_t now = 0, next;
	unsigned i;

	for (i = 0; i < NFAR; i++)
		arm(f, 0, far_delays[i], 0, far_delays[i]);
	/* Jump to wherever next_ns points: never past a timer, and the
	 * timers still all fire in order and on time. */
	while (pn__timers_armed(f->t) > 0) {
		unsigned before = f->log.n;

		next = pn__timers_next_ns(f->t, now);
		assert_true(next != UINT64_MAX);
		now += next ? next : 1;
		advance(f, now);
		check_fired_on_time(&f->log, before);
	}
	assert_true(pn__timers_next_ns(f->t, now) == UINT64_MAX);
}

static void test_timers_next_ns_bounded_by_nearest(void **state)
{
	struct fixture *f = *state;
	uint64_t far = 3ull * 64 * 64 * 64 * 100 + 12345;

	arm(f, 0, far, 0, 1);
	assert_true(pn__timers_next_ns(f->t, 0) <= round_up(far, 100));
	assert_true(pn__timers_next_ns(f->t, 0) > 0);
	arm(f, 0, 777, 0, 2);
	assert_true(pn__timers_next_ns(f->t, 0) == 800);
}

/* The wheel's position just below a 2^36-tick boundary: a timer a few
 * ticks ahead lands on the overflow list, yet fires on time. */
static int setup_boundary(void **state)
{
	return make_fixture(state, (1ull << 36) - 3, 1);
}

static void test_timers_cross_wheel_span_boundary(void **state)
{
	struct fixture *f = *state;
	uint64_t now = (1ull << 36) - 3;

	arm(f, now, 5, 0, now + 5);
	arm(f, now, 1ull << 37, 0, now + (1ull << 37));
	assert_true(pn__timers_next_ns(f->t, now) <= 5);
	assert_int_equal(advance(f, now + 4), 0);
	assert_int_equal(advance(f, now + 5), 1);
	assert_true(pn__timers_next_ns(f->t, now + 5) <= (1ull << 37) - 5);
	assert_int_equal(advance(f, now + (1ull << 37) - 1), 0);
	assert_int_equal(advance(f, now + (1ull << 37)), 1);
	check_fired_on_time(&f->log, 1);
}

static void test_timers_steady_state_does_not_allocate(void **state)
{
	struct fixture *f = *state;
	struct pn_arena_stats before, after;
	uint64_t ids[100], now = 0;
	unsigned round, i;

	for (i = 0; i < 100; i++) /* grow the table once */
		ids[i] = arm(f, now, 1000 + i * 100, 0, i);
	for (i = 0; i < 100; i++)
		assert_int_equal(pn__timers_cancel(f->t, ids[i]), 0);
	pn_arena_stats_get(f->arena, &before);
	for (round = 0; round < 50; round++) {
		for (i = 0; i < 100; i++)
			ids[i] = arm(f, now, (i * 7919) % 100000, i % 3, i);
		for (i = 0; i < 100; i += 2)
			pn__timers_cancel(f->t, ids[i]);
		now += 200000;
		advance(f, now);
		f->log.n = 0;
		for (i = 1; i < 100; i += 2)
			pn__timers_cancel(f->t, ids[i]);
	}
	pn_arena_stats_get(f->arena, &after);
	assert_true(after.nallocs == before.nallocs);
}

/* --- randomized comparison with a reference model ---------------------- */

#define MODEL_MAX 600

struct ment {
	uint64_t id, expiry, period, seq, ref;
	bool deferred; /* armed in a callback at or before the current tick */
};

/* The reference: an array sorted by (expiry, seq). */
struct sim {
	struct pn__timers *t;
	uint64_t seed, rng, tick, now, target, done, seq, refs;
	unsigned op, n, nfired, nstale;
	bool in_advance;
	struct ment m[MODEL_MAX];
	uint64_t stale[64];
};

#define SIM_CHECK(s, cond)                                                     \
	do {                                                                   \
		if (!(cond))                                                   \
			fail_msg("%s:%d: %s (PN_SEED=%" PRIu64 ", op %u)",     \
				 __FILE__, __LINE__, #cond, (s)->seed,         \
				 (s)->op);                                     \
	} while (0)

static uint64_t rnd(struct sim *s)
{
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rnd_below(struct sim *s, uint64_t n)
{
	return n ? rnd(s) % n : 0;
}

static uint64_t m_tick(const struct sim *s, uint64_t ns)
{
	return ns / s->tick + (ns % s->tick != 0);
}

static void m_insert(struct sim *s, struct ment e)
{
	unsigned i = s->n;

	while (i > 0 &&
	       (s->m[i - 1].expiry > e.expiry ||
		(s->m[i - 1].expiry == e.expiry && s->m[i - 1].seq > e.seq)))
		i--;
	memmove(&s->m[i + 1], &s->m[i], (s->n - i) * sizeof(e));
	s->m[i] = e;
	s->n++;
}

static int m_find(const struct sim *s, uint64_t id)
{
	unsigned i;

	for (i = 0; i < s->n; i++)
		if (s->m[i].id == id)
			return (int)i;
	return -1;
}

static void m_remove(struct sim *s, unsigned i)
{
	s->stale[s->nstale++ % 64] = s->m[i].id;
	memmove(&s->m[i], &s->m[i + 1], (s->n - i - 1) * sizeof(s->m[0]));
	s->n--;
}

/* The first timer the model says is due in this advance, or -1. */
static int m_next_due(const struct sim *s)
{
	unsigned i;

	for (i = 0; i < s->n && m_tick(s, s->m[i].expiry) <= s->target; i++)
		if (!s->m[i].deferred)
			return (int)i;
	return -1;
}

static uint64_t sim_delay(struct sim *s)
{
	static const unsigned bits[] = {0, 3, 6, 12, 18, 24, 30, 36, 40};
	unsigned b = bits[rnd_below(s, 9)];

	if (b == 0)
		return rnd_below(s, 4) == 0 ? 0 : rnd_below(s, s->tick);
	return rnd_below(s, (s->tick << b) + 1);
}

static void sim_arm(struct sim *s, uint64_t now)
{
	struct ment e = {0};
	struct pn_msg msg;
	uint64_t delay = sim_delay(s);

	if (s->n >= MODEL_MAX - 1)
		return;
	e.ref = ++s->refs;
	e.period = rnd_below(s, 5) ? 0 : 1 + rnd_below(s, s->tick << 12);
	e.expiry = now + delay;
	e.seq = s->seq++;
	msg = mk_msg(e.ref);
	SIM_CHECK(s,
		  pn__timers_arm(s->t, now, delay, e.period, &msg, &e.id) == 0);
	SIM_CHECK(s, e.id != 0 && m_find(s, e.id) < 0);
	e.deferred = s->in_advance && m_tick(s, e.expiry) < s->done;
	m_insert(s, e);
}

static void sim_cancel(struct sim *s)
{
	uint64_t id;
	int i;

	if (s->n > 0 && rnd_below(s, 4) != 0)
		id = s->m[rnd_below(s, s->n)].id;
	else if (s->nstale > 0)
		id = s->stale[rnd_below(s, s->nstale < 64 ? s->nstale : 64)];
	else
		id = rnd(s);
	i = m_find(s, id);
	SIM_CHECK(s, pn__timers_cancel(s->t, id) == (i >= 0 ? 0 : -ENOENT));
	if (i >= 0)
		m_remove(s, (unsigned)i);
}

/* The model's side of one firing: the same re-arm rule as the header's. */
static void m_fire(struct sim *s, unsigned i)
{
	struct ment e = s->m[i];
	uint64_t tick = m_tick(s, e.expiry);

	if (s->done < tick + 1)
		s->done = tick + 1;
	if (!e.period) {
		m_remove(s, i);
		return;
	}
	memmove(&s->m[i], &s->m[i + 1], (s->n - i - 1) * sizeof(e));
	s->n--;
	/* It fired, so expiry <= now: the first expiry on phase after now. */
	e.expiry += e.period * ((s->now - e.expiry) / e.period + 1);
	e.seq = s->seq++;
	m_insert(s, e);
}

static void sim_fire(void *arg, const struct pn_msg *msg, uint64_t id)
{
	struct sim *s = arg;
	int i = m_next_due(s);

	SIM_CHECK(s, i >= 0);
	SIM_CHECK(s, s->m[i].id == id && s->m[i].ref == msg->ref);
	m_fire(s, (unsigned)i);
	s->nfired++;
	switch (rnd_below(s, 8)) {
	case 0:
	case 1:
		sim_arm(s, s->now);
		break;
	case 2:
		sim_cancel(s);
		break;
	case 3: /* cancel itself (periodic: stops it; one-shot: -ENOENT) */
		i = m_find(s, id);
		SIM_CHECK(s, pn__timers_cancel(s->t, id) ==
				     (i >= 0 ? 0 : -ENOENT));
		if (i >= 0)
			m_remove(s, (unsigned)i);
		break;
	default:
		break;
	}
}

static void sim_advance(struct sim *s)
{
	static const unsigned bits[] = {0, 2, 4, 6, 8, 12, 18, 26, 37};
	unsigned b = bits[rnd_below(s, 9)], n;
	unsigned i;

	s->now += rnd_below(s, s->tick << b);
	s->target = s->now / s->tick;
	s->nfired = 0;
	s->in_advance = true;
	n = pn__timers_advance(s->t, s->now, sim_fire, s);
	s->in_advance = false;
	SIM_CHECK(s, n == s->nfired);
	SIM_CHECK(s, m_next_due(s) < 0);
	for (i = 0; i < s->n; i++)
		s->m[i].deferred = false;
	if (s->done < s->target + 1)
		s->done = s->target + 1;
}

static void sim_check_next(struct sim *s)
{
	uint64_t next = pn__timers_next_ns(s->t, s->now), first, due;
	unsigned i;

	SIM_CHECK(s, pn__timers_armed(s->t) == s->n);
	if (s->n == 0) {
		SIM_CHECK(s, next == UINT64_MAX);
		return;
	}
	first = UINT64_MAX;
	for (i = 0; i < s->n; i++)
		if (m_tick(s, s->m[i].expiry) < first)
			first = m_tick(s, s->m[i].expiry);
	due = first * s->tick;
	SIM_CHECK(s, next <= (due > s->now ? due - s->now : 0));
}

static void sim_run(struct sim *s, struct pn_arena *a, unsigned ops)
{
	SIM_CHECK(s, pn__timers_create(a, s->now, s->tick, &s->t) == 0);
	s->done = s->now / s->tick + 1;
	for (s->op = 0; s->op < ops; s->op++) {
		unsigned r = (unsigned)rnd_below(s, 20);

		if (r < 8)
			sim_arm(s, s->now);
		else if (r < 11)
			sim_cancel(s);
		else
			sim_advance(s);
		sim_check_next(s);
	}
	pn__timers_destroy(s->t);
}

static uint64_t test_seed(void)
{
	const char *env = getenv("PN_SEED");
	struct timespec ts;

	if (env && *env)
		return strtoull(env, NULL, 0);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void test_timers_random_against_model(void **state)
{
	static const uint64_t ticks[] = {1, 7, 100, 1000};
	struct fixture *f = *state;
	struct sim *s = calloc(1, sizeof(*s));
	uint64_t seed = test_seed();
	unsigned run;

	assert_non_null(s);
	print_message("timers model: PN_SEED=%" PRIu64 "\n", seed);
	for (run = 0; run < 8; run++) {
		memset(s, 0, sizeof(*s));
		s->seed = seed;
		s->rng = seed + run;
		s->tick = ticks[run % 4];
		/* Start anywhere, half the runs just below a 2^36-tick
		 * boundary so the wheel crosses its span early on. */
		s->now = run % 2 ? (((rnd(s) % 64) + 1) << 36) - 500
				 : rnd(s) % (1ull << 44);
		s->now *= s->tick;
		sim_run(s, f->arena, 5000);
	}
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_timers_create_rejects_zero_tick),
		T(test_timers_fire_at_tick_never_early),
		T(test_timers_zero_delay_fires_at_next_advance),
		T(test_timers_earlier_now_counts_as_last),
		T(test_timers_order_across_levels_in_one_advance),
		T(test_timers_order_across_levels_stepwise),
		T(test_timers_ties_fire_in_arming_order),
		T(test_timers_cancel_before_fire),
		T(test_timers_cancel_unknown_or_gone_is_enoent),
		T(test_timers_stale_id_does_not_cancel_reused_record),
		T(test_timers_periodic_no_drift),
		T(test_timers_periodic_off_tick_keeps_phase),
		T(test_timers_periodic_behind_fires_once),
		T(test_timers_periodic_cancel_from_own_callback),
		T(test_timers_arm_from_callback),
		T(test_timers_next_ns_empty_is_max),
		T(test_timers_next_ns_exact_at_level0),
		T(test_timers_next_ns_is_lower_bound),
		T(test_timers_next_ns_bounded_by_nearest),
		cmocka_unit_test_setup_teardown(
			test_timers_cross_wheel_span_boundary, setup_boundary,
			teardown),
		T(test_timers_steady_state_does_not_allocate),
		T(test_timers_random_against_model),
#undef T
	};

	return cmocka_run_group_tests_name("timers", tests, NULL, NULL);
}
