/* SPDX-License-Identifier: MIT */
/*
 * pinion-bench's internal interface: the workload table, the driver's
 * helpers for runtime-based repetitions, the raw baselines, the latency
 * histogram and the report (result lines, medians, ratios, the table).
 *
 * A workload is a function that runs ONE repetition (set-up not timed, the
 * actors time themselves with pn_now_ns()) and fills a struct bench_sample;
 * main.c runs it once as a warm-up and then --reps times, and report.c
 * turns the samples into the standard result line (medians).
 */
#ifndef PN_BENCH_H
#define PN_BENCH_H

#include "pinion.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- options ------------------------------------------------------------ */

struct bench_opts {
	const char *variant;  /* "local", "cross" or NULL (both) */
	const char *impl;     /* "pinion", "raw" (fanout: "naive"), NULL: all */
	uint64_t n;	      /* 0: the workload's default size */
	unsigned shards;      /* cross: 0 = one per core (the plan's choice) */
	unsigned reps;	      /* timed repetitions, >= 3 */
	bool busy_poll;	      /* shards never park */
	bool json;	      /* JSON Lines instead of key=value lines */
	uint64_t rate;	      /* latency: requests per second */
	const char *hist_out; /* latency: write the histogram here */
	uint64_t timeout_ns;  /* per repetition */
	bool report;	      /* --report: the traffic view (migrate, pairs) */
};

/* PINION_BENCH_BREAK names a workload whose check must fail (self-test). */
bool bench_broken(const char *what);

/* --- one repetition ------------------------------------------------------ */

struct bench_hist;

/* scrape.c: PINION_BENCH_SCRAPE_MS=N scrapes /metrics every N ms while a
 * runtime runs (bench_rt_start/stop call these). */
int bench_scrape_prepare(struct pn_runtime *rt);
int bench_scrape_start(struct pn_runtime *rt);
void bench_scrape_stop(void);

/* What the driver hands a workload for one repetition. */
struct bench_env {
	struct pn_runtime *rt;
	unsigned nshards;
	bool cross;		 /* spread actors round-robin over shards */
	uint64_t n;		 /* ops this repetition */
	uint64_t rate;		 /* latency only */
	uint64_t timeout_ns;	 /* give up waiting after this */
	struct bench_hist *hist; /* latency: this repetition's histogram */
	int seq;		 /* this repetition's notify code (> 0) */
};

/* What one timed repetition measured. */
struct bench_sample {
	uint64_t ops;
	uint64_t ns;
	uint64_t extra; /* workload-specific (churn: slowest cycle, ns) */
};

typedef int (*bench_run_fn)(struct bench_env *e, struct bench_sample *s);

/*
 * Shared between a repetition's actors and the driving thread. Actors write
 * it on their shards; the driver reads it after pn_runtime_wait() returned
 * the repetition's code, which orders those writes before the reads (the
 * notify is the last thing the finishing actor does, and every other actor's
 * writes reach it through a message first).
 */
struct bench_shared {
	struct pn_runtime *rt;
	int seq;       /* code to notify with on success */
	uint64_t n;    /* ops to do */
	uint64_t t0;   /* first op, pn_now_ns() */
	uint64_t t1;   /* last op */
	uint64_t got;  /* the workload's final count or total */
	uint64_t want; /* what it must equal */
	uint64_t extra;
	int err;	/* first failure seen by an actor (< 0), or 0 */
	char what[160]; /* what went wrong, for the error message */
};

/* A repetition's shared record (NULL when out of memory), and its release:
 * kept (leaked) when the repetition failed, since actors may still hold it. */
struct bench_shared *bench_shared_new(struct bench_env *e, uint64_t want);
void bench_shared_put(struct bench_shared *sh, int err);

/* An init callback that copies the spawn argument into the state. */
int bench_actor_init(struct pn_ctx *ctx, void *state, const void *arg,
		     size_t len);

/* Record a failure (first one wins) and wake the driver. Handler. */
int bench_fail(struct bench_shared *sh, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Wake the driver: this repetition is done. Handler. */
void bench_done(struct bench_shared *sh);

/* The shard actor @i of a workload runs on (round-robin when crossing). */
static inline int bench_shard_of(const struct bench_env *e, uint64_t i)
{
	return e->cross ? (int)(i % e->nshards) : 0;
}

/* Spawn @b on @shard with @arg from the driving thread. */
int bench_spawn(struct bench_env *e, const struct pn_behaviour *b, int shard,
		const void *arg, size_t len, pn_pid *pid);

/* Send @type with @v to @to from the driving thread. */
int bench_kick(struct bench_env *e, pn_pid to, uint32_t type, uint64_t v);

/*
 * Wait until the repetition notifies (its code, or a failure), then check
 * sh: the error, then got == want. Fills @s from t0/t1. Returns 0 or < 0
 * with the reason printed to stderr.
 */
int bench_finish(struct bench_env *e, struct bench_shared *sh, const char *name,
		 struct bench_sample *s);

/* Application message types the workloads share. */
enum {
	BT_KICK = 1,
	BT_CONT, /* a producer's "go on" to itself */
	BT_PING,
	BT_PONG,
	BT_INC,
	BT_GET,
	BT_TOTAL,
	BT_TOKEN,
	BT_QUIT,
	BT_WORK,
	BT_COLLECT,
	BT_COUNT,
	BT_HELLO,
	BT_ANSWER,
	BT_TICK,
	BT_REQ,
	BT_REP,
	BT_SETNEXT,
};

/* Messages a producer sends per handler invocation before yielding. */
#define BENCH_CHUNK 256

/* --- workloads ---------------------------------------------------------- */

#define BENCH_LOCAL 0x1u
#define BENCH_CROSS 0x2u

struct bench_workload {
	const char *name;
	const char *about;
	uint64_t default_n;
	unsigned variants;  /* BENCH_LOCAL | BENCH_CROSS */
	bench_run_fn run;   /* one Pinion repetition */
	bool latency;	    /* prints p50/p99/p99.9/max */
	bool needs_2shards; /* cross only, and at least 2 shards */
	/* Workloads with variants of their own (run == NULL): their names,
	 * comma-separated, for --list and --variant. */
	const char *own_variants;
};

int bench_pingpong(struct bench_env *e, struct bench_sample *s);
int bench_ring(struct bench_env *e, struct bench_sample *s);
int bench_counting(struct bench_env *e, struct bench_sample *s);
int bench_forkjoin(struct bench_env *e, struct bench_sample *s);
int bench_spawn_run(struct bench_env *e, struct bench_sample *s);
int bench_churn(struct bench_env *e, struct bench_sample *s);
int bench_latency(struct bench_env *e, struct bench_sample *s);
/* echo (bench/echo.c) runs its own servers and variants c1, c16, c256. */
int bench_echo(const struct bench_opts *o);
/* migrate and pairs (bench/migrate.c, bench/pairs.c) run their own
 * runtimes and print their own result lines. */
int bench_migrate(const struct bench_opts *o);
/* migrate, variant=loaded: copies per message of a busy moving actor. */
int bench_migrate_loaded(const struct bench_opts *o);
int bench_pairs(const struct bench_opts *o);
/* fanout (bench/fanout_run.c): topics against a hand-made fan-out, its own
 * variants (s1-inline ... s4096-512) and runtime. */
int bench_fanout(const struct bench_opts *o);
bool bench_fanout_variant(const char *name);
/* --report: the runtime's traffic view and migration counters. */
void bench_traffic_report(const struct bench_opts *o, struct pn_runtime *rt);

const struct bench_workload *bench_workload_find(const char *name);
extern const struct bench_workload bench_workloads[];
extern const unsigned bench_nworkloads;

/* The xorshift64 rounds a forkjoin worker does per message. */
static inline uint64_t bench_xorshift32(uint64_t x)
{
	for (int i = 0; i < 32; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	return x;
}

/* --- raw limits (raw.c, raw_local.c) ------------------------------------ */

/* CPUs to pin to: cpu[0] for local, cpu[0] and cpu[1] for cross. */
struct bench_cpus {
	struct pn_topology *topo;
	int cpu[2];
	unsigned n;
};

/*
 * Raw figures for @bench/@variant, each one repetition of @n ops: fills
 * @s, returns 0, -ENOENT when there is no raw limit for it, or < 0 when its
 * own check failed. @publish is the producer's publish interval (counting
 * cross only).
 */
int bench_raw_run(const char *bench, bool cross, unsigned publish,
		  const struct bench_cpus *cpus, uint64_t n,
		  struct bench_sample *s);
bool bench_raw_exists(const char *bench, bool cross);

/* Single-threaded floors (raw_local.c), on the calling thread. */
int bench_raw_local(const char *bench, uint64_t n, struct bench_sample *s);

/* Run @fn(@arg) on a new thread pinned to @cpu and wait for it. */
int bench_run_pinned(const struct bench_cpus *cpus, int cpu,
		     void *(*fn)(void *), void *arg);

/* --- latency histogram (hist.c) ----------------------------------------- */

struct bench_hist *bench_hist_create(void);
void bench_hist_destroy(struct bench_hist *h);
void bench_hist_reset(struct bench_hist *h);
void bench_hist_record(struct bench_hist *h, uint64_t v);
void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src);
uint64_t bench_hist_count(const struct bench_hist *h);
uint64_t bench_hist_max(const struct bench_hist *h);
/* The value at percentile @p (0..100): at most ~0.8% above the true one. */
uint64_t bench_hist_percentile(const struct bench_hist *h, double p);
/* "value_ns count percent cumulative_fraction" per non-empty bucket. */
int bench_hist_write(const struct bench_hist *h, const char *path);

/* --- the report (report.c, context.c) --------------------------------- */

#define BENCH_MAX_REPS 64

struct bench_result {
	char bench[16];
	char variant[16];
	char impl[16];
	char extra[96]; /* further key=value pairs (poll=, cpus=, ...) */
	unsigned shards;
	uint64_t ops;
	double secs; /* median */
	bool latency;
	uint64_t p50, p99, p999, max; /* medians over the repetitions */
	bool busy;		      /* busy-polling shards */
};

/* Median of @n samples (sorted in place). */
uint64_t bench_median(uint64_t *v, unsigned n);

/* Print @r as a result line (or JSON) and keep it for the table. */
void bench_report(const struct bench_opts *o, const struct bench_result *r);

/* A non-result line: "@tag: @fmt..." (or a JSON object with "@tag"). */
void bench_note(const struct bench_opts *o, const char *tag, const char *fmt,
		...) __attribute__((format(printf, 3, 4)));

/* Print the pinion/raw ratio lines for everything reported so far. */
void bench_report_ratios(const struct bench_opts *o);

/* Record a measurement (allocs, idle CPU, bytes per actor) for the table. */
void bench_measure(const char *name, const char *variant, double value);

/* Print the markdown table of every result and target (text mode). */
void bench_report_table(const struct bench_opts *o);

/* Print the context line(s): CPU, cores, kernel, SMT, governor, build. */
void bench_context(const struct bench_opts *o, const struct bench_cpus *c);

/* The cpus of a plan with @shards shards (0: one per core). */
int bench_cpus_plan(unsigned shards, struct bench_cpus *out);

/* "0,1" for the first @n cpus of @c. */
void bench_cpus_str(const struct bench_cpus *c, unsigned n, char *buf,
		    size_t len);

/*
 * Run @w in one variant: Pinion (unless o->impl is "raw"), then, with
 * @with_raw, its raw limit on the same cpus, then the ratio lines. Returns
 * 0, 1 when skipped (too few cores), or < 0 when a check failed.
 */
int bench_case(const struct bench_opts *o, const struct bench_workload *w,
	       bool cross, bool busy, bool with_raw);

/* --- the extra measurements (measure.c) --------------------------------- */

int bench_allocs(const struct bench_opts *o, bool cross);
int bench_idle_cpu(const struct bench_opts *o);
int bench_actor_bytes(const struct bench_opts *o);

/* --- the runtime the driver uses (main.c) ------------------------------ */

/* Create and start a runtime with @shards (0 = plan's choice). */
int bench_rt_start(const struct bench_opts *o, unsigned shards, bool busy,
		   struct pn_runtime **out);
void bench_rt_stop(struct pn_runtime *rt);

#endif /* PN_BENCH_H */
