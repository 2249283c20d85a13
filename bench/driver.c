// SPDX-License-Identifier: MIT
/*
 * The driver: runs one workload in one variant as the issue asks. First
 * Pinion (a runtime with the variant's shards, one warm-up, --reps timed
 * repetitions, runtime destroyed), then the raw limit on the same plan's
 * cpus (never both at once: this machine has two cores), then the
 * pinion/raw ratio. Also the helpers every workload's actors and set-up
 * use: spawning and kicking from the driving thread, the failure record,
 * and waiting for a repetition to finish.
 */
#include "bench.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool bench_broken(const char *what)
{
	const char *env = getenv("PINION_BENCH_BREAK");
	size_t len = strlen(what);

	for (const char *p = env; p && *p; p += strcspn(p, ",")) {
		p += *p == ',';
		if (!strncmp(p, what, len) && (p[len] == ',' || !p[len]))
			return true;
	}
	return false;
}

struct bench_shared *bench_shared_new(struct bench_env *e, uint64_t want)
{
	struct bench_shared *sh = calloc(1, sizeof(*sh));

	if (!sh) {
		fprintf(stderr, "pinion-bench: out of memory\n");
		return NULL;
	}
	sh->rt = e->rt;
	sh->seq = e->seq;
	sh->n = e->n;
	sh->want = want;
	return sh;
}

void bench_shared_put(struct bench_shared *sh, int err)
{
	if (err == 0)
		free(sh);
}

int bench_actor_init(struct pn_ctx *ctx, void *state, const void *arg,
		     size_t len)
{
	(void)ctx;
	if (arg && len)
		memcpy(state, arg, len);
	return 0;
}

int bench_fail(struct bench_shared *sh, int err, const char *fmt, ...)
{
	va_list ap;

	if (sh->err == 0) {
		sh->err = err < 0 ? err : -EPROTO;
		va_start(ap, fmt);
		vsnprintf(sh->what, sizeof(sh->what), fmt, ap);
		va_end(ap);
	}
	pn_runtime_notify(sh->rt, -1);
	return PN_STOP;
}

void bench_done(struct bench_shared *sh)
{
	pn_runtime_notify(sh->rt, sh->seq);
}

int bench_spawn(struct bench_env *e, const struct pn_behaviour *b, int shard,
		const void *arg, size_t len, pn_pid *pid)
{
	struct pn_spawn_opts so = {
		.shard = shard, .flags = 0, .arg = arg, .arg_len = len};
	int err = pn_runtime_spawn(e->rt, b, &so, pid);

	if (err < 0)
		fprintf(stderr, "pinion-bench: spawn %s on shard %d: %s (%s)\n",
			b->name, shard, strerror(-err), pn_last_error());
	return err;
}

int bench_kick(struct bench_env *e, pn_pid to, uint32_t type, uint64_t v)
{
	int err =
		pn_runtime_send(e->rt, to, type, &v, sizeof(v), 1000000000ull);

	if (err < 0)
		fprintf(stderr, "pinion-bench: send: %s (%s)\n", strerror(-err),
			pn_last_error());
	return err;
}

int bench_finish(struct bench_env *e, struct bench_shared *sh, const char *name,
		 struct bench_sample *s)
{
	int code = 0, err;

	do { /* a code from an earlier repetition is stale: skip it */
		err = pn_runtime_wait(e->rt, e->timeout_ns, &code);
	} while (err == 0 && code != e->seq && code >= 0);
	if (err < 0) {
		fprintf(stderr,
			"pinion-bench: %s: no result within %.0f s: %s\n", name,
			(double)e->timeout_ns / 1e9, strerror(-err));
		return err;
	}
	if (sh->err) {
		fprintf(stderr, "pinion-bench: %s: check failed: %s\n", name,
			sh->what);
		return sh->err;
	}
	if (sh->got != sh->want) {
		fprintf(stderr,
			"pinion-bench: %s: check failed: final count %llu, "
			"expected %llu\n",
			name, (unsigned long long)sh->got,
			(unsigned long long)sh->want);
		return -EPROTO;
	}
	s->ops = sh->n;
	s->ns = sh->t1 - sh->t0;
	s->extra = sh->extra;
	return 0;
}

/* --- pinned threads (raw baselines) ---------------------------------- */

struct pinned {
	const struct bench_cpus *cpus;
	int cpu;
	void *(*fn)(void *);
	void *arg;
	int err;
};

static void *pinned_main(void *p)
{
	struct pinned *pt = p;

	pt->err = pn_thread_pin(pt->cpus->topo, pt->cpu);
	if (pt->err < 0) {
		fprintf(stderr, "pinion-bench: pin to cpu %d: %s\n", pt->cpu,
			pn_last_error());
		return NULL;
	}
	return pt->fn(pt->arg);
}

int bench_run_pinned(const struct bench_cpus *cpus, int cpu,
		     void *(*fn)(void *), void *arg)
{
	struct pinned pt = {cpus, cpu, fn, arg, 0};
	pthread_t th;
	int err = pthread_create(&th, NULL, pinned_main, &pt);

	if (err)
		return -err;
	pthread_join(th, NULL);
	return pt.err;
}

/* --- one workload in one variant ----------------------------------------- */

struct case_run {
	const struct bench_opts *o;
	const struct bench_workload *w;
	bool cross;
	bool busy;
	uint64_t n;
};

/* The warm-up is a tenth of the run (at least 1000 ops, at most n). */
static uint64_t warm_n(uint64_t n)
{
	uint64_t w = n / 10;

	if (w < 1000)
		w = n < 1000 ? n : 1000;
	return w;
}

static uint64_t rep_timeout(const struct case_run *c)
{
	uint64_t t = 30000000000ull + c->n * 5000;

	if (c->o->timeout_ns)
		return c->o->timeout_ns;
	if (c->w->latency && c->o->rate)
		t += c->n / c->o->rate * 1000000000ull;
	return t;
}

static void result_init(struct bench_result *r, const struct case_run *c,
			const char *impl, unsigned shards)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->bench, sizeof(r->bench), "%s", c->w->name);
	snprintf(r->variant, sizeof(r->variant), "%s",
		 c->cross ? "cross" : "local");
	snprintf(r->impl, sizeof(r->impl), "%s", impl);
	r->shards = shards;
	r->ops = c->n;
}

static void plan_cpus(struct pn_runtime *rt, char *buf, size_t len)
{
	const struct pn_plan *p = pn_runtime_plan(rt);
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned i = 0; p && i < p->nshards && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%d",
					i ? "," : "", p->shard[i].cpu);
}

/* Latency figures of this repetition, kept for the medians. */
struct lat_reps {
	uint64_t p50[BENCH_MAX_REPS], p99[BENCH_MAX_REPS];
	uint64_t p999[BENCH_MAX_REPS], max[BENCH_MAX_REPS];
	struct bench_hist *total;
};

static void lat_keep(struct lat_reps *l, unsigned i, struct bench_hist *h)
{
	l->p50[i] = bench_hist_percentile(h, 50);
	l->p99[i] = bench_hist_percentile(h, 99);
	l->p999[i] = bench_hist_percentile(h, 99.9);
	l->max[i] = bench_hist_max(h);
	bench_hist_merge(l->total, h);
}

static void lat_result(const struct case_run *c, struct lat_reps *l,
		       struct bench_result *r)
{
	char path[512];
	int err;

	r->latency = true;
	r->p50 = bench_median(l->p50, c->o->reps);
	r->p99 = bench_median(l->p99, c->o->reps);
	r->p999 = bench_median(l->p999, c->o->reps);
	r->max = bench_median(l->max, c->o->reps);
	if (!c->o->hist_out)
		return;
	snprintf(path, sizeof(path), "%s.%s.dat", c->o->hist_out,
		 c->busy ? "busy" : "park");
	err = bench_hist_write(l->total, path);
	if (err < 0)
		fprintf(stderr, "pinion-bench: %s: %s\n", path, strerror(-err));
}

/* Warm-up plus the timed repetitions on a started runtime. */
static int pinion_loop(const struct case_run *c, struct bench_env *e,
		       struct lat_reps *l, uint64_t *ns, uint64_t *extra)
{
	struct bench_sample s;
	int err;

	for (unsigned r = 0; r <= c->o->reps; r++) {
		e->n = r ? c->n : warm_n(c->n);
		e->seq = (int)r + 1;
		if (e->hist)
			bench_hist_reset(e->hist);
		memset(&s, 0, sizeof(s));
		err = c->w->run(e, &s);
		if (err < 0)
			return err;
		if (r == 0)
			continue;
		ns[r - 1] = s.ns;
		if (s.extra > *extra)
			*extra = s.extra;
		if (e->hist)
			lat_keep(l, r - 1, e->hist);
	}
	return 0;
}

static int pinion_case(const struct case_run *c)
{
	struct bench_env e = {.cross = c->cross, .rate = c->o->rate};
	struct lat_reps l = {.total = NULL};
	uint64_t ns[BENCH_MAX_REPS], extra = 0;
	struct bench_result r;
	char cpus[64];
	int err;

	err = bench_rt_start(c->o, c->cross ? c->o->shards : 1, c->busy, &e.rt);
	if (err < 0)
		return err;
	e.nshards = pn_runtime_nshards(e.rt);
	e.timeout_ns = rep_timeout(c);
	plan_cpus(e.rt, cpus, sizeof(cpus));
	if (c->cross && e.nshards < 2) {
		bench_rt_stop(e.rt);
		bench_note(c->o, "skip", "%s/cross: needs 2 shards, got %u",
			   c->w->name, e.nshards);
		return 1;
	}
	if (c->w->latency) {
		e.hist = bench_hist_create();
		l.total = bench_hist_create();
		if (!e.hist || !l.total)
			err = -ENOMEM;
	}
	if (!err)
		err = pinion_loop(c, &e, &l, ns, &extra);
	if (!err) {
		result_init(&r, c, "pinion", e.nshards);
		r.busy = c->busy;
		r.secs = (double)bench_median(ns, c->o->reps) / 1e9;
		snprintf(r.extra, sizeof(r.extra), "poll=%s cpus=%s",
			 c->busy ? "busy" : "park", cpus);
		if (!strcmp(c->w->name, "churn"))
			snprintf(r.extra + strlen(r.extra),
				 sizeof(r.extra) - strlen(r.extra),
				 " max_cycle_ns=%llu",
				 (unsigned long long)extra);
		if (c->w->latency)
			lat_result(c, &l, &r);
		bench_report(c->o, &r);
	}
	bench_rt_stop(e.rt);
	bench_hist_destroy(e.hist);
	bench_hist_destroy(l.total);
	return err;
}

static int raw_case(const struct case_run *c, const char *impl,
		    unsigned publish)
{
	struct bench_cpus cpus;
	struct bench_sample s;
	uint64_t ns[BENCH_MAX_REPS];
	struct bench_result r;
	char buf[32];
	int err;

	err = bench_cpus_plan(c->cross ? c->o->shards : 1, &cpus);
	if (err < 0)
		return err;
	if (c->cross && cpus.n < 2)
		return 1;
	for (unsigned i = 0; i <= c->o->reps; i++) {
		memset(&s, 0, sizeof(s));
		err = bench_raw_run(c->w->name, c->cross, publish, &cpus,
				    i ? c->n : warm_n(c->n), &s);
		if (err < 0) {
			fprintf(stderr,
				"pinion-bench: %s/%s raw: check "
				"failed\n",
				c->w->name, c->cross ? "cross" : "local");
			return err;
		}
		if (i)
			ns[i - 1] = s.ns;
	}
	result_init(&r, c, impl, c->cross ? 2 : 1);
	r.secs = (double)bench_median(ns, c->o->reps) / 1e9;
	bench_cpus_str(&cpus, c->cross ? 2 : 1, buf, sizeof(buf));
	snprintf(r.extra, sizeof(r.extra), "cpus=%s", buf);
	if (publish)
		snprintf(r.extra + strlen(r.extra),
			 sizeof(r.extra) - strlen(r.extra), " publish=%u",
			 publish);
	bench_report(c->o, &r);
	return 0;
}

int bench_case(const struct bench_opts *o, const struct bench_workload *w,
	       bool cross, bool busy, bool with_raw)
{
	struct case_run c = {o, w, cross, busy, o->n ? o->n : w->default_n};
	bool pinion = !o->impl || !strcmp(o->impl, "pinion");
	bool raw = with_raw && (!o->impl || !strcmp(o->impl, "raw")) &&
		   bench_raw_exists(w->name, cross);
	int err = 0;

	if (pinion)
		err = pinion_case(&c);
	if (err >= 0 && raw)
		err = raw_case(&c, "raw",
			       cross && !strcmp(w->name, "counting") ? 64 : 0);
	if (err >= 0 && raw && cross && !strcmp(w->name, "counting"))
		err = raw_case(&c, "raw-each", 1);
	bench_report_ratios(o);
	return err;
}
