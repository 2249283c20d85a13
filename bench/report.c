// SPDX-License-Identifier: MIT
/*
 * The report: the standard result lines (or JSON Lines with --json), the
 * pinion/raw ratio lines, and the closing markdown table that sets each
 * result beside its raw limit and the target. Every result and
 * measurement of the run is kept here (a fixed array) for the ratios and
 * the table; nothing else in pinion-bench prints a line starting "bench=".
 */
#include "bench.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RESULTS  128
#define MAX_MEASURES 64

static struct bench_result results[MAX_RESULTS];
static unsigned nresults;

struct measure {
	const char *name;
	char variant[40];
	double value;
};
static struct measure measures[MAX_MEASURES];
static unsigned nmeasures;

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

uint64_t bench_median(uint64_t *v, unsigned n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	if (n % 2)
		return v[n / 2];
	return (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double ns_per_op(const struct bench_result *r)
{
	return r->ops ? r->secs * 1e9 / (double)r->ops : 0;
}

static double ops_per_sec(const struct bench_result *r)
{
	return r->secs > 0 ? (double)r->ops / r->secs : 0;
}

static const char *poll_name(const struct bench_result *r)
{
	if (strcmp(r->impl, "pinion") != 0)
		return "-";
	return r->busy ? "busy" : "park";
}

/* Append the "k=v k=v" pairs of @extra as JSON members. */
static void json_extra(const char *extra)
{
	char buf[sizeof(((struct bench_result *)0)->extra)];
	char *save = NULL, *tok, *eq;

	snprintf(buf, sizeof(buf), "%s", extra);
	for (tok = strtok_r(buf, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		eq = strchr(tok, '=');
		if (!eq)
			continue;
		*eq = '\0';
		printf(",\"%s\":\"%s\"", tok, eq + 1);
	}
}

static void print_json(const struct bench_result *r)
{
	printf("{\"bench\":\"%s\",\"variant\":\"%s\",\"impl\":\"%s\","
	       "\"shards\":%u,\"ops\":%llu,\"secs\":%.6f,\"ops_per_sec\":%.0f,"
	       "\"ns_per_op\":%.3f",
	       r->bench, r->variant, r->impl, r->shards,
	       (unsigned long long)r->ops, r->secs, ops_per_sec(r),
	       ns_per_op(r));
	if (r->latency)
		printf(",\"p50_ns\":%llu,\"p99_ns\":%llu,\"p999_ns\":%llu,"
		       "\"max_ns\":%llu",
		       (unsigned long long)r->p50, (unsigned long long)r->p99,
		       (unsigned long long)r->p999, (unsigned long long)r->max);
	json_extra(r->extra);
	printf("}\n");
}

static void print_line(const struct bench_result *r)
{
	double ns = ns_per_op(r);

	printf("bench=%s variant=%s impl=%s shards=%u ops=%llu secs=%.4f "
	       "ops_per_sec=%.0f ns_per_op=%.*f",
	       r->bench, r->variant, r->impl, r->shards,
	       (unsigned long long)r->ops, r->secs, ops_per_sec(r),
	       ns < 10 ? 2 : 1, ns);
	if (r->latency)
		printf(" p50_ns=%llu p99_ns=%llu p999_ns=%llu max_ns=%llu",
		       (unsigned long long)r->p50, (unsigned long long)r->p99,
		       (unsigned long long)r->p999, (unsigned long long)r->max);
	if (r->extra[0])
		printf(" %s", r->extra);
	printf("\n");
}

void bench_report(const struct bench_opts *o, const struct bench_result *r)
{
	if (o->json)
		print_json(r);
	else
		print_line(r);
	fflush(stdout);
	if (nresults < MAX_RESULTS)
		results[nresults++] = *r;
}

void bench_note(const struct bench_opts *o, const char *tag, const char *fmt,
		...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (o->json) {
		printf("{\"%s\":\"", tag);
		for (const char *p = buf; *p; p++)
			printf(*p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
		printf("\"}\n");
	} else {
		printf("%s: %s\n", tag, buf);
	}
	fflush(stdout);
}

void bench_measure(const char *name, const char *variant, double value)
{
	if (nmeasures == MAX_MEASURES)
		return;
	measures[nmeasures].name = name;
	snprintf(measures[nmeasures].variant,
		 sizeof(measures[nmeasures].variant), "%s", variant);
	measures[nmeasures++].value = value;
}

/* The raw result @impl for @r's bench and variant, or NULL. */
static const struct bench_result *raw_for(const struct bench_result *r,
					  const char *impl)
{
	for (unsigned i = nresults; i-- > 0;)
		if (!strcmp(results[i].bench, r->bench) &&
		    !strcmp(results[i].variant, r->variant) &&
		    !strcmp(results[i].impl, impl))
			return &results[i];
	return NULL;
}

void bench_report_ratios(const struct bench_opts *o)
{
	/* fanout's baseline is its hand-made fan-out, impl=naive */
	static const char *const raws[] = {"raw", "raw-each", "naive"};
	static unsigned done; /* results already given a ratio line */
	const struct bench_result *r, *raw;

	for (; done < nresults; done++) {
		r = &results[done];
		if (strcmp(r->impl, "pinion") != 0)
			continue;
		for (unsigned k = 0; k < 3; k++) {
			raw = raw_for(r, raws[k]);
			if (!raw || ns_per_op(raw) <= 0 || ns_per_op(r) <= 0)
				continue;
			bench_note(o, "ratio",
				   "%s/%s/%s pinion/%s ns_per_op=%.2f "
				   "ops_per_sec=%.2f",
				   r->bench, r->variant, poll_name(r), raws[k],
				   ns_per_op(r) / ns_per_op(raw),
				   ops_per_sec(r) / ops_per_sec(raw));
		}
	}
}

/* --- targets ------------------------------------------------ */

enum target_kind {
	T_RAW_TIME_MAX,	 /* ns_per_op / raw ns_per_op <= limit */
	T_OPS_MIN,	 /* ops_per_sec >= limit */
	T_SHARD_OPS_MIN, /* ops_per_sec / shards >= limit */
	T_NS_MAX,	 /* ns_per_op <= limit */
	T_P999_MAX,	 /* p999_ns < limit */
};

struct target {
	const char *bench, *variant;
	int poll; /* -1 any, 0 parked, 1 busy */
	enum target_kind kind;
	double limit;
	const char *text;
};

static const struct target targets[] = {
	{"counting", "cross", -1, T_RAW_TIME_MAX, 2.0, ">= 50% of raw rate"},
	{"pingpong", "cross", 1, T_RAW_TIME_MAX, 1.5, "<= 1.5x raw round trip"},
	{"counting", "local", -1, T_OPS_MIN, 100e6, ">= 100M msg/s"},
	{"pingpong", "local", -1, T_OPS_MIN, 50e6, ">= 50M round trips/s"},
	{"spawn", NULL, -1, T_SHARD_OPS_MIN, 5e6, ">= 5M actors/s/shard"},
	{"latency", NULL, 1, T_P999_MAX, 20000, "p99.9 < 20 us"},
	{"ring", "local", -1, T_NS_MAX, 10, "<= 10 ns/hop"},
	{"forkjoin", "local", -1, T_NS_MAX, 25, "<= 25 ns/msg"},
	{"churn", NULL, -1, T_NS_MAX, 1000, "<= 1 us/cycle"},
	/* the pinion/raw column is pinion/naive for fanout */
	{"fanout", "s256-inline", -1, T_RAW_TIME_MAX, 0.2, ">= 5x naive rate"},
	{"fanout", "s256-512", -1, T_RAW_TIME_MAX, 0.2, ">= 5x naive rate"},
};

static const struct target *target_for(const struct bench_result *r)
{
	for (unsigned i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		const struct target *t = &targets[i];

		if (strcmp(r->impl, "pinion") != 0 ||
		    strcmp(t->bench, r->bench) != 0)
			continue;
		if (t->variant && strcmp(t->variant, r->variant) != 0)
			continue;
		if (t->poll >= 0 && t->poll != (int)r->busy)
			continue;
		return t;
	}
	return NULL;
}

static const char *target_met(const struct target *t,
			      const struct bench_result *r,
			      const struct bench_result *raw)
{
	switch (t->kind) {
	case T_RAW_TIME_MAX:
		if (!raw)
			return "n/a";
		return ns_per_op(r) / ns_per_op(raw) <= t->limit ? "yes" : "NO";
	case T_OPS_MIN:
		return ops_per_sec(r) >= t->limit ? "yes" : "NO";
	case T_SHARD_OPS_MIN:
		return ops_per_sec(r) / r->shards >= t->limit ? "yes" : "NO";
	case T_NS_MAX:
		return ns_per_op(r) <= t->limit ? "yes" : "NO";
	case T_P999_MAX:
		return (double)r->p999 < t->limit ? "yes" : "NO";
	}
	return "n/a";
}

static void table_row(const struct bench_result *r)
{
	const struct bench_result *raw = NULL;
	const struct target *t = target_for(r);
	char ratio[16] = "", p999[24] = "";

	if (!strcmp(r->impl, "pinion"))
		raw = raw_for(r, "raw");
	if (!raw && !strcmp(r->impl, "pinion")) /* fanout */
		raw = raw_for(r, "naive");
	if (raw && ns_per_op(raw) > 0)
		snprintf(ratio, sizeof(ratio), "%.2f",
			 ns_per_op(r) / ns_per_op(raw));
	if (r->latency)
		snprintf(p999, sizeof(p999), "%llu",
			 (unsigned long long)r->p999);
	printf("| %s | %s | %s | %s | %u | %.2f | %.0f | %s | %s | %s | %s |\n",
	       r->bench, r->variant, r->impl, poll_name(r), r->shards,
	       ns_per_op(r), ops_per_sec(r), p999, ratio, t ? t->text : "",
	       t ? target_met(t, r, raw) : "");
}

static void measure_row(const struct measure *m)
{
	const char *target = "", *met = "";

	if (!strcmp(m->name, "allocs_per_msg")) {
		target = "0";
		met = m->value < 1e-6 ? "yes" : "NO";
	} else if (!strcmp(m->name, "idle_cpu_pct")) {
		target = "< 1%";
		met = m->value < 1.0 ? "yes" : "NO";
	} else if (!strcmp(m->name, "idle_cpu_pct_1khz")) {
		target = "< 2%";
		met = m->value < 2.0 ? "yes" : "NO";
	} else if (!strcmp(m->name, "idle_cpu_pct_5khz")) {
		target = "< 5%";
		met = m->value < 5.0 ? "yes" : "NO";
	} else if (!strcmp(m->name, "bytes_per_actor")) {
		target = "<= 256";
		met = m->value <= 256 ? "yes" : "NO";
	}
	printf("| %s | %s | %.4g | %s | %s |\n", m->name, m->variant, m->value,
	       target, met);
}

void bench_report_table(const struct bench_opts *o)
{
	if (o->json || (nresults == 0 && nmeasures == 0))
		return;
	printf("\n| bench | variant | impl | poll | shards | ns/op | ops/s "
	       "| p99.9 ns | pinion/raw | target | met |\n");
	printf("|---|---|---|---|---:|---:|---:|---:|---:|---|---|\n");
	for (unsigned i = 0; i < nresults; i++)
		table_row(&results[i]);
	if (nmeasures) {
		printf("\n| measurement | where | value | target | met |\n");
		printf("|---|---|---:|---|---|\n");
		for (unsigned i = 0; i < nmeasures; i++)
			measure_row(&measures[i]);
	}
	printf("\npinion/raw is Pinion's ns/op divided by the raw limit's "
	       "(same run, same cores); 0.5 means twice as fast. For fanout, "
	       "by the hand-made fan-out's (impl=naive).\n");
	fflush(stdout);
}

void bench_cpus_str(const struct bench_cpus *c, unsigned n, char *buf,
		    size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < n && i < c->n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%d",
					i ? "," : "", c->cpu[i]);
	if (!buf[0])
		snprintf(buf, len, "none");
}
