/* SPDX-License-Identifier: MIT */
/*
 * base/'s internal header: the mechanisms everything else in core/ builds
 * on and that know nothing of shards or actors: the chunked FIFO of
 * messages, PID sets, the fences of the Dekker handshakes, histogram
 * buckets; with the timer wheel (timers.h), the SPSC ring (pn_ring.h) and
 * the probes (probes.h). The seqlock (seqlock.h) is included by its users.
 */
#ifndef PN_BASE_INT_H
#define PN_BASE_INT_H

#include "hash.h"
#include "pn_alloc.h"
#include "pn_core.h"
#include "pn_ring.h"
#include "probes.h"
#include "timers.h"

#include <stdatomic.h>

/* Internal message types (never seen by handlers): at and above
 * PN__MSG_INTERNAL, in ranges the features register (sched/feature.h). */
#define PN__MSG_INTERNAL (PN_MSG_SYS + 0x8000)

/* msg->ref bit of a reply (the request's ref): the dispatch slow path
 * hands it to the reply service. */
#define PN__REF_REPLY (1ull << 63)

/*
 * A single-threaded FIFO of messages (the local queue, overflow queues,
 * early messages) in a chain of fixed chunks: a message never moves while
 * it is queued, so a handler may keep using the message it was given while
 * it pushes new ones. Emptied chunks are kept as spares (up to a few), so
 * the steady state does not allocate.
 */
#define PN__CHUNK_MSGS 63
struct pn__chunk {
	struct pn__chunk *next;
	alignas(PN_CACHELINE) struct pn_msg m[PN__CHUNK_MSGS];
};
struct pn__fifo {
	struct pn__chunk *head, *tail, *spare;
	uint32_t hidx, tidx; /* next to pop in head, next to fill in tail */
	uint32_t len, nspare;
};

/* A small growable set of PIDs (monitors, links). */
struct pn__pids {
	pn_pid *v;
	uint32_t n, cap;
};

/* containers.c: the FIFO */
int pn__fifo_grow(struct pn__fifo *f, struct pn_arena *a);
void pn__fifo_next_chunk(struct pn__fifo *f, struct pn_arena *a);
void pn__fifo_fini(struct pn__fifo *f, struct pn_arena *a);
bool pn__fifo_each(struct pn__fifo *f, bool (*fn)(struct pn_msg *m, void *arg),
		   void *arg);
/* Whether @f's chunks hold exactly len messages (O(len): for asserts). */
bool pn__fifo_ok(const struct pn__fifo *f);

static inline uint32_t pn__fifo_len(const struct pn__fifo *f)
{
	return f->len;
}

/* The slot the next push fills (NULL: out of memory); then _commit. */
static inline struct pn_msg *pn__fifo_slot(struct pn__fifo *f,
					   struct pn_arena *a)
{
	if (PN_UNLIKELY(!f->tail || f->tidx == PN__CHUNK_MSGS))
		if (pn__fifo_grow(f, a) < 0)
			return NULL;
	return &f->tail->m[f->tidx];
}

/* The slot the next push fills if the tail chunk has room, else NULL
 * (never allocates: the send fast path's test). */
static inline struct pn_msg *pn__fifo_slot_fast(struct pn__fifo *f)
{
	return PN_LIKELY(f->tail && f->tidx < PN__CHUNK_MSGS)
		       ? &f->tail->m[f->tidx]
		       : NULL;
}

static inline void pn__fifo_commit(struct pn__fifo *f)
{
	pn_assert(f->tail && f->tidx < PN__CHUNK_MSGS); /* after a slot */
	f->tidx++;
	f->len++;
}

static inline struct pn_msg *pn__fifo_peek(const struct pn__fifo *f)
{
	return f->len ? &f->head->m[f->hidx] : NULL;
}

/* Drop the oldest message (after its handler has returned). */
static inline void pn__fifo_pop(struct pn__fifo *f, struct pn_arena *a)
{
	pn_assert(f->len && f->head &&
		  (f->head != f->tail || f->hidx < f->tidx));
	f->len--;
	if (++f->hidx == PN__CHUNK_MSGS)
		pn__fifo_next_chunk(f, a);
	else if (f->len == 0 && f->head == f->tail)
		f->hidx = f->tidx = 0; /* empty: reuse the chunk from the top */
}

/* containers.c: PID sets */
int pn__pids_add(struct pn__pids *p, struct pn_arena *a, pn_pid pid);
bool pn__pids_del(struct pn__pids *p, pn_pid pid);
void pn__pids_fini(struct pn__pids *p, struct pn_arena *a);

/*
 * A full (seq_cst) fence: the fenced fallback of the Dekker handshakes
 * (park/wake, room, the gate) when membarrier is unavailable. gcc refuses
 * atomic_thread_fence under ThreadSanitizer, which does not model fences
 * (nor membarrier): there a seq_cst RMW on a private word stands in; the
 * data those handshakes guard still travels by release/acquire, which
 * TSan checks.
 */
static inline void pn__fence_seq_cst(void)
{
#if defined(__SANITIZE_THREAD__)
	static _Thread_local _Atomic int word;

	atomic_fetch_add_explicit(&word, 0, memory_order_seq_cst);
#else
	atomic_thread_fence(memory_order_seq_cst);
#endif
}

/* The producer side's half of a Dekker handshake: a compiler barrier
 * when the other side pays membarrier, a full fence when it cannot. */
static inline void pn__dekker_order(bool fenced)
{
	if (fenced)
		pn__fence_seq_cst();
	else
		atomic_signal_fence(memory_order_seq_cst);
}

static inline void pn__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

/* buckets.c: bucket index and lowest value (width) for S = @sub */
unsigned pn__hist_index(uint64_t v, unsigned sub);
uint64_t pn__hist_low(unsigned i, unsigned sub, uint64_t *width);

#endif /* PN_BASE_INT_H */
