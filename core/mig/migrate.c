// SPDX-License-Identifier: MIT
/*
 * Migration: an actor moves to another shard by message and keeps its PID,
 * its per-sender order, its monitors, links, names, timers and requests.
 *
 * The home shard H (the PID's shard bits) is the sequencer. Every message
 * for P still goes to H as it always did, so the order of each sender's
 * messages is fixed there; H passes them on to wherever P lives.
 *
 *  - At H, P's slot holds a forwarder (struct pn__fwd: pid 0 and PN__A_FWD, so
 *    pn__deliver()'s lookup misses and the miss path lands here) that
 *    forwards every message for P, unchanged, over the H->L ring to P's
 *    location L. Rings are FIFO, so order survives.
 *  - At L != H, P lives in the shard's guest table (a hash PID -> actor).
 *    Messages whose `to` is not this shard's reach it through the miss
 *    path: nothing is added to the fast path.
 *  - H -> T: after the handler that called pn_migrate() returns, H packs P
 *    (pack.c) into INSTALL on the H->T ring and puts a forwarder (loc T) in
 *    the slot. T installs P, delivers PN_MSG_MIGRATED, then what follows.
 *  - T -> U (U may be H): T packs P into MOVE for H and keeps a bounce
 *    entry: what reaches T for P afterwards (H forwarded it before it saw
 *    MOVE) goes back to H marked bounced, in order. H on MOVE marks the
 *    forwarder draining (new messages for P wait at H, in order) and sends
 *    FLUSH to T. When FLUSH reaches T, everything H forwarded before it has
 *    arrived and been bounced (T also bounces what its own queue still
 *    holds for P); T answers FLUSHED and drops the entry. H on FLUSHED
 *    sends INSTALL, the bounced messages (stragglers), then the waiting
 *    ones to U, or re-installs P in its slot when U is H. Stragglers were
 *    forwarded before H saw MOVE, so they precede every waiting message:
 *    per-sender order holds. Model: tests/model/migrate.pml.
 *  - Direct sends at L. Sends from L's own actors to P would go L -> H ->
 *    L. Once P is installed, L sends MARK to H; H answers DIRECT after
 *    forwarding everything L's actors sent P before MARK. Meanwhile L holds
 *    its actors' sends to P in order (the guest's held queue); on DIRECT it
 *    hands them to P and from then on L's sends to P go straight to its
 *    local queue. While a shard hosts guests (nguests), its cross-shard
 *    sends take pn__send()'s general path, which looks the guest table up.
 *    When P leaves L, held messages go to H as new messages (they follow
 *    whatever L sent before MARK, which H forwarded and L bounces).
 *
 *
 * The mover's own messages. What P sent before a move may still be on its
 * way (an unpublished batch, an overflow queue, a ring, a home that has
 * not forwarded it yet) when P, at its new location, sends again over
 * another path: a different ring, or straight to a direct guest there.
 * So when P leaves shard T for U, T posts FENCE(P) to every shard, itself
 * included (its local queue): each is behind everything T sent there
 * before, P's messages included. A shard X that dispatches a FENCE has
 * sequenced all of them (handled, forwarded on, or held at their homes),
 * and answers ACK to U over its own ring to U, behind whatever it
 * forwarded to U. U installs P in FENCE mode: its messages wait, in
 * order, in the guest entry's fq, and P does not run until the ACKs of
 * all nshards fences are in (they may come before the INSTALL: the entry
 * counts them). Then P gets MIGRATED and fq in order, and everything it
 * sends follows all it sent before, on every path. A home that P comes
 * back to counts the ACKs on its forwarder and re-installs P after both
 * FLUSHED and the last ACK. One more case: P's sends to a guest pending on
 * T (held until DIRECT) are not sequenced until that guest's held queue
 * is released; T defers P's fences until no held queue there holds a
 * message from P, and DIRECT now hands the held queue to the guest at
 * once, in order, instead of queueing it behind later arrivals. Model:
 * tests/model/migrate_out.pml.
 *
 * Cost: a send to a moved actor from anywhere but its location makes one
 * more ring hop (via its home); sends from its location are local again
 * after the MARK/DIRECT round trip. A move costs 2 x nshards control
 * messages for its fence. The home keeps a forwarder per moved-away actor
 * until the actor stops (GONE) or comes back.
 */
#include "mig_int.h"

#include <errno.h>

/* --- delivering to a guest ---------------------------------------------- */

static inline void guest_deliver(struct pn_shard *s, struct pn__actor *a,
				 struct pn_msg *m)
{
	if (PN_UNLIKELY(m->type >= PN__MSG_INTERNAL)) { /* its feature's */
		pn__features_run(s, a, m);
		return;
	}
	if (!s->cur) { /* the common case, as pn__deliver() */
		pn__run(s, a, m);
		return;
	}
	pn__run_nested(s, a, m);
	if (m->len > PN_MSG_INLINE)
		pn__buf_free(s, m->ptr);
}

/* PN_MSG_MIGRATED to @a: now (@now, it just arrived) or queued. */
void pn__mig_migrated(struct pn_shard *s, struct pn__actor *a, int status,
		      unsigned from, unsigned to, bool now)
{
	struct pn_migrated d = {.status = status, .from = from, .to = to};
	struct pn_msg m = {.type = PN_MSG_MIGRATED,
			   .len = sizeof(d),
			   .to = a->pid,
			   .from = a->pid};

	memcpy(m.data, &d, sizeof(d));
	if (!now) { /* it stays: after what is queued for it already */
		if (pn__send_sys(s, a->pid, m.type, a->pid, 0, &d, sizeof(d)) <
		    0)
			pn_panic("cannot send PN_MSG_MIGRATED: %s",
				 pn_last_error());
	} else if (pn_pid_shard(a->pid) == s->id) {
		pn__deliver(s, &m);
	} else {
		guest_deliver(s, a, &m);
	}
}

/* --- the home's forwarders ---------------------------------------------- */

struct take_back {
	struct pn_shard *s;
	struct pn__fwd *f;
};

static bool take_back_one(struct pn_msg *m, void *arg)
{
	struct take_back *t = arg;

	if (m->to != t->f->pid || m->type == PN__MSG_MIG_NOP)
		return false;
	/* A DIRECT for P's stay there is stale now: dropped (were P to come
	 * back, it would open the direct path too early). Other protocol
	 * messages (an ACK for another mover's fence) must still go. */
	if (m->type == PN__MSG_MIG_DIRECT) {
		t->s->side_bytes -= pn__msg_cost(m->len) - pn__msg_cost(0);
		m->type = PN__MSG_MIG_NOP;
		return false;
	}
	if (pn__mig_proto(m->type))
		return false;
	pn__mig_fifo_put(t->s, &t->f->back, m);
	/* A NOP stays in its place, without the payload's bytes. */
	t->s->side_bytes -= pn__msg_cost(m->len) - pn__msg_cost(0);
	m->type = PN__MSG_MIG_NOP;
	m->len = 0;
	return false;
}

/* On MOVE: what still waits here to go to P's old location has not left:
 * take it back, in order, to follow the stragglers (which are older). */
void pn__mig_take_back(struct pn_shard *s, struct pn__fwd *f)
{
	struct take_back t = {s, f};

	if (pn__fifo_len(&s->out[f->loc].fwdq))
		pn__fifo_each(&s->out[f->loc].fwdq, take_back_one, &t);
}

struct pn__fwd *pn__mig_fwd_of(struct pn_shard *s, pn_pid pid)
{
	uint32_t idx = pn_pid_slot(pid);
	struct pn__actor *a;

	if (idx >= s->max_slots || !(a = s->slots[idx].actor) ||
	    !(a->flags & PN__A_FWD))
		return NULL;
	return ((struct pn__fwd *)a)->pid == pid ? (struct pn__fwd *)a : NULL;
}

/* Publish where this shard's actor @pid lives (pn_where()). Relaxed: the
 * value is a hint that may be stale the moment it is read; nothing else
 * is published through it. */
static void where_set(struct pn_shard *s, pn_pid pid, unsigned loc)
{
	atomic_store_explicit(&s->where[pn_pid_slot(pid)],
			      loc == s->id ? 0 : (uint16_t)(loc + 1),
			      memory_order_relaxed);
}

static void fwd_new(struct pn_shard *s, pn_pid pid, unsigned loc)
{
	struct pn__mig *g = pn__mig_get(s);
	struct pn__fwd *f =
		pn_arena_alloc_aligned(s->arena, sizeof(*f), PN_CACHELINE);

	if (!f)
		pn_panic("no memory for a forwarder");
	memset(f, 0, sizeof(*f));
	f->a.flags = PN__A_FWD;
	f->pid = pid;
	f->loc = loc;
	f->next = g->fwds;
	if (g->fwds)
		g->fwds->prev = f;
	g->fwds = f;
	s->slots[pn_pid_slot(pid)].actor = &f->a;
	where_set(s, pid, loc);
}

static void fwd_free(struct pn_shard *s, struct pn__fwd *f)
{
	where_set(s, f->pid, s->id); /* home, or gone */
	if (f->prev)
		f->prev->next = f->next;
	else
		s->mig->fwds = f->next;
	if (f->next)
		f->next->prev = f->prev;
	pn__fifo_fini(&f->strag, s->arena);
	pn__fifo_fini(&f->back, s->arena);
	pn__fifo_fini(&f->held, s->arena);
	if (f->draining && f->move.len > PN_MSG_INLINE)
		pn__buf_free(s, f->move.ptr);
	pn_arena_free_aligned(s->arena, f, sizeof(*f), PN_CACHELINE);
}

/* A message for P at its home while P is away (forward queues: above). */
static void fwd_take(struct pn_shard *s, struct pn__fwd *f, struct pn_msg *m)
{
	if (m->len & PN__LEN_BOUNCED) {
		pn_verify(f->draining); /* bounces come between MOVE, FLUSHED */
		m->len &= ~PN__LEN_BOUNCED;
		pn__mig_fifo_put(s, &f->strag, m);
	} else if (f->draining) {
		pn__mig_fifo_put(s, &f->held, m);
	} else {
		pn__mig_fwd_send(s, f->loc, m, true);
	}
}

/* Run every message of @q through dispatch, in order, and free @q. */
void pn__mig_replay(struct pn_shard *s, struct pn__fifo *q)
{
	struct pn_msg *p;

	while ((p = pn__fifo_peek(q)) != NULL) {
		struct pn_msg m = *p;

		pn__fifo_pop(q, s->arena);
		pn__acct_side_out(s, &m);
		pn__dispatch(s, &m);
	}
	pn__fifo_fini(q, s->arena);
}

/* FLUSHED (and the fence) with U == H: P comes home; then the stragglers,
 * what was taken back, then what came meanwhile. */
void pn__mig_come_home(struct pn_shard *s, struct pn__fwd *f)
{
	struct pn__fifo strag = f->strag, back = f->back, held = f->held;
	struct pn_msg move = f->move;
	unsigned from, dest;
	struct pn__actor *a;
	int err = 0;

	f->strag = f->back = f->held = (struct pn__fifo){0};
	f->draining = false; /* the MOVE's payload is ours now */
	fwd_free(s, f);
	a = pn__mig_unpack(s, &move, &err, &from, &dest);
	pn__buf_free(s, move.ptr);
	s->slots[pn_pid_slot(a->pid)].actor = a;
	pn__traffic_count(s, PN__TR_INSTALLS);
	if (err < 0)
		pn__actor_stop(s, a, PN_REASON_FAILED, err);
	else
		pn__mig_migrated(s, a, 0, from, s->id, true);
	pn__mig_replay(s, &strag);
	pn__mig_replay(s, &back);
	pn__mig_replay(s, &held);
}

/* --- the protocol ------------------------------------------------------- */

static void on_install(struct pn_shard *s, struct pn_msg *m)
{
	unsigned from, dest;
	uint32_t gen, need;
	int err = 0;
	struct pn__actor *a = pn__mig_unpack(s, m, &err, &from, &dest);
	struct pn__guest *e = pn__mig_gfind(s, m->to);

	pn__mig_fence_of(m, &gen, &need);
	pn__buf_free(s, m->ptr);
	if (!e)
		e = pn__mig_g_add(s, m->to);
	pn_verify(!e->a && (!e->acks || e->gen == gen));
	e->a = a;
	e->mode = PN__G_FENCE; /* until its fence is complete */
	e->gen = gen;
	e->need = need;
	e->from = (uint16_t)from;
	pn__mig_guests_add(s, 1);
	pn__traffic_count(s, PN__TR_INSTALLS);
	pn__mig_ctl(s, pn_pid_shard(m->to), PN__MSG_MIG_MARK, m->to);
	if (err < 0)
		pn__actor_stop(s, a, PN_REASON_FAILED, err);
	else
		pn__mig_fence_try(s, m->to);
}

static void on_move(struct pn_shard *s, struct pn_msg *m)
{
	struct pn__fwd *f = pn__mig_fwd_of(s, m->to);

	uint32_t gen;

	pn_verify(f && !f->draining);
	f->draining = true;
	f->flushed = false;
	f->dest = (unsigned)m->ref;
	f->move = *m;
	pn__mig_fence_of(m, &gen, &f->need); /* counted here if P comes home */
	pn__mig_take_back(s, f);
	pn__mig_ctl(s, f->loc, PN__MSG_MIG_FLUSH, f->pid);
}

static void on_flush(struct pn_shard *s, const struct pn_msg *m)
{
	struct pn__guest *e = pn__mig_gfind(s, m->to);

	pn_verify(e && e->mode == PN__G_BOUNCE);
	pn__mig_g_del(s, e);
	/* Still queued here for P (our actors' direct sends, timers): after
	 * the bounces, before FLUSHED. No local message is being dispatched:
	 * FLUSH comes from a ring. */
	pn__mig_bounce_local(s, m->to);
	pn__mig_ctl(s, pn_pid_shard(m->to), PN__MSG_MIG_FLUSHED, m->to);
}

static void on_flushed(struct pn_shard *s, const struct pn_msg *m)
{
	struct pn__fwd *f = pn__mig_fwd_of(s, m->to);
	struct pn_msg inst;

	pn_verify(f && f->draining);
	if (f->dest == s->id) { /* home again once its fence is in too */
		f->flushed = true;
		if (f->acks == f->need)
			pn__mig_come_home(s, f);
		return;
	}
	inst = f->move;
	inst.type = PN__MSG_MIG_INSTALL;
	inst.ref = 0;
	f->draining = false; /* the payload travels on */
	pn__mig_post(s, f->dest, &inst);
	/* Then everything for P, in order, as the ring to U has room: the
	 * stragglers, what was taken back, what came while draining. */
	pn__mig_fifo_forward(s, &f->strag, f->dest);
	pn__mig_fifo_forward(s, &f->back, f->dest);
	pn__mig_fifo_forward(s, &f->held, f->dest);
	f->loc = f->dest;
	where_set(s, f->pid, f->loc);
}

static void on_gone(struct pn_shard *s, const struct pn_msg *m)
{
	struct pn__fwd *f = pn__mig_fwd_of(s, m->to);

	pn_verify(f && !f->draining);
	fwd_free(s, f);
	pn__slot_free(s, pn_pid_slot(m->to));
}

/*
 * DIRECT: hand @pid the sends held for it, in order, now (queued behind
 * later arrivals they could be overtaken by messages from a sender that
 * has moved since); if it leaves or stops meanwhile, the rest goes to its
 * home, as guest_leave() does.
 */
static void held_deliver(struct pn_shard *s, pn_pid pid, struct pn__fifo *held)
{
	struct pn_msg *p;

	while ((p = pn__fifo_peek(held)) != NULL) {
		struct pn_msg m = *p;
		struct pn__guest *e;

		pn__fifo_pop(held, s->arena);
		pn__acct_side_out(s, &m);
		e = pn__mig_gfind(s, pid);
		if (e && e->mode == PN__G_DIRECT && e->a)
			pn__dispatch(s, &m);
		else
			pn__mig_repost(s, pn_pid_shard(pid), &m);
	}
	pn__mig_side_free(s, &held);
}

static void on_direct(struct pn_shard *s, const struct pn_msg *m)
{
	struct pn__guest *e = pn__mig_gfind(s, m->to);
	struct pn__fifo *held;

	if (!e || !e->a || e->dead)
		return; /* it left meanwhile: its held messages went home */
	if (e->mode == PN__G_FENCE) { /* in its order, after what it holds */
		pn__mig_hold(s, &e->fq, m);
		return;
	}
	if (e->mode != PN__G_PENDING)
		return;
	held = e->held;
	e->held = NULL;
	e->mode = PN__G_DIRECT;
	pn__direct_add(s, e->a); /* the fast paths find it from now on */
	if (held)
		held_deliver(s, m->to, held);
	pn__mig_fences_retry(s);
}

static void proto(struct pn_shard *s, struct pn_msg *m)
{
	struct pn__fwd *f;

	switch (m->type) {
	case PN__MSG_MIG_INSTALL:
		on_install(s, m);
		break;
	case PN__MSG_MIG_MOVE:
		on_move(s, m);
		break;
	case PN__MSG_MIG_FLUSH:
		on_flush(s, m);
		break;
	case PN__MSG_MIG_FLUSHED:
		on_flushed(s, m);
		break;
	case PN__MSG_MIG_GONE:
		on_gone(s, m);
		break;
	case PN__MSG_MIG_MARK:
		if ((f = pn__mig_fwd_of(s, m->to)) != NULL && !f->draining) {
			struct pn_msg d = {.type = PN__MSG_MIG_DIRECT,
					   .to = f->pid,
					   .from = f->pid};

			/* Behind everything forwarded to it before. */
			pn__mig_fwd_send(s, f->loc, &d, false);
		}
		break;
	case PN__MSG_MIG_DIRECT:
		on_direct(s, m);
		break;
	case PN__MSG_MIG_FENCE:
		pn__mig_on_fence(s, m);
		break;
	case PN__MSG_MIG_ACK:
		pn__mig_on_ack(s, m);
		break;
	default: /* PN__MSG_MIG_NOP */
		break;
	}
}

/* A message P's forwarder or a bounce entry takes: true if taken. */
static bool route(struct pn_shard *s, struct pn_msg *m)
{
	struct pn__guest *e;
	struct pn__fwd *f;

	if (pn_pid_shard(m->to) == s->id) {
		if (!(f = pn__mig_fwd_of(s, m->to)))
			return false;
		fwd_take(s, f, m);
		return true;
	}
	if (!(e = pn__mig_gfind(s, m->to)) || e->dead)
		return false;
	if (e->mode == PN__G_BOUNCE) {
		pn__mig_bounce(s, m);
		return true;
	}
	if (e->mode == PN__G_FENCE) { /* it does not run yet */
		pn__mig_hold(s, &e->fq, m);
		return true;
	}
	return false;
}

/* pn__send() on a shard with guests: where a message for @to goes. */
unsigned pn__mig_dst(struct pn_shard *s, pn_pid to, struct pn__fifo **held)
{
	struct pn__guest *e = pn__mig_gfind(s, to);

	if (!e || e->mode == PN__G_BOUNCE || !e->a)
		return pn_pid_shard(to);
	if (e->mode == PN__G_PENDING || e->mode == PN__G_FENCE) {
		if (!e->held &&
		    !(e->held = pn_arena_zalloc(s->arena, sizeof(*e->held))))
			pn_panic("no memory to hold messages for a guest");
		*held = e->held;
	}
	return s->id;
}

/* A guest stopped here (actor_free): what waited for it is dead letters;
 * an entry still waiting for fence ACKs stays to count them. */
void pn__mig_guest_del(struct pn_shard *s, pn_pid pid)
{
	struct pn__guest *e = pn__mig_gfind(s, pid);

	if (!e)
		return;
	pn__mig_side_drop(s, &e->held);
	pn__mig_side_drop(s, &e->fq);
	if (e->mode == PN__G_DIRECT)
		pn__direct_del(s, pid);
	if (e->mode != PN__G_BOUNCE)
		pn__mig_guests_add(s, -1);
	if (e->mode == PN__G_FENCE && e->acks < e->need) {
		e->dead = true;
		e->a = NULL;
	} else {
		pn__mig_g_del(s, e);
	}
	pn__mig_fences_retry(s);
}

void pn__mig_gone(struct pn_shard *s, pn_pid pid)
{
	pn__mig_ctl(s, pn_pid_shard(pid), PN__MSG_MIG_GONE, pid);
}

/* --- leaving -------------------------------------------------------------- */

/* P left this guest shard: keep a bounce entry; held messages go home. */
static void guest_leave(struct pn_shard *s, pn_pid pid)
{
	struct pn__guest *e = pn__mig_gfind(s, pid);
	struct pn__fifo *held = e->held;

	if (e->mode == PN__G_DIRECT)
		pn__direct_del(s, pid);
	e->a = NULL;
	e->held = NULL;
	e->mode = PN__G_BOUNCE;
	pn__mig_guests_add(s, -1);
	if (held) {
		pn__mig_fifo_post(s, held, pn_pid_shard(pid));
		pn__mig_side_free(s, &held);
		pn__mig_fences_retry(s);
	}
}

/* Move @a to a->mig_to now (its handler has returned). */
void pn__mig_leave(struct pn_shard *s, struct pn__actor *a)
{
	unsigned dest = a->mig_to, home = pn_pid_shard(a->pid);
	struct pn_msg m = {.to = a->pid, .from = a->pid};
	pn_pid pid = a->pid;
	int err = pn__mig_check(s->rt, home, dest);
	uint32_t gen = a->moves + 1;
	uint64_t mask = a->sent_to;

	a->moves = gen; /* the payload carries this move's generation */
	if (!err)
		err = pn__mig_pack(s, a, dest, pn__mig_fence_count(s, mask),
				   &m);
	if (err < 0) {
		a->moves = gen - 1;
		pn__mig_migrated(s, a, err, s->id, dest, false);
		return;
	}
	PN_PROBE3(migrate, pid, s->id, dest);
	pn__actor_release(s, a); /* its timers and requests are in m */
	if (home == s->id) {
		fwd_new(s, pid, dest);
		m.type = PN__MSG_MIG_INSTALL;
		pn__mig_post(s, dest, &m);
	} else {
		m.type = PN__MSG_MIG_MOVE;
		m.ref = dest;
		pn__mig_post(s, home, &m);
		guest_leave(s, pid);
	}
	pn__mig_fence_start(s, pid, gen, dest, mask);
	pn__traffic_count(s, PN__TR_MOVES);
}

/* PN__MSG_MIG_REQ reached @a where it lives. */
void pn__mig_request(struct pn_shard *s, struct pn__actor *a,
		     const struct pn_msg *m)
{
	uint32_t to = (uint32_t)pn_msg_u64(m);

	if ((a->flags & PN__A_DYING) || to == s->id)
		return;
	a->mig_to = to;
	pn__mig_leave(s, a);
}

/* Call @fn on every side queue migration keeps on this shard: the
 * forwarders' stragglers and held messages, the guests' held sends
 * (shutdown's join empties them). */
void pn__mig_side_queues(struct pn_shard *s,
			 void (*fn)(struct pn_shard *s, struct pn__fifo *f,
				    void *arg),
			 void *arg)
{
	if (!s->mig)
		return;
	for (struct pn__fwd *f = s->mig->fwds; f; f = f->next) {
		fn(s, &f->strag, arg);
		fn(s, &f->back, arg);
		fn(s, &f->held, arg);
	}
	for (unsigned d = 0; d < s->nshards; d++)
		fn(s, &s->out[d].fwdq, arg);
	for (uint32_t i = 0; i < s->mig->guests.cap; i++) {
		struct pn__guest *e = pn__htab_slot(&s->mig->guests, i);

		if (e && e->held)
			fn(s, e->held, arg);
		if (e && e->fq)
			fn(s, e->fq, arg);
	}
}

/* Free the forwarders and the guest table (the shard is being freed). */
void pn__mig_fini(struct pn_shard *s)
{
	if (!s->mig)
		return;
	while (s->mig->fwds) {
		struct pn__fwd *f = s->mig->fwds;

		s->slots[pn_pid_slot(f->pid)].actor = NULL;
		fwd_free(s, f);
	}
	for (uint32_t i = 0; i < s->mig->guests.cap; i++) {
		struct pn__guest *e = pn__htab_slot(&s->mig->guests, i);

		if (e) {
			pn__mig_side_free(s, &e->held);
			pn__mig_side_free(s, &e->fq);
		}
	}
	pn_arena_free(s->arena, s->mig->defer,
		      s->mig->cdefer * sizeof(*s->mig->defer));
	pn__htab_fini(&s->mig->guests, s->arena);
	pn_arena_free(s->arena, s->mig, sizeof(*s->mig));
	s->mig = NULL;
}

/* --- migration as a feature of the scheduler ------------------------------ */

const struct pn__route pn__mig_route = {
	.slot = pn__mig_send_slot,
	.dst = pn__mig_dst,
};

/* A message for no actor of the slot table: a guest living here (run it
 * at once, as the fast path would), or one to forward or bounce. */
static bool mig_miss(struct pn_shard *s, struct pn_msg *m)
{
	struct pn__actor *a;

	if (!s->mig)
		return false;
	if (s->mig->nguests && (a = pn__mig_guest_hot(s, m->to)) != NULL) {
		guest_deliver(s, a, m);
		return true;
	}
	return route(s, m);
}

/* The slow path's first look: runtime messages and replies for an actor
 * that moved away are forwarded (protocol messages are not: their range
 * takes them). */
static bool mig_divert(struct pn_shard *s, struct pn_msg *m)
{
	return s->mig && !pn__mig_proto(m->type) && route(s, m);
}

static void mig_req_msg(struct pn_shard *s, struct pn_msg *m)
{
	struct pn__actor *a = pn__actor_target(s, m);

	if (a)
		pn__mig_request(s, a, m);
}

static void mig_proto_msg(struct pn_shard *s, struct pn_msg *m)
{
	proto(s, m);
}

static void mig_guest_gone(struct pn_shard *s, pn_pid pid)
{
	pn__mig_guest_del(s, pid);
	pn__mig_gone(s, pid); /* its home frees the slot */
}

static struct pn__actor *mig_find(struct pn_shard *s, pn_pid pid)
{
	return pn__mig_guest_hot(s, pid);
}

static void mig_pending(struct pn_shard *s, struct pn__actor *a, unsigned p)
{
	if (p & PN__P_MIGRATE) /* @a is gone from here after it */
		pn__mig_leave(s, a);
}

static int mig_create(struct pn_runtime *rt)
{
	rt->svc.pending = mig_pending;
	rt->svc.place = pn__place;
	return pn__place_init(rt);
}

static const struct pn__msg_range mig_ranges[] = {
	{PN__MSG_MIG_REQ, PN__MSG_MIG_REQ + 1, mig_req_msg, NULL, NULL},
	{PN__MSG_MIG_REQ + 1, PN__MSG_MIG_END, mig_proto_msg, NULL, NULL},
};

/* Every shard's migration counters into a metrics snapshot. */
static void mig_snapshot(const struct pn_runtime *rt, struct pn__snap *out)
{
	for (unsigned i = 0; i < out->nshards && i < rt->nshards; i++)
		pn_migrate_stats(rt, i, &out->migrate[i]);
}

const struct pn__feature pn__mig_feature = {
	.name = "migration",
	.create = mig_create,
	.start = pn__place_start,
	.destroy = pn__place_fini,
	.shard_free = pn__mig_fini,
	.turn = pn__mig_pump,
	.ready = pn__mig_pump_room,
	.park = pn__mig_pump_arm,
	.ranges = mig_ranges,
	.nranges = sizeof(mig_ranges) / sizeof(mig_ranges[0]),
	.miss = mig_miss,
	.side_queues = pn__mig_side_queues,
	.find = mig_find,
	.divert = mig_divert,
	.guest_gone = mig_guest_gone,
	.publish = pn__traffic_note,
	.snapshot = mig_snapshot,
};
