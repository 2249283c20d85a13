// SPDX-License-Identifier: MIT
/*
 * The watchdog: an actor on the supervisor shard that looks at every other
 * shard's beacon (struct pn__beacon) a few times per limit and reports a
 * handler that has run longer than watchdog_ns, once per incident.
 *
 * What a shard publishes. Its loop stores beat (the turn count) once per
 * turn; every dispatch bumps seq after naming the actor, its behaviour and
 * the message type (pn__beacon_set); while parking it holds parked = 1. A
 * shard is stuck in one handler when, across samples at least the limit
 * apart, neither seq nor beat moved and it was not parked. Both counters
 * are needed: beat alone cannot tell a stuck handler from a long turn of
 * short ones (a turn drains up to batch messages per source), and seq
 * alone cannot tell it from a shard idling without parking (busy_poll,
 * whose beat still moves). A parked shard is idle however old its
 * counters. The stall is timed from the first sample that saw those
 * counters, so it is at most one sample period shorter than the truth;
 * a report therefore comes between limit and limit + period after the
 * handler started. The same measure tells a supervisor whether a child
 * that misses its shutdown deadline sits on a stuck shard (supervisor.c).
 *
 * Policy: PN_WATCHDOG_REPORT reports (pn__event: the hook or stderr) and
 * counts; PN_WATCHDOG_ABORT then sends SIGABRT to the stuck shard's
 * thread, whose crash report (crash.c) shows where the handler loops.
 */
#include "sup_int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

struct wd {
	uint64_t limit;
};

/*
 * How long @shard has been in the same handler (0: it moved, is parked or
 * idle), updating the supervisor shard's record of it; *@what (may be NULL)
 * gets what it runs. Supervisor shard only.
 */
uint64_t pn__stall_ns(struct pn_runtime *rt, unsigned shard, uint64_t now,
		      struct pn__running *what)
{
	struct pn_shard *s = rt->shard[shard];
	struct pn__stall *st = &rt->sup->stall[shard];
	/* Acquire: pairs with the release store of seq in pn__beacon_set(),
	 * so the fields read below are at least those of dispatch seq. */
	uint64_t seq =
		atomic_load_explicit(&s->beacon.seq, memory_order_acquire);
	/* Relaxed: counters that only have to differ to mean progress. */
	uint64_t beat =
		atomic_load_explicit(&s->beacon.beat, memory_order_relaxed);
	bool parked = atomic_load_explicit(&s->parked, memory_order_relaxed);

	if (what) {
		what->actor = atomic_load_explicit(&s->beacon.actor,
						   memory_order_relaxed);
		what->type = atomic_load_explicit(&s->beacon.type,
						  memory_order_relaxed);
		what->b = atomic_load_explicit(&s->beacon.b,
					       memory_order_relaxed);
	}
	if (parked || !st->since || seq != st->seq || beat != st->beat) {
		st->seq = seq;
		st->beat = beat;
		st->since = now;
		return 0;
	}
	/* A shard that never dispatched (seq 0) is not in a handler. */
	return seq ? now - st->since : 0;
}

static void report(struct pn_shard *ctx, unsigned i, struct pn__stall *st,
		   uint64_t ns, int kind)
{
	struct pn_runtime *rt = ctx->rt;
	const struct pn__running *run = &st->run;
	const char *bn = run->b && run->b->name ? run->b->name : "?";
	struct pn_event ev = {.kind = kind,
			      .shard = i,
			      .actor = run->actor,
			      .behaviour = bn,
			      .type = run->type,
			      .ns = ns};
	char tn[32], fl[16 * 160];

	pn__type_name(run->type, tn, sizeof(tn));
	if (kind != PN_EVENT_STALL) {
		pn__event(rt, &ev,
			  "watchdog: shard %u: the handler of actor %#llx "
			  "(behaviour \"%s\") on %s returned after about %llu "
			  "ms",
			  i, (unsigned long long)run->actor, bn, tn,
			  (unsigned long long)(ns / 1000000));
		return;
	}
	/* What the shard did before it got stuck (flight.c). */
	if (pn__flight_text(rt->shard[i], 16, fl, sizeof(fl)) > 0)
		ev.flight = fl;
	pn__event(rt, &ev,
		  "watchdog: shard %u has been in the handler of actor "
		  "%#llx (behaviour \"%s\") on %s for %llu ms (limit "
		  "%llu ms)",
		  i, (unsigned long long)run->actor, bn, tn,
		  (unsigned long long)(ns / 1000000),
		  (unsigned long long)(rt->cfg.watchdog_ns / 1000000));
	if (ev.flight && !rt->cfg.on_event)
		fprintf(stderr,
			"pinion: watchdog: last events on shard %u (flight "
			"recorder, oldest first):\n%s",
			i, ev.flight);
}

static void abort_shard(struct pn_shard *ctx, unsigned i)
{
	struct pn_runtime *rt = ctx->rt;

	fprintf(stderr,
		"pinion: watchdog: aborting (watchdog_policy=abort): "
		"SIGABRT to shard %u\n",
		i);
	/* The stuck thread's own crash report shows where it loops; if the
	 * signal cannot be sent, abort here. */
	if (pthread_kill(rt->shard[i]->thread, SIGABRT) != 0)
		abort();
}

static void tick(struct pn_shard *ctx, struct wd *w)
{
	struct pn_runtime *rt = ctx->rt;
	uint64_t now = pn__now(ctx->rt);
	int word = atomic_load_explicit(&rt->stage, memory_order_relaxed);

	/* Shards leave their loops at the join stage: frozen, not stuck. */
	if (word >= 0 && PN__WORD_STAGE(word) >= PN_STAGE_JOIN)
		return;
	for (unsigned i = 0; i < rt->nshards; i++) {
		struct pn__stall *st = &rt->sup->stall[i];
		uint64_t since = st->since, ns;
		struct pn__running run;

		if (i == ctx->id)
			continue; /* if we are stuck, nobody looks */
		ns = pn__stall_ns(rt, i, now, &run);
		if (ns == 0 && st->reported) {
			st->reported = false;
			report(ctx, i, st, now - since, PN_EVENT_STALL_END);
		} else if (ns >= w->limit && !st->reported) {
			st->reported = true;
			st->run = run;
			report(ctx, i, st, ns, PN_EVENT_STALL);
			if (rt->cfg.watchdog_policy == PN_WATCHDOG_ABORT)
				abort_shard(ctx, i);
		}
	}
}

static int wd_init(struct pn_ctx *ctx, void *state, const void *arg, size_t len)
{
	struct pn_shard *sh = pn__shard(ctx);
	struct wd *w = state;
	uint64_t period, id;
	struct pn_msg m = {.type = PN__MSG_WD_TICK, .to = pn_self(pn__ctx(sh))};

	(void)arg;
	(void)len;
	w->limit = sh->rt->cfg.watchdog_ns;
	/* Eight looks per limit: a stall is seen at most limit/8 late. Not
	 * more often than every 10 ms: the shutdown's drain stage needs
	 * quiet moments, and this timer keeps firing through it. */
	period = w->limit / 8;
	if (period < 10000000)
		period = 10000000;
	/* pn_send_every() takes application types only: arm directly. */
	return pn__timers_arm(sh->timers, pn__now(sh->rt), period, period, &m,
			      &id);
}

static int wd_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct pn_shard *s = pn__shard(ctx);

	if (m->type == PN__MSG_WD_TICK)
		tick(s, state);
	return 0;
}

static const struct pn_behaviour wd_b = {
	.name = "pinion.watchdog",
	.state_size = sizeof(struct wd),
	.init = wd_init,
	.handle = wd_handle,
};

/* On the supervisor shard, before its loop starts. */
void pn__watchdog_start(struct pn_shard *s)
{
	struct pn_spawn_opts o = {.shard = PN_SHARD_SUPERVISOR};
	pn_pid pid;
	int err;

	if (!s->rt->cfg.watchdog_ns)
		return;
	err = pn_spawn(pn__ctx(s), &wd_b, &o, &pid);
	if (err < 0 && err != -ESHUTDOWN) /* shut down before it started */
		fprintf(stderr, "pinion: cannot start the watchdog: %s\n",
			pn_last_error());
}
