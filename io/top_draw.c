// SPDX-License-Identifier: MIT
/*
 * pinion-top's screen (declared in top_parse.h): one view, and the
 * previous one for rates, drawn to a FILE. It reads only rows the view
 * counts (every shard row below nshards, which the parsers keep within
 * the arrays, in both views), and prints every number through num(), so
 * an extreme value (the parsers bound them, but rates divide and subtract
 * them) still fits its column instead of printing hundreds of digits.
 */
#include "top_parse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TOP 8 /* actors in each top list */

/* @x in @width columns with @prec decimals; exponent form when it would
 * not fit, "-" when not finite. Returns @out. */
static const char *num(char *out, size_t size, double x, int width, int prec)
{
	if (!isfinite(x))
		snprintf(out, size, "%*s", width, "-");
	else if (snprintf(out, size, "%*.*f", width, prec, x) > width)
		snprintf(out, size, "%*.*e", width, width > 8 ? 2 : 0, x);
	return out;
}

/* @s with bytes outside printable ASCII as '?', cut to @size - 1. */
static const char *printable(char *out, size_t size, const char *s)
{
	size_t n = 0;

	for (; *s && n + 1 < size; s++)
		out[n++] = *s >= 0x20 && *s < 0x7f ? *s : '?';
	out[n] = 0;
	return out;
}

/* Counter @cur's change since @prev (0 without a previous view). */
static double delta(double cur, const double *prev)
{
	return cur - (prev ? *prev : 0);
}

static void draw_shard(FILE *f, const struct pn_top_view *v,
		       const struct pn_top_view *pv, unsigned i, double dt)
{
	const struct pn_top_shard *s = &v->sh[i], *p = pv ? &pv->sh[i] : NULL;
	double b = delta(s->busy, p ? &p->busy : NULL),
	       sp = delta(s->spin, p ? &p->spin : NULL),
	       pk = delta(s->parked, p ? &p->parked : NULL), t = b + sp + pk;
	double l = delta(s->local, p ? &p->local : NULL) / dt,
	       c = delta(s->cross, p ? &p->cross : NULL) / dt,
	       x = delta(s->ext, p ? &p->ext : NULL) / dt;
	char n[10][24];

	if (!(t > 0))
		t = 1;
	fprintf(f, "%5u%s %s  %s  %s %s %s %s %s %s %s\n", i,
		i + 1 == v->nshards ? "s" : " ",
		num(n[0], sizeof(n[0]), 100 * b / t, 5, 1),
		num(n[1], sizeof(n[1]), 100 * sp / t, 5, 1),
		num(n[2], sizeof(n[2]), 100 * pk / t, 5, 1),
		num(n[3], sizeof(n[3]), l + c + x, 10, 0),
		num(n[4], sizeof(n[4]), l, 10, 0),
		num(n[5], sizeof(n[5]), c, 10, 0),
		num(n[6], sizeof(n[6]), x, 10, 0),
		num(n[7], sizeof(n[7]), s->hwm, 9, 0),
		num(n[8], sizeof(n[8]),
		    delta(s->parks, p ? &p->parks : NULL) / dt, 8, 0));
}

static const struct pn_top_actor *prev_actor(const struct pn_top_view *pv,
					     const char *pid)
{
	for (unsigned i = 0; pv && i < pv->nactors; i++)
		if (strcmp(pv->a[i].pid, pid) == 0)
			return &pv->a[i];
	return NULL;
}

struct rank {
	double rate; /* never NaN: the comparison must be a total order */
	unsigned i;
};

static int cmp_rank(const void *a, const void *b)
{
	double x = ((const struct rank *)a)->rate,
	       y = ((const struct rank *)b)->rate;

	return x < y ? 1 : x > y ? -1 : 0;
}

static void draw_top(FILE *f, const struct pn_top_view *v,
		     const struct pn_top_view *pv, double dt, bool by_time)
{
	struct rank r[PN_TOP_MAX_ACTORS] = {{0}};
	unsigned n =
		v->nactors < PN_TOP_MAX_ACTORS ? v->nactors : PN_TOP_MAX_ACTORS;

	for (unsigned i = 0; i < n; i++) {
		const struct pn_top_actor *a = &v->a[i],
					  *p = prev_actor(pv, a->pid);
		double val =
			by_time ? delta(a->handler_s, p ? &p->handler_s : NULL)
				: delta(a->msgs, p ? &p->msgs : NULL);

		r[i].rate = isnan(val / dt) ? -INFINITY : val / dt;
		r[i].i = i;
	}
	qsort(r, n, sizeof(r[0]), cmp_rank);
	fprintf(f, "\nTOP ACTORS BY %s\n%-20s %5s  %-24s %12s %12s\n",
		by_time ? "HANDLER TIME" : "MESSAGES", "ACTOR", "SHARD",
		"BEHAVIOUR", "MSG/S", "HANDLER%");
	for (unsigned k = 0; k < n && k < TOP; k++) {
		const struct pn_top_actor *a = &v->a[r[k].i],
					  *p = prev_actor(pv, a->pid);
		char pid[PN_TOP_PID_LEN], beh[PN_TOP_BEH_LEN], m[24], h[24];

		fprintf(f, "%-20s %5u  %-24s %s %s%%\n",
			printable(pid, sizeof(pid), a->pid), a->shard,
			printable(beh, sizeof(beh), a->beh),
			num(m, sizeof(m),
			    delta(a->msgs, p ? &p->msgs : NULL) / dt, 12, 0),
			num(h, sizeof(h),
			    100 *
				    delta(a->handler_s,
					  p ? &p->handler_s : NULL) /
				    dt,
			    11, 2));
	}
}

#define STR_(x) #x
#define STR(x)	STR_(x)
_Static_assert(PN_TOP_MAX_SHARDS == 256, "draw_ignored() says 0-255");

/* One line on what the parser left out, naming only what it did. */
static void draw_ignored(FILE *f, const struct pn_top_view *v)
{
	const struct {
		unsigned n;
		const char *what;
	} k[] = {
		{v->ignored_shard, "naming a shard outside 0-255"},
		{v->ignored_value,
		 "not a finite number within " STR(PN_TOP_VALUE_MAX)},
		{v->ignored_actors,
		 "for actors beyond the first " STR(PN_TOP_MAX_ACTORS)},
		{v->ignored_lines, "that do not parse"},
	};
	bool any = false;

	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		if (!k[i].n)
			continue;
		fprintf(f, "%s%u %s %s", any ? "; " : "\nignored: ", k[i].n,
			k[i].n == 1 ? "entry" : "entries", k[i].what);
		any = true;
	}
	if (v->truncated) {
		fprintf(f, "%s%u %s cut to fit", any ? "; " : "\n",
			v->truncated, v->truncated == 1 ? "name" : "names");
		any = true;
	}
	if (any)
		fputc('\n', f);
}

void pn__top_draw(FILE *f, const char *src, const char *clock,
		  const struct pn_top_view *v, const struct pn_top_view *pv,
		  double dt)
{
	unsigned nshards =
		v->nshards < PN_TOP_MAX_SHARDS ? v->nshards : PN_TOP_MAX_SHARDS;
	char s[128], c[32];

	if (!(dt > 0) || !isfinite(dt))
		dt = 1;
	fprintf(f, "\033[H\033[2J");
	fprintf(f, "pinion-top - %s - %u shards (s: supervisor) - %s%s\n\n",
		printable(s, sizeof(s), src), nshards,
		printable(c, sizeof(c), clock),
		pv ? "" : " - totals (rates from the next)");
	fprintf(f, "SHARD  BUSY%%  SPIN%%  PARK%%      MSG/S    LOCAL/S    "
		   "CROSS/S      EXT/S  RING-HWM  PARKS/S\n");
	for (unsigned i = 0; i < nshards; i++)
		draw_shard(f, v, pv, i, dt);
	draw_top(f, v, pv, dt, false);
	draw_top(f, v, pv, dt, true);
	draw_ignored(f, v);
}
