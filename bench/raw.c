// SPDX-License-Identifier: MIT
/*
 * The raw cross-core limits (impl=raw): two bare threads pinned to the
 * cpus of the runtime's plan, no runtime, moving struct pn_msg through the
 * very ring code the inboxes use (core/pn_ring.h), with the runtime's
 * default ring size. counting: one-way streaming through one ring, the
 * producer publishing every @publish messages and the consumer releasing
 * every 64 (or when it finds the ring empty). pingpong: round trips over two
 * rings, each side publishing and releasing every message. Both check their
 * own result (the sum of payloads, the echoed sequence numbers).
 */
#include "bench.h"
#include "pn_ring.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RAW_SLOTS 1024 /* the runtime's default ring_slots */

struct raw_ring {
	struct pn_ring ring;
	struct pn_msg slot[RAW_SLOTS];
};

struct raw_pair {
	struct raw_ring *ab; /* producer (or pinger) -> consumer */
	struct raw_ring *ba; /* pingpong's way back */
	const struct bench_cpus *cpus;
	uint64_t n;
	unsigned publish;
	_Atomic int ready;  /* threads that have arrived */
	_Atomic bool abort; /* a thread could not pin: both give up */
	uint64_t t0, t1;
	uint64_t sum;
	bool bad;
	bool brk; /* PINION_BENCH_BREAK=raw: drop one message */
};

static struct raw_ring *raw_ring_new(void)
{
	struct raw_ring *r = aligned_alloc(PN_CACHELINE, sizeof(*r));

	if (r) {
		memset(r, 0, sizeof(*r));
		pn_ring_init(&r->ring, r->slot, RAW_SLOTS);
	}
	return r;
}

/* Both threads are pinned and spinning before either starts the clock. */
static void raw_start(struct raw_pair *p)
{
	atomic_fetch_add_explicit(&p->ready, 1, memory_order_acq_rel);
	while (atomic_load_explicit(&p->ready, memory_order_acquire) < 2)
		;
}

static void *count_producer(void *arg)
{
	struct raw_pair *p = arg;
	struct pn_ring *r = &p->ab->ring;
	struct pn_msg m = {.type = BT_INC, .len = 8};
	struct pn_msg *s;

	raw_start(p);
	p->t0 = pn_now_ns();
	for (uint64_t i = 1; i <= p->n; i++) {
		while (!(s = pn_ring_slot(r)))
			if (pn_ring_unpublished(r)) /* full: show it all */
				pn_ring_publish(r);
		m.ref = i;
		*s = m;
		pn_ring_commit(r);
		if (pn_ring_unpublished(r) >= p->publish)
			pn_ring_publish(r);
	}
	pn_ring_publish(r);
	return NULL;
}

static void *count_consumer(void *arg)
{
	struct raw_pair *p = arg;
	struct pn_ring *r = &p->ab->ring;
	uint64_t got = 0, sum = 0, last = p->brk ? p->n - 1 : p->n;
	struct pn_msg *m;

	raw_start(p);
	while (got < last) {
		m = pn_ring_peek(r);
		if (!m) {
			pn_ring_release(r);
			continue;
		}
		sum += m->ref;
		pn_ring_consume(r);
		if ((++got & 63) == 0)
			pn_ring_release(r);
	}
	pn_ring_release(r);
	p->t1 = pn_now_ns();
	p->sum = sum;
	return NULL;
}

static void *pp_pinger(void *arg)
{
	struct raw_pair *p = arg;
	struct pn_ring *out = &p->ab->ring, *in = &p->ba->ring;
	struct pn_msg m = {.type = BT_PING, .len = 8}, *r;

	raw_start(p);
	p->t0 = pn_now_ns();
	for (uint64_t i = 1; i <= p->n; i++) {
		m.ref = i;
		pn_ring_push(out, &m); /* one in flight: never full */
		pn_ring_publish(out);
		while (!(r = pn_ring_peek(in)))
			;
		if (r->ref != i)
			p->bad = true;
		pn_ring_consume(in);
		pn_ring_release(in);
	}
	p->t1 = pn_now_ns();
	return NULL;
}

static void *pp_ponger(void *arg)
{
	struct raw_pair *p = arg;
	struct pn_ring *in = &p->ab->ring;
	struct pn_ring *out = &p->ba->ring;
	struct pn_msg m = {.type = BT_PONG, .len = 8}, *r;

	raw_start(p);
	for (uint64_t i = 1; i <= p->n; i++) {
		while (!(r = pn_ring_peek(in)))
			;
		m.ref = r->ref + (p->brk && i == p->n / 2);
		pn_ring_consume(in);
		pn_ring_release(in);
		pn_ring_push(out, &m);
		pn_ring_publish(out);
	}
	return NULL;
}

struct raw_thread {
	struct raw_pair *p;
	void *(*fn)(void *);
	int cpu;
	int err;
};

/*
 * Pin, then meet the other thread, then run. A thread that cannot pin
 * says so before the meeting, so that neither side runs alone (and waits
 * forever for the other).
 */
static void *raw_thread_main(void *arg)
{
	struct raw_thread *t = arg;

	t->err = pn_thread_pin(t->p->cpus->topo, t->cpu);
	if (t->err < 0) {
		fprintf(stderr, "pinion-bench: pin to cpu %d: %s\n", t->cpu,
			pn_last_error());
		atomic_store_explicit(&t->p->abort, true, memory_order_relaxed);
	}
	raw_start(t->p);
	if (!atomic_load_explicit(&t->p->abort, memory_order_relaxed))
		t->fn(t->p);
	return NULL;
}

/* Run @a on cpu[0] and @b on cpu[1] at the same time. */
static int raw_two(struct raw_pair *p, void *(*a)(void *), void *(*b)(void *))
{
	struct raw_thread t[2] = {{p, a, p->cpus->cpu[0], 0},
				  {p, b, p->cpus->cpu[1], 0}};
	pthread_t th[2];
	int err = 0;

	for (int i = 0; i < 2; i++) {
		err = pthread_create(&th[i], NULL, raw_thread_main, &t[i]);
		if (err) {
			/* The other thread waits for a partner: be it. */
			atomic_store(&p->abort, true);
			if (i == 1)
				raw_start(p);
			if (i == 1)
				pthread_join(th[0], NULL);
			return -err;
		}
	}
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	return t[0].err < 0 ? t[0].err : t[1].err;
}

static int raw_cross(const char *bench, unsigned publish,
		     const struct bench_cpus *cpus, uint64_t n,
		     struct bench_sample *s)
{
	struct raw_pair p = {.cpus = cpus, .n = n, .publish = publish};
	bool counting = !strcmp(bench, "counting");
	int err;

	p.brk = bench_broken("raw");
	p.ab = raw_ring_new();
	p.ba = raw_ring_new();
	if (!p.ab || !p.ba) {
		err = -ENOMEM;
		goto out;
	}
	atomic_init(&p.ready, 0);
	atomic_init(&p.abort, false);
	if (counting)
		err = raw_two(&p, count_producer, count_consumer);
	else
		err = raw_two(&p, pp_pinger, pp_ponger);
	if (err < 0)
		goto out;
	if (counting ? p.sum != n * (n + 1) / 2 : p.bad) {
		fprintf(stderr, "pinion-bench: %s/cross raw: wrong %s\n", bench,
			counting ? "sum" : "echo");
		err = -EPROTO;
		goto out;
	}
	s->ops = n;
	s->ns = p.t1 - p.t0;
out:
	free(p.ab);
	free(p.ba);
	return err;
}

bool bench_raw_exists(const char *bench, bool cross)
{
	if (cross)
		return !strcmp(bench, "counting") || !strcmp(bench, "pingpong");
	return !strcmp(bench, "counting") || !strcmp(bench, "pingpong") ||
	       !strcmp(bench, "ring") || !strcmp(bench, "forkjoin");
}

struct local_run {
	const char *bench;
	uint64_t n;
	struct bench_sample *s;
	int err;
};

static void *local_main(void *arg)
{
	struct local_run *l = arg;

	l->err = bench_raw_local(l->bench, l->n, l->s);
	return NULL;
}

int bench_raw_run(const char *bench, bool cross, unsigned publish,
		  const struct bench_cpus *cpus, uint64_t n,
		  struct bench_sample *s)
{
	struct local_run l = {bench, n, s, 0};
	int err;

	if (!bench_raw_exists(bench, cross))
		return -ENOENT;
	if (cross)
		return raw_cross(bench, publish ? publish : 64, cpus, n, s);
	err = bench_run_pinned(cpus, cpus->cpu[0], local_main, &l);
	return err < 0 ? err : l.err;
}
