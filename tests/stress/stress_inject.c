// SPDX-License-Identifier: MIT
/*
 * External producers under a small inject byte budget
 * and tiny rings, in three parts.
 *
 * 1. Random load: THREADS external threads, each with its own producer,
 *    inject sequence-numbered messages of random sizes (16 to 100 bytes,
 *    inline and large) to a receiver on every shard through 8-slot rings
 *    under inject_bytes=100, mixing blocking pn_inject() (10 s limit) and
 *    pn_inject_try() with retries. Receivers check per-producer order and
 *    payloads; every message arrives; no thread stays blocked (a blocking
 *    inject that times out fails the test, so the whole part is bounded).
 *
 * 2. The lesson-3 scenario, repeated: budget 100; shard 0 is held inside a
 *    gate actor's handler; A injects 100 bytes for shard 0 (admitted, and
 *    held: nothing drains it); B and C each inject 50 bytes and wait (the
 *    test sees two waiters on the budget); the gate opens, shard 0 handles
 *    A's message and releases its 100 bytes: both B and C must get in.
 *
 * 3. Spawn versus early messages, deterministic: with shard 1 held in a
 *    gate, the test thread queues (through the runtime's own producer)
 *    127 messages to a sink on shard 1 and then the SPAWN of an actor R on
 *    shard 1, and (through its own producer) 65 messages 0..64 to R. The
 *    shard drains at most one batch (64) per source per turn, so messages
 *    0..63 reach shard 1 while R is only reserved (they wait in the early
 *    queue) and message 64 comes in the same turn as the SPAWN. R must get
 *    STARTED and then 0..64 in order (pn_spawn(): "messages sent to it are
 *    delivered after its PN_MSG_STARTED, in order per sender").
 *
 * This test reads the budget's waiter count through core/'s internal
 * header (white box): the scenario is only meaningful if B and C wait.
 */
#include "core_int.h"
#include "stress_util.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define THREADS	 3
#define BUDGET	 100
#define MIN_LEN	 16
#define BLOCK_NS 10000000000ull /* a blocking inject this long: stranded */
#define GATE_NS	 30000000000ull

enum { MSG_DATA = 1, MSG_BLOCK, MSG_SINK, MSG_SEQ0 = 0x100 };
enum { CODE_RECV_DONE = 1, CODE_GATE, CODE_SINK, CODE_R_DONE };

struct hdr {
	uint32_t thread;
	uint32_t len;
	uint64_t seq;
} __attribute__((packed));
_Static_assert(sizeof(struct hdr) == MIN_LEN, "header size");

static struct {
	uint64_t k; /* messages per (thread, receiver) */
	pn_pid recv[2];
	_Atomic uint64_t got[2][THREADS], sent[THREADS][2];
	_Atomic uint64_t handled;
	_Atomic uint64_t max_block_ns, tries_refused, blocking;
	_Atomic int gate_open[2];
	_Atomic uint64_t sink_got;
} g;

static unsigned char byte_at(uint32_t t, uint64_t seq, size_t i)
{
	return (unsigned char)(seq * 37 + i * 11 + t * 101);
}

/* --- part 1: receivers and producer threads ----------------------------- */

struct receiver {
	uint32_t idx;
	uint64_t next[THREADS], total;
};

static int recv_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct receiver *rv = state;
	const unsigned char *p = pn_msg_data(m);
	struct hdr h;

	if (m->type != MSG_DATA)
		return 0;
	SU_CHECK(m->len >= sizeof(h) && m->len <= BUDGET, "%u-byte message",
		 m->len);
	memcpy(&h, p, sizeof(h));
	SU_CHECK(h.thread < THREADS && h.len == m->len,
		 "bad header: thread %u len %u (message %u bytes)", h.thread,
		 h.len, m->len);
	if (h.seq != rv->next[h.thread])
		su_fail("receiver %u (shard %u) from thread %u: expected seq "
			"%" PRIu64 ", got %" PRIu64,
			rv->idx, pn_shard(ctx), h.thread, rv->next[h.thread],
			h.seq);
	for (size_t i = sizeof(h); i < m->len; i++)
		SU_CHECK(p[i] == byte_at(h.thread, h.seq, i),
			 "thread %u seq %" PRIu64 ": byte %zu corrupt",
			 h.thread, h.seq, i);
	rv->next[h.thread]++;
	atomic_store_explicit(&g.got[rv->idx][h.thread], rv->next[h.thread],
			      memory_order_relaxed);
	atomic_fetch_add_explicit(&g.handled, 1, memory_order_relaxed);
	if (++rv->total == g.k * THREADS)
		pn_runtime_notify(pn_ctx_runtime(ctx), CODE_RECV_DONE);
	return 0;
}

static int recv_init(struct pn_ctx *ctx, void *state, const void *arg,
		     size_t len)
{
	struct receiver *rv = state;

	(void)ctx;
	SU_CHECK(len == sizeof(rv->idx), "receiver arg");
	memcpy(&rv->idx, arg, sizeof(rv->idx));
	return 0;
}

static const struct pn_behaviour recv_b = {
	.name = "inject_recv",
	.state_size = sizeof(struct receiver),
	.init = recv_init,
	.handle = recv_handle,
};

static void note_max(_Atomic uint64_t *max, uint64_t v)
{
	uint64_t m = atomic_load_explicit(max, memory_order_relaxed);

	while (v > m &&
	       !atomic_compare_exchange_weak_explicit(
		       max, &m, v, memory_order_relaxed, memory_order_relaxed))
		;
}

struct thread_arg {
	pthread_t th;
	uint32_t id;
	struct pn_runtime *rt;
};

static void *producer_main(void *arg)
{
	struct thread_arg *ta = arg;
	struct pn_producer *p;
	uint64_t rng = su_stream(ta->id + 1), seq[2] = {0, 0};
	unsigned char buf[BUDGET];
	int err = pn_producer_create(ta->rt, &p);

	SU_CHECK(err == 0, "pn_producer_create: %d %s", err, pn_last_error());
	while (seq[0] < g.k || seq[1] < g.k) {
		unsigned r = (unsigned)su_rnd_below(&rng, 2);
		struct hdr h = {.thread = ta->id};
		uint64_t t0 = pn_now_ns(), dt;

		if (seq[r] == g.k)
			r = 1 - r;
		h.seq = seq[r];
		/* Half small (inline), half up to the whole budget. */
		h.len = (uint32_t)(su_rnd_below(&rng, 2)
					   ? MIN_LEN + su_rnd_below(&rng, 17)
					   : 33 + su_rnd_below(&rng,
							       BUDGET - 32));
		memcpy(buf, &h, sizeof(h));
		for (size_t i = sizeof(h); i < h.len; i++)
			buf[i] = byte_at(h.thread, h.seq, i);
		if (su_rnd_below(&rng, 3)) {
			err = pn_inject(p, g.recv[r], MSG_DATA, buf, h.len,
					BLOCK_NS);
			dt = pn_now_ns() - t0;
			SU_CHECK(err == 0,
				 "thread %u: blocking pn_inject of %u bytes "
				 "to shard %u returned %d after %.3f s (%s): "
				 "a stranded waiter",
				 ta->id, h.len, r, err, (double)dt / 1e9,
				 pn_last_error());
			atomic_fetch_add_explicit(&g.blocking, 1,
						  memory_order_relaxed);
			note_max(&g.max_block_ns, dt);
		} else {
			while ((err = pn_inject_try(p, g.recv[r], MSG_DATA, buf,
						    h.len)) == -EAGAIN) {
				atomic_fetch_add_explicit(&g.tries_refused, 1,
							  memory_order_relaxed);
				SU_CHECK(pn_now_ns() - t0 < BLOCK_NS,
					 "thread %u: pn_inject_try of %u bytes "
					 "refused for 10 s",
					 ta->id, h.len);
				sched_yield();
			}
			SU_CHECK(err == 0, "thread %u: pn_inject_try: %d %s",
				 ta->id, err, pn_last_error());
		}
		seq[r]++;
		atomic_store_explicit(&g.sent[ta->id][r], seq[r],
				      memory_order_relaxed);
	}
	pn_producer_destroy(p);
	return NULL;
}

static uint64_t progress(void *arg)
{
	(void)arg;
	return atomic_load_explicit(&g.handled, memory_order_relaxed);
}

static void report(void *arg)
{
	(void)arg;
	for (unsigned r = 0; r < 2; r++)
		for (unsigned t = 0; t < THREADS; t++)
			fprintf(stderr,
				"  receiver on shard %u from thread %u: got "
				"%" PRIu64 " of %" PRIu64 ", sent %" PRIu64
				"\n",
				r, t, atomic_load(&g.got[r][t]), g.k,
				atomic_load(&g.sent[t][r]));
}

static void part_random(struct pn_runtime *rt)
{
	struct thread_arg ta[THREADS];
	uint64_t t0 = pn_now_ns();

	for (uint32_t r = 0; r < 2; r++) {
		struct pn_spawn_opts o = {
			.shard = (int)r, .arg = &r, .arg_len = sizeof(r)};
		int err = pn_runtime_spawn(rt, &recv_b, &o, &g.recv[r]);

		SU_CHECK(err == 0, "spawn receiver: %d %s", err,
			 pn_last_error());
	}
	for (uint32_t i = 0; i < THREADS; i++) {
		ta[i] = (struct thread_arg){.id = i, .rt = rt};
		SU_CHECK(pthread_create(&ta[i].th, NULL, producer_main,
					&ta[i]) == 0,
			 "pthread_create");
	}
	su_wait(rt, CODE_RECV_DONE, 2, 20000000000ull, 280000000000ull,
		progress, report, NULL, "random injects");
	for (unsigned i = 0; i < THREADS; i++)
		pthread_join(ta[i].th, NULL);
	su_log("random: %" PRIu64 " messages from %d threads in %.2f s; "
	       "%" PRIu64 " blocking injects (longest %.3f ms), %" PRIu64
	       " tries refused",
	       2 * g.k * THREADS, THREADS, su_secs(t0),
	       atomic_load(&g.blocking),
	       (double)atomic_load(&g.max_block_ns) / 1e6,
	       atomic_load(&g.tries_refused));
}

/* --- gates and sinks -------------------------------------------------- */

/* Holds its shard inside the handler until the test opens the gate. */
static int gate_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	unsigned s = pn_shard(ctx);
	uint64_t t0 = pn_now_ns();

	(void)state;
	if (m->type != MSG_BLOCK)
		return 0;
	pn_runtime_notify(pn_ctx_runtime(ctx), CODE_GATE);
	/* Acquire: pairs with the test thread's release when it opens. */
	while (!atomic_load_explicit(&g.gate_open[s], memory_order_acquire)) {
		SU_CHECK(pn_now_ns() - t0 < GATE_NS,
			 "gate on shard %u never opened", s);
		sched_yield();
	}
	atomic_store_explicit(&g.gate_open[s], 0, memory_order_relaxed);
	return 0;
}

static const struct pn_behaviour gate_b = {
	.name = "inject_gate",
	.handle = gate_handle,
};

/* Counts what it gets; notifies on the message of type MSG_SINK + 1. */
static int sink_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	(void)state;
	if (m->type == MSG_DATA || m->type == MSG_SINK) {
		atomic_fetch_add_explicit(&g.sink_got, 1, memory_order_relaxed);
		if (m->type == MSG_DATA)
			pn_runtime_notify(pn_ctx_runtime(ctx), CODE_SINK);
	}
	return 0;
}

static const struct pn_behaviour sink_b = {
	.name = "inject_sink",
	.handle = sink_handle,
};

static void gate_close(struct pn_runtime *rt, pn_pid gate)
{
	int code = 0, err;

	err = pn_runtime_send(rt, gate, MSG_BLOCK, NULL, 0, BLOCK_NS);
	SU_CHECK(err == 0, "send BLOCK: %d %s", err, pn_last_error());
	err = pn_runtime_wait(rt, 30000000000ull, &code);
	SU_CHECK(err == 0 && code == CODE_GATE,
		 "gate did not report closing within 30 s (%d, code %d)", err,
		 code);
}

static void gate_open(unsigned shard)
{
	/* Release: pairs with the gate's acquire. */
	atomic_store_explicit(&g.gate_open[shard], 1, memory_order_release);
}

/* --- part 2: budget 100, A=100 in, B=50 and C=50 wait ------------------ */

/*
 * Wait until every injected byte is given back. A shard gives back the
 * bytes of a batch after the whole batch is handled, so they come back a
 * little after the handlers that notify the test: a bounded wait for the
 * condition itself, not a sleep.
 */
static void budget_drained(struct pn_runtime *rt, const char *when)
{
	uint64_t t0 = pn_now_ns();

	while (pn__budget_used(&rt->budget) != 0) {
		SU_CHECK(pn_now_ns() - t0 < BLOCK_NS,
			 "%s: %" PRIu64 " inject bytes still in use 10 s after "
			 "everything was handled (never released)",
			 when, pn__budget_used(&rt->budget));
		sched_yield();
	}
}

struct waiter {
	pthread_t th;
	struct pn_producer *p;
	pn_pid to;
	int err;
	uint64_t ns;
	char what;
	bool immediate; /* admitted by the try: the budget was not full */
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	unsigned char buf[50];
	uint64_t t0 = pn_now_ns();

	memset(buf, w->what, sizeof(buf));
	w->err = pn_inject_try(w->p, w->to, MSG_DATA, buf, sizeof(buf));
	w->immediate = w->err == 0;
	if (w->err == -EAGAIN)
		w->err = pn_inject(w->p, w->to, MSG_DATA, buf, sizeof(buf),
				   BLOCK_NS);
	w->ns = pn_now_ns() - t0;
	return NULL;
}

static void part_lesson3(struct pn_runtime *rt, unsigned rounds)
{
	pn_pid gate0 = su_spawn(rt, &gate_b, 0, 0),
	       sink0 = su_spawn(rt, &sink_b, 0, 0);
	pn_pid sink1 = su_spawn(rt, &sink_b, 1, 0);
	struct pn_producer *pa, *pb, *pc;
	uint64_t t0 = pn_now_ns(), max_ns = 0;
	unsigned char a[BUDGET];

	SU_CHECK(pn_producer_create(rt, &pa) == 0 &&
			 pn_producer_create(rt, &pb) == 0 &&
			 pn_producer_create(rt, &pc) == 0,
		 "pn_producer_create: %s", pn_last_error());
	memset(a, 'A', sizeof(a));
	atomic_store(&g.sink_got, 0);
	for (unsigned i = 0; i < rounds; i++) {
		struct waiter w[2] = {{.p = pb, .to = sink1, .what = 'B'},
				      {.p = pc, .to = sink1, .what = 'C'}};
		uint64_t tw = pn_now_ns();
		int err, code;

		budget_drained(rt, "before a lesson-3 round");
		gate_close(rt, gate0);
		err = pn_inject_try(pa, sink0, MSG_DATA, a, sizeof(a));
		SU_CHECK(err == 0,
			 "round %u: A (100 bytes, budget 100) not admitted at "
			 "once: %d %s (%" PRIu64 " bytes still in use after "
			 "everything injected before was handled)",
			 i, err, pn_last_error(), pn__budget_used(&rt->budget));
		for (int k = 0; k < 2; k++)
			SU_CHECK(pthread_create(&w[k].th, NULL, waiter_main,
						&w[k]) == 0,
				 "pthread_create");
		/* Both must be waiting before A's bytes come back. */
		while (pn__budget_waiters(&rt->budget) < 2) {
			SU_CHECK(pn_now_ns() - tw < BLOCK_NS / 2,
				 "round %u: B and C not both waiting after "
				 "5 s (waiters %u, used %" PRIu64 ")",
				 i, pn__budget_waiters(&rt->budget),
				 pn__budget_used(&rt->budget));
			sched_yield();
		}
		SU_CHECK(pn__budget_used(&rt->budget) == BUDGET,
			 "round %u: %" PRIu64 " bytes in use, A holds 100", i,
			 pn__budget_used(&rt->budget));
		gate_open(0);
		for (int k = 0; k < 2; k++) {
			pthread_join(w[k].th, NULL);
			SU_CHECK(!w[k].immediate,
				 "round %u: %c admitted while A held the whole "
				 "budget",
				 i, w[k].what);
			SU_CHECK(w[k].err == 0,
				 "round %u: %c (50 bytes) was not admitted "
				 "after A's 100 bytes were released: %d "
				 "after %.3f s (one wake-up per "
				 "release strands a waiter)",
				 i, w[k].what, w[k].err, (double)w[k].ns / 1e9);
			if (w[k].ns > max_ns)
				max_ns = w[k].ns;
		}
		/* A's message to sink0 and B's and C's to sink1. */
		for (int k = 0; k < 3; k++) {
			err = pn_runtime_wait(rt, 30000000000ull, &code);
			SU_CHECK(err == 0 && code == CODE_SINK,
				 "round %u: sink notify %d: %d code %d", i, k,
				 err, code);
		}
		budget_drained(rt, "after a lesson-3 round");
	}
	SU_CHECK(atomic_load(&g.sink_got) == 3ull * rounds,
		 "sinks got %" PRIu64 " of %u", atomic_load(&g.sink_got),
		 3 * rounds);
	pn_producer_destroy(pa);
	pn_producer_destroy(pb);
	pn_producer_destroy(pc);
	su_log("weighted wake-up: %u rounds of A=100 / B=50 + C=50 in %.2f s; "
	       "both "
	       "waiters admitted every time (longest wait %.3f ms)",
	       rounds, su_secs(t0), (double)max_ns / 1e6);
}

/* --- part 3: SPAWN and early messages in one turn ---------------------- */

#define R_MSGS	 65
#define SINK_PAD 127

static struct {
	_Atomic uint64_t rounds_started_late, rounds_reordered;
	_Atomic uint32_t first_seq; /* of the last bad round, for the log */
} r_bad;

struct late {
	bool started;
	bool bad_start, bad_order;
	uint32_t next, got;
};

static int late_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct late *l = state;
	uint32_t seq;

	if (m->type == PN_MSG_STARTED) {
		l->started = true;
		return 0;
	}
	if (m->type < MSG_SEQ0 || m->type >= MSG_SEQ0 + R_MSGS)
		return 0;
	seq = m->type - MSG_SEQ0;
	if (!l->started && !l->bad_start) {
		l->bad_start = true;
		atomic_fetch_add(&r_bad.rounds_started_late, 1);
		atomic_store(&r_bad.first_seq, seq);
	}
	if (seq != l->next && !l->bad_order) {
		l->bad_order = true;
		atomic_fetch_add(&r_bad.rounds_reordered, 1);
		su_log("VIOLATION: actor %#" PRIx64 " (shard %u) got message "
		       "%u from one sender when %u was next (%s STARTED)",
		       (uint64_t)pn_self(ctx), pn_shard(ctx), seq, l->next,
		       l->started ? "after" : "before");
	}
	l->next = seq + 1;
	if (++l->got == R_MSGS)
		pn_runtime_notify(pn_ctx_runtime(ctx), CODE_R_DONE);
	return 0;
}

static const struct pn_behaviour late_b = {
	.name = "inject_late",
	.state_size = sizeof(struct late),
	.handle = late_handle,
};

static void part_spawn_race(unsigned rounds)
{
	struct pn_config c;
	struct pn_runtime *rt;
	struct pn_producer *p;
	pn_pid gate1, sink1;
	uint64_t t0 = pn_now_ns();

	su_config(&c);
	rt = su_runtime(&c);
	gate1 = su_spawn(rt, &gate_b, 1, 0);
	sink1 = su_spawn(rt, &sink_b, 1, 0);
	SU_CHECK(pn_producer_create(rt, &p) == 0, "producer: %s",
		 pn_last_error());
	for (unsigned i = 0; i < rounds; i++) {
		pn_pid r;
		int err, code;

		gate_close(rt, gate1);
		for (unsigned k = 0; k < SINK_PAD; k++) {
			err = pn_runtime_send(rt, sink1, MSG_SINK, NULL, 0,
					      BLOCK_NS);
			SU_CHECK(err == 0, "pad: %d %s", err, pn_last_error());
		}
		r = su_spawn(rt, &late_b, 1, 0);
		for (uint32_t k = 0; k < R_MSGS; k++) {
			err = pn_inject(p, r, MSG_SEQ0 + k, NULL, 0, BLOCK_NS);
			SU_CHECK(err == 0, "inject %u: %d %s", k, err,
				 pn_last_error());
		}
		gate_open(1);
		err = pn_runtime_wait(rt, 30000000000ull, &code);
		SU_CHECK(err == 0 && code == CODE_R_DONE,
			 "round %u: R did not get its %d messages within 30 s "
			 "(%d, code %d)",
			 i, R_MSGS, err, code);
	}
	pn_producer_destroy(p);
	su_log("spawn race: %u rounds in %.2f s: %" PRIu64
	       " with messages before STARTED, %" PRIu64
	       " with one sender's messages reordered",
	       rounds, su_secs(t0), atomic_load(&r_bad.rounds_started_late),
	       atomic_load(&r_bad.rounds_reordered));
	su_shutdown(rt);
}

int main(void)
{
	struct pn_config c;
	struct pn_runtime *rt;
	uint64_t t0 = pn_now_ns();

	su_init("stress_inject");
	g.k = su_scaled(10000, 100);
	su_config(&c);
	c.inject_bytes = BUDGET;
	c.ring_slots = 8;
	rt = su_runtime(&c);
	part_random(rt);
	budget_drained(rt, "after the random injects");
	part_lesson3(rt, (unsigned)su_scaled(200, 5));
	su_sync(rt);
	SU_CHECK(pn__budget_used(&rt->budget) == 0 &&
			 pn__budget_waiters(&rt->budget) == 0,
		 "budget not back to empty: %" PRIu64 " bytes used, %u waiters",
		 pn__budget_used(&rt->budget), pn__budget_waiters(&rt->budget));
	su_shutdown(rt);
	part_spawn_race((unsigned)su_scaled(20, 10));
	SU_CHECK(atomic_load(&r_bad.rounds_started_late) == 0 &&
			 atomic_load(&r_bad.rounds_reordered) == 0,
		 "spawn race: %" PRIu64 " round(s) delivered messages before "
		 "STARTED and %" PRIu64 " reordered one sender's messages: "
		 "the messages that waited in the early queue are moved to "
		 "the local queue behind STARTED, while a later message from "
		 "the same sender, drained from its ring in the same turn as "
		 "the SPAWN, goes straight to the handler",
		 atomic_load(&r_bad.rounds_started_late),
		 atomic_load(&r_bad.rounds_reordered));
	su_log("ok (%.2f s)", su_secs(t0));
	return 0;
}
