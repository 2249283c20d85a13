/* SPDX-License-Identifier: MIT */
/*
 * Per-shard timers (internal): a hierarchical timing wheel owned by one
 * shard thread. No atomics and no locks: every function here must be called
 * from the owner thread only.
 *
 * Resolution. Time is cut into ticks of @tick_ns on the absolute grid
 * (tick k covers (k-1)*tick_ns, k*tick_ns]). A timer due at expiry E
 * (nanoseconds, the caller's clock) fires at the first pn__timers_advance()
 * whose now_ns is >= E rounded up to a multiple of tick_ns: never early,
 * and late by less than one tick plus however late advance() is called.
 *
 * Range. 6 levels of 64 slots hold every timer due within the wheel's
 * current aligned block of 64^6 = 2^36 ticks (with a 100 us tick, about
 * 79.5 days; with 1 ms, 2.2 years). Timers due in a later block wait on an
 * overflow list, which is re-sorted into the wheel each time the wheel
 * enters a new block (once per 2^36 ticks; still-later timers go back on
 * it). So there is no upper limit on a delay and no clamping; the sum
 * now_ns + delay_ns saturates at UINT64_MAX, which in practice means
 * "never". now_ns values within 2 ns of UINT64_MAX are not supported.
 *
 * Costs. arm and cancel are O(1); advance costs O(levels) per timer over its
 * life for cascading plus an O(k log k) sort of each batch of k timers due
 * in the same tick (to fire them in exact expiry order). Once the record
 * table has grown to the peak number of armed timers, arm/cancel/fire
 * cycles allocate nothing.
 */
#ifndef PN_CORE_TIMERS_H
#define PN_CORE_TIMERS_H

#include "pn_alloc.h"
#include "pn_msg.h"

#include <stdint.h>

struct pn__timers;

/*
 * The callback pn__timers_advance() calls once per due timer. @msg is a copy
 * of the message given to pn__timers_arm(), valid only until the callback
 * returns; @id is the id arm() returned. The callback may arm and cancel
 * timers (including cancelling @id itself, which stops a periodic timer).
 * It must not call pn__timers_advance() or pn__timers_destroy().
 */
typedef void (*pn__timers_fire_fn)(void *arg, const struct pn_msg *msg,
				   uint64_t id);

/*
 * Create a timer wheel whose position is @now_ns, with a resolution of
 * @tick_ns, taking its memory from @a (which must outlive it). Owner thread.
 *
 * Returns 0 and *out, -EINVAL if @tick_ns is 0, or -ENOMEM.
 */
int pn__timers_create(struct pn_arena *a, uint64_t now_ns, uint64_t tick_ns,
		      struct pn__timers **out);

/*
 * Destroy @t and every timer still armed (none fires). NULL is ignored.
 * Owner thread; not from inside a fire callback.
 */
void pn__timers_destroy(struct pn__timers *t);

/*
 * Arm a timer that delivers a copy of *@msg (copied now; the caller keeps
 * @msg) at @now_ns + @delay_ns, then every @period_ns after that if
 * @period_ns is not 0. *@id receives a nonzero id made of the record index
 * and its generation, so a stale id never cancels a newer timer. @now_ns is
 * the caller's current time; an expiry at or before the tick the wheel has
 * already processed fires at the next advance(). O(1). Owner thread; may be
 * called from a fire callback.
 *
 * Returns 0, or -ENOMEM if the record table could not grow (nothing armed).
 */
int pn__timers_arm(struct pn__timers *t, uint64_t now_ns, uint64_t delay_ns,
		   uint64_t period_ns, const struct pn_msg *msg, uint64_t *id);

/*
 * Cancel the timer @id. O(1). Owner thread; may be called from a fire
 * callback, including on the timer being fired (which stops a periodic
 * timer: its next run was already armed when the callback started).
 *
 * Returns 0, or -ENOENT if @id is unknown, a one-shot timer that already
 * fired (it is gone by the time its callback runs), or already cancelled.
 */
int pn__timers_cancel(struct pn__timers *t, uint64_t id);

/*
 * Move the wheel to @now_ns (an earlier value than a previous call's counts
 * as that value) and call @fire(@arg, msg, id) for every timer whose expiry
 * rounded up to the tick is <= @now_ns, earliest expiry first, ties in
 * arming order. Owner thread; not re-entrant.
 *
 * A periodic timer is re-armed before its callback runs, at previous expiry
 * + period (no drift). If @now_ns is already past that (the timer fell
 * behind by one period or more), it still fires only once in this call and
 * is re-armed at the first expiry on its original phase (first + k*period)
 * that is after @now_ns: missed periods are dropped, not replayed. So a
 * periodic timer fires at most once per advance().
 *
 * A timer armed from a callback fires in this same call if its expiry tick
 * is later than the tick being processed and not after @now_ns; otherwise
 * (due at or before the current tick) at the next advance().
 *
 * Returns how many callbacks ran.
 */
unsigned pn__timers_advance(struct pn__timers *t, uint64_t now_ns,
			    pn__timers_fire_fn fire, void *arg);

/*
 * Nanoseconds from @now_ns until the earliest armed timer is due (0 if it
 * is overdue), or UINT64_MAX if none is armed. Cheap: a few bitmap scans,
 * no walk over records. The answer is a lower bound: exact (the expiry
 * rounded up to the tick) when the earliest timer sits in the wheel's first
 * level (due within the current 64-tick block), otherwise the start of the
 * upper-level slot holding it, which may be early but is never later than
 * the true expiry. Owner thread.
 */
uint64_t pn__timers_next_ns(const struct pn__timers *t, uint64_t now_ns);

/* How many timers are armed (periodic ones count until cancelled). */
unsigned pn__timers_armed(const struct pn__timers *t);

#endif /* PN_CORE_TIMERS_H */
