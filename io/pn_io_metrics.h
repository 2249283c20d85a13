/* SPDX-License-Identifier: MIT */
/*
 * io/: its counters as a metrics source and the Prometheus /metrics
 * endpoint (io/prom.c). Part of pn_io.h, which includes it: include that
 * one.
 */
#ifndef PN_IO_METRICS_H
#define PN_IO_METRICS_H

#include "pn_io.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Add every shard's struct pn_io_stats to the runtime's metrics
 * (pn_metrics_snapshot(); pinion_io_<field>_total, gauges for handles,
 * bufs_lent, queued_bytes). After pn_io_init(), before
 * pn_runtime_start(). Returns 0, -EALREADY (registered already: nothing
 * changes), or what pn_metrics_source_register() returns. External.
 */
PN_API int pn_io_metrics_register(struct pn_runtime *rt);

/*
 * The metrics endpoint's settings. A field left 0 (NULL) takes its
 * PINION_METRICS_* environment variable (times in ms there, integers,
 * strictly parsed), else the default; times here are in ns, UINT64_MAX
 * for none. Deadlines end a connection with a reset (see "Deadlines").
 */
struct pn_io_metrics_opts {
	const char *addr;   /* "host:port" (IPv4); _ADDR; unset: no endpoint */
	const char *token;  /* `Authorization: Bearer` or 401; _TOKEN; none */
	unsigned max_conns; /* connections at once, 1-1024; _MAX_CONNS; 16 */
	uint64_t header_ns; /* the whole request head; _HEADER_MS; 5 s */
	uint64_t reply_ns;  /* the whole answer, after that; _REPLY_MS; 10 s */
	uint64_t idle_ns;   /* nothing received or sent; _IDLE_MS; 2 s */
	uint64_t drain_ns;  /* queued answer not moving; _DRAIN_MS; 10 s */
};

/*
 * Serve the runtime's metrics in the Prometheus text format at
 * GET /metrics (and HEAD: the same status and headers, no body; HTTP/1.1,
 * Connection: close) on @o->addr ("127.0.0.1:9464"; port 0 picks a free
 * one, returned in *port), from an actor on the supervisor shard,
 * through its io_uring. Off by default: with no address (field and
 * environment) it serves nothing and returns 0, *port 0. Other requests
 * get 400, 401 (a token is set and the request does not carry it),
 * 404, 405 or 431. With max_conns connections open, a new one takes the
 * place of the one not yet answered whose last byte came longest ago
 * (reset), or gets 503 if every one is being answered. The endpoint's
 * own counters follow the runtime's (pinion_metrics_endpoint_*). An address
 * outside 127.0.0.0/8 is served with a warning on stderr naming it.
 * @o (NULL: every field 0) and its strings are copied: the caller's may
 * go once this returns. Needs pn_io_init() and a started runtime.
 * Returns 0; -EINVAL naming a bad setting (address, port, token, limit);
 * -ENOMEM; the listen error; -ETIMEDOUT (the supervisor shard did not
 * answer in 5 s). External.
 */
PN_API int pn_io_metrics_serve_opts(struct pn_runtime *rt,
				    const struct pn_io_metrics_opts *o,
				    uint16_t *port);

/* pn_io_metrics_serve_opts() with only the address (NULL: from the
 * environment) set. External. */
PN_API int pn_io_metrics_serve(struct pn_runtime *rt, const char *addr,
			       uint16_t *port);

#ifdef __cplusplus
}
#endif
#endif /* PN_IO_METRICS_H */
