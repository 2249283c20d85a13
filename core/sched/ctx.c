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

uint64_t pn__clock_mono(void *arg)
{
	(void)arg;
	return pn_now_ns();
}

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
	return pn__now(s->rt);
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
