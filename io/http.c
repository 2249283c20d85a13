// SPDX-License-Identifier: MIT
/*
 * The HTTP/1.x request-head parser (see http.h). One pass over the bytes:
 * each byte is checked as it is scanned (controls, a CR not before LF),
 * and each line is parsed once its LF has come, so an error is reported
 * at the first byte or line that shows it whatever the split of the
 * input between calls.
 */
#include "http.h"

#include <string.h>
#include <strings.h>

static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool all_tchar(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_tchar((unsigned char)s[i]))
			return false;
	return n > 0;
}

static int fail(struct pn__http *p, int status, const char *why)
{
	p->status = status;
	p->why = why;
	return status;
}

static struct pn__http_span span(size_t off, size_t len)
{
	return (struct pn__http_span){(uint16_t)off, (uint16_t)len};
}

/* buf[s, e): `METHOD SP target SP HTTP/1.x`. */
static int request_line(struct pn__http *p, const char *buf, size_t s, size_t e)
{
	const char *l = buf + s, *sp1, *sp2, *q;
	size_t n = e - s, ml, tl;

	if (n == 0)
		return fail(p, 400, "empty request line");
	sp1 = memchr(l, ' ', n);
	sp2 = sp1 ? memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - l)) : NULL;
	if (!sp2)
		return fail(p, 400,
			    "request line is not METHOD SP target SP "
			    "HTTP/1.x");
	ml = (size_t)(sp1 - l);
	tl = (size_t)(sp2 - sp1 - 1);
	if (!all_tchar(l, ml))
		return fail(p, 400, "bad method");
	if (tl == 0 || sp1[1] != '/')
		return fail(p, 400, "request target is not an absolute path");
	for (size_t i = 1; i <= tl; i++)
		if ((unsigned char)sp1[i] <= 0x20 ||
		    (unsigned char)sp1[i] >= 0x7f)
			return fail(p, 400, "bad byte in the request target");
	if (e - (size_t)(sp2 + 1 - buf) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) ||
	    sp2[8] < '0' || sp2[8] > '9')
		return fail(p, 400, "not HTTP/1.x");
	if (ml == 3 && !memcmp(l, "GET", 3))
		p->method = PN__HTTP_GET;
	else if (ml == 4 && !memcmp(l, "HEAD", 4))
		p->method = PN__HTTP_HEAD;
	else
		p->method = PN__HTTP_OTHER;
	s += ml + 1; /* the target */
	q = memchr(sp1 + 1, '?', tl);
	if (q) {
		p->path = span(s, (size_t)(q - sp1 - 1));
		p->query = span((size_t)(q + 1 - buf), (size_t)(sp2 - q - 1));
	} else {
		p->path = span(s, tl);
	}
	p->in_fields = true;
	return 0;
}

/* buf[s, e): `name: value`, or the empty line that ends the head. */
static int field_line(struct pn__http *p, const char *buf, size_t s, size_t e)
{
	const char *l = buf + s, *colon;
	size_t n = e - s, vs, ve;

	if (n == 0) {
		p->head_len = (uint16_t)(p->pos + 1);
		p->status = 200;
		return 200;
	}
	if (l[0] == ' ' || l[0] == '\t')
		return fail(p, 400, "obsolete line folding");
	colon = memchr(l, ':', n);
	if (!colon)
		return fail(p, 400, "header field without a colon");
	if (!all_tchar(l, (size_t)(colon - l)))
		return fail(p, 400, "bad header field name");
	vs = (size_t)(colon + 1 - buf);
	ve = e;
	while (vs < ve && (buf[vs] == ' ' || buf[vs] == '\t'))
		vs++;
	while (ve > vs && (buf[ve - 1] == ' ' || buf[ve - 1] == '\t'))
		ve--;
	if (colon - l == 13 && !strncasecmp(l, "authorization", 13)) {
		if (p->has_auth)
			return fail(p, 400, "two Authorization fields");
		p->has_auth = true;
		p->auth = span(vs, ve - vs);
	}
	return 0;
}

void pn__http_init(struct pn__http *p)
{
	memset(p, 0, sizeof(*p));
}

int pn__http_parse(struct pn__http *p, const char *buf, size_t len)
{
	if (len > PN__HTTP_HEAD_MAX)
		len = PN__HTTP_HEAD_MAX;
	while (!p->status && p->pos < len) {
		unsigned char c = (unsigned char)buf[p->pos];
		size_t e = p->pos;

		if (c == '\n') {
			if (e > p->line && buf[e - 1] == '\r')
				e--; /* a CR is only ever scanned before LF */
			if (p->in_fields)
				field_line(p, buf, p->line, e);
			else
				request_line(p, buf, p->line, e);
			p->line = (uint16_t)(p->pos + 1);
		} else if (c == '\r') {
			if ((size_t)p->pos + 1 == len)
				break; /* LF or not: the next byte tells */
			if (buf[p->pos + 1] != '\n')
				return fail(p, 400, "CR without LF");
		} else if (c == 0) {
			return fail(p, 400, "NUL byte in the request head");
		} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
			return fail(p, 400, "control byte in the request head");
		}
		p->pos++;
	}
	if (!p->status && len == PN__HTTP_HEAD_MAX)
		fail(p, 431, "request head over 4096 bytes");
	return p->status;
}

bool pn__http_bearer_ok(const char *auth, size_t len, const char *token,
			size_t token_len)
{
	volatile unsigned char diff;
	size_t i = 6;

	if (len < 7 || strncasecmp(auth, "bearer", 6) || auth[6] != ' ')
		return false;
	while (i < len && auth[i] == ' ')
		i++;
	auth += i;
	len -= i;
	/* Every byte of the token is looked at, equal or not. */
	diff = len != token_len;
	for (i = 0; i < token_len; i++)
		diff |= (unsigned char)(token[i] ^ (i < len ? auth[i] : 0));
	return diff == 0;
}
