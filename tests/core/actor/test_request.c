// SPDX-License-Identifier: MIT
/*
 * Request/reply (core/actor/request.c): the reply comes back with the request's
 * correlation id, a timeout comes as PN_MSG_TIMEOUT with it, exactly one of
 * the two reaches the requester, a late reply is dropped and counted, many
 * requests can be outstanding, and every invalid request or reply is
 * refused with nothing left behind (no stray TIMEOUT later). The caller's
 * user value (pn_request_ctx, pn_msg_user) comes back with the reply and
 * the TIMEOUT, locally, across shards, and when either side migrates.
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

/* --- the caller's user value ------------------------------------------- */

/*
 * Q's hook for the user-value tests. DATA carries a struct uop: a request
 * to @to with @user (timeout @ms), or a move to shard @user. Each reply
 * or TIMEOUT is recorded with what pn_msg_user() says for it, and so is
 * what it says for the DATA message itself (no request: 0).
 */
enum { UOP_REQUEST, UOP_MIGRATE };
struct uop {
	uint32_t op, ms;
	pn_pid to;
	uint64_t user;
};
struct ugot {
	uint32_t type;	  /* H_MSG_REPLY or PN_MSG_TIMEOUT */
	uint64_t ref;	  /* pn_msg_ref() */
	uint64_t user;	  /* pn_msg_user() */
	uint64_t payload; /* pn_msg_u64() */
	uint32_t len;
	unsigned shard; /* where it was handled */
};
#define UMAX 256
static struct ugot got[UMAX];
static unsigned ngot, nreq_sent;
static uint64_t sent_ref[UMAX], sent_user[UMAX], data_user;
static int urc[UMAX];

static int user_hook(struct pn_ctx *ctx, struct h_puppet *p,
		     const struct pn_msg *m)
{
	(void)p;
	if (m->type == H_MSG_DATA && m->len == sizeof(struct uop)) {
		struct uop o;

		memcpy(&o, pn_msg_data(m), sizeof(o));
		data_user |= pn_msg_user(ctx, m);
		if (o.op == UOP_MIGRATE) {
			urc[nreq_sent] = pn_migrate(ctx, (unsigned)o.user);
			return 0;
		}
		sent_user[nreq_sent] = o.user;
		urc[nreq_sent] = pn_request_ctx(
			ctx, o.to, H_MSG_REQ, &o.user, sizeof(o.user),
			o.ms == UINT32_MAX ? PN_FOREVER : o.ms * H_MS, o.user,
			&sent_ref[nreq_sent]);
		nreq_sent++;
		return 0;
	}
	if (m->type == PN_MSG_MIGRATED) {
		pn_runtime_notify(pn_ctx_runtime(ctx), 71);
		return 0;
	}
	if ((pn_msg_is_reply(m) || m->type == PN_MSG_TIMEOUT) && ngot < UMAX) {
		got[ngot++] = (struct ugot){
			.type = pn_msg_is_reply(m) ? H_MSG_REPLY : m->type,
			.ref = pn_msg_ref(m),
			.user = pn_msg_user(ctx, m),
			.payload = pn_msg_u64(m),
			.len = m->len,
			.shard = pn_shard(ctx)};
		/* Without this thread's ctx a reply finds nothing. */
		if (pn_msg_is_reply(m) && pn_msg_user(NULL, m) != 0)
			got[ngot - 1].user = 0xbad;
		if (ngot == 100)
			pn_runtime_notify(pn_ctx_runtime(ctx), 76);
	}
	return H_DEFAULT;
}

static void uop_send(pn_pid q, uint32_t op, pn_pid to, uint64_t user,
		     uint32_t ms)
{
	struct uop o = {.op = op, .ms = ms, .to = to, .user = user};

	h_send(q, H_MSG_DATA, &o, sizeof(o));
}

static void user_reset(void)
{
	ngot = nreq_sent = 0;
	data_user = 0;
	memset(got, 0, sizeof(got));
}

/* The user value comes back on the reply, locally and across shards. */
static void user_reply_round(int rshard)
{
	const uint64_t user = 0xfeedface12345678ull;

	user_reset();
	h_start(NULL);
	Q.hook = user_hook;
	Q.notify_mask = H_BIT(H_EV_REPLY);
	R.auto_reply = true;
	h_puppet_spawn(&Q, 0);
	h_puppet_spawn(&R, rshard);
	uop_send(Q.self, UOP_REQUEST, R.self, user, 5000);
	h_expect(H_CODE(&Q, H_EV_REPLY));
	assert_int_equal(urc[0], 0);
	assert_int_equal(ngot, 1);
	assert_int_equal(got[0].type, H_MSG_REPLY);
	assert_true(got[0].ref == sent_ref[0]);
	assert_true(got[0].user == user);
	assert_true(got[0].payload == user + 1); /* R's answer, unchanged */
	assert_true(data_user == 0);		 /* not a reply: 0 */
	/* The callee never saw it: the request's payload is all it got. */
	assert_int_equal(R.log[h_find(&R, H_MSG_REQ, 0)].len, sizeof(user));
	h_finish();
}

static void test_request_user_reply_local(void **state)
{
	(void)state;
	user_reply_round(0);
}

static void test_request_user_reply_remote(void **state)
{
	(void)state;
	user_reply_round(1);
}

/* ... and on the TIMEOUT, as its 8-byte payload too. */
static void test_request_user_timeout(void **state)
{
	const uint64_t user = 0x8000000000000001ull;

	(void)state;
	user_reset();
	h_start(NULL);
	Q.hook = user_hook;
	Q.notify_mask = H_BIT(H_EV_TIMEOUT);
	h_puppet_spawn(&Q, 0);
	h_puppet_spawn(&R, 1); /* holds the request, does not answer */
	uop_send(Q.self, UOP_REQUEST, R.self, user, 10);
	h_expect(H_CODE(&Q, H_EV_TIMEOUT));
	assert_int_equal(urc[0], 0);
	assert_int_equal(ngot, 1);
	assert_int_equal(got[0].type, PN_MSG_TIMEOUT);
	assert_true(got[0].ref == sent_ref[0]);
	assert_true(got[0].user == user);
	assert_true(got[0].payload == user);
	assert_int_equal(got[0].len, sizeof(uint64_t));
	h_finish();
}

/* Many outstanding: each answer names its own request's value, so the
 * client needs no table of its own. */
static void test_request_user_many(void **state)
{
	unsigned nrep = 0, ntmo = 0;

	(void)state;
	user_reset();
	h_start(NULL);
	Q.hook = user_hook;
	R.auto_reply = true;
	h_puppet_spawn(&Q, 0);
	h_puppet_spawn(&R, 1);
	h_puppet_spawn(&X, 1); /* holds, never answers */
	/* Odd ones to X, which holds them: they time out; R answers the
	 * even ones well within theirs. */
	for (uint64_t i = 0; i < 100; i++)
		uop_send(Q.self, UOP_REQUEST, (i & 1) ? X.self : R.self,
			 i * 0x9e3779b97f4a7c15ull + 1, (i & 1) ? 20 : 10000);
	h_expect(76); /* the 100th answer */
	h_finish();
	assert_int_equal(nreq_sent, 100);
	assert_int_equal(ngot, 100);
	for (unsigned k = 0; k < ngot; k++) {
		unsigned i;

		for (i = 0; i < nreq_sent && sent_ref[i] != got[k].ref; i++)
			;
		assert_true(i < nreq_sent);
		assert_int_equal(urc[i], 0);
		assert_true(got[k].user == sent_user[i]);
		assert_int_equal(got[k].type,
				 (i & 1) ? PN_MSG_TIMEOUT : H_MSG_REPLY);
		nrep += got[k].type == H_MSG_REPLY;
		ntmo += got[k].type == PN_MSG_TIMEOUT;
	}
	assert_int_equal(nrep, 50);
	assert_int_equal(ntmo, 50);
}

/*
 * The requester moves with two requests outstanding: the user values
 * travel with the entries. R answers one after the move, the other (to
 * X, which holds it) times out at the new shard.
 */
static void test_request_user_requester_migrates(void **state)
{
	unsigned where = 9;

	(void)state;
	user_reset();
	h_start(NULL);
	Q.hook = user_hook;
	Q.notify_mask = H_BIT(H_EV_REPLY) | H_BIT(H_EV_TIMEOUT);
	h_puppet_spawn(&Q, 0);
	h_puppet_spawn(&R, 1); /* holds, answers on command */
	h_puppet_spawn(&X, 1); /* holds, never answers */
	uop_send(Q.self, UOP_REQUEST, R.self, 0x1111, UINT32_MAX);
	/* Long enough to be still due after the move (which the shard of
	 * the TIMEOUT below confirms). */
	uop_send(Q.self, UOP_REQUEST, X.self, 0x2222, 1000);
	uop_send(Q.self, UOP_MIGRATE, 0, 1, 0);
	h_expect(71); /* MIGRATED */
	assert_int_equal(pn_where(h_rt, Q.self, &where), 0);
	assert_int_equal(where, 1);
	/* R holds the first request (its move's fences sequenced it
	 * there before Q ran again): answer it now. */
	h_cmd(R.self, H_REPLY, 0, 0, 0, 7);
	{
		const int codes[] = {H_CODE(&Q, H_EV_REPLY),
				     H_CODE(&Q, H_EV_TIMEOUT)};

		h_expect_all(codes, 2);
	}
	h_finish();
	assert_int_equal(urc[0], 0);
	assert_int_equal(urc[1], 0);
	assert_int_equal(urc[2], 0); /* pn_migrate */
	assert_int_equal(ngot, 2);
	assert_true(got[0].type != got[1].type);
	for (unsigned k = 0; k < 2; k++) {
		bool reply = got[k].type == H_MSG_REPLY;

		assert_int_equal(got[k].shard, 1);
		assert_true(got[k].ref == sent_ref[reply ? 0 : 1]);
		assert_true(got[k].user == (reply ? 0x1111u : 0x2222u));
		assert_true(got[k].payload == (reply ? 7u : 0x2222u));
	}
}

/* R's hook: notify 73 once it has moved. */
static int callee_hook(struct pn_ctx *ctx, struct h_puppet *p,
		       const struct pn_msg *m)
{
	(void)p;
	if (m->type == PN_MSG_MIGRATED)
		pn_runtime_notify(pn_ctx_runtime(ctx), 73);
	return H_DEFAULT;
}

/* The callee moves between request and reply, and a request reaches it
 * through its home after the move: both answers bring the value back. */
static void test_request_user_callee_migrates(void **state)
{
	(void)state;
	user_reset();
	h_start(NULL);
	Q.hook = user_hook;
	Q.notify_mask = H_BIT(H_EV_REPLY);
	R.hook = callee_hook;
	R.notify_mask = H_BIT(H_EV_DATA);
	h_puppet_spawn(&Q, 0);
	h_puppet_spawn(&R, 1);
	uop_send(Q.self, UOP_REQUEST, R.self, 0xaaaa, UINT32_MAX);
	/* R has it once a poke Q sends after it is through. */
	h_cmd(Q.self, H_POKE, 74, 0, R.self, 0);
	h_expect(74);
	assert_int_equal(pn_runtime_migrate(h_rt, R.self, 0), 0);
	h_expect(73);
	h_cmd(R.self, H_REPLY, 0, 0, 0, 1);
	h_expect(H_CODE(&Q, H_EV_REPLY));
	uop_send(Q.self, UOP_REQUEST, R.self, 0xbbbb, UINT32_MAX);
	h_cmd(Q.self, H_POKE, 75, 0, R.self, 0);
	h_expect(75);
	h_cmd(R.self, H_REPLY, 0, 0, 0, 2);
	h_expect(H_CODE(&Q, H_EV_REPLY));
	assert_int_equal(ngot, 2);
	assert_true(got[0].user == 0xaaaa && got[0].ref == sent_ref[0]);
	assert_true(got[1].user == 0xbbbb && got[1].ref == sent_ref[1]);
	assert_true(got[0].payload == 1 && got[1].payload == 2); /* R's v */
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
		T(test_request_user_reply_local),
		T(test_request_user_reply_remote),
		T(test_request_user_timeout),
		T(test_request_user_many),
		T(test_request_user_requester_migrates),
		T(test_request_user_callee_migrates),
	};

	return cmocka_run_group_tests_name("request", tests, NULL, NULL);
}
