/* SPDX-License-Identifier: MIT */
/*
 * core/'s internal header: the shard (struct pn_shard), the actor, the slot
 * table, the inbox and outbox links between shards, the local FIFO, and the
 * functions the core's files share. Nothing outside core/ includes it.
 *
 * Who writes what: every field of a shard is written only by that shard's
 * thread unless its comment says otherwise ("shared:"). The runtime struct
 * is written by the controlling (external) thread before start and during
 * shutdown only.
 */
#ifndef PN_CORE_INT_H
#define PN_CORE_INT_H

#include "budget.h"
#include "meter.h"
#include "pn_alloc.h"
#include "pn_core.h"
#include "pn_ring.h"
#include "timers.h"

#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>

/* Internal message types (never seen by handlers). */
#define PN__MSG_INTERNAL  (PN_MSG_SYS + 0x8000)
#define PN__MSG_SPAWN	  (PN__MSG_INTERNAL + 1)
#define PN__MSG_STOP	  (PN__MSG_INTERNAL + 2)
#define PN__MSG_KILL	  (PN__MSG_INTERNAL + 3)
#define PN__MSG_MONITOR	  (PN__MSG_INTERNAL + 4)
#define PN__MSG_DEMONITOR (PN__MSG_INTERNAL + 5)
#define PN__MSG_LINK	  (PN__MSG_INTERNAL + 6)
#define PN__MSG_UNLINK	  (PN__MSG_INTERNAL + 7)
#define PN__MSG_EXITSIG	  (PN__MSG_INTERNAL + 8)
#define PN__MSG_FLOW	  (PN__MSG_INTERNAL + 9) /* congestion (send.c) */

#define PN__REF_REPLY (1ull << 63)

/* CQE user_data of the core's own operations (PN_CQE_POLLER clear). */
#define PN__CQE_WAKE	  1ull /* a MSG_RING wake-up from another shard */
#define PN__CQE_WAKE_SENT 2ull /* our MSG_RING (posted only on failure) */
#define PN__CQE_EFD	  3ull /* the eventfd read external wakes land on */

#define PN__NCLASSES 6 /* large-payload pool size classes */
enum { PN__SLOT_LOCAL, PN__SLOT_RING, PN__SLOT_OVERFLOW };

/*
 * A single-threaded FIFO of messages (the local queue, overflow queues,
 * early messages) in a chain of fixed chunks: a message never moves while
 * it is queued, so a handler may keep using the message it was given while
 * it pushes new ones. Emptied chunks are kept as spares (up to a few), so
 * the steady state does not allocate.
 */
#define PN__CHUNK_MSGS 63
struct pn__chunk {
	struct pn__chunk *next;
	alignas(PN_CACHELINE) struct pn_msg m[PN__CHUNK_MSGS];
};
struct pn__fifo {
	struct pn__chunk *head, *tail, *spare;
	uint32_t hidx, tidx; /* next to pop in head, next to fill in tail */
	uint32_t len, nspare;
};

/* A small growable set of PIDs (monitors, links). */
struct pn__pids {
	pn_pid *v;
	uint32_t n, cap;
};

/* Actor flags, and requests that take effect when its handler returns. */
enum {
	PN__A_TRAP = 0x1,  /* traps exits */
	PN__A_DYING = 0x2, /* in its stop sequence */
	PN__A_FWD = 0x4,   /* a home slot's forwarder (migrate.h), no actor */
};
enum {
	PN__P_STOP = 0x1,    /* pn_stop(self) */
	PN__P_FAIL = 0x2,    /* pn_fail() */
	PN__P_KILL = 0x4,    /* pn_kill(self) */
	PN__P_ACTOR = 0x7,   /* the actor layer's; higher bits: features' */
	PN__P_MIGRATE = 0x8, /* pn_migrate(): move to mig_to (migrate.c) */
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

/* The destination of @o is congested now (send.c; relaxed: a hint). */
static inline bool pn__out_congested(const struct pn__out *o)
{
	return atomic_load_explicit(o->congested, memory_order_relaxed);
}

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

enum {
	PN__ST_DISPATCHED, /* taken from a ring or the local queue */
	PN__ST_SENT_LOCAL,
	PN__ST_SENT_REMOTE,
	PN__ST_RECV_EXT,
	PN__ST_OVERFLOWED,
	PN__ST_EAGAIN,
	PN__ST_OVERFLOW_BYTES,
	PN__ST_DEAD,
	PN__ST_LATE,
	PN__ST_TIMERS,
	PN__ST_PARKS,
	PN__ST_WAKES,
	PN__ST_SPAWNED,
	PN__ST_STOPPED,
	PN__ST_ACTORS,
	PN__ST_MOVED,	 /* queued again: forwarded, bounced, held, replayed */
	PN__ST_SIDE_IN,	 /* into a side queue (early, held, stragglers) */
	PN__ST_SIDE_OUT, /* out of one */
	PN__ST_COUNT
};
struct pn__stats {
	_Atomic uint64_t v[PN__ST_COUNT];
};

/* Owner-only counter update: no RMW, readers use relaxed loads. */
#define PN__STAT_ADD(s, i, n)                                                  \
	atomic_store_explicit(                                                 \
		&(s)->stats.v[i],                                              \
		atomic_load_explicit(&(s)->stats.v[i], memory_order_relaxed) + \
			(n),                                                   \
		memory_order_relaxed)

/*
 * Message accounting (pn_runtime_totals(), shutdown's drain and join).
 * A message is counted where it enters a queue (sent_local, sent_remote
 * by the sending shard, a producer's sent) and where it leaves one
 * (dispatched); the side queues that hold messages out of the rings and
 * the local queue (early messages, a guest's held sends, a forwarder's
 * stragglers and held messages) count SIDE_IN and SIDE_OUT; a message
 * already accepted that is queued again (forwarded, bounced, held,
 * replayed) counts MOVED each time. Hence, summed over the runtime:
 *
 *   accepted  = sent_local + sent_remote + side_in - moved + producers
 *   handled   = dispatched + side_out - moved - dead_letters
 *   in flight = accepted - handled - dead_letters
 *             = (sent_local + sent_remote + side_in + producers)
 *               - (dispatched + side_out)        ("hops" sent - done)
 *
 * The pn__acct_* helpers (after struct pn_shard) are for the cold paths;
 * the hot counters are the plain n_* fields, published once per loop
 * turn. Owner only.
 */

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
	struct pn__met met;		     /* metrics (metrics.h) */
	struct pn__fifo local;		     /* sends within the shard */
	struct pn__out *out;		     /* [nshards] */
	_Atomic(struct pn_ring *) *in;	     /* [nsources]; NULL: no producer */
	uint64_t *more;	  /* [nwords] sources left with data */
	struct pn__poll { /* the live inbound rings, compact */
		struct pn_ring *ring;
		unsigned src;
	} * poll; /* [nsources] */
	unsigned npoll;
	uint32_t poll_gen; /* rt->prod_gen it was built for */
	unsigned *dirty;   /* [nshards] outs to publish */
	unsigned ndirty;
	unsigned *wake; /* [nshards] shards to wake */
	unsigned nwake;
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
	int slot_kind; /* PN__SLOT_*: pn__msg_slot's choice */
	uint64_t slot_cost;
	int slot_err;
	bool sys_send; /* runtime message: not refused by the budget */
	struct pn__timers *timers;
	struct pn__reqs *reqs; /* outstanding requests */
	struct pn__mig *mig;   /* guests, bounces (migrate.c); NULL: none yet */
	struct pn__traffic *tr; /* traffic view (traffic.c) */

	struct io_uring ring;
	bool ring_ok;
	int efd; /* eventfd external producers wake us with */
	uint64_t efd_buf;
	bool efd_armed;
	bool timers_frozen; /* shutdown drain: timers no longer fire */
	void *poller_data;  /* io/'s per-shard state */
	int stage_seen;	    /* the runtime's stage word as last acted on */
	pthread_t thread;
	int cpu;
	bool abandoned; /* stuck in a handler at shutdown: left behind */

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

static inline void pn__acct_moved(struct pn_shard *s)
{
	PN__STAT_ADD(s, PN__ST_MOVED, 1);
}

/* What a message costs against the overflow budget (flag bits off). */
static inline uint64_t pn__msg_cost(uint32_t len)
{
	len &= ~(1u << 31); /* migration's bounced flag (migrate.h) */
	return sizeof(struct pn_msg) + (len > PN_MSG_INLINE ? len : 0);
}

/* @m enters or leaves a side queue: counted, and its bytes weigh on the
 * shard's congestion like its overflow's (send.c's flow control: a home
 * holding a moving actor's backlog must push back too). */
static inline void pn__acct_side_in(struct pn_shard *s, const struct pn_msg *m)
{
	PN__STAT_ADD(s, PN__ST_SIDE_IN, 1);
	s->side_bytes += pn__msg_cost(m->len);
}

static inline void pn__acct_side_out(struct pn_shard *s, const struct pn_msg *m)
{
	PN__STAT_ADD(s, PN__ST_SIDE_OUT, 1);
	s->side_bytes -= pn__msg_cost(m->len);
}

/* Messages this shard has put into queues and taken out of them, exact:
 * its own counters, read on its thread (shutdown's drain waves). */
static inline void pn__shard_hops(const struct pn_shard *s, uint64_t *sent,
				  uint64_t *done)
{
	*sent = s->n_sent_local + s->n_sent_remote +
		atomic_load_explicit(&s->stats.v[PN__ST_SIDE_IN],
				     memory_order_relaxed);
	*done = s->n_dispatched +
		atomic_load_explicit(&s->stats.v[PN__ST_SIDE_OUT],
				     memory_order_relaxed);
}

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

/*
 * Features. The scheduler (sched/) and the actor layer under it call what
 * is built on them only through what a feature registers here: rt/ lists
 * the features (rt/runtime.c) and the base iterates over them, so that no
 * file below a feature names it. Every hook is optional (NULL: none).
 * Hooks marked "loop" run on the shard's thread; the others on the
 * controlling thread unless they say otherwise.
 */
struct pn__msg_range {
	uint32_t lo, hi; /* internal message types [lo, hi) */
	/* Consume @m on its shard (and free a large payload). */
	void (*handle)(struct pn_shard *s, struct pn_msg *m);
};

/* A side queue of a feature: @fn visits each (shutdown's join sweep). */
typedef void (*pn__side_fn)(struct pn_shard *s, struct pn__fifo *f, void *arg);

struct pn__feature {
	const char *name;
	/* Runtime: defaults into a config; after the shards are allocated;
	 * once they run; before the shards are freed; after. */
	void (*config_init)(struct pn_config *c);
	int (*create)(struct pn_runtime *rt);
	int (*start)(struct pn_runtime *rt);
	void (*destroy)(struct pn_runtime *rt);
	void (*free)(struct pn_runtime *rt);
	/* Shard: set-up on its thread before start; entering and leaving
	 * its loop (loop); its memory freed (after its thread exited). */
	int (*shard_setup)(struct pn_shard *s);
	void (*shard_enter)(struct pn_shard *s);
	void (*shard_leave)(struct pn_shard *s);
	void (*shard_free)(struct pn_shard *s);
	/* The loop, while the shard's turn_want has this feature's bit:
	 * work each turn (returns how much), whether it has work now (a
	 * shard about to park), and arming its wake-ups before the park's
	 * barrier (loop). */
	unsigned (*turn)(struct pn_shard *s);
	bool (*ready)(struct pn_shard *s);
	void (*park)(struct pn_shard *s);
	/* Messages: internal types it handles; a message for no actor
	 * here (true: taken; features registered later are asked first). */
	const struct pn__msg_range *ranges;
	unsigned nranges;
	bool (*miss)(struct pn_shard *s, struct pn_msg *m);
	/* Shutdown: a stage begins on the shard (loop; @depth: the stop
	 * stage's word); its side queues for the join sweep; the gate
	 * closed (wake the external callers it keeps waiting). */
	void (*stage)(struct pn_shard *s, int stage, unsigned depth);
	void (*side_queues)(struct pn_shard *s, pn__side_fn fn, void *arg);
	void (*close)(struct pn_runtime *rt);
	/* Actors the slot table does not hold (loop): find one here by
	 * PID; take a slow-path message (an internal type or a reply)
	 * before anyone else does (true: taken); an actor homed elsewhere
	 * stopped here. */
	struct pn__actor *(*find)(struct pn_shard *s, pn_pid pid);
	bool (*divert)(struct pn_shard *s, struct pn_msg *m);
	void (*guest_gone)(struct pn_shard *s, pn_pid pid);
	/* The shard publishes @n messages to shard @dst's ring, @last the
	 * newest (loop; once per published batch, never per message). */
	void (*publish)(struct pn_shard *s, unsigned dst, uint32_t n,
			const struct pn_msg *last);
	/* Every 1024 loop turns, and before a long sleep (loop). */
	void (*tick)(struct pn_shard *s);
};

/* How a feature redirects sends (struct pn_shard's route; loop). */
struct pn__route {
	/* The fast path's slot for an inline message to @to, whose home
	 * *@dst is another shard (*@dst updated to where it goes); NULL:
	 * take the general path. */
	struct pn_msg *(*slot)(struct pn_shard *s, pn_pid to, unsigned *dst);
	/* The general path: where a message to @to (home elsewhere) goes;
	 * *@held set: hold it in that side queue instead. */
	unsigned (*dst)(struct pn_shard *s, pn_pid to, struct pn__fifo **held);
};

/*
 * Services: what exactly one feature provides and the base calls on its
 * paths (set by that feature's create hook; NULL: nobody provides it).
 */
struct pn__services {
	/* After a handler returned non-zero or left pending bits (loop). */
	void (*after)(struct pn_shard *s, struct pn__actor *a, int rc);
	/* A reply (ref carries PN__REF_REPLY): deliver or dead-letter it. */
	void (*reply)(struct pn_shard *s, struct pn_msg *m);
	/* A timer of the shard's wheel fired (its message, its id). */
	void (*timer)(void *arg, const struct pn_msg *m, uint64_t id);
	/* Pending bits above the actor layer's (PN__P_FEATURE): acted on
	 * last, after the handler returned; @a may be gone after it. */
	void (*pending)(struct pn_shard *s, struct pn__actor *a, unsigned p);
	/* Where a spawn with a placement policy goes (any thread). */
	int (*place)(struct pn_runtime *rt, const struct pn_spawn_opts *o,
		     unsigned fallback, unsigned *shard);
};

#define PN__FEAT_MAX 8

struct pn_runtime {
	struct pn_config cfg;
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
	struct pn__services svc;
	struct pn__msg_range *range;
	unsigned nrange;
	struct pn__sup_rt *sup;	 /* supervision (supervisor.c) */
	struct pn__mrt *met;	 /* metrics (metrics.c) */
	struct pn__place *place; /* placement, rebalancer (placement.c) */
};

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

/* feature.c */
int pn__features_create(struct pn_runtime *rt,
			const struct pn__feature *const *feat, unsigned n);
int pn__features_start(struct pn_runtime *rt);
void pn__features_destroy(struct pn_runtime *rt, bool late);
int pn__features_shard_setup(struct pn_shard *s);
void pn__features_shard_enter(struct pn_shard *s);
void pn__features_shard_leave(struct pn_shard *s);
void pn__features_shard_free(struct pn_shard *s);
void pn__features_stage(struct pn_shard *s, int stage, unsigned depth);
void pn__features_side_queues(struct pn_shard *s, pn__side_fn fn, void *arg);
void pn__features_close(struct pn_runtime *rt);
unsigned pn__features_turn(struct pn_shard *s);
bool pn__features_ready(struct pn_shard *s);
void pn__features_park(struct pn_shard *s);
bool pn__features_miss(struct pn_shard *s, struct pn_msg *m);
bool pn__features_msg(struct pn_shard *s, struct pn_msg *m);
struct pn__actor *pn__features_find(struct pn_shard *s, pn_pid pid);
bool pn__features_divert(struct pn_shard *s, struct pn_msg *m);
void pn__features_guest_gone(struct pn_shard *s, pn_pid pid);
void pn__features_publish(struct pn_shard *s, unsigned dst, uint32_t n,
			  const struct pn_msg *last);
void pn__features_tick(struct pn_shard *s);

/* The bit of feature @f in turn_want (it must be registered). */
static inline uint32_t pn__feature_bit(const struct pn_runtime *rt,
				       const struct pn__feature *f)
{
	for (unsigned i = 0; i < rt->nfeat; i++)
		if (rt->feat[i] == f)
			return 1u << i;
	return 0;
}

/* fifo.c */
int pn__fifo_grow(struct pn__fifo *f, struct pn_arena *a);
void pn__fifo_next_chunk(struct pn__fifo *f, struct pn_arena *a);
void pn__fifo_fini(struct pn__fifo *f, struct pn_arena *a);
bool pn__fifo_each(struct pn__fifo *f, bool (*fn)(struct pn_msg *m, void *arg),
		   void *arg);

static inline uint32_t pn__fifo_len(const struct pn__fifo *f)
{
	return f->len;
}

/* The slot the next push fills (NULL: out of memory); then _commit. */
static inline struct pn_msg *pn__fifo_slot(struct pn__fifo *f,
					   struct pn_arena *a)
{
	if (PN_UNLIKELY(!f->tail || f->tidx == PN__CHUNK_MSGS))
		if (pn__fifo_grow(f, a) < 0)
			return NULL;
	return &f->tail->m[f->tidx];
}

static inline void pn__fifo_commit(struct pn__fifo *f)
{
	f->tidx++;
	f->len++;
}

static inline struct pn_msg *pn__fifo_peek(const struct pn__fifo *f)
{
	return f->len ? &f->head->m[f->hidx] : NULL;
}

/* Drop the oldest message (after its handler has returned). */
static inline void pn__fifo_pop(struct pn__fifo *f, struct pn_arena *a)
{
	f->len--;
	if (++f->hidx == PN__CHUNK_MSGS)
		pn__fifo_next_chunk(f, a);
	else if (f->len == 0 && f->head == f->tail)
		f->hidx = f->tidx = 0; /* empty: reuse the chunk from the top */
}

/* pids.c */
int pn__pids_add(struct pn__pids *p, struct pn_arena *a, pn_pid pid);
bool pn__pids_del(struct pn__pids *p, pn_pid pid);
void pn__pids_fini(struct pn__pids *p, struct pn_arena *a);

/*
 * A full (seq_cst) fence: the fenced fallback of the Dekker handshakes
 * (park/wake, room, the gate) when membarrier is unavailable. gcc refuses
 * atomic_thread_fence under ThreadSanitizer, which does not model fences
 * (nor membarrier): there a seq_cst RMW on a private word stands in; the
 * data those handshakes guard still travels by release/acquire, which
 * TSan checks.
 */
static inline void pn__fence_seq_cst(void)
{
#if defined(__SANITIZE_THREAD__)
	static _Thread_local _Atomic int word;

	atomic_fetch_add_explicit(&word, 0, memory_order_seq_cst);
#else
	atomic_thread_fence(memory_order_seq_cst);
#endif
}

/* The producer side's half of a Dekker handshake: a compiler barrier
 * when the other side pays membarrier, a full fence when it cannot. */
static inline void pn__dekker_order(bool fenced)
{
	if (fenced)
		pn__fence_seq_cst();
	else
		atomic_signal_fence(memory_order_seq_cst);
}

static inline void pn__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

/* shard.c, shard_setup.c, shutdown.c */
int pn__shard_setup(struct pn_shard *s);
void pn__shard_loop(struct pn_shard *s);
void pn__shard_free(struct pn_shard *s);
void pn__shard_free_tables(struct pn_shard *s);
void pn__shard_publish(struct pn_shard *s);
bool pn__shard_stage(struct pn_shard *s, int stage_word);
void *pn__shard_main(void *arg);
void pn__heavy_barrier(struct pn_runtime *rt);
void pn__source_publish(struct pn_runtime *rt, struct pn_shard *dst,
			unsigned source, struct pn_shard *waker);
void pn__wake_external(struct pn_shard *dst);
struct io_uring_sqe *pn__sqe(struct pn_shard *s);

/* producer.c: external producers and the gate of external calls */
void pn__producers_free(struct pn_runtime *rt);
int pn__gate_enter(struct pn_runtime *rt, _Atomic uint32_t *mark, bool shared,
		   bool any_phase, const char *what);
void pn__gate_leave(struct pn_runtime *rt, _Atomic uint32_t *mark, bool shared);
unsigned pn__gate_close(struct pn_runtime *rt, uint64_t until);
void pn__gate_drain(struct pn_runtime *rt);
uint64_t pn__producers_sent(const struct pn_runtime *rt);
void pn__futex_wake(_Atomic uint32_t *w);
int pn__runtime_send_sys(struct pn_runtime *rt, pn_pid to, uint32_t type,
			 const void *data, size_t len, uint64_t timeout_ns);
int pn__producer_call(struct pn_producer *p, const char *what,
		      int (*fn)(struct pn_producer *p, void *arg), void *arg);
int pn__own_call(struct pn_runtime *rt, const char *what,
		 int (*fn)(struct pn_producer *p, void *arg), void *arg);
int pn__inject_sys(struct pn_producer *p, pn_pid to, uint32_t type,
		   const void *data, size_t len, uint64_t timeout_ns);

/* send.c */
struct pn_msg *pn__msg_slot(struct pn_shard *s, unsigned dst, uint32_t bytes);
void pn__msg_commit(struct pn_shard *s, unsigned dst);
int pn__send(struct pn_shard *s, pn_pid to, uint32_t type, pn_pid from,
	     uint64_t ref, const void *data, size_t len);
void pn__flush(struct pn_shard *s);
void pn__flush_wakes(struct pn_shard *s);
unsigned pn__overflow_drain(struct pn_shard *s);
void pn__flow_update(struct pn_shard *s);
void pn__flow_msg(struct pn_shard *s, const struct pn_msg *m);
void *pn__buf_alloc(struct pn_shard *s, size_t len);
void *pn__buf_malloc(size_t len);
void pn__buf_free_malloc(void *data);
void pn__buf_free(struct pn_shard *s, void *data);
void pn__buf_flush_remote(struct pn_shard *s);

/* actor.c */
void pn__dispatch_slow(struct pn_shard *s, struct pn_msg *m);
void pn__dispatch_miss(struct pn_shard *s, struct pn_msg *m);
struct pn__actor *pn__actor_target(struct pn_shard *s, struct pn_msg *m);
void pn__after_handle(struct pn_shard *s, struct pn__actor *a, int rc);
void pn__dead_letter(struct pn_shard *s, const struct pn_msg *m);
void pn__local_push(struct pn_shard *s, const struct pn_msg *m, bool moved);
struct pn__actor *pn__lookup(struct pn_shard *s, pn_pid pid);
int pn__slot_reserve(struct pn_shard *owner, pn_pid *pid);
void pn__slot_unreserve(struct pn_shard *owner, pn_pid pid);
unsigned pn__spawn_target(const struct pn_runtime *rt, int shard, unsigned any);
int pn__spawn_prepare(struct pn_runtime *rt, const struct pn_behaviour *b,
		      const struct pn_spawn_opts *o, unsigned target,
		      pn_pid *pid);
size_t pn__spawn_payload(unsigned char *buf, const struct pn_behaviour *b,
			 const struct pn_spawn_opts *o, uint32_t depth);
#define PN__SPAWN_HDR 16
void pn__actor_stop(struct pn_shard *s, struct pn__actor *a, int reason,
		    int detail);
void pn__actors_shutdown_notify(struct pn_shard *s);
unsigned pn__actors_stop_depth(struct pn_shard *s, uint32_t depth);
uint32_t pn__actors_max_depth(struct pn_shard *s);
void pn__actors_fini(struct pn_shard *s);

/* request.c */
int pn__reqs_create(struct pn_shard *s);
void pn__reqs_destroy(struct pn_shard *s);
bool pn__reply_accept(struct pn_shard *s, const struct pn_msg *m);
void pn__reply_msg(struct pn_shard *s, struct pn_msg *m);
extern const struct pn__feature pn__actor_feature;
void pn__timer_fire(void *arg, const struct pn_msg *m, uint64_t id);

/* === supervision: supervisor.c, supervision.c, registry.c, watchdog.c,
 * crash.c ================================================================ */

/* Delivered to supervisor and watchdog handlers: system types below
 * PN__MSG_INTERNAL, which applications cannot send. */
#define PN__MSG_SUP	  (PN_MSG_SYS + 0x2000)
#define PN__MSG_CHILD_UP  (PN__MSG_SUP + 1) /* a child's init returned */
#define PN__MSG_SUP_UP	  (PN__MSG_SUP + 2) /* a child supervisor's tree is up */
#define PN__MSG_SUP_STOP  (PN__MSG_SUP + 3) /* stop your tree, then yourself */
#define PN__MSG_SUP_TIMER (PN__MSG_SUP + 4) /* a supervisor's own timer */
#define PN__MSG_WD_TICK	  (PN__MSG_SUP + 5) /* the watchdog's period */
/* Stop with PN_REASON_SHUTDOWN, or kill without cleanup once the deadline
 * in its payload (u64 ns) has passed. Handled by pn__stop_by(). */
#define PN__MSG_STOP_BY	   (PN__MSG_INTERNAL + 0x40)
#define PN__SPAWN_ACK	   0x100u /* spawn flag: CHILD_UP to parent after init */
#define PN__A_NOCLEANUP	   0x100  /* actor flag: its stop skips cleanup */
#define PN__SUP_STOP_DEPTH 0xffff /* stop-stage word: supervisors first */
#define PN__WORD_STAGE(w)  ((int)(((unsigned)(w) >> 16) - 1)) /* shutdown.c */

/* A name registry entry: the PID (0: empty) and the name, zero-padded. */
#define PN__NAME_WORDS (PN_NAME_MAX / 8)
struct pn__name {
	_Atomic uint64_t pid;
	_Atomic uint64_t w[PN__NAME_WORDS];
};

/* What the watchdog last saw of a shard. Supervisor shard only. */
struct pn__running {
	pn_pid actor;
	uint32_t type;
	const struct pn_behaviour *b;
};
struct pn__stall {
	uint64_t beat, seq, since;
	bool reported;		/* the watchdog reported this stall */
	struct pn__running run; /* what it reported */
};

struct pn__sup; /* supervisor.c: one supervisor's state */

struct pn__sup_rt {
	/* registry.c: readers anywhere; writers hold reg_mu and make gen odd
	 * while they write (a seqlock over the whole table). */
	pthread_mutex_t reg_mu;
	_Atomic uint32_t reg_gen;
	uint32_t reg_mask, reg_count;
	struct pn__name *reg;
	/* supervisor.c: mu/cv for pn_supervisor_start and the stop stage */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned trees_left;	 /* under mu: roots still stopping */
	char text[640];		 /* under mu: lines for the shutdown report */
	struct pn__sup *roots;	 /* supervisor shard only */
	unsigned rr;		 /* supervisor shard only: PN_SHARD_ANY */
	struct pn__stall *stall; /* [nshards], supervisor shard only */
	/* Owner-written (supervisor shard) counters: stats order. */
	_Atomic uint64_t n[6];
};

/*
 * Publish what this shard is about to run for the watchdog, the shutdown
 * report and crash reports. Owner only. actor/type/b are relaxed; seq goes
 * last with release, pairing with the watchdog's acquire load of it, so
 * once seq has stopped moving the fields are those of dispatch seq.
 */
static inline void pn__beacon_set(struct pn_shard *s, const struct pn__actor *a,
				  uint32_t type)
{
	/* The actor's fields only when another actor runs: a stream of
	 * messages to one actor pays two stores per dispatch, not four
	 * (counting local: 10.2-11.3 -> 9.1-9.2 ns per message). */
	if (s->beacon_last != a) {
		s->beacon_last = a;
		atomic_store_explicit(&s->beacon.actor, a->pid,
				      memory_order_relaxed);
		atomic_store_explicit(&s->beacon.b, a->b, memory_order_relaxed);
	}
	atomic_store_explicit(&s->beacon.type, type, memory_order_relaxed);
	atomic_store_explicit(&s->beacon.seq, ++s->dispatch_seq,
			      memory_order_release);
}

/* Around user code that may run nested in another actor's handler (init,
 * the stop sequence): the beacon names the inner actor, then the outer
 * one again. */
static inline uint32_t
pn__beacon_enter(struct pn_shard *s, const struct pn__actor *a, uint32_t type)
{
	uint32_t outer =
		atomic_load_explicit(&s->beacon.type, memory_order_relaxed);

	pn__beacon_set(s, a, type);
	return outer;
}

static inline void pn__beacon_leave(struct pn_shard *s,
				    const struct pn__actor *outer,
				    uint32_t type)
{
	if (outer)
		pn__beacon_set(s, outer, type);
}

/* pn_supervisor_start()'s rendezvous with its root (refs under sup->mu). */
struct pn__ticket {
	int refs, err;
	bool done;
	char msg[256];
};

/* supervision.c: the runtime's side */
int pn__supervision_init(struct pn_runtime *rt);
void pn__supervision_fini(struct pn_runtime *rt);
void pn__supervision_wake(struct pn_runtime *rt);
void pn__supervision_config_init(struct pn_config *c);
void pn__stop_by(struct pn_shard *s, struct pn__actor *a,
		 const struct pn_msg *m);
int pn__sup_shutdown_wait(struct pn_runtime *rt, uint64_t until, bool skip,
			  char *text, size_t size);
bool pn__ticket_done(struct pn_runtime *rt, struct pn__ticket **t, int err,
		     const char *msg);
void pn__event(struct pn_runtime *rt, struct pn_event *ev, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
const char *pn__type_name(uint32_t type, char *buf, size_t size);
extern const struct pn__feature pn__sup_feature;
/* supervisor.c */
int pn__sup_spawn_root(struct pn_runtime *rt, const struct pn_sup_spec *spec,
		       struct pn__ticket *t, pn_pid *pid);
void pn__sup_shutdown_begin(struct pn_shard *s);
/* registry.c */
int pn__registry_init(struct pn_runtime *rt);
void pn__registry_fini(struct pn_runtime *rt);
int pn__name_claim(struct pn_runtime *rt, const char *name, pn_pid old,
		   pn_pid pid);
void pn__name_drop(struct pn_runtime *rt, const char *name, pn_pid pid);
/* watchdog.c */
void pn__watchdog_start(struct pn_shard *s);
uint64_t pn__stall_ns(struct pn_runtime *rt, unsigned shard, uint64_t now,
		      struct pn__running *what);
/* crash.c */
void pn__crash_thread_init(struct pn_shard *s);
void pn__crash_thread_fini(void);

/* === end of supervision ================================================= */

/*
 * Run actor @a's handler on @m, not nested in another handler: the one
 * place that does it (the fast path, guests, replayed early messages), so
 * the watchdog beacon, the probes and the after-handler checks are the
 * same everywhere. Frees a large payload after the handler. Always
 * inlined: the probes' asm makes the compiler think it too big, and a call
 * per message is what the fast path cannot afford.
 */
static inline __attribute__((always_inline)) void
pn__run(struct pn_shard *s, struct pn__actor *a, struct pn_msg *m)
{
	int rc;

	s->cur = a;
	pn__beacon_set(s, a, m->type); /* for the watchdog: see there */
	PN_PROBE3(dispatch_start, s->id, m->to, m->type);
	rc = a->b->handle(pn__ctx(s), a->state, m);
	PN_PROBE4(dispatch_end, s->id, m->to, m->type, rc);
	if (PN_UNLIKELY(rc != 0 || a->pending))
		s->rt->svc.after(s, a, rc);
	s->cur = NULL;
	if (PN_UNLIKELY(m->len > PN_MSG_INLINE))
		pn__buf_free(s, m->ptr);
}

/* Run @a's handler on @m from inside another actor's handler or the stop
 * sequence (actor.c): the running actor and the beacon are restored after,
 * and @m's payload stays the caller's. */
void pn__run_nested(struct pn_shard *s, struct pn__actor *a,
		    const struct pn_msg *m);

/* The guest table (migrate.c): an open-addressing hash PID -> entry,
 * owner only. Here so that the hot lookups (delivery below, sends in
 * migrate.h) inline. */
enum { PN__G_PENDING = 1, PN__G_DIRECT, PN__G_BOUNCE, PN__G_FENCE };

struct pn__guest {
	pn_pid pid;	       /* 0: empty */
	struct pn__actor *a;   /* the actor; NULL: a bounce or early acks */
	struct pn__fifo *held; /* PENDING, FENCE: our sends to it, in order */
	/* FENCE (migrate.c, "The mover's own messages"): what reached it
	 * before its fence completed, in order; the acks so far, how many
	 * it needs (known once its INSTALL came) and their generation. */
	struct pn__fifo *fq;
	uint32_t acks, need, gen;
	uint16_t mode;
	uint16_t from; /* FENCE: the shard it left (for PN_MSG_MIGRATED) */
	bool dead;     /* stopped while fencing: late acks are only counted */
};

struct pn__fwd;
struct pn__fence; /* a mover's fence waiting for held messages (migrate.c) */
struct pn__mig {
	struct pn__guest *g; /* [cap], a power of two, at most half full */
	uint32_t cap, n;
	struct pn__fwd *fwds;	 /* forwarders in this shard's slots */
	uint32_t npump;		 /* destinations with a non-empty fwdq */
	uint32_t nguests;	 /* guests here that sends reach directly */
	uint32_t bit;		 /* the feature's bit in turn_want */
	struct pn__fence *defer; /* [ndefer] fences not yet sent */
	uint32_t ndefer, cdefer;
};

/* Slot and shard bits: distinct for live actors of one home, cheap. */
static inline uint32_t pn__mig_ghome(const struct pn__mig *g, pn_pid pid)
{
	uint32_t h = (uint32_t)(pid >> 32);

	return (h ^ (h >> 13)) & (g->cap - 1);
}

static inline struct pn__guest *pn__mig_gfind(struct pn_shard *s, pn_pid pid)
{
	struct pn__mig *g = s->mig;

	if (!g || !g->n)
		return NULL;
	for (uint32_t i = pn__mig_ghome(g, pid); g->g[i].pid;
	     i = (i + 1) & (g->cap - 1))
		if (g->g[i].pid == pid)
			return &g->g[i];
	return NULL;
}

/* A guest living here that messages go to directly, or NULL. */
static inline struct pn__actor *pn__mig_guest_hot(struct pn_shard *s,
						  pn_pid pid)
{
	struct pn__guest *e = pn__mig_gfind(s, pid);

	return e && (e->mode == PN__G_DIRECT || e->mode == PN__G_PENDING)
		       ? e->a
		       : NULL;
}

/* Deliver @m to its actor here; the common half of pn__dispatch(). */
static inline __attribute__((always_inline)) void
pn__deliver(struct pn_shard *s, struct pn_msg *m)
{
	uint32_t idx = pn_pid_slot(m->to);
	struct pn__actor *a = idx < s->max_slots ? s->slots[idx].actor : NULL;

	if (PN_UNLIKELY(!a || a->pid != m->to)) {
		/* Not an actor of the slot table: the features' (an actor
		 * that lives here away from home, one not started yet), or
		 * a dead letter. */
		pn__dispatch_miss(s, m);
		return;
	}
	pn__run(s, a, m);
}

/* The dispatch fast path, shared by the ring drain and the local queue.
 * A message stamped for sampling (metrics.h) takes the slow way, through
 * the same test as replies: unstamped messages pay nothing for it. */
static inline void pn__dispatch(struct pn_shard *s, struct pn_msg *m)
{
	const uint64_t slow =
		PN__METRICS ? PN__REF_STAMP | PN__REF_REPLY : PN__REF_REPLY;

	if (PN_UNLIKELY(m->type >= PN__MSG_INTERNAL || (m->ref & slow))) {
		if (PN__METRICS && m->ref == PN__REF_STAMP)
			pn__met_dispatch(s, m);
		else
			pn__dispatch_slow(s, m);
	} else {
		pn__deliver(s, m);
	}
}

#endif /* PN_CORE_INT_H */
