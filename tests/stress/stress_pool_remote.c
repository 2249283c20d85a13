// SPDX-License-Identifier: MIT
/*
 * Stress for the pools' remote-free path (alloc/pool.c). One owner thread
 * allocates objects, stamps each with a fresh tag and hands it to one of
 * three foreign threads (as a shard sends a buffer to another shard), or
 * now and then frees it locally at once. A foreign thread checks the tag,
 * fills the object with a pattern derived from it, records the tag as
 * given back and returns the object with pn_pool_free_remote(), flushing
 * its batch at random moments (and when full, and at the end).
 *
 * The hand-off to a foreign thread is a ring per thread, and the test
 * takes care that the ring does not order what the pool must: the foreign
 * thread publishes its progress (release) right after copying an item out,
 * before it touches the object, and the owner reloads that progress
 * (acquire) only when its cached view says the ring is full, once per RING
 * items. What a foreign thread did to an object after the owner's last
 * reload is ordered before the owner's reuse of it by the pool alone, so
 * under TSan a mis-ordered remote free shows as a data race on the pattern
 * or the record of the returned tag.
 *
 * Checks, each time the pool hands the owner an object that is out with a
 * foreign thread: that thread has given back exactly the tag the owner
 * gave it (no object is handed out twice) and the pattern is intact
 * (nothing wrote to it after it came back). At the end, with the threads
 * joined: allocating exactly the pool's capacity (chunks x per-chunk)
 * needs no new chunk and yields every object ever seen exactly once (no
 * loss, no duplicate), and the statistics match the test's own counts
 * (returned, hits + misses, in_use).
 *
 * PN_SEED sets the seed (printed on failure); PN_STRESS_SCALE (default 1)
 * scales the iteration count.
 */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* (A comment keeps clang-format from regrouping the project header.) */
#include "pn_alloc.h"

#define FOREIGN	   3
#define OBJ_SIZE   80	      /* words: 0-1 links, 2 tag, 3-9 pattern */
#define PER_CHUNK  64	      /* small chunks: growth and pn_pool_of */
#define RING	   4096	      /* hand-off ring entries per thread */
#define BASE_ITERS 25000000.0 /* owner allocations at scale 1 */
#define MAP_BITS   18	      /* the owner's object table: 256 Ki */
#define WORDS	   (OBJ_SIZE / 8)

/* An object the owner has seen, by address (open addressing). */
struct rec {
	uintptr_t addr; /* 0: empty slot */
	uint64_t tag;	/* the tag last given out with it */
	uint64_t back;	/* written by the foreign thread: the tag it gave
			   back last; ordered before the owner reads it
			   by the pool alone */
	bool out;	/* with a foreign thread */
	bool drained;	/* seen during the final drain */
};

struct item {
	uint64_t *obj; /* NULL: stop */
	uint64_t tag;
	struct rec *rec;
};

/* One foreign thread: its hand-off ring and its progress. */
struct foreign {
	pthread_t thread;
	unsigned id;
	struct item items[RING];
	_Atomic size_t filled;	 /* owner: release; foreign: acquire */
	_Atomic size_t consumed; /* foreign: release; owner: acquire */
	size_t sent;		 /* owner only: items sent */
	size_t seen;		 /* owner only: consumed, as last loaded */
	uint64_t freed;		 /* remote frees (read after join) */
	const char *failed;	 /* set on failure (read after join) */
};

static struct foreign fth[FOREIGN];
static struct rec *map;
static size_t map_used;
static struct pn_pool *pool;
static uint64_t seed;

static void fail(const char *what, uint64_t v)
{
	fprintf(stderr,
		"stress_pool_remote: FAIL: %s (%" PRIu64 ") PN_SEED=%" PRIu64
		"\n",
		what, v, seed);
	exit(1);
}

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t pattern(uint64_t tag, unsigned w)
{
	uint64_t s = tag * 31 + w;

	return rnd(&s);
}

static struct rec *map_get(void *obj)
{
	uintptr_t a = (uintptr_t)obj;
	size_t mask = ((size_t)1 << MAP_BITS) - 1;
	size_t i = (size_t)((a >> 4) * 0x9e3779b97f4a7c15ull >> 20) & mask;

	while (map[i].addr && map[i].addr != a)
		i = (i + 1) & mask;
	if (!map[i].addr) {
		if (++map_used > mask / 2)
			fail("object table full", map_used);
		map[i].addr = a;
	}
	return &map[i];
}

static void *foreign_main(void *arg)
{
	struct foreign *f = arg;
	struct pn_pool_batch b = PN_POOL_BATCH_INIT;
	uint64_t rs = seed ^ (0x51ed27ull * (f->id + 1));
	size_t i = 0;
	unsigned w;

	for (;;) {
		struct item it;

		/* Pairs with the owner's release in owner_send(). */
		while (i ==
		       atomic_load_explicit(&f->filled, memory_order_acquire))
			sched_yield();
		it = f->items[i++ % RING];
		/* Pairs with the owner's acquire in owner_send(): the slot
		 * is read before it is reused. Published before the object
		 * is touched, so that it orders nothing else. */
		atomic_store_explicit(&f->consumed, i, memory_order_release);
		if (!it.obj)
			break;
		if (it.obj[2] != it.tag) {
			f->failed = "object handed over with a wrong tag";
			break;
		}
		for (w = 3; w < WORDS; w++)
			it.obj[w] = pattern(it.tag, w);
		it.rec->back = it.tag;
		pn_pool_free_remote(&b, it.obj);
		f->freed++;
		if (rnd(&rs) % 16 == 0)
			pn_pool_batch_flush(&b);
	}
	pn_pool_batch_flush(&b);
	return NULL;
}

/* An object the pool just gave the owner: if it was out, check it. */
static struct rec *owner_take(void *obj, uint64_t *back)
{
	struct rec *r;
	uint64_t *o = obj;
	unsigned w;

	if (!obj)
		fail("pn_pool_alloc returned NULL", 0);
	if (pn_pool_of(obj) != pool)
		fail("pn_pool_of is wrong", (uintptr_t)obj);
	r = map_get(obj);
	if (r->out) {
		if (r->back != r->tag)
			fail("object handed out again while still out", r->tag);
		for (w = 3; w < WORDS; w++)
			if (o[w] != pattern(r->tag, w))
				fail("returned object's pattern damaged",
				     r->tag);
		r->out = false;
		(*back)++;
	}
	return r;
}

static void owner_send(struct foreign *f, uint64_t *obj, uint64_t tag,
		       struct rec *r)
{
	while (f->sent - f->seen >= RING) {
		f->seen = atomic_load_explicit(&f->consumed,
					       memory_order_acquire);
		if (f->sent - f->seen >= RING)
			sched_yield();
	}
	f->items[f->sent++ % RING] = (struct item){obj, tag, r};
	/* Pairs with the foreign thread's acquire: the item and the tag
	 * written into the object are visible before it looks. */
	atomic_store_explicit(&f->filled, f->sent, memory_order_release);
}

static void drain_and_check(uint64_t iters, uint64_t local_frees, uint64_t back)
{
	struct pn_pool_stats s0, s;
	uint64_t cap, freed = 0, i;
	size_t k;

	pn_pool_stats_get(pool, &s0);
	cap = s0.chunks * PER_CHUNK;
	for (i = 0; i < cap; i++) {
		struct rec *r = owner_take(pn_pool_alloc(pool), &back);

		if (r->drained)
			fail("object allocated twice in the drain", i);
		r->drained = true;
	}
	pn_pool_stats_get(pool, &s);
	if (s.chunks != s0.chunks)
		fail("the drain needed a new chunk: objects lost",
		     s.chunks - s0.chunks);
	if (map_used != cap)
		fail("objects seen differ from the pool's capacity", map_used);
	for (k = 0; k < ((size_t)1 << MAP_BITS); k++)
		if (map[k].addr && (!map[k].drained || map[k].out))
			fail("an object never came back", map[k].tag);
	for (k = 0; k < FOREIGN; k++)
		freed += fth[k].freed;
	if (back != freed)
		fail("objects checked back differ from remote frees", back);
	if (s.returned != freed)
		fail("stats.returned differs from remote frees", s.returned);
	if (s.hits + s.misses != iters + cap)
		fail("stats.hits + misses differ from allocations",
		     s.hits + s.misses);
	if (s.in_use != cap)
		fail("stats.in_use differs", s.in_use);
	printf("stress_pool_remote: %" PRIu64 " allocations, %" PRIu64
	       " remote frees, %" PRIu64 " local, %" PRIu64
	       " chunks; PN_SEED=%" PRIu64 "\n",
	       iters, freed, local_frees, s.chunks, seed);
}

int main(void)
{
	const char *env = getenv("PN_SEED"), *sc = getenv("PN_STRESS_SCALE");
	double scale = sc && *sc ? atof(sc) : 1.0;
	uint64_t iters, i, tag = 0, local_frees = 0, back = 0, rs;
	struct pn_arena *arena;
	unsigned t;

	seed = env && *env ? strtoull(env, NULL, 0)
			   : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	rs = seed;
	iters = (uint64_t)(BASE_ITERS * (scale > 0 ? scale : 1.0));
	if (iters < 10000)
		iters = 10000;
	map = calloc((size_t)1 << MAP_BITS, sizeof(*map));
	if (!map)
		fail("out of memory", 0);
	if (pn_arena_create(-1, &arena) ||
	    pn_pool_create(arena, OBJ_SIZE, PER_CHUNK, &pool))
		fail("create", 0);
	for (t = 0; t < FOREIGN; t++) {
		fth[t].id = t;
		if (pthread_create(&fth[t].thread, NULL, foreign_main, &fth[t]))
			fail("pthread_create", t);
	}
	for (i = 0; i < iters; i++) {
		uint64_t *obj = pn_pool_alloc(pool);
		struct rec *r = owner_take(obj, &back);
		uint64_t x = rnd(&rs);

		if (x % 8 == 0) { /* the owner's own free, now and then */
			memset(obj, 0x11, OBJ_SIZE);
			pn_pool_free(pool, obj);
			local_frees++;
			continue;
		}
		obj[2] = r->tag = ++tag;
		r->out = true;
		owner_send(&fth[(x >> 8) % FOREIGN], obj, tag, r);
	}
	for (t = 0; t < FOREIGN; t++)
		owner_send(&fth[t], NULL, 0, NULL);
	for (t = 0; t < FOREIGN; t++) {
		pthread_join(fth[t].thread, NULL);
		if (fth[t].failed)
			fail(fth[t].failed, t);
	}
	drain_and_check(iters, local_frees, back);
	pn_pool_destroy(pool);
	pn_arena_destroy(arena);
	free(map);
	return 0;
}
