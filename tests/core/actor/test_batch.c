// SPDX-License-Identifier: MIT
/*
 * The end of a batch (struct pn_behaviour's end_batch, core/actor/actor.c):
 * it runs once per loop turn in which its actor handled messages, after
 * them, so its record of "messages since the last call" is never 0; a
 * turn's batch is at most `batch` messages per inbound ring and 4 x
 * `batch` from the local queue; what an actor sends itself is handled
 * behind what its shard's local queue already holds, in the same batch
 * when sent from a handler and in the next when sent from end_batch; a
 * moved actor gets it on its new shard; its return value counts as a
 * handler's. And the shard does not call it on idle turns.
 *
 * The batcher T logs every message and every end_batch (with the count
 * of messages since the previous one) in rec[]; the test reads rec[0, n)
 * after an acquire load of nrec, which T stores with release after each
 * record (T is one actor: its records are written in order, also across
 * its move).
 */
#include "harness.h"

#include <errno.h>
#include <string.h>

#define B_X	  0x2001u /* logged */
#define B_Y	  0x2002u /* logged (U's answer to PING) */
#define B_Z	  0x2003u /* logged (sent by end_batch) */
#define B_TICK	  0x2004u /* logged (a timer) */
#define B_GO_SELF 0x2005u /* self-sends: X(1), PING to U, X(2) */
#define B_ARM	  0x2006u /* arm a timer: B_TICK in 30 ms */
#define B_MOVE	  0x2007u /* pn_migrate(1) */
#define B_FAIL	  0x2008u /* the next end_batch returns -EPROTO */
#define B_PING	  0x2009u /* to U: answer B_Y to T */
#define B_GO	  0x200au /* to S: send u64 n B_X to T */
#define EOB	  0xe0b0u /* a record of an end_batch call */

struct rec {
	uint32_t type; /* the message type, or EOB */
	uint32_t n;    /* EOB: messages since the previous call */
	unsigned shard;
	uint64_t v; /* the payload's u64 */
};
#define RMAX 4096
static struct rec rec[RMAX];
static atomic_uint nrec;
static unsigned since, ncleanup, failed_reason;
static bool z_next, fail_next;
static pn_pid T, U;

static void note(struct pn_ctx *ctx, uint32_t type, uint32_t n, uint64_t v)
{
	unsigned k = atomic_load_explicit(&nrec, memory_order_relaxed);

	if (k >= RMAX)
		return;
	rec[k] = (struct rec){type, n, pn_shard(ctx), v};
	/* Pairs with the acquire in seen(): the record is written first. */
	atomic_store_explicit(&nrec, k + 1, memory_order_release);
}

static unsigned seen(void)
{
	return atomic_load_explicit(&nrec, memory_order_acquire);
}

static int t_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	uint64_t one = 1, two = 2;

	(void)state;
	since++;
	note(ctx, m->type, 0, pn_msg_u64(m));
	switch (m->type) {
	case PN_MSG_STARTED:
		pn_runtime_notify(pn_ctx_runtime(ctx), 1);
		break;
	case B_GO_SELF:
		if (pn_send(ctx, pn_self(ctx), B_X, &one, sizeof(one)) ||
		    pn_send(ctx, U, B_PING, NULL, 0) ||
		    pn_send(ctx, pn_self(ctx), B_X, &two, sizeof(two)))
			return -EIO;
		z_next = true;
		break;
	case B_ARM:
		return pn_send_after(ctx, 30 * H_MS, B_TICK, NULL, 0, NULL);
	case B_MOVE:
		return pn_migrate(ctx, 1);
	case B_FAIL:
		fail_next = true;
		break;
	}
	return 0;
}

static int t_end_batch(struct pn_ctx *ctx, void *state)
{
	(void)state;
	note(ctx, EOB, since, 0);
	since = 0;
	if (z_next) {
		z_next = false;
		return pn_send_u64(ctx, pn_self(ctx), B_Z, 0);
	}
	if (fail_next)
		return -EPROTO;
	return 0;
}

static void t_cleanup(struct pn_ctx *ctx, void *state, int reason)
{
	(void)state;
	ncleanup++;
	failed_reason = (unsigned)reason;
	pn_runtime_notify(pn_ctx_runtime(ctx), 9);
}

static const struct pn_behaviour t_b = {.name = "batcher",
					.handle = t_handle,
					.end_batch = t_end_batch,
					.cleanup = t_cleanup};

/* S: on B_GO(n), n messages B_X(i) to T; U: on B_PING, B_Y to T. Neither
 * has end_batch. */
static int su_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	(void)state;
	if (m->type == PN_MSG_STARTED)
		pn_runtime_notify(pn_ctx_runtime(ctx), 2);
	if (m->type == B_GO)
		for (uint64_t i = 0; i < pn_msg_u64(m); i++)
			if (pn_send_u64(ctx, T, B_X, i))
				return -EIO;
	if (m->type == B_PING)
		return pn_send(ctx, T, B_Y, NULL, 0);
	return 0;
}

static const struct pn_behaviour su_b = {.name = "sender", .handle = su_handle};

static int setup(void **state)
{
	(void)state;
	memset(rec, 0, sizeof(rec));
	atomic_store(&nrec, 0);
	since = ncleanup = failed_reason = 0;
	z_next = fail_next = false;
	return 0;
}

/* A runtime with batch 8; T on shard 0 and one helper on @helper_shard,
 * both started. Returns the helper. */
static pn_pid start(int helper_shard)
{
	struct pn_config c;
	pn_pid h;

	h_config(&c);
	c.batch = 8;
	h_start(&c);
	T = h_spawn(&t_b, 0, NULL, 0);
	h_expect(1);
	h = h_spawn(&su_b, helper_shard, NULL, 0);
	h_expect(2);
	return h;
}

struct until {
	unsigned n; /* records */
};

static bool has_records(void *arg)
{
	return seen() >= ((struct until *)arg)->n;
}

/* Wait (bounded) until there are @n records. */
static void wait_records(unsigned n)
{
	struct until u = {n};

	if (!h_until(has_records, &u, H_WAIT))
		print_message("only %u of %u records\n", seen(), n);
	assert_true(seen() >= n);
}

/* Every end_batch call followed at least one message. */
static void assert_never_empty(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (rec[i].type == EOB)
			assert_true(rec[i].n >= 1);
}

/* The records from @from on are @want (types; EOB entries also check n
 * against @wn, when not 0). */
static void assert_seq(unsigned from, const uint32_t *want, const uint32_t *wn,
		       unsigned k)
{
	for (unsigned i = 0; i < k; i++) {
		if (rec[from + i].type != want[i] ||
		    (want[i] == EOB && wn[i] && rec[from + i].n != wn[i]))
			print_message(
				"record %u: type %#x n %u, want %#x n %u\n",
				from + i, rec[from + i].type, rec[from + i].n,
				want[i], wn[i]);
		assert_int_equal(rec[from + i].type, want[i]);
		if (want[i] == EOB && wn[i])
			assert_int_equal(rec[from + i].n, wn[i]);
	}
}

/* One message from outside (a ring), then its end_batch: a barrier that
 * also shows no call came in between. */
static void barrier(uint32_t type)
{
	unsigned n = seen();
	static const uint32_t n1[] = {0, 1};
	const uint32_t want[] = {type, EOB};

	h_send(T, type, NULL, 0);
	wait_records(n + 2);
	assert_seq(n, want, n1, 2);
}

/* STARTED then its end_batch: a batch of one. */
static void assert_started(void)
{
	static const uint32_t want[] = {PN_MSG_STARTED, EOB}, wn[] = {0, 1};

	wait_records(2);
	assert_seq(0, want, wn, 2);
}

/* 40 messages from an actor on T's shard: the local queue's run takes 4 x
 * batch = 32, end_batch, then the other 8 and end_batch again. */
static void test_batch_local_cut(void **state)
{
	pn_pid s;
	uint64_t n = 40;

	(void)state;
	s = start(0);
	assert_started();
	h_send(s, B_GO, &n, sizeof(n));
	wait_records(2 + 40 + 2);
	for (unsigned i = 0; i < 32; i++)
		assert_int_equal(rec[2 + i].type, B_X);
	assert_int_equal(rec[2 + 32].type, EOB);
	assert_int_equal(rec[2 + 32].n, 32);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(rec[2 + 33 + i].type, B_X);
	assert_int_equal(rec[2 + 41].type, EOB);
	assert_int_equal(rec[2 + 41].n, 8);
	for (unsigned i = 0; i < 40; i++) /* in the order sent */
		assert_int_equal(rec[2 + i + (i >= 32)].v, i);
	barrier(B_Y);
	assert_never_empty(seen());
	h_finish();
}

/* 40 messages from another shard: through the ring, at most batch = 8 a
 * turn, each batch followed by one call. */
static void test_batch_ring(void **state)
{
	unsigned nx = 0, neob = 0, run = 0, n;
	uint64_t k = 40;
	pn_pid s;

	(void)state;
	s = start(1);
	assert_started();
	h_send(s, B_GO, &k, sizeof(k));
	for (;;) { /* until the 40th X's end_batch */
		wait_records(2 + nx + neob + 1);
		n = seen();
		for (unsigned i = 2 + nx + neob; i < n; i++) {
			if (rec[i].type == B_X) {
				assert_true(rec[i].v == nx);
				nx++;
				run++;
			} else {
				assert_int_equal(rec[i].type, EOB);
				assert_int_equal(rec[i].n, run);
				assert_true(run >= 1 && run <= 8);
				run = 0;
				neob++;
			}
		}
		if (nx == 40 && run == 0)
			break;
	}
	assert_true(neob >= 5);
	barrier(B_Y);
	assert_never_empty(seen());
	h_finish();
}

/* No call on the idle turns while a timer is pending: ARM, its call,
 * (30 ms of nothing), TICK, its call. */
static void test_batch_not_when_idle(void **state)
{
	static const uint32_t want[] = {B_ARM, EOB, B_TICK, EOB},
			      wn[] = {0, 1, 0, 1};
	unsigned n;

	(void)state;
	start(0);
	assert_started();
	n = seen();
	h_send(T, B_ARM, NULL, 0);
	wait_records(n + 4);
	assert_seq(n, want, wn, 4);
	barrier(B_Y);
	assert_never_empty(seen());
	h_finish();
}

/*
 * Self-sends. From GO_SELF's handler (a ring message) T sends itself X1,
 * U a PING, itself X2: the local queue is [X1, PING, X2], U's answer Y
 * goes behind X2, and all of it is handled in GO_SELF's batch. The Z that
 * end_batch sends itself is the next batch's.
 */
static void test_batch_self_send_order(void **state)
{
	static const uint32_t want[] = {B_GO_SELF, B_X, B_X, B_Y,
					EOB,	   B_Z, EOB},
			      wn[] = {0, 0, 0, 0, 4, 0, 1};
	unsigned n;

	(void)state;
	U = start(0);
	assert_started();
	n = seen();
	h_send(T, B_GO_SELF, NULL, 0);
	wait_records(n + 7);
	assert_seq(n, want, wn, 7);
	assert_true(rec[n + 1].v == 1 && rec[n + 2].v == 2);
	barrier(B_Y);
	assert_never_empty(seen());
	h_finish();
}

/* T moves in a handler: no call on the shard it left, one after its
 * MIGRATED on the new shard, for both messages. */
static void test_batch_after_migration(void **state)
{
	static const uint32_t want[] = {B_MOVE, PN_MSG_MIGRATED, EOB},
			      wn[] = {0, 0, 2};
	unsigned n;

	(void)state;
	start(0);
	assert_started();
	n = seen();
	h_send(T, B_MOVE, NULL, 0);
	wait_records(n + 3);
	assert_seq(n, want, wn, 3);
	assert_int_equal(rec[n].shard, 0);
	assert_int_equal(rec[n + 1].shard, 1);
	assert_int_equal(rec[n + 2].shard, 1);
	barrier(B_Y);
	assert_int_equal(rec[seen() - 1].shard, 1);
	assert_never_empty(seen());
	h_finish();
}

/* end_batch's return counts as a handler's: < 0 fails the actor. */
static void test_batch_return_fails(void **state)
{
	static const uint32_t want[] = {B_FAIL, EOB}, wn[] = {0, 1};
	unsigned n;

	(void)state;
	start(0);
	assert_started();
	n = seen();
	h_send(T, B_FAIL, NULL, 0);
	h_expect(9); /* cleanup */
	wait_records(n + 2);
	assert_seq(n, want, wn, 2);
	h_finish();
	assert_int_equal(ncleanup, 1);
	assert_int_equal(failed_reason, PN_REASON_FAILED);
	assert_int_equal(seen(), n + 2); /* nothing after */
}

#define B(f) cmocka_unit_test_setup_teardown(f, setup, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		B(test_batch_local_cut),       B(test_batch_ring),
		B(test_batch_not_when_idle),   B(test_batch_self_send_order),
		B(test_batch_after_migration), B(test_batch_return_fails),
	};

	return cmocka_run_group_tests_name("batch", tests, NULL, NULL);
}
