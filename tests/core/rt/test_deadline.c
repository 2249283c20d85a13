// SPDX-License-Identifier: MIT
/*
 * Timeouts saturate: UINT64_MAX (PN_FOREVER) means no deadline wherever
 * a Pinion call takes a timeout, and a sum that would wrap never turns
 * into an instant timeout: shutdown, pn_runtime_wait(), pn_inject(),
 * pn_supervisor_start(), timers and request timeouts (also after the
 * actor has migrated, when the time left is carried over). Also the
 * timer tick's upper bound.
 */
#include "harness.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

enum { MSG_GO = 1, MSG_TICK, MSG_CHECK, MSG_ASK, MSG_HOLD, MSG_DATA };
enum { CODE_OK = 1, CODE_EARLY = 2, CODE_LATER = 3 };

/* An idle runtime shut down with no deadline: done at once, cleanly.
 * (The deadline used to wrap to the past: every shard was abandoned.) */
static void test_deadline_shutdown_forever(void **state)
{
	struct pn_shutdown_report r;

	(void)state;
	h_start(NULL);
	assert_int_equal(pn_runtime_shutdown(h_rt, PN_FOREVER, &r), 0);
	assert_int_equal(r.shards_abandoned, 0);
	assert_string_equal(r.text, "");
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
}

/* Notifies CODE_LATER 20 ms after it starts. */
static int later_handle(struct pn_ctx *ctx, void *st, const struct pn_msg *m)
{
	(void)st;
	if (m->type == PN_MSG_STARTED)
		return pn_send_after(ctx, 20 * H_MS, MSG_TICK, NULL, 0, NULL);
	if (m->type == MSG_TICK)
		pn_runtime_notify(pn_ctx_runtime(ctx), CODE_LATER);
	return 0;
}

static const struct pn_behaviour later_b = {.name = "deadline.later",
					    .handle = later_handle};

/* pn_runtime_wait() with no deadline waits for the code (it used to
 * return -ETIMEDOUT at once). */
static void test_deadline_wait_forever(void **state)
{
	int code = 0;

	(void)state;
	h_start(NULL);
	h_spawn(&later_b, 0, NULL, 0);
	assert_int_equal(pn_runtime_wait(h_rt, PN_FOREVER, &code), 0);
	assert_int_equal(code, CODE_LATER);
	h_finish();
}

/* --- pn_inject() into a full ring, no deadline ------------------------- */

static _Atomic bool hold_release;

/* HOLD: keep the shard busy until a TICK 20 ms later releases it. */
static int hold_handle(struct pn_ctx *ctx, void *st, const struct pn_msg *m)
{
	(void)ctx;
	(void)st;
	if (m->type == MSG_HOLD)
		while (!atomic_load(&hold_release))
			sched_yield();
	return 0;
}

static int release_handle(struct pn_ctx *ctx, void *st, const struct pn_msg *m)
{
	(void)st;
	if (m->type == MSG_GO)
		return pn_send_after(ctx, 20 * H_MS, MSG_TICK, NULL, 0, NULL);
	if (m->type == MSG_TICK)
		atomic_store(&hold_release, true);
	return 0;
}

static const struct pn_behaviour hold_b = {.name = "deadline.hold",
					   .handle = hold_handle};
static const struct pn_behaviour release_b = {.name = "deadline.release",
					      .handle = release_handle};

static void test_deadline_inject_forever(void **state)
{
	struct pn_producer *p;
	struct pn_config c;
	pn_pid hold, rel;

	(void)state;
	atomic_store(&hold_release, false);
	h_config(&c);
	c.ring_slots = 4;
	h_start(&c);
	hold = h_spawn(&hold_b, 1, NULL, 0);
	rel = h_spawn(&release_b, 0, NULL, 0);
	assert_int_equal(pn_producer_create(h_rt, &p), 0);
	assert_int_equal(pn_inject_try(p, hold, MSG_HOLD, NULL, 0), 0);
	while (pn_inject_try(p, hold, MSG_DATA, NULL, 0) == 0)
		;
	/* The ring is full; the holder lets go 20 ms after GO. */
	assert_int_equal(pn_inject_try(p, rel, MSG_GO, NULL, 0), 0);
	assert_int_equal(pn_inject(p, hold, MSG_DATA, NULL, 0, PN_FOREVER), 0);
	pn_producer_destroy(p);
	h_finish();
}

/* --- timers and requests with no deadline, across a move ------------------
 */

/* Arms a timer and a request with no deadline, moves to shard 1, then
 * checks 30 ms later that neither has fired. */
static int mover_handle(struct pn_ctx *ctx, void *st, const struct pn_msg *m)
{
	pn_pid *silent = st;

	switch (m->type) {
	case MSG_GO:
		memcpy(silent, pn_msg_data(m), sizeof(*silent));
		if (pn_send_after(ctx, PN_FOREVER, MSG_TICK, NULL, 0, NULL) ||
		    pn_request(ctx, *silent, MSG_ASK, NULL, 0, PN_FOREVER,
			       NULL))
			return -EIO;
		return pn_migrate(ctx, 1);
	case PN_MSG_MIGRATED:
		return pn_send_after(ctx, 30 * H_MS, MSG_CHECK, NULL, 0, NULL);
	case MSG_CHECK:
		pn_runtime_notify(pn_ctx_runtime(ctx), CODE_OK);
		return 0;
	case MSG_TICK:
	case PN_MSG_TIMEOUT:
		pn_runtime_notify(pn_ctx_runtime(ctx), CODE_EARLY);
		return 0;
	}
	return 0;
}

static int silent_handle(struct pn_ctx *ctx, void *st, const struct pn_msg *m)
{
	(void)ctx;
	(void)st;
	(void)m;
	return 0; /* never replies */
}

static const struct pn_behaviour mover_b = {.name = "deadline.mover",
					    .state_size = sizeof(pn_pid),
					    .handle = mover_handle};
static const struct pn_behaviour silent_b = {.name = "deadline.silent",
					     .handle = silent_handle};

/* The time left of a timer or request due "never" was computed from a
 * wrapped sum: after a move it fired at once. */
static void test_deadline_timers_survive_move(void **state)
{
	pn_pid mover, silent;

	(void)state;
	h_start(NULL);
	silent = h_spawn(&silent_b, 1, NULL, 0);
	mover = h_spawn(&mover_b, 0, NULL, 0);
	h_send(mover, MSG_GO, &silent, sizeof(silent));
	h_expect(CODE_OK);
	h_finish();
}

/* A supervisor started with no deadline waits for its tree. */
static int child_handle(struct pn_ctx *ctx, void *st, const struct pn_msg *m)
{
	(void)ctx;
	(void)st;
	(void)m;
	return 0;
}

static const struct pn_behaviour child_b = {.name = "deadline.child",
					    .handle = child_handle};

static void test_deadline_supervisor_start_forever(void **state)
{
	static const struct pn_child_spec kids[] = {{.b = &child_b}};
	static const struct pn_sup_spec sup = {
		.name = "forever", .children = kids, .nchildren = 1};
	pn_pid pid;

	(void)state;
	h_start(NULL);
	assert_int_equal(pn_supervisor_start(h_rt, &sup, PN_FOREVER, &pid), 0);
	h_finish();
}

/* A tick over 1 s would let no timer fire in practice: refused. */
static void test_deadline_tick_bounded(void **state)
{
	struct pn_runtime *rt = NULL;
	struct pn_config c;

	(void)state;
	h_config(&c);
	c.timer_tick_ns = UINT64_MAX;
	assert_int_equal(pn_runtime_create(&c, &rt), -EINVAL);
	assert_non_null(strstr(pn_last_error(), "timer_tick_ns"));
	c.timer_tick_ns = 1000000001ull;
	assert_int_equal(pn_runtime_create(&c, &rt), -EINVAL);
	c.timer_tick_ns = 1000000000ull;
	assert_int_equal(pn_runtime_create(&c, &rt), 0);
	pn_runtime_destroy(rt);
}

/* pn_deadline_ns() itself. */
static void test_deadline_saturates(void **state)
{
	(void)state;
	assert_int_equal(pn_deadline_ns(5, 7), 12);
	assert_int_equal(pn_deadline_ns(5, UINT64_MAX), UINT64_MAX);
	assert_int_equal(pn_deadline_ns(UINT64_MAX - 3, 3), UINT64_MAX);
	assert_int_equal(pn_deadline_ns(UINT64_MAX - 3, 4), UINT64_MAX);
	assert_int_equal(pn_deadline_ns(0, 0), 0);
}

#define T(f) cmocka_unit_test_teardown(f, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_deadline_shutdown_forever),
		T(test_deadline_wait_forever),
		T(test_deadline_inject_forever),
		T(test_deadline_timers_survive_move),
		T(test_deadline_supervisor_start_forever),
		T(test_deadline_tick_bounded),
		T(test_deadline_saturates),
	};

	return cmocka_run_group_tests_name("deadline", tests, NULL, NULL);
}
