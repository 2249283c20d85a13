// SPDX-License-Identifier: MIT
/*
 * ring (Savina's "thread ring"): 503 actors in a ring pass
 * one token carrying a hop counter until it has made N hops. ops = hops.
 * local: all on shard 0; cross: actor i on shard i mod shards, so that
 * (with 2 shards) almost every hop crosses cores.
 *
 * The actors are spawned last to first, each told its successor; the last
 * one's successor is the first, which did not exist yet when it was
 * spawned, so the token carries the first actor's pid. The check: actor i
 * only ever sees hop counts h with h mod 503 == i (no hop lost or doubled)
 * and the run ends at exactly N.
 */
#include "bench.h"

#include <errno.h>
#include <string.h>

#define RING_ACTORS 503

struct token {
	uint64_t hop;
	pn_pid first; /* actor 0: the last actor's successor */
};

struct ring_state {
	struct bench_shared *sh;
	pn_pid next; /* PN_PID_NONE for the last actor: use token.first */
	uint32_t idx;
	bool brk; /* skip one hop (self-test) */
};

static int ring_quit(struct pn_ctx *ctx, struct ring_state *st,
		     const struct pn_msg *m)
{
	struct token t;

	memcpy(&t, pn_msg_data(m), sizeof(t));
	/* t.hop holds the index of the actor that started the quit. */
	if ((st->idx + 1) % RING_ACTORS != t.hop)
		pn_send(ctx, st->next ? st->next : t.first, BT_QUIT, &t,
			sizeof(t));
	return PN_STOP;
}

static int ring_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct ring_state *st = state;
	struct bench_shared *sh = st->sh;
	struct token t;
	int err;

	if (m->type == BT_QUIT)
		return ring_quit(ctx, st, m);
	if (m->type != BT_TOKEN || m->len != sizeof(t))
		return 0;
	memcpy(&t, m->data, sizeof(t));
	if (t.hop == 0)
		sh->t0 = pn_now_ns();
	if (t.hop % RING_ACTORS != st->idx)
		return bench_fail(sh, -EPROTO, "actor %u got hop %llu", st->idx,
				  (unsigned long long)t.hop);
	if (t.hop == sh->n) {
		sh->t1 = pn_now_ns();
		sh->got = t.hop;
		t.hop = st->idx;
		pn_send(ctx, st->next ? st->next : t.first, BT_QUIT, &t,
			sizeof(t));
		bench_done(sh);
		return PN_STOP;
	}
	t.hop += 1 + (PN_UNLIKELY(st->brk) && t.hop == sh->n / 2);
	err = pn_send(ctx, st->next ? st->next : t.first, BT_TOKEN, &t,
		      sizeof(t));
	if (err < 0)
		return bench_fail(sh, err, "token: send: %s", strerror(-err));
	return 0;
}

static const struct pn_behaviour ring_b = {
	.name = "bench-ring",
	.state_size = sizeof(struct ring_state),
	.init = bench_actor_init,
	.handle = ring_handle,
};

int bench_ring(struct bench_env *e, struct bench_sample *s)
{
	struct bench_shared *sh = bench_shared_new(e, e->n);
	struct ring_state st = {.sh = sh};
	struct token t = {0, PN_PID_NONE};
	pn_pid pid = PN_PID_NONE;
	int err = 0;

	if (!sh)
		return -ENOMEM;
	st.brk = bench_broken("ring");
	for (int i = RING_ACTORS - 1; i >= 0 && !err; i--) {
		st.idx = (uint32_t)i;
		st.next = pid;
		err = bench_spawn(e, &ring_b, bench_shard_of(e, (uint64_t)i),
				  &st, sizeof(st), &pid);
	}
	if (err)
		goto out;
	t.first = pid;
	err = pn_runtime_send(e->rt, pid, BT_TOKEN, &t, sizeof(t),
			      1000000000ull);
	if (!err)
		err = bench_finish(e, sh, "ring", s);
out:
	bench_shared_put(sh, err);
	return err;
}
