// SPDX-License-Identifier: MIT
/*
 * The echo baseline: a plain single-threaded epoll echo server, the way
 * one is usually written (non-blocking sockets, level-triggered epoll,
 * read then write back what was read), on one pinned thread. It is what
 * Pinion's echo server is compared with, on the same cpu, against the same
 * load generator. An eventfd in its epoll set stops it.
 */
#include "echo.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define STOP_KEY   UINT64_MAX
#define LISTEN_KEY (UINT64_MAX - 1)
#define MAX_FD	   4096

struct echo_epoll {
	const struct bench_cpus *cpus;
	int cpu;
	int lfd, ep, stop;
	pthread_t th;
	bool open[MAX_FD]; /* connections to close at the end */
};

static void add(int ep, int fd, uint64_t key)
{
	struct epoll_event e = {.events = EPOLLIN, .data.u64 = key};

	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
}

static void on_accept(struct echo_epoll *s)
{
	int one = 1,
	    fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (fd >= MAX_FD) {
		close(fd);
		return;
	}
	s->open[fd] = true;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	add(s->ep, fd, (uint64_t)fd);
}

/* Echo what is there; a write that would block waits for room (rare:
 * the generator keeps one 64-byte request in flight per connection). */
static void on_readable(struct echo_epoll *s, int fd)
{
	char buf[4096];
	ssize_t r = read(fd, buf, sizeof(buf)), w = 0;

	if (r <= 0) {
		if (r == 0 || errno != EAGAIN) {
			epoll_ctl(s->ep, EPOLL_CTL_DEL, fd, NULL);
			s->open[fd] = false;
			close(fd);
		}
		return;
	}
	while (w < r) {
		ssize_t n = write(fd, buf + w, (size_t)(r - w));

		if (n < 0 && errno != EAGAIN)
			return;
		w += n > 0 ? n : 0;
	}
}

static void *serve(void *arg)
{
	struct echo_epoll *s = arg;
	struct epoll_event ev[64];

	if (pn_thread_pin(s->cpus->topo, s->cpu) < 0)
		fprintf(stderr, "pinion-bench: epoll echo: pin: %s\n",
			pn_last_error());
	for (;;) {
		int n = epoll_wait(s->ep, ev, 64, -1);

		for (int i = 0; i < n; i++) {
			uint64_t k = ev[i].data.u64;

			if (k == STOP_KEY)
				return NULL;
			if (k == LISTEN_KEY)
				on_accept(s);
			else
				on_readable(s, (int)k);
		}
	}
}

int echo_epoll_start(const struct bench_cpus *cpus, int cpu, uint16_t *port,
		     struct echo_epoll **out)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	struct echo_epoll *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return -ENOMEM;
	*s = (struct echo_epoll){.cpus = cpus, .cpu = cpu};
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	s->stop = eventfd(0, EFD_CLOEXEC);
	if (s->lfd < 0 || s->ep < 0 || s->stop < 0 ||
	    bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(s->lfd, SOMAXCONN) < 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&a, &len) < 0) {
		err = -errno;
		goto fail;
	}
	add(s->ep, s->lfd, LISTEN_KEY);
	add(s->ep, s->stop, STOP_KEY);
	if ((err = -pthread_create(&s->th, NULL, serve, s)) < 0)
		goto fail;
	*port = ntohs(a.sin_port);
	*out = s;
	return 0;
fail:
	close(s->lfd);
	close(s->ep);
	close(s->stop);
	free(s);
	return err;
}

void echo_epoll_stop(struct echo_epoll *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	if (write(s->stop, &one, sizeof(one)) != sizeof(one))
		perror("pinion-bench: epoll echo: stop");
	pthread_join(s->th, NULL);
	for (int fd = 0; fd < MAX_FD; fd++)
		if (s->open[fd])
			close(fd);
	close(s->lfd);
	close(s->ep);
	close(s->stop);
	free(s);
}
