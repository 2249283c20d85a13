// SPDX-License-Identifier: MIT
/*
 * Dynamic supervision (core/sup/dynamic.c, calls.c), told by the log of
 * sup_log.h like test_supervisor. They prove: start_child, terminate_child,
 * delete_child and which_children from outside, each error (unknown id,
 * duplicate id or name, a spec or an argument to the wrong kind of
 * supervisor, terminate of a stopped child, delete of a running one, an
 * init that fails: not kept, no restart counted); that dynamic children
 * follow the strategies (one_for_all and rest_for_one restart them with
 * the others, in order; a terminated child stays out of group restarts)
 * and stop in reverse order at shutdown; simple_one_for_one (children
 * only by start_child with the template's argument and the extra one,
 * per-child restarts, restart types, terminate by PID removes, intensity
 * over all children); the handler form from an application shard and
 * from the supervisor shard (answers carry the ref; a dead supervisor and
 * an actor that is none answer -ESRCH); the external form's own errors
 * (a shard thread, a bad PID, a timeout that still takes effect); and
 * concurrent callers, two threads and a handler, on one simple
 * supervisor (TSan).
 */
#include "sup_log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static struct pn_child_info info[16];

/* which_children from outside, asserting success; the count. */
static unsigned which(pn_pid sup)
{
	unsigned count = 99;

	memset(info, 0xee, sizeof(info));
	assert_int_equal(pn_supervisor_which_children(h_rt, sup, info, 16,
						      &count, H_WAIT),
			 0);
	return count;
}

/* h_until(): supervisor @sup has @n children (a cleanup is logged before
 * the supervisor hears of the stop). */
struct sup_n {
	pn_pid sup;
	unsigned n;
};

static bool children_are(void *arg)
{
	const struct sup_n *a = arg;

	return which(a->sup) == a->n;
}

static pn_pid start_dyn(pn_pid sup, const struct pn_child_spec *spec)
{
	pn_pid pid = 1;
	int err = pn_supervisor_start_child(h_rt, sup, spec, NULL, 0, H_WAIT,
					    &pid);

	if (err)
		print_message("start_child: %d %s\n", err, pn_last_error());
	assert_int_equal(err, 0);
	assert_true(pid != PN_PID_NONE);
	return pid;
}

static pn_pid start_simple(pn_pid sup, int id)
{
	pn_pid pid = 1;
	int err = pn_supervisor_start_child(h_rt, sup, NULL, &ids[id],
					    sizeof(int), H_WAIT, &pid);

	if (err)
		print_message("start_child: %d %s\n", err, pn_last_error());
	assert_int_equal(err, 0);
	return pid;
}

static int terminate(pn_pid sup, const char *id)
{
	return pn_supervisor_terminate_child(h_rt, sup, id, PN_PID_NONE,
					     H_WAIT);
}

static void assert_info(unsigned i, const char *id, int status, pn_pid pid)
{
	if (strcmp(info[i].id, id) || info[i].status != status ||
	    info[i].pid != pid)
		print_message("child %u: \"%s\" status %d pid %#llx\n", i,
			      info[i].id, info[i].status,
			      (unsigned long long)info[i].pid);
	assert_string_equal(info[i].id, id);
	assert_int_equal(info[i].status, status);
	assert_true(info[i].pid == pid);
}

/* --- start, terminate, delete, which: one_for_one ------------------------ */

static const struct pn_child_spec inner_kids[] = {WORKER(4, 1)};
static const struct pn_sup_spec inner = {.name = "inner",
					 .strategy = PN_ONE_FOR_ONE,
					 .children = inner_kids,
					 .nchildren = 1};

static void test_dyn_calls_and_errors(void **state)
{
	static const struct pn_child_spec kids[] = {WORKER(0, 0)};
	static const struct pn_sup_spec spec = {.name = "root",
						.strategy = PN_ONE_FOR_ONE,
						.intensity = 10,
						.period_ns = 60 * H_SEC,
						.children = kids,
						.nchildren = 1};
	const struct pn_child_spec one =
		CHILD(1, 1, PN_RESTART_PERMANENT, "dyn1", 0);
	const struct pn_child_spec two =
		CHILD(2, 0, PN_RESTART_PERMANENT, NULL, 0);
	const struct pn_child_spec named =
		CHILD(3, 1, PN_RESTART_PERMANENT, "taken", 0);
	const struct pn_child_spec sup_child = {.id = "S", .sup = &inner};
	pn_pid sup, p1, p1b, p = 7;
	unsigned mark, count;

	(void)state;
	sup = start(&spec);
	expect_seq(0, "I0");
	mark = log_mark();
	/* Start: up when it returns; its name is bound. */
	p1 = start_dyn(sup, &one);
	expect_seq(mark, "I1");
	assert_true(p1 == pid_of(1));
	assert_true(pn_name_lookup(h_rt, "dyn1") == p1);
	assert_int_equal(which(sup), 2);
	assert_info(0, "0", PN_CHILD_RUNNING, pid_of(0));
	assert_info(1, "1", PN_CHILD_RUNNING, p1);
	assert_int_equal(info[1].supervisor, 0);
	/* which with less room: the count, and only what fits. */
	memset(info, 0xee, sizeof(info));
	assert_int_equal(pn_supervisor_which_children(h_rt, sup, info, 1,
						      &count, H_WAIT),
			 0);
	assert_int_equal(count, 2);
	assert_info(0, "0", PN_CHILD_RUNNING, pid_of(0));
	assert_int_equal((unsigned char)info[1].id[0], 0xee);
	/* Errors: the same id again; a name that is taken; an argument to a
	 * supervisor that is not simple_one_for_one; both a spec and an
	 * argument; an init that fails (not kept, no restart counted). */
	assert_int_equal(
		pn_supervisor_start_child(h_rt, sup, &one, NULL, 0, H_WAIT, &p),
		-EEXIST);
	assert_non_null(strstr(pn_last_error(), "has a child \"1\""));
	assert_true(p == PN_PID_NONE);
	assert_int_equal(pn_name_register(h_rt, "taken", p1), 0);
	assert_int_equal(pn_supervisor_start_child(h_rt, sup, &named, NULL, 0,
						   H_WAIT, &p),
			 -EEXIST);
	assert_non_null(strstr(pn_last_error(), "taken"));
	/* The child spawned for it runs its init, then is killed unseen,
	 * its cleanup skipped (as for a spec's own child): no C3. */
	expect_seq(mark, "I1 I3");
	assert_int_equal(pn_supervisor_start_child(h_rt, sup, NULL, &ids[2],
						   sizeof(int), H_WAIT, &p),
			 -EINVAL);
	assert_non_null(strstr(pn_last_error(), "not simple_one_for_one"));
	assert_int_equal(pn_supervisor_start_child(h_rt, sup, &two, &ids[2],
						   sizeof(int), H_WAIT, &p),
			 -EINVAL);
	atomic_store(&init_fail[2], -7);
	assert_int_equal(
		pn_supervisor_start_child(h_rt, sup, &two, NULL, 0, H_WAIT, &p),
		-ECHILD);
	assert_non_null(strstr(pn_last_error(), "failed to start"));
	atomic_store(&init_fail[2], 0);
	assert_int_equal(which(sup), 2);
	assert_int_equal(sstats().restarts, 0);
	/* A dynamic child restarts as the strategy says (one_for_one). */
	child_fail(1, -5);
	expect_seq(mark, "I1 I3 I2 C2i X2 C1f R1 I1");
	p1b = pid_of(1);
	assert_true(p1b != p1);
	assert_true(pn_name_lookup(h_rt, "dyn1") == p1b);
	/* Terminate: stopped, kept, its name gone; not twice. */
	assert_int_equal(terminate(sup, "1"), 0);
	expect_seq(mark, "I1 I3 I2 C2i X2 C1f R1 I1 C1s");
	assert_true(pn_name_lookup(h_rt, "dyn1") == PN_PID_NONE);
	assert_int_equal(which(sup), 2);
	assert_info(1, "1", PN_CHILD_STOPPED, PN_PID_NONE);
	assert_int_equal(terminate(sup, "1"), -EALREADY);
	assert_int_equal(terminate(sup, "nobody"), -ENOENT);
	assert_int_equal(pn_supervisor_terminate_child(h_rt, sup, NULL,
						       pn_pid_make(0, 999, 1),
						       H_WAIT),
			 -ENOENT);
	/* Delete: not while running; then gone; not twice. */
	assert_int_equal(pn_supervisor_delete_child(h_rt, sup, "0", H_WAIT),
			 -EBUSY);
	assert_int_equal(pn_supervisor_delete_child(h_rt, sup, "1", H_WAIT), 0);
	assert_int_equal(pn_supervisor_delete_child(h_rt, sup, "1", H_WAIT),
			 -ENOENT);
	assert_int_equal(which(sup), 1);
	/* The id is free again; a child supervisor, by PID too. */
	p = start_dyn(sup, &one);
	start_dyn(sup, &sup_child);
	expect_seq(mark, "I1 I3 I2 C2i X2 C1f R1 I1 C1s I1 I4");
	assert_int_equal(which(sup), 3);
	assert_info(2, "S", PN_CHILD_RUNNING, info[2].pid);
	assert_int_equal(info[2].supervisor, 1);
	assert_int_equal(
		pn_supervisor_terminate_child(h_rt, sup, NULL, p, H_WAIT), 0);
	expect_seq(mark, "I1 I3 I2 C2i X2 C1f R1 I1 C1s I1 I4 C1s");
	/* Static and dynamic children stop in reverse start order. */
	mark = log_mark();
	h_finish();
	expect_seq(mark, "C4s C0s");
}

/* --- the strategies with dynamic children --------------------------------
 */

static void group_run(enum pn_strategy st, const char *after_fail0,
		      const char *after_fail1)
{
	static const struct pn_child_spec kids[] = {WORKER(0, 0), WORKER(1, 1)};
	const struct pn_sup_spec spec = {.strategy = st,
					 .intensity = 10,
					 .period_ns = 60 * H_SEC,
					 .children = kids,
					 .nchildren = 2};
	const struct pn_child_spec two = WORKER(2, 0);
	char want[256];
	unsigned mark;
	pn_pid sup;

	setup(NULL);
	sup = start(&spec);
	expect_seq(0, "I0 I1");
	start_dyn(sup, &two);
	mark = log_mark();
	child_fail(1, -5);
	snprintf(want, sizeof(want), "%s", after_fail1);
	expect_seq(mark, want);
	child_fail(0, -5);
	snprintf(want + strlen(want), sizeof(want) - strlen(want), " %s",
		 after_fail0);
	expect_seq(mark, want);
	h_finish();
}

static void test_dyn_strategies(void **state)
{
	static const struct pn_child_spec kids[] = {WORKER(0, 0), WORKER(1, 1)};
	static const struct pn_sup_spec all = {.strategy = PN_ONE_FOR_ALL,
					       .intensity = 10,
					       .period_ns = 60 * H_SEC,
					       .children = kids,
					       .nchildren = 2};
	const struct pn_child_spec two = WORKER(2, 0);
	unsigned mark;
	pn_pid sup;

	(void)state;
	/* The dynamic child is last: stopped first, started last. */
	group_run(PN_ONE_FOR_ALL, "C0f R0 C2s C1s I0 I1 I2",
		  "C1f R1 C2s C0s I0 I1 I2");
	group_run(PN_REST_FOR_ONE, "C0f R0 C2s C1s I0 I1 I2",
		  "C1f R1 C2s I1 I2");
	/* A terminated child stays out of group restarts. */
	setup(NULL);
	sup = start(&all);
	expect_seq(0, "I0 I1");
	start_dyn(sup, &two);
	assert_int_equal(terminate(sup, "1"), 0);
	mark = log_mark();
	child_fail(0, -5);
	expect_seq(mark, "C0f R0 C2s I0 I2");
	assert_int_equal(which(sup), 3);
	assert_info(1, "1", PN_CHILD_STOPPED, PN_PID_NONE);
	h_finish();
}

/* --- simple_one_for_one ------------------------------------------------ */

static char cat_arg[16];
static size_t cat_len;

static int cat_init(struct pn_ctx *ctx, void *state, const void *arg,
		    size_t len)
{
	(void)ctx, (void)state;
	cat_len = len < sizeof(cat_arg) ? len : sizeof(cat_arg);
	memcpy(cat_arg, arg, cat_len);
	return 0;
}

static int cat_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	(void)ctx, (void)state, (void)m;
	return 0;
}

static const struct pn_behaviour cat_b = {
	.name = "cat", .init = cat_init, .handle = cat_handle};

static void test_dyn_simple_one_for_one(void **state)
{
	static const struct pn_child_spec tmpl[] = {
		{.id = "*",
		 .b = &worker_b,
		 .shard = PN_SHARD_ANY,
		 .restart = PN_RESTART_TRANSIENT}};
	static const struct pn_sup_spec spec = {.name = "pool",
						.strategy =
							PN_SIMPLE_ONE_FOR_ONE,
						.intensity = 3,
						.period_ns = 60 * H_SEC,
						.children = tmpl,
						.nchildren = 1};
	static const struct pn_child_spec cat_tmpl[] = {
		{.b = &cat_b, .arg = "ab", .arg_len = 2, .shard = 1}};
	static const struct pn_sup_spec cat = {.strategy =
						       PN_SIMPLE_ONE_FOR_ONE,
					       .children = cat_tmpl,
					       .nchildren = 1};
	const struct pn_child_spec w = WORKER(9, 0);
	pn_pid sup, csup, p5, p6, p7, p = 7;
	unsigned mark;

	(void)state;
	sup = start(&spec);
	/* No child until start_child. */
	assert_int_equal(which(sup), 0);
	p5 = start_simple(sup, 5);
	p6 = start_simple(sup, 6);
	p7 = start_simple(sup, 7);
	expect_seq(0, "I5 I6 I7");
	assert_true(p5 == pid_of(5) && p6 == pid_of(6) && p7 == pid_of(7));
	assert_int_equal(which(sup), 3);
	assert_info(0, "", PN_CHILD_RUNNING, p5);
	assert_info(2, "", PN_CHILD_RUNNING, p7);
	/* Errors: a spec; delete; terminate by id or of one not there. */
	assert_int_equal(
		pn_supervisor_start_child(h_rt, sup, &w, NULL, 0, H_WAIT, &p),
		-EINVAL);
	assert_non_null(strstr(pn_last_error(), "not a child spec"));
	assert_int_equal(pn_supervisor_delete_child(h_rt, sup, "5", H_WAIT),
			 -EINVAL);
	assert_int_equal(terminate(sup, "5"), -ENOENT);
	/* Restarts are per child; the PID changes, the others keep theirs. */
	mark = log_mark();
	child_fail(6, -5);
	expect_seq(mark, "C6f R6 I6");
	assert_true(pid_of(6) != p6 && pid_of(5) == p5 && pid_of(7) == p7);
	p6 = pid_of(6);
	/* Terminate by PID: stopped and removed; again: unknown. */
	assert_int_equal(
		pn_supervisor_terminate_child(h_rt, sup, NULL, p5, H_WAIT), 0);
	expect_seq(mark, "C6f R6 I6 C5s");
	assert_int_equal(
		pn_supervisor_terminate_child(h_rt, sup, NULL, p5, H_WAIT),
		-ENOENT);
	assert_int_equal(which(sup), 2);
	assert_info(0, "", PN_CHILD_RUNNING, p6);
	/* Transient: a normal stop removes it, no restart. */
	h_send(p7, W_STOP, NULL, 0);
	expect_seq(mark, "C6f R6 I6 C5s C7n");
	assert_true(h_until(children_are, &(struct sup_n){sup, 1}, H_WAIT));
	/* Intensity over all children: 3 restarts, then the 4th failure
	 * (of different children) gives up and stops the rest. */
	start_simple(sup, 10);
	start_simple(sup, 11);
	child_fail(10, -5);
	expect_seq(mark, "C6f R6 I6 C5s C7n I10 I11 C10f R10 I10");
	child_fail(11, -5);
	expect_seq(mark, "C6f R6 I6 C5s C7n I10 I11 C10f R10 I10 C11f R11 "
			 "I11");
	child_fail(6, -5);
	expect_seq(mark, "C6f R6 I6 C5s C7n I10 I11 C10f R10 I10 C11f R11 "
			 "I11 C6f E C11s C10s F");
	h_expect(PN_NOTIFY_ROOT_FAILED);
	assert_int_equal(sstats().restarts, 3);
	/* The template's argument, then the extra one. */
	assert_int_equal(pn_supervisor_start(h_rt, &cat, H_WAIT, &csup), 0);
	assert_true(pn_supervisor_start_child(h_rt, csup, NULL, "cd", 2, H_WAIT,
					      &p) == 0);
	assert_int_equal(cat_len, 4);
	assert_memory_equal(cat_arg, "abcd", 4);
	h_finish();
}

/* A temporary template: whatever way it ends, a child is not restarted
 * and goes; a bad template is refused at start. */
static void test_dyn_simple_restart_types(void **state)
{
	static const struct pn_child_spec tmpl[] = {
		{.id = "*", .b = &worker_b, .restart = PN_RESTART_TEMPORARY}};
	static const struct pn_sup_spec spec = {.strategy =
							PN_SIMPLE_ONE_FOR_ONE,
						.intensity = 1,
						.period_ns = 60 * H_SEC,
						.children = tmpl,
						.nchildren = 1};
	static const struct pn_child_spec named[] = {
		{.b = &worker_b, .name = "one"}};
	static const struct pn_child_spec two[] = {{.b = &worker_b},
						   {.b = &worker_b}};
	const struct pn_sup_spec bad[] = {
		{.strategy = PN_SIMPLE_ONE_FOR_ONE},
		{.strategy = PN_SIMPLE_ONE_FOR_ONE,
		 .children = named,
		 .nchildren = 1},
		{.strategy = PN_SIMPLE_ONE_FOR_ONE,
		 .children = two,
		 .nchildren = 2},
		{.strategy = PN_SIMPLE_ONE_FOR_ONE,
		 .children = (const struct pn_child_spec[]){{.sup = &inner}},
		 .nchildren = 1},
	};
	unsigned mark;
	pn_pid sup, p;

	(void)state;
	sup = start(&spec);
	start_simple(sup, 1);
	start_simple(sup, 2);
	start_simple(sup, 3);
	mark = log_mark();
	child_fail(1, -5);
	expect_seq(mark, "C1f X1");
	h_send(pid_of(2), W_STOP, NULL, 0);
	expect_seq(mark, "C1f X1 C2n");
	assert_true(h_until(children_are, &(struct sup_n){sup, 1}, H_WAIT));
	assert_info(0, "", PN_CHILD_RUNNING, pid_of(3));
	assert_int_equal(sstats().restarts, 0);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pn_supervisor_start(h_rt, &bad[i], H_WAIT, &p),
				 -EINVAL);
	h_finish();
}

/* --- the handler form -------------------------------------------------- */

#define CC_CMD 0x4001u

struct ccmd {
	int op; /* enum pn_sup_op */
	pn_pid sup, pid;
	const struct pn_child_spec *spec;
	int extra; /* simple: the worker id, -1: none */
	char id[16];
	unsigned cap;
};

static int cc_rc;
static uint64_t cc_ref;
static struct pn_sup_reply cc_rep;
static struct pn_child_info cc_info[8];
static pn_pid cc_from;

static int cc_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	(void)state;
	if (m->type == CC_CMD) {
		struct ccmd c;
		const char *id;

		memcpy(&c, pn_msg_data(m), sizeof(c));
		id = c.id[0] ? c.id : NULL;
		switch (c.op) {
		case PN_SUP_START_CHILD:
			cc_rc = pn_sup_start_child(
				ctx, c.sup, c.spec,
				c.extra >= 0 ? &ids[c.extra] : NULL,
				c.extra >= 0 ? sizeof(int) : 0, &cc_ref);
			break;
		case PN_SUP_TERMINATE_CHILD:
			cc_rc = pn_sup_terminate_child(ctx, c.sup, id, c.pid,
						       &cc_ref);
			break;
		case PN_SUP_DELETE_CHILD:
			cc_rc = pn_sup_delete_child(ctx, c.sup, id, &cc_ref);
			break;
		case PN_SUP_WHICH_CHILDREN:
			cc_rc = pn_sup_which_children(ctx, c.sup, c.cap,
						      &cc_ref);
			break;
		default: /* the external form, from a shard thread */
			cc_rc = pn_supervisor_start_child(
				pn_ctx_runtime(ctx), c.sup, NULL, &ids[1],
				sizeof(int), H_WAIT, &c.pid);
		}
		pn_runtime_notify(pn_ctx_runtime(ctx), 70);
		return 0;
	}
	if (m->type == PN_MSG_SUP_REPLY) {
		const struct pn_sup_reply *r = pn_msg_data(m);
		unsigned n = r->n < 8 ? r->n : 8;

		cc_rep = *r;
		memcpy(cc_info, r + 1, n * sizeof(cc_info[0]));
		cc_from = m->from;
		pn_runtime_notify(pn_ctx_runtime(ctx), 71);
	}
	return 0;
}

static const struct pn_behaviour cc_b = {.name = "caller", .handle = cc_handle};

/* Have caller @cc issue @c; its immediate result (0: then the answer is
 * in cc_rep, for that ref). */
static int cc_call(pn_pid cc, struct ccmd c)
{
	memset(&cc_rep, 0, sizeof(cc_rep)); /* before: it may come at once */
	h_send(cc, CC_CMD, &c, sizeof(c));
	h_expect(70);
	if (cc_rc)
		return cc_rc;
	h_expect(71);
	assert_true(cc_rep.ref == cc_ref);
	assert_int_equal(cc_rep.op, c.op);
	return 0;
}

static const struct pn_child_spec fragile_kids[] = {WORKER(8, 0)};
static const struct pn_sup_spec fragile = {.name = "fragile",
					   .strategy = PN_ONE_FOR_ONE,
					   .children = fragile_kids,
					   .nchildren = 1};

static bool sup_gone(void *arg)
{
	unsigned n;

	return pn_supervisor_which_children(h_rt, *(pn_pid *)arg, NULL, 0, &n,
					    H_WAIT) == -ESRCH;
}

static void test_dyn_handler_calls(void **state)
{
	static const struct pn_child_spec tmpl[] = {
		{.id = "*", .b = &worker_b, .shard = 1}};
	static const struct pn_sup_spec spec = {.strategy =
							PN_SIMPLE_ONE_FOR_ONE,
						.intensity = 5,
						.period_ns = 60 * H_SEC,
						.children = tmpl,
						.nchildren = 1};
	static const struct pn_child_spec w = WORKER(9, 0);
	pn_pid sup, sup2, cc[2], other;
	unsigned n;

	(void)state;
	sup = start(&spec);
	cc[0] = h_spawn(&cc_b, 0, NULL, 0);
	cc[1] = h_spawn(&cc_b, PN_SHARD_SUPERVISOR, NULL, 0);
	for (int k = 0; k < 2; k++) {
		pn_pid p;

		/* start: the reply carries the new PID. */
		assert_int_equal(
			cc_call(cc[k], (struct ccmd){.op = PN_SUP_START_CHILD,
						     .sup = sup,
						     .extra = 5 + k}),
			0);
		assert_int_equal(cc_rep.err, 0);
		assert_true(cc_from == sup);
		p = cc_rep.pid;
		assert_true(p == pid_of(5 + k));
		/* which: the entries follow the header. */
		assert_int_equal(
			cc_call(cc[k],
				(struct ccmd){.op = PN_SUP_WHICH_CHILDREN,
					      .sup = sup,
					      .cap = 8}),
			0);
		assert_int_equal(cc_rep.count, (unsigned)k + 1);
		assert_int_equal(cc_rep.n, (unsigned)k + 1);
		assert_true(cc_info[k].pid == p);
		assert_int_equal(cc_info[k].status, PN_CHILD_RUNNING);
		/* errors come in the reply, with their sentence. */
		assert_int_equal(
			cc_call(cc[k], (struct ccmd){.op = PN_SUP_START_CHILD,
						     .sup = sup,
						     .spec = &w,
						     .extra = -1}),
			0);
		assert_int_equal(cc_rep.err, -EINVAL);
		assert_non_null(strstr(cc_rep.error, "not a child spec"));
		assert_int_equal(
			cc_call(cc[k], (struct ccmd){.op = PN_SUP_DELETE_CHILD,
						     .sup = sup,
						     .id = "x"}),
			0);
		assert_int_equal(cc_rep.err, -EINVAL);
	}
	/* terminate by PID from the supervisor shard. */
	assert_int_equal(
		cc_call(cc[1], (struct ccmd){.op = PN_SUP_TERMINATE_CHILD,
					     .sup = sup,
					     .pid = pid_of(5)}),
		0);
	assert_int_equal(cc_rep.err, 0);
	expect_seq(0, "I5 I6 C5s");
	assert_int_equal(
		cc_call(cc[0], (struct ccmd){.op = PN_SUP_TERMINATE_CHILD,
					     .sup = sup,
					     .pid = pid_of(5)}),
		0);
	assert_int_equal(cc_rep.err, -ENOENT);
	/* Refused at once: no id nor PID; a PID off the supervisor shard;
	 * the external form from a shard thread. */
	assert_int_equal(
		cc_call(cc[0], (struct ccmd){.op = PN_SUP_TERMINATE_CHILD,
					     .sup = sup}),
		-EINVAL);
	assert_int_equal(
		cc_call(cc[0], (struct ccmd){.op = PN_SUP_WHICH_CHILDREN,
					     .sup = cc[0]}),
		-EINVAL);
	assert_int_equal(cc_call(cc[0], (struct ccmd){.op = 99, .sup = sup}),
			 -EPERM);
	/* No supervisor there: one that gave up, an actor that is none;
	 * from both shards, in both forms. */
	assert_int_equal(pn_supervisor_start(h_rt, &fragile, H_WAIT, &sup2), 0);
	child_fail(8, -5);
	h_expect(PN_NOTIFY_ROOT_FAILED);
	assert_true(h_until(sup_gone, &sup2, H_WAIT));
	other = h_spawn(&cc_b, PN_SHARD_SUPERVISOR, NULL, 0);
	for (int k = 0; k < 4; k++) {
		pn_pid to = k % 2 ? other : sup2;

		assert_int_equal(cc_call(cc[k / 2],
					 (struct ccmd){.op = PN_SUP_START_CHILD,
						       .sup = to,
						       .spec = &w,
						       .extra = -1}),
				 0);
		assert_int_equal(cc_rep.err, -ESRCH);
		assert_non_null(strstr(cc_rep.error, "is no supervisor"));
		assert_int_equal(pn_supervisor_which_children(h_rt, to, NULL, 0,
							      &n, H_WAIT),
				 -ESRCH);
	}
	h_finish();
}

/* --- the external form's own errors ------------------------------------ */

static atomic_int slow_ms;

static int slow_init(struct pn_ctx *ctx, void *state, const void *arg,
		     size_t len)
{
	uint64_t end = pn_now_ns() + (uint64_t)atomic_load(&slow_ms) * H_MS;

	(void)ctx, (void)state, (void)arg, (void)len;
	while (pn_now_ns() < end)
		;
	return 0;
}

static const struct pn_behaviour slow_b = {
	.name = "slow", .init = slow_init, .handle = cat_handle};

static bool first_running(void *arg)
{
	return which(*(pn_pid *)arg) == 1 && info[0].status == PN_CHILD_RUNNING;
}

static void test_dyn_external_errors(void **state)
{
	static const struct pn_child_spec tmpl[] = {{.b = &slow_b, .shard = 0}};
	static const struct pn_sup_spec spec = {.strategy =
							PN_SIMPLE_ONE_FOR_ONE,
						.children = tmpl,
						.nchildren = 1};
	struct pn_shutdown_report r;
	unsigned n = 5;
	pn_pid sup, p = 7;

	(void)state;
	sup = start(&spec);
	/* A PID off the supervisor shard, or none; NULL arguments. */
	assert_int_equal(pn_supervisor_which_children(h_rt,
						      pn_pid_make(0, 1, 1),
						      NULL, 0, &n, H_WAIT),
			 -EINVAL);
	assert_int_equal(
		pn_supervisor_delete_child(h_rt, PN_PID_NONE, "x", H_WAIT),
		-EINVAL);
	assert_int_equal(pn_supervisor_start_child(h_rt, sup, NULL, NULL, 0,
						   H_WAIT, NULL),
			 -EINVAL);
	assert_int_equal(
		pn_supervisor_which_children(h_rt, sup, NULL, 3, &n, H_WAIT),
		-EINVAL);
	assert_int_equal(pn_supervisor_delete_child(h_rt, sup, NULL, H_WAIT),
			 -EINVAL);
	/* Too slow an answer: -ETIMEDOUT, and the request still happens. */
	atomic_store(&slow_ms, 300);
	assert_int_equal(pn_supervisor_start_child(h_rt, sup, NULL, NULL, 0,
						   20 * H_MS, &p),
			 -ETIMEDOUT);
	assert_true(p == PN_PID_NONE);
	assert_non_null(strstr(pn_last_error(), "did not answer"));
	atomic_store(&slow_ms, 0);
	assert_int_equal(which(sup), 1);
	assert_true(info[0].status == PN_CHILD_STARTING ||
		    info[0].status == PN_CHILD_RUNNING);
	assert_true(h_until(first_running, &sup, H_WAIT));
	/* Once shutdown has begun: -ESHUTDOWN. */
	assert_int_equal(pn_runtime_shutdown(h_rt, H_WAIT, &r), 0);
	assert_int_equal(
		pn_supervisor_which_children(h_rt, sup, NULL, 0, &n, H_WAIT),
		-ESHUTDOWN);
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
}

/* --- concurrent callers (TSan) ----------------------------------------- */

#define RACE_N 40

struct racer {
	pn_pid sup;
	int base; /* worker ids base .. base + 9, reused */
	unsigned started, stopped;
};

/* Start a child, terminate it by PID, RACE_N times; every answer must
 * be 0 and every start must give a PID that which_children knows. */
static void *race(void *arg)
{
	struct racer *rc = arg;

	for (unsigned i = 0; i < RACE_N; i++) {
		pn_pid p = PN_PID_NONE;
		int id = rc->base + (int)(i % 10);

		if (pn_supervisor_start_child(h_rt, rc->sup, NULL, &ids[id],
					      sizeof(int), H_WAIT, &p) == 0)
			rc->started++;
		if (i % 2 == 0 && pn_supervisor_terminate_child(
					  h_rt, rc->sup, NULL, p, H_WAIT) == 0)
			rc->stopped++;
	}
	return NULL;
}

static void test_dyn_concurrent_callers(void **state)
{
	static const struct pn_child_spec tmpl[] = {
		{.id = "*", .b = &worker_b, .shard = PN_SHARD_ANY}};
	static const struct pn_sup_spec spec = {.strategy =
							PN_SIMPLE_ONE_FOR_ONE,
						.children = tmpl,
						.nchildren = 1};
	struct racer rc[2];
	pthread_t t[2];
	pn_pid sup, cc;
	unsigned count, from_handler = 0;

	(void)state;
	sup = start(&spec);
	cc = h_spawn(&cc_b, 1, NULL, 0);
	for (int k = 0; k < 2; k++) {
		rc[k] = (struct racer){.sup = sup, .base = 10 + 10 * k};
		assert_int_equal(pthread_create(&t[k], NULL, race, &rc[k]), 0);
	}
	/* Meanwhile a handler starts its own. */
	for (int i = 0; i < 10; i++) {
		assert_int_equal(
			cc_call(cc, (struct ccmd){.op = PN_SUP_START_CHILD,
						  .sup = sup,
						  .extra = 30 + i}),
			0);
		from_handler += cc_rep.err == 0;
	}
	for (int k = 0; k < 2; k++)
		pthread_join(t[k], NULL);
	assert_int_equal(rc[0].started, RACE_N);
	assert_int_equal(rc[1].started, RACE_N);
	assert_int_equal(rc[0].stopped, RACE_N / 2);
	assert_int_equal(from_handler, 10);
	count = which(sup);
	assert_int_equal(count, 2 * (RACE_N - RACE_N / 2) + 10);
	for (unsigned i = 0; i < 16 && i < count; i++)
		assert_int_equal(info[i].status, PN_CHILD_RUNNING);
	h_finish();
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_dyn_calls_and_errors),
		T(test_dyn_strategies),
		T(test_dyn_simple_one_for_one),
		T(test_dyn_simple_restart_types),
		T(test_dyn_handler_calls),
		T(test_dyn_external_errors),
		T(test_dyn_concurrent_callers),
	};

	return cmocka_run_group_tests_name("dynamic", tests, NULL, NULL);
}
