// SPDX-License-Identifier: MIT
/*
 * A topic's home shard: it numbers every message and sends it on, one
 * slot per channel (destination shard and class), within each channel's
 * window of max_lag slots not yet handled. What does not fit waits or is
 * refused by the channel's policy: BACKPRESSURE refuses the publish (so
 * the pre-check runs before anything is numbered), DROP_OLDEST and
 * CONFLATE keep at most max_lag slots pending here, DISCONNECT cuts the
 * channel. Also here: forwarded publishes (from other shards and from
 * outside; they wait in the backlog while the topic is blocked), credit,
 * the writable notices, retiring channels and closing the topic.
 *
 * Everything here runs on the home shard's thread, which owns the fields
 * marked "the home's" in topic_int.h.
 */
#include "topic_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Has @c fewer than @lim slots not handled? With no at first sight, the
 * home asks for a CREDIT: want = 1, then a full fence and a fresh look at
 * done; D stores done, fences and reads want (deliver.c, pn__topic_turn),
 * so one of the two sees the other and no credit is lost. */
static bool below(struct pn__tchan *c, uint64_t lim)
{
	uint64_t sent = atomic_load_explicit(&c->sent, memory_order_relaxed);

	if (sent - c->done_seen < lim)
		return true;
	/* Acquire: pairs with D's release store of done (deliver.c). */
	c->done_seen = atomic_load_explicit(&c->done, memory_order_acquire);
	if (sent - c->done_seen < lim)
		return true;
	atomic_store_explicit(&c->want, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst); /* pairs: topic_turn's */
	c->done_seen = atomic_load_explicit(&c->done, memory_order_relaxed);
	return sent - c->done_seen < lim;
}

/* Room in @c's window of max_lag. */
static bool room(const struct pn__topic *t, struct pn__tchan *c)
{
	return below(c, t->max_lag);
}

/* The low-water mark for writable notices: half the window (so that a
 * publisher told writable can publish a run, not one message). */
static uint64_t half(const struct pn__topic *t)
{
	return (t->max_lag + 1) / 2;
}

/* Every BACKPRESSURE channel has room. */
static bool open_for_all_but_backlog(const struct pn__topic *t)
{
	for (unsigned i = 0; i < t->ndest; i++) {
		struct pn__tchan *c = t->dest[i];

		if (c->cls == PN_TOPIC_BACKPRESSURE && c->state == PN__C_OPEN &&
		    !room(t, c))
			return false;
	}
	return true;
}

/* ... and no forwarded publish waits in the backlog. */
static bool open_for_all(const struct pn__topic *t)
{
	return !pn__fifo_len(&t->backlog) && open_for_all_but_backlog(t);
}

/* Rebuild the list of channels from the table (@g: members as read). */
static void rebuild(struct pn_shard *s, struct pn__topic *t, uint32_t g)
{
	size_t n = (size_t)s->nshards * PN_TOPIC_NPOLICIES;

	if (!t->dest && !(t->dest = calloc(n, sizeof(*t->dest))))
		pn_panic("no memory for a topic's channel list");
	t->members_seen = g;
	t->ndest = 0;
	for (size_t i = 0; i < n; i++) {
		/* Acquire: pairs with the installing release (deliver.c). */
		struct pn__tchan *c =
			atomic_load_explicit(&t->chan[i], memory_order_acquire);

		if (c)
			t->dest[t->ndest++] = c;
	}
}

/* Send slot @m (its to and seq set) down @c; a GAP first if it lost
 * some since the last one. */
static void push(struct pn_shard *s, struct pn__topic *t, struct pn__tchan *c,
		 const struct pn_msg *m)
{
	if (c->confl) {
		struct pn_msg g = {.type = PN__MSG_TOPIC_GAP,
				   .to = m->to,
				   .ref = c->confl};

		pn__topic_post(s, c->dst, &g);
		c->confl = 0;
	}
	pn__topic_post(s, c->dst, m);
	/* The home is the only writer of both; stats read them. */
	pn__ctr_add(&c->sent, 1);
	pn__ctr_add(&t->slots, 1);
}

/* Move @c's pending slots into its window while there is room. */
static unsigned flush(struct pn_shard *s, struct pn__topic *t,
		      struct pn__tchan *c)
{
	struct pn_msg m;
	unsigned n = 0;

	while (pn__fifo_len(&c->pending) && room(t, c) &&
	       pn__tpend_pop(s, c, &m)) {
		pn__tside_take(s, &m);
		push(s, t, c, &m); /* the pending queue's reference moves */
		n++;
	}
	return n;
}

/* DISCONNECT: @c is too slow; its D unsubscribes everyone on it. */
static void cut(struct pn_shard *s, struct pn__tchan *c, const struct pn_msg *m)
{
	/* ref: the last message sent to it (the CLOSED event's seq). */
	struct pn_msg k = {
		.type = PN__MSG_TOPIC_CUT, .to = m->to, .ref = m->ref - 1};

	c->state = PN__C_CUT;
	pn__topic_post(s, c->dst, &k);
}

/* Message @tmpl (numbered @seq) to channel @c. */
static void send_one(struct pn_shard *s, struct pn__topic *t,
		     struct pn__tchan *c, const struct pn_msg *tmpl,
		     uint64_t seq)
{
	struct pn_msg m = *tmpl;

	m.to = pn_pid_make(c->dst, c->handle, 0);
	m.ref = seq;
	if (c->state != PN__C_OPEN) {
		pn__ctr_add(&t->dropped, 1);
		return;
	}
	if (pn__fifo_len(&c->pending))
		flush(s, t, c); /* room may have come without a credit yet */
	if (!pn__fifo_len(&c->pending) && room(t, c)) {
		pn__tbuf_get(&m);
		push(s, t, c, &m);
		return;
	}
	switch (c->cls) {
	case PN_TOPIC_DROP_OLDEST:
	case PN_TOPIC_CONFLATE:
		pn__tpend(s, t, c, &m);
		break;
	case PN_TOPIC_DISCONNECT:
		pn__ctr_add(&t->dropped, 1);
		cut(s, c, &m);
		break;
	default: /* BACKPRESSURE: the pre-check found room; keep it lossless */
		pn__tbuf_get(&m);
		push(s, t, c, &m);
	}
}

/* Refused: the publisher may ask for a writable notice. */
static int refuse(struct pn__topic *t)
{
	atomic_fetch_add_explicit(&t->refused, 1, memory_order_relaxed);
	return pn__error(-EAGAIN,
			 "topic %s: a subscriber is max_lag (%u) "
			 "behind",
			 t->name, t->max_lag);
}

/* Number @pub (a SLOT template: len, from, payload, key, type) and send
 * it to every channel. -EAGAIN: refused, nothing numbered. A forwarded
 * publish (@fwd) comes from the backlog or finds it empty: it only needs
 * room. */
static int number(struct pn_shard *s, struct pn__topic *t, uint32_t idx,
		  const struct pn_msg *pub, bool fwd)
{
	uint64_t seq;
	uint32_t g;

	if (!(fwd ? open_for_all_but_backlog(t) : open_for_all(t)))
		return refuse(t);
	seq = atomic_load_explicit(&t->seq, memory_order_relaxed) + 1;
	/* seq_cst, both: the Dekker pair with a subscribe's install (its
	 * members bump, then its read of seq; topic_int.h). */
	atomic_store_explicit(&t->seq, seq, memory_order_seq_cst);
	g = atomic_load_explicit(&t->members, memory_order_seq_cst);
	if (g != t->members_seen)
		rebuild(s, t, g);
	PN_PROBE3(topic_publish, idx, seq, t->ndest);
	for (unsigned i = 0; i < t->ndest; i++)
		send_one(s, t, t->dest[i], pub, seq);
	return 0;
}

int pn__topic_publish_home(struct pn_shard *s, struct pn__topic *t,
			   uint32_t idx, const struct pn_msg *pub)
{
	return number(s, t, idx, pub, false);
}

/* --- writable notices ---------------------------------------------------- */

static void tell(struct pn_shard *s, pn_pid to, uint32_t type, uint32_t id,
		 int reason, uint64_t seq)
{
	struct pn_topic_event ev = {.topic = id, .reason = reason, .seq = seq};

	/* A stopped actor: a dead letter, as for any message. */
	(void)pn__send_sys(s, to, type, PN_PID_NONE, 0, &ev, sizeof(ev));
}

static uint32_t id_of(const struct pn__topic *t, uint32_t idx)
{
	return PN__TID(idx,
		       atomic_load_explicit(&t->gen, memory_order_relaxed));
}

static void waiters_tell(struct pn_shard *s, struct pn__topic *t, uint32_t idx)
{
	for (uint32_t i = 0; i < t->waiters.n; i++)
		tell(s, t->waiters.v[i], PN_MSG_TOPIC_WRITABLE, id_of(t, idx),
		     0, 0);
	t->waiters.n = 0;
}

/* A refused publisher may go on: nothing in the backlog, every
 * BACKPRESSURE channel and the forwarded places under half. */
static bool writable(const struct pn__topic *t)
{
	if (pn__fifo_len(&t->backlog) ||
	    atomic_load_explicit(&t->fwd, memory_order_relaxed) >= half(t))
		return false;
	for (unsigned i = 0; i < t->ndest; i++) {
		struct pn__tchan *c = t->dest[i];

		if (c->cls == PN_TOPIC_BACKPRESSURE && c->state == PN__C_OPEN &&
		    !below(c, half(t)))
			return false;
	}
	return true;
}

static void home_close(struct pn_shard *s, uint32_t idx);

/* --- forwarded publishes ------------------------------------------------- */

/* A FWD message's layout (topic.c builds it): payload at data[0, 12) or a
 * struct pn__tbuf * at data[0, 8); its length at [12, 16); the key and
 * the type at [16, 28) as in a slot; the topic's id at [28, 32). */
static uint32_t u32_at(const struct pn_msg *m, unsigned off)
{
	uint32_t v;

	memcpy(&v, m->data + off, sizeof(v));
	return v;
}

/* The slot template of forwarded publish @f (its buffer reference, if
 * any, moves to the template or is dropped). */
static void fwd_slot(struct pn_shard *s, const struct pn_msg *f,
		     struct pn_msg *pub)
{
	uint32_t len = u32_at(f, 12);

	*pub = (struct pn_msg){
		.type = PN__MSG_TOPIC_SLOT, .len = len, .from = f->from};
	memcpy(pub->data + 16, f->data + 16, 12); /* key, type */
	if (len <= 12) {
		memcpy(pub->data, f->data, len);
	} else if (len <= PN_TOPIC_INLINE) {
		struct pn__tbuf *b = f->ptr;

		memcpy(pub->data, b->data, len);
		pn__tbuf_put(s, b);
	} else {
		pub->ptr = f->ptr;
	}
}

/* One forwarded publish less is waiting: wake an external publisher
 * sleeping for a place (topic.c). seq_cst, both: the Dekker pair with
 * the sleeper, which counts itself in and then checks fwd in the kernel;
 * clamped at 0 (a publish of a topic closed and reopened meanwhile). */
static void fwd_release(struct pn__topic *t)
{
	uint32_t n = atomic_load_explicit(&t->fwd, memory_order_relaxed);

	while (n && !atomic_compare_exchange_weak_explicit(
			    &t->fwd, &n, n - 1, memory_order_seq_cst,
			    memory_order_relaxed))
		;
	if (atomic_load_explicit(&t->fwd_sleepers, memory_order_seq_cst))
		pn__futex_wake(&t->fwd);
}

static void fwd_publish(struct pn_shard *s, struct pn__topic *t, uint32_t idx,
			const struct pn_msg *f)
{
	struct pn_msg pub;

	fwd_slot(s, f, &pub);
	if (number(s, t, idx, &pub, true) < 0)
		pn_panic("topic %s: a forwarded publish found no room",
			 t->name);
	if (pub.len > PN_TOPIC_INLINE)
		pn__tbuf_put(s, pub.ptr); /* the publisher's reference */
	fwd_release(t);
}

/* Drop forwarded publish @f (its topic is gone, or the runtime). */
static void fwd_drop(struct pn_shard *s, struct pn__topic *t,
		     const struct pn_msg *f)
{
	uint32_t len = u32_at(f, 12);

	if (len > 12)
		pn__tbuf_put(s, f->ptr);
	if (t) {
		pn__ctr_add(&t->dropped, 1);
		fwd_release(t);
	}
}

/* A topic's entry if @id still names it (open or closing), else NULL. */
static struct pn__topic *entry_of(struct pn_shard *s, uint32_t id)
{
	struct pn__topics *T = s->rt->topics;
	uint32_t idx = PN__TID_IDX(id);

	if (!id || idx >= T->max ||
	    atomic_load_explicit(&T->t[idx].gen, memory_order_relaxed) !=
		    PN__TID_GEN(id) ||
	    atomic_load_explicit(&T->t[idx].state, memory_order_acquire) ==
		    PN__T_FREE)
		return NULL;
	return &T->t[idx];
}

static void fwd_msg(struct pn_shard *s, const struct pn_msg *f)
{
	uint32_t id = u32_at(f, 28);
	struct pn__topic *t = entry_of(s, id);

	/* Closing, the close not done yet: it waits for this one (a publish
	 * that returned 0 before the close is delivered). */
	if (!t || t->closed) {
		fwd_drop(s, t, f);
		return;
	}
	if (open_for_all(t)) {
		fwd_publish(s, t, PN__TID_IDX(id), f);
		if (t->waiters.n && writable(t)) /* fwd went below max_lag */
			waiters_tell(s, t, PN__TID_IDX(id));
		if (t->close_wait)
			home_close(s, PN__TID_IDX(id));
		return;
	}
	/* Blocked: in line behind the others (each publisher's order). */
	struct pn_msg *q = pn__fifo_slot(&t->backlog, s->arena);

	if (!q)
		pn_panic("no memory for a topic's backlog");
	*q = *f;
	pn__fifo_commit(&t->backlog);
	pn__acct_side_in(s, f);
	if (t->close_wait)
		home_close(s, PN__TID_IDX(id));
}

/* Room may have come: the backlog first, then the writable notices. */
static void unblock(struct pn_shard *s, struct pn__topic *t, uint32_t idx)
{
	struct pn_msg *p;

	while ((p = pn__fifo_peek(&t->backlog))) {
		struct pn_msg f = *p;

		if (!open_for_all_but_backlog(t))
			return;
		pn__fifo_pop(&t->backlog, s->arena);
		pn__tside_take(s, &f);
		fwd_publish(s, t, idx, &f);
	}
	if (t->waiters.n && writable(t))
		waiters_tell(s, t, idx);
}

/* --- the destinations' news ---------------------------------------------- */

static struct pn__tchan *chan_at(const struct pn_msg *m)
{
	struct pn__tchan *c;

	memcpy(&c, m->data, sizeof(c));
	return c;
}

/* @c is in the home's list (a CREDIT may come for one it dropped). */
static bool listed(const struct pn__topic *t, const struct pn__tchan *c)
{
	for (unsigned i = 0; i < t->ndest; i++)
		if (t->dest[i] == c)
			return true;
	return false;
}

/* Room on @c (if it is still one of ours: a CREDIT may trail a RETIRE or
 * the close; @gen: the topic's generation when it was sent). */
static void credit_msg(struct pn_shard *s, struct pn__topic *t, uint32_t idx,
		       uint32_t gen, struct pn__tchan *c)
{
	if (atomic_load_explicit(&t->state, memory_order_relaxed) !=
		    PN__T_OPEN ||
	    atomic_load_explicit(&t->gen, memory_order_relaxed) != gen ||
	    !listed(t, c) || c->state != PN__C_OPEN)
		return;
	flush(s, t, c);
	unblock(s, t, idx);
}

/* Drop what waits for @c and forget it; D frees it on RETIRED, which
 * follows every slot sent to it. */
static void retire_msg(struct pn_shard *s, struct pn__topic *t, uint32_t idx,
		       struct pn__tchan *c)
{
	struct pn_msg m = {.type = PN__MSG_TOPIC_RETIRED,
			   .to = pn_pid_make(c->dst, c->handle, 0)};

	for (unsigned i = 0; i < t->ndest; i++)
		if (t->dest[i] == c) {
			t->dest[i] = t->dest[--t->ndest];
			break;
		}
	pn__tpend_drop_all(s, c);
	pn__topic_post(s, c->dst, &m);
	if (atomic_load_explicit(&t->state, memory_order_relaxed) == PN__T_OPEN)
		unblock(s, t, idx);
}

void pn__topic_wait(struct pn_shard *s, struct pn__topic *t, uint32_t id,
		    pn_pid pid)
{
	if (!t ||
	    atomic_load_explicit(&t->state, memory_order_relaxed) !=
		    PN__T_OPEN ||
	    writable(t)) {
		tell(s, pid, PN_MSG_TOPIC_WRITABLE, id, 0, 0);
		return;
	}
	for (uint32_t i = 0; i < t->waiters.n; i++)
		if (t->waiters.v[i] == pid)
			return;
	if (pn__pids_add(&t->waiters, s->arena, pid) < 0)
		pn_panic("no memory for a topic's writable waiters");
}

/* --- close ----------------------------------------------------------------
 */

/* CLOSING: every channel the home can see gets CLOSE (after its slots),
 * then every shard a SWEEP for the ones it could not (installed while the
 * close ran: the subscribe's seq_cst members bump and this load form a
 * Dekker pair with the closer's seq_cst store of state). */
static void home_close(struct pn_shard *s, uint32_t idx)
{
	struct pn__topic *t = &s->rt->topics->t[idx];
	struct pn_msg m;

	/* Publishes that took a place before the close are still on their
	 * way (from outside, through another ring than the close's): the
	 * close waits for them, rechecked as each comes and on the tick. */
	if (atomic_load_explicit(&t->fwd, memory_order_acquire) >
	    pn__fifo_len(&t->backlog)) {
		if (!t->close_wait)
			s->rt->topics->per[s->id].nclose_wait++;
		t->close_wait = true;
		return;
	}
	if (t->close_wait)
		s->rt->topics->per[s->id].nclose_wait--;
	t->close_wait = false;
	t->closed = true;

	rebuild(s, t, atomic_load_explicit(&t->members, memory_order_seq_cst));
	for (unsigned i = 0; i < t->ndest; i++) {
		struct pn__tchan *c = t->dest[i];

		pn__tpend_drop_all(s, c);
		m = (struct pn_msg){.type = PN__MSG_TOPIC_CLOSE,
				    .to = pn_pid_make(c->dst, c->handle, 0),
				    .ref = atomic_load_explicit(
					    &t->seq, memory_order_relaxed)};
		pn__topic_post(s, c->dst, &m); /* D may free c from now on */
	}
	t->ndest = 0;
	while (pn__fifo_peek(&t->backlog)) {
		m = *pn__fifo_peek(&t->backlog);
		pn__fifo_pop(&t->backlog, s->arena);
		pn__tside_drop(s, &m);
		fwd_drop(s, t, &m);
	}
	waiters_tell(s, t, idx);
	pn__futex_wake(&t->fwd); /* sleepers see CLOSING and give up */
	t->acks = s->nshards;
	for (unsigned d = 0; d < s->nshards; d++) {
		m = (struct pn_msg){.type = PN__MSG_TOPIC_SWEEP,
				    .to = PN__TDST(d),
				    .ref = idx};
		pn__topic_post(s, d, &m);
	}
}

/* A shard swept the closed topic away; after the last, the entry is free
 * (release: its fields are done with, for the next open's acquire). */
static void ack_msg(struct pn_shard *s, struct pn__topic *t)
{
	if (--t->acks)
		return;
	free(t->dest);
	t->dest = NULL;
	free(t->chan);
	t->chan = NULL;
	pn__fifo_fini(&t->backlog, s->arena);
	pn__pids_fini(&t->waiters, s->arena);
	atomic_store_explicit(
		&t->gen,
		(atomic_load_explicit(&t->gen, memory_order_relaxed) + 1) &
			0xffffu,
		memory_order_relaxed);
	atomic_store_explicit(&t->state, PN__T_FREE, memory_order_release);
}

/* The home's messages: forwarded publishes, credit, retire, acks, waits,
 * close. */
void pn__topic_home_msg(struct pn_shard *s, struct pn_msg *m)
{
	struct pn__topics *T = s->rt->topics;
	uint32_t idx = (uint32_t)m->ref;

	if (m->type == PN__MSG_TOPIC_CLOSING) /* from outside: no ref */
		memcpy(&idx, m->data, sizeof(idx));
	if (m->type == PN__MSG_TOPIC_FWD) {
		fwd_msg(s, m);
		return;
	}
	if (m->type == PN__MSG_TOPIC_WAIT) {
		pn__topic_wait(s, entry_of(s, (uint32_t)m->ref),
			       (uint32_t)m->ref, m->from);
		return;
	}
	if (idx >= T->max)
		pn_panic("topic message %#x for entry %u", m->type, idx);
	switch (m->type) {
	case PN__MSG_TOPIC_CREDIT:
		credit_msg(s, &T->t[idx], idx, (uint32_t)(m->ref >> 32),
			   chan_at(m));
		break;
	case PN__MSG_TOPIC_RETIRE:
		retire_msg(s, &T->t[idx], idx, chan_at(m));
		break;
	case PN__MSG_TOPIC_ACK:
		ack_msg(s, &T->t[idx]);
		break;
	case PN__MSG_TOPIC_CLOSING:
		home_close(s, idx);
		break;
	default:
		pn_panic("unknown topic message %#x", m->type);
	}
}

/* The topics homed on @s: their backlogs, and the pending queues of their
 * channels wherever they are (a retired one's too), without tombstones.
 * The join sweep's side queues: every shard has stopped. */
void pn__topic_side_queues(struct pn_shard *s, pn__side_fn fn, void *arg)
{
	struct pn__topics *T = s->rt->topics;

	for (uint32_t i = 0; T && i < T->max; i++)
		if (atomic_load_explicit(&T->t[i].state,
					 memory_order_relaxed) != PN__T_FREE &&
		    T->t[i].home == s->id)
			fn(s, &T->t[i].backlog, arg);
	for (unsigned d = 0; T && d < s->nshards; d++) {
		const struct pn__tshard *p = &T->per[d];

		for (uint32_t h = 0; h < p->nh; h++) {
			struct pn__tchan *c = p->h[h];

			if (!c || T->t[c->topic].home != s->id)
				continue;
			if (c->cls == PN_TOPIC_CONFLATE)
				pn__tpend_compact(s, c);
			fn(s, &c->pending, arg);
		}
	}
}

/* Every 1024 turns and before a long sleep: a close waiting for
 * forwarded publishes that will never come (a publisher from outside
 * took a place and then failed to inject) goes on. */
void pn__topic_tick(struct pn_shard *s)
{
	struct pn__topics *T = s->rt->topics;

	for (uint32_t i = 0; T->per[s->id].nclose_wait && i < T->max; i++)
		if (T->t[i].close_wait && T->t[i].home == s->id)
			home_close(s, i);
}

/* A topic message nobody will handle (the join sweep): its references. */
void pn__topic_home_drop(struct pn_shard *s, struct pn_msg *m)
{
	if (m->type == PN__MSG_TOPIC_SLOT) {
		if (m->len > PN_TOPIC_INLINE && !PN__TOMB(m))
			pn__tbuf_put(s, m->ptr);
	} else if (m->type == PN__MSG_TOPIC_FWD) {
		fwd_drop(s, entry_of(s, u32_at(m, 28)), m);
	}
}
