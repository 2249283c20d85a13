/* SPDX-License-Identifier: MIT */
/*
 * The supervision tests' shared fixture (test_supervisor, test_dynamic,
 * test_ref). Children are "workers" that log their init and cleanup
 * (with the reason) into one global log, in the order they happen; the
 * runtime's supervision events go to the same log through
 * pn_config.on_event. A test compares what happened since a point with a
 * short string, one token per entry:
 *
 *   I<id>      child <id>'s init ran (a start or restart)
 *   C<id><r>   its cleanup ran with reason n(ormal) f(ailed) s(hutdown)
 *              i(nit) k(illed) l(inked)
 *   R<id>      event RESTART for child <id>     X<id>  CHILD_EXIT
 *   K<id>      event KILLED (cleanup skipped)   E      ESCALATE
 *   F          ROOT_FAILED
 *
 * A worker's id is its init argument (an int: W_ARG()); an event names
 * the child by its spec's id, except for a spec whose id is "*" (a
 * simple_one_for_one template): then by the id of the worker whose init
 * logged that PID. Everything in such a sequence is causally ordered (a
 * cleanup runs before the EXIT it causes reaches the supervisor, which
 * stops or starts the next child only after that), so the strings are
 * exact.
 */
#ifndef PN_TESTS_CORE_SUP_LOG_H
#define PN_TESTS_CORE_SUP_LOG_H

#include "harness.h"

#define W_FAIL	 0x2001u /* int32 payload: return it from the handler */
#define W_PNFAIL 0x2002u /* int32 payload: pn_fail() with it */
#define W_STOP	 0x2003u /* return PN_STOP */
#define W_PING	 0x2004u /* count it, log the count */
#define W_COUNT	 0x2005u /* add one to w_counted, log nothing */

enum { L_INIT = 1, L_CLEANUP, L_PING, L_EVENT };

struct lent {
	int what, id; /* id: the child's id, or the event kind */
	pn_pid pid;
	int reason, detail;
	uint64_t v;
	char child[8];
};

#define W_MAX 64		    /* worker ids 0 .. W_MAX - 1 */
extern atomic_int init_fail[W_MAX]; /* init of worker <id> returns this */
extern atomic_ulong w_counted;	    /* W_COUNT messages handled */
extern const int ids[W_MAX];
extern const struct pn_behaviour worker_b;

void log_add(const struct lent *e);
unsigned log_mark(void);
/* Wait until the log since @from has as many tokens as @want, then
 * compare. Bounded by H_WAIT. */
void expect_seq(unsigned from, const char *want);
/* The PID of worker @id's latest instance (its last init). */
pn_pid pid_of(int id);
/* Pings logged by @pid (and the last one's count); wait (bounded) until
 * it has logged @n. */
unsigned pings_of(pn_pid pid, uint64_t *last);
void wait_pings(pn_pid pid, unsigned n);

/* Child <i> (its id is "<i>", its init argument i) on shard @sh, with
 * restart type @rs, name @nm and shutdown timeout @sd. */
#define CHILD(i, sh, rs, nm, sd)                                               \
	{                                                                      \
		.id = #i, .b = &worker_b, .arg = &ids[i],                      \
		.arg_len = sizeof(int), .shard = (sh), .restart = (rs),        \
		.name = (nm), .shutdown_ns = (sd)                              \
	}
#define WORKER(i, sh) CHILD(i, sh, PN_RESTART_PERMANENT, NULL, 0)

/* h_config() with the log's on_event. */
void config(struct pn_config *c);
/* cmocka setup: a fresh log, no init failures. */
int setup(void **state);
/* Start h_rt (config()) and a root for @spec; asserts its tree is up. */
pn_pid start(const struct pn_sup_spec *spec);
/* Send W_FAIL with @detail to worker @id's latest instance. */
void child_fail(int id, int32_t detail);
struct pn_supervision_stats sstats(void);

#endif /* PN_TESTS_CORE_SUP_LOG_H */
