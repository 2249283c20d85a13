// SPDX-License-Identifier: MIT
/*
 * pinion-bench: the standard workloads on Pinion, each
 * beside its raw limit, plus the measurements the issue asks for
 * (allocations per message, idle shard CPU, bytes per idle actor).
 *
 *   pinion-bench WORKLOAD [--variant V] [--n N] [--shards S]
 *                [--reps R] [--busy-poll] [--json]
 *                [--impl pinion|raw|epoll|naive]
 *                [--rate R] [--hist-out PREFIX] [--report]
 *   pinion-bench all [same options]
 *   pinion-bench --list
 *
 * Exit status: 0, 1 when a workload's correctness check failed (it then
 * printed no result line), 2 for a usage error.
 */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define L BENCH_LOCAL
#define X BENCH_CROSS

const struct bench_workload bench_workloads[] = {
	{"pingpong", "A pings B, B pongs, A pings again; round trips", 1000000,
	 L | X, bench_pingpong, false, false, NULL},
	{"ring", "503 actors pass one token around; hops", 10000000, L | X,
	 bench_ring, false, false, NULL},
	{"counting", "a producer streams inc to a counter, then get; messages",
	 10000000, L | X, bench_counting, false, false, NULL},
	{"forkjoin", "a master fans out to 64 workers (32 xorshift rounds)",
	 6400000, L | X, bench_forkjoin, false, false, NULL},
	{"spawn", "a parent spawns actors that answer hello and stop", 1000000,
	 L | X, bench_spawn_run, false, false, NULL},
	{"churn", "spawn; it spawns a child and stops; <= 1 s per cycle",
	 100000, L | X, bench_churn, false, false, NULL},
	{"latency", "open-loop requests at --rate to another shard", 1000000, X,
	 bench_latency, true, true, NULL},
	/* Variants c1, c16, c256; runs its own servers (bench/echo.c). */
	{"echo", "TCP echo on loopback, 64-byte requests, vs epoll", 1000000, 0,
	 NULL, true, false, "c1,c16,c256"},
	/* Migration and placement (bench/migrate.c, bench/pairs.c). */
	{"migrate", "move an actor back and forth; sends to it, moved or not",
	 2000, 0, NULL, false, false, "moves,loaded"},
	{"pairs", "16 ping-pong pairs: ideal, scatter, scatter + colocate",
	 1000, 0, NULL, false, false, "-"},
	/* Topics (bench/fanout.c): N per S, see bench/fanout_run.c. */
	{"fanout", "a topic's N messages to S subscribers on all shards",
	 1000000, 0, NULL, true, false,
	 "s1-inline,s1-512,s16-inline,s16-512,s256-inline,s256-512,"
	 "s4096-inline,s4096-512"},
};
const unsigned bench_nworkloads =
	sizeof(bench_workloads) / sizeof(bench_workloads[0]);

const struct bench_workload *bench_workload_find(const char *name)
{
	for (unsigned i = 0; i < bench_nworkloads; i++)
		if (!strcmp(bench_workloads[i].name, name))
			return &bench_workloads[i];
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pinion-bench WORKLOAD|all [--variant V (see --list)] "
		"[--n N] [--shards S]\n"
		"                    [--reps R] [--busy-poll] [--json] "
		"[--impl pinion|raw|epoll|naive]\n"
		"                    [--rate PER_SEC] [--hist-out PREFIX] "
		"[--report]\n"
		"       pinion-bench --list\n"
		"Measurements: allocs, idle, memory (also part of `all`).\n");
}

static void list(void)
{
	for (unsigned i = 0; i < bench_nworkloads; i++) {
		const struct bench_workload *w = &bench_workloads[i];

		printf("%-9s %-12s n=%-9llu %s\n", w->name,
		       w->own_variants		? w->own_variants
		       : w->variants == (L | X) ? "local,cross"
						: "cross",
		       (unsigned long long)w->default_n, w->about);
	}
	printf("%-9s %-12s %-11s %s\n", "allocs", "local,cross", "",
	       "jemalloc allocations per message in counting");
	printf("%-9s %-12s %-11s %s\n", "idle", "", "",
	       "CPU of parked shards over 2 s without traffic");
	printf("%-9s %-12s %-11s %s\n", "memory", "", "",
	       "bytes per idle actor (100,000 actors)");
}

static int parse_u64(const char *opt, const char *s, uint64_t *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	/* Digits first (no sign or space); 1e6 is allowed. */
	if (errno || s[0] < '0' || s[0] > '9' || *end || v < 1 || v > 1e15 ||
	    v != (double)(uint64_t)v) {
		fprintf(stderr,
			"pinion-bench: %s %s: expected a positive "
			"integer\n",
			opt, s);
		return -EINVAL;
	}
	*out = (uint64_t)v;
	return 0;
}

enum {
	O_VARIANT = 256,
	O_IMPL,
	O_N,
	O_SHARDS,
	O_REPS,
	O_BUSY,
	O_JSON,
	O_RATE,
	O_HIST,
	O_TIMEOUT,
	O_LIST,
	O_HELP,
	O_REPORT
};

static const struct option longopts[] = {
	{"variant", required_argument, NULL, O_VARIANT},
	{"impl", required_argument, NULL, O_IMPL},
	{"n", required_argument, NULL, O_N},
	{"shards", required_argument, NULL, O_SHARDS},
	{"reps", required_argument, NULL, O_REPS},
	{"busy-poll", no_argument, NULL, O_BUSY},
	{"json", no_argument, NULL, O_JSON},
	{"rate", required_argument, NULL, O_RATE},
	{"hist-out", required_argument, NULL, O_HIST},
	{"timeout", required_argument, NULL, O_TIMEOUT},
	{"list", no_argument, NULL, O_LIST},
	{"help", no_argument, NULL, O_HELP},
	{"report", no_argument, NULL, O_REPORT},
	{NULL, 0, NULL, 0},
};

static int parse_one(struct bench_opts *o, int c, const char *arg)
{
	uint64_t v = 0;
	int err = 0;

	switch (c) {
	case O_VARIANT:
		o->variant = arg;
		if (strcmp(arg, "local") && strcmp(arg, "cross") &&
		    strcmp(arg, "c1") && strcmp(arg, "c16") &&
		    strcmp(arg, "c256") && strcmp(arg, "moves") &&
		    strcmp(arg, "loaded") && !bench_fanout_variant(arg))
			err = -EINVAL;
		break;
	case O_IMPL:
		o->impl = arg;
		if (strcmp(arg, "pinion") && strcmp(arg, "raw") &&
		    strcmp(arg, "epoll") && strcmp(arg, "naive"))
			err = -EINVAL;
		break;
	case O_N:
		err = parse_u64("--n", arg, &o->n);
		break;
	case O_SHARDS:
		err = parse_u64("--shards", arg, &v);
		o->shards = (unsigned)v;
		break;
	case O_REPS:
		err = parse_u64("--reps", arg, &v);
		o->reps = (unsigned)v;
		if (!err && (v < 3 || v > BENCH_MAX_REPS))
			err = -EINVAL;
		break;
	case O_RATE:
		err = parse_u64("--rate", arg, &o->rate);
		break;
	case O_TIMEOUT:
		err = parse_u64("--timeout", arg, &v);
		o->timeout_ns = v * 1000000000ull;
		break;
	case O_BUSY:
		o->busy_poll = true;
		break;
	case O_JSON:
		o->json = true;
		break;
	case O_HIST:
		o->hist_out = arg;
		break;
	case O_REPORT:
		o->report = true;
		break;
	default:
		err = -EINVAL;
	}
	if (err)
		fprintf(stderr, "pinion-bench: bad option (--reps is 3..%d)\n",
			BENCH_MAX_REPS);
	return err;
}

/* Parse argv into @o; returns the workload name, or NULL (exit with *rc). */
static const char *parse(int argc, char **argv, struct bench_opts *o, int *rc)
{
	int c;

	*o = (struct bench_opts){.reps = 3, .rate = 200000};
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == O_LIST || c == O_HELP) {
			c == O_LIST ? list() : usage(stdout);
			*rc = 0;
			return NULL;
		}
		if (c == '?' || parse_one(o, c, optarg) < 0) {
			usage(stderr);
			*rc = 2;
			return NULL;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		*rc = 2;
		return NULL;
	}
	return argv[optind];
}

static bool want(const struct bench_opts *o, const char *variant)
{
	return !o->variant || !strcmp(o->variant, variant);
}

/* Every variant of @w the options allow; pingpong and latency also run
 * busy-polling in `all` (their targets are stated for it). */
static int run_workload(const struct bench_opts *o,
			const struct bench_workload *w, bool all)
{
	int bad = 0;

	if (!strcmp(w->name, "migrate")) /* their own runtimes and lines */
		return bench_migrate(o) < 0;
	if (!strcmp(w->name, "pairs"))
		return bench_pairs(o) < 0;
	if (!strcmp(w->name, "fanout"))
		return bench_fanout(o) < 0;
	if (w->run == NULL) /* echo: its own variants and servers */
		return bench_echo(o) < 0;
	if ((w->variants & BENCH_LOCAL) && want(o, "local"))
		bad |= bench_case(o, w, false, o->busy_poll, true) < 0;
	if ((w->variants & BENCH_CROSS) && want(o, "cross")) {
		bad |= bench_case(o, w, true, o->busy_poll, true) < 0;
		if (all && !o->busy_poll &&
		    (!strcmp(w->name, "pingpong") || w->latency))
			bad |= bench_case(o, w, true, true, false) < 0;
	}
	return bad;
}

static int run_measure(const struct bench_opts *o, const char *name)
{
	int err = 0;

	if (!strcmp(name, "allocs")) {
		if (want(o, "local"))
			err |= bench_allocs(o, false);
		if (want(o, "cross"))
			err |= bench_allocs(o, true);
	} else if (!strcmp(name, "idle")) {
		err = bench_idle_cpu(o);
	} else {
		err = bench_actor_bytes(o);
	}
	return err < 0;
}

int main(int argc, char **argv)
{
	const struct bench_workload *w;
	struct bench_cpus cpus;
	struct bench_opts o;
	const char *name;
	bool all;
	int rc = 0;

	name = parse(argc, argv, &o, &rc);
	if (!name)
		return rc;
	all = !strcmp(name, "all");
	w = bench_workload_find(name);
	if (!all && !w && strcmp(name, "allocs") && strcmp(name, "idle") &&
	    strcmp(name, "memory")) {
		fprintf(stderr,
			"pinion-bench: unknown workload '%s' (try "
			"--list)\n",
			name);
		return 2;
	}
	if (bench_cpus_plan(o.shards, &cpus) < 0)
		return 1;
	bench_context(&o, &cpus);
	if (w) {
		rc |= run_workload(&o, w, false);
	} else if (!all) {
		rc |= run_measure(&o, name);
	} else {
		for (unsigned i = 0; i < bench_nworkloads; i++)
			rc |= run_workload(&o, &bench_workloads[i], true);
		rc |= run_measure(&o, "allocs");
		rc |= run_measure(&o, "idle");
		rc |= run_measure(&o, "memory");
	}
	bench_report_table(&o);
	if (rc)
		fprintf(stderr, "pinion-bench: a correctness check failed\n");
	return rc ? 1 : 0;
}
