// SPDX-License-Identifier: MIT
/*
 * The chunked message FIFO (core/base/base_int.h, containers.c) over a real
 * arena, whose statistics count every chunk allocated and freed: an empty
 * FIFO; order across many chunks, also with pushes and pops interleaved; a
 * queued message never moves (the pointer to each slot stays the message's
 * until it is popped, however much is pushed meanwhile); a FIFO drained
 * inside one chunk starts that chunk over; emptied chunks are kept as spares
 * and reused, so a steady state allocates nothing, and at most 4 MiB of them
 * are kept; pn__fifo_each() visits oldest first from the middle of a chunk,
 * may change messages in place, and stops as soon as its callback returns
 * true; pn__fifo_fini() gives every chunk back, queued or spare. The
 * invariant check the asserts use, pn__fifo_ok(), holds after every push
 * and pop here and catches a count or an index that disagrees with the
 * chunks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include "base_int.h"

#include <cmocka.h>

#define CHUNK PN__CHUNK_MSGS

struct fixture {
	struct pn_arena *a;
	struct pn__fifo f;
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

	pn__fifo_fini(&x->f, x->a);
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

/* Push message @seq; returns the slot it sits in. */
static struct pn_msg *push(struct fixture *x, uint64_t seq)
{
	struct pn_msg *m = pn__fifo_slot(&x->f, x->a);
	uint32_t len = pn__fifo_len(&x->f);

	assert_non_null(m);
	m->type = 1;
	m->ref = seq;
	m->len = 0;
	pn__fifo_commit(&x->f);
	assert_int_equal(pn__fifo_len(&x->f), len + 1);
	assert_true(pn__fifo_ok(&x->f));
	return m;
}

static void pop_expect(struct fixture *x, uint64_t seq)
{
	struct pn_msg *m = pn__fifo_peek(&x->f);
	uint32_t len = pn__fifo_len(&x->f);

	assert_non_null(m);
	assert_int_equal(m->ref, seq);
	pn__fifo_pop(&x->f, x->a);
	assert_int_equal(pn__fifo_len(&x->f), len - 1);
	assert_true(pn__fifo_ok(&x->f));
}

static void test_fifo_empty(void **state)
{
	struct fixture *x = *state;

	assert_int_equal(pn__fifo_len(&x->f), 0);
	assert_null(pn__fifo_peek(&x->f));
	push(x, 1);
	pop_expect(x, 1);
	assert_int_equal(pn__fifo_len(&x->f), 0);
	assert_null(pn__fifo_peek(&x->f));
}

static void test_fifo_order_across_chunks(void **state)
{
	struct fixture *x = *state;
	const uint64_t n = 10 * CHUNK + 17;
	uint64_t in = 0, out = 0;

	for (; in < n; in++)
		push(x, in);
	assert_int_equal(pn__fifo_len(&x->f), n);
	assert_int_equal(stats(x).nallocs, 11);
	while (out < n)
		pop_expect(x, out++);
	assert_null(pn__fifo_peek(&x->f));
	/* Interleaved, so that head and tail cross chunk ends apart. */
	for (unsigned round = 0; round < 50; round++) {
		unsigned k = 1 + (round * 37) % (3 * CHUNK);

		for (unsigned i = 0; i < k; i++)
			push(x, in++);
		for (unsigned i = 0; i < k / 2 + round % 3; i++)
			if (out < in)
				pop_expect(x, out++);
	}
	assert_int_equal(pn__fifo_len(&x->f), in - out);
	while (out < in)
		pop_expect(x, out++);
	assert_int_equal(pn__fifo_len(&x->f), 0);
	assert_null(pn__fifo_peek(&x->f));
}

static void test_fifo_messages_do_not_move(void **state)
{
	struct fixture *x = *state;
	const unsigned n = 5 * CHUNK + 3;
	struct pn_msg **at = calloc(n, sizeof(*at));
	struct pn_msg *first;

	assert_non_null(at);
	/* Start two slots before a chunk's end: the first chunk end comes
	 * at once. (Drained to empty, a chunk would start over.) */
	for (unsigned i = 0; i < CHUNK - 2; i++)
		push(x, 1000 + i);
	first = at[0] = push(x, 0);
	for (unsigned i = 0; i < CHUNK - 2; i++)
		pop_expect(x, 1000 + i);
	assert_ptr_equal(first, &x->f.head->m[CHUNK - 2]);
	for (unsigned i = 1; i < n; i++) {
		at[i] = push(x, i);
		/* The head, as a handler would hold it while it pushes. */
		assert_ptr_equal(pn__fifo_peek(&x->f), first);
		assert_int_equal(first->ref, 0);
	}
	for (unsigned i = 0; i < n; i++) {
		assert_ptr_equal(pn__fifo_peek(&x->f), at[i]);
		assert_int_equal(at[i]->ref, i);
		pop_expect(x, i);
	}
	free(at);
}

static void test_fifo_drained_chunk_starts_over(void **state)
{
	struct fixture *x = *state;
	struct pn_msg *top = push(x, 0);

	push(x, 1);
	push(x, 2);
	pop_expect(x, 0);
	pop_expect(x, 1);
	pop_expect(x, 2);
	/* Empty inside its only chunk: the next message goes to its top. */
	assert_ptr_equal(push(x, 3), top);
	assert_int_equal(stats(x).nallocs, 1);
	pop_expect(x, 3);
}

static void test_fifo_spares_reused_in_steady_state(void **state)
{
	struct fixture *x = *state;
	struct pn__chunk *seen[8] = {0};
	unsigned nseen = 0;
	uint64_t in = 0, out = 0, nallocs;

	/* Warm up: swing between 0 and 3 chunks and a bit once. */
	for (unsigned i = 0; i < 3 * CHUNK + 5; i++)
		push(x, in++);
	while (out < in)
		pop_expect(x, out++);
	nallocs = stats(x).nallocs;
	assert_int_equal(nallocs, 4);
	assert_int_equal(x->f.nspare, 3);
	/* The same swing 200 times, and a queue ~100 deep that streams:
	 * no allocation, no free, and only the four chunks ever used. */
	for (unsigned round = 0; round < 200; round++) {
		for (unsigned i = 0; i < 3 * CHUNK + 5; i++)
			push(x, in++);
		for (unsigned i = 0; i < 3 * CHUNK + 5; i++) {
			struct pn__chunk *c = x->f.head;
			unsigned k;

			for (k = 0; k < nseen && seen[k] != c; k++)
				;
			if (k == nseen) {
				assert_true(nseen < 8);
				seen[nseen++] = c;
			}
			pop_expect(x, out++);
		}
	}
	assert_int_equal(nseen, 4);
	for (unsigned i = 0; i < 100; i++)
		push(x, in++);
	for (unsigned i = 0; i < 100 * CHUNK; i++) {
		push(x, in++);
		pop_expect(x, out++);
	}
	assert_int_equal(stats(x).nallocs, nallocs);
	assert_int_equal(stats(x).nfrees, 0);
}

static void test_fifo_spares_bounded(void **state)
{
	struct fixture *x = *state;
	const uint64_t chunks = 1100; /* > 4 MiB of chunks */
	struct pn_arena_stats st;
	uint64_t n = chunks * CHUNK;

	for (uint64_t i = 0; i < n; i++)
		push(x, i);
	for (uint64_t i = 0; i < n; i++)
		pop_expect(x, i);
	st = stats(x);
	assert_int_equal(st.nallocs, chunks);
	/* The empty head chunk stays; of the rest, what exceeds the spare
	 * limit went back to the arena, and all is accounted for. */
	assert_true(x->f.nspare * sizeof(struct pn__chunk) <= (4u << 20));
	assert_true(x->f.nspare > 0);
	assert_int_equal(st.nfrees, chunks - 1 - x->f.nspare);
	assert_int_equal(st.allocated,
			 (1 + x->f.nspare) * sizeof(struct pn__chunk));
}

struct visit {
	uint64_t next; /* the ref the next message must have */
	unsigned calls, stop_at;
	bool in_order;
};

/* Checks the order, bumps each message's type; true at call stop_at. */
static bool visit_fn(struct pn_msg *m, void *arg)
{
	struct visit *v = arg;

	if (m->ref != v->next)
		v->in_order = false;
	v->next++;
	m->type++;
	return ++v->calls == v->stop_at;
}

static void test_fifo_each_in_order_and_stops(void **state)
{
	struct fixture *x = *state;
	struct visit v = {.next = 10, .in_order = true};
	const uint64_t n = 3 * CHUNK + 20;

	/* Nothing queued: no call. */
	assert_false(pn__fifo_each(&x->f, visit_fn, &v));
	assert_int_equal(v.calls, 0);
	/* 10 popped, so the head is mid-chunk and the tail three on. */
	for (uint64_t i = 0; i < n; i++)
		push(x, i);
	for (uint64_t i = 0; i < 10; i++)
		pop_expect(x, i);
	assert_false(pn__fifo_each(&x->f, visit_fn, &v));
	assert_true(v.in_order);
	assert_int_equal(v.calls, n - 10);
	/* Stop at the 100th (in the second chunk): true, no 101st call. */
	v = (struct visit){.next = 10, .in_order = true, .stop_at = 100};
	assert_true(pn__fifo_each(&x->f, visit_fn, &v));
	assert_int_equal(v.calls, 100);
	assert_true(v.in_order);
	/* The FIFO is the same, with the changes made in place. */
	assert_int_equal(pn__fifo_len(&x->f), n - 10);
	for (uint64_t i = 10; i < n; i++) {
		assert_int_equal(pn__fifo_peek(&x->f)->type, i < 110 ? 3 : 2);
		pop_expect(x, i);
	}
	/* Drained (the chunks are still there): no call. */
	v = (struct visit){.in_order = true};
	assert_false(pn__fifo_each(&x->f, visit_fn, &v));
	assert_int_equal(v.calls, 0);
}

static void test_fifo_fini_frees_everything(void **state)
{
	struct fixture *x = *state;
	struct pn_arena_stats st;

	/* Chunks queued, and spares. */
	for (uint64_t i = 0; i < 8 * CHUNK; i++)
		push(x, i);
	for (uint64_t i = 0; i < 4 * CHUNK + 1; i++)
		pop_expect(x, i);
	assert_true(x->f.nspare > 0);
	pn__fifo_fini(&x->f, x->a);
	st = stats(x);
	assert_int_equal(st.allocated, 0);
	assert_int_equal(st.nfrees, st.nallocs);
	assert_int_equal(pn__fifo_len(&x->f), 0);
	assert_null(x->f.head);
	assert_null(x->f.spare);
	/* A finished FIFO is an empty one: usable, and fini again is fine. */
	push(x, 1);
	pop_expect(x, 1);
	pn__fifo_fini(&x->f, x->a);
	pn__fifo_fini(&x->f, x->a);
	assert_int_equal(stats(x).allocated, 0);
}

static void test_fifo_ok_catches_corruption(void **state)
{
	struct fixture *x = *state;
	uint32_t saved;

	assert_true(pn__fifo_ok(&x->f));
	for (uint64_t i = 0; i < 2 * CHUNK + 3; i++)
		push(x, i);
	pop_expect(x, 0);
	/* A count off by one either way. */
	x->f.len++;
	assert_false(pn__fifo_ok(&x->f));
	x->f.len -= 2;
	assert_false(pn__fifo_ok(&x->f));
	x->f.len++;
	assert_true(pn__fifo_ok(&x->f));
	/* A head index past the tail's in a single-chunk FIFO. */
	while (pn__fifo_len(&x->f) > 2)
		pop_expect(x, 2 * CHUNK + 3 - pn__fifo_len(&x->f));
	saved = x->f.hidx;
	x->f.hidx = x->f.tidx + 1;
	assert_false(pn__fifo_ok(&x->f));
	x->f.hidx = saved;
	assert_true(pn__fifo_ok(&x->f));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_fifo_empty),
		T(test_fifo_order_across_chunks),
		T(test_fifo_messages_do_not_move),
		T(test_fifo_drained_chunk_starts_over),
		T(test_fifo_spares_reused_in_steady_state),
		T(test_fifo_spares_bounded),
		T(test_fifo_each_in_order_and_stops),
		T(test_fifo_fini_frees_everything),
		T(test_fifo_ok_catches_corruption),
	};
#undef T

	return cmocka_run_group_tests_name("fifo", tests, NULL, NULL);
}
