// SPDX-License-Identifier: MIT
/*
 * The send path: routing a message to the local queue or to the ring for
 * its destination shard, the per-destination overflow queues behind full
 * rings and their byte budget, batched publishing of ring tails (with the
 * doorbell and wake-up), and the pool buffers that carry large payloads.
 *
 * Nothing here allocates in the steady state: inline payloads are written
 * straight into the ring slot or local-queue chunk; the local queue and
 * overflow queues keep their chunks; large-payload pools keep their objects.
 *
 * Congestion. Runtime messages are exempt from the overflow budget (they
 * must not be lost), and so are the messages a home forwards to where a
 * migrated actor lives: they were accepted already. So a shard's overflow
 * can grow past its budget only through them; it then sets its published
 * congested flag (read by every sender: news that must not wait behind
 * the backlog it is about), and the other shards refuse their budgeted
 * sends to it with -EAGAIN, as its own actors' sends to its moved-away
 * actors are refused, until its overflow is back under half its budget;
 * then it clears the flag and tells them (PN__MSG_FLOW), so that senders
 * waiting for PN_MSG_WRITABLE get it.
 * That bounds a home's forwarding backlog by its budget plus what was
 * already on its way to it, and pushes back on the senders as a slow
 * actor at home would (its shard would drain its rings more slowly). No
 * shard ever stops draining a ring for it, so it cannot deadlock.
 */
#include "sched_int.h"

#include <errno.h>
#include <stdlib.h>

/* Publish a ring once this many slots are committed, even mid-batch. */
#define PN__PUBLISH_EVERY 32

/* Whether @pid, one of this shard's own, has a stand-in in its slot (a
 * feature's, such as the forwarder of an actor living elsewhere now). */
static bool slot_standin(const struct pn_shard *s, pn_pid pid)
{
	uint32_t idx = pn_pid_slot(pid);
	const struct pn__actor *a =
		idx < s->max_slots ? s->slots[idx].actor : NULL;

	return a && (a->flags & PN__A_FWD);
}

/* A budgeted send refused: -EAGAIN, counted, with the reason. */
static int eagain(struct pn_shard *s, unsigned dst)
{
	PN__STAT_ADD(s, PN__ST_EAGAIN, 1);
	pn__met_event(&s->met, PN__FL_EAGAIN, 0, 0, s->overflow_bytes);
	if (dst == s->id || pn__out_congested(&s->out[dst]))
		return pn__error(-EAGAIN,
				 "shard %u is congested (its overflow is over "
				 "budget)",
				 dst);
	return pn__error(-EAGAIN,
			 "overflow budget of shard %u is full (%llu bytes)",
			 s->id, (unsigned long long)s->rt->cfg.overflow_bytes);
}

/*
 * Reserve the slot a message to shard @dst goes into: the local queue,
 * the ring, or (ring full, or older messages already waiting) the
 * overflow queue, @exempt from the overflow budget or not (runtime
 * messages, forwards: they must not be lost). Returns 0 with *@r filled,
 * or -EAGAIN (over budget, or @dst congested), -ENOMEM. Then commit
 * exactly that reservation (pn__msg_commit()) before any other send.
 */
int pn__msg_reserve(struct pn_shard *s, unsigned dst, uint32_t len, bool exempt,
		    struct pn__res *r)
{
	struct pn__out *o;

	if (dst == s->id) {
		*r = (struct pn__res){pn__fifo_slot(&s->local, s->arena), 0,
				      PN__RES_LOCAL};
		return PN_LIKELY(r->m) ? 0
				       : pn__error(-ENOMEM, "no memory for the "
							    "local queue");
	}
	o = &s->out[dst];
	if (PN_UNLIKELY(pn__out_congested(o)) && !exempt)
		return eagain(s, dst);
	if (PN_LIKELY(!pn__fifo_len(&o->overflow))) {
		*r = (struct pn__res){pn_ring_slot(o->ring), 0, PN__RES_RING};
		if (PN_LIKELY(r->m != NULL))
			return 0;
	}
	*r = (struct pn__res){NULL, pn__msg_cost(len), PN__RES_OVERFLOW};
	if (s->overflow_bytes + r->cost > s->rt->cfg.overflow_bytes && !exempt)
		return eagain(s, dst);
	if (!(r->m = pn__fifo_slot(&o->overflow, s->arena)))
		return pn__error(-ENOMEM, "no memory for the overflow queue");
	return 0;
}

static void mark_dirty(struct pn_shard *s, unsigned dst)
{
	struct pn__out *o = &s->out[dst];

	if (!o->dirty) {
		o->dirty = true;
		s->dirty[s->ndirty++] = dst;
	}
}

/* Publish one outbound ring and ring the destination's doorbell. */
static void publish(struct pn_shard *s, unsigned dst)
{
	struct pn_ring *r = s->out[dst].ring;

	/* The features that watch traffic: per batch, never per message. */
	pn__features_publish(s, dst, pn_ring_unpublished(r),
			     &r->pslot[(r->ptail - 1) & r->pmask]);
	pn__met_sent(&s->met, dst, pn_ring_unpublished(s->out[dst].ring));
	pn_ring_publish(s->out[dst].ring);
	pn__source_publish(s->rt, s->rt->shard[dst], s->id, s);
}

/* The three commits: a message written into the slot its reservation
 * named is now sent. */
static inline void commit_local(struct pn_shard *s)
{
	pn__fifo_commit(&s->local);
	s->n_sent_local++;
}

static inline void commit_ring(struct pn_shard *s, unsigned dst)
{
	struct pn_ring *r = s->out[dst].ring;

	pn_ring_commit(r);
	mark_dirty(s, dst);
	if (pn_ring_unpublished(r) >= PN__PUBLISH_EVERY)
		publish(s, dst);
	s->n_sent_remote++;
}

static void commit_overflow(struct pn_shard *s, unsigned dst, uint64_t cost)
{
	pn__fifo_commit(&s->out[dst].overflow);
	s->overflow_bytes += cost;
	s->overflowing = true;
	PN__STAT_ADD(s, PN__ST_OVERFLOWED, 1);
	PN__STAT_ADD(s, PN__ST_OVERFLOW_BYTES, cost);
	s->n_sent_remote++;
}

void pn__msg_commit(struct pn_shard *s, unsigned dst, const struct pn__res *r)
{
	if (r->kind == PN__RES_LOCAL)
		commit_local(s);
	else if (PN_LIKELY(r->kind == PN__RES_RING))
		commit_ring(s, dst);
	else
		commit_overflow(s, dst, r->cost);
}

/* The general send (pn__send(), pn__send_sys()): @exempt from the
 * overflow budget or not. */
static int send_any(struct pn_shard *s, pn_pid to, uint32_t type, pn_pid from,
		    uint64_t ref, const void *data, size_t len, bool exempt)
{
	unsigned dst = pn_pid_shard(to);
	struct pn__fifo *held = NULL;
	struct pn__res r = {NULL, 0, PN__RES_LOCAL};
	struct pn_msg *m;
	void *buf = NULL;
	int err = 0;

	if (PN_UNLIKELY(to == PN_PID_NONE || dst >= s->nshards))
		return pn__error(-EINVAL, "send to invalid pid %#llx",
				 (unsigned long long)to);
	if (PN_UNLIKELY(!data && len))
		return pn__error(-EINVAL, "send: %zu-byte payload at NULL",
				 len);
	/* A feature redirects sends from here (an actor that lives here
	 * away from home: straight to it). */
	if (PN_UNLIKELY(s->route != NULL) && dst != s->id)
		dst = s->route->dst(s, to, &held);
	/* Congested: sends to our own actors that live elsewhere now would
	 * only add to the forwarding that congests us. */
	if (PN_UNLIKELY(s->congested) && dst == s->id && !held && !exempt &&
	    slot_standin(s, to))
		return eagain(s, dst);
	if (PN_UNLIKELY(len > PN_MSG_INLINE)) {
		if (len > PN_MSG_MAX)
			return pn__error(-EMSGSIZE,
					 "payload of %zu bytes is "
					 "over PN_MSG_MAX",
					 len);
		buf = pn__buf_alloc(s, len);
		if (!buf)
			return pn__error(-ENOMEM,
					 "no memory for a %zu-byte "
					 "payload",
					 len);
		memcpy(buf, data, len);
	}
	if (held)
		err = (m = pn__fifo_slot(held, s->arena)) != NULL
			      ? 0
			      : pn__error(-ENOMEM, "no memory");
	else if ((err = pn__msg_reserve(s, dst, (uint32_t)len, exempt, &r)) ==
		 0)
		m = r.m;
	if (PN_UNLIKELY(err < 0)) {
		if (buf)
			pn__buf_free(s, buf);
		return err;
	}
	m->type = type;
	m->len = (uint32_t)len;
	m->to = to;
	m->from = from;
	m->ref = ref;
	if (buf)
		m->ptr = buf;
	else if (len)
		memcpy(m->data, data, len);
	PN_PROBE4(send, m->from, m->to, m->type, dst);
	/* For the sender's next move (migrate.c): where this went; a held
	 * send may yet go to the guest here or to its home. */
	if (s->cur)
		s->cur->sent_to |= 1ull << (dst & 63) |
				   (held ? 1ull << (pn_pid_shard(to) & 63) : 0);
	if (held) {
		pn__fifo_commit(held);
		pn__acct_side_in(s, m);
	} else {
		pn__msg_commit(s, dst, &r);
	}
	return 0;
}

int pn__send(struct pn_shard *s, pn_pid to, uint32_t type, pn_pid from,
	     uint64_t ref, const void *data, size_t len)
{
	return send_any(s, to, type, from, ref, data, len, false);
}

int pn__send_sys(struct pn_shard *s, pn_pid to, uint32_t type, pn_pid from,
		 uint64_t ref, const void *data, size_t len)
{
	return send_any(s, to, type, from, ref, data, len, true);
}

/*
 * While a feature routes this shard's sends (an actor homed elsewhere
 * lives here): one that takes messages directly gets them in the local
 * queue (*@dst becomes this shard), without asking the feature; for any
 * other the feature's slot hook decides.
 */
static inline __attribute__((always_inline)) struct pn_msg *
route_slot(struct pn_shard *s, pn_pid to, unsigned *dst)
{
	struct pn_msg *m;

	if (!pn__direct_find(s, to))
		return s->route->slot(s, to, dst);
	if ((m = pn__fifo_slot_fast(&s->local)))
		*dst = s->id;
	return m;
}

/*
 * Whether @to, a PID of this shard's own, is known dead: its slot has moved
 * on to another generation. The owner is the only thread that frees its
 * slots (and bumps their generations), so it never sees an old one; a
 * slot another thread has just reserved fresh may still read 0 here (its
 * first generation not yet visible), and so does a retired slot: 0 is
 * left to the dispatch, which makes it a dead letter or an early message.
 * The load is of the slot entry the dispatch reads next on this same
 * thread: one compare on the fast path, and no extra cache miss.
 */
static inline bool local_dead(const struct pn_shard *s, pn_pid to)
{
	uint32_t idx = pn_pid_slot(to), g;

	if (PN_UNLIKELY(idx >= s->max_slots))
		return true;
	/* Relaxed: only this thread stores a generation other than a fresh
	 * slot's first (slots.c); see above for that one. */
	g = atomic_load_explicit(&s->slots[idx].gen, memory_order_relaxed);
	if (PN_LIKELY(g == pn_pid_gen(to)))
		return false;
	return g != 0;
}

/* pn_send() to a dead local PID: refused, nothing counted as sent. */
static int __attribute__((noinline)) dead_pid(pn_pid to)
{
	return pn__error(-ESRCH,
			 "send to %#llx: that actor of this shard has stopped",
			 (unsigned long long)to);
}

/*
 * The fast path: an inline payload to the local queue or to a ring with
 * room and nothing waiting in overflow (and no migrated actor living on
 * this shard: then pn__send() checks for it). Always inlined, so
 * pn_send_u64()'s constant length turns the copy into one store. Anything else
 * goes the general way (pn__send).
 */
static inline __attribute__((always_inline)) int
send_fast(struct pn_shard *s, pn_pid to, uint32_t type, const void *data,
	  size_t len)
{
	struct pn__actor *cur = s->cur;
	pn_pid from = cur ? cur->pid : PN_PID_NONE;
	unsigned dst = pn_pid_shard(to);
	struct pn_msg *m = NULL;

	if (PN_LIKELY(len <= PN_MSG_INLINE && to != PN_PID_NONE)) {
		if (dst == s->id) {
			if (PN_UNLIKELY(local_dead(s, to)))
				return dead_pid(to);
			if (PN_LIKELY(!s->congested))
				m = pn__fifo_slot_fast(&s->local);
		} else if (PN_LIKELY(dst < s->nshards &&
				     !pn__fifo_len(&s->out[dst].overflow) &&
				     !pn__out_congested(&s->out[dst]))) {
			m = PN_LIKELY(!s->route)
				    ? pn_ring_slot(s->out[dst].ring)
				    : route_slot(s, to, &dst);
		}
	}
	if (PN_UNLIKELY(!m)) {
		if (dst == s->id && to != PN_PID_NONE && local_dead(s, to))
			return dead_pid(to); /* a large payload, or congested */
		return pn__send(s, to, type, from, 0, data, len);
	}
	m->type = type;
	m->len = (uint32_t)len;
	m->to = to;
	m->from = from;
	m->ref = 0;
	if (len) /* data may be NULL when len is 0 */
		memcpy(m->data, data, len);
	pn__met_send(&s->met, m, len); /* may stamp it for sampling */
	PN_PROBE4(send, m->from, m->to, m->type, dst);
	if (PN_LIKELY(cur != NULL)) /* what its next move fences */
		cur->sent_to |= 1ull << (dst & 63);
	if (dst == s->id)
		commit_local(s);
	else
		commit_ring(s, dst);
	return 0;
}

int pn_send(struct pn_ctx *ctx, pn_pid to, uint32_t type, const void *data,
	    size_t len)
{
	struct pn_shard *s = pn__shard(ctx);

	PN__CTX_CHECK(s, "pn_send");
	if (PN_UNLIKELY(type >= PN_MSG_SYS))
		return pn__error(-EINVAL,
				 "message type %#x is reserved for "
				 "the runtime",
				 type);
	if (PN_UNLIKELY(!data && len))
		return pn__error(-EINVAL, "pn_send: %zu-byte payload at NULL",
				 len);
	return send_fast(s, to, type, data, len);
}

int pn_send_u64(struct pn_ctx *ctx, pn_pid to, uint32_t type, uint64_t v)
{
	struct pn_shard *s = pn__shard(ctx);

	PN__CTX_CHECK(s, "pn_send_u64");
	if (PN_UNLIKELY(type >= PN_MSG_SYS))
		return pn__error(-EINVAL,
				 "message type %#x is reserved for "
				 "the runtime",
				 type);
	return send_fast(s, to, type, &v, sizeof(v));
}

/* Publish every ring written since the last flush; send queued wakes. */
void pn__flush(struct pn_shard *s)
{
	for (unsigned i = 0; i < s->ndirty; i++) {
		unsigned dst = s->dirty[i];
		struct pn__out *o = &s->out[dst];

		o->dirty = false;
		if (pn_ring_unpublished(o->ring))
			publish(s, dst);
	}
	s->ndirty = 0;
	if (s->nwake)
		pn__flush_wakes(s);
}

/*
 * Send the queued wake-ups: one IORING_OP_MSG_RING each, one submit. A
 * wake-up the ring cannot take (no SQE, a failed submit) goes through
 * the target's eventfd instead: a claimed wake-up is never dropped (a
 * duplicate, should the SQE still go out later, is harmless).
 */
void pn__flush_wakes(struct pn_shard *s)
{
	bool queued = false;

	for (unsigned i = 0; i < s->nwake; i++) {
		struct pn_shard *dst = s->rt->shard[s->wake[i]];
		struct io_uring_sqe *sqe = pn__sqe(s);

		if (!sqe) {
			pn__wake_external(dst);
			s->wake[i] = UINT32_MAX; /* done */
			continue;
		}
		/* The target sees a CQE carrying PN__CQE_WAKE; we want no
		 * CQE for our side when it succeeds. */
		io_uring_prep_msg_ring(sqe, dst->ring_fd, 0, PN__CQE_WAKE, 0);
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
		sqe->user_data = PN__CQE_WAKE_SENT;
		queued = true;
	}
	if (queued && io_uring_submit(&s->ring) < 0)
		for (unsigned i = 0; i < s->nwake; i++)
			if (s->wake[i] != UINT32_MAX)
				pn__wake_external(s->rt->shard[s->wake[i]]);
	PN__STAT_ADD(s, PN__ST_WAKES, s->nwake);
	s->nwake = 0;
}

/* Move what fits from one overflow queue into its ring, in order. */
static unsigned overflow_move(struct pn_shard *s, unsigned dst)
{
	struct pn__out *o = &s->out[dst];
	struct pn_msg *m, *slot;
	unsigned n = 0;

	while ((m = pn__fifo_peek(&o->overflow)) &&
	       (slot = pn_ring_slot(o->ring))) {
		*slot = *m;
		pn_ring_commit(o->ring);
		s->overflow_bytes -= pn__msg_cost(m->len);
		pn__fifo_pop(&o->overflow, s->arena);
		n++;
	}
	if (n)
		mark_dirty(s, dst);
	return n;
}

/* Whether budgeted sends from here would pass again: our overflow under
 * half its budget and no destination congested. */
static bool writable(const struct pn_shard *s)
{
	if (s->overflow_bytes > s->rt->cfg.overflow_bytes / 2)
		return false;
	for (unsigned d = 0; d < s->nshards; d++)
		if (d != s->id && pn__out_congested(&s->out[d]))
			return false;
	return true;
}

static void notify_writable(struct pn_shard *s)
{
	for (uint32_t i = 0; i < s->writable.n; i++)
		pn__send(s, s->writable.v[i], PN_MSG_WRITABLE, PN_PID_NONE, 0,
			 NULL, 0);
	s->writable.n = 0;
}

/* Tell every other shard we are no longer congested (exempt sends):
 * senders waiting for PN_MSG_WRITABLE because of us get it. */
static void flow_tell_clear(struct pn_shard *s)
{
	struct pn_msg m = {.type = PN__MSG_FLOW, .ref = s->id};

	for (unsigned d = 0; d < s->nshards; d++) {
		struct pn__res r;

		if (d == s->id)
			continue;
		if (pn__msg_reserve(s, d, m.len, true, &r) < 0)
			pn_panic("cannot send a flow message: %s",
				 pn_last_error());
		*r.m = m;
		pn__msg_commit(s, d, &r);
	}
}

/* Congested when what waits here (overflow and side queues) is over the
 * budget, clear again under half of it (hysteresis, so that a shard at
 * its limit does not flood the others with news). Every turn with
 * either non-empty (shard.c). */
void pn__flow_update(struct pn_shard *s)
{
	uint64_t budget = s->rt->cfg.overflow_bytes;
	uint64_t held = s->overflow_bytes + s->side_bytes;

	/* What the budget weighs, for the stats (owner-written). */
	atomic_store_explicit(&s->stats.v[PN__ST_OVERFLOW_BYTES], held,
			      memory_order_relaxed);
	if (!s->congested && held > budget) {
		s->congested = true;
		/* Relaxed: a hint; a send racing the change may go either
		 * way, the bound allows for what is on its way. */
		atomic_store_explicit(&s->congested_pub, true,
				      memory_order_relaxed);
	} else if (s->congested && held <= budget / 2) {
		s->congested = false;
		atomic_store_explicit(&s->congested_pub, false,
				      memory_order_relaxed);
		flow_tell_clear(s);
	}
}

/* PN__MSG_FLOW: a destination is no longer congested. */
void pn__flow_msg(struct pn_shard *s, const struct pn_msg *m)
{
	(void)m;
	if (s->writable.n && writable(s))
		notify_writable(s);
}

/* Called each loop iteration while any overflow queue is non-empty. */
unsigned pn__overflow_drain(struct pn_shard *s)
{
	unsigned n = 0;
	bool left = false;

	for (unsigned d = 0; d < s->nshards; d++) {
		if (!pn__fifo_len(&s->out[d].overflow))
			continue;
		n += overflow_move(s, d);
		left |= pn__fifo_len(&s->out[d].overflow) != 0;
	}
	s->overflowing = left;
	pn__flow_update(s);
	if (s->writable.n && writable(s))
		notify_writable(s);
	return n;
}

int pn_notify_writable(struct pn_ctx *ctx)
{
	struct pn_shard *s = pn__shard(ctx);

	PN__CTX_CHECK(s, "pn_notify_writable");
	if (!s->cur)
		return pn__error(-EINVAL, "pn_notify_writable outside a "
					  "handler");
	if (writable(s))
		return pn__send(s, s->cur->pid, PN_MSG_WRITABLE, PN_PID_NONE, 0,
				NULL, 0);
	return pn__pids_add(&s->writable, s->arena, s->cur->pid);
}

/* --- large payloads --------------------------------------------------------
 */

/*
 * A large payload lives behind this header, in a pool object of the
 * sending shard (freed back there, batched, when the receiver is done) or,
 * past the largest class or from an external producer, in malloc memory.
 */
struct bufhdr {
	uint16_t shard;
	uint8_t cls;
	uint8_t origin; /* BUF_POOL or BUF_MALLOC */
	uint32_t size;
	uint64_t pad;
};
enum { BUF_POOL, BUF_MALLOC };
static const uint32_t class_size[PN__NCLASSES] = {128,	512,   2048,
						  8192, 32768, 131072};

static int class_of(size_t len)
{
	for (int c = 0; c < PN__NCLASSES; c++)
		if (len + sizeof(struct bufhdr) <= class_size[c])
			return c;
	return -1;
}

/* A malloc'd payload buffer (external producers, or past the classes). */
void *pn__buf_malloc(size_t len)
{
	struct bufhdr *h = malloc(sizeof(*h) + len);

	if (!h)
		return NULL;
	*h = (struct bufhdr){.origin = BUF_MALLOC, .size = (uint32_t)len};
	return h + 1;
}

/* Free a payload from pn__buf_malloc() (NULL is ignored). Any thread. */
void pn__buf_free_malloc(void *data)
{
	if (data)
		free((struct bufhdr *)data - 1);
}

void *pn__buf_alloc(struct pn_shard *s, size_t len)
{
	int c = class_of(len);
	struct bufhdr *h;

	if (c < 0)
		return pn__buf_malloc(len);
	if (!s->buf_pool[c] &&
	    pn_pool_create(s->arena, class_size[c], 0, &s->buf_pool[c]) < 0)
		return NULL;
	h = pn_pool_alloc(s->buf_pool[c]);
	if (!h)
		return NULL;
	*h = (struct bufhdr){.shard = (uint16_t)s->id,
			     .cls = (uint8_t)c,
			     .origin = BUF_POOL,
			     .size = (uint32_t)len};
	return h + 1;
}

void pn__buf_free(struct pn_shard *s, void *data)
{
	struct bufhdr *h = (struct bufhdr *)data - 1;

	if (h->origin == BUF_MALLOC) {
		free(h);
	} else if (h->shard == s->id) {
		pn_pool_free(s->buf_pool[h->cls], h);
	} else {
		pn_pool_free_remote(
			&s->batches[h->shard * PN__NCLASSES + h->cls], h);
		s->remote_frees = true;
	}
}

/* Hand batched frees back to their home shards (end of a loop turn). */
void pn__buf_flush_remote(struct pn_shard *s)
{
	if (!s->remote_frees)
		return;
	for (unsigned i = 0; i < s->nshards * PN__NCLASSES; i++)
		pn_pool_batch_flush(&s->batches[i]);
	s->remote_frees = false;
}
