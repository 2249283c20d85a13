/* SPDX-License-Identifier: MIT */
/*
 * What the metrics endpoint tests (test_prom, test_prom_limits) share on
 * top of the io fixture: a runtime serving /metrics, with a load actor
 * streaming messages from shard 0 to shard 1 so there is something to
 * see; one-shot HTTP exchanges over loopback with bounded waits; and a
 * probe of whether io/ enforces connection deadlines yet.
 */
#ifndef PN_TESTS_IO_PROM_HARNESS_H
#define PN_TESTS_IO_PROM_HARNESS_H

#include "harness.h"

/* A 2-shard runtime with io/ and its metrics source, serving @o (NULL:
 * 127.0.0.1:0, defaults) with the load running; returns the port. */
uint16_t p_serve(const struct pn_io_metrics_opts *o);

/* A monotonic clock in ns. */
uint64_t p_now(void);

/* Send @len bytes (@len 0: strlen) on a new connection, read the whole
 * answer (until EOF, reset or 5 s), malloc'd and NUL-terminated. */
char *p_http(uint16_t port, const char *req, size_t len);
/* GET /metrics; @auth: an extra header line ("Authorization: ...") */
char *p_scrape(uint16_t port, const char *auth);
/* The status of an answer (200, 404, ...), or 0 if it has none. */
int p_status(const char *resp);
/* The Content-Length header's value, or -1. */
long p_content_length(const char *resp);
/* The bytes after the head, and how many. */
const char *p_body(const char *resp, size_t *len);

/* Whether the peer of @fd has closed or reset it within @ns (data in
 * between is read and dropped); with @trickle, sends one byte of a head
 * that never ends every 100-200 ms meanwhile. */
bool p_closed_within(int fd, uint64_t ns, bool trickle);

/* Whether io/ ends a connection at its pn_io_set_deadline() yet (its
 * sweep is implemented apart from the endpoint): probed once on the
 * running t_rt, the answer cached. */
bool p_io_deadlines(void);

/* The text written to stderr (fd 2) while running @fn(@arg), malloc'd. */
char *p_stderr_of(void (*fn)(void *), void *arg);

#endif /* PN_TESTS_IO_PROM_HARNESS_H */
