// SPDX-License-Identifier: MIT
/*
 * The SPSC ring (core/base/pn_ring.h), single-threaded for its contract and
 * with two threads for its ordering: init refuses sizes that are not a power
 * of two >= 2 and clears the waiter word (which no ring call touches after);
 * an empty ring pops nothing; a ring takes exactly its capacity and then
 * refuses; FIFO order across many trips round the slot array and across the
 * wrap of the free-running uint32_t indices; committed slots stay invisible
 * to the consumer until pn_ring_publish(); consumed slots stay the
 * consumer's (the producer gets no room) until pn_ring_release(); the
 * two-slot ring. Then a producer thread and a consumer thread pass a few
 * million sequence-numbered messages through a small ring, both sides
 * batching at seeded random sizes (PN_SEED, printed at the start and on a
 * failure); the consumer checks every one's number, slot and payload. The
 * threads only spin (with sched_yield) on the ring itself, each spin bounded
 * by a deadline, and PN_STRESS_SCALE scales the count.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include "pn_ring.h"
#include "threads_util.h"

#include <cmocka.h>

#define SLOTS_MAX 64
#define SEC	  1000000000ull
#define STALL_NS  (20 * SEC) /* no progress for this long: a lost message */

/* Slots and ring for the single-threaded tests (one test at a time). */
static struct pn_ring ring;
static struct pn_msg slots[SLOTS_MAX];

static struct pn_ring *ring_new(uint32_t nslots)
{
	memset(slots, 0xa5, sizeof(slots));
	assert_int_equal(pn_ring_init(&ring, slots, nslots), 0);
	return &ring;
}

static struct pn_msg msg(uint64_t seq)
{
	struct pn_msg m = {.type = 1, .len = sizeof(seq), .ref = seq};

	memcpy(m.data, &seq, sizeof(seq));
	return m;
}

static void push(struct pn_ring *r, uint64_t seq)
{
	struct pn_msg m = msg(seq);

	assert_true(pn_ring_push(r, &m));
}

/* Peek, check that it is message @seq, consume it (no release). */
static void pop_expect(struct pn_ring *r, uint64_t seq)
{
	struct pn_msg *m = pn_ring_peek(r);

	assert_non_null(m);
	assert_int_equal(m->ref, seq);
	assert_int_equal(pn_msg_u64(m), seq);
	pn_ring_consume(r);
}

static void test_ring_init_rejects_bad_sizes(void **state)
{
	static const uint32_t bad[] = {0, 1, 3, 6, 12, 63, 0x80000001u};
	static const uint32_t good[] = {2, 4, 8, 64};

	(void)state;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pn_ring_init(&ring, slots, bad[i]), -EINVAL);
	for (unsigned i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(pn_ring_init(&ring, slots, good[i]), 0);
		assert_int_equal(pn_ring_size(&ring), good[i]);
	}
}

static void test_ring_pop_empty_returns_null(void **state)
{
	struct pn_ring *r = ring_new(8);

	(void)state;
	assert_null(pn_ring_peek(r));
	assert_false(pn_ring_has_data(r));
	assert_int_equal(pn_ring_unpublished(r), 0);
	/* Empty again once its only message is consumed and released. */
	push(r, 7);
	pn_ring_publish(r);
	pop_expect(r, 7);
	assert_null(pn_ring_peek(r));
	pn_ring_release(r);
	assert_null(pn_ring_peek(r));
	assert_false(pn_ring_has_data(r));
}

static void test_ring_fills_to_capacity_then_refuses(void **state)
{
	struct pn_ring *r = ring_new(8);
	struct pn_msg m = msg(99);

	(void)state;
	for (uint64_t i = 0; i < 8; i++) {
		assert_non_null(pn_ring_slot(r));
		push(r, i);
	}
	assert_int_equal(pn_ring_unpublished(r), 8);
	assert_null(pn_ring_slot(r));
	assert_false(pn_ring_push(r, &m));
	/* Publishing is not room: the consumer has not given anything back. */
	pn_ring_publish(r);
	assert_false(pn_ring_push(r, &m));
	assert_int_equal(pn_ring_unpublished(r), 0);
	/* The refused push changed nothing. */
	for (uint64_t i = 0; i < 8; i++)
		pop_expect(r, i);
	assert_null(pn_ring_peek(r));
}

static void test_ring_fifo_across_slot_wrap(void **state)
{
	struct pn_ring *r = ring_new(4);
	uint64_t in = 0, out = 0;

	(void)state;
	/* 100 rounds of 1..4 messages: the indices go round the four slots
	 * over 60 times, publishing and releasing at every batch size. */
	for (unsigned round = 0; round < 100; round++) {
		unsigned k = 1 + round % 4;

		for (unsigned i = 0; i < k; i++)
			push(r, in++);
		pn_ring_publish(r);
		for (unsigned i = 0; i < k; i++) {
			/* Message n sits in slot n mod 4. */
			assert_ptr_equal(pn_ring_peek(r), &slots[out & 3]);
			pop_expect(r, out++);
		}
		assert_null(pn_ring_peek(r));
		pn_ring_release(r);
	}
	assert_int_equal(in, 250);
	assert_int_equal(out, in);
}

/* Every index of @r at @v, as if @v messages had gone through. */
static void ring_set_indices(struct pn_ring *r, uint32_t v)
{
	r->ptail = r->ppub = r->phead = v;
	r->chead = r->cpub = r->ctail = v;
	atomic_store(&r->tail, v);
	atomic_store(&r->head, v);
}

static void test_ring_fifo_across_index_wrap(void **state)
{
	struct pn_ring *r = ring_new(8);
	struct pn_msg m = msg(0);
	uint64_t in = 0, out = 0;

	(void)state;
	ring_set_indices(r, UINT32_MAX - 5);
	/* Full and empty stay right while tail and head wrap past 0. */
	for (unsigned round = 0; round < 6; round++) {
		for (unsigned i = 0; i < 8; i++)
			push(r, in++);
		assert_false(pn_ring_push(r, &m));
		pn_ring_publish(r);
		for (unsigned i = 0; i < 5; i++)
			pop_expect(r, out++);
		pn_ring_release(r);
		for (unsigned i = 0; i < 5; i++)
			push(r, in++);
		assert_false(pn_ring_push(r, &m));
		pn_ring_publish(r);
		while (out < in)
			pop_expect(r, out++);
		assert_null(pn_ring_peek(r));
		pn_ring_release(r);
	}
	assert_true(r->ptail < 100); /* it did wrap */
}

static void test_ring_unpublished_slots_are_invisible(void **state)
{
	struct pn_ring *r = ring_new(8);

	(void)state;
	for (uint64_t i = 0; i < 3; i++)
		push(r, i);
	assert_int_equal(pn_ring_unpublished(r), 3);
	assert_null(pn_ring_peek(r));
	assert_false(pn_ring_has_data(r));
	pn_ring_publish(r);
	assert_int_equal(pn_ring_unpublished(r), 0);
	assert_true(pn_ring_has_data(r));
	/* Two more committed: the consumer sees the three published only. */
	push(r, 3);
	push(r, 4);
	assert_int_equal(pn_ring_unpublished(r), 2);
	for (uint64_t i = 0; i < 3; i++)
		pop_expect(r, i);
	assert_null(pn_ring_peek(r));
	assert_false(pn_ring_has_data(r));
	pn_ring_publish(r);
	pop_expect(r, 3);
	pop_expect(r, 4);
	assert_null(pn_ring_peek(r));
}

static void test_ring_release_gives_producer_room(void **state)
{
	struct pn_ring *r = ring_new(4);
	struct pn_msg m = msg(99), *first;

	(void)state;
	for (uint64_t i = 0; i < 4; i++)
		push(r, i);
	pn_ring_publish(r);
	first = pn_ring_peek(r);
	pop_expect(r, 0);
	pop_expect(r, 1);
	/* Consumed is not released: the slots are still the consumer's, and
	 * the message it was handed is intact. */
	assert_null(pn_ring_slot(r));
	assert_false(pn_ring_push(r, &m));
	assert_int_equal(first->ref, 0);
	pn_ring_release(r);
	pn_ring_release(r); /* nothing new: no-op */
	assert_int_equal(atomic_load(&r->head), 2);
	/* Exactly the two released slots, oldest first. */
	assert_ptr_equal(pn_ring_slot(r), &slots[0]);
	push(r, 4);
	assert_ptr_equal(pn_ring_slot(r), &slots[1]);
	push(r, 5);
	assert_null(pn_ring_slot(r));
	pn_ring_publish(r);
	for (uint64_t i = 2; i < 6; i++)
		pop_expect(r, i);
	assert_null(pn_ring_peek(r));
}

static void test_ring_capacity_two(void **state)
{
	struct pn_ring *r = ring_new(2);
	struct pn_msg m = msg(99);
	uint64_t in = 0, out = 0;

	(void)state;
	assert_int_equal(pn_ring_size(r), 2);
	push(r, in++);
	push(r, in++);
	assert_false(pn_ring_push(r, &m));
	pn_ring_publish(r);
	/* One at a time, then two at a time, for many trips round. */
	for (unsigned round = 0; round < 40; round++) {
		unsigned k = round < 20 ? 1 : 2;

		for (unsigned i = 0; i < k; i++)
			pop_expect(r, out++);
		pn_ring_release(r);
		for (unsigned i = 0; i < k; i++)
			push(r, in++);
		assert_false(pn_ring_push(r, &m));
		pn_ring_publish(r);
	}
	pop_expect(r, out++);
	pop_expect(r, out++);
	assert_null(pn_ring_peek(r));
	assert_int_equal(out, in);
}

static void test_ring_waiter_word_is_carried_only(void **state)
{
	struct pn_ring *r = &ring;

	(void)state;
	atomic_store(&r->waiter, 42);
	ring_new(4);
	assert_int_equal(atomic_load(&r->waiter), 0);
	atomic_store(&r->waiter, 7);
	push(r, 0);
	pn_ring_publish(r);
	pop_expect(r, 0);
	pn_ring_release(r);
	assert_int_equal(atomic_load(&r->waiter), 7);
}

/* --- two threads ---------------------------------------------------------- */

#define TT_SLOTS 16

struct tt {
	struct pn_ring r;
	struct pn_msg slots[TT_SLOTS];
	uint64_t n, seed;
	_Atomic bool stalled; /* the producer gave up waiting for room */
	_Atomic bool stop;    /* the consumer gave up: the producer quits */
};

/* 16 payload bytes derived from @seq: a torn or stale slot shows. */
static void fill(struct pn_msg *m, uint64_t seq)
{
	m->type = 1;
	m->len = 16;
	m->ref = seq;
	memcpy(m->data, &seq, sizeof(seq));
	for (unsigned i = 8; i < 16; i++)
		m->data[i] = (unsigned char)(seq * 31 + i);
}

static bool filled(const struct pn_msg *m, uint64_t seq)
{
	uint64_t v;

	memcpy(&v, m->data, sizeof(v));
	if (m->len != 16 || m->ref != seq || v != seq)
		return false;
	for (unsigned i = 8; i < 16; i++)
		if (m->data[i] != (unsigned char)(seq * 31 + i))
			return false;
	return true;
}

/* Writes into the slot in place, publishes after 1..8 commits, or when
 * the ring is full (so the consumer can go on). */
static void *producer_main(void *arg)
{
	struct tt *t = arg;
	uint64_t s = t->seed ^ 0x9e3779b97f4a7c15ull, seq = 0;
	unsigned batch = 1;

	while (seq < t->n) {
		struct pn_msg *m = pn_ring_slot(&t->r);

		if (!m) {
			uint64_t since = tu_mono_ns();

			pn_ring_publish(&t->r);
			while (!(m = pn_ring_slot(&t->r))) {
				if (atomic_load(&t->stop))
					return NULL;
				if (tu_mono_ns() - since > STALL_NS) {
					atomic_store(&t->stalled, true);
					return NULL;
				}
				sched_yield();
			}
		}
		fill(m, seq++);
		pn_ring_commit(&t->r);
		if (pn_ring_unpublished(&t->r) >= batch) {
			pn_ring_publish(&t->r);
			batch = 1 + (unsigned)(tu_rnd(&s) % 8);
		}
	}
	pn_ring_publish(&t->r);
	return NULL;
}

static void test_ring_two_threads_keep_order(void **state)
{
	static struct tt t;
	uint64_t s, seq = 0, since;
	unsigned batch = 1;
	pthread_t th;

	(void)state;
	memset(&t, 0, sizeof(t));
	assert_int_equal(pn_ring_init(&t.r, t.slots, TT_SLOTS), 0);
	t.n = tu_scaled(4000000, 100000);
	t.seed = tu_seed();
	s = t.seed;
	print_message("ring two threads: %" PRIu64 " messages, PN_SEED=%" PRIu64
		      "\n",
		      t.n, t.seed);
	assert_int_equal(pthread_create(&th, NULL, producer_main, &t), 0);
	since = tu_mono_ns();
	while (seq < t.n) {
		struct pn_msg *m = pn_ring_peek(&t.r);

		if (!m) {
			/* Give back what we hold, or a full ring stalls. */
			pn_ring_release(&t.r);
			if (atomic_load(&t.stalled) ||
			    tu_mono_ns() - since > STALL_NS)
				break;
			sched_yield();
			continue;
		}
		since = tu_mono_ns();
		if (m != &t.slots[seq % TT_SLOTS] || !filled(m, seq))
			break;
		seq++;
		pn_ring_consume(&t.r);
		if (seq % batch == 0) {
			pn_ring_release(&t.r);
			batch = 1 + (unsigned)(tu_rnd(&s) % 8);
		}
	}
	pn_ring_release(&t.r);
	if (seq != t.n)
		atomic_store(&t.stop, true);
	pthread_join(th, NULL);
	if (seq != t.n) {
		struct pn_msg *m = pn_ring_peek(&t.r);

		print_message("at message %" PRIu64 " of %" PRIu64
			      ": %s (ref %" PRIu64 "), PN_SEED=%" PRIu64 "\n",
			      seq, t.n,
			      atomic_load(&t.stalled) ? "producer stalled"
			      : m		      ? "wrong message"
						      : "nothing comes",
			      m ? m->ref : 0, t.seed);
	}
	assert_int_equal(seq, t.n);
	/* Nothing more than the producer sent. */
	assert_null(pn_ring_peek(&t.r));
	assert_int_equal(atomic_load(&t.r.tail), (uint32_t)t.n);
	assert_int_equal(atomic_load(&t.r.head), (uint32_t)t.n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_init_rejects_bad_sizes),
		cmocka_unit_test(test_ring_pop_empty_returns_null),
		cmocka_unit_test(test_ring_fills_to_capacity_then_refuses),
		cmocka_unit_test(test_ring_fifo_across_slot_wrap),
		cmocka_unit_test(test_ring_fifo_across_index_wrap),
		cmocka_unit_test(test_ring_unpublished_slots_are_invisible),
		cmocka_unit_test(test_ring_release_gives_producer_room),
		cmocka_unit_test(test_ring_capacity_two),
		cmocka_unit_test(test_ring_waiter_word_is_carried_only),
		cmocka_unit_test(test_ring_two_threads_keep_order),
	};

	return cmocka_run_group_tests_name("ring", tests, NULL, NULL);
}
