/* SPDX-License-Identifier: MIT */
/*
 * io/'s HTTP/1.x request-head parser, for the metrics endpoint (prom.c):
 * a pure function over the bytes a connection has received so far (no
 * I/O, no allocation, no clock), so that it can be fuzzed on its own
 * (tests/fuzz/fuzz_http.c).
 *
 * Grammar (RFC 9112, strict): a request line `METHOD SP target SP
 * HTTP/1.x` (method a token, target origin-form: '/' then visible
 * ASCII), then header fields `name: value` (name a token, no space before
 * the colon, no obsolete line folding), then an empty line. Lines end in
 * CRLF or a bare LF; a CR anywhere else, a NUL or any other control byte
 * but HTAB ends the parse with 400 as soon as it is seen, before the head
 * is complete. A head that is not complete within PN__HTTP_HEAD_MAX bytes
 * gets 431. A second Authorization field gets 400 (two credentials: which
 * one counts?). Bytes after the head are not looked at.
 *
 * Incremental: pn__http_parse() resumes where the previous call stopped,
 * so a head trickling in a byte at a time is scanned once in all; the
 * result never depends on how the bytes were split between calls.
 */
#ifndef PN_IO_HTTP_H
#define PN_IO_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PN__HTTP_HEAD_MAX 4096 /* bytes of a head, its empty line included */

enum pn__http_method {
	PN__HTTP_OTHER, /* a well-formed method that is neither of these */
	PN__HTTP_GET,
	PN__HTTP_HEAD,
};

/* Bytes buf[off, off + len) of the buffer that was parsed. */
struct pn__http_span {
	uint16_t off, len;
};

struct pn__http {
	/* The result, final once status is not 0. */
	int status;	   /* 0: need more; 200: a head; 400 or 431 */
	const char *why;   /* status 400/431: what was wrong (static text) */
	uint8_t method;	   /* enum pn__http_method */
	bool has_auth;	   /* an Authorization field came (value in auth) */
	uint16_t head_len; /* status 200: bytes of the head, empty line too */
	struct pn__http_span path;  /* the target up to '?' */
	struct pn__http_span query; /* after '?' (len 0: none or empty) */
	struct pn__http_span auth;  /* the Authorization value, OWS trimmed */
	/* Where the parse stands (private to http.c). */
	uint16_t pos;	/* bytes scanned */
	uint16_t line;	/* where the line being scanned starts */
	bool in_fields; /* the request line is done */
};

/* Start a parse (a new connection). */
void pn__http_init(struct pn__http *p);

/*
 * Go on parsing @buf: its first @len bytes are everything received so
 * far, the bytes of each earlier call since pn__http_init() unchanged and
 * new ones after them (only the first PN__HTTP_HEAD_MAX are looked at).
 * Returns p->status; once it is not 0, later calls return it unchanged.
 * Spans in @p index @buf.
 */
int pn__http_parse(struct pn__http *p, const char *buf, size_t len);

/*
 * Whether Authorization value @auth (@len bytes, as in p->auth) is
 * `Bearer <token>` (scheme case-insensitive, then one or more SP) with
 * exactly @token (@token_len bytes). The comparison takes time that
 * depends on @token_len and @len, never on where the bytes differ.
 */
bool pn__http_bearer_ok(const char *auth, size_t len, const char *token,
			size_t token_len);

#endif /* PN_IO_HTTP_H */
