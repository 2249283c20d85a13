// SPDX-License-Identifier: MIT
/*
 * The mover's own messages (migrate.c's opening comment, "The mover's own
 * messages"): the fences a move posts to the shards the actor sent to, the
 * acknowledgements its new shard counts, and the deferral while its sends
 * sit in a held queue.
 */
#include "mig_int.h"

/* --- fences: the mover's own messages ------------------------------------ */

/* The shards a FENCE goes to: those whose rings (or, for this one, the
 * local queue) the mover's sends took since it arrived (sent_to). */
static bool fenced(uint64_t mask, unsigned d)
{
	return (mask >> (d & 63)) & 1;
}

uint32_t pn__mig_fence_count(const struct pn_shard *s, uint64_t mask)
{
	uint32_t n = 0;

	for (unsigned d = 0; d < s->nshards; d++)
		n += fenced(mask, d);
	return n;
}

/* FENCE(@pid, @gen) to each shard of @mask (this one: its local queue);
 * each answers ACK to @dest. */
static void fence_post(struct pn_shard *s, pn_pid pid, uint32_t gen,
		       unsigned dest, uint64_t mask)
{
	struct pn_msg m = {.type = PN__MSG_MIG_FENCE,
			   .to = pid,
			   .from = pid,
			   .ref = (uint64_t)gen << 32 | dest};

	for (unsigned d = 0; d < s->nshards; d++)
		if (fenced(mask, d))
			pn__mig_post(s, d, &m);
}

static bool sent_by(struct pn_msg *m, void *pid)
{
	return m->from == *(const pn_pid *)pid;
}

/* Whether a guest's held queue here still holds a message from @pid. */
static bool held_from(struct pn_shard *s, pn_pid pid)
{
	for (uint32_t i = 0; s->mig && i < s->mig->guests.cap; i++) {
		struct pn__guest *e = pn__htab_slot(&s->mig->guests, i);

		if (e && e->held && pn__fifo_each(e->held, sent_by, &pid))
			return true;
	}
	return false;
}

/* @pid left this shard for @dest: fence now, or once its held sends here
 * have been released (pn__mig_fences_retry()). */
void pn__mig_fence_start(struct pn_shard *s, pn_pid pid, uint32_t gen,
			 unsigned dest, uint64_t mask)
{
	struct pn__mig *g = pn__mig_get(s);

	if (!mask)
		return; /* it sent nothing from here: nothing to order */
	if (!held_from(s, pid)) {
		fence_post(s, pid, gen, dest, mask);
		return;
	}
	if (g->ndefer == g->cdefer) {
		uint32_t cap = g->cdefer ? g->cdefer * 2 : 4;
		struct pn__fence *v =
			pn_arena_zalloc(s->arena, cap * sizeof(*v));

		if (!v)
			pn_panic("no memory for a mover's fence");
		if (g->ndefer)
			memcpy(v, g->defer, g->ndefer * sizeof(*v));
		pn_arena_free(s->arena, g->defer, g->cdefer * sizeof(*v));
		g->defer = v;
		g->cdefer = cap;
	}
	g->defer[g->ndefer++] = (struct pn__fence){pid, gen, dest, mask};
}

/* A held queue was released or dropped: post the fences it blocked. */
void pn__mig_fences_retry(struct pn_shard *s)
{
	struct pn__mig *g = s->mig;

	for (uint32_t i = 0; g && i < g->ndefer;) {
		struct pn__fence f = g->defer[i];

		if (held_from(s, f.pid)) {
			i++;
			continue;
		}
		g->defer[i] = g->defer[--g->ndefer];
		fence_post(s, f.pid, f.gen, f.dest, f.mask);
	}
}

/* A FENCE passed this shard: everything its sender sent here before it
 * is sequenced; tell the mover's destination, behind what we sent it. */
void pn__mig_on_fence(struct pn_shard *s, const struct pn_msg *m)
{
	struct pn_msg ack = {.type = PN__MSG_MIG_ACK,
			     .to = m->to,
			     .from = m->to,
			     .ref = m->ref >> 32};

	pn__mig_fwd_send(s, (unsigned)(m->ref & 0xffffffffu), &ack, false);
}

/* P's fence is complete here: MIGRATED, then what waited, in order. */
static void fence_done(struct pn_shard *s, struct pn__guest *e)
{
	struct pn__fifo *fq = e->fq;
	struct pn__actor *a = e->a;
	unsigned from = e->from;

	e->fq = NULL;
	e->mode = PN__G_PENDING;
	pn__mig_migrated(s, a, 0, from, s->id, true);
	if (fq) { /* each through dispatch: P may have moved or stopped */
		pn__mig_replay(s, fq);
		pn_arena_free(s->arena, fq, sizeof(*fq));
	}
}

/* Whether @pid's fence is now complete here, and act on it. */
void pn__mig_fence_try(struct pn_shard *s, pn_pid pid)
{
	struct pn__guest *e = pn__mig_gfind(s, pid);

	/* Before its INSTALL (no actor, not dead) the count is unknown. */
	if (!e || e->mode != PN__G_FENCE || (!e->a && !e->dead) ||
	    e->acks < e->need)
		return;
	pn_verify(e->acks == e->need);
	if (e->dead)
		pn__mig_g_del(
			s, e); /* stopped meanwhile: nothing more to wait for */
	else
		fence_done(s, e);
}

void pn__mig_on_ack(struct pn_shard *s, const struct pn_msg *m)
{
	uint32_t gen = (uint32_t)m->ref;
	struct pn__guest *e;
	struct pn__fwd *f;

	if (pn_pid_shard(m->to) == s->id) { /* P comes home (come_home) */
		f = pn__mig_fwd_of(s, m->to);
		pn_verify(f != NULL);
		if (++f->acks == f->need && f->flushed)
			pn__mig_come_home(s, f);
		return;
	}
	if (!(e = pn__mig_gfind(s, m->to))) { /* before the INSTALL */
		e = pn__mig_g_add(s, m->to);
		e->mode = PN__G_FENCE;
		e->gen = gen;
	}
	pn_verify(e->mode == PN__G_FENCE && e->gen == gen);
	e->acks++;
	pn__mig_fence_try(s, m->to);
}
