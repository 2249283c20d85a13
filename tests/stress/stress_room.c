// SPDX-License-Identifier: MIT
/*
 * Room in a full ring, in both directions of the handshake (core/sched/shard.c,
 * room_check(); core/sched/producer.c, ring_wait()). White box: reads a shard's
 * parked flag and overflow length from core_int.h.
 *
 *  1. A sender shard whose overflow waits for a stuck consumer parks
 *     instead of spinning: in every other round, once its parked flag is
 *     seen set with the overflow still waiting, its thread's CPU time
 *     over a 20 ms window is measured (it must be a small fraction of the
 *     window in sum; a spinning shard burns all of it); and the consumer,
 *     once released, wakes it: every message arrives, in order. The other
 *     rounds release the consumer at random moments around the sender's
 *     park, so the wake races the park.
 *  2. An external producer blocked in pn_inject() on a full ring sleeps
 *     on the ring's waiter word and is woken by the consumer freeing a
 *     slot: it returns 0, well before its timeout.
 *
 * Reads PN_SEED and PN_STRESS_SCALE.
 */
#include "core_int.h"
#include "stress_util.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

enum { MSG_HOLD = 1, MSG_DATA, MSG_GO };
#define CODE_DONE 1

static struct {
	pn_pid consumer, sender;
	uint64_t per_round; /* messages the sender sends a round */
	_Atomic bool hold;  /* the consumer's handler spins while set */
	_Atomic uint64_t got, next;
} g;

static int consumer_handle(struct pn_ctx *ctx, void *st, const struct pn_msg *m)
{
	(void)st;
	if (m->type == MSG_HOLD) {
		while (atomic_load(&g.hold))
			sched_yield();
		return 0;
	}
	if (m->type != MSG_DATA)
		return 0;
	SU_CHECK(pn_msg_u64(m) == atomic_load(&g.next),
		 "expected %" PRIu64 ", got %" PRIu64, atomic_load(&g.next),
		 pn_msg_u64(m));
	atomic_store(&g.next, pn_msg_u64(m) + 1);
	atomic_fetch_add(&g.got, 1);
	if (atomic_load(&g.next) % g.per_round == 0)
		pn_runtime_notify(pn_ctx_runtime(ctx), CODE_DONE);
	return 0;
}

/* On GO: HOLD to the consumer, then a round of DATA; the ring (8 slots)
 * fills and the rest waits in overflow. */
static int sender_handle(struct pn_ctx *ctx, void *st, const struct pn_msg *m)
{
	uint64_t *seq = st;

	if (m->type != MSG_GO)
		return 0;
	SU_CHECK(pn_send(ctx, g.consumer, MSG_HOLD, NULL, 0) == 0, "hold");
	for (uint64_t i = 0; i < g.per_round; i++)
		SU_CHECK(pn_send_u64(ctx, g.consumer, MSG_DATA, (*seq)++) == 0,
			 "send: %s", pn_last_error());
	return 0;
}

static const struct pn_behaviour consumer_b = {.name = "room.consumer",
					       .handle = consumer_handle};
static const struct pn_behaviour sender_b = {.name = "room.sender",
					     .state_size = sizeof(uint64_t),
					     .handle = sender_handle};

/* Shard @i is parked with overflow waiting (towards the consumer's shard:
 * the only one it sends to). The parked flag is read white box (relaxed;
 * a wrong answer only delays the poll), the overflow through the
 * shard's published statistics. */
static bool parked_with_overflow(struct pn_runtime *rt, unsigned i)
{
	struct pn_shard *s = rt->shard[i];
	struct pn_shard_stats st;

	if (!atomic_load_explicit(&s->parked, memory_order_relaxed))
		return false;
	pn_runtime_stats(rt, i, &st);
	return st.overflow_bytes != 0;
}

/* CPU time of shard @i's thread so far, ns. */
static uint64_t shard_cpu_ns(struct pn_runtime *rt, unsigned i)
{
	struct timespec ts;
	clockid_t cid;

	SU_CHECK(pthread_getcpuclockid(rt->shard[i]->thread, &cid) == 0 &&
			 clock_gettime(cid, &ts) == 0,
		 "thread cpu clock");
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The sender's CPU over a 20 ms window while its consumer is stuck (a
 * measurement window, not a synchronisation). */
static void measure(struct pn_runtime *rt, uint64_t *cpu, uint64_t *wall)
{
	uint64_t c0 = shard_cpu_ns(rt, 0), t0 = pn_now_ns();
	struct timespec nap = {.tv_nsec = 20000000};

	nanosleep(&nap, NULL);
	*cpu += shard_cpu_ns(rt, 0) - c0;
	*wall += pn_now_ns() - t0;
}

static void rounds(struct pn_runtime *rt, uint64_t nrounds)
{
	uint64_t rng = su_stream(1), parked = 0, cpu = 0, wall = 0;

	for (uint64_t r = 0; r < nrounds; r++) {
		uint64_t t0 = pn_now_ns(), spins;

		atomic_store(&g.hold, true);
		SU_CHECK(pn_runtime_send(rt, g.sender, MSG_GO, NULL, 0,
					 1000000000ull) == 0,
			 "go");
		if (r % 2 == 0) {
			/* Wait until the sender has parked with its overflow
			 * waiting: it does not spin on a stuck peer. */
			while (!parked_with_overflow(rt, 0)) {
				SU_CHECK(pn_now_ns() - t0 < 10000000000ull,
					 "round %" PRIu64 ": the sender never "
					 "parked with its overflow waiting",
					 r);
				sched_yield();
			}
			parked++;
			if (parked <= 25)
				measure(rt, &cpu, &wall);
		} else {
			/* Release at a random moment: races the park. */
			spins = su_rnd_below(&rng, 20000);
			for (uint64_t k = 0; k < spins; k++)
				pn__cpu_relax();
		}
		atomic_store(&g.hold, false);
		su_wait(rt, CODE_DONE, 1, 10000000000ull, 60000000000ull, NULL,
			NULL, NULL, "round");
	}
	su_log("%" PRIu64 " rounds, the sender seen parked with overflow in "
	       "%" PRIu64 "; its CPU while the consumer was stuck: %.2f%% of "
	       "%.0f ms",
	       nrounds, parked, 100.0 * (double)cpu / (double)wall,
	       (double)wall / 1e6);
	/* Parked, it costs nothing; spinning, it would cost the window. */
	SU_CHECK(
		cpu * 10 < wall,
		"the sender used %.1f%% of a core waiting for a stuck consumer",
		100.0 * (double)cpu / (double)wall);
}

/* --- an external producer on a full ring ---------------------------------- */

/* Lets the consumer go once the producer sleeps on the ring's waiter
 * word (white box: the word holds its tag just before it sleeps). */
static void *releaser(void *arg)
{
	struct pn_producer *p = arg;
	_Atomic uint32_t *w = &p->ring[1]->waiter;

	while (atomic_load_explicit(w, memory_order_relaxed) !=
	       PN__ROOM_EXTERNAL)
		sched_yield();
	atomic_store(&g.hold, false);
	return NULL;
}

static void blocked_producer(struct pn_runtime *rt)
{
	struct pn_producer *p;
	uint64_t t0, n = 0;
	pthread_t th;
	int err;

	atomic_store(&g.hold, true);
	SU_CHECK(pn_producer_create(rt, &p) == 0, "producer");
	SU_CHECK(pn_inject_try(p, g.consumer, MSG_HOLD, NULL, 0) == 0, "hold");
	atomic_store(&g.next, 0);
	atomic_store(&g.got, 0);
	g.per_round = 1u << 30; /* no notify from the consumer */
	while ((err = pn_inject_try(p, g.consumer, MSG_DATA, &n, sizeof(n))) ==
	       0)
		n++;
	SU_CHECK(err == -EAGAIN, "inject_try: %d", err);
	/* The ring is full and its consumer stuck; a thread lets it go
	 * once we sleep in pn_inject(). */
	SU_CHECK(pthread_create(&th, NULL, releaser, p) == 0, "thread");
	t0 = pn_now_ns();
	err = pn_inject(p, g.consumer, MSG_DATA, &n, sizeof(n), 30000000000ull);
	SU_CHECK(err == 0, "pn_inject: %d %s", err, pn_last_error());
	SU_CHECK(pn_now_ns() - t0 < 20000000000ull,
		 "pn_inject slept until close to its timeout");
	pthread_join(th, NULL);
	pn_producer_destroy(p);
}

int main(void)
{
	struct pn_runtime *rt;
	struct pn_config c;

	su_init("stress_room");
	su_config(&c);
	c.ring_slots = 8;
	c.spin_ns = 2000;
	rt = su_runtime(&c);
	g.per_round = 200;
	SU_CHECK(pn_runtime_spawn(rt, &consumer_b,
				  &(struct pn_spawn_opts){.shard = 1},
				  &g.consumer) == 0,
		 "spawn consumer: %s", pn_last_error());
	SU_CHECK(pn_runtime_spawn(rt, &sender_b,
				  &(struct pn_spawn_opts){.shard = 0},
				  &g.sender) == 0,
		 "spawn sender: %s", pn_last_error());
	rounds(rt, su_scaled(400, 20));
	blocked_producer(rt);
	su_shutdown(rt);
	su_log("ok");
	return 0;
}
