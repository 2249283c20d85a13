// SPDX-License-Identifier: MIT
/*
 * A service that shuts down cleanly on SIGTERM (or SIGINT) within a
 * deadline (README "Signals"). pn_runtime_signals() blocks the signals in
 * every runtime thread and turns each into a pn_runtime_wait() code, so
 * main needs no signal handler: it waits, and on the code it shuts the
 * runtime down with a deadline and prints what the report says.
 *
 * To be a test it sends itself the SIGTERM once its worker has done some
 * work; run from a shell, `kill -TERM <pid>` does the same. Exit 0 when
 * the shutdown was clean and within the deadline.
 */
#include "pinion.h"

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#define SIGNALLED 1000 /* codes: SIGNALLED + signo */
#define WORKING	  1
#define TICK	  0x100u
#define DEADLINE  2000000000ull /* the whole shutdown, 2 s */

struct worker {
	uint64_t timer, ticks;
};

static int worker_handle(struct pn_ctx *ctx, void *state,
			 const struct pn_msg *m)
{
	struct worker *w = state;

	if (m->type == PN_MSG_STARTED)
		return pn_send_every(ctx, 1000000, TICK, NULL, 0, &w->timer);
	if (m->type == TICK && ++w->ticks == 10)
		pn_runtime_notify(pn_ctx_runtime(ctx), WORKING);
	return 0;
}

static const struct pn_behaviour worker_b = {.name = "example.worker",
					     .state_size =
						     sizeof(struct worker),
					     .handle = worker_handle};

int main(void)
{
	struct pn_shutdown_report rep;
	struct pn_runtime *rt;
	sigset_t sigs;
	pn_pid w;
	int code;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	/* First thing, before the runtime starts any thread. */
	if (pn_runtime_create(NULL, &rt) < 0 ||
	    pn_runtime_signals(rt, &sigs, SIGNALLED) < 0 ||
	    pn_runtime_start(rt) < 0 ||
	    pn_runtime_spawn(rt, &worker_b, NULL, &w) < 0) {
		fprintf(stderr, "sigterm: %s\n", pn_last_error());
		return 1;
	}
	for (;;) {
		if (pn_runtime_wait(rt, UINT64_MAX, &code) < 0)
			break;
		if (code == WORKING)
			kill(getpid(),
			     SIGTERM); /* the test plays the operator */
		else if (code > SIGNALLED)
			break;
	}
	printf("sigterm: got signal %d, shutting down\n", code - SIGNALLED);
	if (pn_runtime_shutdown(rt, DEADLINE, &rep) < 0) {
		fprintf(stderr, "sigterm: shutdown: %s", rep.text);
		pn_runtime_destroy(rt);
		return 1;
	}
	printf("sigterm: clean, %llu messages handled, %llu dead letters\n",
	       (unsigned long long)rep.totals.handled,
	       (unsigned long long)rep.totals.dead_letters);
	pn_runtime_destroy(rt);
	return code == SIGNALLED + SIGTERM ? 0 : 1;
}
