/* SPDX-License-Identifier: MIT */
/*
 * The runtime as the scheduler sees it (struct pn_runtime), external
 * producers, the gate's phases, and the handle conversions. The runtime
 * struct is written by the controlling thread before start and during
 * shutdown only, unless a field's comment says otherwise.
 */
#ifndef PN_SCHED_RUNTIME_H
#define PN_SCHED_RUNTIME_H

#include "feature.h"
#include "pn_backend.h"
#include "shard.h"

struct pn_producer {
	struct pn_runtime *rt;
	unsigned index;	       /* source index - nshards */
	struct pn_ring **ring; /* [nshards] */
	bool in_use;	       /* under rt->prod_mu */
	/* shared: 1 while a thread is inside a call on this producer (the
	 * gate, producer.c); written by that thread, read by the closer. */
	alignas(PN_CACHELINE) _Atomic uint32_t busy;
	/* shared: messages published through it. Written by its thread
	 * before each ring publish; read by the drain and the totals. */
	_Atomic uint64_t sent;
};

/* The runtime's phase as external calls see it (the gate, producer.c). */
enum { PN__RT_CREATED, PN__RT_RUNNING, PN__RT_CLOSED };

/* struct pn_ring.waiter tags: who sleeps waiting for room in the ring. */
#define PN__ROOM_SHARD	  1u /* the producing shard (it parked) */
#define PN__ROOM_EXTERNAL 2u /* an external thread (futex on the word) */

struct pn__waitq { /* pn_runtime_wait/notify: a growable FIFO of codes */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int *codes;
	unsigned head, tail, cap; /* cap: a power of two, or 0 */
};

struct pn_runtime {
	struct pn_config cfg;
	uint64_t (*now)(void *arg); /* cfg.clock, or pn__clock_mono */
	void *now_arg;
	struct pn_topology *topo;
	struct pn_plan *plan;
	unsigned nshards; /* napp + 1: the last is the supervisor shard */
	unsigned napp;	  /* application shards (the plan's) */
	struct pn_shard **shard;
	bool fenced; /* no membarrier: producers fence too */
	struct pn_poller poller;
	bool has_poller;
	struct pn__budget budget;      /* external producers' bytes */
	struct pn_producer *producers; /* [max_producers + 1]: own last */
	pthread_mutex_t prod_mu;       /* the producer table */
	pthread_mutex_t own_mu;	       /* the runtime's own producer */
	struct pn_producer *own;       /* for pn_runtime_send/spawn */
	unsigned rr;		       /* round-robin for PN_SHARD_ANY */
	struct pn__waitq waitq;
	/* start/shutdown control */
	pthread_mutex_t ctl_mu;
	pthread_cond_t ctl_cv;
	unsigned started; /* shards that finished setting up */
	int start_err;
	char start_msg[256]; /* pn_last_error() of the failing shard */
	_Atomic int go;	     /* 1: run, -1: abort start */
	_Atomic int stage;   /* shutdown stage requested, -1: none */
	_Atomic uint32_t stop_depth;
	/* shared: PN__RT_*; stored by the controlling thread (start, the
	 * input stage), read by every external call and by pn_spawn(). */
	_Atomic int phase;
	/* shared: external calls inside the gate that use no producer of
	 * their own (pn_runtime_wait, pn_runtime_send, ...); producer.c. */
	_Atomic uint32_t ext_inside;
	/* Bumped (release) after a producer's rings are installed, so that
	 * shards rebuild their poll lists (acquire). */
	_Atomic uint32_t prod_gen;
	bool running, shut_down, budget_ok;
	bool drain_failed; /* shutdown's drain stage did not balance */
	unsigned nthreads; /* shard threads created */
	/* The features (rt/runtime.c), and their message ranges sorted. */
	const struct pn__feature *const *feat;
	unsigned nfeat;
	/* The publish hooks alone, packed: every published batch runs them. */
	void (*publish[PN__FEAT_MAX])(struct pn_shard *s, unsigned dst,
				      uint32_t n, const struct pn_msg *last);
	unsigned npublish;
	struct pn__services svc;
	struct pn__msg_range *range;
	unsigned nrange;
	struct pn__sup_rt *sup;	   /* supervision (supervisor.c) */
	struct pn__mrt *met;	   /* metrics (metrics.c) */
	struct pn__place *place;   /* placement, rebalancer (placement.c) */
	struct pn__rtsig *sig;	   /* pn_runtime_signals (rt/signals.c) */
	struct pn__topics *topics; /* the topic table (topic/topic.c) */
	/* Actors deferring their stop (pn_shutdown_defer): changed by the
	 * shard of each (relaxed), read by the drain after each wave. */
	_Atomic uint32_t deferring;
};

/* The runtime's clock (struct pn_config's clock): every time the runtime
 * reads goes through here (and the shards' meters, meter.h). Any thread. */
static inline uint64_t pn__now(const struct pn_runtime *rt)
{
	return rt->now(rt->now_arg);
}
uint64_t pn__clock_mono(void *arg); /* the default: pn_now_ns() */

/*
 * Whether shutdown has closed external input. For the shards' own checks
 * (spawn, migrate, supervision): relaxed, a call racing the close may go
 * either way; the input stage's word, acquired by every shard before it
 * acknowledges, is what orders the rest of shutdown after the close.
 */
static inline bool pn__rt_closing(const struct pn_runtime *rt)
{
	return atomic_load_explicit(&rt->phase, memory_order_relaxed) ==
	       PN__RT_CLOSED;
}

/*
 * The public handle of a shard is struct pn_ctx, an incomplete type that
 * is never defined: a handler's ctx is its shard, converted at the API's
 * edge by these (and nowhere else).
 */
static inline struct pn_shard *pn__shard(struct pn_ctx *ctx)
{
	return (struct pn_shard *)(void *)ctx;
}

static inline const struct pn_shard *pn__shard_c(const struct pn_ctx *ctx)
{
	return (const struct pn_shard *)(const void *)ctx;
}

static inline struct pn_ctx *pn__ctx(struct pn_shard *s)
{
	return (struct pn_ctx *)(void *)s;
}

/*
 * The shard whose thread is running (NULL on every other thread); set by
 * pn__shard_main(). Initial-exec TLS: one %fs-relative load, so the check
 * below costs a load and a branch on the send path.
 */
extern _Thread_local struct pn_shard *pn__self_shard
	__attribute__((tls_model("initial-exec")));

/*
 * Handler-only entry points (pn_send(), pn_spawn(), ...) take the ctx
 * their handler was given; a ctx saved and used from another thread would
 * race on the shard's queues. Every build refuses it with -EPERM.
 */
int pn__ctx_error(const struct pn_shard *ctx, const char *what);
#define PN__CTX_CHECK(ctx, what)                                               \
	do {                                                                   \
		if (PN_UNLIKELY(!(ctx) || (ctx) != pn__self_shard))            \
			return pn__ctx_error(ctx, what);                       \
	} while (0)

#endif /* PN_SCHED_RUNTIME_H */
