// SPDX-License-Identifier: MIT
/*
 * The home's pending queues: the slots a DROP_OLDEST or CONFLATE channel
 * could not take yet, at most max_lag live ones, in seq order (a slot
 * CONFLATE replaces stays in line as a tombstone until it is popped or
 * compacted away), with their side-queue accounting; and the counters and
 * payload references the home keeps. On the home shard's thread.
 */
#include "topic_int.h"

#include <string.h>

void pn__tbuf_get(const struct pn_msg *m)
{
	if (m->len > PN_TOPIC_INLINE)
		/* Relaxed: taking a reference needs no order (the last
		 * put's acq_rel orders the free). */
		atomic_fetch_add_explicit(&((struct pn__tbuf *)m->ptr)->refs, 1,
					  memory_order_relaxed);
}

/*
 * Side-queue accounting (the runtime's totals, sched_int.h): a message
 * leaves the pending queue or the backlog either to go on (taken: it is
 * counted once, as the move of a message it is) or for good (dropped: a
 * dead letter in the totals, and in the topic's dropped or conflated).
 */
void pn__tside_take(struct pn_shard *s, const struct pn_msg *m)
{
	pn__acct_side_out(s, m);
	pn__acct_moved(s);
}

void pn__tside_drop(struct pn_shard *s, const struct pn_msg *m)
{
	pn__acct_side_out(s, m);
	PN__STAT_ADD(s, PN__ST_DEAD, 1);
}

/* @c's topic (the counters the home keeps per topic). */
static struct pn__topic *tof(const struct pn_shard *s,
			     const struct pn__tchan *c)
{
	return &s->rt->topics->t[c->topic];
}

struct keyent {
	uint64_t key;
	struct pn_msg *m;
};

static uint64_t slot_key(const struct pn_msg *m)
{
	uint64_t k;

	memcpy(&k, m->data + 16, sizeof(k));
	return k;
}

/* The conflation table's key for @m (0 is the table's empty key). */
static uint64_t htab_key(const struct pn_msg *m)
{
	uint64_t k = slot_key(m);

	return k ? k : UINT64_MAX - 1;
}

/* A pending slot's count of tombstones compacted away just before it
 * (data[28, 32): unused by slots otherwise, 0 when they are sent). */
static uint32_t tombs_before(const struct pn_msg *m)
{
	uint32_t n;

	memcpy(&n, m->data + 28, sizeof(n));
	return n;
}

/* Forget @m in @c's key table (it leaves the pending queue). */
static void unkey(struct pn__tchan *c, const struct pn_msg *m)
{
	struct keyent *e;

	if (c->cls == PN_TOPIC_CONFLATE &&
	    (e = pn__htab_find(&c->keys, htab_key(m))) && e->m == m)
		pn__htab_del(&c->keys, e);
}

/* Take the oldest live pending slot of @c out (into *@out; false: none);
 * the caller accounts for it (side_take or side_drop). */
bool pn__tpend_pop(struct pn_shard *s, struct pn__tchan *c, struct pn_msg *out)
{
	struct pn_msg *p;

	while ((p = pn__fifo_peek(&c->pending))) {
		bool tomb = PN__TOMB(p);

		if (!tomb)
			unkey(c, p);
		*out = *p;
		pn__fifo_pop(&c->pending, s->arena);
		/* The conflated ones go to the next slot sent (GAP): the
		 * position they had, so every subscriber counts them right. */
		c->confl += (tomb ? 1 : 0) + tombs_before(out);
		if (!tomb) {
			memset(out->data + 28, 0, 4);
			return true;
		}
		pn__tside_drop(s, out);
	}
	return false;
}

/* Drop every pending slot of @c (retired, closed). */
void pn__tpend_drop_all(struct pn_shard *s, struct pn__tchan *c)
{
	struct pn_msg m;

	while (pn__tpend_pop(s, c, &m)) {
		pn__tside_drop(s, &m);
		if (m.len > PN_TOPIC_INLINE)
			pn__tbuf_put(s, m.ptr);
		pn__ctr_add(&tof(s, c)->dropped, 1);
	}
	pn__fifo_fini(&c->pending, s->arena);
	pn__htab_fini(&c->keys, s->arena);
}

/* Rewrite @c's pending queue without its tombstones (CONFLATE keeps at
 * most max_lag live slots and as many tombstones). */
void pn__tpend_compact(struct pn_shard *s, struct pn__tchan *c)
{
	struct pn__fifo old = c->pending;
	struct pn_msg *p;

	uint32_t run = 0;

	c->pending = (struct pn__fifo){0};
	pn__htab_fini(&c->keys, s->arena);
	while ((p = pn__fifo_peek(&old))) {
		if (!PN__TOMB(p)) {
			struct pn_msg *q = pn__fifo_slot(&c->pending, s->arena);
			struct keyent *e;

			if (!q || pn__htab_add(&c->keys, s->arena, htab_key(p),
					       (void **)&e) < 0)
				pn_panic("no memory for a conflation queue");
			*q = *p;
			/* The tombstones before it, counted on it (a live
			 * slot follows every tombstone: its replacement). */
			run += tombs_before(q);
			memcpy(q->data + 28, &run, sizeof(run));
			run = 0;
			e->m = q;
			pn__fifo_commit(&c->pending);
		} else {
			run += 1 + tombs_before(p);
			pn__tside_drop(s, p); /* it leaves, for good */
		}
		pn__fifo_pop(&old, s->arena);
	}
	pn__fifo_fini(&old, s->arena);
}

/* CONFLATE: an older slot of the same key dies (it stays in line as a
 * tombstone, so that the pending queue keeps seq order). */
static void conflate(struct pn_shard *s, struct pn__topic *t,
		     struct pn__tchan *c, struct pn_msg *q)
{
	struct keyent *e = pn__htab_find(&c->keys, htab_key(q));

	if (e) {
		struct pn_msg *old = e->m;

		if (old->len > PN_TOPIC_INLINE)
			pn__tbuf_put(s, old->ptr);
		old->to = 0;
		pn__ctr_add(&tof(s, c)->conflated, 1);
		e->m = q;
	} else if (pn__htab_add(&c->keys, s->arena, htab_key(q), (void **)&e) ==
		   0) {
		e->m = q;
	} else {
		pn_panic("no memory for a conflation table");
	}
	if (pn__fifo_len(&c->pending) > 2 * (uint64_t)t->max_lag)
		pn__tpend_compact(s, c);
}

/* DROP_OLDEST, CONFLATE: slot @m waits at the home; the oldest live one
 * goes when max_lag wait. */
void pn__tpend(struct pn_shard *s, struct pn__topic *t, struct pn__tchan *c,
	       const struct pn_msg *m)
{
	struct pn_msg *q = pn__fifo_slot(&c->pending, s->arena);
	uint64_t live;

	if (!q)
		pn_panic("no memory for a topic's pending queue");
	*q = *m;
	pn__tbuf_get(m);
	pn__fifo_commit(&c->pending);
	pn__acct_side_in(s, m);
	if (c->cls == PN_TOPIC_CONFLATE)
		conflate(s, t, c, q);
	live = c->cls == PN_TOPIC_CONFLATE ? c->keys.n
					   : pn__fifo_len(&c->pending);
	if (live > t->max_lag) {
		struct pn_msg old;

		if (pn__tpend_pop(s, c, &old)) {
			pn__tside_drop(s, &old);
			if (old.len > PN_TOPIC_INLINE)
				pn__tbuf_put(s, old.ptr);
			pn__ctr_add(&tof(s, c)->dropped, 1);
		}
	}
}
