// SPDX-License-Identifier: MIT
/*
 * Supervisor trees (core/sup/supervisor.c), told by the log of
 * sup_log.h: each test compares what happened since a point with a short
 * token string. They prove: start and reverse stop order (nested trees
 * too); each strategy restarts exactly the right children in order;
 * escalation exactly at failure R+1 within T (not when spread out), also
 * to a parent supervisor; restart types; names across restarts; what
 * monitors see; a kill without cleanup after a missed shutdown timeout; a
 * start failure; spec checks.
 */
#include "sup_log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* --- start and stop order -------------------------------------------- */

static const struct pn_child_spec inner_kids[] = {WORKER(1, 1), WORKER(2, 0)};
static const struct pn_sup_spec inner = {.name = "inner",
					 .strategy = PN_ONE_FOR_ONE,
					 .children = inner_kids,
					 .nchildren = 2};
static const struct pn_child_spec outer_kids[] = {
	WORKER(0, 0), {.id = "S", .sup = &inner}, WORKER(3, 1)};
static const struct pn_sup_spec outer = {.name = "outer",
					 .strategy = PN_ONE_FOR_ONE,
					 .intensity = 3,
					 .period_ns = H_SEC,
					 .children = outer_kids,
					 .nchildren = 3};

static void test_sup_start_and_shutdown_order(void **state)
{
	unsigned mark;

	(void)state;
	start(&outer);
	expect_seq(0, "I0 I1 I2 I3");
	mark = log_mark();
	h_finish(); /* asserts a clean shutdown report */
	expect_seq(mark, "C3s C2s C1s C0s");
}

/* --- strategies -------------------------------------------------------- */

static const struct pn_child_spec three[] = {WORKER(0, 0), WORKER(1, 1),
					     WORKER(2, 0)};
static const struct pn_child_spec four[] = {WORKER(0, 0), WORKER(1, 1),
					    WORKER(2, 0), WORKER(3, 1)};

/*
 * One row per strategy: the children, then failures one after another.
 * For each failure, which child fails and how (W_FAIL returns @detail,
 * W_PNFAIL calls pn_fail() with it), the children that must restart (a
 * new PID; every other child keeps its own) and what the log must show.
 * Each row checks its whole log since the start after every step, and
 * that each failure made one restart decision.
 */
struct strategy_step {
	int child;
	uint32_t how;
	int32_t detail;
	unsigned restart; /* bit i: child i restarts */
	const char *seq;
};

struct strategy_case {
	const char *name;
	struct pn_sup_spec spec;
	const char *started;
	unsigned nsteps;
	struct strategy_step step[2];
};

#define STRATEGY(s, kids)                                                      \
	{                                                                      \
		.strategy = (s), .intensity = 10, .period_ns = 10 * H_SEC,     \
		.children = (kids),                                            \
		.nchildren = sizeof(kids) / sizeof(kids[0])                    \
	}

static const struct strategy_case strategy_cases[] = {
	{"one_for_one",
	 STRATEGY(PN_ONE_FOR_ONE, three),
	 "I0 I1 I2",
	 2,
	 {{1, W_FAIL, -5, 1u << 1, "C1f R1 I1"},
	  /* pn_fail() is a failure too. */
	  {2, W_PNFAIL, -6, 1u << 2, "C2f R2 I2"}}},
	{"one_for_all",
	 STRATEGY(PN_ONE_FOR_ALL, three),
	 "I0 I1 I2",
	 2,
	 {{1, W_FAIL, -5, 0x7, "C1f R1 C2s C0s I0 I1 I2"},
	  {0, W_FAIL, -5, 0x7, "C0f R0 C2s C1s I0 I1 I2"}}},
	{"rest_for_one",
	 STRATEGY(PN_REST_FOR_ONE, four),
	 "I0 I1 I2 I3",
	 2,
	 {{1, W_FAIL, -5, 0xe, "C1f R1 C3s C2s I1 I2 I3"},
	  /* The last: nobody after it. */
	  {3, W_FAIL, -5, 1u << 3, "C3f R3 I3"}}},
};

static void strategy_run(const struct strategy_case *sc)
{
	char want[256] = "";
	pn_pid before[4];
	unsigned mark, n = sc->spec.nchildren;

	print_message("strategy %s\n", sc->name);
	assert_true(n <= sizeof(before) / sizeof(before[0]));
	setup(NULL); /* a fresh log */
	start(&sc->spec);
	expect_seq(0, sc->started);
	mark = log_mark();
	for (unsigned k = 0; k < sc->nsteps; k++) {
		const struct strategy_step *st = &sc->step[k];

		for (unsigned i = 0; i < n; i++)
			before[i] = pid_of((int)i);
		h_send(pid_of(st->child), st->how, &st->detail,
		       sizeof(st->detail));
		snprintf(want + strlen(want), sizeof(want) - strlen(want),
			 "%s%s", k ? " " : "", st->seq);
		expect_seq(mark, want);
		for (unsigned i = 0; i < n; i++) {
			bool restarted = pid_of((int)i) != before[i];

			if (restarted != !!(st->restart & (1u << i)))
				print_message("%s, failure %u: child %u %s\n",
					      sc->name, k, i,
					      restarted ? "restarted"
							: "kept its PID");
			assert_int_equal(restarted,
					 !!(st->restart & (1u << i)));
		}
	}
	assert_int_equal(sstats().restarts, sc->nsteps);
	h_finish();
}

static void test_sup_strategies(void **state)
{
	(void)state;
	for (unsigned i = 0;
	     i < sizeof(strategy_cases) / sizeof(strategy_cases[0]); i++)
		strategy_run(&strategy_cases[i]);
}

/* --- intensity ---------------------------------------------------------- */

static void test_sup_intensity_escalates_at_r_plus_1(void **state)
{
	static const struct pn_sup_spec spec = {.name = "root",
						.strategy = PN_ONE_FOR_ONE,
						.intensity = 2,
						.period_ns = 60 * H_SEC,
						.children = three,
						.nchildren = 3};
	struct pn_supervision_stats st;
	unsigned mark;

	(void)state;
	start(&spec);
	expect_seq(0, "I0 I1 I2");
	mark = log_mark();
	child_fail(1, -5);
	expect_seq(mark, "C1f R1 I1");
	child_fail(1, -5);
	expect_seq(mark, "C1f R1 I1 C1f R1 I1");
	/* The third within T is one too many: stop the others in reverse
	 * order, then give up; the root tells pn_runtime_wait(). */
	child_fail(1, -5);
	expect_seq(mark, "C1f R1 I1 C1f R1 I1 C1f E C2s C0s F");
	h_expect(PN_NOTIFY_ROOT_FAILED);
	st = sstats();
	assert_int_equal(st.restarts, 2);
	assert_int_equal(st.escalations, 1);
	assert_int_equal(st.root_failures, 1);
	h_finish();
}

static void test_sup_intensity_window(void **state)
{
	static const struct pn_sup_spec spec = {.strategy = PN_ONE_FOR_ONE,
						.intensity = 1,
						.period_ns = 500 * H_MS,
						.children = three,
						.nchildren = 3};
	struct timespec nap = {.tv_nsec = 600 * H_MS};
	unsigned mark;

	(void)state;
	start(&spec);
	expect_seq(0, "I0 I1 I2");
	mark = log_mark();
	child_fail(1, -5);
	expect_seq(mark, "C1f R1 I1");
	/* T passes (the property under test, not synchronisation): the
	 * next failure is the only one in its window. */
	nanosleep(&nap, NULL);
	child_fail(1, -5);
	expect_seq(mark, "C1f R1 I1 C1f R1 I1");
	child_fail(1, -5); /* the second within T: R + 1 */
	expect_seq(mark, "C1f R1 I1 C1f R1 I1 C1f E C2s C0s F");
	h_expect(PN_NOTIFY_ROOT_FAILED);
	h_finish();
}

/* A child supervisor that gives up fails to its parent, which restarts
 * it (and so its tree). */
static void test_sup_escalation_to_parent(void **state)
{
	static const struct pn_child_spec kids[] = {WORKER(0, 1)};
	static const struct pn_sup_spec fragile = {.name = "fragile",
						   .strategy = PN_ONE_FOR_ONE,
						   .intensity = 0,
						   .children = kids,
						   .nchildren = 1};
	static const struct pn_child_spec top[] = {{.id = "S", .sup = &fragile},
						   WORKER(1, 0)};
	static const struct pn_sup_spec spec = {.strategy = PN_ONE_FOR_ONE,
						.intensity = 5,
						.period_ns = 10 * H_SEC,
						.children = top,
						.nchildren = 2};
	unsigned mark;

	(void)state;
	start(&spec);
	expect_seq(0, "I0 I1");
	mark = log_mark();
	child_fail(0, -5);
	expect_seq(mark, "C0f E RS I0");
	assert_int_equal(sstats().escalations, 1);
	assert_int_equal(sstats().root_failures, 0);
	h_finish();
}

/* --- restart types ------------------------------------------------------ */

static bool name_gone(void *arg)
{
	return pn_name_lookup(h_rt, arg) == PN_PID_NONE;
}

static void test_sup_restart_types(void **state)
{
	static const struct pn_child_spec kids[] = {
		WORKER(0, 0),
		CHILD(1, 1, PN_RESTART_TRANSIENT, "t1", 0),
		CHILD(2, 0, PN_RESTART_TRANSIENT, NULL, 0),
		CHILD(3, 1, PN_RESTART_TEMPORARY, NULL, 0),
	};
	static const struct pn_sup_spec spec = {.strategy = PN_ONE_FOR_ONE,
						.intensity = 10,
						.period_ns = 10 * H_SEC,
						.children = kids,
						.nchildren = 4};
	unsigned mark;

	(void)state;
	start(&spec);
	expect_seq(0, "I0 I1 I2 I3");
	mark = log_mark();
	h_send(pid_of(0), W_STOP, NULL, 0); /* permanent: even normal */
	expect_seq(mark, "C0n R0 I0");
	h_send(pid_of(1), W_STOP, NULL, 0); /* transient, normal: gone */
	expect_seq(mark, "C0n R0 I0 C1n");
	assert_true(h_until(name_gone, (void *)"t1", H_WAIT));
	child_fail(2, -5); /* transient, failed: back */
	expect_seq(mark, "C0n R0 I0 C1n C2f R2 I2");
	child_fail(3, -5); /* temporary: reported, never back */
	expect_seq(mark, "C0n R0 I0 C1n C2f R2 I2 C3f X3");
	h_finish();
	expect_seq(mark, "C0n R0 I0 C1n C2f R2 I2 C3f X3 C2s C0s");
}

/* --- names, monitors ---------------------------------------------------- */

static void test_sup_names_survive_restarts(void **state)
{
	static const struct pn_child_spec kids[] = {
		CHILD(0, 1, PN_RESTART_PERMANENT, "svc", 0), WORKER(1, 0)};
	static const struct pn_sup_spec spec = {.strategy = PN_ONE_FOR_ONE,
						.intensity = 10,
						.period_ns = 10 * H_SEC,
						.children = kids,
						.nchildren = 2};
	struct pn_shutdown_report r;
	unsigned mark;
	pn_pid a, b;
	uint64_t last = 0;

	(void)state;
	start(&spec);
	expect_seq(0, "I0 I1");
	a = pid_of(0);
	assert_true(pn_name_lookup(h_rt, "svc") == a);
	assert_int_equal(pn_name_register(h_rt, "svc", a), -EEXIST);
	h_send(pn_name_lookup(h_rt, "svc"), W_PING, NULL, 0);
	h_send(pn_name_lookup(h_rt, "svc"), W_PING, NULL, 0);
	wait_pings(a, 2);
	mark = log_mark();
	child_fail(0, -5);
	expect_seq(mark, "C0f R0 I0");
	b = pid_of(0);
	assert_true(b != a);
	/* The name now names the new instance, with a fresh state. */
	assert_true(pn_name_lookup(h_rt, "svc") == b);
	h_send(pn_name_lookup(h_rt, "svc"), W_PING, NULL, 0);
	wait_pings(b, 1);
	assert_int_equal(pings_of(b, &last), 1);
	assert_int_equal(last, 1);
	/* Stopped for good, the child takes its name with it. */
	assert_int_equal(pn_runtime_shutdown(h_rt, H_WAIT, &r), 0);
	assert_string_equal(r.text, "");
	assert_true(pn_name_lookup(h_rt, "svc") == PN_PID_NONE);
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
}

static struct h_puppet P, S;

/* S's hook: on DATA, say so (90), then keep its shard busy 500 ms. */
static int busy_hook(struct pn_ctx *ctx, struct h_puppet *p,
		     const struct pn_msg *m)
{
	uint64_t end;

	(void)p;
	if (m->type != H_MSG_DATA)
		return H_DEFAULT;
	pn_runtime_notify(pn_ctx_runtime(ctx), 90);
	end = pn_now_ns() + 500 * H_MS;
	while (pn_now_ns() < end)
		;
	return 0;
}

/* P monitors @w; then a ping from P, after the monitor in P's order,
 * proves the monitor is in place before anything else reaches @w. */
static void monitor(pn_pid w, int code)
{
	uint64_t last;
	unsigned n = pings_of(w, &last);

	h_cmd(P.self, H_MONITOR, code, 0, w, 0);
	h_expect(code);
	h_cmd(P.self, H_SEND, 0, 0, w, 0);
	wait_pings(w, n + 1);
}

static struct pn_down next_down(unsigned k)
{
	h_expect(H_CODE(&P, H_EV_DOWN));
	return h_down(&P, h_find(&P, PN_MSG_DOWN, k));
}

static void test_sup_monitors_see_reasons(void **state)
{
	static const struct pn_child_spec kids[] = {
		CHILD(0, 1, PN_RESTART_PERMANENT, NULL, 50 * H_MS),
		WORKER(1, 0)};
	static const struct pn_sup_spec spec = {.strategy = PN_ONE_FOR_ALL,
						.intensity = 10,
						.period_ns = 10 * H_SEC,
						.children = kids,
						.nchildren = 2};
	struct pn_config c;
	struct pn_down d;
	unsigned mark;
	pn_pid sup, w;

	(void)state;
	config(&c);
	c.watchdog_ns = 5 * H_SEC; /* S's 500 ms is busy, not stuck */
	h_start(&c);
	assert_int_equal(pn_supervisor_start(h_rt, &spec, H_WAIT, &sup), 0);
	expect_seq(0, "I0 I1");
	h_puppet_init(&P, 1);
	P.notify_mask = H_BIT(H_EV_DOWN);
	h_puppet_spawn(&P, 0);
	/* A failure: FAILED with the detail. */
	w = pid_of(0);
	monitor(w, 50);
	mark = log_mark();
	child_fail(0, -42);
	d = next_down(0);
	assert_true(d.pid == w);
	assert_int_equal(d.reason, PN_REASON_FAILED);
	assert_int_equal(d.detail, -42);
	expect_seq(mark, "C0f R0 C1s I0 I1");
	/* Stopped by its supervisor for a sibling's failure: SHUTDOWN. */
	w = pid_of(0);
	monitor(w, 51);
	mark = log_mark();
	child_fail(1, -3);
	d = next_down(1);
	assert_true(d.pid == w);
	assert_int_equal(d.reason, PN_REASON_SHUTDOWN);
	assert_int_equal(d.detail, 0);
	expect_seq(mark, "C1f R1 C0s I0 I1");
	/* Its shard busy past its shutdown timeout: killed when reached,
	 * cleanup skipped (no C0), reported (K0). */
	w = pid_of(0);
	monitor(w, 52);
	h_puppet_init(&S, 2);
	S.hook = busy_hook;
	h_puppet_spawn(&S, 1);
	h_send(S.self, H_MSG_DATA, NULL, 0);
	h_expect(90);
	mark = log_mark();
	child_fail(1, -3);
	d = next_down(2);
	assert_true(d.pid == w);
	assert_int_equal(d.reason, PN_REASON_KILLED);
	assert_int_equal(d.detail, -ETIMEDOUT);
	expect_seq(mark, "C1f R1 K0 I0 I1");
	assert_int_equal(sstats().kills, 1);
	h_finish();
}

/* --- start failure, bad specs ------------------------------------------- */

static void test_sup_start_failure(void **state)
{
	static const struct pn_sup_spec spec = {.name = "app",
						.strategy = PN_ONE_FOR_ONE,
						.intensity = 5,
						.period_ns = H_SEC,
						.children = three,
						.nchildren = 3};
	struct pn_config c;
	pn_pid sup;
	int code;

	(void)state;
	atomic_store(&init_fail[1], -7);
	config(&c);
	h_start(&c);
	assert_int_equal(pn_supervisor_start(h_rt, &spec, H_WAIT, &sup),
			 -ECHILD);
	print_message("pn_last_error: %s\n", pn_last_error());
	assert_non_null(strstr(pn_last_error(), "\"1\" failed to start"));
	expect_seq(0, "I0 I1 C1i X1 E C0s F");
	/* The starter learnt it from the call: no notification. */
	assert_int_equal(pn_runtime_wait(h_rt, 100 * H_MS, &code), -ETIMEDOUT);
	h_finish();
}

static void test_sup_bad_specs(void **state)
{
	static const struct pn_behaviour nohandler = {.name = "x"};
	static const struct pn_sup_spec inner_ok = {.strategy = PN_ONE_FOR_ONE};
	static const struct pn_child_spec both[] = {
		{.b = &worker_b, .sup = &inner_ok}};
	static const struct pn_child_spec none[] = {{.id = "x"}};
	static const struct pn_child_spec noh[] = {{.b = &nohandler}};
	static const struct pn_child_spec badshard[] = {
		{.b = &worker_b, .shard = 7}};
	static const struct pn_child_spec longname[] = {
		{.b = &worker_b,
		 .name = "0123456789012345678901234567890123456789012345678901"
			 "23456789"}};
	const struct pn_sup_spec bad[] = {
		{.strategy = PN_ONE_FOR_ONE, .children = both, .nchildren = 1},
		{.strategy = PN_ONE_FOR_ONE, .children = none, .nchildren = 1},
		{.strategy = PN_ONE_FOR_ONE, .children = noh, .nchildren = 1},
		{.strategy = PN_ONE_FOR_ONE,
		 .children = badshard,
		 .nchildren = 1},
		{.strategy = PN_ONE_FOR_ONE,
		 .children = longname,
		 .nchildren = 1},
		{.strategy = PN_ONE_FOR_ONE, .intensity = 3}, /* no period */
		{.strategy = (enum pn_strategy)7},
		{.strategy = PN_ONE_FOR_ONE, .nchildren = 2}, /* no list */
	};
	struct pn_config c;
	pn_pid sup;

	(void)state;
	config(&c);
	h_start(&c);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err = pn_supervisor_start(h_rt, &bad[i], H_WAIT, &sup);

		if (err != -EINVAL)
			print_message("bad spec %u: %d\n", i, err);
		assert_int_equal(err, -EINVAL);
	}
	assert_int_equal(pn_supervisor_start(h_rt, NULL, 0, &sup), -EINVAL);
	/* An empty supervisor is fine. */
	assert_int_equal(pn_supervisor_start(h_rt, &inner_ok, H_WAIT, &sup), 0);
	h_finish();
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_sup_start_and_shutdown_order),
		T(test_sup_strategies),
		T(test_sup_intensity_escalates_at_r_plus_1),
		T(test_sup_intensity_window),
		T(test_sup_escalation_to_parent),
		T(test_sup_restart_types),
		T(test_sup_names_survive_restarts),
		T(test_sup_monitors_see_reasons),
		T(test_sup_start_failure),
		T(test_sup_bad_specs),
	};

	return cmocka_run_group_tests_name("supervisor", tests, NULL, NULL);
}
