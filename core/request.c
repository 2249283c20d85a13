// SPDX-License-Identifier: MIT
/*
 * Request/reply and the public timer calls. A request takes an entry in
 * its shard's table of outstanding requests; the correlation id (msg->ref)
 * is the entry's index and generation, so a reply finds its entry in O(1)
 * and a late reply (after the timeout freed or reused the entry) is
 * recognised and dropped. Each request arms one timer carrying its
 * PN_MSG_TIMEOUT; whichever of reply and timer comes first frees the entry
 * and cancels the other, so exactly one reaches the requester.
 */
#include "core_int.h"

#include <errno.h>

struct req {
	uint32_t gen;	/* odd: in use */
	uint32_t next;	/* free list, index + 1 */
	uint64_t timer; /* the timeout's timer id */
};

struct pn__reqs {
	struct req *v;
	uint32_t cap;
	uint32_t free; /* index + 1 of the first free entry, 0: none */
};

int pn__reqs_create(struct pn_ctx *s)
{
	s->reqs = pn_arena_zalloc(s->arena, sizeof(*s->reqs));
	return s->reqs ? 0 : pn__error(-ENOMEM, "no memory for requests");
}

void pn__reqs_destroy(struct pn_ctx *s)
{
	if (!s->reqs)
		return;
	pn_arena_free(s->arena, s->reqs->v, s->reqs->cap * sizeof(struct req));
	pn_arena_free(s->arena, s->reqs, sizeof(*s->reqs));
	s->reqs = NULL;
}

static int req_grow(struct pn_ctx *s)
{
	struct pn__reqs *q = s->reqs;
	uint32_t cap = q->cap ? q->cap * 2 : 64;
	struct req *v;

	if (cap > (1u << 30))
		return pn__error(-ENOSPC, "too many outstanding requests");
	v = pn_arena_zalloc(s->arena, cap * sizeof(*v));
	if (!v)
		return pn__error(-ENOMEM, "no memory for requests");
	if (q->cap)
		memcpy(v, q->v, q->cap * sizeof(*v));
	for (uint32_t i = cap; i-- > q->cap;) { /* new entries, free */
		v[i].next = q->free;
		q->free = i + 1;
	}
	pn_arena_free(s->arena, q->v, q->cap * sizeof(*v));
	q->v = v;
	q->cap = cap;
	return 0;
}

static uint64_t ref_of(uint32_t idx, uint32_t gen)
{
	return ((uint64_t)idx << 32) | gen; /* bit 63 clear: idx < 2^30 */
}

/* The entry @ref names, if it is still outstanding. */
static struct req *req_find(struct pn_ctx *s, uint64_t ref)
{
	uint32_t idx = (uint32_t)((ref & ~PN__REF_REPLY) >> 32);
	struct pn__reqs *q = s->reqs;

	if (idx >= q->cap || q->v[idx].gen != (uint32_t)ref ||
	    !(q->v[idx].gen & 1))
		return NULL;
	return &q->v[idx];
}

static void req_free(struct pn_ctx *s, struct req *r)
{
	uint32_t idx = (uint32_t)(r - s->reqs->v);

	r->gen++; /* even: free; the old ref no longer matches */
	r->next = s->reqs->free;
	s->reqs->free = idx + 1;
}

int pn_request(struct pn_ctx *ctx, pn_pid to, uint32_t type, const void *data,
	       size_t len, uint64_t timeout_ns, uint64_t *ref)
{
	struct pn__reqs *q = ctx->reqs;
	struct pn_msg tmo = {.type = PN_MSG_TIMEOUT};
	struct req *r;
	uint64_t id;
	int err;

	if (!ctx->cur || timeout_ns == 0 || type >= PN_MSG_SYS)
		return pn__error(-EINVAL, "pn_request: needs a handler, a "
					  "timeout and an application type");
	if (!q->free && (err = req_grow(ctx)) < 0)
		return err;
	r = &q->v[q->free - 1];
	q->free = r->next;
	r->gen += (r->gen & 1) ? 2 : 1; /* odd: in use, and new */
	tmo.to = ctx->cur->pid;		/* from: none, as for every timer */
	tmo.ref = ref_of((uint32_t)(r - q->v), r->gen);
	err = pn__timers_arm(ctx->timers, pn_now_ns(), timeout_ns, 0, &tmo,
			     &id);
	if (err == 0) {
		err = pn__send(ctx, to, type, ctx->cur->pid, tmo.ref, data,
			       len);
		if (err < 0)
			pn__timers_cancel(ctx->timers, id);
	}
	if (err < 0) {
		req_free(ctx, r);
		return err;
	}
	r->timer = id;
	if (ref)
		*ref = tmo.ref;
	return 0;
}

int pn_reply(struct pn_ctx *ctx, const struct pn_msg *req, uint32_t type,
	     const void *data, size_t len)
{
	if (!req->ref || (req->ref & PN__REF_REPLY) || !req->from)
		return pn__error(-EINVAL, "pn_reply: not a request");
	if (type >= PN_MSG_SYS)
		return pn__error(-EINVAL, "pn_reply: type %#x is reserved",
				 type);
	return pn__send(ctx, req->from, type,
			ctx->cur ? ctx->cur->pid : PN_PID_NONE,
			req->ref | PN__REF_REPLY, data, len);
}

/* A reply arrived: true if its request is still outstanding. */
bool pn__reply_accept(struct pn_ctx *s, const struct pn_msg *m)
{
	struct req *r = req_find(s, m->ref);

	if (!r)
		return false;
	pn__timers_cancel(s->timers, r->timer);
	req_free(s, r);
	return true;
}

/*
 * A timer is due: deliver its message to its owner, if still alive. The
 * owner's slot still carrying its generation means alive, or started but
 * not yet given its STARTED (actor.c): then the message waits for it like
 * any early one, instead of being lost. A freed slot has a new generation.
 */
void pn__timer_fire(void *arg, const struct pn_msg *m, uint64_t id)
{
	struct pn_ctx *s = arg;
	struct pn__slot *owner = &s->slots[pn_pid_slot(m->to)];
	struct pn_msg *slot;

	if (m->type == PN_MSG_TIMEOUT) {
		struct req *r = req_find(s, m->ref);

		if (!r)
			return;
		req_free(s, r);
	}
	if (atomic_load_explicit(&owner->gen, memory_order_relaxed) !=
	    pn_pid_gen(m->to)) {
		pn__timers_cancel(s->timers, id); /* periodic: stop it */
		return;
	}
	slot = pn__fifo_slot(&s->local, s->arena);
	if (!slot)
		pn_panic("no memory to deliver a timer");
	*slot = *m;
	pn__fifo_commit(&s->local);
	PN__STAT_ADD(s, PN__ST_TIMERS, 1);
}

static int timer_arm(struct pn_ctx *ctx, uint64_t delay, uint64_t period,
		     uint32_t type, const void *data, size_t len, uint64_t *id)
{
	struct pn_msg m = {.type = type, .len = (uint32_t)len};
	uint64_t tid;
	int err;

	if (!ctx->cur || type >= PN_MSG_SYS)
		return pn__error(-EINVAL, "timer: needs a handler and an "
					  "application type");
	if (len > PN_MSG_INLINE)
		return pn__error(-EMSGSIZE,
				 "timer payload of %zu bytes (at "
				 "most %d)",
				 len, PN_MSG_INLINE);
	m.to = ctx->cur->pid; /* from: none (pn_msg.h) */
	if (len)
		memcpy(m.data, data, len);
	err = pn__timers_arm(ctx->timers, pn_now_ns(), delay, period, &m, &tid);
	if (err == 0 && id)
		*id = tid;
	return err;
}

int pn_send_after(struct pn_ctx *ctx, uint64_t delay_ns, uint32_t type,
		  const void *data, size_t len, uint64_t *id)
{
	return timer_arm(ctx, delay_ns, 0, type, data, len, id);
}

int pn_send_every(struct pn_ctx *ctx, uint64_t period_ns, uint32_t type,
		  const void *data, size_t len, uint64_t *id)
{
	if (period_ns == 0)
		return pn__error(-EINVAL, "pn_send_every: period 0");
	return timer_arm(ctx, period_ns, period_ns, type, data, len, id);
}

int pn_timer_cancel(struct pn_ctx *ctx, uint64_t id)
{
	int err = pn__timers_cancel(ctx->timers, id);

	return err ? pn__error(err, "timer %#llx: not armed",
			       (unsigned long long)id)
		   : 0;
}
