/* SPDX-License-Identifier: MIT */
/*
 * The one open-addressing hash table of core/, and the probe arithmetic
 * every table with linear probing shares (hash.c has the cold half).
 *
 * struct pn__htab is an owner-only map from a non-zero 64-bit key to a
 * fixed-size entry that begins with that key (0 marks an empty slot):
 * linear probing over a power-of-two array kept at most half full, grown
 * by doubling, and backward-shift deletion, so there are no tombstones and
 * chains stay short however many keys come and go. Entries move when the
 * table grows or an entry is deleted: a pointer from pn__htab_find() or
 * pn__htab_add() is good until the next add or delete. One thread (the
 * owning shard) uses a table; nothing here is atomic.
 *
 * Tables whose readers are other threads keep their own layout and
 * locking but use the same hash and the same deletion: the name registry
 * (pn__probe_delete under its seqlock); the two bounded samplers, the
 * meter's per-actor table and the traffic view's pairs, which probe a
 * short window from pn__hash64() and never delete singly.
 */
#ifndef PN_BASE_HASH_H
#define PN_BASE_HASH_H

#include "pn_alloc.h"
#include "pn_base.h"

#include <stdbool.h>
#include <stdint.h>

/* A 64-bit key's 32-bit hash (Fibonacci hashing: one multiply). Mask it
 * to a power-of-two table: every input bit reaches the low bits used. */
static inline uint32_t pn__hash64(uint64_t k)
{
	return (uint32_t)((k * 0x9e3779b97f4a7c15ull) >> 32);
}

/*
 * Backward-shift deletion (Knuth, TAOCP vol. 3, 6.4 algorithm R) in any
 * linear-probing table of mask + 1 slots: slot @i is being emptied; every
 * later entry of its chain that may move back into the hole does, so no
 * lookup ever crosses a gap it should not. @home(t, j) returns the home
 * slot of the entry in slot j, or -1 if slot j is empty; @move(t, dst,
 * src) moves the entry in src to dst. Returns the slot left empty, which
 * the caller clears. Inline so that the callbacks inline too.
 */
static inline uint32_t pn__probe_delete(void *t, uint32_t mask, uint32_t i,
					int64_t (*home)(void *t, uint32_t j),
					void (*move)(void *t, uint32_t dst,
						     uint32_t src))
{
	for (uint32_t j = i;;) {
		int64_t h;

		j = (j + 1) & mask;
		if ((h = home(t, j)) < 0)
			return i;
		/* Entry j moves into the hole unless its home lies
		 * cyclically in (i, j]: then the hole is not on its path. */
		if (((j - (uint32_t)h) & mask) >= ((j - i) & mask)) {
			move(t, i, j);
			i = j;
		}
	}
}

struct pn__htab {
	unsigned char *v; /* [cap * esz]: entries, each key first */
	uint32_t cap;	  /* 0 or a power of two */
	uint32_t n;	  /* entries in use, at most cap / 2 */
	uint32_t esz;	  /* entry size: a multiple of 8, key first */
	uint32_t first;	  /* capacity of the first array */
	uint32_t max;	  /* the largest capacity it may grow to */
};

/* An empty table of @esz-byte entries (no memory until the first add);
 * capacities from @first to @max, powers of two. Owner. */
void pn__htab_init(struct pn__htab *t, uint32_t esz, uint32_t first,
		   uint32_t max);
/* Give the array back to @a; the table is empty and usable again. */
void pn__htab_fini(struct pn__htab *t, struct pn_arena *a);
/* Add @key (non-zero, not present): *out is its entry, zeroed but for
 * the key. 0, -ENOMEM (no memory to grow), -ENOSPC (at max / 2). */
int pn__htab_add(struct pn__htab *t, struct pn_arena *a, uint64_t key,
		 void **out);
/* Delete entry @e (from find or add). */
void pn__htab_del(struct pn__htab *t, void *e);

/* Slot @i's key, the first word of its entry (0: empty). */
static inline uint64_t *pn__htab_key(const struct pn__htab *t, uint32_t i)
{
	return (uint64_t *)(void *)(t->v + (size_t)i * t->esz);
}

/* Slot @i (< cap): its entry, or NULL if empty. For walks over a table
 * that is not changed meanwhile. */
static inline void *pn__htab_slot(const struct pn__htab *t, uint32_t i)
{
	uint64_t *e = pn__htab_key(t, i);

	return *e ? e : NULL;
}

/* The entry of @key, or NULL (also for key 0). */
static inline void *pn__htab_find(const struct pn__htab *t, uint64_t key)
{
	uint32_t mask = t->cap - 1;

	if (!t->n)
		return NULL;
	for (uint32_t i = pn__hash64(key) & mask;; i = (i + 1) & mask) {
		uint64_t *e = pn__htab_key(t, i);

		if (!*e)
			return NULL;
		if (*e == key)
			return e;
	}
}

/* Whether every entry can be found from its home and n counts them
 * (O(cap): for asserts and tests). */
bool pn__htab_ok(const struct pn__htab *t);

#endif
