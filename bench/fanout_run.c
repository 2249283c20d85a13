// SPDX-License-Identifier: MIT
/*
 * fanout: one publisher publishes N messages to a topic with S subscribers
 * spread over all shards; every subscriber checks it got all N in order.
 * ops = deliveries (N x S). Variants sS-inline and sS-512 for S = 1, 16,
 * 256 and 4096: a 16-byte payload (inside the ring slot) or 512 bytes
 * (one buffer, read in place by every destination). Beside it, in the same
 * run, the same fan-out done by hand (impl=naive: the publisher loops over
 * the subscriber PIDs with one pn_send() each); the two alternate within
 * each repetition so that a slow phase of the machine hits both.
 *
 * N: 1,000,000 for S <= 16 (WORKLOADS.md); for S = 256 and 4096, 16M / S
 * (62,500 and 3,906) by default so that the row set stays within a minute
 * or two on a 2-core machine; --n N sets N for every S. ops is always the
 * deliveries made and checked, N x S.
 *
 * Latency: each message carries its publish time; a message's latency is
 * its last delivery (over every subscriber) minus that time (struct
 * fan_shard: a per-shard countdown, the maximum over the shards), kept for
 * every message up to 4M records per repetition (else every 2^k-th seq);
 * p50/p99/p99.9/max over the messages, medians over the repetitions.
 *
 * The fan-out's cost in ring slots: a "fanout traffic:" line per impl from
 * pn_topic_stats().slots (slots_per_msg: per destination shard, not per
 * subscriber) and from the runtime's traffic view (pn_traffic_shards():
 * what the publisher's shard put into rings, ring_slots_per_msg); the run
 * fails if impl=pinion's slots per message exceed the number of shards
 * with subscribers. This file: the repetitions, their checks, the report.
 */
#include "fanout.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAN_LAT_MAX  (1ull << 22) /* latency records per repetition */
#define FAN_DELIVERY 16000000ull  /* S > 16: N = this / S by default */

static const struct fan_variant {
	const char *name;
	uint32_t s, len;
} variants[] = {
	{"s1-inline", 1, FAN_INLINE},	    {"s1-512", 1, FAN_BIG},
	{"s16-inline", 16, FAN_INLINE},	    {"s16-512", 16, FAN_BIG},
	{"s256-inline", 256, FAN_INLINE},   {"s256-512", 256, FAN_BIG},
	{"s4096-inline", 4096, FAN_INLINE}, {"s4096-512", 4096, FAN_BIG},
};
#define NVARIANTS (sizeof(variants) / sizeof(variants[0]))

bool bench_fanout_variant(const char *name)
{
	for (unsigned i = 0; i < NVARIANTS; i++)
		if (!strcmp(variants[i].name, name))
			return true;
	return false;
}

/* One variant on the workload's runtime. */
struct fan_case {
	const struct bench_opts *o;
	const struct fan_variant *v;
	struct bench_env e; /* rt, nshards, timeout_ns, seq */
	uint64_t n;	    /* the timed repetitions' N */
	uint64_t stride, nidx;
	unsigned shift;		 /* stride = 1 << shift */
	struct fan_shard *shard; /* [nshards], sized for n */
	struct bench_hist *hist;
};

/* What one implementation measured over the repetitions. */
struct fan_series {
	uint64_t ns[BENCH_MAX_REPS], p50[BENCH_MAX_REPS];
	uint64_t p99[BENCH_MAX_REPS], p999[BENCH_MAX_REPS];
	uint64_t max[BENCH_MAX_REPS];
	/* the last repetition's ring slots, per message */
	double slots, ring, cross;
	uint64_t refused;
};

/* --- set-up -------------------------------------------------------------- */

static uint64_t default_n(uint32_t s)
{
	return s <= 16 ? 1000000 : FAN_DELIVERY / s;
}

static void lat_free(struct fan_case *c)
{
	for (unsigned k = 0; c->shard && k < c->e.nshards; k++) {
		free(c->shard[k].cnt);
		free(c->shard[k].lat);
	}
	free(c->shard);
	c->shard = NULL;
}

/* The latency records, sized for the timed N (fan_new clears them). */
static int lat_alloc(struct fan_case *c)
{
	unsigned ns = c->e.nshards, dest = 0;
	struct fan_shared probe = {.nshards = ns};

	c->shard = calloc(ns, sizeof(*c->shard));
	if (!c->shard)
		return -ENOMEM;
	for (uint32_t i = 0; i < c->v->s; i++)
		c->shard[fan_shard_of(&probe, i)].nsubs++;
	for (unsigned k = 0; k < ns; k++)
		dest += c->shard[k].nsubs > 0;
	while ((c->n >> c->shift) * dest > FAN_LAT_MAX)
		c->shift++;
	c->stride = 1ull << c->shift;
	c->nidx = (c->n >> c->shift) + 1;
	for (unsigned k = 0; k < ns; k++) {
		struct fan_shard *fs = &c->shard[k];

		if (!fs->nsubs)
			continue;
		fs->cnt = malloc(c->nidx * sizeof(*fs->cnt));
		fs->lat = malloc(c->nidx * sizeof(*fs->lat));
		if (!fs->cnt || !fs->lat) {
			lat_free(c);
			return -ENOMEM;
		}
	}
	return 0;
}

static void fan_put(struct fan_shared *sh, int err)
{
	if (err != 0) /* actors may still hold it */
		return;
	free(sh->subs);
	free(sh->traffic0);
	free(sh->traffic1);
	free(sh);
}

/* A repetition's record, the latency records cleared (before any actor of
 * it exists: the spawns order these writes before theirs). */
static struct fan_shared *fan_new(struct fan_case *c, bool naive, uint64_t n)
{
	struct fan_shared *sh = calloc(1, sizeof(*sh));
	size_t nt = (size_t)(c->e.nshards + 1) * (c->e.nshards + 1);

	if (!sh)
		return NULL;
	sh->base.rt = c->e.rt;
	sh->base.seq = c->e.seq;
	sh->base.n = n * c->v->s;
	sh->base.want = n * c->v->s;
	sh->naive = naive;
	sh->n = n;
	sh->s = c->v->s;
	sh->len = c->v->len;
	sh->stride = c->stride;
	sh->shift = c->shift;
	sh->nshards = c->e.nshards;
	sh->shard = c->shard;
	sh->subs = calloc(sh->s, sizeof(*sh->subs));
	sh->traffic0 = calloc(nt, sizeof(uint64_t));
	sh->traffic1 = calloc(nt, sizeof(uint64_t));
	if (!sh->subs || !sh->traffic0 || !sh->traffic1) {
		fan_put(sh, 0);
		return NULL;
	}
	for (unsigned k = 0; k < c->e.nshards; k++) {
		if (!c->shard[k].nsubs)
			continue;
		memset(c->shard[k].cnt, 0, c->nidx * sizeof(uint32_t));
		memset(c->shard[k].lat, 0, c->nidx * sizeof(uint64_t));
	}
	return sh;
}

/* --- checks after a repetition ------------------------------------------ */

/* Every sampled message's latency (its countdown complete on every shard
 * with subscribers) into c->hist. */
static int lat_collect(struct fan_case *c, const struct fan_shared *sh)
{
	bench_hist_reset(c->hist);
	for (uint64_t k = 1; k * sh->stride <= sh->n; k++) {
		uint64_t worst = 0;

		for (unsigned j = 0; j < c->e.nshards; j++) {
			const struct fan_shard *fs = &c->shard[j];

			if (!fs->nsubs)
				continue;
			if (fs->cnt[k] != fs->nsubs) {
				fprintf(stderr,
					"pinion-bench: fanout/%s: check "
					"failed: seq %llu reached %u of "
					"shard %u's %u subscribers\n",
					c->v->name,
					(unsigned long long)(k * sh->stride),
					fs->cnt[k], j, fs->nsubs);
				return -EPROTO;
			}
			if (fs->lat[k] > worst)
				worst = fs->lat[k];
		}
		bench_hist_record(c->hist, worst);
	}
	return 0;
}

/* Ring slots per message: the traffic view (the publisher's shard's row
 * between its first publish and the last tally) and the topic's counter;
 * more slots per message than shards with subscribers fails the run. */
static int flow_check(struct fan_case *c, const struct fan_shared *sh,
		      struct fan_series *f)
{
	unsigned n1 = c->e.nshards + 1, dest = 0;
	uint64_t ring = 0, cross = 0, d;
	struct pn_topic_stats st;
	int err;

	for (unsigned j = 0; j < n1; j++) {
		d = sh->traffic1[j] - sh->traffic0[j]; /* row 0: shard 0 */
		ring += d;
		cross += j ? d : 0;
	}
	for (unsigned j = 0; j < c->e.nshards; j++)
		dest += c->shard[j].nsubs > 0;
	f->ring = (double)ring / (double)sh->n;
	f->cross = (double)cross / (double)sh->n;
	f->refused = sh->refused;
	f->slots = (double)sh->s;
	if (sh->naive)
		return 0;
	err = sh->stats_err;
	st = sh->stats;
	if (err < 0 || st.seq != sh->n || st.dropped || st.disconnects) {
		fprintf(stderr,
			"pinion-bench: fanout/%s: check failed: topic stats "
			"%d: seq %llu (expected %llu), dropped %llu, "
			"disconnects %llu\n",
			c->v->name, err, (unsigned long long)st.seq,
			(unsigned long long)sh->n,
			(unsigned long long)st.dropped,
			(unsigned long long)st.disconnects);
		return -EPROTO;
	}
	if (bench_broken("fanout-slots")) /* self-test: one slot too many */
		st.slots += sh->n;
	f->slots = (double)st.slots / (double)sh->n;
	if (st.slots > sh->n * dest || ring > sh->n * dest) {
		fprintf(stderr,
			"pinion-bench: fanout/%s: check failed: %.2f slots "
			"per message (topic stats), %.2f (traffic view), "
			"over the %u shards with subscribers\n",
			c->v->name, f->slots, f->ring, dest);
		return -EPROTO;
	}
	return 0;
}

/* --- one repetition ------------------------------------------------------ */

/* A repetition that failed: where its publisher was. */
static void stuck(const struct fan_case *c, const struct fan_shared *sh)
{
	static const char *const why[] = {"nothing", "PN_MSG_TOPIC_WRITABLE",
					  "PN_MSG_WRITABLE"};
	/* Relaxed, all: see struct fan_shared's at. */
	int w = atomic_load_explicit(&sh->at.waiting, memory_order_relaxed);
	uint64_t next =
		atomic_load_explicit(&sh->at.next, memory_order_relaxed);

	fprintf(stderr,
		"pinion-bench: fanout/%s: the publisher was at message %llu "
		"of %llu (subscriber %u), waiting for %s; %u of %u "
		"subscribers ready, %u tallies in, %llu refusals\n",
		c->v->name, (unsigned long long)next, (unsigned long long)sh->n,
		atomic_load_explicit(&sh->at.j, memory_order_relaxed),
		why[w >= 0 && w <= 2 ? w : 0],
		atomic_load_explicit(&sh->at.ready, memory_order_relaxed),
		sh->s, atomic_load_explicit(&sh->at.done, memory_order_relaxed),
		(unsigned long long)sh->refused);
}

static int open_topic(struct fan_case *c, struct fan_shared *sh)
{
	struct pn_topic_opts to = {.home = 0, .max_lag = 0};
	char name[PN_TOPIC_NAME_MAX];
	int err;

	snprintf(name, sizeof(name), "bench-fanout-%d", c->e.seq);
	err = pn_topic_open(c->e.rt, name, &to, &sh->topic);
	if (err < 0)
		fprintf(stderr, "pinion-bench: fanout: topic open: %s (%s)\n",
			strerror(-err), pn_last_error());
	return err;
}

static int spawn_all(struct fan_case *c, struct fan_shared *sh)
{
	pn_pid pub;
	int err = fan_spawn_publisher(&c->e, sh, &pub);

	for (uint32_t i = 0; i < sh->s && !err; i++)
		err = fan_spawn_subscriber(&c->e, sh, pub, i, &sh->subs[i]);
	/* After the last PID is written: the kick orders it before the
	 * naive publisher's reads. */
	if (!err)
		err = bench_kick(&c->e, pub, BT_KICK, 0);
	return err;
}

static int rep(struct fan_case *c, bool naive, uint64_t n, struct fan_series *f,
	       unsigned r)
{
	struct bench_sample s = {.ops = 0};
	struct fan_shared *sh;
	char name[32];
	int err;

	c->e.seq++;
	snprintf(name, sizeof(name), "fanout/%s %s", c->v->name,
		 naive ? "naive" : "pinion");
	sh = fan_new(c, naive, n);
	if (!sh)
		return -ENOMEM;
	err = naive ? 0 : open_topic(c, sh);
	if (!err)
		err = spawn_all(c, sh);
	if (!err && (err = bench_finish(&c->e, &sh->base, name, &s)) < 0)
		stuck(c, sh);
	if (!err)
		err = lat_collect(c, sh);
	if (!err)
		err = flow_check(c, sh, f);
	if (!err && r > 0) {
		f->ns[r - 1] = s.ns;
		f->p50[r - 1] = bench_hist_percentile(c->hist, 50);
		f->p99[r - 1] = bench_hist_percentile(c->hist, 99);
		f->p999[r - 1] = bench_hist_percentile(c->hist, 99.9);
		f->max[r - 1] = bench_hist_max(c->hist);
	}
	fan_put(sh, err);
	return err;
}

/* --- one variant --------------------------------------------------------- */

static void report(struct fan_case *c, const char *impl, struct fan_series *f)
{
	const struct bench_opts *o = c->o;
	struct bench_result r = {.shards = c->e.nshards};

	snprintf(r.bench, sizeof(r.bench), "fanout");
	snprintf(r.variant, sizeof(r.variant), "%s", c->v->name);
	snprintf(r.impl, sizeof(r.impl), "%s", impl);
	r.ops = c->n * c->v->s;
	r.secs = (double)bench_median(f->ns, o->reps) / 1e9;
	r.latency = true;
	r.busy = o->busy_poll;
	r.p50 = bench_median(f->p50, o->reps);
	r.p99 = bench_median(f->p99, o->reps);
	r.p999 = bench_median(f->p999, o->reps);
	r.max = bench_median(f->max, o->reps);
	snprintf(r.extra, sizeof(r.extra),
		 "poll=%s n=%llu subs=%u payload=%u lat_every=%llu",
		 o->busy_poll ? "busy" : "park", (unsigned long long)c->n,
		 c->v->s, c->v->len, (unsigned long long)c->stride);
	bench_report(o, &r);
}

static void traffic_note(struct fan_case *c, const char *impl,
			 const struct fan_series *f)
{
	unsigned dest = 0, remote = 0;

	for (unsigned j = 0; j < c->e.nshards; j++) {
		dest += c->shard[j].nsubs > 0;
		remote += j && c->shard[j].nsubs > 0;
	}
	bench_note(c->o, "fanout traffic",
		   "variant=%s impl=%s %s=%.2f shards=%u "
		   "ring_slots_per_msg=%.2f cross_slots_per_msg=%.2f "
		   "remote_shards=%u refused=%llu",
		   c->v->name, impl,
		   strcmp(impl, "naive") ? "slots_per_msg" : "sends_per_msg",
		   f->slots, dest, f->ring, f->cross, remote,
		   (unsigned long long)f->refused);
}

/* Pinion's delivery rate over the naive one's, repetition by repetition
 * (each pair ran back to back): their median and range, and the target
 * at S = 256. The result lines' medians are of each impl on its own. */
static void ratio_note(struct fan_case *c, const uint64_t *pns,
		       const uint64_t *nns)
{
	double r[BENCH_MAX_REPS], lo = 0, hi = 0, med;
	unsigned n = c->o->reps;

	for (unsigned i = 0; i < n; i++) {
		r[i] = (double)nns[i] / (double)(pns[i] ? pns[i] : 1);
		lo = i == 0 || r[i] < lo ? r[i] : lo;
		hi = i == 0 || r[i] > hi ? r[i] : hi;
	}
	for (unsigned i = 1; i < n; i++) /* insertion sort: n <= 64 */
		for (unsigned j = i; j > 0 && r[j] < r[j - 1]; j--) {
			double t = r[j];

			r[j] = r[j - 1];
			r[j - 1] = t;
		}
	med = n % 2 ? r[n / 2] : (r[n / 2 - 1] + r[n / 2]) / 2;
	bench_note(c->o, "fanout ratio",
		   "variant=%s pinion/naive deliveries_per_sec=%.2f (median of "
		   "%u alternated repetitions, %.2f-%.2f)%s",
		   c->v->name, med, n, lo, hi,
		   c->v->s != 256 ? ""
		   : med >= 5	  ? "; target >= 5 at S=256: met"
				  : "; target >= 5 at S=256: NOT met");
}

/* The warm-up (a tenth of N) and the timed repetitions, pinion and naive
 * alternated within each. */
static int variant_reps(struct fan_case *c, bool pinion, bool naive,
			struct fan_series *fp, struct fan_series *fn)
{
	uint64_t warm = c->n / 10 ? c->n / 10 : 1;
	int err = 0;

	for (unsigned r = 0; r <= c->o->reps && !err; r++) {
		uint64_t n = r ? c->n : warm;

		if (pinion)
			err = rep(c, false, n, fp, r);
		if (naive && !err)
			err = rep(c, true, n, fn, r);
	}
	return err;
}

static int run_variant(const struct bench_opts *o, struct pn_runtime *rt,
		       const struct fan_variant *v, int *seq)
{
	static struct fan_series fp, fn;
	uint64_t pns[BENCH_MAX_REPS], nns[BENCH_MAX_REPS];
	bool pinion = !o->impl || !strcmp(o->impl, "pinion");
	bool naive = !o->impl || !strcmp(o->impl, "naive");
	struct fan_case c = {.o = o, .v = v};
	int err;

	c.e.rt = rt;
	c.e.nshards = pn_runtime_nshards(rt);
	c.e.seq = *seq;
	c.n = o->n ? o->n : default_n(v->s);
	c.e.n = c.n;
	c.e.timeout_ns = o->timeout_ns ? o->timeout_ns
				       : 30000000000ull + c.n * v->s * 500;
	c.hist = bench_hist_create();
	err = c.hist ? lat_alloc(&c) : -ENOMEM;
	if (!err)
		err = variant_reps(&c, pinion, naive, &fp, &fn);
	*seq = c.e.seq;
	memcpy(pns, fp.ns, sizeof(pns)); /* report() sorts them */
	memcpy(nns, fn.ns, sizeof(nns));
	if (!err && pinion) {
		report(&c, "pinion", &fp);
		traffic_note(&c, "pinion", &fp);
	}
	if (!err && naive) {
		report(&c, "naive", &fn);
		traffic_note(&c, "naive", &fn);
	}
	if (!err && pinion && naive)
		ratio_note(&c, pns, nns);
	bench_report_ratios(o);
	bench_hist_destroy(c.hist);
	if (!err) /* else actors may still write into the records */
		lat_free(&c);
	return err;
}

int bench_fanout(const struct bench_opts *o)
{
	struct pn_runtime *rt;
	int err, seq = 0;

	if (o->impl && strcmp(o->impl, "pinion") && strcmp(o->impl, "naive"))
		return 0; /* no raw limit for it */
	err = bench_rt_start(o, o->shards, o->busy_poll, &rt);
	if (err < 0)
		return err;
	for (unsigned i = 0; i < NVARIANTS && !err; i++) {
		if (o->variant && strcmp(o->variant, variants[i].name))
			continue;
		err = run_variant(o, rt, &variants[i], &seq);
		if (err < 0)
			fprintf(stderr, "pinion-bench: fanout/%s: %s\n",
				variants[i].name, strerror(-err));
	}
	if (!err && o->report)
		bench_traffic_report(o, rt);
	bench_rt_stop(rt);
	return err;
}
