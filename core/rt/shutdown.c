// SPDX-License-Identifier: MIT
/*
 * Staged shutdown (it must end, bounded, whatever the actors do). The
 * controlling thread walks the stages of enum pn_stage; for each it publishes a
 * stage word, wakes every shard, and waits for their acknowledgements until the
 * stage's own limit (cut to what is left of the caller's deadline). A stage
 * that times out is reported with the shards that did not answer, and the next
 * stage runs anyway. A shard that misses a stage's limit is given up on
 * ("gone"): later stages still publish their word to it (should it come back it
 * acts on the latest) but no longer wait for it, so one stuck handler costs one
 * stage limit rather than every stage's. A shard still silent at the end
 * (a handler that never returns) is abandoned: named in the report with
 * what it was running, not joined, its memory left alone. The call always
 * returns by the deadline.
 *
 * Input closes the gate of external calls (producer.c): blocked callers
 * are released with -ESHUTDOWN and the stage waits until no call is
 * inside, so nothing external publishes afterwards.
 *
 * Drain is a termination-detection protocol, not a guess. Each wave w is a
 * stage word; a shard acknowledges it at a turn boundary (no handler
 * running) after publishing the message hops it has sent and taken out of
 * queues so far (sched/stats.h, "Message accounting"). With D(w) the sum of
 * the done counts of wave w and S(w) the sum of the sent counts plus the
 * producers' (final: the gate is closed), the drain ends when
 * D(w - 1) == S(w). Why that proves quiescence: every wave-(w-1) report
 * happens before the controller publishes wave w, which happens before
 * every wave-w report; a message counted done at its receiver in w - 1 was
 * sent before that (ring release/acquire), so its sender's w count
 * includes it: the done set of w - 1 is inside the sent set of w, and equal
 * sizes make them equal. So at the moment between the waves every message
 * ever sent had been handled (none in a ring, local queue, overflow or
 * side queue, none in a handler: a running handler's message is not done),
 * and anything that happens later comes from outside the shards' own
 * work: an io completion or a supervisor timer. A long handler just delays
 * its shard's report; it cannot make the drain end early.
 *
 * Join ends the shard threads and then, with every one joined, walks what
 * they left in their queues (work sent during the stop and io stages) and
 * dead-letters it, counted by where it waited: nothing is freed uncounted.
 */
#include "rt_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Stage + 1: word 0 would equal a fresh shard's stage_done, an ack. */
#define WORD(stage, depth) ((int)(((unsigned)(stage) + 1) << 16 | (depth)))

/* The pause between drain waves that did not balance: short at first,
 * growing, so a drain that takes long costs few acknowledgements. */
#define WAVE_PAUSE_MIN_NS 20000ull
#define WAVE_PAUSE_MAX_NS 1000000ull

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

/* --- the controller's side -----------------------------------------------
 */

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
		struct pn_shard *s = rt->shard[i];

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

/* Sum the reports of the wave the shards just acknowledged. */
static void wave_sum(struct pn_runtime *rt, const bool *gone, uint64_t *sent,
		     uint64_t *done, unsigned *ngone)
{
	*sent = pn__producers_sent(rt);
	*done = 0;
	*ngone = 0;
	for (unsigned i = 0; i < rt->nshards; i++) {
		const struct pn__beacon *b = &rt->shard[i]->beacon;

		if (gone && gone[i]) {
			(*ngone)++;
			continue;
		}
		/* Relaxed: ordered by the acquire of stage_done in
		 * run_word(), which saw this wave's ack. */
		*sent += atomic_load_explicit(&b->drain_sent,
					      memory_order_relaxed);
		*done += atomic_load_explicit(&b->drain_done,
					      memory_order_relaxed);
	}
}

/*
 * The drain stage: waves until D(w - 1) == S(w) (see the file comment),
 * or @until. With a shard gone the balance cannot be proved; the stage
 * then ends as soon as the others are idle (two waves in a row with the
 * same counts) and reports it.
 */
static int stage_drain(struct pn_runtime *rt, uint64_t until, bool *gone,
		       struct pn_shutdown_report *r, uint64_t *mask)
{
	uint64_t prev_sent = 0, prev_done = 0, pause = WAVE_PAUSE_MIN_NS;
	uint64_t sent = 0, done = 0, m;
	unsigned ngone = 0;
	uint32_t prev_defer = 0;

	for (unsigned w = 0;; w++) {
		int err = run_word(rt, WORD(PN_STAGE_DRAIN, w & 0xffff), until,
				   gone, &m);

		*mask |= m;
		wave_sum(rt, gone, &sent, &done, &ngone);
		/* prev_defer was read before this wave was published: an actor
		 * that said it was done then had sent what it sent before
		 * this wave's reports, so the balance covers it. */
		if (w > 0 && !err && !ngone && prev_done == sent && !prev_defer)
			return 0;
		if (w > 0 && ngone && prev_sent == sent && prev_done == done)
			break; /* the rest are idle; the gone can't be drained
				*/
		if (pn_now_ns() >= until)
			break;
		prev_sent = sent;
		prev_done = done;
		/* Acquire: pairs with the release decrements of shards. */
		prev_defer = atomic_load_explicit(&rt->deferring,
						  memory_order_acquire);
		struct timespec nap = {.tv_nsec = (long)pause};
		nanosleep(&nap, NULL);
		pause = min_u64(pause * 2, WAVE_PAUSE_MAX_NS);
	}
	if (prev_defer)
		report_line(r, "drain: %u actor(s) still deferring their stop",
			    prev_defer);
	report_line(r,
		    "drain: %llu message(s) still in flight%s (sent %llu, "
		    "done %llu)",
		    (unsigned long long)(sent > done ? sent - done : 0),
		    ngone ? " with a stuck shard" : "",
		    (unsigned long long)sent, (unsigned long long)done);
	return -ETIMEDOUT;
}

static int stage_stop(struct pn_runtime *rt, uint64_t until, bool *gone,
		      struct pn_shutdown_report *r, uint64_t *mask)
{
	int sword = WORD(PN_STAGE_STOP, PN__STOP_FEATURES);
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

/* --- join: end the threads, then account for what they left --------------
 */

/* A message no handler will see: a dead letter (the runtime's internal
 * ones are counted but not shown to the hook; a NOP is nothing). */
static void sweep_one(struct pn_shard *s, struct pn_msg *m, uint64_t *count)
{
	m->len &= ~PN__LEN_BOUNCED;
	if (m->type == PN__MSG_MIG_NOP)
		return;
	(*count)++;
	if (m->type < PN__MSG_INTERNAL) {
		pn__dead_letter(s, m);
		return;
	}
	PN__STAT_ADD(s, PN__ST_DEAD, 1);
	if (!pn__features_drop(s, m) && m->len > PN_MSG_INLINE)
		pn__buf_free(s, m->ptr);
}

/* Empty @f: the local queue or an overflow queue (@side false: each
 * leaves as a dispatch would count it) or a side queue. */
static void sweep_fifo(struct pn_shard *s, struct pn__fifo *f, bool side,
		       uint64_t *count)
{
	struct pn_msg *p;

	while ((p = pn__fifo_peek(f)) != NULL) {
		struct pn_msg m = *p;

		pn__fifo_pop(f, s->arena);
		if (side)
			pn__acct_side_out(s, &m);
		else
			s->n_dispatched++;
		sweep_one(s, &m, count);
	}
}

static void sweep_side(struct pn_shard *s, struct pn__fifo *f, void *count)
{
	sweep_fifo(s, f, true, count);
}

/* Every inbound ring of @s (its thread has exited: we are its consumer). */
static void sweep_rings(struct pn_shard *s, uint64_t *count)
{
	for (unsigned src = 0; src < s->nsources; src++) {
		struct pn_ring *r =
			atomic_load_explicit(&s->in[src], memory_order_acquire);
		struct pn_msg *p;

		while (r && (p = pn_ring_peek(r)) != NULL) {
			struct pn_msg m = *p;

			pn_ring_consume(r);
			s->n_dispatched++;
			if (src >= s->nshards) {
				PN__STAT_ADD(s, PN__ST_RECV_EXT, 1);
				pn__budget_release(&s->rt->budget, m.len);
			}
			sweep_one(s, &m, count);
		}
		if (r)
			pn_ring_release(r);
	}
}

/* Dead-letter what joined shard @s left, by place, into @r. */
static void sweep_shard(struct pn_shard *s, struct pn_shutdown_report *r)
{
	uint64_t held = 0;

	sweep_rings(s, &r->dead_ring);
	sweep_fifo(s, &s->local, false, &r->dead_local);
	for (unsigned d = 0; d < s->nshards; d++)
		sweep_fifo(s, &s->out[d].overflow, false, &r->dead_overflow);
	s->overflow_bytes = 0;
	s->overflowing = false;
	atomic_store_explicit(&s->stats.v[PN__ST_OVERFLOW_BYTES], 0,
			      memory_order_relaxed);
	pn__features_side_queues(s, sweep_side, &held);
	r->dead_held += held;
	pn__buf_flush_remote(s);
	pn__shard_publish(s);
}

static void join_thread(struct pn_runtime *rt, unsigned i, uint64_t until,
			struct pn_shutdown_report *r, uint64_t *mask)
{
	struct pn_shard *s = rt->shard[i];
	uint64_t left = until > pn_now_ns() ? until - pn_now_ns() : 0;
	struct timespec now_rt, ts;
	const struct pn_behaviour *b;
	pn_pid pid;

	/* pthread_timedjoin_np takes CLOCK_REALTIME: convert. */
	clock_gettime(CLOCK_REALTIME, &now_rt);
	ts.tv_sec = now_rt.tv_sec + (time_t)(left / 1000000000u);
	ts.tv_nsec = now_rt.tv_nsec + (long)(left % 1000000000u);
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	if (pthread_timedjoin_np(s->thread, NULL, &ts) == 0)
		return;
	s->abandoned = true;
	pthread_detach(s->thread);
	r->shards_abandoned++;
	*mask |= 1ull << (i & 63);
	pid = atomic_load_explicit(&s->beacon.actor, memory_order_relaxed);
	b = atomic_load_explicit(&s->beacon.b, memory_order_relaxed);
	report_line(
		r,
		"shard %u abandoned: its thread did not exit in time; "
		"last handler started: actor %#llx (behaviour \"%s\") on "
		"message type %#x",
		i, (unsigned long long)pid, b && b->name ? b->name : "?",
		atomic_load_explicit(&s->beacon.type, memory_order_relaxed));
}

static void stage_join(struct pn_runtime *rt, uint64_t until, bool *gone,
		       struct pn_shutdown_report *r, uint64_t *mask)
{
	uint64_t swept;

	run_word(rt, WORD(PN_STAGE_JOIN, 0), until, gone, mask);
	*mask = 0;
	for (unsigned i = 0; i < rt->nthreads; i++)
		join_thread(rt, i, until, r, mask);
	/* Every thread joined (pthread_join orders its work before ours)
	 * is swept; an abandoned one may still run, so its queues are left
	 * alone and what it holds shows as in flight in the totals. */
	for (unsigned i = 0; i < rt->nthreads; i++)
		if (!rt->shard[i]->abandoned)
			sweep_shard(rt->shard[i], r);
	swept = r->dead_ring + r->dead_local + r->dead_overflow + r->dead_held;
	if (swept && rt->drain_failed)
		report_line(r,
			    "join: %llu message(s) dead-lettered (ring %llu, "
			    "local %llu, overflow %llu, held %llu)",
			    (unsigned long long)swept,
			    (unsigned long long)r->dead_ring,
			    (unsigned long long)r->dead_local,
			    (unsigned long long)r->dead_overflow,
			    (unsigned long long)r->dead_held);
}

static int stage_input(struct pn_runtime *rt, uint64_t until, bool *gone,
		       struct pn_shutdown_report *r, uint64_t *mask)
{
	int err;

	r->calls_inside = pn__gate_close(rt, until);
	err = run_word(rt, WORD(PN_STAGE_INPUT, 0), until, gone, mask);
	if (r->calls_inside) {
		report_line(r,
			    "input: %u external call(s) still inside the "
			    "runtime",
			    r->calls_inside);
		return -ETIMEDOUT;
	}
	return err;
}

static int run_stage(struct pn_runtime *rt, enum pn_stage st, uint64_t until,
		     bool *gone, struct pn_shutdown_report *r, uint64_t *mask)
{
	int err;

	*mask = 0;
	switch (st) {
	case PN_STAGE_INPUT:
		return stage_input(rt, until, gone, r, mask);
	case PN_STAGE_DRAIN:
		err = stage_drain(rt, until, gone, r, mask);
		rt->drain_failed = err != 0;
		return err;
	case PN_STAGE_STOP:
		return stage_stop(rt, until, gone, r, mask);
	case PN_STAGE_JOIN:
		stage_join(rt, until, gone, r, mask);
		return *mask ? -ETIMEDOUT : 0;
	default:
		return run_word(rt, WORD(st, 0), until, gone, mask);
	}
}

/* After the last stage: the actors left, the totals, the last callers. */
static void report_end(struct pn_runtime *rt, uint64_t deadline,
		       struct pn_shutdown_report *r)
{
	for (unsigned i = 0; i < rt->nshards; i++)
		r->actors_left += atomic_load_explicit(
			&rt->shard[i]->stats.v[PN__ST_ACTORS],
			memory_order_relaxed);
	if (r->actors_left)
		report_line(r, "%llu actor(s) could not be stopped",
			    (unsigned long long)r->actors_left);
	if (r->calls_inside)
		r->calls_inside = pn__gate_close(rt, deadline);
	pn_runtime_totals(rt, &r->totals);
}

int pn_runtime_shutdown(struct pn_runtime *rt, uint64_t timeout_ns,
			struct pn_shutdown_report *report)
{
	struct pn_shutdown_report local = {0};
	struct pn_shutdown_report *r = report ? report : &local;
	uint64_t deadline = pn_deadline_ns(pn_now_ns(), timeout_ns);
	bool *gone; /* shards given up on; NULL (no memory): wait for all */
	int result = 0;

	if (!rt)
		return pn__error(-EINVAL, "pn_runtime_shutdown: rt is NULL");
	memset(r, 0, sizeof(*r));
	for (int st = 0; st < PN_STAGE_COUNT; st++)
		r->stage[st].name = stage_name[st];
	if (rt->shut_down)
		return pn__error(-EALREADY, "runtime already shut down");
	rt->shut_down = true;
	if (!rt->running) { /* never started: just refuse external calls */
		r->calls_inside = pn__gate_close(rt, deadline);
		return 0;
	}
	gone = calloc(rt->nshards, sizeof(*gone));
	for (int st = 0; st < PN_STAGE_COUNT; st++) {
		uint64_t t0 = pn_now_ns();
		uint64_t until = min_u64(
			deadline, pn_deadline_ns(t0, rt->cfg.stage_ns[st]));
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
	report_end(rt, deadline, r);
	free(gone);
	rt->running = false;
	return result ? pn__error(result, "%s", r->text) : 0;
}

/* --- an actor's say in it ------------------------------------------------ */

static int defer_check(struct pn_ctx *ctx, const char *what,
		       struct pn_shard **sp)
{
	struct pn_shard *s = pn__shard(ctx);

	PN__CTX_CHECK(s, what);
	if (!s->cur)
		return pn__error(-EINVAL, "%s outside a handler", what);
	*sp = s;
	return 0;
}

int pn_shutdown_defer(struct pn_ctx *ctx)
{
	struct pn_shard *s = NULL;
	int err = defer_check(ctx, "pn_shutdown_defer", &s);
	int st;

	if (err < 0)
		return err;
	/* Acquire: the stage word as the controller published it. */
	st = atomic_load_explicit(&s->rt->stage, memory_order_acquire);
	if (st < 0 || PN__WORD_STAGE(st) > PN_STAGE_DRAIN)
		return pn__error(-EINVAL, "pn_shutdown_defer: only between "
					  "PN_MSG_SHUTDOWN and the stop "
					  "stage");
	if (s->cur->flags & PN__A_DEFER)
		return pn__error(-EALREADY, "pn_shutdown_defer: deferring");
	s->cur->flags |= PN__A_DEFER;
	/* Relaxed: the drain reads it only after a wave, which orders it. */
	atomic_fetch_add_explicit(&s->rt->deferring, 1, memory_order_relaxed);
	return 0;
}

int pn_shutdown_done(struct pn_ctx *ctx)
{
	struct pn_shard *s = NULL;
	int err = defer_check(ctx, "pn_shutdown_done", &s);

	if (err < 0)
		return err;
	if (!(s->cur->flags & PN__A_DEFER))
		return pn__error(-EINVAL, "pn_shutdown_done: not deferring");
	s->cur->flags &= ~PN__A_DEFER;
	/* Release: what the handler sent so far happens before the drain
	 * sees the count drop (its acquire load). */
	atomic_fetch_sub_explicit(&s->rt->deferring, 1, memory_order_release);
	return 0;
}
