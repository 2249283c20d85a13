// SPDX-License-Identifier: MIT
/*
 * Topics (core/topic/, pn_topic.h): slow subscribers. A subscriber's shard
 * is held by a handler that spins on tf_release (bounded by H_WAIT), set
 * by the test when it has checked the state; nothing waits on time.
 *  - BACKPRESSURE: -EAGAIN once max_lag is reached (from the home, from
 *    another shard, from outside: -EAGAIN / -ETIMEDOUT), nothing numbered;
 *    PN_MSG_TOPIC_WRITABLE only after the lag went down; no loss, no gap.
 *  - DROP_OLDEST: publishing never refused; the newest max_lag arrive;
 *    seq jumps equal the reported gaps, which add up to the dropped count.
 *  - CONFLATE: the latest value of every key survives; jumps equal gap +
 *    conflated, with the counters.
 *  - DISCONNECT: PN_MSG_TOPIC_CLOSED -ENOBUFS, nothing after it; the actor
 *    can subscribe again.
 *  - Memory: with tiny rings and thousands of large publishes, the
 *    topic's lag and the home shard's overflow stay within max_lag.
 *  - Shutdown with topic traffic in flight: the report's accounting holds.
 */
#include "topic_fix.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define EXT_PUB 60

static struct tf_rec R[12];
static struct pn_config cfg;

static int setup(void **state)
{
	(void)state;
	for (int i = 0; i < 12; i++)
		tf_init(&R[i], i);
	atomic_store(&tf_release, false);
	tf_config(&cfg);
	return 0;
}

/* Hold @x's shard: its handler spins until release(). */
static void hold(struct tf_rec *x)
{
	atomic_store(&tf_release, false);
	tf_send(x, (struct tf_cmd){.op = TF_BLOCK});
	tf_wait_blocking(x);
}

static void release(struct tf_rec *x)
{
	unsigned k = atomic_load(&x->nrc);

	atomic_store(&tf_release, true);
	assert_int_equal(tf_result(x, k), 0);
	assert_false(atomic_load(&x->block_timeout));
	atomic_store(&tf_release, false);
}

static void with_policy(struct tf_rec *r, enum pn_topic_policy p)
{
	r->opts[0] = (struct pn_topic_sub_opts){.policy = p};
}

/* --- BACKPRESSURE --------------------------------------------------------- */

struct ext_arg {
	uint32_t id;
	unsigned n;
	int err;
	_Atomic bool started;
};

static void *ext_main(void *arg)
{
	struct ext_arg *a = arg;
	struct pn_producer *p;
	unsigned char buf[32];

	a->err = pn_producer_create(h_rt, &p);
	atomic_store(&a->started, true);
	if (a->err)
		return NULL;
	for (uint32_t i = 0; i < a->n && !a->err; i++) {
		tf_payload(buf, 16, EXT_PUB, i, i);
		a->err = pn_topic_publish_ext(p, a->id, TF_APP, i, buf, 16,
					      H_WAIT);
	}
	pn_producer_destroy(p);
	return NULL;
}

struct lag_watch {
	struct tf_rec *s[2];
	uint32_t id;
	uint64_t max_lag, worst;
};

/* Done when both streams ended; meanwhile the lag is sampled. */
static bool streams_done(void *arg)
{
	struct lag_watch *w = arg;
	struct pn_topic_stats st;

	if (pn_topic_stats(h_rt, w->id, &st) == 0 && st.max_lag > w->worst)
		w->worst = st.max_lag;
	return atomic_load(&w->s[0]->stream_done) &&
	       atomic_load(&w->s[1]->stream_done);
}

static void test_backpressure(void **state)
{
	enum { M = 8 };
	struct tf_rec *S = &R[0], *X = &R[1], *P = &R[2], *Q = &R[3];
	struct ext_arg ea = {.n = 50};
	struct pn_producer *prod;
	struct pn_topic_stats st;
	struct lag_watch w;
	unsigned char buf[32] = {0};
	uint64_t t0, total;
	pthread_t th;
	uint32_t id;
	int err;

	(void)state;
	h_start(&cfg);
	id = tf_open("bp", 0, M);
	tf_spawn(S, 1);
	tf_spawn(X, 1);
	tf_spawn(P, 0);			  /* on the home */
	tf_spawn(Q, PN_SHARD_SUPERVISOR); /* elsewhere */
	assert_int_equal(tf_sub(S, id, 0, NULL), 0);
	hold(X);
	assert_int_equal(tf_pub(P, id, 100, 16), -EAGAIN);
	assert_int_equal(atomic_load(&P->published), M);
	st = tf_stats(id);
	assert_int_equal(st.seq, M);
	assert_int_equal(st.refused, 1);
	assert_int_equal(st.max_lag, M);
	assert_int_equal(tf_pub(P, id, 1, 16), -EAGAIN);
	assert_int_equal(tf_stats(id).refused, 2);
	/* From another shard: at most max_lag wait at the home. */
	assert_int_equal(tf_pub(Q, id, 100, 16), -EAGAIN);
	assert_true(atomic_load(&Q->published) <= M);
	/* From outside: refused at once, or after the timeout. */
	assert_int_equal(pn_producer_create(h_rt, &prod), 0);
	err = pn_topic_publish_ext(prod, id, TF_APP, 0, buf, 8, 0);
	assert_true(err == -EAGAIN || err == -ETIMEDOUT);
	t0 = pn_now_ns();
	err = pn_topic_publish_ext(prod, id, TF_APP, 0, buf, 8, 20 * H_MS);
	assert_true(err == -ETIMEDOUT || err == -EAGAIN);
	assert_true(pn_now_ns() - t0 >= 20 * H_MS);
	pn_producer_destroy(prod);
	/* One that waits without limit, woken once there is room. */
	ea.id = id;
	assert_int_equal(pthread_create(&th, NULL, ext_main, &ea), 0);
	/* WRITABLE is asked for; it must not come while the shard is held. */
	assert_int_equal(
		tf_do(P, (struct tf_cmd){.op = TF_WRITABLE, .topic = id}), 0);
	assert_int_equal(
		tf_do(Q, (struct tf_cmd){.op = TF_WRITABLE, .topic = id}), 0);
	assert_int_equal(tf_do(P, (struct tf_cmd){.op = TF_NOP}), 0);
	assert_int_equal(tf_count(P, TF_K_WRITABLE, id, 0), 0);
	assert_true(tf_stats(id).max_lag <= M);
	release(X);
	tf_wait_kind(P, TF_K_WRITABLE, id);
	tf_wait_kind(Q, TF_K_WRITABLE, id);
	/* Streams that stop at -EAGAIN and resume on WRITABLE. */
	assert_int_equal(tf_do(P, (struct tf_cmd){.op = TF_STREAM,
						  .topic = id,
						  .n = 300,
						  .len = 16,
						  .burst = 16}),
			 0);
	assert_int_equal(tf_do(Q, (struct tf_cmd){.op = TF_STREAM,
						  .topic = id,
						  .n = 100,
						  .len = 40,
						  .burst = 8}),
			 0);
	w = (struct lag_watch){.s = {P, Q}, .id = id};
	tf_until(streams_done, &w, "the publishers' streams");
	pthread_join(th, NULL);
	assert_int_equal(ea.err, 0);
	assert_int_equal(atomic_load(&P->pub_err), 0);
	assert_int_equal(atomic_load(&Q->pub_err), 0);
	total = atomic_load(&P->published) + atomic_load(&Q->published) + ea.n;
	tf_wait_seq(id, total);
	tf_wait_last(S, id, total);
	st = tf_stats(id);
	if (w.worst > M)
		print_message("lag %" PRIu64 " over max_lag %d\n", w.worst, M);
	assert_true(w.worst <= M);
	assert_int_equal(st.dropped + st.conflated + st.disconnects, 0);
	assert_true(st.refused >=
		    atomic_load(&P->eagain) + atomic_load(&Q->eagain));
	h_finish();
	for (int i = 0; i < 4; i++)
		tf_assert_clean(&R[i]);
	tf_assert_window(S, id, 0, 0, total); /* no loss, no gap */
}

/* --- DROP_OLDEST and CONFLATE ----------------------------------------------
 */

/* @r's deliveries of @id: strictly increasing, each jump = gap +
 * conflated, payload counter = seq - 1 (one publisher, from 0). Returns
 * how many; the sums of gap and conflated in *gaps, *confl. */
static unsigned lossy_check(const struct tf_rec *r, uint32_t id, uint64_t *gaps,
			    uint64_t *confl)
{
	unsigned n = atomic_load(&r->nlog), got = 0;
	uint64_t prev = 0;

	*gaps = *confl = 0;
	for (unsigned i = 0; i < n; i++) {
		const struct tf_ent *e = &r->log[i];

		if (e->kind != TF_K_DLV || e->topic != id)
			continue;
		if (e->seq - prev - 1 != (uint64_t)e->gap + e->conflated)
			print_message("actor %d: seq %" PRIu64 " after %" PRIu64
				      ": gap %u conflated %u\n",
				      r->id, e->seq, prev, e->gap,
				      e->conflated);
		assert_true(e->seq > prev);
		assert_int_equal(e->seq - prev - 1,
				 (uint64_t)e->gap + e->conflated);
		assert_int_equal(e->cnt, e->seq - 1);
		assert_true(e->ok);
		*gaps += e->gap;
		*confl += e->conflated;
		prev = e->seq;
		got++;
	}
	return got;
}

static bool has_seq(const struct tf_rec *r, uint32_t id, uint64_t seq)
{
	unsigned n = atomic_load(&r->nlog);

	for (unsigned i = 0; i < n; i++)
		if (r->log[i].kind == TF_K_DLV && r->log[i].topic == id &&
		    r->log[i].seq == seq)
			return true;
	return false;
}

/* Subscriber @S with policy @pol on shard 1, its shard held by @X, and
 * publisher @P on shard 0, the home of a new topic @name (max_lag @lag),
 * on a runtime started with @c. Returns the topic. */
static uint32_t held_channel(struct tf_rec *S, struct tf_rec *X,
			     struct tf_rec *P, enum pn_topic_policy pol,
			     const struct pn_config *c, const char *name,
			     uint32_t lag)
{
	uint32_t id;

	with_policy(S, pol);
	h_start(c);
	id = tf_open(name, 0, lag);
	tf_spawn(S, 1);
	tf_spawn(X, 1);
	tf_spawn(P, 0);
	assert_int_equal(tf_sub(S, id, 0, NULL), 0);
	hold(X);
	return id;
}

static void test_drop_oldest(void **state)
{
	enum { M = 8, N = 1000, LEN = 512 };
	struct tf_rec *D = &R[0], *X = &R[1], *P = &R[2];
	struct pn_shard_stats b0, b1;
	struct pn_topic_stats st;
	uint64_t gaps, confl;
	unsigned got;
	uint32_t id;

	(void)state;
	id = held_channel(D, X, P, PN_TOPIC_DROP_OLDEST, &cfg, "drop", M);
	b0 = h_stats(0);
	assert_int_equal(tf_pub(P, id, N, LEN), 0); /* never refused */
	assert_int_equal(tf_do(P, (struct tf_cmd){.op = TF_NOP}), 0);
	b1 = h_stats(0);
	st = tf_stats(id);
	tf_print_stats("drop, held", &st);
	assert_int_equal(st.seq, N);
	assert_int_equal(st.refused, 0);
	assert_true(st.max_lag <= M);
	/* At most M in flight and M waiting: the rest dropped. */
	assert_true(st.dropped >= N - 2 * M && st.dropped <= N - M);
	assert_true(b1.overflow_bytes <= 2 * M * (64 + LEN + 64) + 4096);
	assert_true(b1.overflowed - b0.overflowed <= M);
	release(X);
	tf_wait_last(D, id, N);
	st = tf_stats(id);
	h_finish();
	tf_assert_clean(D);
	got = lossy_check(D, id, &gaps, &confl);
	assert_true(got >= M && got <= 2 * M);
	for (uint64_t s = N - M + 1; s <= N; s++) /* the newest M */
		assert_true(has_seq(D, id, s));
	assert_int_equal(confl, 0);
	assert_int_equal(gaps, N - got);
	assert_int_equal(st.dropped, gaps);
}

/* held_channel() with a CONFLATE subscriber @C, and @P publishes @pub
 * (16-byte payloads) while @C's shard is held. Returns the topic. */
static uint32_t held_conflate(struct tf_rec *C, struct tf_rec *X,
			      struct tf_rec *P, const char *name, uint32_t lag,
			      struct tf_cmd pub)
{
	uint32_t id = held_channel(C, X, P, PN_TOPIC_CONFLATE, &cfg, name, lag);

	pub.op = TF_PUB;
	pub.topic = id;
	pub.len = 16;
	assert_int_equal(tf_do(P, pub), 0);
	return id;
}

static void conflate(unsigned nkeys)
{
	enum { M = 8, N = 200 };
	struct tf_rec *C = &R[0], *X = &R[1], *P = &R[2];
	struct pn_topic_stats st;
	uint64_t gaps, confl;
	unsigned got, n;
	uint32_t id;

	id = held_conflate(
		C, X, P, "conflate", M,
		(struct tf_cmd){.n = N, .keymode = TF_KEY_MOD, .key = nkeys});
	st = tf_stats(id);
	tf_print_stats("conflate, held", &st);
	assert_int_equal(st.seq, N);
	assert_int_equal(st.refused, 0);
	assert_true(st.max_lag <= M);
	if (nkeys <= M) { /* every key has room: replaced, none dropped */
		assert_true(st.conflated > 0);
		assert_int_equal(st.dropped, 0);
	} else { /* the newest M have M different keys: none replaced */
		assert_int_equal(st.conflated, 0);
		assert_true(st.dropped > 0);
	}
	release(X);
	tf_wait_last(C, id, N);
	st = tf_stats(id);
	h_finish();
	tf_assert_clean(C);
	got = lossy_check(C, id, &gaps, &confl);
	assert_int_equal(gaps + confl, N - got);
	assert_int_equal(st.conflated, confl);
	assert_int_equal(st.dropped, gaps);
	assert_true(got <= M + (nkeys < M ? nkeys : M));
	/* The latest value of every key that survived at all is there; with
	 * at most M keys, every key survived. */
	n = atomic_load(&C->nlog);
	for (uint64_t k = 0; k < nkeys; k++) {
		uint64_t last = N - nkeys + k + 1; /* its newest seq */
		bool seen = false;

		for (unsigned i = 0; i < n; i++) {
			const struct tf_ent *e = &C->log[i];

			if (e->kind == TF_K_DLV && e->key == k) {
				assert_int_equal(e->key, e->cnt % nkeys);
				seen = true;
			}
		}
		if (nkeys <= M || N - last < M)
			assert_true(seen && has_seq(C, id, last));
	}
	if (nkeys <= M)
		assert_int_equal(gaps, 0);
}

static void test_conflate_few_keys(void **state)
{
	(void)state;
	conflate(4);
}

static void test_conflate_many_keys(void **state)
{
	(void)state;
	conflate(20);
}

/* Where a replaced message's count goes: M in flight, then keys 0, 1, 0
 * wait at the home; the second 0 replaces the first (seq M + 1), so the
 * next delivery after M, seq M + 2 (key 1), is the one whose jump holds
 * it: conflated 1 there, 0 on seq M + 3. */
static void test_conflate_accounting(void **state)
{
	enum { M = 8 };
	static const uint64_t keys[3] = {0, 1, 0};
	struct tf_rec *C = &R[0], *X = &R[1], *P = &R[2];
	uint64_t gaps, confl;
	uint32_t id;

	(void)state;
	id = held_conflate(
		C, X, P, "conflate-acct", M,
		(struct tf_cmd){.n = M, .keymode = TF_KEY_FIXED, .key = 100});
	for (int i = 0; i < 3; i++)
		assert_int_equal(
			tf_do(P, (struct tf_cmd){.op = TF_PUB,
						 .topic = id,
						 .n = 1,
						 .len = 16,
						 .keymode = TF_KEY_FIXED,
						 .key = keys[i]}),
			0);
	assert_int_equal(tf_stats(id).conflated, 1);
	release(X);
	tf_wait_last(C, id, M + 3);
	h_finish();
	tf_assert_clean(C);
	assert_int_equal(lossy_check(C, id, &gaps, &confl), M + 2);
	assert_int_equal(gaps, 0);
	assert_int_equal(confl, 1);
	assert_false(has_seq(C, id, M + 1));
}

/* --- DISCONNECT --------------------------------------------------------------
 */

static void test_disconnect(void **state)
{
	enum { M = 8, N = 100 };
	struct tf_rec *S = &R[0], *X = &R[1], *P = &R[2];
	struct pn_topic_stats st;
	uint64_t s;
	uint32_t id;
	int at;

	(void)state;
	id = held_channel(S, X, P, PN_TOPIC_DISCONNECT, &cfg, "disc", M);
	assert_int_equal(tf_pub(P, id, N, 16), 0); /* never refused */
	st = tf_stats(id);
	assert_int_equal(st.seq, N);
	assert_int_equal(st.refused, 0);
	assert_true(st.max_lag <= M);
	release(X);
	at = tf_wait_kind(S, TF_K_CLOSED, id);
	tf_wait_subscribers(id, 0);
	st = tf_stats(id);
	tf_print_stats("disconnected", &st);
	assert_int_equal(st.disconnects, 1);
	assert_int_equal(S->log[at].reason, -ENOBUFS);
	assert_int_equal(S->log[at].topic, id);
	assert_true(tf_count(S, TF_K_DLV, id, 0) <= M);
	if (tf_last(S, id))
		assert_true(S->log[at].seq >= tf_last(S, id)->seq);
	assert_true(S->log[at].seq <= N);
	/* It may subscribe again. */
	assert_int_equal(tf_sub(S, id, 0, &s), 0);
	assert_int_equal(s, N);
	assert_int_equal(tf_pub(P, id, 5, 16), 0);
	tf_wait_last(S, id, N + 5);
	assert_int_equal(tf_stats(id).disconnects, 1);
	h_finish();
	tf_assert_clean(S);
	assert_int_equal(tf_count(S, TF_K_CLOSED, id, 0), 1);
	/* Before the cut: from 1, no gap; nothing between it and the new
	 * subscription (the actor checks); then N + 1 .. N + 5. */
	tf_assert_window(S, id, 0, 0, 0);
	tf_assert_window(S, id, (unsigned)at + 1, N, N + 5);
}

/* --- bounded memory
 * ------------------------------------------------------------ */

static void bounded(enum pn_topic_policy pol)
{
	enum { M = 64, N = 5000, LEN = 512 };
	struct tf_rec *S = &R[0], *X = &R[1], *P = &R[2];
	struct pn_shard_stats b0, b1;
	struct pn_topic_stats st;
	struct pn_config c;
	uint32_t id;
	int rc;

	tf_init(S, 0);
	tf_init(X, 1);
	tf_init(P, 2);
	tf_config(&c);
	c.ring_slots = 8; /* the slots in flight spill into overflow */
	id = held_channel(S, X, P, pol, &c, "bounded", M);
	b0 = h_stats(0);
	rc = tf_pub(P, id, N, LEN);
	assert_int_equal(tf_do(P, (struct tf_cmd){.op = TF_NOP}), 0);
	b1 = h_stats(0);
	st = tf_stats(id);
	print_message("policy %d: %u published, lag %" PRIu64 ", overflow "
		      "%" PRIu64 " bytes, %" PRIu64 " overflowed sends\n",
		      pol, atomic_load(&P->published), st.max_lag,
		      b1.overflow_bytes, b1.overflowed - b0.overflowed);
	assert_int_equal(rc, pol == PN_TOPIC_BACKPRESSURE ? -EAGAIN : 0);
	assert_int_equal(atomic_load(&P->published),
			 pol == PN_TOPIC_BACKPRESSURE ? M : N);
	assert_true(st.max_lag <= M);
	assert_true(b1.overflow_bytes <= 2 * M * (64 + LEN + 64) + 4096);
	assert_true(b1.overflowed - b0.overflowed <= M);
	release(X);
	if (pol == PN_TOPIC_DISCONNECT)
		tf_wait_kind(S, TF_K_CLOSED, id);
	else
		tf_wait_last(S, id, atomic_load(&P->published));
	h_finish();
	tf_assert_clean(S);
	if (pol == PN_TOPIC_BACKPRESSURE)
		tf_assert_window(S, id, 0, 0, M);
}

static void test_bounded_memory(void **state)
{
	(void)state;
	for (int pol = 0; pol < PN_TOPIC_NPOLICIES; pol++)
		bounded((enum pn_topic_policy)pol);
}

/* --- shutdown with traffic in flight
 * ------------------------------------------- */

struct ext_loop {
	uint32_t id[2];
	_Atomic uint64_t accepted[2];
	int last_err;
	char why[160];
};

static void *ext_loop_main(void *arg)
{
	struct ext_loop *a = arg;
	struct pn_producer *p;
	unsigned char buf[40];
	int err = pn_producer_create(h_rt, &p);

	if (err) { /* shutdown may have begun already */
		a->last_err = err == -ESHUTDOWN ? 0 : err;
		return NULL;
	}
	for (uint32_t i = 0; i < 3000; i++) {
		unsigned t = i % 2;

		tf_payload(buf, 40, EXT_PUB, i / 2, i);
		err = pn_topic_publish_ext(p, a->id[t], TF_APP, i, buf, 40,
					   H_MS);
		if (err == -ESHUTDOWN)
			break;
		if (err == 0)
			atomic_fetch_add(&a->accepted[t], 1);
		else if (err != -ETIMEDOUT && err != -EAGAIN && !a->last_err)
			snprintf(a->why, sizeof(a->why), "%d (%s)",
				 a->last_err = err, pn_last_error());
	}
	pn_producer_destroy(p);
	return NULL;
}

static void shutdown_traffic(bool stubborn)
{
	static const int pol[5] = {PN_TOPIC_BACKPRESSURE, PN_TOPIC_BACKPRESSURE,
				   PN_TOPIC_DROP_OLDEST, PN_TOPIC_CONFLATE,
				   PN_TOPIC_DISCONNECT};
	int where[3] = {0, 1, PN_SHARD_SUPERVISOR};
	struct tf_rec *S = &R[0], *P = &R[5];
	struct ext_loop ea = {0};
	struct pn_shutdown_report rep;
	struct pn_config c;
	const struct pn_runtime_totals *t = &rep.totals;
	uint64_t start[5][2];
	pthread_t th;
	int err;

	tf_config(&c);
	if (stubborn) /* cut short: it leaves work (and maybe actors) */
		c.stage_ns[PN_STAGE_DRAIN] = 50 * H_MS;
	for (int i = 0; i < 8; i++)
		tf_init(&R[i], i);
	for (int i = 0; i < 5; i++)
		R[i].opts[0] = (struct pn_topic_sub_opts){
			.policy = (enum pn_topic_policy)pol[i]};
	h_start(&c);
	ea.id[0] = tf_open("sd0", 0, 0);
	ea.id[1] = tf_open("sd1", 1, 16);
	for (int i = 0; i < 5; i++) {
		tf_spawn(&S[i], i % 2);
		for (int k = 0; k < 2; k++)
			assert_int_equal(
				tf_sub(&S[i], ea.id[k], 0, &start[i][k]), 0);
	}
	for (int i = 0; i < 3; i++) {
		P[i].keep_on_shutdown = stubborn;
		tf_spawn(&P[i], where[i]);
		assert_int_equal(
			tf_do(&P[i],
			      (struct tf_cmd){.op = TF_STREAM,
					      .topic = ea.id[i % 2],
					      .n = 1000000,
					      .len = 16 + 200 * (i == 2),
					      .burst = 2,
					      .v = stubborn ? 0 : 200000}),
			0);
	}
	tf_wait_ndel(&S[0], 100);
	assert_int_equal(pthread_create(&th, NULL, ext_loop_main, &ea), 0);
	for (int i = 0; i < 3; i++) /* a burst in flight */
		tf_send(&P[i], (struct tf_cmd){.op = TF_PUB,
					       .topic = ea.id[(i + 1) % 2],
					       .n = 300,
					       .len = 40});
	err = pn_runtime_shutdown(h_rt, H_WAIT, &rep);
	pthread_join(th, NULL);
	if (err || rep.text[0])
		print_message("shutdown: %d\n%s", err, rep.text);
	if (!stubborn) {
		assert_int_equal(err, 0);
		assert_string_equal(rep.text, "");
		assert_int_equal(rep.actors_left, 0);
	}
	assert_int_equal(rep.shards_abandoned, 0);
	if (t->accepted != t->handled + t->dead_letters || t->in_flight)
		print_message("accepted %" PRIu64 " handled %" PRIu64
			      " dead %" PRIu64 " in flight %" PRIu64 "\n",
			      t->accepted, t->handled, t->dead_letters,
			      t->in_flight);
	assert_int_equal(t->accepted, t->handled + t->dead_letters);
	assert_int_equal(t->in_flight, 0);
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
	if (ea.last_err)
		print_message("pn_topic_publish_ext: %s\n", ea.why);
	assert_int_equal(ea.last_err, 0);
	for (int i = 0; i < 5; i++) {
		if (atomic_load(&S[i].bad))
			print_message("actor %d (policy %d): %s\n", i, pol[i],
				      S[i].why);
		assert_int_equal(atomic_load(&S[i].bad), 0);
		if (!stubborn)
			assert_int_equal(atomic_load(&S[i].overflow), 0);
	}
	/* The lossless ones: no gap from their start; without a stubborn
	 * publisher, everything published was delivered before they
	 * stopped (the drain waits for what waits at a topic's home). */
	for (int k = 0; k < 2; k++) {
		uint64_t total = atomic_load(&ea.accepted[k]);

		for (int j = 0; j < 3; j++)
			total += tf_published(&P[j], ea.id[k]);
		for (int i = 0; i < 2; i++)
			tf_assert_window(&S[i], ea.id[k], 0, start[i][k],
					 stubborn ? 0 : total);
	}
}

static void test_shutdown_in_flight(void **state)
{
	(void)state;
	shutdown_traffic(false);
}

static void test_shutdown_stubborn_publishers(void **state)
{
	(void)state;
	shutdown_traffic(true);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, tf_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_backpressure),
		T(test_drop_oldest),
		T(test_conflate_few_keys),
		T(test_conflate_many_keys),
		T(test_conflate_accounting),
		T(test_disconnect),
		T(test_bounded_memory),
		T(test_shutdown_in_flight),
		T(test_shutdown_stubborn_publishers),
	};

	return cmocka_run_group_tests_name("topic_policy", tests, NULL, NULL);
}
