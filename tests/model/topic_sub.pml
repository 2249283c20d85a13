/* SPDX-License-Identifier: MIT */
/*
 * Topics, the life of a channel object: activation of a subscription racing
 * the publishes (the Dekker pair on seq and members), unsubscribe and its
 * RETIRE/RETIRED handshake, and close racing subscribes and unsubscribes
 * (CLOSE in-band, CLOSE_SWEEP). The guarantees are pn_topic.h's: a
 * subscription is active when pn_topic_subscribe() returns its start S,
 * it gets every message numbered above S and none at or below, in order,
 * and after close every subscriber is told CLOSED once. The window and the
 * credits are left out here (the window is never full): topic_credit.pml
 * checks them.
 *
 * Modelled: the home shard H (the sequencer), one destination shard D with
 * two subscriber actors A0, A1 of the same delivery class (so one channel
 * object serves both, and a subscribe after the last unsubscribe makes a
 * fresh one while the old one is still retiring), and a publisher P on a
 * third shard. FIFO channels H -> D (ring plus overflow: lossless, never
 * full) and D -> H; P -> H carries P's publish. Channel objects are
 * numbered 1..NOBJ and each is allocated at most once (no address reuse),
 * so that an access after free is seen as one: every access asserts the
 * object is allocated and not freed.
 *  - Subscribe (D, actor a): if D has no object for the class: allocate o,
 *    store(chan, o) (release), members++ (seq_cst RMW); start =
 *    load(seq) (seq_cst); if load(closing) (seq_cst): -ENOENT, o stays
 *    installed for the close to free; else add the entry {a, start}.
 *    After the sweep D knows the topic is gone and fails at once.
 *  - Publish (H): store(seq, q) (seq_cst); g = load(members); if g is not
 *    the cached generation, rebuild the list from chan; a slot {o, q} for
 *    every object in the list. H publishes KS messages on its own at any
 *    moment, and P's once P has seen a subscribe return: P waits for
 *    that, then sends its publish to H (the causal case).
 *  - Delivery (D, slot {o, q}): each entry e of o with q > e.start runs.
 *  - Unsubscribe (D): remove the entry; if o has none left: store(chan,
 *    NULL), members++, RETIRE(o) to H. H drops o from its list and answers
 *    RETIRED(o) in-band; D frees o on RETIRED.
 *  - Close (H): store(closing, 1) (seq_cst); load(members) and rebuild the
 *    list; CLOSE(o) in-band for each object in it (then H forgets the
 *    list and never touches those objects again); CLOSE_SWEEP. D on
 *    CLOSE(o): tell o's entries CLOSED, uninstall, free o. D on the sweep:
 *    the same for the object still installed (one H never saw), then
 *    CLOSE_ACK; H frees the topic's table slot when it has the ack.
 *    Whether H closes at all, and whether each actor unsubscribes, is
 *    chosen at the start.
 *
 * One rule the protocol needs beyond the plain steps above: D on CLOSE(o)
 * for an object it has already uninstalled (RETIRE(o) sent, H's close
 * list taken before H saw it) does nothing; H still answers the RETIRE
 * and RETIRED(o) frees it. Without this rule D frees o on CLOSE, H then
 * touches o when it handles the RETIRE and sends RETIRED(o), and D frees
 * o a second time (topic_sub_mutant_closeretiring.pml).
 *
 * Memory model: sequentially consistent, exact here for x86-TSO. The
 * orders that matter are two store-load (Dekker) pairs: D's install
 * (chan, members) against its load of seq and of closing, and H's store
 * of seq (and of closing) against its load of members. H's stores are
 * seq_cst (xchg on x86: the store buffer drains), and D's store of chan
 * is followed by the members RMW, a locked instruction that drains it,
 * with no load between: no load of either side can pass a store that
 * matters. The remaining stores are ring pushes, whose late visibility
 * is only a slower reader, which the interleavings already contain.
 * Each ring message is handled in one step: a handler touches its own
 * side's state only, except D's uninstall on CLOSE and on the sweep,
 * which come after H's last look at chan and members.
 *
 * Every subscribe loads closing, also one that joins an installed object,
 * so an entry is only ever added to an object H's close list has (spin
 * reports the sweep's "tell the entries CLOSED" as unreached): the sweep
 * frees objects without entries, left by a subscribe that saw closing.
 *
 * Properties:
 *  1. No loss, no early delivery: an entry's deliveries are start + 1,
 *     start + 2, ... (assert at each); at the end an entry still
 *     subscribed has every message up to seq, P's causal one included,
 *     and an entry told CLOSED has every message published before the
 *     close.
 *  4. No use after free, no double free: every access to an object by D
 *     or H asserts it is allocated and not freed; at the free no message
 *     for it is left in H -> D and H does not have it in its list.
 *  5. Close: no entry is left subscribed after the close, each is told
 *     CLOSED once (an entry leaves its object when told), and every
 *     object allocated is freed; without a close every object is freed
 *     or installed with entries.
 *  (2 and 3, credits and bounds, are topic_credit.pml's.)
 *
 * Mutants (one #define on top, see README.md):
 *   MUTANT_GOSSIP         D reads start before it installs the object.
 *   MUTANT_EARLY          the delivery test is q >= start.
 *   MUTANT_FREEONRETIRE   D frees the object when it sends RETIRE.
 *   MUTANT_NOSWEEP        D ignores CLOSE_SWEEP (only acks it).
 *   MUTANT_CLOSERETIRING  D frees on CLOSE an object it already retired.
 *   MUTANT_PLAINSEQ       H's store of seq is a plain (release) store:
 *                         modelled with H's x86-TSO store buffer.
 */

#define NA	2	/* subscriber actors on D, one class */
#define NOBJ	2	/* channel objects: at most one per subscribe */
#define KS	2	/* publishes H makes on its own */
#define QLEN	8

mtype = { SLOT, RETIRED, CLOSE, SWEEP, RETIRE, CLOSE_ACK };

chan hd = [QLEN] of { mtype, byte, byte };	/* H -> D: what, object, seq */
chan dh = [QLEN] of { mtype, byte };		/* D -> H: what, object */
chan ph = [1] of { bit };			/* P -> H: P's publish */

/* The topic's shared words. */
byte seq;		/* last sequence number assigned (H) */
byte members;		/* generation, bumped by D */
byte chanp;		/* chan[D][class]: an object, 0 for NULL (D) */
bit  closing;		/* set by H's close */

/* Ghosts. */
bit  allocd[NOBJ + 1];
bit  freed[NOBJ + 1];
byte inflight[NOBJ + 1];	/* slots and CLOSEs for o in H -> D */
byte hl;			/* H's list (one D, one class: 0 or 1 object) */
bit  subscribed;		/* a subscribe has returned 0 (P waits for it) */
bit  doclose;			/* H closes at some moment */
bit  hclosed;			/* H has closed */
bit  hacked;			/* H has D's CLOSE_ACK */
bit  plan_unsub[NA];		/* actor a unsubscribes once subscribed */

/* Actor (entry) states. */
#define IDLE	0
#define SUB	1	/* an entry of object eobj[a] */
#define UNSUB	2	/* unsubscribed */
#define CLOSED	3	/* told CLOSED (and removed) */
#define FAILED	4	/* subscribe returned -ENOENT */
byte est[NA];
byte eobj[NA];
byte estart[NA];
byte elast[NA];		/* last delivered (start to begin with) */

#ifdef MUTANT_EARLY
#define DELIVER(q, s)	((q) >= (s))
#else
#define DELIVER(q, s)	((q) > (s))
#endif

#ifdef MUTANT_PLAINSEQ
/* H's store buffer: only its seq stores go there in this mutant. */
chan hsb = [KS + 1] of { byte };

proctype Flusher()
{
	byte v;

end:	do
	:: atomic { hsb?v -> seq = v; v = 0 }
	od
}
#endif

inline alive(o)
{
	assert(o >= 1 && o <= NOBJ && allocd[o] && !freed[o])
}

/* D frees o: nothing for it may be left in the ring, nor in H's list. */
inline free_obj(o)
{
	alive(o);
	assert(inflight[o] == 0 && hl != o);
	freed[o] = 1
}

/* D tells every entry of o CLOSED (and removes it): each has had every
 * message published, which is all there will be (H closed). */
inline tell_closed(o)
{
	a = 0;
	do
	:: a < NA ->
		if
		:: est[a] == SUB && eobj[a] == o ->
			assert(elast[a] == seq);
			est[a] = CLOSED
		:: else -> skip
		fi;
		a++
	:: else -> a = 0; break
	od
}

/* Entries of o still subscribed, into n. */
inline count_entries(o)
{
	n = 0;
	a = 0;
	do
	:: a < NA ->
		if
		:: est[a] == SUB && eobj[a] == o -> n++
		:: else -> skip
		fi;
		a++
	:: else -> a = 0; break
	od
}

proctype D()
{
	byte cur;		/* the object installed for the class, 0: none */
	byte retiring;		/* objects uninstalled, waiting for RETIRED (bits) */
	byte nxt = 1;		/* the next fresh object */
	bit  dead;		/* D has had the sweep: the topic is gone here */
	byte o, q, a, n, me, start;

end:	do
	:: est[0] == IDLE -> me = 0; goto subscribe
	:: est[1] == IDLE -> me = 1; goto subscribe
	:: est[0] == SUB && plan_unsub[0] -> me = 0; goto unsubscribe
	:: est[1] == SUB && plan_unsub[1] -> me = 1; goto unsubscribe
	:: atomic { hd?SLOT, o, q ->
		alive(o);
		inflight[o]--;
		a = 0;
		do
		:: a < NA ->
			if
			:: est[a] == SUB && eobj[a] == o &&
			   DELIVER(q, estart[a]) ->
				/* The next one: no loss, none early. */
				assert(q > estart[a] && q == elast[a] + 1);
				elast[a] = q
			:: else -> skip
			fi;
			a++
		:: else -> a = 0; break
		od;
		o = 0; q = 0 }
	:: atomic { hd?RETIRED, o, _ ->
#ifdef MUTANT_FREEONRETIRE
		/* Freed already, when RETIRE went out. */
		skip;
#else
		assert(retiring & (1 << o));
		retiring = retiring & ~(1 << o);
		free_obj(o);
#endif
		o = 0 }
	:: atomic { hd?CLOSE, o, _ ->
		inflight[o]--;
		if
#ifndef MUTANT_CLOSERETIRING
		:: retiring & (1 << o) ->
			/* Uninstalled already: H answers the RETIRE
			 * and RETIRED(o) frees it. */
			skip
#endif
		:: else ->
			alive(o);
			tell_closed(o);
			if
			:: o == cur -> chanp = 0; members++; cur = 0
			:: else -> skip
			fi;
			retiring = retiring & ~(1 << o);
			free_obj(o)
		fi;
		o = 0 }
	:: atomic { hd?SWEEP, _, _ ->
#ifndef MUTANT_NOSWEEP
		/* An object H never saw: installed after H's close
		 * took its list. */
		if
		:: cur != 0 ->
			alive(cur);
			tell_closed(cur);
			chanp = 0;
			members++;
			free_obj(cur);
			cur = 0
		:: else -> skip
		fi;
#endif
		dead = 1;
		dh!CLOSE_ACK, 0 }
	od;

subscribe:
	if
	:: dead -> est[me] = FAILED; goto end
	:: else -> skip
	fi;
#ifdef MUTANT_GOSSIP
	/* The start is read before the object is installed. */
	start = seq;
#endif
	if
	:: cur == 0 ->
		/* Allocate o, store(chan, o, release). */
		atomic { o = nxt; nxt++; allocd[o] = 1; chanp = o; cur = o; o = 0 };
		/* members++ (seq_cst RMW). */
		members++
	:: else -> skip
	fi;
#ifndef MUTANT_GOSSIP
	/* start = load(seq) (seq_cst). */
	start = seq;
#endif
	/* load(closing) (seq_cst); add the entry and return. */
	atomic {
		if
		:: closing -> est[me] = FAILED
		:: else ->
			alive(cur);
			eobj[me] = cur;
			estart[me] = start;
			elast[me] = start;
			est[me] = SUB;
			subscribed = 1
		fi;
		start = 0
	};
	goto end;

unsubscribe:
	atomic {
		alive(eobj[me]);
		assert(eobj[me] == cur);
		est[me] = UNSUB;
		count_entries(cur);
		if
		:: n == 0 ->
			/* store(chan, NULL). */
			chanp = 0;
			o = cur;
			cur = 0;
			retiring = retiring | (1 << o)
		:: else -> skip
		fi
	};
	if
	:: n > 0 -> skip
	:: else ->
		/* members++ (seq_cst RMW), RETIRE(o) to H. */
		atomic {
			members++;
			dh!RETIRE, o;
#ifdef MUTANT_FREEONRETIRE
			retiring = retiring & ~(1 << o);
			free_obj(o);
#endif
			o = 0
		}
	fi;
	n = 0;
	goto end
}

/* The publisher on a third shard: waits until a subscribe has returned,
 * then publishes (to H). If none ever succeeds it waits for ever, which is
 * a valid end. */
proctype P()
{
end:	subscribed -> ph!1
}

proctype H()
{
	byte g, hg, npub, hq, o;	/* hq: the last number H assigned */

end:	do
	:: npub < KS && !hclosed -> npub++; goto publish
	:: ph?_ ->
		if
		:: !hclosed -> goto publish
		:: else -> skip /* -ENOENT */
		fi
	:: doclose && !hclosed -> goto close
	:: atomic { dh?RETIRE, o ->
		assert(!hacked);
		/* H touches o (its H-private part) to drop it. */
		alive(o);
		if
		:: hl == o -> hl = 0
		:: else -> skip
		fi;
		hd!RETIRED, o, 0;
		o = 0 }
	:: dh?CLOSE_ACK, _ -> assert(hclosed && !hacked); hacked = 1
	od;

publish:
	/* store(seq, q) (seq_cst). */
	hq++;
#ifdef MUTANT_PLAINSEQ
	hsb!hq;
#else
	seq = hq;
#endif
	/* g = load(members) (seq_cst); rebuild on a new generation. */
	g = members;
	if
	:: g != hg -> atomic { hl = chanp; hg = g }
	:: else -> skip
	fi;
	atomic {
		if
		:: hl != 0 -> alive(hl); hd!SLOT, hl, hq; inflight[hl]++
		:: else -> skip
		fi
	};
	goto end;

close:
	/* store(closing, 1) (seq_cst): publishing fails from here on. */
	atomic {
#ifdef MUTANT_PLAINSEQ
		do
		:: hsb?o -> seq = o
		:: empty(hsb) -> break
		od;
		o = 0;
#endif
		closing = 1;
		hclosed = 1
	};
	/* load(members), rebuild. */
	g = members;
	atomic { hl = chanp; hg = g };
	/* CLOSE(o) in-band; H is done with o. */
	atomic {
		if
		:: hl != 0 -> alive(hl); hd!CLOSE, hl, 0; inflight[hl]++; hl = 0
		:: else -> skip
		fi
	};
	hd!SWEEP, 0, 0;
	goto end
}

/* When nothing can move any more. */
proctype Check()
{
	byte o = 1, a, n;

	timeout ->
	atomic {
		assert(empty(hd) && empty(dh) && empty(ph));
		assert(hclosed == hacked);
		do
		:: o <= NOBJ ->
			/* Nothing leaked: freed, or installed with entries. */
			if
			:: allocd[o] && !freed[o] ->
				assert(!hclosed && o == chanp);
				count_entries(o);
				assert(n > 0)
			:: else -> skip
			fi;
			o++
		:: else -> break
		od;
		do
		:: a < NA ->
			/* Still subscribed: every message since its start. */
			assert(est[a] != IDLE);
			if
			:: est[a] == SUB -> assert(!hclosed && elast[a] == seq)
			:: else -> skip
			fi;
			a++
		:: else -> break
		od
	}
}

init
{
	atomic {
		if
		:: doclose = 1
		:: doclose = 0
		fi;
		if
		:: plan_unsub[0] = 1
		:: plan_unsub[0] = 0
		fi;
		if
		:: plan_unsub[1] = 1
		:: plan_unsub[1] = 0
		fi;
#ifdef MUTANT_PLAINSEQ
		run Flusher();
#endif
		run H();
		run D();
		run P();
		run Check()
	}
}
