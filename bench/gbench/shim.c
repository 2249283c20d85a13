// SPDX-License-Identifier: MIT
/*
 * The C inner loops of pinion-gbench (see shim.h): the inline ring and PID
 * code, the timer wheel (core's internal timers.h: the micro-benchmarks
 * mirror the source tree, as the tests do), and a producer/consumer actor
 * pair on a runtime for local and cross-shard send+dispatch.
 */
#include "shim.h"

#include "pinion.h"
#include "pn_alloc.h"
#include "pn_ring.h"
#include "timers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* --- ring ---------------------------------------------------------------- */

struct gb_ring {
	struct pn_ring ring;
	struct pn_msg *slots;
};

struct gb_ring *gb_ring_create(uint32_t slots)
{
	struct gb_ring *r = aligned_alloc(PN_CACHELINE, sizeof(*r));

	if (!r)
		return NULL;
	r->slots = aligned_alloc(PN_CACHELINE, slots * sizeof(struct pn_msg));
	if (!r->slots || pn_ring_init(&r->ring, r->slots, slots) < 0) {
		free(r->slots);
		free(r);
		return NULL;
	}
	return r;
}

void gb_ring_destroy(struct gb_ring *r)
{
	if (r)
		free(r->slots);
	free(r);
}

uint64_t gb_ring_single(struct gb_ring *gr, uint64_t iters)
{
	struct pn_ring *r = &gr->ring;
	struct pn_msg m = {.type = 1, .len = 8}, *p;
	uint64_t sum = 0;

	for (uint64_t i = 0; i < iters; i++) {
		m.ref = i;
		pn_ring_push(r, &m);
		pn_ring_publish(r);
		p = pn_ring_peek(r);
		sum += p->ref;
		pn_ring_consume(r);
		pn_ring_release(r);
	}
	return sum;
}

uint64_t gb_ring_burst(struct gb_ring *gr, uint64_t iters, unsigned burst)
{
	struct pn_ring *r = &gr->ring;
	struct pn_msg m = {.type = 1, .len = 8}, *p;
	uint64_t sum = 0;

	for (uint64_t i = 0; i < iters; i++) {
		for (unsigned k = 0; k < burst; k++) {
			m.ref = k;
			pn_ring_push(r, &m);
		}
		pn_ring_publish(r);
		for (unsigned k = 0; k < burst; k++) {
			p = pn_ring_peek(r);
			sum += p->ref;
			pn_ring_consume(r);
		}
		pn_ring_release(r);
	}
	return sum;
}

/* --- PIDs ----------------------------------------------------------------- */

struct gb_pids {
	unsigned n;
	uint32_t *gen; /* per slot: the live actor's generation */
	pn_pid *probe; /* PIDs to resolve: 7 of 8 live, 1 of 8 stale */
};

struct gb_pids *gb_pids_create(unsigned nactors)
{
	struct gb_pids *p = calloc(1, sizeof(*p));
	uint64_t x = 88172645463325252ull;

	if (!p)
		return NULL;
	p->n = nactors;
	p->gen = calloc(nactors, sizeof(*p->gen));
	p->probe = calloc(nactors, sizeof(*p->probe));
	if (!p->gen || !p->probe) {
		gb_pids_destroy(p);
		return NULL;
	}
	for (unsigned i = 0; i < nactors; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p->gen[i] = (uint32_t)(x >> 40) | 1;
		p->probe[i] = pn_pid_make(0, (uint32_t)(x % nactors), 0);
	}
	for (unsigned i = 0; i < nactors; i++) {
		uint32_t slot = pn_pid_slot(p->probe[i]);

		p->probe[i] = pn_pid_make(0, slot, p->gen[slot] + (i % 8 == 7));
	}
	return p;
}

void gb_pids_destroy(struct gb_pids *p)
{
	if (!p)
		return;
	free(p->gen);
	free(p->probe);
	free(p);
}

uint64_t gb_pids_resolve(struct gb_pids *p, uint64_t iters)
{
	uint64_t live = 0;
	unsigned j = 0;

	for (uint64_t i = 0; i < iters; i++) {
		pn_pid pid = p->probe[j];
		uint32_t slot = pn_pid_slot(pid);

		live += pn_pid_shard(pid) == 0 && slot < p->n &&
			p->gen[slot] == pn_pid_gen(pid);
		if (++j == p->n)
			j = 0;
	}
	return live;
}

/* --- timers --------------------------------------------------------------- */

struct gb_timers {
	struct pn_arena *arena;
	struct pn__timers *t;
	uint64_t *ids;
	unsigned nids;
};

struct gb_timers *gb_timers_create(void)
{
	struct gb_timers *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	if (pn_arena_create(-1, &g->arena) < 0 ||
	    pn__timers_create(g->arena, pn_now_ns(), 100000, &g->t) < 0) {
		gb_timers_destroy(g);
		return NULL;
	}
	return g;
}

void gb_timers_destroy(struct gb_timers *g)
{
	if (!g)
		return;
	pn__timers_destroy(g->t);
	pn_arena_destroy(g->arena);
	free(g->ids);
	free(g);
}

int gb_timers_arm_cancel(struct gb_timers *g, uint64_t iters)
{
	struct pn_msg m = {.type = 1};
	uint64_t now = pn_now_ns(), id;
	int err;

	for (uint64_t i = 0; i < iters; i++) {
		err = pn__timers_arm(g->t, now, 1000000, 0, &m, &id);
		if (err == 0)
			err = pn__timers_cancel(g->t, id);
		if (err < 0)
			return err;
	}
	return 0;
}

int gb_timers_arm_many(struct gb_timers *g, unsigned n)
{
	struct pn_msg m = {.type = 1};
	uint64_t now = pn_now_ns();
	int err = 0;

	if (g->nids < n) {
		free(g->ids);
		g->ids = malloc(n * sizeof(*g->ids));
		g->nids = g->ids ? n : 0;
		if (!g->ids)
			return -ENOMEM;
	}
	for (unsigned i = 0; i < n && !err; i++)
		err = pn__timers_arm(g->t, now, (i * 7919ull) % 100000000, 0,
				     &m, &g->ids[i]);
	for (unsigned i = 0; i < n && !err; i++)
		err = pn__timers_cancel(g->t, g->ids[i]);
	return err;
}

/* --- send + dispatch on the runtime ------------------------------------- */

#define GB_CHUNK 256
enum { GB_KICK = 1, GB_CONT, GB_MSG };

static struct pn_runtime *gb_rt;

/* Written by the actors, read after pn_runtime_wait() returns. */
struct gb_run {
	uint64_t n;
	uint64_t t0, t1;
	int code;
};

struct gb_producer {
	struct gb_run *run;
	pn_pid to;
	uint64_t sent;
};

struct gb_consumer {
	struct gb_run *run;
	uint64_t got;
};

static int gb_init(struct pn_ctx *ctx, void *state, const void *arg, size_t len)
{
	(void)ctx;
	memcpy(state, arg, len);
	return 0;
}

static int gb_produce(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct gb_producer *p = state;
	unsigned k;

	if (m->type == GB_KICK)
		p->run->t0 = pn_now_ns();
	else if (m->type != GB_CONT && m->type != PN_MSG_WRITABLE)
		return 0;
	for (k = 0; k < GB_CHUNK && p->sent < p->run->n; k++, p->sent++)
		if (pn_send_u64(ctx, p->to, GB_MSG, p->sent) < 0)
			return pn_notify_writable(ctx);
	if (p->sent < p->run->n)
		return pn_send_u64(ctx, pn_self(ctx), GB_CONT, 0) < 0 ? -1 : 0;
	return PN_STOP;
}

static int gb_consume(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct gb_consumer *c = state;

	(void)ctx;
	if (m->type != GB_MSG || ++c->got < c->run->n)
		return 0;
	c->run->t1 = pn_now_ns();
	pn_runtime_notify(gb_rt, c->run->code);
	return PN_STOP;
}

static const struct pn_behaviour gb_producer_b = {
	.name = "gbench-producer",
	.state_size = sizeof(struct gb_producer),
	.init = gb_init,
	.handle = gb_produce,
};

static const struct pn_behaviour gb_consumer_b = {
	.name = "gbench-consumer",
	.state_size = sizeof(struct gb_consumer),
	.init = gb_init,
	.handle = gb_consume,
};

static void gb_rt_stop(void)
{
	pn_runtime_destroy(gb_rt);
	gb_rt = NULL;
}

bool gb_rt_start(void)
{
	if (gb_rt)
		return true;
	if (pn_runtime_create(NULL, &gb_rt) < 0)
		return false;
	if (pn_runtime_start(gb_rt) < 0) {
		pn_runtime_destroy(gb_rt);
		gb_rt = NULL;
		return false;
	}
	atexit(gb_rt_stop);
	return true;
}

unsigned gb_rt_nshards(void)
{
	return gb_rt ? pn_runtime_nshards(gb_rt) : 0;
}

uint64_t gb_rt_send(bool cross, uint64_t n)
{
	static int code;
	struct gb_run run = {.n = n, .code = ++code};
	struct gb_consumer c = {&run, 0};
	struct gb_producer p = {&run, PN_PID_NONE, 0};
	struct pn_spawn_opts so = {.shard = cross ? 1 : 0};
	pn_pid pp;
	int got = 0;

	if (!gb_rt_start() || (cross && gb_rt_nshards() < 2) || n == 0)
		return 0;
	so.arg = &c;
	so.arg_len = sizeof(c);
	if (pn_runtime_spawn(gb_rt, &gb_consumer_b, &so, &p.to) < 0)
		return 0;
	so.shard = 0;
	so.arg = &p;
	so.arg_len = sizeof(p);
	if (pn_runtime_spawn(gb_rt, &gb_producer_b, &so, &pp) < 0 ||
	    pn_runtime_send(gb_rt, pp, GB_KICK, NULL, 0, 1000000000ull) < 0)
		return 0;
	while (got != run.code)
		if (pn_runtime_wait(gb_rt, 30000000000ull, &got) < 0)
			abort(); /* the actors still hold &run: cannot return */
	return run.t1 - run.t0;
}
