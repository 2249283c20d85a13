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
 * A destination that has stopped, or a stale PID, is found where it lives:
 * the message becomes a dead letter there (counted, passed to the
 * configured dead-letter handler). Returns 0; -EINVAL (PN_PID_NONE, a shard
 * that does not exist, a system type, @data NULL with @len > 0);
 * -EMSGSIZE (len > PN_MSG_MAX); -EAGAIN (nothing sent: this shard's
 * overflow is over its byte budget, or the destination shard is congested
 * with more than its budget waiting, forwards for moved actors included;
 * see pn_notify_writable()); -ENOMEM; -EPERM (not this ctx's thread).
 * Handler.
 */
PN_API int pn_send(struct pn_ctx *ctx, pn_pid to, uint32_t type,
		   const void *data, size_t len);
#define PN_MSG_MAX (16u << 20)

/* Send an 8-byte value (the common case, inline). As pn_send(). */
PN_API int pn_send_u64(struct pn_ctx *ctx, pn_pid to, uint32_t type,
		       uint64_t v);

/*
 * Send @type to @to as a request: the reply (pn_reply()) or, after
 * @timeout_ns, a PN_MSG_TIMEOUT comes back to the caller, either one
 * carrying the correlation id in msg->ref (also returned in *ref). Exactly
 * one of the two arrives; a reply after the timeout is a dead letter
 * (counted in late_replies too). UINT64_MAX: no timeout (the reply, if it
 * comes, is all). Errors as pn_send(), plus -EINVAL for timeout 0. Handler.
 */
PN_API int pn_request(struct pn_ctx *ctx, pn_pid to, uint32_t type,
		      const void *data, size_t len, uint64_t timeout_ns,
		      uint64_t *ref);

/* Answer request @req with @type and a payload. As pn_send(); -EINVAL if
 * @req is not a request. Handler. */
PN_API int pn_reply(struct pn_ctx *ctx, const struct pn_msg *req, uint32_t type,
		    const void *data, size_t len);

/* The correlation id of a request, reply or TIMEOUT, as pn_request()
 * returned it in *ref (a reply's msg->ref also carries a reply flag). */
static inline uint64_t pn_msg_ref(const struct pn_msg *m)
{
	return m->ref & ~(1ull << 63);
}

/* Whether @m is a reply (to one of this actor's requests). */
static inline bool pn_msg_is_reply(const struct pn_msg *m)
{
	return (m->ref >> 63) != 0;
}

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

/* Wake one pn_runtime_wait() caller with @code. Any. */
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

/*
 * Every message the runtime accepted (each 0 return of pn_send(),
 * pn_reply(), pn_inject(), pn_runtime_send(), each timer firing and io
 * completion, and the runtime's own messages) is either handled or
 * dead-lettered: accepted == handled + dead_letters + in_flight, and
 * in_flight is 0 once pn_runtime_shutdown() has returned (unless a shard
 * was abandoned: then it counts what that shard never handled). A
 * snapshot while running (the parts are read one after another).
 */
struct pn_runtime_totals {
	uint64_t accepted;
	uint64_t handled;
	uint64_t dead_letters;
	uint64_t in_flight; /* queued, held, or in a handler now */
	uint64_t injected;  /* of accepted: from external producers */
};

/* Sum the counters of every shard and producer into @out. Returns 0. Any
 * thread (after pn_runtime_shutdown() too, until pn_runtime_destroy()). */
PN_API int pn_runtime_totals(const struct pn_runtime *rt,
			     struct pn_runtime_totals *out);

struct pn_stage_report {
	const char *name; /* "input", "notify", ... */
	int status;	  /* 0, -ETIMEDOUT, or another -errno */
	uint64_t elapsed_ns;
	uint64_t shards_pending; /* bit i: shard i did not finish (i < 64) */
};

struct pn_shutdown_report {
	struct pn_stage_report stage[PN_STAGE_COUNT];
	uint64_t actors_left;	   /* actors that could not be stopped */
	unsigned shards_abandoned; /* threads left behind (stuck handler) */
	/* External calls still inside the runtime when the input stage
	 * ended (0: every one had returned; see pn_runtime_shutdown()). */
	unsigned calls_inside;
	/* Messages no handler would ever see once the shard threads had
	 * exited, dead-lettered by the join stage (counted in dead_letters
	 * and passed to the dead-letter hook), by where they waited: an
	 * inbound ring, the local queue, an overflow queue, or held (early
	 * messages of an unstarted actor, a moving actor's messages). */
	uint64_t dead_ring, dead_local, dead_overflow, dead_held;
	/* Accounting after the join (in_flight is 0 unless a shard was
	 * abandoned: then it is what that shard will never handle). */
	struct pn_runtime_totals totals;
	char text[1024]; /* one line per problem; "" when clean */
};

/*
 * Shut the runtime down in stages (enum pn_stage), each bounded by its
 * own limit (c->stage_ns) and by what is left of @timeout_ns (UINT64_MAX:
 * only the stage limits). A stage that fails or times out is reported and
 * the next stage still runs; the call returns within @timeout_ns (plus
 * scheduling noise) whatever the actors do.
 *   input: external calls are refused from now on (-ESHUTDOWN) and every
 *     one blocked (budget, ring room, pn_runtime_wait, supervisor start)
 *     returns at once; the stage ends when no external call is inside.
 *   drain: ends only when no message is queued anywhere and no handler
 *     runs (proved by waves of counts, not guessed); what SHUTDOWN
 *     handlers start is finished within the stage's limit.
 *   join: what the exited shards still held is dead-lettered, by place.
 * After it returns, accepted == handled + dead_letters (report->totals).
 * A shard whose handler never returns is abandoned: named in the report,
 * its memory deliberately leaked by pn_runtime_destroy(). @report may be
 * NULL. Returns 0 when every stage finished, -ETIMEDOUT otherwise.
 * Calling it twice returns -EALREADY. External.
 */
PN_API int pn_runtime_shutdown(struct pn_runtime *rt, uint64_t timeout_ns,
			       struct pn_shutdown_report *report);

/* Free the runtime (shutting it down first with a 5 s timeout if that has
 * not happened), after every external call still inside has returned
 * (the closed gate releases them at once; no call may start once destroy
 * has). If shutdown abandoned a shard, its thread may still run: then
 * nothing is freed (the runtime stays reachable on a static list, a
 * deliberate leak). NULL is ignored. External. */
PN_API void pn_runtime_destroy(struct pn_runtime *rt);

/*
 * Per-shard counters (snapshot; each read atomically; the hot ones are
 * published once per loop turn, so they may lag by one turn). Message
 * counts include the runtime's own messages (STARTED, DOWN, spawns, the
 * migration protocol...), and each message is counted once however often
 * it is forwarded or held on its way: accepted where it was sent,
 * handled or dead_letters where it ended. A message that migration takes
 * back on one shard and that ends on another can make a shard's
 * accepted/handled off by its count; pn_runtime_totals() is exact.
 */
struct pn_shard_stats {
	uint64_t handled;      /* consumed here: by a handler or the runtime */
	uint64_t sent_local;   /* to actors on the same shard */
	uint64_t sent_remote;  /* into rings to other shards */
	uint64_t received_ext; /* from external producers */
	uint64_t overflowed;   /* sends that went to the overflow queue */
	uint64_t eagain;       /* sends refused: overflow over budget */
	/* Bytes waiting here outside the rings, against the overflow
	 * budget: the overflow queues and migration's side queues. */
	uint64_t overflow_bytes;
	uint64_t dead_letters;
	uint64_t late_replies;
	uint64_t timers_fired;
	uint64_t parks;
	uint64_t wakes_sent;
	uint64_t spawned;
	uint64_t stopped;
	uint64_t actors;    /* alive now */
	uint64_t accepted;  /* sent from here: actors, timers, io, runtime */
	uint64_t forwarded; /* queued again here (migration, early, held) */
};

/* Read shard @shard's counters (0..nshards, the last being the supervisor
 * shard). Returns 0 or -EINVAL. Any. */
PN_API int pn_runtime_stats(const struct pn_runtime *rt, unsigned shard,
			    struct pn_shard_stats *out);

/* --- the io hook (for io/) ---------------------------------------------- */

/*
 * A poller lets io/ build operations on each shard's io_uring without core
 * knowing about io: the shard reaps every CQE and hands those whose
 * user_data has PN_CQE_POLLER set to @complete on that shard.
 */
#define PN_CQE_POLLER (1ull << 63)
struct pn_poller {
	const char *name;
	void (*attach)(struct pn_ctx *ctx, void *arg); /* shard start */
	void (*complete)(struct pn_ctx *ctx, void *arg,
			 const struct io_uring_cqe *cqe);
	void (*shutdown)(struct pn_ctx *ctx, void *arg); /* PN_STAGE_IO */
	void *arg;
};

/* Register @p on every shard (before pn_runtime_start()). Returns 0,
 * -EBUSY (already started or a poller is registered). External. */
PN_API int pn_poller_register(struct pn_runtime *rt, const struct pn_poller *p);

/*
 * The shard's io_uring (SINGLE_ISSUER: submit only from this shard). SQEs
 * a poller or handler prepares are submitted by the shard at the end of
 * the loop turn (one io_uring_enter for the whole turn). Handler/poller.
 */
PN_API struct io_uring *pn_ctx_ring(struct pn_ctx *ctx);

/* A poller's per-shard state (NULL until set). Handler/poller. */
PN_API void pn_ctx_set_poller_data(struct pn_ctx *ctx, void *data);
PN_API void *pn_ctx_poller_data(const struct pn_ctx *ctx);

/* Message types from PN_MSG_IO to PN_MSG_IO + 0xfff belong to io/. */
#define PN_MSG_IO (PN_MSG_SYS + 0x100)

/*
 * From a poller's hooks: send a message of @type (an application type or
 * one of io/'s PN_MSG_IO types) to @to, from the runtime (msg->from is
 * PN_PID_NONE), through the one dispatch path. Errors as pn_send().
 * Poller (on the shard).
 */
PN_API int pn_ctx_deliver(struct pn_ctx *ctx, pn_pid to, uint32_t type,
			  const void *data, size_t len);

/* === supervision ======================================================== */
/*
 * Supervisor trees modelled on Erlang/OTP, a name registry, a watchdog for
 * handlers that run too long, and crash reports for fatal signals. All
 * supervisors run on the supervisor shard (the plan's supervisor core),
 * together with the watchdog; children run where their spec says.
 */

enum pn_restart {
	PN_RESTART_PERMANENT, /* always restarted */
	PN_RESTART_TRANSIENT, /* restarted after an abnormal stop only */
	PN_RESTART_TEMPORARY, /* never restarted */
};

enum pn_strategy {
	PN_ONE_FOR_ONE,	 /* restart the child that stopped */
	PN_ONE_FOR_ALL,	 /* stop all others (reverse order), restart all */
	PN_REST_FOR_ONE, /* stop those started after it, restart them and it */
};

/* Child shutdown timeouts (struct pn_child_spec.shutdown_ns). */
#define PN_SHUTDOWN_BRUTAL   UINT64_C(1) /* killed at once, no cleanup */
#define PN_SHUTDOWN_INFINITY UINT64_MAX	 /* wait as long as it takes */

/* A registered name is at most PN_NAME_MAX - 1 bytes. */
#define PN_NAME_MAX 56

struct pn_sup_spec;

/*
 * One child of a supervisor: a worker (@b) or a supervisor (@sup), exactly
 * one of the two. @arg is copied at every (re)start and given to init.
 * @shard: a shard index or PN_SHARD_ANY (application shards round-robin,
 * chosen once: restarts stay there); supervisors always run on the
 * supervisor shard. @shutdown_ns bounds the child's stop: it gets
 * PN_MSG_STOPPING (reason PN_REASON_SHUTDOWN) and its cleanup if its shard
 * reaches the stop request within it; after that it is killed with
 * PN_REASON_KILLED, detail -ETIMEDOUT, and its cleanup is skipped (and that
 * is reported). 0 means 1 s for a worker, PN_SHUTDOWN_INFINITY for a
 * supervisor (whose own children's timeouts bound it). @name (optional) is
 * registered for every instance, so senders keep using the name across
 * restarts. Everything pointed to must outlive the supervisor.
 */
struct pn_child_spec {
	const char *id;		      /* for reports; NULL: name or behaviour */
	const struct pn_behaviour *b; /* a worker, or */
	const struct pn_sup_spec *sup; /* a supervisor */
	const void *arg;	       /* copied at each start (init) */
	size_t arg_len;		       /* at most PN_SPAWN_ARG_MAX */
	int shard;		       /* shard index or PN_SHARD_ANY */
	enum pn_restart restart;
	uint64_t shutdown_ns; /* see above; 0: the default */
	const char *name;     /* registered name, or NULL */
};

/*
 * A supervisor: children started in order (each one's init has returned
 * before the next is spawned; a child supervisor's whole tree is up before
 * its next sibling starts) and stopped in reverse order. When a child
 * stops and its restart type asks for a restart, @strategy decides which
 * children restart (in start order, after the others were stopped in
 * reverse order). More than @intensity restarts within @period_ns make
 * the supervisor give up: it stops all its children in reverse order and
 * fails (PN_REASON_FAILED, detail -ECHILD) to its own supervisor, which
 * sees it as a failing child (escalation). A root supervisor that gives up
 * stops its tree and calls pn_runtime_notify(PN_NOTIFY_ROOT_FAILED): the
 * thread waiting in pn_runtime_wait() should then call
 * pn_runtime_shutdown(). @start_ns bounds each worker's start (0: 5 s).
 */
struct pn_sup_spec {
	const char *name; /* for reports */
	enum pn_strategy strategy;
	uint32_t intensity; /* R: restarts allowed within the period */
	uint64_t period_ns; /* T (> 0 when intensity > 0) */
	uint64_t start_ns;
	const struct pn_child_spec *children;
	unsigned nchildren;
};

/* The code pn_runtime_wait() gets when a root supervisor gave up. */
#define PN_NOTIFY_ROOT_FAILED INT32_MIN

/*
 * Start a root supervisor for @spec (which, with everything it points to,
 * must outlive it) on the supervisor shard, and wait up to @timeout_ns for
 * its whole tree to be up (0: do not wait; UINT64_MAX: no limit). *pid
 * gets its PID.
 *
 * Returns 0 (tree up, or started when @timeout_ns is 0); -EINVAL naming
 * the bad field; -ECHILD (a child failed to start: the supervisor stopped
 * the others and failed; pn_last_error() says which and why);
 * -ETIMEDOUT (still starting); -ESHUTDOWN; spawn errors. External.
 */
PN_API int pn_supervisor_start(struct pn_runtime *rt,
			       const struct pn_sup_spec *spec,
			       uint64_t timeout_ns, pn_pid *pid);

enum pn_event_kind {
	PN_EVENT_CHILD_EXIT,  /* a child stopped and is not restarted */
	PN_EVENT_RESTART,     /* a child stopped; it (and others) restart */
	PN_EVENT_KILLED,      /* missed its shutdown timeout: cleanup skipped */
	PN_EVENT_LEFT_BEHIND, /* could not be stopped: its shard is stuck */
	PN_EVENT_ESCALATE,    /* a supervisor gives up (intensity, start) */
	PN_EVENT_ROOT_FAILED, /* a root supervisor gave up */
	PN_EVENT_STALL,	      /* watchdog: a handler runs over the limit */
	PN_EVENT_STALL_END,   /* watchdog: that handler returned at last */
};

/* What pn_config.on_event gets; pointers valid during the call only. */
struct pn_event {
	int kind;	       /* enum pn_event_kind */
	unsigned shard;	       /* where @actor runs */
	pn_pid supervisor;     /* PN_PID_NONE for watchdog events */
	pn_pid actor;	       /* the child, or the stalled actor */
	const char *behaviour; /* its behaviour's name ("" if unknown) */
	const char *child;     /* the child's id (NULL for the watchdog) */
	uint32_t type;	       /* the message being handled (STALL...) */
	int reason, detail;    /* how it stopped (CHILD_EXIT, RESTART...) */
	uint64_t ns;	       /* how long (STALL, STALL_END, KILLED) */
	const char *text;      /* all of the above as one line */
	/* STALL: the stuck shard's last events (flight recorder), one
	 * "pinion:     ..." line each, oldest first; NULL otherwise. */
	const char *flight;
};

/* Watchdog policies (pn_config.watchdog_policy). ABORT sends SIGABRT to
 * the stuck shard's thread, whose crash report shows where it loops. */
#define PN_WATCHDOG_REPORT 0
#define PN_WATCHDOG_ABORT  1

struct pn_supervision_stats {
	uint64_t restarts;	/* restart decisions (one per strategy run) */
	uint64_t escalations;	/* supervisors that gave up */
	uint64_t root_failures; /* root supervisors that gave up */
	uint64_t kills;		/* children killed without cleanup */
	uint64_t left_behind;	/* children whose shard was stuck */
	uint64_t stalls;	/* watchdog incidents */
};

/* Snapshot of the supervision counters. Returns 0. Any. */
PN_API int pn_supervision_stats(const struct pn_runtime *rt,
				struct pn_supervision_stats *out);

/*
 * The name registry (per runtime). pn_name_register() binds @name to @pid
 * (-EEXIST if bound, -EINVAL for an empty or too long name or no PID,
 * -ENOSPC when the registry is 3/4 full); pn_name_unregister() removes it
 * (-ENOENT). A name names a PID, not an actor: it stays bound after the
 * actor stops (sends to it become dead letters) unless it belongs to a
 * supervised child, whose supervisor keeps it pointing at the current
 * instance and removes it when the child is gone for good. Writers are
 * serialised by a mutex held for a few table writes; pn_name_lookup()
 * takes no lock (it retries if a write overlapped). Any.
 */
PN_API int pn_name_register(struct pn_runtime *rt, const char *name,
			    pn_pid pid);
PN_API int pn_name_unregister(struct pn_runtime *rt, const char *name);
/* The PID bound to @name, or PN_PID_NONE. Any. */
PN_API pn_pid pn_name_lookup(const struct pn_runtime *rt, const char *name);
/* pn_send() to the PID bound to @name; -ESRCH if none. Handler. */
PN_API int pn_name_send(struct pn_ctx *ctx, const char *name, uint32_t type,
			const void *data, size_t len);

/* === end of supervision ================================================= */

/* === metrics ============================================================ */
/*
 * Log-linear histograms (HdrHistogram's scheme): values below 2^S exact,
 * then 2^S buckets per power of two, so the relative error is below 2^-S;
 * fixed memory (2^S * (65 - S) counters); histograms of the same S merge
 * by adding. Recording never allocates. One writer at a time. Any.
 */
struct pn_hist;
/* Returns 0 and *out, -EINVAL (S outside 1..12), -ENOMEM. */
PN_API int pn_hist_create(unsigned sub_bits, struct pn_hist **out);
PN_API void pn_hist_destroy(struct pn_hist *h);
PN_API void pn_hist_reset(struct pn_hist *h);
PN_API void pn_hist_record(struct pn_hist *h, uint64_t v);
PN_API void pn_hist_record_n(struct pn_hist *h, uint64_t v, uint64_t n);
/* Add @src into @dst: 0, or -EINVAL if their S differ. */
PN_API int pn_hist_merge(struct pn_hist *dst, const struct pn_hist *src);
PN_API uint64_t pn_hist_count(const struct pn_hist *h);
PN_API uint64_t pn_hist_min(const struct pn_hist *h);
PN_API uint64_t pn_hist_max(const struct pn_hist *h);
PN_API uint64_t pn_hist_sum(const struct pn_hist *h);
/* The @p-th percentile (0..100), never under-reported. */
PN_API uint64_t pn_hist_percentile(const struct pn_hist *h, double p);
/* How many values are below @v (exact for powers of two). */
PN_API uint64_t pn_hist_count_below(const struct pn_hist *h, uint64_t v);
/* Bucket @i (< pn_hist_buckets()): its count, lowest value and width. */
PN_API unsigned pn_hist_buckets(const struct pn_hist *h);
PN_API uint64_t pn_hist_bucket(const struct pn_hist *h, unsigned i,
			       uint64_t *low, uint64_t *width);

/*
 * A source of extra per-shard counters (io/ registers one): @collect runs
 * on each shard, on that shard's thread, every 1024 loop turns and before
 * the shard parks, and fills v[0..n) with the shard's current values.
 * Names become pinion_<name>_<names[i]> (counters get _total). Everything
 * pointed to must outlive the runtime. Register before
 * pn_runtime_start(). Returns 0, -EBUSY (started), -ENOSPC (more than 32
 * counters in all), -EINVAL. External.
 */
struct pn_metrics_source {
	const char *name;
	unsigned n;
	const char *const *names;      /* [n] */
	const unsigned char *is_gauge; /* [n], or NULL: all counters */
	void (*collect)(struct pn_ctx *ctx, void *arg, uint64_t *v);
	void *arg;
};
PN_API int pn_metrics_source_register(struct pn_runtime *rt,
				      const struct pn_metrics_source *src);

/* One shard in a snapshot. Time shares: busy (running the loop with
 * work), spin (idle, not parked) and parked add up to the shard's life. */
struct pn_shard_metrics {
	struct pn_shard_stats stats;
	uint64_t handled_local, handled_cross, handled_ext;
	uint64_t wakes_received;
	uint64_t busy_ns, spin_ns, parked_ns;
	uint64_t samples;	  /* sampled dispatches */
	const uint64_t *sent_to;  /* [nshards] into each shard's queue */
	const uint32_t *ring_hwm; /* [nsources] inbound ring backlog HWM */
	unsigned nsources;	  /* nshards + max_producers */
	const uint64_t *ext;	  /* registered sources' counters */
	const struct pn_hist *handler_ns; /* sampled handler run time */
	const struct pn_hist *queue_ns;	  /* sampled enqueue-to-dispatch */
};

/* One actor's sampled statistics (estimates: samples x sample rate). */
struct pn_actor_metrics {
	pn_pid pid;
	unsigned shard;
	char behaviour[24];
	uint64_t samples, messages_est;
	uint64_t handler_ns, queue_ns; /* sums over the samples */
	uint64_t handler_p99_ns, queue_p99_ns;
};

/*
 * Take a snapshot of every shard's metrics and the most sampled actors.
 * Each counter is read atomically; the hot ones are published once per
 * loop turn (the time shares when the loop changes state, and at least
 * every 1024 turns). Returns 0 and *out (free it with
 * pn_metrics_free()), -ENOMEM. Any thread.
 */
struct pn_metrics;
PN_API int pn_metrics_snapshot(struct pn_runtime *rt, struct pn_metrics **out);
PN_API void pn_metrics_free(struct pn_metrics *m);
PN_API unsigned pn_metrics_nshards(const struct pn_metrics *m);
PN_API uint64_t pn_metrics_time_ns(const struct pn_metrics *m);
PN_API const struct pn_shard_metrics *
pn_metrics_shard(const struct pn_metrics *m, unsigned shard);
/* The sampled actors, most samples first; returns how many. */
PN_API unsigned pn_metrics_actors(const struct pn_metrics *m,
				  const struct pn_actor_metrics **out);
/* Registered source counters: how many, and the name of number @i
 * ("io_accepted") and whether it is a gauge. */
PN_API unsigned pn_metrics_ext_count(const struct pn_metrics *m);
PN_API const char *pn_metrics_ext_name(const struct pn_metrics *m, unsigned i,
				       bool *gauge);

/*
 * Write @m as one JSON object (pn_metrics_json) or in the Prometheus text
 * format, version 0.0.4 (pn_metrics_prom). Returns 0 or -EIO. Any.
 * For a buffer, use fmemopen() or open_memstream().
 */
PN_API int pn_metrics_json(const struct pn_metrics *m, FILE *f);
PN_API int pn_metrics_prom(const struct pn_metrics *m, FILE *f);

/* === end of metrics ===================================================== */

/* === migration and placement ============================================ */
/*
 * An actor can move to another shard and keep its PID: its state travels
 * as a message (a copy of state_size bytes, or the behaviour's pack/unpack)
 * and it is re-created there with its monitors, links, armed timers (same
 * ids; remaining time and period kept) and outstanding requests. Names
 * keep naming it. Every message for it still goes to its home shard (the
 * one its PID names), which forwards it to where the actor is, so no
 * message is lost and each sender's messages arrive in the order sent,
 * across any number of moves. Cost: while away from home a message makes
 * one more ring hop (via the home), except from the shard the actor is on,
 * whose sends go straight to it once the home has agreed (one round trip
 * after it arrives). See README, "Placement and migration".
 */

/* Payload of PN_MSG_MIGRATED: delivered first on the new shard (status 0),
 * or where the actor stays when a move failed after its handler returned
 * (status < 0: -ENOMEM, pack's error, -EMSGSIZE when pack wrote more than
 * pack_max, -ESHUTDOWN). */
struct pn_migrated {
	int32_t status;
	uint32_t from; /* the shard it left (or tried to) */
	uint32_t to;   /* where it is now (or was to go) */
};

/*
 * Move the calling actor to @shard once this handler returns (to the
 * shard it is on: nothing to do). Returns 0; -EINVAL (not in a handler,
 * no such shard, or in init: an actor moves once it has started); -EPERM
 * (to the supervisor shard without cfg.migrate_supervisor, or an actor
 * whose home is the supervisor shard); -EBUSY (a move is already asked
 * for in this handler); -EMSGSIZE (its state, as declared, is larger than
 * a message can carry); -ESHUTDOWN. A failure after the handler returns
 * comes as PN_MSG_MIGRATED with a status < 0; the actor keeps running
 * where it was. Handler.
 */
PN_API int pn_migrate(struct pn_ctx *ctx, unsigned shard);

/* Ask @pid to move to @shard: a message it acts on between two of its
 * messages, wherever it is by then. Errors as pn_migrate() for what can be
 * checked here; later ones reach @pid as PN_MSG_MIGRATED. Handler. */
PN_API int pn_migrate_pid(struct pn_ctx *ctx, pn_pid pid, unsigned shard);

/*
 * The shard @pid lives on now: its home (the PID's shard) unless it has
 * moved. A snapshot: the actor may move or stop right after. Returns 0;
 * -EINVAL (not a PID of this runtime), -ESRCH (the actor has stopped;
 * a PID whose spawn is still in flight counts as alive). Any thread.
 */
PN_API int pn_where(const struct pn_runtime *rt, pn_pid pid, unsigned *shard);

/* pn_migrate_pid() from outside the runtime (the runtime's own producer;
 * waits up to 1 s for room: -ETIMEDOUT). External. */
PN_API int pn_runtime_migrate(struct pn_runtime *rt, pn_pid pid,
			      unsigned shard);

/* Placements for struct pn_spawn_opts.placement. */
enum pn_placement {
	PN_PLACE_DEFAULT = 0, /* opts.shard decides (PN_SHARD_ANY: see spawn) */
	PN_PLACE_SHARD,	      /* opts.shard, which must be a shard index */
	PN_PLACE_NEAR,	      /* the shard opts.near lives on (pn_where) */
	PN_PLACE_COMPACT,     /* the first shard under cfg.compact_cap actors */
	PN_PLACE_SCATTER,     /* round-robin over the application shards */
	PN_PLACE_NUMA,	      /* round-robin over shards on opts.cpu's node */
};

/* Per shard: what migration did there (relaxed snapshot). */
struct pn_migrate_stats {
	uint64_t moves;	    /* actors that left this shard */
	uint64_t installs;  /* actors that arrived here */
	uint64_t forwarded; /* messages this shard forwarded as a home */
	uint64_t bounced;   /* messages sent back to a home */
};
/* Returns 0 or -EINVAL. Any. */
PN_API int pn_migrate_stats(const struct pn_runtime *rt, unsigned shard,
			    struct pn_migrate_stats *out);

/*
 * The traffic view, always on. Per ordered shard pair: the messages that
 * crossed (counted a published batch at a time). Per actor pair: a sample,
 * one message of each published batch (so about 1 in the batch size):
 * the sender, the receiver, the sender's shard and the receiver's home.
 */
struct pn_traffic_pair {
	pn_pid from, to;
	unsigned from_shard; /* where the sender was */
	unsigned to_shard;   /* the receiver's home (the ring it went to) */
	uint64_t samples;
};

/* @out[i * n + j]: messages shard i sent into shard j's ring since start;
 * @n must be pn_runtime_nshards() + 1 (the supervisor shard is last).
 * Returns 0 or -EINVAL. Any. */
PN_API int pn_traffic_shards(const struct pn_runtime *rt, uint64_t *out,
			     unsigned n);
/* Up to @max sampled pairs of the current window, busiest first; returns
 * how many. Any. */
PN_API int pn_traffic_pairs(const struct pn_runtime *rt,
			    struct pn_traffic_pair *out, unsigned max);

/* What a rebalancing policy sees; valid during the call. */
struct pn_traffic_view {
	unsigned nshards;	/* application shards */
	const uint64_t *shards; /* [nshards^2] since the last run */
	const uint64_t *actors; /* [nshards] actors on each now */
	const struct pn_traffic_pair *pairs; /* sampled since the last run */
	unsigned npairs;
	uint32_t cap; /* cfg.compact_cap */
};

/*
 * The shipped policy (cfg.rebalance = pn_rebalance_colocate): for each
 * sampled pair on two application shards, busiest first, move one of the
 * two onto the other's shard - the less loaded of the two, if it holds
 * fewer than cfg.compact_cap actors and fewer than an even share of all
 * actors plus one (counting the moves it asked for), so that pairs spread
 * over the shards. Each actor takes part in at most one move per run.
 * cfg.rebalance runs on the supervisor shard every cfg.rebalance_ns and
 * may call pn_migrate_pid(). Handler.
 */
PN_API void pn_rebalance_colocate(struct pn_ctx *ctx,
				  const struct pn_traffic_view *v, void *arg);

/* === end of migration and placement ===================================== */

#ifdef __cplusplus
}
#endif
#endif /* PN_CORE_H */
