// SPDX-License-Identifier: MIT
/*
 * The PN_ALLOC_LIBC arena backend (the asan and tsan modes): plain malloc,
 * aligned_alloc and free, so the sanitizers see every allocation and every
 * reuse; jemalloc is not called at all. Explicit arenas would hide both.
 *
 * It keeps the jemalloc backend's contract, including the parts libc does
 * not give for free: pn_arena_destroy() frees every block still live (so
 * LeakSanitizer agrees with the contract), and the sized frees are checked.
 * Each block carries a trailer after its last byte, found from the size the
 * caller passes to the free, linking it into the arena's list and recording
 * its size and alignment; a free with a wrong size or the wrong function
 * panics here instead of corrupting a jemalloc tcache bin in release. A
 * trailer (not a header) keeps ASan's redzone right before the block and
 * wastes nothing on alignment; ASan-poisoned, it also keeps an overflow
 * past the requested size an error.
 */
#ifdef PN_ALLOC_LIBC

#include "alloc_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct pn__block {
	struct pn__block *prev, *next; /* the arena's live blocks */
	void *self;		       /* the block: a wrong size misses it */
	size_t size;		       /* as requested */
	size_t align;		       /* PN__ARENA_MIN_ALIGN or more */
};

#define TRAILER_ALIGN _Alignof(struct pn__block)

static size_t round_up(size_t n, size_t align)
{
	return (n + align - 1) & ~(align - 1);
}

/* Where the trailer of a block of @size bytes at @p sits. */
static struct pn__block *block_trailer(void *p, size_t size)
{
	return (struct pn__block *)((char *)p + round_up(size, TRAILER_ALIGN));
}

/* Trailers stay poisoned except while the arena touches them. */
static struct pn__block *block_open(struct pn__block *b)
{
	PN__UNPOISON(b, sizeof(*b));
	return b;
}

static void block_close(struct pn__block *b)
{
	PN__POISON(b, sizeof(*b));
}

static void block_link(struct pn_arena *a, struct pn__block *b)
{
	b->prev = NULL;
	b->next = a->blocks;
	if (a->blocks) {
		block_open(a->blocks)->prev = b;
		block_close(a->blocks);
	}
	a->blocks = b;
}

static void block_unlink(struct pn_arena *a, struct pn__block *b)
{
	if (b->prev) {
		block_open(b->prev)->next = b->next;
		block_close(b->prev);
	} else {
		a->blocks = b->next;
	}
	if (b->next) {
		block_open(b->next)->prev = b->prev;
		block_close(b->next);
	}
}

static void *libc_alloc(struct pn_arena *a, size_t size, size_t align,
			bool zero)
{
	size_t off = round_up(size, TRAILER_ALIGN);
	size_t total = off + sizeof(struct pn__block);
	struct pn__block *b;
	char *p;

	pn_assert(size > 0);
	pn_assert(align && (align & (align - 1)) == 0);
	if (off < size || total < off)
		return NULL;
	if (align <= PN__ARENA_MIN_ALIGN) {
		align = PN__ARENA_MIN_ALIGN;
		p = malloc(total);
	} else {
		/* C11 (and ASan) want the size a multiple of the alignment. */
		if (round_up(total, align) < total)
			return NULL;
		total = round_up(total, align);
		p = aligned_alloc(align, total);
	}
	if (!p)
		return NULL;
	if (zero)
		memset(p, 0, size);
	b = block_trailer(p, size);
	b->self = p;
	b->size = size;
	b->align = align;
	block_link(a, b);
	PN__POISON(p + size, total - size);
	pn__arena_count_alloc(a, size);
	return p;
}

static void libc_free(struct pn_arena *a, void *p, size_t size, size_t align)
{
	struct pn__block *b;

	if (!p)
		return;
	if (align < PN__ARENA_MIN_ALIGN)
		align = PN__ARENA_MIN_ALIGN;
	b = block_open(block_trailer(p, size));
	if (b->self != p || b->size != size)
		pn_panic("arena: free of %p with size %zu, not its size", p,
			 size);
	if (b->align != align)
		pn_panic("arena: free of %p (aligned to %zu) as aligned to %zu:"
			 " pn_arena_free_aligned() takes the alignment",
			 p, b->align, align);
	block_unlink(a, b);
	PN__UNPOISON(p, (size_t)((char *)(b + 1) - (char *)p));
	free(p);
	pn__arena_count_free(a, size);
}

int pn_arena_create(int numa_node, struct pn_arena **out)
{
	struct pn_arena *a;
	int err;

	if ((err = pn__arena_node_check(numa_node)) < 0)
		return err;
	a = calloc(1, sizeof(*a));
	if (!a)
		return pn__error(-ENOMEM, "arena: out of memory");
	a->numa_node = numa_node;
	*out = a;
	return 0;
}

void pn_arena_destroy(struct pn_arena *a)
{
	struct pn__block *b, *next;

	if (!a)
		return;
	for (b = a->blocks; b; b = next) {
		next = block_open(b)->next;
		PN__UNPOISON(b->self,
			     (size_t)((char *)(b + 1) - (char *)b->self));
		free(b->self);
	}
	free(a);
}

void *pn_arena_alloc(struct pn_arena *a, size_t size)
{
	return libc_alloc(a, size, PN__ARENA_MIN_ALIGN, false);
}

void *pn_arena_zalloc(struct pn_arena *a, size_t size)
{
	return libc_alloc(a, size, PN__ARENA_MIN_ALIGN, true);
}

void *pn_arena_alloc_aligned(struct pn_arena *a, size_t size, size_t align)
{
	return libc_alloc(a, size, align, false);
}

void pn_arena_free(struct pn_arena *a, void *p, size_t size)
{
	libc_free(a, p, size, PN__ARENA_MIN_ALIGN);
}

void pn_arena_free_aligned(struct pn_arena *a, void *p, size_t size,
			   size_t align)
{
	libc_free(a, p, size, align);
}

bool pn_arena_is_numa_bound(const struct pn_arena *a)
{
	(void)a;
	return false;
}

void pn_arena_stats_get(const struct pn_arena *a, struct pn_arena_stats *out)
{
	out->allocated = pn__ctr_get(&a->allocated);
	out->nallocs = pn__ctr_get(&a->nallocs);
	out->nfrees = pn__ctr_get(&a->nfrees);
}

#endif /* PN_ALLOC_LIBC */
