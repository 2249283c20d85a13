// SPDX-License-Identifier: MIT
/*
 * The traffic view: how many messages each shard sent into each other
 * shard's ring, and a sample of which actors talk to which across shards,
 * plus the per-shard migration counters. Written by each shard when it
 * publishes a ring (once per batch, never per message), read from any
 * thread (pn_traffic_*, the rebalancer in placement.c).
 *
 * The pair sample takes the last message of each published batch: one in
 * about the batch size, biased to nothing in particular, and free of any
 * per-message work. It goes into a small open-addressing table per shard
 * (TR_PAIRS entries, probe at most TR_PROBE): a pair that finds no room
 * is not recorded until the table is reset, which the rebalancer asks for
 * after each run (a request flag the owner acts on at its next sample).
 */
#include "mig_int.h"

#include <errno.h>
#include <stdlib.h>

#define TR_PAIRS 256
#define TR_PROBE 16

/* Every field is written by the owner shard only (relaxed load + store,
 * no RMW) unless said otherwise; readers use relaxed loads, so a reader
 * may see a pair whose count lags, never a torn value. */
struct tr_pair {
	_Atomic uint64_t from; /* 0: empty; stored last (release) */
	_Atomic uint64_t to;
	_Atomic uint64_t n;
};

struct pn__traffic {
	_Atomic uint64_t *xmit; /* [nshards]: messages into each ring */
	_Atomic uint64_t cnt[PN__TR_NCOUNT];
	/* shared: set by the rebalancer (release), cleared by the owner
	 * when it has emptied the pair table. */
	_Atomic uint32_t reset;
	struct tr_pair pair[TR_PAIRS];
};

void pn__traffic_count(struct pn_shard *s, unsigned which)
{
	pn__ctr_add(&s->tr->cnt[which], 1);
}

static void pairs_clear(struct pn__traffic *t)
{
	for (unsigned i = 0; i < TR_PAIRS; i++) {
		atomic_store_explicit(&t->pair[i].from, 0,
				      memory_order_relaxed);
		atomic_store_explicit(&t->pair[i].n, 0, memory_order_relaxed);
	}
}

static void pair_note(struct pn__traffic *t, pn_pid from, pn_pid to)
{
	/* Rotated: a pair and its reverse, or from == to, do not cancel. */
	unsigned i = pn__hash64(from ^ (to << 17 | to >> 47)) % TR_PAIRS;

	for (unsigned k = 0; k < TR_PROBE; k++, i = (i + 1) % TR_PAIRS) {
		struct tr_pair *p = &t->pair[i];
		uint64_t f =
			atomic_load_explicit(&p->from, memory_order_relaxed);

		if (f == from &&
		    atomic_load_explicit(&p->to, memory_order_relaxed) == to) {
			pn__ctr_add(&p->n, 1);
			return;
		}
		if (f == 0) {
			atomic_store_explicit(&p->to, to, memory_order_relaxed);
			atomic_store_explicit(&p->n, 1, memory_order_relaxed);
			/* Release: pairs with the readers' acquire of from,
			 * so a reader that sees the pair sees its to. */
			atomic_store_explicit(&p->from, from,
					      memory_order_release);
			return;
		}
	}
}

/*
 * Shard @s publishes @n messages to shard @dst's ring, @last the newest.
 * Forwarded and bounced messages (migrate.c) and the runtime's own are
 * counted but not sampled: their sender is not here.
 */
void pn__traffic_note(struct pn_shard *s, unsigned dst, uint32_t n,
		      const struct pn_msg *last)
{
	struct pn__traffic *t = s->tr;

	pn__ctr_add(&t->xmit[dst], n);
	if (atomic_load_explicit(&t->reset, memory_order_acquire)) {
		pairs_clear(t);
		atomic_store_explicit(&t->reset, 0, memory_order_relaxed);
	}
	if (!n || !last->from || last->type >= PN__MSG_INTERNAL ||
	    (last->len & PN__LEN_BOUNCED) || pn_pid_shard(last->to) != dst)
		return;
	pair_note(t, last->from, last->to);
}

/* --- set-up ------------------------------------------------------------- */

int pn__traffic_init(struct pn_runtime *rt)
{
	for (unsigned i = 0; i < rt->nshards; i++) {
		struct pn__traffic *t = calloc(1, sizeof(*t));

		if (!t || !(t->xmit = calloc(rt->nshards, sizeof(*t->xmit)))) {
			free(t);
			return pn__error(-ENOMEM, "no memory for traffic");
		}
		rt->shard[i]->tr = t;
	}
	return 0;
}

void pn__traffic_fini(struct pn_runtime *rt)
{
	for (unsigned i = 0; rt->shard && i < rt->nshards; i++) {
		if (!rt->shard[i] || !rt->shard[i]->tr)
			continue;
		free(rt->shard[i]->tr->xmit);
		free(rt->shard[i]->tr);
		rt->shard[i]->tr = NULL;
	}
}

/* --- reading ------------------------------------------------------------ */

int pn_traffic_shards(const struct pn_runtime *rt, uint64_t *out, unsigned n)
{
	if (n != rt->nshards)
		return pn__error(-EINVAL,
				 "pn_traffic_shards: n is %u, the "
				 "runtime has %u shards",
				 n, rt->nshards);
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = 0; j < n; j++)
			out[i * n + j] =
				atomic_load_explicit(&rt->shard[i]->tr->xmit[j],
						     memory_order_relaxed);
	return 0;
}

static int by_samples(const void *a, const void *b)
{
	const struct pn_traffic_pair *x = a, *y = b;

	return x->samples < y->samples ? 1 : x->samples > y->samples ? -1 : 0;
}

/* Every sampled pair of every shard into @v (room for all); the count. */
unsigned pn__traffic_collect(const struct pn_runtime *rt,
			     struct pn_traffic_pair *v)
{
	unsigned k = 0;

	for (unsigned i = 0; i < rt->nshards; i++) {
		struct pn__traffic *t = rt->shard[i]->tr;

		for (unsigned j = 0; j < TR_PAIRS; j++) {
			/* Acquire: pairs with the release in pair_note(). */
			uint64_t from = atomic_load_explicit(
				&t->pair[j].from, memory_order_acquire);
			uint64_t n = atomic_load_explicit(&t->pair[j].n,
							  memory_order_relaxed);

			if (!from || !n)
				continue;
			v[k] = (struct pn_traffic_pair){
				.from = from,
				.to = atomic_load_explicit(
					&t->pair[j].to, memory_order_relaxed),
				.from_shard = i,
				.samples = n};
			v[k].to_shard = pn_pid_shard(v[k].to);
			k++;
		}
	}
	qsort(v, k, sizeof(*v), by_samples);
	return k;
}

unsigned pn__traffic_max_pairs(const struct pn_runtime *rt)
{
	return rt->nshards * TR_PAIRS;
}

/* Ask every shard to start a new sample window (the rebalancer). */
void pn__traffic_reset(const struct pn_runtime *rt)
{
	for (unsigned i = 0; i < rt->nshards; i++)
		/* Release: pairs with the owner's acquire in note(). */
		atomic_store_explicit(&rt->shard[i]->tr->reset, 1,
				      memory_order_release);
}

int pn_traffic_pairs(const struct pn_runtime *rt, struct pn_traffic_pair *out,
		     unsigned max)
{
	struct pn_traffic_pair *v =
		malloc(pn__traffic_max_pairs(rt) * sizeof(*v));
	unsigned n;

	if (!v)
		return pn__error(-ENOMEM, "pn_traffic_pairs: no memory");
	n = pn__traffic_collect(rt, v);
	n = n < max ? n : max;
	memcpy(out, v, n * sizeof(*v));
	free(v);
	return (int)n;
}

int pn_migrate_stats(const struct pn_runtime *rt, unsigned shard,
		     struct pn_migrate_stats *out)
{
	const struct pn__traffic *t;

	if (shard >= rt->nshards)
		return pn__error(-EINVAL, "no shard %u (%u shards)", shard,
				 rt->nshards);
	t = rt->shard[shard]->tr;
	out->moves = atomic_load_explicit(&t->cnt[PN__TR_MOVES],
					  memory_order_relaxed);
	out->installs = atomic_load_explicit(&t->cnt[PN__TR_INSTALLS],
					     memory_order_relaxed);
	out->forwarded = atomic_load_explicit(&t->cnt[PN__TR_FORWARDED],
					      memory_order_relaxed);
	out->bounced = atomic_load_explicit(&t->cnt[PN__TR_BOUNCED],
					    memory_order_relaxed);
	return 0;
}
