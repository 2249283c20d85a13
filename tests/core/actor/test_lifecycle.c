// SPDX-License-Identifier: MIT
/*
 * An actor's life and death (core/actor/actor.c): pn_stop() of itself and of
 * another (STOPPING, then cleanup, with the reason), a handler returning
 * PN_STOP or < 0, pn_fail(), pn_kill() (no STOPPING); monitors (DOWN with
 * the reason, NOPROC for the dead), pn_demonitor(); links (abnormal exits
 * spread, normal ones do not, trapping turns them into PN_MSG_EXIT, a link
 * to the dead is NOPROC), pn_unlink(); and PIDs: a stale one never reaches
 * the next actor in its slot, and a slot whose generation would wrap is
 * retired.
 *
 * Ordering used to know that something did NOT happen: messages from one
 * sender to one receiver arrive in order, so a poke sent after the thing
 * that would have caused a message arrives after that message would have.
 */
#include "harness.h"

/* For the retired-slot test only: it forces a slot's generation. */
#include "core_int.h"

#include <errno.h>
#include <string.h>

static struct h_puppet A, B, W, X, C[4];

static int setup(void **state)
{
	(void)state;
	h_puppet_init(&A, 1);
	h_puppet_init(&B, 2);
	h_puppet_init(&W, 3);
	h_puppet_init(&X, 4);
	for (int i = 0; i < 4; i++)
		h_puppet_init(&C[i], 10 + i);
	return 0;
}

/* @w monitors @a, and knows @a has taken the monitor when this returns. */
static void monitor_sync(struct h_puppet *w, struct h_puppet *a)
{
	h_cmd(w->self, H_MONITOR, 0, 0, a->self, 0);
	h_cmd(w->self, H_POKE, 0, 55, a->self, 0);
	h_expect(55);
}

/* @a links @b, and @b has taken the link when this returns. */
static void link_sync(struct h_puppet *a, struct h_puppet *b)
{
	h_cmd(a->self, H_LINK, 0, 0, b->self, 0);
	h_cmd(a->self, H_POKE, 0, 56, b->self, 0);
	h_expect(56);
}

/* The int32 reason in @p's STOPPING, which must be its last message
 * before cleanup; -1 when it got none. */
static int stopping_reason(const struct h_puppet *p)
{
	int i = h_find(p, PN_MSG_STOPPING, 0);
	int32_t r;

	if (i < 0)
		return -1;
	assert_int_equal(h_count(p, PN_MSG_STOPPING), 1);
	assert_int_equal(p->log[i].len, sizeof(r));
	assert_int_equal(p->cleanup_at, (unsigned)i + 1);
	memcpy(&r, p->log[i].data, sizeof(r));
	return r;
}

/* Start A on shard 0 (cleanup notifies) watched by W on shard 1. */
static void start_watched(void)
{
	h_start(NULL);
	A.notify_mask = H_BIT(H_EV_CLEANUP);
	W.notify_mask = H_BIT(H_EV_DOWN);
	h_puppet_spawn(&A, 0);
	h_puppet_spawn(&W, 1);
	monitor_sync(&W, &A);
}

/* Wait for A's cleanup and W's DOWN (and @also, if not 0); check. */
static void expect_down_and(int reason, int detail, int also)
{
	int codes[3] = {H_CODE(&A, H_EV_CLEANUP), H_CODE(&W, H_EV_DOWN), also};
	struct pn_down d;
	int i;

	h_expect_all(codes, also ? 3 : 2);
	assert_int_equal(A.cleanups, 1);
	assert_int_equal(A.cleanup_reason, reason);
	i = h_find(&W, PN_MSG_DOWN, 0);
	d = h_down(&W, i);
	assert_true(d.pid == A.self);
	assert_true(W.log[i].from == A.self);
	assert_int_equal(d.reason, reason);
	assert_int_equal(d.detail, detail);
}

static void expect_down(int reason, int detail)
{
	expect_down_and(reason, detail, 0);
}

/* --- ways to stop ------------------------------------------------------ */

static void test_lifecycle_stop_self(void **state)
{
	(void)state;
	start_watched();
	h_cmd(A.self, H_STOP, 0, 0, A.self, 0);
	expect_down(PN_REASON_NORMAL, 0);
	assert_int_equal(A.rc[A.nrc - 1], 0);
	assert_int_equal(stopping_reason(&A), PN_REASON_NORMAL);
	/* STOPPING came after the handler that asked, as the last thing. */
	assert_int_equal(A.log[A.n - 2].type, H_MSG_CMD);
	h_finish();
}

static void test_lifecycle_stop_other_after_earlier_messages(void **state)
{
	(void)state;
	start_watched();
	for (uint64_t v = 1; v <= 3; v++)
		h_cmd(W.self, H_SEND, 0, 0, A.self, v);
	h_cmd(W.self, H_STOP, 0, 0, A.self, 0);
	expect_down(PN_REASON_NORMAL, 0);
	assert_int_equal(stopping_reason(&A), PN_REASON_NORMAL);
	/* The three messages W sent first were handled first. */
	for (unsigned k = 0; k < 3; k++) {
		int i = h_find(&A, H_MSG_DATA, k);
		uint64_t v;

		assert_true(i >= 0 && i < h_find(&A, PN_MSG_STOPPING, 0));
		memcpy(&v, A.log[i].data, sizeof(v));
		assert_int_equal(v, k + 1);
	}
	h_finish();
}

static void test_lifecycle_return_stop(void **state)
{
	(void)state;
	start_watched();
	h_cmd(A.self, H_RETURN, 0, PN_STOP, 0, 0);
	expect_down(PN_REASON_NORMAL, 0);
	assert_int_equal(stopping_reason(&A), PN_REASON_NORMAL);
	h_finish();
}

static void test_lifecycle_return_negative_fails(void **state)
{
	(void)state;
	start_watched();
	h_cmd(A.self, H_RETURN, 0, -7, 0, 0);
	expect_down(PN_REASON_FAILED, -7);
	h_finish();
}

static void test_lifecycle_fail(void **state)
{
	(void)state;
	start_watched();
	h_cmd(A.self, H_FAIL, 0, -9, 0, 0);
	expect_down(PN_REASON_FAILED, -9);
	h_finish();
}

/* On DATA: pn_fail(-11), then return PN_STOP. */
static int fail_then_stop_hook(struct pn_ctx *ctx, struct h_puppet *p,
			       const struct pn_msg *m)
{
	(void)p;
	if (m->type != H_MSG_DATA)
		return H_DEFAULT;
	pn_fail(ctx, -11);
	return PN_STOP;
}

static void test_lifecycle_fail_wins_over_stop(void **state)
{
	(void)state;
	A.hook = fail_then_stop_hook;
	start_watched();
	h_send(A.self, H_MSG_DATA, NULL, 0);
	expect_down(PN_REASON_FAILED, -11);
	h_finish();
}

static void test_lifecycle_kill_self(void **state)
{
	(void)state;
	start_watched();
	h_cmd(A.self, H_KILL, 0, 0, A.self, 0);
	expect_down(PN_REASON_KILLED, 0);
	assert_int_equal(stopping_reason(&A), -1); /* no STOPPING */
	h_finish();
}

static void test_lifecycle_kill_other(void **state)
{
	struct pn_shard_stats st;

	(void)state;
	start_watched();
	B.notify_mask = H_BIT(H_EV_DATA);
	h_puppet_spawn(&B, 0); /* A's shard */
	h_cmd(W.self, H_SEND, 0, 0, A.self, 1);
	h_cmd(W.self, H_KILL, 0, 0, A.self, 0);
	h_cmd(W.self, H_SEND, 0, 0, A.self, 2);
	h_cmd(W.self, H_SEND, 0, 0, B.self, 3);
	expect_down_and(PN_REASON_KILLED, 0, H_CODE(&B, H_EV_DATA));
	/* A handled the message sent before the kill, no STOPPING; the one
	 * sent after it was a dead letter (known once B has W's next). */
	assert_int_equal(h_count(&A, H_MSG_DATA), 1);
	assert_int_equal(stopping_reason(&A), -1);
	st = h_stats(0);
	assert_int_equal(st.dead_letters, 1);
	h_finish();
}

/* --- monitors ------------------------------------------------------------ */

static void test_lifecycle_monitor_dead_is_noproc(void **state)
{
	pn_pid never = pn_pid_make(0, 5000, 3);
	struct pn_down d;

	(void)state;
	start_watched();
	h_cmd(A.self, H_STOP, 0, 0, A.self, 0);
	expect_down(PN_REASON_NORMAL, 0);
	/* Monitoring the dead, or a PID that never lived: DOWN at once. */
	h_cmd(W.self, H_MONITOR, 0, 0, A.self, 0);
	h_expect(H_CODE(&W, H_EV_DOWN));
	h_cmd(W.self, H_MONITOR, 0, 0, never, 0);
	h_expect(H_CODE(&W, H_EV_DOWN));
	d = h_down(&W, h_find(&W, PN_MSG_DOWN, 1));
	assert_true(d.pid == A.self);
	assert_int_equal(d.reason, PN_REASON_NOPROC);
	d = h_down(&W, h_find(&W, PN_MSG_DOWN, 2));
	assert_true(d.pid == never);
	assert_int_equal(d.reason, PN_REASON_NOPROC);
	/* Invalid PIDs are refused. */
	h_cmd(W.self, H_MONITOR, 0, 0, PN_PID_NONE, 0);
	h_cmd(W.self, H_MONITOR, 0, 0, pn_pid_make(9, 0, 1), 0);
	h_cmd(W.self, H_DEMONITOR, 57, 0, PN_PID_NONE, 0);
	h_expect(57);
	assert_int_equal(W.rc[W.nrc - 3], -EINVAL);
	assert_int_equal(W.rc[W.nrc - 2], -EINVAL);
	assert_int_equal(W.rc[W.nrc - 1], -EINVAL);
	h_finish();
	assert_int_equal(h_count(&W, PN_MSG_DOWN), 3);
}

static void test_lifecycle_demonitor(void **state)
{
	(void)state;
	h_start(NULL);
	/* W and A on one shard: monitor twice, demonitor once, stop. */
	W.notify_mask = H_BIT(H_EV_DOWN);
	h_puppet_spawn(&W, 0);
	h_puppet_spawn(&A, 0);
	h_cmd(W.self, H_MONITOR, 0, 0, A.self, 0);
	h_cmd(W.self, H_MONITOR, 0, 0, A.self, 0);
	h_cmd(W.self, H_DEMONITOR, 0, 0, A.self, 0);
	h_cmd(W.self, H_STOP, 0, 0, A.self, 0);
	h_expect(H_CODE(&W, H_EV_DOWN));
	/* A sent its DOWNs one after the other; a poke from A's shard
	 * queued now comes after any second one. */
	h_puppet_spawn(&B, 0);
	h_cmd(B.self, H_POKE, 0, 58, W.self, 0);
	h_expect(58);
	assert_int_equal(h_count(&W, PN_MSG_DOWN), 1);
	/* Across shards: monitor, demonitor, stop: no DOWN at all. */
	X.notify_mask = H_BIT(H_EV_CLEANUP);
	h_puppet_spawn(&X, 1);
	h_cmd(W.self, H_MONITOR, 0, 0, X.self, 0);
	h_cmd(W.self, H_DEMONITOR, 0, 0, X.self, 0);
	h_cmd(W.self, H_STOP, 0, 0, X.self, 0);
	h_expect(H_CODE(&X, H_EV_CLEANUP));
	h_puppet_spawn(&C[0], 1);
	h_cmd(C[0].self, H_POKE, 0, 59, W.self, 0);
	h_expect(59);
	assert_int_equal(h_count(&W, PN_MSG_DOWN), 1);
	h_finish();
}

/* --- links ------------------------------------------------------------- */

static void test_lifecycle_link_abnormal_stops_linked(void **state)
{
	(void)state;
	start_watched();
	h_puppet_spawn(&B, 1);
	link_sync(&A, &B);
	h_cmd(B.self, H_RETURN, 0, -7, 0, 0);
	expect_down(PN_REASON_LINKED, 0);
	/* And the other way round: the linker fails, the linked stops. */
	C[0].notify_mask = H_BIT(H_EV_CLEANUP);
	h_puppet_spawn(&C[0], 0);
	h_puppet_spawn(&C[1], 1);
	link_sync(&C[1], &C[0]);
	h_cmd(C[1].self, H_FAIL, 0, -3, 0, 0);
	h_expect(H_CODE(&C[0], H_EV_CLEANUP));
	assert_int_equal(C[0].cleanup_reason, PN_REASON_LINKED);
	h_finish();
}

/* B (shard 1) stops; is A (shard 0), linked to it, still alive? A poke
 * from B's shard, queued after B's exit signal, tells. */
static void assert_alive_after(struct h_puppet *b_friend, int code)
{
	h_cmd(b_friend->self, H_POKE, 0, code, A.self, 0);
	h_expect(code);
	assert_int_equal(A.cleanups, 0);
}

static void test_lifecycle_link_normal_exit_does_not_spread(void **state)
{
	(void)state;
	h_start(NULL);
	h_puppet_spawn(&A, 0);
	B.notify_mask = H_BIT(H_EV_CLEANUP);
	h_puppet_spawn(&B, 1);
	h_puppet_spawn(&C[0], 1);
	link_sync(&A, &B);
	h_cmd(B.self, H_STOP, 0, 0, B.self, 0);
	h_expect(H_CODE(&B, H_EV_CLEANUP));
	assert_alive_after(&C[0], 60);
	assert_int_equal(h_count(&A, PN_MSG_EXIT), 0);
	h_finish();
}

static void test_lifecycle_unlink(void **state)
{
	(void)state;
	h_start(NULL);
	h_puppet_spawn(&A, 0);
	B.notify_mask = H_BIT(H_EV_CLEANUP);
	h_puppet_spawn(&B, 1);
	h_puppet_spawn(&C[0], 1);
	link_sync(&A, &B);
	h_cmd(A.self, H_UNLINK, 0, 0, B.self, 0);
	h_cmd(A.self, H_POKE, 0, 61, B.self, 0);
	h_expect(61);
	h_cmd(B.self, H_RETURN, 0, -7, 0, 0);
	h_expect(H_CODE(&B, H_EV_CLEANUP));
	assert_alive_after(&C[0], 62);
	h_cmd(A.self, H_UNLINK, 63, 0, PN_PID_NONE, 0);
	h_expect(63);
	assert_int_equal(A.rc[A.nrc - 1], -EINVAL);
	h_finish();
}

static void assert_exit(const struct h_puppet *p, unsigned k, pn_pid who,
			int reason, int detail)
{
	int i = h_find(p, PN_MSG_EXIT, k);
	struct pn_down d = h_down(p, i);

	assert_true(d.pid == who);
	assert_true(p->log[i].from == who);
	assert_int_equal(d.reason, reason);
	assert_int_equal(d.detail, detail);
}

static void test_lifecycle_trap_exit(void **state)
{
	(void)state;
	h_start(NULL);
	A.notify_mask = H_BIT(H_EV_EXIT) | H_BIT(H_EV_CLEANUP);
	h_puppet_spawn(&A, 0);
	h_cmd(A.self, H_TRAP, 0, 1, 0, 0);
	/* A failure of the linked arrives as EXIT; A lives on. */
	h_puppet_spawn(&B, 1);
	link_sync(&A, &B);
	h_cmd(B.self, H_RETURN, 0, -7, 0, 0);
	h_expect(H_CODE(&A, H_EV_EXIT));
	assert_exit(&A, 0, B.self, PN_REASON_FAILED, -7);
	/* Trapping actors hear of normal stops too. */
	h_puppet_spawn(&C[0], 1);
	link_sync(&A, &C[0]);
	h_cmd(C[0].self, H_STOP, 0, 0, C[0].self, 0);
	h_expect(H_CODE(&A, H_EV_EXIT));
	assert_exit(&A, 1, C[0].self, PN_REASON_NORMAL, 0);
	assert_int_equal(A.cleanups, 0);
	/* Trapping off again: the next failure stops A. */
	h_cmd(A.self, H_TRAP, 0, 0, 0, 0);
	h_puppet_spawn(&C[1], 1);
	link_sync(&A, &C[1]);
	h_cmd(C[1].self, H_FAIL, 0, -2, 0, 0);
	h_expect(H_CODE(&A, H_EV_CLEANUP));
	assert_int_equal(A.cleanup_reason, PN_REASON_LINKED);
	assert_int_equal(h_count(&A, PN_MSG_EXIT), 2);
	h_finish();
}

static void test_lifecycle_link_to_dead(void **state)
{
	(void)state;
	h_start(NULL);
	X.notify_mask = H_BIT(H_EV_CLEANUP);
	h_puppet_spawn(&X, 1);
	h_cmd(X.self, H_STOP, 0, 0, X.self, 0);
	h_expect(H_CODE(&X, H_EV_CLEANUP));
	/* Trapping: EXIT with NOPROC. */
	A.notify_mask = H_BIT(H_EV_EXIT);
	h_puppet_spawn(&A, 0);
	h_cmd(A.self, H_TRAP, 0, 1, 0, 0);
	h_cmd(A.self, H_LINK, 0, 0, X.self, 0);
	h_expect(H_CODE(&A, H_EV_EXIT));
	assert_exit(&A, 0, X.self, PN_REASON_NOPROC, 0);
	/* Not trapping: as if the dead had failed, so it stops, LINKED. */
	B.notify_mask = H_BIT(H_EV_CLEANUP);
	h_puppet_spawn(&B, 0);
	h_cmd(B.self, H_LINK, 0, 0, X.self, 0);
	h_expect(H_CODE(&B, H_EV_CLEANUP));
	assert_int_equal(B.cleanup_reason, PN_REASON_LINKED);
	/* Invalid PIDs are refused. */
	h_cmd(A.self, H_LINK, 0, 0, PN_PID_NONE, 0);
	h_cmd(A.self, H_LINK, 64, 0, pn_pid_make(5, 1, 1), 0);
	h_expect(64);
	assert_int_equal(A.rc[A.nrc - 2], -EINVAL);
	assert_int_equal(A.rc[A.nrc - 1], -EINVAL);
	h_finish();
}

static void test_lifecycle_stop_kill_invalid_or_dead(void **state)
{
	(void)state;
	start_watched();
	h_cmd(W.self, H_STOP, 0, 0, PN_PID_NONE, 0);
	/* Shard 2 is the supervisor shard; 3 does not exist. */
	h_cmd(W.self, H_STOP, 0, 0, pn_pid_make(3, 0, 1), 0);
	h_cmd(W.self, H_KILL, 0, 0, PN_PID_NONE, 0);
	h_cmd(W.self, H_KILL, 0, 0, pn_pid_make(1000, 0, 1), 0);
	h_cmd(W.self, H_STOP, 0, 0, A.self, 0);
	expect_down(PN_REASON_NORMAL, 0);
	/* Stopping or killing the dead: a no-op that succeeds. */
	h_cmd(W.self, H_STOP, 0, 0, A.self, 0);
	h_cmd(W.self, H_KILL, 65, 0, A.self, 0);
	h_expect(65);
	/* rc[0] and rc[1] are monitor_sync's. */
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(W.rc[2 + i], -EINVAL);
	assert_int_equal(W.rc[6], 0);
	assert_int_equal(W.rc[7], 0);
	assert_int_equal(W.rc[8], 0);
	h_finish();
	assert_int_equal(A.cleanups, 1);
	assert_int_equal(h_count(&W, PN_MSG_DOWN), 1);
}

/* --- stale PIDs and slot reuse ------------------------------------------ */

/* D on shard 0 spawns X on @shard, stops it, spawns C[0] on @shard into
 * X's slot, then aims everything at X's stale PID. */
static void stale_pid_round(int shard)
{
	pn_pid d, x, y;
	struct pn_down dn;

	h_start(NULL);
	W.notify_mask = H_BIT(H_EV_DOWN) | H_BIT(H_EV_EXIT);
	d = h_puppet_spawn(&W, 0);
	h_cmd(d, H_SPAWN, 70, shard, PN_SPAWN_MONITOR, (uintptr_t)&X);
	h_expect(70);
	x = W.spawned;
	h_cmd(d, H_STOP, 0, 0, x, 0);
	h_expect(H_CODE(&W, H_EV_DOWN));
	C[0].notify_mask = H_BIT(H_EV_DATA);
	h_cmd(d, H_SPAWN, 71, shard, 0, (uintptr_t)&C[0]);
	h_expect(71);
	y = W.spawned;
	assert_int_equal(pn_pid_slot(y), pn_pid_slot(x));
	assert_true(pn_pid_gen(y) != pn_pid_gen(x));
	/* Everything at x: a message, stop, kill, a monitor, a link. */
	h_cmd(d, H_TRAP, 0, 1, 0, 0);
	h_cmd(d, H_SEND, 0, 0, x, 1);
	h_cmd(d, H_STOP, 0, 0, x, 0);
	h_cmd(d, H_KILL, 0, 0, x, 0);
	h_cmd(d, H_MONITOR, 0, 0, x, 0);
	h_expect(H_CODE(&W, H_EV_DOWN));
	h_cmd(d, H_LINK, 0, 0, x, 0);
	h_expect(H_CODE(&W, H_EV_EXIT));
	dn = h_down(&W, h_find(&W, PN_MSG_DOWN, 1));
	assert_true(dn.pid == x);
	assert_int_equal(dn.reason, PN_REASON_NOPROC);
	assert_exit(&W, 0, x, PN_REASON_NOPROC, 0);
	/* y, in x's slot, gets only what is sent to it. */
	h_cmd(d, H_SEND, 0, 0, y, 2);
	h_expect(H_CODE(&C[0], H_EV_DATA));
	assert_int_equal(C[0].n, 2);
	assert_int_equal(C[0].log[0].type, PN_MSG_STARTED);
	assert_int_equal(C[0].log[1].type, H_MSG_DATA);
	assert_int_equal(C[0].log[1].data[0], 2);
	assert_int_equal(C[0].cleanups, 0);
	/* The message to x (W's 5th command): refused on x's own shard,
	 * which knows its slot has moved on; from another shard accepted,
	 * and a dead letter where x lived. */
	assert_int_equal(W.rc[4], shard == 0 ? -ESRCH : 0);
	assert_int_equal(h_stats((unsigned)shard).dead_letters,
			 shard == 0 ? 0 : 1);
	h_finish();
}

static void test_lifecycle_stale_pid_local(void **state)
{
	(void)state;
	stale_pid_round(0);
}

static void test_lifecycle_stale_pid_remote(void **state)
{
	(void)state;
	stale_pid_round(1);
}

static unsigned dead_letters;

static void count_dead(void *arg, unsigned shard, const struct pn_msg *m)
{
	(void)arg, (void)shard, (void)m;
	dead_letters++;
}

/*
 * A slot whose generation would wrap is retired: never handed out again,
 * and what is sent to its last PID is a dead letter (pn_msg.h). Its
 * generation is forced near the end while the slot is free.
 */
static void test_lifecycle_retired_slot(void **state)
{
	struct pn_config c;
	pn_pid d, x, y;

	(void)state;
	dead_letters = 0;
	h_config(&c);
	c.dead_letter = count_dead;
	h_start(&c);
	W.notify_mask = H_BIT(H_EV_DOWN) | H_BIT(H_EV_DATA);
	d = h_puppet_spawn(&W, 0);
	h_cmd(d, H_SPAWN, 70, 0, PN_SPAWN_MONITOR, (uintptr_t)&X);
	h_expect(70);
	x = W.spawned;
	h_cmd(d, H_STOP, 0, 0, x, 0);
	h_expect(H_CODE(&W, H_EV_DOWN));
	/* The slot is free and shard 0 does not touch it until a spawn; the
	 * producer ring orders this store before the next command. */
	atomic_store(&h_rt->shard[0]->slots[pn_pid_slot(x)].gen, UINT32_MAX);
	h_cmd(d, H_SPAWN, 71, 0, PN_SPAWN_MONITOR, (uintptr_t)&C[0]);
	h_expect(71);
	y = W.spawned;
	assert_int_equal(pn_pid_slot(y), pn_pid_slot(x));
	assert_int_equal(pn_pid_gen(y), UINT32_MAX);
	h_cmd(d, H_STOP, 0, 0, y, 0);
	h_expect(H_CODE(&W, H_EV_DOWN));
	/* Retired: the next spawn takes another slot... */
	h_cmd(d, H_SPAWN, 72, 0, 0, (uintptr_t)&C[1]);
	h_expect(72);
	assert_int_equal(W.rc[W.nrc - 1], 0);
	assert_true(pn_pid_slot(W.spawned) != pn_pid_slot(y));
	/* ...and y's PID, like any dead one, gives dead letters. */
	h_cmd(d, H_SEND, 0, 0, y, 1);
	h_cmd(d, H_SEND, 0, 0, d, 2);
	h_expect(H_CODE(&W, H_EV_DATA));
	assert_int_equal(dead_letters, 1);
	h_finish();
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_lifecycle_stop_self),
		T(test_lifecycle_stop_other_after_earlier_messages),
		T(test_lifecycle_return_stop),
		T(test_lifecycle_return_negative_fails),
		T(test_lifecycle_fail),
		T(test_lifecycle_fail_wins_over_stop),
		T(test_lifecycle_kill_self),
		T(test_lifecycle_kill_other),
		T(test_lifecycle_monitor_dead_is_noproc),
		T(test_lifecycle_demonitor),
		T(test_lifecycle_link_abnormal_stops_linked),
		T(test_lifecycle_link_normal_exit_does_not_spread),
		T(test_lifecycle_unlink),
		T(test_lifecycle_trap_exit),
		T(test_lifecycle_link_to_dead),
		T(test_lifecycle_stop_kill_invalid_or_dead),
		T(test_lifecycle_stale_pid_local),
		T(test_lifecycle_stale_pid_remote),
		T(test_lifecycle_retired_slot),
	};

	return cmocka_run_group_tests_name("lifecycle", tests, NULL, NULL);
}
