// SPDX-License-Identifier: MIT
/*
 * Unit tests for alloc/'s arenas: allocation, zeroing, alignment, the
 * owner-written statistics, destroy with live blocks, NUMA binding, and
 * (PN_ALLOC_LIBC and debug builds) the checked sized free.
 */
#include <errno.h>
#include <linux/mempolicy.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include "pn_alloc.h"

#include <cmocka.h>

static int arena_setup(void **state)
{
	struct pn_arena *a;

	if (pn_arena_create(-1, &a) != 0)
		return -1;
	*state = a;
	return 0;
}

static int arena_teardown(void **state)
{
	pn_arena_destroy(*state);
	return 0;
}

static void test_arena_create_destroy(void **state)
{
	struct pn_arena *a[4];
	int i;

	(void)state;
	for (i = 0; i < 4; i++)
		assert_int_equal(pn_arena_create(-1, &a[i]), 0);
	for (i = 0; i < 4; i++)
		pn_arena_destroy(a[i]);
	pn_arena_destroy(NULL);
}

static void test_arena_create_rejects_bad_node(void **state)
{
	struct pn_arena *a = (void *)&a;

	(void)state;
	assert_int_equal(pn_arena_create(-2, &a), -EINVAL);
	assert_int_equal(pn_arena_create(1 << 20, &a), -EINVAL);
	assert_ptr_equal(a, (void *)&a); /* *out untouched on failure */
	assert_non_null(strstr(pn_last_error(), "NUMA node"));
}

static void test_arena_alloc_free_sizes(void **state)
{
	static const size_t sizes[] = {1,    8,	    15,	     16,      100,
				       4096, 12345, 1 << 16, 1 << 20, 5 << 20};
	struct pn_arena *a = *state;
	void *p[sizeof(sizes) / sizeof(sizes[0])];
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		p[i] = pn_arena_alloc(a, sizes[i]);
		assert_non_null(p[i]);
		if (sizes[i] >= 16)
			assert_int_equal((uintptr_t)p[i] % 16, 0);
		memset(p[i], (int)i, sizes[i]);
	}
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		assert_int_equal(((unsigned char *)p[i])[sizes[i] - 1], i);
		pn_arena_free(a, p[i], sizes[i]);
	}
	pn_arena_free(a, NULL, 10);
}

static void test_arena_zalloc_returns_zeroed(void **state)
{
	struct pn_arena *a = *state;
	size_t size, i;
	int round;

	for (size = 24; size <= (256 << 10); size *= 4) {
		for (round = 0; round < 4; round++) {
			unsigned char *p = pn_arena_alloc(a, size);

			/* Dirty memory the next zalloc is likely to reuse. */
			assert_non_null(p);
			memset(p, 0xa5, size);
			pn_arena_free(a, p, size);
			p = pn_arena_zalloc(a, size);
			assert_non_null(p);
			for (i = 0; i < size; i++)
				if (p[i])
					fail_msg("byte %zu of %zu not zero", i,
						 size);
			pn_arena_free(a, p, size);
		}
	}
}

static void test_arena_aligned_respects_alignment(void **state)
{
	static const size_t sizes[] = {1, 40, 100, 4000, 70000};
	struct pn_arena *a = *state;
	size_t align, i;

	for (align = 1; align <= (256 << 10); align *= 2) {
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			char *p = pn_arena_alloc_aligned(a, sizes[i], align);

			assert_non_null(p);
			assert_int_equal((uintptr_t)p & (align - 1), 0);
			memset(p, 1, sizes[i]);
			pn_arena_free_aligned(a, p, sizes[i], align);
		}
	}
	/* Up to 16, the plain sized free is correct too. */
	pn_arena_free(a, pn_arena_alloc_aligned(a, 100, 16), 100);
}

static void test_arena_stats_count_calls(void **state)
{
	struct pn_arena *a = *state;
	struct pn_arena_stats s0, s;
	void *p, *q, *r;

	pn_arena_stats_get(a, &s0);
	assert_int_equal(s0.allocated, 0);
	assert_int_equal(s0.nallocs, 0);
	assert_int_equal(s0.nfrees, 0);
	p = pn_arena_alloc(a, 100);
	q = pn_arena_zalloc(a, 3000);
	r = pn_arena_alloc_aligned(a, 10, 4096);
	pn_arena_stats_get(a, &s);
	assert_int_equal(s.allocated, 3110);
	assert_int_equal(s.nallocs, 3);
	assert_int_equal(s.nfrees, 0);
	pn_arena_free(a, q, 3000);
	pn_arena_free_aligned(a, r, 10, 4096);
	pn_arena_free(a, NULL, 5); /* not counted */
	pn_arena_stats_get(a, &s);
	assert_int_equal(s.allocated, 100);
	assert_int_equal(s.nallocs, 3);
	assert_int_equal(s.nfrees, 2);
	pn_arena_free(a, p, 100);
	pn_arena_stats_get(a, &s);
	assert_int_equal(s.allocated, 0);
	assert_int_equal(s.nfrees, 3);
}

struct reader {
	struct pn_arena *a;
	int stop;	     /* atomic via __atomic builtins */
	bool went_backwards; /* checked by the main thread (cmocka's
				asserts are not for other threads) */
	uint64_t last_nallocs;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct pn_arena_stats s;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		pn_arena_stats_get(r->a, &s);
		/* Monotonic for any one reader (read-read coherence). */
		if (s.nallocs < r->last_nallocs)
			r->went_backwards = true;
		r->last_nallocs = s.nallocs;
	}
	pn_arena_stats_get(r->a, &s);
	r->last_nallocs = s.nallocs;
	return NULL;
}

static void test_arena_stats_readable_from_other_thread(void **state)
{
	struct reader r = {.a = *state};
	pthread_t t;
	int i;

	assert_int_equal(pthread_create(&t, NULL, reader_main, &r), 0);
	for (i = 0; i < 20000; i++)
		pn_arena_free(r.a, pn_arena_alloc(r.a, 64), 64);
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	assert_false(r.went_backwards);
	assert_int_equal(r.last_nallocs, 20000);
}

static void test_arena_destroy_frees_live_blocks(void **state)
{
	struct pn_arena *a;
	int i;

	(void)state;
	assert_int_equal(pn_arena_create(-1, &a), 0);
	/* Left live on purpose: destroy owns them (LeakSanitizer checks). */
	for (i = 0; i < 1000; i++)
		assert_non_null(pn_arena_alloc(a, (size_t)(i % 97) * 8 + 1));
	for (i = 0; i < 10; i++)
		assert_non_null(pn_arena_alloc_aligned(a, 1000, 4096));
	assert_non_null(pn_arena_alloc(a, 3 << 20));
	pn_arena_destroy(a);
}

static void test_arena_numa_binds_memory(void **state)
{
	struct pn_arena *a;
	int mode = -1;
	char *p;

	(void)state;
	assert_int_equal(pn_arena_create(0, &a), 0);
	if (!pn_arena_is_numa_bound(a)) {
		pn_arena_destroy(a);
		skip(); /* PN_ALLOC_LIBC, or the kernel refused mbind */
	}
	p = pn_arena_alloc(a, 8 << 20);
	assert_non_null(p);
	memset(p, 1, 8 << 20);
	assert_int_equal(syscall(SYS_get_mempolicy, &mode, NULL, 0UL,
				 p + (4 << 20), MPOL_F_ADDR),
			 0);
	assert_int_equal(mode, MPOL_PREFERRED);
	pn_arena_free(a, p, 8 << 20);
	pn_arena_destroy(a);
}

static void test_arena_numa_missing_node_falls_back(void **state)
{
	struct pn_arena *a;
	void *p;

	(void)state;
	/* Node 1000 exists nowhere we run: mbind says EINVAL, and the
	 * arena is created unbound rather than failing. */
	assert_int_equal(pn_arena_create(1000, &a), 0);
	assert_false(pn_arena_is_numa_bound(a));
	p = pn_arena_alloc(a, 1 << 20);
	assert_non_null(p);
	pn_arena_free(a, p, 1 << 20);
	pn_arena_destroy(a);
}

#if defined(PN_ALLOC_LIBC) || !defined(NDEBUG)
/* Run @fn in a child and report whether it died of SIGABRT. */
static bool dies_of_abort(void (*fn)(void))
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		/* Keep the child's panic message out of the test log. */
		if (!freopen("/dev/null", "w", stderr))
			_exit(2);
		fn();
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void free_wrong_size(void)
{
	struct pn_arena *a;
	void *p;

	if (pn_arena_create(-1, &a))
		_exit(2);
	p = pn_arena_alloc(a, 100);
	pn_arena_free(a, p, 200);
}

static void free_aligned_as_plain(void)
{
	struct pn_arena *a;
	void *p;

	if (pn_arena_create(-1, &a))
		_exit(2);
	p = pn_arena_alloc_aligned(a, 100, 256);
	pn_arena_free(a, p, 100);
}

#endif

/*
 * A sized free with the wrong size, or an aligned block freed as a plain
 * one, panics where it can be checked: PN_ALLOC_LIBC builds (the block's
 * trailer) and debug builds (jemalloc's size class, via pn_assert).
 */
static void test_arena_sized_free_is_checked(void **state)
{
	(void)state;
#if defined(PN_ALLOC_LIBC) || !defined(NDEBUG)
	assert_true(dies_of_abort(free_wrong_size));
	assert_true(dies_of_abort(free_aligned_as_plain));
#else
	skip(); /* release on jemalloc trusts the size */
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arena_create_destroy),
		cmocka_unit_test(test_arena_create_rejects_bad_node),
		cmocka_unit_test_setup_teardown(test_arena_alloc_free_sizes,
						arena_setup, arena_teardown),
		cmocka_unit_test_setup_teardown(
			test_arena_zalloc_returns_zeroed, arena_setup,
			arena_teardown),
		cmocka_unit_test_setup_teardown(
			test_arena_aligned_respects_alignment, arena_setup,
			arena_teardown),
		cmocka_unit_test_setup_teardown(test_arena_stats_count_calls,
						arena_setup, arena_teardown),
		cmocka_unit_test_setup_teardown(
			test_arena_stats_readable_from_other_thread,
			arena_setup, arena_teardown),
		cmocka_unit_test(test_arena_destroy_frees_live_blocks),
		cmocka_unit_test(test_arena_numa_binds_memory),
		cmocka_unit_test(test_arena_numa_missing_node_falls_back),
		cmocka_unit_test(test_arena_sized_free_is_checked),
	};

	return cmocka_run_group_tests_name("arena", tests, NULL, NULL);
}
