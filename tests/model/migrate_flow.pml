/* SPDX-License-Identifier: MIT */
/*
 * Forwarding within a budget (core/sched/send.c, "Congestion":
 * pn__flow_update(), flow_tell_clear(), pn__flow_msg(); eagain() on a congested
 * destination).
 *
 * Modelled: a sender shard S, the home H of a moved actor P, and P's
 * location T. S sends K messages to P: each goes over the ring S -> H
 * (RING slots), or into S's own overflow queue towards H when the ring is
 * full; S's sends are budgeted: refused (-EAGAIN, and S waits for
 * WRITABLE) while its own overflow holds BUDGET messages or while H's
 * published congested flag is set. H drains the ring and forwards each
 * message to T, exempt from the budget (it was accepted already): over
 * the ring H -> T, or into H's overflow towards T. After each step H
 * updates its flag: set when its overflow is over BUDGET, cleared (and
 * S told, which wakes it) when back at BUDGET / 2 or below. T handles
 * P's messages at any pace (a slow actor): it may stop for as long as it
 * likes, but not forever.
 *
 * Properties: H's overflow never holds more than BUDGET + 1 (what it had
 * when it turned congested) + RING + BUDGET (what was already on its way:
 * S's ring and S's overflow) messages (assertion at every push); every
 * message arrives, in order; no deadlock (S never waits forever).
 *
 * S's shard keeps moving its overflow into the ring while S waits, and
 * S is woken (WRITABLE) only by news: its overflow drained under the
 * budget, or H's clear message; then it looks again.
 *
 * Mutants:
 *   migrate_flow_mutant_noflag.pml  S does not look at H's flag (the code
 *     before: forwards were exempt and nothing pushed back): H's overflow
 *     grows past the bound (all K messages).
 *   migrate_flow_mutant_silent.pml  H clears its flag without telling S:
 *     S, refused while H was congested, waits for a WRITABLE that never
 *     comes (invalid end state).
 */

#define K      8
#define RING   1
#define BUDGET 2
#define BOUND  (BUDGET + 1 + RING + BUDGET)

chan s2h = [RING] of { byte };
chan sovf = [K] of { byte }; /* S's overflow towards H */
chan h2t = [RING] of { byte };
chan hovf = [K] of { byte }; /* H's overflow towards T */

bool congested;	 /* H's published flag */
bool clear_news; /* H's message that it is clear again (FLOW) */
bool room_news;	 /* S's shard: its overflow drained under budget */
byte got;

/* H after a step: flag over the budget, clear (and say so) under half. */
inline flow_update()
{
	if
	:: !congested && len(hovf) > BUDGET -> congested = true
	:: congested && len(hovf) <= BUDGET / 2 ->
		congested = false;
#ifndef MUTANT_SILENT
		clear_news = true
#endif
	:: else -> skip
	fi
}

/* S's sends, budgeted; -EAGAIN makes it wait for news. */
proctype S()
{
	byte seq = 0;

	do
	:: seq == K -> break
	:: atomic {
		seq < K &&
#ifdef MUTANT_NOFLAG
		len(sovf) < BUDGET ->
#else
		len(sovf) < BUDGET && !congested ->
#endif
		if
		:: empty(sovf) && nfull(s2h) -> s2h!seq
		:: else -> sovf!seq
		fi;
		seq++ }
	:: atomic {
		seq < K &&
#ifdef MUTANT_NOFLAG
		len(sovf) >= BUDGET ->
#else
		(len(sovf) >= BUDGET || congested) ->
#endif
		clear_news = false; room_news = false };
		/* Blocked (not an end state) until news, then look again. */
		(clear_news || room_news)
	od
}

/* S's shard: its overflow moves into the ring whenever there is room. */
proctype SDrain()
{
	byte v;

end:	do
	:: atomic {
		nempty(sovf) && nfull(s2h) -> sovf?v; s2h!v;
		if
		:: len(sovf) < BUDGET -> room_news = true
		:: else -> skip
		fi }
	od
}

proctype H()
{
	byte v;

end:	do
	:: atomic {
		s2h?v ->
		if
		:: empty(hovf) && nfull(h2t) -> h2t!v
		:: else -> hovf!v; assert(len(hovf) <= BOUND)
		fi;
		flow_update() }
	:: atomic {
		nempty(hovf) && nfull(h2t) -> hovf?v; h2t!v;
		flow_update() }
	od
}

/* P on T: handles its messages at any pace. */
proctype T()
{
	byte v;

end:	do
	:: h2t?v -> assert(v == got); got++
	od
}

proctype Check()
{
	timeout -> assert(got == K)
}

init {
	atomic {
		run S();
		run SDrain();
		run H();
		run T();
		run Check()
	}
}
