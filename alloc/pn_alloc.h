/* SPDX-License-Identifier: MIT */
/*
 * alloc/: per-shard memory. One jemalloc arena per shard (arenas.create),
 * NUMA-local, with an explicit tcache; fixed-size object pools on top for
 * actors and large message buffers, with a lock-free path for other threads
 * to give objects back to their owner in batches. Knows nothing of actors.
 *
 * Ownership rule: an arena or pool has one owner thread (its shard). Only
 * the owner allocates from it and frees into it; any other thread returns
 * pool objects through a struct pn_pool_batch (pn_pool_free_remote()).
 *
 * Built with -DPN_ALLOC_LIBC (the asan and tsan modes), arenas use libc
 * malloc/free so the sanitizers see every allocation; pools keep their
 * structure and protocol (so TSan checks the remote-free path) but poison
 * free objects for ASan.
 */
#ifndef PN_ALLOC_H
#define PN_ALLOC_H

#include "pn_base.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- arenas ------------------------------------------------------------ */

struct pn_arena;

/*
 * Create an arena whose memory comes from NUMA node @numa_node (-1: no
 * preference), with its own explicit tcache. Call it from the owner thread
 * or hand the arena to the owner before first use.
 *
 * With @numa_node >= 0 the arena's extent hooks bind every mapping to the
 * node with mbind(MPOL_PREFERRED). When the kernel will not (ENOSYS on a
 * non-NUMA kernel, EPERM under seccomp, EINVAL for a node the cpuset does
 * not allow) the arena is still created, unbound: locality then comes from
 * the owner thread's memory binding (pn_thread_pin()) and first touch;
 * pn_arena_is_numa_bound() tells which. Under PN_ALLOC_LIBC @numa_node is
 * recorded and ignored.
 *
 * Returns 0 and *out, -EINVAL for @numa_node < -1 or >= 1024, -ENOMEM, or
 * -EIO when jemalloc refuses (detail in pn_last_error()).
 */
PN_API int pn_arena_create(int numa_node, struct pn_arena **out);

/*
 * Destroy @a and every allocation still in it (arenas.destroy). The caller
 * guarantees nothing uses them any more. NULL is ignored. Owner thread.
 */
PN_API void pn_arena_destroy(struct pn_arena *a);

/* Allocate @size bytes (>0) from @a; NULL when out of memory. Owner only. */
PN_API void *pn_arena_alloc(struct pn_arena *a, size_t size);

/* As pn_arena_alloc(), zero-filled. */
PN_API void *pn_arena_zalloc(struct pn_arena *a, size_t size);

/*
 * Allocate @size bytes (>0) aligned to @align (a power of two); NULL when
 * out of memory. Owner only. Free with pn_arena_free_aligned() and the same
 * size and alignment; pn_arena_free() is correct only for @align <= 16.
 * (Sized deallocation trusts the size to find the size class, and an
 * alignment above 16 can move a block to a larger class, so the free must
 * know it, as C++'s aligned operator delete does.)
 */
PN_API void *pn_arena_alloc_aligned(struct pn_arena *a, size_t size,
				    size_t align);

/*
 * Free @p, which @a allocated (pn_arena_alloc(), pn_arena_zalloc(), or
 * pn_arena_alloc_aligned() with @align <= 16) with exactly @size bytes
 * (sized deallocation). NULL is ignored. Owner only. Debug builds check the
 * size against jemalloc's; PN_ALLOC_LIBC builds check size and alignment
 * exactly and panic on a mismatch.
 */
PN_API void pn_arena_free(struct pn_arena *a, void *p, size_t size);

/*
 * Free @p, which pn_arena_alloc_aligned(@a, @size, @align) returned. NULL
 * is ignored. Owner only.
 */
PN_API void pn_arena_free_aligned(struct pn_arena *a, void *p, size_t size,
				  size_t align);

/*
 * Whether @a's memory is bound to its NUMA node by its own extent hooks
 * (see pn_arena_create()). Any thread.
 */
PN_API bool pn_arena_is_numa_bound(const struct pn_arena *a);

struct pn_arena_stats {
	uint64_t allocated; /* bytes currently allocated (as requested) */
	uint64_t nallocs;   /* allocation calls so far */
	uint64_t nfrees;    /* free calls so far */
};

/*
 * Read @a's statistics. Any thread; the figures are a consistent-enough
 * snapshot for monitoring (each counter is read atomically).
 */
PN_API void pn_arena_stats_get(const struct pn_arena *a,
			       struct pn_arena_stats *out);

/* --- fixed-size object pools -------------------------------------------- */

struct pn_pool;

/*
 * Create a pool of objects of @obj_size bytes (rounded up to 16), taking
 * memory from @a in chunks of @per_chunk objects. Objects are 16-byte
 * aligned and carry no per-object header: a chunk is 64 KiB-aligned with
 * its header at the start, which is how pn_pool_of() works. A chunk holds
 * at most what fits in 64 KiB (one object when objects are larger), so
 * @per_chunk is capped there; 0 means "that many". Objects above ~64 KiB
 * come one per chunk and pay jemalloc's size-class rounding (up to 25%).
 * Owner thread of @a. The pool struct itself lives in @a.
 *
 * Returns 0 and *out, -EINVAL for obj_size 0 or too large (> 1 MiB),
 * -ENOMEM.
 */
PN_API int pn_pool_create(struct pn_arena *a, size_t obj_size,
			  unsigned per_chunk, struct pn_pool **out);

/*
 * Destroy @p and all its chunks. Objects still out, and batches not yet
 * flushed to it, become invalid. NULL is ignored. Owner only.
 */
PN_API void pn_pool_destroy(struct pn_pool *p);

/*
 * Take an object: O(1). From the local free list (or the newest chunk's
 * not yet used space) first; when that is empty, from the objects other
 * threads returned (all of them at once: one atomic exchange, then a walk
 * to count them, so amortised O(1)); then from a new chunk. Returns NULL
 * when out of memory. The contents are undefined. Owner only.
 */
PN_API void *pn_pool_alloc(struct pn_pool *p);

/* Give back an object @p owns: O(1). Owner only. */
PN_API void pn_pool_free(struct pn_pool *p, void *obj);

/*
 * The pool an object came from (constant time, from its chunk's header).
 * Any thread that may touch @obj: the header was written before the object
 * was first handed out, and whatever gave the thread @obj ordered that.
 */
PN_API struct pn_pool *pn_pool_of(const void *obj);

/* Size of the objects @p hands out (after rounding). */
PN_API size_t pn_pool_obj_size(const struct pn_pool *p);

/*
 * A batch of objects a non-owner thread is giving back to one pool. Lives
 * in the caller's memory; zero-initialise it (or use PN_POOL_BATCH_INIT).
 * Fields are private.
 */
struct pn_pool_batch {
	struct pn_pool *pool;
	void *head;
	void *tail;
	unsigned n;
};
/* (clang-format would spread the braces over four lines.) */
/* clang-format off */
#define PN_POOL_BATCH_INIT {0}
/* clang-format on */

/* Objects a batch collects before it hands them over by itself. */
#define PN_POOL_BATCH_MAX 64

/*
 * Return @obj to its owning pool from a thread that does not own it. The
 * object joins @b; the batch is handed to the owner (one lock-free push)
 * when it holds PN_POOL_BATCH_MAX objects or when @obj belongs to a pool
 * other than the batch's (the old batch is flushed first). Until then the
 * objects wait in @b: flush it before the thread idles or exits. Any
 * thread but the owner (the owner may, but pn_pool_free() is cheaper).
 */
PN_API void pn_pool_free_remote(struct pn_pool_batch *b, void *obj);

/* Hand over whatever @b holds now (no-op when empty). Any thread. */
PN_API void pn_pool_batch_flush(struct pn_pool_batch *b);

struct pn_pool_stats {
	uint64_t hits;	   /* allocations served locally (free list, chunk) */
	uint64_t misses;   /* allocations that had to collect or grow */
	uint64_t returned; /* objects given back by other threads, counted
			      when the owner collects them */
	uint64_t in_use;   /* objects allocated and not yet back (a remote
			      free counts once the owner collects it) */
	uint64_t chunks;   /* chunks taken from the arena */
};

/* Read @p's statistics. Any thread (each counter read atomically). */
PN_API void pn_pool_stats_get(const struct pn_pool *p,
			      struct pn_pool_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* PN_ALLOC_H */
