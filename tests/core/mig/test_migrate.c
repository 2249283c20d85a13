// SPDX-License-Identifier: MIT
/*
 * Migration (core/mig/migrate.c, core/mig/pack.c): an actor moves between
 * shards by message and keeps its PID, its state, its monitors and links, its
 * name, its armed timers (same ids) and its outstanding requests; every error
 * is reported and leaves the actor running where it was.
 *
 * The actors here are driven by commands from the test thread (struct
 * cmd); each records what it saw in its struct rec (test-owned) and then
 * notifies id * 100 + event, so the test reads a record only after the
 * pn_runtime_wait() that returned its code (harness.h explains why that
 * orders the two).
 */
#include "harness.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define T_CMD  0x2000u
#define T_DATA 0x2001u
#define T_TICK 0x2002u
#define T_ONCE 0x2003u
#define T_REQ  0x2004u
#define T_REP  0x2005u

enum op {
	OP_MIGRATE,	/* rc = pn_migrate(a) */
	OP_MIGRATE2,	/* pn_migrate(a) twice: the second rc */
	OP_MIGRATE_PID, /* rc = pn_migrate_pid(pid, a) */
	OP_AFTER,	/* pn_send_after(v ns, T_ONCE) */
	OP_EVERY,	/* pn_send_every(v ns, T_TICK) */
	OP_CANCEL,	/* rc = pn_timer_cancel(the periodic) */
	OP_REQUEST,	/* pn_request(pid, T_REQ, timeout a ms) */
	OP_REPLY,	/* pn_reply() to the request held */
	OP_MONITOR,	/* pn_monitor(pid) */
	OP_LINK,	/* pn_link(pid), and trap exits */
	OP_STOP,	/* pn_stop(pid) */
	OP_FAIL,	/* fail (PN_REASON_FAILED) */
	OP_NAME_SEND,	/* pn_name_send("mig-a", T_DATA) */
	OP_SEND,	/* pn_send(pid, T_DATA) */
};

enum ev {
	E_RC = 1,
	E_MIGRATED,
	E_TICK,
	E_ONCE,
	E_REPLY,
	E_TIMEOUT,
	E_DOWN,
	E_EXIT,
	E_DATA,
	E_REQ,
	E_STARTED,
};

struct cmd {
	uint32_t op;
	int32_t a;
	pn_pid pid;
	uint64_t v;
};

/* Atomic where an event the test does not wait for (a timeout, a tick)
 * may write while the test reads. */
struct rec {
	int rc;
	_Atomic unsigned shard; /* where the last event happened */
	struct pn_migrated mig;
	struct pn_down down;
	unsigned datas;
	_Atomic uint64_t count; /* the actor's own counter, from its state */
};

static struct rec recs[8];
/* Ticks come while the test reads recs: they note their shard here. */
static _Atomic unsigned tick_shard[8];

struct st {
	int id;
	uint64_t count; /* moves with the state: checked after moves */
	uint64_t every;
	struct pn_msg req;
	bool has_req;
	char *heap; /* for the pack/unpack behaviour */
};

static void note(struct pn_ctx *ctx, struct st *s, int ev)
{
	recs[s->id].shard = pn_shard(ctx);
	recs[s->id].count = s->count;
	pn_runtime_notify(pn_ctx_runtime(ctx), s->id * 100 + ev);
}

static int run_cmd(struct pn_ctx *ctx, struct st *s, const struct cmd *c)
{
	struct rec *r = &recs[s->id];

	switch (c->op) {
	case OP_MIGRATE:
		return pn_migrate(ctx, (unsigned)c->a);
	case OP_MIGRATE2:
		pn_migrate(ctx, (unsigned)c->a);
		return pn_migrate(ctx, (unsigned)c->a);
	case OP_MIGRATE_PID:
		return pn_migrate_pid(ctx, c->pid, (unsigned)c->a);
	case OP_AFTER:
		return pn_send_after(ctx, c->v, T_ONCE, NULL, 0, NULL);
	case OP_EVERY:
		return pn_send_every(ctx, c->v, T_TICK, NULL, 0, &s->every);
	case OP_CANCEL:
		return pn_timer_cancel(ctx, s->every);
	case OP_REQUEST:
		return pn_request(ctx, c->pid, T_REQ, NULL, 0,
				  (uint64_t)c->a * H_MS, NULL);
	case OP_REPLY:
		s->has_req = false;
		return pn_reply(ctx, &s->req, T_REP, NULL, 0);
	case OP_MONITOR:
		return pn_monitor(ctx, c->pid);
	case OP_LINK:
		pn_trap_exit(ctx, true);
		return pn_link(ctx, c->pid);
	case OP_STOP:
		return pn_stop(ctx, c->pid);
	case OP_FAIL:
		pn_fail(ctx, -EIO);
		return 0;
	case OP_NAME_SEND:
		return pn_name_send(ctx, "mig-a", T_DATA, NULL, 0);
	case OP_SEND:
		return pn_send(ctx, c->pid, T_DATA, NULL, 0);
	}
	(void)r;
	return -EINVAL;
}

static int t_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct st *s = state;
	struct rec *r = &recs[s->id];
	struct cmd c;

	s->count++;
	switch (m->type) {
	case PN_MSG_STARTED:
		note(ctx, s, E_STARTED);
		return 0;
	case T_CMD:
		memcpy(&c, pn_msg_data(m), sizeof(c));
		r->rc = run_cmd(ctx, s, &c);
		note(ctx, s, E_RC);
		return 0;
	case PN_MSG_MIGRATED:
		memcpy(&r->mig, pn_msg_data(m), sizeof(r->mig));
		note(ctx, s, E_MIGRATED);
		return 0;
	case T_TICK:
		atomic_store_explicit(&tick_shard[s->id], pn_shard(ctx),
				      memory_order_relaxed);
		pn_runtime_notify(pn_ctx_runtime(ctx), s->id * 100 + E_TICK);
		return 0;
	case T_ONCE:
		note(ctx, s, E_ONCE);
		return 0;
	case T_DATA:
		r->datas++;
		note(ctx, s, E_DATA);
		return 0;
	case T_REQ:
		s->req = *m;
		s->has_req = true;
		note(ctx, s, E_REQ);
		return 0;
	case T_REP:
		note(ctx, s, E_REPLY);
		return 0;
	case PN_MSG_TIMEOUT:
		note(ctx, s, E_TIMEOUT);
		return 0;
	case PN_MSG_DOWN:
	case PN_MSG_EXIT:
		memcpy(&r->down, pn_msg_data(m), sizeof(r->down));
		note(ctx, s, m->type == PN_MSG_DOWN ? E_DOWN : E_EXIT);
		return 0;
	default:
		return 0;
	}
}

static int t_init(struct pn_ctx *ctx, void *state, const void *arg, size_t len)
{
	struct st *s = state;

	memcpy(&s->id, arg, sizeof(s->id));
	(void)len;
	/* An actor moves once it has started. */
	recs[s->id].rc = pn_migrate(ctx, 1);
	return 0;
}

static const struct pn_behaviour t_b = {
	.name = "mig-test",
	.state_size = sizeof(struct st),
	.init = t_init,
	.handle = t_handle,
};

/* The same with pack/unpack: the state owns a heap string. */
static long t_pack(struct pn_ctx *ctx, void *state, void *buf, size_t size)
{
	struct st *s = state;
	size_t n = strlen(s->heap) + 1;

	(void)ctx;
	if (s->count == 1000) /* the test's "refuse" switch */
		return -EIO;
	if (s->count == 2000) /* the test's "too big" switch */
		return (long)size + 1;
	if (sizeof(*s) + n > size)
		return -EMSGSIZE;
	memcpy(buf, s, sizeof(*s));
	memcpy((char *)buf + sizeof(*s), s->heap, n);
	free(s->heap);
	s->heap = NULL;
	return (long)(sizeof(*s) + n);
}

static int t_unpack(struct pn_ctx *ctx, void *state, const void *buf,
		    size_t len)
{
	struct st *s = state;

	(void)ctx;
	memcpy(s, buf, sizeof(*s));
	s->heap = strdup((const char *)buf + sizeof(*s));
	return len > sizeof(*s) && s->heap ? 0 : -ENOMEM;
}

static int tp_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct st *s = state;

	if (m->type == PN_MSG_STARTED && !s->heap)
		s->heap = strdup("moved with care");
	if (m->type == T_DATA && strcmp(s->heap, "moved with care"))
		return -EPROTO;
	return t_handle(ctx, state, m);
}

static void tp_cleanup(struct pn_ctx *ctx, void *state, int reason)
{
	(void)ctx;
	(void)reason;
	free(((struct st *)state)->heap);
}

static const struct pn_behaviour tp_b = {
	.name = "mig-test-pack",
	.state_size = sizeof(struct st),
	.init = t_init,
	.handle = tp_handle,
	.cleanup = tp_cleanup,
	.pack = t_pack,
	.unpack = t_unpack,
	.pack_max = sizeof(struct st) + 64,
};

/* --- helpers ------------------------------------------------------------ */

/* h_expect(), letting a periodic timer's ticks pass. */
static void expect(int code)
{
	int got;

	while ((got = h_wait()) % 100 == E_TICK && got != code)
		;
	assert_int_equal(got, code);
}

static bool late_is_one(void *arg)
{
	(void)arg;
	return h_stats(0).late_replies + h_stats(1).late_replies == 1;
}

static bool dead_letter_seen(void *arg)
{
	(void)arg;
	return h_stats(0).dead_letters + h_stats(1).dead_letters >= 1;
}

static pn_pid spawn_on(const struct pn_behaviour *b, int id, int shard)
{
	pn_pid pid;

	memset(&recs[id], 0, sizeof(recs[id]));
	pid = h_spawn(b, shard, &id, sizeof(id));
	h_expect(id * 100 + E_STARTED);
	assert_int_equal(recs[id].shard, (unsigned)shard);
	return pid;
}

static int cmd(pn_pid to, int id, uint32_t op, int32_t a, pn_pid pid,
	       uint64_t v)
{
	struct cmd c = {.op = op, .a = a, .pid = pid, .v = v};

	h_send(to, T_CMD, &c, sizeof(c));
	expect(id * 100 + E_RC);
	return recs[id].rc;
}

/* Move @id to @shard by its own pn_migrate() and wait for MIGRATED. */
static void move(pn_pid p, int id, int shard)
{
	unsigned from = recs[id].shard;

	assert_int_equal(cmd(p, id, OP_MIGRATE, shard, 0, 0), 0);
	expect(id * 100 + E_MIGRATED);
	assert_int_equal(recs[id].mig.status, 0);
	assert_int_equal(recs[id].mig.from, from);
	assert_int_equal(recs[id].mig.to, (unsigned)shard);
	assert_int_equal(recs[id].shard, (unsigned)shard);
}

/* Where pn_where() says @p lives (asserting it answers). */
static unsigned where(pn_pid p)
{
	unsigned s = 99;

	assert_int_equal(pn_where(h_rt, p, &s), 0);
	return s;
}

/* A fresh actor placed PN_PLACE_NEAR @p: its shard. */
static unsigned near_of(pn_pid p)
{
	struct pn_spawn_opts o = {.placement = PN_PLACE_NEAR, .near = p};
	pn_pid pid = 0;

	assert_int_equal(pn_runtime_spawn(h_rt, &h_idle_b, &o, &pid), 0);
	return pn_pid_shard(pid);
}

static bool where_says_gone(void *arg)
{
	unsigned s;

	return pn_where(h_rt, *(pn_pid *)arg, &s) == -ESRCH;
}

/* --- tests --------------------------------------------------------------- */

/* Home -> 1 -> supervisor shard -> 1 -> home: the PID works throughout,
 * the state travels, init could not move it. */
static void test_migrate_round_trip(void **state)
{
	struct pn_config c;
	pn_pid a;
	uint64_t before;

	(void)state;
	h_config(&c);
	c.migrate_supervisor = true;
	h_start(&c);
	a = spawn_on(&t_b, 1, 0);
	assert_int_equal(recs[1].rc, -EINVAL); /* pn_migrate() in init */
	before = recs[1].count;
	assert_int_equal(where(a), 0);
	move(a, 1, 1);
	assert_true(recs[1].count > before); /* the counter came along */
	/* pn_where() follows it, and so does PN_PLACE_NEAR. */
	assert_int_equal(where(a), 1);
	assert_int_equal(near_of(a), 1);
	h_send(a, T_DATA, NULL, 0);
	h_expect(100 + E_DATA);
	assert_int_equal(recs[1].shard, 1);
	move(a, 1, 2); /* the supervisor shard, allowed here */
	assert_int_equal(where(a), 2);
	move(a, 1, 1); /* guest to guest: through the home's handshake */
	assert_int_equal(where(a), 1);
	move(a, 1, 0); /* home again */
	assert_int_equal(where(a), 0);
	assert_int_equal(near_of(a), 0);
	h_send(a, T_DATA, NULL, 0);
	h_expect(100 + E_DATA);
	assert_int_equal(recs[1].shard, 0);
	assert_int_equal(recs[1].datas, 2);
	/* To where it is: nothing happens, no MIGRATED. */
	assert_int_equal(cmd(a, 1, OP_MIGRATE, 0, 0, 0), 0);
	h_send(a, T_DATA, NULL, 0);
	h_expect(100 + E_DATA);
	h_finish();
}

static void test_migrate_errors(void **state)
{
	pn_pid a, b;

	(void)state;
	h_start(NULL);
	a = spawn_on(&t_b, 1, 0);
	b = spawn_on(&t_b, 2, 1);
	/* pn_migrate() from init was refused (not started yet); the record
	 * of it was cleared by spawn_on, so check with a fresh actor's
	 * init in test_migrate_init_refused. */
	assert_int_equal(cmd(a, 1, OP_MIGRATE, 7, 0, 0), -EINVAL);
	assert_int_equal(cmd(a, 1, OP_MIGRATE, 2, 0, 0), -EPERM);
	assert_int_equal(cmd(a, 1, OP_MIGRATE2, 1, 0, 0), -EBUSY);
	h_expect(100 + E_MIGRATED); /* the first one went ahead */
	assert_int_equal(recs[1].mig.to, 1);
	assert_int_equal(cmd(b, 2, OP_MIGRATE_PID, 5, a, 0), -EINVAL);
	assert_int_equal(cmd(b, 2, OP_MIGRATE_PID, 0, 0, 0), -EINVAL);
	assert_int_equal(cmd(b, 2, OP_MIGRATE_PID, 2, a, 0), -EPERM);
	assert_int_equal(pn_runtime_migrate(h_rt, a, 9), -EINVAL);
	assert_int_equal(pn_runtime_migrate(h_rt, 0, 1), -EINVAL);
	/* pn_where() on what is no actor's PID. */
	{
		unsigned s;

		assert_int_equal(pn_where(h_rt, PN_PID_NONE, &s), -EINVAL);
		assert_int_equal(pn_where(h_rt, pn_pid_make(9, 1, 1), &s),
				 -EINVAL);
		assert_int_equal(pn_where(h_rt, pn_pid_make(0, 1, 0), &s),
				 -EINVAL);
		assert_int_equal(pn_where(h_rt, a + 1, &s), -ESRCH);
	}
	/* Still where it went, still working. */
	h_send(a, T_DATA, NULL, 0);
	h_expect(100 + E_DATA);
	assert_int_equal(recs[1].shard, 1);
	h_finish();
}

static int init_rc;

static int ti_init(struct pn_ctx *ctx, void *state, const void *arg, size_t len)
{
	(void)state;
	(void)arg;
	(void)len;
	init_rc = pn_migrate(ctx, 1);
	return 0;
}

static int ti_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	(void)state;
	if (m->type == PN_MSG_STARTED)
		pn_runtime_notify(pn_ctx_runtime(ctx),
				  900 + (int)pn_shard(ctx));
	return 0;
}

static void test_migrate_init_refused(void **state)
{
	static const struct pn_behaviour ti_b = {
		.name = "mig-init", .init = ti_init, .handle = ti_handle};

	(void)state;
	h_start(NULL);
	h_spawn(&ti_b, 0, NULL, 0);
	h_expect(900); /* started, on shard 0 */
	assert_int_equal(init_rc, -EINVAL);
	h_finish();
}

/* Moved by others: another actor's pn_migrate_pid(), and from outside. */
static void test_migrate_by_request(void **state)
{
	pn_pid a, b;

	(void)state;
	h_start(NULL);
	a = spawn_on(&t_b, 1, 0);
	b = spawn_on(&t_b, 2, 1);
	assert_int_equal(cmd(b, 2, OP_MIGRATE_PID, 1, a, 0), 0);
	h_expect(100 + E_MIGRATED);
	assert_int_equal(recs[1].shard, 1);
	assert_int_equal(pn_runtime_migrate(h_rt, a, 0), 0);
	h_expect(100 + E_MIGRATED);
	assert_int_equal(recs[1].shard, 0);
	assert_int_equal(recs[1].mig.from, 1);
	h_finish();
}

/* pack/unpack: a heap-owning state moves; a refusing or oversized pack
 * leaves the actor where it is, told by MIGRATED with the error. */
static void test_migrate_pack(void **state)
{
	pn_pid a;

	(void)state;
	h_start(NULL);
	a = spawn_on(&tp_b, 1, 0);
	move(a, 1, 1);
	h_send(a, T_DATA, NULL, 0); /* fails unless the string came along */
	h_expect(100 + E_DATA);
	move(a, 1, 0);
	h_finish();
}

static int tr_count = 1000;

static int tr_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct st *s = state;

	if (m->type == PN_MSG_STARTED)
		s->heap = strdup("moved with care");
	if (m->type == T_CMD)
		s->count = (uint64_t)tr_count - 1; /* t_handle adds one */
	return t_handle(ctx, state, m);
}

static void test_migrate_pack_errors(void **state)
{
	static const struct pn_behaviour tr_b = {
		.name = "mig-test-refuse",
		.state_size = sizeof(struct st),
		.init = t_init,
		.handle = tr_handle,
		.cleanup = tp_cleanup,
		.pack = t_pack,
		.unpack = t_unpack,
		.pack_max = sizeof(struct st) + 64,
	};
	pn_pid a;

	(void)state;
	h_start(NULL);
	a = spawn_on(&tr_b, 1, 0);
	tr_count = 1000; /* pack refuses */
	assert_int_equal(cmd(a, 1, OP_MIGRATE, 1, 0, 0), 0);
	h_expect(100 + E_MIGRATED);
	assert_int_equal(recs[1].mig.status, -EIO);
	assert_int_equal(recs[1].shard, 0);
	tr_count = 2000; /* pack writes more than pack_max */
	assert_int_equal(cmd(a, 1, OP_MIGRATE, 1, 0, 0), 0);
	h_expect(100 + E_MIGRATED);
	assert_int_equal(recs[1].mig.status, -EMSGSIZE);
	assert_int_equal(recs[1].shard, 0);
	h_send(a, T_DATA, NULL, 0);
	h_expect(100 + E_DATA);
	assert_int_equal(recs[1].shard, 0);
	h_finish();
}

/* Monitors and links travel both ways: the moved actor's watchers learn
 * of its stop, and what it watches still tells it. */
static void test_migrate_monitors_links(void **state)
{
	pn_pid a, w, l, x;

	(void)state;
	h_start(NULL);
	a = spawn_on(&t_b, 1, 0);
	w = spawn_on(&t_b, 2, 1);
	l = spawn_on(&t_b, 3, 0);
	x = spawn_on(&t_b, 4, 1);
	assert_int_equal(cmd(w, 2, OP_MONITOR, 0, a, 0), 0); /* w watches a */
	assert_int_equal(cmd(l, 3, OP_LINK, 0, a, 0), 0);    /* l <-> a */
	assert_int_equal(cmd(a, 1, OP_MONITOR, 0, x, 0), 0); /* a watches x */
	move(a, 1, 1);
	move(a, 1, 0);
	move(a, 1, 1);
	/* x stops: a, now on shard 1, gets DOWN. */
	assert_int_equal(cmd(w, 2, OP_STOP, 0, x, 0), 0);
	h_expect(100 + E_DOWN);
	assert_int_equal(recs[1].down.pid, x);
	assert_int_equal(recs[1].shard, 1);
	/* a fails where it is: w gets DOWN, l (trapping) gets EXIT. */
	h_send(a, T_CMD, &(struct cmd){.op = OP_FAIL}, sizeof(struct cmd));
	{
		int codes[] = {100 + E_RC, 200 + E_DOWN, 300 + E_EXIT};

		h_expect_all(codes, 3);
	}
	assert_int_equal(recs[2].down.pid, a);
	assert_int_equal(recs[2].down.reason, PN_REASON_FAILED);
	assert_int_equal(recs[3].down.pid, a);
	/* Its home freed the slot: a monitor now gets NOPROC at once. */
	assert_int_equal(cmd(w, 2, OP_MONITOR, 0, a, 0), 0);
	h_expect(200 + E_DOWN);
	assert_int_equal(recs[2].down.reason, PN_REASON_NOPROC);
	h_finish();
}

static void test_migrate_name(void **state)
{
	pn_pid a, b;

	(void)state;
	h_start(NULL);
	a = spawn_on(&t_b, 1, 0);
	b = spawn_on(&t_b, 2, 0);
	assert_int_equal(pn_name_register(h_rt, "mig-a", a), 0);
	move(a, 1, 1);
	assert_int_equal(cmd(b, 2, OP_NAME_SEND, 0, 0, 0), 0);
	h_expect(100 + E_DATA);
	assert_int_equal(recs[1].shard, 1);
	assert_int_equal(pn_name_lookup(h_rt, "mig-a"), a);
	h_finish();
}

/* Timers armed before a move fire where the actor is; the periodic one
 * keeps its id: cancelled after the move, it stops. */
static void test_migrate_timers(void **state)
{
	pn_pid a;

	(void)state;
	h_start(NULL);
	a = spawn_on(&t_b, 1, 0);
	assert_int_equal(cmd(a, 1, OP_AFTER, 0, 0, 100 * H_MS), 0);
	assert_int_equal(cmd(a, 1, OP_EVERY, 0, 0, 20 * H_MS), 0);
	move(a, 1, 1);
	for (;;) { /* ticks on shard 1, then the one-shot there */
		int code = h_wait();

		if (code == 100 + E_ONCE) {
			assert_int_equal(recs[1].shard, 1);
			break;
		}
		assert_int_equal(code, 100 + E_TICK);
		assert_int_equal(atomic_load(&tick_shard[1]), 1);
	}
	move(a, 1, 0);
	while (h_wait() != 100 + E_TICK || atomic_load(&tick_shard[1]) != 0)
		; /* still ticking, at home now (and not in flight before) */
	move(a, 1, 1);
	/* Ticks may be on their way; cancel, then no more after a check. */
	h_send(a, T_CMD, &(struct cmd){.op = OP_CANCEL}, sizeof(struct cmd));
	for (int code; (code = h_wait()) != 100 + E_RC;)
		assert_int_equal(code, 100 + E_TICK);
	assert_int_equal(recs[1].rc, 0);
	assert_int_equal(cmd(a, 1, OP_AFTER, 0, 0, 60 * H_MS), 0);
	h_expect(100 + E_ONCE); /* and no tick before it */
	assert_int_equal(cmd(a, 1, OP_CANCEL, 0, 0, 0), -ENOENT);
	h_finish();
}

/* A request made before a move gets its reply after it; a request whose
 * server never answers times out on the new shard. */
static void test_migrate_requests(void **state)
{
	struct pn_shard_stats st0, st1;
	pn_pid a, srv;

	(void)state;
	h_start(NULL);
	a = spawn_on(&t_b, 1, 0);
	srv = spawn_on(&t_b, 2, 0);
	assert_int_equal(cmd(a, 1, OP_REQUEST, 10000, srv, 0), 0);
	h_expect(200 + E_REQ);
	move(a, 1, 1);
	assert_int_equal(cmd(srv, 2, OP_REPLY, 0, 0, 0), 0);
	h_expect(100 + E_REPLY);
	assert_int_equal(recs[1].shard, 1);
	/* Times out after a move (and twice over: home and back). */
	assert_int_equal(cmd(a, 1, OP_REQUEST, 150, srv, 0), 0);
	h_expect(200 + E_REQ);
	move(a, 1, 0);
	move(a, 1, 1);
	h_expect(100 + E_TIMEOUT);
	assert_int_equal(recs[1].shard, 1);
	/* The late reply is dropped and counted, not delivered. */
	assert_int_equal(cmd(srv, 2, OP_REPLY, 0, 0, 0), 0);
	assert_true(h_until(late_is_one, NULL, H_WAIT));
	assert_int_equal(cmd(a, 1, OP_SEND, 0, srv, 0), 0);
	h_expect(200 + E_DATA); /* and no reply reached a */
	st0 = h_stats(0);
	st1 = h_stats(1);
	assert_int_equal(st0.late_replies + st1.late_replies, 1);
	h_finish();
}

/* Stopped by another actor after a move: its home frees the slot, so a
 * message to it is a dead letter, or refused once its home (b's shard)
 * knows. */
static void test_migrate_stop_after_move(void **state)
{
	pn_pid a, b;
	int rc;

	(void)state;
	h_start(NULL);
	a = spawn_on(&t_b, 1, 0);
	b = spawn_on(&t_b, 2, 0);
	move(a, 1, 1);
	assert_int_equal(cmd(b, 2, OP_MONITOR, 0, a, 0), 0);
	assert_int_equal(cmd(b, 2, OP_STOP, 0, a, 0), 0);
	h_expect(200 + E_DOWN);
	assert_int_equal(recs[2].down.reason, PN_REASON_NORMAL);
	/* Its home or its last shard finds it gone: a dead letter; or, if
	 * its home (b's shard) has freed the slot already, refused. */
	rc = cmd(b, 2, OP_SEND, 0, a, 0);
	assert_true(rc == 0 || rc == -ESRCH);
	if (rc == 0)
		assert_true(h_until(dead_letter_seen, NULL, H_WAIT));
	/* Its home frees the slot once the stop is reported there... */
	assert_true(h_until(where_says_gone, &a, H_WAIT));
	/* ...and from then on a send from its home shard is refused. */
	assert_int_equal(cmd(b, 2, OP_SEND, 0, a, 0), -ESRCH);
	h_finish();
}

int main(void)
{
#define T(f) cmocka_unit_test_teardown(f, h_teardown)
	const struct CMUnitTest tests[] = {
		T(test_migrate_round_trip),
		T(test_migrate_errors),
		T(test_migrate_init_refused),
		T(test_migrate_by_request),
		T(test_migrate_pack),
		T(test_migrate_pack_errors),
		T(test_migrate_monitors_links),
		T(test_migrate_name),
		T(test_migrate_timers),
		T(test_migrate_requests),
		T(test_migrate_stop_after_move),
	};

	return cmocka_run_group_tests_name("migrate", tests, NULL, NULL);
}
