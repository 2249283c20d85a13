// SPDX-License-Identifier: MIT
/*
 * pinion-echo: a TCP echo server on Pinion, one listener per shard
 * (SO_REUSEPORT, so the kernel spreads connections over the shards), one
 * echo actor per shard serving every connection that shard accepts. Any
 * TCP client can load it; pinion-bench's echo workload runs the same
 * server in-process.
 *
 *   pinion-echo --port P [--shards N] [--busy-poll] [--addr A]
 *               [--duration S] [--idle MS] [--drain MS] [--max-conns N]
 *
 * --addr defaults to 127.0.0.1 (any other address is reachable from other
 * hosts: said on stderr); --duration stops after S seconds (else
 * SIGINT/SIGTERM). --shards and --busy-poll override PINION_SHARDS and
 * PINION_BUSY_POLL, which apply when they are not given. Backpressure is
 * end to end: when a connection's send queue is full the actor stops
 * receiving on it and keeps the buffer it could not echo;
 * PN_MSG_IO_WRITABLE sends it and resumes receiving. A peer that
 * half-closes gets every byte it sent before the close.
 *
 * Limits, so that a bad peer costs only its own connection: a connection
 * silent for --idle MS (default 60000) or whose echoes have not moved for
 * --drain MS (a peer that never reads; default 10000) is reset (io/'s
 * idle_ns and drain_ns); each shard serves at most --max-conns (default
 * 10000) connections and, when full, resets its least recently active one
 * to admit a new one; io/ caps the receive buffers one connection holds
 * (pn_io_recv_start). Exit status: 0, 1 on a runtime error, 2 on a usage
 * error.
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
	bool busy, busy_set;
	unsigned long shards, max_conns;
	uint64_t idle_ns, drain_ns;
};

/* Bytes a connection could not echo yet, oldest first. */
struct held {
	const void *data;
	int32_t len;
	unsigned buf;
	struct held *next;
};

/*
 * Per connection, allocated at accept; its address is the handle's udata.
 * Live connections are on the shard actor's list, least recently active
 * first (the one shed when the shard is full); a shed one is off it.
 */
struct conn {
	pn_io_handle h;
	struct held *head, *tail;
	bool eof;		  /* the peer half-closed: close once flushed */
	bool shed;		  /* reset to admit another: CLOSED is due */
	struct conn *prev, *next; /* activity order */
};

struct echo {
	struct echo_cfg cfg;
	pn_io_handle l;
	struct conn lru; /* list head: lru.next is the oldest */
	unsigned long nconns;
};

static void lru_del(struct echo *e, struct conn *c)
{
	if (!c->next)
		return;
	c->prev->next = c->next;
	c->next->prev = c->prev;
	c->prev = c->next = NULL;
	e->nconns--;
}

/* Most recently active: to the tail. */
static void lru_touch(struct echo *e, struct conn *c)
{
	if (c->next) {
		c->prev->next = c->next;
		c->next->prev = c->prev;
	} else {
		e->nconns++;
	}
	c->prev = e->lru.prev;
	c->next = &e->lru;
	e->lru.prev->next = c;
	e->lru.prev = c;
}

static int echo_init(struct pn_ctx *ctx, void *state, const void *arg,
		     size_t len)
{
	struct echo *e = state;
	struct pn_io_opts o = {.flags = PN_IO_NODELAY | PN_IO_REUSEPORT |
					PN_IO_REUSEADDR};
	int err;

	memcpy(&e->cfg, arg, len);
	e->lru.prev = e->lru.next = &e->lru;
	o.busy_poll_us = e->cfg.busy ? 50 : 0;
	o.idle_ns = e->cfg.idle_ns;
	o.drain_ns = e->cfg.drain_ns;
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

static int on_data(struct pn_ctx *ctx, struct echo *e,
		   const struct pn_io_ev *ev)
{
	struct conn *c = (struct conn *)(uintptr_t)ev->udata;
	int err;

	if (c->shed) {
		pn_io_buf_release(ctx, ev->buf);
		return 0;
	}
	lru_touch(e, c);
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

/* Room again: send what waited, in order, then receive again (or, after
 * the peer's EOF, close: the queue is flushed before the descriptor). */
static int on_writable(struct pn_ctx *ctx, struct echo *e,
		       const struct pn_io_ev *ev)
{
	struct conn *c = (struct conn *)(uintptr_t)ev->udata;
	struct held *h;

	if (c->shed)
		return 0;
	lru_touch(e, c);
	while ((h = c->head) != NULL) {
		int err = pn_io_send(ctx, ev->h, h->data, (size_t)h->len);

		if (err == -EAGAIN || err == -ENOBUFS)
			return 0; /* another WRITABLE will come */
		pn_io_buf_release(ctx, h->buf);
		c->head = h->next;
		free(h);
	}
	c->tail = NULL;
	if (c->eof)
		return pn_io_close(ctx, ev->h);
	return pn_io_recv_start(ctx, ev->h);
}

/* The peer sent all it will: close once every byte is echoed. */
static int on_eof(struct pn_ctx *ctx, const struct pn_io_ev *ev)
{
	struct conn *c = (struct conn *)(uintptr_t)ev->udata;

	c->eof = true;
	return c->head || c->shed ? 0 : pn_io_close(ctx, ev->h);
}

static int on_accept(struct pn_ctx *ctx, struct echo *e,
		     const struct pn_io_ev *ev)
{
	struct conn *c;

	if (e->nconns >= e->cfg.max_conns) { /* shed the least active */
		struct conn *old = e->lru.next;

		lru_del(e, old);
		old->shed = true;
		pn_io_abort(ctx, old->h); /* its CLOSED frees it */
	}
	if (!(c = calloc(1, sizeof(*c))))
		return pn_io_abort(ctx, ev->conn);
	c->h = ev->conn;
	lru_touch(e, c);
	pn_io_set_udata(ctx, ev->conn, (uint64_t)(uintptr_t)c);
	return pn_io_recv_start(ctx, ev->conn);
}

static void on_closed(struct pn_ctx *ctx, struct echo *e,
		      const struct pn_io_ev *ev)
{
	struct conn *c = (struct conn *)(uintptr_t)ev->udata;
	struct held *h, *next;

	if (!c)
		return;
	lru_del(e, c);
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
	struct echo *e = state;

	switch (m->type) {
	case PN_MSG_IO_ACCEPT:
		on_accept(ctx, e, ev);
		break;
	case PN_MSG_IO_DATA:
		on_data(ctx, e, ev);
		break;
	case PN_MSG_IO_WRITABLE:
		on_writable(ctx, e, ev);
		break;
	case PN_MSG_IO_EOF:
		on_eof(ctx, ev);
		break;
	case PN_MSG_IO_CLOSED:
		on_closed(ctx, e, ev);
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
		   "[--addr A] [--duration S]\n"
		   "                   [--idle MS] [--drain MS] "
		   "[--max-conns N]\n");
}

/* A decimal number in [lo, hi] and nothing else (pn_parse_u64). */
static int num(const char *opt, const char *s, unsigned long lo,
	       unsigned long hi, unsigned long *out)
{
	uint64_t v;

	if (pn_parse_u64(s, lo, hi, &v, NULL) < 0) {
		fprintf(stderr,
			"pinion-echo: --%s \"%s\": expected a number in "
			"%lu..%lu\n",
			opt, s, lo, hi);
		return -1;
	}
	*out = (unsigned long)v;
	return 0;
}

static int parse(int argc, char **argv, struct echo_cfg *e, long *duration)
{
	static const struct option opts[] = {
		{"port", required_argument, NULL, 'p'},
		{"shards", required_argument, NULL, 's'},
		{"busy-poll", no_argument, NULL, 'b'},
		{"addr", required_argument, NULL, 'a'},
		{"duration", required_argument, NULL, 'd'},
		{"idle", required_argument, NULL, 'i'},
		{"drain", required_argument, NULL, 'r'},
		{"max-conns", required_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	unsigned long port = 0, v;
	int c;

	e->addr =
		(struct sockaddr_in){.sin_family = AF_INET,
				     .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	e->max_conns = 10000;
	e->idle_ns = 60000 * 1000000ull;
	e->drain_ns = 10000 * 1000000ull;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int err = 0;

		switch (c) {
		case 'p':
			err = num("port", optarg, 1, 65535, &port);
			break;
		case 's':
			err = num("shards", optarg, 1, 1024, &e->shards);
			break;
		case 'b':
			e->busy = e->busy_set = true;
			break;
		case 'a':
			if (inet_pton(AF_INET, optarg, &e->addr.sin_addr) == 1)
				break;
			fprintf(stderr,
				"pinion-echo: --addr \"%s\": not an IPv4 "
				"address\n",
				optarg);
			return -1;
		case 'd':
			err = num("duration", optarg, 1, 1u << 30, &v);
			*duration = (long)v;
			break;
		case 'i':
		case 'r':
			err = num(c == 'i' ? "idle" : "drain", optarg, 0,
				  1ul << 40, &v);
			/* 0: no deadline (io/ reads 0 as none) */
			*(c == 'i' ? &e->idle_ns : &e->drain_ns) =
				(uint64_t)v * 1000000u;
			break;
		case 'm':
			err = num("max-conns", optarg, 1, 1u << 22,
				  &e->max_conns);
			break;
		default:
			return -1;
		}
		if (err)
			return -1;
	}
	if (!port || optind != argc) /* every shard needs the same port */
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
	long duration = 0;
	sigset_t set;

	if (parse(argc, argv, &e, &duration) < 0) {
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
	if (e.shards) /* the command line wins over the environment */
		c.plan.shards = (unsigned)e.shards;
	if (e.busy_set)
		c.busy_poll = true;
	e.busy = c.busy_poll;
	if (e.addr.sin_addr.s_addr != htonl(INADDR_LOOPBACK))
		fprintf(stderr,
			"pinion-echo: warning: listening on %s, which other "
			"hosts can reach\n",
			inet_ntoa(e.addr.sin_addr));
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
