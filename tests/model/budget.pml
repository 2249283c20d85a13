/* SPDX-License-Identifier: MIT */
/*
 * The weighted (byte) budget that external producers acquire before they
 * inject a message into a shard: a release that could admit waiters wakes
 * them all.
 *
 * Modelled: `used` and `waiters` are atomics (all operations seq_cst, so
 * sequentially consistent here); a mutex and a condition variable.
 *
 *   acquire(n):  fast path: CAS used -> used + n while used + n <= limit.
 *                slow path: lock; waiters++;
 *                           loop { CAS admit; if ok break; cond_wait(cv) }
 *                           waiters--; unlock.
 *   release(n):  fetch_sub(used, n);
 *                if (load(waiters) > 0) { lock; broadcast(cv); unlock; }
 *
 * The CAS loop that admits (fast path and recheck) is one atomic step
 * try_admit(): it retries on interference and gives up only after a fresh
 * seq_cst read of used says n does not fit, which is the same thing. The
 * recheck must read used with a seq_cst operation: with waiters++ and the
 * releaser's fetch_sub / load(waiters) it is a Dekker handshake.
 *
 * Condition variable: cond_wait releases the mutex and joins the wait set in
 * one step, leaves the wait set when a broadcast (all) or a signal (one)
 * takes it out, or spuriously, then reacquires the mutex. A spurious wakeup
 * may happen at most once per waiter, at any time during a wait chosen on
 * entry. A wakeup a waiter could always give itself would hide a lost one:
 * the executions in which none comes must exist for a deadlock to show.
 *
 * Scenario (the weighted-budget wake-up incident): limit 100; A acquires
 * 100 and is admitted; then B (50) and C (50) try while A releases its 100. Property: B and C both get
 * in. A waiter blocked forever is an invalid end state (init also waits for
 * everyone and then checks the totals).
 *
 * Variants (one #define on top, see README.md):
 *   MUTANT_SIGNAL       release signals one waiter instead of broadcasting.
 *   MUTANT_NOLOCK       release broadcasts without taking the mutex.
 *   MUTANT_LATEWAITERS  a waiter counts itself in waiters only after its
 *                       failed recheck.
 */

#define LIMIT	100
#define NW	3		/* waiter ids 1..3 (A, B, C); 4: the releaser */
#define REL	4

byte used;			/* atomic */
byte waiters;			/* atomic */
byte mutex;			/* 0: free, else the owner's id */
bit  inwait[NW + 1];		/* inwait[w]: w is in the cv wait set */
bit  spurious[NW + 1];		/* w has had its spurious wakeup */
byte admitted;

inline lock(me)
{
	atomic { mutex == 0 -> mutex = me }
}

inline unlock(me)
{
	atomic { assert(mutex == me); mutex = 0 }
}

/* CAS loop: used += n if it fits. */
inline try_admit(n)
{
	atomic {
		if
		:: used + n <= LIMIT -> used = used + n; ok = 1
		:: else -> ok = 0
		fi
	}
}

inline cond_wait(me)
{
	/* Release the mutex and join the wait set, atomically. Whether this
	 * wait may end spuriously is chosen here, so that the executions
	 * without a spurious wakeup, where a lost wakeup shows, exist too. */
	atomic {
		assert(mutex == me);
		inwait[me] = 1;
		mutex = 0;
		if
		:: !spurious[me] -> spurious[me] = 1; armed = 1
		:: skip
		fi
	};
	/* Blocked until woken (or, if armed, at any time). Not an end state. */
	atomic {
		if
		:: !inwait[me] -> skip
		:: armed -> inwait[me] = 0
		fi;
		armed = 0
	};
	lock(me)
}

inline broadcast()
{
	atomic { inwait[1] = 0; inwait[2] = 0; inwait[3] = 0 }
}

/* Wakes one waiter, if any. */
inline signal()
{
	atomic {
		if
		:: inwait[1] -> inwait[1] = 0
		:: inwait[2] -> inwait[2] = 0
		:: inwait[3] -> inwait[3] = 0
		:: else -> skip
		fi
	}
}

proctype Acquire(byte me; byte n)
{
	bit ok, armed;
#ifdef MUTANT_LATEWAITERS
	bit counted;
#endif

	try_admit(n);			/* fast path */
	if
	:: ok -> skip
	:: else ->
		lock(me);
#ifdef MUTANT_LATEWAITERS
		do
		:: try_admit(n);
			if
			:: ok -> break
			:: else ->
				/* Mutant: counted only after the failed
				 * recheck: a release in between sees 0. */
				if
				:: !counted -> waiters++; counted = 1
				:: else -> skip
				fi;
				cond_wait(me)
			fi
		od;
		if
		:: counted -> waiters--
		:: else -> skip
		fi;
#else
		waiters++;
		do
		:: try_admit(n);
			if
			:: ok -> break
			:: else -> cond_wait(me)
			fi
		od;
		waiters--;
#endif
		unlock(me)
	fi;
	admitted++
}

proctype Release(byte n)
{
	used = used - n;		/* fetch_sub(used, n) */
	if
	:: waiters > 0 ->		/* load(waiters) */
#if defined(MUTANT_NOLOCK)
		broadcast()
#elif defined(MUTANT_SIGNAL)
		lock(REL);
		signal();
		unlock(REL)
#else
		lock(REL);
		broadcast();
		unlock(REL)
#endif
	:: else -> skip
	fi
}

init
{
	run Acquire(1, 100);		/* A */
	admitted == 1;
	atomic {
		run Acquire(2, 50);	/* B */
		run Acquire(3, 50);	/* C */
		run Release(100)	/* A is done */
	};
	_nr_pr == 1;
	assert(admitted == 3 && used == 100 && waiters == 0)
}
