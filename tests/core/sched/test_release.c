// SPDX-License-Identifier: MIT
/*
 * Shutdown releases every external caller (core/sched/producer.c, the gate):
 * a producer blocked on a full ring or on the byte budget, and a thread in
 * pn_runtime_wait(), all return -ESHUTDOWN from the input stage, which
 * ends only once no call is inside the runtime; queued notify codes are
 * still handed out after shutdown; pn_runtime_destroy() waits for a
 * caller still inside; and external calls racing a shutdown do not race
 * on the runtime's state (ThreadSanitizer runs this file too).
 */
#include "core_int.h"
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MSG_HOLD = 1, MSG_DATA };

/* How soon a blocked caller is back once shutdown begins: within 1 ms
 * (the guarantee; for the median of ROUNDS, as a single release on this
 * VM takes a few ms now and then: a vCPU's wake-up), more under the
 * sanitizers, which slow every step; and RELEASE_MAX_NS for every one. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RELEASE_NS (50 * H_MS)
#else
#define RELEASE_NS H_MS
#endif
#define RELEASE_MAX_NS (500 * H_MS)

static struct {
	pn_pid stuck;
	_Atomic bool entered, release; /* the stuck consumer's handler */
	_Atomic bool calling;	       /* the blocked caller is about to call */
	_Atomic int err;	       /* what the blocked call returned */
	_Atomic uint64_t returned_at;  /* pn_now_ns() when it returned */
	struct pn_producer *p;
} g;

/* On HOLD: spin until g.release (set by the released caller itself, so
 * the shard is stuck exactly while the caller is blocked). */
static int stuck_handle(struct pn_ctx *ctx, void *st, const struct pn_msg *m)
{
	(void)ctx;
	(void)st;
	if (m->type != MSG_HOLD)
		return 0;
	atomic_store(&g.entered, true);
	while (!atomic_load(&g.release))
		sched_yield();
	return 0;
}

static const struct pn_behaviour stuck_b = {.name = "release.stuck",
					    .handle = stuck_handle};

static bool entered(void *arg)
{
	(void)arg;
	return atomic_load(&g.entered);
}

static bool calling(void *arg)
{
	(void)arg;
	return atomic_load(&g.calling);
}

/* The blocked caller: inject with a long timeout into a full ring or a
 * full budget, record what it got and when, then let the consumer go. */
static void *blocked_inject(void *arg)
{
	(void)arg;
	atomic_store(&g.calling, true);
	atomic_store(&g.err,
		     pn_inject(g.p, g.stuck, MSG_DATA, "x", 1, 5 * H_SEC));
	atomic_store(&g.returned_at, pn_now_ns());
	atomic_store(&g.release, true);
	return NULL;
}

/* Start a runtime whose shard 1 is stuck in a handler, with @ring_slots
 * and @inject_bytes, and fill its ring from a producer (the ring or the
 * budget runs out first). */
static void start_stuck(uint32_t ring_slots, uint64_t inject_bytes)
{
	struct pn_config c;

	memset(&g, 0, sizeof(g));
	h_config(&c);
	c.ring_slots = ring_slots;
	c.inject_bytes = inject_bytes;
	h_start(&c);
	g.stuck = h_spawn(&stuck_b, 1, NULL, 0);
	assert_int_equal(pn_producer_create(h_rt, &g.p), 0);
	assert_int_equal(pn_inject_try(g.p, g.stuck, MSG_HOLD, NULL, 0), 0);
	assert_true(h_until(entered, NULL, H_WAIT));
	while (pn_inject_try(g.p, g.stuck, MSG_DATA, "x", 1) == 0)
		;
}

/* White box: the blocked caller is asleep on the ring's waiter word, or
 * counted among the budget's waiters. */
static bool asleep_on_ring(void *arg)
{
	(void)arg;
	return atomic_load(&g.p->ring[1]->waiter) == PN__ROOM_EXTERNAL;
}

static bool asleep_on_budget(void *arg)
{
	(void)arg;
	return atomic_load(&h_rt->budget.waiters) != 0;
}

/* Shut down while the caller is asleep (@asleep says when); it must be
 * released by the input stage (which then ends cleanly) before shutdown
 * returns. Returns how long after shutdown began it was back. */
static uint64_t shutdown_releases(bool (*asleep)(void *))
{
	struct pn_shutdown_report r;
	pthread_t th;
	uint64_t start, done;

	assert_int_equal(pthread_create(&th, NULL, blocked_inject, NULL), 0);
	assert_true(h_until(asleep, NULL, H_WAIT));
	start = pn_now_ns();
	assert_int_equal(pn_runtime_shutdown(h_rt, H_WAIT, &r), 0);
	done = pn_now_ns();
	pthread_join(th, NULL);
	assert_int_equal(atomic_load(&g.err), -ESHUTDOWN);
	assert_true(atomic_load(&g.returned_at) <= done);
	assert_int_equal(r.stage[PN_STAGE_INPUT].status, 0);
	assert_int_equal(r.calls_inside, 0);
	assert_int_equal(r.shards_abandoned, 0);
	assert_int_equal(r.totals.in_flight, 0);
	pn_producer_destroy(g.p);
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
	return atomic_load(&g.returned_at) - start;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* ROUNDS releases of a caller blocked as @asleep says: each one before
 * shutdown returns and within RELEASE_MAX_NS (its timeout is 5 s), the
 * median within RELEASE_NS. */
#define ROUNDS 5
static void releases(uint32_t ring_slots, uint64_t inject_bytes,
		     bool (*asleep)(void *))
{
	uint64_t t[ROUNDS];

	for (int i = 0; i < ROUNDS; i++) {
		start_stuck(ring_slots, inject_bytes);
		t[i] = shutdown_releases(asleep);
		assert_true(t[i] < RELEASE_MAX_NS);
	}
	qsort(t, ROUNDS, sizeof(t[0]), cmp_u64);
	if (t[ROUNDS / 2] >= RELEASE_NS)
		fail_msg("median release after %llu us (bound %llu us)",
			 (unsigned long long)(t[ROUNDS / 2] / 1000),
			 (unsigned long long)(RELEASE_NS / 1000));
}

/* A producer waiting for room in a full ring (its consumer is stuck) was
 * left inside pn_inject() for its whole timeout after shutdown returned. */
static void test_release_ring_waiter(void **state)
{
	(void)state;
	releases(4, 64u << 20, asleep_on_ring);
}

/* A producer waiting for budget bytes (none come back: the consumer is
 * stuck). */
static void test_release_budget_waiter(void **state)
{
	(void)state;
	releases(1024, 256, asleep_on_budget);
}

/* --- pn_runtime_wait() -------------------------------------------------- */

static void *waiter(void *arg)
{
	int code = 0;

	(void)arg;
	atomic_store(&g.calling, true);
	atomic_store(&g.err, pn_runtime_wait(h_rt, PN_FOREVER, &code));
	return NULL;
}

static void test_release_wait(void **state)
{
	struct pn_shutdown_report r;
	pthread_t th;
	int code = 0;

	(void)state;
	memset(&g, 0, sizeof(g));
	h_start(NULL);
	assert_int_equal(pthread_create(&th, NULL, waiter, NULL), 0);
	assert_true(h_until(calling, NULL, H_WAIT));
	assert_int_equal(pn_runtime_shutdown(h_rt, H_WAIT, &r), 0);
	pthread_join(th, NULL);
	assert_int_equal(atomic_load(&g.err), -ESHUTDOWN);
	assert_int_equal(r.calls_inside, 0);
	/* A code queued before is still handed out, then -ESHUTDOWN. */
	pn_runtime_notify(h_rt, 7);
	assert_int_equal(pn_runtime_wait(h_rt, H_WAIT, &code), 0);
	assert_int_equal(code, 7);
	assert_int_equal(pn_runtime_wait(h_rt, H_WAIT, &code), -ESHUTDOWN);
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
}

/* pn_runtime_destroy() with a caller inside: it shuts down, which
 * releases the caller, and frees nothing until it has left (ASan would
 * see a use after free). */
static void test_release_destroy_waits(void **state)
{
	pthread_t th;

	(void)state;
	memset(&g, 0, sizeof(g));
	h_start(NULL);
	assert_int_equal(pthread_create(&th, NULL, waiter, NULL), 0);
	assert_true(h_until(calling, NULL, H_WAIT));
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
	pthread_join(th, NULL);
	assert_int_equal(atomic_load(&g.err), -ESHUTDOWN);
}

/* --- external calls racing a shutdown ------------------------------------- */

static _Atomic bool racing;

static void *racer(void *arg)
{
	pn_pid to = *(pn_pid *)arg;

	while (atomic_load(&racing)) {
		struct pn_producer *p;
		int err = pn_producer_create(h_rt, &p);

		if (err == 0) {
			pn_inject_try(p, to, MSG_DATA, NULL, 0);
			pn_producer_destroy(p);
		}
		pn_runtime_send(h_rt, to, MSG_DATA, NULL, 0, H_MS);
		pn_runtime_migrate(h_rt, to, 1);
		if (err == -ESHUTDOWN)
			break;
	}
	return NULL;
}

static int idle_handle(struct pn_ctx *ctx, void *st, const struct pn_msg *m)
{
	(void)ctx;
	(void)st;
	(void)m;
	return 0;
}

static const struct pn_behaviour idle_b = {.name = "release.idle",
					   .handle = idle_handle};

/* rt->running used to be read by these calls while shutdown wrote it. */
static void test_release_calls_race_shutdown(void **state)
{
	struct pn_shutdown_report r;
	pthread_t th[3];
	pn_pid to;

	(void)state;
	h_start(NULL);
	to = h_spawn(&idle_b, 0, NULL, 0);
	atomic_store(&racing, true);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&th[i], NULL, racer, &to), 0);
	assert_int_equal(pn_runtime_shutdown(h_rt, H_WAIT, &r), 0);
	assert_int_equal(r.calls_inside, 0);
	atomic_store(&racing, false);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(r.totals.accepted,
			 r.totals.handled + r.totals.dead_letters);
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
}

#define T(f) cmocka_unit_test_teardown(f, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_release_ring_waiter),
		T(test_release_budget_waiter),
		T(test_release_wait),
		T(test_release_destroy_waits),
		T(test_release_calls_race_shutdown),
	};

	return cmocka_run_group_tests_name("release", tests, NULL, NULL);
}
