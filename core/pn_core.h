/* SPDX-License-Identifier: MIT */
/*
 * core/: the actor runtime. Shards (one pinned thread each, with its own
 * io_uring, arena and timers), actors addressed by PID, SPSC inbox rings
 * between shards, the run-to-completion scheduler, timers, request/reply,
 * monitors and links, external producers, staged shutdown.
 *
 * Calling context is stated on every function:
 *   "handler"  - only from inside a handler (or init/cleanup) on a shard
 *                thread, through the struct pn_ctx it was given; called on
 *                any other thread with a saved ctx it returns -EPERM (and
 *                does nothing), in every build;
 *   "external" - from any thread that is not a shard thread;
 *   "any"      - from anywhere.
 * Handlers run to completion: they never block, sleep or wait for a reply.
 * Errors are negative errno values with a sentence in pn_last_error().
 * Every timeout or delay in nanoseconds saturates: UINT64_MAX (PN_FOREVER)
 * means no deadline, and a large value never wraps into a short one.
 */
#ifndef PN_CORE_H
#define PN_CORE_H

#include "pn_base.h"
#include "pn_msg.h"
#include "pn_request.h"
#include "pn_topology.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pn_runtime;
struct pn_ctx; /* a shard, as its handlers see it */
struct pn_producer;
struct pn_event; /* a supervision event (see "supervision") */
struct io_uring;
struct io_uring_cqe;

/* --- message types ------------------------------------------------------- */

/* Types from PN_MSG_SYS up are the runtime's; applications use below. */
#define PN_MSG_SYS     0xffff0000u
#define PN_MSG_STARTED (PN_MSG_SYS + 1) /* an actor's first message */
#define PN_MSG_STOPPING                                                        \
	(PN_MSG_SYS + 2)		 /* its last (payload: int32 reason)   \
					  */
#define PN_MSG_DOWN	(PN_MSG_SYS + 3) /* a monitored actor stopped */
#define PN_MSG_EXIT	(PN_MSG_SYS + 4) /* a linked actor stopped (trapped) */
#define PN_MSG_TIMEOUT	(PN_MSG_SYS + 5) /* a request got no reply in time */
#define PN_MSG_SHUTDOWN (PN_MSG_SYS + 6) /* the runtime is shutting down */
#define PN_MSG_WRITABLE (PN_MSG_SYS + 7) /* overflow is below budget again */
#define PN_MSG_MIGRATED (PN_MSG_SYS + 8) /* a move ended (pn_migrated) */
/* Message types from PN_MSG_IO to PN_MSG_IO + 0xfff belong to io/. */
#define PN_MSG_IO (PN_MSG_SYS + 0x100)

/* Why an actor stopped (the reason in DOWN, EXIT and STOPPING). */
enum pn_reason {
	PN_REASON_NORMAL = 0, /* pn_stop(), or its handler returned PN_STOP */
	PN_REASON_FAILED,     /* handler returned < 0 or called pn_fail() */
	PN_REASON_KILLED,     /* pn_kill(): no STOPPING message */
	PN_REASON_LINKED,     /* a linked actor stopped abnormally */
	PN_REASON_NOPROC,     /* it was already gone when monitored/linked */
	PN_REASON_SHUTDOWN,   /* the runtime stopped it */
	PN_REASON_INIT,	      /* its init callback failed */
};

/* Payload of PN_MSG_DOWN and PN_MSG_EXIT. */
struct pn_down {
	pn_pid pid;	/* the actor that stopped */
	int32_t reason; /* enum pn_reason */
	int32_t detail; /* the failure code for PN_REASON_FAILED/INIT */
};

/* Name of a reason or a system message type, for logs ("normal", ...). */
PN_API const char *pn_reason_name(int reason);

/* --- behaviours and spawning ---------------------------------------------- */

/* A handler returns 0 to go on, PN_STOP to stop normally, < 0 to fail. */
#define PN_STOP 1

struct pn_behaviour {
	const char *name;  /* for reports and crash logs */
	size_t state_size; /* private state the runtime allocates, zeroed */
	/* Optional. Runs on the actor's shard before any message; @arg is a
	 * copy of the spawn argument, valid during the call. Return 0, or
	 * < 0 to fail the spawn (monitors get DOWN with PN_REASON_INIT). */
	int (*init)(struct pn_ctx *ctx, void *state, const void *arg,
		    size_t arg_len);
	/* Required. Runs once per message, to completion. */
	int (*handle)(struct pn_ctx *ctx, void *state, const struct pn_msg *m);
	/* Optional. Runs once when the actor stops, whatever the reason. */
	void (*cleanup)(struct pn_ctx *ctx, void *state, int reason);
	/*
	 * Optional: the end of a batch (one socket write for many replies).
	 * Runs once per loop turn in which the actor handled a message, after
	 * that turn's messages (at most `batch` per inbound ring, then at most
	 * 4 x `batch` from the local queue: a longer stream is cut there),
	 * before the turn's last publish and io submission (what it sends goes
	 * out this turn). A handler context (its return means what handle's
	 * does); what it sends itself comes next turn, which calls it again.
	 * Not called in a turn without a message for it, once it stopped
	 * (STOPPING, cleanup instead), nor where it left by migrating. Free
	 * for actors without it. README "Guarantees": batches, self-sends.
	 */
	int (*end_batch)(struct pn_ctx *ctx, void *state);
	/* Optional, for migration (see "migration and placement"). Without
	 * pack, a move copies state_size bytes as they are. With it, a move
	 * calls pack on the old shard to write the state into @buf (at most
	 * @size = pack_max bytes; return the bytes written, or < 0 to refuse
	 * the move, leaving the state intact) and, once it succeeded, frees
	 * the state block: pack hands over whatever the state owned. unpack
	 * rebuilds the state (zeroed, state_size bytes) on the new shard from
	 * what pack wrote; < 0 fails the actor there (PN_REASON_FAILED). */
	long (*pack)(struct pn_ctx *ctx, void *state, void *buf, size_t size);
	int (*unpack)(struct pn_ctx *ctx, void *state, const void *buf,
		      size_t len);
	size_t pack_max; /* the most pack writes */
	/* Optional: the payload size of each application type it takes
	 * (@nmsg_sizes entries), checked on delivery by a library built
	 * without NDEBUG (struct pn_msg_size, pn_msg.h); must outlive it. */
	const struct pn_msg_size *msg_sizes;
	size_t nmsg_sizes;
};

#define PN_SHARD_ANY	    -1	 /* see pn_spawn() for the placement policy */
#define PN_SHARD_SUPERVISOR -2	 /* the supervisor shard (supervisor core) */
#define PN_SPAWN_MONITOR    0x1u /* the spawner monitors the child */
#define PN_SPAWN_LINK	    0x2u /* the spawner and the child are linked */
#define PN_SPAWN_TRAP	    0x4u /* the child traps exits (gets PN_MSG_EXIT) */

struct pn_spawn_opts {
	int shard;	 /* shard index, PN_SHARD_ANY or PN_SHARD_SUPERVISOR */
	unsigned flags;	 /* PN_SPAWN_* */
	const void *arg; /* copied; passed to init */
	size_t arg_len;	 /* at most PN_SPAWN_ARG_MAX */
	/* Placement (enum pn_placement; 0: @shard decides, as above). */
	int placement;
	pn_pid near; /* PN_PLACE_NEAR: the shard @near lives on */
	int cpu;     /* PN_PLACE_NUMA: a shard on this cpu's NUMA node */
};
#define PN_SPAWN_ARG_MAX 4096

/*
 * Spawn an actor running @b (which must outlive it) with @opts (NULL: any
 * shard, no flags, no argument). Placement for PN_SHARD_ANY: the calling
 * shard (spawning where you are is free; spread work by naming shards).
 * The PID is valid at once: messages sent to it are delivered after its
 * PN_MSG_STARTED, in order per sender, even when the child lives on
 * another shard and its init has not run yet.
 *
 * Returns 0 and *pid; -EINVAL (bad shard, no handler, arg too big),
 * -ENOSPC (the target shard has no free actor slot), -ENOMEM,
 * -ESHUTDOWN (shutdown has begun). Handler.
 */
PN_API int pn_spawn(struct pn_ctx *ctx, const struct pn_behaviour *b,
		    const struct pn_spawn_opts *opts, pn_pid *pid);

/* As pn_spawn(), from outside the runtime (PN_SHARD_ANY: round-robin).
 * Serialised by a mutex; for hot paths use a struct pn_producer.
 * Flags MONITOR and LINK are invalid here (no spawner actor). External. */
PN_API int pn_runtime_spawn(struct pn_runtime *rt, const struct pn_behaviour *b,
			    const struct pn_spawn_opts *opts, pn_pid *pid);

/* --- inside a handler -------------------------------------------------- */

PN_API pn_pid pn_self(const struct pn_ctx *ctx);    /* handler */
PN_API unsigned pn_shard(const struct pn_ctx *ctx); /* handler */
PN_API struct pn_runtime *pn_ctx_runtime(const struct pn_ctx *ctx);
PN_API uint64_t pn_ctx_now_ns(const struct pn_ctx *ctx); /* loop's clock */

/*
 * Send a copy of @len bytes at @data as a message of @type to @to. Up to
 * PN_MSG_INLINE bytes travel inside the ring slot (no allocation); larger
 * payloads (up to PN_MSG_MAX) are copied into a buffer from this shard's
 * pool, which returns there after the receiver's handler. Messages from one
 * actor to another arrive in the order sent. A full inbox ring never blocks
 * and never drops: the message waits in order in this shard's overflow
 * queue for that destination shard.
 *
 * To a stopped actor of this shard (its slot's generation has moved on):
 * -ESRCH, nothing sent; to one on another shard: accepted, found dead
 * there, a dead letter (counted, passed to the dead-letter handler).
 * Returns 0; -ESRCH; -EINVAL (PN_PID_NONE, a shard that does not exist, a
 * system type, @data NULL with @len > 0); -EMSGSIZE (len > PN_MSG_MAX);
 * -EAGAIN (nothing sent: this shard's overflow is over its byte budget,
 * or the destination shard is congested with more than its budget
 * waiting, forwards for moved actors included; see pn_notify_writable());
 * -ENOMEM; -EPERM (not this ctx's thread).
 * Handler.
 */
PN_API int pn_send(struct pn_ctx *ctx, pn_pid to, uint32_t type,
		   const void *data, size_t len);
#define PN_MSG_MAX (16u << 20)

/* Send an 8-byte value (the common case, inline). As pn_send(). */
PN_API int pn_send_u64(struct pn_ctx *ctx, pn_pid to, uint32_t type,
		       uint64_t v);

/* Requests and replies: pn_request.h (included above). */

/*
 * Stop @pid normally: it handles what its senders sent before this call,
 * then gets PN_MSG_STOPPING, then its cleanup runs and its monitors and
 * links are told. pn_stop(ctx, pn_self(ctx)) stops the caller after the
 * current handler. Stopping a dead actor is a no-op. Returns 0, -EINVAL.
 * Handler.
 */
PN_API int pn_stop(struct pn_ctx *ctx, pn_pid pid);

/* Stop @pid at once with PN_REASON_KILLED: no STOPPING message, messages
 * still queued for it become dead letters; cleanup runs. Handler. */
PN_API int pn_kill(struct pn_ctx *ctx, pn_pid pid);

/* Fail the calling actor with @detail once this handler returns
 * (PN_REASON_FAILED), as if the handler had returned @detail < 0. */
PN_API void pn_fail(struct pn_ctx *ctx, int detail);

/*
 * Monitor @pid: when it stops, the caller gets PN_MSG_DOWN (struct pn_down)
 * with the reason; if it is already gone, DOWN comes at once with
 * PN_REASON_NOPROC. pn_demonitor() removes one monitor (no DOWN after it
 * takes effect). Returns 0, -EINVAL, -ENOMEM. Handler.
 */
PN_API int pn_monitor(struct pn_ctx *ctx, pn_pid pid);
PN_API int pn_demonitor(struct pn_ctx *ctx, pn_pid pid);

/*
 * Link the caller and @pid: when either stops abnormally, the other stops
 * too (PN_REASON_LINKED) unless it traps exits, in which case it gets
 * PN_MSG_EXIT instead (trapping actors also get EXIT for normal stops).
 * Linking to a dead actor acts as if it stopped with PN_REASON_NOPROC.
 * Returns 0, -EINVAL, -ENOMEM. Handler.
 */
PN_API int pn_link(struct pn_ctx *ctx, pn_pid pid);
PN_API int pn_unlink(struct pn_ctx *ctx, pn_pid pid);
PN_API void pn_trap_exit(struct pn_ctx *ctx, bool on);

/*
 * Timers. pn_send_after() delivers @type with a copy of the payload (at
 * most PN_MSG_INLINE bytes) to the caller after @delay_ns;
 * pn_send_every() every @period_ns (> 0). *id (may be NULL) identifies
 * the timer for pn_timer_cancel(), which returns 0 or -ENOENT (unknown,
 * fired or cancelled). Timers of a stopped actor are cancelled; a moving
 * actor's move with it (time left kept; UINT64_MAX stays "never").
 * Resolution: the configured tick (timer_tick_ns); a timer never fires
 * early. Handler.
 */
PN_API int pn_send_after(struct pn_ctx *ctx, uint64_t delay_ns, uint32_t type,
			 const void *data, size_t len, uint64_t *id);
PN_API int pn_send_every(struct pn_ctx *ctx, uint64_t period_ns, uint32_t type,
			 const void *data, size_t len, uint64_t *id);
PN_API int pn_timer_cancel(struct pn_ctx *ctx, uint64_t id);

/*
 * Ask for one PN_MSG_WRITABLE when sends from this shard would pass again:
 * its overflow back under half its byte budget and no destination shard
 * congested (at once if so already). For senders that got -EAGAIN.
 * Returns 0, -ENOMEM. Handler.
 */
PN_API int pn_notify_writable(struct pn_ctx *ctx);

/* Wake one pn_runtime_wait() caller with @code. Any thread, but not
 * async-signal-safe (a mutex): for signals see pn_runtime_signals(). */
PN_API void pn_runtime_notify(struct pn_runtime *rt, int code);

/* --- external producers ----------------------------------------------- */

/*
 * An external producer: a thread outside the runtime (a market-data feed,
 * the main thread) with its own SPSC ring into every shard. One thread
 * uses a producer at a time. Everything it injects counts against the
 * runtime's inject byte budget (inject_bytes) until handled.
 *
 * Returns 0 and *out; -EMFILE (max_producers reached), -ENOMEM,
 * -ESHUTDOWN. External.
 */
PN_API int pn_producer_create(struct pn_runtime *rt, struct pn_producer **out);
PN_API void pn_producer_destroy(struct pn_producer *p); /* External. */

/*
 * Inject a message for @to. pn_inject_try() never blocks: -EAGAIN when the
 * budget or the ring to that shard is full. pn_inject() waits up to
 * @timeout_ns (UINT64_MAX: no limit) for budget bytes, then for a slot in
 * the ring (asleep: the consuming shard wakes it when it frees room):
 * -ETIMEDOUT. Both: 0, -EINVAL (@data NULL with @len > 0 too), -EMSGSIZE
 * (larger than the budget or PN_MSG_MAX), -ESHUTDOWN (not started, or
 * shutdown has begun: a call waiting then returns it at once). External.
 */
PN_API int pn_inject_try(struct pn_producer *p, pn_pid to, uint32_t type,
			 const void *data, size_t len);
PN_API int pn_inject(struct pn_producer *p, pn_pid to, uint32_t type,
		     const void *data, size_t len, uint64_t timeout_ns);

/* Spawn through a producer (no MONITOR/LINK flags). External. */
PN_API int pn_producer_spawn(struct pn_producer *p,
			     const struct pn_behaviour *b,
			     const struct pn_spawn_opts *opts, pn_pid *pid);

/* pn_inject() through the runtime's own producer (mutex-serialised; it
 * is not one of max_producers). External. */
PN_API int pn_runtime_send(struct pn_runtime *rt, pn_pid to, uint32_t type,
			   const void *data, size_t len, uint64_t timeout_ns);

/* --- the runtime --------------------------------------------------------- */

/* Called on the shard that found a dead letter (in its loop); for the
 * join stage's own dead letters (see struct pn_shutdown_report), on the
 * thread in pn_runtime_shutdown(), after every shard thread has exited.
 * The message and its payload are valid during the call. */
typedef void (*pn_dead_letter_fn)(void *arg, unsigned shard,
				  const struct pn_msg *m);

enum pn_stage {
	PN_STAGE_INPUT,	 /* refuse external input */
	PN_STAGE_NOTIFY, /* PN_MSG_SHUTDOWN to every actor */
	PN_STAGE_DRAIN,	 /* wait until no message is in flight */
	PN_STAGE_STOP,	 /* stop actors, deepest (children) first */
	PN_STAGE_IO,	 /* pollers' shutdown hooks (io/) */
	PN_STAGE_JOIN,	 /* shard threads exit and are joined */
	PN_STAGE_COUNT
};

/* A rebalancing policy (see "migration and placement"). */
struct pn_traffic_view;
typedef void (*pn_rebalance_fn)(struct pn_ctx *ctx,
				const struct pn_traffic_view *v, void *arg);

struct pn_config {
	struct pn_plan_config plan; /* shards, cores, supervisor core, SMT */
	uint32_t ring_slots;	    /* per inbox ring, power of 2; 1024 */
	uint32_t batch;		    /* messages per source per turn; 64 */
	uint64_t spin_ns;	    /* spin before parking; 20000 */
	bool busy_poll;		    /* never park (latency-critical) */
	bool no_pin;		    /* don't pin threads (tests, containers) */
	uint64_t overflow_bytes;    /* per-shard overflow budget; 4 MiB */
	uint64_t inject_bytes;	    /* external producers' budget; 64 MiB */
	uint32_t max_producers;	    /* external producer threads; 16 */
	uint32_t max_actors;	    /* actor slots per shard; 1 << 20 */
	uint64_t timer_tick_ns;	    /* timer resolution, 1 us - 1 s; 100 us */
	uint64_t stage_ns[PN_STAGE_COUNT]; /* per shutdown stage limit */
	pn_dead_letter_fn dead_letter;	   /* optional */
	void *dead_letter_arg;
	/* Supervision (see the "supervision" section at the end). */
	uint64_t watchdog_ns;	 /* handler time limit; 1 s; 0: no watchdog */
	int watchdog_policy;	 /* PN_WATCHDOG_REPORT (default) or _ABORT */
	uint32_t registry_slots; /* name registry size, power of 2; 4096 */
	uint32_t max_topics;	 /* open topics (pn_topic.h), <= 65535; 1024 */
	bool no_crash_report;	 /* don't install the fatal-signal handler */
	/* Supervision events (restarts, kills, stalls...), called on the
	 * supervisor shard; NULL: one line each on stderr. */
	void (*on_event)(void *arg, const struct pn_event *ev);
	void *event_arg;
	/* Metrics (see "metrics"): stamp 1 in @metrics_sample application
	 * sends for the per-actor queue-time and handler-time statistics
	 * (three clock reads per sample); 1024 by default, 0: off (the
	 * per-shard counters are always on). PINION_METRICS_SAMPLE. */
	uint32_t metrics_sample;
	/* Migration and placement (see that section). */
	bool migrate_supervisor; /* allow moves to the supervisor shard */
	uint32_t compact_cap;	 /* PN_PLACE_COMPACT: actors per shard; 1024 */
	uint64_t rebalance_ns;	 /* the rebalancer's period; 100 ms */
	pn_rebalance_fn rebalance; /* NULL: no rebalancer */
	void *rebalance_arg;
	/* The one clock the shards read (ns, never going back): timers,
	 * request timeouts, supervisors, the watchdog, metrics, the flight
	 * recorder, pn_ctx_now_ns(). NULL: CLOCK_MONOTONIC (pn_now_ns()). A
	 * virtual clock drives a simulated run. Called from any thread.
	 * External threads blocked in a call (pn_inject, pn_runtime_wait,
	 * shutdown's stages) still sleep on CLOCK_MONOTONIC. */
	uint64_t (*clock)(void *arg);
	void *clock_arg;
};

/* Fill @c with the defaults above. */
PN_API void pn_config_init(struct pn_config *c);

/*
 * Apply the environment to @c: the topology's PINION_SHARDS, PINION_CORES,
 * PINION_SUPERVISOR_CORE, PINION_SMT, and PINION_BUSY_POLL (0|1),
 * PINION_SPIN_NS (0 to 10 s), PINION_RING_SLOTS (a power of two, 2 to
 * 2^20), PINION_METRICS_SAMPLE (0 to 2^30). Unset or empty variables leave
 * their field alone. Values are parsed strictly (pn_parse_u64: decimal
 * digits only, no sign, no trailing text, no overflow). Returns 0, or
 * -EINVAL naming the variable, the value and the accepted range, with @c
 * unchanged. Any thread (reads the environment; not safe against a
 * concurrent setenv).
 */
PN_API int pn_config_from_env(struct pn_config *c);

/*
 * Create a runtime from @c (NULL: defaults plus the environment): checks
 * the configuration, loads the topology, makes the placement plan and
 * allocates every shard's rings and tables. No thread runs yet.
 * Returns 0 and *out; -EINVAL naming the bad setting (or @out NULL);
 * -ENOMEM; what the topology returns. External.
 */
PN_API int pn_runtime_create(const struct pn_config *c,
			     struct pn_runtime **out);

/* Start the shard threads, pinned per the plan. Returns 0, -EALREADY,
 * or the pinning/io_uring error (then no thread is left running, and the
 * failure is final: later calls return it again; destroy the runtime and
 * create another). External. */
PN_API int pn_runtime_start(struct pn_runtime *rt);

/*
 * Application shards (the plan's). The runtime also runs one supervisor
 * shard, index pn_runtime_nshards(), pinned to the plan's supervisor core:
 * spawn there with PN_SHARD_SUPERVISOR; it never busy-polls. Any.
 */
PN_API unsigned pn_runtime_nshards(const struct pn_runtime *rt);
PN_API const struct pn_plan *pn_runtime_plan(const struct pn_runtime *rt);

/* Block until someone calls pn_runtime_notify() (each notify wakes one
 * wait; a notify before the wait is kept for it); *code gets its code.
 * @timeout_ns UINT64_MAX: no limit. Returns 0, -ETIMEDOUT, or -ESHUTDOWN
 * once shutdown has begun and no code is queued (a waiting caller is
 * released then; queued codes are still handed out after shutdown).
 * External. */
PN_API int pn_runtime_wait(struct pn_runtime *rt, uint64_t timeout_ns,
			   int *code);

/* Free the runtime (shutting it down first with a 5 s timeout if that has
 * not happened), after every external call still inside has returned
 * (the closed gate releases them at once; no call may start once destroy
 * has). If shutdown abandoned a shard, its thread may still run: then
 * nothing is freed (the runtime stays reachable on a static list, a
 * deliberate leak). NULL is ignored. External. */
PN_API void pn_runtime_destroy(struct pn_runtime *rt);

#ifdef __cplusplus
}
#endif
#endif /* PN_CORE_H */
