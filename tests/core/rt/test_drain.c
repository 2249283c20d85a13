// SPDX-License-Identifier: MIT
/*
 * Shutdown's drain stage and its accounting (core/rt/shutdown.c): work that
 * PN_MSG_SHUTDOWN handlers start is finished before any actor is stopped,
 * however long a handler runs or however often a shard parks meanwhile;
 * and after shutdown every message accepted was either handled or
 * dead-lettered (counted by the runtime, and seen by the dead-letter hook
 * and the actors, checked against each other), with the join stage's own
 * dead letters reported by place.
 */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

enum { MSG_WORK = 1, MSG_ITEM, MSG_NEXT, MSG_PING };

#define ITEMS 300

static struct {
	pn_pid b, c;
	_Atomic unsigned items;	 /* C: items handled */
	_Atomic bool b_done;	 /* B: its long handler returned */
	_Atomic uint64_t rounds; /* the chain's round trips */
	uint64_t want_rounds;
} g;

static void spin_ms(unsigned ms)
{
	uint64_t t0 = pn_now_ns();

	while (pn_now_ns() - t0 < ms * H_MS)
		;
}

/* A: on SHUTDOWN, asks B for work. */
static int a_handle(struct pn_ctx *ctx, void *st, const struct pn_msg *m)
{
	(void)st;
	if (m->type == PN_MSG_SHUTDOWN)
		assert_int_equal(pn_send(ctx, g.b, MSG_WORK, NULL, 0), 0);
	return 0;
}

/* B: runs 50 ms on WORK, then sends C 300 items. */
static int b_handle(struct pn_ctx *ctx, void *st, const struct pn_msg *m)
{
	(void)st;
	if (m->type != MSG_WORK)
		return 0;
	spin_ms(50);
	for (unsigned i = 0; i < ITEMS; i++)
		if (pn_send_u64(ctx, g.c, MSG_ITEM, i) != 0)
			return -EIO;
	atomic_store(&g.b_done, true);
	return 0;
}

static int c_handle(struct pn_ctx *ctx, void *st, const struct pn_msg *m)
{
	(void)ctx;
	(void)st;
	if (m->type == MSG_ITEM)
		atomic_fetch_add(&g.items, 1);
	return 0;
}

static const struct pn_behaviour a_b = {.name = "drain.a", .handle = a_handle};
static const struct pn_behaviour b_b = {.name = "drain.b", .handle = b_handle};
static const struct pn_behaviour c_b = {.name = "drain.c", .handle = c_handle};

static void assert_exact(const struct pn_shutdown_report *r)
{
	const struct pn_runtime_totals *t = &r->totals;

	if (t->accepted != t->handled + t->dead_letters || t->in_flight)
		print_message("accepted %llu handled %llu dead %llu in flight "
			      "%llu\n",
			      (unsigned long long)t->accepted,
			      (unsigned long long)t->handled,
			      (unsigned long long)t->dead_letters,
			      (unsigned long long)t->in_flight);
	assert_int_equal(t->accepted, t->handled + t->dead_letters);
	assert_int_equal(t->in_flight, 0);
}

/* The audit's scenario: the drain must wait for B's 50 ms handler and for
 * the 300 messages it sends afterwards. A shard that parked once used to
 * look idle for good, and the drain ended after its first 2 ms poll. */
static void test_drain_waits_for_long_handler(void **state)
{
	struct pn_shutdown_report r;
	struct pn_config c;

	(void)state;
	memset(&g, 0, sizeof(g));
	h_config(&c);
	h_start(&c);
	g.c = h_spawn(&c_b, 0, NULL, 0);
	g.b = h_spawn(&b_b, 1, NULL, 0);
	h_spawn(&a_b, 0, NULL, 0);
	assert_int_equal(pn_runtime_shutdown(h_rt, H_WAIT, &r), 0);
	assert_string_equal(r.text, "");
	assert_true(atomic_load(&g.b_done));
	assert_int_equal(atomic_load(&g.items), ITEMS);
	assert_int_equal(r.totals.dead_letters, 0);
	assert_exact(&r);
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
}

/* A chain started by SHUTDOWN: round trips between the two shards, each
 * leg a little handler time, both shards parking in between. */
static int ping_handle(struct pn_ctx *ctx, void *st, const struct pn_msg *m)
{
	pn_pid *peer = st;

	if (m->type == MSG_NEXT) {
		memcpy(peer, pn_msg_data(m), sizeof(*peer));
		pn_runtime_notify(pn_ctx_runtime(ctx), (int)pn_shard(ctx) + 1);
		return 0;
	}
	if (m->type == PN_MSG_SHUTDOWN && *peer && pn_shard(ctx) == 0)
		return pn_send_u64(ctx, *peer, MSG_PING, 0);
	if (m->type != MSG_PING)
		return 0;
	spin_ms(1);
	if (pn_shard(ctx) == 0 &&
	    atomic_fetch_add(&g.rounds, 1) + 1 >= g.want_rounds)
		return 0;
	return pn_send_u64(ctx, *peer, MSG_PING, pn_msg_u64(m) + 1);
}

static const struct pn_behaviour ping_b = {.name = "drain.ping",
					   .state_size = sizeof(pn_pid),
					   .handle = ping_handle};

static void test_drain_waits_for_chain(void **state)
{
	struct pn_shutdown_report r;
	pn_pid p0, p1;

	(void)state;
	memset(&g, 0, sizeof(g));
	g.want_rounds = 40;
	h_start(NULL);
	p0 = h_spawn(&ping_b, 0, NULL, 0);
	p1 = h_spawn(&ping_b, 1, NULL, 0);
	/* Each learns its peer before the shutdown starts the chain. */
	h_send(p0, MSG_NEXT, &p1, sizeof(p1));
	h_send(p1, MSG_NEXT, &p0, sizeof(p0));
	h_expect_all((const int[]){1, 2}, 2);
	assert_int_equal(pn_runtime_shutdown(h_rt, H_WAIT, &r), 0);
	assert_int_equal(atomic_load(&g.rounds), g.want_rounds);
	assert_int_equal(r.totals.dead_letters, 0);
	assert_exact(&r);
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
}

/* --- accounting under a storm -------------------------------------------- */

#define STORM_SENDERS 4

static struct {
	pn_pid recv[3];
	_Atomic uint64_t sent_ok; /* app messages accepted (0 returns) */
	_Atomic uint64_t got;	  /* app messages handled by receivers */
	_Atomic uint64_t dead;	  /* app messages the hook saw */
	_Atomic uint64_t hook;	  /* every call of the hook */
	_Atomic bool stop;
} s;

static void dead_hook(void *arg, unsigned shard, const struct pn_msg *m)
{
	(void)arg;
	(void)shard;
	atomic_fetch_add(&s.hook, 1);
	if (m->type == MSG_ITEM)
		atomic_fetch_add(&s.dead, 1);
}

static int recv_handle(struct pn_ctx *ctx, void *st, const struct pn_msg *m)
{
	(void)ctx;
	(void)st;
	if (m->type == MSG_ITEM)
		atomic_fetch_add(&s.got, 1);
	return 0;
}

/* Sends bursts to every receiver until told to stop or refused. */
static int storm_handle(struct pn_ctx *ctx, void *st, const struct pn_msg *m)
{
	unsigned *k = st;

	if (m->type != PN_MSG_STARTED && m->type != MSG_NEXT &&
	    m->type != PN_MSG_WRITABLE)
		return 0;
	if (atomic_load(&s.stop))
		return 0;
	for (unsigned i = 0; i < 64; i++) {
		int err = pn_send_u64(ctx, s.recv[(*k)++ % 3], MSG_ITEM, i);

		if (err == -EAGAIN)
			return pn_notify_writable(ctx);
		if (err)
			return 0; /* -ESHUTDOWN and friends: the storm ends */
		atomic_fetch_add(&s.sent_ok, 1);
	}
	/* The next burst; refused once shutdown stops it, which ends it. */
	pn_send(ctx, pn_self(ctx), MSG_NEXT, NULL, 0);
	return 0;
}

static const struct pn_behaviour recv_b = {.name = "storm.recv",
					   .handle = recv_handle};
static const struct pn_behaviour storm_b = {.name = "storm.send",
					    .state_size = sizeof(unsigned),
					    .handle = storm_handle};

static void *injector(void *arg)
{
	struct pn_producer *p;
	unsigned k = 0;

	(void)arg;
	if (pn_producer_create(h_rt, &p))
		return NULL;
	while (!atomic_load(&s.stop)) {
		int err = pn_inject_try(p, s.recv[k++ % 3], MSG_ITEM, &k,
					sizeof(k));

		if (err == 0)
			atomic_fetch_add(&s.sent_ok, 1);
		else if (err == -ESHUTDOWN)
			break;
	}
	pn_producer_destroy(p);
	return NULL;
}

static bool storm_going(void *arg)
{
	(void)arg;
	return atomic_load(&s.got) >= 20000;
}

/* Shutdown in the middle of a storm from every shard and from two
 * external threads: what was accepted is handled or dead-lettered, and
 * the runtime's totals, the hook and the actors agree. Messages used to
 * vanish uncounted at the join stage (2,000-3,800 per run). */
static void test_drain_storm_accounting(void **state)
{
	struct pn_shutdown_report r;
	struct pn_config c;
	pthread_t th[2];
	uint64_t swept;

	(void)state;
	memset(&s, 0, sizeof(s));
	h_config(&c);
	c.ring_slots = 64;
	c.dead_letter = dead_hook;
	/* A short drain: the storm is cut off and leaves work behind. */
	c.stage_ns[PN_STAGE_DRAIN] = 5 * H_MS;
	h_start(&c);
	for (int i = 0; i < 3; i++)
		s.recv[i] = h_spawn(&recv_b, i == 2 ? PN_SHARD_SUPERVISOR : i,
				    NULL, 0);
	for (int i = 0; i < STORM_SENDERS; i++)
		h_spawn(&storm_b, i % 2, NULL, 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, injector, NULL),
				 0);
	assert_true(h_until(storm_going, NULL, H_WAIT));
	pn_runtime_shutdown(h_rt, H_WAIT, &r); /* the drain may time out */
	atomic_store(&s.stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_exact(&r);
	/* The actors' view and the runtime's agree. */
	assert_int_equal(atomic_load(&s.got) + atomic_load(&s.dead),
			 atomic_load(&s.sent_ok));
	swept = r.dead_ring + r.dead_local + r.dead_overflow + r.dead_held;
	assert_true(swept <= r.totals.dead_letters);
	assert_true(atomic_load(&s.hook) <= r.totals.dead_letters);
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
}

#define T(f) cmocka_unit_test_teardown(f, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_drain_waits_for_long_handler),
		T(test_drain_waits_for_chain),
		T(test_drain_storm_accounting),
	};

	return cmocka_run_group_tests_name("drain", tests, NULL, NULL);
}
