/* SPDX-License-Identifier: MIT */
/*
 * pinion-top's view of one metrics body, the two parsers that fill it
 * (io/top_json.c, io/top_parse.c: the Prometheus text and what both
 * share) and the screen drawn from it (io/top_draw.c). The
 * parsers are pure: bytes and a length in (no terminating NUL needed, no
 * byte past the length read), a filled view out, no I/O and no state kept
 * between calls, so the fuzz harnesses in tests/fuzz/ drive them as
 * pinion-top does.
 *
 * Every index a body names is checked before use: a shard must be an
 * integer in [0, PN_TOP_MAX_SHARDS), and an entry naming another one is
 * ignored and counted in ignored_shard. Values must be finite and within
 * +-PN_TOP_VALUE_MAX (counters are uint64, times seconds or ns); others are
 * ignored and counted in ignored_value. Names longer than their field are
 * cut (counted in truncated) and every byte outside printable ASCII is
 * shown as '?', so a body cannot move the terminal's cursor.
 */
#ifndef PN_IO_TOP_PARSE_H
#define PN_IO_TOP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define PN_TOP_MAX_SHARDS 256
#define PN_TOP_MAX_ACTORS 64
#define PN_TOP_PID_LEN	  24 /* "0x" and 16 hex digits fit with room */
#define PN_TOP_BEH_LEN	  32
#define PN_TOP_VALUE_MAX  1e20 /* above UINT64_MAX, far below overflow */

/* One shard's cumulative counters, as the body gave them. */
struct pn_top_shard {
	double local, cross, ext;  /* messages handled, by origin */
	double busy, spin, parked; /* seconds */
	double hwm;		   /* highest inbound ring backlog */
	double parks;
	bool seen; /* some entry named this shard */
};

struct pn_top_actor {
	char pid[PN_TOP_PID_LEN]; /* NUL-terminated, printable */
	char beh[PN_TOP_BEH_LEN]; /* NUL-terminated, printable */
	unsigned shard;		  /* < PN_TOP_MAX_SHARDS */
	double msgs, handler_s;	  /* cumulative */
};

struct pn_top_view {
	unsigned nshards; /* 1 + the highest shard seen, <= MAX_SHARDS */
	unsigned nactors; /* <= PN_TOP_MAX_ACTORS */
	/* What the parser left out; the screen says so in one line. */
	unsigned ignored_shard;	 /* naming a shard out of range */
	unsigned ignored_value;	 /* NaN, inf, too large, not a number */
	unsigned ignored_actors; /* beyond PN_TOP_MAX_ACTORS actors */
	unsigned ignored_lines;	 /* unreadable lines, actors without pid */
	unsigned truncated;	 /* names cut to fit their field */
	struct pn_top_shard sh[PN_TOP_MAX_SHARDS];
	struct pn_top_actor a[PN_TOP_MAX_ACTORS];
};

/*
 * Fill @v (cleared first) from the @len bytes at @buf: pn_metrics_json()
 * output, or the Prometheus text of pn_metrics_prom() (pn__top_parse
 * picks by the first non-blank byte: '{' is JSON).
 *
 * Returns 0, or -EINVAL if a JSON body is not well-formed JSON (nesting
 * deeper than 32 counts as malformed); then @v holds what was read before
 * the error and *@err_off (if not NULL) is the offending byte's offset.
 * Prometheus text never fails: a line that does not parse is counted.
 */
int pn__top_parse(struct pn_top_view *v, const void *buf, size_t len,
		  size_t *err_off);
int pn__top_parse_json(struct pn_top_view *v, const void *buf, size_t len,
		       size_t *err_off);
void pn__top_parse_prom(struct pn_top_view *v, const void *buf, size_t len);

/*
 * Draw one screen of @v to @f: the header naming @src (any string; bytes
 * outside printable ASCII shown as '?') and @clock (the wall time to
 * show), the shard table, the top actors by messages and by handler time,
 * and a line saying what the parser ignored. With @pv (the previous view)
 * the numbers are rates over @dt seconds (a @dt that is not a positive
 * finite number counts as 1); without it, totals. Every number is
 * printed within its column (large ones in exponent form, non-finite as
 * "-"), and only rows below v->nshards and v->nactors are read.
 */
void pn__top_draw(FILE *f, const char *src, const char *clock,
		  const struct pn_top_view *v, const struct pn_top_view *pv,
		  double dt);

/* --- shared by the parsers (io/top_parse.c) ------------------------------ */

/* Where a name goes: @out (NULL: discarded) of @size bytes. */
struct pn_top_sink {
	char *out;
	size_t size, n; /* n: bytes in out, before its NUL */
	bool cut;	/* a byte did not fit */
};

/* An empty sink over @out (NUL-terminated at once). */
struct pn_top_sink pn__top_sink(char *out, size_t size);
/* Append @c, as '?' unless printable ASCII; past the end, mark it cut. */
void pn__top_sink_put(struct pn_top_sink *s, unsigned c);
/* A name that was cut is still used, and counted in v->truncated. */
void pn__top_sink_done(struct pn_top_view *v, const struct pn_top_sink *s);

/* @x as a shard index, or -1 unless an integer in [0, MAX_SHARDS). */
int pn__top_shard_index(double x);
/* Whether @x may be stored (finite, within VALUE_MAX); counts it if not. */
bool pn__top_value_ok(struct pn_top_view *v, double x);
/* The @len bytes at @s as a number, if all of them are one (strtod). */
bool pn__top_number(const unsigned char *s, size_t len, double *x);
/* Shard @i (checked by the caller) marked seen; nshards covers it. */
struct pn_top_shard *pn__top_shard_at(struct pn_top_view *v, int i);
/* The actor named @pid, added (zeroed, with that pid) if new; NULL, and
 * counted in ignored_actors, when the view is full. */
struct pn_top_actor *pn__top_actor_at(struct pn_top_view *v, const char *pid);

#endif /* PN_IO_TOP_PARSE_H */
