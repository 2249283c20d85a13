// SPDX-License-Identifier: MIT
/*
 * pn_metrics_snapshot() as the one entry point (core/obs/metrics.c and the
 * features' snapshot hooks): a small workload of external sends, one
 * migration, a second round of sends that the old home forwards, and one
 * supervised child crashing and restarting. After each phase the runtime
 * is let go quiet and a snapshot is taken; its totals, each shard's
 * counters and migration counters and the supervision counters must equal
 * what the four single calls return, and their growth over the phase
 * must be what the phase did (counts derived from the workload).
 */
#include "harness.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_DATA	0x2001u /* counted by the sink */
#define T_CRASH 0x2002u /* the worker fails with -EIO */
#define NSEND	100	/* sends per round */
#define MAXSH	8

static _Atomic uint64_t sink_got;
static atomic_uint worker_inits;

static int sink_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	(void)ctx;
	(void)state;
	if (m->type == T_DATA)
		atomic_fetch_add_explicit(&sink_got, 1, memory_order_relaxed);
	return 0;
}

static const struct pn_behaviour sink_b = {
	.name = "snap-sink",
	.handle = sink_handle,
};

static int worker_init(struct pn_ctx *ctx, void *state, const void *arg,
		       size_t len)
{
	(void)ctx;
	(void)state;
	(void)arg;
	(void)len;
	atomic_fetch_add_explicit(&worker_inits, 1, memory_order_relaxed);
	return 0;
}

static int worker_handle(struct pn_ctx *ctx, void *state,
			 const struct pn_msg *m)
{
	(void)ctx;
	(void)state;
	return m->type == T_CRASH ? -EIO : 0;
}

static const struct pn_behaviour worker_b = {
	.name = "snap-worker",
	.init = worker_init,
	.handle = worker_handle,
};

static const struct pn_child_spec children[] = {{
	.id = "w",
	.b = &worker_b,
	.shard = 1,
	.restart = PN_RESTART_PERMANENT,
	.name = "snap-w",
}};

static const struct pn_sup_spec sup_spec = {
	.name = "snap-sup",
	.strategy = PN_ONE_FOR_ONE,
	.intensity = 3,
	.period_ns = 10 * H_SEC,
	.children = children,
	.nchildren = 1,
};

/* Supervision events: counted by the runtime; keep them off stderr. */
static void on_event(void *arg, const struct pn_event *ev)
{
	(void)arg;
	(void)ev;
}

/* --- what the single calls say ------------------------------------------ */

/* Everything the four single-value calls return, for every shard. */
struct singles {
	unsigned n;
	struct pn_runtime_totals tot;
	struct pn_shard_stats st[MAXSH];
	struct pn_migrate_stats mig[MAXSH];
	struct pn_supervision_stats sup;
};

static void singles_read(struct singles *s)
{
	memset(s, 0, sizeof(*s));
	s->n = pn_runtime_nshards(h_rt) + 1; /* and the supervisor shard */
	assert_true(s->n <= MAXSH);
	assert_int_equal(pn_runtime_totals(h_rt, &s->tot), 0);
	for (unsigned i = 0; i < s->n; i++) {
		assert_int_equal(pn_runtime_stats(h_rt, i, &s->st[i]), 0);
		assert_int_equal(pn_migrate_stats(h_rt, i, &s->mig[i]), 0);
	}
	assert_int_equal(pn_supervision_stats(h_rt, &s->sup), 0);
}

/* Quiet: nothing in flight, and nothing the single calls read moved over
 * a few milliseconds (a shard publishes its hot counters by the time it
 * parks). */
static bool quiet(void *arg)
{
	struct singles *prev = arg, now;
	uint64_t end = pn_now_ns() + 5 * H_MS;

	singles_read(prev);
	if (prev->tot.in_flight)
		return false;
	while (pn_now_ns() < end)
		sched_yield();
	singles_read(&now);
	return memcmp(prev, &now, sizeof(now)) == 0;
}

static void settle(struct singles *s)
{
	assert_true(h_until(quiet, s, H_WAIT));
}

/*
 * A snapshot of the quiet runtime: every part must equal its single call
 * (@s, read just before; the runtime is quiet, so nothing moved in
 * between, and the single calls are read again after to be sure).
 */
static struct pn_metrics *snap(struct singles *s)
{
	struct pn_metrics *m = NULL;
	struct singles after;

	settle(s);
	assert_int_equal(pn_metrics_snapshot(h_rt, &m), 0);
	singles_read(&after);
	assert_memory_equal(&after, s, sizeof(after));
	assert_int_equal(pn_metrics_nshards(m), s->n);
	assert_memory_equal(pn_metrics_totals(m), &s->tot, sizeof(s->tot));
	assert_memory_equal(pn_metrics_supervision(m), &s->sup, sizeof(s->sup));
	for (unsigned i = 0; i < s->n; i++) {
		const struct pn_shard_metrics *sh = pn_metrics_shard(m, i);

		assert_non_null(sh);
		assert_memory_equal(&sh->stats, &s->st[i], sizeof(sh->stats));
		assert_memory_equal(&sh->migrate, &s->mig[i],
				    sizeof(sh->migrate));
	}
	assert_null(pn_metrics_shard(m, s->n));
	return m;
}

/* Field @f's growth from @a to @b (snapshots). */
#define TOT(a, b, f) (pn_metrics_totals(b)->f - pn_metrics_totals(a)->f)
#define SUP(a, b, f)                                                           \
	(pn_metrics_supervision(b)->f - pn_metrics_supervision(a)->f)
#define MIG(a, b, i, f)                                                        \
	(pn_metrics_shard(b, i)->migrate.f - pn_metrics_shard(a, i)->migrate.f)
#define ST(a, b, i, f)                                                         \
	(pn_metrics_shard(b, i)->stats.f - pn_metrics_shard(a, i)->stats.f)

static bool got(void *arg)
{
	return atomic_load_explicit(&sink_got, memory_order_relaxed) ==
	       *(uint64_t *)arg;
}

static void send_round(pn_pid sink, uint64_t *want)
{
	for (int k = 0; k < NSEND; k++)
		h_send(sink, T_DATA, NULL, 0);
	*want += NSEND;
	assert_true(h_until(got, want, H_WAIT));
}

static bool moved(void *arg)
{
	unsigned shard = 99;

	return pn_where(h_rt, *(pn_pid *)arg, &shard) == 0 && shard == 1;
}

static bool restarted(void *arg)
{
	(void)arg;
	return atomic_load_explicit(&worker_inits, memory_order_relaxed) == 2;
}

/* A Prometheus line must be in @m's text exactly. */
static void prom_has(const struct pn_metrics *m, const char *line)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(pn_metrics_prom(m, f), 0);
	fclose(f);
	if (!strstr(buf, line))
		print_message("no \"%s\" in the Prometheus text\n", line);
	assert_non_null(strstr(buf, line));
	free(buf);
}

static void test_snapshot_everything(void **state)
{
	struct pn_config c;
	struct singles s;
	struct pn_metrics *m0, *m1, *m2, *m3;
	pn_pid sink, sup = PN_PID_NONE;
	uint64_t want = 0;
	char line[96];

	(void)state;
	atomic_store_explicit(&sink_got, 0, memory_order_relaxed);
	atomic_store_explicit(&worker_inits, 0, memory_order_relaxed);
	h_config(&c);
	c.on_event = on_event;
	h_start(&c);
	sink = h_spawn(&sink_b, 0, NULL, 0);
	assert_int_equal(pn_supervisor_start(h_rt, &sup_spec, H_WAIT, &sup), 0);
	m0 = snap(&s);

	/* Round 1: external sends to the sink on shard 0. Each is accepted
	 * (from the runtime's producer: injected), handled on shard 0. */
	assert_int_equal(pn_pid_shard(sink), 0);
	send_round(sink, &want);
	m1 = snap(&s);
	assert_int_equal(TOT(m0, m1, accepted), NSEND);
	assert_int_equal(TOT(m0, m1, injected), NSEND);
	assert_int_equal(TOT(m0, m1, handled), NSEND);
	assert_int_equal(TOT(m0, m1, dead_letters), 0);
	assert_int_equal(pn_metrics_totals(m1)->in_flight, 0);
	assert_int_equal(ST(m0, m1, 0, handled), NSEND);
	assert_int_equal(ST(m0, m1, 0, received_ext), NSEND);

	/* One migration (shard 0 to 1) and one supervised crash. */
	assert_int_equal(pn_runtime_migrate(h_rt, sink, 1), 0);
	assert_true(h_until(moved, &sink, H_WAIT));
	h_send(pn_name_lookup(h_rt, "snap-w"), T_CRASH, NULL, 0);
	assert_true(h_until(restarted, NULL, H_WAIT));
	m2 = snap(&s);
	for (unsigned i = 0; i < s.n; i++) {
		assert_int_equal(MIG(m1, m2, i, moves), i == 0);
		assert_int_equal(MIG(m1, m2, i, installs), i == 1);
		assert_int_equal(MIG(m1, m2, i, forwarded), 0);
		assert_int_equal(MIG(m1, m2, i, bounced), 0);
	}
	assert_int_equal(SUP(m1, m2, restarts), 1);
	assert_int_equal(SUP(m1, m2, escalations), 0);
	assert_int_equal(SUP(m1, m2, root_failures), 0);
	assert_int_equal(SUP(m1, m2, kills), 0);
	assert_int_equal(SUP(m1, m2, left_behind), 0);
	assert_int_equal(SUP(m1, m2, stalls), 0);
	assert_int_equal(pn_metrics_totals(m2)->in_flight, 0);

	/* Round 2: external sends still go to the sink's home (shard 0),
	 * which forwards each to shard 1, where it is handled. */
	send_round(sink, &want);
	m3 = snap(&s);
	assert_int_equal(TOT(m2, m3, accepted), NSEND);
	assert_int_equal(TOT(m2, m3, injected), NSEND);
	assert_int_equal(TOT(m2, m3, handled), NSEND);
	assert_int_equal(TOT(m2, m3, dead_letters), 0);
	for (unsigned i = 0; i < s.n; i++) {
		assert_int_equal(MIG(m2, m3, i, forwarded), i == 0 ? NSEND : 0);
		assert_int_equal(MIG(m2, m3, i, moves), 0);
		assert_int_equal(MIG(m2, m3, i, installs), 0);
	}
	assert_int_equal(SUP(m2, m3, restarts), 0);

	/* The text formats carry the new parts. */
	snprintf(line, sizeof(line),
		 "pinion_migrate_moves_total{shard=\"0\"} %llu\n",
		 (unsigned long long)pn_metrics_shard(m3, 0)->migrate.moves);
	prom_has(m3, line);
	snprintf(line, sizeof(line), "pinion_supervision_restarts_total %llu\n",
		 (unsigned long long)pn_metrics_supervision(m3)->restarts);
	prom_has(m3, line);
	snprintf(line, sizeof(line), "pinion_runtime_accepted_total %llu\n",
		 (unsigned long long)pn_metrics_totals(m3)->accepted);
	prom_has(m3, line);

	pn_metrics_free(m0);
	pn_metrics_free(m1);
	pn_metrics_free(m2);
	pn_metrics_free(m3);
	h_finish();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_snapshot_everything, h_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
