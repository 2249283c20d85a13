// SPDX-License-Identifier: MIT
/*
 * Topics (core/topic/, pn_topic.h): a subscription's life. Unsubscribe on
 * the home shard and elsewhere (nothing after it, a new start on the next
 * subscribe); the runtime's unsubscribe when a subscriber stops, is killed
 * or crashes (and nothing for a newer actor in its slot); closing a topic
 * under its subscribers (each gets what was accepted, from the home, from
 * another shard and from outside, then PN_MSG_TOPIC_CLOSED reason 0
 * exactly once; the id goes stale, the name opens again); the counters,
 * one ring slot per message for 8 subscribers on one shard; and moving
 * subscribers (pn_migrate, pn_migrate_pid, pn_runtime_migrate): deliveries
 * follow them in order across every shard and back home, and an actor away
 * from home subscribes through its home (1, then PN_MSG_TOPIC_SUBSCRIBED).
 */
#include "topic_fix.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define EXT_PUB 60

static struct tf_rec R[12];

static int setup(void **state)
{
	(void)state;
	for (int i = 0; i < 12; i++)
		tf_init(&R[i], i);
	atomic_store(&tf_release, false);
	return 0;
}

/* A stream from @r: one message each @period_ns, ended by the test. */
static void stream(struct tf_rec *r, uint32_t id, uint64_t period_ns)
{
	assert_int_equal(tf_do(r, (struct tf_cmd){.op = TF_STREAM,
						  .topic = id,
						  .n = 1000000,
						  .len = 16,
						  .burst = 1,
						  .v = period_ns}),
			 0);
}

/* End the streams of @n actors; the topic's final seq (all of theirs,
 * plus @extra published otherwise). */
static uint64_t end_streams(struct tf_rec **s, unsigned n, uint32_t id,
			    uint64_t extra)
{
	uint64_t total = extra;

	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(
			tf_do(s[i], (struct tf_cmd){.op = TF_STREAM_END}), 0);
		assert_int_equal(atomic_load(&s[i]->pub_err), 0);
		total += atomic_load(&s[i]->published);
	}
	tf_wait_seq(id, total);
	return total;
}

static unsigned ndel_of(const struct tf_rec *r, uint32_t topic)
{
	return tf_count(r, TF_K_DLV, topic, 0);
}

/* --- unsubscribe ---------------------------------------------------------- */

/* Two windows each: subscribe, 5 deliveries, unsubscribe (nothing after
 * it), 30 to the sentinel Z meanwhile; A in their handlers (on the home
 * and elsewhere), U from outside (pn_topic_subscribe_pid and
 * pn_topic_unsubscribe_pid). */
static void test_unsubscribe(void **state)
{
	struct tf_rec *A[4] = {&R[0], &R[1], &R[4], &R[5]}, *Z = &R[2];
	struct tf_rec *bg = &R[3], *D = &R[6], *E = &R[7];
	unsigned from[4][2], to[4] = {0}, base;
	uint64_t start[4][2], zs, final, sum;
	uint32_t id;

	(void)state;
	h_start(NULL);
	id = tf_open("unsub", 0, 0);
	for (int i = 0; i < 4; i++)
		tf_spawn(A[i], i % 2); /* on the topic's home and elsewhere */
	tf_spawn(Z, 1);
	tf_spawn(bg, 0);
	tf_spawn(D, 1);
	tf_spawn(E, 0);
	for (int i = 2; i < 4; i++)
		assert_int_equal(tf_do(A[i], (struct tf_cmd){.op = TF_EXPECT,
							     .topic = id}),
				 0);
	assert_int_equal(tf_sub(Z, id, 0, &zs), 0);
	stream(bg, id, 200000);
	for (int w = 0; w < 2; w++) {
		for (int i = 0; i < 4; i++) {
			from[i][w] = atomic_load(&A[i]->nlog);
			atomic_store(&A[i]->gone, 0);
			if (i < 2)
				assert_int_equal(
					tf_sub(A[i], id, 0, &start[i][w]), 0);
			else
				assert_int_equal(pn_topic_subscribe_pid(
							 h_rt, id, A[i]->self,
							 NULL, &start[i][w]),
						 0);
		}
		for (int i = 0; i < 4; i++)
			tf_wait_ndel(A[i], atomic_load(&A[i]->ndel) + 5);
		if (w == 1)
			break;
		/* Nothing after this returns (the actors check). */
		for (int i = 0; i < 4; i++) {
			if (i < 2) {
				assert_int_equal(tf_unsub(A[i], id), 0);
				continue;
			}
			assert_int_equal(
				pn_topic_unsubscribe_pid(h_rt, id, A[i]->self),
				0);
			atomic_store(&A[i]->gone, id + 1);
			to[i] = atomic_load(&A[i]->nlog);
		}
		base = atomic_load(&Z->ndel);
		tf_wait_ndel(Z, base + 30);
	}
	/* unsubscribe_pid's errors (E is not subscribed). */
	assert_int_equal(pn_topic_unsubscribe_pid(h_rt, id, E->self), -ENOENT);
	assert_int_equal(pn_topic_unsubscribe_pid(h_rt, UINT32_MAX, Z->self),
			 -ENOENT);
	assert_int_equal(pn_topic_unsubscribe_pid(h_rt, id, PN_PID_NONE),
			 -EINVAL);
	assert_int_equal(tf_do(D, (struct tf_cmd){.op = TF_STOP}), 0);
	tf_wait_kind(D, TF_K_CLEANUP, 0);
	assert_int_equal(pn_topic_unsubscribe_pid(h_rt, id, D->self), -ESRCH);
	final = end_streams(&bg, 1, id, 0);
	for (int i = 0; i < 4; i++)
		tf_wait_last(A[i], id, final);
	tf_wait_last(Z, id, final);
	sum = ndel_of(Z, id);
	for (int i = 0; i < 4; i++)
		sum += ndel_of(A[i], id);
	assert_int_equal(tf_stats_reach(id, sum, 0).delivered, sum);
	h_finish();
	for (int i = 0; i < 8; i++)
		tf_assert_clean(&R[i]);
	for (int i = 0; i < 4; i++) {
		assert_true(start[i][1] > start[i][0]);
		tf_assert_range(A[i], id, from[i][0], i < 2 ? UINT_MAX : to[i],
				start[i][0], 0);
		tf_assert_window(A[i], id, from[i][1], start[i][1], final);
	}
	tf_assert_window(Z, id, 0, zs, final);
}

/* --- the runtime unsubscribes the stopped ----------------------------------
 */

static void test_auto_unsubscribe(void **state)
{
	struct tf_rec *A = &R[0], *B = &R[1], *C = &R[2], *K = &R[3];
	struct tf_rec *Z[2] = {&R[4], &R[5]}, *bg[2] = {&R[6], &R[7]};
	struct tf_rec *D = &R[8], *E = &R[9];
	uint32_t id[2];
	uint64_t final[2];
	int at;

	(void)state;
	h_start(NULL);
	id[0] = tf_open("auto0", 0, 0);
	id[1] = tf_open("auto1", 1, 0);
	tf_spawn(A, 1);
	tf_spawn(B, 0);
	tf_spawn(C, 1);
	tf_spawn(K, 0);
	for (int i = 0; i < 2; i++) {
		tf_spawn(Z[i], i);
		tf_spawn(bg[i], i);
	}
	for (int t = 0; t < 2; t++) {
		struct tf_rec *subs[5] = {A, B, C, Z[0], Z[1]};

		for (int i = 0; i < 5; i++)
			assert_int_equal(tf_sub(subs[i], id[t], 0, NULL), 0);
		stream(bg[t], id[t], 200000);
	}
	assert_int_equal(tf_stats(id[0]).subscribers, 5);
	for (int t = 0; t < 2; t++)
		for (struct tf_rec *r = A; r <= C; r++)
			tf_wait_nth(r, TF_K_DLV, id[t], 2);
	tf_send(A, (struct tf_cmd){.op = TF_STOP});
	assert_int_equal(
		tf_do(K, (struct tf_cmd){.op = TF_KILL, .pid = B->self}), 0);
	tf_send(C, (struct tf_cmd){.op = TF_FAIL, .a = -EIO});
	for (struct tf_rec *r = A; r <= C; r++) {
		at = tf_wait_kind(r, TF_K_CLEANUP, 0);
		assert_int_equal(r->log[at].reason, r == A ? PN_REASON_NORMAL
						    : r == B
							    ? PN_REASON_KILLED
							    : PN_REASON_FAILED);
	}
	for (int t = 0; t < 2; t++)
		tf_wait_subscribers(id[t], 2);
	/* Newer actors, in the slots the stopped ones had: nothing for them
	 * (they never subscribed: the actor checks). */
	tf_spawn(D, 1);
	tf_spawn(E, 0);
	for (int i = 0; i < 2; i++)
		tf_wait_ndel(Z[i], atomic_load(&Z[i]->ndel) + 40);
	for (int t = 0; t < 2; t++) {
		final[t] = end_streams(&bg[t], 1, id[t], 0);
		for (int i = 0; i < 2; i++)
			tf_wait_last(Z[i], id[t], final[t]);
	}
	for (int t = 0; t < 2; t++) {
		uint64_t sum = 0;

		for (int i = 0; i < 10; i++)
			sum += ndel_of(&R[i], id[t]);
		assert_int_equal(tf_stats_reach(id[t], sum, 0).delivered, sum);
	}
	h_finish();
	for (int i = 0; i < 10; i++)
		tf_assert_clean(&R[i]);
	assert_int_equal(atomic_load(&D->ndel), 0);
	assert_int_equal(atomic_load(&E->ndel), 0);
	for (int t = 0; t < 2; t++)
		for (int i = 0; i < 2; i++)
			tf_assert_window(Z[i], id[t], 0, 0, final[t]);
}

/* --- close --------------------------------------------------------------- */

/* @r got topic @id's CLOSED exactly once, reason 0, seq @last, after its
 * last delivery of it; returns its index. */
static int closed_once(struct tf_rec *r, uint32_t id, uint64_t last)
{
	int at = tf_wait_kind(r, TF_K_CLOSED, id);
	const struct tf_ent *e = &r->log[at];

	assert_int_equal(e->reason, 0);
	assert_int_equal(e->seq, last);
	assert_int_equal(tf_count(r, TF_K_CLOSED, id, 0), 1);
	assert_int_equal(tf_count(r, TF_K_DLV, id, (unsigned)at), 0);
	return at;
}

/*
 * Close from a handler right after publishing 30, on the home and on
 * another shard (whose publishes are still on their way to the home), and
 * from outside after publishes from outside and from another shard: every
 * subscriber gets all that was accepted, then CLOSED once.
 */
static void test_close_with_subscribers(void **state)
{
	struct tf_rec *S[4] = {&R[0], &R[1], &R[2], &R[3]}, *F = &R[4];
	struct tf_rec *P[2] = {&R[5], &R[6]};
	int where[4] = {0, 1, PN_SHARD_SUPERVISOR, 1};
	struct pn_producer *prod;
	unsigned char buf[64];
	uint64_t s;
	uint32_t id[3], x;

	(void)state;
	F->opts[0] = (struct pn_topic_sub_opts){.key_lo = 0, .key_hi = 9};
	h_start(NULL);
	for (int i = 0; i < 4; i++)
		tf_spawn(S[i], where[i]);
	tf_spawn(F, 1);
	tf_spawn(P[0], 0); /* the topics' home */
	tf_spawn(P[1], 1);
	assert_int_equal(pn_producer_create(h_rt, &prod), 0);
	for (int k = 0; k < 2; k++) {
		id[k] = tf_open("close", 0, 0);
		for (int i = 0; i < 4; i++)
			assert_int_equal(tf_sub(S[i], id[k], 0, NULL), 0);
		assert_int_equal(tf_sub(F, id[k], 0, NULL), 0);
		assert_int_equal(
			tf_do(P[1 - k], (struct tf_cmd){.op = TF_PUB_CLOSE,
							.topic = id[k],
							.n = 30,
							.len = 16,
							.keymode = TF_KEY_CNT}),
			0);
		assert_int_equal(tf_published(P[1 - k], id[k]), 30);
		for (int i = 0; i < 4; i++) {
			closed_once(S[i], id[k], 30);
			tf_assert_window(S[i], id[k], 0, 0, 30);
		}
		closed_once(F, id[k], 30);
		assert_int_equal(tf_count(F, TF_K_DLV, id[k], 0), 10);
		/* The id is stale. */
		assert_int_equal(tf_do(P[1], (struct tf_cmd){.op = TF_TRY,
							     .topic = id[k],
							     .a = TF_APP}),
				 -ENOENT);
		assert_int_equal(pn_topic_publish_ext(prod, id[k], TF_APP, 0,
						      buf, 8, H_WAIT),
				 -ENOENT);
		assert_int_equal(tf_sub(S[0], id[k], 0, &s), -ENOENT);
		assert_int_equal(tf_unsub(S[1], id[k]), -ENOENT);
		assert_int_equal(tf_do(P[0], (struct tf_cmd){.op = TF_WRITABLE,
							     .topic = id[k]}),
				 -ENOENT);
		assert_int_equal(pn_topic_close(h_rt, id[k]), -ENOENT);
	}
	assert_int_equal(pn_topic_find(h_rt, "close", &x), -ENOENT);
	/* Open again: a new topic, closed from outside after publishes from
	 * outside and from another shard. */
	id[2] = tf_open("close", 0, 0);
	assert_true(id[2] != id[0] && id[2] != id[1]);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(tf_sub(S[i], id[2], 0, &s), 0);
		assert_int_equal(s, 0);
	}
	assert_int_equal(tf_pub(P[1], id[2], 5, 40), 0);
	for (uint32_t i = 0; i < 7; i++) {
		tf_payload(buf, 40, EXT_PUB, i, i);
		assert_int_equal(pn_topic_publish_ext(prod, id[2], TF_APP, i,
						      buf, 40, H_WAIT),
				 0);
	}
	assert_int_equal(pn_topic_close(h_rt, id[2]), 0);
	for (int i = 0; i < 4; i++) {
		closed_once(S[i], id[2], 12);
		tf_assert_window(S[i], id[2], 0, 0, 12);
	}
	pn_producer_destroy(prod);
	h_finish();
	for (int i = 0; i < 7; i++)
		tf_assert_clean(&R[i]);
	for (int i = 0; i < 4; i++)
		for (int k = 0; k < 3; k++)
			assert_int_equal(tf_count(S[i], TF_K_CLOSED, id[k], 0),
					 1);
}

/* --- counters: one slot per destination shard ------------------------------
 */

static void test_stats_slots(void **state)
{
	struct tf_rec *P = &R[8], *L = &R[9];
	struct pn_shard_stats b0, b1;
	struct pn_topic_stats st;
	uint32_t id;

	(void)state;
	h_start(NULL);
	id = tf_open("slots", 0, 0);
	for (int i = 0; i < 8; i++) {
		tf_spawn(&R[i], 1);
		assert_int_equal(tf_sub(&R[i], id, 0, NULL), 0);
	}
	tf_spawn(P, 0);
	tf_spawn(L, 0);
	st = tf_stats(id);
	assert_int_equal(st.subscribers, 8);
	b0 = h_stats(0);
	assert_int_equal(tf_pub(P, id, 100, 16), 0);
	for (int i = 0; i < 8; i++)
		tf_wait_ndel(&R[i], 100);
	st = tf_stats_reach(id, 800, 0);
	assert_int_equal(st.seq, 100);
	assert_int_equal(st.delivered, 800);
	assert_int_equal(st.slots, 100); /* not 800 */
	assert_int_equal(st.channels, 1);
	assert_int_equal(st.refused + st.filtered + st.dropped + st.conflated +
				 st.disconnects,
			 0);
	tf_do(P, (struct tf_cmd){.op = TF_NOP}); /* shard 0's counters out */
	b1 = h_stats(0);
	if (b1.sent_remote - b0.sent_remote >= 200)
		print_message("shard 0 sent %" PRIu64 " remote messages for "
			      "100 publishes to 8 subscribers on shard 1\n",
			      b1.sent_remote - b0.sent_remote);
	assert_true(b1.sent_remote - b0.sent_remote < 200);
	/* Large payloads: the same, one buffer for all. */
	assert_int_equal(tf_pub(P, id, 10, 65536), 0);
	for (int i = 0; i < 8; i++)
		tf_wait_ndel(&R[i], 110);
	st = tf_stats_reach(id, 880, 0);
	assert_int_equal(st.slots, 110);
	for (int i = 1; i < 8; i++)
		for (unsigned j = 101; j <= 110; j++)
			assert_int_equal(R[i].log[j].data, R[0].log[j].data);
	/* A subscriber on the home too: a second channel. */
	assert_int_equal(tf_sub(L, id, 0, NULL), 0);
	assert_int_equal(tf_pub(P, id, 10, 16), 0);
	tf_wait_ndel(L, 10);
	st = tf_stats_reach(id, 880 + 90, 0);
	assert_int_equal(st.subscribers, 9);
	assert_int_equal(st.channels, 2);
	assert_true(st.slots >= 120 && st.slots <= 130);
	h_finish();
	for (int i = 0; i < 10; i++)
		tf_assert_clean(&R[i]);
}

/* --- migration ------------------------------------------------------------ */

static void mig_config(struct pn_config *c)
{
	tf_config(c);
	c->migrate_supervisor = true;
}

/* Move @S to @to (how: 0 itself, 1 by @helper's pn_migrate_pid, 2 from
 * outside) and wait for its PN_MSG_MIGRATED there and @ndlv deliveries. */
static void hop(struct tf_rec *S, struct tf_rec *helper, unsigned to, int how,
		unsigned ndlv)
{
	unsigned k = tf_count(S, TF_K_MIGRATED, 0, 0);
	int at;

	if (how == 0)
		assert_int_equal(tf_do(S, (struct tf_cmd){.op = TF_MIGRATE,
							  .a = (int32_t)to}),
				 0);
	else if (how == 1)
		assert_int_equal(
			tf_do(helper, (struct tf_cmd){.op = TF_MIGRATE_PID,
						      .a = (int32_t)to,
						      .pid = S->self}),
			0);
	else
		assert_int_equal(pn_runtime_migrate(h_rt, S->self, to), 0);
	at = tf_wait_nth(S, TF_K_MIGRATED, 0, k);
	assert_int_equal(S->log[at].reason, 0);
	assert_int_equal(S->log[at].key, to);
	tf_wait_ndel(S, atomic_load(&S->ndel) + ndlv);
}

/* S subscribes (at home, or first moved away: through its home, and
 * with @move_pending moving home before its SUBSCRIBED) and hops over
 * every shard and home again while two streams run: gap-free, in order,
 * each delivery on the shard S is on. */
static void migrate_keeps_receiving(unsigned home, bool sub_away,
				    bool move_pending)
{
	struct tf_rec *S = &R[0], *Z = &R[1], *bg[2] = {&R[2], &R[3]};
	struct pn_config c;
	unsigned sup, hops = 0, n, on = 0;
	uint64_t s, final;
	uint32_t id;

	mig_config(&c);
	h_start(&c);
	sup = pn_runtime_nshards(h_rt);
	id = tf_open("mig", home, 0);
	tf_spawn(S, 0);
	tf_spawn(Z, 1);
	for (int i = 0; i < 2; i++)
		tf_spawn(bg[i], i);
	assert_int_equal(tf_sub(Z, id, 0, NULL), 0);
	for (int i = 0; i < 2; i++)
		stream(bg[i], id, 1000000);
	if (sub_away) {
		hop(S, Z, 1, 0, 0);
		assert_int_equal(tf_do(S, (struct tf_cmd){.op = TF_SUB,
							  .topic = id,
							  .a = move_pending}),
				 1);
		s = S->log[tf_wait_kind(S, TF_K_SUBSCRIBED, id)].seq;
		if (move_pending) /* it went home with SUBSCRIBED on its way */
			assert_true(tf_find(S, TF_K_MIGRATED, 0, 0, 1) >= 0);
		tf_wait_ndel(S, 5);
		/* From outside, by another actor, by itself. */
		hop(S, Z, move_pending ? 1 : 0, 2, 10);
		hop(S, Z, move_pending ? 0 : 1, 1, 10);
		hop(S, Z, sup, 0, 10);
		hop(S, Z, 0, 0, 10);
		hop(S, Z, 1, 2, 10);
	} else {
		assert_int_equal(tf_sub(S, id, 0, &s), 0);
		tf_wait_ndel(S, 5);
		hop(S, Z, 1, 0, 10);   /* away, by itself */
		hop(S, Z, sup, 2, 10); /* on, from outside */
		hop(S, Z, 0, 1, 10);   /* back home, asked by another actor */
		hop(S, Z, 1, 0, 10);
		hop(S, Z, 0, 2, 10); /* home again */
	}
	/* Back home (sub_away: on 1; then home): unsubscribe there, then
	 * nothing more (the actor checks) while Z gets 30 more. */
	if (sub_away)
		hop(S, Z, 0, 0, 10);
	assert_int_equal(tf_unsub(S, id), 0);
	tf_wait_ndel(Z, atomic_load(&Z->ndel) + 30);
	final = end_streams(bg, 2, id, 0);
	tf_wait_last(Z, id, final);
	h_finish();
	for (int i = 0; i < 4; i++)
		tf_assert_clean(&R[i]);
	tf_assert_window(S, id, 0, s, 0);
	tf_assert_window(Z, id, 0, 0, final);
	/* Each delivery ran where S was at the time. */
	n = atomic_load(&S->nlog);
	for (unsigned i = 0; i < n; i++) {
		if (S->log[i].kind == TF_K_MIGRATED) {
			on = (unsigned)S->log[i].key;
			hops++;
		} else if (S->log[i].kind == TF_K_DLV) {
			assert_int_equal(S->log[i].shard, on);
		}
	}
	assert_int_equal(hops, sub_away ? 7 + move_pending : 5);
}

static void test_migrate_keeps_receiving_home0(void **state)
{
	(void)state;
	migrate_keeps_receiving(0, false, false);
}

static void test_migrate_keeps_receiving_home1(void **state)
{
	(void)state;
	migrate_keeps_receiving(1, false, false);
}

static void test_migrate_subscribed_away_home0(void **state)
{
	(void)state;
	migrate_keeps_receiving(0, true, false);
}

static void test_migrate_subscribed_away_home1(void **state)
{
	(void)state;
	migrate_keeps_receiving(1, true, false);
}

static void test_migrate_while_subscribing_home0(void **state)
{
	(void)state;
	migrate_keeps_receiving(0, true, true);
}

static void test_migrate_while_subscribing_home1(void **state)
{
	(void)state;
	migrate_keeps_receiving(1, true, true);
}

/* An actor living away from home subscribes through its home: 1, then
 * SUBSCRIBED with its start; the causal chain holds from there. */
static void test_subscribe_away(void **state)
{
	struct tf_rec *S = &R[0], *P = &R[1], *bg = &R[2], *Z = &R[3];
	struct pn_config c;
	uint32_t id[3];
	uint64_t start[3], seq_t;
	unsigned from[3];
	int at;

	(void)state;
	mig_config(&c);
	h_start(&c);
	id[0] = tf_open("away0", 0, 0); /* the home of S */
	id[1] = tf_open("away1", 1, 0); /* the shard S lives on */
	id[2] = tf_open("away2", 0, 0);
	tf_spawn(S, 0);
	tf_spawn(P, 0);
	tf_spawn(bg, 1);
	tf_spawn(Z, 1);
	for (int t = 0; t < 2; t++)
		assert_int_equal(tf_sub(Z, id[t], 0, NULL), 0);
	stream(bg, id[0], 200000);
	hop(S, Z, 1, 0, 0);
	for (int t = 0; t < 2; t++) {
		from[t] = atomic_load(&S->nlog);
		assert_int_equal(tf_do(S, (struct tf_cmd){.op = TF_SUB_GO,
							  .topic = id[t],
							  .n = 20,
							  .len = 16,
							  .pid = P->self}),
				 1);
		at = tf_wait_kind(S, TF_K_SUBSCRIBED, id[t]);
		start[t] = S->log[at].seq;
		/* P publishes 20 once S has its SUBSCRIBED. */
		tf_wait_pub(S, id[t], from[t], (uint32_t)P->id, 20);
	}
	/* From outside: returns once active, away or not. */
	from[2] = atomic_load(&S->nlog);
	assert_int_equal(
		tf_do(S, (struct tf_cmd){.op = TF_EXPECT, .topic = id[2]}), 0);
	assert_int_equal(
		pn_topic_subscribe_pid(h_rt, id[2], S->self, NULL, &start[2]),
		0);
	assert_int_equal(tf_pub(P, id[2], 20, 16), 0);
	tf_wait_last(S, id[2], start[2] + 20);
	for (int t = 0; t < 3; t++)
		assert_int_equal(tf_stats(id[t]).subscribers, t < 2 ? 2 : 1);
	/* Unsubscribe away: effective once the home has it. */
	assert_int_equal(tf_unsub(S, id[0]), 0);
	tf_wait_subscribers(id[0], 1);
	seq_t = tf_stats(id[0]).seq;
	tf_wait_last(Z, id[0], seq_t + 20);
	/* From outside, away: over when it returns. */
	assert_int_equal(pn_topic_unsubscribe_pid(h_rt, id[2], S->self), 0);
	atomic_store(&S->gone, id[2] + 1);
	assert_int_equal(tf_stats(id[2]).subscribers, 0);
	/* Stopping away unsubscribes it from the rest. */
	tf_send(S, (struct tf_cmd){.op = TF_STOP});
	tf_wait_kind(S, TF_K_CLEANUP, 0);
	tf_wait_subscribers(id[1], 1);
	end_streams(&bg, 1, id[0], 20); /* and P's 20 */
	h_finish();
	for (int i = 0; i < 4; i++)
		tf_assert_clean(&R[i]);
	for (int t = 0; t < 3; t++)
		tf_assert_window(S, id[t], from[t], start[t], 0);
	assert_int_equal(tf_count(S, TF_K_DLV, id[1], 0), 20);
	assert_int_equal(tf_count(S, TF_K_DLV, id[2], 0), 20);
	assert_true(tf_last(S, id[0])->seq <= seq_t);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, tf_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_unsubscribe),
		T(test_auto_unsubscribe),
		T(test_close_with_subscribers),
		T(test_stats_slots),
		T(test_migrate_keeps_receiving_home0),
		T(test_migrate_keeps_receiving_home1),
		T(test_migrate_subscribed_away_home0),
		T(test_migrate_subscribed_away_home1),
		T(test_migrate_while_subscribing_home0),
		T(test_migrate_while_subscribing_home1),
		T(test_subscribe_away),
	};

	return cmocka_run_group_tests_name("topic_life", tests, NULL, NULL);
}
