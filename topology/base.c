// SPDX-License-Identifier: MIT
/*
 * The shared base: the per-thread error detail, panic, and the clock.
 */
#include "pn_base.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static _Thread_local char last_error[256];

const char *pn_last_error(void)
{
	return last_error;
}

int pn__error(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return err;
}

void pn_panic_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pinion: panic: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " at %s:%d\n", file, line);
	abort();
}

uint64_t pn_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int pn_parse_u64(const char *text, uint64_t lo, uint64_t hi, uint64_t *out,
		 const char **why)
{
	const char *dummy;
	uint64_t v = 0;
	bool big = false;

	if (!why)
		why = &dummy;
	if (!text || !*text) {
		*why = "not a number";
		return -EINVAL;
	}
	for (const char *p = text; *p; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (d > 9) {
			*why = "not a number";
			return -EINVAL;
		}
		/* Keep scanning after an overflow: "99999999999999999999x"
		 * is not a number, not merely too large. */
		if (v > (UINT64_MAX - d) / 10)
			big = true;
		else
			v = v * 10 + d;
	}
	if (big || v < lo || v > hi) {
		*why = "out of range";
		return -ERANGE;
	}
	*out = v;
	return 0;
}
