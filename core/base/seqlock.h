/* SPDX-License-Identifier: MIT */
/*
 * A sequence lock: one writer at a time rewrites a record in place while
 * any number of readers, who never write a shared line, read it and learn
 * afterwards whether what they read is whole. Used by the name registry
 * (sup/registry.c: the whole table under one sequence), the per-actor
 * table of the meter (sched/meter.c, read by obs/metrics.c), a shard's
 * parked time with the sleep in progress (sched/shard.c, read by
 * obs/metrics.c) and the flight recorder's events (sched/flight.c).
 *
 * The protocol, in the fence form of the C11 seqlock (Boehm, "Can seqlocks
 * get along with programming language memory models?"):
 *
 *	writer				reader
 *	pn__seq_write_begin(&seq)	b = pn__seq_read_begin(&seq)
 *	  seq odd (relaxed)		  seq (acquire)
 *	  release fence			[b odd: being written; retry or skip]
 *	store fields (relaxed)		load fields (relaxed), into copies
 *	pn__seq_write_end(&seq)		if (!pn__seq_read_ok(&seq, b)) discard
 *	  seq even (release)		  acquire fence, seq (relaxed) == b
 *
 * Every protected field is an _Atomic accessed relaxed between the calls,
 * so a torn read is a detected race rather than undefined behaviour; the
 * reader must use what it read only after pn__seq_read_ok() said yes (and
 * must not follow a pointer it read before that). Why it holds: a reader
 * whose load saw a field stored after the writer's release fence has, by
 * its own acquire fence, the odd store before that fence happen before its
 * second load of seq, which then differs from b; a reader whose first
 * (acquire) load saw an even value sees every field store of the section
 * that value ended. The interleavings are tests/model/seqlock.pml; the
 * two-thread test (tests/core/base/test_seqlock.c) runs the real thing.
 *
 * ThreadSanitizer models no fence, and gcc refuses atomic_thread_fence
 * under it (-Wtsan): there both fences are pn__fence_seq_cst()'s stand-in
 * (base_int.h), a seq_cst RMW on a private word, a full barrier on the
 * machine. TSan then checks that nothing protected is accessed
 * non-atomically, not the fences' pairing.
 *
 * One writer at a time is the caller's duty (the registry's mutex, the
 * owning shard for the meter and the flight recorder); the pn_assert()s
 * below catch unbalanced calls in debug builds. Readers may be any thread,
 * a signal handler included (no locks, no shared stores).
 *
 * The sequence is 32 bits, like the kernel's seqcount: a reader is fooled
 * only if it stalls between its two loads while exactly a multiple of 2^31
 * write sections complete, and the writers here are rare (registry, meter
 * entries, two sections per park) or give each record its own check (the
 * flight recorder keeps the event number inside the protected data). 64
 * bits would only grow the per-shard arrays.
 */
#ifndef PN_SEQLOCK_H
#define PN_SEQLOCK_H

#include "base_int.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* The two fences of the protocol; see above for ThreadSanitizer. */
static inline void pn__seq_fence_release(void)
{
#if defined(__SANITIZE_THREAD__)
	pn__fence_seq_cst();
#else
	atomic_thread_fence(memory_order_release);
#endif
}

static inline void pn__seq_fence_acquire(void)
{
#if defined(__SANITIZE_THREAD__)
	pn__fence_seq_cst();
#else
	atomic_thread_fence(memory_order_acquire);
#endif
}

/* Writer: open a write section on @seq (even -> odd). The caller is the
 * only writer until pn__seq_write_end(). */
static inline void pn__seq_write_begin(_Atomic uint32_t *seq)
{
	/* Relaxed load: only this writer stores @seq. */
	uint32_t s = atomic_load_explicit(seq, memory_order_relaxed);

	pn_assert(!(s & 1)); /* not already inside a section */
	atomic_store_explicit(seq, s + 1, memory_order_relaxed);
	/* Release fence: the odd store comes before every field store that
	 * follows (pairs with the acquire fence in pn__seq_read_ok()). */
	pn__seq_fence_release();
}

/* Writer: close the write section (odd -> even): the fields stored since
 * pn__seq_write_begin() are published. */
static inline void pn__seq_write_end(_Atomic uint32_t *seq)
{
	uint32_t s = atomic_load_explicit(seq, memory_order_relaxed);

	pn_assert(s & 1); /* inside a section */
	/* Release: the field stores before the even value that vouches for
	 * them (pairs with the acquire load in pn__seq_read_begin()). */
	atomic_store_explicit(seq, s + 1, memory_order_release);
}

/* Reader: the sequence before reading the fields. Odd: a write is under
 * way, nothing read now can be valid (retry, or skip the record); the
 * caller may test that to avoid useless reads, pn__seq_read_ok() checks it
 * anyway. Any thread may call it. */
static inline uint32_t pn__seq_read_begin(const _Atomic uint32_t *seq)
{
	/* Acquire: pairs with the release store in pn__seq_write_end(); the
	 * fields then read are at least that section's. */
	return atomic_load_explicit(seq, memory_order_acquire);
}

/* Reader: whether the fields read since @begin = pn__seq_read_begin() are
 * one section's whole record: @begin was even and no write section began
 * since. False: discard the copies. */
static inline bool pn__seq_read_ok(const _Atomic uint32_t *seq, uint32_t begin)
{
	/* Acquire fence: the field loads before the reload of @seq (pairs
	 * with the release fence in pn__seq_write_begin()). */
	pn__seq_fence_acquire();
	return !(begin & 1) &&
	       atomic_load_explicit(seq, memory_order_relaxed) == begin;
}

#endif /* PN_SEQLOCK_H */
