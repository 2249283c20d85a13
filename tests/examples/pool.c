// SPDX-License-Identifier: MIT
/*
 * A supervised worker pool (README "Supervision"): a root supervisor
 * (one_for_one) with a named dispatcher, "pool", and a simple_one_for_one
 * supervisor whose children are started at run time, one per worker, each
 * with its index as its argument. Workers say hello to "pool" by name
 * when they start, so a restarted worker is found again; the dispatcher
 * hands each job out as a request with a timeout and hands it out again
 * when a worker died with it. One job in every 250 is poison: the worker
 * fails on it and its supervisor restarts that worker alone.
 *
 * main starts the tree, adds the workers (pn_supervisor_start_child),
 * sends the jobs to "pool", and checks: every job done exactly once, the
 * poisoned workers restarted, four workers running at the end, shutdown
 * clean. Exit 0 on success.
 */
#include "pinion.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define WORKERS 4
#define JOBS	1000
#define POISON	250 /* job % POISON == POISON - 1 fails its worker once */
#define HELLO	0x100u
#define JOB	0x101u /* from main: job id; to a worker: job id */
#define DONE	0x102u /* a worker's reply: job id */
#define C_READY 1
#define C_ALL	2
#define TIMEOUT 100000000ull /* a job's request timeout, 100 ms */
#define WAIT_NS 10000000000ull

/* --- the worker: simple_one_for_one's template ------------------------- */

struct worker {
	uint32_t idx;
};

static int worker_init(struct pn_ctx *ctx, void *state, const void *arg,
		       size_t len)
{
	struct worker *w = state;

	if (len != sizeof(w->idx))
		return -1;
	memcpy(&w->idx, arg, sizeof(w->idx));
	/* By name: "pool" follows its own restarts too. */
	return pn_name_send(ctx, "pool", HELLO, &w->idx, sizeof(w->idx));
}

static int worker_handle(struct pn_ctx *ctx, void *state,
			 const struct pn_msg *m)
{
	static _Atomic unsigned poisoned[JOBS / POISON];
	uint64_t job;

	(void)state;
	if (m->type != JOB)
		return 0;
	job = pn_msg_u64(m);
	if (job % POISON == POISON - 1 &&
	    !atomic_exchange(&poisoned[job / POISON], 1))
		return -1; /* fail: the request times out, the job goes again */
	/* Refused (-EAGAIN)? The request times out and the job goes again:
	 * nothing to do here, and nothing to fail for. */
	pn_reply(ctx, m, DONE, &job, sizeof(job));
	return 0;
}

static const struct pn_behaviour worker_b = {.name = "pool.worker",
					     .state_size =
						     sizeof(struct worker),
					     .init = worker_init,
					     .handle = worker_handle};

/* --- the dispatcher ------------------------------------------------------ */

struct pool {
	pn_pid worker[WORKERS]; /* as they said hello */
	unsigned hellos, ndone, next;
	uint64_t ref[JOBS]; /* the job's request in flight (0: none) */
	bool done[JOBS];
};

static void hand_out(struct pn_ctx *ctx, struct pool *p, uint64_t job)
{
	pn_pid to = p->worker[p->next++ % WORKERS];

	if (pn_request(ctx, to, JOB, &job, sizeof(job), TIMEOUT, &p->ref[job]) <
	    0)
		p->ref[job] = 0; /* refused: the sweep below retries */
}

static int pool_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct pool *p = state;
	uint32_t idx;
	uint64_t job;

	switch (m->type) {
	case HELLO: /* a worker started, or restarted with a new PID */
		memcpy(&idx, pn_msg_data(m), sizeof(idx));
		if (idx < WORKERS) {
			p->worker[idx] = m->from;
			if (++p->hellos == WORKERS)
				pn_runtime_notify(pn_ctx_runtime(ctx), C_READY);
		}
		break;
	case JOB:
		hand_out(ctx, p, pn_msg_u64(m));
		break;
	case DONE:
		memcpy(&job, pn_msg_data(m), sizeof(job));
		if (job < JOBS && !p->done[job]) {
			p->done[job] = true;
			p->ref[job] = 0;
			if (++p->ndone == JOBS)
				pn_runtime_notify(pn_ctx_runtime(ctx), C_ALL);
		}
		break;
	case PN_MSG_TIMEOUT: /* its worker died with it: again */
		for (job = 0; job < JOBS; job++)
			if (p->ref[job] == pn_msg_ref(m)) {
				hand_out(ctx, p, job);
				break;
			}
		break;
	default:
		break;
	}
	return 0;
}

static const struct pn_behaviour pool_b = {.name = "pool.dispatcher",
					   .state_size = sizeof(struct pool),
					   .handle = pool_handle};

/* --- the tree ---------------------------------------------------------------
 */

static const struct pn_child_spec template[] = {
	{.b = &worker_b,
	 .shard = PN_SHARD_ANY,
	 .restart = PN_RESTART_PERMANENT},
};
static const struct pn_sup_spec workers_spec = {
	.name = "pool.workers",
	.strategy = PN_SIMPLE_ONE_FOR_ONE,
	.intensity = 10,
	.period_ns = 1000000000ull,
	.children = template,
	.nchildren = 1,
};
static const struct pn_child_spec root_children[] = {
	{.id = "pool",
	 .b = &pool_b,
	 .shard = 0,
	 .restart = PN_RESTART_PERMANENT,
	 .name = "pool"},
	{.id = "workers",
	 .sup = &workers_spec,
	 .restart = PN_RESTART_PERMANENT},
};
static const struct pn_sup_spec root_spec = {
	.name = "pool.root",
	.strategy = PN_ONE_FOR_ONE,
	.intensity = 3,
	.period_ns = 1000000000ull,
	.children = root_children,
	.nchildren = 2,
};

static int check(bool ok, const char *what)
{
	if (!ok)
		fprintf(stderr, "pool: %s (%s)\n", what, pn_last_error());
	return ok ? 0 : 1;
}

int main(void)
{
	struct pn_child_info info[WORKERS + 2];
	struct pn_supervision_stats st;
	struct pn_runtime *rt;
	pn_pid root, workers = PN_PID_NONE, pid;
	unsigned n = 0, running = 0;
	int code = 0, bad = 0;

	if (check(pn_runtime_create(NULL, &rt) == 0 &&
			  pn_runtime_start(rt) == 0 &&
			  pn_supervisor_start(rt, &root_spec, WAIT_NS, &root) ==
				  0 &&
			  pn_supervisor_which_children(rt, root, info, 2, &n,
						       WAIT_NS) == 0,
		  "start"))
		return 1;
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(info[i].id, "workers"))
			workers = info[i].pid;
	for (uint32_t i = 0; i < WORKERS && !bad; i++)
		bad |= check(pn_supervisor_start_child(rt, workers, NULL, &i,
						       sizeof(i), WAIT_NS,
						       &pid) == 0,
			     "start_child");
	bad |= check(!bad && pn_runtime_wait(rt, WAIT_NS, &code) == 0 &&
			     code == C_READY,
		     "workers did not say hello");
	for (uint64_t job = 0; job < JOBS && !bad; job++)
		bad |= check(pn_runtime_send(rt, pn_name_lookup(rt, "pool"),
					     JOB, &job, sizeof(job),
					     WAIT_NS) == 0,
			     "send a job");
	bad |= check(!bad && pn_runtime_wait(rt, WAIT_NS, &code) == 0 &&
			     code == C_ALL,
		     "not every job was done");
	bad |= check(pn_supervisor_which_children(rt, workers, info, WORKERS,
						  &n, WAIT_NS) == 0,
		     "which_children");
	for (unsigned i = 0; i < n && i < WORKERS; i++)
		running += info[i].pid != PN_PID_NONE;
	pn_supervision_stats(rt, &st);
	bad |= check(running == WORKERS && n == WORKERS, "workers running");
	bad |= check(st.restarts >= JOBS / POISON, "restarts");
	bad |= check(pn_runtime_shutdown(rt, 2000000000ull, NULL) == 0,
		     "shutdown");
	pn_runtime_destroy(rt);
	if (!bad)
		printf("pool: %u jobs done once each by %u workers, %llu "
		       "restarts\n",
		       JOBS, WORKERS, (unsigned long long)st.restarts);
	return bad;
}
