// SPDX-License-Identifier: MIT
/*
 * A TCP server with one actor per connection, the habits a real server
 * needs (README "io/", "A graceful stop"):
 *
 *   - an acceptor hands each connection to its own session actor, spawned
 *     on any shard (pn_io_handoff / pn_io_adopt);
 *   - a session acknowledges every 16-byte order; a refused send
 *     (-EAGAIN, -ENOBUFS) is backpressure, not a failure: it keeps the
 *     acks it could not send, stops receiving, and sends them on
 *     PN_MSG_IO_WRITABLE (never `return pn_send(...)`-style: a handler
 *     that returns the error fails the actor and loses the connection);
 *   - a client that is done half-closes: its session closes once every
 *     ack is out;
 *   - on shutdown each session defers its stop and lingers its connection
 *     closed (flush, FIN, the client's EOF), so a client still connected
 *     gets every ack and a clean end, not a reset.
 *
 * main plays four clients (two finish first, two are still connected
 * when the server shuts down), checks every ack arrived exactly once, in
 * order, and that shutdown lost nothing (no dead letter). Exit 0 on
 * success.
 */
#include "pinion.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CLIENTS 4
#define ORDERS	(BATCH * 40) /* per client */
#define BATCH	1024	     /* orders written before reading their acks */
#define FRAME	16	     /* an order and its ack: client id, sequence */
#define PENDING 4096	     /* acks a session keeps while the peer is slow */
#define READY	1

struct session {
	pn_io_handle h;
	unsigned char part[FRAME]; /* a frame split across two reads */
	unsigned npart, npend;
	unsigned char pend[PENDING][FRAME]; /* acks refused by the queue */
	bool deferring;
};

/* Send what waits; true when nothing is left. */
static bool flush(struct pn_ctx *ctx, struct session *s)
{
	unsigned i = 0;

	while (i < s->npend && pn_io_send(ctx, s->h, s->pend[i], FRAME) == 0)
		i++;
	memmove(s->pend, s->pend[i], (size_t)(s->npend - i) * FRAME);
	s->npend -= i;
	return s->npend == 0;
}

/* Acknowledge each whole order in @p (@n bytes). */
static void orders(struct pn_ctx *ctx, struct session *s, const char *p,
		   size_t n)
{
	while (n) {
		size_t take = FRAME - s->npart < n ? FRAME - s->npart : n;

		memcpy(s->part + s->npart, p, take);
		s->npart += (unsigned)take;
		p += take;
		n -= take;
		if (s->npart < FRAME)
			break;
		s->npart = 0;
		/* Behind older acks, or refused: keep it (bounded: the
		 * receive stops below until the queue drains). */
		if (s->npend || pn_io_send(ctx, s->h, s->part, FRAME) < 0)
			memcpy(s->pend[s->npend++], s->part, FRAME);
	}
	if (s->npend > PENDING - 1024 / FRAME)
		pn_io_recv_stop(ctx, s->h); /* WRITABLE restarts it */
}

static int session_handle(struct pn_ctx *ctx, void *state,
			  const struct pn_msg *m)
{
	struct session *s = state;
	const struct pn_io_ev *ev = pn_io_ev(m);

	switch (m->type) {
	case PN_MSG_IO_HANDOFF:
		if (pn_io_adopt(ctx, m, &s->h) < 0)
			return PN_STOP;
		return pn_io_recv_start(ctx, s->h) < 0 ? PN_STOP : 0;
	case PN_MSG_IO_DATA: /* PN_IO_RECV_COPY: the bytes are ours */
		orders(ctx, s, pn_io_data(m), (size_t)ev->res);
		break;
	case PN_MSG_IO_WRITABLE:
		if (flush(ctx, s))
			pn_io_recv_start(ctx, s->h); /* -EALREADY is fine */
		break;
	case PN_MSG_IO_EOF: /* the client is done: close after the acks */
		if (flush(ctx, s))
			pn_io_close(ctx, s->h);
		break;
	case PN_MSG_SHUTDOWN: /* still connected: finish, then stop */
		s->deferring = pn_shutdown_defer(ctx) == 0;
		flush(ctx, s);
		if (pn_io_close_linger(ctx, s->h, 2000000000ull) < 0 &&
		    s->deferring)
			pn_shutdown_done(ctx); /* closing already */
		break;
	case PN_MSG_IO_CLOSED:
		if (s->deferring)
			pn_shutdown_done(ctx);
		return PN_STOP;
	default:
		break;
	}
	return 0;
}

static const struct pn_behaviour session_b = {
	.name = "example.session",
	.state_size = sizeof(struct session),
	.handle = session_handle,
};

/* The acceptor: one listener, one session per connection. */
static int acceptor_handle(struct pn_ctx *ctx, void *state,
			   const struct pn_msg *m)
{
	pn_io_handle *l = state;
	const struct pn_io_ev *ev = pn_io_ev(m);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct pn_io_opts o = {.flags = PN_IO_NODELAY | PN_IO_RECV_COPY,
			       .idle_ns = 10000000000ull,
			       .drain_ns = 10000000000ull};
	struct pn_spawn_opts so = {.shard = PN_SHARD_ANY};
	socklen_t alen = sizeof(a);
	pn_pid session;

	switch (m->type) {
	case PN_MSG_STARTED:
		if (pn_io_listen(ctx, (struct sockaddr *)&a, sizeof(a), &o, l) <
			    0 ||
		    getsockname(pn_io_fd(ctx, *l), (struct sockaddr *)&a,
				&alen) < 0)
			return -1;
		pn_runtime_notify(pn_ctx_runtime(ctx),
				  READY + ntohs(a.sin_port));
		break;
	case PN_MSG_IO_ACCEPT:
		if (pn_spawn(ctx, &session_b, &so, &session) < 0 ||
		    pn_io_handoff(ctx, ev->conn, session, 0) < 0)
			pn_io_abort(ctx, ev->conn); /* this client only */
		break;
	case PN_MSG_SHUTDOWN:
		pn_io_close(ctx, *l);
		break;
	default:
		break;
	}
	return 0;
}

static const struct pn_behaviour acceptor_b = {
	.name = "example.acceptor",
	.state_size = sizeof(pn_io_handle),
	.handle = acceptor_handle,
};

/* --- the clients ---------------------------------------------------------- */

struct client {
	pthread_t th;
	unsigned id;
	uint16_t port;
	bool stay;  /* still connected at shutdown: expects the server's FIN */
	int result; /* 0, or what went wrong */
	unsigned acks;
	sem_t *acked; /* posted once every ack is in (stay clients) */
};

static int io_all(int fd, void *buf, size_t n, bool rd)
{
	size_t off = 0;

	while (off < n) {
		ssize_t r = rd ? read(fd, (char *)buf + off, n - off)
			       : write(fd, (char *)buf + off, n - off);

		if (r <= 0)
			return -1;
		off += (size_t)r;
	}
	return 0;
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(c->port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	uint64_t out[BATCH][2], in[BATCH][2];
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char end;

	c->result = -1;
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return NULL;
	for (unsigned seq = 0; seq < ORDERS; seq += BATCH) {
		for (unsigned i = 0; i < BATCH; i++)
			out[i][0] = c->id, out[i][1] = seq + i;
		if (io_all(fd, out, sizeof(out), false) < 0 ||
		    io_all(fd, in, sizeof(in), true) < 0 ||
		    memcmp(in, out, sizeof(in)) != 0)
			goto done; /* lost, duplicated or out of order */
		c->acks += BATCH;
	}
	if (c->stay) {
		sem_post(c->acked);
		/* The server's FIN, when it shuts down: read returns 0. */
		if (read(fd, &end, 1) != 0)
			goto done;
	} else {
		shutdown(fd, SHUT_WR); /* done: the server closes after us */
		if (read(fd, &end, 1) != 0)
			goto done;
	}
	c->result = 0;
done:
	close(fd);
	return NULL;
}

int main(void)
{
	struct client cl[CLIENTS];
	struct pn_shutdown_report rep;
	struct timespec until;
	sem_t acked;
	struct pn_io_config io;
	struct pn_runtime *rt;
	pn_pid acceptor;
	int code, rc = 1;

	/* A small send queue (1 KiB), so that backpressure really happens. */
	pn_io_config_init(&io);
	io.send_queue_bytes = 1024;
	if (pn_runtime_create(NULL, &rt) < 0 || pn_io_init(rt, &io) < 0 ||
	    pn_runtime_start(rt) < 0 ||
	    pn_runtime_spawn(rt, &acceptor_b, NULL, &acceptor) < 0 ||
	    pn_runtime_wait(rt, 5000000000ull, &code) < 0 || code <= READY) {
		fprintf(stderr, "tcp_server: %s\n", pn_last_error());
		return 1;
	}
	sem_init(&acked, 0, 0);
	for (unsigned i = 0; i < CLIENTS; i++) {
		cl[i] = (struct client){.id = i,
					.port = (uint16_t)(code - READY),
					.stay = i >= CLIENTS / 2,
					.acked = &acked};
		pthread_create(&cl[i].th, NULL, client_main, &cl[i]);
	}
	/* The first half finish and leave; wait for the others to have all
	 * their acks (bounded: a client that fails stops waiting too). */
	for (unsigned i = 0; i < CLIENTS / 2; i++)
		pthread_join(cl[i].th, NULL);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	for (unsigned i = CLIENTS / 2; i < CLIENTS; i++)
		if (sem_timedwait(&acked, &until) < 0)
			break; /* a client failed: its result says so */
	if (pn_runtime_shutdown(rt, 5000000000ull, &rep) < 0)
		fprintf(stderr, "tcp_server: shutdown: %s", rep.text);
	else if (rep.totals.dead_letters)
		fprintf(stderr, "tcp_server: %llu dead letters\n",
			(unsigned long long)rep.totals.dead_letters);
	else
		rc = 0;
	for (unsigned i = CLIENTS / 2; i < CLIENTS; i++)
		pthread_join(cl[i].th, NULL);
	for (unsigned i = 0; i < CLIENTS; i++)
		if (cl[i].result || cl[i].acks != ORDERS) {
			fprintf(stderr, "tcp_server: client %u: %u acks%s\n", i,
				cl[i].acks, cl[i].result ? ", failed" : "");
			rc = 1;
		}
	pn_runtime_destroy(rt);
	sem_destroy(&acked);
	if (rc == 0)
		printf("tcp_server: %u clients, %u acks each, shutdown clean\n",
		       CLIENTS, ORDERS);
	return rc;
}
