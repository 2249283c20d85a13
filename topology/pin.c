// SPDX-License-Identifier: MIT
/*
 * Pinning: moving the calling thread onto one cpu and binding its future
 * memory to that cpu's NUMA node, all or nothing. A shard calls this once,
 * first thing, so that its arena and ring memory are first touched on the
 * right node.
 */
#include "topology_int.h"

#include <errno.h>
#include <string.h>

/*
 * Bind the calling thread's future allocations to NUMA node @node. A kernel
 * without NUMA support answers ENOSYS, and a machine with one node has
 * nothing to choose between (a container without CAP_SYS_NICE even gets
 * EPERM from set_mempolicy there): neither is worth failing a pin for. On a
 * real multi-node machine any other failure is, since the shard would
 * silently allocate remotely.
 */
static int bind_memory(const struct pn_topology *t, int cpu, int node)
{
	hwloc_obj_t obj =
		hwloc_get_numanode_obj_by_os_index(t->hw, (unsigned)node);
	int err;

	if (!obj)
		return 0; /* no NUMA object at all: nothing to bind to */
	if (!hwloc_set_membind(t->hw, obj->nodeset, HWLOC_MEMBIND_BIND,
			       HWLOC_MEMBIND_THREAD | HWLOC_MEMBIND_BYNODESET))
		return 0;
	err = errno;
	if (err == ENOSYS || err == EXDEV || t->nnuma <= 1)
		return 0;
	return pn__error(-err,
			 "pin to cpu %d: binding memory to NUMA node %d: %s",
			 cpu, node, pn__strerror(err));
}

static int check_cpu(const struct pn_topology *t, int cpu,
		     const struct pn_cpu_info *ci)
{
	char allowed[128];

	if (!ci)
		return pn__error(-ENOENT, "pin to cpu %d: no such cpu", cpu);
	/* hwloc would accept it and bind nothing: a synthetic machine's cpus
	 * are not this machine's, so refuse rather than pretend. */
	if (t->synthetic)
		return pn__error(-EINVAL,
				 "pin to cpu %d: the topology is synthetic, "
				 "not this machine",
				 cpu);
	if (!ci->allowed) {
		pn__cpuset_format(t->allowed, allowed, sizeof(allowed));
		return pn__error(-EINVAL,
				 "pin to cpu %d: not in the allowed set (%s)",
				 cpu, allowed);
	}
	return 0;
}

int pn_thread_pin(const struct pn_topology *t, int cpu)
{
	const struct pn_cpu_info *ci = pn__topology_find(t, cpu);
	hwloc_bitmap_t before;
	hwloc_obj_t pu;
	int err;

	err = check_cpu(t, cpu, ci);
	if (err)
		return err;
	pu = hwloc_get_pu_obj_by_os_index(t->hw, (unsigned)cpu);
	before = hwloc_bitmap_alloc();
	if (!before)
		return pn__error(-ENOMEM, "pin to cpu %d: out of memory", cpu);
	/* Remember the old mask so a failed memory bind can undo the move. */
	if (hwloc_get_cpubind(t->hw, before, HWLOC_CPUBIND_THREAD)) {
		err = errno;
		err = pn__error(-err, "pin to cpu %d: reading affinity: %s",
				cpu, pn__strerror(err));
		goto out;
	}
	if (hwloc_set_cpubind(t->hw, pu->cpuset, HWLOC_CPUBIND_THREAD)) {
		err = errno;
		err = pn__error(-err, "pin to cpu %d: %s", cpu,
				pn__strerror(err));
		goto out;
	}
	err = bind_memory(t, cpu, ci->numa_node);
	if (err)
		hwloc_set_cpubind(t->hw, before, HWLOC_CPUBIND_THREAD);
out:
	hwloc_bitmap_free(before);
	return err;
}
