// SPDX-License-Identifier: MIT
/*
 * A log-linear latency histogram in the manner of HdrHistogram: fixed
 * memory (HIST_BUCKETS counters, 58 KiB), values below 2^HIST_EXACT_BITS ns
 * kept exactly, larger ones in 2^HIST_SUB_BITS sub-buckets per power of two,
 * so a bucket is at most 1/128 of its value wide (< 0.8% relative error).
 * Recording is a few instructions and never allocates; histograms of the
 * same layout merge by adding counters. One writer at a time.
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HIST_SUB_BITS	7 /* 128 sub-buckets per power of two */
#define HIST_EXACT_BITS 8 /* values < 256 ns are exact */
#define HIST_EXACT	(1u << HIST_EXACT_BITS)
#define HIST_SUB	(1u << HIST_SUB_BITS)
#define HIST_BUCKETS	(HIST_EXACT + (64 - HIST_EXACT_BITS) * HIST_SUB)

struct bench_hist {
	uint64_t total;
	uint64_t min;
	uint64_t max;
	uint64_t count[HIST_BUCKETS];
};

static unsigned hist_index(uint64_t v)
{
	unsigned msb;

	if (v < HIST_EXACT)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	/* The HIST_SUB_BITS bits below the leading one pick the sub-bucket. */
	return HIST_EXACT + (msb - HIST_EXACT_BITS) * HIST_SUB +
	       (unsigned)((v >> (msb - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

/* The lowest value of bucket @i and its width. */
static uint64_t hist_low(unsigned i, uint64_t *width)
{
	unsigned msb, sub;

	if (i < HIST_EXACT) {
		*width = 1;
		return i;
	}
	msb = (i - HIST_EXACT) / HIST_SUB + HIST_EXACT_BITS;
	sub = (i - HIST_EXACT) % HIST_SUB;
	*width = 1ull << (msb - HIST_SUB_BITS);
	return ((uint64_t)HIST_SUB + sub) << (msb - HIST_SUB_BITS);
}

struct bench_hist *bench_hist_create(void)
{
	struct bench_hist *h = calloc(1, sizeof(*h));

	if (h)
		bench_hist_reset(h);
	return h;
}

void bench_hist_destroy(struct bench_hist *h)
{
	free(h);
}

void bench_hist_reset(struct bench_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void bench_hist_record(struct bench_hist *h, uint64_t v)
{
	h->count[hist_index(v)]++;
	h->total++;
	if (v > h->max)
		h->max = v;
	if (v < h->min)
		h->min = v;
}

void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		dst->count[i] += src->count[i];
	dst->total += src->total;
	if (src->max > dst->max)
		dst->max = src->max;
	if (src->min < dst->min)
		dst->min = src->min;
}

uint64_t bench_hist_count(const struct bench_hist *h)
{
	return h->total;
}

uint64_t bench_hist_max(const struct bench_hist *h)
{
	return h->max;
}

/*
 * The smallest recorded value v such that at least @p percent of the
 * values are <= v, reported as the highest value its bucket holds (so a
 * percentile is never under-reported), clamped to the exact min and max.
 */
uint64_t bench_hist_percentile(const struct bench_hist *h, double p)
{
	uint64_t want, seen = 0, width, v;

	if (h->total == 0)
		return 0;
	if (p >= 100.0)
		return h->max;
	want = (uint64_t)(p / 100.0 * (double)h->total + 0.999999);
	if (want == 0)
		want = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->count[i];
		if (seen < want)
			continue;
		v = hist_low(i, &width) + width - 1;
		if (v > h->max)
			v = h->max;
		if (v < h->min)
			v = h->min;
		return v;
	}
	return h->max;
}

/*
 * Write one line per non-empty bucket: the bucket's midpoint in ns, its
 * count, its share of all values in percent, and the fraction of values
 * at or below it; gnuplot draws the distribution from the first and third
 * columns and the percentile curve from the first and fourth.
 */
int bench_hist_write(const struct bench_hist *h, const char *path)
{
	FILE *f = fopen(path, "w");
	uint64_t seen = 0, width, low;
	int err = 0;

	if (!f)
		return -errno;
	fprintf(f,
		"# value_ns count percent cumulative_fraction (n=%llu "
		"max=%llu)\n",
		(unsigned long long)h->total, (unsigned long long)h->max);
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		if (!h->count[i])
			continue;
		seen += h->count[i];
		low = hist_low(i, &width);
		fprintf(f, "%.1f %llu %.6f %.9f\n",
			(double)low + (double)width / 2,
			(unsigned long long)h->count[i],
			100.0 * (double)h->count[i] / (double)h->total,
			(double)seen / (double)h->total);
	}
	if (ferror(f))
		err = -EIO;
	if (fclose(f) != 0 && !err)
		err = -errno;
	return err;
}
