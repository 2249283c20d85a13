// SPDX-License-Identifier: MIT
/*
 * Backpressure: a peer that never reads. The server streams to it until
 * pn_io_send() refuses (-EAGAIN: the connection's queue is full), and the
 * shard's queued bytes stay within the bound; once the peer reads, a
 * PN_MSG_IO_WRITABLE comes and the stream completes byte for byte. With a
 * shard-wide bound smaller than two queues, the second connection is
 * refused with -ENOBUFS instead, and both streams still complete (no
 * connection starves another).
 */
#include "harness.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define CHUNK	  (16u << 10)
#define TOTAL	  (4u << 20)
#define QUEUE	  (256u << 10)
#define C_READY	  1
#define C_FULL	  2
#define C_DONE	  3
#define C_FAIL	  -1
#define MAX_CONNS 2

struct shared {
	uint16_t port;
	unsigned want;	/* connections before pumping */
	int refused[2]; /* first refusal per connection */
	unsigned writable[2];
	uint64_t max_queued; /* st.queued_bytes at refusals */
	uint64_t queued_at_full;
	unsigned closed;
	struct pn_io_stats st;
	char what[128];
};

struct conn {
	pn_io_handle h;
	uint64_t off;
	bool done;
};

struct pump {
	struct shared *sh;
	pn_io_handle l;
	unsigned n, full;
	struct conn c[MAX_CONNS];
	unsigned char chunk[CHUNK];
};

static int pump_fail(struct pump *p, const char *what, int err)
{
	snprintf(p->sh->what, sizeof(p->sh->what), "%s: %s", what,
		 pn_io_strerror(err));
	pn_runtime_notify(t_rt, C_FAIL);
	return 0;
}

/* Send conn @i's stream until it is refused or complete. */
static int pump(struct pn_ctx *ctx, struct pump *p, unsigned i)
{
	struct conn *c = &p->c[i];
	struct pn_io_stats st;
	int err = 0;

	while (!c->done && c->off < TOTAL) {
		t_fill(p->chunk, CHUNK, i + 1, c->off);
		err = pn_io_send(ctx, c->h, p->chunk, CHUNK);
		if (err < 0)
			break;
		c->off += CHUNK;
	}
	if (err == -EAGAIN || err == -ENOBUFS) {
		pn_io_stats_get(ctx, &st);
		if (st.queued_bytes > p->sh->max_queued)
			p->sh->max_queued = st.queued_bytes;
		if (!p->sh->refused[i]) {
			p->sh->refused[i] = err;
			if (++p->full == p->n) {
				p->sh->queued_at_full = st.queued_bytes;
				pn_runtime_notify(t_rt, C_FULL);
			}
		}
		return 0;
	}
	if (err < 0)
		return pump_fail(p, "send", err);
	if (!c->done) {
		c->done = true;
		if ((err = pn_io_close(ctx, c->h)) < 0)
			return pump_fail(p, "close", err);
	}
	return 0;
}

static int on_accept(struct pn_ctx *ctx, struct pump *p,
		     const struct pn_io_ev *ev)
{
	if (p->n == MAX_CONNS)
		return pump_fail(p, "accept", -EMFILE);
	p->c[p->n].h = ev->conn;
	pn_io_set_udata(ctx, ev->conn, p->n);
	if (++p->n < p->sh->want)
		return 0;
	for (unsigned i = 0; i < p->n; i++)
		pump(ctx, p, i);
	return 0;
}

static int pump_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct pump *p = state;
	const struct pn_io_ev *ev = pn_io_ev(m);
	struct sockaddr_in a = t_addr(0);
	/* A small kernel send buffer, so the queue fills quickly. */
	struct pn_io_opts o = {.flags = PN_IO_NODELAY, .sndbuf = 16384};
	int err;

	switch (m->type) {
	case T_GO:
		err = pn_io_listen(ctx, (struct sockaddr *)&a, sizeof(a), &o,
				   &p->l);
		if (err < 0)
			return pump_fail(p, "listen", err);
		p->sh->port = t_port(ctx, p->l);
		pn_runtime_notify(t_rt, C_READY);
		return 0;
	case PN_MSG_IO_ACCEPT:
		return on_accept(ctx, p, ev);
	case PN_MSG_IO_WRITABLE:
		p->sh->writable[ev->udata]++;
		return pump(ctx, p, (unsigned)ev->udata);
	case PN_MSG_IO_CLOSED:
		if (ev->res < 0)
			return pump_fail(p, "closed", ev->res);
		if (++p->sh->closed == p->n) {
			pn_io_stats_get(ctx, &p->sh->st);
			pn_runtime_notify(t_rt, C_DONE);
		}
		return 0;
	case PN_MSG_IO_ERROR:
		return pump_fail(p, pn_io_op_name(ev->op), ev->res);
	default:
		return 0;
	}
}

static int pump_init(struct pn_ctx *ctx, void *state, const void *arg,
		     size_t len)
{
	(void)ctx;
	(void)len;
	((struct pump *)state)->sh = *(struct shared *const *)arg;
	return 0;
}

static const struct pn_behaviour pump_b = {.name = "test-pump",
					   .state_size = sizeof(struct pump),
					   .init = pump_init,
					   .handle = pump_handle};

/* A client that reads nothing until told, with a small receive buffer. */
static int lazy_client(uint16_t port)
{
	struct sockaddr_in a = t_addr(port);
	struct timeval tv = {.tv_sec = 5};
	int fd = socket(AF_INET, SOCK_STREAM, 0), rcv = 4096;

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Read conn @i's whole stream and check every byte, then EOF. */
static void drain(int fd, unsigned i)
{
	static unsigned char buf[CHUNK];

	for (uint64_t off = 0; off < TOTAL; off += CHUNK) {
		assert_int_equal(t_read_full(fd, buf, CHUNK), 0);
		if (!t_check(buf, CHUNK, i + 1, off))
			fail_msg("stream %u: wrong bytes at %llu", i,
				 (unsigned long long)off);
	}
	assert_int_equal(t_read_full(fd, buf, 1), -EPIPE);
}

static void run(struct shared *sh, const struct pn_io_config *cfg,
		unsigned nconn)
{
	struct shared *arg = sh;
	int fd[MAX_CONNS], code;
	pn_pid p;

	sh->want = nconn;
	t_start(cfg);
	p = t_spawn(&pump_b, 0, &arg, sizeof(arg));
	t_send(p, T_GO, NULL, 0);
	t_expect(C_READY);
	for (unsigned i = 0; i < nconn; i++)
		fd[i] = lazy_client(sh->port);
	code = t_next(T_WAIT);
	if (code != C_FULL)
		fail_msg("code %d: %s", code, sh->what);
	for (unsigned i = 0; i < nconn; i++)
		drain(fd[i], i);
	code = t_next(T_WAIT);
	if (code != C_DONE)
		fail_msg("code %d: %s", code, sh->what);
	for (unsigned i = 0; i < nconn; i++)
		close(fd[i]);
	t_finish();
}

static void test_backpressure_never_reading_peer(void **state)
{
	static struct shared sh;
	struct pn_io_config cfg;

	(void)state;
	memset(&sh, 0, sizeof(sh));
	pn_io_config_init(&cfg);
	cfg.send_queue_bytes = QUEUE;
	run(&sh, &cfg, 1);
	assert_int_equal(sh.refused[0], -EAGAIN);
	/* Memory stayed bounded: never more than one queue's worth. */
	assert_true(sh.max_queued <= QUEUE);
	assert_true(sh.queued_at_full > QUEUE - CHUNK);
	assert_true(sh.writable[0] >= 1);
	assert_true(sh.st.send_eagain >= 1);
	assert_int_equal(sh.st.queued_bytes, 0);
}

static void test_backpressure_shard_bound(void **state)
{
	static struct shared sh;
	struct pn_io_config cfg;

	(void)state;
	memset(&sh, 0, sizeof(sh));
	pn_io_config_init(&cfg);
	cfg.send_queue_bytes = QUEUE;
	cfg.shard_send_bytes = QUEUE + QUEUE / 2;
	run(&sh, &cfg, 2);
	assert_int_equal(sh.refused[0], -EAGAIN);
	assert_int_equal(sh.refused[1], -ENOBUFS);
	assert_true(sh.max_queued <= cfg.shard_send_bytes);
	assert_true(sh.writable[0] >= 1 && sh.writable[1] >= 1);
	assert_true(sh.st.send_enobufs >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_backpressure_never_reading_peer,
					  t_teardown),
		cmocka_unit_test_teardown(test_backpressure_shard_bound,
					  t_teardown),
	};

	return cmocka_run_group_tests_name("io_backpressure", tests, NULL,
					   NULL);
}
