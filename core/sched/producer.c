// SPDX-License-Identifier: MIT
/*
 * External input: threads outside the runtime that inject messages, and
 * the gate every external call passes so that shutdown can close it.
 *
 * Producers. Each has its own SPSC ring into every shard (a doorbell
 * source of its own), and everything in flight from producers counts
 * against one byte budget (struct pn__budget: a producer that outruns
 * the shards blocks instead of growing memory without bound) until the
 * receiving shard has handled it. The runtime's own producer, behind
 * pn_runtime_send(), pn_runtime_spawn() and pn_runtime_migrate(), is one
 * more (mutex-serialised) beyond max_producers.
 *
 * The gate. An external call marks itself inside (a producer's busy word,
 * or the shared ext_inside count for calls without a producer) and then
 * reads the runtime's phase; the input stage of shutdown stores the phase
 * CLOSED, passes the heavy barrier and then waits for every mark to clear:
 *
 *   caller                                 closer (pn__gate_close)
 *   busy = 1 (relaxed)                     phase = CLOSED (relaxed)
 *   compiler barrier                       fence; wake every blocked caller
 *   phase == RUNNING ? go on : leave       wait for the woken to leave
 *                                          membarrier()  (heavy barrier)
 *                                          wait until every busy == 0
 *
 * The store-buffering shape of park/wake (shard.c), with the same
 * asymmetric barrier: either the caller's phase load sees CLOSED, or the
 * closer's load of busy sees 1 and it waits. So once the gate is empty no
 * call that got in is still publishing, and none gets in afterwards: the
 * drain stage reads final producer counts, and pn_runtime_destroy() never
 * frees memory a caller still uses. A caller leaving a closed gate clears
 * its mark under ctl_mu and broadcasts ctl_cv; one that read RUNNING just
 * before the close clears it without a word (its store is its last touch
 * of the runtime), which the closer finds on its next look (it never
 * sleeps more than GATE_POLL_NS at a time).
 *
 * Blocked callers are released by the closer: budget waiters by closing
 * the budget, ring-room waiters through the ring's waiter word (a futex),
 * pn_runtime_wait() and pn_supervisor_start() through their condition
 * variables. Each of those waits rechecks the phase after waking.
 */
#include "sched_int.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define GATE_POLL_NS 100000ull	 /* the closer's longest sleep */
#define ROOM_NAP_NS  10000000ull /* a ring-room sleep's longest slice */
#define ROOM_SPINS   64		 /* pause before sleeping on a full ring */

/* --- the gate ----------------------------------------------------------- */

/* The caller's store of its mark must not pass its load of the phase:
 * the compiler is stopped here, the CPU by the closer's membarrier;
 * without membarrier both sides fence (pn__heavy_barrier). */
static inline void gate_order(const struct pn_runtime *rt)
{
	pn__dekker_order(rt->fenced);
}

static inline int phase(const struct pn_runtime *rt)
{
	/* Relaxed: the gate's handshake orders it (see the file comment);
	 * nothing is published through the phase itself. */
	return atomic_load_explicit(&rt->phase, memory_order_relaxed);
}

/* Leave: clear @mark (@shared: a count) as the call's last touch of the
 * runtime, unless the gate is closed, when the closer may be asleep. */
void pn__gate_leave(struct pn_runtime *rt, _Atomic uint32_t *mark, bool shared)
{
	bool closed = phase(rt) == PN__RT_CLOSED;

	if (closed)
		pthread_mutex_lock(&rt->ctl_mu);
	/* Release: pairs with the closer's acquire in gate_inside(), so
	 * what the call did (a published message and its count) happens
	 * before the closer goes on. */
	if (shared)
		atomic_fetch_sub_explicit(mark, 1, memory_order_release);
	else
		atomic_store_explicit(mark, 0, memory_order_release);
	if (closed) {
		pthread_cond_broadcast(&rt->ctl_cv);
		pthread_mutex_unlock(&rt->ctl_mu);
	}
}

/*
 * Enter: mark the call inside, then look at the phase. Returns 0, or
 * -ESHUTDOWN (the mark already cleared) once the runtime is closed or
 * before it runs, with pn_last_error() naming @what. @any_phase: enter
 * whatever the phase (pn_runtime_wait() still hands out queued codes).
 */
int pn__gate_enter(struct pn_runtime *rt, _Atomic uint32_t *mark, bool shared,
		   bool any_phase, const char *what)
{
	int ph;

	if (shared)
		atomic_fetch_add_explicit(mark, 1, memory_order_relaxed);
	else
		atomic_store_explicit(mark, 1, memory_order_relaxed);
	gate_order(rt);
	ph = phase(rt);
	if (PN_LIKELY(ph == PN__RT_RUNNING || any_phase))
		return 0;
	pn__gate_leave(rt, mark, shared);
	return pn__error(-ESHUTDOWN, "%s: the runtime %s", what,
			 ph == PN__RT_CREATED
				 ? "is not started"
				 : "is shut down or shutting down");
}

/* Calls inside the gate now (acquire: see pn__gate_leave). */
static unsigned gate_inside(struct pn_runtime *rt)
{
	unsigned n =
		atomic_load_explicit(&rt->ext_inside, memory_order_acquire);

	for (unsigned i = 0; i <= rt->cfg.max_producers; i++)
		n += atomic_load_explicit(&rt->producers[i].busy,
					  memory_order_acquire);
	return n;
}

/* Wake the external thread asleep on @w (FUTEX_WAIT in ring_wait()). */
void pn__futex_wake(_Atomic uint32_t *w)
{
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL,
		NULL, 0);
}

/* Wake every external thread asleep on a full ring (the closer). Under
 * prod_mu: a producer being created inside the gate sets its rings up
 * under it (p->ring is complete whenever it is not NULL). */
static void wake_room_waiters(struct pn_runtime *rt)
{
	pthread_mutex_lock(&rt->prod_mu);
	for (unsigned i = 0; i <= rt->cfg.max_producers; i++) {
		struct pn_producer *p = &rt->producers[i];

		for (unsigned d = 0; p->ring && d < rt->nshards; d++)
			if (atomic_exchange_explicit(&p->ring[d]->waiter, 0,
						     memory_order_relaxed))
				pn__futex_wake(&p->ring[d]->waiter);
	}
	pthread_mutex_unlock(&rt->prod_mu);
}

/*
 * Close the gate (shutdown's input stage; the controlling thread): no
 * external call gets in from now on, every blocked one is woken, and the
 * calls already inside are waited for until @until. Returns how many are
 * still inside then (0: the gate is empty).
 */
/* Wait under ctl_mu until no mark of a call inside is seen or @until;
 * returns how many are still seen. Callers leaving a closed gate
 * broadcast ctl_cv; one that clears its mark without a word is found on
 * the next look, GATE_POLL_NS later at most. */
static unsigned gate_wait(struct pn_runtime *rt, uint64_t until)
{
	unsigned left;

	pthread_mutex_lock(&rt->ctl_mu);
	while ((left = gate_inside(rt)) != 0) {
		uint64_t now = pn_now_ns(), t;
		struct timespec ts;

		if (now >= until)
			break;
		t = until - now < GATE_POLL_NS ? until : now + GATE_POLL_NS;
		ts = (struct timespec){.tv_sec = (time_t)(t / 1000000000u),
				       .tv_nsec = (long)(t % 1000000000u)};
		pthread_cond_timedwait(&rt->ctl_cv, &rt->ctl_mu, &ts);
	}
	pthread_mutex_unlock(&rt->ctl_mu);
	return left;
}

unsigned pn__gate_close(struct pn_runtime *rt, uint64_t until)
{
	atomic_store_explicit(&rt->phase, PN__RT_CLOSED, memory_order_relaxed);
	/* Wake the sleepers before the heavy barrier: they do not need it,
	 * and it can hold this CPU for milliseconds on a VM (an IPI to a
	 * preempted vCPU) while a woken caller waits to run on it. A
	 * ring-room waiter stores its tag, passes its own heavy barrier,
	 * then loads the phase; this fence between our phase store and the
	 * tag loads in wake_room_waiters() completes that Dekker pair
	 * (pairs with the barrier in ring_wait()). The budget, the wait
	 * queue and the supervisor are woken under their mutexes, under
	 * which their waiters read closed or the phase. */
	atomic_thread_fence(memory_order_seq_cst);
	pn__budget_close(&rt->budget);
	wake_room_waiters(rt);
	pthread_mutex_lock(&rt->waitq.mu);
	pthread_cond_broadcast(&rt->waitq.cv);
	pthread_mutex_unlock(&rt->waitq.mu);
	pn__features_close(rt); /* what the features keep waiting */
	/* Let the woken leave first (their marks are visible: each passed a
	 * barrier or a lock since it set it). */
	gate_wait(rt, until);
	/* Now the gate's own handshake: our phase store, then the barrier,
	 * then the mark loads in gate_inside() (pairs with gate_order() in
	 * every caller), which alone make an empty gate final. */
	pn__heavy_barrier(rt);
	return gate_wait(rt, until);
}

/* pn_runtime_destroy(): wait, without a limit, for the calls inside to
 * leave (a closed gate releases every blocked call at once). */
void pn__gate_drain(struct pn_runtime *rt)
{
	if (!rt->producers)
		return;
	while (gate_inside(rt) != 0) {
		struct timespec nap = {.tv_nsec = (long)GATE_POLL_NS};

		nanosleep(&nap, NULL);
	}
}

/* --- producers ---------------------------------------------------------- */

static void rings_free(struct pn_ring **ring, unsigned n)
{
	for (unsigned d = 0; ring && d < n; d++) {
		if (ring[d])
			free(ring[d]->cslot);
		free(ring[d]);
	}
	free(ring);
}

/* Every ring of @p, all made before any is published: on -ENOMEM nothing
 * was, and p->ring stays NULL (a later create tries again). Under
 * prod_mu. */
static int producer_rings(struct pn_runtime *rt, struct pn_producer *p)
{
	uint32_t n = rt->cfg.ring_slots;
	struct pn_ring **ring = calloc(rt->nshards, sizeof(*ring));

	if (!ring)
		return pn__error(-ENOMEM, "no memory for a producer");
	for (unsigned d = 0; d < rt->nshards; d++) {
		struct pn_ring *r = aligned_alloc(PN_CACHELINE, sizeof(*r));
		struct pn_msg *slots =
			aligned_alloc(PN_CACHELINE, n * sizeof(*slots));

		if (!r || !slots) {
			free(r);
			free(slots);
			rings_free(ring, rt->nshards);
			return pn__error(-ENOMEM, "no memory for a producer");
		}
		pn_ring_init(r, slots, n);
		ring[d] = r;
	}
	for (unsigned d = 0; d < rt->nshards; d++)
		/* Release: pairs with the acquire in in_ring() (shard.c):
		 * the ring is initialised before a consumer can see it. */
		atomic_store_explicit(&rt->shard[d]->in[rt->nshards + p->index],
				      ring[d], memory_order_release);
	p->ring = ring;
	return 0;
}

/* Give @p its rings if it has none yet (under prod_mu). A producer's rings
 * outlive it: a later one reuses them, so no consumer reads a freed ring. */
static int producer_setup(struct pn_runtime *rt, struct pn_producer *p)
{
	int err = 0;

	p->rt = rt;
	p->index = (unsigned)(p - rt->producers);
	if (!p->ring && (err = producer_rings(rt, p)) == 0)
		/* Release: pairs with the acquire in poll_refresh()
		 * (shard.c): shards see the new rings in their poll lists. */
		atomic_fetch_add_explicit(&rt->prod_gen, 1,
					  memory_order_release);
	return err;
}

int pn_producer_create(struct pn_runtime *rt, struct pn_producer **out)
{
	struct pn_producer *p = NULL;
	int err;

	if (!rt || !out)
		return pn__error(-EINVAL, "pn_producer_create: NULL argument");
	if ((err = pn__gate_enter(rt, &rt->ext_inside, true, false,
				  "pn_producer_create")) < 0)
		return err;
	pthread_mutex_lock(&rt->prod_mu);
	for (unsigned i = 0; i < rt->cfg.max_producers && !p; i++)
		if (!rt->producers[i].in_use)
			p = &rt->producers[i];
	if (!p)
		err = pn__error(-EMFILE,
				"all %u producers are in use "
				"(max_producers)",
				rt->cfg.max_producers);
	else if ((err = producer_setup(rt, p)) == 0)
		p->in_use = true;
	pthread_mutex_unlock(&rt->prod_mu);
	pn__gate_leave(rt, &rt->ext_inside, true);
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

/* Free every producer's rings (destroy: every shard thread is gone and
 * shutdown's join stage has dead-lettered what they held). */
void pn__producers_free(struct pn_runtime *rt)
{
	for (unsigned i = 0; rt->producers && i <= rt->cfg.max_producers; i++) {
		struct pn_producer *p = &rt->producers[i];

		for (unsigned d = 0; p->ring && d < rt->nshards; d++) {
			struct pn_msg *m;

			/* Left only by a runtime whose shard could not be
			 * swept (never, once destroy gets here): free their
			 * payloads all the same. */
			while ((m = pn_ring_peek(p->ring[d])) != NULL) {
				if (m->len > PN_MSG_INLINE)
					pn__buf_free_malloc(m->ptr);
				pn_ring_consume(p->ring[d]);
			}
		}
		rings_free(p->ring, rt->nshards);
	}
}

/*
 * A free slot in @r, waiting until @deadline (0: do not wait). The wait
 * spins briefly, then sleeps on the ring's waiter word: set it, pass the
 * heavy barrier, look at the ring once more, sleep. The consuming shard,
 * after publishing its head, exchanges the word back and wakes us (room
 * check in shard.c): the release-then-recheck handshake of parking, in
 * the other direction. Returns 0 and *@out, -ETIMEDOUT, or -ESHUTDOWN
 * (the gate closed; the closer wakes sleepers).
 */
static int ring_wait(struct pn_runtime *rt, struct pn_ring *r,
		     uint64_t deadline, struct pn_msg **out)
{
	for (unsigned spins = 0;; spins++) {
		struct pn_msg *m = pn_ring_slot(r);
		uint64_t now, nap;
		struct timespec ts;

		if (m) {
			*out = m;
			return 0;
		}
		if (phase(rt) != PN__RT_RUNNING)
			return -ESHUTDOWN;
		if (!deadline || (now = pn_now_ns()) >= deadline)
			return -ETIMEDOUT;
		if (spins < ROOM_SPINS) {
			pn__cpu_relax();
			continue;
		}
		atomic_store_explicit(&r->waiter, PN__ROOM_EXTERNAL,
				      memory_order_relaxed);
		pn__heavy_barrier(rt); /* pairs with room_check() (shard.c) */
		if (pn_ring_slot(r) || phase(rt) != PN__RT_RUNNING) {
			atomic_store_explicit(&r->waiter, 0,
					      memory_order_relaxed);
			continue;
		}
		nap = deadline - now < ROOM_NAP_NS ? deadline - now
						   : ROOM_NAP_NS;
		ts = (struct timespec){.tv_sec = (time_t)(nap / 1000000000u),
				       .tv_nsec = (long)(nap % 1000000000u)};
		/* Sleeps only while the word still holds our tag. */
		syscall(SYS_futex, (uint32_t *)&r->waiter, FUTEX_WAIT_PRIVATE,
			PN__ROOM_EXTERNAL, &ts, NULL, 0);
	}
}

static const char *budget_why(int err)
{
	switch (err) {
	case -EAGAIN:
		return "full";
	case -ETIMEDOUT:
		return "no room in time";
	case -EMSGSIZE:
		return "message larger than the whole budget";
	default:
		return "closed: the runtime is shutting down";
	}
}

/*
 * Inject one message through @p, inside the gate: take its bytes from the
 * budget, a slot in the ring to its shard (each wait bounded by the one
 * deadline, and released by shutdown), then publish it. Any type: the
 * public calls check theirs.
 */
static int inject(struct pn_producer *p, pn_pid to, uint32_t type,
		  const void *data, size_t len, uint64_t timeout_ns, bool block)
{
	struct pn_runtime *rt = p->rt;
	unsigned dst = pn_pid_shard(to);
	uint64_t deadline = block ? pn_deadline_ns(pn_now_ns(), timeout_ns) : 0;
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
	if (!data && len)
		return pn__error(-EINVAL, "inject: %zu-byte payload at NULL",
				 len);
	err = block ? pn__budget_acquire(&rt->budget, len, timeout_ns)
		    : pn__budget_try_acquire(&rt->budget, len);
	if (err < 0)
		return pn__error(err, "inject budget (%llu bytes): %s",
				 (unsigned long long)rt->cfg.inject_bytes,
				 budget_why(err));
	if (len > PN_MSG_INLINE && !(buf = pn__buf_malloc(len))) {
		pn__budget_release(&rt->budget, len);
		return pn__error(-ENOMEM, "no memory for a %zu-byte payload",
				 len);
	}
	if ((err = ring_wait(rt, p->ring[dst], deadline, &m)) < 0) {
		pn__budget_release(&rt->budget, len);
		pn__buf_free_malloc(buf);
		if (err == -ETIMEDOUT && !block)
			err = -EAGAIN;
		return pn__error(err, "the ring to shard %u is %s", dst,
				 err == -ESHUTDOWN ? "closed: the runtime is "
						     "shutting down"
						   : "full");
	}
	*m = (struct pn_msg){.type = type, .len = (uint32_t)len, .to = to};
	if (buf) {
		memcpy(buf, data, len);
		m->ptr = buf;
	} else if (len) {
		memcpy(m->data, data, len);
	}
	pn_ring_commit(p->ring[dst]);
	/* Counted before the publish (whose release orders it): whoever
	 * sees the message handled sees it counted (shutdown's drain). */
	pn__ctr_add(&p->sent, 1);
	pn_ring_publish(p->ring[dst]);
	pn__source_publish(rt, rt->shard[dst], rt->nshards + p->index, NULL);
	return 0;
}

/* A public inject: the type check, the gate around inject(). */
static int inject_gated(struct pn_producer *p, pn_pid to, uint32_t type,
			const void *data, size_t len, uint64_t timeout_ns,
			bool block)
{
	int err;

	if (!p)
		return pn__error(-EINVAL, "inject: no producer");
	if (type >= PN_MSG_SYS)
		return pn__error(-EINVAL, "message type %#x is reserved", type);
	if ((err = pn__gate_enter(p->rt, &p->busy, false, false, "inject")))
		return err;
	err = inject(p, to, type, data, len, timeout_ns, block);
	pn__gate_leave(p->rt, &p->busy, false);
	return err;
}

int pn_inject_try(struct pn_producer *p, pn_pid to, uint32_t type,
		  const void *data, size_t len)
{
	return inject_gated(p, to, type, data, len, 0, false);
}

int pn_inject(struct pn_producer *p, pn_pid to, uint32_t type, const void *data,
	      size_t len, uint64_t timeout_ns)
{
	return inject_gated(p, to, type, data, len, timeout_ns, true);
}

/* Run @fn on producer @p inside the gate (the actor layer's spawns from
 * outside go this way). */
int pn__producer_call(struct pn_producer *p, const char *what,
		      int (*fn)(struct pn_producer *p, void *arg), void *arg)
{
	int err;

	if ((err = pn__gate_enter(p->rt, &p->busy, false, false, what)))
		return err;
	err = fn(p, arg);
	pn__gate_leave(p->rt, &p->busy, false);
	return err;
}

/* inject() for the runtime's own types, blocking up to @timeout_ns; from
 * inside pn__producer_call() or pn__own_call(). */
int pn__inject_sys(struct pn_producer *p, pn_pid to, uint32_t type,
		   const void *data, size_t len, uint64_t timeout_ns)
{
	return inject(p, to, type, data, len, timeout_ns, true);
}

/* --- the runtime's own producer ------------------------------------------ */

/*
 * Run @fn on the runtime's own producer: inside the gate (entered before
 * own_mu, so that a caller waiting for the mutex counts as inside too),
 * serialised by own_mu, the producer set up on first use.
 */
int pn__own_call(struct pn_runtime *rt, const char *what,
		 int (*fn)(struct pn_producer *p, void *arg), void *arg)
{
	int err;

	if ((err = pn__gate_enter(rt, &rt->ext_inside, true, false, what)))
		return err;
	pthread_mutex_lock(&rt->own_mu);
	if (!rt->own) {
		struct pn_producer *p = &rt->producers[rt->cfg.max_producers];

		pthread_mutex_lock(&rt->prod_mu);
		err = producer_setup(rt, p);
		pthread_mutex_unlock(&rt->prod_mu);
		if (!err)
			rt->own = p;
	}
	if (!err)
		err = fn(rt->own, arg);
	pthread_mutex_unlock(&rt->own_mu);
	pn__gate_leave(rt, &rt->ext_inside, true);
	return err;
}

struct own_send {
	pn_pid to;
	uint32_t type;
	const void *data;
	size_t len;
	uint64_t timeout_ns;
};

static int own_send(struct pn_producer *p, void *arg)
{
	const struct own_send *a = arg;

	return inject(p, a->to, a->type, a->data, a->len, a->timeout_ns, true);
}

int pn_runtime_send(struct pn_runtime *rt, pn_pid to, uint32_t type,
		    const void *data, size_t len, uint64_t timeout_ns)
{
	struct own_send a = {to, type, data, len, timeout_ns};

	if (type >= PN_MSG_SYS)
		return pn__error(-EINVAL, "message type %#x is reserved", type);
	return pn__own_call(rt, "pn_runtime_send", own_send, &a);
}

/* pn_runtime_send() for the runtime's own message types (migrate.c's
 * pn_runtime_migrate()): any type, the same gate and budget. */
int pn__runtime_send_sys(struct pn_runtime *rt, pn_pid to, uint32_t type,
			 const void *data, size_t len, uint64_t timeout_ns)
{
	struct own_send a = {to, type, data, len, timeout_ns};

	return pn__own_call(rt, "pn_runtime_migrate", own_send, &a);
}

/* Messages every producer has published (pn_runtime_totals, the drain).
 * Relaxed: a snapshot; the drain reads them once the gate is empty, whose
 * release/acquire (pn__gate_leave, gate_inside) makes them final. Any. */
uint64_t pn__producers_sent(const struct pn_runtime *rt)
{
	uint64_t n = 0;

	for (unsigned i = 0; rt->producers && i <= rt->cfg.max_producers; i++)
		n += atomic_load_explicit(&rt->producers[i].sent,
					  memory_order_relaxed);
	return n;
}
