// SPDX-License-Identifier: MIT
/*
 * Misuse gets a clear error and loses nothing: a handler-only call made
 * from another thread with a saved ctx (-EPERM), payloads at NULL with a
 * length (-EINVAL), pn_runtime_create() without somewhere to put the
 * runtime, pn_stop() of itself from init (STARTED still comes first, then
 * STOPPING), and a shard whose submission queue a handler filled still
 * wakes the shard it sends to.
 */
#include "harness.h"

#include <errno.h>
#include <liburing.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

enum { MSG_SAVE = 1, MSG_DATA, MSG_FILL };
enum { CODE_SAVED = 1, CODE_DATA = 2, CODE_STARTED = 3, CODE_STOPPING = 4 };

static struct {
	struct pn_ctx *ctx; /* saved by a handler: valid on its shard only */
	pn_pid self, peer;
	int rc[4];
} g;

static int saver_handle(struct pn_ctx *ctx, void *st, const struct pn_msg *m)
{
	(void)st;
	if (m->type == MSG_SAVE) {
		g.ctx = ctx;
		g.self = pn_self(ctx);
		/* Inside a handler, a payload at NULL with a length. */
		g.rc[0] = pn_send(ctx, g.self, MSG_DATA, NULL, 8);
		g.rc[1] = pn_send(ctx, g.self, MSG_DATA, NULL, 100);
		pn_runtime_notify(pn_ctx_runtime(ctx), CODE_SAVED);
	} else if (m->type == MSG_DATA) {
		pn_runtime_notify(pn_ctx_runtime(ctx), CODE_DATA);
	}
	return 0;
}

static const struct pn_behaviour saver_b = {.name = "misuse.saver",
					    .handle = saver_handle};

static void test_misuse_foreign_thread(void **state)
{
	pn_pid pid, child = PN_PID_NONE;

	(void)state;
	memset(&g, 0, sizeof(g));
	h_start(NULL);
	pid = h_spawn(&saver_b, 1, NULL, 0);
	h_send(pid, MSG_SAVE, NULL, 0);
	h_expect(CODE_SAVED);
	assert_int_equal(g.rc[0], -EINVAL);
	assert_int_equal(g.rc[1], -EINVAL);
	/* The test thread is not shard 1's: every handler-only call with
	 * the saved ctx is refused, and nothing reaches the actor. */
	assert_int_equal(pn_send_u64(g.ctx, g.self, MSG_DATA, 1), -EPERM);
	assert_non_null(strstr(pn_last_error(), "shard 1"));
	assert_int_equal(pn_send(g.ctx, g.self, MSG_DATA, "x", 1), -EPERM);
	assert_int_equal(pn_spawn(g.ctx, &saver_b, NULL, &child), -EPERM);
	assert_int_equal(pn_stop(g.ctx, g.self), -EPERM);
	assert_int_equal(pn_send_after(g.ctx, H_MS, MSG_DATA, NULL, 0, NULL),
			 -EPERM);
	assert_int_equal(pn_migrate(g.ctx, 0), -EPERM);
	assert_int_equal(pn_notify_writable(g.ctx), -EPERM);
	assert_int_equal(pn_send(NULL, g.self, MSG_DATA, NULL, 0), -EINVAL);
	pn_fail(g.ctx, -5);	   /* ignored: not this thread's */
	pn_trap_exit(g.ctx, true); /* likewise */
	/* The actor is unharmed and got none of them. */
	h_send(pid, MSG_DATA, NULL, 0);
	h_expect(CODE_DATA);
	h_finish();
}

static void test_misuse_null_payloads(void **state)
{
	struct pn_producer *p;
	pn_pid pid;

	(void)state;
	memset(&g, 0, sizeof(g));
	h_start(NULL);
	pid = h_spawn(&saver_b, 0, NULL, 0);
	/* This used to crash in memcpy. */
	assert_int_equal(pn_runtime_send(h_rt, pid, MSG_DATA, NULL, 100, H_SEC),
			 -EINVAL);
	assert_non_null(strstr(pn_last_error(), "NULL"));
	assert_int_equal(pn_producer_create(h_rt, &p), 0);
	assert_int_equal(pn_inject_try(p, pid, MSG_DATA, NULL, 5), -EINVAL);
	assert_int_equal(pn_inject(p, pid, MSG_DATA, NULL, 40, H_SEC), -EINVAL);
	/* Length 0 at NULL is fine. */
	assert_int_equal(pn_inject(p, pid, MSG_DATA, NULL, 0, H_SEC), 0);
	h_expect(CODE_DATA);
	pn_producer_destroy(p);
	h_finish();
}

static void test_misuse_create_without_out(void **state)
{
	struct pn_config c;

	(void)state;
	h_config(&c);
	/* This used to write through NULL. */
	assert_int_equal(pn_runtime_create(&c, NULL), -EINVAL);
	assert_int_equal(pn_runtime_create(NULL, NULL), -EINVAL);
}

/* --- pn_stop(self) from init --------------------------------------------- */

static int stopper_init(struct pn_ctx *ctx, void *st, const void *arg,
			size_t len)
{
	(void)st;
	(void)arg;
	(void)len;
	return pn_stop(ctx, pn_self(ctx));
}

static int stopper_handle(struct pn_ctx *ctx, void *st, const struct pn_msg *m)
{
	(void)st;
	if (m->type == PN_MSG_STARTED)
		pn_runtime_notify(pn_ctx_runtime(ctx), CODE_STARTED);
	else if (m->type == PN_MSG_STOPPING)
		pn_runtime_notify(pn_ctx_runtime(ctx), CODE_STOPPING);
	return 0;
}

static const struct pn_behaviour stopper_b = {.name = "misuse.stopper",
					      .init = stopper_init,
					      .handle = stopper_handle};

/* STOPPING used to come before STARTED. */
static void test_misuse_stop_self_in_init(void **state)
{
	(void)state;
	h_start(NULL);
	h_spawn(&stopper_b, 1, NULL, 0);
	h_expect(CODE_STARTED);
	h_expect(CODE_STOPPING);
	h_finish();
}

/* --- a full submission queue ---------------------------------------------- */

static int filler_handle(struct pn_ctx *ctx, void *st, const struct pn_msg *m)
{
	struct io_uring *ring = pn_ctx_ring(ctx);
	struct io_uring_sqe *sqe;

	(void)st;
	if (m->type != MSG_FILL)
		return 0;
	/* Take every free SQE (NOPs without a completion), then send to an
	 * actor on a shard that is likely parked: its wake-up needs an SQE
	 * (the shard submits to make room). */
	while ((sqe = io_uring_get_sqe(ring)) != NULL) {
		io_uring_prep_nop(sqe);
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
		sqe->user_data = 0;
	}
	return pn_send(ctx, g.peer, MSG_DATA, NULL, 0);
}

static const struct pn_behaviour filler_b = {.name = "misuse.filler",
					     .handle = filler_handle};

static void test_misuse_full_sq_still_wakes(void **state)
{
	pn_pid filler;

	(void)state;
	memset(&g, 0, sizeof(g));
	h_start(NULL);
	g.peer = h_spawn(&saver_b, 1, NULL, 0);
	filler = h_spawn(&filler_b, 0, NULL, 0);
	for (int i = 0; i < 20; i++) {
		h_send(filler, MSG_FILL, NULL, 0);
		h_expect(CODE_DATA);
	}
	h_finish();
}

#define T(f) cmocka_unit_test_teardown(f, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_misuse_foreign_thread),
		T(test_misuse_null_payloads),
		T(test_misuse_create_without_out),
		T(test_misuse_stop_self_in_init),
		T(test_misuse_full_sq_still_wakes),
	};

	return cmocka_run_group_tests_name("misuse", tests, NULL, NULL);
}
