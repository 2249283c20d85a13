// SPDX-License-Identifier: MIT
/*
 * Migration's queues: the per-shard state and the guest table (an open
 * addressing hash PID -> entry), the sends the protocol makes (control
 * messages, re-posting, bouncing, holding, side queues and their
 * accounting), and the home's forward queues, which send a moved actor's
 * messages on only while the ring to its location has room.
 */
#include "mig_int.h"

#include <errno.h>

struct pn__mig *pn__mig_get(struct pn_shard *s)
{
	if (!s->mig) {
		if (!(s->mig = pn_arena_zalloc(s->arena, sizeof(*s->mig))))
			pn_panic("no memory for migration state");
		s->mig->bit = pn__feature_bit(s->rt, &pn__mig_feature);
		pn__htab_init(&s->mig->guests, sizeof(struct pn__guest), 16,
			      1u << 30);
	}
	return s->mig;
}

/* A guest more (+1) or less (-1) lives here: while any does, the shard's
 * sends ask us where they go. */
void pn__mig_guests_add(struct pn_shard *s, int n)
{
	s->mig->nguests += (uint32_t)n;
	s->route = s->mig->nguests ? &pn__mig_route : NULL;
}

/* A forward queue became non-empty (+1) or empty (-1): while any holds
 * something, the loop pumps them (the feature's turn hooks). */
void pn__mig_pump_add(struct pn_shard *s, int n)
{
	struct pn__mig *g = pn__mig_get(s);

	g->npump += (uint32_t)n;
	if (g->npump)
		s->turn_want |= g->bit;
	else
		s->turn_want &= ~g->bit;
}

/* --- the guest table ---------------------------------------------------- */

struct pn__guest *pn__mig_g_add(struct pn_shard *s, pn_pid pid)
{
	struct pn__guest *e;

	if (pn__htab_add(&pn__mig_get(s)->guests, s->arena, pid, (void **)&e))
		pn_panic("no memory for the guest table");
	return e;
}

void pn__mig_g_del(struct pn_shard *s, struct pn__guest *e)
{
	pn__htab_del(&s->mig->guests, e);
}

/* --- sending ------------------------------------------------------------- */

/* Put a copy of @m on the way to shard @dst: the runtime's own traffic,
 * exempt from the overflow budget (it must not be lost). */
void pn__mig_post(struct pn_shard *s, unsigned dst, const struct pn_msg *m)
{
	struct pn__res r;

	if (pn__msg_reserve(s, dst, m->len & ~PN__LEN_BOUNCED, true, &r) < 0)
		pn_panic("migration: cannot send %#x: %s", m->type,
			 pn_last_error());
	*r.m = *m;
	pn__msg_commit(s, dst, &r);
}

void pn__mig_ctl(struct pn_shard *s, unsigned dst, uint32_t type, pn_pid pid)
{
	struct pn_msg m = {.type = type, .to = pid, .from = pid};

	pn__mig_post(s, dst, &m);
}

/* Put @m in side queue @f: a message already accepted (@moved: taken from
 * a queue) or a new control message. */
void pn__mig_side_put(struct pn_shard *s, struct pn__fifo *f,
		      const struct pn_msg *m, bool moved)
{
	struct pn_msg *slot = pn__fifo_slot(f, s->arena);

	if (!slot)
		pn_panic("no memory to hold a message of a moving actor");
	*slot = *m;
	pn__fifo_commit(f);
	pn__acct_side_in(s, m);
	if (moved)
		pn__acct_moved(s);
}

/* Hold @m, taken from a queue, in side queue @f. */
void pn__mig_fifo_put(struct pn_shard *s, struct pn__fifo *f,
		      const struct pn_msg *m)
{
	pn__mig_side_put(s, f, m, true);
}

/* Post @m, a message already accepted, on to shard @dst. */
void pn__mig_repost(struct pn_shard *s, unsigned dst, const struct pn_msg *m)
{
	pn__mig_post(s, dst, m);
	pn__acct_moved(s);
}

/* Post every message of side queue @f to @dst, in order, and empty it. */
void pn__mig_fifo_post(struct pn_shard *s, struct pn__fifo *f, unsigned dst)
{
	struct pn_msg *m;

	while ((m = pn__fifo_peek(f)) != NULL) {
		pn__mig_repost(s, dst, m);
		pn__acct_side_out(s, m);
		pn__fifo_pop(f, s->arena);
	}
}

/* Send @m back to its home, marked: it reached a former location. */
void pn__mig_bounce(struct pn_shard *s, struct pn_msg *m)
{
	struct pn_msg b = *m;

	b.len |= PN__LEN_BOUNCED;
	pn__mig_repost(s, pn_pid_shard(m->to), &b);
	pn__traffic_count(s, PN__TR_BOUNCED);
}

struct bounce_arg {
	struct pn_shard *s;
	pn_pid pid;
};

static bool bounce_one(struct pn_msg *m, void *arg)
{
	const struct bounce_arg *b = arg;

	if (m->to == b->pid && m->type != PN__MSG_MIG_NOP) {
		pn__mig_bounce(b->s, m);
		m->type = PN__MSG_MIG_NOP;
		m->len = 0; /* the bounced copy owns the payload */
	}
	return false;
}

/* Bounce what this shard's local queue still holds for @pid, in order,
 * leaving a NOP in its place. Not while a local message is dispatched. */
void pn__mig_bounce_local(struct pn_shard *s, pn_pid pid)
{
	struct bounce_arg b = {s, pid};

	pn__fifo_each(&s->local, bounce_one, &b);
}

/* Hold @m (taken from a queue) in the side queue *@q, made on first use. */
void pn__mig_hold(struct pn_shard *s, struct pn__fifo **q,
		  const struct pn_msg *m)
{
	if (!*q && !(*q = pn_arena_zalloc(s->arena, sizeof(**q))))
		pn_panic("no memory to hold messages for a moving actor");
	pn__mig_fifo_put(s, *q, m);
}

/* Free the side queue *@q (empty, or its messages already dealt with). */
void pn__mig_side_free(struct pn_shard *s, struct pn__fifo **q)
{
	if (!*q)
		return;
	pn__fifo_fini(*q, s->arena);
	pn_arena_free(s->arena, *q, sizeof(**q));
	*q = NULL;
}

/* Dead-letter every message of the side queue *@q and free it. */
void pn__mig_side_drop(struct pn_shard *s, struct pn__fifo **q)
{
	struct pn_msg *m;

	while (*q && (m = pn__fifo_peek(*q)) != NULL) {
		pn__acct_side_out(s, m);
		pn__dead_letter(s, m);
		pn__fifo_pop(*q, s->arena);
	}
	pn__mig_side_free(s, q);
}

/* --- forward queues --------------------------------------------------------
 *
 * A home sends a moved actor's messages on only when the ring to its
 * location has room and nothing waits in overflow there; until then they
 * wait, in order, in that destination's forward queue, here. So when the
 * actor moves on, what is already at the old location is at most a ring's
 * worth (that is all the move bounces), and the rest is taken back from
 * the queue without crossing a shard (pn__mig_take_back()). The control
 * messages that promise "everything before me has been forwarded" (DIRECT, a
 * fence's ACK) go through the same queue, behind what they promise.
 */

/* Post @m to shard @d at once if nothing waits for room there, else
 * behind what waits. @moved: a message already accepted (a forward). */
void pn__mig_fwd_send(struct pn_shard *s, unsigned d, const struct pn_msg *m,
		      bool moved)
{
	struct pn__out *o = &s->out[d];

	if (d == s->id ||
	    (!pn__fifo_len(&o->fwdq) && !pn__fifo_len(&o->overflow) &&
	     pn_ring_slot(o->ring))) {
		if (moved) {
			pn__mig_repost(s, d, m);
			pn__traffic_count(s, PN__TR_FORWARDED);
		} else {
			pn__mig_post(s, d, m);
		}
		return;
	}
	if (!pn__fifo_len(&o->fwdq))
		pn__mig_pump_add(s, 1);
	pn__mig_side_put(s, &o->fwdq, m, moved);
}

/* Forward every message of side queue @f to @d, in order, and empty it. */
void pn__mig_fifo_forward(struct pn_shard *s, struct pn__fifo *f, unsigned d)
{
	struct pn_msg *m;

	while ((m = pn__fifo_peek(f)) != NULL) {
		pn__acct_side_out(s, m);
		pn__mig_fwd_send(s, d, m, true);
		pn__fifo_pop(f, s->arena);
	}
}

/*
 * Send on what the forward queues hold while their rings have room; each
 * loop turn (shard.c) while any holds something. A NOP (a message taken
 * back) is dropped here. Returns how many went.
 */
unsigned pn__mig_pump(struct pn_shard *s)
{
	unsigned n = 0;

	for (unsigned d = 0; d < s->nshards && s->mig->npump; d++) {
		struct pn__out *o = &s->out[d];
		struct pn_msg *m;

		if (!pn__fifo_len(&o->fwdq))
			continue;
		while ((m = pn__fifo_peek(&o->fwdq)) != NULL &&
		       !pn__fifo_len(&o->overflow) && pn_ring_slot(o->ring)) {
			pn__acct_side_out(s, m);
			if (m->type != PN__MSG_MIG_NOP) {
				pn__mig_repost(s, d, m);
				/* A copy across shards (migration stats). */
				if (!pn__mig_proto(m->type))
					pn__traffic_count(s, PN__TR_FORWARDED);
				n++;
			}
			pn__fifo_pop(&o->fwdq, s->arena);
		}
		if (!pn__fifo_len(&o->fwdq))
			pn__mig_pump_add(s, -1);
	}
	return n;
}

/* Parking: whether a ring a forward queue waits on has room again. */
bool pn__mig_pump_room(struct pn_shard *s)
{
	for (unsigned d = 0; s->mig && s->mig->npump && d < s->nshards; d++)
		if (pn__fifo_len(&s->out[d].fwdq) &&
		    !pn__fifo_len(&s->out[d].overflow) &&
		    pn_ring_slot(s->out[d].ring))
			return true;
	return false;
}

/* Parking: ask the consumers of those rings to wake us when they have
 * room (shard.c's room handshake; release: see room_arm() there). */
void pn__mig_pump_arm(struct pn_shard *s)
{
	for (unsigned d = 0; s->mig && s->mig->npump && d < s->nshards; d++)
		if (pn__fifo_len(&s->out[d].fwdq))
			atomic_store_explicit(&s->out[d].ring->waiter,
					      PN__ROOM_SHARD,
					      memory_order_release);
}
