// SPDX-License-Identifier: MIT
/*
 * Log-linear bucket arithmetic (the manner of HdrHistogram): values below
 * 2^S are their own bucket, larger ones fall in 2^S sub-buckets per power
 * of two. Shared by the shards' compact histograms (sched/meter.c) and
 * the public struct pn_hist (obs/hist.c).
 */
#include "base_int.h"

unsigned pn__hist_index(uint64_t v, unsigned sub)
{
	unsigned msb;

	if (v < (1ull << sub))
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	/* The S bits below the leading one pick the sub-bucket. */
	return (1u << sub) + (msb - sub) * (1u << sub) +
	       (unsigned)((v >> (msb - sub)) & ((1u << sub) - 1));
}

uint64_t pn__hist_low(unsigned i, unsigned sub, uint64_t *width)
{
	unsigned msb, k, n = 1u << sub;

	if (i < n) {
		*width = 1;
		return i;
	}
	msb = (i - n) / n + sub;
	k = (i - n) % n;
	*width = 1ull << (msb - sub);
	return ((uint64_t)n + k) << (msb - sub);
}
