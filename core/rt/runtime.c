// SPDX-License-Identifier: MIT
/*
 * The runtime object: configuration (struct and environment), creation
 * (topology, placement plan, shard structs), start (shard threads, the
 * start barrier, linking every shard's outbound rings to the others'
 * inbound ones), pn_runtime_wait/notify, statistics, accessors, destroy.
 * Shutdown is in shutdown.c.
 */
#include "rt_int.h"

#include <errno.h>
#include <limits.h>
#include <linux/membarrier.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * The features built on the scheduler, in the order they are created and
 * started (and destroyed in reverse). The one place that names them: the
 * layers below call them only through what they register here.
 */
static const struct pn__feature *const features[] = {
	&pn__actor_feature, &pn__obs_feature,	&pn__sup_feature,
	&pn__mig_feature,   &pn__topic_feature,
};
#define NFEATURES (sizeof(features) / sizeof(features[0]))

void pn_config_init(struct pn_config *c)
{
	*c = (struct pn_config){0};
	pn_plan_config_init(&c->plan);
	c->ring_slots = 1024;
	c->batch = 64;
	c->spin_ns = 20000;
	c->overflow_bytes = 4u << 20;
	c->inject_bytes = 64u << 20;
	c->max_producers = 16;
	c->max_actors = 1u << 20;
	c->timer_tick_ns = 100000;
	c->metrics_sample = 1024;
	c->compact_cap = 1024;
	c->rebalance_ns = 100000000ull;
	c->stage_ns[PN_STAGE_INPUT] = 100000000ull;
	c->stage_ns[PN_STAGE_NOTIFY] = 500000000ull;
	c->stage_ns[PN_STAGE_DRAIN] = 1000000000ull;
	c->stage_ns[PN_STAGE_STOP] = 1000000000ull;
	c->stage_ns[PN_STAGE_IO] = 500000000ull;
	c->stage_ns[PN_STAGE_JOIN] = 1000000000ull;
	for (unsigned i = 0; i < NFEATURES; i++)
		if (features[i]->config_init)
			features[i]->config_init(c);
}

/* Parse an unsigned environment variable in [lo, hi] with the strict
 * parser every PINION_* variable shares; 1 if set, 0 if unset or empty. */
static int env_u64(const char *name, uint64_t lo, uint64_t hi, uint64_t *v)
{
	const char *s = getenv(name); // NOLINT(concurrency-mt-unsafe)
	const char *why;

	if (!s || !*s)
		return 0;
	if (pn_parse_u64(s, lo, hi, v, &why) < 0)
		return pn__error(-EINVAL,
				 "%s=%.64s: %s (expected an integer from "
				 "%llu to %llu)",
				 name, s, why, (unsigned long long)lo,
				 (unsigned long long)hi);
	return 1;
}

int pn_config_from_env(struct pn_config *c)
{
	struct pn_config t = *c;
	uint64_t v;
	int err;

	if ((err = pn_plan_config_from_env(&t.plan)) < 0)
		return err;
	if ((err = env_u64("PINION_BUSY_POLL", 0, 1, &v)) < 0)
		return err;
	if (err)
		t.busy_poll = v;
	if ((err = env_u64("PINION_SPIN_NS", 0, 10000000000ull, &v)) < 0)
		return err;
	if (err)
		t.spin_ns = v;
	if ((err = env_u64("PINION_RING_SLOTS", 2, 1u << 20, &v)) < 0)
		return err;
	if (err && (v & (v - 1)))
		return pn__error(-EINVAL,
				 "PINION_RING_SLOTS=%llu: expected a power of "
				 "two from 2 to 1048576",
				 (unsigned long long)v);
	if (err)
		t.ring_slots = (uint32_t)v;
	if ((err = env_u64("PINION_METRICS_SAMPLE", 0, 1u << 30, &v)) < 0)
		return err;
	if (err)
		t.metrics_sample = (uint32_t)v;
	*c = t;
	return 0;
}

static int config_check(const struct pn_config *c)
{
	if (c->ring_slots < 2 || c->ring_slots > (1u << 20) ||
	    (c->ring_slots & (c->ring_slots - 1)))
		return pn__error(-EINVAL,
				 "ring_slots=%u: expected a power "
				 "of two from 2 to 1048576",
				 c->ring_slots);
	if (c->batch == 0)
		return pn__error(-EINVAL, "batch=0: expected at least 1");
	if (c->max_actors == 0 || c->max_actors > (1u << PN_PID_SLOT_BITS))
		return pn__error(-EINVAL, "max_actors=%u: expected 1 to %u",
				 c->max_actors, 1u << PN_PID_SLOT_BITS);
	if (c->timer_tick_ns < 1000 || c->timer_tick_ns > 1000000000ull)
		return pn__error(-EINVAL,
				 "timer_tick_ns=%llu: expected 1000 (1 us) "
				 "to 1000000000 (1 s)",
				 (unsigned long long)c->timer_tick_ns);
	if (c->overflow_bytes < sizeof(struct pn_msg) || c->inject_bytes == 0)
		return pn__error(-EINVAL, "overflow_bytes and inject_bytes "
					  "must hold at least one message");
	if (c->max_producers > 4096)
		return pn__error(-EINVAL, "max_producers=%u: at most 4096",
				 c->max_producers);
	for (int st = 0; st < PN_STAGE_COUNT; st++)
		if (c->stage_ns[st] == 0)
			return pn__error(-EINVAL,
					 "stage_ns[%d]=0: every shutdown "
					 "stage needs a time limit",
					 st);
	return 0;
}

static int runtime_alloc(struct pn_runtime *rt)
{
	/* One more shard than the plan's: the supervisor shard, on the
	 * supervisor's core, runs supervisor actors and the watchdog. */
	rt->napp = rt->plan->nshards;
	rt->nshards = rt->napp + 1;
	if (rt->nshards > PN_MAX_SHARDS)
		return pn__error(-EINVAL, "%u shards: at most %u", rt->nshards,
				 PN_MAX_SHARDS);
	rt->shard = calloc(rt->nshards, sizeof(*rt->shard));
	/* One more than max_producers: the runtime's own, last. */
	rt->producers =
		aligned_alloc(PN_CACHELINE, (rt->cfg.max_producers + 1) *
						    sizeof(*rt->producers));
	if (!rt->shard || !rt->producers)
		return pn__error(-ENOMEM, "out of memory");
	memset(rt->producers, 0,
	       (rt->cfg.max_producers + 1) * sizeof(*rt->producers));
	for (unsigned i = 0; i < rt->nshards; i++) {
		struct pn_shard *s = aligned_alloc(PN_CACHELINE, sizeof(*s));

		if (!s)
			return pn__error(-ENOMEM, "out of memory");
		memset(s, 0, sizeof(*s));
		s->id = i;
		s->nshards = rt->nshards;
		s->nsources = rt->nshards + rt->cfg.max_producers + 1;
		s->batch = rt->cfg.batch;
		s->rt = rt;
		s->max_slots = rt->cfg.max_actors;
		s->cpu = i < rt->napp ? rt->plan->shard[i].cpu
				      : rt->plan->supervisor_cpu;
		/* The supervisor shard may share a core (small machines):
		 * it never busy-polls and parks as soon as it is idle. */
		s->busy_poll = i < rt->napp && rt->cfg.busy_poll;
		s->spin_ns = i < rt->napp ? rt->cfg.spin_ns : 0;
		s->efd = -1;
		s->stage_seen = -1;
		atomic_init(&s->free_head, 0);
		atomic_init(&s->congested_pub, false);
		rt->shard[i] = s;
	}
	return 0;
}

static void sync_init(struct pn_runtime *rt)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&rt->ctl_mu, NULL);
	pthread_cond_init(&rt->ctl_cv, &ca);
	pthread_mutex_init(&rt->waitq.mu, NULL);
	pthread_cond_init(&rt->waitq.cv, &ca);
	pthread_mutex_init(&rt->prod_mu, NULL);
	pthread_mutex_init(&rt->own_mu, NULL);
	pthread_condattr_destroy(&ca);
	atomic_init(&rt->go, 0);
	atomic_init(&rt->stage, -1);
	atomic_init(&rt->phase, PN__RT_CREATED);
	atomic_init(&rt->ext_inside, 0);
	atomic_init(&rt->prod_gen, 1); /* shards start with poll_gen 0 */
}

int pn_runtime_create(const struct pn_config *c, struct pn_runtime **out)
{
	struct pn_runtime *rt;
	int err;

	if (!out)
		return pn__error(-EINVAL, "pn_runtime_create: out is NULL");
	if (!(rt = calloc(1, sizeof(*rt))))
		return pn__error(-ENOMEM, "out of memory");
	if (c) {
		rt->cfg = *c;
	} else {
		pn_config_init(&rt->cfg);
		if ((err = pn_config_from_env(&rt->cfg)) < 0)
			goto fail_free;
	}
	rt->now = rt->cfg.clock ? rt->cfg.clock : pn__clock_mono;
	rt->now_arg = rt->cfg.clock ? rt->cfg.clock_arg : NULL;
	sync_init(rt);
	if ((err = config_check(&rt->cfg)) < 0 ||
	    (err = pn_topology_load(&rt->topo)) < 0 ||
	    (err = pn_plan_create(rt->topo, &rt->cfg.plan, &rt->plan)) < 0 ||
	    (err = runtime_alloc(rt)) < 0 || (err = pn__met_create(rt)) < 0 ||
	    (err = pn__features_create(rt, features, NFEATURES)) < 0 ||
	    (err = pn__budget_init(&rt->budget, rt->cfg.inject_bytes)) < 0)
		goto fail;
	rt->budget_ok = true;
	/* The parking side's heavy barrier; without it, both sides fence. */
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
		    0, 0))
		rt->fenced = true;
	*out = rt;
	return 0;
fail:
	pn_runtime_destroy(rt);
	return err;
fail_free:
	free(rt);
	return err;
}

/* Wait for every shard to finish set-up; then link their rings. */
static int start_barrier(struct pn_runtime *rt)
{
	int err;

	pthread_mutex_lock(&rt->ctl_mu);
	while (rt->started < rt->nthreads)
		pthread_cond_wait(&rt->ctl_cv, &rt->ctl_mu);
	err = rt->start_err;
	if (!err) {
		for (unsigned s = 0; s < rt->nshards; s++)
			for (unsigned d = 0; d < rt->nshards; d++)
				if (s != d) {
					struct pn__out *o =
						&rt->shard[s]->out[d];

					o->ring = atomic_load_explicit(
						&rt->shard[d]->in[s],
						memory_order_relaxed);
					o->congested =
						&rt->shard[d]->congested_pub;
				}
	}
	/* Release: the links above happen before any shard runs. */
	atomic_store_explicit(&rt->go, err ? -1 : 1, memory_order_release);
	pthread_cond_broadcast(&rt->ctl_cv);
	pthread_mutex_unlock(&rt->ctl_mu);
	return err;
}

int pn_runtime_start(struct pn_runtime *rt)
{
	int err;

	if (rt->running || rt->shut_down)
		return pn__error(-EALREADY, "runtime already started");
	/* The shards of a failed start still hold what their set-up made,
	 * and the start barrier its count: no second try on top of that. */
	if (rt->start_err)
		return pn__error(rt->start_err,
				 "%s (start failed before: destroy the "
				 "runtime and create another)",
				 rt->start_msg);
	for (unsigned i = 0; i < rt->nshards; i++) {
		int e = pthread_create(&rt->shard[i]->thread, NULL,
				       pn__shard_main, rt->shard[i]);

		if (e) {
			pthread_mutex_lock(&rt->ctl_mu);
			if (!rt->start_err) {
				rt->start_err = -e;
				snprintf(rt->start_msg, sizeof(rt->start_msg),
					 "pthread_create: %s", strerror(e));
			}
			pthread_mutex_unlock(&rt->ctl_mu);
			break;
		}
		rt->nthreads++;
	}
	err = start_barrier(rt);
	if (err) {
		for (unsigned i = 0; i < rt->nthreads; i++)
			pthread_join(rt->shard[i]->thread, NULL);
		rt->nthreads = 0;
		return pn__error(err, "%s", rt->start_msg);
	}
	rt->running = true;
	/* External calls get in from here on (the gate, producer.c). */
	atomic_store_explicit(&rt->phase, PN__RT_RUNNING, memory_order_release);
	return pn__features_start(rt);
}

unsigned pn_runtime_nshards(const struct pn_runtime *rt)
{
	return rt->napp;
}

const struct pn_plan *pn_runtime_plan(const struct pn_runtime *rt)
{
	return rt->plan;
}

/*
 * Runtimes with a shard thread left behind at shutdown. Such a thread may
 * still run (its handler may return at last, or it was merely slower than
 * the deadline): it reads the runtime, its producers' rings and writes into
 * other shards' rings. So that runtime is never freed, only kept here,
 * reachable, which tells leak checkers the leak is meant.
 */
struct leaked_rt {
	struct leaked_rt *next;
	struct pn_runtime *rt;
};
static struct leaked_rt *leaked;
static pthread_mutex_t leaked_mu = PTHREAD_MUTEX_INITIALIZER;

/* Whether @rt has a shard left behind; if so, keep it on the list. */
static bool runtime_keep(struct pn_runtime *rt)
{
	bool abandoned = false;
	struct leaked_rt *l;

	for (unsigned i = 0; rt->shard && i < rt->nshards; i++)
		abandoned |= rt->shard[i] && rt->shard[i]->abandoned;
	if (!abandoned)
		return false;
	l = malloc(sizeof(*l));
	if (l) { /* without it the runtime is leaked all the same */
		pthread_mutex_lock(&leaked_mu);
		*l = (struct leaked_rt){.next = leaked, .rt = rt};
		leaked = l;
		pthread_mutex_unlock(&leaked_mu);
	}
	return true;
}

void pn_runtime_destroy(struct pn_runtime *rt)
{
	if (!rt)
		return;
	pn__signals_stop(rt); /* no code is queued after this */
	if (rt->running && !rt->shut_down)
		pn_runtime_shutdown(rt, 5000000000ull, NULL);
	/* Calls still inside (released by the closed gate) leave first:
	 * nothing is freed under them. */
	pn__gate_drain(rt);
	if (runtime_keep(rt))
		return;
	pn__producers_free(rt);
	pn__features_destroy(rt, false); /* they may read the shards */
	pn__met_destroy(rt);
	for (unsigned i = 0; rt->shard && i < rt->nshards; i++) {
		if (!rt->shard[i])
			continue;
		pn__shard_free(rt->shard[i]);
		free(rt->shard[i]);
	}
	free(rt->shard);
	free(rt->producers);
	if (rt->budget_ok)
		pn__budget_fini(&rt->budget);
	pn_plan_destroy(rt->plan);
	pn_topology_destroy(rt->topo);
	pthread_mutex_destroy(&rt->ctl_mu);
	pthread_cond_destroy(&rt->ctl_cv);
	pthread_mutex_destroy(&rt->waitq.mu);
	free(rt->waitq.codes);
	pthread_cond_destroy(&rt->waitq.cv);
	pthread_mutex_destroy(&rt->prod_mu);
	pthread_mutex_destroy(&rt->own_mu);
	pn__features_destroy(rt, true);
	free(rt);
}
