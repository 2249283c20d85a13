// SPDX-License-Identifier: MIT
/*
 * The byte budget for external producers (core/sched/budget.c): admission up to
 * the limit, -EMSGSIZE, -EAGAIN, timeouts, close; and the weighted-budget
 * wake-up case with real threads: with 100 bytes all in use and two producers
 * waiting for 50 each, releasing the 100 must admit both. Threads are
 * synchronised on pn__budget_waiters() (spinning, bounded), never by sleeping;
 * the only timed waits are the timeouts under test.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include "budget.h"

#include <cmocka.h>

#define SEC	 1000000000ull
#define MS	 1000000ull
#define LIMIT	 100
#define SPIN_MAX (5 * SEC) /* bound on waiting for threads to block */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static int setup(void **state)
{
	static struct pn__budget b;

	if (pn__budget_init(&b, LIMIT) < 0)
		return -1;
	*state = &b;
	return 0;
}

static int teardown(void **state)
{
	pn__budget_fini(*state);
	return 0;
}

/*
 * A thread blocked in pn__budget_acquire(). It records how long it waited:
 * acquire rechecks once after its timeout, so a stranded waiter could
 * still return 0, but only after the whole timeout.
 */
struct waiter {
	struct pn__budget *b;
	uint64_t n;
	uint64_t timeout_ns;
	uint64_t waited_ns;
	int rc;
	pthread_t th;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	uint64_t t0 = mono_ns();

	w->rc = pn__budget_acquire(w->b, w->n, w->timeout_ns);
	w->waited_ns = mono_ns() - t0;
	return NULL;
}

static void start_waiter(struct waiter *w, struct pn__budget *b, uint64_t n)
{
	w->b = b;
	w->n = n;
	w->timeout_ns = 5 * SEC;
	w->rc = 1;
	assert_int_equal(pthread_create(&w->th, NULL, waiter_main, w), 0);
}

/* Join @w and check it was woken, not left to time out. */
static void join_waiter(struct waiter *w)
{
	assert_int_equal(pthread_join(w->th, NULL), 0);
	assert_true(w->waited_ns < w->timeout_ns);
}

/* Spin (yielding) until @n threads are in the slow path; bounded. */
static void wait_for_waiters(struct pn__budget *b, uint32_t n)
{
	uint64_t start = mono_ns();

	while (pn__budget_waiters(b) != n) {
		assert_true(mono_ns() - start < SPIN_MAX);
		sched_yield();
	}
}

static void test_budget_init_rejects_zero_limit(void **state)
{
	struct pn__budget b;

	(void)state;
	assert_int_equal(pn__budget_init(&b, 0), -EINVAL);
}

static void test_budget_admits_up_to_limit(void **state)
{
	struct pn__budget *b = *state;

	assert_int_equal(pn__budget_try_acquire(b, 60), 0);
	assert_int_equal(pn__budget_try_acquire(b, 40), 0);
	assert_int_equal(pn__budget_used(b), 100);
	assert_int_equal(pn__budget_try_acquire(b, 1), -EAGAIN);
	assert_int_equal(pn__budget_try_acquire(b, 0), 0);
	pn__budget_release(b, 40);
	assert_int_equal(pn__budget_try_acquire(b, 41), -EAGAIN);
	assert_int_equal(pn__budget_used(b), 60);
	assert_int_equal(pn__budget_acquire(b, 40, 5 * SEC), 0);
	pn__budget_release(b, 100);
	assert_int_equal(pn__budget_used(b), 0);
	assert_int_equal(pn__budget_waiters(b), 0);
}

static void test_budget_refuses_more_than_limit(void **state)
{
	struct pn__budget *b = *state;
	uint64_t t0 = mono_ns();

	assert_int_equal(pn__budget_try_acquire(b, LIMIT + 1), -EMSGSIZE);
	/* Never fits, so it must not wait for its 5 s. */
	assert_int_equal(pn__budget_acquire(b, LIMIT + 1, 5 * SEC), -EMSGSIZE);
	assert_true(mono_ns() - t0 < SEC);
	assert_int_equal(pn__budget_try_acquire(b, UINT64_MAX), -EMSGSIZE);
	assert_int_equal(pn__budget_used(b), 0);
	assert_int_equal(pn__budget_try_acquire(b, LIMIT), 0);
	pn__budget_release(b, LIMIT);
}

static void test_budget_acquire_times_out(void **state)
{
	struct pn__budget *b = *state;
	uint64_t t0;

	assert_int_equal(pn__budget_try_acquire(b, LIMIT), 0);
	assert_int_equal(pn__budget_acquire(b, 1, 0), -ETIMEDOUT);
	t0 = mono_ns();
	assert_int_equal(pn__budget_acquire(b, 1, 20 * MS), -ETIMEDOUT);
	assert_true(mono_ns() - t0 >= 20 * MS);
	assert_int_equal(pn__budget_waiters(b), 0);
	assert_int_equal(pn__budget_used(b), LIMIT);
	pn__budget_release(b, LIMIT);
	assert_int_equal(pn__budget_acquire(b, 1, 20 * MS), 0);
	pn__budget_release(b, 1);
}

static void test_budget_close_refuses_acquires(void **state)
{
	struct pn__budget *b = *state;

	assert_int_equal(pn__budget_try_acquire(b, 10), 0);
	pn__budget_close(b);
	assert_int_equal(pn__budget_try_acquire(b, 10), -ESHUTDOWN);
	assert_int_equal(pn__budget_acquire(b, 10, 5 * SEC), -ESHUTDOWN);
	assert_int_equal(pn__budget_acquire(b, 10, 0), -ESHUTDOWN);
	pn__budget_release(b, 10); /* releases still work */
	assert_int_equal(pn__budget_used(b), 0);
	pn__budget_close(b); /* idempotent */
	assert_int_equal(pn__budget_try_acquire(b, 1), -ESHUTDOWN);
}

/*
 * The weighted-budget case: budget 100, A holds 100, B and C each wait for 50.
 * A's release must admit both (one wake-up per release would strand one).
 */
static void test_budget_release_admits_every_waiter_that_fits(void **state)
{
	struct pn__budget *b = *state;
	struct waiter wb, wc;

	assert_int_equal(pn__budget_try_acquire(b, 100), 0); /* A */
	start_waiter(&wb, b, 50);
	start_waiter(&wc, b, 50);
	wait_for_waiters(b, 2);
	pn__budget_release(b, 100); /* A completes */
	join_waiter(&wb);
	join_waiter(&wc);
	assert_int_equal(wb.rc, 0);
	assert_int_equal(wc.rc, 0);
	assert_int_equal(pn__budget_used(b), 100);
	assert_int_equal(pn__budget_waiters(b), 0);
	pn__budget_release(b, 100);
}

/* Several small releases, none enough alone, add up to admit a waiter. */
static void test_budget_partial_releases_admit_waiter(void **state)
{
	struct pn__budget *b = *state;
	struct waiter wb;

	assert_int_equal(pn__budget_try_acquire(b, 100), 0);
	start_waiter(&wb, b, 50);
	wait_for_waiters(b, 1);
	pn__budget_release(b, 20);
	pn__budget_release(b, 10);
	pn__budget_release(b, 20);
	join_waiter(&wb);
	assert_int_equal(wb.rc, 0);
	assert_int_equal(pn__budget_used(b), 100);
	pn__budget_release(b, 100);
}

static void test_budget_close_wakes_waiters(void **state)
{
	struct pn__budget *b = *state;
	struct waiter wb, wc;

	assert_int_equal(pn__budget_try_acquire(b, 100), 0);
	start_waiter(&wb, b, 50);
	start_waiter(&wc, b, 50);
	wait_for_waiters(b, 2);
	pn__budget_close(b);
	join_waiter(&wb);
	join_waiter(&wc);
	assert_int_equal(wb.rc, -ESHUTDOWN);
	assert_int_equal(wc.rc, -ESHUTDOWN);
	assert_int_equal(pn__budget_used(b), 100);
	assert_int_equal(pn__budget_waiters(b), 0);
	pn__budget_release(b, 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		cmocka_unit_test(test_budget_init_rejects_zero_limit),
		T(test_budget_admits_up_to_limit),
		T(test_budget_refuses_more_than_limit),
		T(test_budget_acquire_times_out),
		T(test_budget_close_refuses_acquires),
		T(test_budget_release_admits_every_waiter_that_fits),
		T(test_budget_partial_releases_admit_waiter),
		T(test_budget_close_wakes_waiters),
#undef T
	};

	return cmocka_run_group_tests_name("budget", tests, NULL, NULL);
}
