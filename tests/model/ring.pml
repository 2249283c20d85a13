/* SPDX-License-Identifier: MIT */
/*
 * The SPSC ring of core/base/pn_ring.h: cached indices on both sides, batched
 * publish of the tail and batched release of the head.
 *
 * Modelled: capacity 2 (mask 1); one producer pushing the sequence numbers
 * 1..N (N = 5: the indices wrap twice); one consumer. Indices are
 * free-running uint32_t in C; here they run modulo 4 (2 * capacity), which
 * is exact for the tests C makes (tail - head is always in 0..capacity, and
 * 4 divides 2^32). The producer keeps ptail, ppub and a cached head and
 * reloads head only when its cached view says full (pn_ring_slot); it
 * publishes the tail after B = 2 unpublished pushes, whenever it likes
 * (pn_ring_publish), before it waits on a full ring, and at the end. The
 * consumer keeps chead, cpub and a cached tail and reloads tail only when its
 * cached view says empty (pn_ring_peek); a message stays in its slot until
 * the consumer releases it (pn_ring_release: after 2 consumed, whenever it
 * likes, before it waits on an empty ring, and at the end).
 *
 * Memory model: the published `tail` and `head` are sequentially consistent
 * here. The C code stores them with release and reloads them with acquire;
 * each is written by one side only, and all this model needs is that the
 * slot writes before a tail store are visible to whoever acquires that tail,
 * and that the consumer's slot reads before a head store are done before the
 * producer that acquires that head overwrites the slots. Release/acquire
 * gives exactly that on x86 and ARM; no store-load ordering (the only thing
 * SC adds) is relied on.
 *
 * Properties:
 *  - FIFO, no loss, no duplicate: the consumer reads 1, 2, ..., N in order.
 *  - No overwrite: the consumer works on a message in its slot until it
 *    releases it; the release clears the slot (ghost) after checking it
 *    still holds that message, and the producer asserts the slot it is
 *    about to fill is clear.
 *  - No deadlock: both sides end (an invalid end state otherwise).
 *
 * Variant: MUTANT_FULLCHECK (ring_mutant_fullcheck.pml): full is tested as
 * tail - head > capacity instead of > mask (off by one).
 */

#define CAP	2
#define MASK	1
#define IDX	3		/* indices modulo 2 * CAP */
#define N	5		/* messages */
#define B	2		/* publish / release batch */

#ifdef MUTANT_FULLCHECK
#define FULL(t, h)	((((t) - (h)) & IDX) > CAP)
#else
#define FULL(t, h)	((((t) - (h)) & IDX) > MASK)
#endif

byte slot[CAP];			/* 0: empty (ghost) */
byte tail;			/* published by the producer */
byte head;			/* published by the consumer */

/* pn_ring_publish(): store(tail, ptail, release). */
inline publish()
{
	ppub = ptail;
	tail = ptail
}

proctype Producer()
{
	byte ptail, ppub, phead, n = 1;

	do
	:: n <= N ->
		if
		:: FULL(ptail, phead) ->
			/* pn_ring_slot(): the cached view says full, so
			 * phead = load(head, acquire). */
			phead = head;
			if
			:: FULL(ptail, phead) ->
				/* Full (NULL): publish what is committed, then
				 * wait for the consumer to release a slot. */
				atomic {
					if
					:: ptail != ppub -> publish()
					:: else -> skip
					fi
				};
				head != phead
			:: else -> skip
			fi
		:: else ->
			/* Fill the slot and commit (pn_ring_push). */
			atomic {
				assert(slot[ptail & MASK] == 0);
				slot[ptail & MASK] = n;
				ptail = (ptail + 1) & IDX;
				n++
			};
			/* Publish every B pushes, or whenever it likes. */
			if
			:: ((ptail - ppub) & IDX) >= B -> publish()
			:: else ->
				if
				:: publish()
				:: skip
				fi
			fi
		fi
	:: else -> break
	od;
	if
	:: ptail != ppub -> publish()
	:: else -> skip
	fi
}

/* pn_ring_release(): the consumer is done with the slots up to chead;
 * store(head, chead, release). Ghost: check each slot still holds the
 * message read from it, then clear it. */
inline release()
{
	atomic {
		do
		:: cpub != chead ->
			assert(slot[cpub & MASK] == relseq);
			slot[cpub & MASK] = 0;
			relseq++;
			cpub = (cpub + 1) & IDX
		:: else -> break
		od;
		head = chead
	}
}

proctype Consumer()
{
	byte chead, cpub, ctail, expect = 1, relseq = 1;

	do
	:: expect > N -> break
	:: else ->
		if
		:: chead == ctail ->
			/* pn_ring_peek(): the cached view says empty, so
			 * ctail = load(tail, acquire). */
			ctail = tail;
			if
			:: chead == ctail ->
				/* Empty: release what was consumed, then wait
				 * for the producer to publish more. */
				release();
				tail != ctail
			:: else -> skip
			fi
		:: else ->
			/* The message in place, then pn_ring_consume(). */
			atomic {
				assert(slot[chead & MASK] == expect);
				expect++;
				chead = (chead + 1) & IDX
			};
			/* Release every B messages, or whenever it likes. */
			if
			:: ((chead - cpub) & IDX) >= B -> release()
			:: else ->
				if
				:: release()
				:: skip
				fi
			fi
		fi
	od;
	release()
}

init
{
	atomic {
		run Producer();
		run Consumer()
	}
}
