// SPDX-License-Identifier: MIT
/*
 * Discovery: loading this machine's or a synthetic topology through hwloc,
 * deciding which PUs are allowed, and flattening what the plan and the
 * tools need (PUs with their core, package and NUMA node; caches with their
 * sharing cpus) into arrays so that every query afterwards is a const array
 * read. Restricting the allowed set lives here too, since it must keep the
 * flat copy in step with the hwloc cpuset.
 */
#include "topology_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * Logical index of the core @pu belongs to. hwloc reports no Core above a
 * PU on some VMs and in synthetic descriptions such as "pack:2 pu:4"; such a
 * PU counts as a core of its own, numbered after the real ones, so that
 * "one shard per core" still means something.
 */
static int pu_core(hwloc_obj_t pu, unsigned hw_ncores, unsigned *coreless,
		   int *smt_rank, hwloc_topology_t hw)
{
	hwloc_obj_t core =
		hwloc_get_ancestor_obj_by_type(hw, HWLOC_OBJ_CORE, pu);
	hwloc_obj_t first;

	if (!core) {
		*smt_rank = 0;
		return (int)(hw_ncores + (*coreless)++);
	}
	first = hwloc_get_obj_inside_cpuset_by_type(hw, core->cpuset,
						    HWLOC_OBJ_PU, 0);
	*smt_rank = first ? (int)(pu->logical_index - first->logical_index) : 0;
	return (int)core->logical_index;
}

/*
 * OS index of @pu's NUMA node: the first node, in logical order, whose
 * cpuset holds it. Where several nodes are local to one PU (DRAM plus HBM
 * or CXL memory), hwloc lists the DRAM node first, and that is where a
 * shard's ordinary allocations belong.
 */
static int pu_numa(hwloc_topology_t hw, hwloc_obj_t pu)
{
	hwloc_obj_t node = NULL;

	while ((node = hwloc_get_next_obj_by_type(hw, HWLOC_OBJ_NUMANODE,
						  node)))
		if (hwloc_bitmap_isset(node->cpuset, pu->os_index))
			return (int)node->os_index;
	return 0;
}

static int read_pus(struct pn_topology *t)
{
	hwloc_topology_t hw = t->hw;
	unsigned hw_ncores, coreless = 0;
	hwloc_obj_t pu, pkg;
	int n;

	n = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_CORE);
	hw_ncores = n > 0 ? (unsigned)n : 0;
	n = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_PU);
	if (n <= 0)
		return pn__error(-EIO, "hwloc: the topology has no PU");
	t->npus = (unsigned)n;
	t->pu = calloc(t->npus, sizeof(*t->pu));
	if (!t->pu)
		return pn__error(-ENOMEM, "topology: out of memory");
	for (unsigned i = 0; i < t->npus; i++) {
		struct pn_cpu_info *ci = &t->pu[i];

		pu = hwloc_get_obj_by_type(hw, HWLOC_OBJ_PU, i);
		pkg = hwloc_get_ancestor_obj_by_type(hw, HWLOC_OBJ_PACKAGE, pu);
		ci->cpu = (int)pu->os_index;
		ci->core = pu_core(pu, hw_ncores, &coreless, &ci->smt_rank, hw);
		ci->package = pkg ? (int)pkg->logical_index : 0;
		ci->numa_node = pu_numa(hw, pu);
		ci->allowed = hwloc_bitmap_isset(t->allowed, pu->os_index);
	}
	t->ncores = hw_ncores + coreless;
	n = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_PACKAGE);
	t->npackages = n > 0 ? (unsigned)n : 1;
	n = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_NUMANODE);
	t->nnuma = n > 0 ? (unsigned)n : 1;
	return 0;
}

/* Cache types in the order they are listed: by level, data before code. */
static const hwloc_obj_type_t cache_types[] = {
	HWLOC_OBJ_L1CACHE,  HWLOC_OBJ_L1ICACHE, HWLOC_OBJ_L2CACHE,
	HWLOC_OBJ_L2ICACHE, HWLOC_OBJ_L3CACHE,	HWLOC_OBJ_L3ICACHE,
	HWLOC_OBJ_L4CACHE,  HWLOC_OBJ_L5CACHE,
};
#define NCACHE_TYPES (sizeof(cache_types) / sizeof(cache_types[0]))

static char cache_letter(hwloc_obj_cache_type_t type)
{
	switch (type) {
	case HWLOC_OBJ_CACHE_DATA:
		return 'd';
	case HWLOC_OBJ_CACHE_INSTRUCTION:
		return 'i';
	default:
		return 'u';
	}
}

static int read_caches(struct pn_topology *t)
{
	hwloc_topology_t hw = t->hw;
	unsigned n = 0;
	hwloc_obj_t obj;

	for (size_t k = 0; k < NCACHE_TYPES; k++) {
		int nb = hwloc_get_nbobjs_by_type(hw, cache_types[k]);

		n += nb > 0 ? (unsigned)nb : 0;
	}
	if (!n)
		return 0;
	t->cache = calloc(n, sizeof(*t->cache));
	if (!t->cache)
		return pn__error(-ENOMEM, "topology: out of memory");
	for (size_t k = 0; k < NCACHE_TYPES; k++) {
		for (obj = NULL; (obj = hwloc_get_next_obj_by_type(
					  hw, cache_types[k], obj));) {
			struct pn_cache_info *c = &t->cache[t->ncaches++];

			c->level = (int)obj->attr->cache.depth;
			c->type = cache_letter(obj->attr->cache.type);
			c->size = (unsigned long)obj->attr->cache.size;
			pn__cpuset_format(obj->cpuset, c->cpus,
					  sizeof(c->cpus));
		}
	}
	return 0;
}

/*
 * The allowed set. A synthetic machine allows every PU. This machine allows
 * hwloc's allowed cpuset (the cgroup cpuset) intersected with the calling
 * thread's affinity: with the THREAD flag, hwloc_get_cpubind() is
 * sched_getaffinity(0) on Linux, sized for any number of cpus.
 */
static int read_allowed(struct pn_topology *t)
{
	hwloc_bitmap_t mask;
	int err = 0;

	if (t->synthetic)
		return hwloc_bitmap_copy(
			       t->allowed,
			       hwloc_topology_get_topology_cpuset(t->hw))
			       ? pn__error(-ENOMEM, "topology: out of memory")
			       : 0;
	mask = hwloc_bitmap_alloc();
	if (!mask)
		return pn__error(-ENOMEM, "topology: out of memory");
	if (hwloc_get_cpubind(t->hw, mask, HWLOC_CPUBIND_THREAD))
		err = pn__error(-EIO, "sched_getaffinity: %s",
				pn__strerror(errno));
	else if (hwloc_bitmap_and(t->allowed,
				  hwloc_topology_get_allowed_cpuset(t->hw),
				  mask))
		err = pn__error(-ENOMEM, "topology: out of memory");
	hwloc_bitmap_free(mask);
	return err;
}

/*
 * Load with @desc (synthetic) or this machine, then flatten. Disallowed
 * cpus are kept in the tree (INCLUDE_DISALLOWED) because the counts and
 * the table describe the whole machine; the plan consults t->allowed.
 */
static int topology_load(const char *desc, struct pn_topology **out)
{
	struct pn_topology *t = calloc(1, sizeof(*t));
	int err;

	if (!t)
		return pn__error(-ENOMEM, "topology: out of memory");
	t->synthetic = desc != NULL;
	t->allowed = hwloc_bitmap_alloc();
	if (!t->allowed || hwloc_topology_init(&t->hw)) {
		t->hw = NULL;
		err = pn__error(-ENOMEM, "topology: out of memory");
		goto fail;
	}
	if (desc && hwloc_topology_set_synthetic(t->hw, desc)) {
		err = pn__error(
			-EINVAL,
			"synthetic topology \"%.64s\": hwloc rejects it "
			"(expected e.g. \"pack:2 core:8 pu:2\")",
			desc);
		goto fail;
	}
	hwloc_topology_set_flags(t->hw, HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED);
	/* hwloc 2 drops instruction caches by default; the table lists them. */
	hwloc_topology_set_icache_types_filter(t->hw,
					       HWLOC_TYPE_FILTER_KEEP_ALL);
	if (hwloc_topology_load(t->hw)) {
		err = pn__error(-EIO, "hwloc_topology_load: %s",
				pn__strerror(errno));
		goto fail;
	}
	err = read_allowed(t);
	if (!err)
		err = read_pus(t);
	if (!err)
		err = read_caches(t);
	if (err)
		goto fail;
	*out = t;
	return 0;
fail:
	pn_topology_destroy(t);
	return err;
}

int pn_topology_load(struct pn_topology **out)
{
	return topology_load(NULL, out);
}

int pn_topology_load_synthetic(const char *desc, struct pn_topology **out)
{
	if (!desc || !*desc)
		return pn__error(-EINVAL,
				 "synthetic topology: empty description");
	return topology_load(desc, out);
}

void pn_topology_destroy(struct pn_topology *t)
{
	if (!t)
		return;
	if (t->hw)
		hwloc_topology_destroy(t->hw);
	hwloc_bitmap_free(t->allowed);
	free(t->pu);
	free(t->cache);
	free(t);
}

/* Set t->allowed to @set and bring the flat copy in step. */
static void set_allowed(struct pn_topology *t, hwloc_const_bitmap_t set)
{
	hwloc_bitmap_copy(t->allowed, set); /* same size: cannot fail */
	for (unsigned i = 0; i < t->npus; i++)
		t->pu[i].allowed =
			hwloc_bitmap_isset(set, (unsigned)t->pu[i].cpu);
}

int pn_topology_restrict(struct pn_topology *t, const char *cpulist)
{
	hwloc_bitmap_t set = hwloc_bitmap_alloc();
	char why[96], now[128];
	int err;

	if (!set)
		return pn__error(-ENOMEM, "topology: out of memory");
	err = pn__cpulist_to_cpuset(cpulist, set, why, sizeof(why));
	if (err == -ENOMEM) {
		err = pn__error(err, "topology: out of memory");
		goto out;
	}
	if (err < 0) {
		err = pn__error(err, "restrict to \"%.64s\": %s",
				cpulist ? cpulist : "(null)", why);
		goto out;
	}
	if (hwloc_bitmap_and(set, set, t->allowed)) {
		err = pn__error(-ENOMEM, "topology: out of memory");
		goto out;
	}
	if (hwloc_bitmap_iszero(set)) {
		pn__cpuset_format(t->allowed, now, sizeof(now));
		err = pn__error(-EINVAL,
				"restrict to \"%.64s\": no allowed cpu in it "
				"(allowed: %s)",
				cpulist, now);
		goto out;
	}
	set_allowed(t, set);
	err = 0;
out:
	hwloc_bitmap_free(set);
	return err;
}

unsigned pn_topology_npackages(const struct pn_topology *t)
{
	return t->npackages;
}

unsigned pn_topology_nnuma(const struct pn_topology *t)
{
	return t->nnuma;
}

unsigned pn_topology_ncores(const struct pn_topology *t)
{
	return t->ncores;
}

unsigned pn_topology_npus(const struct pn_topology *t)
{
	return t->npus;
}

int pn_topology_pu(const struct pn_topology *t, unsigned i,
		   struct pn_cpu_info *out)
{
	if (i >= t->npus)
		return pn__error(-ERANGE, "pu %u: the topology has %u", i,
				 t->npus);
	*out = t->pu[i];
	return 0;
}

const struct pn_cpu_info *pn__topology_find(const struct pn_topology *t,
					    int cpu)
{
	hwloc_obj_t pu;

	if (cpu < 0)
		return NULL;
	pu = hwloc_get_pu_obj_by_os_index(t->hw, (unsigned)cpu);
	return pu ? &t->pu[pu->logical_index] : NULL;
}

int pn_topology_cpu(const struct pn_topology *t, int cpu,
		    struct pn_cpu_info *out)
{
	const struct pn_cpu_info *ci = pn__topology_find(t, cpu);

	if (!ci)
		return pn__error(-ENOENT, "cpu %d: no such cpu", cpu);
	*out = *ci;
	return 0;
}

int pn_topology_cache(const struct pn_topology *t, unsigned i,
		      struct pn_cache_info *out)
{
	if (i >= t->ncaches)
		return pn__error(-ERANGE, "cache %u: the topology has %u", i,
				 t->ncaches);
	*out = t->cache[i];
	return 0;
}
