/* SPDX-License-Identifier: MIT */
/*
 * The shard's meter: what the scheduler measures of itself (obs/ reads and
 * presents it): the per-shard metric state, the hooks the send path calls,
 * the sampled-dispatch stamp. The loop's own hooks are in shard.c, the
 * flight recorder in flight.h.
 *
 * Cost model. Every hook here is per batch, per loop-state change or per
 * sampled message, never per message, except pn__met_send(): one decrement
 * and a not-taken branch per application send (the sender-side sampling
 * countdown). A stamped message carries PN__REF_STAMP in msg->ref (only
 * messages with ref 0 are stamped) and its enqueue time in the unused tail
 * of its inline payload, so the receiver's ordinary dispatch test (type or
 * ref says "not the fast path") routes it to pn__met_dispatch() at no cost
 * to unstamped messages. Built with PN_NO_METRICS, every hook is empty and
 * the stamp bit is never set.
 *
 * Who writes what: struct pn__met lives in struct pn_shard and is owner
 * only; struct pn__mshard holds what other threads read, written only by
 * its shard with relaxed stores (no read-modify-write), read with relaxed
 * loads (each counter is atomic on its own; a snapshot is not a cut),
 * except the parked time and the sleep in progress, which a reader needs
 * together and gets under their seqlock (park_seq).
 */
#ifndef PN_SCHED_METER_H
#define PN_SCHED_METER_H

#include "flight.h"

#include <stdatomic.h>

#ifdef PN_NO_METRICS
#define PN__METRICS 0
#else
#define PN__METRICS 1
#endif

struct pn_shard;

/* msg->ref bit of a message stamped for sampling (see above). */
#define PN__REF_STAMP (1ull << 62)
/* Payload offset of the stamp: messages up to this long can carry one. */
#define PN__STAMP_OFF 24

/* Compact histogram (per actor, per shard): log-linear, 4 sub-buckets per
 * power of two (25% relative error), values up to 2^40 ns (18 min). */
#define PN__AH_SUB     2
#define PN__AH_OCT     40
#define PN__AH_BUCKETS ((1u << PN__AH_SUB) * (1 + PN__AH_OCT - PN__AH_SUB))
struct pn__ahist {
	_Atomic uint32_t c[PN__AH_BUCKETS];
};

/* Per-actor sampled statistics: a small open-addressed table per shard. */
#define PN__ATAB 64
struct pn__aent {
	/* Seqlock (base/seqlock.h) over the entry's identity: the owner
	 * rewrites pid and name, and zeroes the counters, inside it. */
	_Atomic uint32_t seq;
	_Atomic uint64_t pid; /* 0: empty */
	_Atomic uint64_t name[3];
	_Atomic uint64_t samples, handler_ns, queue_ns;
	struct pn__ahist handler, queue;
};

/* Registered per-shard counter sources (pn_metrics_source_register). */
#define PN__EXT_MAX 32

/* What other threads read of a shard's metrics (metrics.c allocates). */
enum {
	PN__M_HANDLED_LOCAL,
	PN__M_WAKES_RCVD,
	PN__M_BUSY_NS,
	PN__M_SPIN_NS,
	PN__M_PARKED_NS,
	PN__M_SAMPLES,
	PN__M_HANDLER_SUM, /* ns, over the samples */
	PN__M_QUEUE_SUM,
	PN__M_COUNT
};
struct pn__mshard {
	_Atomic uint64_t v[PN__M_COUNT];
	/* The shard charges a sleep to v[PN__M_PARKED_NS] only when it wakes
	 * (shard.c), so while it sleeps it says since when: asleep and
	 * park_since, with v[PN__M_PARKED_NS], under the seqlock park_seq
	 * (base/seqlock.h), written as it goes to sleep and as it wakes; a
	 * snapshot adds the time since park_since (obs/metrics.c). */
	_Atomic uint32_t park_seq;
	_Atomic uint32_t asleep;     /* 1 between those two writes */
	_Atomic uint64_t park_since; /* the runtime's clock, as t_mark */
	_Atomic uint64_t ext[PN__EXT_MAX];
	_Atomic uint64_t *sent_to; /* [nshards]: published ring slots */
	_Atomic uint32_t *hwm;	   /* [nsources]: inbound ring backlog */
	struct pn__ahist handler, queue;
	struct pn__aent atab[PN__ATAB];
	_Atomic uint64_t fl_next; /* events ever recorded */
	struct pn__flight_ev fl[PN__FLIGHT_N];
};

enum { PN__MS_BUSY, PN__MS_SPIN };

/* Owner-only metric state, embedded in struct pn_shard. */
struct pn__met {
	uint64_t (*now)(void *arg); /* the runtime's clock (pn__now()) */
	void *now_arg;
	uint32_t send_cd; /* sends until the next stamped one */
	uint32_t sample;  /* stamp 1 in @sample sends; 0: never */
	int state;	  /* PN__MS_*: what the loop is doing since t_mark */
	uint64_t t_mark;  /* start of the current loop state */
	uint64_t t_seen;  /* latest clock read while spinning */
	uint64_t busy_ns, spin_ns, parked_ns;
	uint64_t n_local; /* handled from the local queue */
	uint64_t wakes;	  /* wake-ups received */
	uint32_t *hwm;	  /* [nsources]: owner copy of sh->hwm */
	struct pn__mshard *sh;
};

/* meter.c */
int pn__met_create(struct pn_runtime *rt);
void pn__met_destroy(struct pn_runtime *rt);
/* Cold: 1 in metrics_sample sends; kept out of the send fast path. */
__attribute__((cold, noinline)) void
pn__met_stamp(struct pn__met *mt, struct pn_msg *m, size_t len);
__attribute__((cold, noinline)) void pn__met_dispatch(struct pn_shard *s,
						      struct pn_msg *m);
void pn__met_hwm(struct pn__met *mt, unsigned src, uint32_t occ);
void pn__met_tick(struct pn_shard *s, uint64_t now);

/* --- hooks (empty with PN_NO_METRICS) ----------------------------------- */

/* An application send filled @m (ref 0): stamp one in mt->sample. */
static inline void pn__met_send(struct pn__met *mt, struct pn_msg *m,
				size_t len)
{
	if (PN__METRICS && PN_UNLIKELY(--mt->send_cd == 0))
		pn__met_stamp(mt, m, len);
}

/* @n messages published to shard @dst's inbox ring. */
static inline void pn__met_sent(struct pn__met *mt, unsigned dst, uint32_t n)
{
	if (PN__METRICS)
		pn__ctr_add(&mt->sh->sent_to[dst], n);
}

/* A rare event for the flight recorder (slow paths only). */
static inline void pn__met_event(struct pn__met *mt, int kind, pn_pid pid,
				 uint32_t type, uint64_t arg)
{
	if (PN__METRICS)
		pn__flight_rec(mt, 0, kind, pid, type, arg);
}

#endif /* PN_SCHED_METER_H */
