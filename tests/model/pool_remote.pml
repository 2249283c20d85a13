/* SPDX-License-Identifier: MIT */
/*
 * The remote-free return path of alloc/pool.c: foreign threads hand objects
 * back to the pool's owner in batches, through a lock-free stack.
 *
 * Modelled: NOBJ = 4 objects, two foreign pushers, one owner, ROUNDS = 2
 * (every object goes out and comes back twice, so objects are recycled
 * while a pusher may still hold a stale view of the stack's head: the ABA
 * situation). next[o] is an object's word 0, head is pool->remote.
 *  - The owner hands each object to a pusher of its choosing (the message
 *    that carries a buffer to another shard). When its free list is dry it
 *    peeks at head and, if non-empty, takes the whole stack with one
 *    exchange(head, NIL) (pool_collect), walks the chain, and hands the
 *    objects out again while they have rounds left.
 *  - A pusher (pn_pool_free_remote, pn_pool_batch_flush) collects the
 *    objects it is given into a private batch by push-front (the first one
 *    stays the tail) and flushes whenever it likes, or when told to stop:
 *    old = head; next[tail] = old; CAS(head, old, batch head), retried.
 *
 * Memory model: sequentially consistent. The C code's CAS is release on
 * success and the exchange acquire; all the protocol needs from them is
 * that a pusher's link and object writes are visible to the owner once it
 * has taken the stack, which release/acquire gives (pushers' CASes, being
 * RMWs, continue each other's release sequences). TSan checks the orders
 * in tests/stress/stress_pool_remote; this model checks the algorithm.
 *
 * Properties:
 *  - No duplicate, nothing phantom: every object the owner collects was
 *    pushed (ghost state PUSHED, set by the successful CAS) and is
 *    collected once per push (assertion).
 *  - No loss: the owner ends only when it has collected NOBJ * ROUNDS
 *    objects; a lost object leaves it waiting on an empty stack forever
 *    with the pushers idle, an invalid end state.
 *  - At the end the stack is empty and every object is home (assertion).
 *
 * Variants (each a #define and an #include of this file):
 *  - MUTANT_PLAIN_PUSH: the push publishes with a plain store instead of
 *    a CAS. Two pushers that read the same head overwrite each other.
 *  - MUTANT_LOAD_STORE_TAKE: the owner takes the stack with a load and a
 *    separate store of NIL instead of one exchange; a push in between is
 *    wiped out.
 *  - MUTANT_LINK_AFTER_CAS: the pusher links its tail to the old head
 *    after its CAS has published the batch; the owner can walk off the
 *    end of the batch before the link is there.
 * (Popping one object with a CAS on head, the classic ABA trap, is no
 * mutant here: with a single consumer nobody else can pop, so a head that
 * compares equal has not moved. The exchange is chosen because it takes
 * everything in one RMW and needs no retry loop.)
 */

#define NOBJ	4
#define NPUSH	2
#define ROUNDS	2
#define NIL	255
#define STOP	254

#define HOME	0		/* with the owner (allocated or free) */
#define OUT	1		/* with a pusher: in its inbox or batch */
#define PUSHED	2		/* on the shared stack */

byte head = NIL;		/* pool->remote */
byte next[NOBJ];		/* word 0 of each object */
byte state[NOBJ];		/* ghost */
byte issued[NOBJ];		/* ghost: times handed out */
byte collected;			/* ghost */
chan inbox[NPUSH] = [NOBJ] of { byte };

/* Ghost: every object of the batch bh..bt goes on the stack at once. */
inline mark_pushed()
{
	o = bh;
	do
	:: o == bt -> state[o] = PUSHED; break
	:: else -> state[o] = PUSHED; o = next[o]
	od;
	o = 0
}

/*
 * pn_pool_batch_flush(). Steps that touch only the pusher's own objects
 * (linking its tail) share an atomic step with the shared access next to
 * them: nobody else reads those links before the CAS publishes them, so no
 * behaviour is lost, and the state space stays small enough for CI.
 */
inline flush()
{
#if defined(MUTANT_PLAIN_PUSH)
	atomic { old = head; next[bt] = old };
	atomic { head = bh; mark_pushed() };
#elif defined(MUTANT_LINK_AFTER_CAS)
	do
	:: old = head;
	   atomic {
		if
		:: head == old -> head = bh; ok = 1; mark_pushed()
		:: else -> ok = 0
		fi
	   };
	   if
	   :: ok -> next[bt] = old; break
	   :: else
	   fi
	od;
#else
	do
	:: atomic { old = head; next[bt] = old };	/* relaxed load; link */
	   atomic {				/* CAS, release on success */
		if
		:: head == old -> head = bh; ok = 1; mark_pushed()
		:: else -> ok = 0
		fi
	   };
	   if
	   :: ok -> break
	   :: else
	   fi
	od;
#endif
	atomic { bh = NIL; bt = NIL; old = 0; ok = 0 }
}

proctype pusher(byte me)
{
	byte o, bh = NIL, bt = NIL, old, got;
	bit ok;

	do
	:: atomic {
		inbox[me]?got;
		if
		:: got == STOP -> got = 0; break
		:: else ->			/* pn_pool_free_remote() */
			assert(state[got] == OUT);
			next[got] = bh;
			if
			:: bt == NIL -> bt = got
			:: else
			fi;
			bh = got;
			got = 0
		fi
	   }
	:: bh != NIL -> flush()		/* full, or whenever it likes */
	od;
	if
	:: bh != NIL -> flush()
	:: else
	fi
}

/* Hand object @x out to a pusher of the owner's choosing. */
inline issue(x)
{
	state[x] = OUT;
	issued[x]++;
	next[x] = NIL;			/* the user overwrites word 0 */
	if
	:: inbox[0]!x
	:: inbox[1]!x
	fi
}

/*
 * Walk the chain taken from the stack, then hand out again what has rounds
 * left. Only the owner touches these objects now (their links included),
 * so this is one atomic step with the take.
 */
inline collect_and_reissue()
{
	o = chain;
	do
	:: o == NIL -> break
	:: else ->
		assert(state[o] == PUSHED);
		state[o] = HOME;
		collected++;
		o = next[o]
	od;
	chain = 0;
	o = 0;
	i = 0;
	do
	:: i < NOBJ ->
		if
		:: state[i] == HOME && issued[i] < ROUNDS -> issue(i)
		:: else
		fi;
		i++
	:: else -> i = 0; break
	od
}

active proctype owner()
{
	byte o, chain, i;

	atomic {
		run pusher(0);
		run pusher(1);
		do
		:: i < NOBJ -> issue(i); i++
		:: else -> i = 0; break
		od
	};
	do
	:: collected == NOBJ * ROUNDS -> break
	:: head != NIL ->			/* the relaxed peek */
#ifdef MUTANT_LOAD_STORE_TAKE
		chain = head;
		head = NIL;
		atomic { collect_and_reissue() }
#else
		atomic {			/* exchange, acquire */
			chain = head;
			head = NIL;
			collect_and_reissue()
		}
#endif
	od;
	inbox[0]!STOP;
	inbox[1]!STOP;
	assert(head == NIL);
	do
	:: i < NOBJ -> assert(state[i] == HOME && issued[i] == ROUNDS); i++
	:: else -> break
	od
}
