/* SPDX-License-Identifier: MIT */
/*
 * Shutdown's drain stage (core/rt/shutdown.c: the file comment, stage_drain(),
 * run_word(), wave_sum(), drain_report(), ack()): termination detection by
 * waves of the stage word and the message hops of core_int.h ("Message
 * accounting", pn__shard_hops()).
 *
 * Modelled: two shards S0, S1 and the controller. A shard's queues toward
 * the other shard (ring and overflow queue) are one FIFO channel per
 * direction, in[i] being shard i's input, and each shard has its local
 * queue loc[i] (sends to itself; side queues count the same way, SIDE_IN
 * as sent and SIDE_OUT as done). One message was injected by an external
 * producer before the drain (it waits in in[0]; the producers' sent count,
 * final since the gate is closed, is PROD = 1). A handler run on a message
 * may send 0, 1 or 2 messages, each to the other shard or to itself, one
 * by one, while it runs (other processes interleave between its steps, so
 * a handler may take arbitrarily long), within a global budget of SENDS =
 * 5 sends so that the state space is finite. A shard counts a message in
 * `sent` when it enqueues it (n_sent_remote in pn__msg_commit(),
 * n_sent_local in send_fast(): the counter and the ring commit/publish
 * happen in the same turn, and the counter is read only at a turn
 * boundary, so one step is exact) and in `done` only after the handler
 * returned (drain_ring() and run_local() add to n_dispatched after the
 * dispatch). The ghost running[i] is set while shard i runs a handler.
 *
 * The shard's loop (pn__shard_loop()): at a turn boundary (no handler
 * running) it may notice a new stage word; it then stores its report
 * (drain_sent, drain_done = pn__shard_hops(), relaxed) and acknowledges
 * (stage_done = word, release). Or it handles a message. The C code loads
 * the word once at the top of a turn and may handle several messages in
 * that turn: a shard here may handle a message whether or not the word
 * changed, which contains those schedules. Parking is not modelled: a
 * parked shard is woken by its messages and by run_word()'s
 * pn__wake_external() (park_wake.pml); a blocked receive is the same.
 *
 * The controller (stage_drain() and run_word()): publish wave w's word,
 * wait until both shards acknowledged it (ctl_cv; the stage limit and
 * "gone" shards are not modelled: every shard answers), sum the reports
 * (wave_sum(): S(w) = PROD + sent reports, D(w) = done reports) and stop
 * when w > 0 and D(w - 1) == S(w). The word is WORD(DRAIN, w & 0xffff); the
 * model numbers waves modulo 2 (words 1 and 2; 0 is the stage before):
 * each shard has acknowledged w - 1 before w is published, so a shard's
 * last seen word is always w - 1 or w and two words tell them apart. The
 * ack's release and the controller's acquire make the reports visible with
 * the ack: one step each.
 *
 * Properties (assertions when the controller stops):
 *  1. When the controller publishes the wave that ends the drain, no
 *     message is in any channel and no handler runs (the file comment's
 *     "at the moment between the waves every message ever sent had been
 *     handled"; ghost quiet_pub, computed at each publish).
 *  2. When it stops, the same holds (nothing here comes from outside the
 *     shards' own work, so quiescence is stable). MUTANT_ONEWAVE is held
 *     to this one only: property 1 would catch it at once, on the trivial
 *     run where the injected message is in flight when wave 0 is
 *     published and handled without a send before either report, which
 *     ends the drain correctly but for the wrong reason.
 * Deadlock freedom: the shards' loops are valid end states (a shard with
 * nothing to do waits there), the controller ends.
 *
 * Variants (one #define on top, see README.md):
 *   MUTANT_ONEWAVE   the controller stops when S(w) == D(w) within one
 *                    wave.
 *   MUTANT_TRUSTBUSY the implementation before the waves: each shard has a
 *                    beacon busy flag and a handled counter published
 *                    once per turn; the controller decides "drained" when
 *                    every busy flag is 0 and the sum of handled is the
 *                    same in consecutive polls (the old drain_wait(),
 *                    69ae819^). Each shard starts as just out of a park
 *                    (idle false, busy 0).
 */

#define PROD	1		/* messages the producers sent (in in[0]) */
#define SENDS	5		/* handler sends, all shards together */
#define QLEN	(SENDS + PROD)

/* Messages are all alike (1): their number is what counts. */
chan in[2] = [QLEN] of { byte };	/* in[i]: from the other shard */
chan loc[2] = [QLEN] of { byte };	/* loc[i]: shard i's local queue */

byte budget = SENDS;		/* handler sends left (model bound) */
bit  running[2];		/* ghost: shard i is inside a handler */

#define QUIET	(empty(in[0]) && empty(in[1]) && empty(loc[0]) && \
		 empty(loc[1]) && !running[0] && !running[1])

#ifdef MUTANT_TRUSTBUSY
bit  busy[2];			/* beacon.busy */
byte handled[2];		/* stats HANDLED, published once per turn */
#else
byte word;			/* rt->stage: 1, 2 for waves (mod 2) */
byte stage_done[2];		/* beacon.stage_done */
byte rsent[2], rdone[2];	/* beacon.drain_sent, beacon.drain_done */
bit  quiet_pub;			/* ghost: QUIET when word was published */
#endif

/* pn__dispatch(): take a message from the inbound ring (drain_ring()) or
 * the local queue (run_local()), run its handler (0, 1 or 2 sends, one
 * step each, to the other shard or to itself), count it done after the
 * handler returned. */
inline handle(me)
{
	atomic {
		if
		:: in[me]?m
		:: loc[me]?m
		fi;
		running[me] = 1
	};
	do
	:: atomic {
		n < 2 && budget > 0 ->
		if
		:: in[1 - me]!1		/* ring commit (or overflow) */
		:: loc[me]!1		/* local queue */
		fi;
		sent++;			/* n_sent_remote++ or n_sent_local++ */
		budget--;
		n++
	   }
	:: break
	od;
	atomic { done++; running[me] = 0; n = 0; m = 0 }
}

proctype Shard(byte me)
{
	byte sent, done, m, n;
#ifdef MUTANT_TRUSTBUSY
	bit idle, work;

	/* The old loop: stats_publish() at the top of each turn, then the
	 * turn's work; at its end the busy flag: 1 on a turn with work that
	 * follows an idle turn that did not park, 0 on the first idle turn.
	 * After a park idle is false, so the next working turn leaves busy
	 * at 0. */
end:	do
	:: handled[me] = done;
		do
		:: handle(me); work = 1
		:: break
		od;
		if
		:: work ->
			if
			:: idle -> busy[me] = 1
			:: else -> skip
			fi;
			idle = 0;
			work = 0
		:: !work && !idle ->
			busy[me] = 0;
			idle = 1
		:: !work && idle ->
			if
			:: skip		/* spin: still idle */
			:: nempty(in[me]);	/* park until a message comes */
				idle = 0
			fi
		fi
	od
#else
end:	do
	:: atomic {
		/* Top of a turn: a new word. drain_report(), then ack(). */
		word != stage_done[me] ->
		rsent[me] = sent;
		rdone[me] = done;
		stage_done[me] = word
	   }
	:: handle(me)
	od
#endif
}

#ifdef MUTANT_TRUSTBUSY
/* The old drain_wait(): poll the busy flags and the handled counters
 * (relaxed loads, shard by shard) until nothing was busy and the sum was
 * the same on two polls after the first. */
proctype Controller()
{
	byte h, last = 255, quiet;
	bit b;

	do
	:: atomic { h = handled[0]; b = busy[0] };
		atomic { h = h + handled[1]; b = b | busy[1] };
		if
		:: !b && h == last -> quiet++
		:: else -> quiet = 0
		fi;
		if
		:: quiet >= 2 -> break
		:: else -> last = h; h = 0; b = 0
		fi
	od;
	/* Decided "drained". */
	assert(QUIET)
}
#else
proctype Controller()
{
	byte s, d, prev_d;
	bit first = 1;

	do
	:: /* run_word(): publish the word (release; pn__wake_external()),
	    * then wait for every ack. Ghost: quiescent at this moment? */
		atomic { word = (word == 1 -> 2 : 1); quiet_pub = QUIET };
		stage_done[0] == word && stage_done[1] == word;
		/* wave_sum() */
		atomic { s = PROD + rsent[0] + rsent[1]; d = rdone[0] + rdone[1] };
#ifdef MUTANT_ONEWAVE
		if
		:: d == s -> break
		:: else -> skip
		fi;
#else
		if
		:: !first && prev_d == s -> break
		:: else -> skip
		fi;
#endif
		prev_d = d;
		first = 0
	od;
	/* The drain ended: nothing in flight now, nor when this wave was
	 * published. */
	assert(QUIET);
#ifndef MUTANT_ONEWAVE
	assert(quiet_pub)
#endif
}
#endif

init
{
	atomic {
		in[0]!1;		/* the producer's message */
		run Shard(0);
		run Shard(1);
		run Controller()
	}
}
