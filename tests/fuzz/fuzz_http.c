// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for the HTTP request-head parser (io/http.c). Each
 * input is parsed three ways, which must agree exactly:
 *   - whole, in one pn__http_parse() call;
 *   - split into random chunks (seeded by the input), including empty
 *     ones and calls after the result is final, as a connection feeds it;
 *   - by a reference model below, written for clarity, not speed: find
 *     the first bad byte, cut the bytes before it into lines, check each
 *     line on its own.
 * The result's spans must lie inside the head and say what they claim,
 * and the bearer check must agree with a plain comparison.
 */
#include "http.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX PN__HTTP_HEAD_MAX

/* --- the reference model ------------------------------------------------ */

static const char tchars[] = "!#$%&'*+-.^_`|~0123456789"
			     "abcdefghijklmnopqrstuvwxyz"
			     "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

static bool ref_token(const uint8_t *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !memchr(tchars, s[i], sizeof(tchars) - 1))
			return false;
	return true;
}

static bool ref_bad_byte(const uint8_t *b, size_t i, size_t n)
{
	if (b[i] == '\r')
		return i + 1 < n && b[i + 1] != '\n';
	if (b[i] == '\t' || b[i] == '\n')
		return false;
	return b[i] < 0x20 || b[i] == 0x7f;
}

/* The request line b[0, n), CR LF gone. */
static bool ref_request_line(const uint8_t *b, size_t n, struct pn__http *r)
{
	size_t sp[2], k = 0;

	for (size_t i = 0; i < n; i++)
		if (b[i] == ' ') {
			if (k == 2)
				return false;
			sp[k++] = i;
		}
	if (k != 2 || !ref_token(b, sp[0]))
		return false;
	if (sp[1] - sp[0] < 2 || b[sp[0] + 1] != '/')
		return false;
	for (size_t i = sp[0] + 1; i < sp[1]; i++)
		if (b[i] < 0x21 || b[i] > 0x7e)
			return false;
	if (n - sp[1] - 1 != 8 || memcmp(b + sp[1] + 1, "HTTP/1.", 7) != 0 ||
	    b[n - 1] < '0' || b[n - 1] > '9')
		return false;
	r->method = sp[0] == 3 && !memcmp(b, "GET", 3)	  ? PN__HTTP_GET
		    : sp[0] == 4 && !memcmp(b, "HEAD", 4) ? PN__HTTP_HEAD
							  : PN__HTTP_OTHER;
	r->path.off = (uint16_t)(sp[0] + 1);
	r->path.len = (uint16_t)(sp[1] - sp[0] - 1);
	for (size_t i = sp[0] + 1; i < sp[1]; i++)
		if (b[i] == '?') {
			r->path.len = (uint16_t)(i - sp[0] - 1);
			r->query.off = (uint16_t)(i + 1);
			r->query.len = (uint16_t)(sp[1] - i - 1);
			break;
		}
	return true;
}

/* A field line at b[off, off + n). */
static bool ref_field(const uint8_t *b, size_t off, size_t n,
		      struct pn__http *r)
{
	const uint8_t *l = b + off;
	size_t c = 0, vs, ve;

	while (c < n && l[c] != ':')
		c++;
	if (c == n || !ref_token(l, c))
		return false;
	for (vs = c + 1; vs < n && (l[vs] == ' ' || l[vs] == '\t'); vs++)
		;
	for (ve = n; ve > vs && (l[ve - 1] == ' ' || l[ve - 1] == '\t'); ve--)
		;
	if (c != 13 || strncasecmp((const char *)l, "Authorization", 13))
		return true;
	if (r->has_auth)
		return false;
	r->has_auth = true;
	r->auth.off = (uint16_t)(off + vs);
	r->auth.len = (uint16_t)(ve - vs);
	return true;
}

static void ref_parse(const uint8_t *b, size_t len, struct pn__http *r)
{
	size_t n = len < MAX ? len : MAX, bad = n, start = 0;
	bool first = true;

	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < n && bad == n; i++)
		if (ref_bad_byte(b, i, n))
			bad = i;
	for (size_t i = 0; i < bad; i++) {
		size_t e = i;

		if (b[i] != '\n')
			continue;
		if (e > start && b[e - 1] == '\r')
			e--;
		if (first) {
			if (!ref_request_line(b + start, e - start, r))
				goto bad_request;
			first = false;
		} else if (e == start) {
			r->status = 200;
			r->head_len = (uint16_t)(i + 1);
			return;
		} else if (!ref_field(b, start, e - start, r)) {
			goto bad_request;
		}
		start = i + 1;
	}
	if (bad < n)
		goto bad_request;
	r->status = n == MAX ? 431 : 0;
	return;
bad_request:
	r->status = 400;
}

static bool ref_bearer(const uint8_t *a, size_t n, const uint8_t *t, size_t tn)
{
	size_t i = 6;

	if (n < 7 || strncasecmp((const char *)a, "Bearer", 6) || a[6] != ' ')
		return false;
	while (i < n && a[i] == ' ')
		i++;
	return n - i == tn && memcmp(a + i, t, tn) == 0;
}

/* --- checks ------------------------------------------------------------- */

#define CHECK(x)                                                               \
	do {                                                                   \
		if (!(x))                                                      \
			abort();                                               \
	} while (0)

static bool span_eq(struct pn__http_span a, struct pn__http_span b)
{
	return a.off == b.off && a.len == b.len;
}

/* The results of two parses are the same (@why too if @same_why). */
static void same(const struct pn__http *a, const struct pn__http *b,
		 bool same_why)
{
	CHECK(a->status == b->status);
	if (same_why && a->status)
		CHECK(a->why == b->why);
	if (a->status != 200)
		return;
	CHECK(a->method == b->method && a->has_auth == b->has_auth);
	CHECK(a->head_len == b->head_len);
	CHECK(span_eq(a->path, b->path) && span_eq(a->query, b->query));
	if (a->has_auth)
		CHECK(span_eq(a->auth, b->auth));
}

static void check_head(const uint8_t *b, const struct pn__http *p)
{
	size_t h = p->head_len;

	if (p->status != 200) {
		CHECK(p->status == 0 || p->status == 400 || p->status == 431);
		CHECK(!p->status || (p->why && *p->why));
		return;
	}
	CHECK(h >= 2 && h <= MAX && b[h - 1] == '\n');
	CHECK(b[h - 2] == '\n' ||
	      (h >= 3 && b[h - 2] == '\r' && b[h - 3] == '\n'));
	CHECK(p->path.len > 0 && p->path.off + p->path.len <= h);
	CHECK(b[p->path.off] == '/');
	CHECK(!memchr(b + p->path.off, '?', p->path.len));
	if (p->query.len)
		CHECK(p->query.off == p->path.off + p->path.len + 1 &&
		      b[p->query.off - 1] == '?' &&
		      p->query.off + p->query.len <= h);
	if (p->has_auth)
		CHECK(p->auth.off + p->auth.len <= h);
	CHECK(p->method <= PN__HTTP_HEAD);
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void check_bearer(const uint8_t *data, size_t size,
			 const struct pn__http *p)
{
	static const char tok[] = "s3cr3t-t0ken";
	const uint8_t *a = data + p->auth.off;
	size_t n = p->auth.len;
	size_t tn = n > 7 ? n - 7 : 0;

	if (p->status != 200 || !p->has_auth)
		return;
	CHECK(pn__http_bearer_ok((const char *)a, n, tok, sizeof(tok) - 1) ==
	      ref_bearer(a, n, (const uint8_t *)tok, sizeof(tok) - 1));
	/* The value's own tail as the token: equal tokens get through. */
	CHECK(pn__http_bearer_ok((const char *)a, n, (const char *)a + n - tn,
				 tn) == ref_bearer(a, n, a + n - tn, tn));
	(void)size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct pn__http whole, part, ref, over;
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	size_t fed = 0;

	pn__http_init(&whole);
	pn__http_parse(&whole, buf, size);
	check_head(data, &whole);

	for (size_t i = 0; i < size && i < 64; i++)
		seed = (seed ^ data[i]) * 0x100000001b3ull;
	seed |= 1;
	pn__http_init(&part);
	while (fed < size) {
		uint64_t r = rng_next(&seed);
		size_t step =
			r & 3 ? (size_t)(r >> 8) % 16 : (size_t)(r >> 8) % 700;

		fed = step > size - fed ? size : fed + step;
		pn__http_parse(&part, buf, fed);
	}
	pn__http_parse(&part, buf, size); /* again: nothing changes */
	same(&whole, &part, true);

	ref_parse(data, size, &ref);
	same(&whole, &ref, false);

	/* Bytes past the limit are never looked at. */
	if (size > MAX) {
		pn__http_init(&over);
		pn__http_parse(&over, buf, MAX);
		same(&whole, &over, true);
	}
	check_bearer(data, size, &whole);
	return 0;
}
