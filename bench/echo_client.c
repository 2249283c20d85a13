// SPDX-License-Identifier: MIT
/*
 * The echo load generator: C connections to 127.0.0.1, each with exactly
 * one 64-byte request outstanding (closed loop: the next request on a
 * connection leaves when its reply is complete), driven by one epoll loop
 * on a pinned thread. Each reply is compared byte for byte with its
 * request (every request is different: its sequence number and bytes
 * derived from it), and its round-trip time goes into the histogram.
 * Connection set-up is not timed. The loop is bounded: it gives up when
 * no reply has completed for timeout_ns (a lost request or reply), so a
 * slow machine only takes longer and a stuck server still fails.
 */
#include "echo.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn {
	int fd;
	uint32_t got;	 /* reply bytes so far */
	uint64_t left;	 /* requests still to send on it */
	uint64_t sent_t; /* when the current request left */
	unsigned char req[ECHO_MSG], rep[ECHO_MSG];
};

static int load_fail(struct echo_load *l, int err, const char *what)
{
	if (!l->err) {
		l->err = err < 0 ? err : -EPROTO;
		snprintf(l->what, sizeof(l->what), "%s: %s", what,
			 strerror(-l->err));
	}
	return l->err;
}

static int dial(struct echo_load *l, struct conn *c)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(l->port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return load_fail(l, -errno, "socket");
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return load_fail(l, -errno, "connect");
	return 0;
}

/* Request @seq: its number, then bytes that depend on it. */
static void make_req(unsigned char *p, uint64_t seq)
{
	memcpy(p, &seq, sizeof(seq));
	for (unsigned i = sizeof(seq); i < ECHO_MSG; i++)
		p[i] = (unsigned char)(seq * 31 + i * 7);
}

static int send_req(struct echo_load *l, struct conn *c, uint64_t *seq)
{
	make_req(c->req, (*seq)++);
	c->got = 0;
	c->left--;
	c->sent_t = pn_now_ns();
	/* 64 bytes into an empty socket buffer: one write, never partial. */
	if (write(c->fd, c->req, ECHO_MSG) != ECHO_MSG)
		return load_fail(l, -errno, "write");
	return 0;
}

/* Bytes arrived on @c: complete the reply, check it, send the next. */
static int on_readable(struct echo_load *l, struct conn *c, uint64_t *seq,
		       uint64_t *done)
{
	ssize_t r = read(c->fd, c->rep + c->got, ECHO_MSG - c->got);

	if (r <= 0)
		return r < 0 && errno == EAGAIN
			       ? 0
			       : load_fail(l, r ? -errno : -EPIPE, "read");
	c->got += (uint32_t)r;
	if (c->got < ECHO_MSG)
		return 0;
	bench_hist_record(l->hist, pn_now_ns() - c->sent_t);
	if (PN_UNLIKELY(l->corrupt) && *done == l->n / 2)
		c->rep[ECHO_MSG - 1] ^= 1;
	if (memcmp(c->rep, c->req, ECHO_MSG))
		return load_fail(l, -EPROTO, "reply differs from request");
	++*done;
	return c->left ? send_req(l, c, seq) : 0;
}

static int loop(struct echo_load *l, struct conn *cs, int ep)
{
	struct epoll_event ev[64];
	uint64_t seq = 0, done = 0, seen = 0, t0, progress;

	t0 = progress = pn_now_ns();
	for (unsigned i = 0; i < l->conns; i++)
		if (cs[i].left && send_req(l, &cs[i], &seq) < 0)
			return l->err;
	while (done < l->n) {
		int n = epoll_wait(ep, ev, 64, 100);

		if (n < 0 && errno != EINTR)
			return load_fail(l, -errno, "epoll_wait");
		for (int i = 0; i < n; i++)
			if (on_readable(l, &cs[ev[i].data.u32], &seq, &done) <
			    0)
				return l->err;
		if (done != seen) {
			seen = done;
			progress = pn_now_ns();
		} else if (pn_now_ns() - progress > l->timeout_ns) {
			return load_fail(l, -ETIMEDOUT, "no reply completed");
		}
	}
	l->ns = pn_now_ns() - t0;
	return 0;
}

static int setup(struct echo_load *l, struct conn *cs, int ep)
{
	for (unsigned i = 0; i < l->conns; i++) {
		struct epoll_event e = {.events = EPOLLIN, .data.u32 = i};

		cs[i].left = l->n / l->conns + (i < l->n % l->conns);
		if (dial(l, &cs[i]) < 0)
			return l->err;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &e) < 0)
			return load_fail(l, -errno, "epoll_ctl");
	}
	return 0;
}

void *echo_load_run(void *arg)
{
	struct echo_load *l = arg;
	struct conn *cs = calloc(l->conns, sizeof(*cs));
	int ep = epoll_create1(EPOLL_CLOEXEC);

	l->err = 0;
	if (!cs || ep < 0) {
		load_fail(l, -ENOMEM, "set-up");
	} else {
		for (unsigned i = 0; i < l->conns; i++)
			cs[i].fd = -1;
		if (setup(l, cs, ep) == 0)
			loop(l, cs, ep);
		for (unsigned i = 0; i < l->conns; i++)
			if (cs[i].fd >= 0)
				close(cs[i].fd);
	}
	if (ep >= 0)
		close(ep);
	free(cs);
	return NULL;
}
