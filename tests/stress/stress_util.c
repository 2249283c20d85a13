// SPDX-License-Identifier: MIT
/*
 * The core stress tests' shared helpers (see stress_util.h): seed and
 * scale, always-on checks and the one failure path, runtime set-up and
 * shutdown, bounded stall-detecting waits, and the per-shard sync probes.
 */
#include "stress_util.h"

#include "core_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct su_state su;

/* Set by the first failing thread; the others wait for its _exit(). */
static atomic_int failing;

void su_init(const char *name)
{
	const char *s = getenv("PN_SEED");
	const char *sc = getenv("PN_STRESS_SCALE");
	struct timespec ts;

	su.name = name;
	if (s && *s) {
		su.seed = strtoull(s, NULL, 0);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		su.seed = (uint64_t)ts.tv_sec * 1000000000u ^
			  (uint64_t)ts.tv_nsec ^ (uint64_t)getpid() << 40;
	}
	su.scale = sc && *sc ? strtod(sc, NULL) : 1.0;
	if (!(su.scale > 0))
		su.scale = 1.0;
	printf("%s: PN_SEED=%" PRIu64 " PN_STRESS_SCALE=%g mode=%s\n", name,
	       su.seed, su.scale,
	       getenv("PN_TEST_MODE") ? getenv("PN_TEST_MODE") : "?");
	fflush(stdout);
}

uint64_t su_scaled(double base, uint64_t min)
{
	double v = base * su.scale;

	return v < (double)min ? min : (uint64_t)v;
}

uint64_t su_rnd(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t su_stream(uint64_t salt)
{
	uint64_t s = su.seed ^ (salt * 0xd1b54a32d192ed03ull);

	su_rnd(&s);
	return s;
}

double su_secs(uint64_t t0)
{
	return (double)(pn_now_ns() - t0) / 1e9;
}

void su_log(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("%s: %s\n", su.name, buf);
	fflush(stdout);
}

void su_stats_print(struct pn_runtime *rt)
{
	unsigned n = pn_runtime_nshards(rt);

	for (unsigned i = 0; i < n; i++) {
		struct pn_shard_stats st;

		if (pn_runtime_stats(rt, i, &st) < 0)
			continue;
		fprintf(stderr,
			"  shard %u: handled=%" PRIu64 " local=%" PRIu64
			" remote=%" PRIu64 " ext=%" PRIu64
			" overflowed=%" PRIu64 " eagain=%" PRIu64
			" overflow_bytes=%" PRIu64 " dead=%" PRIu64
			" timers=%" PRIu64 " parks=%" PRIu64 " wakes=%" PRIu64
			" spawned=%" PRIu64 " stopped=%" PRIu64
			" actors=%" PRIu64 "\n",
			i, st.handled, st.sent_local, st.sent_remote,
			st.received_ext, st.overflowed, st.eagain,
			st.overflow_bytes, st.dead_letters, st.timers_fired,
			st.parks, st.wakes_sent, st.spawned, st.stopped,
			st.actors);
	}
}

/*
 * White box (core/core_int.h): every shard's parked flag and doorbell, and
 * each inbound ring with published messages its shard has not given back.
 * A parked shard with such a ring is a stranded message. Only atomics are
 * read, so this is safe while the shards run.
 */
void su_dump_rings(struct pn_runtime *rt)
{
	for (unsigned i = 0; i < rt->nshards; i++) {
		struct pn_shard *s = rt->shard[i];
		unsigned nw = (s->nsources + 63) / 64;

		fprintf(stderr, "  shard %u%s: parked=%u bell=", i,
			i >= pn_runtime_nshards(rt) ? " (not an application "
						      "shard)"
						    : "",
			atomic_load_explicit(&s->parked, memory_order_relaxed));
		for (unsigned w = 0; w < nw; w++)
			fprintf(stderr, "%#" PRIx64 " ",
				(uint64_t)atomic_load_explicit(
					&s->bell[w], memory_order_relaxed));
		fprintf(stderr, "\n");
		for (unsigned src = 0; src < s->nsources; src++) {
			struct pn_ring *r = atomic_load_explicit(
				&s->in[src], memory_order_acquire);
			uint32_t t, h;

			if (!r)
				continue;
			t = atomic_load_explicit(&r->tail,
						 memory_order_acquire);
			h = atomic_load_explicit(&r->head,
						 memory_order_acquire);
			if (t != h)
				fprintf(stderr,
					"    ring from %s %u: %u message(s) "
					"published and not released%s\n",
					src < rt->nshards ? "shard"
							  : "producer",
					src < rt->nshards ? src
							  : src - rt->nshards,
					t - h,
					atomic_load_explicit(
						&s->parked,
						memory_order_relaxed)
						? " while the shard is parked"
						: "");
		}
	}
}

static __attribute__((noreturn)) void fail_msg(const char *where,
					       const char *msg)
{
	int expected = 0;

	if (!atomic_compare_exchange_strong(&failing, &expected, 1))
		for (;;)
			pause(); /* the first failure ends the process */
	fflush(stdout);
	fprintf(stderr, "%s: FAIL: %s%s%s\n", su.name, where ? where : "",
		where ? ": " : "", msg);
	fprintf(stderr,
		"%s: rerun with PN_SEED=%" PRIu64 " PN_STRESS_SCALE=%g\n",
		su.name, su.seed, su.scale);
	if (su.rt) {
		fprintf(stderr, "%s: shard counters at failure:\n", su.name);
		su_stats_print(su.rt);
		fprintf(stderr, "%s: park state and unreleased rings:\n",
			su.name);
		su_dump_rings(su.rt);
	}
	fflush(stderr);
	_exit(1);
}

void su_fail(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fail_msg(NULL, msg);
}

void su_fail_check(const char *file, int line, const char *cond,
		   const char *fmt, ...)
{
	char where[512], msg[2048];
	va_list ap;

	snprintf(where, sizeof(where), "%s:%d: check `%s` failed", file, line,
		 cond);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fail_msg(where, msg);
}

void su_config(struct pn_config *c)
{
	pn_config_init(c);
	c->plan.shards = 2;
	if (pn_config_from_env(c) < 0)
		su_fail("pn_config_from_env: %s", pn_last_error());
}

/* --- the sync probes ------------------------------------------------------ */

static int probe_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	(void)state;
	if (m->type == SU_MSG_SYNC)
		pn_runtime_notify(pn_ctx_runtime(ctx), SU_CODE_SYNC);
	else
		SU_CHECK(m->type == PN_MSG_STARTED ||
				 m->type == PN_MSG_STOPPING ||
				 m->type == PN_MSG_SHUTDOWN,
			 "probe got message type %#x", m->type);
	return 0;
}

static const struct pn_behaviour probe_b = {
	.name = "su_probe",
	.handle = probe_handle,
};

pn_pid su_spawn(struct pn_runtime *rt, const struct pn_behaviour *b, int shard,
		uint32_t arg)
{
	struct pn_spawn_opts o = {
		.shard = shard, .arg = &arg, .arg_len = sizeof(arg)};
	pn_pid pid;
	int err = pn_runtime_spawn(rt, b, &o, &pid);

	SU_CHECK(err == 0, "spawn %s: %d %s", b->name, err, pn_last_error());
	return pid;
}

struct pn_runtime *su_runtime(const struct pn_config *c)
{
	struct pn_runtime *rt;
	int err;

	if ((err = pn_runtime_create(c, &rt)) < 0)
		su_fail("pn_runtime_create: %d %s", err, pn_last_error());
	if ((err = pn_runtime_start(rt)) < 0)
		su_fail("pn_runtime_start: %d %s", err, pn_last_error());
	su.rt = rt;
	su.nprobes = pn_runtime_nshards(rt);
	SU_CHECK(su.nprobes <= 64, "%u shards", su.nprobes);
	for (unsigned i = 0; i < su.nprobes; i++) {
		struct pn_spawn_opts o = {.shard = (int)i};

		err = pn_runtime_spawn(rt, &probe_b, &o, &su.probe[i]);
		SU_CHECK(err == 0, "spawn probe on shard %u: %d %s", i, err,
			 pn_last_error());
	}
	return rt;
}

void su_sync(struct pn_runtime *rt)
{
	for (unsigned i = 0; i < su.nprobes; i++) {
		int err = pn_runtime_send(rt, su.probe[i], SU_MSG_SYNC, NULL, 0,
					  10000000000ull);

		SU_CHECK(err == 0, "sync send to shard %u: %d %s", i, err,
			 pn_last_error());
	}
	for (unsigned i = 0; i < su.nprobes; i++) {
		int code = 0;
		int err = pn_runtime_wait(rt, 30000000000ull, &code);

		SU_CHECK(err == 0,
			 "sync round: a shard did not answer its probe within "
			 "30 s (%u of %u answered): a stranded message",
			 i, su.nprobes);
		SU_CHECK(code == SU_CODE_SYNC, "unexpected notify code %d",
			 code);
	}
}

void su_stats_sum(struct pn_runtime *rt, struct pn_shard_stats *sum)
{
	unsigned n = pn_runtime_nshards(rt);
	uint64_t *v = (uint64_t *)sum;

	memset(sum, 0, sizeof(*sum));
	for (unsigned i = 0; i < n; i++) {
		struct pn_shard_stats st = {0};
		uint64_t *w = (uint64_t *)&st;

		SU_CHECK(pn_runtime_stats(rt, i, &st) == 0, "stats %u", i);
		for (unsigned k = 0; k < sizeof(st) / sizeof(*w); k++)
			v[k] += w[k];
	}
}

void su_shutdown_totals(struct pn_runtime *rt, struct pn_runtime_totals *out)
{
	struct pn_shutdown_report r;
	uint64_t t0 = pn_now_ns();
	int err = pn_runtime_shutdown(rt, 10000000000ull, &r);
	const struct pn_runtime_totals *t = &r.totals;

	if (err != 0)
		su_fail("pn_runtime_shutdown returned %d after %.3f s:\n%s",
			err, su_secs(t0), r.text);
	/* Exact accounting: every message accepted was handled or
	 * dead-lettered, and shutdown left none in flight. */
	SU_CHECK(t->accepted == t->handled + t->dead_letters &&
			 t->in_flight == 0,
		 "after shutdown: accepted %" PRIu64 " != handled %" PRIu64
		 " + dead letters %" PRIu64 " (in flight %" PRIu64 ")",
		 t->accepted, t->handled, t->dead_letters, t->in_flight);
	if (out)
		*out = *t;
	su.rt = NULL;
	pn_runtime_destroy(rt);
}

void su_shutdown(struct pn_runtime *rt)
{
	su_shutdown_totals(rt, NULL);
}

void su_wait(struct pn_runtime *rt, int code, unsigned n, uint64_t stall_ns,
	     uint64_t limit_ns, uint64_t (*progress)(void *),
	     void (*report)(void *), void *arg, const char *what)
{
	uint64_t t0 = pn_now_ns(), changed = t0;
	uint64_t last = progress ? progress(arg) : 0;
	unsigned got = 0;

	while (got < n) {
		int c = 0;
		uint64_t now, p;

		if (pn_runtime_wait(rt, 250000000ull, &c) == 0) {
			SU_CHECK(c == code,
				 "%s: unexpected notify code %d (want %d)",
				 what, c, code);
			got++;
			continue;
		}
		now = pn_now_ns();
		p = progress ? progress(arg) : 0;
		if (p != last) {
			last = p;
			changed = now;
		}
		if (now - changed >= stall_ns || now - t0 >= limit_ns) {
			fprintf(stderr,
				"%s: %s: %s after %.1f s (%u of %u done, "
				"progress counter %" PRIu64 ")\n",
				su.name, what,
				now - changed >= stall_ns ? "no progress"
							  : "time limit",
				(double)(now - t0) / 1e9, got, n, p);
			if (report)
				report(arg);
			su_fail("%s: %s for %.1f s: a stranded message or a "
				"lost wake-up (see above for what is missing)",
				what,
				now - changed >= stall_ns ? "stalled"
							  : "did not finish",
				(double)(now - (now - changed >= stall_ns
							? changed
							: t0)) /
					1e9);
		}
	}
}
