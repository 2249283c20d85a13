// SPDX-License-Identifier: MIT
/*
 * The reference cpu-list parser of ref_cpulist.h.
 */
#include "ref_cpulist.h"

#include <stddef.h>
#include <string.h>

/* The @n characters at @s as a number below @limit. */
static bool ref_number(const char *s, size_t n, unsigned limit, unsigned *out)
{
	uint64_t v = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		/* Past 2^40 the value is out of any limit: stop growing. */
		if (v < (UINT64_C(1) << 40))
			v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v >= limit)
		return false;
	*out = (unsigned)v;
	return true;
}

bool ref_cpulist(const char *list, unsigned limit, uint64_t *bits)
{
	const char *item = list;

	if (!list || !*list)
		return false;
	for (;;) {
		const char *end = strchr(item, ',');
		const char *dash;
		unsigned lo, hi;

		if (!end)
			end = item + strlen(item);
		dash = memchr(item, '-', (size_t)(end - item));
		if (dash) {
			if (!ref_number(item, (size_t)(dash - item), limit,
					&lo) ||
			    !ref_number(dash + 1, (size_t)(end - dash - 1),
					limit, &hi) ||
			    hi < lo)
				return false;
		} else {
			if (!ref_number(item, (size_t)(end - item), limit, &lo))
				return false;
			hi = lo;
		}
		for (uint64_t c = lo; bits && c <= hi; c++)
			bits[c / 64] |= UINT64_C(1) << (c % 64);
		if (!*end)
			return true;
		item = end + 1;
	}
}

unsigned ref_popcount(const uint64_t *bits, unsigned nwords)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nwords; i++)
		for (uint64_t w = bits[i]; w; w &= w - 1)
			n++;
	return n;
}
