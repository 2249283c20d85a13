// SPDX-License-Identifier: MIT
/*
 * The shared base: the per-thread error detail, panic, and the clock.
 */
#include "pn_base.h"

#include <stdarg.h>
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

void pn__panic(const char *file, int line, const char *fmt, ...)
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
