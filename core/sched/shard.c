// SPDX-License-Identifier: MIT
/*
 * The shard: its thread, its set-up on its own core, and its
 * run-to-completion loop. Each turn drains the inbound rings that rang the
 * doorbell (bounded batches, so every source gets its turn), runs the local
 * queue, moves overflow into rings, publishes what it sent, reaps io_uring
 * completions and fires due timers. With nothing to do it spins for
 * spin_ns (only if a message or completion came since it last parked: a
 * shard that runs only its own timers parks at once), then parks in
 * io_uring by release-then-recheck:
 *
 *   sleeper (this shard)                   waker (a producer)
 *   parked = 1                             publish ring tail
 *   membarrier()  (heavy barrier)          doorbell bit (RMW if unset)
 *   look at EVERY ring once more           compiler barrier only
 *   sleep in io_uring if all empty         if parked && xchg(parked,0)==1:
 *                                              send the one wake-up
 *
 * The sleeper's membarrier makes every other thread of the process pass a
 * full barrier, so either the waker's tail store is visible to the recheck
 * or the waker's load sees parked == 1: no message can sit in a ring while
 * its shard sleeps, and the producer's send costs no fence. Where
 * membarrier is unavailable both sides use a seq_cst fence instead. The
 * doorbell is only a hint (a producer may skip its RMW on a bit the
 * consumer is clearing), so the recheck sweeps every ring, and a running
 * shard sweeps every ring every 64 turns. Model: tests/model/park_wake*.pml.
 *
 * The same handshake runs the other way for room in a full ring. A
 * producer (a shard whose overflow is waiting, or an external thread)
 * sets the ring's waiter word, passes the heavy barrier, looks at the
 * consumer's head once more, and only then sleeps; the consumer publishes
 * its head and then looks at the word (room_check()): either the producer
 * sees the room or the consumer sees the word and wakes it. A shard with
 * overflow parks like an idle one instead of spinning on a stuck peer.
 *
 * With busy_poll the shard never parks: producers skip the doorbell and the
 * wake-up, and the shard scans every ring each turn (a latency-critical
 * deployment pays a few L1 loads per turn instead of two cache-line
 * transfers per message).
 */
#include "sched_int.h"
#include "seqlock.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* --- the loop's meter hooks (sched/meter.h; empty with PN_NO_METRICS) --- */

/* A ring drain of @src started at backlog @occ (slots published). */
static inline void pn__met_backlog(struct pn__met *mt, unsigned src,
				   uint32_t occ)
{
	if (PN__METRICS && PN_UNLIKELY(occ > mt->hwm[src]))
		pn__met_hwm(mt, src, occ);
}

/* @n messages handled from the local queue (per run, not per message). */
static inline void pn__met_local(struct pn__met *mt, unsigned n)
{
	if (PN__METRICS)
		mt->n_local += n;
}

static inline void pn__met_woken(struct pn__met *mt)
{
	if (PN__METRICS)
		mt->wakes++;
}

/* Loop state changes. The loop reads the clock when it goes idle and on
 * every spin turn anyway; these only move time between the counters. */
static inline void pn__met_idle(struct pn__met *mt, uint64_t now)
{
	if (!PN__METRICS)
		return;
	mt->busy_ns += now - mt->t_mark;
	mt->t_mark = mt->t_seen = now;
	mt->state = PN__MS_SPIN;
	atomic_store_explicit(&mt->sh->v[PN__M_BUSY_NS], mt->busy_ns,
			      memory_order_relaxed);
}

static inline void pn__met_spun(struct pn__met *mt, uint64_t now)
{
	if (PN__METRICS)
		mt->t_seen = now;
}

/* Work found after spinning: the spin ended at the last clock read. */
static inline void pn__met_busy(struct pn__met *mt)
{
	if (!PN__METRICS)
		return;
	mt->spin_ns += mt->t_seen - mt->t_mark;
	mt->t_mark = mt->t_seen;
	mt->state = PN__MS_BUSY;
	atomic_store_explicit(&mt->sh->v[PN__M_SPIN_NS], mt->spin_ns,
			      memory_order_relaxed);
}

/* About to park at @now (the spin is over), then back at @after. */
static inline void pn__met_park(struct pn__met *mt, uint64_t now)
{
	if (!PN__METRICS)
		return;
	mt->spin_ns += now - mt->t_mark;
	mt->t_mark = mt->t_seen = now;
	mt->state = PN__MS_BUSY; /* unless it sleeps: pn__met_unpark() */
	atomic_store_explicit(&mt->sh->v[PN__M_SPIN_NS], mt->spin_ns,
			      memory_order_relaxed);
}

/* Going to sleep, past the last recheck: until pn__met_unpark() charges
 * it, a snapshot counts the time since t_mark (when the spin ended) as
 * parked. No clock read: t_mark is the one the unpark charges from. */
static inline void pn__met_sleep(struct pn__met *mt)
{
	struct pn__mshard *sh = mt->sh;

	if (!PN__METRICS)
		return;
	/* Relaxed inside the section (base/seqlock.h); its closing release
	 * store pairs with the snapshot's acquire (obs/metrics.c). */
	pn__seq_write_begin(&sh->park_seq);
	atomic_store_explicit(&sh->park_since, mt->t_mark,
			      memory_order_relaxed);
	atomic_store_explicit(&sh->asleep, 1, memory_order_relaxed);
	pn__seq_write_end(&sh->park_seq);
}

static inline void pn__met_unpark(struct pn__met *mt, uint64_t after)
{
	struct pn__mshard *sh = mt->sh;

	if (!PN__METRICS)
		return;
	mt->parked_ns += after - mt->t_mark;
	pn__flight_rec(mt, after, PN__FL_UNPARK, 0, 0, after - mt->t_mark);
	mt->t_mark = mt->t_seen = after;
	/* The charged sleep replaces the one in progress in one section, so
	 * a snapshot sees either, never both or neither (seqlock.h). */
	pn__seq_write_begin(&sh->park_seq);
	atomic_store_explicit(&sh->v[PN__M_PARKED_NS], mt->parked_ns,
			      memory_order_relaxed);
	atomic_store_explicit(&sh->asleep, 0, memory_order_relaxed);
	pn__seq_write_end(&sh->park_seq);
}

/* Once per loop turn, with the other hot counters (plain stores). */
static inline void pn__met_publish(struct pn__met *mt)
{
	if (!PN__METRICS)
		return;
	atomic_store_explicit(&mt->sh->v[PN__M_HANDLED_LOCAL], mt->n_local,
			      memory_order_relaxed);
	atomic_store_explicit(&mt->sh->v[PN__M_WAKES_RCVD], mt->wakes,
			      memory_order_relaxed);
}

#define SWEEP_EVERY 64
/* The longest park while the eventfd read could not be armed. */
#define UNARMED_PARK_NS 1000000ull

_Thread_local struct pn_shard *pn__self_shard;

int pn__ctx_error(const struct pn_shard *ctx, const char *what)
{
	if (!ctx)
		return pn__error(-EINVAL, "%s: ctx is NULL", what);
	return pn__error(-EPERM,
			 "%s: called on a thread that is not shard %u's (a ctx "
			 "is valid only on its own shard)",
			 what, ctx->id);
}

void pn__heavy_barrier(struct pn_runtime *rt)
{
	if (rt->fenced) {
		/* Pairs with the fence in pn__source_publish(). */
		pn__fence_seq_cst();
		return;
	}
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0))
		pn_panic("membarrier failed after it was registered");
}

/*
 * If @dst is parked, claim its wake-up and send it: queued on @waker (a
 * shard), sent from here at once when @waker is NULL (an external thread).
 */
static void wake_claim(struct pn_shard *dst, struct pn_shard *waker)
{
	/* Relaxed load then exchange: the exchange alone decides which waker
	 * sends the one wake-up (RMWs on one location are totally ordered);
	 * the wake-up itself goes through the kernel, a full barrier. */
	if (!atomic_load_explicit(&dst->parked, memory_order_relaxed) ||
	    !atomic_exchange_explicit(&dst->parked, 0, memory_order_relaxed))
		return;
	PN_PROBE2(wake, waker ? waker->id : UINT32_MAX, dst->id);
	if (!waker) {
		pn__wake_external(dst);
		return;
	}
	pn__met_event(&waker->met, PN__FL_WAKE, 0, 0, dst->id);
	if (waker->nwake == waker->nshards)
		pn__flush_wakes(waker);
	waker->wake[waker->nwake++] = dst->id;
	/* Claimed inside a handler (a mid-batch publish): send it now. Held
	 * until the turn ends, a long handler would keep @dst asleep with its
	 * message waiting, and no other producer would wake it (the claim
	 * cleared parked). */
	if (waker->cur)
		pn__flush_wakes(waker);
}

/*
 * A producer (shard or external) published new data in its ring to @dst:
 * ring the doorbell and, if @dst is parked, claim and send the wake-up.
 * @waker is the publishing shard, or NULL for an external producer.
 */
void pn__source_publish(struct pn_runtime *rt, struct pn_shard *dst,
			unsigned source, struct pn_shard *waker)
{
	_Atomic uint64_t *w = &dst->bell[source >> 6];
	uint64_t bit = 1ull << (source & 63);

	/* Busy-polling shards never park and scan every ring each turn:
	 * neither a doorbell nor a wake-up is needed, and skipping them
	 * saves two cache-line transfers per message. */
	if (dst->busy_poll)
		return;
	/* Relaxed: the bell is a hint and the ring's own tail (release)
	 * carries the data; skipping the RMW when the bit is already set is
	 * what keeps the doorbell cheap under streaming. */
	if (!(atomic_load_explicit(w, memory_order_relaxed) & bit))
		atomic_fetch_or_explicit(w, bit, memory_order_release);
	/* The tail store must not be reordered after the parked load by the
	 * compiler; the CPU may reorder them, which the sleeper's membarrier
	 * covers. Without membarrier we pay the fence ourselves. */
	pn__dekker_order(rt->fenced);
	wake_claim(dst, waker);
}

/*
 * The consumer's half of the room handshake, after publishing @r's head:
 * if the ring's producer is asleep waiting for room, wake it. The load
 * must not be hoisted above the head store by the compiler; the CPU is
 * covered by the producer's heavy barrier (fenced: by our fence).
 */
static inline void room_check(struct pn_shard *s, struct pn_ring *r,
			      unsigned src)
{
	uint32_t w;

	pn__dekker_order(s->rt->fenced);
	if (PN_LIKELY(!atomic_load_explicit(&r->waiter, memory_order_relaxed)))
		return;
	/* Acquire: pairs with park()'s release store of the tag, after its
	 * parked = 1, which the claim below must see. */
	w = atomic_exchange_explicit(&r->waiter, 0, memory_order_acquire);
	if (w == PN__ROOM_EXTERNAL)
		pn__futex_wake(&r->waiter);
	else if (w == PN__ROOM_SHARD)
		wake_claim(s->rt->shard[src], s);
}

/* Wake @dst through its eventfd (external threads; shutdown). */
void pn__wake_external(struct pn_shard *dst)
{
	uint64_t one = 1;

	if (write(dst->efd, &one, sizeof(one)) != sizeof(one))
		pn_verify(errno == EAGAIN); /* counter saturated: awake */
}

/*
 * A free SQE of the shard's ring, submitting what is queued when the SQ is
 * full. NULL when even that fails (io_uring_submit() refused, e.g. -EBUSY
 * with completions to reap first): the caller falls back, never panics.
 */
struct io_uring_sqe *pn__sqe(struct pn_shard *s)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);

	if (PN_LIKELY(sqe != NULL))
		return sqe;
	io_uring_submit(&s->ring); /* its error shows as NULL below */
	return io_uring_get_sqe(&s->ring);
}

/*
 * Keep a read of the eventfd outstanding: it is how external producers
 * (and the shutdown controller) wake this shard, so it must be armed
 * whenever the shard may park. Without an SQE it stays unarmed and the
 * next park is bounded (park()) until a later turn arms it.
 */
static void arm_efd(struct pn_shard *s)
{
	struct io_uring_sqe *sqe = pn__sqe(s);

	if (!sqe)
		return;
	io_uring_prep_read(sqe, s->efd, &s->efd_buf, sizeof(s->efd_buf), 0);
	sqe->user_data = PN__CQE_EFD;
	s->efd_armed = true;
}

/* --- the loop ---------------------------------------------------------------
 */

static unsigned drain_ring(struct pn_shard *s, struct pn_ring *r, unsigned src,
			   bool *more)
{
	uint64_t ext_bytes = 0;
	struct pn_msg *m;
	uint32_t h0 = r->chead;
	unsigned n = 0;

	while (n < s->batch && (m = pn_ring_peek(r)) != NULL) {
		ext_bytes += m->len;
		pn__dispatch(s, m);
		pn_ring_consume(r);
		n++;
	}
	if (n) {
		pn_ring_release(r);
		room_check(s, r, src);
	}
	/* The backlog this drain found: the tail it saw less where it
	 * started (per batch, never per message). */
	pn__met_backlog(&s->met, src, r->ctail - h0);
	*more = n == s->batch;
	s->n_dispatched += n;
	if (src >= s->nshards && n) {
		PN__STAT_ADD(s, PN__ST_RECV_EXT, n);
		pn__budget_release(&s->rt->budget, ext_bytes);
	}
	return n;
}

static struct pn_ring *in_ring(struct pn_shard *s, unsigned src)
{
	/* Acquire: pairs with the release that installs a producer's ring
	 * (pn_producer_create); shard rings are installed before start. */
	return atomic_load_explicit(&s->in[src], memory_order_acquire);
}

/* Rebuild the compact list of live inbound rings when producers came. */
static void poll_refresh(struct pn_shard *s)
{
	/* Acquire: pairs with the release in pn_producer_create(). */
	uint32_t gen =
		atomic_load_explicit(&s->rt->prod_gen, memory_order_acquire);

	if (PN_LIKELY(gen == s->poll_gen))
		return;
	s->poll_gen = gen;
	s->npoll = 0;
	for (unsigned src = 0; src < s->nsources; src++) {
		struct pn_ring *r = in_ring(s, src);

		if (r)
			s->poll[s->npoll++] = (struct pn__poll){r, src};
	}
}

/* Drain every live ring, doorbell or not (busy-poll, periodic sweep). */
static unsigned sweep_all(struct pn_shard *s, unsigned nwords)
{
	unsigned work = 0;

	for (unsigned w = 0; w < nwords; w++) {
		s->more[w] = 0;
		/* Acquire pairs with the producers' release fetch_or: we
		 * look at every ring, so the hints can go. */
		if (atomic_load_explicit(&s->bell[w], memory_order_relaxed))
			atomic_exchange_explicit(&s->bell[w], 0,
						 memory_order_acquire);
	}
	for (unsigned i = 0; i < s->npoll; i++) {
		unsigned src = s->poll[i].src;
		bool more;

		work += drain_ring(s, s->poll[i].ring, src, &more);
		if (more)
			s->more[src >> 6] |= 1ull << (src & 63);
	}
	pn__flush(s);
	return work;
}

/*
 * While spinning (or busy-polling) with nothing to do, look only at the
 * rings' tails, like a bare SPSC consumer: a message is seen within a few
 * loads instead of after a whole loop turn. Bounded, so that io, timers
 * and shutdown are still looked at every ~64 rounds.
 */
static void poll_tight(struct pn_shard *s)
{
	for (unsigned k = 0; k < 64; k++) {
		for (unsigned i = 0; i < s->npoll; i++)
			if (pn_ring_has_data(s->poll[i].ring))
				return;
		pn__cpu_relax();
	}
}

static unsigned drain_inbound(struct pn_shard *s)
{
	unsigned nwords = (s->nsources + 63) / 64, work = 0;

	poll_refresh(s);
	if (s->busy_poll || (s->iter % SWEEP_EVERY) == 0)
		return sweep_all(s, nwords);

	for (unsigned w = 0; w < nwords; w++) {
		uint64_t bits = s->more[w];

		/* Acquire pairs with the producers' release fetch_or. */
		if (atomic_load_explicit(&s->bell[w], memory_order_relaxed))
			bits |= atomic_exchange_explicit(&s->bell[w], 0,
							 memory_order_acquire);
		s->more[w] = 0;
		while (bits) {
			unsigned src = w * 64 + (unsigned)__builtin_ctzll(bits);
			struct pn_ring *r;
			bool more;

			bits &= bits - 1;
			if (src >= s->nsources || !(r = in_ring(s, src)))
				continue;
			work += drain_ring(s, r, src, &more);
			if (more)
				s->more[w] |= 1ull << (src & 63);
		}
		pn__flush(s);
	}
	return work;
}

/* Run the local queue: up to 4 batches, including what it sends itself. */
static unsigned run_local(struct pn_shard *s)
{
	unsigned n = 0, max = s->batch * 4;
	struct pn_msg *m;

	while (n < max && (m = pn__fifo_peek(&s->local)) != NULL) {
		pn__dispatch(s, m);
		pn__fifo_pop(&s->local, s->arena);
		n++;
	}
	s->n_dispatched += n;
	pn__met_local(&s->met, n);
	return n;
}

static unsigned reap(struct pn_shard *s)
{
	struct pn_runtime *rt = s->rt;
	struct io_uring_cqe *cqe;
	unsigned head, n = 0, work = 0;

	/* DEFER_TASKRUN: completions wait as task work until we enter. */
	if (IO_URING_READ_ONCE(*s->ring.sq.kflags) & IORING_SQ_TASKRUN)
		io_uring_get_events(&s->ring);
	io_uring_for_each_cqe(&s->ring, head, cqe)
	{
		n++;
		if (cqe->user_data & PN_CQE_POLLER) {
			rt->poller.complete(pn__ctx(s), rt->poller.arg, cqe);
			work++;
		} else if (cqe->user_data == PN__CQE_EFD) {
			s->efd_armed = false;
			pn__met_woken(&s->met);
		} else if (cqe->user_data == PN__CQE_WAKE_SENT) {
			/* A MSG_RING wake-up failed: fall back to the
			 * target's eventfd (its CQE carried no target, so
			 * wake every shard: rare and harmless). */
			for (unsigned i = 0; i < s->nshards; i++)
				if (i != s->id)
					pn__wake_external(rt->shard[i]);
		} else if (cqe->user_data == PN__CQE_WAKE) {
			pn__met_woken(&s->met); /* we are awake: that's all */
		}
	}
	if (n)
		io_uring_cq_advance(&s->ring, n);
	if (!s->efd_armed)
		arm_efd(s);
	return work;
}

/* An overflow queue whose ring has room again (the shard is its
 * producer: pn_ring_slot() reloads the consumer's head when full). */
static bool overflow_room(struct pn_shard *s)
{
	for (unsigned d = 0; d < s->nshards; d++)
		if (pn__fifo_len(&s->out[d].overflow) &&
		    pn_ring_slot(s->out[d].ring))
			return true;
	return false;
}

/* Before parking with overflow waiting: ask each full ring's consumer to
 * wake us when it frees room (room_check()). Release: orders parked = 1
 * before the tag for the consumer's acquire exchange. */
static void room_arm(struct pn_shard *s)
{
	for (unsigned d = 0; d < s->nshards; d++)
		if (pn__fifo_len(&s->out[d].overflow))
			atomic_store_explicit(&s->out[d].ring->waiter,
					      PN__ROOM_SHARD,
					      memory_order_release);
}

static bool has_input(struct pn_shard *s)
{
	unsigned nwords = (s->nsources + 63) / 64;

	if (pn__fifo_len(&s->local) || (s->overflowing && overflow_room(s)) ||
	    (s->turn_want && pn__features_ready(s)))
		return true;
	for (unsigned w = 0; w < nwords; w++)
		if (s->more[w])
			return true;
	for (unsigned src = 0; src < s->nsources; src++) {
		struct pn_ring *r = in_ring(s, src);

		if (r && pn_ring_has_data(r)) {
			/* Its doorbell bit may have been lost to a race:
			 * drain it next turn without waiting for a sweep. */
			s->more[src >> 6] |= 1ull << (src & 63);
			return true;
		}
	}
	if (io_uring_cq_ready(&s->ring) ||
	    (IO_URING_READ_ONCE(*s->ring.sq.kflags) & IORING_SQ_TASKRUN))
		return true;
	return atomic_load_explicit(&s->rt->stage, memory_order_acquire) !=
	       s->stage_seen;
}

static void park(struct pn_shard *s)
{
	struct __kernel_timespec ts, *tsp = NULL;
	struct io_uring_cqe *cqe;
	uint64_t wait = s->timers_frozen
				? UINT64_MAX /* shutdown: due timers stay due */
				: pn__timers_next_ns(s->timers, pn__now(s->rt));

	if (wait == 0)
		return;
	if (!s->efd_armed)
		arm_efd(s);
	if (!s->efd_armed && wait > UNARMED_PARK_NS)
		wait = UNARMED_PARK_NS; /* external wakes would not reach us */
	atomic_store_explicit(&s->parked, 1, memory_order_relaxed);
	if (s->overflowing)
		room_arm(s);
	if (s->turn_want)
		pn__features_park(s);
	pn__heavy_barrier(s->rt);
	if (has_input(s)) {
		atomic_exchange_explicit(&s->parked, 0, memory_order_relaxed);
		return;
	}
	if (wait != UINT64_MAX) {
		ts.tv_sec = (long long)(wait / 1000000000u);
		ts.tv_nsec = (long long)(wait % 1000000000u);
		tsp = &ts;
	}
	if (PN__METRICS)
		pn__features_tick(s); /* fresh counters, before a long sleep */
	pn__met_event(&s->met, PN__FL_PARK, 0, 0, tsp ? wait : 0);
	PN_PROBE2(park, s->id, tsp ? wait : 0);
	pn__met_sleep(&s->met);
	/* Counted as it begins: a shard asleep for good has parked. */
	PN__STAT_ADD(s, PN__ST_PARKS, 1);
	io_uring_submit_and_wait_timeout(&s->ring, &cqe, 1, tsp, NULL);
	/* Woken by a producer (which already cleared it), a timer or io. */
	atomic_exchange_explicit(&s->parked, 0, memory_order_relaxed);
	s->heard = false;
	if (PN__METRICS || PN__PROBES_ON) {
		uint64_t after = pn__now(s->rt);

		PN_PROBE2(unpark, s->id, after - s->met.t_mark);
		pn__met_unpark(&s->met, after);
	}
}

/* Relaxed stores of the hot message counters (owner-written, read
 * anywhere; after the join the controller calls it for a swept shard). */
void pn__shard_publish(struct pn_shard *s)
{
	atomic_store_explicit(&s->stats.v[PN__ST_DISPATCHED], s->n_dispatched,
			      memory_order_relaxed);
	atomic_store_explicit(&s->stats.v[PN__ST_SENT_LOCAL], s->n_sent_local,
			      memory_order_relaxed);
	atomic_store_explicit(&s->stats.v[PN__ST_SENT_REMOTE], s->n_sent_remote,
			      memory_order_relaxed);
}

static void stats_publish(struct pn_shard *s)
{
	atomic_store_explicit(&s->beacon.beat, s->iter, memory_order_relaxed);
	pn__shard_publish(s);
	pn__met_publish(&s->met);
	/* Time shares and registered sources: every 1024 turns. */
	if (PN__METRICS && PN_UNLIKELY((s->iter & 1023) == 0))
		pn__met_tick(s, pn__now(s->rt));
}

/*
 * One idle turn: park once spin_ns have passed since @idle_since, else
 * pause. Returns whether the shard is still idle (false after parking).
 * The clock read also ends the spin for the metrics (when metrics are
 * compiled in, busy-polling shards read it too, to time their spin).
 */
static bool spin(struct pn_shard *s, uint64_t idle_since)
{
	uint64_t now;

	if (s->busy_poll && !PN__METRICS) {
		poll_tight(s);
		return true;
	}
	now = pn__now(s->rt);
	/* Spin only when something came from outside since the last park:
	 * a shard that only runs its own timers (a heartbeat) would spend
	 * spin_ns per tick for nothing; it parks until the next one. */
	if (!s->busy_poll && (now - idle_since >= s->spin_ns || !s->heard)) {
		pn__met_park(&s->met, now);
		park(s);
		return false;
	}
	pn__met_spun(&s->met, now);
	poll_tight(s);
	return true;
}

/*
 * One turn of the loop: act on a new stage word, drain the inbound rings,
 * run the local queue and the features' turns, move overflow, publish,
 * reap completions, fire due timers. Returns how much it did (0: idle);
 * *@exit set when the shard must stop (the join stage). On the shard's
 * thread, or a driver that owns the shard (pn__self_shard set to it).
 */
unsigned pn__shard_turn(struct pn_shard *s, bool *exit)
{
	struct pn_runtime *rt = s->rt;
	int st = atomic_load_explicit(&rt->stage, memory_order_acquire);
	unsigned work, reaped;

	*exit = false;
	/* Between handlers, on the thread that owns the shard. */
	pn_assert(!s->cur && pn__self_shard == s);
	if (PN_UNLIKELY(st != s->stage_seen)) {
		s->stage_seen = st;
		if ((*exit = pn__shard_stage(s, st)))
			return 0;
	}
	s->iter++;
	stats_publish(s);
	work = drain_inbound(s);
	s->heard |= work != 0;
	work += run_local(s);
	if (PN_UNLIKELY(s->turn_want))
		work += pn__features_turn(s);
	if (s->overflowing)
		work += pn__overflow_drain(s);
	else if (PN_UNLIKELY(s->congested || s->side_bytes))
		pn__flow_update(s);
	pn__flush(s);
	pn_assert(!s->ndirty && !s->nwake); /* all published, all woken */
	pn__buf_flush_remote(s);
	if ((reaped = reap(s)) != 0) {
		s->heard = true;
		work += reaped;
	}
	/* SQEs handlers and pollers prepared this turn: one enter. */
	if (io_uring_sq_ready(&s->ring))
		io_uring_submit(&s->ring);
	if (pn__timers_armed(s->timers) && !s->timers_frozen)
		work += pn__timers_advance(s->timers, pn__now(rt),
					   rt->svc.timer, s);
	return work;
}

/*
 * After a turn that did @work: account busy and idle time and, idle,
 * wait for work: spin up to spin_ns, then park (release-then-recheck;
 * woken by a producer, a timer or io). On the shard's thread.
 */
void pn__shard_wait(struct pn_shard *s, unsigned work, struct pn__idle *w)
{
	if (work) {
		if (w->idle)
			pn__met_busy(&s->met);
		w->idle = false;
	} else if (!w->idle) {
		w->idle = true;
		w->since = pn__now(s->rt);
		pn__met_idle(&s->met, w->since);
	} else {
		w->idle = spin(s, w->since);
	}
}

/* The shard's own driver: turns, and waits between idle ones. */
void pn__shard_loop(struct pn_shard *s)
{
	struct pn__idle w = {0};
	bool exit;

	if (PN__METRICS)
		pn__met_tick(s, pn__now(s->rt)); /* time accounting starts */
	for (;;) {
		unsigned work = pn__shard_turn(s, &exit);

		if (exit)
			return;
		pn__shard_wait(s, work, &w);
	}
}
