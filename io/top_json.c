// SPDX-License-Identifier: MIT
/*
 * pinion-top's JSON parser (pn__top_parse_json(), declared in
 * top_parse.h) for pn_metrics_json() output: a strict recursive-descent
 * parser of RFC 8259 over [buf, buf + len), with a depth limit, that reads
 * the keys pinion-top shows and skips every other value whole. A
 * malformed body is an error with its offset. NaN, Infinity and
 * -Infinity, which some writers emit, are taken as numbers that are not
 * usable (counted, not stored). Shards and values are stored only through
 * the checks in io/top_parse.c.
 */
#include "top_parse.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define JSON_DEPTH 32 /* deeper nesting is malformed */
#define KEY_LEN	   32 /* keys; a longer one matches nothing */

/* --- the lexer ----------------------------------------------------------- */

struct jp {
	const unsigned char *start, *p, *end;
	struct pn_top_view *v;
	double sample; /* the top-level "sample": 1 in N sends stamped */
};

static bool at_end(const struct jp *j)
{
	return j->p >= j->end;
}

static void jws(struct jp *j)
{
	while (!at_end(j) && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' ||
			      *j->p == '\r'))
		j->p++;
}

/* Consume @c after blanks, if it is next. */
static bool jeat(struct jp *j, char c)
{
	jws(j);
	if (at_end(j) || *j->p != (unsigned char)c)
		return false;
	j->p++;
	return true;
}

static bool jlit(struct jp *j, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
		return false;
	j->p += n;
	return true;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

/* A string (at its opening quote) into @s: escapes decoded, anything
 * outside printable ASCII as '?'. */
static bool jstring(struct jp *j, struct pn_top_sink *s)
{
	if (!jeat(j, '"'))
		return false;
	while (!at_end(j)) {
		unsigned c = *j->p++;

		if (c == '"')
			return true;
		if (c < 0x20)
			return false; /* raw control bytes are not JSON */
		if (c != '\\') {
			pn__top_sink_put(s, c);
			continue;
		}
		if (at_end(j))
			return false;
		c = *j->p++;
		if (c == 'u') {
			unsigned cp = 0;

			for (int k = 0; k < 4; k++) {
				int h = at_end(j) ? -1 : hexval(*j->p++);

				if (h < 0)
					return false;
				cp = cp << 4 | (unsigned)h;
			}
			c = cp;
		} else if (c == 'b' || c == 'f' || c == 'n' || c == 'r' ||
			   c == 't') {
			c = '?'; /* a control character */
		} else if (c != '"' && c != '\\' && c != '/') {
			return false;
		}
		pn__top_sink_put(s, c);
	}
	return false;
}

/* The end of the number token at @q (RFC 8259 grammar), or NULL. */
static const unsigned char *jnum_end(const struct jp *j, const unsigned char *q)
{
	const unsigned char *d;

	if (q < j->end && *q == '-')
		q++;
	if (q < j->end && *q == '0')
		q++;
	else if (q < j->end && *q >= '1' && *q <= '9')
		while (q < j->end && *q >= '0' && *q <= '9')
			q++;
	else
		return NULL;
	if (q < j->end && *q == '.') {
		for (d = ++q; q < j->end && *q >= '0' && *q <= '9';)
			q++;
		if (q == d)
			return NULL;
	}
	if (q < j->end && (*q == 'e' || *q == 'E')) {
		q++;
		if (q < j->end && (*q == '+' || *q == '-'))
			q++;
		for (d = q; q < j->end && *q >= '0' && *q <= '9';)
			q++;
		if (q == d)
			return NULL;
	}
	return q;
}

/* NaN, Infinity, -Infinity: numbers some writers emit, never usable. */
static bool jnonfinite(struct jp *j)
{
	return jlit(j, "NaN") || jlit(j, "Infinity") || jlit(j, "-Infinity");
}

static bool jskip(struct jp *j, int depth);

/* Skip the members of an object or array whose opener is consumed. */
static bool jskip_members(struct jp *j, int depth, char close)
{
	struct pn_top_sink none = pn__top_sink(NULL, 0);

	if (depth >= JSON_DEPTH)
		return false;
	if (jeat(j, close))
		return true;
	do {
		if (close == '}' && (!jstring(j, &none) || !jeat(j, ':')))
			return false;
		if (!jskip(j, depth + 1))
			return false;
	} while (jeat(j, ','));
	return jeat(j, close);
}

/* Skip one value of any kind, nested at most JSON_DEPTH deep. */
static bool jskip(struct jp *j, int depth)
{
	struct pn_top_sink none = pn__top_sink(NULL, 0);
	const unsigned char *q;

	jws(j);
	if (at_end(j))
		return false;
	switch (*j->p) {
	case '"':
		return jstring(j, &none);
	case '{':
	case '[':
		return jskip_members(j, depth, *j->p++ == '{' ? '}' : ']');
	case 't':
		return jlit(j, "true");
	case 'f':
		return jlit(j, "false");
	case 'n':
		return jlit(j, "null");
	default:
		if (jnonfinite(j))
			return true;
		if (!(q = jnum_end(j, j->p)))
			return false;
		j->p = q;
		return true;
	}
}

/*
 * A value that should be a number. Returns 1 with *@x its value when it
 * is a number token (NaN for NaN, Infinity and literals too long to
 * read, which pn__top_value_ok() then refuses), 0 when it is another kind of
 * value (consumed), -1 on malformed JSON.
 */
static int jnum(struct jp *j, double *x, int depth)
{
	const unsigned char *q;

	jws(j);
	if (at_end(j))
		return -1;
	if (jnonfinite(j)) {
		*x = NAN;
		return 1;
	}
	if (!(q = jnum_end(j, j->p)))
		return jskip(j, depth) ? 0 : -1;
	if (!pn__top_number(j->p, (size_t)(q - j->p), x))
		*x = NAN;
	j->p = q;
	return 1;
}

/* Store the number at the cursor in *@out if it is usable (else count
 * it and leave *@out). False on malformed JSON. */
static bool jnum_into(struct jp *j, double *out, int depth)
{
	double x = NAN;
	int rc = jnum(j, &x, depth);

	if (rc < 0)
		return false;
	if (pn__top_value_ok(j->v, x))
		*out = x;
	return true;
}

/* A shard number: *@out is NaN unless the value is a number token (the
 * range is pn__top_shard_index()'s to check, and it counts as a shard). */
static bool jshard_num(struct jp *j, double *out, int depth)
{
	int rc = jnum(j, out, depth);

	if (rc <= 0)
		*out = NAN;
	return rc >= 0;
}

/*
 * An object (opener next): for each member, @member(@j, key, @ctx, depth)
 * consumes the value. A key too long for KEY_LEN matches nothing.
 */
typedef bool (*jmember_fn)(struct jp *j, const char *key, void *ctx, int depth);

static bool jobject(struct jp *j, jmember_fn member, void *ctx, int depth)
{
	if (depth >= JSON_DEPTH || !jeat(j, '{'))
		return false;
	if (jeat(j, '}'))
		return true;
	do {
		char key[KEY_LEN];
		struct pn_top_sink s = pn__top_sink(key, sizeof(key));

		if (!jstring(j, &s) || !jeat(j, ':'))
			return false;
		if (s.cut)
			key[0] = 0;
		if (!member(j, key, ctx, depth + 1))
			return false;
	} while (jeat(j, ','));
	return jeat(j, '}');
}

/* An array of objects, each read by @member; other elements skipped. */
static bool jarray(struct jp *j, jmember_fn member,
		   bool (*done)(struct jp *j, void *ctx), void *ctx,
		   size_t ctx_size, int depth)
{
	jws(j);
	if (at_end(j) || *j->p != '[')
		return jskip(j, depth);
	j->p++;
	if (depth >= JSON_DEPTH)
		return false;
	if (jeat(j, ']'))
		return true;
	do {
		jws(j);
		if (!at_end(j) && *j->p == '{') {
			memset(ctx, 0, ctx_size);
			if (!jobject(j, member, ctx, depth + 1) ||
			    !done(j, ctx))
				return false;
		} else if (!jskip(j, depth + 1)) {
			return false;
		}
	} while (jeat(j, ','));
	return jeat(j, ']');
}

/* --- pn_metrics_json()'s objects ---------------------------------------- */

struct jshard {
	struct pn_top_shard s;
	double shard;
	bool has_shard;
};

/* "ring_hwm": [n, ...] -> the highest. */
static bool jhwm(struct jp *j, double *hwm, int depth)
{
	jws(j);
	if (at_end(j) || *j->p != '[') {
		j->v->ignored_value++;
		return jskip(j, depth);
	}
	j->p++;
	if (depth >= JSON_DEPTH)
		return false;
	if (jeat(j, ']'))
		return true;
	do {
		double x = NAN;

		if (!jnum_into(j, &x, depth + 1))
			return false;
		if (x > *hwm) /* false for NaN: not usable */
			*hwm = x;
	} while (jeat(j, ','));
	return jeat(j, ']');
}

static bool jshard_member(struct jp *j, const char *key, void *ctx, int depth)
{
	struct jshard *t = ctx;
	struct pn_top_shard *s = &t->s;
	const struct {
		const char *key;
		double *out, scale; /* times are ns, shown in seconds */
	} f[] = {
		{"handled_local", &s->local, 1},
		{"handled_cross", &s->cross, 1},
		{"handled_ext", &s->ext, 1},
		{"busy_ns", &s->busy, 1e-9},
		{"spin_ns", &s->spin, 1e-9},
		{"parked_ns", &s->parked, 1e-9},
		{"parks", &s->parks, 1},
	};

	if (strcmp(key, "shard") == 0) {
		t->has_shard = true;
		return jshard_num(j, &t->shard, depth);
	}
	if (strcmp(key, "ring_hwm") == 0)
		return jhwm(j, &s->hwm, depth);
	for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++) {
		if (strcmp(key, f[k].key) == 0) {
			double x = 0;
			bool ok = jnum_into(j, &x, depth);

			*f[k].out = x * f[k].scale;
			return ok;
		}
	}
	return jskip(j, depth);
}

/* A shard object read: stored if it names a shard in range. */
static bool jshard_done(struct jp *j, void *ctx)
{
	const struct jshard *t = ctx;
	struct pn_top_shard *s = pn__top_shard_at(
		j->v, t->has_shard ? pn__top_shard_index(t->shard) : -1);

	if (s) {
		*s = t->s;
		s->seen = true;
	}
	return true;
}

struct jactor {
	struct pn_top_actor a;
	double shard, handler_ns;
	bool has_pid, has_shard;
};

static bool jactor_member(struct jp *j, const char *key, void *ctx, int depth)
{
	struct jactor *t = ctx;
	struct pn_top_sink s;
	bool ok;

	if (strcmp(key, "pid") == 0 || strcmp(key, "behaviour") == 0) {
		bool pid = key[0] == 'p';

		jws(j);
		if (at_end(j) || *j->p != '"') {
			j->v->ignored_value++;
			return jskip(j, depth);
		}
		s = pid ? pn__top_sink(t->a.pid, sizeof(t->a.pid))
			: pn__top_sink(t->a.beh, sizeof(t->a.beh));
		ok = jstring(j, &s);
		pn__top_sink_done(j->v, &s);
		t->has_pid |= pid;
		return ok;
	}
	if (strcmp(key, "shard") == 0) {
		t->has_shard = true;
		return jshard_num(j, &t->shard, depth);
	}
	if (strcmp(key, "messages_est") == 0)
		return jnum_into(j, &t->a.msgs, depth);
	if (strcmp(key, "handler_ns") == 0)
		return jnum_into(j, &t->handler_ns, depth);
	return jskip(j, depth);
}

/* An actor object read: kept if it has a pid and a shard in range. */
static bool jactor_done(struct jp *j, void *ctx)
{
	struct jactor *t = ctx;
	int i = t->has_shard ? pn__top_shard_index(t->shard) : -1;
	struct pn_top_actor *a;

	if (!t->has_pid) {
		j->v->ignored_lines++;
		return true;
	}
	if (i < 0) {
		j->v->ignored_shard++;
		return true;
	}
	if (!(a = pn__top_actor_at(j->v, t->a.pid)))
		return true;
	*a = t->a;
	a->shard = (unsigned)i;
	a->handler_s = t->handler_ns; /* ns per sample until the end */
	return true;
}

static bool jtop_member(struct jp *j, const char *key, void *ctx, int depth)
{
	struct jshard sh;
	struct jactor ac;

	(void)ctx;
	if (strcmp(key, "sample") == 0) {
		double x = 0;
		bool ok = jnum_into(j, &x, depth);

		/* 1 in N, N a uint32: anything else would scale times into
		 * numbers no screen can use. */
		if (x >= 0 && x <= UINT32_MAX)
			j->sample = x;
		else
			j->v->ignored_value++;
		return ok;
	}
	if (strcmp(key, "shards") == 0)
		return jarray(j, jshard_member, jshard_done, &sh, sizeof(sh),
			      depth);
	if (strcmp(key, "actors") == 0)
		return jarray(j, jactor_member, jactor_done, &ac, sizeof(ac),
			      depth);
	return jskip(j, depth);
}

int pn__top_parse_json(struct pn_top_view *v, const void *buf, size_t len,
		       size_t *err_off)
{
	struct jp j = {.v = v};
	bool ok;

	if (!buf) { /* no arithmetic on a null pointer */
		buf = "";
		len = 0;
	}
	j.start = j.p = buf;
	j.end = j.p + len;
	memset(v, 0, sizeof(*v));
	ok = jobject(&j, jtop_member, NULL, 0);
	if (ok) {
		jws(&j);
		ok = at_end(&j); /* one object, then only blanks */
	}
	/* Handler time is sampled ns; both factors are bounded, so the
	 * product stays finite. */
	for (unsigned i = 0; i < v->nactors; i++)
		v->a[i].handler_s *= j.sample / 1e9;
	if (ok)
		return 0;
	if (err_off)
		*err_off = (size_t)(j.p - j.start);
	return -EINVAL;
}
