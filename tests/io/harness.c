// SPDX-License-Identifier: MIT
/*
 * The io tests' fixture: see harness.h.
 */
#include "harness.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

struct pn_runtime *t_rt;

struct pn_runtime *t_start(const struct pn_io_config *io)
{
	struct pn_config c;
	int err;

	pn_config_init(&c);
	c.plan.shards = 2;
	c.spin_ns = 1000;
	err = pn_runtime_create(&c, &t_rt);
	if (err)
		fail_msg("pn_runtime_create: %s", pn_last_error());
	err = pn_io_init(t_rt, io);
	if (err)
		fail_msg("pn_io_init: %s", pn_last_error());
	err = pn_runtime_start(t_rt);
	if (err)
		fail_msg("pn_runtime_start: %s", pn_last_error());
	return t_rt;
}

void t_finish(void)
{
	struct pn_shutdown_report rep;
	int err = pn_runtime_shutdown(t_rt, 5 * T_SEC, &rep);

	if (err)
		fail_msg("shutdown: %s", rep.text);
	assert_int_equal(rep.shards_abandoned, 0);
	pn_runtime_destroy(t_rt);
	t_rt = NULL;
}

int t_teardown(void **state)
{
	(void)state;
	if (t_rt) {
		pn_runtime_destroy(t_rt);
		t_rt = NULL;
	}
	return 0;
}

int t_next(uint64_t timeout_ns)
{
	int code;

	if (pn_runtime_wait(t_rt, timeout_ns, &code) < 0)
		return INT32_MIN;
	return code;
}

void t_expect(int code)
{
	int got = t_next(T_WAIT);

	if (got == INT32_MIN)
		fail_msg("no code %d within %llu s", code,
			 (unsigned long long)(T_WAIT / T_SEC));
	if (got != code)
		fail_msg("code %d, expected %d", got, code);
}

pn_pid t_spawn(const struct pn_behaviour *b, int shard, const void *arg,
	       size_t len)
{
	struct pn_spawn_opts so = {.shard = shard, .arg = arg, .arg_len = len};
	pn_pid pid;

	if (pn_runtime_spawn(t_rt, b, &so, &pid))
		fail_msg("spawn %s: %s", b->name, pn_last_error());
	return pid;
}

void t_send(pn_pid to, uint32_t type, const void *data, size_t len)
{
	if (pn_runtime_send(t_rt, to, type, data, len, T_SEC))
		fail_msg("send: %s", pn_last_error());
}

struct sockaddr_in t_addr(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	return a;
}

uint16_t t_port(struct pn_ctx *ctx, pn_io_handle h)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = pn_io_fd(ctx, h);

	if (fd < 0 || getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return 0;
	return ntohs(a.sin_port);
}

uint16_t t_closed_port(void)
{
	struct sockaddr_in a = t_addr(0);
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

int t_connect(uint16_t port)
{
	struct sockaddr_in a = t_addr(port);
	struct timeval tv = {.tv_sec = 5};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int t_read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);

		if (r == 0)
			return -EPIPE;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		got += (size_t)r;
	}
	return 0;
}

int t_write_full(int fd, const void *buf, size_t n)
{
	size_t put = 0;

	while (put < n) {
		ssize_t w = send(fd, (const char *)buf + put, n - put,
				 MSG_NOSIGNAL);

		if (w < 0)
			return -errno;
		put += (size_t)w;
	}
	return 0;
}

void t_reset(int fd)
{
	struct linger l = {.l_onoff = 1, .l_linger = 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

void t_fill(void *buf, size_t n, unsigned seed, uint64_t off)
{
	unsigned char *p = buf;

	for (size_t i = 0; i < n; i++)
		p[i] = t_byte(seed, off + i);
}

bool t_check(const void *buf, size_t n, unsigned seed, uint64_t off)
{
	const unsigned char *p = buf;

	for (size_t i = 0; i < n; i++)
		if (p[i] != t_byte(seed, off + i))
			return false;
	return true;
}
