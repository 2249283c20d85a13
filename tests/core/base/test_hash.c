// SPDX-License-Identifier: MIT
/*
 * The open-addressing hash table (core/base/hash.h, hash.c) over a real
 * arena: lookups in an empty table and of key 0 find nothing; an entry
 * keeps its payload through growth; a long run of random adds and deletes
 * agrees with a reference set at every step, and the table's invariant
 * (every entry reachable from its home, n counts them) holds throughout;
 * keys that all share one home, in a chain that wraps round the end of
 * the array, stay findable whichever of them is deleted (what a wrong
 * backward-shift condition breaks); -ENOSPC at the size limit leaves the
 * table as it was; fini gives every byte back. pn__probe_delete() is also
 * driven on its own over a table whose homes the test chooses.
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
#include <errno.h>

struct ent {
	uint64_t key;
	uint64_t val; /* key * 3 + 1 while in the table */
	uint32_t tag;
	uint32_t pad;
};

struct fixture {
	struct pn_arena *a;
	struct pn__htab t;
};

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));

	if (!x || pn_arena_create(-1, &x->a) != 0) {
		free(x);
		return -1;
	}
	pn__htab_init(&x->t, sizeof(struct ent), 4, 1u << 20);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;
	struct pn_arena_stats st;

	pn__htab_fini(&x->t, x->a);
	pn_arena_stats_get(x->a, &st);
	assert_int_equal(st.allocated, 0); /* every array given back */
	pn_arena_destroy(x->a);
	free(x);
	return 0;
}

static void add(struct fixture *x, uint64_t key)
{
	struct ent *e = NULL;

	assert_int_equal(pn__htab_add(&x->t, x->a, key, (void **)&e), 0);
	assert_non_null(e);
	assert_int_equal(e->key, key);
	assert_int_equal(e->val, 0); /* zeroed but for the key */
	e->val = key * 3 + 1;
	e->tag = (uint32_t)key;
}

static void expect(const struct fixture *x, uint64_t key, bool in)
{
	const struct ent *e = pn__htab_find(&x->t, key);

	if (!in) {
		assert_null(e);
		return;
	}
	assert_non_null(e);
	assert_int_equal(e->key, key);
	assert_int_equal(e->val, key * 3 + 1);
	assert_int_equal(e->tag, (uint32_t)key);
}

static void del(struct fixture *x, uint64_t key)
{
	void *e = pn__htab_find(&x->t, key);

	assert_non_null(e);
	pn__htab_del(&x->t, e);
	expect(x, key, false);
}

static void test_hash_empty(void **state)
{
	struct fixture *x = *state;

	assert_null(pn__htab_find(&x->t, 1));
	assert_null(pn__htab_find(&x->t, 0));
	assert_true(pn__htab_ok(&x->t));
	add(x, 7);
	assert_null(pn__htab_find(&x->t, 0)); /* 0 is "empty", never a key */
	expect(x, 7, true);
	del(x, 7);
	assert_int_equal(x->t.n, 0);
	assert_true(pn__htab_ok(&x->t));
}

static void test_hash_growth_keeps_entries(void **state)
{
	struct fixture *x = *state;

	for (uint64_t k = 1; k <= 5000; k++) {
		add(x, k << 20); /* keys that differ only in high bits */
		assert_true(x->t.n * 2 <= x->t.cap);
	}
	assert_int_equal(x->t.cap, 16384);
	for (uint64_t k = 1; k <= 5000; k++)
		expect(x, k << 20, true);
	expect(x, 5001ull << 20, false);
	assert_true(pn__htab_ok(&x->t));
}

/* xorshift64: a fixed sequence, the same on every run. */
static uint64_t next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void test_hash_random_against_reference(void **state)
{
	struct fixture *x = *state;
	enum { U = 512 }; /* key universe: heavy reuse of freed keys */
	bool ref[U + 1] = {false};
	uint64_t rng = 88172645463325252ull, n = 0;

	for (unsigned step = 0; step < 200000; step++) {
		uint64_t k = 1 + next(&rng) % U;

		if (ref[k]) {
			del(x, k);
			n--;
		} else {
			add(x, k);
			n++;
		}
		ref[k] = !ref[k];
		assert_int_equal(x->t.n, n);
		k = 1 + next(&rng) % U;
		expect(x, k, ref[k]);
		if (step % 997 == 0) {
			assert_true(pn__htab_ok(&x->t));
			for (uint64_t j = 1; j <= U; j++)
				expect(x, j, ref[j]);
		}
	}
}

/* @n keys whose home in a table of @cap slots is @home. */
static void same_home(uint32_t cap, uint32_t home, uint64_t *keys, unsigned n)
{
	for (uint64_t k = 1; n; k++)
		if ((pn__hash64(k) & (cap - 1)) == home)
			keys[--n] = k;
}

static void test_hash_chain_wrapping_the_end(void **state)
{
	struct fixture *x = *state;
	enum { CAP = 64, N = 12 };
	uint64_t keys[N], other[4];

	/* Fill to just under the growth point at CAP: a 12-long chain that
	 * starts 4 slots before the end, plus keys whose homes lie inside
	 * that chain (they must not move back past their homes). */
	for (uint64_t k = 1; x->t.cap < CAP; k++)
		add(x, 1000000 + k);
	while (x->t.n)
		for (uint32_t i = 0; i < x->t.cap; i++)
			if (pn__htab_slot(&x->t, i))
				pn__htab_del(&x->t, pn__htab_slot(&x->t, i));
	assert_int_equal(x->t.cap, CAP);
	same_home(CAP, CAP - 4, keys, N);
	same_home(CAP, 2, other, 4);
	for (unsigned i = 0; i < N; i++)
		add(x, keys[i]);
	for (unsigned i = 0; i < 4; i++)
		add(x, other[i]);
	/* Delete each chain member in turn, from the middle outwards, and
	 * check everything else after each. */
	for (unsigned d = 0; d < N; d++) {
		unsigned i = (d * 5 + 3) % N;

		while (!pn__htab_find(&x->t, keys[i]))
			i = (i + 1) % N;
		del(x, keys[i]);
		assert_true(pn__htab_ok(&x->t));
		for (unsigned j = 0; j < 4; j++)
			expect(x, other[j], true);
	}
	assert_int_equal(x->t.n, 4);
	assert_int_equal(x->t.cap, CAP);
}

static void test_hash_full_is_enospc(void **state)
{
	struct fixture *x = *state;
	void *e;

	pn__htab_fini(&x->t, x->a);
	pn__htab_init(&x->t, sizeof(struct ent), 4, 16);
	for (uint64_t k = 1; k <= 8; k++)
		add(x, k);
	assert_int_equal(pn__htab_add(&x->t, x->a, 9, &e), -ENOSPC);
	assert_int_equal(x->t.n, 8);
	for (uint64_t k = 1; k <= 8; k++)
		expect(x, k, true);
	expect(x, 9, false);
	assert_true(pn__htab_ok(&x->t));
}

static void test_hash_ok_catches_corruption(void **state)
{
	struct fixture *x = *state;
	struct ent *e;

	for (uint64_t k = 1; k <= 20; k++)
		add(x, k);
	assert_true(pn__htab_ok(&x->t));
	x->t.n++;
	assert_false(pn__htab_ok(&x->t));
	x->t.n--;
	/* An entry moved to the slot just before its home, which is empty:
	 * a lookup walks forward from the home and stops at a gap first. */
	for (uint64_t k = 1; k <= 20; k++) {
		uint32_t home = pn__hash64(k) & (x->t.cap - 1);
		uint32_t before = (home + x->t.cap - 1) & (x->t.cap - 1);

		if (pn__htab_slot(&x->t, before))
			continue;
		e = pn__htab_find(&x->t, k);
		memcpy(pn__htab_key(&x->t, before), e, sizeof(*e));
		memset(e, 0, sizeof(*e));
		assert_false(pn__htab_ok(&x->t));
		/* Put back: the table is whole again. */
		memcpy(e, pn__htab_key(&x->t, before), sizeof(*e));
		memset(pn__htab_key(&x->t, before), 0, sizeof(*e));
		assert_true(pn__htab_ok(&x->t));
		return;
	}
	fail_msg("no key with an empty slot before its home");
}

/* pn__probe_delete over a table of small integers whose home is v / 10
 * (so the test decides every collision), 8 slots. */
struct tiny {
	int v[8]; /* 0: empty */
};

static int64_t tiny_home(void *p, uint32_t j)
{
	const struct tiny *t = p;

	return t->v[j] ? t->v[j] / 10 : -1;
}

static void tiny_move(void *p, uint32_t dst, uint32_t src)
{
	struct tiny *t = p;

	t->v[dst] = t->v[src];
}

static void test_probe_delete_by_homes(void **state)
{
	(void)state;
	/* Slots 6,7,0,1,2: homes 6,6,7,0,2 - a chain wrapping the end. */
	struct tiny t = {.v = {71, 1, 21, 0, 0, 0, 60, 61}};
	uint32_t hole = pn__probe_delete(&t, 7, 6, tiny_home, tiny_move);

	/* 61 -> 6; 71 (home 7) -> 7; 1 (home 0) -> 0; 21 stays (home 2). */
	assert_int_equal(t.v[6], 61);
	assert_int_equal(t.v[7], 71);
	assert_int_equal(t.v[0], 1);
	assert_int_equal(t.v[2], 21);
	assert_int_equal(hole, 1);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_hash_empty),
		T(test_hash_growth_keeps_entries),
		T(test_hash_random_against_reference),
		T(test_hash_chain_wrapping_the_end),
		T(test_hash_full_is_enospc),
		T(test_hash_ok_catches_corruption),
		cmocka_unit_test(test_probe_delete_by_homes),
	};
#undef T

	return cmocka_run_group_tests_name("hash", tests, NULL, NULL);
}
