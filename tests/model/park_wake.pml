/* SPDX-License-Identifier: MIT */
/*
 * Park/wake of a shard: release-then-recheck with an asymmetric barrier,
 * the protocol by which a shard hands back and takes again the ownership
 * of its attention. The C code follows this protocol step for step; the step names (1, 2, 3 / a, b, c, d) are the
 * ones used in the comments of the C code.
 *
 * Modelled: one consumer shard C; two producers P0, P1, each with its own
 * SPSC ring into C (capacity >= K, so "full" never happens here and head is
 * private to C); the doorbell word `bell` (bit i: "ring i may have data", a
 * hint); the `parked` flag; and the wake-ups (io_uring MSG_RING CQEs) as the
 * counter `wakes` that C sleeps on.
 *
 * Memory model: x86-TSO for the producers. Every plain/release store a
 * producer makes (the slot, then the tail) goes into its FIFO store buffer
 * sb[i] and becomes visible to the others later, in order (the Flusher
 * process drains buffers at arbitrary times). Loads read memory; a producer
 * never loads a location it has a buffered store to, except its own tail,
 * which it keeps in a register. A locked RMW (fetch_or, exchange) drains the
 * producer's own buffer first and is atomic. The consumer's stores go
 * straight to memory: its only plain store is parked = 1 (step a), and
 * between a and b it does nothing else, so a delay of that store to b is a
 * schedule this model already contains (a producer's load of parked that
 * would see 0 inside the window is equivalent to the same load just
 * before a). Its other writes are locked RMWs.
 *
 * Properties:
 *  1. No stranded message: the consumer never sleeps forever while a ring
 *     holds a message. Producers are finite, so a stranded message is a
 *     deadlock: C blocked in step d (not an end state) = "invalid end state".
 *     C's normal end (all NP*K consumed), the producers' ends and the
 *     Flusher's idle loop (end label) are valid end states.
 *  2. At most one wake claimed per park (assert claimed <= 1).
 *  3. Per-producer FIFO, no loss, no duplicates, and the slot is visible
 *     whenever the tail covering it is (assert on sequence numbers).
 *
 * Variants (the same text with one #define on top; see README.md):
 *   FENCED            park_wake_fenced.pml: no membarrier; C's step b is its
 *                     own full fence, and each producer fences between 1 and 3.
 *   MUTANT_NORECHECK  C sleeps right after a (+b), without step c.
 *   MUTANT_NOBARRIER  C does a and c but not b.
 *   MUTANT_BELLONLY   C's recheck looks only at rings whose bell bit is set.
 *   MUTANT_NOPRODFENCE (with FENCED) the producer's fence is left out.
 *   MUTANT_LOADSTORE  a producer claims the wake with its load of parked
 *                     and a store of 0 instead of one exchange.
 */

#define NP	2		/* producers */
#define K	2		/* messages per producer */
#define TAIL	255		/* store-buffer address of tail_i (else: slot k) */
#define BIT(i)	(1 << (i))

byte tail[NP];			/* visible (memory) value of tail_i */
byte slot[NP * K];		/* visible ring slots: slot[i*K + k] */
byte bell;			/* doorbell word */
bit  parked;			/* C's parked flag */
byte wakes;			/* wake CQEs posted to C, not yet reaped */
byte claimed;			/* ghost: wakes claimed in the current park */

/* Producer i's store buffer: (address, value), FIFO. */
chan sb[NP] = [2 * K] of { byte, byte };

/* Make one buffered store of producer i visible. */
inline apply(i, a, v)
{
	if
	:: a == TAIL -> tail[i] = v
	:: else -> slot[i * K + a] = v
	fi;
	a = 0; v = 0
}

/* Drain producer i's store buffer (used inside atomic blocks: a locked RMW,
 * a full fence, or the IPI of membarrier). */
inline flush_all(i)
{
	do
	:: nempty(sb[i]) -> sb[i]?sa, sv; apply(i, sa, sv)
	:: empty(sb[i]) -> break
	od
}

/* The hardware: drains any producer's store buffer, one store at a time,
 * whenever it likes. */
proctype Flusher()
{
	byte sa, sv;
end:	do
	:: atomic { sb[0]?sa, sv -> apply(0, sa, sv) }
	:: atomic { sb[1]?sa, sv -> apply(1, sa, sv) }
	od
}

proctype Producer(byte i)
{
	byte k, sa, sv;
	bit won;

	do
	:: k < K ->
		/* 1. Write the slot, then store(tail_i, t+1, release). On x86
		 *    both are plain stores and sit in the store buffer. */
		atomic { sb[i]!k, k + 1; sb[i]!TAIL, k + 1 };

		/* 2. Doorbell: if (!(load(bell, relaxed) & bit_i))
		 *        fetch_or(bell, bit_i);  -- locked: drains the buffer. */
		if
		:: (bell & BIT(i)) == 0 ->
			atomic { flush_all(i); bell = bell | BIT(i) }
		:: else -> skip
		fi;
#if defined(FENCED) && !defined(MUTANT_NOPRODFENCE)
		/* Fallback without membarrier: full fence between 1 and 3
		 * (here just before 3, the weakest place: an earlier fence
		 * only removes schedules). */
		atomic { flush_all(i) }
#endif
		/* 3. if (load(parked, relaxed)) -- only a compiler barrier
		 *    since step 1: the tail may still be buffered here. */
		if
		:: parked ->
#ifdef MUTANT_LOADSTORE
			/* Mutant: the load above is the claim; then
			 * store(parked, 0), not one RMW. */
			atomic {
				flush_all(i);
				won = 1;
				parked = 0;
#else
			/* Claim the wake: exchange(parked, 0) (locked RMW). */
			atomic {
				flush_all(i);
				won = parked;
				parked = 0;
#endif
				if
				:: won -> claimed++; assert(claimed <= 1)
				:: else -> skip
				fi
			};
			/* Only the winner sends the wake (MSG_RING CQE). */
			if
			:: won -> wakes++; won = 0
			:: else -> skip
			fi
		:: else -> skip
		fi;
		k++
	:: else -> break
	od
}

/* Consume what ring i's visible tail covers. The slot reads come after the
 * acquire load of the tail; slots only go from empty to their final value,
 * so reading them in the same step as the tail loses no behaviour. */
inline drain(i)
{
	t = tail[i];
	do
	:: head[i] < t ->
		/* FIFO, no loss, no duplicate, slot visible. */
		assert(slot[i * K + head[i]] == head[i] + 1);
		head[i]++;
		consumed++;
		got = 1
	:: else -> break
	od;
	t = 0
}

/* Running: drain ring i if its bell bit was set or this is a sweep. */
inline visit(i)
{
	atomic {
		if
		:: sweep || (bits & BIT(i)) -> drain(i)
		:: else -> skip
		fi
	}
}

/* Park step c: is ring i non-empty (its visible tail beyond our head)? */
inline recheck(i)
{
#ifdef MUTANT_BELLONLY
	/* Mutant: only rings whose doorbell bit is set (bits = load(bell)). */
	atomic {
		if
		:: (bits & BIT(i)) && tail[i] != head[i] -> nonempty = 1
		:: else -> skip
		fi
	}
#else
	atomic {
		if
		:: tail[i] != head[i] -> nonempty = 1
		:: else -> skip
		fi
	}
#endif
}

proctype Consumer()
{
	byte head[NP];
	byte consumed, bits, t, sa, sv;
	bit sweep, got, nonempty;

	do
	:: consumed == NP * K -> break
	:: else ->
		/* Running. Reap CQEs (stray wakes are dropped here), then
		 * bits = exchange(bell, 0); every Nth iteration (any
		 * iteration, here) also sweep every ring regardless of bits.
		 * One step: producers' actions between the two commute with
		 * one of them. */
		atomic {
			wakes = 0;
			bits = bell;
			bell = 0;
			if
			:: sweep = 1
			:: sweep = 0
			fi
		};
		visit(0);
		visit(1);
		if
		:: got -> got = 0; sweep = 0; bits = 0
		:: else ->
			/* Nothing to do: park. */
			/* a. store(parked, 1)  (+ ghost: a new park epoch) */
			atomic { parked = 1; claimed = 0; sweep = 0; bits = 0 };
#if defined(FENCED)
			/* b. atomic_thread_fence(seq_cst): drains only C's own
			 *    buffer, which this model keeps empty (see top). */
#elif !defined(MUTANT_NOBARRIER)
			/* b. membarrier(PRIVATE_EXPEDITED): every producer
			 *    thread runs a full barrier (IPI or context switch):
			 *    all store buffers drain, after a. */
			atomic { flush_all(0); flush_all(1) };
#endif
#ifndef MUTANT_NORECHECK
			/* c. Recheck EVERY ring's visible tail. */
#ifdef MUTANT_BELLONLY
			bits = bell;
#endif
			recheck(0);
			recheck(1);
			if
			:: nonempty ->
				/* Cancel: if (exchange(parked, 0) == 0) a producer
				 * claimed the wake; its CQE is reaped later as a
				 * stray wake. Back to running. */
				atomic { parked = 0; nonempty = 0; bits = 0 }
			:: else ->
				bits = 0;
#endif
				/* d. Sleep: io_uring_wait_cqe(). Not an end state:
				 *    blocking here forever is a stranded message. */
				atomic { wakes > 0 -> wakes-- };
				/* exchange(parked, 0): clear it if we woke for
				 * another reason. */
				parked = 0
#ifndef MUTANT_NORECHECK
			fi
#endif
		fi
	od;
	assert(head[0] == K && head[1] == K)
}

init
{
	atomic {
		run Flusher();
		run Producer(0);
		run Producer(1);
		run Consumer()
	}
}
