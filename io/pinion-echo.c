// SPDX-License-Identifier: MIT
/*
 * pinion-echo: a TCP echo server on Pinion, one listener per shard
 * (SO_REUSEPORT, so the kernel spreads connections over the shards), one
 * echo actor per shard serving every connection that shard accepts. Any
 * TCP client can load it; pinion-bench's echo workload runs the same
 * server in-process.
 *
 *   pinion-echo --port P [--shards N] [--busy-poll] [--addr A]
 *               [--duration S]
 *
 * --addr defaults to 127.0.0.1; --duration stops after S seconds (else
 * SIGINT/SIGTERM). Backpressure is end to end: when a connection's send
 * queue is full the actor stops receiving on it and keeps the buffer it
 * could not echo; PN_MSG_IO_WRITABLE sends it and resumes receiving.
 * Exit status: 0, 1 on a runtime error, 2 on a usage error.
 */
#include "pn_io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define READY 1000 /* + shard: that shard's listener is up */

struct echo_cfg {
	struct sockaddr_in addr;
	bool busy;
};

/* Bytes a connection could not echo yet, oldest first. */
struct held {
	const void *data;
	int32_t len;
	unsigned buf;
	struct held *next;
};

/* Per connection, allocated at accept; its address is the handle's udata. */
struct conn {
	struct held *head, *tail;
};

struct echo {
	struct echo_cfg cfg;
	pn_io_handle l;
};

static int echo_init(struct pn_ctx *ctx, void *state, const void *arg,
		     size_t len)
{
	struct echo *e = state;
	struct pn_io_opts o = {.flags = PN_IO_NODELAY | PN_IO_REUSEPORT |
					PN_IO_REUSEADDR};
	int err;

	memcpy(&e->cfg, arg, len);
	o.busy_poll_us = e->cfg.busy ? 50 : 0;
	err = pn_io_listen(ctx, (struct sockaddr *)&e->cfg.addr,
			   sizeof(e->cfg.addr), &o, &e->l);
	if (err == -EPERM && o.busy_poll_us) { /* SO_BUSY_POLL needs root */
		o.busy_poll_us = 0;
		err = pn_io_listen(ctx, (struct sockaddr *)&e->cfg.addr,
				   sizeof(e->cfg.addr), &o, &e->l);
	}
	if (err < 0) {
		fprintf(stderr, "pinion-echo: shard %u: listen: %s (%s)\n",
			pn_shard(ctx), pn_io_strerror(err), pn_last_error());
		return err;
	}
	pn_runtime_notify(pn_ctx_runtime(ctx), READY + (int)pn_shard(ctx));
	return 0;
}

/* Keep @ev's buffer behind the ones already waiting; stop receiving. */
static int hold(struct pn_ctx *ctx, struct conn *c, const struct pn_io_ev *ev)
{
	struct held *h = malloc(sizeof(*h));

	if (!h)
		return pn_io_abort(ctx, ev->h);
	*h = (struct held){ev->data, ev->res, ev->buf, NULL};
	if (c->tail)
		c->tail->next = h;
	else
		c->head = h;
	c->tail = h;
	return pn_io_recv_stop(ctx, ev->h);
}

static int on_data(struct pn_ctx *ctx, const struct pn_io_ev *ev)
{
	struct conn *c = (struct conn *)(uintptr_t)ev->udata;
	int err;

	if (c->head) /* older bytes wait: keep the order */
		return hold(ctx, c, ev);
	err = pn_io_send(ctx, ev->h, ev->data, (size_t)ev->res);
	if (err == -EAGAIN || err == -ENOBUFS)
		return hold(ctx, c, ev);
	pn_io_buf_release(ctx, ev->buf);
	if (err < 0 && err != -EPIPE && err != -EBADF)
		return pn_io_abort(ctx, ev->h);
	return 0;
}

/* Room again: send what waited, in order, then receive again. */
static int on_writable(struct pn_ctx *ctx, const struct pn_io_ev *ev)
{
	struct conn *c = (struct conn *)(uintptr_t)ev->udata;
	struct held *h;

	while ((h = c->head) != NULL) {
		int err = pn_io_send(ctx, ev->h, h->data, (size_t)h->len);

		if (err == -EAGAIN || err == -ENOBUFS)
			return 0; /* another WRITABLE will come */
		pn_io_buf_release(ctx, h->buf);
		c->head = h->next;
		free(h);
	}
	c->tail = NULL;
	return pn_io_recv_start(ctx, ev->h);
}

static int on_accept(struct pn_ctx *ctx, const struct pn_io_ev *ev)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return pn_io_abort(ctx, ev->conn);
	pn_io_set_udata(ctx, ev->conn, (uint64_t)(uintptr_t)c);
	return pn_io_recv_start(ctx, ev->conn);
}

static void on_closed(struct pn_ctx *ctx, const struct pn_io_ev *ev)
{
	struct conn *c = (struct conn *)(uintptr_t)ev->udata;
	struct held *h, *next;

	if (!c)
		return;
	for (h = c->head; h; h = next) {
		next = h->next;
		pn_io_buf_release(ctx, h->buf);
		free(h);
	}
	free(c);
}

static int echo_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	const struct pn_io_ev *ev = pn_io_ev(m);

	(void)state;
	switch (m->type) {
	case PN_MSG_IO_ACCEPT:
		on_accept(ctx, ev);
		break;
	case PN_MSG_IO_DATA:
		on_data(ctx, ev);
		break;
	case PN_MSG_IO_WRITABLE:
		on_writable(ctx, ev);
		break;
	case PN_MSG_IO_EOF:
		pn_io_close(ctx, ev->h);
		break;
	case PN_MSG_IO_CLOSED:
		on_closed(ctx, ev);
		break;
	default: /* ERROR: -ENOBUFS and accept failures are retried */
		break;
	}
	return 0;
}

static const struct pn_behaviour echo_b = {.name = "pinion-echo",
					   .state_size = sizeof(struct echo),
					   .init = echo_init,
					   .handle = echo_handle};

static void usage(FILE *f)
{
	fprintf(f, "usage: pinion-echo --port P [--shards N] [--busy-poll] "
		   "[--addr A] [--duration S]\n");
}

static int parse(int argc, char **argv, struct echo_cfg *e, unsigned *shards,
		 long *duration)
{
	static const struct option opts[] = {
		{"port", required_argument, NULL, 'p'},
		{"shards", required_argument, NULL, 's'},
		{"busy-poll", no_argument, NULL, 'b'},
		{"addr", required_argument, NULL, 'a'},
		{"duration", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	long port = -1;
	char *end;
	int c;

	e->addr =
		(struct sockaddr_in){.sin_family = AF_INET,
				     .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			port = strtol(optarg, &end, 10);
			if (*end || port < 0 || port > 65535)
				port = -2;
			break;
		case 's':
			*shards = (unsigned)strtoul(optarg, &end, 10);
			if (*end || *shards == 0 || *shards > 1024)
				return -1;
			break;
		case 'b':
			e->busy = true;
			break;
		case 'a':
			if (inet_pton(AF_INET, optarg, &e->addr.sin_addr) != 1)
				return -1;
			break;
		case 'd':
			*duration = strtol(optarg, &end, 10);
			if (*end || *duration <= 0)
				return -1;
			break;
		default:
			return -1;
		}
	}
	if (port <= 0 || optind != argc) /* every shard needs the same port */
		return -1;
	e->addr.sin_port = htons((uint16_t)port);
	return 0;
}

/* Wait for SIGINT/SIGTERM, or @duration seconds. */
static void wait_stop(const sigset_t *set, long duration)
{
	struct timespec ts = {.tv_sec = duration};

	if (duration > 0)
		sigtimedwait(set, NULL, &ts);
	else
		while (sigwaitinfo(set, NULL) < 0 && errno == EINTR)
			;
}

static int start(struct pn_runtime *rt, struct echo_cfg *e, unsigned n)
{
	struct pn_spawn_opts so = {.arg = e, .arg_len = sizeof(*e)};
	pn_pid pid;
	int code;

	for (unsigned i = 0; i < n; i++) {
		so.shard = (int)i;
		if (pn_runtime_spawn(rt, &echo_b, &so, &pid) < 0 ||
		    pn_runtime_wait(rt, 5000000000ull, &code) < 0 ||
		    code != READY + (int)i)
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct echo_cfg e = {0};
	struct pn_runtime *rt;
	struct pn_config c;
	unsigned shards = 0;
	long duration = 0;
	sigset_t set;

	if (parse(argc, argv, &e, &shards, &duration) < 0) {
		usage(stderr);
		return 2;
	}
	/* Shard threads inherit the mask: only sigwait sees the signals. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pn_config_init(&c);
	if (pn_config_from_env(&c) < 0)
		goto fail;
	c.plan.shards = shards;
	c.busy_poll = e.busy;
	if (pn_runtime_create(&c, &rt) < 0)
		goto fail;
	if (pn_io_init(rt, NULL) < 0 || pn_runtime_start(rt) < 0 ||
	    start(rt, &e, pn_runtime_nshards(rt)) < 0) {
		fprintf(stderr, "pinion-echo: %s\n", pn_last_error());
		pn_runtime_destroy(rt);
		return 1;
	}
	printf("pinion-echo: %s:%u, %u shards%s\n", inet_ntoa(e.addr.sin_addr),
	       ntohs(e.addr.sin_port), pn_runtime_nshards(rt),
	       e.busy ? ", busy-polling" : "");
	fflush(stdout);
	wait_stop(&set, duration);
	pn_runtime_destroy(rt);
	return 0;
fail:
	fprintf(stderr, "pinion-echo: %s\n", pn_last_error());
	return 1;
}
