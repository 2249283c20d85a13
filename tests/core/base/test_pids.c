// SPDX-License-Identifier: MIT
/*
 * The PID set (core/base/base_int.h, containers.c) over a real arena, whose
 * statistics count its arrays: pn__pids_add() appends, growing the array by
 * doubling from 4 and keeping every entry (one allocation per growth, the
 * old array freed); a PID added twice is there twice (the set does not look
 * for duplicates, its users do) and pn__pids_del() removes one occurrence
 * at a time, moving the last entry into the hole (order is not kept), and
 * returns false, changing nothing, for a PID that is not there;
 * pn__pids_fini() frees the array and leaves an empty, usable set.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include "base_int.h"

#include <cmocka.h>

struct fixture {
	struct pn_arena *a;
	struct pn__pids p;
};

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));

	if (!x || pn_arena_create(-1, &x->a) != 0) {
		free(x);
		return -1;
	}
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	pn__pids_fini(&x->p, x->a);
	pn_arena_destroy(x->a);
	free(x);
	return 0;
}

static struct pn_arena_stats stats(const struct fixture *x)
{
	struct pn_arena_stats st;

	pn_arena_stats_get(x->a, &st);
	return st;
}

static pn_pid pid(uint32_t i)
{
	return pn_pid_make(i % 3, i, i + 1);
}

/* How often @q is in the set. */
static unsigned count(const struct pn__pids *p, pn_pid q)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < p->n; i++)
		n += p->v[i] == q;
	return n;
}

static void add(struct fixture *x, pn_pid q)
{
	uint32_t n = x->p.n;

	assert_int_equal(pn__pids_add(&x->p, x->a, q), 0);
	assert_int_equal(x->p.n, n + 1);
}

static void test_pids_add_grows_and_keeps_entries(void **state)
{
	struct fixture *x = *state;
	static const uint32_t caps[] = {4, 8, 16, 32, 64, 128};
	unsigned growths = 0;

	assert_int_equal(x->p.n, 0);
	assert_int_equal(x->p.cap, 0);
	for (uint32_t i = 0; i < 100; i++) {
		uint32_t cap = x->p.cap;

		add(x, pid(i));
		if (x->p.cap != cap) {
			/* Only when full, to the next size. */
			assert_int_equal(cap, i);
			assert_int_equal(x->p.cap, caps[growths]);
			growths++;
		}
		/* Every entry so far, in the order added. */
		for (uint32_t j = 0; j <= i; j++)
			assert_true(x->p.v[j] == pid(j));
	}
	assert_int_equal(growths, 6);
	assert_int_equal(x->p.cap, 128);
	/* One array live: the old ones went back at each growth. */
	assert_int_equal(stats(x).nallocs, 6);
	assert_int_equal(stats(x).nfrees, 5);
	assert_int_equal(stats(x).allocated, 128 * sizeof(pn_pid));
}

static void test_pids_duplicates_are_kept(void **state)
{
	struct fixture *x = *state;
	pn_pid a = pid(1), b = pid(2);

	add(x, a);
	add(x, b);
	add(x, a);
	assert_int_equal(count(&x->p, a), 2);
	/* One occurrence per delete. */
	assert_true(pn__pids_del(&x->p, a));
	assert_int_equal(x->p.n, 2);
	assert_int_equal(count(&x->p, a), 1);
	assert_int_equal(count(&x->p, b), 1);
	assert_true(pn__pids_del(&x->p, a));
	assert_int_equal(count(&x->p, a), 0);
	assert_false(pn__pids_del(&x->p, a));
	assert_int_equal(x->p.n, 1);
	assert_true(x->p.v[0] == b);
}

static void test_pids_del_present_and_absent(void **state)
{
	struct fixture *x = *state;
	pn_pid v[5];

	/* Nothing there: false. */
	assert_false(pn__pids_del(&x->p, pid(0)));
	assert_int_equal(x->p.n, 0);
	for (uint32_t i = 0; i < 5; i++)
		add(x, pid(i));
	/* Absent: false, and nothing moves. A PID differing only in its
	 * generation is another PID. */
	memcpy(v, x->p.v, sizeof(v));
	assert_false(pn__pids_del(&x->p, pid(9)));
	assert_false(pn__pids_del(&x->p, pn_pid_make(1, 1, 99)));
	assert_false(pn__pids_del(&x->p, PN_PID_NONE));
	assert_int_equal(x->p.n, 5);
	assert_memory_equal(x->p.v, v, sizeof(v));
	/* From the middle: the last entry fills the hole. */
	assert_true(pn__pids_del(&x->p, pid(1)));
	assert_int_equal(x->p.n, 4);
	assert_true(x->p.v[0] == pid(0));
	assert_true(x->p.v[1] == pid(4));
	assert_true(x->p.v[2] == pid(2));
	assert_true(x->p.v[3] == pid(3));
	/* The last, then the first. */
	assert_true(pn__pids_del(&x->p, pid(3)));
	assert_int_equal(x->p.n, 3);
	assert_true(pn__pids_del(&x->p, pid(0)));
	assert_int_equal(x->p.n, 2);
	assert_true(x->p.v[0] == pid(2));
	assert_true(x->p.v[1] == pid(4));
	assert_int_equal(count(&x->p, pid(0)) + count(&x->p, pid(1)) +
				 count(&x->p, pid(3)),
			 0);
	/* Down to empty; the array stays for the next add. */
	assert_true(pn__pids_del(&x->p, pid(4)));
	assert_true(pn__pids_del(&x->p, pid(2)));
	assert_int_equal(x->p.n, 0);
	assert_false(pn__pids_del(&x->p, pid(2)));
	assert_int_equal(x->p.cap, 8);
	add(x, pid(7));
	assert_int_equal(stats(x).nallocs, 2);
}

static void test_pids_fini_frees(void **state)
{
	struct fixture *x = *state;

	/* Never used: nothing to free. */
	pn__pids_fini(&x->p, x->a);
	assert_int_equal(stats(x).nfrees, 0);
	for (uint32_t i = 0; i < 20; i++)
		add(x, pid(i));
	pn__pids_fini(&x->p, x->a);
	assert_int_equal(stats(x).allocated, 0);
	assert_int_equal(stats(x).nfrees, stats(x).nallocs);
	assert_int_equal(x->p.n, 0);
	assert_int_equal(x->p.cap, 0);
	assert_null(x->p.v);
	/* Usable again. */
	add(x, pid(1));
	assert_true(pn__pids_del(&x->p, pid(1)));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_pids_add_grows_and_keeps_entries),
		T(test_pids_duplicates_are_kept),
		T(test_pids_del_present_and_absent),
		T(test_pids_fini_frees),
	};
#undef T

	return cmocka_run_group_tests_name("pids", tests, NULL, NULL);
}
