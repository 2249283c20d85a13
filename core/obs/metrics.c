// SPDX-License-Identifier: MIT
/*
 * Metrics: the snapshot any thread can take of every shard's meter block
 * (sched/meter.h; the scheduler measures itself), the registered counter
 * sources (collected on each shard at its tick), and the accessors of a
 * snapshot. Output formats are in metrics_out.c.
 *
 * What the features above the scheduler count (migration, supervision)
 * comes into a snapshot through their snapshot hooks (sched/feature.h):
 * obs/ is their peer and may neither call nor include them.
 */
#include "obs_int.h"
#include "seqlock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SOURCES 8

struct pn__mrt {
	struct pn_metrics_source src[MAX_SOURCES];
	const struct pn_metrics_source *given[MAX_SOURCES]; /* compared only */
	unsigned base[MAX_SOURCES]; /* first ext index of each source */
	unsigned nsrc, next;	    /* sources; ext counters used */
	/* [nshards]: the most parked time a snapshot has reported for each
	 * shard (parked_ns()); written by the snapshot takers, any thread. */
	_Atomic uint64_t *parked_seen;
};

/* --- set-up ----------------------------------------------------------------
 */

int pn_metrics_source_register(struct pn_runtime *rt,
			       const struct pn_metrics_source *src)
{
	struct pn__mrt *r = rt->met;

	if (rt->running)
		return pn__error(-EBUSY, "metrics source: runtime started");
	if (!src || !src->name || !src->names || !src->collect || !src->n)
		return pn__error(-EINVAL, "metrics source: needs a name, "
					  "names and a collect hook");
	/* A second registration would double every series it names. */
	for (unsigned i = 0; i < r->nsrc; i++)
		if (r->given[i] == src ||
		    strcmp(r->src[i].name, src->name) == 0)
			return pn__error(-EALREADY,
					 "metrics source \"%s\": registered "
					 "already",
					 src->name);
	if (r->nsrc == MAX_SOURCES || r->next + src->n > PN__EXT_MAX)
		return pn__error(-ENOSPC,
				 "metrics source \"%s\": at most %d "
				 "counters in all",
				 src->name, PN__EXT_MAX);
	r->given[r->nsrc] = src;
	r->src[r->nsrc] = *src;
	r->base[r->nsrc++] = r->next;
	r->next += src->n;
	return 0;
}

void pn__met_collect(struct pn_shard *s)
{
	struct pn__mrt *r = s->rt->met;
	uint64_t v[PN__EXT_MAX];

	for (unsigned i = 0; i < r->nsrc; i++) {
		const struct pn_metrics_source *src = &r->src[i];

		memset(v, 0, src->n * sizeof(v[0]));
		src->collect(pn__ctx(s), src->arg, v);
		for (unsigned j = 0; j < src->n; j++)
			atomic_store_explicit(&s->met.sh->ext[r->base[i] + j],
					      v[j], memory_order_relaxed);
	}
}

/* --- a shard's counters and the runtime's totals (any thread) ----------- */

static uint64_t st_get(const struct pn_shard *s, unsigned i)
{
	/* Relaxed: owner-written counters; a snapshot orders nothing. */
	return atomic_load_explicit(&s->stats.v[i], memory_order_relaxed);
}

/* a - b, or 0: parts of a snapshot read at different moments. */
static uint64_t sub0(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

int pn_runtime_stats(const struct pn_runtime *rt, unsigned shard,
		     struct pn_shard_stats *out)
{
	const struct pn_shard *s;
	uint64_t moved;

	if (!out || shard >= rt->nshards)
		return pn__error(-EINVAL, "no shard %u (%u shards)", shard,
				 rt->nshards);
	s = rt->shard[shard];
	moved = st_get(s, PN__ST_MOVED);
	/* The accounting identities of core/sched/stats.h, per shard. */
	*out = (struct pn_shard_stats){
		.handled = sub0(st_get(s, PN__ST_DISPATCHED) +
					st_get(s, PN__ST_SIDE_OUT),
				moved + st_get(s, PN__ST_DEAD)),
		.sent_local = st_get(s, PN__ST_SENT_LOCAL),
		.sent_remote = st_get(s, PN__ST_SENT_REMOTE),
		.received_ext = st_get(s, PN__ST_RECV_EXT),
		.overflowed = st_get(s, PN__ST_OVERFLOWED),
		.eagain = st_get(s, PN__ST_EAGAIN),
		.overflow_bytes = st_get(s, PN__ST_OVERFLOW_BYTES),
		.dead_letters = st_get(s, PN__ST_DEAD),
		.late_replies = st_get(s, PN__ST_LATE),
		.timers_fired = st_get(s, PN__ST_TIMERS),
		.parks = st_get(s, PN__ST_PARKS),
		.wakes_sent = st_get(s, PN__ST_WAKES),
		.spawned = st_get(s, PN__ST_SPAWNED),
		.stopped = st_get(s, PN__ST_STOPPED),
		.actors = st_get(s, PN__ST_ACTORS),
		.accepted = sub0(st_get(s, PN__ST_SENT_LOCAL) +
					 st_get(s, PN__ST_SENT_REMOTE) +
					 st_get(s, PN__ST_SIDE_IN),
				 moved),
		.forwarded = moved,
	};
	return 0;
}

int pn_runtime_totals(const struct pn_runtime *rt,
		      struct pn_runtime_totals *out)
{
	uint64_t in = 0, out_q = 0, moved = 0, dead = 0;
	uint64_t inj = pn__producers_sent(rt);

	if (!out)
		return pn__error(-EINVAL, "pn_runtime_totals: out is NULL");
	/* The identities of core/sched/stats.h over the whole runtime, from the
	 * raw counters: a message moved on one shard may end on another, so the
	 * per-shard figures only add up in sum. */
	for (unsigned i = 0; i < rt->nshards; i++) {
		const struct pn_shard *s = rt->shard[i];

		in += st_get(s, PN__ST_SENT_LOCAL) +
		      st_get(s, PN__ST_SENT_REMOTE) + st_get(s, PN__ST_SIDE_IN);
		out_q += st_get(s, PN__ST_DISPATCHED) +
			 st_get(s, PN__ST_SIDE_OUT);
		moved += st_get(s, PN__ST_MOVED);
		dead += st_get(s, PN__ST_DEAD);
	}
	*out = (struct pn_runtime_totals){
		.accepted = sub0(in + inj, moved),
		.handled = sub0(out_q, moved + dead),
		.dead_letters = dead,
		.injected = inj,
	};
	out->in_flight = sub0(out->accepted, out->handled + dead);
	return 0;
}

/* --- snapshots (any thread) ------------------------------------------------
 */

struct pn_metrics {
	uint64_t t;
	unsigned nshards, nsources, next, nactors;
	uint32_t sample;
	struct pn_runtime_totals totals;
	struct pn_supervision_stats sup;
	struct pn_shard_metrics *sh;   /* [nshards] */
	struct pn_migrate_stats *mig;  /* [nshards]: the features fill it */
	struct pn_topic_stats *topics; /* [cfg.max_topics]: ntopics filled */
	unsigned ntopics;
	uint64_t *sent, *ext;  /* [nshards][nshards], [][PN__EXT_MAX] */
	uint32_t *hwm;	       /* [nshards][nsources] */
	struct pn_hist **hist; /* [nshards][2] */
	struct pn_actor_metrics *actors; /* [nshards * PN__ATAB] */
	char ext_name[PN__EXT_MAX][64];
	unsigned char gauge[PN__EXT_MAX];
};

static uint64_t ld(const _Atomic uint64_t *p)
{
	return atomic_load_explicit(p, memory_order_relaxed);
}

/* A compact histogram as a struct pn_hist (S = PN__AH_SUB). */
static void ah_copy(struct pn_hist *h, const struct pn__ahist *a, uint64_t sum)
{
	uint64_t w;

	for (unsigned i = 0; i < PN__AH_BUCKETS; i++) {
		uint32_t n =
			atomic_load_explicit(&a->c[i], memory_order_relaxed);

		if (n)
			pn_hist_record_n(h, pn__hist_low(i, PN__AH_SUB, &w), n);
	}
	pn__hist_set_sum(h, sum);
}

/* The 99th percentile of a compact histogram, read in place: the upper
 * edge of the bucket it falls in (as pn_hist_percentile(), without the
 * clamp to the recorded extremes, which the compact form does not keep).
 * Relaxed loads: counts that a concurrent sample may move by one. */
static uint64_t ah_p99(const struct pn__ahist *a)
{
	uint64_t c[PN__AH_BUCKETS], total = 0;

	for (unsigned i = 0; i < PN__AH_BUCKETS; i++)
		total += c[i] =
			atomic_load_explicit(&a->c[i], memory_order_relaxed);
	return total ? pn__hist_rank(c, PN__AH_BUCKETS, PN__AH_SUB, total, 99)
		     : 0;
}

/* Entry @e into @out if it is in use and its seqlock vouches for what was
 * read of it (base/seqlock.h). The histograms and sums are counters the
 * owner moves outside write sections: read relaxed, counts, not identity. */
static bool aent_read(const struct pn__aent *e, struct pn_actor_metrics *out)
{
	uint32_t seq = pn__seq_read_begin(&e->seq);
	uint64_t w[3];

	/* Being rewritten: skip it (the next scrape sees it). A first look
	 * at pid skips the (many) empty entries before any histogram is
	 * read. Relaxed, like every load of the entry: seqlock.h. */
	if ((seq & 1) || !atomic_load_explicit(&e->pid, memory_order_relaxed))
		return false;
	out->pid = atomic_load_explicit(&e->pid, memory_order_relaxed);
	for (int i = 0; i < 3; i++)
		w[i] = atomic_load_explicit(&e->name[i], memory_order_relaxed);
	out->samples = atomic_load_explicit(&e->samples, memory_order_relaxed);
	out->handler_ns = ld(&e->handler_ns);
	out->queue_ns = ld(&e->queue_ns);
	out->handler_p99_ns = ah_p99(&e->handler);
	out->queue_p99_ns = ah_p99(&e->queue);
	if (!pn__seq_read_ok(&e->seq, seq) || !out->pid || !out->samples)
		return false;
	memcpy(out->behaviour, w, sizeof(out->behaviour) - 1);
	out->behaviour[sizeof(out->behaviour) - 1] = 0;
	return true;
}

static int by_samples(const void *a, const void *b)
{
	const struct pn_actor_metrics *x = a, *y = b;

	return x->samples < y->samples ? 1 : x->samples > y->samples ? -1 : 0;
}

static void snap_actors(struct pn_runtime *rt, struct pn_metrics *m)
{
	for (unsigned i = 0; i < m->nshards; i++) {
		const struct pn__mshard *sh = rt->shard[i]->met.sh;

		for (unsigned k = 0; k < PN__ATAB; k++) {
			struct pn_actor_metrics *a = &m->actors[m->nactors];

			if (!aent_read(&sh->atab[k], a))
				continue;
			a->shard = i;
			a->messages_est = a->samples * m->sample;
			m->nactors++;
		}
	}
	qsort(m->actors, m->nactors, sizeof(*m->actors), by_samples);
}

/*
 * Shard @i's parked time, the sleep in progress included. The shard
 * charges a sleep when it wakes (sched/shard.c), so while it sleeps
 * v[PN__M_PARKED_NS] stands still: add the time since it went to sleep,
 * read together with the charged total under the shard's park seqlock
 * (base/seqlock.h), so that a wake-up in between neither counts the sleep
 * twice nor drops it. Retries are bounded (the shard may be preempted
 * inside its section): then the charged total alone.
 *
 * Our clock read and the shard's at its wake-up are not ordered, so ours
 * may fall a little after it while we still see the sleep: the estimate
 * can exceed what the shard then charges by that much. parked_ns is a
 * counter (Prometheus takes a decrease for a restart), so a shard's value
 * never goes below what an earlier snapshot reported: the snapshot takers
 * keep the maximum in parked_seen.
 */
static uint64_t parked_ns(struct pn_runtime *rt, unsigned i)
{
	const struct pn__mshard *sh = rt->shard[i]->met.sh;
	_Atomic uint64_t *seen = &rt->met->parked_seen[i];
	uint64_t v = ld(&sh->v[PN__M_PARKED_NS]), prev;

	for (int tries = 0; tries < 64; tries++) {
		uint32_t b = pn__seq_read_begin(&sh->park_seq);
		/* Relaxed, like every load inside the section: seqlock.h. */
		uint64_t ns = ld(&sh->v[PN__M_PARKED_NS]);
		uint64_t since = ld(&sh->park_since);
		uint32_t asleep =
			atomic_load_explicit(&sh->asleep, memory_order_relaxed);
		uint64_t now = pn__now(rt);

		if (pn__seq_read_ok(&sh->park_seq, b)) {
			v = asleep && now > since ? ns + (now - since) : ns;
			break;
		}
		pn__cpu_relax();
	}
	/* Relaxed: @seen publishes nothing but itself; the RMWs on it are
	 * totally ordered, which is all a running maximum needs. */
	prev = atomic_load_explicit(seen, memory_order_relaxed);
	while (prev < v && !atomic_compare_exchange_weak_explicit(
				   seen, &prev, v, memory_order_relaxed,
				   memory_order_relaxed))
		;
	return prev > v ? prev : v;
}

static int snap_shard(struct pn_runtime *rt, struct pn_metrics *m, unsigned i)
{
	struct pn_shard_metrics *o = &m->sh[i];
	const struct pn__mshard *sh = rt->shard[i]->met.sh;
	uint64_t *sent = m->sent + (size_t)i * m->nshards;
	uint32_t *hwm = m->hwm + (size_t)i * m->nsources;
	uint64_t *ext = m->ext + (size_t)i * PN__EXT_MAX, other;
	int err;

	pn_runtime_stats(rt, i, &o->stats);
	o->handled_local = ld(&sh->v[PN__M_HANDLED_LOCAL]);
	o->handled_ext = o->stats.received_ext;
	other = o->handled_local + o->handled_ext;
	/* By where they came from: every message taken from a queue here
	 * (a forward counts where it passes, as traffic does). */
	o->handled_cross =
		ld(&rt->shard[i]->stats.v[PN__ST_DISPATCHED]) > other
			? ld(&rt->shard[i]->stats.v[PN__ST_DISPATCHED]) - other
			: 0;
	o->wakes_received = ld(&sh->v[PN__M_WAKES_RCVD]);
	o->busy_ns = ld(&sh->v[PN__M_BUSY_NS]);
	o->spin_ns = ld(&sh->v[PN__M_SPIN_NS]);
	o->parked_ns = parked_ns(rt, i);
	o->samples = ld(&sh->v[PN__M_SAMPLES]);
	for (unsigned d = 0; d < m->nshards; d++)
		sent[d] = d == i ? o->stats.sent_local : ld(&sh->sent_to[d]);
	for (unsigned k = 0; k < m->nsources; k++)
		hwm[k] =
			atomic_load_explicit(&sh->hwm[k], memory_order_relaxed);
	for (unsigned k = 0; k < m->next; k++)
		ext[k] = ld(&sh->ext[k]);
	o->sent_to = sent;
	o->ring_hwm = hwm;
	o->nsources = m->nsources;
	o->ext = ext;
	if ((err = pn_hist_create(PN__AH_SUB, &m->hist[2 * i])) < 0 ||
	    (err = pn_hist_create(PN__AH_SUB, &m->hist[2 * i + 1])) < 0)
		return err;
	ah_copy(m->hist[2 * i], &sh->handler, ld(&sh->v[PN__M_HANDLER_SUM]));
	ah_copy(m->hist[2 * i + 1], &sh->queue, ld(&sh->v[PN__M_QUEUE_SUM]));
	o->handler_ns = m->hist[2 * i];
	o->queue_ns = m->hist[2 * i + 1];
	return 0;
}

static void ext_names(const struct pn__mrt *r, struct pn_metrics *m)
{
	for (unsigned i = 0; i < r->nsrc; i++)
		for (unsigned j = 0; j < r->src[i].n; j++) {
			unsigned k = r->base[i] + j;

			snprintf(m->ext_name[k], sizeof(m->ext_name[k]),
				 "%s_%s", r->src[i].name, r->src[i].names[j]);
			m->gauge[k] =
				r->src[i].is_gauge && r->src[i].is_gauge[j];
		}
}

static int snap_alloc(struct pn_runtime *rt, struct pn_metrics *m)
{
	size_t n = rt->nshards;

	m->nshards = rt->nshards;
	m->nsources = rt->shard[0]->nsources;
	m->next = rt->met->next;
	m->sample = rt->cfg.metrics_sample;
	m->sh = calloc(n, sizeof(*m->sh));
	m->sent = calloc(n * n, sizeof(*m->sent));
	m->ext = calloc(n * PN__EXT_MAX, sizeof(*m->ext));
	m->hwm = calloc(n * m->nsources, sizeof(*m->hwm));
	m->hist = calloc(2 * n, sizeof(*m->hist));
	m->actors = calloc(n * PN__ATAB, sizeof(*m->actors));
	m->mig = calloc(n, sizeof(*m->mig));
	m->topics = calloc(rt->cfg.max_topics ? rt->cfg.max_topics : 1,
			   sizeof(*m->topics));
	if (!m->sh || !m->sent || !m->ext || !m->hwm || !m->hist ||
	    !m->actors || !m->mig || !m->topics)
		return -ENOMEM;
	return 0;
}

int pn_metrics_snapshot(struct pn_runtime *rt, struct pn_metrics **out)
{
	struct pn_metrics *m = calloc(1, sizeof(*m));
	int err = m ? snap_alloc(rt, m) : -ENOMEM;
	struct pn__snap snap;

	for (unsigned i = 0; !err && i < m->nshards; i++)
		err = snap_shard(rt, m, i);
	if (err) {
		pn_metrics_free(m);
		return pn__error(-ENOMEM, "no memory for a metrics snapshot");
	}
	ext_names(rt->met, m);
	snap_actors(rt, m);
	pn_runtime_totals(rt, &m->totals);
	/* The features' parts (zero for a feature that is not there). */
	snap = (struct pn__snap){.nshards = m->nshards,
				 .migrate = m->mig,
				 .supervision = &m->sup,
				 .topics = m->topics};

	pn__features_snapshot(rt, &snap);
	m->ntopics = snap.ntopics;
	for (unsigned i = 0; i < m->nshards; i++)
		m->sh[i].migrate = m->mig[i];
	m->t = pn__now(rt);
	*out = m;
	return 0;
}

void pn_metrics_free(struct pn_metrics *m)
{
	if (!m)
		return;
	for (unsigned i = 0; m->hist && i < 2 * m->nshards; i++)
		pn_hist_destroy(m->hist[i]);
	free(m->hist);
	free(m->sh);
	free(m->mig);
	free(m->topics);
	free(m->sent);
	free(m->ext);
	free(m->hwm);
	free(m->actors);
	free(m);
}

unsigned pn_metrics_topics(const struct pn_metrics *m,
			   const struct pn_topic_stats **out)
{
	*out = m->topics;
	return m->ntopics;
}

unsigned pn_metrics_nshards(const struct pn_metrics *m)
{
	return m->nshards;
}

uint64_t pn_metrics_time_ns(const struct pn_metrics *m)
{
	return m->t;
}

const struct pn_shard_metrics *pn_metrics_shard(const struct pn_metrics *m,
						unsigned shard)
{
	return shard < m->nshards ? &m->sh[shard] : NULL;
}

const struct pn_runtime_totals *pn_metrics_totals(const struct pn_metrics *m)
{
	return &m->totals;
}

const struct pn_supervision_stats *
pn_metrics_supervision(const struct pn_metrics *m)
{
	return &m->sup;
}

unsigned pn_metrics_actors(const struct pn_metrics *m,
			   const struct pn_actor_metrics **out)
{
	*out = m->actors;
	return m->nactors;
}

unsigned pn_metrics_ext_count(const struct pn_metrics *m)
{
	return m->next;
}

const char *pn_metrics_ext_name(const struct pn_metrics *m, unsigned i,
				bool *gauge)
{
	if (i >= m->next)
		return NULL;
	if (gauge)
		*gauge = m->gauge[i];
	return m->ext_name[i];
}

/* The snapshot's sample rate (metrics_out.c). */
uint32_t pn__metrics_sample(const struct pn_metrics *m)
{
	return m->sample;
}

/* --- observability as a feature of the scheduler ---------------------------
 */

static int obs_create(struct pn_runtime *rt)
{
	rt->met = calloc(1, sizeof(*rt->met));
	if (rt->met)
		rt->met->parked_seen =
			calloc(rt->nshards, sizeof(*rt->met->parked_seen));
	if (!rt->met || !rt->met->parked_seen) {
		free(rt->met);
		rt->met = NULL;
		return pn__error(-ENOMEM, "no memory for metrics");
	}
	return 0;
}

static void obs_destroy(struct pn_runtime *rt)
{
	if (rt->met)
		free(rt->met->parked_seen);
	free(rt->met);
	rt->met = NULL;
}

const struct pn__feature pn__obs_feature = {
	.name = "observability",
	.create = obs_create,
	.destroy = obs_destroy,
	.tick = pn__met_collect,
};
