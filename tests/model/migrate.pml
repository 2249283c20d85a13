/* SPDX-License-Identifier: MIT */
/*
 * Migration's bounce/drain handshake (core/mig/migrate.c): the home shard H
 * sequences every message for actor P and forwards it to where P lives;
 * when P leaves a location, the home drains what it forwarded there before
 * it routes anything new to P's next location.
 *
 * Modelled: three shards H (P's home, 0), T (1) and U (2); P starts at T
 * (H holds a forwarder, loc = T) and makes two moves, T -> U, then U -> H
 * (the way home, where H re-installs it itself), each at any moment while
 * it is installed. Two senders send K = 2 sequence-numbered messages each
 * to P; like every sender in Pinion they send to P's home. Rings between
 * shards are FIFO channels (one per ordered pair). The steps are those of
 * migrate.c:
 *  - H, forwarder NORMAL: a message for P goes on the ring to loc.
 *  - T (P installed): a message is delivered. P may move: T sends MOVE(U)
 *    to H and keeps a bounce entry; a message that reaches T afterwards
 *    goes back to H marked bounced, in order.
 *  - H on MOVE: the forwarder is DRAINING (new messages wait in held, in
 *    order), FLUSH goes to T. On a bounced message: it joins strag, in
 *    order. T on FLUSH: drops the bounce entry, answers FLUSHED.
 *  - H on FLUSHED: INSTALL, then strag, then held, on the ring to U; loc =
 *    U, NORMAL. If U is H: P is home; strag then held are delivered.
 *
 * Properties: per-sender order and no duplicate (each delivery is the next
 * sequence number of its sender); no loss (when nothing can move any more,
 * every message has been delivered, and no message ever reaches a shard
 * where P is neither installed nor bounced); no deadlock; and bounded
 * re-sends: a message crosses at most 2 + 2 x (moves so far) rings (to
 * the home, forwarded once; per move at most bounced back once and sent
 * on once).
 *
 * Variant: MUTANT_NOFLUSH (migrate_mutant_noflush.pml): H on MOVE sends
 * INSTALL and held to U at once, without the FLUSH/FLUSHED handshake, and
 * forwards bounced messages to loc like any other. A message H forwarded
 * to T just before MOVE comes back after newer ones went to U: order
 * breaks; and once P is home, a message bounced by its last location is
 * forwarded back there and bounced again, without end (the re-send
 * bound fails first, whichever spin meets first).
 */

#define K    2 /* messages per sender */
#define QLEN 8

mtype = { DATA, BDATA, INSTALL, MOVE, FLUSH, FLUSHED };

chan toLoc[3] = [QLEN] of { mtype, byte, byte }; /* H -> T, H -> U */
chan toH[3] = [QLEN] of { mtype, byte, byte };	 /* T -> H, U -> H */
chan sH[2] = [QLEN] of { byte };		 /* senders -> H */

byte expect[2];	   /* next sequence number per sender */
byte hops[2 * K];  /* rings each message has crossed */
byte moves;	   /* moves made */
bool home;	   /* P is installed at H */

inline deliver(s, q)
{
	assert(q == expect[s]);
	expect[s]++
}

/* Message (s, q) crosses one more ring: within the bound, always. */
inline hop(s, q)
{
	hops[s * K + q]++;
	assert(hops[s * K + q] <= 2 + 2 * moves)
}

proctype Sender(byte id)
{
	byte q = 0;

	do
	:: q < K -> atomic { sH[id]!q; hop(id, q) }; q++
	:: else -> break
	od
}

/* A location other than the home: T (1) or U (2). */
proctype Loc(byte me)
{
	bool guest = (me == 1), bounce = false;
	byte s, q;

end:	do
	:: toLoc[me]?DATA, s, q ->
		if
		:: guest -> deliver(s, q)
		:: !guest && bounce -> toH[me]!BDATA, s, q; hop(s, q)
		:: else -> assert(false) /* for P, and P is not here */
		fi
	:: toLoc[me]?INSTALL, _, _ -> assert(!guest && !bounce); guest = true
	:: toLoc[me]?FLUSH, _, _ ->
		assert(bounce);
		bounce = false;
		toH[me]!FLUSHED, 0, 0
	:: atomic { guest && ((me == 1 && moves == 0) || (me == 2 && moves == 1)) ->
		guest = false;
		bounce = true;
		moves++ };
		toH[me]!MOVE, (me == 1 -> 2 : 0), 0
	od
}

proctype Home()
{
	byte loc = 1, dest, s, q, src;
	bool draining = false;
	chan strag = [QLEN] of { byte, byte };
	chan held = [QLEN] of { byte, byte };

end:	do
	:: sH[0]?q -> s = 0; goto take
	:: sH[1]?q -> s = 1; goto take
	:: toH[1]?BDATA, s, q -> goto bounced
	:: toH[2]?BDATA, s, q -> goto bounced
	:: toH[1]?MOVE, dest, _ -> src = 1; goto move
	:: toH[2]?MOVE, dest, _ -> src = 2; goto move
	:: toH[1]?FLUSHED, _, _ -> goto flushed
	:: toH[2]?FLUSHED, _, _ -> goto flushed
	od;

take:	/* a new message for P */
	if
	:: home -> deliver(s, q)
	:: !home && draining -> held!s, q
	:: else -> toLoc[loc]!DATA, s, q; hop(s, q)
	fi;
	goto end;

bounced:
#ifdef MUTANT_NOFLUSH
	toLoc[loc]!DATA, s, q;
	hop(s, q);
#else
	assert(draining);
	strag!s, q;
#endif
	goto end;

move:	assert(!draining && src == loc);
#ifdef MUTANT_NOFLUSH
	/* No handshake: straight on to the next location. */
	if
	:: dest == 0 -> home = true
	:: else -> toLoc[dest]!INSTALL, 0, 0; loc = dest
	fi;
#else
	draining = true;
	toLoc[loc]!FLUSH, 0, 0;
#endif
	goto end;

flushed:
	assert(draining);
	if
	:: dest == 0 ->
		home = true;
		do
		:: strag?s, q -> deliver(s, q)
		:: empty(strag) -> break
		od;
		do
		:: held?s, q -> deliver(s, q)
		:: empty(held) -> break
		od
	:: else ->
		toLoc[dest]!INSTALL, 0, 0;
		do
		:: strag?s, q -> toLoc[dest]!DATA, s, q; hop(s, q)
		:: empty(strag) -> break
		od;
		do
		:: held?s, q -> toLoc[dest]!DATA, s, q; hop(s, q)
		:: empty(held) -> break
		od;
		loc = dest
	fi;
	draining = false;
	goto end
}

/* When nothing can move any more, every message has been delivered. */
proctype Check()
{
	timeout -> assert(expect[0] == K && expect[1] == K)
}

init {
	atomic {
		run Home();
		run Loc(1);
		run Loc(2);
		run Sender(0);
		run Sender(1);
		run Check()
	}
}
