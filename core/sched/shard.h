/* SPDX-License-Identifier: MIT */
/*
 * The shard (struct pn_shard), the actor as the scheduler runs it, the
 * slot table's entries and the links between shards.
 *
 * Who writes what: every field of a shard is written only by that shard's
 * thread unless its comment says otherwise ("shared:").
 */
#ifndef PN_SCHED_SHARD_H
#define PN_SCHED_SHARD_H

#include "budget.h"
#include "meter.h"
#include "stats.h"

#include <liburing.h>
#include <pthread.h>

struct pn__route;

#define PN__NCLASSES 6 /* large-payload pool size classes */

/* Actor flags, and requests that take effect when its handler returns. */
enum {
	PN__A_TRAP = 0x1,  /* traps exits */
	PN__A_DYING = 0x2, /* in its stop sequence */
	PN__A_FWD = 0x4,   /* a stand-in in a slot (a forwarder), no actor */
	PN__A_NOCLEANUP = 0x100, /* its stop skips cleanup */
	PN__A_DEFER = 0x200,	 /* pn_shutdown_defer(): the drain waits */
};
enum {
	PN__P_STOP = 0x1,     /* pn_stop(self) */
	PN__P_FAIL = 0x2,     /* pn_fail() */
	PN__P_KILL = 0x4,     /* pn_kill(self) */
	PN__P_EOB = 0x8000,   /* end_batch due once it handles (actor.c) */
	PN__P_ACTOR = 0x8007, /* the actor layer's; 0x8-0x4000: features' */
};

struct pn__actor {
	const struct pn_behaviour *b;
	void *state;
	pn_pid pid;
	/* The shards (bit = shard & 63) whose rings or local queue its sends
	 * took since it arrived here: what its next move must fence
	 * (migrate.c). Next to pid, which every send reads. */
	uint64_t sent_to;
	uint16_t flags;	  /* PN__A_* */
	uint16_t pending; /* PN__P_*: acted on after the handler returns */
	int32_t detail;	  /* failure code (pn_fail) */
	uint32_t depth;	  /* spawn-tree depth: shutdown stops deepest first */
	uint32_t mig_to;  /* PN__P_MIGRATE: the target shard */
	struct pn__actor *prev, *next; /* the shard's list of live actors */
	struct pn__pids monitors;      /* who gets DOWN */
	struct pn__pids links;
	struct pn__atimers *tm; /* armed timers (request.c), NULL: none */
	uint32_t moves;		/* moves so far: its fence generation */
};

/* An actor-table entry. 16 bytes; the table is a lazily touched mmap. */
struct pn__slot {
	/* shared: bumped by the owner when the actor is freed (before the
	 * slot is pushed on the free stack, release), read by any thread that
	 * pops the slot (acquire) to form the new PID. */
	_Atomic uint32_t gen;
	/* shared: free-stack link, slot index + 1 (0 ends the stack). */
	_Atomic uint32_t next;
	struct pn__actor *actor; /* owner only; NULL: free or reserved */
};

/* This shard's link to one destination shard. */
struct pn__out {
	struct pn_ring *ring;	  /* this shard -> dst */
	struct pn__fifo overflow; /* waits here, in order, when ring full */
	bool dirty;		  /* committed slots not yet published */
	/* dst's published congestion (send.c): while set, our sends to it
	 * that the budget governs get -EAGAIN. Read-only after start. */
	const _Atomic bool *congested;
	/* Messages this shard forwards to dst for a moved actor (and the
	 * control messages that must follow them), waiting for room in the
	 * ring: they go on only behind everything in ring and overflow
	 * (migrate.c, "Forward queues"). A side queue. */
	struct pn__fifo fwdq;
};

/* What a shard publishes for the watchdog and shutdown report. */
struct pn__beacon {
	_Atomic uint64_t beat;	/* bumped every loop iteration */
	_Atomic pn_pid actor;	/* the running actor, or 0 */
	_Atomic uint32_t type;	/* the message it is handling */
	_Atomic int stage_done; /* last shutdown stage finished */
	_Atomic uint32_t depth; /* deepest actor (for the stop stage) */
	/* Shutdown's drain waves: the shard's message hops sent and done
	 * (pn__shard_hops) at the turn boundary where it acknowledged the
	 * wave; relaxed, published by the release of stage_done. */
	_Atomic uint64_t drain_sent, drain_done;
	/* Supervision (pn__beacon_set): the running actor's behaviour, and
	 * a count of dispatches (the watchdog's "same handler" test). */
	_Atomic(const struct pn_behaviour *) b;
	_Atomic uint64_t seq;
};

struct pn_shard {
	/* --- hot, owner only --- */
	unsigned id;
	unsigned nshards;  /* every shard, the supervisor shard included */
	unsigned nsources; /* nshards + max_producers */
	bool busy_poll;	   /* never parks: no doorbell, no wake-up */
	uint64_t spin_ns;  /* spin this long before parking */
	uint32_t batch;
	/* A feature that redirects this shard's cross-shard sends (an
	 * actor homed elsewhere lives here): while set, sends ask it where
	 * they go. Owner only. */
	const struct pn__route *route;
	/* Bit i: feature i (rt->feat[i]) wants its loop hooks called
	 * (feature.c). Owner only. */
	uint32_t turn_want;
	struct pn_runtime *rt;
	struct pn__actor *cur; /* running actor (NULL outside handlers) */
	struct pn__slot *slots;
	/* shared: per slot, where this shard's actor lives while away (its
	 * location + 1; 0: here). Written by this shard only (migrate.c),
	 * read by pn_where() from any thread; [max_slots], a lazily touched
	 * mmap like slots. */
	_Atomic uint16_t *where;
	uint32_t max_slots;
	uint64_t iter;
	/* Hot counters, plain: published to stats once per loop turn. */
	uint64_t n_dispatched, n_sent_local, n_sent_remote;
	const struct pn__actor *beacon_last; /* actor the beacon names */
	uint64_t dispatch_seq;		     /* beacon.seq, owner's copy */
	struct pn__met met;		     /* the shard's meter (meter.h) */
	struct pn__fifo local;		     /* sends within the shard */
	struct pn__out *out;		     /* [nshards] */
	_Atomic(struct pn_ring *) *in;	     /* [nsources]; NULL: no producer */
	uint64_t *more;	  /* [nwords] sources left with data */
	struct pn__poll { /* the live inbound rings, compact */
		struct pn_ring *ring;
		unsigned src;
	} * poll; /* [nsources] */
	unsigned npoll;
	uint32_t poll_gen;	 /* rt->prod_gen it was built for */
	unsigned *dirty, ndirty; /* [nshards] outs to publish */
	unsigned *wake, nwake;	 /* [nshards] shards to wake */
	uint64_t overflow_bytes;
	bool overflowing;
	/* Our overflow is over its budget (only exempt sends, forwards
	 * among them, get it there): the owner's copy of congested_pub. */
	bool congested;
	uint64_t side_bytes;	  /* in side queues (pn__acct_side_in) */
	struct pn__pids writable; /* actors waiting for PN_MSG_WRITABLE */
	struct pn__fifo early;	  /* messages for reserved, unstarted PIDs */
	struct pn__actor *actors; /* live actors (list head) */
	struct pn_arena *arena;
	struct pn_pool *actor_pool;
	struct pn_pool *buf_pool[PN__NCLASSES]; /* large payloads */
	struct pn_pool_batch *batches;		/* [nshards * PN__NCLASSES] */
	bool remote_frees;			/* some batch holds objects */
	struct pn__timers *timers;
	struct pn__reqs *reqs; /* outstanding requests */
	struct pn__mig *mig;   /* guests, bounces (migrate.c); NULL: none yet */
	/* Actors living here under another shard's PID that messages reach
	 * directly, pid -> struct pn__direct (only looked at with a route). */
	struct pn__htab direct;
	struct pn__traffic *tr; /* traffic view (traffic.c) */

	struct io_uring ring;
	bool ring_ok;
	int efd; /* eventfd external producers wake us with */
	uint64_t efd_buf;
	bool efd_armed, heard; /* heard: ring or io work since the last park */
	bool timers_frozen;    /* shutdown drain: timers no longer fire */
	void *poller_data;     /* io/'s per-shard state */
	int stage_seen;	       /* the runtime's stage word as last acted on */
	pthread_t thread;
	int cpu;
	bool abandoned;	     /* stuck in a handler at shutdown: left behind */
	struct pn__pids eob; /* actors whose end_batch is due (actor.c) */

	/* --- shared: written by other shards and producers --- */
	/* Doorbell: bit i = source i may have published data (a hint). */
	alignas(PN_CACHELINE) _Atomic uint64_t *bell; /* [nwords] */
	/* 1 while parking/parked; the waker that swaps it to 0 sends the
	 * one wake-up. Same line as bell's pointer: producers read both. */
	_Atomic uint32_t parked;
	/* Set while our overflow is congested (send.c): written by us on
	 * each change only, read (relaxed, a hint) by every sender to us;
	 * the same line they read parked from after a publish. */
	_Atomic bool congested_pub;
	int ring_fd; /* read-only after start: MSG_RING target */

	/* shared: the actor-slot free stack (tag << 32 | index + 1) and the
	 * count of slots ever handed out; popped from any thread. */
	alignas(PN_CACHELINE) _Atomic uint64_t free_head;
	_Atomic uint32_t fresh;

	alignas(PN_CACHELINE) struct pn__beacon beacon;
	alignas(PN_CACHELINE) struct pn__stats stats;
};

#endif /* PN_SCHED_SHARD_H */
