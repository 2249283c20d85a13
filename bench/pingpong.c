// SPDX-License-Identifier: MIT
/*
 * pingpong: actor A sends ping to B, B answers pong, A sends
 * the next ping only after the pong. ops = round trips. local: both on
 * shard 0; cross: A on shard 0, B on shard 1 (round-robin). The check: every
 * pong carries the number of the ping it answers, in order, up to N.
 */
#include "bench.h"

#include <errno.h>
#include <string.h>

struct pp_state {
	struct bench_shared *sh;
	pn_pid peer;   /* A: B's pid */
	uint64_t next; /* A: the pong expected next */
	bool brk;      /* B: answer one ping wrongly (self-test) */
};

static int ping_send(struct pn_ctx *ctx, struct pp_state *st)
{
	int err = pn_send_u64(ctx, st->peer, BT_PING, st->next);

	if (err < 0)
		return bench_fail(st->sh, err, "ping: send: %s",
				  strerror(-err));
	return 0;
}

static int ping_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct pp_state *st = state;
	struct bench_shared *sh = st->sh;
	uint64_t v;

	if (m->type == BT_KICK) {
		sh->t0 = pn_now_ns();
		st->next = 1;
		return ping_send(ctx, st);
	}
	if (m->type != BT_PONG)
		return 0;
	v = pn_msg_u64(m);
	if (v != st->next)
		return bench_fail(sh, -EPROTO, "pong %llu, expected %llu",
				  (unsigned long long)v,
				  (unsigned long long)st->next);
	if (v < sh->n) {
		st->next++;
		return ping_send(ctx, st);
	}
	sh->t1 = pn_now_ns();
	sh->got = v;
	pn_stop(ctx, st->peer);
	bench_done(sh);
	return PN_STOP;
}

static int pong_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct pp_state *st = state;
	uint64_t v;
	int err;

	if (m->type != BT_PING)
		return 0;
	v = pn_msg_u64(m);
	if (PN_UNLIKELY(st->brk) && v == st->sh->n / 2 + 1)
		v++; /* the self-test's wrong answer */
	err = pn_send_u64(ctx, m->from, BT_PONG, v);
	if (err < 0)
		return bench_fail(st->sh, err, "pong: send: %s",
				  strerror(-err));
	return 0;
}

static const struct pn_behaviour ping_b = {
	.name = "bench-ping",
	.state_size = sizeof(struct pp_state),
	.init = bench_actor_init,
	.handle = ping_handle,
};

static const struct pn_behaviour pong_b = {
	.name = "bench-pong",
	.state_size = sizeof(struct pp_state),
	.init = bench_actor_init,
	.handle = pong_handle,
};

int bench_pingpong(struct bench_env *e, struct bench_sample *s)
{
	struct bench_shared *sh = bench_shared_new(e, e->n);
	struct pp_state a = {.sh = sh}, b = {.sh = sh};
	pn_pid pa, pb;
	int err;

	if (!sh)
		return -ENOMEM;
	b.brk = bench_broken("pingpong");
	err = bench_spawn(e, &pong_b, bench_shard_of(e, 1), &b, sizeof(b), &pb);
	if (err < 0)
		goto out;
	a.peer = pb;
	err = bench_spawn(e, &ping_b, 0, &a, sizeof(a), &pa);
	if (!err)
		err = bench_kick(e, pa, BT_KICK, 0);
	if (!err)
		err = bench_finish(e, sh, "pingpong", s);
out:
	bench_shared_put(sh, err);
	return err;
}
