// SPDX-License-Identifier: MIT
/*
 * Unit tests for alloc/'s fixed-size pools: sizes and alignment, reuse,
 * growth, pn_pool_of() across pools and chunk positions, exact statistics,
 * the remote-free batches (single-threaded semantics and a small concurrent
 * run for TSan), and, under ASan, poisoning and double-free detection.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include "pn_alloc.h"

#include <cmocka.h>

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifdef TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

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

static struct pn_pool *pool_new(struct pn_arena *a, size_t size,
				unsigned per_chunk)
{
	struct pn_pool *p = NULL;

	assert_int_equal(pn_pool_create(a, size, per_chunk, &p), 0);
	assert_non_null(p);
	return p;
}

static struct pn_pool_stats stats_of(const struct pn_pool *p)
{
	struct pn_pool_stats s;

	pn_pool_stats_get(p, &s);
	return s;
}

static int cmp_ptr(const void *x, const void *y)
{
	uintptr_t a = *(const uintptr_t *)x, b = *(const uintptr_t *)y;

	return (a > b) - (a < b);
}

static void test_pool_create_rejects_bad_size(void **state)
{
	struct pn_arena *a = *state;
	struct pn_pool *p = (void *)&p;

	assert_int_equal(pn_pool_create(a, 0, 0, &p), -EINVAL);
	assert_int_equal(pn_pool_create(a, (1 << 20) + 1, 0, &p), -EINVAL);
	assert_int_equal(pn_pool_create(a, SIZE_MAX, 0, &p), -EINVAL);
	assert_ptr_equal(p, (void *)&p);
	assert_non_null(strstr(pn_last_error(), "object size"));
	assert_int_equal(pn_pool_create(a, 1 << 20, 0, &p), 0);
	pn_pool_destroy(p);
	pn_pool_destroy(NULL);
}

static void test_pool_obj_size_rounds_up_to_16(void **state)
{
	static const size_t in[] = {1, 15, 16, 17, 200, 1 << 20};
	static const size_t out[] = {16, 16, 16, 32, 208, 1 << 20};
	struct pn_arena *a = *state;
	size_t i;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		struct pn_pool *p = pool_new(a, in[i], 0);

		assert_int_equal(pn_pool_obj_size(p), out[i]);
		pn_pool_destroy(p);
	}
}

static void test_pool_alloc_distinct_aligned(void **state)
{
	enum { N = 5000, SIZE = 40, ROUNDED = 48 };
	struct pn_pool *p = pool_new(*state, SIZE, 0);
	uintptr_t *addr = calloc(N, sizeof(*addr));
	int i;

	assert_non_null(addr);
	for (i = 0; i < N; i++) {
		char *o = pn_pool_alloc(p);

		assert_non_null(o);
		assert_int_equal((uintptr_t)o % 16, 0);
		memset(o, i & 0xff, ROUNDED);
		addr[i] = (uintptr_t)o;
	}
	for (i = 0; i < N; i++) /* nobody overwrote anybody */
		assert_int_equal(((unsigned char *)addr[i])[ROUNDED - 1],
				 i & 0xff);
	qsort(addr, N, sizeof(*addr), cmp_ptr);
	for (i = 1; i < N; i++)
		assert_true(addr[i] - addr[i - 1] >= ROUNDED);
	free(addr);
	pn_pool_destroy(p);
}

static void test_pool_free_reuses_object(void **state)
{
	struct pn_pool *p = pool_new(*state, 64, 0);
	void *x = pn_pool_alloc(p), *y = pn_pool_alloc(p);

	pn_pool_free(p, x);
	assert_ptr_equal(pn_pool_alloc(p), x);
	pn_pool_free(p, x);
	pn_pool_free(p, y);
	/* LIFO: the most recently freed (cache-warm) object comes first. */
	assert_ptr_equal(pn_pool_alloc(p), y);
	assert_ptr_equal(pn_pool_alloc(p), x);
	assert_int_equal(stats_of(p).chunks, 1);
	pn_pool_destroy(p);
}

static void test_pool_grows_across_chunks(void **state)
{
	struct pn_pool *p = pool_new(*state, 100, 8);
	void *o[20];
	int i;

	for (i = 0; i < 20; i++) {
		o[i] = pn_pool_alloc(p);
		assert_non_null(o[i]);
		memset(o[i], 0x5a, 100);
	}
	assert_int_equal(stats_of(p).chunks, 3);
	for (i = 0; i < 20; i++)
		pn_pool_free(p, o[i]);
	/* 20 free objects: 20 more allocations need no new chunk. */
	for (i = 0; i < 20; i++)
		assert_non_null(pn_pool_alloc(p));
	assert_int_equal(stats_of(p).chunks, 3);
	assert_non_null(pn_pool_alloc(p));
	assert_int_equal(stats_of(p).chunks, 3); /* 3 * 8 = 24 > 21 */
	pn_pool_destroy(p);
}

static void test_pool_per_chunk_capped_at_64k(void **state)
{
	/* (64 KiB - 64-byte header) / 1024 = 63 objects to a chunk. */
	struct pn_pool *p = pool_new(*state, 1024, 1000);
	int i;

	for (i = 0; i < 63; i++)
		assert_non_null(pn_pool_alloc(p));
	assert_int_equal(stats_of(p).chunks, 1);
	assert_non_null(pn_pool_alloc(p));
	assert_int_equal(stats_of(p).chunks, 2);
	pn_pool_destroy(p);
}

static void test_pool_of_finds_owner(void **state)
{
	static const size_t sizes[] = {16,    48,     200,    4000,
				       40000, 100000, 1 << 20};
	enum { NPOOL = sizeof(sizes) / sizeof(sizes[0]), PER = 70 };
	struct pn_arena *a = *state;
	struct pn_pool *p[NPOOL];
	void *o[NPOOL][PER];
	int i, k;

	for (k = 0; k < NPOOL; k++)
		p[k] = pool_new(a, sizes[k], 32);
	/* Interleaved, so chunks of different pools sit side by side, and
	 * past the first chunk of every pool (first and last slots too). */
	for (i = 0; i < PER; i++)
		for (k = 0; k < NPOOL; k++) {
			o[k][i] = pn_pool_alloc(p[k]);
			assert_non_null(o[k][i]);
			memset(o[k][i], 0xee, sizes[k]);
		}
	for (k = 0; k < NPOOL; k++) {
		assert_true(stats_of(p[k]).chunks >= 2);
		for (i = 0; i < PER; i++)
			assert_ptr_equal(pn_pool_of(o[k][i]), p[k]);
	}
	for (k = 0; k < NPOOL; k++)
		pn_pool_destroy(p[k]);
}

static void test_pool_stats_exact(void **state)
{
	struct pn_pool *p = pool_new(*state, 32, 4);
	struct pn_pool_stats s = stats_of(p);
	void *o[4];
	int i;

	assert_int_equal(s.hits + s.misses + s.returned + s.in_use + s.chunks,
			 0);
	for (i = 0; i < 4; i++)
		o[i] = pn_pool_alloc(p); /* 1 miss (grow), 3 hits (carve) */
	s = stats_of(p);
	assert_int_equal(s.misses, 1);
	assert_int_equal(s.hits, 3);
	assert_int_equal(s.in_use, 4);
	assert_int_equal(s.chunks, 1);
	pn_pool_free(p, o[1]);
	pn_pool_free(p, o[3]);
	assert_int_equal(stats_of(p).in_use, 2);
	for (i = 0; i < 3; i++)
		pn_pool_alloc(p); /* 2 hits (free list), 1 miss (grow) */
	s = stats_of(p);
	assert_int_equal(s.hits, 5);
	assert_int_equal(s.misses, 2);
	assert_int_equal(s.in_use, 5);
	assert_int_equal(s.chunks, 2);
	assert_int_equal(s.returned, 0);
	pn_pool_destroy(p);
}

struct remote_job {
	void **objs;
	int n;
	unsigned flush_every; /* 0: only when full / at the end */
};

static void *remote_main(void *arg)
{
	struct remote_job *j = arg;
	struct pn_pool_batch b = PN_POOL_BATCH_INIT;
	int i;

	for (i = 0; i < j->n; i++) {
		pn_pool_free_remote(&b, j->objs[i]);
		if (j->flush_every && (unsigned)i % j->flush_every == 0)
			pn_pool_batch_flush(&b);
	}
	pn_pool_batch_flush(&b);
	return NULL;
}

static void test_pool_remote_free_collected_by_owner(void **state)
{
	enum { N = 100 };
	struct pn_pool *p = pool_new(*state, 64, N);
	struct remote_job j = {.n = N, .flush_every = 7};
	struct pn_pool_stats s;
	void *o[N], *back[N];
	pthread_t t;
	int i;

	for (i = 0; i < N; i++)
		o[i] = pn_pool_alloc(p);
	j.objs = o;
	assert_int_equal(pthread_create(&t, NULL, remote_main, &j), 0);
	pthread_join(t, NULL);
	s = stats_of(p);
	assert_int_equal(s.returned, 0); /* not collected yet */
	assert_int_equal(s.in_use, N);
	for (i = 0; i < N; i++) /* the chunk is full: these collect */
		back[i] = pn_pool_alloc(p);
	s = stats_of(p);
	assert_int_equal(s.returned, N);
	assert_int_equal(s.in_use, N);
	assert_int_equal(s.chunks, 1);
	assert_int_equal(s.misses, 2); /* the first grow, one collection */
	qsort(o, N, sizeof(o[0]), cmp_ptr);
	qsort(back, N, sizeof(back[0]), cmp_ptr);
	assert_memory_equal(o, back, sizeof(o));
	pn_pool_destroy(p);
}

static void test_pool_batch_flushes_when_full(void **state)
{
	enum { N = PN_POOL_BATCH_MAX + 1 };
	struct pn_pool *p = pool_new(*state, 64, N);
	struct pn_pool_batch b = PN_POOL_BATCH_INIT;
	void *o[N];
	int i;

	for (i = 0; i < N; i++)
		o[i] = pn_pool_alloc(p);
	/* (The owner may use the remote path; it is just slower.) */
	for (i = 0; i < PN_POOL_BATCH_MAX; i++)
		pn_pool_free_remote(&b, o[i]);
	for (i = 0; i < PN_POOL_BATCH_MAX; i++)
		assert_non_null(pn_pool_alloc(p));
	assert_int_equal(stats_of(p).returned, PN_POOL_BATCH_MAX);
	assert_int_equal(stats_of(p).chunks, 1);
	/* One object waits in the batch: invisible until flushed. */
	pn_pool_free_remote(&b, o[N - 1]);
	assert_non_null(pn_pool_alloc(p));
	assert_int_equal(stats_of(p).chunks, 2);
	pn_pool_batch_flush(&b);
	pn_pool_batch_flush(&b); /* now empty: a no-op */
	assert_int_equal(stats_of(p).returned, PN_POOL_BATCH_MAX);
	pn_pool_destroy(p);
}

static void test_pool_batch_switching_pool_flushes(void **state)
{
	enum { N = 10 };
	struct pn_pool *pa = pool_new(*state, 32, N);
	struct pn_pool *pb = pool_new(*state, 96, N);
	struct pn_pool_batch b = PN_POOL_BATCH_INIT;
	void *oa[N], *ob[N];
	int i;

	for (i = 0; i < N; i++) {
		oa[i] = pn_pool_alloc(pa);
		ob[i] = pn_pool_alloc(pb);
	}
	for (i = 0; i < N; i++) {
		pn_pool_free_remote(&b, oa[i]);
		pn_pool_free_remote(&b, ob[i]); /* flushes oa[i] to pa */
	}
	/* Only ob[N-1] is still in the batch. */
	for (i = 0; i < N; i++)
		assert_ptr_equal(pn_pool_of(pn_pool_alloc(pa)), pa);
	assert_int_equal(stats_of(pa).returned, N);
	assert_int_equal(stats_of(pa).chunks, 1);
	for (i = 0; i < N - 1; i++)
		pn_pool_alloc(pb);
	assert_int_equal(stats_of(pb).returned, N - 1);
	pn_pool_batch_flush(&b);
	pn_pool_alloc(pb);
	assert_int_equal(stats_of(pb).returned, N);
	assert_int_equal(stats_of(pb).chunks, 1);
	pn_pool_destroy(pa);
	pn_pool_destroy(pb);
}

static void test_pool_flush_empty_is_noop(void **state)
{
	struct pn_pool_batch b = PN_POOL_BATCH_INIT;

	(void)state;
	pn_pool_batch_flush(&b);
	assert_int_equal(b.n, 0);
}

static void test_pool_destroy_with_objects_out(void **state)
{
	struct pn_pool *p = pool_new(*state, 128, 16);
	struct pn_pool_batch b = PN_POOL_BATCH_INIT;
	int i;

	/* Out, freed locally, and pushed but never collected: destroy
	 * takes the chunks back whatever state their objects are in
	 * (LeakSanitizer would say otherwise). */
	for (i = 0; i < 100; i++) {
		void *o = pn_pool_alloc(p);

		if (i % 3 == 1)
			pn_pool_free(p, o);
		else if (i % 3 == 2)
			pn_pool_free_remote(&b, o);
	}
	pn_pool_batch_flush(&b);
	pn_pool_destroy(p);
}

static void test_pool_large_objects(void **state)
{
	enum { SIZE = 1 << 20 };
	struct pn_pool *p = pool_new(*state, SIZE, 0);
	char *o[3];
	int i;

	for (i = 0; i < 3; i++) {
		o[i] = pn_pool_alloc(p);
		assert_non_null(o[i]);
		memset(o[i], i, SIZE);
		assert_ptr_equal(pn_pool_of(o[i]), p);
	}
	assert_int_equal(stats_of(p).chunks, 3);
	for (i = 0; i < 3; i++)
		assert_int_equal(o[i][SIZE - 1], i);
	pn_pool_free(p, o[1]);
	assert_ptr_equal(pn_pool_alloc(p), o[1]);
	pn_pool_destroy(p);
}

/*
 * A small concurrent run for TSan: two threads free their share remotely
 * (flushing at different rates) while the owner keeps allocating, so
 * collections interleave with pushes. The stress test does this at scale.
 */
static void test_pool_remote_free_concurrent(void **state)
{
	enum { N = 1000, SPARE_MAX = 200000 };
	struct pn_pool *p = pool_new(*state, 48, 0);
	void **o = calloc(N, sizeof(*o)), **spare = NULL;
	struct remote_job j[2] = {{o, N / 2, 1}, {o + N / 2, N / 2, 0}};
	size_t nspare = 0, got = 0;
	pthread_t t[2];
	int i;

	assert_non_null(o);
	spare = calloc(SPARE_MAX, sizeof(*spare));
	assert_non_null(spare);
	for (i = 0; i < N; i++) {
		o[i] = pn_pool_alloc(p);
		memset(o[i], 1, 48);
	}
	qsort(o, N, sizeof(*o), cmp_ptr);
	for (i = 0; i < 2; i++)
		assert_int_equal(
			pthread_create(&t[i], NULL, remote_main, &j[i]), 0);
	while (got < N) {
		void *x = pn_pool_alloc(p), **hit;

		assert_non_null(x);
		/* Would race with the remote thread's link write if the
		 * hand-back were mis-ordered: TSan checks the protocol. */
		memset(x, 2, 48);
		hit = bsearch(&x, o, N, sizeof(*o), cmp_ptr);
		if (hit) {
			got++;
			continue;
		}
		assert_true(nspare < SPARE_MAX);
		spare[nspare++] = x;
		sched_yield();
	}
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(stats_of(p).returned, N);
	assert_int_equal(stats_of(p).in_use, N + nspare);
	free(spare);
	free(o);
	pn_pool_destroy(p);
}

#ifdef TEST_ASAN
static void double_free(void)
{
	struct pn_arena *a;
	struct pn_pool *p;
	void *o;

	if (pn_arena_create(-1, &a) || pn_pool_create(a, 64, 0, &p))
		_exit(2);
	o = pn_pool_alloc(p);
	pn_pool_free(p, o);
	pn_pool_free(p, o);
}
#endif

static void test_pool_asan_poisons_free_objects(void **state)
{
#ifndef TEST_ASAN
	(void)state;
	skip();
#else
	struct pn_pool *p = pool_new(*state, 64, 4);
	struct pn_pool_batch b = PN_POOL_BATCH_INIT;
	char *x = pn_pool_alloc(p), *y = pn_pool_alloc(p);
	int status;
	pid_t pid;

	assert_false(__asan_region_is_poisoned(x, 64));
	/* Never-carved objects are poisoned too. */
	assert_true(__asan_address_is_poisoned(y + 64));
	pn_pool_free(p, x);
	assert_true(__asan_address_is_poisoned(x));
	assert_true(__asan_address_is_poisoned(x + 63));
	pn_pool_free_remote(&b, y);
	pn_pool_batch_flush(&b);
	assert_true(__asan_address_is_poisoned(y + 8));
	assert_ptr_equal(pn_pool_alloc(p), x);
	assert_false(__asan_region_is_poisoned(x, 64));
	pn_pool_destroy(p);

	pid = fork();
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stderr))
			_exit(2);
		double_free();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
#endif
}

#define POOL_TEST(fn)                                                          \
	cmocka_unit_test_setup_teardown(fn, arena_setup, arena_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		POOL_TEST(test_pool_create_rejects_bad_size),
		POOL_TEST(test_pool_obj_size_rounds_up_to_16),
		POOL_TEST(test_pool_alloc_distinct_aligned),
		POOL_TEST(test_pool_free_reuses_object),
		POOL_TEST(test_pool_grows_across_chunks),
		POOL_TEST(test_pool_per_chunk_capped_at_64k),
		POOL_TEST(test_pool_of_finds_owner),
		POOL_TEST(test_pool_stats_exact),
		POOL_TEST(test_pool_remote_free_collected_by_owner),
		POOL_TEST(test_pool_batch_flushes_when_full),
		POOL_TEST(test_pool_batch_switching_pool_flushes),
		POOL_TEST(test_pool_flush_empty_is_noop),
		POOL_TEST(test_pool_destroy_with_objects_out),
		POOL_TEST(test_pool_large_objects),
		POOL_TEST(test_pool_remote_free_concurrent),
		POOL_TEST(test_pool_asan_poisons_free_objects),
	};

	return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
