// SPDX-License-Identifier: MIT
/*
 * migrate: what moving an actor costs. Actor B (home: shard 0) moves to
 * shard 1 and back, --n times each way. Around every arrival two senders
 * time one-way sends to it (sender stamps pn_now_ns(), B subtracts): A on
 * shard 0 (B's home) and C on shard 1. Each sends one message as soon as
 * it hears of the move ("first") and then K more, one at a time
 * ("steady"). Result lines (ops = moves or sends, ns_per_op = the mean):
 *
 *   variant=move          pn_migrate() in B's handler to PN_MSG_MIGRATED
 *                         on the other shard (both directions)
 *   variant=home-local    B at home, A on its shard (a local send)
 *   variant=home-cross    B at home, C on shard 1 (one ring hop)
 *   variant=fwd-first     B moved to 1, A on its home shard: the home
 *   variant=fwd           forwards (local queue, then one ring hop)
 *   variant=direct-first  B moved to 1, C on shard 1: held until B's home
 *                         agreed (MARK/DIRECT), then
 *   variant=direct        straight to the local queue
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define K	16 /* steady sends per sender per arrival */
#define M_GO	100u
#define M_PING	101u
#define M_ACK	102u
#define M_START 103u

enum { S_MOVE, S_HL, S_HC, S_FF, S_F, S_DF, S_D, S_N };
/* variant= (at most 7 characters) and what= of each result line */
static const char *const vname[S_N] = {"move", "h-local", "h-cross", "fwd-1st",
				       "fwd",  "dir-1st", "direct"};
static const char *const sname[S_N] = {
	"pn_migrate-to-MIGRATED", "home-local-send", "home-cross-send",
	"first-send-via-home",	  "send-via-home",   "first-send-same-shard",
	"send-same-shard-direct"};

struct mshared {
	struct pn_runtime *rt;
	uint64_t moves;		   /* to make */
	uint64_t sum[S_N], n[S_N]; /* written by B only */
	int err;
};

struct sender {
	struct mshared *sh;
	pn_pid b;
	unsigned left;
};

struct target {
	struct mshared *sh;
	pn_pid a, c;
	uint64_t moved, t_call;
	unsigned acks; /* senders done with this arrival */
};

/* --- the senders --------------------------------------------------------- */

static int ping(struct pn_ctx *ctx, struct sender *s, uint64_t first)
{
	uint64_t v[2] = {pn_now_ns(), first};

	return pn_send(ctx, s->b, M_PING, v, sizeof(v));
}

static int sender_handle(struct pn_ctx *ctx, void *state,
			 const struct pn_msg *m)
{
	struct sender *s = state;

	if (m->type == M_GO) {
		s->left = K;
		return ping(ctx, s, 1);
	}
	if (m->type == M_ACK && s->left) {
		s->left--;
		return ping(ctx, s, s->left ? 0 : 2);
	}
	return 0;
}

static const struct pn_behaviour sender_b = {
	.name = "migrate-sender",
	.state_size = sizeof(struct sender),
	.init = bench_actor_init,
	.handle = sender_handle,
};

/* --- B ------------------------------------------------------------------ */

static void arrive(struct pn_ctx *ctx, struct target *t)
{
	t->acks = 0;
	pn_send_u64(ctx, t->a, M_GO, 0);
	pn_send_u64(ctx, t->c, M_GO, 0);
}

static void record(struct target *t, const struct pn_msg *m, unsigned here)
{
	uint64_t v[2], lat;
	bool from_a = m->from == t->a, home = here == 0;
	int k;

	memcpy(v, pn_msg_data(m), sizeof(v));
	lat = pn_now_ns() - v[0];
	if (home)
		k = from_a ? S_HL : S_HC;
	else if (from_a)
		k = v[1] == 1 ? S_FF : S_F;
	else
		k = v[1] == 1 ? S_DF : S_D;
	t->sh->sum[k] += lat;
	t->sh->n[k]++;
}

static int target_handle(struct pn_ctx *ctx, void *state,
			 const struct pn_msg *m)
{
	struct target *t = state;
	unsigned here = pn_shard(ctx);
	uint64_t done[2];

	switch (m->type) {
	case M_START:
		memcpy(done, pn_msg_data(m), sizeof(done));
		t->a = done[0];
		t->c = done[1];
		arrive(ctx, t); /* at home first: the baselines */
		return 0;
	case PN_MSG_MIGRATED:
		t->sh->sum[S_MOVE] += pn_now_ns() - t->t_call;
		t->sh->n[S_MOVE]++;
		arrive(ctx, t);
		return 0;
	case M_PING:
		record(t, m, here);
		memcpy(done, pn_msg_data(m), sizeof(done));
		pn_send_u64(ctx, m->from, M_ACK, 0);
		if (done[1] != 2 || ++t->acks < 2)
			return 0;
		if (t->moved++ == t->sh->moves) {
			pn_runtime_notify(t->sh->rt, 1);
			return 0;
		}
		t->t_call = pn_now_ns();
		return pn_migrate(ctx, here ? 0 : 1);
	default:
		return 0;
	}
}

static const struct pn_behaviour target_b = {
	.name = "migrate-target",
	.state_size = sizeof(struct target),
	.init = bench_actor_init,
	.handle = target_handle,
};

/* --- the run ------------------------------------------------------------ */

static int one_run(struct pn_runtime *rt, uint64_t moves, struct mshared *sh)
{
	struct bench_env e = {.rt = rt};
	struct target t = {.sh = sh};
	struct sender s = {.sh = sh};
	pn_pid b, a, c;
	uint64_t ac[2];
	int code = 0, err;

	memset(sh, 0, sizeof(*sh));
	sh->rt = rt;
	sh->moves = moves;
	if ((err = bench_spawn(&e, &target_b, 0, &t, sizeof(t), &b)) < 0)
		return err;
	s.b = b;
	if ((err = bench_spawn(&e, &sender_b, 0, &s, sizeof(s), &a)) < 0 ||
	    (err = bench_spawn(&e, &sender_b, 1, &s, sizeof(s), &c)) < 0)
		return err;
	ac[0] = a;
	ac[1] = c;
	err = pn_runtime_send(rt, b, M_START, ac, sizeof(ac), 1000000000ull);
	if (!err)
		err = pn_runtime_wait(rt, 60000000000ull, &code);
	if (!err && code != 1)
		err = -EPROTO;
	return err;
}

int bench_migrate(const struct bench_opts *o)
{
	uint64_t moves = o->n ? o->n : 2000, med[S_N][BENCH_MAX_REPS];
	struct mshared sh;
	struct pn_runtime *rt;
	int err;

	if (o->variant && !strcmp(o->variant, "loaded"))
		return bench_migrate_loaded(o);
	if ((err = bench_rt_start(o, 2, o->busy_poll, &rt)) < 0)
		return err;
	if (pn_runtime_nshards(rt) < 2) {
		bench_rt_stop(rt);
		bench_note(o, "skip", "migrate: needs 2 shards");
		return 0;
	}
	for (unsigned r = 0; r <= o->reps && !err; r++) {
		err = one_run(rt, r ? moves : moves / 10 + 2, &sh);
		for (int k = 0; r && k < S_N; k++)
			med[k][r - 1] =
				sh.n[k] ? sh.sum[k] * 1000 / sh.n[k] : 0;
		if (r == o->reps && !err && o->report)
			bench_traffic_report(o, rt);
	}
	bench_rt_stop(rt);
	if (err < 0) {
		fprintf(stderr, "pinion-bench: migrate: %s\n", strerror(-err));
		return err;
	}
	for (int k = 0; k < S_N; k++) {
		/* ops: per repetition; secs: ops at the median mean latency */
		uint64_t ops = k == S_MOVE ? moves : sh.n[k];
		struct bench_result res = {.shards = 2, .ops = ops};

		snprintf(res.bench, sizeof(res.bench), "migrate");
		snprintf(res.variant, sizeof(res.variant), "%s", vname[k]);
		snprintf(res.impl, sizeof(res.impl), "pinion");
		snprintf(res.extra, sizeof(res.extra), "what=%s poll=%s",
			 sname[k], o->busy_poll ? "busy" : "park");
		res.secs = (double)bench_median(med[k], o->reps) / 1e12 *
			   (double)ops;
		bench_report(o, &res);
	}
	/* --variant moves: the table above only. */
	return o->variant ? 0 : bench_migrate_loaded(o);
}
