// SPDX-License-Identifier: MIT
/*
 * Fixed-size object pools: actors and large message buffers. The owner
 * allocates and frees in O(1) through an intrusive LIFO free list; any
 * other thread gives objects back in batches through a lock-free stack that
 * the owner empties in one exchange. Chunks come from the owner's arena.
 *
 * Finding an object's pool (pn_pool_of) is O(1) with no per-object header:
 * every chunk is aligned to POOL_CHUNK_ALIGN (64 KiB) and begins with a
 * one-cache-line header naming its pool, and the pool only ever places an
 * object so that it *starts* within the first 64 KiB of its chunk; masking
 * the object's address then lands on the header. Small objects pack
 * (64 KiB - 64) / size to a chunk, so the whole cost is 64 bytes per chunk
 * plus the tail that does not fit (under one object): 192-byte actors go
 * 341 to a chunk at 0.2 bytes each, where a hidden per-object header costs
 * 16 bytes each (8%) once 16-byte alignment is kept. An object that does
 * not fit in 64 KiB with the header goes alone in its chunk, right after the
 * header, and runs past the first 64 KiB; its cost is jemalloc's size-class
 * rounding of size + 64, acceptable for the rare buffers that big. Rejected: a
 * global page map (jemalloc's rtree) costs a dependent load or two per lookup
 * and needs its own concurrency; a fixed 2 MiB chunk alignment would let
 * objects up to 1 MiB pack, but each small pool would then claim its own
 * huge-page-aligned region, which transparent huge pages can back with 2 MiB of
 * RAM per 64 KiB chunk.
 *
 * Objects are carved from the newest chunk lazily (a bump pointer), so a
 * chunk's pages are touched only as objects are first used.
 */
#include "alloc_int.h"

#include <errno.h>
#include <string.h>

#define POOL_CHUNK_ALIGN ((size_t)64 * 1024)
#define POOL_CHUNK_HDR	 ((size_t)PN_CACHELINE)
#define POOL_OBJ_MAX	 ((size_t)1 << 20)
#define POOL_OBJ_ALIGN	 ((size_t)16)

/*
 * A chunk's header. @pool is written before any object in the chunk is
 * handed out and never again: other threads read it in pn_pool_of(),
 * ordered by whatever handed them the object. A full cache line keeps the
 * first object's writes from invalidating it in their caches.
 */
struct pool_chunk {
	struct pn_pool *pool;
	struct pool_chunk *next; /* owner: every chunk, for destroy */
	size_t bytes;		 /* as allocated from the arena */
};

_Static_assert(sizeof(struct pool_chunk) <= POOL_CHUNK_HDR,
	       "chunk header must fit its cache line");

struct pn_pool {
	/* Owner only, on every alloc/free. */
	void *free;	 /* LIFO free list, linked through word 0 */
	char *carve;	 /* next never-used object in the newest chunk */
	char *carve_end; /* end of the newest chunk's objects */
	size_t obj_size; /* rounded; immutable (read by remote freers) */
	struct pn_arena *arena;
	struct pool_chunk *chunks;
	size_t chunk_bytes; /* header + per_chunk objects */
	unsigned per_chunk;

	/* Statistics: owner-written (pn__ctr_add), read by any thread. */
	_Atomic uint64_t hits;
	_Atomic uint64_t misses;
	_Atomic uint64_t returned;
	_Atomic uint64_t in_use;
	_Atomic uint64_t nchunks;

	/*
	 * The remote-free stack: a chain of objects, batches of them pushed
	 * whole by other threads, taken whole by the owner. Its own cache
	 * line, so pushers contend here and not on the owner's fields.
	 */
	_Alignas(PN_CACHELINE) _Atomic(void *) remote;
};

/* --- links: word 0 of a free object (ASan: poisoned but while used) ------- */

static inline void *link_get(void *obj)
{
	void *next;

	PN__UNPOISON(obj, sizeof(void *));
	next = *(void **)obj;
	PN__POISON(obj, sizeof(void *));
	return next;
}

static inline void link_set(void *obj, void *next)
{
	PN__UNPOISON(obj, sizeof(void *));
	*(void **)obj = next;
	PN__POISON(obj, sizeof(void *));
}

/* A free object is poisoned whole: freeing it again is a double free. */
static inline void pool_check_live(const void *obj)
{
	if (PN__IS_POISONED(obj))
		pn_panic("pool: %p freed twice (or never allocated)", obj);
}

/* --- owner side ----------------------------------------------------------- */

int pn_pool_create(struct pn_arena *a, size_t obj_size, unsigned per_chunk,
		   struct pn_pool **out)
{
	size_t size, fit;
	struct pn_pool *p;

	if (obj_size == 0 || obj_size > POOL_OBJ_MAX)
		return pn__error(-EINVAL,
				 "pool: object size %zu not in [1, %zu]",
				 obj_size, POOL_OBJ_MAX);
	size = (obj_size + POOL_OBJ_ALIGN - 1) & ~(POOL_OBJ_ALIGN - 1);
	fit = (POOL_CHUNK_ALIGN - POOL_CHUNK_HDR) / size;
	if (fit == 0)
		fit = 1;
	if (per_chunk == 0 || per_chunk > fit)
		per_chunk = (unsigned)fit;

	p = pn_arena_alloc_aligned(a, sizeof(*p), PN_CACHELINE);
	if (!p)
		return pn__error(-ENOMEM, "pool: out of memory");
	p->free = NULL;
	p->carve = p->carve_end = NULL;
	p->obj_size = size;
	p->arena = a;
	p->chunks = NULL;
	p->per_chunk = per_chunk;
	p->chunk_bytes = POOL_CHUNK_HDR + (size_t)per_chunk * size;
	atomic_init(&p->hits, 0);
	atomic_init(&p->misses, 0);
	atomic_init(&p->returned, 0);
	atomic_init(&p->in_use, 0);
	atomic_init(&p->nchunks, 0);
	atomic_init(&p->remote, NULL);
	*out = p;
	return 0;
}

void pn_pool_destroy(struct pn_pool *p)
{
	struct pool_chunk *c, *next;

	if (!p)
		return;
	for (c = p->chunks; c; c = next) {
		next = c->next;
		PN__UNPOISON(c, c->bytes);
		pn_arena_free_aligned(p->arena, c, c->bytes, POOL_CHUNK_ALIGN);
	}
	pn_arena_free_aligned(p->arena, p, sizeof(*p), PN_CACHELINE);
}

/*
 * Take everything other threads returned: the whole stack in one exchange.
 * Taking all of it is what makes the stack ABA-free: the owner never reads
 * a head's next pointer and then swings the head with a CAS (the pattern a
 * recycled head defeats), and a pusher's CAS only has to find the head it
 * linked its tail to, whatever happened to that object in between.
 *
 * The walk counts the objects for the statistics. It touches each one
 * once, and they are the objects the owner is about to hand out anyway.
 */
static void *pool_collect(struct pn_pool *p)
{
	uint64_t n = 0;
	void *chain, *obj;

	/* A relaxed peek first: an empty stack costs no RMW and does not
	 * pull the line away from the pushers. Nothing is read through it. */
	if (!atomic_load_explicit(&p->remote, memory_order_relaxed))
		return NULL;
	/*
	 * Acquire pairs with the release CAS in pn_pool_batch_flush(): the
	 * pusher's links and its last writes to the objects are visible
	 * before we follow a link. Pushers' CASes are RMWs, so each extends
	 * the release sequence of the ones before it, and this one acquire
	 * synchronises with every batch in the chain.
	 */
	chain = atomic_exchange_explicit(&p->remote, NULL,
					 memory_order_acquire);
	for (obj = chain; obj; obj = link_get(obj))
		n++;
	pn__ctr_add(&p->returned, n);
	pn__ctr_add(&p->in_use, (uint64_t)0 - n);
	return chain;
}

/* Start a new chunk and carve its first object. */
static void *pool_grow(struct pn_pool *p)
{
	struct pool_chunk *c;
	char *first;

	c = pn_arena_alloc_aligned(p->arena, p->chunk_bytes, POOL_CHUNK_ALIGN);
	if (!c)
		return NULL;
	c->pool = p;
	c->next = p->chunks;
	c->bytes = p->chunk_bytes;
	p->chunks = c;
	first = (char *)c + POOL_CHUNK_HDR;
	/* Every object start is below c + POOL_CHUNK_ALIGN (see top). */
	pn_assert(first + (p->per_chunk - 1) * p->obj_size <
		  (char *)c + POOL_CHUNK_ALIGN);
	PN__POISON(first, p->per_chunk * p->obj_size);
	p->carve = first + p->obj_size;
	p->carve_end = first + p->per_chunk * p->obj_size;
	pn__ctr_add(&p->nchunks, 1);
	return first;
}

static void *pool_alloc_slow(struct pn_pool *p)
{
	void *obj = pool_collect(p);

	if (obj) {
		p->free = link_get(obj);
		return obj;
	}
	return pool_grow(p);
}

void *pn_pool_alloc(struct pn_pool *p)
{
	void *obj = p->free;

	if (PN_LIKELY(obj)) {
		p->free = link_get(obj);
		pn__ctr_add(&p->hits, 1);
	} else if (p->carve < p->carve_end) {
		obj = p->carve;
		p->carve += p->obj_size;
		pn__ctr_add(&p->hits, 1);
	} else {
		obj = pool_alloc_slow(p);
		if (PN_UNLIKELY(!obj))
			return NULL;
		pn__ctr_add(&p->misses, 1);
	}
	PN__UNPOISON(obj, p->obj_size);
	pn__ctr_add(&p->in_use, 1);
	return obj;
}

void pn_pool_free(struct pn_pool *p, void *obj)
{
	pn_assert(pn_pool_of(obj) == p);
	pool_check_live(obj);
	*(void **)obj = p->free;
	p->free = obj;
	PN__POISON(obj, p->obj_size);
	pn__ctr_add(&p->in_use, (uint64_t)0 - 1);
}

/* --- any thread ----------------------------------------------------------- */

struct pn_pool *pn_pool_of(const void *obj)
{
	uintptr_t base = (uintptr_t)obj & ~(uintptr_t)(POOL_CHUNK_ALIGN - 1);

	return ((const struct pool_chunk *)base)->pool;
}

size_t pn_pool_obj_size(const struct pn_pool *p)
{
	return p->obj_size;
}

void pn_pool_free_remote(struct pn_pool_batch *b, void *obj)
{
	struct pn_pool *p = pn_pool_of(obj);

	pool_check_live(obj);
	if (b->pool != p) {
		pn_pool_batch_flush(b);
		b->pool = p;
	}
	/* Push-front: the first object stays the tail, linked at flush. */
	*(void **)obj = b->head;
	if (!b->head)
		b->tail = obj;
	b->head = obj;
	PN__POISON(obj, p->obj_size);
	if (++b->n >= PN_POOL_BATCH_MAX)
		pn_pool_batch_flush(b);
}

void pn_pool_batch_flush(struct pn_pool_batch *b)
{
	struct pn_pool *p = b->pool;
	void *old;

	if (!b->n)
		return;
	/*
	 * Relaxed load and relaxed failure: @old is never dereferenced, only
	 * stored as our tail's link, so there is nothing to acquire.
	 */
	old = atomic_load_explicit(&p->remote, memory_order_relaxed);
	do {
		link_set(b->tail, old);
		/*
		 * Release on success pairs with the owner's acquire exchange
		 * in pool_collect(): our links, and everything this thread
		 * wrote to the objects before freeing them, happen before the
		 * owner reuses them.
		 */
	} while (!atomic_compare_exchange_weak_explicit(
		&p->remote, &old, b->head, memory_order_release,
		memory_order_relaxed));
	b->head = b->tail = NULL;
	b->n = 0;
}

void pn_pool_stats_get(const struct pn_pool *p, struct pn_pool_stats *out)
{
	out->hits = pn__ctr_get(&p->hits);
	out->misses = pn__ctr_get(&p->misses);
	out->returned = pn__ctr_get(&p->returned);
	out->in_use = pn__ctr_get(&p->in_use);
	out->chunks = pn__ctr_get(&p->nchunks);
}
