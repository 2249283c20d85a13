/* SPDX-License-Identifier: MIT */
/*
 * The single-producer single-consumer ring every inbox is made of: one per
 * ordered pair of shards and one per (external producer, shard). Slots are
 * whole messages (one cache line each); a handler runs on the message in
 * its slot, and only then is the slot given back.
 *
 * Layout: the producer's private fields, the consumer's private fields, the
 * published tail and the published head each sit on their own cache line,
 * so the two sides only share the two index lines, and each side keeps a
 * cached copy of the other's index and reloads it only when its cached view
 * says full (producer) or empty (consumer). Both sides publish in batches:
 * the producer commits slots privately and publishes the tail when it
 * chooses (pn_ring_publish), the consumer consumes privately and publishes
 * the head when it chooses (pn_ring_release). Indices are free-running
 * uint32_t: full is tail - head == size, which wraps correctly.
 *
 * The ring is inline (like struct io_uring) because push and pop are the
 * hot path; this is the code the benchmarks' raw baseline drives too.
 * A Promela model of it is tests/model/ring.pml.
 */
#ifndef PN_RING_H
#define PN_RING_H

#include "pn_msg.h"

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
/* C++ (the google-benchmark harness): std::atomic has the same layout
 * and the same free functions as C11's _Atomic for these types. */
#include <atomic>
#define PN_ATOMIC(T) std::atomic<T>
using std::atomic_init;
using std::atomic_load_explicit;
using std::atomic_store_explicit;
using std::memory_order_acquire;
using std::memory_order_release;
#else
#include <stdalign.h>
#include <stdatomic.h>
#define PN_ATOMIC(T) _Atomic T
#endif

#ifdef __cplusplus
extern "C" {
#endif

struct pn_ring {
	/* Producer's line: written only by the producer thread. */
	alignas(PN_CACHELINE) uint32_t ptail; /* next slot to fill */
	uint32_t ppub;			      /* tail last published */
	uint32_t phead;			      /* cached consumer head */
	uint32_t pmask;
	struct pn_msg *pslot;

	/* Consumer's line: written only by the consumer thread. */
	alignas(PN_CACHELINE) uint32_t chead; /* next slot to read */
	uint32_t cpub;			      /* head last published */
	uint32_t ctail;			      /* cached producer tail */
	uint32_t cmask;
	struct pn_msg *cslot;

	/* Published tail: producer stores (release), consumer loads. */
	alignas(PN_CACHELINE) PN_ATOMIC(uint32_t) tail;
	/* Published head: consumer stores (release), producer loads. */
	alignas(PN_CACHELINE) PN_ATOMIC(uint32_t) head;
	/*
	 * A producer that found the ring full and is about to sleep sets
	 * this (a nonzero tag of its choosing) before it looks at head one
	 * last time; the consumer, after publishing head, exchanges it back
	 * to 0 and wakes the tag's owner. Same line as head: the consumer
	 * reads it where it has just written. pn_ring.h only carries it;
	 * the runtime (core/sched/shard.c, producer.c) runs the handshake.
	 */
	PN_ATOMIC(uint32_t) waiter;
};

/*
 * Set up @r over @slots (@nslots entries, a power of two >= 2, caller's
 * memory, which must outlive the ring). Not thread-safe: do it before the
 * ring is shared. Returns 0 or -EINVAL.
 */
static inline int pn_ring_init(struct pn_ring *r, struct pn_msg *slots,
			       uint32_t nslots)
{
	if (nslots < 2 || (nslots & (nslots - 1)) != 0)
		return -22; /* -EINVAL without <errno.h> in a public header */
	r->ptail = r->ppub = r->phead = 0;
	r->chead = r->cpub = r->ctail = 0;
	r->pmask = r->cmask = nslots - 1;
	r->pslot = r->cslot = slots;
	atomic_init(&r->tail, 0);
	atomic_init(&r->head, 0);
	atomic_init(&r->waiter, 0);
	return 0;
}

/* --- producer side: one thread only ------------------------------------ */

/*
 * The next free slot for the producer to fill, or NULL when the ring is
 * full. The slot is not part of the ring until pn_ring_commit().
 */
static inline struct pn_msg *pn_ring_slot(struct pn_ring *r)
{
	uint32_t t = r->ptail;

	if (PN_UNLIKELY(t - r->phead > r->pmask)) {
		/* Pairs with the release in pn_ring_release(): once we see
		 * the consumer's head, it has finished with those slots. */
		r->phead = atomic_load_explicit(&r->head, memory_order_acquire);
		if (t - r->phead > r->pmask)
			return NULL;
	}
	return &r->pslot[t & r->pmask];
}

/* Add the slot pn_ring_slot() returned to the unpublished batch. */
static inline void pn_ring_commit(struct pn_ring *r)
{
	/* A slot was free: the ring never holds more than its capacity. */
	pn_assert(r->ptail - r->phead <= r->pmask);
	r->ptail++;
}

/* Committed slots not yet visible to the consumer. */
static inline uint32_t pn_ring_unpublished(const struct pn_ring *r)
{
	return r->ptail - r->ppub;
}

/* Make every committed slot visible to the consumer. */
static inline void pn_ring_publish(struct pn_ring *r)
{
	pn_assert(r->ptail - r->ppub <= r->pmask + 1);
	r->ppub = r->ptail;
	/* Pairs with the acquire in pn_ring_peek(): the slots are written
	 * before the consumer can see the tail that covers them. */
	atomic_store_explicit(&r->tail, r->ptail, memory_order_release);
}

/* Copy @m in and commit it; false when full. Does not publish. */
static inline bool pn_ring_push(struct pn_ring *r, const struct pn_msg *m)
{
	struct pn_msg *s = pn_ring_slot(r);

	if (!s)
		return false;
	*s = *m;
	pn_ring_commit(r);
	return true;
}

/* --- consumer side: one thread only ------------------------------------ */

/*
 * The oldest published message, left in place, or NULL when there is none.
 * It stays valid (the producer cannot reuse its slot) until the consumer
 * calls pn_ring_consume() and then pn_ring_release().
 */
static inline struct pn_msg *pn_ring_peek(struct pn_ring *r)
{
	uint32_t h = r->chead;

	if (h == r->ctail) {
		/* Pairs with the release in pn_ring_publish(). */
		r->ctail = atomic_load_explicit(&r->tail, memory_order_acquire);
		if (h == r->ctail)
			return NULL;
	}
	return &r->cslot[h & r->cmask];
}

/* Step past the message pn_ring_peek() returned (not yet released). */
static inline void pn_ring_consume(struct pn_ring *r)
{
	pn_assert(r->chead != r->ctail); /* only what pn_ring_peek() gave */
	r->chead++;
}

/* Give every consumed slot back to the producer. */
static inline void pn_ring_release(struct pn_ring *r)
{
	if (r->cpub == r->chead)
		return;
	pn_assert(r->chead - r->cpub <= r->cmask + 1);
	r->cpub = r->chead;
	/* Pairs with the acquire in pn_ring_slot(): we are done reading the
	 * slots before the producer may overwrite them. */
	atomic_store_explicit(&r->head, r->chead, memory_order_release);
}

/*
 * Whether the producer has published anything the consumer has not
 * consumed. Reloads the tail (acquire, as in pn_ring_peek()).
 */
static inline bool pn_ring_has_data(struct pn_ring *r)
{
	r->ctail = atomic_load_explicit(&r->tail, memory_order_acquire);
	return r->ctail != r->chead;
}

/* Capacity in messages. */
static inline uint32_t pn_ring_size(const struct pn_ring *r)
{
	return r->cmask + 1;
}

#ifdef __cplusplus
}
#endif
#endif /* PN_RING_H */
