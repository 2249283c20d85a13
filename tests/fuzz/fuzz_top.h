/* SPDX-License-Identifier: MIT */
/*
 * What the two pinion-top fuzz harnesses share: the checks a parsed view
 * must pass whatever the input (counts within the arrays, names
 * terminated and printable, every stored number finite and bounded), and
 * a run of the screen code over it, whose output must keep to printable
 * ASCII lines of bounded length (the one escape sequence is the clear
 * screen pinion-top writes first). A failed check aborts, which
 * libFuzzer reports as a crash with the input.
 */
#ifndef PN_TESTS_FUZZ_TOP_H
#define PN_TESTS_FUZZ_TOP_H

#include "top_parse.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_LINE_MAX 256 /* the widest line (the ignored summary) */

static inline void fuzz_check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_top: %s\n", what);
		abort();
	}
}

/* Stored values are within PN_TOP_VALUE_MAX; JSON handler times are
 * that times a sample rate (a uint32) over 1e9. */
static inline bool fuzz_num_ok(double x)
{
	return isfinite(x) && fabs(x) <= PN_TOP_VALUE_MAX * 1e10;
}

static inline bool fuzz_name_ok(const char *s, size_t size)
{
	const char *nul = memchr(s, 0, size);

	if (!nul)
		return false;
	for (; s < nul; s++)
		if (*s < 0x20 || *s >= 0x7f)
			return false;
	return true;
}

static inline void fuzz_check_view(const struct pn_top_view *v)
{
	fuzz_check(v->nshards <= PN_TOP_MAX_SHARDS, "nshards");
	fuzz_check(v->nactors <= PN_TOP_MAX_ACTORS, "nactors");
	for (unsigned i = 0; i < PN_TOP_MAX_SHARDS; i++) {
		const struct pn_top_shard *s = &v->sh[i];

		fuzz_check(!s->seen || i < v->nshards, "seen past nshards");
		fuzz_check(fuzz_num_ok(s->local) && fuzz_num_ok(s->cross) &&
				   fuzz_num_ok(s->ext) &&
				   fuzz_num_ok(s->busy) &&
				   fuzz_num_ok(s->spin) &&
				   fuzz_num_ok(s->parked) &&
				   fuzz_num_ok(s->hwm) && fuzz_num_ok(s->parks),
			   "shard value");
	}
	for (unsigned i = 0; i < v->nactors; i++) {
		const struct pn_top_actor *a = &v->a[i];

		fuzz_check(a->shard < PN_TOP_MAX_SHARDS, "actor shard");
		fuzz_check(fuzz_name_ok(a->pid, sizeof(a->pid)), "pid");
		fuzz_check(fuzz_name_ok(a->beh, sizeof(a->beh)), "behaviour");
		fuzz_check(fuzz_num_ok(a->msgs) && fuzz_num_ok(a->handler_s),
			   "actor value");
	}
}

/* Draw @v (with @pv for rates, or totals) and check the text. */
static inline void fuzz_draw(const struct pn_top_view *v,
			     const struct pn_top_view *pv, double dt)
{
	static const char clear[] = "\033[H\033[2J";
	char *buf = NULL;
	size_t len = 0, line = 0;
	FILE *f = open_memstream(&buf, &len);

	fuzz_check(f != NULL, "open_memstream");
	pn__top_draw(f, "fuzz \033[2J", "00:00:00", v, pv, dt);
	fuzz_check(fclose(f) == 0, "fclose");
	fuzz_check(len >= sizeof(clear) - 1 &&
			   memcmp(buf, clear, sizeof(clear) - 1) == 0,
		   "screen starts with a clear");
	for (size_t i = sizeof(clear) - 1; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == '\n') {
			line = 0;
			continue;
		}
		fuzz_check(c >= 0x20 && c < 0x7f, "unprintable byte drawn");
		fuzz_check(++line <= FUZZ_LINE_MAX, "line too long");
	}
	free(buf);
}

/* A copy of @data's first @size bytes in a buffer of exactly that size,
 * so that ASan sees a read past the length the parser was given. */
static inline void *fuzz_prefix(const uint8_t *data, size_t size)
{
	void *p = malloc(size ? size : 1);

	fuzz_check(p != NULL, "malloc");
	if (size)
		memcpy(p, data, size);
	return p;
}

#endif /* PN_TESTS_FUZZ_TOP_H */
