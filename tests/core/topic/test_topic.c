// SPDX-License-Identifier: MIT
/*
 * Topics (core/topic/, pn_topic.h), the API and the lossless path: open,
 * find, close and next with their errors (bad names, bad options, stale
 * ids, new ids on reopen, -ESHUTDOWN); subscribe from a handler on the
 * topic's home shard and on another returning the start, -EALREADY, every
 * call's errors and -EPERM; the delivery's fields (pn_topic_delivery(),
 * from, to, type, key); the causal chain from every shard and from outside
 * (a subscriber subscribes, then asks a publisher to publish: every one of
 * those arrives, and, with a stream running meanwhile, exactly the
 * messages numbered after its start); payloads of every size intact for
 * every subscriber, large ones read in place from one buffer; key ranges
 * and predicates with the filtered count.
 */
#include "topic_fix.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXT_PUB 60 /* the external producer's publisher id */

static struct tf_rec R[10];

static int setup(void **state)
{
	(void)state;
	for (int i = 0; i < 10; i++)
		tf_init(&R[i], i);
	atomic_store(&tf_release, false);
	return 0;
}

static bool in(const uint32_t *set, unsigned n, uint32_t id)
{
	for (unsigned i = 0; i < n; i++)
		if (set[i] == id)
			return true;
	return false;
}

/* Every open topic, listed with pn_topic_next() (each at most once). */
static unsigned list(uint32_t *out, unsigned max)
{
	uint32_t id = 0, prev = 0;
	unsigned n = 0;

	for (unsigned i = 0; i <= max; i++) {
		int err = pn_topic_next(h_rt, prev, &id);

		if (err == -ENOENT)
			return n;
		assert_int_equal(err, 0);
		assert_false(in(out, n, id));
		assert_true(n < max);
		out[n++] = prev = id;
	}
	fail_msg("pn_topic_next() did not end");
	return n;
}

static void test_open_find_close_next(void **state)
{
	char name[PN_TOPIC_NAME_MAX + 1];
	uint32_t a, b, b2, lng, big, any, id = 0, ids[8], hist[300];
	struct pn_topic_opts o = {.home = 1, .max_lag = 7};
	struct pn_shutdown_report rep;
	struct pn_topic_stats st;

	(void)state;
	h_start(NULL);
	assert_int_equal(pn_topic_find(h_rt, "a", &id), -ENOENT);
	assert_int_equal(pn_topic_next(h_rt, 0, &id), -ENOENT);
	assert_int_equal(pn_topic_open(h_rt, "a", NULL, &a), 0);
	assert_int_equal(pn_topic_find(h_rt, "a", &id), 0);
	assert_int_equal(id, a);
	/* An existing topic keeps its options. */
	assert_int_equal(pn_topic_open(h_rt, "a", &o, &id), 0);
	assert_int_equal(id, a);
	st = tf_stats(a);
	assert_string_equal(st.name, "a");
	assert_int_equal(st.home, 0);
	assert_int_equal(st.seq, 0);
	assert_int_equal(st.subscribers, 0);
	b = tf_open("b", 1, 7);
	assert_true(b != a);
	assert_int_equal(tf_stats(b).home, 1);
	/* Bad names and options. */
	assert_int_equal(pn_topic_open(h_rt, NULL, NULL, &id), -EINVAL);
	assert_int_equal(pn_topic_open(h_rt, "", NULL, &id), -EINVAL);
	memset(name, 'x', sizeof(name));
	name[PN_TOPIC_NAME_MAX] = '\0'; /* one byte too many */
	assert_int_equal(pn_topic_open(h_rt, name, NULL, &id), -EINVAL);
	name[PN_TOPIC_NAME_MAX - 1] = '\0'; /* the longest */
	lng = tf_open(name, 0, 0);
	assert_int_equal(pn_topic_find(h_rt, name, &id), 0);
	assert_int_equal(id, lng);
	assert_string_equal(tf_stats(lng).name, name);
	name[PN_TOPIC_NAME_MAX - 2] = '\0'; /* a prefix is another name */
	assert_int_equal(pn_topic_find(h_rt, name, &id), -ENOENT);
	assert_int_equal(pn_topic_find(h_rt, NULL, &id), -EINVAL);
	assert_int_equal(pn_topic_find(h_rt, "", &id), -EINVAL);
	o = (struct pn_topic_opts){.home = pn_runtime_nshards(h_rt) + 1};
	assert_int_equal(pn_topic_open(h_rt, "bad", &o, &id), -EINVAL);
	o.home = 1000;
	assert_int_equal(pn_topic_open(h_rt, "bad", &o, &id), -EINVAL);
	o = (struct pn_topic_opts){.max_lag = (1u << 20) + 1};
	assert_int_equal(pn_topic_open(h_rt, "bad", &o, &id), -EINVAL);
	assert_int_equal(pn_topic_find(h_rt, "bad", &id), -ENOENT);
	big = tf_open("big", 0, 1u << 20);
	any = tf_open("any", (unsigned)PN_SHARD_ANY, 0); /* outside: 0 */
	assert_int_equal(tf_stats(any).home, 0);
	/* next lists every open topic once. */
	assert_int_equal(list(ids, 8), 5);
	assert_true(in(ids, 5, a) && in(ids, 5, b) && in(ids, 5, lng) &&
		    in(ids, 5, big) && in(ids, 5, any));
	/* Close: the id goes stale, the name can be opened again at once. */
	assert_int_equal(pn_topic_close(h_rt, b), 0);
	assert_int_equal(pn_topic_close(h_rt, b), -ENOENT);
	assert_int_equal(pn_topic_stats(h_rt, b, &st), -ENOENT);
	assert_int_equal(pn_topic_find(h_rt, "b", &id), -ENOENT);
	assert_int_equal(list(ids, 8), 4);
	assert_false(in(ids, 4, b));
	b2 = tf_open("b", 0, 0);
	assert_true(b2 != b);
	assert_int_equal(tf_stats(b2).home, 0); /* a new topic, new options */
	assert_int_equal(pn_topic_stats(h_rt, b, &st), -ENOENT);
	assert_int_equal(pn_topic_stats(h_rt, 0, &st), -ENOENT);
	assert_int_equal(pn_topic_stats(h_rt, UINT32_MAX, &st), -ENOENT);
	assert_int_equal(pn_topic_close(h_rt, UINT32_MAX), -ENOENT);
	/* An id comes back only after 65536 reuses of its slot. */
	hist[0] = b2;
	for (unsigned i = 1; i < 300; i++) {
		TF_EXPECT_RC(pn_topic_close(h_rt, hist[i - 1]), 0);
		TF_EXPECT_RC(pn_topic_open(h_rt, "b", NULL, &id), 0);
		assert_false(in(hist, i, id));
		assert_false(id == a || id == lng || id == big || id == any);
		hist[i] = id;
		assert_int_equal(pn_topic_stats(h_rt, hist[i - 1], &st),
				 -ENOENT);
	}
	assert_int_equal(list(ids, 8), 5);
	/* After shutdown: -ESHUTDOWN. */
	assert_int_equal(pn_runtime_shutdown(h_rt, H_WAIT, &rep), 0);
	assert_int_equal(pn_topic_open(h_rt, "late", NULL, &id), -ESHUTDOWN);
	assert_int_equal(pn_topic_subscribe_pid(h_rt, a, pn_pid_make(0, 1, 1),
						NULL, NULL),
			 -ESHUTDOWN);
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
}

/* -ENFILE once cfg.max_topics topics are open, and room again after a
 * close. */
static bool opened_one_more(void *arg)
{
	return pn_topic_open(h_rt, "one-more", NULL, arg) == 0;
}

static void test_max_topics(void **state)
{
	struct pn_config c;
	char name[32];
	uint32_t id, first = 0;

	(void)state;
	tf_config(&c);
	c.max_topics = 8;
	h_start(&c);
	for (unsigned i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "t%u", i);
		id = tf_open(name, i % 2, 0);
		if (i == 0)
			first = id;
	}
	assert_int_equal(pn_topic_open(h_rt, "one-more", NULL, &id), -ENFILE);
	assert_int_equal(pn_topic_open(h_rt, "t3", NULL, &id), 0); /* exists */
	assert_int_equal(pn_topic_close(h_rt, first), 0);
	/* The closed entry is free once every shard swept it (a few turns;
	 * until then -ENFILE, as the header says). */
	assert_true(h_until(opened_one_more, &id, H_WAIT));
	h_finish();
}

static void test_subscribe_basics(void **state)
{
	struct tf_rec *P = &R[0], *A = &R[1], *B = &R[2], *D = &R[3];
	struct pn_producer *prod;
	uint32_t id, gone;
	uint64_t s = 99;
	struct pn_ctx *ctx;
	unsigned char buf[16] = {0};
	void *huge = malloc(PN_MSG_MAX + 1);
	struct pn_topic_stats st;
	int at;

	(void)state;
	assert_non_null(huge);
	D->opts[1].policy = PN_TOPIC_NPOLICIES;
	D->opts[2] = (struct pn_topic_sub_opts){.key_lo = 5, .key_hi = 4};
	h_start(NULL);
	id = tf_open("t", 0, 0);
	gone = tf_open("gone", 0, 0);
	assert_int_equal(pn_topic_close(h_rt, gone), 0);
	tf_spawn(P, 0);
	tf_spawn(A, 0); /* on the topic's home */
	tf_spawn(B, 1); /* elsewhere */
	tf_spawn(D, 1);
	/* Published on the home: numbered before the call returned. */
	assert_int_equal(tf_pub(P, id, 5, 16), 0);
	assert_int_equal(tf_stats(id).seq, 5);
	assert_int_equal(tf_sub(A, id, 0, &s), 0);
	assert_int_equal(s, 5);
	s = 99;
	assert_int_equal(tf_sub(B, id, TF_OPTS_NULL, &s), 0);
	assert_int_equal(s, 5);
	assert_int_equal(tf_sub(A, id, 0, &s), -EALREADY);
	assert_int_equal(tf_sub(A, gone, 0, &s), -ENOENT);
	assert_int_equal(tf_sub(A, UINT32_MAX, 0, &s), -ENOENT);
	assert_int_equal(tf_sub(D, id, 1, &s), -EINVAL); /* bad policy */
	assert_int_equal(tf_sub(D, id, 2, &s), -EINVAL); /* key_lo > key_hi */
	assert_int_equal(tf_stats(id).subscribers, 2);
	/* Publish errors, from a handler and from outside: nothing numbered. */
	assert_int_equal(tf_do(P, (struct tf_cmd){.op = TF_TRY,
						  .topic = id,
						  .a = (int32_t)PN_MSG_SYS,
						  .len = 4,
						  .v = (uintptr_t)buf}),
			 -EINVAL);
	assert_int_equal(
		tf_do(P, (struct tf_cmd){.op = TF_TRY,
					 .topic = id,
					 .a = (int32_t)PN_MSG_TOPIC_CLOSED}),
		-EINVAL);
	assert_int_equal(tf_do(P, (struct tf_cmd){.op = TF_TRY,
						  .topic = id,
						  .a = TF_APP,
						  .len = 5}),
			 -EINVAL); /* NULL data */
	assert_int_equal(tf_do(P, (struct tf_cmd){.op = TF_TRY,
						  .topic = id,
						  .a = TF_APP,
						  .len = PN_MSG_MAX + 1,
						  .v = (uintptr_t)huge}),
			 -EMSGSIZE);
	assert_int_equal(tf_do(P, (struct tf_cmd){.op = TF_TRY,
						  .topic = gone,
						  .a = TF_APP,
						  .len = 4,
						  .v = (uintptr_t)buf}),
			 -ENOENT);
	assert_int_equal(pn_producer_create(h_rt, &prod), 0);
	assert_int_equal(pn_topic_publish_ext(prod, id, PN_MSG_SYS + 5, 0, buf,
					      4, H_WAIT),
			 -EINVAL);
	assert_int_equal(
		pn_topic_publish_ext(prod, id, TF_APP, 0, NULL, 4, H_WAIT),
		-EINVAL);
	assert_int_equal(pn_topic_publish_ext(prod, id, TF_APP, 0, huge,
					      PN_MSG_MAX + 1, H_WAIT),
			 -EMSGSIZE);
	assert_int_equal(
		pn_topic_publish_ext(prod, gone, TF_APP, 0, buf, 4, H_WAIT),
		-ENOENT);
	/* -EPERM: a saved ctx used on another thread. */
	ctx = atomic_load(&A->ctx);
	assert_int_equal(pn_topic_publish(ctx, id, TF_APP, 0, buf, 4), -EPERM);
	assert_int_equal(pn_topic_subscribe(ctx, id, NULL, &s), -EPERM);
	assert_int_equal(pn_topic_unsubscribe(ctx, id), -EPERM);
	assert_int_equal(pn_topic_notify_writable(ctx, id), -EPERM);
	assert_int_equal(tf_stats(id).seq, 5);
	/* An empty payload (NULL, 0) is a message; then 3 with a full key. */
	assert_int_equal(tf_do(P, (struct tf_cmd){.op = TF_TRY,
						  .topic = id,
						  .a = TF_APP + 1,
						  .key = 77}),
			 0);
	assert_int_equal(
		tf_do(P, (struct tf_cmd){.op = TF_PUB,
					 .topic = id,
					 .a = TF_APP + 2,
					 .n = 3,
					 .len = 40,
					 .keymode = TF_KEY_FIXED,
					 .key = 0xfedcba9876543210ull}),
		0);
	/* subscribe_pid's errors. */
	assert_int_equal(tf_do(D, (struct tf_cmd){.op = TF_STOP}), 0);
	tf_wait_kind(D, TF_K_CLEANUP, 0);
	assert_int_equal(pn_topic_subscribe_pid(h_rt, id, D->self, NULL, &s),
			 -ESRCH);
	assert_int_equal(pn_topic_subscribe_pid(h_rt, id, B->self, NULL, &s),
			 -EALREADY);
	assert_int_equal(pn_topic_subscribe_pid(h_rt, gone, B->self, NULL, &s),
			 -ENOENT);
	assert_int_equal(
		pn_topic_subscribe_pid(h_rt, id, P->self, &D->opts[2], &s),
		-EINVAL);
	tf_wait_ndel(A, 4);
	tf_wait_ndel(B, 4);
	for (struct tf_rec *r = A; r <= B; r++) {
		at = tf_find(r, TF_K_DLV, id, 0, 0);
		assert_true(at >= 0);
		assert_int_equal(r->log[at].seq, 6);
		assert_int_equal(r->log[at].len, 0);
		assert_int_equal(r->log[at].type, TF_APP + 1);
		assert_int_equal(r->log[at].key, 77);
		assert_int_equal(r->log[at].from, P->self);
		for (unsigned k = 1; k < 4; k++) {
			const struct tf_ent *e = &r->log[at + (int)k];

			assert_int_equal(e->kind, TF_K_DLV);
			assert_int_equal(e->topic, id);
			assert_int_equal(e->seq, 6 + k);
			assert_int_equal(e->type, TF_APP + 2);
			assert_int_equal(e->key, 0xfedcba9876543210ull);
			assert_int_equal(e->from, P->self);
			assert_int_equal(e->pub, P->id);
			assert_int_equal(e->cnt, 5 + k - 1);
			assert_int_equal(e->len, 40);
		}
		assert_int_equal(tf_assert_window(r, id, 0, 5, 9), 4);
	}
	/* Unsubscribe, and notify_writable's answer when writable already. */
	assert_int_equal(tf_unsub(A, id), 0);
	assert_int_equal(tf_unsub(A, id), -ENOENT);
	assert_int_equal(tf_unsub(A, gone), -ENOENT);
	assert_int_equal(
		tf_do(P, (struct tf_cmd){.op = TF_WRITABLE, .topic = gone}),
		-ENOENT);
	assert_int_equal(
		tf_do(P, (struct tf_cmd){.op = TF_WRITABLE, .topic = id}), 0);
	at = tf_wait_kind(P, TF_K_WRITABLE, id);
	assert_int_equal(P->log[at].topic, id);
	assert_int_equal(tf_stats(id).subscribers, 1);
	st = tf_stats(id);
	assert_int_equal(st.seq, 9);
	assert_int_equal(st.refused, 0);
	assert_int_equal(st.filtered + st.dropped + st.conflated, 0);
	pn_producer_destroy(prod);
	h_finish();
	free(huge);
	for (int i = 0; i < 4; i++)
		tf_assert_clean(&R[i]);
	assert_int_equal(atomic_load(&A->ndel), 4);
	assert_int_equal(atomic_load(&B->ndel), 4);
}

/* --- the causal chain ---------------------------------------------------- */

static void ext_publish(struct pn_producer *p, uint32_t id, unsigned n,
			size_t len, uint32_t *cnt)
{
	static unsigned char buf[TF_BUF];

	for (unsigned i = 0; i < n; i++, (*cnt)++) {
		tf_payload(buf, len, EXT_PUB, *cnt, *cnt);
		assert_int_equal(pn_topic_publish_ext(p, id, TF_APP, *cnt, buf,
						      len, H_WAIT),
				 0);
	}
}

/*
 * Subscribers on shard 0, shard 1 and the supervisor shard; publishers on
 * the same three and outside; a stream from a third actor all along. For
 * each pair: subscribe, then (caused by the subscribe) publish 20: all
 * 20 arrive, and the window holds exactly the seqs after the start.
 */
static void chain(unsigned home)
{
	struct tf_rec *S[3] = {&R[0], &R[1], &R[2]};
	struct tf_rec *P[3] = {&R[3], &R[4], &R[5]}, *bg = &R[6];
	int where[3] = {0, 1, PN_SHARD_SUPERVISOR};
	struct pn_producer *prod;
	uint32_t id, ext_cnt = 0;
	uint64_t start = 0;

	h_start(NULL);
	id = tf_open("chain", home, 0);
	for (int i = 0; i < 3; i++) {
		tf_spawn(S[i], where[i]);
		tf_spawn(P[i], where[i]);
	}
	tf_spawn(bg, 1 - (int)home);
	assert_int_equal(tf_do(bg, (struct tf_cmd){.op = TF_STREAM,
						   .topic = id,
						   .n = 1000000,
						   .len = 16,
						   .burst = 2,
						   .v = 200000}),
			 0);
	assert_int_equal(pn_producer_create(h_rt, &prod), 0);
	for (int s = 0; s < 3; s++) {
		for (int p = 0; p < 4; p++) {
			unsigned from = atomic_load(&S[s]->nlog), k;

			if (p < 3) {
				k = atomic_load(&S[s]->nrc);
				assert_int_equal(
					tf_do(S[s],
					      (struct tf_cmd){
						      .op = TF_SUB_GO,
						      .topic = id,
						      .n = 20,
						      .len = 16 +
							     24 * (unsigned)p,
						      .pid = P[p]->self}),
					0);
				start = S[s]->start[k];
				tf_wait_pub(S[s], id, from, (uint32_t)P[p]->id,
					    20);
			} else {
				/* From outside: subscribe_pid, then publish
				 * from this thread, and through an actor. */
				assert_int_equal(
					tf_do(S[s],
					      (struct tf_cmd){.op = TF_EXPECT,
							      .topic = id}),
					0);
				assert_int_equal(pn_topic_subscribe_pid(
							 h_rt, id, S[s]->self,
							 NULL, &start),
						 0);
				ext_publish(prod, id, 20, 16, &ext_cnt);
				tf_send(P[1], (struct tf_cmd){.op = TF_PUB,
							      .topic = id,
							      .n = 10,
							      .len = 40});
				tf_wait_pub(S[s], id, from, EXT_PUB, 20);
				tf_wait_pub(S[s], id, from, (uint32_t)P[1]->id,
					    10);
			}
			assert_int_equal(tf_unsub(S[s], id), 0);
			tf_assert_window(S[s], id, from, start, 0);
			assert_int_equal(tf_count_pub(S[s], id, from,
						      p < 3 ? (uint32_t)P[p]->id
							    : EXT_PUB),
					 20);
		}
	}
	pn_producer_destroy(prod);
	assert_int_equal(tf_do(bg, (struct tf_cmd){.op = TF_STREAM_END}), 0);
	assert_true(atomic_load(&bg->published) > 0);
	h_finish();
	for (int i = 0; i < 7; i++)
		tf_assert_clean(&R[i]);
	assert_int_equal(atomic_load(&bg->pub_err), 0);
}

static void test_causal_chain_home0(void **state)
{
	(void)state;
	chain(0);
}

static void test_causal_chain_home1(void **state)
{
	(void)state;
	chain(1);
}

/* --- payloads ------------------------------------------------------------ */

static void test_payloads(void **state)
{
	static const uint32_t lens[] = {0,  1,	15, 16,	 23,  24,   25,
					31, 32, 33, 100, 512, 4096, 65536};
	enum { NL = sizeof(lens) / sizeof(lens[0]), EACH = 2 };
	struct tf_rec *S[4] = {&R[0], &R[1], &R[2], &R[3]};
	struct tf_rec *P0 = &R[4], *P1 = &R[5];
	int where[4] = {0, 1, 1, PN_SHARD_SUPERVISOR};
	const unsigned total = NL * EACH * 3;
	struct pn_producer *prod;
	uint32_t id, ext_cnt = 0;
	unsigned char *buf = malloc(TF_BUF);

	(void)state;
	assert_non_null(buf);
	h_start(NULL);
	id = tf_open("payload", 0, 0);
	for (int i = 0; i < 4; i++) {
		tf_spawn(S[i], where[i]);
		assert_int_equal(tf_sub(S[i], id, 0, NULL), 0);
	}
	tf_spawn(P0, 0);
	tf_spawn(P1, 1);
	assert_int_equal(pn_producer_create(h_rt, &prod), 0);
	for (unsigned i = 0; i < NL; i++) {
		for (int k = 0; k < 2; k++)
			assert_int_equal(
				tf_do(k ? P1 : P0,
				      (struct tf_cmd){
					      .op = TF_PUB,
					      .topic = id,
					      .a = (int32_t)(TF_APP + i),
					      .n = EACH,
					      .len = lens[i],
					      .keymode = TF_KEY_FIXED,
					      .key = 0x8000000000000001ull *
						     i}),
				0);
		for (unsigned k = 0; k < EACH; k++, ext_cnt++) {
			tf_payload(buf, lens[i], EXT_PUB, ext_cnt, ext_cnt);
			assert_int_equal(pn_topic_publish_ext(prod, id, TF_APP,
							      ext_cnt, buf,
							      lens[i], H_WAIT),
					 0);
			memset(buf, 0, lens[i]); /* the caller keeps it */
		}
	}
	for (int i = 0; i < 4; i++)
		tf_wait_ndel(S[i], total);
	pn_producer_destroy(prod);
	h_finish();
	free(buf);
	for (int i = 0; i < 4; i++) {
		unsigned nlen[NL] = {0};

		tf_assert_clean(S[i]);
		assert_int_equal(tf_assert_window(S[i], id, 0, 0, total),
				 total);
		for (unsigned j = 0; j < total; j++) {
			const struct tf_ent *e = &S[i]->log[j + 1];
			unsigned l = 0;

			while (l < NL && lens[l] != e->len)
				l++;
			assert_true(l < NL);
			nlen[l]++;
			assert_true(e->from == P0->self ||
				    e->from == P1->self ||
				    e->from == PN_PID_NONE);
			assert_int_equal(e->type, e->from == PN_PID_NONE
							  ? TF_APP
							  : TF_APP + l);
			if (e->len >= TF_HDR)
				assert_int_equal(e->from,
						 e->pub == (uint32_t)P0->id
							 ? P0->self
						 : e->pub == (uint32_t)P1->id
							 ? P1->self
							 : PN_PID_NONE);
			/* pn_msg.h: payloads are 16-byte aligned. */
			if (e->data % 16)
				print_message("seq %" PRIu64 " (%u bytes): "
					      "payload at %#" PRIxPTR "\n",
					      e->seq, e->len, e->data);
			assert_int_equal(e->data % 16, 0);
			/* Large: one buffer, read in place by all. */
			if (e->len > PN_MSG_INLINE && i > 0)
				assert_int_equal(e->data,
						 S[0]->log[j + 1].data);
		}
		for (unsigned l = 0; l < NL; l++)
			assert_int_equal(nlen[l], EACH * 3);
	}
}

/* --- filters ------------------------------------------------------------- */

static void test_filters(void **state)
{
	enum { N = 50 };
	/* key range, predicate (keys with key % mod != rem) */
	static const struct {
		uint64_t lo, hi, mod, rem;
		int shard;
	} f[] = {
		{10, 19, 0, 0, 1}, {0, 0, 2, 1, 1},
		{10, 19, 2, 1, 1}, {5, 5, 0, 0, 1},
		{0, 0, 0, 0, 1},   {40, UINT64_MAX, 0, 0, 0},
		{0, 0, 3, 0, 0},   {0, 5, 0, 0, PN_SHARD_SUPERVISOR},
	};
	enum { NF = sizeof(f) / sizeof(f[0]) };
	static struct tf_filt filt[NF];
	struct tf_rec *P = &R[9];
	uint64_t filtered = 0, delivered = 0;
	struct pn_topic_stats st;
	unsigned want[NF] = {0};
	uint32_t id;

	(void)state;
	h_start(NULL);
	id = tf_open("filter", 0, 0);
	for (unsigned i = 0; i < NF; i++) {
		tf_filt_init(&filt[i], f[i].mod ? f[i].mod : 1, 1);
		R[i].opts[0] = (struct pn_topic_sub_opts){
			.key_lo = f[i].lo,
			.key_hi = f[i].hi,
			.filter = f[i].mod ? tf_filter : NULL,
			.filter_arg = &filt[i]};
		for (uint64_t k = 0; k < N; k++)
			want[i] += ((f[i].lo == 0 && f[i].hi == 0) ||
				    (k >= f[i].lo && k <= f[i].hi)) &&
				   (!f[i].mod || k % f[i].mod != f[i].rem);
		filt[i].rem = f[i].rem;
		tf_spawn(&R[i], f[i].shard);
		assert_int_equal(tf_sub(&R[i], id, 0, NULL), 0);
		filtered += N - want[i];
		delivered += want[i];
	}
	tf_spawn(P, 0);
	assert_int_equal(tf_do(P, (struct tf_cmd){.op = TF_PUB,
						  .topic = id,
						  .n = N,
						  .len = 16,
						  .keymode = TF_KEY_CNT}),
			 0);
	for (unsigned i = 0; i < NF; i++)
		tf_wait_ndel(&R[i], want[i]);
	/* The sentinel (every key) has all 50: the others' filters ran. */
	tf_wait_ndel(&R[4], N);
	st = tf_stats_reach(id, delivered, filtered);
	assert_int_equal(st.delivered, delivered);
	assert_int_equal(st.filtered, filtered);
	assert_int_equal(st.seq, N);
	for (unsigned i = 0; i < NF; i++) {
		uint64_t prev = 0;
		unsigned n = atomic_load(&R[i].nlog), got = 0;

		if (f[i].mod) {
			/* Once per message that passed the key range, on the
			 * subscriber's shard, before its handler. */
			unsigned in_range = 0;

			for (uint64_t k = 0; k < N; k++)
				in_range += (f[i].lo == 0 && f[i].hi == 0) ||
					    (k >= f[i].lo && k <= f[i].hi);
			assert_int_equal(atomic_load(&filt[i].calls), in_range);
			assert_int_equal(atomic_load(&filt[i].passed), want[i]);
			assert_int_equal(atomic_load(&filt[i].bad), 0);
			assert_int_equal(atomic_load(&filt[i].tid),
					 atomic_load(&R[i].tid));
			if (f[i].lo || f[i].hi) {
				assert_true(atomic_load(&filt[i].kmin) >=
					    f[i].lo);
				assert_true(atomic_load(&filt[i].kmax) <=
					    f[i].hi);
			}
		}
		for (unsigned j = 0; j < n; j++) {
			const struct tf_ent *e = &R[i].log[j];

			if (e->kind != TF_K_DLV)
				continue;
			/* key == counter == seq - 1; the jump is the skipped */
			assert_int_equal(e->seq, e->key + 1);
			assert_true(e->seq > prev);
			assert_int_equal(e->gap + e->conflated, 0);
			assert_true((f[i].lo == 0 && f[i].hi == 0) ||
				    (e->key >= f[i].lo && e->key <= f[i].hi));
			assert_true(!f[i].mod || e->key % f[i].mod != f[i].rem);
			prev = e->seq;
			got++;
		}
		assert_int_equal(got, want[i]);
	}
	h_finish();
	for (unsigned i = 0; i < NF; i++)
		tf_assert_clean(&R[i]);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, tf_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_open_find_close_next),
		T(test_max_topics),
		T(test_subscribe_basics),
		T(test_causal_chain_home0),
		T(test_causal_chain_home1),
		T(test_payloads),
		T(test_filters),
	};

	return cmocka_run_group_tests_name("topic", tests, NULL, NULL);
}
