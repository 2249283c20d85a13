/* SPDX-License-Identifier: MIT */
/*
 * The gate of external calls and the release of blocked producers when it
 * closes: core/sched/producer.c (the file comment, pn__gate_enter(),
 * pn__gate_leave(), gate_inside(), pn__gate_close(), wake_room_waiters(),
 * ring_wait(), inject(), inject_gated()) and core/sched/budget.c
 * (pn__budget_try_acquire(), pn__budget_acquire(), budget_wait(),
 * pn__budget_release(), pn__budget_close(); budget.pml checks the
 * acquire/release wake-up on its own).
 *
 * Modelled: two producer threads P0, P1, each making one pn_inject() of a
 * 1-unit message through its own producer, into its own SPSC ring (ring i)
 * to one consumer shard; the shard; the closer (shutdown's input stage).
 * The rings have capacity 1 and each starts full with an older message of
 * its producer, and the budget (limit 2) starts with those two units used:
 * a producer has to wait for the budget, then for ring room, unless the
 * shard handles messages in time. The shard may, at any moment, handle the
 * message at the head of either ring (drain_ring(): consume, store head,
 * room_check(): if load(waiter) is non-zero, exchange it to 0 and, for
 * PN__ROOM_EXTERNAL, futex-wake; then pn__budget_release() of its bytes),
 * or stop for good (stuck in a handler, say): releasing the producers
 * must not depend on it. Its dispatch, consume and head store are one
 * step (only the head store is seen by others).
 *
 *  - A producer call (inject_gated()): pn__gate_enter(): a. store(busy, 1,
 *    relaxed); b. compiler barrier; c. load(phase); not RUNNING: leave with
 *    -ESHUTDOWN. inject(): pn__budget_acquire(): load(closed) ->
 *    -ESHUTDOWN; the fast admit (a CAS only if the relaxed load of used
 *    says it fits); else lock mu, waiters++, loop { closed -> -ESHUTDOWN;
 *    seq_cst admit -> ok; timed out -> -ETIMEDOUT; cond_(timed)wait },
 *    waiters--, unlock. ring_wait(): loop { pn_ring_slot() (head reloaded:
 *    the cached view is full) -> ok; phase != RUNNING -> -ESHUTDOWN;
 *    deadline passed -> -ETIMEDOUT; store(waiter, EXTERNAL); heavy
 *    barrier; slot or phase != RUNNING -> store(waiter, 0), again;
 *    FUTEX_WAIT while waiter == EXTERNAL }; on error the budget bytes go
 *    back (pn__budget_release()). Publish: the slot, store(sent, sent + 1),
 *    store(tail, release). pn__gate_leave(): load(phase); CLOSED: lock
 *    ctl_mu, store(busy, 0, release), broadcast ctl_cv, unlock; else just
 *    the store.
 *  - The closer (pn__gate_close()): store(phase, CLOSED); seq_cst fence;
 *    pn__budget_close() (under mu: closed = 1, broadcast);
 *    wake_room_waiters() (exchange every ring's waiter to 0, futex-wake);
 *    then the heavy barrier (after the wake-ups: it can be slow); lock
 *    ctl_mu; while some busy (acquire loads, one producer at a time) is
 *    1: cond_timedwait(ctl_cv) with GATE_POLL_NS; unlock.
 *
 * Memory model: x86-TSO for the producers. Their plain and release stores
 * (busy, then sent and tail, which are one entry: see apply()) go into a
 * FIFO store buffer, drained by the Flusher at any time, by their own
 * locked RMWs (the CAS that admits, fetch_add/sub, pthread mutex lock and
 * unlock) and by a heavy barrier (membarrier: every thread's buffer). The
 * store of the waiter tag is followed by the heavy barrier and no load in
 * between matters, so it is not buffered (as in room.pml and for the
 * closer's phase store, which its fence follows). The shard's head store
 * is sequentially consistent here: room.pml checks the room handshake
 * with the consumer's store buffer.
 *
 * Waits: the budget's condition variable as in budget.pml (cond_wait
 * releases mu and joins the wait set in one step; spurious wake-ups are
 * left to budget.pml). FUTEX_WAIT(waiter, EXTERNAL) sleeps only while the
 * word holds the tag, and every waker changes the word before its
 * FUTEX_WAKE: the sleep is a blocking wait for the word to change. The C
 * code also ends each such sleep after ROOM_NAP_NS (10 ms) and then
 * rechecks the phase at the top of its loop; the model leaves that
 * timeout out, so a waiter left asleep after the close shows as a deadlock:
 * the property checked is that the closer's wake-up (or room) releases it,
 * not the nap. The closer's GATE_POLL_NS timeout is modelled as a re-look
 * allowed whenever it would see the gate empty (a re-look that sees a busy
 * word is a stutter), so a missed ctl_cv broadcast only delays it, as in C.
 * Calls have no deadline, except in TIMEOUT (gate_timeout.pml): there each
 * call's deadline may pass while it waits (cond_timedwait() returns
 * ETIMEDOUT, budget_wait() rechecks once more; a futex sleep ends, and
 * ring_wait()'s deadline check returns -ETIMEDOUT). The 64 spins before a
 * ring sleep only repeat the checks of the loop and are left out; so is
 * pn__source_publish() (park_wake.pml): its fetch_or only drains earlier.
 *
 * Properties:
 *  1. Every call ends: a producer blocked in the budget wait or the ring
 *     wait after the close (and so the closer waiting for its busy word)
 *     is an invalid end state.
 *  2. Once the closer has seen every busy word 0, no producer publishes,
 *     nor does a buffered publish become visible (assertions, ghost
 *     gate_empty).
 *  3. What was published is counted: when the gate is empty, the sent
 *     counters the closer reads equal the publishes (ghost).
 *  4. The budget is consistent at the end (the calls and the closer done,
 *     the shard between messages): used == 2 + admitted - released, where
 *     admitted counts the acquires that returned 0 (so a CAS that took
 *     bytes for a call that then reported an error would show), and used
 *     == the units of the messages still held (published or old, not yet
 *     released by the shard): every path that gave up after admission
 *     gave its bytes back.
 *
 * Variants (one #define on top, see README.md):
 *   TIMEOUT          gate_timeout.pml: deadlines may pass (must verify).
 *   FENCED           gate_fenced.pml: the fallback without membarrier
 *                    (rt->fenced): gate_order() is a seq_cst fence in the
 *                    producer, and every pn__heavy_barrier() is the
 *                    caller's own fence (must verify).
 *   MUTANT_NOFENCE   (with FENCED) gate_order() without its fence.
 *   MUTANT_NOBARRIER the closer leaves out its heavy barrier.
 *   MUTANT_WAKEFIRST the closer wakes ring-room waiters before it stores
 *                    the phase.
 *   MUTANT_NOWAKE    the closer does not wake ring-room waiters and
 *                    ring_wait() does not recheck the phase before it
 *                    sleeps.
 *   MUTANT_NOCLOSE   the closer does not close the budget.
 */

#define NP	2		/* producers (ids 1, 2) */
#define SHARDID	3		/* the consumer shard, as a mutex owner */
#define CLOSER	4
#define LIMIT	2		/* budget limit, in units */

#define RUNNING	1		/* PN__RT_RUNNING */
#define CLOSED	2		/* PN__RT_CLOSED */
#define EXTERNAL 2		/* PN__ROOM_EXTERNAL */

#define A_BUSY	0		/* store-buffer addresses */
#define A_PUB	1		/* sent and tail (see apply()) */

/* Capacity 1, indices modulo 2 (ring.pml). */
#define FULL(t, h)	((((t) - (h)) & 1) != 0)

byte phase = RUNNING;		/* rt->phase */
byte busy[NP];			/* producer i's busy word (memory) */
byte sent[NP];			/* producer i's sent counter (memory) */
byte tail[NP];			/* ring i: published tail (memory) */
byte head[NP];			/* ring i: published head */
byte waiter[NP];		/* ring i: struct pn_ring.waiter */

/* Producer i's store buffer: (address, value), FIFO. */
chan sb[NP] = [3] of { byte, byte };

/* The budget (struct pn__budget). */
byte used = 2;			/* the two older messages */
byte waiters;
bit  closed;
byte mu;			/* 0: free, else the owner's id */
bit  inwait[NP];		/* producer i is in the cv's wait set */

/* ctl_mu and ctl_cv. */
byte ctl_mu;
bit  ctl_inwait;		/* the closer is in ctl_cv's wait set */

/* Ghosts. */
bit  gate_empty;		/* the closer has seen every busy == 0 */
bit  closer_done;
byte calls_done;
byte published;			/* messages the producers published */
byte admitted, released;	/* budget units */
byte held = 2;			/* units of messages published or old,
				 * not yet released by the shard */
bit  shard_busy;		/* the shard is inside a message */

/* Make one buffered store of producer i visible. The publish's two
 * stores, store(sent, 1) then store(tail, v), are one entry: nobody reads
 * sent before the gate is empty, when both are visible, so the state in
 * between cannot be told from the one before. */
inline apply(i, a, v)
{
	if
	:: a == A_BUSY -> busy[i] = v
	:: else ->
		assert(!gate_empty);	/* nor becomes visible after */
		sent[i] = 1;
		tail[i] = v
	fi;
	a = 0; v = 0
}

/* Drain producer i's buffer (inside atomic: a locked RMW of i, or the
 * IPI of a heavy barrier). */
inline flush_all(i)
{
	do
	:: nempty(sb[i]) -> sb[i]?sa, sv; apply(i, sa, sv)
	:: empty(sb[i]) -> break
	od
}

/* The hardware: any producer's oldest buffered store becomes visible. */
proctype Flusher()
{
	byte sa, sv;

end:	do
	:: atomic { sb[0]?sa, sv -> apply(0, sa, sv) }
	:: atomic { sb[1]?sa, sv -> apply(1, sa, sv) }
	od
}

/* pthread_mutex_lock/unlock (locked RMWs: a producer's buffer drains). */
inline lock(m, me)
{
	atomic {
		m == 0 ->
		if
		:: me <= NP -> flush_all(me - 1)
		:: else -> skip
		fi;
		m = me
	}
}

inline unlock(m, me)
{
	atomic {
		assert(m == me);
		if
		:: me <= NP -> flush_all(me - 1)
		:: else -> skip
		fi;
		m = 0
	}
}

/* pn__budget_release(n = 1): fetch_sub(used) (seq_cst: locked); then if
 * load(waiters) > 0: lock mu, broadcast, unlock. */
inline budget_release(me)
{
	atomic {
		if
		:: me <= NP -> flush_all(me - 1)
		:: else -> skip
		fi;
		assert(used > 0);
		used--;
		released++
	};
	if
	:: waiters > 0 ->
		lock(mu, me);
		atomic { inwait[0] = 0; inwait[1] = 0 };
		unlock(mu, me)
	:: else -> skip
	fi
}

/* The shard handles the next message of ring i, if one is visible. */
inline shard_handle(i)
{
	/* Dispatch; pn_ring_consume(); pn_ring_release(): store(head). Only
	 * the head store is seen by others: one step. */
	atomic {
		tail[i] != chead[i] ->
		chead[i] = (chead[i] + 1) & 1;
		head[i] = chead[i];
		shard_busy = 1
	};
	/* room_check(): load(waiter); exchange(waiter, 0); futex wake. */
	if
	:: waiter[i] != 0 -> waiter[i] = 0
	:: else -> skip
	fi;
	/* pn__budget_release() of its bytes */
	budget_release(SHARDID);
	atomic { held--; shard_busy = 0 }
}

proctype Shard()
{
	byte chead[NP], sa, sv;

	chead[0] = 0;
	chead[1] = 0;
end:	do
	:: shard_handle(0)
	:: shard_handle(1)
	:: break	/* never again (stuck, or just slow): releasing the
			 * producers must not depend on the shard */
	od
}

proctype Producer(byte i)
{
	byte me = i + 1, err, ptail = 1, phead, sa, sv;
	bit ok, late;

	/* pn__gate_enter(): mark inside, then look at the phase. */
	sb[i]!A_BUSY, 1;		/* a. store(busy, 1, relaxed) */
#if defined(FENCED) && !defined(MUTANT_NOFENCE)
	/* b. gate_order(), fenced: atomic_thread_fence(seq_cst). */
	atomic { flush_all(i) };
#endif
	err = (phase != RUNNING);	/* b, c. (compiler barrier only) */
	if
	:: err -> goto leave		/* -ESHUTDOWN */
	:: else -> skip
	fi;

	/* pn__budget_acquire(1): try_acquire first. */
	if
	:: closed -> err = 1; goto leave		/* -ESHUTDOWN */
	:: else -> skip
	fi;
	atomic {
		/* budget_admit_fast(): the CAS (locked) only if it fits. */
		if
		:: used + 1 <= LIMIT ->
			flush_all(i);
			used++;
			admitted++;	/* acquire returns 0 */
			ok = 1
		:: else -> ok = 0
		fi
	};
	if
	:: ok -> ok = 0
	:: else ->
		lock(mu, me);
		atomic { flush_all(i); waiters++ };	/* seq_cst RMW */
		/* budget_wait() */
		do
		:: closed -> err = 1; break		/* -ESHUTDOWN */
		:: else ->
			atomic {
				if
				:: used + 1 <= LIMIT ->
					flush_all(i);
					used++;
					ok = 1
				:: else -> ok = 0
				fi
			};
			if
			:: ok -> break
			:: else -> skip
			fi;
			if
			:: late -> err = 2; break	/* -ETIMEDOUT */
			:: else -> skip
			fi;
			/* cond_(timed)wait: release mu, join the set. */
			atomic { assert(mu == me); inwait[i] = 1; mu = 0 };
			atomic {
				if
				:: !inwait[i] -> skip
#ifdef TIMEOUT
				:: inwait[i] ->		/* the deadline passed */
					inwait[i] = 0;
					late = 1
#endif
				fi
			};
			lock(mu, me)
		od;
		atomic { flush_all(i); waiters-- };
		unlock(mu, me);
		if
		:: err -> goto leave
		:: else -> ok = 0; admitted++	/* acquire returns 0 */
		fi
	fi;

	/* ring_wait(): a free slot in ring i. */
	do
	:: /* pn_ring_slot(): the cached view is full: reload head. */
		if
		:: !FULL(ptail, head[i]) -> break
		:: else -> skip
		fi;
		if
		:: phase != RUNNING -> err = 1; break	/* -ESHUTDOWN */
		:: else -> skip
		fi;
#ifdef TIMEOUT
		/* (now = pn_now_ns()) >= deadline: passed while we slept,
		 * before, or just now. */
		if
		:: late -> err = 2; break		/* -ETIMEDOUT */
		:: !late -> late = 1; err = 2; break
		:: !late -> skip
		fi;
#endif
		waiter[i] = EXTERNAL;
#ifdef FENCED
		/* pn__heavy_barrier(), fenced: our own fence. */
		atomic { flush_all(i) };
#else
		/* pn__heavy_barrier(): membarrier, every buffer drains. */
		atomic { flush_all(0); flush_all(1) };
#endif
		/* pn_ring_slot() (head), then the phase: two loads. */
		phead = head[i];
#ifdef MUTANT_NOWAKE
		if
		:: !FULL(ptail, phead) -> phead = 0; waiter[i] = 0
#else
		if
		:: !FULL(ptail, phead) || phase != RUNNING ->
			phead = 0;
			waiter[i] = 0
#endif
		:: else ->
			phead = 0;
			/* FUTEX_WAIT: sleeps while the word is our tag. */
			atomic {
				if
				:: waiter[i] != EXTERNAL -> skip
#ifdef TIMEOUT
				:: waiter[i] == EXTERNAL -> late = 1
#endif
				fi
			}
		fi
	od;
	if
	:: err ->
		/* inject(): give the bytes back. */
		budget_release(me);
		goto leave
	:: else -> skip
	fi;

	/* Publish: the slot and pn_ring_commit(), store(sent, sent + 1),
	 * pn_ring_publish(): store(tail, release). */
	atomic {
		assert(!gate_empty);
		ptail = (ptail + 1) & 1;
		sb[i]!A_PUB, ptail;
		published++;
		held++
	};

leave:	/* pn__gate_leave() */
	atomic { late = 0; err = 0 };
	if
	:: phase == CLOSED ->
		lock(ctl_mu, me);
		sb[i]!A_BUSY, 0;		/* store(busy, 0, release) */
		ctl_inwait = 0;			/* broadcast(ctl_cv) */
		unlock(ctl_mu, me)
	:: else ->
		sb[i]!A_BUSY, 0
	fi;
	calls_done++
}

/* gate_wait(): under ctl_mu, until both busy words read 0 (acquire
 * loads, one producer at a time), sleeping on ctl_cv in between. */
inline gate_wait()
{
	lock(ctl_mu, CLOSER);
	do
	:: n = busy[0];
		if
		:: n + busy[1] == 0 -> n = 0; break
		:: else ->
			n = 0;
			/* cond_timedwait(ctl_cv, GATE_POLL_NS) */
			atomic { ctl_inwait = 1; ctl_mu = 0 };
			atomic {
				!ctl_inwait || (busy[0] == 0 && busy[1] == 0) ->
				ctl_inwait = 0
			};
			lock(ctl_mu, CLOSER)
		fi
	od;
	unlock(ctl_mu, CLOSER)
}

proctype Closer()
{
	byte n, sa, sv;

#ifdef MUTANT_WAKEFIRST
	waiter[0] = 0;
	waiter[1] = 0;
#endif
	/* pn__gate_close(): store(phase) and a seq_cst fence (the closer's
	 * buffer is not modelled: the store is visible at once). */
	phase = CLOSED;
#ifndef MUTANT_NOCLOSE
	/* pn__budget_close() */
	lock(mu, CLOSER);
	closed = 1;
	atomic { inwait[0] = 0; inwait[1] = 0 };
	unlock(mu, CLOSER);
#endif
#if !defined(MUTANT_NOWAKE) && !defined(MUTANT_WAKEFIRST)
	/* wake_room_waiters(): exchange(waiter, 0) (and FUTEX_WAKE if it
	 * was set), ring by ring. */
	waiter[0] = 0;
	waiter[1] = 0;
#endif
	/* gate_wait(): the woken leave first. */
	gate_wait();
#if !defined(FENCED) && !defined(MUTANT_NOBARRIER)
	/* pn__heavy_barrier(), after the wake-ups: every producer's buffer
	 * drains. (Fenced: the closer's own fence, a no-op here.) */
	atomic { flush_all(0); flush_all(1) };
#endif
	gate_wait();
	lock(ctl_mu, CLOSER);
	/* The gate is empty: what the drain reads from here is final. */
	atomic {
		gate_empty = 1;
		assert(sent[0] + sent[1] == published)
	};
	unlock(ctl_mu, CLOSER);
	closer_done = 1
}

init
{
	atomic {
		/* Each ring holds one older message (tail 1, head 0). */
		tail[0] = 1;
		tail[1] = 1;
		run Flusher();
		run Shard();
		run Producer(0);
		run Producer(1);
		run Closer()
	};
	/* Every call and the closer done, the shard between messages. */
	atomic {
		calls_done == NP && closer_done && !shard_busy ->
		assert(used == 2 + admitted - released);
		assert(used == held)
	}
}
