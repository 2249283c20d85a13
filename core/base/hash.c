// SPDX-License-Identifier: MIT
/*
 * The cold half of struct pn__htab (hash.h has the model and the lookup):
 * placing, growing, deleting.
 */
#include "hash.h"

#include <errno.h>
#include <string.h>

void pn__htab_init(struct pn__htab *t, uint32_t esz, uint32_t first,
		   uint32_t max)
{
	pn_verify(esz >= sizeof(uint64_t) && esz % sizeof(uint64_t) == 0);
	pn_verify(first >= 2 && !(first & (first - 1)) && first <= max &&
		  !(max & (max - 1)));
	*t = (struct pn__htab){.esz = esz, .first = first, .max = max};
}

void pn__htab_fini(struct pn__htab *t, struct pn_arena *a)
{
	if (t->v)
		pn_arena_free(a, t->v, (size_t)t->cap * t->esz);
	t->v = NULL;
	t->cap = t->n = 0;
}

/* The free slot on @key's chain (there is one: at most half full). */
static uint32_t place(const struct pn__htab *t, uint64_t key)
{
	uint32_t mask = t->cap - 1, i = pn__hash64(key) & mask;

	while (*pn__htab_key(t, i))
		i = (i + 1) & mask;
	return i;
}

static int grow(struct pn__htab *t, struct pn_arena *a)
{
	uint32_t cap = t->cap ? t->cap * 2 : t->first, old = t->cap;
	unsigned char *v = t->v;

	if (cap > t->max || cap < old)
		return -ENOSPC;
	t->v = pn_arena_zalloc(a, (size_t)cap * t->esz);
	if (!t->v) {
		t->v = v;
		return -ENOMEM;
	}
	t->cap = cap;
	for (uint32_t i = 0; i < old; i++) {
		const unsigned char *e = v + (size_t)i * t->esz;
		uint64_t key;

		memcpy(&key, e, sizeof(key));
		if (key)
			memcpy(pn__htab_key(t, place(t, key)), e, t->esz);
	}
	if (v)
		pn_arena_free(a, v, (size_t)old * t->esz);
	return 0;
}

int pn__htab_add(struct pn__htab *t, struct pn_arena *a, uint64_t key,
		 void **out)
{
	uint64_t *e;
	int err;

	pn_assert(key && !pn__htab_find(t, key));
	if ((t->n + 1) * 2 > t->cap && (err = grow(t, a)) < 0)
		return err;
	e = pn__htab_key(t, place(t, key));
	*e = key;
	t->n++;
	*out = e;
	return 0;
}

static int64_t home_of(void *p, uint32_t j)
{
	const struct pn__htab *t = p;
	uint64_t key = *pn__htab_key(t, j);

	return key ? (int64_t)(pn__hash64(key) & (t->cap - 1)) : -1;
}

static void move_to(void *p, uint32_t dst, uint32_t src)
{
	struct pn__htab *t = p;

	memcpy(pn__htab_key(t, dst), pn__htab_key(t, src), t->esz);
}

void pn__htab_del(struct pn__htab *t, void *e)
{
	uint32_t i = (uint32_t)(((unsigned char *)e - t->v) / t->esz);

	pn_assert(t->n && i < t->cap && *(uint64_t *)e);
	i = pn__probe_delete(t, t->cap - 1, i, home_of, move_to);
	memset(pn__htab_key(t, i), 0, t->esz);
	t->n--;
}

bool pn__htab_ok(const struct pn__htab *t)
{
	uint32_t used = 0;

	if (!t->cap)
		return !t->n && !t->v;
	for (uint32_t i = 0; i < t->cap; i++)
		used += !!*pn__htab_key(t, i);
	/* Also what keeps the lookups below from going round for ever. */
	if (used != t->n || t->n * 2 > t->cap)
		return false;
	for (uint32_t i = 0; i < t->cap; i++) {
		uint64_t key = *pn__htab_key(t, i);

		if (key && pn__htab_find(t, key) != pn__htab_key(t, i))
			return false;
	}
	return true;
}
