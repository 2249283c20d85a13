/* SPDX-License-Identifier: MIT */
/*
 * topology/: what the machine is (hwloc), where Pinion's threads go (the
 * placement plan), and pinning a thread and its memory there. Knows nothing
 * of actors.
 *
 * CPU numbers are the operating system's (as in taskset and /proc/cpuinfo).
 * "Core" means a physical core; a core has one or more hardware threads
 * (PUs). Every function here may be called from any thread; a topology or
 * plan object is immutable after it is made (pn_topology_restrict() aside)
 * and may be shared read-only between threads.
 */
#ifndef PN_TOPOLOGY_H
#define PN_TOPOLOGY_H

#include "pn_base.h"

#include <stdbool.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A discovered machine: hwloc's topology plus the set of allowed CPUs. */
struct pn_topology;

/* One hardware thread (PU) as the plan and the tools see it. */
struct pn_cpu_info {
	int cpu;       /* OS index of the PU */
	int core;      /* logical index of its physical core, 0.. */
	int smt_rank;  /* 0 for a core's first PU, 1 for its sibling, ... */
	int package;   /* logical index of its package (socket) */
	int numa_node; /* OS index of its NUMA node (0 on non-NUMA machines) */
	bool allowed;  /* inside the process's allowed cpuset */
};

/* One cache and the CPUs that share it. */
struct pn_cache_info {
	int level;	    /* 1, 2, 3 (4 where present) */
	char type;	    /* 'd' data, 'i' instruction, 'u' unified */
	unsigned long size; /* bytes */
	char cpus[128];	    /* the sharing PUs as a cpu list, "0-3,8" */
};

/*
 * Load this machine's topology. The allowed set is hwloc's allowed cpuset
 * intersected with the calling thread's affinity mask (sched_getaffinity),
 * so that a process started under taskset or a cgroup cpuset only plans
 * onto CPUs it may run on.
 *
 * Returns 0 and the topology in *out (free it with pn_topology_destroy()),
 * or -ENOMEM, or -EIO when hwloc fails (detail in pn_last_error()).
 */
PN_API int pn_topology_load(struct pn_topology **out);

/*
 * Load a synthetic topology described in hwloc's synthetic syntax, e.g.
 * "pack:2 core:8 pu:2" or "pack:2 numa:2 core:4 pu:1" (for tests and
 * planning experiments). Every PU is allowed.
 *
 * Returns 0, -EINVAL for a description hwloc rejects, -ENOMEM, -EIO.
 */
PN_API int pn_topology_load_synthetic(const char *desc,
				      struct pn_topology **out);

/* Free a topology. NULL is ignored. */
PN_API void pn_topology_destroy(struct pn_topology *t);

/*
 * Narrow the allowed set to its intersection with @cpulist ("0-3,8"), as a
 * restricted cpuset would; it never widens it. Returns 0, or -EINVAL for a
 * malformed list or one that names no allowed CPU (the topology is left
 * unchanged). Not thread-safe: call it before the topology is shared.
 */
PN_API int pn_topology_restrict(struct pn_topology *t, const char *cpulist);

/* Counts over the whole machine (allowed or not). */
PN_API unsigned pn_topology_npackages(const struct pn_topology *t);
PN_API unsigned pn_topology_nnuma(const struct pn_topology *t);
PN_API unsigned pn_topology_ncores(const struct pn_topology *t);
PN_API unsigned pn_topology_npus(const struct pn_topology *t);

/*
 * Describe the @i-th PU (0 <= i < pn_topology_npus()), in hwloc's logical
 * order (package, NUMA node, core, sibling). Returns 0 or -ERANGE.
 */
PN_API int pn_topology_pu(const struct pn_topology *t, unsigned i,
			  struct pn_cpu_info *out);

/* Look up a PU by OS cpu number. Returns 0, or -ENOENT if there is none. */
PN_API int pn_topology_cpu(const struct pn_topology *t, int cpu,
			   struct pn_cpu_info *out);

/*
 * Describe the @i-th cache (every level, every instance). Returns 0, or
 * -ERANGE past the last one.
 */
PN_API int pn_topology_cache(const struct pn_topology *t, unsigned i,
			     struct pn_cache_info *out);

/* --- the placement plan ------------------------------------------------ */

enum pn_smt {
	PN_SMT_DEFAULT = 0, /* off: one PU per physical core */
	PN_SMT_OFF,
	PN_SMT_ON, /* every allowed PU may host a shard */
};

/* What the user asks of the plan. Zero/empty fields mean "choose". */
struct pn_plan_config {
	unsigned shards;     /* 0: one per usable core (see pn_plan_create) */
	char cores[256];     /* cpu list the shards may use; "" = all allowed */
	int supervisor_core; /* OS cpu number; -1 = choose */
	enum pn_smt smt;
};

/* Defaults: shards 0, cores "", supervisor_core -1, smt PN_SMT_DEFAULT. */
PN_API void pn_plan_config_init(struct pn_plan_config *c);

/*
 * Apply the environment on top of @c: PINION_SHARDS (a positive integer),
 * PINION_CORES (a cpu list, "0-3,8"), PINION_SUPERVISOR_CORE (a cpu
 * number), PINION_SMT (on|off). Unset or empty variables leave @c alone.
 *
 * Returns 0, or -EINVAL with pn_last_error() naming the variable and the
 * value ("PINION_SMT=maybe: expected on or off"); @c is unchanged then.
 */
PN_API int pn_plan_config_from_env(struct pn_plan_config *c);

struct pn_plan_shard {
	int cpu;       /* OS cpu the shard's thread is pinned to */
	int core;      /* logical physical-core index */
	int numa_node; /* OS index of the NUMA node its memory is bound to */
	int package;
};

struct pn_plan {
	unsigned nshards;
	bool smt;	    /* SMT used: two shards share a core */
	int supervisor_cpu; /* where the supervisor thread runs */
	int supervisor_numa_node;
	bool supervisor_shared; /* it shares its core with shard(s) */
	char note[160];		/* one line on why, e.g. "fewer than 3 cores:
				   supervisor shares core 1 with shard 1" */
	struct pn_plan_shard shard[]; /* nshards entries */
};

/*
 * Make a plan. Candidate CPUs are the allowed PUs (narrowed by c->cores),
 * one per physical core unless SMT is on, in logical order (package, NUMA
 * node, core, sibling): the plan is deterministic for a given topology and
 * config. With 3 or more candidate cores and no explicit supervisor core,
 * the last candidate core is reserved for the supervisor and the shards get
 * the rest; with fewer, the supervisor shares the last shard's core and
 * supervisor_shared says so. shards == 0 means one shard per remaining
 * candidate; more shards than candidates is an error (never oversubscribed
 * silently). An explicit shard count that fits on the other candidate
 * cores leaves the last one to the supervisor whatever their number; one
 * that needs every candidate makes the supervisor share instead (and the
 * note says so). An explicit supervisor cpu takes its whole physical core
 * (SMT siblings included) out of the candidates under the same rules, and
 * shares only if a shard lands on that core. Error details name the
 * PINION_* variable each setting corresponds to.
 *
 * Returns 0 and the plan in *out (free with pn_plan_destroy()), -EINVAL
 * with pn_last_error() naming the offending setting (a cpu outside the
 * allowed set, a supervisor core outside it, too many shards), -ENOMEM.
 */
PN_API int pn_plan_create(const struct pn_topology *t,
			  const struct pn_plan_config *c, struct pn_plan **out);

/* Free a plan. NULL is ignored. */
PN_API void pn_plan_destroy(struct pn_plan *p);

/* Print @t and @p as a human-readable table, or as one JSON object. */
PN_API void pn_plan_print(FILE *f, const struct pn_topology *t,
			  const struct pn_plan *p);
PN_API void pn_plan_print_json(FILE *f, const struct pn_topology *t,
			       const struct pn_plan *p);

/*
 * Pin the calling thread to @cpu and bind its future memory allocations to
 * that CPU's NUMA node (hwloc_set_cpubind + hwloc_set_membind, thread
 * scope). Returns 0, -ENOENT if @cpu is not in @t, -EINVAL if @cpu is not
 * allowed or @t is synthetic (its cpus are not this machine's), or
 * -EPERM/-EINVAL/-EXDEV as hwloc reports; the detail names the cpu. On
 * failure the thread's cpu binding is as it was. Memory binding that the
 * system does not support (a non-NUMA kernel), or that fails on a machine
 * with one NUMA node (nothing to choose between), is not an error.
 */
PN_API int pn_thread_pin(const struct pn_topology *t, int cpu);

/*
 * Parse a cpu list ("0-3,8") into a bitmap of @nbits bits (@bits has
 * (nbits+63)/64 words; they are cleared first). Returns the number of CPUs
 * set, or -EINVAL for a malformed list, a number >= nbits, or @nbits above
 * INT_MAX (the count would not fit the return value), with @bits
 * untouched.
 */
PN_API int pn_cpulist_parse(const char *list, uint64_t *bits, unsigned nbits);

#ifdef __cplusplus
}
#endif
#endif /* PN_TOPOLOGY_H */
