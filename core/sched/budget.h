/* SPDX-License-Identifier: MIT */
/*
 * The byte budget for external producers (internal).
 * Threads that are not shards acquire bytes before they inject a message;
 * the shard that handles the message releases them. With weighted
 * (byte-sized) requests one wake-up per release strands waiters, so every
 * release that could admit a waiter wakes every waiter, and each waiter
 * rechecks whether it fits. tests/model/ holds the Promela model of this
 * protocol; keep the two in step.
 *
 * The struct lives in the caller's memory (init/fini). Its fields are
 * private; read them through pn__budget_used() and pn__budget_waiters().
 */
#ifndef PN_CORE_BUDGET_H
#define PN_CORE_BUDGET_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct pn__budget {
	pthread_mutex_t mu; /* serialises waiters with wake-ups and close */
	pthread_cond_t cv;  /* CLOCK_MONOTONIC; broadcast, never signal */
	/* shared: bytes admitted and not yet released. Raised by acquirers
	 * (CAS, never above limit), lowered by releasers (any thread). */
	_Atomic uint64_t used;
	/* shared: acquirers in the slow path. Changed under mu by them;
	 * read without mu by releasers to skip the lock when 0. */
	_Atomic uint32_t waiters;
	uint64_t limit; /* written by init only */
	/* shared: set once, under mu, by pn__budget_close(). */
	_Atomic bool closed;
};

/*
 * Initialise @b with room for @limit bytes. Any thread; @b must not be in
 * use.
 *
 * Returns 0, -EINVAL if @limit is 0, or the -errno of a failed
 * pthread_*_init (-ENOMEM, -EAGAIN).
 */
int pn__budget_init(struct pn__budget *b, uint64_t limit);

/*
 * Release @b's resources. The caller guarantees that no thread is inside or
 * will call any other pn__budget_*() on @b (close it and join them first).
 */
void pn__budget_fini(struct pn__budget *b);

/*
 * Take @n bytes if they fit now, without blocking (lock-free; takes no
 * lock). Any thread. n == 0 always fits.
 *
 * Returns 0, -EMSGSIZE if @n exceeds the limit (it can never fit),
 * -ESHUTDOWN once @b is closed, or -EAGAIN if it does not fit now. -EAGAIN
 * (and -ETIMEDOUT below) are flow control, so they record no
 * pn_last_error() detail; -EMSGSIZE and -ESHUTDOWN do.
 */
int pn__budget_try_acquire(struct pn__budget *b, uint64_t n);

/*
 * Take @n bytes, waiting up to @timeout_ns (CLOCK_MONOTONIC) for releases
 * to make room. 0 never waits; UINT64_MAX waits without a time limit. Any
 * thread that is not a shard (shards must never block).
 *
 * Returns 0, -EMSGSIZE if @n exceeds the limit, -ESHUTDOWN if @b is or
 * becomes closed before @n fits (a closed budget admits no waiter, even
 * if its bytes would fit), or -ETIMEDOUT.
 */
int pn__budget_acquire(struct pn__budget *b, uint64_t n, uint64_t timeout_ns);

/*
 * Give back @n bytes taken by an acquire (not necessarily on the same
 * thread). Takes no lock unless someone waits, and then wakes every waiter.
 * Any thread; never blocks for long (the mutex is held only briefly).
 * Releasing more than is in use is a bug and panics.
 */
void pn__budget_release(struct pn__budget *b, uint64_t n);

/*
 * Close @b: every later acquire fails with -ESHUTDOWN and every thread
 * waiting in pn__budget_acquire() wakes and returns -ESHUTDOWN. Releases
 * keep working. Idempotent. Any thread.
 */
void pn__budget_close(struct pn__budget *b);

/* Bytes in use now (a snapshot, for tests and metrics). Any thread. */
uint64_t pn__budget_used(const struct pn__budget *b);

/*
 * Threads in the slow path of pn__budget_acquire() now (a snapshot, for
 * tests and metrics). Any thread.
 */
uint32_t pn__budget_waiters(const struct pn__budget *b);

#endif /* PN_CORE_BUDGET_H */
