// SPDX-License-Identifier: MIT
/*
 * The seqlock (core/base/seqlock.h), single-threaded for its contract and
 * with two threads for its point. An untouched lock vouches for a read;
 * a write section makes the sequence odd, and a read begun then is never
 * valid, not even if the sequence has not moved when it checks; a read
 * that a write section overlaps, wholly or in part, is invalid; a read
 * after the section is valid again. Then a writer thread rewrites an
 * 8-word record word by word (word i of round k is k * (i + 1); each word
 * on its own cache line), with short random pauses between the words and
 * between rounds, and a reader copies it as fast as it can:
 * every copy the lock validates must be one round's whole record, rounds
 * never go backwards, and some copies made while the writer was running
 * must validate (else the test would prove nothing). The reader checks
 * only what the helper says: it does not look at the sequence itself, so
 * a helper that accepts too much shows as a torn copy. The loops are
 * bounded (the writer's rounds; the reader stops when the writer is done),
 * with no sleeps; PN_SEED and PN_STRESS_SCALE as in test_ring.c.
 */
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include "seqlock.h"
#include "threads_util.h"

#include <cmocka.h>

#define WORDS 8

/* Each word on its own cache line: the reader's loads then meet the
 * writer's stores one line at a time, so a read inside a section is torn
 * far more often than with the record in one line. */
struct rec {
	_Atomic uint32_t seq;
	struct {
		alignas(64) _Atomic uint64_t v;
	} w[WORDS];
};

static void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	atomic_signal_fence(memory_order_seq_cst); /* not optimised away */
#endif
}

/* Round @k, word by word, with @pause pauses after each word (a wider
 * window for a reader inside the section). */
static void rec_write(struct rec *r, uint64_t k, unsigned pause)
{
	pn__seq_write_begin(&r->seq);
	for (unsigned i = 0; i < WORDS; i++) {
		atomic_store_explicit(&r->w[i].v, k * (i + 1),
				      memory_order_relaxed);
		for (unsigned n = 0; n < pause; n++)
			relax();
	}
	pn__seq_write_end(&r->seq);
}

static void rec_copy(struct rec *r, uint64_t v[WORDS])
{
	for (unsigned i = 0; i < WORDS; i++)
		v[i] = atomic_load_explicit(&r->w[i].v, memory_order_relaxed);
}

/* Whether @v is one round's record; its round in *@k. */
static bool rec_whole(const uint64_t v[WORDS], uint64_t *k)
{
	*k = v[0];
	for (unsigned i = 1; i < WORDS; i++)
		if (v[i] != *k * (i + 1))
			return false;
	return true;
}

static void test_seqlock_untouched_lock_vouches(void **state)
{
	static struct rec r; /* zeroed: what calloc'd tables start as */
	uint64_t v[WORDS], k;
	uint32_t b;

	(void)state;
	b = pn__seq_read_begin(&r.seq);
	assert_int_equal(b, 0);
	rec_copy(&r, v);
	assert_true(pn__seq_read_ok(&r.seq, b));
	assert_true(rec_whole(v, &k));
	assert_int_equal(k, 0);
	/* Reading changes nothing: the same begin is still good. */
	assert_true(pn__seq_read_ok(&r.seq, b));
	assert_int_equal(pn__seq_read_begin(&r.seq), b);
}

static void test_seqlock_odd_while_writing(void **state)
{
	struct rec r;
	uint32_t b;

	(void)state;
	memset(&r, 0, sizeof(r));
	pn__seq_write_begin(&r.seq);
	b = pn__seq_read_begin(&r.seq);
	assert_true(b & 1);
	/* Unchanged, but begun inside the section: never valid. */
	assert_false(pn__seq_read_ok(&r.seq, b));
	pn__seq_write_end(&r.seq);
	assert_false(pn__seq_read_ok(&r.seq, b));
	b = pn__seq_read_begin(&r.seq);
	assert_false(b & 1);
	assert_int_equal(b, 2);
	assert_true(pn__seq_read_ok(&r.seq, b));
}

static void test_seqlock_overlapping_write_invalidates(void **state)
{
	struct rec r;
	uint64_t v[WORDS], k;
	uint32_t b;

	(void)state;
	memset(&r, 0, sizeof(r));
	rec_write(&r, 1, 0);
	/* A whole section between begin and check. */
	b = pn__seq_read_begin(&r.seq);
	rec_copy(&r, v);
	rec_write(&r, 2, 0);
	assert_false(pn__seq_read_ok(&r.seq, b));
	/* A section begun after the read began and still open. */
	b = pn__seq_read_begin(&r.seq);
	pn__seq_write_begin(&r.seq);
	atomic_store_explicit(&r.w[0].v, 3, memory_order_relaxed);
	rec_copy(&r, v); /* torn: w[0] of round 3, the rest of round 2 */
	assert_false(rec_whole(v, &k));
	assert_false(pn__seq_read_ok(&r.seq, b));
	/* Begun inside the section, checked after it ended. */
	b = pn__seq_read_begin(&r.seq);
	for (unsigned i = 1; i < WORDS; i++)
		atomic_store_explicit(&r.w[i].v, 3 * (i + 1),
				      memory_order_relaxed);
	pn__seq_write_end(&r.seq);
	assert_false(pn__seq_read_ok(&r.seq, b));
	/* After the section: valid, and the whole of round 3. */
	b = pn__seq_read_begin(&r.seq);
	rec_copy(&r, v);
	assert_true(pn__seq_read_ok(&r.seq, b));
	assert_true(rec_whole(v, &k));
	assert_int_equal(k, 3);
}

/* --- two threads ---------------------------------------------------------- */

struct tt {
	struct rec r;
	uint64_t rounds, seed;
	_Atomic bool done; /* the writer has written its last round */
};

/* Rounds 1..rounds, with 0 to 3 pauses after each word and 0 to 63
 * between rounds: a reader gets windows with no section open, and
 * sections it overlaps. */
static void *writer_main(void *arg)
{
	struct tt *t = arg;
	uint64_t s = t->seed;

	for (uint64_t k = 1; k <= t->rounds; k++) {
		uint64_t x = tu_rnd(&s);
		unsigned pause = (unsigned)(x % 64);

		rec_write(&t->r, k, (unsigned)(x >> 8) % 4);
		while (pause--)
			relax();
	}
	/* Release: pairs with the reader's acquire load; it then sees the
	 * last round. */
	atomic_store_explicit(&t->done, true, memory_order_release);
	return NULL;
}

static void test_seqlock_two_threads_no_torn_read(void **state)
{
	static struct tt t;
	uint64_t v[WORDS], k, last = 0, valid = 0, invalid = 0, bad = 0;
	uint64_t bad_k = 0, bad_after = 0;
	pthread_t th;

	(void)state;
	memset(&t, 0, sizeof(t));
	t.rounds = tu_scaled(200000, 10000);
	t.seed = tu_seed();
	print_message("seqlock two threads: %" PRIu64
		      " rounds, PN_SEED=%" PRIu64 "\n",
		      t.rounds, t.seed);
	assert_int_equal(pthread_create(&th, NULL, writer_main, &t), 0);
	while (!atomic_load_explicit(&t.done, memory_order_acquire)) {
		uint32_t b = pn__seq_read_begin(&t.r.seq);

		rec_copy(&t.r, v);
		if (!pn__seq_read_ok(&t.r.seq, b)) {
			invalid++;
			continue;
		}
		valid++;
		if (!rec_whole(v, &k) || k < last) {
			if (!bad++) {
				bad_k = v[0];
				bad_after = last;
			}
			continue;
		}
		last = k;
	}
	pthread_join(th, NULL);
	print_message("%" PRIu64 " reads validated, %" PRIu64
		      " rejected, %" PRIu64 " torn or stale accepted\n",
		      valid, invalid, bad);
	if (bad)
		print_message("first bad read: w[0] %" PRIu64 " after round "
			      "%" PRIu64 ", PN_SEED=%" PRIu64 "\n",
			      bad_k, bad_after, t.seed);
	assert_int_equal(bad, 0);
	assert_true(valid > 0);
	/* Quiet now: a read is valid and sees the last round. */
	{
		uint32_t b = pn__seq_read_begin(&t.r.seq);

		rec_copy(&t.r, v);
		assert_true(pn__seq_read_ok(&t.r.seq, b));
		assert_true(rec_whole(v, &k));
		assert_int_equal(k, t.rounds);
		assert_int_equal(b, 2 * t.rounds);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seqlock_untouched_lock_vouches),
		cmocka_unit_test(test_seqlock_odd_while_writing),
		cmocka_unit_test(test_seqlock_overlapping_write_invalidates),
		cmocka_unit_test(test_seqlock_two_threads_no_torn_read),
	};

	return cmocka_run_group_tests_name("seqlock", tests, NULL, NULL);
}
