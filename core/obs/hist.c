// SPDX-License-Identifier: MIT
/*
 * Log-linear histograms in the manner of HdrHistogram (struct pn_hist):
 * values below 2^S are kept exactly, larger ones in 2^S sub-buckets per
 * power of two, so a bucket is at most 1/2^S of its value wide (relative
 * error below 2^-S), memory is fixed at creation (2^S * (65 - S)
 * counters), recording is a few instructions and never allocates, and two
 * histograms of the same S merge by adding counters. One writer at a time;
 * nothing here is atomic (the runtime's shared histograms are compact
 * atomic ones in sched/meter.c, converted into these for snapshots).
 * The bucket arithmetic is base's (base/buckets.c).
 *
 * The benchmarks use S = 7 (< 0.8% error, 58 KiB); metrics snapshots use
 * S = 2 (25%), which is what the shards can afford to keep per actor.
 */
#include "obs_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pn_hist {
	unsigned sub;	   /* S */
	unsigned nbuckets; /* 2^S * (65 - S) */
	uint64_t total, min, max, sum;
	uint64_t count[];
};

int pn_hist_create(unsigned sub_bits, struct pn_hist **out)
{
	unsigned nb;
	struct pn_hist *h;

	if (sub_bits < 1 || sub_bits > 12)
		return pn__error(-EINVAL, "histogram: sub_bits=%u (1 to 12)",
				 sub_bits);
	nb = (1u << sub_bits) * (65 - sub_bits);
	h = calloc(1, sizeof(*h) + nb * sizeof(h->count[0]));
	if (!h)
		return pn__error(-ENOMEM, "no memory for a histogram");
	h->sub = sub_bits;
	h->nbuckets = nb;
	h->min = UINT64_MAX;
	*out = h;
	return 0;
}

void pn_hist_destroy(struct pn_hist *h)
{
	free(h);
}

void pn_hist_reset(struct pn_hist *h)
{
	memset(h->count, 0, h->nbuckets * sizeof(h->count[0]));
	h->total = h->max = h->sum = 0;
	h->min = UINT64_MAX;
}

void pn_hist_record_n(struct pn_hist *h, uint64_t v, uint64_t n)
{
	h->count[pn__hist_index(v, h->sub)] += n;
	h->total += n;
	h->sum += v * n;
	if (v > h->max)
		h->max = v;
	if (v < h->min)
		h->min = v;
}

void pn_hist_record(struct pn_hist *h, uint64_t v)
{
	pn_hist_record_n(h, v, 1);
}

int pn_hist_merge(struct pn_hist *dst, const struct pn_hist *src)
{
	if (dst->sub != src->sub)
		return pn__error(-EINVAL,
				 "histogram merge: sub_bits %u "
				 "and %u differ",
				 dst->sub, src->sub);
	for (unsigned i = 0; i < dst->nbuckets; i++)
		dst->count[i] += src->count[i];
	dst->total += src->total;
	dst->sum += src->sum;
	if (src->max > dst->max)
		dst->max = src->max;
	if (src->min < dst->min)
		dst->min = src->min;
	return 0;
}

/* Replace the approximate sum of converted buckets by an exact one. */
void pn__hist_set_sum(struct pn_hist *h, uint64_t sum)
{
	h->sum = sum;
}

uint64_t pn_hist_count(const struct pn_hist *h)
{
	return h->total;
}

uint64_t pn_hist_max(const struct pn_hist *h)
{
	return h->max;
}

uint64_t pn_hist_min(const struct pn_hist *h)
{
	return h->total ? h->min : 0;
}

uint64_t pn_hist_sum(const struct pn_hist *h)
{
	return h->sum;
}

/*
 * The smallest recorded value v such that at least @p percent of the
 * values are <= v, reported as the highest value its bucket holds (so a
 * percentile is never under-reported), clamped to the exact min and max.
 */
uint64_t pn__hist_rank(const uint64_t *count, unsigned n, unsigned sub,
		       uint64_t total, double p)
{
	uint64_t want = (uint64_t)(p / 100.0 * (double)total + 0.999999);
	uint64_t seen = 0, width;

	if (want == 0)
		want = 1;
	for (unsigned i = 0; i < n; i++) {
		seen += count[i];
		if (seen >= want)
			return pn__hist_low(i, sub, &width) + width - 1;
	}
	return UINT64_MAX; /* p > 100: past the last bucket */
}

uint64_t pn_hist_percentile(const struct pn_hist *h, double p)
{
	uint64_t v;

	if (h->total == 0)
		return 0;
	if (p >= 100.0)
		return h->max;
	v = pn__hist_rank(h->count, h->nbuckets, h->sub, h->total, p);
	if (v > h->max)
		v = h->max;
	if (v < h->min)
		v = h->min;
	return v;
}

/* Values below @v; exact when @v is a power of two (a bucket edge). */
uint64_t pn_hist_count_below(const struct pn_hist *h, uint64_t v)
{
	uint64_t n = 0, width;

	for (unsigned i = 0; i < h->nbuckets; i++) {
		if (pn__hist_low(i, h->sub, &width) >= v)
			break;
		n += h->count[i];
	}
	return n;
}

unsigned pn_hist_buckets(const struct pn_hist *h)
{
	return h->nbuckets;
}

uint64_t pn_hist_bucket(const struct pn_hist *h, unsigned i, uint64_t *low,
			uint64_t *width)
{
	if (i >= h->nbuckets) {
		*low = *width = 0;
		return 0;
	}
	*low = pn__hist_low(i, h->sub, width);
	return h->count[i];
}
