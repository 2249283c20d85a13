/* SPDX-License-Identifier: MIT */
/*
 * The echo workload's parts (`echo`): the load generator
 * (echo_client.c), the plain single-threaded epoll server it is compared
 * with (epoll_echo.c), and the driver that runs both and the Pinion server
 * (echo.c). The generator is the same C code for both servers.
 */
#ifndef PN_BENCH_ECHO_H
#define PN_BENCH_ECHO_H

#include "bench.h"

#include <stdint.h>

#define ECHO_MSG 64 /* bytes per request, echoed byte for byte */

/* One repetition of the load generator (run on its own pinned thread). */
struct echo_load {
	uint16_t port;		 /* 127.0.0.1:port */
	unsigned conns;		 /* C: connections, one request in flight */
	uint64_t n;		 /* requests in all (spread over the C) */
	uint64_t timeout_ns;	 /* give up after this long without a reply */
	struct bench_hist *hist; /* round-trip times, ns */
	bool corrupt;		 /* self-test: flip one byte of one reply */
	uint64_t ns;		 /* out: first request to last reply */
	int err;		 /* out: 0, or what failed (< 0) */
	char what[160];
};

/* Thread body for bench_run_pinned(): @arg is a struct echo_load. */
void *echo_load_run(void *arg);

/* The epoll baseline: listen on 127.0.0.1 (port in *port), serve on a
 * thread pinned to @cpu until echo_epoll_stop(). */
struct echo_epoll;
int echo_epoll_start(const struct bench_cpus *cpus, int cpu, uint16_t *port,
		     struct echo_epoll **out);
void echo_epoll_stop(struct echo_epoll *s);

#endif /* PN_BENCH_ECHO_H */
