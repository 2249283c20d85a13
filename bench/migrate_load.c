// SPDX-License-Identifier: MIT
/*
 * migrate, variant=loaded: what moving a busy actor costs in copies. A
 * target (home: shard 0) spends WORK_NS on each message and moves between
 * the two application shards every MOVE_NS, while senders on the
 * supervisor shard send to it as fast as the runtime lets them (they wait
 * for PN_MSG_WRITABLE after -EAGAIN, no window of their own), and a
 * requester there asks it something every 2 ms. The result line counts
 * delivered messages; extra keys: copies_per_msg (forwarded + bounced per
 * delivered message: 1 for every message that went through the home
 * while the target was away, plus at most 2 per move it lived through),
 * moves, the home's largest overflow (overflow_max, sampled every 200 us),
 * and the slowest request's round trip (req_max_us). A request that times
 * out (5 s) fails the run.
 */
#include "bench.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define NSENDERS 4
#define BURST	 64
#define WORK_NS	 5000
#define MOVE_NS	 2000000ull
#define ASK_NS	 2000000ull
#define T_MSG	 200u
#define T_KICK	 201u
#define T_MOVE	 202u
#define T_ASK	 203u
#define T_ANSWER 204u
#define T_TICK	 205u

struct load {
	struct pn_runtime *rt;
	pn_pid target;
	uint64_t per_sender;
	_Atomic uint64_t handled, moves, req_max, stop, timeouts;
};

static void spin_for(uint64_t ns)
{
	uint64_t t0 = pn_now_ns();

	while (pn_now_ns() - t0 < ns)
		;
}

struct target {
	struct load *l;
};

static int target_handle(struct pn_ctx *ctx, void *st, const struct pn_msg *m)
{
	struct load *l = ((struct target *)st)->l;

	switch (m->type) {
	case PN_MSG_STARTED:
		return pn_send_every(ctx, MOVE_NS, T_MOVE, NULL, 0, NULL);
	case T_MSG:
		spin_for(WORK_NS);
		if (atomic_fetch_add(&l->handled, 1) + 1 ==
		    l->per_sender * NSENDERS)
			pn_runtime_notify(l->rt, 1);
		return 0;
	case T_ASK:
		return pn_reply(ctx, m, T_ANSWER, pn_msg_data(m), m->len);
	case T_MOVE:
		if (atomic_load(&l->stop))
			return 0;
		return pn_migrate(ctx, pn_shard(ctx) ? 0 : 1);
	case PN_MSG_MIGRATED:
		atomic_fetch_add(&l->moves, 1);
		return 0;
	}
	return 0;
}

struct sender {
	struct load *l;
	uint64_t sent;
	bool busy;
};

static int sender_handle(struct pn_ctx *ctx, void *st, const struct pn_msg *m)
{
	struct sender *s = st;

	if (m->type == T_KICK || m->type == PN_MSG_WRITABLE)
		s->busy = false;
	else if (m->type != PN_MSG_STARTED)
		return 0;
	if (s->busy)
		return 0;
	for (unsigned k = 0; k < BURST && s->sent < s->l->per_sender; k++) {
		int err = pn_send_u64(ctx, s->l->target, T_MSG, s->sent);

		if (err == -EAGAIN) {
			s->busy = true;
			return pn_notify_writable(ctx);
		}
		if (err)
			return err;
		s->sent++;
	}
	if (s->sent < s->l->per_sender) {
		s->busy = true;
		return pn_send(ctx, pn_self(ctx), T_KICK, NULL, 0);
	}
	return 0;
}

struct asker {
	struct load *l;
};

static int asker_handle(struct pn_ctx *ctx, void *st, const struct pn_msg *m)
{
	struct load *l = ((struct asker *)st)->l;
	uint64_t t, cur;
	int err;

	switch (m->type) {
	case PN_MSG_STARTED:
		return pn_send_every(ctx, ASK_NS, T_TICK, NULL, 0, NULL);
	case T_TICK:
		if (atomic_load(&l->stop))
			return 0;
		t = pn_now_ns();
		err = pn_request(ctx, l->target, T_ASK, &t, sizeof(t),
				 5000000000ull, NULL);
		return err == -EAGAIN ? 0 : err;
	case T_ANSWER:
		t = pn_now_ns() - pn_msg_u64(m);
		cur = atomic_load(&l->req_max);
		if (t > cur)
			atomic_store(&l->req_max, t);
		return 0;
	case PN_MSG_TIMEOUT:
		atomic_fetch_add(&l->timeouts, 1);
		return 0;
	}
	return 0;
}

static const struct pn_behaviour target_b = {.name = "migload-target",
					     .state_size =
						     sizeof(struct target),
					     .init = bench_actor_init,
					     .handle = target_handle};
static const struct pn_behaviour sender_b = {.name = "migload-sender",
					     .state_size =
						     sizeof(struct sender),
					     .init = bench_actor_init,
					     .handle = sender_handle};
static const struct pn_behaviour asker_b = {.name = "migload-asker",
					    .state_size = sizeof(struct asker),
					    .init = bench_actor_init,
					    .handle = asker_handle};

struct sampler {
	struct load *l;
	uint64_t max;
};

static void *sample(void *arg)
{
	struct sampler *s = arg;

	while (!atomic_load(&s->l->stop)) {
		struct pn_shard_stats st;
		struct timespec nap = {.tv_nsec = 200000};

		pn_runtime_stats(s->l->rt, 0, &st);
		if (st.overflow_bytes > s->max)
			s->max = st.overflow_bytes;
		nanosleep(&nap, NULL);
	}
	return NULL;
}

/* One repetition on a fresh runtime: copies per message and the rest. */
static int load_run(const struct bench_opts *o, uint64_t per_sender,
		    double *secs, double *copies, uint64_t *moves,
		    uint64_t *ovf, uint64_t *req_max)
{
	struct load l = {.per_sender = per_sender};
	struct bench_env e;
	struct sampler sm = {.l = &l};
	struct pn_migrate_stats ms;
	uint64_t fwd = 0, t0;
	pthread_t th;
	pn_pid pid;
	int code = 0, err = bench_rt_start(o, 2, false, &l.rt);

	if (err < 0)
		return err;
	e = (struct bench_env){.rt = l.rt};
	if ((err = bench_spawn(&e, &target_b, 0, &(struct target){&l},
			       sizeof(struct target), &l.target)) < 0)
		goto out;
	for (int i = 0; i < NSENDERS && !err; i++)
		err = bench_spawn(&e, &sender_b, PN_SHARD_SUPERVISOR,
				  &(struct sender){.l = &l},
				  sizeof(struct sender), &pid);
	if (!err)
		err = bench_spawn(&e, &asker_b, PN_SHARD_SUPERVISOR,
				  &(struct asker){&l}, sizeof(struct asker),
				  &pid);
	if (err || (err = -pthread_create(&th, NULL, sample, &sm)))
		goto out;
	t0 = pn_now_ns();
	err = pn_runtime_wait(l.rt, 120000000000ull, &code);
	*secs = (double)(pn_now_ns() - t0) / 1e9;
	atomic_store(&l.stop, 1);
	pthread_join(th, NULL);
	for (unsigned i = 0; i <= pn_runtime_nshards(l.rt); i++) {
		pn_migrate_stats(l.rt, i, &ms);
		fwd += ms.forwarded + ms.bounced;
	}
	*copies = (double)fwd / (double)(per_sender * NSENDERS);
	*moves = atomic_load(&l.moves);
	*ovf = sm.max;
	*req_max = atomic_load(&l.req_max);
	if (!err && atomic_load(&l.timeouts))
		err = -ETIMEDOUT;
out:
	bench_rt_stop(l.rt);
	return err;
}

int bench_migrate_loaded(const struct bench_opts *o)
{
	uint64_t n = o->n ? o->n : 50000, med_c[BENCH_MAX_REPS],
		 med_t[BENCH_MAX_REPS], moves = 0, ovf = 0, req = 0;
	struct bench_result res = {.shards = 2};

	for (unsigned r = 0; r <= o->reps; r++) {
		double secs = 0, copies = 0;
		uint64_t mv = 0, ov = 0, rq = 0;
		int err = load_run(o, r ? n : n / 10 + 1, &secs, &copies, &mv,
				   &ov, &rq);

		if (err < 0) {
			fprintf(stderr, "pinion-bench: migrate loaded: %s\n",
				err == -ETIMEDOUT ? "a request timed out"
						  : strerror(-err));
			return err;
		}
		if (!r)
			continue; /* warm-up */
		med_c[r - 1] = (uint64_t)(copies * 1000);
		med_t[r - 1] = (uint64_t)(secs * 1e9);
		moves = mv > moves ? mv : moves;
		ovf = ov > ovf ? ov : ovf;
		req = rq > req ? rq : req;
	}
	res.ops = n * NSENDERS;
	res.secs = (double)bench_median(med_t, o->reps) / 1e9;
	snprintf(res.bench, sizeof(res.bench), "migrate");
	snprintf(res.variant, sizeof(res.variant), "loaded");
	snprintf(res.impl, sizeof(res.impl), "pinion");
	snprintf(res.extra, sizeof(res.extra),
		 "poll=park copies_per_msg=%.2f moves=%llu overflow_max=%llu "
		 "req_max_us=%llu",
		 (double)bench_median(med_c, o->reps) / 1000,
		 (unsigned long long)moves, (unsigned long long)ovf,
		 (unsigned long long)(req / 1000));
	bench_report(o, &res);
	return 0;
}
