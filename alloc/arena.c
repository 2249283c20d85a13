// SPDX-License-Identifier: MIT
/*
 * Per-shard arenas on jemalloc: one jemalloc arena (arenas.create) and one
 * explicit tcache (tcache.create) per pn_arena, and every call names both,
 * so a shard's allocations never touch another shard's arena or the calling
 * thread's implicit tcache. The NUMA extent hooks live in numa.c; under
 * PN_ALLOC_LIBC this file is empty and arena_libc.c takes over.
 *
 * An explicit tcache is not thread-safe, and neither is the owner-written
 * statistics scheme: both rest on the single-owner rule of pn_alloc.h.
 */
#ifndef PN_ALLOC_LIBC

#include "alloc_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h> /* ffs(), used by MALLOCX_ALIGN() */

/* A mallctl() failure (a positive errno) as our -errno with the detail. */
static int arena_mallctl_error(int err, const char *what)
{
	char buf[128];

	if (err == ENOMEM)
		return pn__error(-ENOMEM, "arena: jemalloc %s: out of memory",
				 what);
	/* GNU strerror_r: thread-safe, returns the message. */
	return pn__error(-EIO, "arena: jemalloc %s failed: %s", what,
			 strerror_r(err, buf, sizeof(buf)));
}

/* Destroy jemalloc arena @ind; 0 or a positive errno. */
static int arena_je_destroy(unsigned ind)
{
	char name[64];

	snprintf(name, sizeof(name), "arena.%u.destroy", ind);
	return mallctl(name, NULL, NULL, NULL, 0);
}

/* Create the jemalloc arena (with @a->hooks when bound) and its tcache. */
static int arena_je_create(struct pn_arena *a)
{
	extent_hooks_t *ops = a->hooks ? pn__numa_hooks_ops(a->hooks) : NULL;
	size_t sz = sizeof(unsigned);
	int err;

	/* The new value is the hooks pointer itself. */
	err = mallctl("arenas.create", &a->ind, &sz, ops ? &ops : NULL,
		      ops ? sizeof(extent_hooks_t *) : 0);
	if (err)
		return arena_mallctl_error(err, "arenas.create");
	sz = sizeof(unsigned);
	err = mallctl("tcache.create", &a->tcache, &sz, NULL, 0);
	if (err) {
		arena_je_destroy(a->ind);
		return arena_mallctl_error(err, "tcache.create");
	}
	a->flags = MALLOCX_ARENA(a->ind) | MALLOCX_TCACHE(a->tcache);
	return 0;
}

int pn_arena_create(int numa_node, struct pn_arena **out)
{
	struct pn_arena *a;
	int err;

	if ((err = pn__arena_node_check(numa_node)) < 0)
		return err;
	/* The descriptor itself is cold: the default arena is fine. */
	a = calloc(1, sizeof(*a));
	if (!a)
		return pn__error(-ENOMEM, "arena: out of memory");
	a->numa_node = numa_node;
	if (numa_node >= 0) {
		err = pn__numa_hooks_create(numa_node, &a->hooks);
		if (err)
			goto fail;
	}
	err = arena_je_create(a);
	if (err)
		goto fail;
	*out = a;
	return 0;
fail:
	if (a->hooks)
		pn__numa_hooks_destroy(a->hooks);
	free(a);
	return err;
}

void pn_arena_destroy(struct pn_arena *a)
{
	unsigned tc;

	if (!a)
		return;
	/*
	 * arena.<i>.destroy requires every tcache that cached this arena's
	 * memory to be flushed first; ours is the only one (every call names
	 * it), and tcache.destroy flushes it.
	 */
	tc = a->tcache;
	mallctl("tcache.destroy", NULL, NULL, &tc, sizeof(tc));
	if (arena_je_destroy(a->ind) != 0) {
		/*
		 * Only possible if someone bound a thread to our arena
		 * (thread.arena). jemalloc still holds our hooks then, so
		 * leaking them and the descriptor is the safe way out.
		 */
		return;
	}
	if (a->hooks)
		pn__numa_hooks_destroy(a->hooks);
	free(a);
}

void *pn_arena_alloc(struct pn_arena *a, size_t size)
{
	void *p;

	pn_assert(size > 0);
	p = mallocx(size, a->flags);
	if (PN_LIKELY(p))
		pn__arena_count_alloc(a, size);
	return p;
}

void *pn_arena_zalloc(struct pn_arena *a, size_t size)
{
	void *p;

	pn_assert(size > 0);
	p = mallocx(size, a->flags | MALLOCX_ZERO);
	if (PN_LIKELY(p))
		pn__arena_count_alloc(a, size);
	return p;
}

/* The mallocx/sdallocx flags for @align (none needed up to 16). */
static inline int arena_align_flags(const struct pn_arena *a, size_t align)
{
	pn_assert(align && (align & (align - 1)) == 0);
	if (align <= PN__ARENA_MIN_ALIGN)
		return a->flags;
	return a->flags | MALLOCX_ALIGN(align);
}

void *pn_arena_alloc_aligned(struct pn_arena *a, size_t size, size_t align)
{
	void *p;

	pn_assert(size > 0);
	p = mallocx(size, arena_align_flags(a, align));
	if (PN_LIKELY(p))
		pn__arena_count_alloc(a, size);
	return p;
}

void pn_arena_free(struct pn_arena *a, void *p, size_t size)
{
	if (!p)
		return;
	/* A wrong size (or an aligned block) would corrupt a tcache bin. */
	pn_assert(sallocx(p, 0) == nallocx(size, 0));
	sdallocx(p, size, a->flags);
	pn__arena_count_free(a, size);
}

void pn_arena_free_aligned(struct pn_arena *a, void *p, size_t size,
			   size_t align)
{
	int flags;

	if (!p)
		return;
	flags = arena_align_flags(a, align);
	pn_assert(sallocx(p, 0) == nallocx(size, flags));
	sdallocx(p, size, flags);
	pn__arena_count_free(a, size);
}

bool pn_arena_is_numa_bound(const struct pn_arena *a)
{
	return a->hooks != NULL;
}

void pn_arena_stats_get(const struct pn_arena *a, struct pn_arena_stats *out)
{
	out->allocated = pn__ctr_get(&a->allocated);
	out->nallocs = pn__ctr_get(&a->nallocs);
	out->nfrees = pn__ctr_get(&a->nfrees);
}

#endif /* !PN_ALLOC_LIBC */
