// SPDX-License-Identifier: MIT
/*
 * The single-shard floor (impl=raw, variant=local): the least a one-thread
 * actor system can do per message. One plain FIFO of struct pn_msg (the
 * runtime's message, one cache line), and per message one indirect call to
 * the destination's handler, which may send more. No rings, no atomics, no
 * scheduling: what a Pinion `local` figure is compared with. The same
 * workloads as the Pinion ones (same chunking, same checks), so the ratio
 * is the runtime's overhead over dispatch itself.
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLOOR_SLOTS   4096 /* more than any workload keeps queued */
#define FLOOR_RING    503
#define FLOOR_WORKERS 64

struct floor;
struct floor_actor;
typedef void (*floor_fn)(struct floor *f, struct floor_actor *a,
			 const struct pn_msg *m);

struct floor_actor {
	floor_fn fn;
	uint32_t id;
	uint64_t count;
	uint64_t sink;
};

struct floor {
	struct pn_msg *q;
	uint32_t head, tail;
	struct floor_actor *actors;
	uint64_t n;	/* ops to do */
	uint64_t sent;	/* producer/master progress */
	uint64_t total; /* what the workload's check compares with n */
	bool done;
	bool bad; /* a sequence number or the FIFO went wrong */
	bool brk; /* PINION_BENCH_BREAK=raw */
};

/* Where forkjoin's results go, so that the compiler cannot drop them. */
static volatile uint64_t floor_sink;

static inline void floor_send(struct floor *f, uint32_t to, uint32_t type,
			      uint64_t v)
{
	struct pn_msg *m = &f->q[f->tail & (FLOOR_SLOTS - 1)];

	if (PN_UNLIKELY(f->tail - f->head >= FLOOR_SLOTS - 1)) {
		f->bad = true; /* would overwrite the message being handled */
		return;
	}
	f->tail++;
	m->type = type;
	m->len = sizeof(v);
	m->to = to;
	memcpy(m->data, &v, sizeof(v));
}

/* The dispatch loop: pop, call the handler through its pointer. */
static void floor_run(struct floor *f)
{
	while (f->head != f->tail && !f->bad) {
		const struct pn_msg *m = &f->q[f->head & (FLOOR_SLOTS - 1)];
		struct floor_actor *a = &f->actors[m->to];

		a->fn(f, a, m);
		f->head++;
	}
}

static uint64_t val(const struct pn_msg *m)
{
	uint64_t v;

	memcpy(&v, m->data, sizeof(v));
	return v;
}

/* --- counting: actor 0 produces, actor 1 counts ----------------------- */

static void count_producer(struct floor *f, struct floor_actor *a,
			   const struct pn_msg *m)
{
	unsigned k;

	(void)a;
	(void)m;
	for (k = 0; k < BENCH_CHUNK && f->sent < f->n; k++, f->sent++)
		floor_send(f, 1, BT_INC, 1);
	floor_send(f, f->sent < f->n ? 0 : 1, f->sent < f->n ? BT_CONT : BT_GET,
		   0);
}

static void count_counter(struct floor *f, struct floor_actor *a,
			  const struct pn_msg *m)
{
	if (m->type == BT_INC) {
		a->count += val(m);
		if (PN_UNLIKELY(f->brk) && a->count == f->n / 2) {
			a->count--; /* once: the self-test's lost message */
			f->brk = false;
		}
		return;
	}
	f->total = a->count;
	f->done = true;
}

/* --- pingpong: actor 0 pings, actor 1 pongs --------------------------- */

static void pp_ping(struct floor *f, struct floor_actor *a,
		    const struct pn_msg *m)
{
	uint64_t v = m->type == BT_PONG ? val(m) : 0;

	if (v != a->count) {
		f->bad = true;
		return;
	}
	if (v == f->n) {
		f->total = v;
		f->done = true;
		return;
	}
	a->count = v + 1;
	floor_send(f, 1, BT_PING, v + 1);
}

static void pp_pong(struct floor *f, struct floor_actor *a,
		    const struct pn_msg *m)
{
	(void)a;
	floor_send(f, 0, BT_PONG, val(m));
}

/* --- ring: 503 actors, one token -------------------------------------- */

static void ring_hop(struct floor *f, struct floor_actor *a,
		     const struct pn_msg *m)
{
	uint64_t h = val(m);

	if (h % FLOOR_RING != a->id)
		f->bad = true;
	if (h == f->n) {
		f->total = h;
		f->done = true;
		return;
	}
	floor_send(f, a->id + 1 == FLOOR_RING ? 0 : a->id + 1, BT_TOKEN, h + 1);
}

/* --- forkjoin: actor 0 is the master, 1..64 the workers ------------------ */

static void fj_master(struct floor *f, struct floor_actor *a,
		      const struct pn_msg *m)
{
	unsigned k;

	if (m->type == BT_COUNT) {
		f->total += val(m);
		if (++a->count == FLOOR_WORKERS)
			f->done = true;
		return;
	}
	for (k = 0; k < BENCH_CHUNK && f->sent < f->n; k++, f->sent++)
		floor_send(f, 1 + (uint32_t)(f->sent % FLOOR_WORKERS), BT_WORK,
			   f->sent);
	if (f->sent < f->n) {
		floor_send(f, 0, BT_CONT, 0);
		return;
	}
	for (uint32_t w = 1; w <= FLOOR_WORKERS; w++)
		floor_send(f, w, BT_COLLECT, 0);
}

static void fj_worker(struct floor *f, struct floor_actor *a,
		      const struct pn_msg *m)
{
	if (m->type == BT_WORK) {
		a->sink ^= bench_xorshift32(val(m) | 1);
		a->count++;
		return;
	}
	floor_sink ^= a->sink; /* keeps the computation alive */
	floor_send(f, 0, BT_COUNT, a->count);
}

/* --- running one repetition ------------------------------------------- */

static unsigned floor_setup(struct floor *f, const char *bench)
{
	unsigned n = 2;
	floor_fn a = count_producer, b = count_counter;

	if (!strcmp(bench, "pingpong")) {
		a = pp_ping;
		b = pp_pong;
	} else if (!strcmp(bench, "ring")) {
		n = FLOOR_RING;
		a = b = ring_hop;
	} else if (!strcmp(bench, "forkjoin")) {
		n = 1 + FLOOR_WORKERS;
		a = fj_master;
		b = fj_worker;
	}
	for (unsigned i = 0; i < n; i++) {
		f->actors[i].fn = i ? b : a;
		f->actors[i].id = i;
	}
	return n;
}

int bench_raw_local(const char *bench, uint64_t n, struct bench_sample *s)
{
	struct floor f = {.n = n};
	uint64_t t0, t1;
	int err = 0;

	f.q = aligned_alloc(PN_CACHELINE, FLOOR_SLOTS * sizeof(struct pn_msg));
	f.actors = calloc(FLOOR_RING, sizeof(*f.actors));
	if (!f.q || !f.actors) {
		err = -ENOMEM;
		goto out;
	}
	floor_setup(&f, bench);
	f.brk = bench_broken("raw");
	t0 = pn_now_ns();
	floor_send(&f, 0, !strcmp(bench, "ring") ? BT_TOKEN : BT_KICK, 0);
	floor_run(&f);
	t1 = pn_now_ns();
	if (f.bad || !f.done || f.total != n) {
		fprintf(stderr,
			"pinion-bench: %s/local raw: total %llu, "
			"expected %llu\n",
			bench, (unsigned long long)f.total,
			(unsigned long long)n);
		err = -EPROTO;
		goto out;
	}
	s->ops = n;
	s->ns = t1 - t0;
out:
	free(f.q);
	free(f.actors);
	return err;
}
