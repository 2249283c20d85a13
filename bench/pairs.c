// SPDX-License-Identifier: MIT
/*
 * pairs: NPAIRS pairs of actors ping-pong as fast as they can; ops = round
 * trips counted in a fixed window (after a warm-up), over all pairs. Three
 * placements on two shards, each its own runtime:
 *
 *   variant=ideal    both actors of pair i on shard i % 2
 *   variant=scatter  A_i on shard i % 2, B_i on the other (every message
 *                    crosses cores), no rebalancer
 *   variant=rebal    scatter, with cfg.rebalance = pn_rebalance_colocate
 *                    every 20 ms: the warm-up gives it time to bring each
 *                    pair onto one shard
 *
 * and a line with rebal / ideal (the target: at least 0.80). With
 * --report, the traffic view of the rebal run is printed before its end.
 * Also here: bench_traffic_report() for --report.
 */
#include "bench.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPAIRS	 16
#define WARM_NS	 600000000ull
#define P_GO	 200u
#define P_PING	 201u
#define P_PONG	 202u
#define CODE_END 7

/* Round trips between two looks at the clock (which costs more than a
 * local round trip on some virtual machines). */
#define CLOCK_EVERY 256

struct pshared {
	struct pn_runtime *rt;
	uint64_t t0, t1;     /* the counting window (pn_now_ns) */
	double rate[NPAIRS]; /* round trips per second, per pair */
};

struct pactor {
	struct pshared *sh;
	unsigned id;
	pn_pid peer;
	uint64_t n, n0, ta; /* round trips; at the first look past t0 */
};

static int pa_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct pactor *p = state;
	uint64_t now;

	switch (m->type) {
	case P_GO:
		p->peer = (pn_pid)pn_msg_u64(m);
		return pn_send_u64(ctx, p->peer, P_PING, 0);
	case P_PING:
		return pn_send_u64(ctx, m->from, P_PONG, 0);
	case P_PONG:
		if (++p->n % CLOCK_EVERY)
			return pn_send_u64(ctx, p->peer, P_PING, 0);
		now = pn_now_ns();
		if (!p->ta && now >= p->sh->t0) {
			p->ta = now;
			p->n0 = p->n;
		} else if (p->ta && now >= p->sh->t1) {
			p->sh->rate[p->id] = (double)(p->n - p->n0) * 1e9 /
					     (double)(now - p->ta);
			pn_runtime_notify(p->sh->rt, CODE_END);
			return 0;
		}
		return pn_send_u64(ctx, p->peer, P_PING, 0);
	default:
		return 0;
	}
}

static const struct pn_behaviour pa_b = {
	.name = "pairs-actor",
	.state_size = sizeof(struct pactor),
	.init = bench_actor_init,
	.handle = pa_handle,
};

void bench_traffic_report(const struct bench_opts *o, struct pn_runtime *rt)
{
	unsigned n = pn_runtime_nshards(rt) + 1;
	struct pn_traffic_pair pairs[8];
	struct pn_migrate_stats ms;
	uint64_t *m = calloc((size_t)n * n, sizeof(*m));
	int np;

	if (!m || pn_traffic_shards(rt, m, n) < 0) {
		free(m);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		char line[512];
		size_t off = 0;

		for (unsigned j = 0; j < n && off < sizeof(line); j++)
			off += (size_t)snprintf(
				line + off, sizeof(line) - off, " %llu",
				(unsigned long long)m[i * n + j]);
		pn_migrate_stats(rt, i, &ms);
		bench_note(o, "traffic",
			   "shard %u sent to shards 0..%u:%s; moves %llu "
			   "installs %llu forwarded %llu bounced %llu",
			   i, n - 1, line, (unsigned long long)ms.moves,
			   (unsigned long long)ms.installs,
			   (unsigned long long)ms.forwarded,
			   (unsigned long long)ms.bounced);
	}
	np = pn_traffic_pairs(rt, pairs, 8);
	for (int i = 0; i < np; i++)
		bench_note(o, "traffic",
			   "pair %#llx (shard %u) -> %#llx (home %u): %llu "
			   "samples",
			   (unsigned long long)pairs[i].from,
			   pairs[i].from_shard, (unsigned long long)pairs[i].to,
			   pairs[i].to_shard,
			   (unsigned long long)pairs[i].samples);
	free(m);
}

static int rt_make(const struct bench_opts *o, bool rebal,
		   struct pn_runtime **rt)
{
	struct pn_config c;
	int err;

	pn_config_init(&c);
	if ((err = pn_config_from_env(&c)) < 0)
		return err;
	c.plan.shards = 2;
	c.busy_poll = o->busy_poll;
	if (rebal) {
		c.rebalance = pn_rebalance_colocate;
		c.rebalance_ns = 20000000;
	}
	if ((err = pn_runtime_create(&c, rt)) < 0)
		return err;
	if ((err = pn_runtime_start(*rt)) < 0)
		pn_runtime_destroy(*rt);
	return err;
}

/* One repetition: round trips per second over the window. */
static int one(const struct bench_opts *o, int kind, uint64_t window,
	       double *rate)
{
	struct pshared *sh = calloc(1, sizeof(*sh));
	struct pn_runtime *rt;
	pn_pid a[NPAIRS], b[NPAIRS];
	double total = 0;
	int err = sh ? rt_make(o, kind == 2, &rt) : -ENOMEM;

	if (err < 0) {
		free(sh);
		return err;
	}
	sh->rt = rt;
	for (unsigned i = 0; i < NPAIRS && !err; i++) {
		struct pactor pa = {.sh = sh, .id = i};
		struct bench_env e = {.rt = rt};
		int sa = (int)(i % 2), sb = kind ? 1 - sa : sa;

		err = bench_spawn(&e, &pa_b, sa, &pa, sizeof(pa), &a[i]);
		if (!err)
			err = bench_spawn(&e, &pa_b, sb, &pa, sizeof(pa),
					  &b[i]);
	}
	sh->t0 = pn_now_ns() + WARM_NS;
	sh->t1 = sh->t0 + window;
	for (unsigned i = 0; i < NPAIRS && !err; i++) {
		uint64_t v = b[i];

		err = pn_runtime_send(rt, a[i], P_GO, &v, sizeof(v),
				      1000000000ull);
	}
	for (unsigned i = 0; i < NPAIRS && !err; i++) {
		int code = 0;

		err = pn_runtime_wait(rt, 30000000000ull, &code);
		if (!err && code != CODE_END)
			err = -EPROTO;
	}
	for (unsigned i = 0; i < NPAIRS; i++)
		total += sh->rate[i];
	if (!err && o->report && kind == 2)
		bench_traffic_report(o, rt);
	bench_rt_stop(rt);
	*rate = total;
	if (!err)
		free(sh); /* else actors may still hold it */
	return err;
}

static int by_value(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), by_value);
	return v[n / 2];
}

/*
 * The variants alternate within each repetition (ideal, scatter, rebal,
 * ideal, ...), and the ratio is the median of the per-repetition ratios:
 * each compares runs seconds apart, so a slow phase of the machine does
 * not land on one variant only.
 */
int bench_pairs(const struct bench_opts *o)
{
	static const char *const kinds[3] = {"ideal", "scatter", "rebal"};
	uint64_t window = o->n ? o->n * 1000000ull : 1000000000ull;
	double v[3][BENCH_MAX_REPS], rr[BENCH_MAX_REPS], rs[BENCH_MAX_REPS];
	double rebal, scatter;

	for (unsigned i = 0; i < o->reps; i++) {
		for (int k = 0; k < 3; k++) {
			int err = one(o, k, window, &v[k][i]);

			if (err < 0) {
				fprintf(stderr, "pinion-bench: pairs %s: %s\n",
					kinds[k], strerror(-err));
				return err;
			}
		}
		rr[i] = v[2][i] / v[0][i];
		rs[i] = v[1][i] / v[0][i];
	}
	for (int k = 0; k < 3; k++) {
		struct bench_result r = {.shards = 2};

		snprintf(r.bench, sizeof(r.bench), "pairs");
		snprintf(r.variant, sizeof(r.variant), "%s", kinds[k]);
		snprintf(r.impl, sizeof(r.impl), "pinion");
		snprintf(r.extra, sizeof(r.extra), "pairs=%d poll=%s", NPAIRS,
			 o->busy_poll ? "busy" : "park");
		r.secs = (double)window / 1e9;
		r.ops = (uint64_t)(median(v[k], o->reps) * r.secs);
		bench_report(o, &r);
	}
	rebal = median(rr, o->reps);
	scatter = median(rs, o->reps);
	bench_note(o, "ratio",
		   "pairs rebal/ideal=%.2f scatter/ideal=%.2f (medians of %u "
		   "alternated repetitions; target: rebal/ideal >= 0.80: %s)",
		   rebal, scatter, o->reps, rebal >= 0.8 ? "met" : "NOT met");
	return 0;
}
