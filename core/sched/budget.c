// SPDX-License-Identifier: MIT
/*
 * The byte budget for external producers: a lock-free
 * admit path, a mutex/condvar slow path for producers that wait, and a
 * release path that takes the lock only when somebody waits. Owns the
 * wake-up protocol that tests/model/ checks:
 *
 *   acquire:  CAS used -> used + n while used + n <= limit
 *             else lock; waiters++ (seq_cst);
 *                  loop { closed? -ESHUTDOWN; CAS admit (seq_cst)? done;
 *                         cond_timedwait }
 *                  waiters--; unlock
 *   release:  used -= n (seq_cst); if waiters (seq_cst) > 0:
 *                  lock; broadcast; unlock
 *
 * Why no wake-up is lost. The waiter does W1 (waiters++) then W2 (the load
 * of used inside its CAS recheck); the releaser does R1 (used -= n) then R2
 * (load waiters). All four are seq_cst, so they sit in one total order S
 * that respects each thread's program order, and a seq_cst load sees the
 * latest write before it in S (or a later one; the fast path's non-seq_cst
 * CASes cannot make it see an older value, since a load that read a write
 * older than R1 would be ordered before R1 in S: C11 as tightened by
 * C++20's P0668, the RC11 model). This is the store-buffering
 * (Dekker) shape: either R2 comes before W1 in S, and then R1 < R2 < W1 <
 * W2, so W2 sees the released bytes and the waiter admits itself without
 * sleeping; or W1 comes before R2, and then R2 sees waiters > 0 and the
 * releaser locks mu and broadcasts. The waiter holds mu from before W1
 * until pthread_cond_timedwait() atomically releases it, so that broadcast
 * cannot fall into the gap between W2 and the wait. With acquire/release
 * instead of seq_cst both loads could read stale values (x86 store buffers
 * do exactly that) and the waiter would sleep through the release.
 *
 * Why broadcast and never signal: requests are weighted. A release of 100
 * bytes may admit two waiters of 50; a signal would wake one and strand
 * the other until some unrelated release. Every waiter rechecks instead.
 */
#include "budget.h"

#include "pn_base.h"

#include <errno.h>
#include <time.h>

static void budget_lock(struct pn__budget *b)
{
	int err = pthread_mutex_lock(&b->mu);

	pn_verify(err == 0);
}

static void budget_unlock(struct pn__budget *b)
{
	int err = pthread_mutex_unlock(&b->mu);

	pn_verify(err == 0);
}

/*
 * The fast-path admit: take @n bytes if they fit. Relaxed load and failed
 * CAS: the loop only needs the latest value of used, which the CAS itself
 * guarantees (all writes to used are RMWs, so none is missed); a stale
 * first load just costs one more round. Acquire on success: it pairs with
 * the seq_cst (hence release) fetch_sub in pn__budget_release(), so
 * whatever the releaser did before giving the bytes back (handling and
 * freeing the message they stood for) happens before the admitted
 * producer goes on. The limit itself rests on the CAS alone: used never
 * exceeds limit whatever the orders.
 */
static bool budget_admit_fast(struct pn__budget *b, uint64_t n)
{
	uint64_t used = atomic_load_explicit(&b->used, memory_order_relaxed);

	do {
		if (used + n > b->limit) /* used <= limit, n <= limit */
			return false;
	} while (!atomic_compare_exchange_weak_explicit(
		&b->used, &used, used + n, memory_order_acquire,
		memory_order_relaxed));
	return true;
}

/*
 * The waiter's recheck: as above, but every load of used (the first one
 * and each failed CAS) is seq_cst. These are W2 in the file comment: they
 * pair with the seq_cst fetch_sub (R1) in pn__budget_release() and, with
 * the waiters++ (W1) before them, make the Dekker handshake.
 */
static bool budget_admit_sc(struct pn__budget *b, uint64_t n)
{
	uint64_t used = atomic_load_explicit(&b->used, memory_order_seq_cst);

	do {
		if (used + n > b->limit)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(
		&b->used, &used, used + n, memory_order_seq_cst,
		memory_order_seq_cst));
	return true;
}

int pn__budget_init(struct pn__budget *b, uint64_t limit)
{
	pthread_condattr_t ca;
	int err;

	if (limit == 0)
		return pn__error(-EINVAL, "budget: limit must not be 0");
	err = pthread_mutex_init(&b->mu, NULL);
	if (err)
		return pn__error(-err, "budget: pthread_mutex_init failed");
	err = pthread_condattr_init(&ca);
	if (!err) {
		err = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		if (!err)
			err = pthread_cond_init(&b->cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (err) {
		pthread_mutex_destroy(&b->mu);
		return pn__error(-err, "budget: pthread_cond_init failed");
	}
	/* Plain initialisation: @b is not shared yet (the caller publishes
	 * it to other threads with its own synchronisation). */
	atomic_init(&b->used, 0);
	atomic_init(&b->waiters, 0);
	atomic_init(&b->closed, false);
	b->limit = limit;
	return 0;
}

void pn__budget_fini(struct pn__budget *b)
{
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
}

int pn__budget_try_acquire(struct pn__budget *b, uint64_t n)
{
	if (n > b->limit)
		return pn__error(
			-EMSGSIZE, "budget: %llu bytes exceed the limit %llu",
			(unsigned long long)n, (unsigned long long)b->limit);
	/* Relaxed: closing publishes no data. A call ordered after
	 * pn__budget_close() returns (happens-after it) reads true by
	 * coherence; a call racing it may go either way, as it would with
	 * any lock. Waiters re-read it under mu. */
	if (atomic_load_explicit(&b->closed, memory_order_relaxed))
		return pn__error(-ESHUTDOWN, "budget: closed");
	return budget_admit_fast(b, n) ? 0 : -EAGAIN;
}

/* Absolute CLOCK_MONOTONIC time @ns from now. */
static void budget_deadline(struct timespec *ts, uint64_t ns)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(ns / 1000000000u);
	ts->tv_nsec += (long)(ns % 1000000000u);
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/*
 * The waiter's loop; called with mu held and waiters already counted.
 * @deadline NULL: no time limit. After a timeout it rechecks once more, so
 * a release that raced the timeout is not wasted.
 */
static int budget_wait(struct pn__budget *b, uint64_t n,
		       const struct timespec *deadline)
{
	bool timed_out = false;
	int err;

	for (;;) {
		/* Relaxed is enough under mu: close() stores it with mu
		 * held, and the mutex orders that store before this load
		 * or this whole check before close()'s broadcast. */
		if (atomic_load_explicit(&b->closed, memory_order_relaxed))
			return pn__error(-ESHUTDOWN, "budget: closed");
		if (budget_admit_sc(b, n))
			return 0;
		if (timed_out)
			return -ETIMEDOUT;
		if (deadline)
			err = pthread_cond_timedwait(&b->cv, &b->mu, deadline);
		else
			err = pthread_cond_wait(&b->cv, &b->mu);
		if (err == ETIMEDOUT)
			timed_out = true;
		else
			pn_verify(err == 0);
	}
}

int pn__budget_acquire(struct pn__budget *b, uint64_t n, uint64_t timeout_ns)
{
	struct timespec deadline;
	int err;

	err = pn__budget_try_acquire(b, n);
	if (err != -EAGAIN)
		return err;
	if (timeout_ns == 0)
		return -ETIMEDOUT;
	if (timeout_ns != UINT64_MAX)
		budget_deadline(&deadline, timeout_ns);
	budget_lock(b);
	/* W1: seq_cst, paired with the seq_cst load of waiters (R2) in
	 * pn__budget_release(); see the file comment. It must come before
	 * the recheck in budget_wait(), which is why we hold mu across
	 * both and recheck even though the fast path just failed. */
	atomic_fetch_add_explicit(&b->waiters, 1, memory_order_seq_cst);
	err = budget_wait(b, n, timeout_ns == UINT64_MAX ? NULL : &deadline);
	/* Any order would do: a late-seen decrement costs a releaser one
	 * needless broadcast, and no waiter is left uncounted because each
	 * RMW sees every earlier increment. seq_cst keeps it in the same
	 * total order as W1, as in the model. */
	atomic_fetch_sub_explicit(&b->waiters, 1, memory_order_seq_cst);
	budget_unlock(b);
	return err;
}

void pn__budget_release(struct pn__budget *b, uint64_t n)
{
	uint64_t prev;

	/* R1: seq_cst, paired with the waiter's seq_cst recheck of used
	 * (W2, budget_admit_sc()); also a release for the acquire CAS of
	 * budget_admit_fast(). */
	prev = atomic_fetch_sub_explicit(&b->used, n, memory_order_seq_cst);
	pn_verify(prev >= n);
	/* R2: seq_cst, paired with waiters++ (W1) in pn__budget_acquire().
	 * Reading 0 here means every waiter's recheck comes after R1 in the
	 * total order and will see these bytes. */
	if (atomic_load_explicit(&b->waiters, memory_order_seq_cst) == 0)
		return;
	/* Under mu, so the broadcast cannot slip between a waiter's recheck
	 * and its wait. Broadcast: every waiter that might now fit. */
	budget_lock(b);
	pthread_cond_broadcast(&b->cv);
	budget_unlock(b);
}

void pn__budget_close(struct pn__budget *b)
{
	budget_lock(b);
	/* Relaxed: mu orders it for waiters; see pn__budget_try_acquire()
	 * for the lock-free readers. */
	atomic_store_explicit(&b->closed, true, memory_order_relaxed);
	pthread_cond_broadcast(&b->cv);
	budget_unlock(b);
}

uint64_t pn__budget_used(const struct pn__budget *b)
{
	/* Relaxed: a snapshot for tests and metrics; orders nothing. */
	return atomic_load_explicit(&b->used, memory_order_relaxed);
}

uint32_t pn__budget_waiters(const struct pn__budget *b)
{
	/* Relaxed: a snapshot; tests only poll it until it reaches a count
	 * and rely on the protocol, not on this load, for correctness. */
	return atomic_load_explicit(&b->waiters, memory_order_relaxed);
}
