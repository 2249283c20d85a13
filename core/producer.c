// SPDX-License-Identifier: MIT
/*
 * External producers: threads outside the runtime that inject messages.
 * Each producer has its own SPSC ring into every shard (a doorbell source
 * of its own), and everything in flight from producers counts against one
 * byte budget (struct pn__budget, DESIGN.md lesson 3) until the receiving
 * shard has handled it. Also the runtime's own mutex-serialised producer
 * behind pn_runtime_send() and pn_runtime_spawn().
 */
#include "core_int.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>

static int producer_rings(struct pn_runtime *rt, struct pn_producer *p)
{
	uint32_t n = rt->cfg.ring_slots;

	p->ring = calloc(rt->nshards, sizeof(*p->ring));
	if (!p->ring)
		return pn__error(-ENOMEM, "no memory for a producer");
	for (unsigned d = 0; d < rt->nshards; d++) {
		struct pn_ring *r = aligned_alloc(PN_CACHELINE, sizeof(*r));
		struct pn_msg *slots =
			aligned_alloc(PN_CACHELINE, n * sizeof(*slots));

		if (!r || !slots) {
			free(r);
			free(slots);
			return pn__error(-ENOMEM, "no memory for a producer");
		}
		pn_ring_init(r, slots, n);
		p->ring[d] = r;
		/* Release: pairs with the acquire in in_ring() (shard.c):
		 * the ring is initialised before a consumer can see it. */
		atomic_store_explicit(&rt->shard[d]->in[rt->nshards + p->index],
				      r, memory_order_release);
	}
	return 0;
}

int pn_producer_create(struct pn_runtime *rt, struct pn_producer **out)
{
	struct pn_producer *p = NULL;
	int err = 0;

	if (!rt->running ||
	    atomic_load_explicit(&rt->closed, memory_order_acquire))
		return pn__error(-ESHUTDOWN, "runtime not running");
	pthread_mutex_lock(&rt->prod_mu);
	for (unsigned i = 0; i < rt->cfg.max_producers && !p; i++)
		if (!rt->producers[i].in_use)
			p = &rt->producers[i];
	if (!p) {
		err = pn__error(-EMFILE,
				"all %u producers are in use "
				"(max_producers)",
				rt->cfg.max_producers);
	} else {
		p->rt = rt;
		p->index = (unsigned)(p - rt->producers);
		/* A producer's rings outlive it: a later one reuses them,
		 * so a consumer never reads a freed ring. */
		if (!p->ring)
			err = producer_rings(rt, p);
		if (!err)
			p->in_use = true;
		/* Release: pairs with the acquire in poll_refresh()
		 * (shard.c): shards see the new rings in their poll lists. */
		atomic_fetch_add_explicit(&rt->prod_gen, 1,
					  memory_order_release);
	}
	pthread_mutex_unlock(&rt->prod_mu);
	if (!err)
		*out = p;
	return err;
}

void pn_producer_destroy(struct pn_producer *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->rt->prod_mu);
	p->in_use = false;
	pthread_mutex_unlock(&p->rt->prod_mu);
}

/* Free every producer's rings (destroy: all shard threads are gone). */
void pn__producers_free(struct pn_runtime *rt)
{
	for (unsigned i = 0; rt->producers && i < rt->cfg.max_producers; i++) {
		struct pn_producer *p = &rt->producers[i];

		for (unsigned d = 0; p->ring && d < rt->nshards; d++) {
			if (!p->ring[d])
				continue;
			while (pn_ring_peek(p->ring[d])) { /* never handled */
				struct pn_msg *m = pn_ring_peek(p->ring[d]);

				if (m->len > PN_MSG_INLINE)
					free((char *)m->ptr - 16);
				pn_ring_consume(p->ring[d]);
			}
			free(p->ring[d]->cslot);
			free(p->ring[d]);
		}
		free(p->ring);
	}
}

/* Wait for a free slot in @r until @deadline (0: do not wait). */
static struct pn_msg *ring_wait(struct pn_ring *r, uint64_t deadline)
{
	struct pn_msg *m;
	unsigned spins = 0;

	while (!(m = pn_ring_slot(r))) {
		if (!deadline || pn_now_ns() >= deadline)
			return NULL;
		if (++spins < 64)
			pn__cpu_relax();
		else
			sched_yield();
	}
	return m;
}

static int inject(struct pn_producer *p, pn_pid to, uint32_t type,
		  const void *data, size_t len, uint64_t timeout_ns, bool block)
{
	struct pn_runtime *rt = p->rt;
	unsigned dst = pn_pid_shard(to);
	uint64_t deadline = block ? pn_now_ns() + timeout_ns : 0;
	struct pn_msg *m;
	void *buf = NULL;
	int err;

	if (to == PN_PID_NONE || dst >= rt->nshards)
		return pn__error(-EINVAL, "inject to invalid pid %#llx",
				 (unsigned long long)to);
	if (len > PN_MSG_MAX)
		return pn__error(-EMSGSIZE,
				 "payload of %zu bytes is over "
				 "PN_MSG_MAX",
				 len);
	if (atomic_load_explicit(&rt->closed, memory_order_acquire))
		return pn__error(-ESHUTDOWN, "runtime is shutting down");
	err = block ? pn__budget_acquire(&rt->budget, len, timeout_ns)
		    : pn__budget_try_acquire(&rt->budget, len);
	if (err < 0)
		return pn__error(err, "inject budget (%llu bytes): %s",
				 (unsigned long long)rt->cfg.inject_bytes,
				 err == -EAGAIN	     ? "full"
				 : err == -ETIMEDOUT ? "no room in time"
				 : err == -EMSGSIZE ? "message larger than the "
						      "whole budget"
						    : "closed");
	if (len > PN_MSG_INLINE && !(buf = pn__buf_malloc(len))) {
		pn__budget_release(&rt->budget, len);
		return pn__error(-ENOMEM, "no memory for a %zu-byte payload",
				 len);
	}
	m = ring_wait(p->ring[dst], deadline);
	if (!m) {
		pn__budget_release(&rt->budget, len);
		free(buf ? (char *)buf - 16 : NULL);
		return pn__error(block ? -ETIMEDOUT : -EAGAIN,
				 "the ring to "
				 "shard %u is full",
				 dst);
	}
	*m = (struct pn_msg){.type = type, .len = (uint32_t)len, .to = to};
	if (buf) {
		memcpy(buf, data, len);
		m->ptr = buf;
	} else if (len) {
		memcpy(m->data, data, len);
	}
	pn_ring_commit(p->ring[dst]);
	pn_ring_publish(p->ring[dst]);
	pn__source_publish(rt, rt->shard[dst], rt->nshards + p->index, NULL);
	return 0;
}

int pn_inject_try(struct pn_producer *p, pn_pid to, uint32_t type,
		  const void *data, size_t len)
{
	if (type >= PN_MSG_SYS)
		return pn__error(-EINVAL, "message type %#x is reserved", type);
	return inject(p, to, type, data, len, 0, false);
}

int pn_inject(struct pn_producer *p, pn_pid to, uint32_t type, const void *data,
	      size_t len, uint64_t timeout_ns)
{
	if (type >= PN_MSG_SYS)
		return pn__error(-EINVAL, "message type %#x is reserved", type);
	return inject(p, to, type, data, len, timeout_ns, true);
}

static int producer_spawn(struct pn_producer *p, const struct pn_behaviour *b,
			  const struct pn_spawn_opts *o, unsigned target,
			  pn_pid *pid)
{
	unsigned char buf[PN__SPAWN_HDR + PN_SPAWN_ARG_MAX];
	int err;

	if (o->flags & (PN_SPAWN_MONITOR | PN_SPAWN_LINK))
		return pn__error(-EINVAL, "spawn from outside: no MONITOR or "
					  "LINK (there is no parent actor)");
	if ((err = pn__spawn_prepare(p->rt, b, o, target, pid)) < 0)
		return err;
	err = inject(p, *pid, PN__MSG_SPAWN, buf,
		     pn__spawn_payload(buf, b, o, 0), 1000000000ull, true);
	if (err < 0)
		pn__slot_unreserve(p->rt->shard[target], *pid);
	return err;
}

int pn_producer_spawn(struct pn_producer *p, const struct pn_behaviour *b,
		      const struct pn_spawn_opts *opts, pn_pid *pid)
{
	struct pn_spawn_opts o =
		opts ? *opts : (struct pn_spawn_opts){.shard = PN_SHARD_ANY};
	unsigned target =
		pn__spawn_target(p->rt, o.shard, p->index % p->rt->napp);

	return producer_spawn(p, b, &o, target, pid);
}

/* The runtime's own producer, created on first use (under own_mu). */
static int own_producer(struct pn_runtime *rt)
{
	return rt->own ? 0 : pn_producer_create(rt, &rt->own);
}

int pn_runtime_send(struct pn_runtime *rt, pn_pid to, uint32_t type,
		    const void *data, size_t len, uint64_t timeout_ns)
{
	int err;

	pthread_mutex_lock(&rt->own_mu);
	err = own_producer(rt);
	if (!err)
		err = pn_inject(rt->own, to, type, data, len, timeout_ns);
	pthread_mutex_unlock(&rt->own_mu);
	return err;
}

int pn_runtime_spawn(struct pn_runtime *rt, const struct pn_behaviour *b,
		     const struct pn_spawn_opts *opts, pn_pid *pid)
{
	struct pn_spawn_opts o =
		opts ? *opts : (struct pn_spawn_opts){.shard = PN_SHARD_ANY};
	int err;

	pthread_mutex_lock(&rt->own_mu);
	err = own_producer(rt);
	if (!err) {
		unsigned target =
			pn__spawn_target(rt, o.shard, rt->rr++ % rt->napp);

		err = producer_spawn(rt->own, b, &o, target, pid);
	}
	pthread_mutex_unlock(&rt->own_mu);
	return err;
}
