// SPDX-License-Identifier: MIT
/*
 * A destination shard's side of topics: the channel objects it installs
 * in a topic's table, the subscriptions of its actors on them, and the
 * delivery of each slot to every local subscriber through the ordinary
 * handler path (pn__run_keep: the payload is read in place, not copied
 * per subscriber). A subscription lives on its actor's home shard; one
 * whose actor has moved away gets its messages forwarded as TOPIC_ONE
 * messages to the actor's PID, which migration routes like any other
 * message (so in order).
 *
 * All of it runs on the shard's own thread; the channel's D-written
 * fields are read by the home (done: credit) and by pn_topic_stats().
 */
#include "actor_int.h"
#include "topic_int.h"

#include <errno.h>
#include <stdlib.h>

static struct pn__tshard *per(const struct pn_shard *s)
{
	return &s->rt->topics->per[s->id];
}

/* --- channel objects ----------------------------------------------------- */

static struct pn__tchan *chan_new(struct pn_shard *s, uint32_t idx, uint8_t cls)
{
	struct pn__tshard *p = per(s);
	struct pn__tchan *c = aligned_alloc(PN_CACHELINE, sizeof(*c));
	uint32_t h;

	if (!c)
		return NULL;
	memset(c, 0, sizeof(*c));
	if (p->nfree) {
		h = p->freeh[--p->nfree];
	} else {
		if (p->nh == p->caph) {
			uint32_t cap = p->caph ? 2 * p->caph : 16;
			struct pn__tchan **v = realloc(p->h, cap * sizeof(*v));
			uint32_t *f = realloc(p->freeh, cap * sizeof(*f));

			if (v)
				p->h = v;
			if (f)
				p->freeh = f;
			if (!v || !f || cap >= (1u << PN_PID_SLOT_BITS) - 1) {
				free(c);
				return NULL;
			}
			p->caph = cap;
		}
		h = p->nh++;
	}
	p->h[h] = c;
	c->handle = h + 1; /* 0 is never a channel's: pid(d, 0, 0) */
	c->topic = idx;
	c->cls = cls;
	c->dst = s->id;
	pn__htab_init(&c->keys, 16, 16, 1u << 22);
	return c;
}

/* Free @c (its home has forgotten it; no slot for it is in flight).
 * Under the table mutex: pn_topic_stats() reads channels. */
void pn__topic_chan_free(struct pn_shard *s, struct pn__tchan *c)
{
	struct pn__tshard *p = per(s);
	struct pn__topics *T = s->rt->topics;

	if (c->dirty) /* on the credit list of this turn: off it */
		for (unsigned i = 0; i < p->ndirty; i++)
			if (p->dirty[i] == c) {
				p->dirty[i] = p->dirty[--p->ndirty];
				break;
			}
	pthread_mutex_lock(&T->mu);
	p->h[c->handle - 1] = NULL;
	p->freeh[p->nfree++] = c->handle - 1;
	free(c->subs);
	free(c);
	pthread_mutex_unlock(&T->mu);
}

static struct pn__tchan *chan_of(const struct pn_shard *s,
				 const struct pn_msg *m)
{
	const struct pn__tshard *p = per(s);
	uint32_t h = pn_pid_slot(m->to);

	if (!h || h > p->nh || !p->h[h - 1])
		pn_panic("topic message %#x for no channel (%u)", m->type, h);
	return p->h[h - 1];
}

/* Take @c out of its topic's table (members bump: the home rebuilds).
 * Release: pairs with the home's acquire in rebuild. */
static void uninstall(struct pn_shard *s, struct pn__tchan *c)
{
	struct pn__topics *T = s->rt->topics;
	struct pn__topic *t = &T->t[c->topic];
	_Atomic(struct pn__tchan *) *slot = PN__TCHAN(t, s->id, c->cls);

	/* Its counters move to the topic's, under the mutex that
	 * pn_topic_stats() reads the table under (no dip, no double count).
	 * Relaxed: statistics; nothing of a retired channel counts on. */
	pthread_mutex_lock(&T->mu);
	if (atomic_load_explicit(slot, memory_order_relaxed) == c) {
		atomic_store_explicit(slot, NULL, memory_order_release);
		atomic_fetch_add_explicit(&t->members, 1, memory_order_seq_cst);
	}
	atomic_fetch_add_explicit(
		&t->gone_delivered,
		atomic_load_explicit(&c->delivered, memory_order_relaxed),
		memory_order_relaxed);
	atomic_fetch_add_explicit(
		&t->gone_filtered,
		atomic_load_explicit(&c->filtered, memory_order_relaxed),
		memory_order_relaxed);
	atomic_fetch_add_explicit(
		&t->gone_cuts,
		atomic_load_explicit(&c->cuts, memory_order_relaxed),
		memory_order_relaxed);
	pthread_mutex_unlock(&T->mu);
	c->retired = true;
}

/* @c has no subscriber left: out of the table, and the home is told (it
 * answers RETIRED after the last slot it sent to @c). */
static void retire(struct pn_shard *s, struct pn__tchan *c)
{
	struct pn__topic *t = &s->rt->topics->t[c->topic];
	struct pn_msg m = {.type = PN__MSG_TOPIC_RETIRE,
			   .to = PN__TDST(t->home),
			   .ref = c->topic};

	uninstall(s, c);
	memcpy(m.data, &c, sizeof(c));
	pn__topic_post(s, t->home, &m);
}

/* --- the subscriptions of a PID ------------------------------------------ */

#define SUBREF(idx, cls) ((idx) << 2 | (cls))
/* A bypid ref of a subscription the actor ended itself: forwards to it
 * still on their way (it had been away, in this subscription or an
 * earlier one) are dropped at home (pn__topic_divert). Kept until it
 * subscribes again (its start is then the line) or stops. */
#define UNSUBBED(idx) (1u << 31 | (idx) << 2)

static int pid_note(struct pn_shard *s, pn_pid pid, uint32_t ref)
{
	struct pn__tshard *p = per(s);
	struct pn__tpid *e = pn__htab_find(&p->bypid, pid);

	if (!e && pn__htab_add(&p->bypid, s->arena, pid, (void **)&e) < 0)
		return pn__error(-ENOMEM, "no memory for a subscription");
	if (e->n == e->cap) {
		uint32_t cap = e->cap ? 2 * e->cap : 4;
		uint32_t *v = realloc(e->topic, cap * sizeof(*v));

		if (!v) {
			if (!e->n)
				pn__htab_del(&p->bypid, e);
			return pn__error(-ENOMEM,
					 "no memory for a subscription");
		}
		e->topic = v;
		e->cap = cap;
	}
	e->topic[e->n++] = ref;
	return 0;
}

/* The class of @pid's subscription to topic @idx here, or -1; with
 * @del, it is forgotten. */
/* Forget ref @i of @e (and @e with its last). */
static void pid_ref_del(struct pn_shard *s, struct pn__tpid *e, uint32_t i)
{
	e->topic[i] = e->topic[--e->n];
	if (!e->n) {
		free(e->topic);
		pn__htab_del(&per(s)->bypid, e);
	}
}

static int pid_find(struct pn_shard *s, pn_pid pid, uint32_t idx, bool del)
{
	struct pn__tpid *e = pn__htab_find(&per(s)->bypid, pid);

	for (uint32_t i = 0; e && i < e->n; i++) {
		uint32_t ref = e->topic[i];

		if ((ref & UNSUBBED(0)) || ref >> 2 != idx)
			continue;
		if (del)
			pid_ref_del(s, e, i);
		return (int)(ref & 3);
	}
	return -1;
}

/* Whether @pid ended its subscription to @idx itself (with @del: and
 * forget that). */
static bool pid_unsubbed(struct pn_shard *s, pn_pid pid, uint32_t idx, bool del)
{
	struct pn__tpid *e = pn__htab_find(&per(s)->bypid, pid);

	for (uint32_t i = 0; e && i < e->n; i++) {
		if (e->topic[i] != UNSUBBED(idx))
			continue;
		if (del)
			pid_ref_del(s, e, i);
		return true;
	}
	return false;
}

/* Remove @pid's entry from @c; the channel retires when it was the last
 * (unless it is being cut or closed: @quiet). */
static bool entry_del(struct pn_shard *s, struct pn__tchan *c, pn_pid pid,
		      bool quiet)
{
	bool routed = false;

	for (uint32_t i = 0; i < c->n; i++) {
		if (c->subs[i].pid != pid)
			continue;
		routed = c->subs[i].routed;
		if (c->iterating) {
			c->subs[i].pid = 0;
			c->holes = true;
		} else {
			c->subs[i] = c->subs[--c->n];
		}
		c->live--;
		/* Relaxed: a count for pn_topic_stats(). */
		atomic_store_explicit(&c->nsubs, c->live, memory_order_relaxed);
		break;
	}
	if (!c->live && !quiet && !c->retired)
		retire(s, c);
	return routed;
}

int pn__topic_sub_here(struct pn_shard *s, uint32_t idx, pn_pid pid,
		       const struct pn_topic_sub_opts *o, uint64_t *start)
{
	struct pn__topic *t = &s->rt->topics->t[idx];
	uint8_t cls = (uint8_t)o->policy;
	_Atomic(struct pn__tchan *) *slot = PN__TCHAN(t, s->id, cls);
	struct pn__tchan *c;
	uint64_t at;

	if (pid_find(s, pid, idx, false) >= 0)
		return pn__error(-EALREADY, "%#llx already subscribes to %s",
				 (unsigned long long)pid, t->name);
	pid_unsubbed(s, pid, idx, true); /* a new one: new starts */
	/* Relaxed: this shard is the only writer of its table entries. */
	if (!(c = atomic_load_explicit(slot, memory_order_relaxed))) {
		if (!(c = chan_new(s, idx, cls)))
			return pn__error(-ENOMEM, "no memory for a channel");
		/* Release: the object's fields, to the home's rebuild. Then
		 * the Dekker pair with the home's publish: members (seq_cst)
		 * here before seq (below); seq there before members. */
		atomic_store_explicit(slot, c, memory_order_release);
		atomic_fetch_add_explicit(&t->members, 1, memory_order_seq_cst);
		/* A close racing this install: the sweep frees c. */
		if (atomic_load_explicit(&t->state, memory_order_seq_cst) !=
		    PN__T_OPEN)
			return pn__error(-ENOENT, "topic %s is closing",
					 t->name);
	}
	if (c->n == c->cap) {
		uint32_t cap = c->cap ? 2 * c->cap : 4;
		struct pn__tsub *v = realloc(c->subs, cap * sizeof(*v));

		if (!v)
			return pn__error(-ENOMEM, "no memory for a subscriber");
		c->subs = v;
		c->cap = cap;
	}
	if (pid_note(s, pid, SUBREF(idx, cls)) < 0)
		return -ENOMEM;
	at = atomic_load_explicit(&t->seq, memory_order_seq_cst);
	c->subs[c->n++] = (struct pn__tsub){
		.pid = pid,
		.start = at,
		.last = at,
		.lo = o->key_lo,
		.hi = o->key_lo || o->key_hi ? o->key_hi : UINT64_MAX,
		.fn = o->filter,
		.arg = o->filter_arg};
	c->live++;
	atomic_store_explicit(&c->nsubs, c->live, memory_order_relaxed);
	if (start)
		*start = at;
	return 0;
}

int pn__topic_unsub_here(struct pn_shard *s, uint32_t idx, pn_pid pid)
{
	struct pn__topic *t = &s->rt->topics->t[idx];
	int cls = pid_find(s, pid, idx, true);
	struct pn__tchan *c;

	if (cls < 0)
		return pn__error(-ENOENT, "%#llx does not subscribe to %s",
				 (unsigned long long)pid, t->name);
	c = atomic_load_explicit(PN__TCHAN(t, s->id, cls),
				 memory_order_relaxed);
	if (c)
		entry_del(s, c, pid, false);
	/* No memory for the mark: stale forwards are not held back. */
	if (!pid_unsubbed(s, pid, idx, false))
		(void)pid_note(s, pid, UNSUBBED(idx));
	return 0;
}

/* @pid stopped (or its guest copy did): every subscription goes, and the
 * record of it. */
void pn__topic_gone(struct pn_shard *s, pn_pid pid)
{
	struct pn__tpid *e;

	while ((e = pn__htab_find(&per(s)->bypid, pid))) {
		uint32_t ref = e->topic[e->n - 1];

		if (ref & UNSUBBED(0))
			pid_unsubbed(s, pid, (ref & ~UNSUBBED(0)) >> 2, true);
		else
			pn__topic_unsub_here(s, ref >> 2, pid);
	}
}

/* --- delivery ------------------------------------------------------------ */

/* The header of a TOPIC_ONE message's buffer (then the payload). */
struct one_hdr {
	struct pn_topic_info info;
	uint32_t type, len;
};

/* @pid lives away from home: forward the delivery to its PID. */
static void forward(struct pn_shard *s, pn_pid pid, const struct pn_msg *lm,
		    const struct pn_topic_info *info)
{
	size_t len = sizeof(struct one_hdr) + lm->len;
	struct one_hdr *h = malloc(len);

	if (!h)
		pn_panic("no memory to forward a topic message");
	*h = (struct one_hdr){*info, lm->type, lm->len};
	memcpy(h + 1, pn_msg_data(lm), lm->len);
	/* Exempt, like every forward: the window bounds them. */
	if (pn__send_sys(s, pid, PN__MSG_TOPIC_ONE, lm->from, 0, h, len) < 0)
		pn_panic("cannot forward a topic message: %s", pn_last_error());
	free(h);
}

/* The delivery a handler on this thread runs for (pn_topic_delivery):
 * initial-exec TLS, one %fs-relative load, as pn__self_shard. */
static _Thread_local const struct pn_topic_info *cur_info
	__attribute__((tls_model("initial-exec")));

const struct pn_topic_info *pn_topic_delivery(const struct pn_ctx *ctx)
{
	return ctx && pn__shard_c(ctx) == pn__self_shard ? cur_info : NULL;
}

static void run(struct pn_shard *s, struct pn__actor *a,
		const struct pn_msg *lm, const struct pn_topic_info *info)
{
	cur_info = info;
	PN_PROBE3(topic_deliver, PN__TID_IDX(info->topic), info->seq, lm->to);
	pn__run_keep(s, a, lm);
	cur_info = NULL;
}

/* Run entry @i's handler on @lm, or forward it, or forget a dead one.
 * Returns whether it was delivered. Once its actor has been away, every
 * delivery to it goes as a message of its own (forward): migration keeps
 * one sender's messages in order across any moves, which a direct run
 * after its return would not be with forwards still on their way. */
static bool deliver_one(struct pn_shard *s, struct pn__tchan *c, uint32_t i,
			struct pn_msg *lm, const struct pn_topic_info *info)
{
	pn_pid pid = c->subs[i].pid;
	uint32_t idx = pn_pid_slot(pid);
	struct pn__actor *a = s->slots[idx].actor;

	lm->to = pid;
	if (!c->subs[i].routed && a && a->pid == pid) {
		run(s, a, lm, info);
		return true;
	}
	/* Relaxed: our own slot table (only this shard moves gen on). */
	if (atomic_load_explicit(&s->slots[idx].gen, memory_order_relaxed) ==
	    pn_pid_gen(pid)) {
		c->subs[i].routed = true;
		forward(s, pid, lm, info); /* counted where it runs */
		return false;
	}
	pn__topic_gone(s, pid); /* stopped unseen: not a subscriber now */
	return false;
}

/* @e's filter takes @lm (key @key). */
static bool wanted(const struct pn__tsub *e, uint64_t key,
		   const struct pn_msg *lm)
{
	return key >= e->lo && key <= e->hi &&
	       (!e->fn || e->fn(e->arg, key, lm));
}

/* After an iteration: fill the holes unsubscribes left. */
static void compact(struct pn__tchan *c)
{
	uint32_t j = 0;

	for (uint32_t i = 0; i < c->n; i++)
		if (c->subs[i].pid)
			c->subs[j++] = c->subs[i];
	c->n = j;
	c->holes = false;
}

static void mark_dirty(struct pn_shard *s, struct pn__tchan *c)
{
	struct pn__tshard *p = per(s);

	if (c->dirty)
		return;
	if (p->ndirty == p->capdirty) {
		unsigned cap = p->capdirty ? 2 * p->capdirty : 16;
		struct pn__tchan **v = realloc(p->dirty, cap * sizeof(*v));

		if (!v)
			pn_panic("no memory for the topic credit list");
		p->dirty = v;
		p->capdirty = cap;
	}
	p->dirty[p->ndirty++] = c;
	c->dirty = true;
	s->turn_want |= p->bit;
}

/* Entry @i of @c takes the slot numbered @seq (not before its start, its
 * filter willing): its info's gap and conflated are its own, counted from
 * its previous delivery (or its start), less what its filter skipped. */
static bool take(struct pn__tchan *c, uint32_t i, uint64_t seq,
		 const struct pn_msg *lm, struct pn_topic_info *info)
{
	struct pn__tsub *e = &c->subs[i];
	uint64_t gap;

	if (!e->pid || seq <= e->start)
		return false;
	e->confl += c->confl_in;
	if (!wanted(e, info->key, lm)) {
		e->skipped++;
		return false;
	}
	/* Lost since the last one: conflated (as the channel counted, at
	 * most what this one lost), the rest dropped. */
	gap = seq - e->last - 1 - e->skipped;
	if (gap > UINT32_MAX)
		gap = UINT32_MAX;
	info->conflated = e->confl < gap ? e->confl : (uint32_t)gap;
	info->gap = (uint32_t)gap - info->conflated;
	e->last = seq;
	e->skipped = 0;
	e->confl = 0;
	return true;
}

/* A slot: every local subscriber of @c gets it, then done moves on. */
static void slot_msg(struct pn_shard *s, struct pn__tchan *c,
		     const struct pn_msg *m)
{
	struct pn__topic *t = &s->rt->topics->t[c->topic];
	struct pn_topic_info info = {
		.topic = PN__TID(
			c->topic,
			atomic_load_explicit(&t->gen, memory_order_relaxed)),
		.seq = m->ref};
	struct pn_msg lm = {.len = m->len, .from = m->from};
	uint64_t done, hit = 0, skip = 0;

	memcpy(&info.key, m->data + 16, sizeof(info.key));
	memcpy(&lm.type, m->data + 24, sizeof(lm.type));
	/* The handler's view keeps pn_msg's rule (inline up to
	 * PN_MSG_INLINE): up to 32 bytes are copied once per shard. */
	if (m->len <= PN_TOPIC_INLINE)
		memcpy(lm.data, m->data, m->len);
	else if (m->len <= PN_MSG_INLINE)
		memcpy(lm.data, ((struct pn__tbuf *)m->ptr)->data, m->len);
	else
		lm.ptr = ((struct pn__tbuf *)m->ptr)->data;
	c->iterating = true;
	/* By index: a handler may subscribe (the array grows, entries keep
	 * their places; new ones start after this slot) or unsubscribe (a
	 * hole, filled after the loop). */
	for (uint32_t i = 0, n = c->n; i < n; i++) {
		if (take(c, i, m->ref, &lm, &info)) {
			if (deliver_one(s, c, i, &lm, &info))
				hit++;
		} else if (c->subs[i].pid && m->ref > c->subs[i].start) {
			skip++;
		}
	}
	c->confl_in = 0;
	c->iterating = false;
	if (c->holes)
		compact(c);
	if (m->len > PN_TOPIC_INLINE)
		pn__tbuf_put(s, m->ptr);
	/* Relaxed loads of our own counters; release: pairs with the
	 * home's acquire in room() (what we handled is done with). */
	done = atomic_load_explicit(&c->done, memory_order_relaxed) + 1;
	atomic_store_explicit(&c->done, done, memory_order_release);
	pn__ctr_add(&c->delivered, hit); /* D is their only writer */
	pn__ctr_add(&c->filtered, skip);
	mark_dirty(s, c);
}

/*
 * Once per loop turn with deliveries: the credit check. A full fence
 * between the stores of done and the loads of want, paired with the one
 * in the home's room(): the home sets want, fences and reads done, so
 * either it sees our progress or we see its want and send a CREDIT.
 */
unsigned pn__topic_turn(struct pn_shard *s)
{
	struct pn__tshard *p = per(s);
	unsigned n = p->ndirty;

	s->turn_want &= ~p->bit;
	if (!n)
		return 0;
	atomic_thread_fence(memory_order_seq_cst);
	for (unsigned i = 0; i < n; i++) {
		struct pn__tchan *c = p->dirty[i];

		c->dirty = false;
		/* Relaxed first look; acq_rel exchange so one CREDIT per
		 * request (pairs with the home's store of want). */
		if (atomic_load_explicit(&c->want, memory_order_relaxed) &&
		    atomic_exchange_explicit(&c->want, 0,
					     memory_order_acq_rel)) {
			struct pn__topic *t = &s->rt->topics->t[c->topic];
			/* With the generation: a credit that follows the
			 * sweep's ACK (a retired channel's last slots) is
			 * for a topic that may be gone. */
			struct pn_msg m = {
				.type = PN__MSG_TOPIC_CREDIT,
				.to = PN__TDST(t->home),
				.ref = c->topic |
				       (uint64_t)atomic_load_explicit(
					       &t->gen, memory_order_relaxed)
					       << 32};

			memcpy(m.data, &c, sizeof(c));
			pn__topic_post(s, t->home, &m);
		}
	}
	p->ndirty = 0;
	return n;
}

bool pn__topic_ready(struct pn_shard *s)
{
	return per(s)->ndirty != 0;
}

/* --- the home's control messages ----------------------------------------- */

/* Tell @c's subscribers the subscription is over (@reason: 0 closed,
 * -ENOBUFS cut) and forget them. */
static void end_all(struct pn_shard *s, struct pn__tchan *c, int reason,
		    uint64_t seq)
{
	struct pn__topic *t = &s->rt->topics->t[c->topic];
	struct pn_topic_event ev = {
		.topic = PN__TID(
			c->topic,
			atomic_load_explicit(&t->gen, memory_order_relaxed)),
		.reason = reason,
		.seq = seq};

	for (uint32_t i = 0; i < c->n; i++) {
		pn_pid pid = c->subs[i].pid;

		if (!pid)
			continue;
		pid_find(s, pid, c->topic, true);
		/* A stopped actor: a dead letter, as for any message. */
		(void)pn__send_sys(s, pid, PN_MSG_TOPIC_CLOSED, PN_PID_NONE, 0,
				   &ev, sizeof(ev));
		if (reason)
			atomic_fetch_add_explicit(&c->cuts, 1,
						  memory_order_relaxed);
	}
	c->n = c->live = 0;
	atomic_store_explicit(&c->nsubs, 0, memory_order_relaxed);
}

/* CLOSE (in-band) or the SWEEP: @c goes, unless it retired before (then
 * its RETIRE is on the way to the home, which answers RETIRED). */
static void close_chan(struct pn_shard *s, struct pn__tchan *c, uint64_t seq)
{
	if (c->retired)
		return;
	end_all(s, c, 0, seq);
	uninstall(s, c);
	pn__topic_chan_free(s, c);
}

static void sweep_msg(struct pn_shard *s, uint32_t idx)
{
	struct pn__topic *t = &s->rt->topics->t[idx];
	struct pn_msg m = {
		.type = PN__MSG_TOPIC_ACK, .to = PN__TDST(t->home), .ref = idx};

	struct pn__tshard *p = per(s);

	/* No credit for this topic after our ACK (a retired channel's last
	 * slots may have come this turn): the home may reuse the entry. */
	for (unsigned i = 0; i < p->ndirty;) {
		if (p->dirty[i]->topic == idx) {
			p->dirty[i]->dirty = false;
			p->dirty[i] = p->dirty[--p->ndirty];
		} else {
			i++;
		}
	}
	for (unsigned cls = 0; cls < PN_TOPIC_NPOLICIES; cls++) {
		struct pn__tchan *c = atomic_load_explicit(
			PN__TCHAN(t, s->id, cls), memory_order_relaxed);

		if (c)
			close_chan(s, c,
				   atomic_load_explicit(&t->seq,
							memory_order_relaxed));
	}
	pn__topic_post(s, t->home, &m);
}

/* A forwarded delivery for @pid, at its home: still for a subscription
 * of it (it may have ended, or been made again after that message)? */
static bool one_current(struct pn_shard *s, pn_pid pid,
			const struct pn_topic_info *info)
{
	const struct pn__topics *T = s->rt->topics;
	uint32_t idx = PN__TID_IDX(info->topic);
	const struct pn__topic *t = &T->t[idx];
	int cls = pid_find(s, pid, idx, false);
	const struct pn__tchan *c;

	if (atomic_load_explicit(&t->gen, memory_order_relaxed) !=
	    PN__TID_GEN(info->topic))
		return false;
	if (cls < 0) /* ended: by itself, or by a cut or close (CLOSED next) */
		return !pid_unsubbed(s, pid, idx, false);
	c = atomic_load_explicit(PN__TCHAN(t, s->id, cls),
				 memory_order_relaxed);
	for (uint32_t i = 0; c && i < c->n; i++)
		if (c->subs[i].pid == pid)
			return info->seq > c->subs[i].start;
	return false;
}

/*
 * A forwarded delivery passing its subscriber's home (the topic feature is
 * asked before migration routes it on): one for a subscription that ended
 * (or was made again after it) is dropped here. Every one passes the home
 * on its way, also when it comes back from where its actor was, so after
 * an unsubscribe on the home shard none reaches the actor.
 */
bool pn__topic_divert(struct pn_shard *s, struct pn_msg *m)
{
	if (m->type != PN__MSG_TOPIC_ONE || pn_pid_shard(m->to) != s->id ||
	    one_current(s, m->to, &((const struct one_hdr *)m->ptr)->info))
		return false;
	pn__buf_free(s, m->ptr);
	return true;
}

/* TOPIC_ONE for actor @a (NULL: not here, a dead letter): run it, nested
 * if a handler is running (a moved actor's held messages handed over from
 * inside one), and count it in the topic's delivered. */
void pn__topic_one_run(struct pn_shard *s, struct pn__actor *a,
		       struct pn_msg *m)
{
	const struct one_hdr *h = m->ptr;
	struct pn_msg lm = {
		.type = h->type, .len = h->len, .to = m->to, .from = m->from};

	if (h->len <= PN_MSG_INLINE)
		memcpy(lm.data, h + 1, h->len);
	else
		lm.ptr = (void *)(h + 1);
	if (!a) {
		pn__dead_letter_keep(s, &lm);
	} else {
		struct pn__topic *t =
			&s->rt->topics->t[PN__TID_IDX(h->info.topic)];
		const struct pn_topic_info *outer = cur_info;

		if (!s->cur) {
			run(s, a, &lm, &h->info);
		} else {
			cur_info = &h->info;
			pn__run_nested(s, a, &lm);
			cur_info = outer;
		}
		/* Relaxed: a statistic, from any shard a mover is on. */
		atomic_fetch_add_explicit(&t->gone_delivered, 1,
					  memory_order_relaxed);
	}
	pn__buf_free(s, m->ptr);
}

/* The destinations' messages. */
void pn__topic_dst_msg(struct pn_shard *s, struct pn_msg *m)
{
	struct pn__tchan *c;

	switch (m->type) {
	case PN__MSG_TOPIC_SWEEP:
		sweep_msg(s, (uint32_t)m->ref);
		return;
	case PN__MSG_TOPIC_ONE: /* where its actor is (migration routed it) */
		pn__topic_one_run(s, pn__lookup(s, m->to), m);
		return;
	case PN__MSG_TOPIC_SUBREQ:
		pn__topic_subreq_msg(s, m);
		return;
	case PN__MSG_TOPIC_UNSUB: {
		pn_pid pid;

		memcpy(&pid, m->data, sizeof(pid));
		if (m->ref == UINT32_MAX)
			pn__topic_gone(s, pid);
		else
			(void)pn__topic_unsub_here(s, (uint32_t)m->ref, pid);
		return;
	}
	default:
		break;
	}
	c = chan_of(s, m);
	switch (m->type) {
	case PN__MSG_TOPIC_SLOT:
		slot_msg(s, c, m);
		break;
	case PN__MSG_TOPIC_GAP:
		/* Dropped ones each subscriber counts itself (seq). */
		c->confl_in += (uint32_t)m->ref;
		break;
	case PN__MSG_TOPIC_CUT:
		if (!c->retired) {
			end_all(s, c, -ENOBUFS, m->ref);
			retire(s, c);
		}
		break;
	case PN__MSG_TOPIC_RETIRED:
		pn__topic_chan_free(s, c);
		break;
	case PN__MSG_TOPIC_CLOSE:
		close_chan(s, c, m->ref);
		break;
	default:
		pn_panic("unknown topic message %#x", m->type);
	}
}
