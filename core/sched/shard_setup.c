// SPDX-License-Identifier: MIT
/*
 * A shard's life outside its loop: the thread's start (pin, then allocate
 * everything the shard owns from its own NUMA-local arena, then its
 * io_uring, which SINGLE_ISSUER ties to this thread), the start barrier
 * with the runtime, and freeing it all once the thread has been joined.
 */
#include "sched_int.h"

#include <errno.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

static int ring_create(struct pn_shard *s, struct pn_ring **out)
{
	uint32_t n = s->rt->cfg.ring_slots;
	struct pn_ring *r;
	struct pn_msg *slots;

	r = pn_arena_alloc_aligned(s->arena, sizeof(*r), PN_CACHELINE);
	slots = pn_arena_alloc_aligned(s->arena, n * sizeof(*slots),
				       PN_CACHELINE);
	if (!r || !slots) {
		pn_arena_free_aligned(s->arena, r, sizeof(*r), PN_CACHELINE);
		pn_arena_free_aligned(s->arena, slots, n * sizeof(*slots),
				      PN_CACHELINE);
		return pn__error(-ENOMEM, "no memory for an inbox ring");
	}
	pn_ring_init(r, slots, n);
	*out = r;
	return 0;
}

static void *zalloc(struct pn_shard *s, size_t n, int *err)
{
	void *p = pn_arena_alloc_aligned(s->arena, n ? n : 1, PN_CACHELINE);

	if (!p) {
		*err = pn__error(-ENOMEM, "shard %u: out of memory", s->id);
		return NULL;
	}
	memset(p, 0, n);
	return p;
}

/* A zero-filled table of max_slots entries of @size bytes, touched
 * lazily (pages appear as slots are first used); NULL, with the error
 * set, when the address space is not there. */
static void *lazy_map(struct pn_shard *s, size_t size, const char *what)
{
	void *p =
		mmap(NULL, (size_t)s->max_slots * size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p != MAP_FAILED)
		return p;
	pn__error(-ENOMEM, "shard %u: cannot map the %s (%u entries)", s->id,
		  what, s->max_slots);
	return NULL;
}

static int tables_create(struct pn_shard *s)
{
	unsigned nw = (s->nsources + 63) / 64;
	int err = 0;

	s->bell = zalloc(s, nw * sizeof(*s->bell), &err);
	s->more = zalloc(s, nw * sizeof(*s->more), &err);
	s->poll = zalloc(s, s->nsources * sizeof(*s->poll), &err);
	s->in = zalloc(s, s->nsources * sizeof(*s->in), &err);
	s->out = zalloc(s, s->nshards * sizeof(*s->out), &err);
	s->dirty = zalloc(s, s->nshards * sizeof(*s->dirty), &err);
	s->wake = zalloc(s, s->nshards * sizeof(*s->wake), &err);
	s->batches = zalloc(s, s->nshards * PN__NCLASSES * sizeof(*s->batches),
			    &err);
	if (err)
		return err;
	for (unsigned src = 0; src < s->nshards; src++) {
		struct pn_ring *r;

		if (src == s->id)
			continue;
		if ((err = ring_create(s, &r)) < 0)
			return err;
		atomic_init(&s->in[src], r);
	}
	if (!(s->slots = lazy_map(s, sizeof(*s->slots), "actor slots")) ||
	    !(s->where = lazy_map(s, sizeof(*s->where), "location table")))
		return -ENOMEM;
	return 0;
}

static int uring_create(struct pn_shard *s)
{
	static const unsigned tries[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			IORING_SETUP_TASKRUN_FLAG,
		IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
		0,
	};
	int err = -EINVAL;

	/* Fall back flag set by flag set on kernels that lack them. */
	for (unsigned i = 0; i < 3 && err == -EINVAL; i++) {
		struct io_uring_params p = {.flags = tries[i]};

		err = io_uring_queue_init_params(256, &s->ring, &p);
	}
	if (err < 0)
		return pn__error(err, "shard %u: io_uring_queue_init: %s",
				 s->id, strerror(-err));
	s->ring_ok = true;
	s->ring_fd = s->ring.ring_fd;
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->efd < 0)
		return pn__error(-errno, "shard %u: eventfd: %s", s->id,
				 strerror(errno));
	return 0;
}

int pn__shard_setup(struct pn_shard *s)
{
	struct pn_runtime *rt = s->rt;
	int err;

	if (!rt->cfg.no_pin && (err = pn_thread_pin(rt->topo, s->cpu)) < 0)
		return err;
	err = pn_arena_create(s->id < rt->napp
				      ? rt->plan->shard[s->id].numa_node
				      : rt->plan->supervisor_numa_node,
			      &s->arena);
	if (err < 0)
		return err;
	if ((err = tables_create(s)) < 0)
		return err;
	err = pn_pool_create(s->arena, sizeof(struct pn__actor), 0,
			     &s->actor_pool);
	if (err < 0)
		return err;
	err = pn__timers_create(s->arena, pn__now(s->rt), rt->cfg.timer_tick_ns,
				&s->timers);
	if (err < 0)
		return err;
	if ((err = pn__features_shard_setup(s)) < 0)
		return err;
	return uring_create(s);
}

void *pn__shard_main(void *arg)
{
	struct pn_shard *s = arg;
	struct pn_runtime *rt = s->rt;
	int err = pn__shard_setup(s), go;

	pthread_mutex_lock(&rt->ctl_mu);
	if (err < 0 && !rt->start_err) {
		rt->start_err = err;
		snprintf(rt->start_msg, sizeof(rt->start_msg), "%s",
			 pn_last_error());
	}
	rt->started++;
	pthread_cond_broadcast(&rt->ctl_cv);
	while ((go = atomic_load_explicit(&rt->go, memory_order_acquire)) == 0)
		pthread_cond_wait(&rt->ctl_cv, &rt->ctl_mu);
	pthread_mutex_unlock(&rt->ctl_mu);
	if (go > 0) {
		pn__self_shard = s;
		pn__features_shard_enter(s);
		if (rt->has_poller && rt->poller.attach)
			rt->poller.attach(pn__ctx(s), rt->poller.arg);
		pn__shard_loop(s);
		pn__features_shard_leave(s);
		pn__self_shard = NULL;
	}
	return NULL;
}

/* Free everything the shard owns. Its thread has exited (or never ran). */
void pn__shard_free(struct pn_shard *s)
{
	if (s->ring_ok)
		io_uring_queue_exit(&s->ring);
	if (s->efd > 0)
		close(s->efd);
	if (s->arena) {
		pn__features_shard_free(s);
		pn__fifo_fini(&s->local, s->arena);
		pn__fifo_fini(&s->early, s->arena);
		pn__pids_fini(&s->writable, s->arena);
		pn__htab_fini(&s->direct, s->arena);
		for (unsigned d = 0; s->out && d < s->nshards; d++) {
			pn__fifo_fini(&s->out[d].overflow, s->arena);
			pn__fifo_fini(&s->out[d].fwdq, s->arena);
		}
		/* Batches of remote frees are dropped, not flushed: their
		 * pools are being destroyed with all their chunks. */
		pn__timers_destroy(s->timers);
		for (unsigned c = 0; c < PN__NCLASSES; c++)
			pn_pool_destroy(s->buf_pool[c]);
		pn_pool_destroy(s->actor_pool);
		pn__shard_free_tables(s);
		pn_arena_destroy(s->arena);
	}
	if (s->slots)
		munmap(s->slots, (size_t)s->max_slots * sizeof(*s->slots));
	if (s->where)
		munmap(s->where, (size_t)s->max_slots * sizeof(*s->where));
}

void pn__shard_free_tables(struct pn_shard *s)
{
	uint32_t n = s->rt->cfg.ring_slots;
	unsigned nw = (s->nsources + 63) / 64;

	for (unsigned src = 0; s->in && src < s->nshards; src++) {
		struct pn_ring *r =
			atomic_load_explicit(&s->in[src], memory_order_relaxed);

		if (!r)
			continue;
		pn_arena_free_aligned(s->arena, r->cslot,
				      n * sizeof(struct pn_msg), PN_CACHELINE);
		pn_arena_free_aligned(s->arena, r, sizeof(*r), PN_CACHELINE);
	}
	pn_arena_free_aligned(s->arena, s->bell, nw * sizeof(*s->bell),
			      PN_CACHELINE);
	pn_arena_free_aligned(s->arena, s->more, nw * sizeof(*s->more),
			      PN_CACHELINE);
	pn_arena_free_aligned(s->arena, s->poll, s->nsources * sizeof(*s->poll),
			      PN_CACHELINE);
	pn_arena_free_aligned(s->arena, s->in, s->nsources * sizeof(*s->in),
			      PN_CACHELINE);
	pn_arena_free_aligned(s->arena, s->out, s->nshards * sizeof(*s->out),
			      PN_CACHELINE);
	pn_arena_free_aligned(s->arena, s->dirty,
			      s->nshards * sizeof(*s->dirty), PN_CACHELINE);
	pn_arena_free_aligned(s->arena, s->wake, s->nshards * sizeof(*s->wake),
			      PN_CACHELINE);
	pn_arena_free_aligned(s->arena, s->batches,
			      s->nshards * PN__NCLASSES * sizeof(*s->batches),
			      PN_CACHELINE);
}
