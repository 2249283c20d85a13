/* SPDX-License-Identifier: MIT */
/*
 * topology/'s internal header: the layout of struct pn_topology and the
 * pn__ helpers its files share. Only topology/ and its tests include it; no
 * other module may (scripts/check-deps.sh).
 */
#ifndef PN_TOPOLOGY_INT_H
#define PN_TOPOLOGY_INT_H

#include "pn_topology.h"

#include <hwloc.h>
#include <stddef.h>
#include <string.h>

/*
 * Highest OS cpu number (exclusive) a cpu list or a setting may name. Linux
 * caps NR_CPUS at 8192; the margin costs nothing, and the cap keeps a typo
 * like "0-4000000000" from making hwloc allocate a gigabyte-sized bitmap.
 */
#define PN__CPU_LIMIT 65536u

/*
 * Everything is read from hwloc once, at load, into flat arrays: queries are
 * then plain array reads on a const object, safe from any thread, and the
 * plan never walks hwloc's tree. Only pn_topology_restrict() writes after
 * load (allowed and pu[].allowed), before the object is shared.
 */
struct pn_topology {
	hwloc_topology_t hw; /* owned; every object below was read from it */
	hwloc_bitmap_t
		allowed;    /* PUs the plan may use (see pn_topology_load) */
	bool synthetic;	    /* not this machine: pinning is refused */
	unsigned npackages; /* at least 1, even where hwloc has none */
	unsigned nnuma;	    /* at least 1 */
	unsigned ncores;    /* physical cores, counting a coreless PU as one */
	unsigned npus;
	unsigned ncaches;
	struct pn_cpu_info *pu;	     /* npus entries, hwloc logical order */
	struct pn_cache_info *cache; /* ncaches entries, by level then type */
};

/*
 * strerror() without its shared buffer (glibc marks strerror MT-unsafe),
 * since any thread may be failing at once.
 */
static inline const char *pn__strerror(int err)
{
	const char *s = strerrordesc_np(err);

	return s ? s : "unknown error";
}

/* The pn_cpu_info of OS cpu @cpu, or NULL if @t has no such PU. */
const struct pn_cpu_info *pn__topology_find(const struct pn_topology *t,
					    int cpu);

/* Write @set as a cpu list ("0-3,8") into @buf, truncated with "...". */
void pn__cpuset_format(hwloc_const_bitmap_t set, char *buf, size_t len);

/*
 * Check the syntax of a cpu list (numbers below PN__CPU_LIMIT). Returns 0,
 * or -EINVAL with a short reason in @why ("range 5-3 is reversed") for the
 * caller to put after the name of its setting. Does not touch
 * pn_last_error().
 */
int pn__cpulist_check(const char *list, char *why, size_t whylen);

/*
 * Parse a cpu list into @set (cleared first). Returns the number of CPUs,
 * or -EINVAL with @why as pn__cpulist_check(); @set is unchanged then.
 */
int pn__cpulist_to_cpuset(const char *list, hwloc_bitmap_t set, char *why,
			  size_t whylen);

#endif /* PN_TOPOLOGY_INT_H */
