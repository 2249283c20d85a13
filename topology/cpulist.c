// SPDX-License-Identifier: MIT
/*
 * Cpu lists ("0-3,8"), the syntax of taskset -c, /sys/devices/system/cpu and
 * PINION_CORES: one strict parser that walks a list range by range, and the
 * three ways topology/ consumes it (syntax check, a caller's uint64_t
 * bitmap, an hwloc cpuset), plus the inverse, formatting a cpuset. The
 * parser is ours rather than hwloc_bitmap_list_sscanf() because that one
 * accepts open ranges ("3-") and stray text, and says nothing about what
 * was wrong; a setting that is rejected must say why.
 */
#include "topology_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

typedef int cpurange_fn(void *arg, unsigned lo, unsigned hi);

/*
 * Read a decimal number at *@p below @limit into *@out. Digits only: no
 * sign, no spaces, no hex, so that "+3", " 3" and "0x3" are reported rather
 * than guessed at.
 */
static int parse_cpu(const char **p, unsigned limit, unsigned *out, char *why,
		     size_t whylen)
{
	const char *s = *p;
	unsigned long v = 0;

	if (*s < '0' || *s > '9') {
		if (*s)
			snprintf(why, whylen,
				 "expected a cpu number at \"%.12s\"", s);
		else
			snprintf(why, whylen,
				 "expected a cpu number at the end");
		return -EINVAL;
	}
	/* Saturate rather than wrap: past @limit the exact value is moot. */
	for (; *s >= '0' && *s <= '9'; s++)
		if (v <= limit)
			v = v * 10 + (unsigned long)(*s - '0');
	if (v >= limit) {
		snprintf(why, whylen, "cpu %.*s is out of range (limit %u)",
			 (int)(s - *p > 12 ? 12 : s - *p), *p, limit);
		return -EINVAL;
	}
	*out = (unsigned)v;
	*p = s;
	return 0;
}

/* Walk @list, calling @fn (if not NULL) once per range, in list order. */
static int cpulist_walk(const char *list, unsigned limit, cpurange_fn *fn,
			void *arg, char *why, size_t whylen)
{
	const char *p = list;
	unsigned lo, hi;
	int err;

	if (!list || !*list) {
		snprintf(why, whylen, "empty cpu list");
		return -EINVAL;
	}
	for (;;) {
		err = parse_cpu(&p, limit, &lo, why, whylen);
		if (err)
			return err;
		hi = lo;
		if (*p == '-') {
			p++;
			err = parse_cpu(&p, limit, &hi, why, whylen);
			if (err)
				return err;
			if (hi < lo) {
				snprintf(why, whylen, "range %u-%u is reversed",
					 lo, hi);
				return -EINVAL;
			}
		}
		if (fn) {
			err = fn(arg, lo, hi);
			if (err)
				return err;
		}
		if (!*p)
			return 0;
		if (*p != ',') {
			snprintf(why, whylen, "unexpected \"%c\" after cpu %u",
				 *p, hi);
			return -EINVAL;
		}
		p++;
	}
}

int pn__cpulist_check(const char *list, char *why, size_t whylen)
{
	return cpulist_walk(list, PN__CPU_LIMIT, NULL, NULL, why, whylen);
}

static int set_words(void *arg, unsigned lo, unsigned hi)
{
	uint64_t *bits = arg;

	for (unsigned i = lo; i <= hi; i++)
		bits[i / 64] |= UINT64_C(1) << (i % 64);
	return 0;
}

int pn_cpulist_parse(const char *list, uint64_t *bits, unsigned nbits)
{
	size_t nwords = ((size_t)nbits + 63) / 64;
	char why[96];
	int n = 0;

	if (!bits)
		return pn__error(-EINVAL, "cpu list: no bitmap given");
	/* The count is returned as an int: past INT_MAX bits it could
	 * overflow (signed: undefined), so such a bitmap is refused. */
	if (nbits > INT_MAX)
		return pn__error(-EINVAL,
				 "cpu list: a bitmap of %u bits (at most %d)",
				 nbits, INT_MAX);
	/* Validate first so that a bad list leaves @bits untouched. */
	if (cpulist_walk(list, nbits, NULL, NULL, why, sizeof(why)))
		return pn__error(-EINVAL, "cpu list \"%.64s\": %s",
				 list ? list : "(null)", why);
	memset(bits, 0, nwords * sizeof(*bits));
	cpulist_walk(list, nbits, set_words, bits, why, sizeof(why));
	for (size_t i = 0; i < nwords; i++)
		n += __builtin_popcountll(bits[i]);
	return n;
}

static int set_cpuset(void *arg, unsigned lo, unsigned hi)
{
	return hwloc_bitmap_set_range(arg, lo, (int)hi) ? -ENOMEM : 0;
}

int pn__cpulist_to_cpuset(const char *list, hwloc_bitmap_t set, char *why,
			  size_t whylen)
{
	hwloc_bitmap_t tmp;
	int err;

	err = pn__cpulist_check(list, why, whylen);
	if (err)
		return err;
	tmp = hwloc_bitmap_alloc();
	if (!tmp)
		return -ENOMEM;
	err = cpulist_walk(list, PN__CPU_LIMIT, set_cpuset, tmp, why, whylen);
	if (!err && hwloc_bitmap_copy(set, tmp))
		err = -ENOMEM;
	if (!err)
		err = hwloc_bitmap_weight(set);
	hwloc_bitmap_free(tmp);
	return err;
}

void pn__cpuset_format(hwloc_const_bitmap_t set, char *buf, size_t len)
{
	int n = hwloc_bitmap_list_snprintf(buf, len, set);

	/* A cut-off list would silently name the wrong cpus: mark the cut. */
	if (n >= 0 && (size_t)n >= len && len > 4)
		memcpy(buf + len - 4, "...", 4);
}
