// SPDX-License-Identifier: MIT
/*
 * The three measurements that are not throughput:
 *   allocs - jemalloc allocations per message in steady-state counting,
 *            counted exactly by a jemalloc allocation hook
 *            (experimental.hooks.install) during one timed run;
 *   idle   - CPU used by each shard thread over 2 s with no traffic: with
 *            no timer, then with a periodic timer of 1 ms and of 200 us
 *            on every application shard (an otherwise idle server's
 *            heartbeat), targets < 1%, < 2% and < 5% of a core
 *            (/proc/self/task/TID/schedstat, ns resolution);
 *   memory - bytes of jemalloc memory per idle actor, from the growth of
 *            stats.allocated over 100,000 spawned actors.
 * Each prints a non-result line and records the value for the table.
 */
#include "bench.h"

#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/*
 * jemalloc's control interface. Sanitizer builds (PN_ALLOC_LIBC) do not
 * link jemalloc: there every mallctl() fails and the measurements say
 * "unknown" rather than measure libc.
 */
#ifdef PN_ALLOC_LIBC
static int mallctl(const char *name, void *old, size_t *oldlen, void *new,
		   size_t newlen)
{
	(void)name;
	(void)old;
	(void)oldlen;
	(void)new;
	(void)newlen;
	return ENOENT;
}
#else
#include <jemalloc/jemalloc.h>
#endif

/* jemalloc 5.x's hook table (include/jemalloc/internal/hook.h). */
typedef void (*jm_hook_alloc)(void *extra, int type, void *result,
			      uintptr_t result_raw, uintptr_t args_raw[3]);
struct jm_hooks {
	jm_hook_alloc alloc_hook;
	void *dalloc_hook;
	void *expand_hook;
	void *extra;
};

static _Atomic bool counting_allocs;
static _Atomic uint64_t nallocs;

static void count_alloc(void *extra, int type, void *result,
			uintptr_t result_raw, uintptr_t args_raw[3])
{
	(void)extra;
	(void)type;
	(void)result_raw;
	(void)args_raw;
	if (result &&
	    atomic_load_explicit(&counting_allocs, memory_order_relaxed))
		atomic_fetch_add_explicit(&nallocs, 1, memory_order_relaxed);
}

/* One counting run of @n on @e's runtime; *allocs: allocations during it. */
static int counted(struct bench_env *e, uint64_t n, bool count,
		   uint64_t *allocs)
{
	struct bench_sample s;
	int err;

	e->n = n;
	e->seq++;
	atomic_store(&nallocs, 0);
	atomic_store(&counting_allocs, count);
	err = bench_counting(e, &s);
	atomic_store(&counting_allocs, false);
	*allocs = atomic_load(&nallocs);
	return err;
}

/*
 * Steady state: a run of @n and a run of 2@n, after a warm-up. Each run
 * also allocates a fixed amount to set itself up (two actors, the kick);
 * the difference between the two runs is what @n more messages cost.
 */
static int counted_runs(struct pn_runtime *rt, bool cross, uint64_t n,
			uint64_t *a1, uint64_t *a2)
{
	struct bench_env e = {.rt = rt, .cross = cross};
	int err;

	e.nshards = pn_runtime_nshards(rt);
	e.timeout_ns = 60000000000ull;
	err = counted(&e, n / 10 + 1, false, a1);
	if (!err)
		err = counted(&e, n, true, a1);
	if (!err)
		err = counted(&e, 2 * n, true, a2);
	return err;
}

int bench_allocs(const struct bench_opts *o, bool cross)
{
	struct jm_hooks h = {count_alloc, NULL, NULL, NULL};
	const char *variant = cross ? "cross" : "local";
	uint64_t n = o->n ? o->n : 1000000, a1 = 0, a2 = 0;
	struct pn_runtime *rt;
	void *handle = NULL;
	size_t sz = sizeof(handle);
	double per;
	int err;

	if (mallctl("experimental.hooks.install", &handle, &sz, &h,
		    sizeof(h)) != 0) {
		bench_note(o, "allocs",
			   "counting/%s allocs_per_msg=unknown "
			   "(jemalloc hooks unavailable)",
			   variant);
		return 0;
	}
	err = bench_rt_start(o, cross ? o->shards : 1, o->busy_poll, &rt);
	if (err == 0) {
		if (cross && pn_runtime_nshards(rt) < 2)
			err = 1;
		else
			err = counted_runs(rt, cross, n, &a1, &a2);
		bench_rt_stop(rt);
	}
	mallctl("experimental.hooks.remove", NULL, NULL, &handle,
		sizeof(handle));
	if (err)
		return err < 0 ? err : 0;
	per = a2 > a1 ? (double)(a2 - a1) / (double)n : 0;
	bench_note(o, "allocs",
		   "counting/%s allocs_per_msg=%.4f allocs_run_n=%llu "
		   "allocs_run_2n=%llu n=%llu",
		   variant, per, (unsigned long long)a1, (unsigned long long)a2,
		   (unsigned long long)n);
	bench_measure("allocs_per_msg", variant, per);
	return 0;
}

/* --- idle shard CPU --------------------------------------------------- */

#define IDLE_MAX_SHARDS 64

#define IDLE_TICK 0x4242u

struct idle_arg {
	struct pn_runtime *rt;
	_Atomic int *tid;   /* one per shard */
	uint64_t period_ns; /* a periodic timer on app shards; 0: none */
	uint64_t timer;
};

static int idle_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct idle_arg *a = state;
	int err = 0;

	if (m->type == PN_MSG_STARTED) {
		atomic_store(&a->tid[pn_shard(ctx)], (int)gettid());
		if (a->period_ns &&
		    pn_shard(ctx) < pn_runtime_nshards(a->rt) - 1)
			err = pn_send_every(ctx, a->period_ns, IDLE_TICK, NULL,
					    0, &a->timer);
		pn_runtime_notify(a->rt, err ? -1 : 1000 + (int)pn_shard(ctx));
	}
	return 0;
}

static const struct pn_behaviour idle_b = {
	.name = "bench-idle",
	.state_size = sizeof(struct idle_arg),
	.init = bench_actor_init,
	.handle = idle_handle,
};

/* CPU time of thread @tid in ns (schedstat), or -1. */
static int64_t thread_cpu_ns(int tid)
{
	char path[64];
	long long run = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat", tid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &run) != 1)
		run = -1;
	fclose(f);
	return run;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000u),
			      (long)(ns % 1000000000u)};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int64_t process_cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
	       ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

/* Learn every shard thread's tid from an idle actor spawned on it. */
static int idle_tids(struct pn_runtime *rt, unsigned ns, _Atomic int *tid,
		     uint64_t period_ns)
{
	struct bench_env e = {.rt = rt, .nshards = ns};
	struct idle_arg a = {rt, tid, period_ns, 0};
	pn_pid pid;
	int code, err = 0;

	for (unsigned i = 0; i < ns && !err; i++)
		err = bench_spawn(&e, &idle_b, (int)i, &a, sizeof(a), &pid);
	for (unsigned i = 0; i < ns && !err; i++)
		if ((err = pn_runtime_wait(rt, 5000000000ull, &code)) == 0 &&
		    code < 0)
			err = -EIO;
	return err;
}

/*
 * The raw limit for a periodic wake-up: a bare thread that sleeps in
 * io_uring (a timeout wait, as a parked shard does) every @period_ns for
 * @wall ns and does nothing else. Its CPU share is what one wake-up per
 * period costs on this machine (kernel timer, context switch), the floor
 * under any runtime's idle heartbeat.
 */
struct raw_tick {
	uint64_t period_ns, wall_ns;
	int64_t cpu_ns;
};

static void *raw_tick_main(void *arg)
{
	struct raw_tick *t = arg;
	struct __kernel_timespec ts = {
		.tv_sec = (long long)(t->period_ns / 1000000000u),
		.tv_nsec = (long long)(t->period_ns % 1000000000u)};
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	uint64_t n = t->wall_ns / t->period_ns;
	int64_t c0;

	t->cpu_ns = -1;
	if (io_uring_queue_init(8, &ring, 0) < 0)
		return NULL;
	c0 = thread_cpu_ns((int)gettid());
	for (uint64_t i = 0; i < n; i++)
		io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ts, NULL);
	t->cpu_ns = thread_cpu_ns((int)gettid()) - c0;
	io_uring_queue_exit(&ring);
	return NULL;
}

/* CPU % of a core of the raw periodic wake-up, or a negative value. */
static double raw_tick_pct(uint64_t period_ns, uint64_t wall_ns)
{
	struct raw_tick t = {period_ns, wall_ns, -1};
	pthread_t th;

	if (pthread_create(&th, NULL, raw_tick_main, &t) != 0)
		return -1;
	pthread_join(th, NULL);
	return t.cpu_ns < 0 ? -1 : 100.0 * (double)t.cpu_ns / (double)wall_ns;
}

/* One idle measurement: shard threads' CPU over 2 s with @period_ns
 * timers (0: none), reported as variant @name. */
static int idle_once(const struct bench_opts *o, uint64_t period_ns,
		     const char *name)
{
	static _Atomic int tid[IDLE_MAX_SHARDS];
	int64_t t0[IDLE_MAX_SHARDS], p0, p1, t1;
	const uint64_t wall = 2000000000ull;
	struct pn_runtime *rt;
	char where[48];
	unsigned ns;
	double pct;
	int err;

	err = bench_rt_start(o, o->shards, false, &rt);
	if (err < 0)
		return err;
	ns = pn_runtime_nshards(rt);
	if (ns > IDLE_MAX_SHARDS)
		ns = IDLE_MAX_SHARDS;
	err = idle_tids(rt, ns, tid, period_ns);
	if (err < 0)
		goto out;
	sleep_ns(500000000ull); /* past the spin phase: parked */
	for (unsigned i = 0; i < ns; i++)
		t0[i] = thread_cpu_ns(atomic_load(&tid[i]));
	p0 = process_cpu_ns();
	sleep_ns(wall);
	p1 = process_cpu_ns();
	for (unsigned i = 0; i < ns; i++) {
		t1 = thread_cpu_ns(atomic_load(&tid[i]));
		if (t0[i] < 0 || t1 < 0) {
			bench_note(o, "idle", "shard=%u idle_cpu_pct=unknown",
				   i);
			continue;
		}
		pct = 100.0 * (double)(t1 - t0[i]) / (double)wall;
		bench_note(o, "idle",
			   "timer=%s shard=%u tid=%d idle_cpu_pct=%.3f", name,
			   i, atomic_load(&tid[i]), pct);
		snprintf(where, sizeof(where), "%s, timer %s",
			 i + 1 == ns ? "supervisor"
			 : i	     ? "shard 1+"
				     : "shard 0",
			 name);
		bench_measure(period_ns == 0	     ? "idle_cpu_pct"
			      : period_ns >= 1000000 ? "idle_cpu_pct_1khz"
						     : "idle_cpu_pct_5khz",
			      where, pct);
	}
	bench_note(o, "idle",
		   "timer=%s process idle_cpu_pct=%.3f shards=%u over 2 s",
		   name, 100.0 * (double)(p1 - p0) / (double)wall, ns);
out:
	bench_rt_stop(rt);
	if (!err && period_ns) { /* the raw limit, right after, same run */
		pct = raw_tick_pct(period_ns, wall);
		bench_note(o, "idle", "timer=%s impl=raw cpu_pct=%.3f", name,
			   pct);
		snprintf(where, sizeof(where), "raw wake-up, timer %s", name);
		bench_measure("idle_cpu_pct_raw", where, pct);
	}
	return err;
}

int bench_idle_cpu(const struct bench_opts *o)
{
	int err = idle_once(o, 0, "none");

	if (!err)
		err = idle_once(o, 1000000, "1ms");
	if (!err)
		err = idle_once(o, 200000, "200us");
	return err;
}

/* --- bytes per idle actor ------------------------------------------------ */

#define MEM_ACTORS 100000u

struct mem_spawner {
	struct bench_shared *sh;
	uint64_t spawned;
};

static int nop_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	(void)ctx;
	(void)state;
	(void)m;
	return 0;
}

static const struct pn_behaviour nop_b = {
	.name = "bench-idle-actor",
	.state_size = 0,
	.handle = nop_handle,
};

static int mem_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct mem_spawner *sp = state;
	pn_pid pid;
	int err;

	if (m->type != BT_KICK && m->type != BT_CONT)
		return 0;
	for (unsigned k = 0; k < 1024 && sp->spawned < sp->sh->n; k++) {
		err = pn_spawn(ctx, &nop_b, NULL, &pid);
		if (err < 0)
			return bench_fail(sp->sh, err, "spawn: %s",
					  strerror(-err));
		sp->spawned++;
	}
	if (sp->spawned < sp->sh->n)
		return pn_send_u64(ctx, pn_self(ctx), BT_CONT, 0) < 0 ? -1 : 0;
	sp->sh->got = sp->spawned;
	bench_done(sp->sh);
	return 0;
}

static const struct pn_behaviour mem_b = {
	.name = "bench-spawner",
	.state_size = sizeof(struct mem_spawner),
	.init = bench_actor_init,
	.handle = mem_handle,
};

static uint64_t jemalloc_allocated(void)
{
	uint64_t epoch = 1;
	size_t allocated = 0, sz = sizeof(epoch);

	if (mallctl("epoch", &epoch, &sz, &epoch, sz) != 0)
		return UINT64_MAX;
	sz = sizeof(allocated);
	if (mallctl("stats.allocated", &allocated, &sz, NULL, 0) != 0)
		return UINT64_MAX;
	return allocated;
}

static long rss_bytes(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * sysconf(_SC_PAGESIZE);
}

int bench_actor_bytes(const struct bench_opts *o)
{
	struct bench_env e = {
		.n = MEM_ACTORS, .seq = 1, .timeout_ns = 60000000000ull};
	struct mem_spawner sp = {0};
	struct bench_sample s;
	uint64_t a0, a1;
	long r0, r1;
	pn_pid pid;
	int err;

	err = bench_rt_start(o, 1, false, &e.rt);
	if (err < 0)
		return err;
	e.nshards = 1;
	sp.sh = bench_shared_new(&e, MEM_ACTORS);
	err = sp.sh ? bench_spawn(&e, &mem_b, 0, &sp, sizeof(sp), &pid)
		    : -ENOMEM;
	a0 = jemalloc_allocated();
	r0 = rss_bytes();
	if (!err)
		err = bench_kick(&e, pid, BT_KICK, 0);
	if (!err)
		err = bench_finish(&e, sp.sh, "memory", &s);
	a1 = jemalloc_allocated();
	r1 = rss_bytes();
	if (!err && (a0 == UINT64_MAX || a1 == UINT64_MAX)) {
		bench_note(o, "memory",
			   "bytes_per_actor=unknown (no jemalloc statistics) "
			   "rss_bytes_per_actor=%.1f actors=%u",
			   (double)(r1 - r0) / MEM_ACTORS, MEM_ACTORS);
	} else if (!err) {
		double per = ((double)a1 - (double)a0) / MEM_ACTORS;

		bench_note(o, "memory",
			   "bytes_per_actor=%.1f rss_bytes_per_actor=%.1f "
			   "actors=%u state_bytes=0",
			   per, (double)(r1 - r0) / MEM_ACTORS, MEM_ACTORS);
		bench_measure("bytes_per_actor", "idle, no state", per);
	}
	bench_shared_put(sp.sh, err);
	bench_rt_stop(e.rt);
	return err;
}
