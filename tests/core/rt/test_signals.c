// SPDX-License-Identifier: MIT
/*
 * pn_runtime_signals(): process-directed signals become pn_runtime_wait()
 * codes. SIGUSR1's default action kills the process, so a single runtime
 * thread that did not inherit the blocked mask would end this test;
 * signals sent before anyone waits are kept; the errors; destroy stops
 * the waiter (ASan, TSan).
 */
#include "pinion.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include <cmocka.h>

#define BASE  1000
#define WAIT  (5 * 1000000000ull)
#define BURST 50

static struct pn_runtime *mk(void)
{
	struct pn_runtime *rt;
	struct pn_config c;

	pn_config_init(&c);
	c.plan.shards = 2;
	assert_int_equal(pn_runtime_create(&c, &rt), 0);
	return rt;
}

/* Each shard thread reports whether SIGUSR1 is blocked in it. */
static int mask_init(struct pn_ctx *ctx, void *state, const void *arg,
		     size_t len)
{
	sigset_t cur;

	(void)state;
	(void)arg;
	(void)len;
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	pn_runtime_notify(pn_ctx_runtime(ctx),
			  sigismember(&cur, SIGUSR1) == 1 ? 1 : 2);
	return 0;
}

static int mask_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	(void)ctx;
	(void)state;
	(void)m;
	return 0;
}

static const struct pn_behaviour mask_b = {
	.name = "test-mask", .init = mask_init, .handle = mask_handle};

static void test_signals_become_codes(void **state)
{
	struct pn_runtime *rt = mk();
	sigset_t s;
	int code;

	(void)state;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigaddset(&s, SIGUSR2);
	assert_int_equal(pn_runtime_signals(rt, &s, BASE), 0);
	assert_int_equal(pn_runtime_start(rt), 0);
	/* Every shard thread inherited the blocked set. */
	for (int sh = 0; sh < 3; sh++) {
		struct pn_spawn_opts o = {
			.shard = sh < 2 ? sh : PN_SHARD_SUPERVISOR};
		pn_pid p;

		assert_int_equal(pn_runtime_spawn(rt, &mask_b, &o, &p), 0);
		assert_int_equal(pn_runtime_wait(rt, WAIT, &code), 0);
		assert_int_equal(code, 1);
	}
	/* Sent before anyone waits: kept. */
	assert_int_equal(kill(getpid(), SIGUSR2), 0);
	assert_int_equal(pn_runtime_wait(rt, WAIT, &code), 0);
	assert_int_equal(code, BASE + SIGUSR2);
	/* One at a time (the kernel may merge a pending duplicate), many:
	 * each reaches the waiter, none a shard thread. */
	for (int i = 0; i < BURST; i++) {
		assert_int_equal(kill(getpid(), SIGUSR1), 0);
		assert_int_equal(pn_runtime_wait(rt, WAIT, &code), 0);
		assert_int_equal(code, BASE + SIGUSR1);
	}
	assert_int_equal(pn_runtime_shutdown(rt, WAIT, NULL), 0);
	pn_runtime_destroy(rt);
}

static void test_signals_errors(void **state)
{
	struct pn_runtime *rt = mk();
	sigset_t s;

	(void)state;
	sigemptyset(&s);
	assert_int_equal(pn_runtime_signals(rt, NULL, 0), -EINVAL);
	assert_int_equal(pn_runtime_signals(rt, &s, 0), -EINVAL);
	assert_non_null(strstr(pn_last_error(), "empty"));
	sigaddset(&s, SIGKILL);
	assert_int_equal(pn_runtime_signals(rt, &s, 0), -EINVAL);
	sigemptyset(&s);
	sigaddset(&s, SIGSEGV);
	assert_int_equal(pn_runtime_signals(rt, &s, 0), -EINVAL);
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	assert_int_equal(pn_runtime_signals(rt, &s, 0), 0);
	assert_int_equal(pn_runtime_signals(rt, &s, 0), -EALREADY);
	pn_runtime_destroy(rt); /* never started: the waiter still ends */

	rt = mk();
	assert_int_equal(pn_runtime_start(rt), 0);
	assert_int_equal(pn_runtime_signals(rt, &s, 0), -EBUSY);
	assert_non_null(strstr(pn_last_error(), "before pn_runtime_start"));
	pn_runtime_destroy(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signals_become_codes),
		cmocka_unit_test(test_signals_errors),
	};

	return cmocka_run_group_tests_name("signals", tests, NULL, NULL);
}
