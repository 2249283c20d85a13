// SPDX-License-Identifier: MIT
/*
 * spawn: a parent spawns N actors; each receives one hello,
 * answers, and stops; the parent counts the stop notifications (it
 * monitors every child: PN_MSG_DOWN). ops = actors. local: all on shard 0;
 * cross: the parent on shard 0, child i on shard i mod shards.
 *
 * The parent spawns BENCH_CHUNK children per handler invocation and keeps
 * at most SPAWN_WINDOW of them alive, so a run of a million never needs a
 * million actor slots. The check: N answers and N normal stops, and the
 * answers' payloads (each child echoes its number) sum to N(N-1)/2.
 */
#include "bench.h"

#include <errno.h>
#include <string.h>

#define SPAWN_WINDOW 8192

struct parent {
	struct bench_shared *sh;
	unsigned nshards;
	bool cross;
	bool cont_pending;
	bool brk; /* one child answers wrongly (self-test) */
	uint64_t spawned, answers, downs, sum;
};

struct child {
	bool brk;
};

static int child_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct child *c = state;
	uint64_t v;

	if (m->type != BT_HELLO)
		return 0;
	v = pn_msg_u64(m) + c->brk;
	/* An error here shows up as a missing answer in the parent. */
	pn_send_u64(ctx, m->from, BT_ANSWER, v);
	return PN_STOP;
}

static const struct pn_behaviour child_b = {
	.name = "bench-child",
	.state_size = sizeof(struct child),
	.init = bench_actor_init,
	.handle = child_handle,
};

static int spawn_one(struct pn_ctx *ctx, struct parent *p)
{
	struct child c = {p->brk && p->spawned == p->sh->n / 2};
	struct pn_spawn_opts so = {
		.shard = p->cross ? (int)(p->spawned % p->nshards) : 0,
		.flags = PN_SPAWN_MONITOR,
		.arg = &c,
		.arg_len = sizeof(c),
	};
	pn_pid pid;
	int err = pn_spawn(ctx, &child_b, &so, &pid);

	if (err < 0)
		return bench_fail(p->sh, err, "spawn: %s", strerror(-err));
	err = pn_send_u64(ctx, pid, BT_HELLO, p->spawned);
	if (err < 0)
		return bench_fail(p->sh, err, "hello: send: %s",
				  strerror(-err));
	p->spawned++;
	return 0;
}

static bool room(const struct parent *p)
{
	return p->spawned < p->sh->n && p->spawned - p->downs < SPAWN_WINDOW;
}

static int pump(struct pn_ctx *ctx, struct parent *p)
{
	int err;

	for (unsigned k = 0; k < BENCH_CHUNK && room(p); k++) {
		err = spawn_one(ctx, p);
		if (err)
			return err;
	}
	if (!room(p) || p->cont_pending)
		return 0; /* a DOWN resumes us when the window is full */
	err = pn_send_u64(ctx, pn_self(ctx), BT_CONT, 0);
	if (err < 0)
		return bench_fail(p->sh, err, "cont: send: %s", strerror(-err));
	p->cont_pending = true;
	return 0;
}

static int check_done(struct parent *p)
{
	if (p->downs < p->sh->n || p->answers < p->sh->n)
		return 0;
	p->sh->t1 = pn_now_ns();
	p->sh->got = p->sum;
	bench_done(p->sh);
	return PN_STOP;
}

static int on_down(struct pn_ctx *ctx, struct parent *p, const struct pn_msg *m)
{
	struct pn_down d;
	int err;

	memcpy(&d, pn_msg_data(m), sizeof(d));
	if (d.reason != PN_REASON_NORMAL)
		return bench_fail(p->sh, -EPROTO, "a child stopped: %s",
				  pn_reason_name(d.reason));
	p->downs++;
	err = pump(ctx, p);
	return err ? err : check_done(p);
}

static int parent_handle(struct pn_ctx *ctx, void *state,
			 const struct pn_msg *m)
{
	struct parent *p = state;

	switch (m->type) {
	case BT_KICK:
		p->sh->t0 = pn_now_ns();
		return pump(ctx, p);
	case BT_CONT:
		p->cont_pending = false;
		return pump(ctx, p);
	case BT_ANSWER:
		p->answers++;
		p->sum += pn_msg_u64(m);
		return check_done(p);
	case PN_MSG_DOWN:
		return on_down(ctx, p, m);
	default:
		return 0;
	}
}

static const struct pn_behaviour parent_b = {
	.name = "bench-parent",
	.state_size = sizeof(struct parent),
	.init = bench_actor_init,
	.handle = parent_handle,
};

int bench_spawn_run(struct bench_env *e, struct bench_sample *s)
{
	struct bench_shared *sh = bench_shared_new(e, e->n * (e->n - 1) / 2);
	struct parent p = {.sh = sh, .nshards = e->nshards, .cross = e->cross};
	pn_pid pid;
	int err;

	if (!sh)
		return -ENOMEM;
	p.brk = bench_broken("spawn");
	err = bench_spawn(e, &parent_b, 0, &p, sizeof(p), &pid);
	if (!err)
		err = bench_kick(e, pid, BT_KICK, 0);
	if (!err)
		err = bench_finish(e, sh, "spawn", s);
	bench_shared_put(sh, err);
	return err;
}
