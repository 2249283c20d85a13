/* SPDX-License-Identifier: MIT */
/*
 * Metrics: each shard's counters, log-linear histograms, snapshots of
 * every shard's metrics and of the most sampled actors, JSON and
 * Prometheus text, and counter sources other modules register.
 *
 * pn_metrics_snapshot() is the one call that gives everything, in one
 * pass: the exact totals, each shard's counters, its migration counters
 * and time shares, the supervision counters, histograms and the sampled
 * actors. pn_runtime_totals(), pn_runtime_stats(), pn_migrate_stats()
 * (pn_migrate.h) and pn_supervision_stats() (pn_supervise.h) are the
 * single-value shortcuts: each reads one part, as the snapshot does.
 */
#ifndef PN_METRICS_H
#define PN_METRICS_H

#include "pn_core.h"
#include "pn_stats.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Every message the runtime accepted (each 0 return of pn_send(),
 * pn_reply(), pn_inject(), pn_runtime_send(), each timer firing and io
 * completion, and the runtime's own messages) is either handled or
 * dead-lettered: accepted == handled + dead_letters + in_flight, and
 * in_flight is 0 once pn_runtime_shutdown() has returned (unless a shard
 * was abandoned: then it counts what that shard never handled). A
 * snapshot while running (the parts are read one after another).
 */
struct pn_runtime_totals {
	uint64_t accepted;
	uint64_t handled;
	uint64_t dead_letters;
	uint64_t in_flight; /* queued, held, or in a handler now */
	uint64_t injected;  /* of accepted: from external producers */
};

/* Sum the counters of every shard and producer into @out (the shortcut;
 * pn_metrics_totals() has the same in a snapshot). Returns 0, -EINVAL
 * (@out NULL). Any thread (after pn_runtime_shutdown() too, until
 * pn_runtime_destroy()). */
PN_API int pn_runtime_totals(const struct pn_runtime *rt,
			     struct pn_runtime_totals *out);

/*
 * Per-shard counters (snapshot; each read atomically; the hot ones are
 * published once per loop turn, so they may lag by one turn). Message
 * counts include the runtime's own messages (STARTED, DOWN, spawns, the
 * migration protocol...), and each message is counted once however often
 * it is forwarded or held on its way: accepted where it was sent,
 * handled or dead_letters where it ended. A message that migration takes
 * back on one shard and that ends on another can make a shard's
 * accepted/handled off by its count; pn_runtime_totals() is exact.
 */
struct pn_shard_stats {
	uint64_t handled;      /* consumed here: by a handler or the runtime */
	uint64_t sent_local;   /* to actors on the same shard */
	uint64_t sent_remote;  /* into rings to other shards */
	uint64_t received_ext; /* from external producers */
	uint64_t overflowed;   /* sends that went to the overflow queue */
	uint64_t eagain;       /* sends refused: overflow over budget */
	/* Bytes waiting here outside the rings, against the overflow
	 * budget: the overflow queues and migration's side queues. */
	uint64_t overflow_bytes;
	uint64_t dead_letters;
	uint64_t late_replies;
	uint64_t timers_fired;
	uint64_t parks;
	uint64_t wakes_sent;
	uint64_t spawned;
	uint64_t stopped;
	uint64_t actors;    /* alive now */
	uint64_t accepted;  /* sent from here: actors, timers, io, runtime */
	uint64_t forwarded; /* queued again here (migration, early, held) */
};

/* Read shard @shard's counters (0..nshards, the last being the supervisor
 * shard; the shortcut for a snapshot's pn_shard_metrics.stats). Returns 0
 * or -EINVAL. Any. */
PN_API int pn_runtime_stats(const struct pn_runtime *rt, unsigned shard,
			    struct pn_shard_stats *out);

/*
 * Log-linear histograms (HdrHistogram's scheme): values below 2^S exact,
 * then 2^S buckets per power of two, so the relative error is below 2^-S;
 * fixed memory (2^S * (65 - S) counters); histograms of the same S merge
 * by adding. Recording never allocates. One writer at a time. Any.
 */
struct pn_hist;
/* Returns 0 and *out, -EINVAL (S outside 1..12), -ENOMEM. */
PN_API int pn_hist_create(unsigned sub_bits, struct pn_hist **out);
PN_API void pn_hist_destroy(struct pn_hist *h);
PN_API void pn_hist_reset(struct pn_hist *h);
PN_API void pn_hist_record(struct pn_hist *h, uint64_t v);
PN_API void pn_hist_record_n(struct pn_hist *h, uint64_t v, uint64_t n);
/* Add @src into @dst: 0, or -EINVAL if their S differ. */
PN_API int pn_hist_merge(struct pn_hist *dst, const struct pn_hist *src);
PN_API uint64_t pn_hist_count(const struct pn_hist *h);
PN_API uint64_t pn_hist_min(const struct pn_hist *h);
PN_API uint64_t pn_hist_max(const struct pn_hist *h);
PN_API uint64_t pn_hist_sum(const struct pn_hist *h);
/* The @p-th percentile (0..100), never under-reported. */
PN_API uint64_t pn_hist_percentile(const struct pn_hist *h, double p);
/* How many values are below @v (exact for powers of two). */
PN_API uint64_t pn_hist_count_below(const struct pn_hist *h, uint64_t v);
/* Bucket @i (< pn_hist_buckets()): its count, lowest value and width. */
PN_API unsigned pn_hist_buckets(const struct pn_hist *h);
PN_API uint64_t pn_hist_bucket(const struct pn_hist *h, unsigned i,
			       uint64_t *low, uint64_t *width);

/*
 * A source of extra per-shard counters (io/ registers one): @collect runs
 * on each shard, on that shard's thread, every 1024 loop turns and before
 * the shard parks, and fills v[0..n) with the shard's current values.
 * Names become pinion_<name>_<names[i]> (counters get _total). Everything
 * pointed to must outlive the runtime. Register before
 * pn_runtime_start(), once: the same @src again, or another with the
 * same name, gets -EALREADY and changes nothing. Returns 0,
 * -EBUSY (started), -EALREADY, -ENOSPC (more than 32 counters in all),
 * -EINVAL. External.
 */
struct pn_metrics_source {
	const char *name;
	unsigned n;
	const char *const *names;      /* [n] */
	const unsigned char *is_gauge; /* [n], or NULL: all counters */
	void (*collect)(struct pn_ctx *ctx, void *arg, uint64_t *v);
	void *arg;
};
PN_API int pn_metrics_source_register(struct pn_runtime *rt,
				      const struct pn_metrics_source *src);

/* One shard in a snapshot. Time shares: busy (running the loop with
 * work), spin (idle, not parked) and parked add up to the shard's life;
 * parked includes the sleep in progress, up to the snapshot. */
struct pn_shard_metrics {
	struct pn_shard_stats stats;
	struct pn_migrate_stats migrate; /* as pn_migrate_stats() */
	uint64_t handled_local, handled_cross, handled_ext;
	uint64_t wakes_received;
	uint64_t busy_ns, spin_ns, parked_ns;
	uint64_t samples;	  /* sampled dispatches */
	const uint64_t *sent_to;  /* [nshards] into each shard's queue */
	const uint32_t *ring_hwm; /* [nsources] inbound ring backlog HWM */
	unsigned nsources;	  /* nshards + max_producers */
	const uint64_t *ext;	  /* registered sources' counters */
	const struct pn_hist *handler_ns; /* sampled handler run time */
	const struct pn_hist *queue_ns;	  /* sampled enqueue-to-dispatch */
};

/* One actor's sampled statistics (estimates: samples x sample rate). */
struct pn_actor_metrics {
	pn_pid pid;
	unsigned shard;
	char behaviour[24];
	uint64_t samples, messages_est;
	uint64_t handler_ns, queue_ns; /* sums over the samples */
	uint64_t handler_p99_ns, queue_p99_ns;
};

/*
 * Take a snapshot of everything the runtime counts, in one pass over the
 * shards (the one call for all of it; the other stats calls each read one
 * part). Each counter is read atomically; the hot ones are published once
 * per loop turn (the time shares when the loop changes state, and at
 * least every 1024 turns; the time a sleeping shard has been parked so far
 * is added as the snapshot is taken), and the parts are read one after another,
 * so while the runtime runs they may be a turn apart; once it is quiet they
 * equal what the single calls return. Returns 0 and *out (the caller owns
 * it: free it with pn_metrics_free(), which accepts NULL), -ENOMEM. Any
 * thread (after pn_runtime_shutdown() too, until pn_runtime_destroy()).
 * The accessors below read a snapshot only (any thread; what they return
 * points into it and lives until pn_metrics_free()).
 */
struct pn_metrics;
PN_API int pn_metrics_snapshot(struct pn_runtime *rt, struct pn_metrics **out);
PN_API void pn_metrics_free(struct pn_metrics *m);
/* Shards in @m, the supervisor shard included (it is the last). */
PN_API unsigned pn_metrics_nshards(const struct pn_metrics *m);
/* When @m was taken (pn_now_ns()'s clock). */
PN_API uint64_t pn_metrics_time_ns(const struct pn_metrics *m);
/* Shard @shard's part of @m: its counters (stats, as pn_runtime_stats()),
 * its migration counters (migrate, as pn_migrate_stats()), time shares,
 * histograms; NULL if @shard >= pn_metrics_nshards(). */
PN_API const struct pn_shard_metrics *
pn_metrics_shard(const struct pn_metrics *m, unsigned shard);
/* The runtime's exact totals in @m (as pn_runtime_totals()). Never NULL. */
PN_API const struct pn_runtime_totals *
pn_metrics_totals(const struct pn_metrics *m);
/* The supervision counters in @m (as pn_supervision_stats()). Never
 * NULL. */
PN_API const struct pn_supervision_stats *
pn_metrics_supervision(const struct pn_metrics *m);
/* The open topics' counters (struct pn_topic_stats, pn_stats.h; as
 * pn_topic_stats()); returns how many. */
PN_API unsigned pn_metrics_topics(const struct pn_metrics *m,
				  const struct pn_topic_stats **out);
/* The sampled actors, most samples first; returns how many. */
PN_API unsigned pn_metrics_actors(const struct pn_metrics *m,
				  const struct pn_actor_metrics **out);
/* Registered source counters: how many, and the name of number @i
 * ("io_accepted") and whether it is a gauge. */
PN_API unsigned pn_metrics_ext_count(const struct pn_metrics *m);
PN_API const char *pn_metrics_ext_name(const struct pn_metrics *m, unsigned i,
				       bool *gauge);

/*
 * Write @m as one JSON object (pn_metrics_json) or in the Prometheus text
 * format, version 0.0.4 (pn_metrics_prom). Returns 0 or -EIO. Any.
 * For a buffer, use fmemopen() or open_memstream().
 */
PN_API int pn_metrics_json(const struct pn_metrics *m, FILE *f);
PN_API int pn_metrics_prom(const struct pn_metrics *m, FILE *f);

#ifdef __cplusplus
}
#endif
#endif /* PN_METRICS_H */
