// SPDX-License-Identifier: MIT
/*
 * churn (no message may be lost at the inbox):
 * N times, a driver actor spawns an actor (monitoring it); when it has
 * started, that actor spawns a child and asks to be stopped; the driver
 * waits at most 1 s for the stop notification (PN_MSG_DOWN) before the next
 * cycle. A cycle that takes longer is a lost message and fails the run: a
 * watchdog timer checks every 100 ms. ops = cycles; the result line also
 * gives the slowest cycle (max_cycle_ns). local: everything on shard 0;
 * cross: cycle i's actor on shard i mod shards, its child on the next one.
 */
#include "bench.h"

#include <errno.h>
#include <string.h>

#define CHURN_LIMIT_NS 1000000000ull /* per cycle */
#define CHURN_WATCH_NS 100000000ull  /* watchdog period */

struct churn_driver {
	struct bench_shared *sh;
	unsigned nshards;
	bool cross;
	bool brk; /* ignore one DOWN (self-test): the watchdog must fire */
	pn_pid cur;
	uint64_t cycles;
	uint64_t cycle_start;
	uint64_t max_cycle;
	uint64_t watch;
};

struct churner {
	int child_shard;
};

static int child_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	(void)ctx;
	(void)state;
	return m->type == PN_MSG_STARTED ? PN_STOP : 0;
}

static const struct pn_behaviour child_b = {
	.name = "bench-churn-child",
	.state_size = 0,
	.handle = child_handle,
};

static int churner_handle(struct pn_ctx *ctx, void *state,
			  const struct pn_msg *m)
{
	struct churner *c = state;
	struct pn_spawn_opts so = {.shard = c->child_shard};
	pn_pid pid;

	if (m->type != PN_MSG_STARTED)
		return 0;
	if (pn_spawn(ctx, &child_b, &so, &pid) < 0)
		return -1; /* fails: the driver sees a non-normal DOWN */
	pn_stop(ctx, pn_self(ctx));
	return 0;
}

static const struct pn_behaviour churner_b = {
	.name = "bench-churner",
	.state_size = sizeof(struct churner),
	.init = bench_actor_init,
	.handle = churner_handle,
};

static int next_cycle(struct pn_ctx *ctx, struct churn_driver *d)
{
	uint64_t i = d->cycles;
	struct churner c = {d->cross ? (int)((i + 1) % d->nshards) : 0};
	struct pn_spawn_opts so = {
		.shard = d->cross ? (int)(i % d->nshards) : 0,
		.flags = PN_SPAWN_MONITOR,
		.arg = &c,
		.arg_len = sizeof(c),
	};
	int err;

	d->cycle_start = pn_now_ns();
	err = pn_spawn(ctx, &churner_b, &so, &d->cur);
	if (err < 0)
		return bench_fail(d->sh, err, "cycle %llu: spawn: %s",
				  (unsigned long long)i, strerror(-err));
	return 0;
}

static int on_down(struct pn_ctx *ctx, struct churn_driver *d,
		   const struct pn_msg *m)
{
	uint64_t took = pn_now_ns() - d->cycle_start;
	struct pn_down dn;

	memcpy(&dn, pn_msg_data(m), sizeof(dn));
	if (dn.pid != d->cur || dn.reason != PN_REASON_NORMAL)
		return bench_fail(d->sh, -EPROTO, "cycle %llu: DOWN (%s)",
				  (unsigned long long)d->cycles,
				  pn_reason_name(dn.reason));
	if (PN_UNLIKELY(d->brk) && d->cycles == d->sh->n / 2) {
		d->brk = false; /* the self-test's lost notification */
		return 0;
	}
	if (took > d->max_cycle)
		d->max_cycle = took;
	if (++d->cycles < d->sh->n)
		return next_cycle(ctx, d);
	pn_timer_cancel(ctx, d->watch);
	d->sh->t1 = pn_now_ns();
	d->sh->got = d->cycles;
	d->sh->extra = d->max_cycle;
	if (d->max_cycle > CHURN_LIMIT_NS)
		return bench_fail(d->sh, -ETIMEDOUT, "a cycle took %llu ns",
				  (unsigned long long)d->max_cycle);
	bench_done(d->sh);
	return PN_STOP;
}

static int driver_handle(struct pn_ctx *ctx, void *state,
			 const struct pn_msg *m)
{
	struct churn_driver *d = state;
	int err;

	switch (m->type) {
	case BT_KICK:
		d->sh->t0 = pn_now_ns();
		err = pn_send_every(ctx, CHURN_WATCH_NS, BT_TICK, NULL, 0,
				    &d->watch);
		if (err < 0)
			return bench_fail(d->sh, err, "watchdog: %s",
					  strerror(-err));
		return next_cycle(ctx, d);
	case BT_TICK:
		if (pn_now_ns() - d->cycle_start <= CHURN_LIMIT_NS)
			return 0;
		return bench_fail(d->sh, -ETIMEDOUT,
				  "cycle %llu: no stop notification within "
				  "1 s (lost message)",
				  (unsigned long long)d->cycles);
	case PN_MSG_DOWN:
		return on_down(ctx, d, m);
	default:
		return 0;
	}
}

static const struct pn_behaviour driver_b = {
	.name = "bench-churn",
	.state_size = sizeof(struct churn_driver),
	.init = bench_actor_init,
	.handle = driver_handle,
};

int bench_churn(struct bench_env *e, struct bench_sample *s)
{
	struct bench_shared *sh = bench_shared_new(e, e->n);
	struct churn_driver d = {
		.sh = sh, .nshards = e->nshards, .cross = e->cross};
	pn_pid pid;
	int err;

	if (!sh)
		return -ENOMEM;
	d.brk = bench_broken("churn");
	err = bench_spawn(e, &driver_b, 0, &d, sizeof(d), &pid);
	if (!err)
		err = bench_kick(e, pid, BT_KICK, 0);
	if (!err)
		err = bench_finish(e, sh, "churn", s);
	bench_shared_put(sh, err);
	return err;
}
