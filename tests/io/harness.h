/* SPDX-License-Identifier: MIT */
/*
 * What the io tests share: a runtime with io/ attached (2 shards), bounded
 * waits for the codes actors notify, and plain blocking client sockets on
 * 127.0.0.1 with 5 s timeouts for the test thread's side of a connection.
 * All traffic stays on loopback; every wait is bounded.
 *
 * Threads: actors write the test's shared structs and then notify; the
 * test reads them after the pn_runtime_wait() that returned that code
 * (its mutex orders the two), or after shutdown joined the shards.
 */
#ifndef PN_TESTS_IO_HARNESS_H
#define PN_TESTS_IO_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above first. */
#include "pinion.h"

#include <cmocka.h>
#include <netinet/in.h>

#define T_MS   1000000ull
#define T_SEC  1000000000ull
#define T_WAIT (8 * T_SEC) /* bound on every wait */

/* Application message types the tests use. */
#define T_GO   0x100u
#define T_STOP 0x101u

extern struct pn_runtime *t_rt;

/* A 2-shard runtime with io/ (@io NULL: defaults), started. */
struct pn_runtime *t_start(const struct pn_io_config *io);
/* Shut it down (asserting a clean report) and destroy it. */
void t_finish(void);
/* cmocka teardown: destroy what a failed test left behind. */
int t_teardown(void **state);

/* Wait for @code (other codes fail the test); asserts within T_WAIT. */
void t_expect(int code);
/* The next code, or INT32_MIN after @timeout_ns. */
int t_next(uint64_t timeout_ns);

pn_pid t_spawn(const struct pn_behaviour *b, int shard, const void *arg,
	       size_t len);
void t_send(pn_pid to, uint32_t type, const void *data, size_t len);

/* 127.0.0.1:@port, and the local port of @h (a listener, socket). */
struct sockaddr_in t_addr(uint16_t port);
uint16_t t_port(struct pn_ctx *ctx, pn_io_handle h);
/* A port on 127.0.0.1 that nothing listens on (bound then closed). */
uint16_t t_closed_port(void);

/* Blocking client sockets with 5 s send/receive timeouts. */
int t_connect(uint16_t port);
/* Read exactly @n bytes: 0, -EPIPE at EOF, or -errno. */
int t_read_full(int fd, void *buf, size_t n);
int t_write_full(int fd, const void *buf, size_t n);
/* Close with SO_LINGER 0: the peer sees a reset. */
void t_reset(int fd);

/* Deterministic bytes: byte i of stream @seed. */
static inline unsigned char t_byte(unsigned seed, uint64_t i)
{
	return (unsigned char)((i * 131u + seed * 7919u + (i >> 8)) & 0xff);
}
void t_fill(void *buf, size_t n, unsigned seed, uint64_t off);
bool t_check(const void *buf, size_t n, unsigned seed, uint64_t off);

#endif /* PN_TESTS_IO_HARNESS_H */
