// SPDX-License-Identifier: MIT
/*
 * The metrics endpoint and io/'s metrics source. An actor on the
 * supervisor shard listens (through that shard's own io_uring, like any
 * other io/ user) and answers GET /metrics with pn_metrics_prom() of a
 * fresh snapshot, in HTTP/1.1 with Connection: close, so a scrape costs the
 * application shards nothing but the relaxed loads of their counters from
 * the supervisor core. Anything else gets 404 (another path), 405 (another
 * method) or 400 (no request line within 4 KiB). At most MAX_CONNS
 * requests are served at once; more are closed at once.
 *
 * The io source (pn_io_metrics_register) turns each shard's struct
 * pn_io_stats into registered per-shard counters: pinion_io_*.
 */
#include "pn_io.h"
#include "pn_metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CONNS 16
#define REQ_MAX	  4096
#define CHUNK	  (256u << 10) /* bytes per pn_io_send() */

/* --- io's counters as a metrics source ---------------------------------- */

static const char *const io_names[] = {
	"accepted",	"connected",	"recv_bytes", "sent_bytes",
	"send_eagain",	"send_enobufs", "nobufs",     "rearms",
	"zc_sends",	"errors",	"handles",    "bufs_lent",
	"queued_bytes", "dropped",	"capped",     "timeouts",
};
#define IO_N (sizeof(io_names) / sizeof(io_names[0]))
static const unsigned char io_gauge[IO_N] = {[10] = 1, [11] = 1, [12] = 1};

static void io_collect(struct pn_ctx *ctx, void *arg, uint64_t *v)
{
	struct pn_io_stats st;

	(void)arg;
	_Static_assert(sizeof(st) == IO_N * sizeof(uint64_t),
		       "io_names mirrors struct pn_io_stats");
	if (pn_io_stats_get(ctx, &st) == 0)
		memcpy(v, &st, sizeof(st));
}

static const struct pn_metrics_source io_source = {
	.name = "io",
	.n = IO_N,
	.names = io_names,
	.is_gauge = io_gauge,
	.collect = io_collect,
};

int pn_io_metrics_register(struct pn_runtime *rt)
{
	return pn_metrics_source_register(rt, &io_source);
}

/* --- the endpoint ----------------------------------------------------------
 */

/* pn_io_metrics_serve()'s rendezvous with the server's init. */
struct start {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	int err;
	uint16_t port;
	struct sockaddr_in addr;
};

struct conn {
	pn_io_handle h; /* PN_IO_NONE: free */
	uint32_t len;
	bool answered;
	char req[REQ_MAX];
};

struct server {
	pn_io_handle listener;
	struct conn c[MAX_CONNS];
};

static int server_init(struct pn_ctx *ctx, void *state, const void *arg,
		       size_t len)
{
	struct server *sv = state;
	struct start *st = *(struct start *const *)arg;
	struct pn_io_opts o = {.flags = PN_IO_REUSEADDR | PN_IO_RECV_COPY |
					PN_IO_NODELAY};
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int err, fd;

	(void)len;
	err = pn_io_listen(ctx, (const struct sockaddr *)&st->addr,
			   sizeof(st->addr), &o, &sv->listener);
	if (!err && ((fd = pn_io_fd(ctx, sv->listener)) < 0 ||
		     getsockname(fd, (struct sockaddr *)&a, &alen) < 0))
		err = -EIO;
	pthread_mutex_lock(&st->mu);
	st->err = err;
	st->port = err ? 0 : ntohs(a.sin_port);
	st->done = true;
	pthread_cond_signal(&st->cv);
	pthread_mutex_unlock(&st->mu);
	return err; /* @st is the caller's: not touched after this */
}

static struct conn *conn_of(struct server *sv, pn_io_handle h)
{
	for (int i = 0; i < MAX_CONNS; i++)
		if (sv->c[i].h == h)
			return &sv->c[i];
	return NULL;
}

static void reply(struct pn_ctx *ctx, struct conn *c, const char *status,
		  const char *type, const char *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %s\r\nContent-Type: %s\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			 status, type, len);
	int err = pn_io_send(ctx, c->h, head, (size_t)n);

	for (size_t off = 0; !err && off < len; off += CHUNK)
		err = pn_io_send(ctx, c->h, body + off,
				 len - off < CHUNK ? len - off : CHUNK);
	c->answered = true;
	if (err) /* queue full or connection gone: drop it */
		pn_io_abort(ctx, c->h);
	else
		pn_io_close(ctx, c->h); /* after what is queued is sent */
}

static void serve_metrics(struct pn_ctx *ctx, struct conn *c)
{
	struct pn_metrics *m = NULL;
	char *body = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&body, &len);
	int err = f ? pn_metrics_snapshot(pn_ctx_runtime(ctx), &m) : -ENOMEM;

	if (!err)
		err = pn_metrics_prom(m, f);
	if (f)
		fclose(f);
	pn_metrics_free(m);
	if (err)
		reply(ctx, c, "500 Internal Server Error", "text/plain",
		      "snapshot failed\n", 16);
	else
		reply(ctx, c, "200 OK", "text/plain; version=0.0.4", body, len);
	free(body);
}

/* A whole request head is in c->req: answer it. */
static void request(struct pn_ctx *ctx, struct conn *c)
{
	if (strncmp(c->req, "GET ", 4) != 0 && strncmp(c->req, "HEAD ", 5) != 0)
		reply(ctx, c, "405 Method Not Allowed", "text/plain",
		      "GET only\n", 9);
	else if (strncmp(c->req + 4, "/metrics ", 9) == 0 ||
		 strncmp(c->req + 4, "/metrics?", 9) == 0)
		serve_metrics(ctx, c);
	else
		reply(ctx, c, "404 Not Found", "text/plain", "try /metrics\n",
		      13);
}

static void on_data(struct pn_ctx *ctx, struct server *sv,
		    const struct pn_msg *m)
{
	const struct pn_io_ev *ev = pn_io_ev(m);
	struct conn *c = conn_of(sv, ev->h);
	size_t n = ev->res > 0 ? (size_t)ev->res : 0;

	pn_io_buf_release(ctx, ev->buf); /* PN_IO_NOBUF with RECV_COPY */
	if (!c || c->answered)
		return;
	if (n > REQ_MAX - 1 - c->len) {
		reply(ctx, c, "400 Bad Request", "text/plain",
		      "request too long\n", 17);
		return;
	}
	memcpy(c->req + c->len, pn_io_data(m), n);
	c->len += (uint32_t)n;
	c->req[c->len] = 0;
	if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n"))
		request(ctx, c);
}

static void on_accept(struct pn_ctx *ctx, struct server *sv,
		      const struct pn_io_ev *ev)
{
	struct conn *c = conn_of(sv, PN_IO_NONE);

	if (!c || pn_io_recv_start(ctx, ev->conn) < 0) {
		pn_io_abort(ctx, ev->conn);
		return;
	}
	c->h = ev->conn;
	c->len = 0;
	c->answered = false;
}

static int server_handle(struct pn_ctx *ctx, void *state,
			 const struct pn_msg *m)
{
	struct server *sv = state;
	const struct pn_io_ev *ev = pn_io_ev(m);
	struct conn *c;

	switch (m->type) {
	case PN_MSG_IO_ACCEPT:
		on_accept(ctx, sv, ev);
		break;
	case PN_MSG_IO_DATA:
		on_data(ctx, sv, m);
		break;
	case PN_MSG_IO_EOF:
		if ((c = conn_of(sv, ev->h)) && !c->answered)
			pn_io_close(ctx, c->h);
		break;
	case PN_MSG_IO_CLOSED:
		if ((c = conn_of(sv, ev->h)))
			c->h = PN_IO_NONE;
		break;
	case PN_MSG_STOPPING:
	case PN_MSG_SHUTDOWN:
		for (int i = 0; i < MAX_CONNS; i++)
			if (sv->c[i].h)
				pn_io_abort(ctx, sv->c[i].h);
		if (sv->listener)
			pn_io_close(ctx, sv->listener);
		sv->listener = PN_IO_NONE;
		break;
	}
	return 0;
}

static const struct pn_behaviour server_b = {
	.name = "pinion.metrics",
	.state_size = sizeof(struct server),
	.init = server_init,
	.handle = server_handle,
};

/* "host:port" (IPv4) into @a. */
static int parse_addr(const char *s, struct sockaddr_in *a)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	char *end;
	unsigned long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	port = strtoul(colon + 1, &end, 10);
	if (*end || port > 65535 || colon[1] == 0)
		return -EINVAL;
	*a = (struct sockaddr_in){.sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port)};
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -EINVAL;
}

static int wait_start(struct start *st)
{
	struct timespec ts;
	int err = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	pthread_mutex_lock(&st->mu);
	while (!st->done && err == 0)
		err = pthread_cond_timedwait(&st->cv, &st->mu, &ts);
	pthread_mutex_unlock(&st->mu);
	return st->done ? st->err : -ETIMEDOUT;
}

int pn_io_metrics_serve(struct pn_runtime *rt, const char *addr, uint16_t *port)
{
	struct start *st;
	struct pn_spawn_opts o = {.shard = PN_SHARD_SUPERVISOR};
	pn_pid pid;
	int err;

	if (port)
		*port = 0;
	if (!addr && !(addr = getenv("PINION_METRICS_ADDR")))
		return 0; /* off by default */
	if (!(st = calloc(1, sizeof(*st))))
		return pn__error(-ENOMEM, "metrics endpoint: out of memory");
	if (parse_addr(addr, &st->addr) < 0) {
		free(st);
		return pn__error(-EINVAL,
				 "metrics endpoint: \"%s\" is not "
				 "IPv4 host:port",
				 addr);
	}
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->cv, NULL);
	o.arg = &st;
	o.arg_len = sizeof(st);
	err = pn_runtime_spawn(rt, &server_b, &o, &pid);
	if (!err)
		err = wait_start(st);
	if (err == -ETIMEDOUT) /* init may still come: leave @st to it */
		return pn__error(err, "metrics endpoint: no answer in 5 s");
	pthread_mutex_destroy(&st->mu);
	pthread_cond_destroy(&st->cv);
	if (!err && port)
		*port = st->port;
	free(st);
	if (err)
		return pn__error(err, "metrics endpoint on %s: %s", addr,
				 strerror(-err));
	return 0;
}
