// SPDX-License-Identifier: MIT
/*
 * The scheduler measures itself (meter.h has the model): each shard's
 * meter block, the sampled dispatch (the stamp on the sending side; timing
 * the handler and charging queue and handler time to the actor's entry in
 * a small per-shard table on the receiving side), the ring high-water
 * marks and the periodic tick. obs/ reads all of it for its snapshots.
 *
 * Sampling. The sender stamps one in metrics_sample application sends
 * (pn__met_send: a countdown, then the clock read and the stamp bit only
 * for the chosen message); the receiver sees the bit through its ordinary
 * slow-path test and comes here. So the per-actor statistics cost nothing
 * per message on the receiving side and a countdown per send on the
 * sending side. Messages that are not actor-to-actor sends (external
 * injects, timers, io completions, system messages) are not sampled.
 *
 * The per-actor table has PN__ATAB entries, open addressed by PID with
 * eight probes; a new actor takes an empty entry or the least sampled of
 * those probed. The owner rewrites an entry's identity in a write section
 * of the entry's seqlock (base/seqlock.h; the owner is its one writer, and
 * the scraper skips an entry it finds being rewritten); counters in an
 * entry are owner-written relaxed atomics, like every other counter here.
 */
#include "sched_int.h"
#include "seqlock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int meter_shard(struct pn_runtime *rt, struct pn_shard *s)
{
	struct pn__met *mt = &s->met;
	struct pn__mshard *sh = aligned_alloc(
		PN_CACHELINE,
		(sizeof(*sh) + PN_CACHELINE - 1) / PN_CACHELINE * PN_CACHELINE);

	if (!sh)
		return -ENOMEM;
	memset(sh, 0, sizeof(*sh));
	mt->sh = sh;
	sh->sent_to = calloc(s->nshards, sizeof(*sh->sent_to));
	sh->hwm = calloc(s->nsources, sizeof(*sh->hwm));
	mt->hwm = calloc(s->nsources, sizeof(*mt->hwm));
	if (!sh->sent_to || !sh->hwm || !mt->hwm)
		return -ENOMEM;
	mt->now = rt->now;
	mt->now_arg = rt->now_arg;
	mt->sample = rt->cfg.metrics_sample;
	/* 0 with sampling off: the countdown wraps and reaches 0 again only
	 * after 2^32 sends, when pn__met_stamp() just reloads it. */
	mt->send_cd = mt->sample;
	return 0;
}

int pn__met_create(struct pn_runtime *rt)
{
	for (unsigned i = 0; i < rt->nshards; i++)
		if (meter_shard(rt, rt->shard[i]) < 0)
			return pn__error(-ENOMEM, "no memory for metrics");
	return 0;
}

void pn__met_destroy(struct pn_runtime *rt)
{
	for (unsigned i = 0; rt->shard && i < rt->nshards; i++) {
		struct pn__met *mt;

		if (!rt->shard[i])
			continue;
		mt = &rt->shard[i]->met;
		if (mt->sh) {
			free(mt->sh->sent_to);
			free(mt->sh->hwm);
		}
		free(mt->sh);
		free(mt->hwm);
		mt->sh = NULL;
		mt->hwm = NULL;
	}
}

void pn__met_stamp(struct pn__met *mt, struct pn_msg *m, size_t len)
{
	uint64_t now;

	if (!mt->sample) {
		mt->send_cd = 0;
		return;
	}
	if (len > PN__STAMP_OFF) { /* no room for a stamp: try the next */
		mt->send_cd = 1;
		return;
	}
	now = mt->now(mt->now_arg);
	memcpy(m->data + PN__STAMP_OFF, &now, sizeof(now));
	m->ref = PN__REF_STAMP;
	mt->send_cd = mt->sample;
}

void pn__met_hwm(struct pn__met *mt, unsigned src, uint32_t occ)
{
	mt->hwm[src] = occ;
	atomic_store_explicit(&mt->sh->hwm[src], occ, memory_order_relaxed);
}

static void ah_add(struct pn__ahist *h, uint64_t v)
{
	unsigned i = v >> PN__AH_OCT ? PN__AH_BUCKETS - 1
				     : pn__hist_index(v, PN__AH_SUB);

	pn__ctr_add(&h->c[i], 1);
}

/* (Re)claim entry @e for @a, in a write section of its seqlock. */
static void aent_claim(struct pn__aent *e, const struct pn__actor *a)
{
	const char *name = a->b->name ? a->b->name : "?";
	uint64_t w[3] = {0, 0, 0};

	strncpy((char *)w, name, sizeof(w) - 1);
	pn__seq_write_begin(&e->seq);
	/* Relaxed inside the section (seqlock.h). */
	for (int i = 0; i < 3; i++)
		atomic_store_explicit(&e->name[i], w[i], memory_order_relaxed);
	atomic_store_explicit(&e->pid, a->pid, memory_order_relaxed);
	atomic_store_explicit(&e->samples, 0, memory_order_relaxed);
	atomic_store_explicit(&e->handler_ns, 0, memory_order_relaxed);
	atomic_store_explicit(&e->queue_ns, 0, memory_order_relaxed);
	for (unsigned i = 0; i < PN__AH_BUCKETS; i++) {
		atomic_store_explicit(&e->handler.c[i], 0,
				      memory_order_relaxed);
		atomic_store_explicit(&e->queue.c[i], 0, memory_order_relaxed);
	}
	pn__seq_write_end(&e->seq);
}

static struct pn__aent *aent_get(struct pn__mshard *sh,
				 const struct pn__actor *a)
{
	unsigned h = pn__hash64(a->pid), victim = h % PN__ATAB;
	uint64_t least = UINT64_MAX;

	for (unsigned i = 0; i < 8; i++) {
		unsigned k = (h + i) % PN__ATAB;
		struct pn__aent *e = &sh->atab[k];
		pn_pid p = atomic_load_explicit(&e->pid, memory_order_relaxed);
		uint64_t n;

		if (p == a->pid)
			return e;
		n = p ? atomic_load_explicit(&e->samples, memory_order_relaxed)
		      : 0;
		if (n < least) {
			least = n;
			victim = k;
		}
		if (!p)
			break;
	}
	aent_claim(&sh->atab[victim], a);
	return &sh->atab[victim];
}

/* A stamped message: dispatch it as usual, timed, and account it. */
void pn__met_dispatch(struct pn_shard *s, struct pn_msg *m)
{
	struct pn__actor *a = pn__lookup(s, m->to);
	struct pn__mshard *sh = s->met.sh;
	struct pn__aent *e = a ? aent_get(sh, a) : NULL;
	uint64_t sent, t0, q, run;
	uint32_t type = m->type;
	pn_pid to = m->to;

	memcpy(&sent, m->data + PN__STAMP_OFF, sizeof(sent));
	m->ref = 0;
	t0 = pn__now(s->rt);
	pn__dispatch(s, m);
	if (!e) /* not started yet or gone: the message was queued or dead */
		return;
	run = pn__now(s->rt) - t0;
	q = t0 > sent ? t0 - sent : 0; /* clocks of two cores: clamp */
	pn__ctr_add(&e->samples, 1);
	pn__ctr_add(&e->handler_ns, run);
	pn__ctr_add(&e->queue_ns, q);
	ah_add(&e->handler, run);
	ah_add(&e->queue, q);
	ah_add(&sh->handler, run);
	ah_add(&sh->queue, q);
	pn__ctr_add(&sh->v[PN__M_SAMPLES], 1);
	pn__ctr_add(&sh->v[PN__M_HANDLER_SUM], run);
	pn__ctr_add(&sh->v[PN__M_QUEUE_SUM], q);
	pn__flight_rec(&s->met, t0 + run, PN__FL_SAMPLE, to, type, run);
}

/*
 * Every 1024 loop turns (and at the loop's start): charge the time since
 * the last state change to the current state, so a shard that stays busy
 * or spinning still shows it, and give the features their tick.
 */
void pn__met_tick(struct pn_shard *s, uint64_t now)
{
	struct pn__met *mt = &s->met;
	struct pn__mshard *sh = mt->sh;

	if (!mt->t_mark)
		mt->t_mark = mt->t_seen = now;
	if (mt->state == PN__MS_BUSY)
		mt->busy_ns += now - mt->t_mark;
	else
		mt->spin_ns += now - mt->t_mark;
	mt->t_mark = mt->t_seen = now;
	atomic_store_explicit(&sh->v[PN__M_BUSY_NS], mt->busy_ns,
			      memory_order_relaxed);
	atomic_store_explicit(&sh->v[PN__M_SPIN_NS], mt->spin_ns,
			      memory_order_relaxed);
	pn__features_tick(s);
}
