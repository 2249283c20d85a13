// SPDX-License-Identifier: MIT
/*
 * The Prometheus text parser of pinion-top (pn_metrics_prom()'s format;
 * declared in top_parse.h), the checks both parsers share, and the choice
 * between them. The JSON parser is io/top_json.c.
 *
 * Both read only the bytes they are given, through cursors checked
 * against the end, copy every name into a fixed field through one
 * sanitizing sink (cut to fit, printable ASCII only), and store a shard
 * or a value only through pn__top_shard_at() and pn__top_value_ok(), so
 * no body can make them index outside the view or store a number the
 * screen cannot use. The Prometheus reader goes line by line and skips
 * (and counts) a line it cannot read, as a scraper would.
 */
#include "top_parse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NUM_LEN	 64 /* longest number token read (longer: unusable) */
#define KEY_LEN	 32 /* label names */
#define NAME_LEN 64 /* metric names */

/* --- shared: names, shard numbers, values -------------------------------- */

struct pn_top_sink pn__top_sink(char *out, size_t size)
{
	struct pn_top_sink s = {.out = out, .size = size};

	if (out && size)
		out[0] = 0;
	return s;
}

void pn__top_sink_put(struct pn_top_sink *s, unsigned c)
{
	if (!s->out)
		return;
	if (s->n + 1 >= s->size) {
		s->cut = true;
		return;
	}
	s->out[s->n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	s->out[s->n] = 0;
}

void pn__top_sink_done(struct pn_top_view *v, const struct pn_top_sink *s)
{
	if (s->cut && s->out)
		v->truncated++;
}

/* The range is checked before the conversion, which is defined only
 * then. */
int pn__top_shard_index(double x)
{
	if (!(x >= 0 && x < PN_TOP_MAX_SHARDS) || x != floor(x))
		return -1;
	return (int)x;
}

bool pn__top_value_ok(struct pn_top_view *v, double x)
{
	if (isfinite(x) && fabs(x) <= PN_TOP_VALUE_MAX)
		return true;
	v->ignored_value++;
	return false;
}

bool pn__top_number(const unsigned char *s, size_t len, double *x)
{
	char tmp[NUM_LEN];
	char *end;

	if (len == 0 || len >= sizeof(tmp))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = 0;
	*x = strtod(tmp, &end);
	return end == tmp + len;
}

/* Shard @i marked seen, or NULL (counted) if out of range; every shard
 * the parsers store goes through here. */
struct pn_top_shard *pn__top_shard_at(struct pn_top_view *v, int i)
{
	struct pn_top_shard *s;

	if (i < 0 || i >= PN_TOP_MAX_SHARDS) {
		v->ignored_shard++;
		return NULL;
	}
	s = &v->sh[i];
	s->seen = true;
	if ((unsigned)i + 1 > v->nshards)
		v->nshards = (unsigned)i + 1;
	return s;
}

struct pn_top_actor *pn__top_actor_at(struct pn_top_view *v, const char *pid)
{
	struct pn_top_actor *a;

	for (unsigned i = 0; i < v->nactors; i++)
		if (strcmp(v->a[i].pid, pid) == 0)
			return &v->a[i];
	if (v->nactors == PN_TOP_MAX_ACTORS) {
		v->ignored_actors++;
		return NULL;
	}
	a = &v->a[v->nactors++];
	snprintf(a->pid, sizeof(a->pid), "%s", pid);
	return a;
}

/* --- Prometheus text ------------------------------------------------------ */

/* A Prometheus shard label: decimal digits only (no sign, no blanks). */
static int shard_label(const char *s)
{
	unsigned n = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		n = n * 10 + (unsigned)(*s - '0');
		if (n >= PN_TOP_MAX_SHARDS)
			return -1;
	}
	return (int)n;
}

/* The labels pinion-top reads from one line. */
struct plabels {
	char shard[8], kind[16], state[16];
	char pid[PN_TOP_PID_LEN], beh[PN_TOP_BEH_LEN];
	bool has_shard, has_pid;
};

static bool name_char(unsigned char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       c == ':' || (!first && c >= '0' && c <= '9');
}

/* The sink for label @key of a line. */
static struct pn_top_sink plabel_sink(struct plabels *l, const char *key)
{
	if (strcmp(key, "shard") == 0) {
		l->has_shard = true;
		return pn__top_sink(l->shard, sizeof(l->shard));
	}
	if (strcmp(key, "kind") == 0)
		return pn__top_sink(l->kind, sizeof(l->kind));
	if (strcmp(key, "state") == 0)
		return pn__top_sink(l->state, sizeof(l->state));
	if (strcmp(key, "actor") == 0) {
		l->has_pid = true;
		return pn__top_sink(l->pid, sizeof(l->pid));
	}
	if (strcmp(key, "behaviour") == 0)
		return pn__top_sink(l->beh, sizeof(l->beh));
	return pn__top_sink(NULL, 0);
}

/* One quoted label value at *@pp (< @end) into @s; \\, \" and \n are
 * the format's escapes. */
static bool plabel_value(const unsigned char **pp, const unsigned char *end,
			 struct pn_top_sink *s)
{
	const unsigned char *p = *pp;

	if (p >= end || *p++ != '"')
		return false;
	while (p < end && *p != '"') {
		unsigned c = *p++;

		if (c == '\\' && p < end) {
			c = *p++;
			c = c == 'n' ? '\n' : c;
		}
		pn__top_sink_put(s, c);
	}
	if (p >= end)
		return false;
	*pp = p + 1;
	return true;
}

static void pblanks(const unsigned char **pp, const unsigned char *end)
{
	while (*pp < end && (**pp == ' ' || **pp == '\t'))
		(*pp)++;
}

/* "{k="v",...}" at *@pp into @l; a shard label value that was cut is
 * made invalid rather than read as a shorter number. */
static bool plabels(struct pn_top_view *v, const unsigned char **pp,
		    const unsigned char *end, struct plabels *l)
{
	const unsigned char *p = *pp + 1;

	for (;;) {
		char key[KEY_LEN];
		struct pn_top_sink k = pn__top_sink(key, sizeof(key)), s;

		pblanks(&p, end);
		if (p < end && *p == '}')
			break;
		if (p >= end || !name_char(*p, true))
			return false;
		while (p < end && name_char(*p, false))
			pn__top_sink_put(&k, *p++);
		pblanks(&p, end);
		if (p >= end || *p++ != '=')
			return false;
		pblanks(&p, end);
		s = plabel_sink(l, k.cut ? "" : key);
		if (!plabel_value(&p, end, &s))
			return false;
		if (s.cut && s.out == l->shard)
			l->shard[0] = 'x';
		else
			pn__top_sink_done(v, &s);
		pblanks(&p, end);
		if (p < end && *p == ',')
			p++;
		else if (p >= end || *p != '}')
			return false;
	}
	*pp = p + 1;
	return true;
}

/* A pinion_actor_* line. */
static void pactor(struct pn_top_view *v, const char *name,
		   const struct plabels *l, double val)
{
	int i = l->has_shard ? shard_label(l->shard) : -1;
	struct pn_top_actor *a;

	if (!l->has_pid) {
		v->ignored_lines++;
		return;
	}
	if (i < 0) {
		v->ignored_shard++;
		return;
	}
	if (!pn__top_value_ok(v, val) || !(a = pn__top_actor_at(v, l->pid)))
		return;
	memcpy(a->beh, l->beh, sizeof(a->beh));
	a->shard = (unsigned)i;
	if (strcmp(name, "pinion_actor_messages_total") == 0)
		a->msgs = val;
	else if (strcmp(name, "pinion_actor_handler_seconds_total") == 0)
		a->handler_s = val;
}

/* The field of @s that metric @name with @l sets, or NULL. */
static double *pfield(struct pn_top_shard *s, const char *name,
		      const struct plabels *l)
{
	if (strcmp(name, "pinion_messages_total") == 0)
		return strcmp(l->kind, "local") == 0	  ? &s->local
		       : strcmp(l->kind, "cross") == 0	  ? &s->cross
		       : strcmp(l->kind, "external") == 0 ? &s->ext
							  : NULL;
	if (strcmp(name, "pinion_time_seconds_total") == 0)
		return strcmp(l->state, "busy") == 0	 ? &s->busy
		       : strcmp(l->state, "spin") == 0	 ? &s->spin
		       : strcmp(l->state, "parked") == 0 ? &s->parked
							 : NULL;
	if (strcmp(name, "pinion_parks_total") == 0)
		return &s->parks;
	return NULL;
}

/* A parsed line: metric @name, labels @l, value @val. */
static void pline_store(struct pn_top_view *v, const char *name,
			const struct plabels *l, double val)
{
	struct pn_top_shard *s;
	double *field;

	if (strncmp(name, "pinion_actor_", 13) == 0) {
		pactor(v, name, l, val);
		return;
	}
	if (!l->has_shard)
		return; /* a runtime-wide metric */
	if (!(s = pn__top_shard_at(v, shard_label(l->shard))) ||
	    !pn__top_value_ok(v, val))
		return;
	if (strcmp(name, "pinion_ring_backlog_max") == 0)
		s->hwm = val > s->hwm ? val : s->hwm;
	else if ((field = pfield(s, name, l)))
		*field = val;
}

/* One line [p, end) without its newline. */
static void pline(struct pn_top_view *v, const unsigned char *p,
		  const unsigned char *end)
{
	char name[NAME_LEN];
	struct pn_top_sink n = pn__top_sink(name, sizeof(name));
	struct plabels l = {0};
	const unsigned char *q;
	double val;

	if (end > p && end[-1] == '\r')
		end--;
	pblanks(&p, end);
	if (p == end || *p == '#')
		return;
	if (!name_char(*p, true)) {
		v->ignored_lines++;
		return;
	}
	while (p < end && name_char(*p, false))
		pn__top_sink_put(&n, *p++);
	if (n.cut || n.n < 7 || memcmp(name, "pinion_", 7) != 0)
		return; /* not a metric pinion-top shows */
	/* Blanks may separate any two tokens (and must where they would
	 * merge, which a name and a value would). */
	pblanks(&p, end);
	if (p < end && *p == '{' && !plabels(v, &p, end, &l)) {
		v->ignored_lines++;
		return;
	}
	pblanks(&p, end);
	for (q = p; q < end && *q != ' ' && *q != '\t';)
		q++;
	if (q == p) {
		v->ignored_lines++;
		return;
	}
	if (!pn__top_number(p, (size_t)(q - p), &val))
		val = NAN; /* counted where it would be stored */
	pline_store(v, name, &l, val);
}

void pn__top_parse_prom(struct pn_top_view *v, const void *buf, size_t len)
{
	const unsigned char *p = buf ? buf : (const void *)"", *end;

	end = p + (buf ? len : 0);
	memset(v, 0, sizeof(*v));
	while (p < end) {
		const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
		const unsigned char *le = nl ? nl : end;

		pline(v, p, le);
		p = nl ? nl + 1 : end;
	}
}

int pn__top_parse(struct pn_top_view *v, const void *buf, size_t len,
		  size_t *err_off)
{
	const unsigned char *p = buf ? buf : (const void *)"", *end;

	end = p + (buf ? len : 0);
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	if (p < end && *p == '{')
		return pn__top_parse_json(v, buf, len, err_off);
	pn__top_parse_prom(v, buf, len);
	return 0;
}
