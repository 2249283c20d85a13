/* SPDX-License-Identifier: MIT */
/*
 * Topics, the window and its credits: how the home shard H keeps at most W
 * of a channel's slots unhandled in the ring to a destination shard, and
 * how the destination tells H that room appeared without H polling and
 * without a credit ever getting lost (the want/done Dekker pair). One
 * policy per variant: BACKPRESSURE (this file: a publish is refused and
 * the publisher waits for WRITABLE), DROP_OLDEST (topic_credit_drop.pml:
 * messages wait at H, the oldest is dropped), DISCONNECT
 * (topic_credit_cut.pml: a CUT slot unsubscribes the channel), and
 * BACKPRESSURE with two destination shards (topic_credit_two.pml: a
 * publish waits for both). Unsubscribe (RETIRE/RETIRED) and close race
 * all of it; topic_sub.pml checks activation and close on their own.
 *
 * Modelled: H and ND destination shards D0 (and D1), each with one channel
 * object o_c (c: the shard) with one subscriber entry (subscribed from the
 * start, start 0; o_c installed and in H's list), a window of W = 2 slots.
 * H publishes K messages, one at a time, at any moment (a refused one is
 * tried again after WRITABLE). FIFO channels H -> D_c (ring plus overflow:
 * lossless, never full) and D_c -> H. Whether each entry unsubscribes and
 * whether H closes is chosen at the start; either happens at any moment.
 *  - Publish (H): 1. BACKPRESSURE pre-check, channel by channel: if sent -
 *    dc >= W (dc: H's cached done): dc = load(done); if still full:
 *    store(want, 1), dc = load(done) (seq_cst); if still full: refuse
 *    (-EAGAIN, nothing numbered; the publisher asks for WRITABLE).
 *    2. store(seq, q); load(members); rebuild on a new generation (here:
 *    an object D uninstalled is dropped). 3. For each OPEN channel: if
 *    the window has room (dc reloaded if needed), slot {q} to the ring,
 *    sent++; else by policy: DROP_OLDEST appends q to the channel's
 *    pending FIFO at H, dropping its oldest if it holds W; DISCONNECT
 *    pushes a CUT slot and the channel is CUT (later messages not sent).
 *    Every no-room case then stores want = 1 and reloads done, and
 *    flushes pending into what room appeared.
 *  - Delivery (D_c): the entry runs the slot; store(done, done + 1)
 *    (release). At the end of each of D_c's turns (any number of slots):
 *    fence (seq_cst); if load(want): exchange(want, 0), and if it was 1,
 *    CREDIT(o_c) to H. H on CREDIT(o_c): reload done, flush pending
 *    (oldest first); if short of room, store want = 1 and recheck; with a
 *    publisher waiting, the pre-check's scan (which arms and rechecks
 *    every full channel it meets): WRITABLE if no channel is full.
 *  - CUT (D_c): the entry is told CLOSED(-ENOBUFS); D_c uninstalls o_c
 *    (chan = NULL, members++) and sends CUT_ACK(o_c); H drops o_c and
 *    answers RETIRED(o_c) in-band, on which D_c frees o_c.
 *  - Unsubscribe (D_c): chan = NULL, members++, RETIRE(o_c); H drops o_c
 *    and answers RETIRED(o_c); D_c frees o_c on RETIRED.
 *  - Close (H): store(closing, 1); rebuild; CLOSE(o_c) in-band for each
 *    channel in the list (its pending messages are dropped; the CLOSE
 *    says how many), CLOSE_SWEEP to every shard. D_c on CLOSE(o_c): the
 *    entry is told CLOSED(0); uninstall and free o_c. D_c acks the sweep
 *    (o_c is its only object, and H always knew it).
 *
 * Rules the protocol needs beyond the plain steps above (each has a mutant
 * that shows what goes wrong without it):
 *  a. A publish with pending messages at H flushes them into the window
 *     before q (or queues q behind them): q must not take room ahead of
 *     older messages (topic_credit_mutant_overtake.pml: q overtakes them).
 *  b. H acts on CREDIT(o) only while o is in its list. D may send a credit
 *     after its RETIRE(o) or CUT_ACK(o) (its turn handled o's last slots
 *     after it uninstalled o) or while H closes; by the time H reads it, D
 *     may have freed o on RETIRED or CLOSE (topic_credit_mutant_anycredit:
 *     use after free). And D's end-of-turn check skips an object it freed
 *     during the turn.
 *  c. H re-runs the check for a waiting publisher when it drops a
 *     backpressure channel (RETIRE, CUT_ACK): the credit that would have
 *     woken it is ignored by (b) (topic_credit_mutant_noretirewake.pml),
 *     and H wakes it when it closes: the publish then fails with -ENOENT
 *     instead of waiting for ever (topic_credit_mutant_closenowake.pml).
 *  d. D on CUT(o) or CLOSE(o) for an object it has already uninstalled
 *     (RETIRE(o) sent) does nothing: RETIRED(o) follows. Otherwise its
 *     CUT_ACK(o) makes H answer RETIRED(o) twice
 *     (topic_credit_mutant_cutretiring.pml: double free).
 *  e. D sends no credit for the topic once it has had the sweep: a turn
 *     that handled slots of an uninstalled object and then the sweep would
 *     otherwise send CREDIT after CLOSE_ACK, when H may have freed the
 *     topic's table slot (topic_credit_mutant_sweepcredit.pml).
 *
 * Memory model: x86-TSO for the destinations. Their stores of done go
 * through a FIFO store buffer per shard (the Flusher drains them at any
 * time; the fence and the exchange, a locked RMW, drain the shard's own),
 * so that a later load of want can pass them: the store-load pair the
 * fence is there for. Their other stores (chan, then members: a locked
 * RMW with no load between) and their ring pushes behave as under
 * sequential consistency (a late push is a slower reader). H's stores
 * that another thread's decision depends on are seq_cst (want, seq,
 * closing: xchg on x86); its ring pushes are as the destinations'.
 *
 * Properties:
 *  1. In order, no loss except the policy's: each delivery is the next
 *     message after the previous one and the gap the slot reports
 *     (BACKPRESSURE, DISCONNECT: gap always 0); at the end a subscribed
 *     entry has every message; CLOSED(0) comes after every message
 *     published but those dropped at the close; CLOSED(-ENOBUFS) after
 *     every slot sent.
 *  2. No lost credit: H is never left with pending messages or a refused
 *     publisher once the destinations have nothing left to handle: the
 *     process Settled waits for that and has no end label, so being stuck
 *     there is an invalid end state.
 *  3. Memory bound: at every push, sent - (slots D_c handled) <= W (+1 for
 *     the CUT slot), and the pending FIFO holds at most W.
 *  4. No use after free, no double free: every access to o_c asserts it
 *     is not freed; at the free nothing for it is left in H -> D_c and H
 *     has dropped it; nothing reaches H from D_c after its CLOSE_ACK.
 *  5. Close: the entry is told CLOSED once (CLOSED(0) or (-ENOBUFS)), and
 *     at the end o_c is freed unless it is still subscribed with no close.
 *
 * Variants (defines on top, see README.md):
 *   POLICY_DROP           topic_credit_drop.pml (K = 5: 2 in the window,
 *                         2 pending, one more drops the oldest).
 *   POLICY_CUT            topic_credit_cut.pml.
 *   TWO                   topic_credit_two.pml: two destination shards
 *                         (K = 3; only D0's entry may unsubscribe; no
 *                         close, which the one-shard variants cover).
 *   MUTANT_NOFENCE        D loads want without the fence.
 *   MUTANT_NORELOAD       H does not reload done after storing want.
 *   MUTANT_WINDOW         room is sent - done <= W.
 *   MUTANT_OVERTAKE       a publish takes room ahead of pending (a).
 *   MUTANT_ANYCREDIT      H acts on every CREDIT (b).
 *   MUTANT_NORETIREWAKE   no recheck for the publisher when H drops o (c).
 *   MUTANT_CLOSENOWAKE    no WRITABLE when H closes (c).
 *   MUTANT_CUTRETIRING    D handles CUT on an uninstalled object (d).
 *   MUTANT_SWEEPCREDIT    D may send a credit after the sweep (e).
 *   MUTANT_OWNCREDIT      (with TWO) H on CREDIT(o_c) asks no credit of
 *                         another full channel before it lets the
 *                         publisher wait on.
 */

#define W	2

#define BP	0	/* PN_TOPIC_BACKPRESSURE */
#define DROP	1	/* PN_TOPIC_DROP_OLDEST */
#define DISC	2	/* PN_TOPIC_DISCONNECT */

#if defined(POLICY_DROP)
#define POLICY	DROP
#define K	5
#elif defined(POLICY_CUT)
#define POLICY	DISC
#define K	4
#else
#define POLICY	BP
#ifdef TWO
#define K	3
#else
#define K	4
#endif
#endif

#ifdef TWO
#define ND	2
#else
#define ND	1
#endif

#ifdef MUTANT_WINDOW
#define ROOM(c)	(sent[c] - dc[c] <= W)
#else
#define ROOM(c)	(sent[c] - dc[c] < W)
#endif

mtype = { SLOT, CUT, RETIRED, CLOSE, SWEEP, RETIRE, CUT_ACK, CREDIT, CLOSE_ACK };

chan hd[ND] = [K + 4] of { mtype, byte, byte };	/* H -> D_c: what, q, gap */
chan dh[ND] = [K + 4] of { mtype };		/* D_c -> H */
chan dsb[ND] = [K + 1] of { byte };		/* D_c's store buffer: done */
chan pend[ND] = [W + 1] of { byte };		/* H's pending FIFO for o_c */

/* Shared words. */
byte done[ND];		/* o_c.done, memory value (D_c) */
bit  want[ND];		/* o_c.want (H sets, D_c clears) */
bit  chanp[ND] = 1;	/* chan[D_c][class] == o_c (D_c) */
byte members = ND;	/* generation (the D's) */
byte seq;		/* last sequence number (H) */
bit  closing;		/* (H) */

/* Ghosts. */
bit  freed[ND];		/* o_c freed (allocated from the start) */
byte inflight[ND];	/* slots, CUT and CLOSE for o_c in H -> D_c */
byte dd[ND];		/* slots D_c has handled (done before the buffer) */
bit  hl[ND] = 1;	/* o_c is in H's list */
byte hlast[ND];		/* last message H sent in a slot to o_c */
byte npub;		/* messages numbered */
bit  blocked;		/* a refused publisher waits for WRITABLE */
bit  hclosed;		/* H has closed */
byte nacks;		/* CLOSE_ACKs H has */
bit  doclose;
bit  plan_unsub[ND];

#define SUB	1
#define UNSUB	2
#define CLOSED	3	/* told CLOSED(0) */
#define CUTOFF	4	/* told CLOSED(-ENOBUFS) */
byte est[ND] = SUB;
byte elast[ND];		/* last message the entry got */

#if ND == 2
#define NOPEND	(empty(pend[0]) && empty(pend[1]))
#else
#define NOPEND	empty(pend[0])
#endif

inline alive(c)
{
	assert(!freed[c])
}

/* H pushes slot q to channel c with the gap since its previous slot. */
inline push(c, q)
{
	alive(c);
	hd[c]!SLOT, q, gap[c];
	gap[c] = 0;
	hlast[c] = q;
	sent[c]++;
	inflight[c]++;
	assert(sent[c] - dd[c] <= W)
}

/* H: store(want, 1) (seq_cst), then reload done (seq_cst). */
inline arm_want(c)
{
	want[c] = 1;
#ifndef MUTANT_NORELOAD
	dc[c] = done[c]
#endif
}

/* H: move pending messages into the window while it has room. */
inline flush(c)
{
	do
	:: atomic { nempty(pend[c]) && ROOM(c) -> pend[c]?v; push(c, v); v = 0 }
	:: else -> break
	od
}

/* H drops o_c from its list (its pending messages go with it). */
inline drop_o(c)
{
	alive(c);
	hl[c] = 0;
	do
	:: pend[c]?v -> gap[c]++
	:: empty(pend[c]) -> break
	od;
	v = 0
}

/* The BACKPRESSURE scan: isfull = 1 if a channel in H's list is full after
 * the reload, the store of want and the reload after it (i and isfull are
 * 0 on entry). H's local steps go with the load or store next to them. */
inline bp_scan()
{
	do
	:: atomic { i < ND && !isfull && hl[i] && !ROOM(i) ->
		alive(i);
		dc[i] = done[i] };
		if
		:: atomic { !ROOM(i) -> want[i] = 1 };
			atomic {
#ifndef MUTANT_NORELOAD
				dc[i] = done[i];
#endif
				if
				:: !ROOM(i) -> isfull = 1
				:: else -> i++
				fi
			}
		:: else -> i++
		fi
	:: atomic { i < ND && !isfull && !(hl[i] && !ROOM(i)) -> i++ }
	:: atomic { i == ND || isfull -> i = 0 }; break
	od
}

/* A publisher waits: WRITABLE once no channel is full (rule c). */
inline recheck_waiter()
{
	if
	:: blocked ->
		bp_scan();
		atomic {
			if
			:: !isfull -> blocked = 0 /* WRITABLE */
			:: else -> isfull = 0
			fi
		}
	:: else -> skip
	fi
}

/* H with fresh dc[c]: use the room; if still short, ask for a credit. */
inline settle(c)
{
#if POLICY == DROP
	flush(c);
	if
	:: atomic { nempty(pend[c]) && !ROOM(c) -> want[c] = 1 };
#ifndef MUTANT_NORELOAD
		dc[c] = done[c];
#endif
		flush(c)
	:: else -> skip
	fi
#elif POLICY == DISC
	skip
#elif defined(MUTANT_OWNCREDIT)
	/* Only the crediting channel is looked at again. */
	if
	:: blocked && !ROOM(c) -> arm_want(c)
	:: else -> skip
	fi;
	if
	:: blocked && ROOM(c) ->
		i = 0;
		do
		:: i < ND && (!hl[i] || ROOM(i)) -> i++
		:: i < ND && hl[i] && !ROOM(i) -> break
		:: i == ND -> blocked = 0; break
		od;
		i = 0
	:: else -> skip
	fi
#else
	recheck_waiter()
#endif
}

/* The hardware: the D's buffered stores become visible, in order. */
proctype Flusher()
{
	byte v;

end:	do
	:: atomic { dsb[0]?v -> done[0] = v; v = 0 }
#if ND == 2
	:: atomic { dsb[1]?v -> done[1] = v; v = 0 }
#endif
	od
}

/* H's input from D_cc, one message at a time (nothing may come after the
 * shard's CLOSE_ACK). RETIRE and CUT_ACK: drop o, answer RETIRED in-band. */
#define FROM(cc) \
	:: atomic { dh[cc]?CREDIT -> assert(!(hclosed && nacks == ND)); c = cc }; \
		goto credit \
	:: atomic { dh[cc]?RETIRE -> assert(!(hclosed && nacks == ND)); c = cc; \
		drop_o(c); hd[c]!RETIRED, 0, 0 }; goto dropped \
	:: atomic { dh[cc]?CUT_ACK -> assert(!(hclosed && nacks == ND)); c = cc; \
		drop_o(c); hd[c]!RETIRED, 0, 0 }; goto dropped \
	:: atomic { dh[cc]?CLOSE_ACK -> assert(hclosed && nacks < ND); nacks++ }

proctype H()
{
	byte sent[ND], dc[ND], gap[ND], g, hg = ND, v, c, i;
	bit  cut[ND];		/* channel c is CUT (DISCONNECT) */
	bit  isfull;

end:	do
	:: npub < K && !blocked && !hclosed -> goto publish
	:: doclose && !hclosed -> goto close
	FROM(0)
#if ND == 2
	FROM(1)
#endif
	od;

credit:
#ifdef MUTANT_ANYCREDIT
	alive(c);
#endif
	if
	:: atomic { hl[c] -> alive(c); dc[c] = done[c] }; settle(c)
	:: else -> skip
	fi;
	c = 0;
	goto end;

dropped:
#ifndef MUTANT_NORETIREWAKE
	recheck_waiter();
#endif
	c = 0;
	goto end;

publish:
#if POLICY == BP
	/* 1. The pre-check. */
	bp_scan();
	if
	:: atomic { isfull -> isfull = 0; blocked = 1 }; goto end /* -EAGAIN */
	:: atomic { !isfull -> npub++; seq = npub }
	fi;
#else
	atomic { npub++; seq = npub };
#endif
	/* 2. store(seq, q) (seq_cst) above; load(members), rebuild. */
	g = members;
	if
	:: g != hg ->
		atomic {
			c = 0;
			do
			:: c < ND ->
				if
				:: hl[c] && !chanp[c] -> drop_o(c)
				:: else -> skip
				fi;
				c++
			:: else -> break
			od;
			c = 0;
			hg = g
		}
	:: else -> skip
	fi;
	/* 3. Each channel's window (c is 0 here). */
	do
	:: atomic { c < ND && hl[c] && !cut[c] ->
		alive(c);
		if
		:: !ROOM(c) -> dc[c] = done[c]
		:: else -> skip
		fi };
#if POLICY == DROP && !defined(MUTANT_OVERTAKE)
		/* Older messages first (rule a). */
		flush(c);
#endif
		if
#if POLICY == DROP
		:: atomic { ROOM(c) && empty(pend[c]) -> push(c, npub); c++ }
#ifdef MUTANT_OVERTAKE
		:: atomic { ROOM(c) && nempty(pend[c]) -> push(c, npub); c++ }
#endif
#else
		:: atomic { ROOM(c) -> push(c, npub); c++ }
#endif
		:: else ->
#if POLICY == BP
			/* The pre-check left room. */
			assert(false)
#elif POLICY == DROP
			atomic {
				if
				:: len(pend[c]) == W -> pend[c]?v; gap[c]++; v = 0
				:: else -> skip
				fi;
				pend[c]!npub;
				assert(len(pend[c]) <= W)
			};
			arm_want(c);
			flush(c);
			c++
#else
			atomic {
				hd[c]!CUT, 0, 0;
				sent[c]++;
				inflight[c]++;
				cut[c] = 1;
				assert(sent[c] - dd[c] <= W + 1)
			};
			arm_want(c);
			c++
#endif
		fi
	:: atomic { c < ND && !(hl[c] && !cut[c]) -> c++ } /* not sent */
	:: atomic { c == ND -> c = 0 }; break
	od;
	goto end;

close:
	atomic { closing = 1; hclosed = 1 };
	g = members;
	atomic {
		c = 0;
		do
		:: c < ND ->
			if
			:: hl[c] && !chanp[c] -> drop_o(c)
			:: else -> skip
			fi;
			c++
		:: else -> break
		od;
		c = 0;
		hg = g
	};
	atomic {
		c = 0;
		do
		:: c < ND ->
			if
			:: hl[c] ->
				alive(c);
				/* Its pending messages are dropped: in gap. */
				do
				:: pend[c]?v -> gap[c]++
				:: empty(pend[c]) -> break
				od;
				v = 0;
				hd[c]!CLOSE, 0, gap[c];
				inflight[c]++;
				hl[c] = 0
			:: else -> skip
			fi;
			c++
		:: else -> break
		od;
		c = 0
	};
	atomic {
		c = 0;
		do
		:: c < ND -> hd[c]!SWEEP, 0, 0; c++
		:: else -> break
		od;
		c = 0;
#ifndef MUTANT_CLOSENOWAKE
		blocked = 0 /* WRITABLE: the retry gets -ENOENT */
#endif
	};
	goto end
}

/* D frees o: nothing for it may be left in the ring, nor in H's list. */
inline free_o()
{
	alive(me);
	assert(inflight[me] == 0 && !hl[me]);
	freed[me] = 1;
	touched = 0
}

proctype D(byte me)
{
	byte q, gap, v;
	bit  installed = 1, retiring, touched, w;

end:	do
	:: est[me] == SUB && plan_unsub[me] ->
		/* Unsubscribe: store(chan, NULL); members++, RETIRE(o). */
		atomic { est[me] = UNSUB; chanp[me] = 0; installed = 0; retiring = 1 };
		atomic { members++; dh[me]!RETIRE }
	:: atomic { hd[me]?SLOT, q, gap ->
		alive(me);
		inflight[me]--;
		if
		:: est[me] == SUB ->
			/* The next one after the gap the slot reports. */
			assert(q == elast[me] + 1 + gap);
#if POLICY != DROP
			assert(gap == 0);
#endif
			elast[me] = q
		:: else -> skip
		fi;
		/* store(done, done + 1) (release): buffered. */
		dd[me]++;
		dsb[me]!dd[me];
		touched = 1;
		q = 0; gap = 0 }
	:: atomic { hd[me]?CUT, _, _ ->
		alive(me);
		inflight[me]--;
		dd[me]++;
		dsb[me]!dd[me];
		touched = 1;
		if
#ifndef MUTANT_CUTRETIRING
		:: retiring -> skip /* RETIRED(o) follows (rule d) */
#endif
		:: else ->
			if
			:: est[me] == SUB ->
				/* CLOSED(-ENOBUFS), after every slot sent. */
				assert(elast[me] == hlast[me]);
				est[me] = CUTOFF
			:: else -> skip
			fi;
			chanp[me] = 0;
			installed = 0;
			retiring = 1;
			members++;
			dh[me]!CUT_ACK
		fi }
	:: atomic { hd[me]?RETIRED, _, _ ->
		assert(retiring);
		retiring = 0;
		free_o() }
	:: atomic { hd[me]?CLOSE, _, gap ->
		inflight[me]--;
		if
		:: retiring -> skip /* RETIRED(o) follows (rule d) */
		:: else ->
			alive(me);
			if
			:: est[me] == SUB ->
				/* CLOSED(0): everything but what the close
				 * dropped. */
				assert(elast[me] + gap == seq);
				est[me] = CLOSED
			:: else -> skip
			fi;
			chanp[me] = 0;
			installed = 0;
			members++;
			free_o()
		fi;
		gap = 0 }
	:: atomic { hd[me]?SWEEP, _, _ ->
		/* H knew o: nothing is installed that it did not see. */
		assert(!installed);
#ifndef MUTANT_SWEEPCREDIT
		/* Nothing is owed to a closed topic (rule e). */
		touched = 0;
#endif
		dh[me]!CLOSE_ACK }
	:: touched ->
		/* End of the turn: fence(seq_cst), then if load(want):
		 * exchange(want, 0), locked (drains the buffer too), and the
		 * credit if it was 1. */
#ifndef MUTANT_NOFENCE
		atomic {
			do
			:: dsb[me]?v -> done[me] = v
			:: empty(dsb[me]) -> break
			od;
			v = 0
		};
#endif
		if
		:: atomic { want[me] ->
			alive(me);
			do
			:: dsb[me]?v -> done[me] = v
			:: empty(dsb[me]) -> break
			od;
			v = 0;
			w = want[me];
			want[me] = 0;
			if
			:: w -> dh[me]!CREDIT; w = 0
			:: else -> skip
			fi;
			touched = 0 }
		:: atomic { !want[me] -> touched = 0 }
		fi
	od
}

/* Property 2: H ends with nothing pending and no publisher waiting. No end
 * label: stuck here is an invalid end state (a lost credit). */
proctype Settled()
{
	(npub == K || hclosed) && !blocked && NOPEND
}

/* When nothing can move any more. */
proctype Check()
{
	byte c;

	timeout ->
	atomic {
		assert(hclosed == (nacks == ND));
		do
		:: c < ND ->
			assert(empty(hd[c]) && empty(dh[c]) && empty(dsb[c]));
			if
			:: est[c] == SUB ->
				assert(!hclosed && !freed[c]);
				/* Every message (a lost credit is Settled's
				 * to report, as an invalid end state). */
				assert(nempty(pend[c]) || blocked || elast[c] == npub)
			:: else -> assert(freed[c])
			fi;
			c++
		:: else -> break
		od
	}
}

init
{
	atomic {
#ifndef TWO
		if
		:: doclose = 1
		:: doclose = 0
		fi;
#endif
		if
		:: plan_unsub[0] = 1
		:: plan_unsub[0] = 0
		fi;
		run Flusher();
		run H();
		run D(0);
#if ND == 2
		run D(1);
#endif
		run Settled();
		run Check()
	}
}
