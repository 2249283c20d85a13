// SPDX-License-Identifier: MIT
/*
 * The scheduler's public odds and ends: a handler's view of its shard
 * (pn_self(), pn_shard(), the clock, the ring, io's per-shard data and
 * delivery), the io back-end's registration, each shard's statistics and
 * the runtime's message totals, and pn_runtime_wait()/notify(), the queue
 * of codes actors hand to threads outside.
 */
#include "sched_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Make room for one more code (under the mutex). False: no memory. */
static bool waitq_room(struct pn__waitq *q)
{
	unsigned cap = q->cap ? q->cap * 2 : 64;
	int *codes;

	if (q->tail - q->head < q->cap)
		return true;
	codes = malloc(cap * sizeof(*codes));
	if (!codes)
		return false;
	for (unsigned i = 0; i < q->tail - q->head; i++)
		codes[i] = q->codes[(q->head + i) & (q->cap - 1)];
	q->tail -= q->head;
	q->head = 0;
	free(q->codes);
	q->codes = codes;
	q->cap = cap;
	return true;
}

void pn_runtime_notify(struct pn_runtime *rt, int code)
{
	struct pn__waitq *q = &rt->waitq;

	pthread_mutex_lock(&q->mu);
	/* Not a hot path; a code is never dropped while memory lasts. */
	if (!waitq_room(q))
		pn_panic("no memory to queue a pn_runtime_notify code");
	q->codes[q->tail++ & (q->cap - 1)] = code;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

int pn_runtime_wait(struct pn_runtime *rt, uint64_t timeout_ns, int *code)
{
	struct pn__waitq *q = &rt->waitq;
	uint64_t end = pn_deadline_ns(pn_now_ns(), timeout_ns);
	struct timespec ts = {.tv_sec = (time_t)(end / 1000000000u),
			      .tv_nsec = (long)(end % 1000000000u)};
	int err = 0;

	/* Inside the gate in any phase: queued codes are handed out even
	 * after shutdown; an empty queue then answers -ESHUTDOWN. */
	pn__gate_enter(rt, &rt->ext_inside, true, true, "pn_runtime_wait");
	pthread_mutex_lock(&q->mu);
	/* The closer broadcasts cv under mu after it stores the phase. */
	while (q->head == q->tail && err == 0 && !pn__rt_closing(rt)) {
		if (end == UINT64_MAX)
			pthread_cond_wait(&q->cv, &q->mu);
		else
			err = pthread_cond_timedwait(&q->cv, &q->mu, &ts);
	}
	if (q->head != q->tail) {
		int c = q->codes[q->head++ & (q->cap - 1)];

		if (code)
			*code = c;
		err = 0;
	} else if (pn__rt_closing(rt)) {
		err = -ESHUTDOWN;
	} else {
		err = -ETIMEDOUT;
	}
	pthread_mutex_unlock(&q->mu);
	pn__gate_leave(rt, &rt->ext_inside, true);
	if (err == -ESHUTDOWN)
		return pn__error(err, "pn_runtime_wait: the runtime is shut "
				      "down or shutting down");
	return err ? pn__error(-ETIMEDOUT, "pn_runtime_wait timed out") : 0;
}

static uint64_t st_get(const struct pn_shard *s, unsigned i)
{
	/* Relaxed: owner-written counters; a snapshot orders nothing. */
	return atomic_load_explicit(&s->stats.v[i], memory_order_relaxed);
}

/* a - b, or 0: parts of a snapshot read at different moments. */
static uint64_t sub0(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

int pn_runtime_stats(const struct pn_runtime *rt, unsigned shard,
		     struct pn_shard_stats *out)
{
	const struct pn_shard *s;
	uint64_t moved;

	if (!out || shard >= rt->nshards)
		return pn__error(-EINVAL, "no shard %u (%u shards)", shard,
				 rt->nshards);
	s = rt->shard[shard];
	moved = st_get(s, PN__ST_MOVED);
	/* The accounting identities of core_int.h, per shard. */
	*out = (struct pn_shard_stats){
		.handled = sub0(st_get(s, PN__ST_DISPATCHED) +
					st_get(s, PN__ST_SIDE_OUT),
				moved + st_get(s, PN__ST_DEAD)),
		.sent_local = st_get(s, PN__ST_SENT_LOCAL),
		.sent_remote = st_get(s, PN__ST_SENT_REMOTE),
		.received_ext = st_get(s, PN__ST_RECV_EXT),
		.overflowed = st_get(s, PN__ST_OVERFLOWED),
		.eagain = st_get(s, PN__ST_EAGAIN),
		.overflow_bytes = st_get(s, PN__ST_OVERFLOW_BYTES),
		.dead_letters = st_get(s, PN__ST_DEAD),
		.late_replies = st_get(s, PN__ST_LATE),
		.timers_fired = st_get(s, PN__ST_TIMERS),
		.parks = st_get(s, PN__ST_PARKS),
		.wakes_sent = st_get(s, PN__ST_WAKES),
		.spawned = st_get(s, PN__ST_SPAWNED),
		.stopped = st_get(s, PN__ST_STOPPED),
		.actors = st_get(s, PN__ST_ACTORS),
		.accepted = sub0(st_get(s, PN__ST_SENT_LOCAL) +
					 st_get(s, PN__ST_SENT_REMOTE) +
					 st_get(s, PN__ST_SIDE_IN),
				 moved),
		.forwarded = moved,
	};
	return 0;
}

int pn_runtime_totals(const struct pn_runtime *rt,
		      struct pn_runtime_totals *out)
{
	uint64_t in = 0, out_q = 0, moved = 0, dead = 0;
	uint64_t inj = pn__producers_sent(rt);

	if (!out)
		return pn__error(-EINVAL, "pn_runtime_totals: out is NULL");
	/* The identities of core_int.h over the whole runtime, from the raw
	 * counters: a message moved on one shard may end on another, so the
	 * per-shard figures only add up in sum. */
	for (unsigned i = 0; i < rt->nshards; i++) {
		const struct pn_shard *s = rt->shard[i];

		in += st_get(s, PN__ST_SENT_LOCAL) +
		      st_get(s, PN__ST_SENT_REMOTE) + st_get(s, PN__ST_SIDE_IN);
		out_q += st_get(s, PN__ST_DISPATCHED) +
			 st_get(s, PN__ST_SIDE_OUT);
		moved += st_get(s, PN__ST_MOVED);
		dead += st_get(s, PN__ST_DEAD);
	}
	*out = (struct pn_runtime_totals){
		.accepted = sub0(in + inj, moved),
		.handled = sub0(out_q, moved + dead),
		.dead_letters = dead,
		.injected = inj,
	};
	out->in_flight = sub0(out->accepted, out->handled + dead);
	return 0;
}

int pn_poller_register(struct pn_runtime *rt, const struct pn_poller *p)
{
	if (rt->running || rt->has_poller)
		return pn__error(-EBUSY, "poller: runtime started or a poller "
					 "is registered already");
	if (!p || !p->complete)
		return pn__error(-EINVAL, "poller without a complete hook");
	rt->poller = *p;
	rt->has_poller = true;
	return 0;
}

pn_pid pn_self(const struct pn_ctx *ctx)
{
	const struct pn_shard *s = pn__shard_c(ctx);

	return s->cur ? s->cur->pid : PN_PID_NONE;
}

unsigned pn_shard(const struct pn_ctx *ctx)
{
	const struct pn_shard *s = pn__shard_c(ctx);

	return s->id;
}

struct pn_runtime *pn_ctx_runtime(const struct pn_ctx *ctx)
{
	const struct pn_shard *s = pn__shard_c(ctx);

	return s->rt;
}

uint64_t pn_ctx_now_ns(const struct pn_ctx *ctx)
{
	const struct pn_shard *s = pn__shard_c(ctx);

	(void)s;
	return pn_now_ns();
}

struct io_uring *pn_ctx_ring(struct pn_ctx *ctx)
{
	struct pn_shard *s = pn__shard(ctx);

	return &s->ring;
}

void pn_ctx_set_poller_data(struct pn_ctx *ctx, void *data)
{
	struct pn_shard *s = pn__shard(ctx);

	s->poller_data = data;
}

void *pn_ctx_poller_data(const struct pn_ctx *ctx)
{
	const struct pn_shard *s = pn__shard_c(ctx);

	return s->poller_data;
}

int pn_ctx_deliver(struct pn_ctx *ctx, pn_pid to, uint32_t type,
		   const void *data, size_t len)
{
	struct pn_shard *s = pn__shard(ctx);

	PN__CTX_CHECK(s, "pn_ctx_deliver");
	if (type >= PN_MSG_SYS &&
	    (type < PN_MSG_IO || type > PN_MSG_IO + 0xfff))
		return pn__error(-EINVAL,
				 "pn_ctx_deliver: type %#x is neither "
				 "an application nor an io type",
				 type);
	return pn__send(s, to, type, PN_PID_NONE, 0, data, len);
}

/* The name of a stop reason (PN_REASON_*). Any thread. */
const char *pn_reason_name(int reason)
{
	static const char *const names[] = {
		"normal", "failed",   "killed", "linked",
		"noproc", "shutdown", "init",
	};

	if (reason < 0 || (unsigned)reason >= sizeof(names) / sizeof(*names))
		return "unknown";
	return names[reason];
}
