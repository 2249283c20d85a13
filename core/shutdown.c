// SPDX-License-Identifier: MIT
/*
 * Staged shutdown (DESIGN.md lesson 2). The controlling thread walks the
 * stages of enum pn_stage; for each it publishes a stage word, wakes every
 * shard, and waits for their acknowledgements until the stage's own limit
 * (cut to what is left of the caller's deadline). A stage that times out is
 * reported with the shards that did not answer, and the next stage runs
 * anyway. A shard that misses a stage's limit is given up on ("gone"):
 * later stages still publish their word to it (should it come back it acts
 * on the latest) but no longer wait for it, so one stuck handler costs one
 * stage limit rather than every stage's, and cannot keep the other shards
 * from draining and stopping their actors. A shard still silent at the end
 * (a handler that never returns) is abandoned: named in the report with
 * what it was running, not joined, its memory left alone. The call always
 * returns by the deadline.
 */
#include "core_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Stage + 1: word 0 would equal a fresh shard's stage_done, an ack. */
#define WORD(stage, depth) ((int)(((unsigned)(stage) + 1) << 16 | (depth)))

static const char *const stage_name[PN_STAGE_COUNT] = {
	"input", "notify", "drain", "stop", "io", "join",
};

static void report_line(struct pn_shutdown_report *r, const char *fmt, ...)
{
	size_t used = strlen(r->text);
	va_list ap;

	if (used + 1 >= sizeof(r->text))
		return;
	va_start(ap, fmt);
	vsnprintf(r->text + used, sizeof(r->text) - used, fmt, ap);
	va_end(ap);
	used = strlen(r->text);
	if (used + 1 < sizeof(r->text))
		strcat(r->text, "\n");
}

/* --- the shard's side
 * --------------------------------------------------------- */

static void ack(struct pn_ctx *s, int word)
{
	struct pn_runtime *rt = s->rt;

	/* Release: what the shard did for the stage happens before the
	 * controller, which acquires stage_done, moves on. */
	atomic_store_explicit(&s->beacon.stage_done, word,
			      memory_order_release);
	pthread_mutex_lock(&rt->ctl_mu);
	pthread_cond_broadcast(&rt->ctl_cv);
	pthread_mutex_unlock(&rt->ctl_mu);
}

/* Act on stage word @word; true when the shard's loop must end. */
bool pn__shard_stage(struct pn_ctx *s, int word)
{
	struct pn_runtime *rt = s->rt;
	unsigned stage = ((unsigned)word >> 16) - 1;
	unsigned depth = (unsigned)word & 0xffff;

	if (word < 0)
		return false;
	switch (stage) {
	case PN_STAGE_NOTIFY:
		pn__actors_shutdown_notify(s);
		break;
	case PN_STAGE_DRAIN:
		/* Timers are input too: a periodic one would keep the
		 * runtime from ever draining. None fires from here on,
		 * except on the supervisor shard: its supervisors bound each
		 * child's stop in the stop stage with timers. */
		s->timers_frozen = s->id != rt->napp;
		atomic_store_explicit(&s->beacon.depth, pn__actors_max_depth(s),
				      memory_order_relaxed);
		break;
	case PN_STAGE_STOP:
		if (depth == PN__SUP_STOP_DEPTH) /* supervised trees first */
			pn__sup_shutdown_begin(s);
		else
			pn__actors_stop_depth(s, depth);
		break;
	case PN_STAGE_IO:
		if (rt->has_poller && rt->poller.shutdown)
			rt->poller.shutdown(s, rt->poller.arg);
		break;
	default:
		break;
	}
	pn__flush(s);
	ack(s, word);
	return stage == PN_STAGE_JOIN;
}

/* --- the controller's side
 * ----------------------------------------------------- */

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static struct timespec abs_ts(uint64_t t)
{
	return (struct timespec){.tv_sec = (time_t)(t / 1000000000u),
				 .tv_nsec = (long)(t % 1000000000u)};
}

/*
 * Shards that have not acknowledged @word yet (bit i: shard i); *n counts
 * them, *waiting those not given up on (@gone may be NULL: none is).
 */
static uint64_t pending(struct pn_runtime *rt, int word, const bool *gone,
			unsigned *n, unsigned *waiting)
{
	uint64_t mask = 0;

	*n = *waiting = 0;
	for (unsigned i = 0; i < rt->nshards; i++) {
		struct pn_ctx *s = rt->shard[i];

		if (atomic_load_explicit(&s->beacon.stage_done,
					 memory_order_acquire) != word) {
			mask |= 1ull << (i & 63);
			(*n)++;
			*waiting += !gone || !gone[i];
		}
	}
	return mask;
}

/*
 * Publish @word, wake every shard, wait for the acks of those not gone
 * until @until; those that did not ack are gone from now on.
 */
static int run_word(struct pn_runtime *rt, int word, uint64_t until, bool *gone,
		    uint64_t *mask)
{
	struct timespec ts = abs_ts(until);
	unsigned n, waiting;

	atomic_store_explicit(&rt->stage, word, memory_order_release);
	for (unsigned i = 0; i < rt->nshards; i++)
		pn__wake_external(rt->shard[i]);
	pthread_mutex_lock(&rt->ctl_mu);
	while ((*mask = pending(rt, word, gone, &n, &waiting)) != 0 &&
	       waiting && pn_now_ns() < until)
		pthread_cond_timedwait(&rt->ctl_cv, &rt->ctl_mu, &ts);
	pthread_mutex_unlock(&rt->ctl_mu);
	for (unsigned i = 0; gone && n && i < rt->nshards; i++)
		if (atomic_load_explicit(&rt->shard[i]->beacon.stage_done,
					 memory_order_acquire) != word)
			gone[i] = true;
	return n ? -ETIMEDOUT : 0;
}

/* Quiescent: every shard not gone idle, nothing handled across two looks. */
static int drain_wait(struct pn_runtime *rt, uint64_t until, const bool *gone)
{
	uint64_t last = UINT64_MAX;
	int quiet = 0;

	while (pn_now_ns() < until) {
		uint64_t handled = 0;
		bool busy = false;

		for (unsigned i = 0; i < rt->nshards; i++) {
			struct pn_ctx *s = rt->shard[i];

			if (gone && gone[i])
				continue;
			handled += atomic_load_explicit(
				&s->stats.v[PN__ST_HANDLED],
				memory_order_relaxed);
			busy |= atomic_load_explicit(&s->beacon.busy,
						     memory_order_relaxed);
		}
		quiet = !busy && handled == last ? quiet + 1 : 0;
		if (quiet >= 2)
			return 0;
		last = handled;
		struct timespec nap = {.tv_nsec = 1000000};
		nanosleep(&nap, NULL);
	}
	return -ETIMEDOUT;
}

static int stage_stop(struct pn_runtime *rt, uint64_t until, bool *gone,
		      struct pn_shutdown_report *r, uint64_t *mask)
{
	int sword = WORD(PN_STAGE_STOP, PN__SUP_STOP_DEPTH);
	uint32_t depth = 0;
	int err = 0;
	bool skip;

	/* Supervisors first (supervisor.c): each root stops its tree top-down,
	 * children in reverse start order, each within its shutdown timeout.
	 * What they could not stop is stopped by depth below. */
	if (run_word(rt, sword, until, gone, mask))
		err = -ETIMEDOUT;
	skip = atomic_load_explicit(&rt->shard[rt->napp]->beacon.stage_done,
				    memory_order_acquire) != sword;
	if (pn__sup_shutdown_wait(rt, until, skip, r->text, sizeof(r->text)))
		err = -ETIMEDOUT;

	for (unsigned i = 0; i < rt->nshards; i++) {
		uint32_t d = atomic_load_explicit(&rt->shard[i]->beacon.depth,
						  memory_order_relaxed);
		depth = d > depth ? d : depth;
	}
	if (depth > 0xfffe)
		depth = 0xfffe;
	/* Deepest first: children stop before their parents. Every depth
	 * runs, even after one timed out: the shards still answering must
	 * stop their shallower actors too. */
	for (int d = (int)depth; d >= 0; d--) {
		uint64_t m;

		if (run_word(rt, WORD(PN_STAGE_STOP, d), until, gone, &m))
			err = -ETIMEDOUT;
		*mask |= m;
	}
	return err;
}

static void stage_join(struct pn_runtime *rt, uint64_t until, bool *gone,
		       struct pn_shutdown_report *r, uint64_t *mask)
{
	run_word(rt, WORD(PN_STAGE_JOIN, 0), until, gone, mask);
	*mask = 0;
	for (unsigned i = 0; i < rt->nthreads; i++) {
		struct pn_ctx *s = rt->shard[i];
		struct timespec ts = abs_ts(until);
		const struct pn_behaviour *b;
		pn_pid pid;

		/* pthread_timedjoin_np takes CLOCK_REALTIME: convert. */
		struct timespec now_rt;
		clock_gettime(CLOCK_REALTIME, &now_rt);
		uint64_t left = until > pn_now_ns() ? until - pn_now_ns() : 0;
		ts.tv_sec = now_rt.tv_sec + (time_t)(left / 1000000000u);
		ts.tv_nsec = now_rt.tv_nsec + (long)(left % 1000000000u);
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (pthread_timedjoin_np(s->thread, NULL, &ts) == 0)
			continue;
		s->abandoned = true;
		pthread_detach(s->thread);
		r->shards_abandoned++;
		*mask |= 1ull << (i & 63);
		pid = atomic_load_explicit(&s->beacon.actor,
					   memory_order_relaxed);
		b = atomic_load_explicit(&s->beacon.b, memory_order_relaxed);
		report_line(
			r,
			"shard %u abandoned: its thread did not exit in "
			"time; last handler started: actor %#llx (behaviour "
			"\"%s\") on message type %#x",
			i, (unsigned long long)pid,
			b && b->name ? b->name : "?",
			atomic_load_explicit(&s->beacon.type,
					     memory_order_relaxed));
	}
}

static int run_stage(struct pn_runtime *rt, enum pn_stage st, uint64_t until,
		     bool *gone, struct pn_shutdown_report *r, uint64_t *mask)
{
	int err, drained;

	*mask = 0;
	switch (st) {
	case PN_STAGE_INPUT:
		atomic_store_explicit(&rt->closed, true, memory_order_release);
		pn__budget_close(&rt->budget);
		return run_word(rt, WORD(st, 0), until, gone, mask);
	case PN_STAGE_DRAIN:
		/* The shards that answer are drained whatever the others
		 * do. */
		err = run_word(rt, WORD(st, 0), until, gone, mask);
		drained = drain_wait(rt, until, gone);
		return err ? err : drained;
	case PN_STAGE_STOP:
		return stage_stop(rt, until, gone, r, mask);
	case PN_STAGE_JOIN:
		stage_join(rt, until, gone, r, mask);
		return *mask ? -ETIMEDOUT : 0;
	default:
		return run_word(rt, WORD(st, 0), until, gone, mask);
	}
}

int pn_runtime_shutdown(struct pn_runtime *rt, uint64_t timeout_ns,
			struct pn_shutdown_report *report)
{
	struct pn_shutdown_report local = {0};
	struct pn_shutdown_report *r = report ? report : &local;
	uint64_t deadline = pn_now_ns() + timeout_ns;
	bool *gone; /* shards given up on; NULL (no memory): wait for all */
	int result = 0;

	memset(r, 0, sizeof(*r));
	for (int st = 0; st < PN_STAGE_COUNT; st++)
		r->stage[st].name = stage_name[st];
	if (rt->shut_down)
		return pn__error(-EALREADY, "runtime already shut down");
	rt->shut_down = true;
	if (!rt->running)
		return 0;
	gone = calloc(rt->nshards, sizeof(*gone));
	for (int st = 0; st < PN_STAGE_COUNT; st++) {
		uint64_t t0 = pn_now_ns();
		uint64_t until = min_u64(deadline, t0 + rt->cfg.stage_ns[st]);
		struct pn_stage_report *sr = &r->stage[st];

		sr->status = run_stage(rt, (enum pn_stage)st, until, gone, r,
				       &sr->shards_pending);
		sr->elapsed_ns = pn_now_ns() - t0;
		if (sr->status) {
			result = -ETIMEDOUT;
			report_line(
				r,
				"stage %s: %s after %llu ms (shards "
				"pending: %#llx)",
				sr->name,
				sr->status == -ETIMEDOUT ? "timed out"
							 : "failed",
				(unsigned long long)(sr->elapsed_ns / 1000000),
				(unsigned long long)sr->shards_pending);
		}
	}
	for (unsigned i = 0; i < rt->nshards; i++)
		r->actors_left += atomic_load_explicit(
			&rt->shard[i]->stats.v[PN__ST_ACTORS],
			memory_order_relaxed);
	if (r->actors_left)
		report_line(r, "%llu actor(s) could not be stopped",
			    (unsigned long long)r->actors_left);
	free(gone);
	rt->running = false;
	return result ? pn__error(result, "%s", r->text) : 0;
}
