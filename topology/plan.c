// SPDX-License-Identifier: MIT
/*
 * The placement plan: which cpu each shard's thread runs on and where the
 * supervisor goes. It is a pure function of the flattened topology and the
 * config, walked in hwloc's logical order, so that one machine and one
 * config always give the same plan. The rules are in pn_topology.h above
 * pn_plan_create(); the comments here say why they are as they are.
 */
#include "topology_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* One candidate core: its run of PUs in struct cands.pu. */
struct cand_core {
	int core;	/* logical core index */
	unsigned first; /* its first PU in cands.pu */
	unsigned n;	/* 1 with SMT off, else its usable PUs */
};

/*
 * The PUs shards may use, in logical order. A core's PUs are contiguous in
 * that order (hwloc's tree puts them under the core), so the PUs of each
 * candidate core form one run.
 */
struct cands {
	const struct pn_cpu_info **pu; /* npu entries */
	unsigned npu;
	struct cand_core *core; /* ncore entries */
	unsigned ncore;
};

static void cands_free(struct cands *cs)
{
	free(cs->pu);
	free(cs->core);
	cs->pu = NULL;
	cs->core = NULL;
}

/*
 * Narrow @usable to c->cores, refusing any cpu in it that is not allowed:
 * a setting that names a cpu the process cannot run on is a mistake to
 * report, not a wish to trim silently.
 */
static int apply_cores(const struct pn_topology *t, const char *cores,
		       hwloc_bitmap_t usable)
{
	char why[96], allowed[128];
	int cpu, err;

	err = pn__cpulist_to_cpuset(cores, usable, why, sizeof(why));
	if (err == -ENOMEM)
		return pn__error(err, "plan: out of memory");
	if (err < 0)
		return pn__error(err, "PINION_CORES=%.64s: %s", cores, why);
	hwloc_bitmap_foreach_begin(cpu, usable)
	{
		if (!hwloc_bitmap_isset(t->allowed, (unsigned)cpu)) {
			pn__cpuset_format(t->allowed, allowed, sizeof(allowed));
			return pn__error(-EINVAL,
					 "PINION_CORES=%.64s: cpu %d %s "
					 "(allowed: %s)",
					 cores, cpu,
					 pn__topology_find(t, cpu)
						 ? "is not allowed"
						 : "does not exist",
					 allowed);
		}
	}
	hwloc_bitmap_foreach_end();
	return 0;
}

/* Collect the candidates from the PUs in @usable, one per core unless @smt. */
static void collect(const struct pn_topology *t, hwloc_const_bitmap_t usable,
		    bool smt, struct cands *cs)
{
	for (unsigned i = 0; i < t->npus; i++) {
		const struct pn_cpu_info *ci = &t->pu[i];
		struct cand_core *last =
			cs->ncore ? &cs->core[cs->ncore - 1] : NULL;

		if (!hwloc_bitmap_isset(usable, (unsigned)ci->cpu))
			continue;
		if (last && last->core == ci->core) {
			if (!smt)
				continue; /* the core's first usable PU won */
			last->n++;
		} else {
			cs->core[cs->ncore++] = (struct cand_core){
				.core = ci->core, .first = cs->npu, .n = 1};
		}
		cs->pu[cs->npu++] = ci;
	}
}

static int candidates(const struct pn_topology *t,
		      const struct pn_plan_config *c, struct cands *cs)
{
	hwloc_bitmap_t usable = hwloc_bitmap_dup(t->allowed);
	int err;

	memset(cs, 0, sizeof(*cs));
	cs->pu = calloc(t->npus, sizeof(const struct pn_cpu_info *));
	cs->core = calloc(t->npus, sizeof(struct cand_core));
	if (!usable || !cs->pu || !cs->core) {
		err = pn__error(-ENOMEM, "plan: out of memory");
		goto fail;
	}
	if (c->cores[0]) {
		err = apply_cores(t, c->cores, usable);
		if (err)
			goto fail;
	}
	collect(t, usable, c->smt == PN_SMT_ON, cs);
	hwloc_bitmap_free(usable);
	if (!cs->ncore) {
		cands_free(cs);
		return pn__error(-EINVAL, "plan: no allowed cpu for a shard");
	}
	return 0;
fail:
	hwloc_bitmap_free(usable);
	cands_free(cs);
	return err;
}

/* The candidate cpus as a list, for messages. */
static void cands_format(const struct cands *cs, char *buf, size_t len)
{
	hwloc_bitmap_t set = hwloc_bitmap_alloc();

	buf[0] = '\0';
	if (!set)
		return;
	for (unsigned i = 0; i < cs->npu; i++)
		hwloc_bitmap_set(set, (unsigned)cs->pu[i]->cpu);
	pn__cpuset_format(set, buf, len);
	hwloc_bitmap_free(set);
}

/* Index in cs->core of the core holding cpu @cpu's core, or -1. */
static int cand_core_of(const struct cands *cs, const struct pn_cpu_info *ci)
{
	for (unsigned k = 0; k < cs->ncore; k++)
		if (cs->core[k].core == ci->core)
			return (int)k;
	return -1;
}

/*
 * What the shard count and the supervisor's core come to. The supervisor
 * gets a core of its own (@reserve, the candidate core @rc) when it can:
 * by default from 3 candidate cores up, since giving up one of two cores
 * would halve the shards; with an explicit shard count whenever the count
 * fits on the other cores. Otherwise it shares, and the note says so.
 */
struct layout {
	const struct pn_cpu_info *sup; /* explicit supervisor cpu, or NULL */
	int rc;			       /* candidate core it may take, or -1 */
	bool reserve;		       /* rc is kept free of shards */
	unsigned want;		       /* shards */
};

static int supervisor_cpu(const struct pn_topology *t,
			  const struct pn_plan_config *c, struct layout *l)
{
	char allowed[128];

	l->sup = NULL;
	if (c->supervisor_core < 0)
		return 0;
	l->sup = pn__topology_find(t, c->supervisor_core);
	if (l->sup && l->sup->allowed)
		return 0;
	pn__cpuset_format(t->allowed, allowed, sizeof(allowed));
	return pn__error(-EINVAL,
			 "PINION_SUPERVISOR_CORE=%d: cpu %d %s (allowed: %s)",
			 c->supervisor_core, c->supervisor_core,
			 l->sup ? "is not allowed" : "does not exist", allowed);
}

static int layout(const struct pn_topology *t, const struct pn_plan_config *c,
		  const struct cands *cs, struct layout *l)
{
	unsigned rest;
	char cpus[128];
	int err;

	err = supervisor_cpu(t, c, l);
	if (err)
		return err;
	l->rc = l->sup ? cand_core_of(cs, l->sup) : (int)cs->ncore - 1;
	rest = cs->npu - (l->rc >= 0 ? cs->core[l->rc].n : 0);
	if (c->shards > cs->npu) {
		cands_format(cs, cpus, sizeof(cpus));
		return pn__error(
			-EINVAL,
			"PINION_SHARDS=%u: only %u usable %s (cpus %s)",
			c->shards, cs->npu,
			c->smt == PN_SMT_ON ? "cpus with SMT on" : "cores",
			cpus);
	}
	if (c->shards)
		l->reserve = l->rc >= 0 && c->shards <= rest;
	else
		l->reserve = l->rc >= 0 && cs->ncore >= 3;
	l->want = c->shards ? c->shards : l->reserve ? rest : cs->npu;
	return 0;
}

/* Fill p->shard from the candidates, skipping a reserved core. */
static void place_shards(const struct cands *cs, const struct layout *l,
			 struct pn_plan *p)
{
	unsigned n = 0;

	for (unsigned k = 0; k < cs->ncore && n < l->want; k++) {
		const struct cand_core *cc = &cs->core[k];

		if (l->reserve && (int)k == l->rc)
			continue;
		for (unsigned j = 0; j < cc->n && n < l->want; j++) {
			const struct pn_cpu_info *ci = cs->pu[cc->first + j];

			p->shard[n++] = (struct pn_plan_shard){
				.cpu = ci->cpu,
				.core = ci->core,
				.numa_node = ci->numa_node,
				.package = ci->package,
			};
		}
	}
	p->nshards = n;
	for (unsigned i = 1; i < n; i++)
		if (p->shard[i].core == p->shard[i - 1].core)
			p->smt = true;
}

/*
 * Settle the supervisor's cpu, whether it shares a core (any shard on its
 * physical core counts, an SMT sibling included), and the one-line note.
 */
static void place_supervisor(const struct pn_topology *t,
			     const struct pn_plan_config *c,
			     const struct cands *cs, const struct layout *l,
			     struct pn_plan *p)
{
	const struct pn_cpu_info *sup = l->sup;
	int first = -1, last = -1;
	char who[32];

	if (!sup)
		sup = l->reserve ? cs->pu[cs->core[l->rc].first]
				 : pn__topology_find(
					   t, p->shard[p->nshards - 1].cpu);
	p->supervisor_cpu = sup->cpu;
	p->supervisor_numa_node = sup->numa_node;
	for (unsigned i = 0; i < p->nshards; i++) {
		if (p->shard[i].core != sup->core)
			continue;
		if (first < 0)
			first = (int)i;
		last = (int)i;
	}
	p->supervisor_shared = first >= 0;
	if (!p->supervisor_shared) {
		snprintf(p->note, sizeof(p->note),
			 "supervisor has core %d (cpu %d) to itself", sup->core,
			 sup->cpu);
		return;
	}
	if (first == last)
		snprintf(who, sizeof(who), "shard %d", first);
	else
		snprintf(who, sizeof(who), "shards %d-%d", first, last);
	if (cs->ncore < 3)
		snprintf(
			p->note, sizeof(p->note),
			"fewer than 3 cores: supervisor shares core %d with %s",
			sup->core, who);
	else
		snprintf(p->note, sizeof(p->note),
			 "PINION_SHARDS=%u needs every candidate cpu: "
			 "supervisor shares core %d with %s",
			 c->shards, sup->core, who);
}

int pn_plan_create(const struct pn_topology *t, const struct pn_plan_config *c,
		   struct pn_plan **out)
{
	struct pn_plan *p;
	struct cands cs;
	struct layout l = {0};
	int err;

	if (c->smt < PN_SMT_DEFAULT || c->smt > PN_SMT_ON)
		return pn__error(-EINVAL, "PINION_SMT: bad value %d",
				 (int)c->smt);
	err = candidates(t, c, &cs);
	if (err)
		return err;
	err = layout(t, c, &cs, &l);
	if (err)
		goto out;
	p = calloc(1, sizeof(*p) + l.want * sizeof(p->shard[0]));
	if (!p) {
		err = pn__error(-ENOMEM, "plan: out of memory");
		goto out;
	}
	place_shards(&cs, &l, p);
	place_supervisor(t, c, &cs, &l, p);
	*out = p;
out:
	cands_free(&cs);
	return err;
}

void pn_plan_destroy(struct pn_plan *p)
{
	free(p);
}
