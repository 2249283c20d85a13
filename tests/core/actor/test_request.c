// SPDX-License-Identifier: MIT
/*
 * Request/reply (core/actor/request.c): the reply comes back with the request's
 * correlation id, a timeout comes as PN_MSG_TIMEOUT with it, exactly one of
 * the two reaches the requester, a late reply is dropped and counted, many
 * requests can be outstanding, and every invalid request or reply is
 * refused with nothing left behind (no stray TIMEOUT later).
 *
 * "Nothing later" is checked with a timer (H_CHECK) armed after the thing
 * that must not come would have been due: timers fire in expiry order and
 * never early, so it would have arrived first.
 */
#include "harness.h"

#include <errno.h>
#include <string.h>

#define REF_ID(ref) ((ref) & ~(1ull << 63)) /* the id in a reply's ref */

static struct h_puppet Q, R, X;

static int setup(void **state)
{
	(void)state;
	h_puppet_init(&Q, 1);
	h_puppet_init(&R, 2);
	h_puppet_init(&X, 3);
	return 0;
}

static void reply_round(int rshard)
{
	const struct h_entry *e;
	uint64_t v;
	int i;

	h_start(NULL);
	Q.notify_mask = H_BIT(H_EV_REPLY) | H_BIT(H_EV_CHECK);
	R.auto_reply = true;
	h_puppet_spawn(&Q, 0);
	h_puppet_spawn(&R, rshard);
	h_cmd(Q.self, H_REQUEST, 0, 30 /* ms */, R.self, 41);
	h_expect(H_CODE(&Q, H_EV_REPLY));
	assert_int_equal(Q.rc[0], 0);
	assert_true(Q.ref != 0);
	/* The request carried the id, and so does the reply. */
	i = h_find(&R, H_MSG_REQ, 0);
	assert_true(i >= 0);
	assert_true(R.log[i].ref == Q.ref);
	assert_true(R.log[i].from == Q.self);
	assert_int_equal(R.reply_rc, 0);
	i = h_find(&Q, H_MSG_REPLY, 0);
	e = &Q.log[i];
	assert_true(e->ref & (1ull << 63)); /* pn_msg_is_reply() */
	assert_true(REF_ID(e->ref) == Q.ref);
	assert_true(e->from == R.self);
	memcpy(&v, e->data, sizeof(v));
	assert_int_equal(v, 42);
	/* Exactly one: no TIMEOUT after the reply, though it was due. */
	h_cmd(Q.self, H_CHECK, 0, 0, 0, 100 * H_MS);
	h_expect(H_CODE(&Q, H_EV_CHECK));
	h_finish();
	assert_int_equal(h_count(&Q, PN_MSG_TIMEOUT), 0);
	assert_int_equal(h_count(&Q, H_MSG_REPLY), 1);
}

static void test_request_reply_remote(void **state)
{
	(void)state;
	reply_round(1);
}

static void test_request_reply_local(void **state)
{
	(void)state;
	reply_round(0);
}

static void test_request_timeout_then_late_reply(void **state)
{
	const struct h_entry *e;
	int i;

	(void)state;
	h_start(NULL);
	Q.notify_mask = H_BIT(H_EV_TIMEOUT) | H_BIT(H_EV_REPLY);
	h_puppet_spawn(&Q, 0);
	h_puppet_spawn(&R, 1); /* holds the request, does not answer */
	h_cmd(Q.self, H_REQUEST, 0, 20 /* ms */, R.self, 41);
	h_expect(H_CODE(&Q, H_EV_TIMEOUT));
	assert_int_equal(Q.rc[0], 0);
	i = h_find(&Q, PN_MSG_TIMEOUT, 0);
	e = &Q.log[i];
	assert_true(e->ref == Q.ref);
	assert_false(e->ref & (1ull << 63));
	assert_true(e->from == PN_PID_NONE);	     /* a timer's message */
	assert_true(e->t >= Q.armed_at + 20 * H_MS); /* never early */
	/* The reply comes late: dropped and counted; R's poke, sent after
	 * it, says when Q's shard has seen it. */
	h_cmd(R.self, H_REPLY, 0, 0, 0, 43);
	h_cmd(R.self, H_POKE, 0, 60, Q.self, 0);
	h_expect(60);
	assert_int_equal(R.rc[0], 0);
	assert_int_equal(h_stats(0).late_replies, 1);
	assert_int_equal(h_stats(1).late_replies, 0);
	h_finish();
	assert_int_equal(h_count(&Q, H_MSG_REPLY), 0);
	assert_int_equal(h_count(&Q, PN_MSG_TIMEOUT), 1);
}

static void test_request_to_dead_times_out(void **state)
{
	(void)state;
	h_start(NULL);
	Q.notify_mask = H_BIT(H_EV_TIMEOUT);
	X.notify_mask = H_BIT(H_EV_CLEANUP);
	h_puppet_spawn(&Q, 0);
	h_puppet_spawn(&R, 1);
	h_puppet_spawn(&X, 1);
	h_cmd(X.self, H_STOP, 0, 0, X.self, 0);
	h_expect(H_CODE(&X, H_EV_CLEANUP));
	h_cmd(Q.self, H_REQUEST, 0, 10, X.self, 1);
	h_expect(H_CODE(&Q, H_EV_TIMEOUT));
	assert_int_equal(Q.rc[0], 0);
	/* The request itself was a dead letter on X's shard (known once a
	 * poke that followed it on the same ring is through). */
	h_cmd(Q.self, H_POKE, 0, 62, R.self, 0);
	h_expect(62);
	assert_int_equal(h_stats(1).dead_letters, 1);
	h_finish();
}

/* --- many at once ------------------------------------------------------ */

#define MANY 200
static uint64_t refs[MANY];
static unsigned replies, mismatches;

/* On DATA: MANY requests to R; on each reply, match it to its request. */
static int many_hook(struct pn_ctx *ctx, struct h_puppet *p,
		     const struct pn_msg *m)
{
	if (m->type == H_MSG_DATA) {
		for (uint64_t i = 0; i < MANY; i++) {
			int err = pn_request(ctx, R.self, H_MSG_REQ, &i,
					     sizeof(i), 5 * H_SEC, &refs[i]);

			if (err)
				p->rc[p->nrc++] = err;
		}
		return 0;
	}
	if (!pn_msg_is_reply(m))
		return H_DEFAULT;
	{
		uint64_t v = pn_msg_u64(m) - 1;

		if (v >= MANY || refs[v] != REF_ID(m->ref))
			mismatches++;
		if (++replies == MANY)
			pn_runtime_notify(pn_ctx_runtime(ctx), 61);
	}
	return 0;
}

static void test_request_many_outstanding(void **state)
{
	(void)state;
	replies = mismatches = 0;
	h_start(NULL);
	Q.hook = many_hook;
	R.auto_reply = true;
	h_puppet_spawn(&Q, 0);
	h_puppet_spawn(&R, 1);
	h_send(Q.self, H_MSG_DATA, NULL, 0);
	h_expect(61);
	assert_int_equal(Q.nrc, 0);
	assert_int_equal(mismatches, 0);
	for (unsigned i = 0; i < MANY; i++)
		for (unsigned j = i + 1; j < MANY; j++)
			assert_true(refs[i] != refs[j]);
	h_finish();
	assert_int_equal(h_count(&Q, PN_MSG_TIMEOUT), 0);
}

/* --- invalid requests and replies ---------------------------------------- */

static int bad_rc[16];
static unsigned nbad;

/*
 * Q on DATA: invalid requests. Q on a reply or TIMEOUT: reply to it (not a
 * request). R on DATA: reply to it (not a request); R on a request: reply
 * with a reserved type, then properly.
 */
static int bad_hook(struct pn_ctx *ctx, struct h_puppet *p,
		    const struct pn_msg *m)
{
	static const unsigned char small[8];
	uint64_t ref;

	if (p == &Q && m->type == H_MSG_DATA) {
		bad_rc[nbad++] =
			pn_request(ctx, R.self, H_MSG_REQ, small, 8, 0, &ref);
		bad_rc[nbad++] = pn_request(ctx, R.self, PN_MSG_SYS, small, 8,
					    10 * H_MS, &ref);
		bad_rc[nbad++] = pn_request(ctx, PN_PID_NONE, H_MSG_REQ, small,
					    8, 10 * H_MS, &ref);
		bad_rc[nbad++] =
			pn_request(ctx, pn_pid_make(7, 0, 1), H_MSG_REQ, small,
				   8, 10 * H_MS, &ref);
		bad_rc[nbad++] = pn_request(ctx, R.self, H_MSG_REQ, small,
					    PN_MSG_MAX + 1, 10 * H_MS, &ref);
		return 0;
	}
	if (p == &Q && (pn_msg_is_reply(m) || m->type == PN_MSG_TIMEOUT)) {
		p->rc[p->nrc++] = pn_reply(ctx, m, H_MSG_REPLY, NULL, 0);
		return H_DEFAULT;
	}
	if (p == &R && m->type == H_MSG_DATA) {
		p->rc[p->nrc++] = pn_reply(ctx, m, H_MSG_REPLY, NULL, 0);
		return H_DEFAULT;
	}
	if (p == &R && m->type == H_MSG_REQ) {
		p->rc[p->nrc++] = pn_reply(ctx, m, PN_MSG_DOWN, NULL, 0);
		p->rc[p->nrc++] = pn_reply(ctx, m, H_MSG_REPLY, NULL, 0);
		return 0;
	}
	return H_DEFAULT;
}

static void test_request_invalid(void **state)
{
	static const int want[] = {-EINVAL, -EINVAL, -EINVAL, -EINVAL,
				   -EMSGSIZE};

	(void)state;
	nbad = 0;
	h_start(NULL);
	Q.hook = R.hook = bad_hook;
	Q.notify_mask =
		H_BIT(H_EV_CHECK) | H_BIT(H_EV_REPLY) | H_BIT(H_EV_TIMEOUT);
	R.notify_mask = H_BIT(H_EV_DATA);
	h_puppet_spawn(&Q, 0);
	h_puppet_spawn(&R, 1);
	h_send(Q.self, H_MSG_DATA, NULL, 0);
	/* No TIMEOUT from the refused ones: the check comes after 50 ms. */
	h_cmd(Q.self, H_CHECK, 0, 0, 0, 50 * H_MS);
	h_expect(H_CODE(&Q, H_EV_CHECK));
	assert_int_equal(nbad, 5);
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(bad_rc[i], want[i]);
	assert_int_equal(h_count(&Q, PN_MSG_TIMEOUT), 0);
	/* pn_reply() to a plain message. */
	h_send(R.self, H_MSG_DATA, NULL, 0);
	h_expect(H_CODE(&R, H_EV_DATA));
	assert_int_equal(R.rc[0], -EINVAL);
	/* A real request: a reserved type is refused, then the answer;
	 * replying to the reply is refused too. */
	h_cmd(Q.self, H_REQUEST, 0, 5000, R.self, 1);
	h_expect(H_CODE(&Q, H_EV_REPLY));
	assert_int_equal(R.rc[1], -EINVAL);
	assert_int_equal(R.rc[2], 0);
	assert_int_equal(Q.nrc, 3);	    /* 0 was H_CHECK */
	assert_int_equal(Q.rc[1], 0);	    /* the request */
	assert_int_equal(Q.rc[2], -EINVAL); /* the reply to the reply */
	/* Replying to a TIMEOUT is refused: it is not a request. (Q asks
	 * itself and does not answer.) */
	h_cmd(Q.self, H_REQUEST, 0, 1, Q.self, 1);
	h_expect(H_CODE(&Q, H_EV_TIMEOUT));
	assert_int_equal(Q.rc[3], 0);
	assert_int_equal(Q.rc[4], -EINVAL);
	h_finish();
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_request_reply_remote),
		T(test_request_reply_local),
		T(test_request_timeout_then_late_reply),
		T(test_request_to_dead_times_out),
		T(test_request_many_outstanding),
		T(test_request_invalid),
	};

	return cmocka_run_group_tests_name("request", tests, NULL, NULL);
}
