// SPDX-License-Identifier: MIT
/*
 * forkjoin (Savina's "fork join throughput"): a master sends
 * N messages round-robin to 64 workers; each does 32 rounds of xorshift64
 * on the payload and counts; the master then collects the 64 counts, which
 * must sum to N. ops = messages. local: everything on shard 0; cross: the
 * master on shard 0, worker j on shard j mod shards.
 *
 * The master sends in chunks of BENCH_CHUNK with a message to itself in
 * between, and waits for PN_MSG_WRITABLE after -EAGAIN, as counting's
 * producer does.
 */
#include "bench.h"

#include <errno.h>
#include <string.h>

#define FJ_WORKERS 64

struct fj_master {
	struct bench_shared *sh;
	pn_pid worker[FJ_WORKERS];
	uint64_t sent;
	unsigned collect_sent; /* COLLECT messages sent so far */
	unsigned collected;
	uint64_t sum;
	bool waiting;
};

struct fj_worker {
	struct bench_shared *sh;
	uint64_t count;
	uint64_t sink; /* the computation's result, sent back with the count */
	bool brk;      /* lose one message (self-test) */
};

struct fj_count {
	uint64_t count;
	uint64_t sink;
};

static int fj_error(struct pn_ctx *ctx, struct fj_master *ma, int err)
{
	if (err != -EAGAIN)
		return bench_fail(ma->sh, err, "forkjoin: send: %s",
				  strerror(-err));
	ma->waiting = true;
	return pn_notify_writable(ctx);
}

static int fj_pump(struct pn_ctx *ctx, struct fj_master *ma)
{
	uint64_t n = ma->sh->n;
	int err;

	for (unsigned k = 0; k < BENCH_CHUNK && ma->sent < n; k++) {
		err = pn_send_u64(ctx, ma->worker[ma->sent % FJ_WORKERS],
				  BT_WORK, ma->sent);
		if (PN_UNLIKELY(err < 0))
			return fj_error(ctx, ma, err);
		ma->sent++;
	}
	if (ma->sent < n) {
		err = pn_send_u64(ctx, pn_self(ctx), BT_CONT, 0);
		return err < 0 ? fj_error(ctx, ma, err) : 0;
	}
	for (; ma->collect_sent < FJ_WORKERS; ma->collect_sent++) {
		err = pn_send_u64(ctx, ma->worker[ma->collect_sent], BT_COLLECT,
				  0);
		if (err < 0)
			return fj_error(ctx, ma, err);
	}
	return 0;
}

static int master_handle(struct pn_ctx *ctx, void *state,
			 const struct pn_msg *m)
{
	struct fj_master *ma = state;
	struct fj_count c;

	switch (m->type) {
	case BT_KICK:
		ma->sh->t0 = pn_now_ns();
		return fj_pump(ctx, ma);
	case BT_CONT:
		return fj_pump(ctx, ma);
	case PN_MSG_WRITABLE:
		if (!ma->waiting)
			return 0;
		ma->waiting = false;
		return fj_pump(ctx, ma);
	case BT_COUNT:
		memcpy(&c, pn_msg_data(m), sizeof(c));
		ma->sum += c.count;
		ma->sh->extra ^= c.sink;
		if (++ma->collected < FJ_WORKERS)
			return 0;
		ma->sh->t1 = pn_now_ns();
		ma->sh->got = ma->sum;
		bench_done(ma->sh);
		return PN_STOP;
	default:
		return 0;
	}
}

static int worker_handle(struct pn_ctx *ctx, void *state,
			 const struct pn_msg *m)
{
	struct fj_worker *w = state;
	struct fj_count c;
	int err;

	if (PN_LIKELY(m->type == BT_WORK)) {
		w->sink ^= bench_xorshift32(pn_msg_u64(m) | 1);
		w->count++;
		if (PN_UNLIKELY(w->brk) && w->count == 2) {
			w->count--; /* the self-test's lost message */
			w->brk = false;
		}
		return 0;
	}
	if (m->type != BT_COLLECT)
		return 0;
	c.count = w->count;
	c.sink = w->sink;
	err = pn_send(ctx, m->from, BT_COUNT, &c, sizeof(c));
	if (err < 0)
		return bench_fail(w->sh, err, "count: send: %s",
				  strerror(-err));
	return PN_STOP;
}

static const struct pn_behaviour master_b = {
	.name = "bench-fj-master",
	.state_size = sizeof(struct fj_master),
	.init = bench_actor_init,
	.handle = master_handle,
};

static const struct pn_behaviour worker_b = {
	.name = "bench-fj-worker",
	.state_size = sizeof(struct fj_worker),
	.init = bench_actor_init,
	.handle = worker_handle,
};

int bench_forkjoin(struct bench_env *e, struct bench_sample *s)
{
	struct bench_shared *sh = bench_shared_new(e, e->n);
	struct fj_master ma = {.sh = sh};
	struct fj_worker w = {.sh = sh};
	pn_pid pm;
	int err = 0;

	if (!sh)
		return -ENOMEM;
	for (unsigned i = 0; i < FJ_WORKERS && !err; i++) {
		w.brk = i == 0 && bench_broken("forkjoin");
		err = bench_spawn(e, &worker_b, bench_shard_of(e, i), &w,
				  sizeof(w), &ma.worker[i]);
	}
	if (!err)
		err = bench_spawn(e, &master_b, 0, &ma, sizeof(ma), &pm);
	if (!err)
		err = bench_kick(e, pm, BT_KICK, 0);
	if (!err)
		err = bench_finish(e, sh, "forkjoin", s);
	bench_shared_put(sh, err);
	return err;
}
