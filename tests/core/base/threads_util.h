/* SPDX-License-Identifier: MIT */
/*
 * What the two-thread tests of tests/core/base/ share: a monotonic clock
 * for stall checks, a seed (PN_SEED, else the clock; printed by the test so
 * a failure can be replayed), xorshift64, and PN_STRESS_SCALE applied to a
 * count with a floor.
 */
#ifndef PN_TEST_THREADS_UTIL_H
#define PN_TEST_THREADS_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t tu_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t tu_rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static inline uint64_t tu_seed(void)
{
	const char *env = getenv("PN_SEED");

	if (env && *env)
		return strtoull(env, NULL, 0);
	return tu_mono_ns() | 1;
}

/* @n times PN_STRESS_SCALE (the sanitizer runs shrink it), at least @min. */
static inline uint64_t tu_scaled(uint64_t n, uint64_t min)
{
	const char *env = getenv("PN_STRESS_SCALE");
	double s = env && *env ? strtod(env, NULL) : 1.0;

	if (!(s > 0))
		s = 1.0;
	n = (uint64_t)((double)n * s);
	return n < min ? min : n;
}

#endif
