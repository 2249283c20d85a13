/* SPDX-License-Identifier: MIT */
/*
 * Staged shutdown: pn_runtime_shutdown() and the report it fills (the
 * stages themselves, enum pn_stage, are in pn_core.h with the config that
 * bounds each).
 */
#ifndef PN_SHUTDOWN_H
#define PN_SHUTDOWN_H

#include "pn_core.h"
#include "pn_metrics.h"

#include <sys/select.h> /* sigset_t (also under strict ISO C) */

#ifdef __cplusplus
extern "C" {
#endif

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

/*
 * An actor's graceful stop. On PN_MSG_SHUTDOWN an actor may call
 * pn_shutdown_defer() to keep running until it calls pn_shutdown_done():
 * the drain stage (after every actor got SHUTDOWN, before any is stopped)
 * does not end while an actor defers, so it still gets the replies it
 * waits for and can close its connections so that their peers get every
 * byte (pn_io_close_linger); once it is done, and nothing is in flight,
 * the stop stage stops it with the rest (STOPPING, cleanup). Bounded by
 * the drain stage's limit, pn_config.stage_ns[PN_STAGE_DRAIN] (1 s by
 * default; and the whole shutdown's timeout): past it shutdown goes on
 * and the report says how many actors were still deferring. While the
 * drain runs, timers do not fire on application shards (request
 * timeouts included): wait for replies and io, not for timers. A
 * deferring actor that stops or fails ends its deferral. Handler, on
 * the actor itself, from PN_MSG_SHUTDOWN until the stop stage. Returns
 * 0; -EINVAL (not a handler, or not in that window; done: not
 * deferring); -EALREADY (defer: deferring already).
 */
PN_API int pn_shutdown_defer(struct pn_ctx *ctx);
PN_API int pn_shutdown_done(struct pn_ctx *ctx);

/*
 * Signals as codes: SIGINT/SIGTERM (any set but SIGKILL, SIGSTOP and the
 * synchronous SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP) become
 * pn_runtime_notify(@rt, @code_base + signo), so that the thread in
 * pn_runtime_wait() hears of them and can shut down with a deadline:
 *
 *	sigset_t s;
 *	sigemptyset(&s); sigaddset(&s, SIGINT); sigaddset(&s, SIGTERM);
 *	pn_runtime_signals(rt, &s, 1000);	// before pn_runtime_start
 *	...
 *	if (pn_runtime_wait(rt, UINT64_MAX, &code) == 0 && code > 1000)
 *		pn_runtime_shutdown(rt, 2000000000ull, &report);
 *
 * It blocks @sigs in the calling thread, so call it from the thread that
 * calls pn_runtime_start(), before that: every shard thread inherits the
 * mask (shard threads otherwise block nothing: they run with the mask of
 * the thread that started them). Threads the program made before keep
 * their own mask and may take the signal with its default action: make
 * it the first thing main does, or block the set there yourself. One
 * runtime thread waits for the signals (sigwaitinfo); a signal that comes
 * before anyone waits is kept (codes queue; each wait takes one), and two
 * of the same signal before it is taken may be merged by the kernel.
 * pn_runtime_notify() itself takes a mutex and is not async-signal-safe:
 * never call it from a signal handler; this is the supported way.
 * pn_runtime_destroy() stops the waiter. Returns 0; -EINVAL (NULL, an
 * empty set, or a signal named above); -EBUSY (started); -EALREADY
 * (called before); the -errno of pthread_create. External.
 */
PN_API int pn_runtime_signals(struct pn_runtime *rt, const sigset_t *sigs,
			      int code_base);

#ifdef __cplusplus
}
#endif
#endif /* PN_SHUTDOWN_H */
