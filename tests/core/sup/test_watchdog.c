// SPDX-License-Identifier: MIT
/*
 * The watchdog (core/sup/watchdog.c) and shutdown under supervision with a
 * stuck child. A handler that loops is reported once per incident, with
 * its shard, actor, behaviour and message type, between the limit and a
 * bounded time after it; counted; and when it returns the end is
 * reported too. Idle (parked) shards and long turns made of many short
 * handlers are not stalls. A supervised child that loops forever: the
 * watchdog names it, and pn_runtime_shutdown() still returns within its
 * deadline, leaving that shard behind with the actor and its behaviour
 * named in the report (the supervisor reports the child left behind).
 */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct ev {
	int kind;
	unsigned shard;
	pn_pid actor;
	uint32_t type;
	uint64_t ns, at;
	char behaviour[32];
};

#define EV_MAX 64
static pthread_mutex_t ev_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ev_cv = PTHREAD_COND_INITIALIZER;
static struct ev evs[EV_MAX];
static unsigned nev;

static void on_event(void *arg, const struct pn_event *e)
{
	(void)arg;
	print_message("event: %s\n", e->text);
	pthread_mutex_lock(&ev_mu);
	if (nev < EV_MAX) {
		struct ev *v = &evs[nev++];

		*v = (struct ev){.kind = e->kind,
				 .shard = e->shard,
				 .actor = e->actor,
				 .type = e->type,
				 .ns = e->ns,
				 .at = pn_now_ns()};
		snprintf(v->behaviour, sizeof(v->behaviour), "%s",
			 e->behaviour);
	}
	pthread_cond_broadcast(&ev_cv);
	pthread_mutex_unlock(&ev_mu);
}

/* Events of @kind about @actor (PN_PID_NONE: any); ev_mu held. */
static unsigned count_locked(int kind, pn_pid actor, struct ev *last)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nev; i++)
		if (evs[i].kind == kind && (!actor || evs[i].actor == actor)) {
			n++;
			if (last)
				*last = evs[i];
		}
	return n;
}

static unsigned count(int kind, pn_pid actor)
{
	unsigned n;

	pthread_mutex_lock(&ev_mu);
	n = count_locked(kind, actor, NULL);
	pthread_mutex_unlock(&ev_mu);
	return n;
}

/* Wait (bounded) for an event of @kind about @actor; returns it. */
static struct ev wait_event(int kind, pn_pid actor)
{
	struct ev e = {0};
	struct timespec ts;
	unsigned n;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(H_WAIT / H_SEC);
	pthread_mutex_lock(&ev_mu);
	while ((n = count_locked(kind, actor, &e)) == 0)
		if (pthread_cond_timedwait(&ev_cv, &ev_mu, &ts))
			break;
	pthread_mutex_unlock(&ev_mu);
	if (!n)
		print_message("no event %d for %#llx\n", kind,
			      (unsigned long long)actor);
	assert_true(n > 0);
	return e;
}

static void config(struct pn_config *c, uint64_t limit)
{
	h_config(c);
	c->watchdog_ns = limit;
	c->on_event = on_event;
}

static struct h_puppet A, B;
static atomic_bool release;
static atomic_ullong spin_from;
static atomic_int stuck_tid;

static int setup(void **state)
{
	(void)state;
	pthread_mutex_lock(&ev_mu);
	nev = 0;
	pthread_mutex_unlock(&ev_mu);
	h_puppet_init(&A, 1);
	h_puppet_init(&B, 2);
	atomic_store(&release, false);
	return 0;
}

/* Loop until released (60 s at most), after saying so (90). */
static void loop_here(struct pn_ctx *ctx)
{
	uint64_t end = pn_now_ns() + 60 * H_SEC;

	atomic_store(&spin_from, pn_now_ns());
	atomic_store(&stuck_tid, (int)gettid());
	pn_runtime_notify(pn_ctx_runtime(ctx), 90);
	while (!atomic_load(&release) && pn_now_ns() < end)
		;
}

static int stuck_hook(struct pn_ctx *ctx, struct h_puppet *p,
		      const struct pn_msg *m)
{
	(void)p;
	if (m->type != H_MSG_DATA)
		return H_DEFAULT;
	loop_here(ctx);
	return 0;
}

static void test_watchdog_reports_stuck_handler(void **state)
{
	const uint64_t limit = 200 * H_MS;
	struct timespec nap = {.tv_sec = 1};
	struct pn_supervision_stats st;
	struct pn_config c;
	struct ev e;

	(void)state;
	config(&c, limit);
	h_start(&c);
	B.hook = stuck_hook;
	h_puppet_spawn(&B, 1);
	h_send(B.self, H_MSG_DATA, NULL, 0);
	h_expect(90);
	e = wait_event(PN_EVENT_STALL, B.self);
	assert_int_equal(e.shard, 1);
	assert_true(e.actor == B.self);
	assert_string_equal(e.behaviour, "puppet");
	assert_int_equal(e.type, H_MSG_DATA);
	assert_true(e.ns >= limit);
	/* Reported after the limit, and within a period of it (plus the
	 * machine's scheduling noise). */
	assert_true(e.at - atomic_load(&spin_from) >= limit);
	assert_true(e.at - atomic_load(&spin_from) < limit + 2 * H_SEC);
	/* Once per incident: five limits later, still one report. */
	nanosleep(&nap, NULL);
	assert_int_equal(count(PN_EVENT_STALL, B.self), 1);
	assert_int_equal(pn_supervision_stats(h_rt, &st), 0);
	assert_int_equal(st.stalls, count(PN_EVENT_STALL, PN_PID_NONE));
	/* It returns: the end of the incident is reported. */
	atomic_store(&release, true);
	e = wait_event(PN_EVENT_STALL_END, B.self);
	assert_true(e.ns >= limit);
	h_finish();
}

/* On DATA: 10 ms of work. */
static int short_hook(struct pn_ctx *ctx, struct h_puppet *p,
		      const struct pn_msg *m)
{
	uint64_t end = pn_now_ns() + 10 * H_MS;

	(void)ctx;
	(void)p;
	if (m->type != H_MSG_DATA)
		return H_DEFAULT;
	while (pn_now_ns() < end)
		;
	return H_DEFAULT;
}

static void test_watchdog_idle_and_busy_are_not_stalls(void **state)
{
	struct timespec nap = {.tv_nsec = 900 * H_MS};
	struct pn_config c;
	unsigned n = 60;

	(void)state;
	config(&c, 300 * H_MS);
	h_start(&c);
	A.hook = short_hook;
	A.notify_mask = H_BIT(H_EV_DATA);
	h_puppet_spawn(&A, 1);
	/* Idle: every shard parked for three limits. */
	nanosleep(&nap, NULL);
	assert_int_equal(count(PN_EVENT_STALL, PN_PID_NONE), 0);
	/* 600 ms of 10 ms handlers, in long turns: not a stall. */
	for (unsigned i = 0; i < n; i++)
		h_send(A.self, H_MSG_DATA, &i, sizeof(i));
	for (unsigned i = 0; i < n; i++)
		h_expect(H_CODE(&A, H_EV_DATA));
	assert_int_equal(count(PN_EVENT_STALL, PN_PID_NONE), 0);
	h_finish();
}

/* --- a supervised child that loops forever ------------------------- */

#define LOOP 0x5001u

static int looper(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	(void)state;
	if (m->type == LOOP)
		loop_here(ctx);
	return 0;
}

static const struct pn_behaviour looper_b = {.name = "looper",
					     .handle = looper};

static struct h_puppet *calm = &A; /* the well-behaved child */
static const struct pn_child_spec stuck_kids[] = {
	{.id = "calm",
	 .b = &h_puppet_b,
	 .arg = &calm,
	 .arg_len = sizeof(calm),
	 .shard = 0},
	{.id = "loop",
	 .b = &looper_b,
	 .shard = 1,
	 .shutdown_ns = 100 * H_MS,
	 .name = "looper"},
};
static const struct pn_sup_spec stuck_spec = {.name = "app",
					      .strategy = PN_ONE_FOR_ONE,
					      .intensity = 3,
					      .period_ns = H_SEC,
					      .children = stuck_kids,
					      .nchildren = 2};

static void test_watchdog_stuck_child_shutdown(void **state)
{
	const uint64_t timeout = 4 * H_SEC, slack = 500 * H_MS;
	struct pn_shutdown_report r;
	struct pn_supervision_stats st;
	struct pn_config c;
	char text[32];
	uint64_t t0, took;
	pn_pid sup, lp;
	struct ev e;
	int err;

	(void)state;
	config(&c, 200 * H_MS);
	/* Stage limits of its own (the library's defaults, a longer stop
	 * stage): the deadline below is what is under test. */
	c.stage_ns[PN_STAGE_INPUT] = 100 * H_MS;
	c.stage_ns[PN_STAGE_NOTIFY] = 500 * H_MS;
	c.stage_ns[PN_STAGE_DRAIN] = H_SEC;
	c.stage_ns[PN_STAGE_STOP] = 2 * H_SEC;
	c.stage_ns[PN_STAGE_IO] = 500 * H_MS;
	c.stage_ns[PN_STAGE_JOIN] = H_SEC;
	h_start(&c);
	assert_int_equal(pn_supervisor_start(h_rt, &stuck_spec, H_WAIT, &sup),
			 0);
	lp = pn_name_lookup(h_rt, "looper");
	assert_true(lp != PN_PID_NONE);
	h_send(lp, LOOP, NULL, 0);
	h_expect(90);
	e = wait_event(PN_EVENT_STALL, lp);
	assert_int_equal(e.shard, 1);
	assert_string_equal(e.behaviour, "looper");
	assert_int_equal(e.type, LOOP);
	t0 = pn_now_ns();
	err = pn_runtime_shutdown(h_rt, timeout, &r);
	took = pn_now_ns() - t0;
	print_message("shutdown took %llu ms:\n%s",
		      (unsigned long long)(took / H_MS), r.text);
	assert_int_equal(err, -ETIMEDOUT);
	assert_true(took <= timeout + slack);
	assert_int_equal(r.shards_abandoned, 1);
	snprintf(text, sizeof(text), "%#llx", (unsigned long long)lp);
	assert_non_null(strstr(r.text, "shard 1 abandoned"));
	assert_non_null(strstr(r.text, text));
	assert_non_null(strstr(r.text, "behaviour \"looper\""));
	assert_non_null(strstr(r.text, "child \"loop\""));
	assert_non_null(strstr(r.text, "left behind"));
	wait_event(PN_EVENT_LEFT_BEHIND, lp);
	assert_int_equal(pn_supervision_stats(h_rt, &st), 0);
	assert_int_equal(st.left_behind, 1);
	/* The calm child was stopped properly all the same. */
	assert_int_equal(A.cleanups, 1);
	assert_int_equal(A.cleanup_reason, PN_REASON_SHUTDOWN);
	h_stuck_thread_finish(&release, &stuck_tid);
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_watchdog_reports_stuck_handler),
		T(test_watchdog_idle_and_busy_are_not_stalls),
		T(test_watchdog_stuck_child_shutdown), /* last: TSan note */
	};

	return cmocka_run_group_tests_name("watchdog", tests, NULL, NULL);
}
