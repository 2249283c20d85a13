// SPDX-License-Identifier: MIT
/*
 * pn_runtime_signals(): signals as pn_runtime_notify() codes. The set is
 * blocked in the calling thread before the shard threads exist, so every
 * thread of the runtime inherits the mask and no handler ever runs; one
 * waiter thread takes the signals synchronously (sigwaitinfo) and queues
 * a code for each, which is why nothing here has to be async-signal-safe.
 * pn_runtime_destroy() stops the waiter: it sets @stop and sends the
 * waiter one of its own signals (pthread_kill: pending for that thread
 * only), then joins it.
 */
#include "rt_int.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct pn__rtsig {
	struct pn_runtime *rt;
	sigset_t set;
	int base, any; /* code = base + signo; any: a member, to stop us */
	pthread_t thread;
	_Atomic bool stop;
};

static void *waiter(void *arg)
{
	struct pn__rtsig *g = arg;
	siginfo_t si;

	for (;;) {
		if (sigwaitinfo(&g->set, &si) < 0)
			continue; /* EINTR */
		/* Acquire: pairs with destroy's release store of stop. */
		if (atomic_load_explicit(&g->stop, memory_order_acquire))
			return NULL;
		pn_runtime_notify(g->rt, g->base + si.si_signo);
	}
}

/* Signals that cannot be waited for or must not be: the synchronous ones
 * belong to the thread that faults (and to the crash reporter). */
static int bad_signal(const sigset_t *set, int *any)
{
	static const int never[] = {SIGKILL, SIGSTOP, SIGSEGV, SIGBUS,
				    SIGFPE,  SIGILL,  SIGABRT, SIGTRAP};

	*any = 0;
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		if (sigismember(set, never[i]) == 1)
			return never[i];
	for (int s = 1; s < NSIG && !*any; s++)
		if (sigismember(set, s) == 1)
			*any = s;
	return 0;
}

int pn_runtime_signals(struct pn_runtime *rt, const sigset_t *sigs,
		       int code_base)
{
	struct pn__rtsig *g;
	int bad, any, err;

	if (!rt || !sigs)
		return pn__error(-EINVAL, "pn_runtime_signals: NULL argument");
	if ((bad = bad_signal(sigs, &any)) != 0)
		return pn__error(-EINVAL,
				 "pn_runtime_signals: %s cannot be waited "
				 "for",
				 strsignal(bad));
	if (!any)
		return pn__error(-EINVAL, "pn_runtime_signals: empty set");
	if (rt->running || rt->nthreads)
		return pn__error(-EBUSY, "pn_runtime_signals: call it before "
					 "pn_runtime_start (the shard threads "
					 "inherit the mask)");
	if (rt->sig)
		return pn__error(-EALREADY, "pn_runtime_signals: already set");
	if (!(g = calloc(1, sizeof(*g))))
		return pn__error(-ENOMEM, "pn_runtime_signals: out of memory");
	g->rt = rt;
	g->set = *sigs;
	g->base = code_base;
	g->any = any;
	atomic_init(&g->stop, false);
	/* Blocked here first: the waiter inherits the mask too. */
	if ((err = pthread_sigmask(SIG_BLOCK, sigs, NULL)) != 0 ||
	    (err = pthread_create(&g->thread, NULL, waiter, g)) != 0) {
		free(g);
		return pn__error(-err, "pn_runtime_signals: %s", strerror(err));
	}
	rt->sig = g;
	return 0;
}

void pn__signals_stop(struct pn_runtime *rt)
{
	struct pn__rtsig *g = rt->sig;

	if (!g)
		return;
	/* Release: pairs with the waiter's acquire load after it wakes. */
	atomic_store_explicit(&g->stop, true, memory_order_release);
	pthread_kill(g->thread, g->any);
	pthread_join(g->thread, NULL);
	rt->sig = NULL;
	free(g);
}
