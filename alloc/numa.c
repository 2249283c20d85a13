// SPDX-License-Identifier: MIT
/*
 * NUMA-local arenas: jemalloc extent hooks that map memory with mmap() and
 * bind it to one node with mbind(MPOL_PREFERRED), straight through the
 * system call (no libnuma). PREFERRED, not BIND: a full node spills over to
 * its neighbours rather than failing the shard's allocation.
 *
 * Why hooks, when topology/'s pn_thread_pin() already binds the owner
 * thread's memory policy? A thread policy decides where a page lands only
 * when that thread is the first to touch it. Arenas are often created, and
 * their metadata and first extents touched, by the thread that starts the
 * runtime before the shards are pinned; a shard's memory is written by
 * other threads (a message filled in by its sender, a link written by a
 * remote free); and a purged page is refaulted by whoever touches it next.
 * A policy set on the mapping itself holds through all of that. The thread
 * policy plus first touch remains the fallback when the kernel refuses.
 *
 * jemalloc calls these hooks with its own locks held, normally from the
 * owner thread (allocation, purging on its decay ticks) or from the thread
 * destroying the arena, but a mallctl purge may come from anywhere: they
 * only make system calls and bump one relaxed counter, so any thread will
 * do. They must not allocate through malloc.
 */
#ifndef PN_ALLOC_LIBC

#include "alloc_int.h"

#include <errno.h>
#include <linux/mempolicy.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NUMA_MASK_BITS	(8 * sizeof(unsigned long))
#define NUMA_MASK_WORDS (PN__NUMA_MAX_NODES / NUMA_MASK_BITS)

struct pn__numa_hooks {
	extent_hooks_t ops; /* first: jemalloc hands &ops back to each hook */
	int node;
	/* mbind() failures after a successful probe (ENOMEM, say): the memory
	 * is used unbound. Bumped by whichever thread maps; diagnostic only,
	 * hence relaxed. */
	_Atomic unsigned long bind_failures;
};

static struct pn__numa_hooks *numa_of(extent_hooks_t *ops)
{
	return (struct pn__numa_hooks *)((char *)ops -
					 offsetof(struct pn__numa_hooks, ops));
}

/* mbind(@p, @size) to @node; 0 or a positive errno. */
static int numa_mbind(void *p, size_t size, int node)
{
	unsigned long mask[NUMA_MASK_WORDS] = {0};

	mask[node / NUMA_MASK_BITS] = 1UL << (node % NUMA_MASK_BITS);
	/* The kernel reads maxnode - 1 bits (as libnuma knows): pass + 1. */
	if (syscall(SYS_mbind, p, size, MPOL_PREFERRED, mask,
		    (unsigned long)PN__NUMA_MAX_NODES + 1, 0) != 0)
		return errno;
	return 0;
}

static void *numa_mmap(void *addr, size_t size, int extra)
{
	return mmap(addr, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | extra, -1, 0);
}

/* Map @size bytes aligned to @align (a power of two, >= the page size). */
static void *numa_map_aligned(size_t size, size_t align)
{
	char *raw, *p;
	size_t span, lead, trail;

	p = numa_mmap(NULL, size, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (((uintptr_t)p & (align - 1)) == 0)
		return p;
	/* Over-map and trim: both ends are page multiples. */
	munmap(p, size);
	span = size + align;
	if (span < size)
		return NULL;
	raw = numa_mmap(NULL, span, 0);
	if (raw == MAP_FAILED)
		return NULL;
	p = (char *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
	lead = (size_t)(p - raw);
	trail = span - lead - size;
	if (lead)
		munmap(raw, lead);
	if (trail)
		munmap(p + size, trail);
	return p;
}

static void *numa_alloc(extent_hooks_t *ops, void *new_addr, size_t size,
			size_t align, bool *zero, bool *commit,
			unsigned arena_ind)
{
	struct pn__numa_hooks *h = numa_of(ops);
	void *p;

	(void)arena_ind;
	if (new_addr) {
		/* Exactly there or not at all (pre-4.17 kernels take
		 * NOREPLACE as a hint, hence the second check). */
		p = numa_mmap(new_addr, size, MAP_FIXED_NOREPLACE);
		if (p == MAP_FAILED)
			return NULL;
		if (p != new_addr) {
			munmap(p, size);
			return NULL;
		}
	} else {
		p = numa_map_aligned(size, align < 4096 ? 4096 : align);
		if (!p)
			return NULL;
	}
	if (numa_mbind(p, size, h->node) != 0)
		atomic_fetch_add_explicit(&h->bind_failures, 1,
					  memory_order_relaxed);
	*zero = true;	/* fresh anonymous memory */
	*commit = true; /* no overcommit games: mapped read-write */
	return p;
}

/* Returning false means "done"; jemalloc forgets the range. */
static bool numa_dalloc(extent_hooks_t *ops, void *addr, size_t size,
			bool committed, unsigned arena_ind)
{
	(void)ops, (void)committed, (void)arena_ind;
	return munmap(addr, size) != 0;
}

static void numa_destroy(extent_hooks_t *ops, void *addr, size_t size,
			 bool committed, unsigned arena_ind)
{
	(void)ops, (void)committed, (void)arena_ind;
	munmap(addr, size);
}

/* Purging keeps the mapping, hence its policy: refaults stay on node. */
static bool numa_purge_lazy(extent_hooks_t *ops, void *addr, size_t size,
			    size_t offset, size_t length, unsigned arena_ind)
{
	(void)ops, (void)size, (void)arena_ind;
	return madvise((char *)addr + offset, length, MADV_FREE) != 0;
}

static bool numa_purge_forced(extent_hooks_t *ops, void *addr, size_t size,
			      size_t offset, size_t length, unsigned arena_ind)
{
	(void)ops, (void)size, (void)arena_ind;
	return madvise((char *)addr + offset, length, MADV_DONTNEED) != 0;
}

/* Anonymous mappings split and coalesce freely on Linux. */
static bool numa_split(extent_hooks_t *ops, void *addr, size_t size,
		       size_t size_a, size_t size_b, bool committed,
		       unsigned arena_ind)
{
	(void)ops, (void)addr, (void)size, (void)size_a, (void)size_b;
	(void)committed, (void)arena_ind;
	return false;
}

static bool numa_merge(extent_hooks_t *ops, void *addr_a, size_t size_a,
		       void *addr_b, size_t size_b, bool committed,
		       unsigned arena_ind)
{
	(void)ops, (void)addr_a, (void)size_a, (void)addr_b, (void)size_b;
	(void)committed, (void)arena_ind;
	return false;
}

/* Can this process bind memory to @node? 0 or a positive errno. */
static int numa_probe(int node)
{
	long page = sysconf(_SC_PAGESIZE);
	void *p = numa_mmap(NULL, (size_t)page, 0);
	int err;

	if (p == MAP_FAILED)
		return ENOMEM;
	err = numa_mbind(p, (size_t)page, node);
	munmap(p, (size_t)page);
	return err;
}

int pn__numa_hooks_create(int node, struct pn__numa_hooks **out)
{
	struct pn__numa_hooks *h;
	int err = numa_probe(node);

	*out = NULL;
	if (err == ENOMEM)
		return pn__error(-ENOMEM, "arena: out of memory");
	/*
	 * ENOSYS (a kernel without NUMA), EPERM (seccomp, as in containers
	 * without CAP_SYS_NICE), EINVAL (no such node, or the cpuset does
	 * not allow it): fall back to plain jemalloc mappings.
	 */
	if (err)
		return 0;
	h = calloc(1, sizeof(*h));
	if (!h)
		return pn__error(-ENOMEM, "arena: out of memory");
	h->ops = (extent_hooks_t){
		.alloc = numa_alloc,
		.dalloc = numa_dalloc,
		.destroy = numa_destroy,
		.commit = NULL, /* never decommit: jemalloc purges instead */
		.decommit = NULL,
		.purge_lazy = numa_purge_lazy,
		.purge_forced = numa_purge_forced,
		.split = numa_split,
		.merge = numa_merge,
	};
	h->node = node;
	atomic_init(&h->bind_failures, 0);
	*out = h;
	return 0;
}

extent_hooks_t *pn__numa_hooks_ops(struct pn__numa_hooks *h)
{
	return &h->ops;
}

void pn__numa_hooks_destroy(struct pn__numa_hooks *h)
{
	free(h);
}

#endif /* !PN_ALLOC_LIBC */
