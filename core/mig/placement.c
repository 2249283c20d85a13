// SPDX-License-Identifier: MIT
/*
 * Placement and the rebalancer. pn__place() turns a spawn's placement
 * (enum pn_placement) into a shard; the rebalancer is an actor on the
 * supervisor shard that every cfg.rebalance_ns builds a struct
 * pn_traffic_view (traffic.c's counters since its last run, the actors
 * on each shard, the pairs sampled since then), calls the user's policy
 * with it, then starts a new sample window. The shipped policy,
 * pn_rebalance_colocate(), moves chatty pairs onto one shard.
 */
#include "mig_int.h"

#include <errno.h>
#include <stdlib.h>

#define MSG_TICK      1u
#define MAX_DECISIONS 1024

struct pn__place {
	_Atomic unsigned rr;	  /* scatter and numa round-robin */
	_Atomic uint64_t *placed; /* [napp]: compact placements */
};

int pn__place_init(struct pn_runtime *rt)
{
	struct pn__place *p = calloc(1, sizeof(*p));

	if (!p || !(p->placed = calloc(rt->napp, sizeof(*p->placed)))) {
		free(p);
		return pn__error(-ENOMEM, "no memory for placement");
	}
	rt->place = p;
	if (rt->cfg.compact_cap == 0)
		return pn__error(-EINVAL, "compact_cap=0: expected at least 1");
	return pn__traffic_init(rt);
}

void pn__place_fini(struct pn_runtime *rt)
{
	pn__traffic_fini(rt);
	if (rt->place)
		free(rt->place->placed);
	free(rt->place);
	rt->place = NULL;
}

static uint64_t stat_of(const struct pn_runtime *rt, unsigned i, int which)
{
	return atomic_load_explicit(&rt->shard[i]->stats.v[which],
				    memory_order_relaxed);
}

/*
 * Compact: the first application shard whose load is under the cap, else
 * the least loaded. The load is the larger of its live actors and the
 * compact placements made there less its stops: spawns still on their way
 * count too, so a burst from one handler does not all land on shard 0.
 */
static unsigned place_compact(struct pn_runtime *rt)
{
	unsigned best = 0;
	uint64_t best_load = UINT64_MAX;

	for (unsigned i = 0; i < rt->napp; i++) {
		uint64_t live = stat_of(rt, i, PN__ST_ACTORS);
		uint64_t placed = atomic_load_explicit(&rt->place->placed[i],
						       memory_order_relaxed);
		uint64_t stopped = stat_of(rt, i, PN__ST_STOPPED);
		uint64_t load = placed > stopped ? placed - stopped : 0;

		load = load > live ? load : live;
		if (load < rt->cfg.compact_cap) {
			best = i;
			break;
		}
		if (load < best_load) {
			best_load = load;
			best = i;
		}
	}
	/* Relaxed: a count, not a guard (placement is best effort). */
	atomic_fetch_add_explicit(&rt->place->placed[best], 1,
				  memory_order_relaxed);
	return best;
}

/* NUMA-local: round-robin over the application shards on @cpu's node. */
static int place_numa(struct pn_runtime *rt, int cpu, unsigned *target)
{
	struct pn_cpu_info ci;
	unsigned n = 0, k;

	if (pn_topology_cpu(rt->topo, cpu, &ci) < 0)
		return pn__error(-EINVAL, "spawn: no cpu %d for PN_PLACE_NUMA",
				 cpu);
	for (unsigned i = 0; i < rt->napp; i++)
		n += rt->plan->shard[i].numa_node == ci.numa_node;
	if (!n)
		return pn__error(-ENOENT,
				 "spawn: no shard on NUMA node %d "
				 "(cpu %d)",
				 ci.numa_node, cpu);
	/* Relaxed: only spreads spawns; no ordering rides on it. */
	k = atomic_fetch_add_explicit(&rt->place->rr, 1, memory_order_relaxed) %
	    n;
	for (unsigned i = 0; i < rt->napp; i++)
		if (rt->plan->shard[i].numa_node == ci.numa_node && !k--) {
			*target = i;
			break;
		}
	return 0;
}

int pn__place(struct pn_runtime *rt, const struct pn_spawn_opts *o,
	      unsigned here, unsigned *target)
{
	(void)here;
	switch (o->placement) {
	case PN_PLACE_SHARD:
		if (o->shard < 0 || (unsigned)o->shard >= rt->napp)
			return pn__error(-EINVAL, "spawn: no shard %d",
					 o->shard);
		*target = (unsigned)o->shard;
		return 0;
	case PN_PLACE_NEAR:
		/* Where it lives now; a stopped actor's home still places. */
		if (!o->near || pn_pid_shard(o->near) >= rt->nshards)
			return pn__error(-EINVAL,
					 "spawn: PN_PLACE_NEAR with "
					 "invalid pid %#llx",
					 (unsigned long long)o->near);
		if (pn__where(rt, o->near, target) < 0)
			*target = pn_pid_shard(o->near);
		return 0;
	case PN_PLACE_COMPACT:
		*target = place_compact(rt);
		return 0;
	case PN_PLACE_SCATTER:
		*target = atomic_fetch_add_explicit(&rt->place->rr, 1,
						    memory_order_relaxed) %
			  rt->napp;
		return 0;
	case PN_PLACE_NUMA:
		return place_numa(rt, o->cpu, target);
	default:
		return pn__error(-EINVAL, "spawn: unknown placement %d",
				 o->placement);
	}
}

/* --- the rebalancer ------------------------------------------------------ */

struct rebal {
	uint64_t timer;
	uint64_t *last; /* [n * n]: the shard matrix at the last run */
	uint64_t *delta;
	uint64_t *actors;
	struct pn_traffic_pair *pairs;
};

static void rebal_free(struct rebal *r)
{
	free(r->last);
	free(r->delta);
	free(r->actors);
	free(r->pairs);
}

static int rebal_init(struct pn_ctx *ctx, void *state, const void *arg,
		      size_t len)
{
	struct pn_shard *s = pn__shard(ctx);
	struct pn_runtime *rt = s->rt;
	struct rebal *r = state;
	unsigned n = rt->nshards;

	(void)arg;
	(void)len;
	r->last = calloc((size_t)n * n, sizeof(*r->last));
	r->delta = calloc((size_t)n * n, sizeof(*r->delta));
	r->actors = calloc(n, sizeof(*r->actors));
	r->pairs = calloc(pn__traffic_max_pairs(rt), sizeof(*r->pairs));
	if (!r->last || !r->delta || !r->actors || !r->pairs) {
		rebal_free(r);
		return -ENOMEM;
	}
	pn_traffic_shards(rt, r->last, n);
	pn__traffic_reset(rt);
	return pn_send_every(pn__ctx(s), rt->cfg.rebalance_ns, MSG_TICK, NULL,
			     0, &r->timer);
}

static void rebal_run(struct pn_shard *ctx, struct rebal *r)
{
	struct pn_runtime *rt = ctx->rt;
	unsigned n = rt->nshards, a = rt->napp;
	struct pn_traffic_view v = {.nshards = a,
				    .shards = r->delta,
				    .actors = r->actors,
				    .pairs = r->pairs,
				    .cap = rt->cfg.compact_cap};
	uint64_t *now = r->delta; /* read into delta, then subtract */

	pn_traffic_shards(rt, now, n);
	for (unsigned i = 0; i < n * n; i++) {
		uint64_t x = now[i];

		now[i] = x - r->last[i];
		r->last[i] = x;
	}
	/* The view's matrix is a x a: close up the supervisor's column. */
	for (unsigned i = 0; i < a; i++)
		memmove(&r->delta[i * a], &r->delta[i * n],
			a * sizeof(*r->delta));
	for (unsigned i = 0; i < a; i++)
		r->actors[i] = stat_of(rt, i, PN__ST_ACTORS);
	v.npairs = pn__traffic_collect(rt, r->pairs);
	rt->cfg.rebalance(pn__ctx(ctx), &v, rt->cfg.rebalance_arg);
	pn__traffic_reset(rt);
}

static int rebal_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct pn_shard *s = pn__shard(ctx);
	struct rebal *r = state;

	if (m->type == MSG_TICK)
		rebal_run(s, r);
	else if (m->type == PN_MSG_SHUTDOWN) /* timers tick on here: the */
		pn_timer_cancel(pn__ctx(s),
				r->timer); /* drain stage waits for quiet */
	return 0;
}

static void rebal_cleanup(struct pn_ctx *ctx, void *state, int reason)
{
	struct pn_shard *s = pn__shard(ctx);

	(void)s;
	(void)reason;
	rebal_free(state);
}

static const struct pn_behaviour rebal_b = {
	.name = "pinion-rebalancer",
	.state_size = sizeof(struct rebal),
	.init = rebal_init,
	.handle = rebal_handle,
	.cleanup = rebal_cleanup,
};

/* After start: the rebalancer, if the configuration names a policy. */
int pn__place_start(struct pn_runtime *rt)
{
	struct pn_spawn_opts o = {.shard = PN_SHARD_SUPERVISOR};
	pn_pid pid;

	if (!rt->cfg.rebalance)
		return 0;
	if (rt->cfg.rebalance_ns < 1000000)
		return pn__error(-EINVAL, "rebalance_ns=%llu: at least 1 ms",
				 (unsigned long long)rt->cfg.rebalance_ns);
	return pn_runtime_spawn(rt, &rebal_b, &o, &pid);
}

/* --- colocate --------------------------------------------------------- */

static bool seen(const pn_pid *v, unsigned n, pn_pid p)
{
	for (unsigned i = 0; i < n; i++)
		if (v[i] == p)
			return true;
	return false;
}

/* Where @pid lives now (pn_where), else its home. */
static unsigned shard_of(const struct pn_runtime *rt, pn_pid pid)
{
	unsigned s;

	return pn__where(rt, pid, &s) == 0 ? s : pn_pid_shard(pid);
}

/*
 * For each pair, busiest first: the two actors are on shards sx and sy
 * (where each lives now: pn_where). Move one of them to the other's shard: to
 * the less loaded of the two, if that shard has room - under cfg.compact_cap
 * and under an even share of all actors plus one, so that colocating does not
 * pile every pair onto one shard. An actor asked to move in the previous run is
 * left alone in this one: its window may hold samples from before its
 * move, and acting on them could move its partner away again. The state
 * is the supervisor shard thread's own (one per runtime).
 */
void pn_rebalance_colocate(struct pn_ctx *ctx, const struct pn_traffic_view *v,
			   void *arg)
{
	struct pn_shard *s = pn__shard(ctx);

	static _Thread_local pn_pid used[2 * MAX_DECISIONS];
	static _Thread_local pn_pid prev[2 * MAX_DECISIONS];
	static _Thread_local unsigned nprev;
	const struct pn_runtime *rt = pn_ctx_runtime(pn__ctx(s));
	uint64_t load[PN_MAX_SHARDS], total = 0, fair;
	unsigned nused = 0;

	(void)arg;
	for (unsigned i = 0; i < v->nshards; i++)
		total += load[i] = v->actors[i];
	fair = (total + v->nshards - 1) / v->nshards + 1;
	for (unsigned i = 0; i < v->npairs && nused < 2 * MAX_DECISIONS; i++) {
		const struct pn_traffic_pair *p = &v->pairs[i];
		unsigned sx = shard_of(rt, p->from), sy = shard_of(rt, p->to);
		unsigned dst;
		pn_pid mover;

		if (sx >= v->nshards || sy >= v->nshards || sx == sy ||
		    seen(used, nused, p->from) || seen(used, nused, p->to) ||
		    seen(prev, nprev, p->from) || seen(prev, nprev, p->to))
			continue;
		dst = load[sx] <= load[sy] ? sx : sy;
		mover = dst == sx ? p->to : p->from;
		if (load[dst] >= v->cap || load[dst] >= fair ||
		    pn_migrate_pid(pn__ctx(s), mover, dst) < 0)
			continue;
		load[dst]++;
		load[dst == sx ? sy : sx]--;
		used[nused++] = p->from;
		used[nused++] = p->to;
	}
	memcpy(prev, used, nused * sizeof(*used));
	nprev = nused;
}

/* --- where an actor is -------------------------------------------------- */

/* pn_where() without the error text (placement falls back quietly). */
int pn__where(const struct pn_runtime *rt, pn_pid pid, unsigned *shard)
{
	unsigned home = pn_pid_shard(pid);
	uint32_t idx = pn_pid_slot(pid);
	const struct pn_shard *s;
	uint16_t w;

	if (pid == PN_PID_NONE || home >= rt->nshards ||
	    idx >= rt->shard[home]->max_slots || !pn_pid_gen(pid))
		return -EINVAL;
	s = rt->shard[home];
	/* Relaxed, both: the answer is a snapshot that a stop or a move may
	 * outdate at once, and orders nothing. The slot's generation moves
	 * on when the actor is freed, so a stopped actor's PID is told. */
	if (atomic_load_explicit(&s->slots[idx].gen, memory_order_relaxed) !=
	    pn_pid_gen(pid))
		return -ESRCH;
	w = atomic_load_explicit(&s->where[idx], memory_order_relaxed);
	*shard = w ? w - 1u : home;
	return 0;
}

int pn_where(const struct pn_runtime *rt, pn_pid pid, unsigned *shard)
{
	int err = pn__where(rt, pid, shard);

	if (err == -EINVAL)
		return pn__error(err, "pn_where: invalid pid %#llx",
				 (unsigned long long)pid);
	if (err == -ESRCH)
		return pn__error(err, "pn_where: %#llx is not alive",
				 (unsigned long long)pid);
	return 0;
}
