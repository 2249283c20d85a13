// SPDX-License-Identifier: MIT
/*
 * External producers (core/sched/producer.c): creating them up to
 * max_producers, injecting (try and blocking) with every error, the byte budget
 * seen end to end (-EAGAIN, -ETIMEDOUT, -EMSGSIZE, and the weighted-budget
 * wake-up case through the real runtime), a full ring, spawning through a
 * producer, and what shutdown does to producers, including one waiting for
 * budget.
 *
 * To hold bytes in the budget, a "gate" actor spins in its handler until
 * the test opens the gate, so its shard handles nothing else meanwhile
 * (only a test may do that). Waiting producer threads are observed through
 * the budget's waiter count (core/sched/budget.h).
 */
#include "core_int.h"
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#define MSG_GATE 0x1100u /* empty: it costs the budget nothing */

static struct h_puppet G, P;
static atomic_bool gate_open;

static int setup(void **state)
{
	(void)state;
	h_puppet_init(&G, 1);
	h_puppet_init(&P, 2);
	atomic_store(&gate_open, false);
	return 0;
}

/* On MSG_GATE: notify 80 and hold the shard until the gate opens. */
static int gate_hook(struct pn_ctx *ctx, struct h_puppet *p,
		     const struct pn_msg *m)
{
	uint64_t end;

	(void)p;
	if (m->type != MSG_GATE)
		return H_DEFAULT;
	pn_runtime_notify(pn_ctx_runtime(ctx), 80);
	end = pn_now_ns() + 2 * H_WAIT;
	while (!atomic_load(&gate_open) && pn_now_ns() < end)
		;
	return 0;
}

/* G on shard 1 holding its shard; returns its PID. */
static pn_pid gate_close(void)
{
	G.hook = gate_hook;
	h_puppet_spawn(&G, 1);
	h_send(G.self, MSG_GATE, NULL, 0);
	h_expect(80);
	return G.self;
}

static bool budget_empty(void *arg)
{
	(void)arg;
	return pn__budget_used(&h_rt->budget) == 0;
}

static bool waiters_are(void *arg)
{
	return pn__budget_waiters(&h_rt->budget) == *(uint32_t *)arg;
}

/* --- creation ------------------------------------------------------------ */

static void test_producer_create_up_to_max(void **state)
{
	struct pn_config c;
	struct pn_producer *p[4] = {0}, *q = NULL;

	(void)state;
	h_config(&c);
	c.max_producers = 3;
	h_start(&c);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pn_producer_create(h_rt, &p[i]), 0);
	assert_int_equal(pn_producer_create(h_rt, &p[3]), -EMFILE);
	assert_null(p[3]);
	assert_non_null(strstr(pn_last_error(), "max_producers"));
	/* The runtime's own producer is not one of them. */
	P.notify_mask = H_BIT(H_EV_DATA);
	h_puppet_spawn(&P, 1);
	assert_int_equal(
		pn_runtime_send(h_rt, P.self, H_MSG_DATA, NULL, 0, H_SEC), 0);
	h_expect(H_CODE(&P, H_EV_DATA));
	/* A destroyed producer's place is free again, and it works. */
	pn_producer_destroy(p[0]);
	pn_producer_destroy(NULL);
	assert_int_equal(pn_producer_create(h_rt, &q), 0);
	pn_producer_destroy(p[1]);
	assert_int_equal(pn_inject_try(q, P.self, H_MSG_DATA, NULL, 0), 0);
	h_expect(H_CODE(&P, H_EV_DATA));
	pn_producer_destroy(q);
	pn_producer_destroy(p[2]);
	h_finish();
}

static void test_producer_create_not_running(void **state)
{
	struct pn_config c;
	struct pn_producer *p = NULL;

	(void)state;
	h_config(&c);
	assert_int_equal(pn_runtime_create(&c, &h_rt), 0);
	assert_int_equal(pn_producer_create(h_rt, &p), -ESHUTDOWN);
	assert_int_equal(pn_runtime_start(h_rt), 0);
	assert_int_equal(pn_runtime_shutdown(h_rt, H_WAIT, NULL), 0);
	assert_int_equal(pn_producer_create(h_rt, &p), -ESHUTDOWN);
	assert_null(p);
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
}

/* --- injecting ----------------------------------------------------------- */

static unsigned char payload[200000];

static size_t inj_len(unsigned i)
{
	static const size_t lens[] = {8, 0, 100, 32, 33, sizeof(payload)};

	return lens[i % 6];
}

static void test_producer_inject_in_order(void **state)
{
	struct pn_producer *p;
	struct h_puppet *to[2] = {&G, &P};

	(void)state;
	h_fill(payload, sizeof(payload), 9);
	h_start(NULL);
	h_puppet_spawn(&G, 0);
	h_puppet_spawn(&P, 1);
	assert_int_equal(pn_producer_create(h_rt, &p), 0);
	for (unsigned i = 0; i < 60; i++) {
		struct h_puppet *d = to[i % 2];
		int err;

		memcpy(payload, &i, sizeof(i));
		if (i % 3)
			err = pn_inject(p, d->self, H_MSG_DATA, payload,
					inj_len(i / 2), H_WAIT);
		else
			err = pn_inject_try(p, d->self, H_MSG_DATA, payload,
					    inj_len(i / 2));
		assert_int_equal(err, 0);
	}
	for (int k = 0; k < 2; k++) {
		struct h_cmd nop = {.op = H_NOP, .notify = 81};

		assert_int_equal(pn_inject(p, to[k]->self, H_MSG_CMD, &nop,
					   sizeof(nop), H_WAIT),
				 0);
	}
	h_expect(81);
	h_expect(81);
	pn_producer_destroy(p);
	h_finish();
	for (unsigned i = 0; i < 60; i++) {
		const struct h_entry *e = &to[i % 2]->log[1 + i / 2];
		size_t len = inj_len(i / 2);

		assert_int_equal(e->type, H_MSG_DATA);
		assert_int_equal(e->len, len);
		assert_true(e->from == PN_PID_NONE);
		if (len >= sizeof(i)) {
			unsigned v;

			memcpy(payload, &i, sizeof(i));
			memcpy(&v, e->data, sizeof(v));
			assert_int_equal(v, i);
			assert_int_equal(e->sum, h_sum(payload, len));
		}
	}
}

static void test_producer_inject_invalid(void **state)
{
	static const unsigned char small[8];
	struct pn_producer *p;
	pn_pid to;

	(void)state;
	h_start(NULL);
	P.notify_mask = H_BIT(H_EV_DATA);
	to = h_puppet_spawn(&P, 1);
	assert_int_equal(pn_producer_create(h_rt, &p), 0);
	assert_int_equal(pn_inject_try(p, PN_PID_NONE, H_MSG_DATA, small, 8),
			 -EINVAL);
	assert_int_equal(
		pn_inject(p, pn_pid_make(3, 0, 1), H_MSG_DATA, small, 8, H_SEC),
		-EINVAL);
	assert_int_equal(pn_inject_try(p, to, PN_MSG_SYS, small, 8), -EINVAL);
	assert_int_equal(pn_inject(p, to, PN_MSG_STARTED, small, 0, H_SEC),
			 -EINVAL);
	assert_int_equal(
		pn_inject_try(p, to, H_MSG_DATA, small, (size_t)PN_MSG_MAX + 1),
		-EMSGSIZE);
	assert_int_equal(pn_inject(p, to, H_MSG_DATA, small,
				   (size_t)PN_MSG_MAX + 1, H_SEC),
			 -EMSGSIZE);
	/* Nothing was taken from the budget; a good message goes through. */
	assert_int_equal(pn__budget_used(&h_rt->budget), 0);
	assert_int_equal(pn_inject_try(p, to, H_MSG_DATA, small, 8), 0);
	h_expect(H_CODE(&P, H_EV_DATA));
	pn_producer_destroy(p);
	h_finish();
	assert_int_equal(h_count(&P, H_MSG_DATA), 1);
}

/* --- the byte budget ---------------------------------------------------- */

struct injector {
	struct pn_producer *p;
	pn_pid to;
	size_t len;
	uint64_t timeout;
	int rc;
	pthread_t t;
};

static void *injector_main(void *arg)
{
	struct injector *in = arg;

	in->rc = pn_inject(in->p, in->to, H_MSG_DATA, payload, in->len,
			   in->timeout);
	return NULL;
}

static void injector_start(struct injector *in, pn_pid to, size_t len,
			   uint64_t timeout)
{
	in->to = to;
	in->len = len;
	in->timeout = timeout;
	in->rc = 1;
	assert_int_equal(pn_producer_create(h_rt, &in->p), 0);
	assert_int_equal(pthread_create(&in->t, NULL, injector_main, in), 0);
}

static void injector_join(struct injector *in)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(H_WAIT / H_SEC);
	assert_int_equal(pthread_timedjoin_np(in->t, NULL, &ts), 0);
	pn_producer_destroy(in->p);
}

static void test_producer_budget(void **state)
{
	struct pn_config c;
	struct pn_producer *p;
	struct injector b, d;
	uint32_t two = 2;
	uint64_t t0;
	pn_pid g;
	int codes[4];

	(void)state;
	h_fill(payload, sizeof(payload), 1);
	h_config(&c);
	c.inject_bytes = 100;
	h_start(&c);
	G.notify_mask = H_BIT(H_EV_DATA);
	g = gate_close();
	assert_int_equal(pn_producer_create(h_rt, &p), 0);
	/* A takes the whole budget; shard 1 is held, so it stays taken. */
	assert_int_equal(pn_inject_try(p, g, H_MSG_DATA, payload, 100), 0);
	assert_int_equal(pn__budget_used(&h_rt->budget), 100);
	assert_int_equal(pn_inject_try(p, g, H_MSG_DATA, payload, 1), -EAGAIN);
	t0 = pn_now_ns();
	assert_int_equal(pn_inject(p, g, H_MSG_DATA, payload, 1, 10 * H_MS),
			 -ETIMEDOUT);
	assert_true(pn_now_ns() - t0 >= 10 * H_MS);
	/* Larger than the whole budget: never fits. */
	assert_int_equal(pn_inject_try(p, g, H_MSG_DATA, payload, 101),
			 -EMSGSIZE);
	assert_int_equal(pn_inject(p, g, H_MSG_DATA, payload, 101, H_SEC),
			 -EMSGSIZE);
	/* An empty message costs nothing. */
	assert_int_equal(pn_inject_try(p, g, H_MSG_DATA, NULL, 0), 0);
	assert_int_equal(pn__budget_used(&h_rt->budget), 100);
	/* Lesson 3: B=50 and C=50 wait; A's release must admit both. */
	injector_start(&b, g, 50, H_WAIT);
	injector_start(&d, g, 50, H_WAIT);
	assert_true(h_until(waiters_are, &two, H_WAIT));
	atomic_store(&gate_open, true);
	injector_join(&b);
	injector_join(&d);
	assert_int_equal(b.rc, 0);
	assert_int_equal(d.rc, 0);
	for (int i = 0; i < 4; i++)
		codes[i] = H_CODE(&G, H_EV_DATA);
	h_expect_all(codes, 4); /* A, the empty one, B, C */
	assert_true(h_until(budget_empty, NULL, H_WAIT));
	pn_producer_destroy(p);
	h_finish();
	assert_int_equal(G.log[2].len, 100); /* after STARTED and the gate */
	assert_int_equal(G.log[3].len, 0);
	assert_int_equal(G.log[4].len + G.log[5].len, 100);
}

static void test_producer_ring_full(void **state)
{
	struct pn_config c;
	struct pn_producer *p;
	pn_pid g;
	int codes[3];

	(void)state;
	h_config(&c);
	c.ring_slots = 2;
	h_start(&c);
	G.notify_mask = H_BIT(H_EV_DATA);
	g = gate_close();
	assert_int_equal(pn_producer_create(h_rt, &p), 0);
	assert_int_equal(pn_inject_try(p, g, H_MSG_DATA, payload, 8), 0);
	assert_int_equal(pn_inject_try(p, g, H_MSG_DATA, payload, 8), 0);
	assert_int_equal(pn_inject_try(p, g, H_MSG_DATA, payload, 8), -EAGAIN);
	assert_int_equal(pn_inject(p, g, H_MSG_DATA, payload, 8, 10 * H_MS),
			 -ETIMEDOUT);
	/* The refused ones gave their bytes back. */
	assert_int_equal(pn__budget_used(&h_rt->budget), 16);
	atomic_store(&gate_open, true);
	assert_int_equal(pn_inject(p, g, H_MSG_DATA, payload, 8, H_WAIT), 0);
	for (int i = 0; i < 3; i++)
		codes[i] = H_CODE(&G, H_EV_DATA);
	h_expect_all(codes, 3);
	assert_true(h_until(budget_empty, NULL, H_WAIT));
	pn_producer_destroy(p);
	h_finish();
	assert_int_equal(h_count(&G, H_MSG_DATA), 3);
}

/* --- spawning and shutdown ---------------------------------------------- */

static void test_producer_spawn(void **state)
{
	struct pn_spawn_opts o = {.shard = 1, .arg_len = sizeof(void *)};
	struct h_puppet *pp = &P, *gp = &G;
	struct pn_producer *p;
	pn_pid pid = 0;

	(void)state;
	h_start(NULL);
	assert_int_equal(pn_producer_create(h_rt, &p), 0);
	G.notify_mask = P.notify_mask = H_BIT(H_EV_STARTED);
	o.arg = &pp;
	assert_int_equal(pn_producer_spawn(p, &h_puppet_b, &o, &pid), 0);
	h_expect(H_CODE(&P, H_EV_STARTED));
	assert_true(P.self == pid);
	assert_int_equal(pn_pid_shard(pid), 1);
	/* Any shard. */
	o.shard = PN_SHARD_ANY;
	o.arg = &gp;
	assert_int_equal(pn_producer_spawn(p, &h_puppet_b, &o, &pid), 0);
	h_expect(H_CODE(&G, H_EV_STARTED));
	assert_true(pn_pid_shard(pid) < 2);
	/* No parent actor: no MONITOR or LINK; bad shards are refused. */
	o.flags = PN_SPAWN_MONITOR;
	assert_int_equal(pn_producer_spawn(p, &h_puppet_b, &o, &pid), -EINVAL);
	o.flags = PN_SPAWN_LINK;
	assert_int_equal(pn_producer_spawn(p, &h_puppet_b, &o, &pid), -EINVAL);
	o.flags = 0;
	o.shard = 2;
	assert_int_equal(pn_producer_spawn(p, &h_puppet_b, &o, &pid), -EINVAL);
	pn_producer_destroy(p);
	h_finish();
}

static void test_producer_after_shutdown(void **state)
{
	struct pn_spawn_opts o = {.shard = 0};
	struct pn_producer *p;
	pn_pid pid;

	(void)state;
	h_start(NULL);
	pid = h_puppet_spawn(&P, 0);
	assert_int_equal(pn_producer_create(h_rt, &p), 0);
	assert_int_equal(pn_runtime_shutdown(h_rt, H_WAIT, NULL), 0);
	assert_int_equal(pn_inject_try(p, pid, H_MSG_DATA, NULL, 0),
			 -ESHUTDOWN);
	assert_int_equal(pn_inject(p, pid, H_MSG_DATA, NULL, 0, H_SEC),
			 -ESHUTDOWN);
	assert_int_equal(pn_producer_spawn(p, &h_puppet_b, &o, &pid),
			 -ESHUTDOWN);
	pn_producer_destroy(p);
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
}

struct shutdown_thread {
	pthread_t t;
	struct pn_shutdown_report r;
	int rc;
};

static void *shutdown_main(void *arg)
{
	struct shutdown_thread *s = arg;

	s->rc = pn_runtime_shutdown(h_rt, H_WAIT, &s->r);
	return NULL;
}

static void test_producer_waiter_woken_by_shutdown(void **state)
{
	static struct shutdown_thread sd;
	struct pn_config c;
	struct pn_producer *p;
	struct injector w;
	struct timespec ts;
	uint32_t one = 1;
	pn_pid g;

	(void)state;
	h_config(&c);
	c.inject_bytes = 100;
	c.stage_ns[PN_STAGE_INPUT] = H_WAIT; /* shard 1 answers late */
	h_start(&c);
	g = gate_close();
	assert_int_equal(pn_producer_create(h_rt, &p), 0);
	assert_int_equal(pn_inject_try(p, g, H_MSG_DATA, payload, 100), 0);
	injector_start(&w, g, 50, 2 * H_WAIT);
	assert_true(h_until(waiters_are, &one, H_WAIT));
	/* Shutdown closes the budget at once: the waiter gives up. */
	assert_int_equal(pthread_create(&sd.t, NULL, shutdown_main, &sd), 0);
	injector_join(&w);
	assert_int_equal(w.rc, -ESHUTDOWN);
	atomic_store(&gate_open, true);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 2 * (time_t)(H_WAIT / H_SEC);
	assert_int_equal(pthread_timedjoin_np(sd.t, NULL, &ts), 0);
	if (sd.rc)
		print_message("%s", sd.r.text);
	assert_int_equal(sd.rc, 0);
	pn_producer_destroy(p);
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_producer_create_up_to_max),
		T(test_producer_create_not_running),
		T(test_producer_inject_in_order),
		T(test_producer_inject_invalid),
		T(test_producer_budget),
		T(test_producer_ring_full),
		T(test_producer_spawn),
		T(test_producer_after_shutdown),
		T(test_producer_waiter_woken_by_shutdown),
	};

	return cmocka_run_group_tests_name("producer", tests, NULL, NULL);
}
