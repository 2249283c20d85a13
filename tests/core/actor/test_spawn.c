// SPDX-License-Identifier: MIT
/*
 * Spawning (core/actor/actor.c, core/sched/producer.c): from a handler on its
 * own shard and on another, from outside (a named shard and round-robin), init
 * failures, spawn arguments, every invalid argument, -ENOSPC, the spawn flags,
 * and the ordering promise of pn_spawn(): a new PID's first message is
 * PN_MSG_STARTED and messages sent to it at once follow, in order, even when
 * they race the spawn to another shard.
 */
#include "harness.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

static struct h_puppet P, Q, C[8];

static int setup(void **state)
{
	(void)state;
	h_puppet_init(&P, 1);
	h_puppet_init(&Q, 2);
	for (int i = 0; i < 8; i++)
		h_puppet_init(&C[i], 10 + i);
	return 0;
}

/* --- where children go --------------------------------------------------- */

static void spawn_from_handler(int shard, unsigned want_shard)
{
	pn_pid parent, child;
	int codes[2] = {50, H_CODE(&C[0], H_EV_STARTED)};

	h_start(NULL);
	parent = h_puppet_spawn(&P, 0);
	C[0].notify_mask = H_BIT(H_EV_STARTED);
	h_cmd(parent, H_SPAWN, 50, shard, 0, (uintptr_t)&C[0]);
	h_expect_all(codes, 2);
	assert_int_equal(P.rc[0], 0);
	child = P.spawned;
	assert_true(child == C[0].self);
	assert_int_equal(pn_pid_shard(child), want_shard);
	assert_int_equal(C[0].shard, want_shard);
	h_finish();
	/* Its first message was STARTED, from the spawner. */
	assert_true(C[0].n >= 1);
	assert_int_equal(C[0].log[0].type, PN_MSG_STARTED);
	assert_true(C[0].log[0].from == parent);
}

static void test_spawn_local_from_handler(void **state)
{
	(void)state;
	spawn_from_handler(PN_SHARD_ANY, 0); /* any: the calling shard */
}

static void test_spawn_remote_from_handler(void **state)
{
	(void)state;
	spawn_from_handler(1, 1);
}

static void test_spawn_outside_named_shard(void **state)
{
	(void)state;
	h_start(NULL);
	for (int shard = 1; shard >= 0; shard--) {
		struct h_puppet *p = &C[shard];
		pn_pid pid = h_puppet_spawn(p, shard);

		assert_int_equal(pn_pid_shard(pid), shard);
		assert_int_equal(p->shard, shard);
	}
	h_finish();
	for (int i = 0; i < 2; i++) {
		assert_int_equal(C[i].log[0].type, PN_MSG_STARTED);
		assert_true(C[i].log[0].from == PN_PID_NONE);
	}
}

static void test_spawn_outside_any_round_robin(void **state)
{
	(void)state;
	h_start(NULL);
	for (int i = 0; i < 4; i++)
		h_puppet_spawn(&C[i], PN_SHARD_ANY);
	/* Four spawns over two shards: two each, alternating. */
	for (int i = 0; i < 4; i++)
		assert_int_equal(C[i].shard, (C[0].shard + i) % 2);
	h_finish();
}

/* The supervisor shard comes after the plan's shards. */
static void test_spawn_supervisor_shard(void **state)
{
	unsigned sup;
	pn_pid pid;

	(void)state;
	h_start(NULL);
	sup = pn_runtime_nshards(h_rt);
	pid = h_puppet_spawn(&C[0], PN_SHARD_SUPERVISOR);
	assert_int_equal(pn_pid_shard(pid), sup);
	assert_int_equal(C[0].shard, sup);
	/* From a handler too, and it answers like any other. */
	h_puppet_spawn(&P, 0);
	C[1].notify_mask = H_BIT(H_EV_STARTED);
	h_cmd(P.self, H_SPAWN, 50, PN_SHARD_SUPERVISOR, 0, (uintptr_t)&C[1]);
	h_expect(50);
	h_expect(H_CODE(&C[1], H_EV_STARTED));
	assert_int_equal(pn_pid_shard(P.spawned), sup);
	h_cmd(P.spawned, H_NOP, 51, 0, 0, 0);
	h_expect(51);
	h_finish();
}

/* --- init failures -------------------------------------------------------- */

static atomic_int failing_handled, failing_cleanups;

static int failing_init(struct pn_ctx *ctx, void *state, const void *arg,
			size_t len)
{
	(void)ctx, (void)state, (void)arg, (void)len;
	return -42;
}

static int failing_handle(struct pn_ctx *ctx, void *state,
			  const struct pn_msg *m)
{
	(void)ctx, (void)state, (void)m;
	atomic_fetch_add(&failing_handled, 1);
	return 0;
}

static void failing_cleanup(struct pn_ctx *ctx, void *state, int reason)
{
	(void)ctx, (void)state, (void)reason;
	atomic_fetch_add(&failing_cleanups, 1);
}

static const struct pn_behaviour failing_b = {
	.name = "failing",
	.state_size = 16,
	.init = failing_init,
	.handle = failing_handle,
	.cleanup = failing_cleanup,
};

/* On DATA v: spawn failing_b on shard v with a monitor. */
static int spawn_failing_hook(struct pn_ctx *ctx, struct h_puppet *p,
			      const struct pn_msg *m)
{
	struct pn_spawn_opts o = {.shard = (int)pn_msg_u64(m),
				  .flags = PN_SPAWN_MONITOR};

	if (m->type != H_MSG_DATA)
		return H_DEFAULT;
	if (p->nrc < H_RC_MAX)
		p->rc[p->nrc++] = pn_spawn(ctx, &failing_b, &o, &p->spawned);
	return 0;
}

static void test_spawn_init_failure_monitored(void **state)
{
	uint64_t shard;
	pn_pid parent;

	(void)state;
	atomic_store(&failing_handled, 0);
	h_start(NULL);
	P.hook = spawn_failing_hook;
	P.notify_mask = H_BIT(H_EV_DOWN);
	parent = h_puppet_spawn(&P, 0);
	for (shard = 0; shard < 2; shard++) {
		struct pn_down d;

		h_send(parent, H_MSG_DATA, &shard, sizeof(shard));
		h_expect(H_CODE(&P, H_EV_DOWN));
		assert_int_equal(P.rc[shard], 0); /* the spawn itself is fine */
		d = h_down(&P, h_find(&P, PN_MSG_DOWN, (unsigned)shard));
		assert_true(d.pid == P.spawned);
		assert_int_equal(pn_pid_shard(d.pid), shard);
		assert_int_equal(d.reason, PN_REASON_INIT);
		assert_int_equal(d.detail, -42);
	}
	h_finish();
	assert_int_equal(atomic_load(&failing_handled), 0);
}

static bool stopped_one(void *arg)
{
	(void)arg;
	return h_stats(1).stopped >= 1;
}

static bool dead_letter_one(void *arg)
{
	(void)arg;
	return h_stats(1).dead_letters >= 1;
}

static void test_spawn_init_failure_outside(void **state)
{
	struct pn_shard_stats st;
	pn_pid pid;

	(void)state;
	atomic_store(&failing_handled, 0);
	h_start(NULL);
	pid = h_spawn(&failing_b, 1, NULL, 0);
	assert_true(h_until(stopped_one, NULL, H_WAIT));
	st = h_stats(1);
	assert_int_equal(st.spawned, 1);
	assert_int_equal(st.stopped, 1);
	assert_int_equal(st.actors, 0);
	/* Its PID is dead: what is sent to it is a dead letter. */
	h_send(pid, H_MSG_DATA, NULL, 0);
	assert_true(h_until(dead_letter_one, NULL, H_WAIT));
	h_finish();
	assert_int_equal(atomic_load(&failing_handled), 0);
}

/* --- spawn arguments ---------------------------------------------------- */

#define ARGN 5
static struct {
	size_t len;
	uint32_t sum;
	int calls;
} arg_seen[ARGN];

/* The argument's first byte names the slot of arg_seen to fill. */
static int arg_init(struct pn_ctx *ctx, void *state, const void *arg,
		    size_t len)
{
	const unsigned char *a = arg;
	unsigned i = len ? a[0] : 0;

	(void)state;
	if (i >= ARGN)
		return -EINVAL;
	arg_seen[i].len = len;
	arg_seen[i].sum = h_sum(arg, len);
	arg_seen[i].calls++;
	pn_runtime_notify(pn_ctx_runtime(ctx), 700 + (int)i);
	return 0;
}

static int arg_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	(void)ctx, (void)state, (void)m;
	return 0;
}

static const struct pn_behaviour arg_b = {
	.name = "arg",
	.init = arg_init,
	.handle = arg_handle,
};

static unsigned char arg_buf[ARGN][PN_SPAWN_ARG_MAX];
static uint32_t arg_sum[ARGN];

static void arg_make(unsigned i, size_t len)
{
	h_fill(arg_buf[i], len, i);
	if (len)
		arg_buf[i][0] = (unsigned char)i;
	arg_sum[i] = h_sum(arg_buf[i], len);
}

/* On DATA (i, shard): spawn arg_b with arg_buf[i], then scribble on it. */
static int spawn_arg_hook(struct pn_ctx *ctx, struct h_puppet *p,
			  const struct pn_msg *m)
{
	unsigned i = (unsigned)pn_msg_u64(m) & 0xff;
	struct pn_spawn_opts o = {.shard = (int)(pn_msg_u64(m) >> 8),
				  .arg = arg_buf[i],
				  .arg_len = PN_SPAWN_ARG_MAX};
	pn_pid pid;

	if (m->type != H_MSG_DATA)
		return H_DEFAULT;
	if (p->nrc < H_RC_MAX)
		p->rc[p->nrc++] = pn_spawn(ctx, &arg_b, &o, &pid);
	memset(arg_buf[i] + 1, 0xee, PN_SPAWN_ARG_MAX - 1);
	pn_runtime_notify(pn_ctx_runtime(ctx), 710 + (int)i);
	return 0;
}

static void test_spawn_args_copied(void **state)
{
	struct pn_spawn_opts o = {.shard = 1};
	pn_pid parent, pid;

	(void)state;
	memset(arg_seen, 0, sizeof(arg_seen));
	for (unsigned i = 0; i < 3; i++)
		arg_make(i, PN_SPAWN_ARG_MAX);
	h_start(NULL);
	P.hook = spawn_arg_hook;
	parent = h_puppet_spawn(&P, 0);
	/* 0: same shard, 1: other shard, both from a handler. */
	for (uint64_t i = 0; i < 2; i++) {
		uint64_t v = i | (i << 8);

		int codes[2] = {700 + (int)i, 710 + (int)i};

		h_send(parent, H_MSG_DATA, &v, sizeof(v));
		h_expect_all(codes, 2);
		assert_int_equal(P.rc[i], 0);
	}
	/* 2: from outside, the largest argument. */
	o.arg = arg_buf[2];
	o.arg_len = PN_SPAWN_ARG_MAX;
	assert_int_equal(pn_runtime_spawn(h_rt, &arg_b, &o, &pid), 0);
	memset(arg_buf[2] + 1, 0xee, PN_SPAWN_ARG_MAX - 1);
	h_expect(702);
	/* 3: no argument at all. */
	o.arg = NULL;
	o.arg_len = 0;
	assert_int_equal(pn_runtime_spawn(h_rt, &arg_b, &o, &pid), 0);
	h_expect(700);
	h_finish();
	for (unsigned i = 1; i < 3; i++) {
		assert_int_equal(arg_seen[i].calls, 1);
		assert_int_equal(arg_seen[i].len, PN_SPAWN_ARG_MAX);
		assert_int_equal(arg_seen[i].sum, arg_sum[i]);
	}
	/* Slot 0 was filled by spawn 0 and then by the empty argument. */
	assert_int_equal(arg_seen[0].calls, 2);
	assert_int_equal(arg_seen[0].len, 0);
}

/* --- invalid spawns ------------------------------------------------------- */

static const struct pn_behaviour no_handler_b = {.name = "nohandler"};
static unsigned char big_arg[PN_SPAWN_ARG_MAX + 1];

struct bad_spawn {
	const char *what;
	const struct pn_behaviour *b;
	struct pn_spawn_opts o;
	bool outside_only; /* MONITOR/LINK are fine from a handler */
};

static const struct bad_spawn bad_spawns[] = {
	{"shard 2", &h_puppet_b, {.shard = 2}, false},
	{"shard -3", &h_puppet_b, {.shard = -3}, false},
	{"shard 1023", &h_puppet_b, {.shard = 1023}, false},
	{"no behaviour", NULL, {.shard = 0}, false},
	{"no handler", &no_handler_b, {.shard = 0}, false},
	{"unknown flag", &h_puppet_b, {.shard = 0, .flags = 0x80}, false},
	{"arg too big",
	 &h_puppet_b,
	 {.shard = 0, .arg = big_arg, .arg_len = PN_SPAWN_ARG_MAX + 1},
	 false},
	{"arg NULL", &h_puppet_b, {.shard = 0, .arg_len = 8}, false},
	{"monitor", &h_puppet_b, {.shard = 0, .flags = PN_SPAWN_MONITOR}, true},
	{"link", &h_puppet_b, {.shard = 0, .flags = PN_SPAWN_LINK}, true},
};
#define NBAD (sizeof(bad_spawns) / sizeof(bad_spawns[0]))

static void test_spawn_invalid_outside(void **state)
{
	struct pn_shard_stats a, b;

	(void)state;
	h_start(NULL);
	for (unsigned i = 0; i < NBAD; i++) {
		pn_pid pid = 0;
		int err = pn_runtime_spawn(h_rt, bad_spawns[i].b,
					   &bad_spawns[i].o, &pid);

		if (err != -EINVAL)
			print_message("%s: %d\n", bad_spawns[i].what, err);
		assert_int_equal(err, -EINVAL);
		assert_true(strlen(pn_last_error()) > 0);
	}
	/* Nothing was spawned and nothing else was lost: a good spawn and a
	 * message still go through. */
	a = h_stats(0);
	b = h_stats(1);
	assert_int_equal(a.spawned + b.spawned, 0);
	h_puppet_spawn(&P, 0);
	h_cmd(P.self, H_NOP, 51, 0, 0, 0);
	h_expect(51);
	h_finish();
}

/* On DATA: try every bad spawn from the handler; rc[i] gets each result. */
static int bad_spawn_hook(struct pn_ctx *ctx, struct h_puppet *p,
			  const struct pn_msg *m)
{
	if (m->type != H_MSG_DATA)
		return H_DEFAULT;
	for (unsigned i = 0; i < NBAD; i++) {
		pn_pid pid;

		if (bad_spawns[i].outside_only)
			continue;
		p->rc[p->nrc++] =
			pn_spawn(ctx, bad_spawns[i].b, &bad_spawns[i].o, &pid);
	}
	pn_runtime_notify(pn_ctx_runtime(ctx), 52);
	return 0;
}

static void test_spawn_invalid_from_handler(void **state)
{
	(void)state;
	h_start(NULL);
	P.hook = bad_spawn_hook;
	h_puppet_spawn(&P, 0);
	h_send(P.self, H_MSG_DATA, NULL, 0);
	h_expect(52);
	assert_true(P.nrc > 0);
	for (unsigned i = 0; i < P.nrc; i++)
		assert_int_equal(P.rc[i], -EINVAL);
	assert_int_equal(h_stats(0).spawned + h_stats(1).spawned, 1);
	h_finish();
}

/* --- running out of slots ----------------------------------------------- */

static void test_spawn_enospc(void **state)
{
	struct pn_config c;
	struct pn_spawn_opts o = {.shard = 0};
	pn_pid d, pid, first;

	(void)state;
	h_config(&c);
	c.max_actors = 3;
	h_start(&c);
	P.notify_mask = H_BIT(H_EV_DOWN);
	d = h_puppet_spawn(&P, 0); /* the first of shard 0's three slots */
	/* Local: two more fit, the third does not. */
	for (int i = 0; i < 3; i++)
		h_cmd(d, H_SPAWN, 60 + i, 0, 0, (uintptr_t)&C[i]);
	for (int i = 0; i < 3; i++)
		h_expect(60 + i);
	assert_int_equal(P.rc[0], 0);
	assert_int_equal(P.rc[1], 0);
	assert_int_equal(P.rc[2], -ENOSPC);
	assert_int_equal(pn_runtime_spawn(h_rt, &h_puppet_b, &o, &pid),
			 -ENOSPC);
	/* Remote: shard 1 has three free slots; the fourth spawn fails. */
	for (int i = 3; i < 7; i++)
		h_cmd(d, H_SPAWN, 60 + i, 1, 0, (uintptr_t)&C[i]);
	for (int i = 3; i < 7; i++)
		h_expect(60 + i);
	assert_int_equal(P.rc[3], 0);
	assert_int_equal(P.rc[4], 0);
	assert_int_equal(P.rc[5], 0);
	assert_int_equal(P.rc[6], -ENOSPC);
	/* A stopped actor's slot comes back, with a new generation. */
	first = C[0].self;
	h_cmd(d, H_MONITOR, 0, 0, first, 0);
	h_cmd(d, H_STOP, 0, 0, first, 0);
	h_expect(H_CODE(&P, H_EV_DOWN));
	h_cmd(d, H_SPAWN, 70, 0, 0, (uintptr_t)&C[7]);
	h_expect(70);
	assert_int_equal(P.rc[9], 0);
	assert_int_equal(pn_pid_slot(P.spawned), pn_pid_slot(first));
	assert_true(pn_pid_gen(P.spawned) != pn_pid_gen(first));
	h_finish();
}

/* --- STARTED first, then what was sent at once, in order ----------------- */

#define BURST 20

/* Check that @p got STARTED, DATA 0..BURST-1 in order, then a CMD (and,
 * after that, only what shutdown sends). */
static void assert_started_then_burst(const struct h_puppet *p)
{
	assert_int_equal(p->n, BURST + 4);
	if (p->log[0].type != PN_MSG_STARTED)
		print_message("first message: %#x\n", p->log[0].type);
	assert_int_equal(p->log[0].type, PN_MSG_STARTED);
	for (unsigned i = 0; i < BURST; i++) {
		uint64_t v;

		assert_int_equal(p->log[1 + i].type, H_MSG_DATA);
		memcpy(&v, p->log[1 + i].data, sizeof(v));
		assert_int_equal(v, i);
	}
	assert_int_equal(p->log[BURST + 1].type, H_MSG_CMD);
	assert_int_equal(p->log[BURST + 2].type, PN_MSG_SHUTDOWN);
	assert_int_equal(p->log[BURST + 3].type, PN_MSG_STOPPING);
}

/* On DATA: spawn C[0] on shard 1 and send it BURST messages at once. */
static int spawn_burst_hook(struct pn_ctx *ctx, struct h_puppet *p,
			    const struct pn_msg *m)
{
	struct h_puppet *child = &C[0];
	struct pn_spawn_opts o = {
		.shard = 1, .arg = &child, .arg_len = sizeof(child)};
	struct h_cmd done = {.op = H_NOP, .notify = 99};
	int err;

	if (m->type != H_MSG_DATA)
		return H_DEFAULT;
	err = pn_spawn(ctx, &h_puppet_b, &o, &p->spawned);
	for (uint64_t i = 0; i < BURST && !err; i++)
		err = pn_send_u64(ctx, p->spawned, H_MSG_DATA, i);
	if (!err)
		err = pn_send(ctx, p->spawned, H_MSG_CMD, &done, sizeof(done));
	p->rc[p->nrc++] = err;
	return 0;
}

static void test_spawn_remote_started_before_burst(void **state)
{
	(void)state;
	h_start(NULL);
	P.hook = spawn_burst_hook;
	h_puppet_spawn(&P, 0);
	h_send(P.self, H_MSG_DATA, NULL, 0);
	h_expect(99);
	h_finish();
	assert_int_equal(P.rc[0], 0);
	assert_started_then_burst(&C[0]);
}

static void test_spawn_outside_started_before_burst(void **state)
{
	pn_pid pid;

	(void)state;
	h_start(NULL);
	for (int round = 0; round < 4; round++) {
		struct h_puppet *p = &C[round];

		pid = h_spawn(&h_puppet_b, round % 2, &p, sizeof(p));
		for (uint64_t i = 0; i < BURST; i++)
			h_send(pid, H_MSG_DATA, &i, sizeof(i));
		h_cmd(pid, H_NOP, 99, 0, 0, 0);
		h_expect(99);
	}
	h_finish();
	for (int round = 0; round < 4; round++)
		assert_started_then_burst(&C[round]);
}

/* A puppet whose init sends a message to itself. */
static struct pn_behaviour selfsend_b;

static int selfsend_init(struct pn_ctx *ctx, void *state, const void *arg,
			 size_t len)
{
	int err = h_puppet_b.init(ctx, state, arg, len);

	if (!err)
		err = pn_send_u64(ctx, pn_self(ctx), H_MSG_DATA, 0);
	return err;
}

/* On DATA: spawn selfsend_b on this shard for C[1], then send it a CMD. */
static int spawn_selfsend_hook(struct pn_ctx *ctx, struct h_puppet *p,
			       const struct pn_msg *m)
{
	struct h_puppet *child = &C[1];
	struct pn_spawn_opts o = {
		.shard = PN_SHARD_ANY, .arg = &child, .arg_len = sizeof(child)};
	struct h_cmd done = {.op = H_NOP, .notify = 97};
	int err;

	if (m->type != H_MSG_DATA)
		return H_DEFAULT;
	err = pn_spawn(ctx, &selfsend_b, &o, &p->spawned);
	if (!err)
		err = pn_send(ctx, p->spawned, H_MSG_CMD, &done, sizeof(done));
	p->rc[p->nrc++] = err;
	return 0;
}

static void test_spawn_init_self_send_after_started(void **state)
{
	struct h_puppet *p = &C[0];

	(void)state;
	selfsend_b = h_puppet_b;
	selfsend_b.init = selfsend_init;
	h_start(NULL);
	/* From outside (the SPAWN message path)... */
	h_cmd(h_spawn(&selfsend_b, 1, &p, sizeof(p)), H_NOP, 98, 0, 0, 0);
	h_expect(98);
	/* ...and from a handler on the child's own shard. */
	P.hook = spawn_selfsend_hook;
	h_puppet_spawn(&P, 1);
	h_send(P.self, H_MSG_DATA, NULL, 0);
	h_expect(97);
	h_finish();
	assert_int_equal(P.rc[0], 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(C[i].n, 5); /* and SHUTDOWN, STOPPING */
		assert_int_equal(C[i].log[0].type, PN_MSG_STARTED);
		/* Two senders (itself, the test or parent): any order. */
		assert_int_equal(C[i].log[1].type + C[i].log[2].type,
				 H_MSG_DATA + H_MSG_CMD);
	}
}

/*
 * Messages that reach a PID's shard before its spawn does wait for it and
 * keep their order with what the same sender sends later. The spawner's
 * handler holds its shard (so the SPAWN stays unpublished in its ring)
 * until the test's first messages have reached the child's shard.
 */
static atomic_bool gate_open;

static int spawn_hold_hook(struct pn_ctx *ctx, struct h_puppet *p,
			   const struct pn_msg *m)
{
	struct h_puppet *child = &C[0];
	struct pn_spawn_opts o = {
		.shard = 1, .arg = &child, .arg_len = sizeof(child)};
	uint64_t end;

	if (m->type != H_MSG_DATA)
		return H_DEFAULT;
	p->rc[p->nrc++] = pn_spawn(ctx, &h_puppet_b, &o, &p->spawned);
	pn_runtime_notify(pn_ctx_runtime(ctx), 80);
	end = pn_now_ns() + H_WAIT;
	while (!atomic_load(&gate_open) && pn_now_ns() < end)
		;
	return 0;
}

static uint64_t ext_base;

static bool ext_arrived(void *arg)
{
	return h_stats(1).received_ext >= ext_base + *(unsigned *)arg;
}

static void test_spawn_early_messages_keep_order(void **state)
{
	unsigned n = BURST / 2;
	pn_pid child;

	(void)state;
	atomic_store(&gate_open, false);
	h_start(NULL);
	P.hook = spawn_hold_hook;
	h_puppet_spawn(&P, 0);
	ext_base = h_stats(1).received_ext;
	h_send(P.self, H_MSG_DATA, NULL, 0);
	h_expect(80);
	assert_int_equal(P.rc[0], 0);
	child = P.spawned;
	for (uint64_t i = 0; i < n; i++)
		h_send(child, H_MSG_DATA, &i, sizeof(i));
	/* Shard 1 has taken them in (the child does not exist there yet). */
	assert_true(h_until(ext_arrived, &n, H_WAIT));
	atomic_store(&gate_open, true);
	for (uint64_t i = n; i < BURST; i++)
		h_send(child, H_MSG_DATA, &i, sizeof(i));
	h_cmd(child, H_NOP, 99, 0, 0, 0);
	h_expect(99);
	h_finish();
	assert_started_then_burst(&C[0]);
}

/*
 * Runtime messages sent at once to a new remote PID (a monitor, a stop)
 * wait for it like any other: the child gets STARTED, then STOPPING; the
 * spawner gets DOWN with NORMAL, not NOPROC; nothing is a dead letter.
 */
static int spawn_monitor_stop_hook(struct pn_ctx *ctx, struct h_puppet *p,
				   const struct pn_msg *m)
{
	struct h_puppet *child = &C[0];
	struct pn_spawn_opts o = {
		.shard = 1, .arg = &child, .arg_len = sizeof(child)};
	int err;

	if (m->type != H_MSG_DATA)
		return H_DEFAULT;
	err = pn_spawn(ctx, &h_puppet_b, &o, &p->spawned);
	if (!err)
		err = pn_monitor(ctx, p->spawned);
	if (!err)
		err = pn_stop(ctx, p->spawned);
	p->rc[p->nrc++] = err;
	return 0;
}

static void test_spawn_monitor_and_stop_at_once(void **state)
{
	struct pn_down d;

	(void)state;
	h_start(NULL);
	P.hook = spawn_monitor_stop_hook;
	P.notify_mask = H_BIT(H_EV_DOWN);
	h_puppet_spawn(&P, 0);
	h_send(P.self, H_MSG_DATA, NULL, 0);
	h_expect(H_CODE(&P, H_EV_DOWN));
	assert_int_equal(P.rc[0], 0);
	d = h_down(&P, h_find(&P, PN_MSG_DOWN, 0));
	assert_true(d.pid == P.spawned);
	assert_int_equal(d.reason, PN_REASON_NORMAL);
	assert_int_equal(C[0].n, 2);
	assert_int_equal(C[0].log[0].type, PN_MSG_STARTED);
	assert_int_equal(C[0].log[1].type, PN_MSG_STOPPING);
	assert_int_equal(C[0].cleanup_reason, PN_REASON_NORMAL);
	assert_int_equal(h_stats(1).dead_letters, 0);
	h_finish();
}

/*
 * A child whose init makes a request: the reply may reach the child's
 * shard before its STARTED is dispatched (its parent has filled the local
 * queue first); it must still be delivered once, not dropped as late.
 */
static struct pn_behaviour asker_b;
static pn_pid asked;

static int asker_init(struct pn_ctx *ctx, void *state, const void *arg,
		      size_t len)
{
	int err = h_puppet_b.init(ctx, state, arg, len);
	uint64_t v = 5;

	if (!err)
		err = pn_request(ctx, asked, H_MSG_REQ, &v, sizeof(v),
				 5 * H_SEC, NULL);
	return err;
}

#define ASK_FILL 20000

static int spawn_asker_hook(struct pn_ctx *ctx, struct h_puppet *p,
			    const struct pn_msg *m)
{
	struct h_puppet *child = &C[0];
	struct pn_spawn_opts o = {
		.shard = PN_SHARD_ANY, .arg = &child, .arg_len = sizeof(child)};
	int err = 0;

	if (m->type != H_MSG_DATA || pn_msg_u64(m) != 1)
		return H_DEFAULT;
	for (uint64_t i = 0; i < ASK_FILL && !err; i++)
		err = pn_send_u64(ctx, p->self, H_MSG_DATA, 2);
	if (!err)
		err = pn_spawn(ctx, &asker_b, &o, &p->spawned);
	p->rc[p->nrc++] = err;
	return 0;
}

static void test_spawn_init_request_reply(void **state)
{
	int i;

	(void)state;
	asker_b = h_puppet_b;
	asker_b.init = asker_init;
	h_start(NULL);
	Q.auto_reply = true;
	asked = h_puppet_spawn(&Q, 1);
	P.hook = spawn_asker_hook;
	h_puppet_spawn(&P, 0);
	C[0].notify_mask = H_BIT(H_EV_REPLY);
	h_send(P.self, H_MSG_DATA, &(uint64_t){1}, sizeof(uint64_t));
	h_expect(H_CODE(&C[0], H_EV_REPLY));
	assert_int_equal(P.rc[0], 0);
	assert_int_equal(C[0].log[0].type, PN_MSG_STARTED);
	i = h_find(&C[0], H_MSG_REPLY, 0);
	assert_true(i > 0);
	assert_int_equal(C[0].log[i].data[0], 6);
	assert_int_equal(h_stats(0).late_replies, 0);
	h_finish();
	assert_int_equal(h_count(&C[0], H_MSG_REPLY), 1);
	assert_int_equal(h_count(&C[0], PN_MSG_TIMEOUT), 0);
}

/* --- spawn flags ---------------------------------------------------------- */

static void test_spawn_flag_monitor(void **state)
{
	struct pn_down d;

	(void)state;
	h_start(NULL);
	P.notify_mask = H_BIT(H_EV_DOWN);
	h_puppet_spawn(&P, 0);
	h_cmd(P.self, H_SPAWN, 50, 1, PN_SPAWN_MONITOR, (uintptr_t)&C[0]);
	h_expect(50);
	assert_int_equal(P.rc[0], 0);
	h_cmd(P.spawned, H_STOP, 0, 0, P.spawned, 0);
	h_expect(H_CODE(&P, H_EV_DOWN));
	d = h_down(&P, h_find(&P, PN_MSG_DOWN, 0));
	assert_true(d.pid == P.spawned);
	assert_int_equal(d.reason, PN_REASON_NORMAL);
	h_finish();
}

static void test_spawn_flag_link(void **state)
{
	(void)state;
	h_start(NULL);
	P.notify_mask = H_BIT(H_EV_CLEANUP);
	h_puppet_spawn(&P, 0);
	h_cmd(P.self, H_SPAWN, 50, 1, PN_SPAWN_LINK, (uintptr_t)&C[0]);
	h_expect(50);
	/* The child fails: its linked parent stops too. */
	h_cmd(P.spawned, H_RETURN, 0, -5, 0, 0);
	h_expect(H_CODE(&P, H_EV_CLEANUP));
	assert_int_equal(P.cleanup_reason, PN_REASON_LINKED);
	h_finish();
}

static void test_spawn_flag_trap(void **state)
{
	struct pn_down d;
	int i;

	(void)state;
	h_start(NULL);
	C[0].notify_mask = H_BIT(H_EV_EXIT);
	h_puppet_spawn(&P, 0);
	h_cmd(P.self, H_SPAWN, 50, 1, PN_SPAWN_LINK | PN_SPAWN_TRAP,
	      (uintptr_t)&C[0]);
	h_expect(50);
	/* The parent fails: the trapping child gets EXIT and lives on. */
	h_cmd(P.self, H_FAIL, 0, -6, 0, 0);
	h_expect(H_CODE(&C[0], H_EV_EXIT));
	h_cmd(C[0].self, H_NOP, 51, 0, 0, 0);
	h_expect(51);
	i = h_find(&C[0], PN_MSG_EXIT, 0);
	d = h_down(&C[0], i);
	assert_true(d.pid == P.self);
	assert_true(C[0].log[i].from == P.self);
	assert_int_equal(d.reason, PN_REASON_FAILED);
	assert_int_equal(d.detail, -6);
	assert_int_equal(C[0].cleanups, 0);
	h_finish();
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_spawn_local_from_handler),
		T(test_spawn_remote_from_handler),
		T(test_spawn_outside_named_shard),
		T(test_spawn_outside_any_round_robin),
		T(test_spawn_supervisor_shard),
		T(test_spawn_init_failure_monitored),
		T(test_spawn_init_failure_outside),
		T(test_spawn_args_copied),
		T(test_spawn_invalid_outside),
		T(test_spawn_invalid_from_handler),
		T(test_spawn_enospc),
		T(test_spawn_remote_started_before_burst),
		T(test_spawn_outside_started_before_burst),
		T(test_spawn_init_self_send_after_started),
		T(test_spawn_early_messages_keep_order),
		T(test_spawn_monitor_and_stop_at_once),
		T(test_spawn_init_request_reply),
		T(test_spawn_flag_monitor),
		T(test_spawn_flag_link),
		T(test_spawn_flag_trap),
	};

	return cmocka_run_group_tests_name("spawn", tests, NULL, NULL);
}
