/* SPDX-License-Identifier: MIT */
/*
 * Supervision: supervisor trees modelled on Erlang/OTP, the name
 * registry, the watchdog and crash reports.
 */
#ifndef PN_SUPERVISE_H
#define PN_SUPERVISE_H

#include "pn_core.h"
#include "pn_stats.h"

#ifdef __cplusplus
extern "C" {
#endif

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
	/* Many children of one spec (children[0], a worker with no name),
	 * started only by start_child with an extra argument; each one
	 * restarts alone, as one_for_one (see "dynamic supervision"). */
	PN_SIMPLE_ONE_FOR_ONE,
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

/*
 * Dynamic supervision, after OTP's supervisor module: start, terminate,
 * delete and list the children of a running supervisor @sup (a PID from
 * pn_supervisor_start(), which_children or a child spec's supervisor).
 * Each call is a request the supervisor handles in turn, between its
 * other work, with the semantics of its strategy: a started child is
 * supervised like the spec's own children (restart type, shutdown,
 * names, intensity counted over all children). Two forms:
 *
 *   pn_supervisor_*(rt, ...)  external: waits up to @timeout_ns
 *                             (UINT64_MAX: no limit) for the answer;
 *   pn_sup_*(ctx, ...)        handler (any shard, the supervisor's
 *                             included): returns at once with *@ref; the
 *                             answer comes to the calling actor as a
 *                             PN_MSG_SUP_REPLY (struct pn_sup_reply).
 *
 * A child is named by @id (its spec's id, else its name, else its
 * behaviour's name, as in reports) or, for terminate, by its current
 * @pid (simple_one_for_one children have no id: pass NULL and the PID).
 * Errors, in the external return or the reply's err: -ENOENT (no child
 * with that id or PID), -EEXIST (start: the id, or the spec's name, is
 * taken), -EINVAL (start: a spec to a simple_one_for_one supervisor, an
 * argument to another; delete on simple_one_for_one), -EALREADY
 * (terminate: the child is not running, or is being terminated already),
 * -EBUSY (delete: the child is running, starting or stopping), -ECHILD
 * (start: its init failed or timed out, the reply's reason and detail
 * say how, and it is not kept; no restart is counted), -ESHUTDOWN (the
 * supervisor is stopping or giving up), -ESRCH (@sup is no supervisor:
 * it has stopped, or is another kind of actor). Refused at once by both
 * forms, nothing sent: -EINVAL (a bad spec, id or name over
 * PN_NAME_MAX - 1 bytes, a spec and an argument together, an argument
 * over PN_SPAWN_ARG_MAX, neither id nor PID, @sup not on the supervisor
 * shard), -ESHUTDOWN (shutdown has begun). The handler form also returns
 * -EAGAIN (a budgeted send from the caller, see pn_send()) and -EPERM
 * (not this ctx's thread); the external form -ETIMEDOUT (no answer in
 * time; the request may still take effect) and -EPERM (called from a
 * shard thread).
 */
#define PN_MSG_SUP_REPLY (PN_MSG_SYS + 0x2010) /* struct pn_sup_reply */

enum pn_sup_op {
	PN_SUP_START_CHILD = 1,
	PN_SUP_TERMINATE_CHILD,
	PN_SUP_DELETE_CHILD,
	PN_SUP_WHICH_CHILDREN,
};

enum pn_child_status {
	PN_CHILD_RUNNING,    /* up: its init returned */
	PN_CHILD_STARTING,   /* its init has not returned yet */
	PN_CHILD_RESTARTING, /* about to start (again): its turn comes */
	PN_CHILD_STOPPING,   /* being stopped */
	PN_CHILD_STOPPED,    /* kept but not running (terminate_child, or a
			      * transient child that ended normally) */
};

struct pn_child_info {
	char id[PN_NAME_MAX]; /* "" for a simple_one_for_one child */
	pn_pid pid;	      /* PN_PID_NONE when not running */
	int32_t status;	      /* enum pn_child_status */
	int32_t supervisor;   /* 1: a supervisor, 0: a worker */
};

/* The payload of PN_MSG_SUP_REPLY: this header, then (which_children)
 * @n struct pn_child_info, at most the cap asked for; read it in place
 * (pn_msg_data(), aligned) during the handler. */
struct pn_sup_reply {
	uint64_t ref;	 /* as the pn_sup_*() call returned it */
	int32_t op;	 /* enum pn_sup_op */
	int32_t err;	 /* 0 or the error, as listed above */
	pn_pid pid;	 /* start: the new child's PID */
	int32_t reason;	 /* start's -ECHILD: how its init failed */
	int32_t detail;	 /* (enum pn_reason, its code) */
	uint32_t count;	 /* which: the supervisor's children */
	uint32_t n;	 /* which: entries that follow */
	char error[160]; /* err's sentence, "" if none */
};

/*
 * Start a child. For one_for_one, one_for_all and rest_for_one: @spec (as
 * in struct pn_sup_spec; its id, name and arg are copied, its behaviour or
 * supervisor spec must outlive the supervisor), @arg NULL and @len 0; it
 * is started last and stopped first. For simple_one_for_one: @spec NULL,
 * and the child's init gets the template's arg followed by the @len bytes
 * at @arg (together at most PN_SPAWN_ARG_MAX). The answer comes once the
 * child's init has returned: *@pid (or the reply's pid) is its PID.
 */
PN_API int pn_supervisor_start_child(struct pn_runtime *rt, pn_pid sup,
				     const struct pn_child_spec *spec,
				     const void *arg, size_t len,
				     uint64_t timeout_ns, pn_pid *pid);
PN_API int pn_sup_start_child(struct pn_ctx *ctx, pn_pid sup,
			      const struct pn_child_spec *spec, const void *arg,
			      size_t len, uint64_t *ref);

/* Stop a child as the supervisor would (its shutdown_ns; STOPPING and
 * cleanup, or killed past it); the answer comes once it has stopped. It
 * is kept, stopped and not restarted, until delete_child (a
 * simple_one_for_one child is removed at once). */
PN_API int pn_supervisor_terminate_child(struct pn_runtime *rt, pn_pid sup,
					 const char *id, pn_pid pid,
					 uint64_t timeout_ns);
PN_API int pn_sup_terminate_child(struct pn_ctx *ctx, pn_pid sup,
				  const char *id, pn_pid pid, uint64_t *ref);

/* Remove a stopped child (terminated, or transient and ended) and its
 * spec; a static child may be deleted too. */
PN_API int pn_supervisor_delete_child(struct pn_runtime *rt, pn_pid sup,
				      const char *id, uint64_t timeout_ns);
PN_API int pn_sup_delete_child(struct pn_ctx *ctx, pn_pid sup, const char *id,
			       uint64_t *ref);

/* The children, in start order: up to @cap of them into @out, the number
 * there is into *@count (which may be more than @cap). The handler form's
 * reply carries at most @cap, and no more than fit in PN_MSG_MAX. */
PN_API int pn_supervisor_which_children(struct pn_runtime *rt, pn_pid sup,
					struct pn_child_info *out, unsigned cap,
					unsigned *count, uint64_t timeout_ns);
PN_API int pn_sup_which_children(struct pn_ctx *ctx, pn_pid sup, unsigned cap,
				 uint64_t *ref);

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

/* Read the supervision counters (struct pn_supervision_stats, pn_stats.h;
 * a relaxed snapshot): the single-value shortcut, since
 * pn_metrics_snapshot() holds them (pn_metrics_supervision()) with
 * everything else. Returns 0. Any. */
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

/*
 * A handle on a name that follows a supervised child's restarts: resolve
 * the name once with pn_name_ref(), then each pn_ref_send() reaches the
 * child's current incarnation without a lookup, a lock or an allocation
 * (three loads of one cache line, then pn_send()). A value in caller
 * memory: copy it freely; a zeroed one is invalid. It stays good while
 * the name stays bound: a supervised child's name stays bound across its
 * restarts and is unbound when the child is gone for good (not restarted,
 * deleted, or its supervisor stopped); a name from pn_name_register()
 * until pn_name_unregister(). Valid until pn_runtime_destroy().
 */
struct pn_ref {
	uint32_t cell, seq; /* private */
};

/* Resolve @name into *@ref. Returns 0, -ENOENT (not registered), -EINVAL
 * (a bad name, NULL). Any. */
PN_API int pn_name_ref(const struct pn_runtime *rt, const char *name,
		       struct pn_ref *ref);

/*
 * pn_send() to the incarnation @ref reaches now. Returns what pn_send()
 * does, or nothing sent and: -ESRCH, the child is between incarnations
 * (it stopped and its supervisor is restarting it: try again later; a
 * send to a dead PID on the caller's own shard gives the same, see
 * pn_send()); -ESTALE, the name has been unbound since (resolve it
 * again: it may be bound anew, e.g. after its supervisor restarted as a
 * whole); -EINVAL (a zeroed ref). A send to another shard in the moment
 * between the child's death and its supervisor hearing of it is accepted
 * and becomes a dead letter. Handler.
 */
PN_API int pn_ref_send(struct pn_ctx *ctx, struct pn_ref ref, uint32_t type,
		       const void *data, size_t len);

/* The PID @ref reaches now into *@pid (PN_PID_NONE on error): 0, -ESRCH,
 * -ESTALE, -EINVAL as pn_ref_send(). For monitors, requests. Any. */
PN_API int pn_ref_pid(const struct pn_runtime *rt, struct pn_ref ref,
		      pn_pid *pid);

#ifdef __cplusplus
}
#endif
#endif /* PN_SUPERVISE_H */
