// SPDX-License-Identifier: MIT
/*
 * Metrics: the histogram, per-shard counters and time shares,
 * per-destination sends and ring high-water marks, sampled per-actor
 * statistics, registered counter sources, the snapshot taken while shards
 * run (also under TSan), its JSON and Prometheus forms, sampling turned
 * off, and the flight recorder's text. A pump on shard 0 streams N
 * messages to a sink on shard 1, which notifies when it has them all.
 */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_GO   0x2001u
#define T_ITEM 0x2002u
#define N      20000u

struct sink {
	uint64_t got;
};

static int sink_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct sink *s = state;

	if (m->type == T_ITEM && ++s->got == N)
		pn_runtime_notify(pn_ctx_runtime(ctx), 1);
	return 0;
}

static const struct pn_behaviour sink_b = {
	.name = "test.sink",
	.state_size = sizeof(struct sink),
	.handle = sink_handle,
};

struct pump {
	pn_pid to;
	uint64_t sent;
};

/* Sends in chunks (and to itself to go on), retrying after WRITABLE. */
static int pump_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct pump *p = state;

	if (m->type == T_GO)
		p->to = pn_msg_u64(m);
	if (m->type != T_GO && m->type != T_ITEM && m->type != PN_MSG_WRITABLE)
		return 0;
	for (unsigned k = 0; k < 256 && p->sent < N; k++) {
		int err = pn_send_u64(ctx, p->to, T_ITEM, p->sent);

		if (err == -EAGAIN)
			return pn_notify_writable(ctx);
		if (err < 0)
			return err;
		p->sent++;
	}
	if (p->sent < N)
		return pn_send_u64(ctx, pn_self(ctx), T_ITEM, 0);
	return 0;
}

static const struct pn_behaviour pump_b = {
	.name = "test.pump",
	.state_size = sizeof(struct pump),
	.handle = pump_handle,
};

/* A registered source: counts the times it was collected. */
static const char *const src_names[] = {"collects", "shard"};
static const unsigned char src_gauge[] = {0, 1};

static void src_collect(struct pn_ctx *ctx, void *arg, uint64_t *v)
{
	_Atomic uint64_t *calls = arg;

	v[0] = atomic_fetch_add(calls, 1) + 1;
	v[1] = pn_shard(ctx) + 100;
}

static _Atomic uint64_t src_calls;
static const struct pn_metrics_source src = {
	.name = "test",
	.n = 2,
	.names = src_names,
	.is_gauge = src_gauge,
	.collect = src_collect,
	.arg = &src_calls,
};

/* Start a runtime (sampling 1 in @sample), stream N messages 0 -> 1. */
static pn_pid stream(uint32_t sample, bool with_source)
{
	struct pn_config c;
	pn_pid sink, pump;
	int err;

	h_config(&c);
	c.metrics_sample = sample;
	err = pn_runtime_create(&c, &h_rt);
	assert_int_equal(err, 0);
	if (with_source) {
		struct pn_metrics_source twin = src;

		assert_int_equal(pn_metrics_source_register(h_rt, &src), 0);
		/* Once: again, or another by the same name, would double
		 * every series. */
		assert_int_equal(pn_metrics_source_register(h_rt, &src),
				 -EALREADY);
		assert_non_null(strstr(pn_last_error(), "registered already"));
		twin.arg = NULL;
		assert_int_equal(pn_metrics_source_register(h_rt, &twin),
				 -EALREADY);
	}
	assert_int_equal(pn_runtime_start(h_rt), 0);
	assert_int_equal(pn_metrics_source_register(h_rt, &src), -EBUSY);
	sink = h_spawn(&sink_b, 1, NULL, 0);
	pump = h_spawn(&pump_b, 0, NULL, 0);
	h_send(pump, T_GO, &sink, sizeof(sink));
	h_expect(1);
	return sink;
}

static const struct pn_actor_metrics *find_actor(const struct pn_metrics *m,
						 pn_pid pid)
{
	const struct pn_actor_metrics *a;
	unsigned n = pn_metrics_actors(m, &a);

	for (unsigned i = 0; i < n; i++)
		if (a[i].pid == pid)
			return &a[i];
	return NULL;
}

static void test_metrics_hist(void **state)
{
	struct pn_hist *h, *g, *x;

	(void)state;
	assert_int_equal(pn_hist_create(0, &h), -EINVAL);
	assert_int_equal(pn_hist_create(7, &h), 0);
	assert_int_equal(pn_hist_create(7, &g), 0);
	assert_int_equal(pn_hist_create(2, &x), 0);
	for (uint64_t v = 1; v <= 100000; v++)
		pn_hist_record(v % 2 ? h : g, v);
	assert_int_equal(pn_hist_merge(h, x), -EINVAL);
	assert_int_equal(pn_hist_merge(h, g), 0);
	assert_int_equal(pn_hist_count(h), 100000);
	assert_int_equal(pn_hist_min(h), 1);
	assert_int_equal(pn_hist_max(h), 100000);
	assert_int_equal(pn_hist_sum(h), 100000ull * 100001 / 2);
	/* Bounded relative error: within 1/128 of the true percentile. */
	assert_in_range(pn_hist_percentile(h, 50), 50000, 50000 + 50000 / 128);
	assert_in_range(pn_hist_percentile(h, 99), 99000, 99000 + 99000 / 128);
	assert_int_equal(pn_hist_percentile(h, 100), 100000);
	/* Powers of two are exact bucket edges. */
	assert_int_equal(pn_hist_count_below(h, 1024), 1023);
	assert_int_equal(pn_hist_count_below(h, 65536), 65535);
	pn_hist_record_n(x, 1000, 10);
	assert_int_equal(pn_hist_count(x), 10);
	assert_in_range(pn_hist_percentile(x, 50), 1000, 1000 + 1000 / 4);
	pn_hist_reset(h);
	assert_int_equal(pn_hist_count(h), 0);
	assert_int_equal(pn_hist_percentile(h, 50), 0);
	pn_hist_destroy(h);
	pn_hist_destroy(g);
	pn_hist_destroy(x);
}

static void test_metrics_counters(void **state)
{
	struct pn_metrics *m;
	const struct pn_shard_metrics *s0, *s1;
	const struct pn_actor_metrics *a;
	pn_pid sink;
	uint32_t hwm = 0;

	(void)state;
	sink = stream(64, true);
	assert_int_equal(pn_metrics_snapshot(h_rt, &m), 0);
	assert_int_equal(pn_metrics_nshards(m), 3);
	assert_null(pn_metrics_shard(m, 3));
	s0 = pn_metrics_shard(m, 0);
	s1 = pn_metrics_shard(m, 1);
	/* Counters are published once per turn: the last batch may lag. */
	assert_true(s0->sent_to[1] >= N - 256);
	assert_true(s1->handled_cross >= N - 256);
	assert_true(s0->handled_local > 0); /* the pump's own continues */
	assert_true(s0->handled_ext >= 1);  /* T_GO came from outside */
	for (unsigned k = 0; k < s1->nsources; k++)
		hwm = s1->ring_hwm[k] > hwm ? s1->ring_hwm[k] : hwm;
	assert_true(s1->ring_hwm[0] > 0 && s1->ring_hwm[0] == hwm);
	assert_true(s1->busy_ns + s1->spin_ns + s1->parked_ns > 0);
	/* At most one in 64 of the pump's sends was sampled at the sink
	 * (sends that take the general path, into a full ring's overflow
	 * queue, are not: under a sanitizer that can be most of them). */
	assert_true(s1->samples > 0 && s1->samples <= N / 64 + 1);
	assert_int_equal(pn_hist_count(s1->queue_ns), s1->samples);
	assert_int_equal(pn_hist_count(s1->handler_ns), s1->samples);
	a = find_actor(m, sink);
	assert_non_null(a);
	assert_string_equal(a->behaviour, "test.sink");
	assert_int_equal(a->shard, 1);
	assert_int_equal(a->messages_est, a->samples * 64);
	assert_true(a->queue_p99_ns > 0);
	/* The registered source was collected on every shard. */
	assert_int_equal(pn_metrics_ext_count(m), 2);
	assert_string_equal(pn_metrics_ext_name(m, 0, NULL), "test_collects");
	assert_true(s1->ext[0] > 0);
	assert_int_equal(s1->ext[1], 101);
	pn_metrics_free(m);
	h_finish();
}

static void test_metrics_sampling_off(void **state)
{
	struct pn_metrics *m;
	const struct pn_actor_metrics *a;

	(void)state;
	stream(0, false);
	assert_int_equal(pn_metrics_snapshot(h_rt, &m), 0);
	assert_int_equal(pn_metrics_shard(m, 1)->samples, 0);
	assert_int_equal(pn_metrics_actors(m, &a), 0);
	assert_true(pn_metrics_shard(m, 1)->handled_cross >= N - 256);
	pn_metrics_free(m);
	h_finish();
}

static char *render(const struct pn_metrics *m, bool json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(json ? pn_metrics_json(m, f) : pn_metrics_prom(m, f),
			 0);
	fclose(f);
	return buf;
}

static void test_metrics_formats(void **state)
{
	struct pn_metrics *m;
	char *js, *pr;

	(void)state;
	stream(64, true);
	assert_int_equal(pn_metrics_snapshot(h_rt, &m), 0);
	js = render(m, true);
	pr = render(m, false);
	assert_non_null(strstr(js, "{\"time_ns\":"));
	assert_non_null(strstr(js, "\"handled_cross\":"));
	assert_non_null(strstr(js, "\"behaviour\":\"test.sink\""));
	assert_non_null(strstr(js, "\"test_collects\":"));
	assert_non_null(strstr(js, "\"queue_ns\":{\"count\":"));
	assert_non_null(strstr(pr, "# TYPE pinion_messages_total counter\n"));
	assert_non_null(strstr(pr, "pinion_messages_total{shard=\"1\","
				   "kind=\"cross\"} "));
	assert_non_null(strstr(pr, "pinion_sent_total{shard=\"0\",to=\"1\"}"));
	assert_non_null(strstr(pr, "pinion_time_seconds_total{shard=\"1\","
				   "state=\"busy\"}"));
	assert_non_null(strstr(pr, "# TYPE pinion_queue_seconds histogram"));
	assert_non_null(strstr(pr, "pinion_queue_seconds_bucket{shard=\"1\","
				   "le=\"+Inf\"}"));
	/* Bucket edges and times in seconds, exact decimals: 256 ns. */
	assert_non_null(strstr(pr, "pinion_queue_seconds_bucket{shard=\"1\","
				   "le=\"0.000000256\"} "));
	assert_non_null(strstr(pr, "pinion_queue_seconds_sum{shard=\"1\"} 0."));
	/* Per-actor counts are integers, never %g's 1.2e+09. */
	{
		const char *c = strstr(pr, "pinion_actor_samples_total{");
		char *end;

		assert_non_null(c);
		c = strstr(c, "} ");
		assert_non_null(c);
		assert_true(strtoull(c + 2, &end, 10) > 0);
		assert_int_equal(*end, '\n');
	}
	assert_non_null(strstr(pr, "pinion_test_collects_total{shard=\"0\"}"));
	assert_non_null(strstr(pr, "# TYPE pinion_test_shard gauge"));
	assert_null(strstr(strstr(pr, "# TYPE pinion_test_shard gauge") + 1,
			   "# TYPE pinion_test_shard gauge"));
	assert_non_null(strstr(pr, "behaviour=\"test.sink\"} "));
	free(js);
	free(pr);
	pn_metrics_free(m);
	h_finish();
}

/* Snapshots from another thread while the shards stream (TSan's case). */
static void *snapper(void *arg)
{
	_Atomic bool *stop = arg;
	unsigned n = 0;

	while (!atomic_load(stop) || n < 3) {
		struct pn_metrics *m;

		if (pn_metrics_snapshot(h_rt, &m) == 0) {
			FILE *f = fopen("/dev/null", "w");

			pn_metrics_json(m, f);
			pn_metrics_prom(m, f);
			fclose(f);
			pn_metrics_free(m);
		}
		n++;
	}
	return NULL;
}

static void test_metrics_concurrent_snapshot(void **state)
{
	_Atomic bool stop = false;
	pthread_t t;
	struct pn_config c;
	pn_pid sink, pump;

	(void)state;
	h_config(&c);
	c.metrics_sample = 1; /* every message: the busiest table */
	h_start(&c);
	assert_int_equal(pthread_create(&t, NULL, snapper, &stop), 0);
	sink = h_spawn(&sink_b, 1, NULL, 0);
	pump = h_spawn(&pump_b, 0, NULL, 0);
	h_send(pump, T_GO, &sink, sizeof(sink));
	h_expect(1);
	atomic_store(&stop, true);
	pthread_join(t, NULL);
	h_finish();
}

/* flight.c (internal; tests link the static library). */
int pn__flight_text(const struct pn_ctx *s, unsigned last, char *buf,
		    size_t size);

static char flight[8192];

#define T_SNAP 0x2003u

/* On T_GO (payload: the sink, on this shard): a few local sends to it,
 * which are sampled (the stream's own may all have gone through overflow,
 * which is not, and the recorder's window may since be full of wake-ups),
 * then T_SNAP to itself, behind their dispatches: read the recorder. */
static int recorder_handle(struct pn_ctx *ctx, void *state,
			   const struct pn_msg *m)
{
	(void)state;
	if (m->type == T_GO) {
		for (int i = 0; i < 4; i++)
			if (pn_send_u64(ctx, pn_msg_u64(m), T_ITEM, 0) < 0)
				return -1;
		return pn_send(ctx, pn_self(ctx), T_SNAP, NULL, 0);
	}
	if (m->type == T_SNAP) {
		pn__flight_text(ctx, 64, flight, sizeof(flight));
		pn_runtime_notify(pn_ctx_runtime(ctx), 2);
	}
	return 0;
}

static const struct pn_behaviour recorder_b = {
	.name = "test.recorder",
	.handle = recorder_handle,
};

static void test_metrics_flight(void **state)
{
	pn_pid sink, rec;

	(void)state;
	sink = stream(1, false);
	rec = h_spawn(&recorder_b, 1, NULL, 0);
	/* A dead letter on shard 1: a PID of its slot's next generation. */
	h_send(sink + 1, T_ITEM, NULL, 0);
	h_send(rec, T_GO, &sink, sizeof(sink));
	h_expect(2);
	assert_non_null(strstr(flight, "pinion:     -"));
	assert_non_null(strstr(flight, " spawn actor "));
	assert_non_null(strstr(flight, " dispatch actor "));
	assert_non_null(strstr(flight, " dead-letter actor "));
	h_finish();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics_hist),
		cmocka_unit_test_teardown(test_metrics_counters, h_teardown),
		cmocka_unit_test_teardown(test_metrics_sampling_off,
					  h_teardown),
		cmocka_unit_test_teardown(test_metrics_formats, h_teardown),
		cmocka_unit_test_teardown(test_metrics_concurrent_snapshot,
					  h_teardown),
		cmocka_unit_test_teardown(test_metrics_flight, h_teardown),
	};

	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
