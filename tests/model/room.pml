/* SPDX-License-Identifier: MIT */
/*
 * Room in a full ring: the consumer-to-producer half of park/wake (the shard.c
 * file comment, "The same handshake runs the other way"). A shard whose
 * overflow waits for room parks instead of spinning, and the shard that
 * consumes the ring wakes it after publishing its head: park(), room_arm(),
 * has_input() / overflow_room(), room_check(), wake_claim() in
 * core/sched/shard.c, overflow_move() / pn__overflow_drain() in
 * core/sched/send.c, and struct pn_ring.waiter in core/base/pn_ring.h.
 *
 * Modelled: a producer shard P with K messages (sequence numbers 1..K) in
 * its overflow queue toward a consumer shard C, over a ring of capacity
 * CAP = 2 (CAP = 1 in room_cap1.pml); indices modulo 2 * CAP as in
 * ring.pml. The ring's head, tail and waiter words, P's `parked` flag, and
 * the wake-ups posted to P (MSG_RING CQEs) as the counter `wakes`. A third
 * shard O sends P one message at a moment of its choosing and claims P's
 * wake-up for it (pn__source_publish()), so that two wakers can race for
 * the same park.
 *  - P, each turn: reap its CQEs; take O's message if published;
 *    overflow_move(): while the overflow is non-empty and pn_ring_slot()
 *    finds room (reloading head only when its cached view says full),
 *    write the slot and commit; pn__flush(): publish the tail. A turn
 *    that did nothing is idle: P spins (another turn) or parks: a. parked
 *    = 1 (relaxed); b. room_arm(), if overflow waits: waiter =
 *    PN__ROOM_SHARD (release); c. pn__heavy_barrier() (membarrier); d.
 *    has_input(): overflow_room() reloads head, the inbound ring (O's
 *    message), io_uring_cq_ready(); if any: cancel (exchange(parked, 0))
 *    and go on; else e. sleep until a wake-up, then exchange(parked, 0).
 *  - C, each turn: drain_ring(): consume up to BATCH = 2 messages (the
 *    cached tail is reloaded only when the cached view says empty), then
 *    pn_ring_release() (store head) and room_check(): a compiler barrier,
 *    load(waiter); if non-zero, exchange(waiter, 0) and, for the shard
 *    tag, wake_claim(): if load(parked) and exchange(parked, 0) returned 1,
 *    send the wake-up (queued; pn__flush_wakes() at the end of the turn).
 *    With nothing to consume C parks until P publishes more: the
 *    park_wake.pml protocol, here a blocking wait on the tail.
 *
 * Memory model: x86-TSO for C. Its head stores (plain: release is a plain
 * store on x86) go into its FIFO store buffer csb and become visible later
 * (the Flusher drains it whenever it likes); its exchanges are locked RMWs,
 * which drain the buffer first. C's later load of waiter may therefore
 * pass its head store: the store-buffering shape, covered only by P's
 * membarrier, which drains every thread's buffer. P's stores are not
 * buffered here: parked = 1 and the tag are followed by the membarrier,
 * which drains P's own buffer too, and P loads nothing another thread's
 * decision depends on in between, so their delay to the barrier is a
 * schedule the model already has (as for the consumer's parked = 1 in
 * park_wake.pml); a delayed slot or tail store only makes C wait longer
 * on the tail, which C's blocking wait contains.
 *
 * Properties:
 *  1. C receives all K messages, in order, and P never fills a slot C has
 *     not consumed (assertions on the sequence numbers).
 *  2. P never sleeps forever with overflow waiting: P blocked in step e
 *     with C waiting on an empty ring is an invalid end state (their
 *     normal ends and the Flusher's idle loop are valid; P's sleep ends
 *     the model when no overflow is left and O's message was taken).
 *  3. At most one wake-up per park: C and O both claim with
 *     exchange(parked, 0) (assert claimed <= 1).
 *
 * Variants (one #define on top, see README.md):
 *   CAP1             room_cap1.pml: ring capacity 1 (must verify).
 *   FENCED           room_fenced.pml: the fallback without membarrier
 *                    (rt->fenced): P's barrier is its own seq_cst fence,
 *                    which cannot drain C's buffer, and room_check()
 *                    fences between the head store and the waiter load.
 *   MUTANT_NOFENCE   (with FENCED) room_check() without that fence.
 *   MUTANT_NORECHECK P sleeps right after the barrier, without step d.
 *   MUTANT_NOBARRIER no step c: C's head store can still be buffered when
 *                    P rechecks, while C's load of waiter read 0.
 *   MUTANT_LATEARM   P sets waiter only after its recheck (b after d).
 *   MUTANT_LOADSTORE the wakers claim with if (load(parked))
 *                    store(parked, 0), not one exchange.
 */

#ifdef CAP1
#define CAP	1
#define K	3
#else
#define CAP	2
#define K	5
#endif
#define MASK	(CAP - 1)
#define IDX	(2 * CAP - 1)	/* indices modulo 2 * CAP */
#define BATCH	2
#define SHARD	1		/* PN__ROOM_SHARD */

#define FULL(t, h)	((((t) - (h)) & IDX) > MASK)

byte slot[CAP];			/* ring slots; 0: consumed (ghost) */
byte tail;			/* published tail (P) */
byte head;			/* published head, memory value (C) */
byte waiter;			/* struct pn_ring.waiter */
bit  parked;			/* P's parked flag */
byte wakes;			/* wake-up CQEs posted to P, not reaped */
byte claimed;			/* ghost: wake-ups claimed in this park */
bit  omsg;			/* O's message to P, published, not taken */
bit  odone;			/* O has sent it */

chan csb = [K] of { byte };	/* C's store buffer: head stores */

/* Drain C's store buffer (inside atomic: a locked RMW of C, or the IPI of
 * P's membarrier). */
inline flush_c()
{
	do
	:: nempty(csb) -> csb?hv; head = hv
	:: empty(csb) -> break
	od;
	hv = 0
}

/* The hardware: makes C's buffered head stores visible, in order, one at a
 * time, whenever it likes. */
proctype Flusher()
{
	byte hv;

end:	do
	:: atomic { csb?hv -> head = hv; hv = 0 }
	od
}

/* wake_claim(), after its load saw parked == 1: exchange(parked, 0); the
 * one that got 1 sends the wake-up. */
#ifdef MUTANT_LOADSTORE
#define CLAIM()	won = 1; parked = 0	/* the load decides; store(parked, 0) */
#else
#define CLAIM()	won = parked; parked = 0
#endif

/* Step e: io_uring_submit_and_wait_timeout() for one CQE (no timer: no
 * timeout), then exchange(parked, 0). Not an end state, except that P
 * may leave once nothing is left to come (no overflow, O done and its
 * message taken): the end of the scenario, not a wake-up. */
inline sleep()
{
	atomic {
		if
		:: wakes > 0 -> wakes--
		:: next > K && odone && !omsg -> skip
		fi
	};
	parked = 0
}

proctype Producer()
{
	byte ptail, phead, next = 1, hv;
	bit moved, work;

	do
	:: next > K && odone && !omsg -> break
	:: else ->
		/* reap(): wake-up CQEs (stray ones included). */
		wakes = 0;
		/* drain_inbound(): O's message, if published. */
		if
		:: omsg -> omsg = 0; work = 1
		:: else -> skip
		fi;
		/* pn__overflow_drain(), overflow_move(): what fits, in
		 * order. */
		do
		:: next <= K ->
			/* pn_ring_slot(): reload head only if full. */
			if
			:: FULL(ptail, phead) -> phead = head
			:: else -> skip
			fi;
			if
			:: FULL(ptail, phead) -> break
			:: else ->
				atomic {
					assert(slot[ptail & MASK] == 0);
					slot[ptail & MASK] = next;
					ptail = (ptail + 1) & IDX;
					next++;
					moved = 1
				}
			fi
		:: else -> break
		od;
		if
		:: moved ->
			/* pn__flush(): store(tail, release). */
			tail = ptail;
			moved = 0;
			work = 1
		:: else -> skip
		fi;
		if
		:: work -> work = 0
		:: else ->
			/* An idle turn: spin (another turn) or park. */
			if
			:: skip
			:: /* a. store(parked, 1) (+ ghost: a new park) */
				atomic { parked = 1; claimed = 0 };
#ifndef MUTANT_LATEARM
				/* b. room_arm(), if overflowing: store(waiter,
				 *    SHARD, release) */
				if
				:: next <= K -> waiter = SHARD
				:: else -> skip
				fi;
#endif
#if defined(FENCED)
				/* c. pn__heavy_barrier() is P's own seq_cst
				 *    fence: P's buffer (see above), not C's. */
#elif !defined(MUTANT_NOBARRIER)
				/* c. membarrier: every thread's store buffer
				 *    drains, C's included. */
				atomic { flush_c() };
#endif
#ifdef MUTANT_NORECHECK
				sleep()
#else
				/* d. has_input(): overflowing && overflow_room()
				 *    (which reloads head: the cached view says
				 *    full); the inbound rings; cq_ready(). */
				if
				:: next <= K -> phead = head
				:: else -> skip
				fi;
				if
				:: (next <= K && !FULL(ptail, phead)) || omsg ||
				   wakes > 0 ->
					/* Cancel: exchange(parked, 0). */
					parked = 0
				:: else ->
#ifdef MUTANT_LATEARM
					/* Mutant: the tag after the recheck. */
					if
					:: next <= K -> waiter = SHARD
					:: else -> skip
					fi;
#endif
					sleep()
				fi
#endif
			fi
		fi
	od
}

/* Another shard O that sends P one message at any moment: publish, then
 * pn__source_publish()'s wake_claim() (park_wake.pml checks that
 * handshake with store buffers; here it is sequentially consistent). It
 * is the second waker that can race C for the same park. */
proctype Other()
{
	bit won;

	omsg = 1;
	if
	:: parked ->
		atomic {
			CLAIM();
			if
			:: won -> claimed++; assert(claimed <= 1)
			:: else -> skip
			fi
		}
	:: else -> skip
	fi;
	if
	:: won -> wakes++; won = 0
	:: else -> skip
	fi;
	odone = 1
}

proctype Consumer()
{
	byte chead, ctail, expect = 1, n, w, hv;
	bit won;

	do
	:: expect > K -> break
	:: else ->
		/* drain_ring(): up to BATCH messages (pn_ring_peek() reloads
		 * the tail only when its cached view says empty). */
		do
		:: n < BATCH ->
			if
			:: chead == ctail -> ctail = tail
			:: else -> skip
			fi;
			if
			:: chead == ctail -> break
			:: else ->
				/* Dispatch, then pn_ring_consume(). FIFO, no
				 * loss, no duplicate; the slot is free again
				 * (ghost). */
				atomic {
					assert(slot[chead & MASK] == expect);
					slot[chead & MASK] = 0;
					expect++;
					chead = (chead + 1) & IDX;
					n++
				}
			fi
		:: else -> break
		od;
		if
		:: n > 0 ->
			n = 0;
			/* pn_ring_release(): store(head, release): a plain
			 * store, into C's store buffer. */
			csb!chead;
#if defined(FENCED) && !defined(MUTANT_NOFENCE)
			/* room_check(), fenced: atomic_thread_fence(seq_cst)
			 * drains C's own buffer before the load. */
			atomic { flush_c() };
#endif
			/* room_check(): compiler barrier, load(waiter). */
			if
			:: waiter != 0 ->
				/* exchange(waiter, 0, acquire): locked. */
				atomic { flush_c(); w = waiter; waiter = 0 };
				if
				:: w == SHARD ->
					/* wake_claim(): load, then exchange. */
					if
					:: parked ->
						atomic {
							CLAIM();
							if
							:: won -> claimed++;
								assert(claimed <= 1)
							:: else -> skip
							fi
						}
					:: else -> skip
					fi;
					/* pn__flush_wakes(): the MSG_RING. */
					if
					:: won -> wakes++; won = 0
					:: else -> skip
					fi
				:: else -> skip
				fi;
				w = 0
			:: else -> skip
			fi
		:: else ->
			/* Nothing published: C parks (park_wake.pml) until
			 * the tail moves. Not an end state. */
			tail != chead
		fi
	od
}

init
{
	atomic {
		run Flusher();
		run Producer();
		run Consumer();
		run Other()
	}
}
