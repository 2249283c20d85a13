/* SPDX-License-Identifier: MIT */
/*
 * alloc/ internals shared by arena.c, arena_libc.c, numa.c and pool.c: the
 * arena's layout (each backend fills in its part), the owner-written
 * counter helpers, the NUMA extent hooks, and the ASan poisoning macros.
 * Nothing here is for other modules.
 */
#ifndef PN_ALLOC_INT_H
#define PN_ALLOC_INT_H

#include "pn_alloc.h"
#include "pn_base.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- AddressSanitizer hooks (no-ops without ASan) ------------------------- */

#if defined(__SANITIZE_ADDRESS__)
#define PN__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PN__ASAN 1
#endif
#endif

#ifdef PN__ASAN
#include <sanitizer/asan_interface.h>
#define PN__POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define PN__UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#define PN__IS_POISONED(p) (__asan_address_is_poisoned(p) != 0)
#else
#define PN__POISON(p, n)   ((void)(p), (void)(n))
#define PN__UNPOISON(p, n) ((void)(p), (void)(n))
#define PN__IS_POISONED(p) ((void)(p), false)
#endif

/* --- arenas --------------------------------------------------------------- */

/* Highest NUMA node number + 1 an arena can bind to (the mbind mask). */
#define PN__NUMA_MAX_NODES 1024

/* Alignments up to this need no alignment flag: every block has it. */
#define PN__ARENA_MIN_ALIGN 16

struct pn__block;
struct pn__numa_hooks;

struct pn_arena {
	/* Statistics: written by the owner only (pn__ctr_add), read by any
	 * thread in pn_arena_stats_get(). */
	_Atomic uint64_t allocated;
	_Atomic uint64_t nallocs;
	_Atomic uint64_t nfrees;
	int numa_node; /* as created; -1: no preference */
#ifdef PN_ALLOC_LIBC
	struct pn__block *blocks; /* owner: live blocks, for destroy */
#else
	int flags;	 /* MALLOCX_ARENA(ind) | MALLOCX_TCACHE(tcache) */
	unsigned ind;	 /* jemalloc arena index (arenas.create) */
	unsigned tcache; /* explicit tcache id (tcache.create) */
	struct pn__numa_hooks *hooks; /* NULL: memory not mbind()-bound */
#endif
};

/* Count an allocation or a free of @size bytes (owner only). */
static inline void pn__arena_count_alloc(struct pn_arena *a, size_t size)
{
	pn__ctr_add(&a->allocated, size);
	pn__ctr_add(&a->nallocs, 1);
}

static inline void pn__arena_count_free(struct pn_arena *a, size_t size)
{
	pn__ctr_add(&a->allocated, (uint64_t)0 - size);
	pn__ctr_add(&a->nfrees, 1);
}

#ifndef PN_ALLOC_LIBC
#include <jemalloc/jemalloc.h>

/*
 * NUMA extent hooks (numa.c). pn__numa_hooks_create() probes mbind() for
 * @node once: it returns 0 and the hooks in *out, 0 and NULL in *out when
 * the kernel will not bind (ENOSYS: no NUMA support; EPERM: seccomp;
 * EINVAL: the node is not allowed here), or -ENOMEM. The hooks must outlive
 * every jemalloc call on the arena they serve: destroy them only after
 * arena.<i>.destroy has returned.
 */
int pn__numa_hooks_create(int node, struct pn__numa_hooks **out);
extent_hooks_t *pn__numa_hooks_ops(struct pn__numa_hooks *h);
void pn__numa_hooks_destroy(struct pn__numa_hooks *h);
#endif

/* pn_arena_create()'s argument check, shared by both backends. */
static inline int pn__arena_node_check(int numa_node)
{
	if (numa_node < -1 || numa_node >= PN__NUMA_MAX_NODES)
		return pn__error(-EINVAL,
				 "arena: NUMA node %d out of range [-1, %d)",
				 numa_node, PN__NUMA_MAX_NODES);
	return 0;
}

#endif /* PN_ALLOC_INT_H */
