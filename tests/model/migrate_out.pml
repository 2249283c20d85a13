/* SPDX-License-Identifier: MIT */
/*
 * A moving actor's own messages (core/mig/migrate.c, "The mover's own
 * messages"; fence_start(), fence_post(), fences_retry(), on_fence(),
 * on_ack(), fence_try(), fence_done(), on_direct(), held_deliver(),
 * guest_leave()).
 *
 * Modelled: three shards 0, 1, 2 with one FIFO ring per ordered pair
 * (ring[i*3+j]) and a local queue each (ring[i*3+i]); each shard takes
 * the head of any non-empty input queue, in any order (what the runtime
 * is free to do: doorbells, batches, the local queue after the rings),
 * and handles it in one step. The mover M lives on shard 0 and moves to
 * shard 2; it sends K messages to the receiver R before the move and K
 * after it. R's home is shard 1, which forwards everything for R to
 * where R lives. A sender reaches R:
 *   - on R's location, DIRECT mode: straight into its local queue;
 *   - on R's location, PENDING (MARK sent, DIRECT not back yet): held,
 *     and handed to R when DIRECT comes (held_deliver: at once, in order);
 *   - anywhere else: over the ring to R's home, which forwards it.
 * When M leaves shard 0 it posts INSTALL(M) to 2 and FENCE(M) to all
 * three shards (its own local queue included) - unless one of its sends
 * is still held on shard 0, then its fence waits for that to be released
 * (fences_retry()); a shard that takes a FENCE answers ACK over its ring
 * (or local queue) to 2; shard 2 runs M only after the INSTALL and all
 * three ACKs (FENCE mode).
 *
 * Scenarios (SCENARIO):
 *   1 (default) R lives on shard 2, DIRECT: M's first messages go 0 -> 1
 *     -> 2, its later ones straight into shard 2's local queue.
 *   2 R lives on shard 0, PENDING (its MARK is on the ring to 1): M's
 *     first messages are held on 0; its later ones go 2 -> 1 -> 0, behind
 *     the DIRECT that shard 1 answers to MARK.
 *   3 as 2, and R may go home to shard 1 at any moment while it is
 *     pending on 0: shard 0 sends MOVE(R), then R's held messages as new
 *     ones, and keeps a bounce entry; the home drains as migrate.pml
 *     models it (held while draining, bounced ones as stragglers, FLUSH
 *     and FLUSHED, then stragglers and held delivered at home).
 *
 * Properties: R gets M's messages in order, each once (assertion); every
 * message is delivered and M runs on shard 2 in the end (the final
 * check, when nothing can move); no deadlock.
 *
 * Mutants:
 *   migrate_out_mutant_nofence.pml  M runs on shard 2 as soon as its
 *     INSTALL arrives: in scenario 1 a later message overtakes an earlier
 *     one still on its way through R's home.
 *   migrate_out_mutant_heldlocal.pml  the code before its fix, scenario 2:
 *     no deferral, and DIRECT moves the held messages to the local queue
 *     (behind later arrivals) instead of handing them to R at once: a
 *     message forwarded after DIRECT overtakes an earlier held one. (Each
 *     fix alone is enough in scenario 2; scenario 3 needs the deferral.)
 *   migrate_out_mutant_nodefer.pml  M's fence is posted at once even with
 *     its sends held on shard 0: in scenario 3 R leaves, the held ones go
 *     home as new messages (behind the stragglers), and a later one from
 *     M, bounced as a straggler, comes out first.
 */

#ifndef SCENARIO
#define SCENARIO 1
#endif

#define K    2
#define QLEN 8

mtype = { DATA, BDATA, FENCE, ACK, INSTALL, MARK, DIRECT, MOVE, FLUSH,
	  FLUSHED };

chan ring[9] = [QLEN] of { mtype, byte };

byte expect;	/* R: the next sequence number of M's */
byte sent;	/* M: messages sent so far */
byte acks;	/* shard 2: ACKs for M's fence */
bool installed; /* shard 2: M's INSTALL came */
bool mrun0 = true, mrun2; /* where M runs (0, then 2) */
bool deferred;	/* M's fence waits for its held sends on 0 */
/* R: where it lives, its mode there; SCENARIO 3: gone from 0 (a bounce
 * entry), the home draining, R back home. */
byte rloc = (SCENARIO == 1 -> 2 : 0);
bool rdirect = (SCENARIO == 1);
bool rgone, draining, rhome;
chan held = [QLEN] of { byte };	 /* R's held sends, on rloc */
chan strag = [QLEN] of { byte }; /* the home's stragglers */
chan hheld = [QLEN] of { byte }; /* the home's held, while draining */

inline deliver(q)
{
	assert(q == expect);
	expect++
}

inline fence_post()
{
	ring[0 * 3 + 0]!FENCE, 0;
	ring[0 * 3 + 1]!FENCE, 0;
	ring[0 * 3 + 2]!FENCE, 0
}

/* A held queue was released: post M's fence if it waited (every held
 * send in the model is M's). */
inline fences_retry()
{
	if
	:: deferred && empty(held) -> deferred = false; fence_post()
	:: else -> skip
	fi
}

/* M (on shard @x) sends sequence number sent to R. */
inline msend(x)
{
	if
	:: x == rloc && !rgone && rdirect -> ring[x * 3 + x]!DATA, sent
	:: x == rloc && !rgone && !rdirect -> held!sent
	:: else -> ring[x * 3 + 1]!DATA, sent
	fi;
	sent++
}

/* A DATA for R taken by shard @me. */
inline data(me, q)
{
	if
	:: me == 1 && rhome -> deliver(q)
	:: me == 1 && !rhome && draining -> hheld!q
	:: me == 1 && !rhome && !draining -> ring[1 * 3 + rloc]!DATA, q
	:: me == rloc && rgone -> ring[me * 3 + 1]!BDATA, q /* bounce */
	:: me == rloc && !rgone -> deliver(q)
	:: else -> assert(false)
	fi
}

/* DIRECT on R's location: R goes direct; its held sends now. */
inline direct()
{
	if
	:: !rgone ->
		rdirect = true;
#ifdef MUTANT_HELDLOCAL
		do
		:: held?q -> ring[rloc * 3 + rloc]!DATA, q
		:: empty(held) -> break
		od;
#else
		do
		:: held?q -> deliver(q)
		:: empty(held) -> break
		od;
#endif
		fences_retry()
	:: else -> skip /* it left meanwhile: its held sends went home */
	fi
}

/* M's fence is complete on shard 2: it runs there. */
inline fence_try()
{
#ifdef MUTANT_NOFENCE
	if
	:: installed -> mrun2 = true
	:: else -> skip
	fi
#else
	if
	:: installed && acks == 3 -> mrun2 = true
	:: else -> skip
	fi
#endif
}

/* Scenario 3: FLUSHED at home: R is home; stragglers, then held. */
inline come_home()
{
	rhome = true;
	draining = false;
	do
	:: strag?q -> deliver(q)
	:: empty(strag) -> break
	od;
	do
	:: hheld?q -> deliver(q)
	:: empty(hheld) -> break
	od
}

proctype Shard(byte me)
{
	mtype t;
	byte q, src;

end:	do
	/* M runs here: it sends, or (on 0, its first K sent) it moves. */
	:: atomic { me == 0 && mrun0 && sent < K -> msend(0) }
	:: atomic { me == 0 && mrun0 && sent == K ->
		mrun0 = false;
		ring[0 * 3 + 2]!INSTALL, 0;
#ifdef MUTANT_NODEFER
		fence_post()
#else
		if
		:: nempty(held) -> deferred = true
		:: else -> fence_post()
		fi
#endif
		}
	:: atomic { me == 2 && mrun2 && sent < 2 * K -> msend(2) }
	/* Scenario 3: R, pending on 0, goes home (guest_leave()). */
	:: atomic { SCENARIO == 3 && me == 0 && !rgone && !rdirect ->
		rgone = true;
		ring[0 * 3 + 1]!MOVE, 0;
		do
		:: held?q -> ring[0 * 3 + 1]!DATA, q
		:: empty(held) -> break
		od;
		fences_retry() }
	/* The head of one of this shard's input queues. */
	:: atomic {
		if
		:: ring[0 * 3 + me]?t, q -> src = 0
		:: ring[1 * 3 + me]?t, q -> src = 1
		:: ring[2 * 3 + me]?t, q -> src = 2
		fi;
		if
		:: t == DATA -> data(me, q)
		:: t == BDATA -> assert(me == 1 && draining); strag!q
		:: t == FENCE -> ring[me * 3 + 2]!ACK, 0
		:: t == ACK -> assert(me == 2); acks++; fence_try()
		:: t == INSTALL -> assert(me == 2); installed = true;
			fence_try()
		:: t == MARK -> assert(me == 1);
			if
			:: !draining -> ring[1 * 3 + src]!DIRECT, 0
			:: else -> skip
			fi
		:: t == DIRECT -> assert(me == rloc); direct()
		:: t == MOVE -> assert(me == 1); draining = true;
			ring[1 * 3 + 0]!FLUSH, 0
		:: t == FLUSH -> assert(me == 0); ring[0 * 3 + 1]!FLUSHED, 0
		:: t == FLUSHED -> assert(me == 1); come_home()
		fi }
	od
}

/* When nothing can move any more, everything has arrived. */
proctype Check()
{
	timeout -> assert(expect == 2 * K && mrun2 && empty(held))
}

init {
	atomic {
		if
		:: SCENARIO >= 2 -> ring[0 * 3 + 1]!MARK, 0 /* R just came */
		:: else -> skip
		fi;
		run Shard(0);
		run Shard(1);
		run Shard(2);
		run Check()
	}
}
