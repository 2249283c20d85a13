/* SPDX-License-Identifier: MIT */
/*
 * A shard's statistics (owner-written counters, any thread reads them) and
 * the message accounting they carry.
 */
#ifndef PN_SCHED_STATS_H
#define PN_SCHED_STATS_H

#include <stdatomic.h>
#include <stdint.h>

enum {
	PN__ST_DISPATCHED, /* taken from a ring or the local queue */
	PN__ST_SENT_LOCAL,
	PN__ST_SENT_REMOTE,
	PN__ST_RECV_EXT,
	PN__ST_OVERFLOWED,
	PN__ST_EAGAIN,
	PN__ST_OVERFLOW_BYTES,
	PN__ST_DEAD,
	PN__ST_LATE,
	PN__ST_TIMERS,
	PN__ST_PARKS,
	PN__ST_WAKES,
	PN__ST_SPAWNED,
	PN__ST_STOPPED,
	PN__ST_ACTORS,
	PN__ST_MOVED,	 /* queued again: forwarded, bounced, held, replayed */
	PN__ST_SIDE_IN,	 /* into a side queue (early, held, stragglers) */
	PN__ST_SIDE_OUT, /* out of one */
	PN__ST_COUNT
};
struct pn__stats {
	_Atomic uint64_t v[PN__ST_COUNT];
};

/* Owner-only counter update (pn__ctr_add(), pn_base.h). */
#define PN__STAT_ADD(s, i, n) pn__ctr_add(&(s)->stats.v[i], (n))

/*
 * Message accounting (pn_runtime_totals(), shutdown's drain and join).
 * A message is counted where it enters a queue (sent_local, sent_remote
 * by the sending shard, a producer's sent) and where it leaves one
 * (dispatched); the side queues that hold messages out of the rings and
 * the local queue (early messages, a guest's held sends, a forwarder's
 * stragglers and held messages) count SIDE_IN and SIDE_OUT; a message
 * already accepted that is queued again (forwarded, bounced, held,
 * replayed) counts MOVED each time. Hence, summed over the runtime:
 *
 *   accepted  = sent_local + sent_remote + side_in - moved + producers
 *   handled   = dispatched + side_out - moved - dead_letters
 *   in flight = accepted - handled - dead_letters
 *             = (sent_local + sent_remote + side_in + producers)
 *               - (dispatched + side_out)        ("hops" sent - done)
 *
 * The pn__acct_* helpers (sched_int.h) are for the cold paths;
 * the hot counters are the plain n_* fields, published once per loop
 * turn. Owner only.
 */

#endif /* PN_SCHED_STATS_H */
