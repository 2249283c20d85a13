// SPDX-License-Identifier: MIT
/*
 * The benchmarks' latency histogram: core's log-linear struct pn_hist
 * (core/hist.c) with 2^7 sub-buckets per power of two (< 0.8% relative
 * error, 58 KiB), behind the bench_hist names the workloads use, plus the
 * distribution file --hist-out writes. A struct bench_hist is a struct
 * pn_hist; it is never defined, only converted back.
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>

#define HIST_SUB_BITS 7

static struct pn_hist *ph(struct bench_hist *h)
{
	return (struct pn_hist *)h;
}

static const struct pn_hist *cph(const struct bench_hist *h)
{
	return (const struct pn_hist *)h;
}

struct bench_hist *bench_hist_create(void)
{
	struct pn_hist *h;

	return pn_hist_create(HIST_SUB_BITS, &h) < 0 ? NULL
						     : (struct bench_hist *)h;
}

void bench_hist_destroy(struct bench_hist *h)
{
	pn_hist_destroy(ph(h));
}

void bench_hist_reset(struct bench_hist *h)
{
	pn_hist_reset(ph(h));
}

void bench_hist_record(struct bench_hist *h, uint64_t v)
{
	pn_hist_record(ph(h), v);
}

void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src)
{
	pn_hist_merge(ph(dst), cph(src)); /* same layout: cannot fail */
}

uint64_t bench_hist_count(const struct bench_hist *h)
{
	return pn_hist_count(cph(h));
}

uint64_t bench_hist_max(const struct bench_hist *h)
{
	return pn_hist_max(cph(h));
}

uint64_t bench_hist_percentile(const struct bench_hist *h, double p)
{
	return pn_hist_percentile(cph(h), p);
}

/*
 * Write one line per non-empty bucket: the bucket's midpoint in ns, its
 * count, its share of all values in percent, and the fraction of values
 * at or below it; gnuplot draws the distribution from the first and third
 * columns and the percentile curve from the first and fourth.
 */
int bench_hist_write(const struct bench_hist *h, const char *path)
{
	const struct pn_hist *p = cph(h);
	uint64_t seen = 0, width, low, n, total = pn_hist_count(p);
	FILE *f = fopen(path, "w");
	int err = 0;

	if (!f)
		return -errno;
	fprintf(f,
		"# value_ns count percent cumulative_fraction (n=%llu "
		"max=%llu)\n",
		(unsigned long long)total, (unsigned long long)pn_hist_max(p));
	for (unsigned i = 0; i < pn_hist_buckets(p); i++) {
		if (!(n = pn_hist_bucket(p, i, &low, &width)))
			continue;
		seen += n;
		fprintf(f, "%.1f %llu %.6f %.9f\n",
			(double)low + (double)width / 2, (unsigned long long)n,
			100.0 * (double)n / (double)total,
			(double)seen / (double)total);
	}
	if (ferror(f))
		err = -EIO;
	if (fclose(f) != 0 && !err)
		err = -errno;
	return err;
}
