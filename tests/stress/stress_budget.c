// SPDX-License-Identifier: MIT
/*
 * Stress for the byte budget (core/sched/budget.c). Four threads: two producers
 * take random sizes (mostly blocking acquires, some try/zero-timeout ones)
 * and hand each admitted chunk to a shared queue, as an external producer
 * hands a message to a shard; two "shards" release chunks from the queue
 * and now and then try to take some themselves. Sizes mix large (over half
 * the limit) and small ones, the weighted case where one wake-up per
 * release strands waiters.
 *
 * Checks: bytes admitted never exceed the limit (a shadow count the test
 * keeps: raised after each admit, lowered before each release, so it never
 * exceeds the budget's own count); no producer waits out its generous
 * timeout (a stranded waiter); everyone finishes; at the end nothing is in
 * use and nobody waits. PN_SEED sets the seed (printed on failure);
 * PN_STRESS_SCALE (default 1) scales the iteration count.
 */
#include "budget.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define LIMIT	   1000u
#define PRODUCERS  2
#define SHARDS	   2
#define BASE_ITERS 100000.0		 /* per producer at scale 1 */
#define WAIT_NS	   (10ull * 1000000000u) /* a waiter this late is stranded */

static struct pn__budget budget;
static uint64_t seed;
static unsigned iters;

/* The hand-off queue: chunks admitted and not yet released. Every chunk
 * holds >= 1 byte, so at most LIMIT are outstanding. */
static struct {
	pthread_mutex_t mu;
	uint32_t v[LIMIT];
	unsigned head, n;
} queue = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Bytes the test believes are admitted (see the file comment). Relaxed:
 * a counter; the acquire/release inside the budget orders it. */
static _Atomic uint64_t shadow;
static _Atomic unsigned producers_left = PRODUCERS;
static _Atomic uint64_t admitted, refused, blocking, max_wait_ns;

static void fail(const char *what, uint64_t v)
{
	fprintf(stderr,
		"stress_budget: FAIL: %s (%" PRIu64 ") PN_SEED=%" PRIu64 "\n",
		what, v, seed);
	_exit(1); /* not exit(): other threads still run */
}

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Half small (1..LIMIT/4), half large (LIMIT/2..LIMIT). */
static uint32_t rnd_size(uint64_t *s)
{
	uint64_t r = rnd(s);

	if (r & 1)
		return 1 + (uint32_t)((r >> 1) % (LIMIT / 4));
	return LIMIT / 2 + (uint32_t)((r >> 1) % (LIMIT / 2 + 1));
}

/* After an admit: count it, check the limit, hand it to the shards. */
static void admitted_chunk(uint32_t n)
{
	uint64_t now =
		atomic_fetch_add_explicit(&shadow, n, memory_order_relaxed) + n;

	if (now > LIMIT)
		fail("more bytes admitted than the limit", now);
	atomic_fetch_add_explicit(&admitted, 1, memory_order_relaxed);
	pthread_mutex_lock(&queue.mu);
	if (queue.n == LIMIT)
		fail("queue overflow: more chunks than bytes", queue.n);
	queue.v[(queue.head + queue.n++) % LIMIT] = n;
	pthread_mutex_unlock(&queue.mu);
}

/* Release one chunk from the queue; false if it was empty. */
static bool release_one(void)
{
	uint32_t n;
	uint64_t used;

	pthread_mutex_lock(&queue.mu);
	if (queue.n == 0) {
		pthread_mutex_unlock(&queue.mu);
		return false;
	}
	n = queue.v[queue.head];
	queue.head = (queue.head + 1) % LIMIT;
	queue.n--;
	pthread_mutex_unlock(&queue.mu);
	used = pn__budget_used(&budget);
	if (used > LIMIT)
		fail("budget reports more than its limit in use", used);
	atomic_fetch_sub_explicit(&shadow, n, memory_order_relaxed);
	pn__budget_release(&budget, n);
	return true;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * A blocking acquire that must be woken, not time out: acquire rechecks
 * once after its timeout, so a stranded waiter could still get its bytes
 * then; only the time it took shows it was stranded.
 */
static int blocking_acquire(uint32_t n)
{
	uint64_t t0 = mono_ns(), dt, max;
	int rc = pn__budget_acquire(&budget, n, WAIT_NS);

	dt = mono_ns() - t0;
	if (dt >= WAIT_NS)
		fail("a waiter slept through its whole timeout (stranded)", dt);
	/* Relaxed: a statistic. */
	max = atomic_load_explicit(&max_wait_ns, memory_order_relaxed);
	while (dt > max && !atomic_compare_exchange_weak_explicit(
				   &max_wait_ns, &max, dt, memory_order_relaxed,
				   memory_order_relaxed))
		;
	return rc;
}

static void *producer_main(void *arg)
{
	uint64_t rng = seed ^ *(const unsigned *)arg * 0x5851f42d4c957f2dull;
	unsigned i;

	for (i = 0; i < iters; i++) {
		uint32_t n = rnd_size(&rng);
		unsigned how = (unsigned)(rnd(&rng) % 8);
		int rc;

		if (how == 0)
			rc = pn__budget_try_acquire(&budget, n);
		else if (how == 1)
			rc = pn__budget_acquire(&budget, n, 0);
		else
			rc = blocking_acquire(n);
		if (rc == 0) {
			admitted_chunk(n);
		} else if (how > 1) {
			fail("a blocking acquire failed (stranded waiter?)",
			     (uint64_t)-rc);
		} else if (rc != -EAGAIN && rc != -ETIMEDOUT) {
			fail("unexpected error from try", (uint64_t)-rc);
		} else {
			atomic_fetch_add_explicit(&refused, 1,
						  memory_order_relaxed);
		}
		if (how > 1)
			atomic_fetch_add_explicit(&blocking, 1,
						  memory_order_relaxed);
	}
	atomic_fetch_sub_explicit(&producers_left, 1, memory_order_release);
	return NULL;
}

/*
 * A shard: releases what producers admitted, in bursts, and sometimes
 * tries to take bytes itself (never blocking: shards must not). Runs until
 * the producers are done and the queue is drained.
 */
static void *shard_main(void *arg)
{
	uint64_t rng = seed ^ *(const unsigned *)arg * 0x2545f4914f6cdd1dull;

	for (;;) {
		unsigned burst = 1 + (unsigned)(rnd(&rng) % 4), k;
		bool any = false;

		for (k = 0; k < burst; k++)
			any |= release_one();
		if (rnd(&rng) % 4 == 0) {
			uint32_t n = rnd_size(&rng);

			if (pn__budget_try_acquire(&budget, n) == 0)
				admitted_chunk(n);
		}
		/* Acquire: pairs with the producers' release decrement, so
		 * every chunk they queued is visible to the check below. */
		if (!any && atomic_load_explicit(&producers_left,
						 memory_order_acquire) == 0) {
			while (release_one())
				;
			return NULL;
		}
		if (!any)
			sched_yield();
	}
}

static double env_scale(void)
{
	const char *s = getenv("PN_STRESS_SCALE");
	double v = s && *s ? strtod(s, NULL) : 1.0;

	return v > 0 ? v : 1.0;
}

static uint64_t env_seed(void)
{
	const char *s = getenv("PN_SEED");
	struct timespec ts;

	if (s && *s)
		return strtoull(s, NULL, 0);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(void)
{
	static unsigned index[PRODUCERS + SHARDS]; /* each thread's rng */
	pthread_t th[PRODUCERS + SHARDS];
	double n = BASE_ITERS * env_scale();
	unsigned i;

	seed = env_seed();
	iters = n < 100 ? 100 : (unsigned)n;
	printf("stress_budget: PN_SEED=%" PRIu64 " iterations=%u x %d\n", seed,
	       iters, PRODUCERS);
	fflush(stdout);
	if (pn__budget_init(&budget, LIMIT) < 0)
		fail("pn__budget_init", 0);
	for (i = 0; i < PRODUCERS + SHARDS; i++) {
		index[i] = i + 1;
		if (pthread_create(&th[i], NULL,
				   i < PRODUCERS ? producer_main : shard_main,
				   &index[i]) != 0)
			fail("pthread_create", i);
	}
	for (i = 0; i < PRODUCERS + SHARDS; i++)
		pthread_join(th[i], NULL);
	if (pn__budget_used(&budget) != 0)
		fail("bytes still in use at the end", pn__budget_used(&budget));
	if (pn__budget_waiters(&budget) != 0)
		fail("waiters left at the end", pn__budget_waiters(&budget));
	/* Relaxed loads after pthread_join(), which orders every update. */
	if (atomic_load_explicit(&shadow, memory_order_relaxed) != 0)
		fail("shadow count not back to 0",
		     atomic_load_explicit(&shadow, memory_order_relaxed));
	pn__budget_fini(&budget);
	printf("stress_budget: ok: %" PRIu64 " admitted, %" PRIu64
	       " refused tries, %" PRIu64
	       " blocking acquires (longest %.3f ms)\n",
	       atomic_load_explicit(&admitted, memory_order_relaxed),
	       atomic_load_explicit(&refused, memory_order_relaxed),
	       atomic_load_explicit(&blocking, memory_order_relaxed),
	       atomic_load_explicit(&max_wait_ns, memory_order_relaxed) / 1e6);
	return 0;
}
