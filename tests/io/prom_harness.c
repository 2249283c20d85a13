// SPDX-License-Identifier: MIT
/*
 * The metrics endpoint tests' fixture: see prom_harness.h.
 */
#include "prom_harness.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define T_LOAD	 0x300u
#define C_PROBE	 0x51
#define SLOW_HDR "GET /metrics HTTP/1.1\r\nX-Slow: "

struct load {
	pn_pid sink;
};

/* Every millisecond: 500 messages to the sink on the other shard. */
static int load_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct load *l = state;

	if (m->type == T_GO)
		l->sink = pn_msg_u64(m);
	if (m->type != T_GO && m->type != T_LOAD)
		return 0;
	for (int i = 0; i < 500; i++)
		if (pn_send_u64(ctx, l->sink, T_LOAD, (uint64_t)i) < 0)
			break;
	return pn_send_after(ctx, 1000000, T_LOAD, NULL, 0, NULL);
}

static int sink_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	(void)ctx;
	(void)state;
	(void)m;
	return 0;
}

static const struct pn_behaviour load_b = {
	.name = "test.load",
	.state_size = sizeof(struct load),
	.handle = load_handle,
};
static const struct pn_behaviour sink_b = {
	.name = "test.sink",
	.handle = sink_handle,
};

uint16_t p_serve(const struct pn_io_metrics_opts *o)
{
	struct pn_io_metrics_opts def = {.addr = "127.0.0.1:0"};
	struct pn_config c;
	uint16_t port = 0;
	pn_pid sink, load;

	pn_config_init(&c);
	c.plan.shards = 2;
	c.spin_ns = 1000;
	assert_int_equal(pn_runtime_create(&c, &t_rt), 0);
	assert_int_equal(pn_io_init(t_rt, NULL), 0);
	assert_int_equal(pn_io_metrics_register(t_rt), 0);
	assert_int_equal(pn_runtime_start(t_rt), 0);
	if (pn_io_metrics_serve_opts(t_rt, o ? o : &def, &port) != 0)
		fail_msg("serve: %s", pn_last_error());
	assert_true(port != 0);
	sink = t_spawn(&sink_b, 1, NULL, 0);
	load = t_spawn(&load_b, 0, NULL, 0);
	t_send(load, T_GO, &sink, sizeof(sink));
	return port;
}

uint64_t p_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * T_SEC + (uint64_t)ts.tv_nsec;
}

char *p_http(uint16_t port, const char *req, size_t len)
{
	int fd = t_connect(port);
	size_t got = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	ssize_t n;

	assert_true(fd >= 0);
	assert_non_null(buf);
	/* A server that answers early may reset before all is sent. */
	(void)t_write_full(fd, req, len ? len : strlen(req));
	while ((n = read(fd, buf + got, cap - got - 1)) > 0) {
		got += (size_t)n;
		if (got + 1 == cap) {
			char *nb = realloc(buf, cap *= 2);

			assert_non_null(nb);
			buf = nb;
		}
	}
	close(fd);
	buf[got] = 0;
	return buf;
}

char *p_scrape(uint16_t port, const char *auth)
{
	char req[512];

	snprintf(req, sizeof(req),
		 "GET /metrics HTTP/1.1\r\nHost: t\r\n%s%s\r\n",
		 auth ? auth : "", auth ? "\r\n" : "");
	return p_http(port, req, 0);
}

int p_status(const char *resp)
{
	int st = 0;

	if (sscanf(resp, "HTTP/1.1 %3d ", &st) != 1)
		return 0;
	return st;
}

long p_content_length(const char *resp)
{
	const char *h = strstr(resp, "\r\nContent-Length: ");

	return h ? strtol(h + 18, NULL, 10) : -1;
}

const char *p_body(const char *resp, size_t *len)
{
	const char *b = strstr(resp, "\r\n\r\n");

	b = b ? b + 4 : resp + strlen(resp);
	*len = strlen(b);
	return b;
}

/* Byte @i of the slow head: a request line, then a field never ending. */
static char slow_byte(unsigned i)
{
	return i < sizeof(SLOW_HDR) - 1 ? SLOW_HDR[i] : 'a';
}

bool p_closed_within(int fd, uint64_t ns, bool trickle)
{
	uint64_t end = p_now() + ns, next = p_now();
	unsigned sent = 0;
	char buf[4096];

	for (uint64_t now = p_now(); now < end; now = p_now()) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		uint64_t until = trickle && next < end ? next : end;
		int ms = until > now ? (int)((until - now) / T_MS) + 1 : 0;

		if (trickle && now >= next) {
			char c = slow_byte(sent);

			if (send(fd, &c, 1, MSG_NOSIGNAL) < 0)
				return true; /* reset already */
			/* 100-200 ms apart: the attack, not a wait */
			next = now + (100 + (sent++ * 37) % 100) * T_MS;
			continue;
		}
		if (poll(&pf, 1, ms) > 0) {
			ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

			if (n == 0 ||
			    (n < 0 && errno != EAGAIN && errno != EINTR))
				return true;
		}
	}
	return false;
}

/* --- the deadline probe ------------------------------------------------ */

static uint16_t probe_port;

/* Listens; gives each connection a 30 ms deadline and reads it. */
static int probe_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct sockaddr_in a = t_addr(0);
	const struct pn_io_ev *ev = pn_io_ev(m);
	pn_io_handle *l = state;

	switch (m->type) {
	case T_GO:
		if (pn_io_listen(ctx, (struct sockaddr *)&a, sizeof(a), NULL,
				 l) == 0)
			probe_port = t_port(ctx, *l);
		pn_runtime_notify(t_rt, C_PROBE);
		break;
	case PN_MSG_IO_ACCEPT:
		pn_io_set_deadline(ctx, ev->conn, 30 * T_MS);
		pn_io_recv_start(ctx, ev->conn);
		break;
	case PN_MSG_IO_DATA:
		pn_io_buf_release(ctx, ev->buf);
		break;
	}
	return 0;
}

static const struct pn_behaviour probe_b = {
	.name = "test.deadline_probe",
	.state_size = sizeof(pn_io_handle),
	.handle = probe_handle,
};

bool p_io_deadlines(void)
{
	static int known = -1;
	int fd;

	if (known >= 0)
		return known;
	t_send(t_spawn(&probe_b, 0, NULL, 0), T_GO, NULL, 0);
	t_expect(C_PROBE);
	assert_true(probe_port != 0);
	fd = t_connect(probe_port);
	assert_true(fd >= 0);
	known = p_closed_within(fd, 2 * T_SEC, false);
	close(fd);
	if (!known)
		print_message("io/ does not enforce pn_io_set_deadline() yet: "
			      "deadline tests skipped\n");
	return known;
}

char *p_stderr_of(void (*fn)(void *), void *arg)
{
	size_t got = 0, cap = 4096;
	char *buf = malloc(cap);
	int p[2], saved;
	ssize_t n;

	assert_non_null(buf);
	assert_int_equal(pipe(p), 0);
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_true(dup2(p[1], 2) == 2);
	fn(arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(p[1]);
	while ((n = read(p[0], buf + got, cap - got - 1)) > 0)
		got += (size_t)n;
	close(p[0]);
	buf[got] = 0;
	return buf;
}
