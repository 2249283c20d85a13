// SPDX-License-Identifier: MIT
/*
 * TCP through io/: accept, echo and close with many connections spread
 * over two shards (SO_REUSEPORT); a peer that resets mid-message; graceful
 * close and abort; zero-copy sends in order with copied ones; receive in
 * copy mode; handing a connection to an actor on the other shard. The test
 * thread is the client (blocking sockets, 5 s timeouts, 127.0.0.1 only).
 */
#include "harness.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define NCONN	64
#define MSG	100
#define ROUNDS	3
#define ZC_LEN	(1u << 20)
#define C_READY 10 /* + server id */
#define C_DONE	20
#define C_FAIL	-1

enum mode {
	M_ECHO,
	M_CLOSE_AFTER,
	M_ABORT_AFTER,
	M_ZC,
	M_HANDOFF,
	M_WORKER,
	M_STUFF, /* fill the send queue, then tell the test */
};

struct shared {
	uint16_t port;
	unsigned want;		 /* CLOSED to see before C_DONE */
	_Atomic unsigned closed; /* across both servers */
	unsigned accepted[2];
	unsigned resets[2];
	uint64_t bytes[2];
	int close_res[2];
	int stale_rc[2]; /* an op on a handle after its CLOSED */
	int zc_res;
	unsigned adopted_shard;
	uint64_t adopted_udata;
	struct pn_io_stats st[2];
	char what[128];
};

struct srv {
	struct shared *sh;
	int id;
	uint16_t port;
	unsigned flags;
	int mode;
	pn_pid peer;
	pn_io_handle l;
};

static unsigned char zc_buf[ZC_LEN];

static int srv_fail(struct srv *s, const char *what, int err)
{
	snprintf(s->sh->what, sizeof(s->sh->what), "%s: %s (%s)", what,
		 pn_io_strerror(err), pn_last_error());
	pn_runtime_notify(t_rt, C_FAIL);
	return 0;
}

static int start(struct pn_ctx *ctx, struct srv *s)
{
	struct sockaddr_in a = t_addr(s->port);
	struct pn_io_opts o = {.flags = s->flags | PN_IO_NODELAY |
					PN_IO_REUSEPORT | PN_IO_REUSEADDR};
	int err =
		pn_io_listen(ctx, (struct sockaddr *)&a, sizeof(a), &o, &s->l);

	if (err < 0)
		return srv_fail(s, "listen", err);
	if (s->id == 0)
		s->sh->port = t_port(ctx, s->l);
	pn_runtime_notify(t_rt, C_READY + s->id);
	return 0;
}

static int on_data(struct pn_ctx *ctx, struct srv *s, const struct pn_msg *m)
{
	const struct pn_io_ev *ev = pn_io_ev(m);
	int err;

	s->sh->bytes[s->id] += (uint64_t)ev->res;
	err = pn_io_send(ctx, ev->h, pn_io_data(m), (size_t)ev->res);
	pn_io_buf_release(ctx, ev->buf);
	pn_io_buf_release(ctx, ev->buf); /* a double release is refused */
	/* -EBADF: the connection failed meanwhile (its CLOSED is queued
	 * behind this DATA); -EPIPE: it is closing. Neither is an error. */
	if (err < 0 && err != -EPIPE && err != -EBADF)
		return srv_fail(s, "send", err);
	if (s->mode == M_CLOSE_AFTER && (err = pn_io_close(ctx, ev->h)) < 0)
		return srv_fail(s, "close", err);
	if (s->mode == M_ABORT_AFTER && (err = pn_io_abort(ctx, ev->h)) < 0)
		return srv_fail(s, "abort", err);
	return 0;
}

/* M_ZC: a header (copied), 1 MiB lent, a trailer (copied), in order. */
static int send_zc(struct pn_ctx *ctx, struct srv *s, pn_io_handle c)
{
	int err = pn_io_send(ctx, c, "HDR", 3);

	if (!err)
		err = pn_io_send_zc(ctx, c, zc_buf, ZC_LEN);
	if (!err)
		err = pn_io_send(ctx, c, "TRL", 3);
	return err < 0 ? srv_fail(s, "zc send", err) : 0;
}

static int on_closed(struct pn_ctx *ctx, struct srv *s,
		     const struct pn_io_ev *ev)
{
	struct shared *sh = s->sh;

	sh->close_res[s->id] = ev->res;
	if (ev->res == -ECONNRESET || ev->res == -EPIPE)
		sh->resets[s->id]++;
	sh->stale_rc[s->id] = pn_io_send(ctx, ev->h, "x", 1);
	pn_io_stats_get(ctx, &sh->st[s->id]);
	if (atomic_fetch_add(&sh->closed, 1) + 1 == sh->want)
		pn_runtime_notify(t_rt, C_DONE);
	return 0;
}

static int on_accept(struct pn_ctx *ctx, struct srv *s,
		     const struct pn_io_ev *ev)
{
	int err;

	s->sh->accepted[s->id]++;
	if ((err = pn_io_recv_start(ctx, ev->conn)) < 0)
		return srv_fail(s, "recv_start", err);
	if (s->mode == M_ZC)
		return send_zc(ctx, s, ev->conn);
	if (s->mode == M_STUFF) {
		while ((err = pn_io_send(ctx, ev->conn, zc_buf, 65536)) == 0)
			;
		if (err != -EAGAIN)
			return srv_fail(s, "stuff", err);
		pn_runtime_notify(t_rt, C_DONE);
	}
	return 0;
}

/*
 * M_HANDOFF: the greeting arrives here; its 8 bytes travel as the
 * hand-off's udata, and the worker on the other shard answers them.
 */
static int handoff(struct pn_ctx *ctx, struct srv *s, const struct pn_msg *m)
{
	const struct pn_io_ev *ev = pn_io_ev(m);
	uint64_t greeting = 0;
	int err;

	if (ev->res != 8)
		return srv_fail(s, "greeting length", -EPROTO);
	memcpy(&greeting, pn_io_data(m), 8);
	pn_io_buf_release(ctx, ev->buf);
	if ((err = pn_io_handoff(ctx, ev->h, s->peer, greeting)) < 0)
		return srv_fail(s, "handoff", err);
	if ((err = pn_io_send(ctx, ev->h, "x", 1)) != -EPIPE)
		return srv_fail(s, "send after handoff", err ? err : -EPROTO);
	return 0;
}

static int adopt(struct pn_ctx *ctx, struct srv *s, const struct pn_msg *m)
{
	uint64_t greeting = pn_io_ev(m)->udata;
	pn_io_handle h;
	int err = pn_io_adopt(ctx, m, &h);

	if (err < 0)
		return srv_fail(s, "adopt", err);
	s->sh->adopted_shard = pn_io_handle_shard(h);
	s->sh->adopted_udata = greeting;
	if ((err = pn_io_send(ctx, h, &greeting, 8)) < 0 ||
	    (err = pn_io_recv_start(ctx, h)) < 0)
		return srv_fail(s, "worker start", err);
	return 0;
}

static int srv_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct srv *s = state;
	const struct pn_io_ev *ev = pn_io_ev(m);

	switch (m->type) {
	case T_GO:
		return start(ctx, s);
	case PN_MSG_IO_ACCEPT:
		return on_accept(ctx, s, ev);
	case PN_MSG_IO_DATA:
		if (s->mode == M_HANDOFF)
			return handoff(ctx, s, m);
		return on_data(ctx, s, m);
	case PN_MSG_IO_EOF:
		return pn_io_close(ctx, ev->h) < 0
			       ? srv_fail(s, "close", -EBADF)
			       : 0;
	case PN_MSG_IO_CLOSED:
		return on_closed(ctx, s, ev);
	case PN_MSG_IO_ZC_DONE:
		s->sh->zc_res = ev->res;
		return 0;
	case PN_MSG_IO_HANDOFF:
		return adopt(ctx, s, m);
	case PN_MSG_IO_ERROR:
		return srv_fail(s, pn_io_op_name(ev->op), ev->res);
	default:
		return 0;
	}
}

static int srv_init(struct pn_ctx *ctx, void *state, const void *arg,
		    size_t len)
{
	(void)ctx;
	memcpy(state, arg, len);
	return 0;
}

static const struct pn_behaviour srv_b = {.name = "test-srv",
					  .state_size = sizeof(struct srv),
					  .init = srv_init,
					  .handle = srv_handle};

static pn_pid srv_spawn(struct shared *sh, int id, int shard, int mode,
			unsigned flags, pn_pid peer)
{
	struct srv s = {.sh = sh,
			.id = id,
			.port = sh->port,
			.flags = flags,
			.mode = mode,
			.peer = peer};

	return t_spawn(&srv_b, shard, &s, sizeof(s));
}

/* One listening server (on shard 0), started; returns its port. */
static uint16_t one_server(struct shared *sh, int mode, unsigned flags,
			   pn_pid peer)
{
	pn_pid p = srv_spawn(sh, 0, 0, mode, flags, peer);

	t_send(p, T_GO, NULL, 0);
	t_expect(C_READY);
	assert_true(sh->port != 0);
	return sh->port;
}

static void expect_done(struct shared *sh)
{
	int code = t_next(T_WAIT);

	if (code != C_DONE)
		fail_msg("code %d: %s", code, sh->what);
}

/* Write and read back one message of @n bytes on @fd, stream @seed. */
static void echo_once(int fd, unsigned seed, uint64_t off, size_t n)
{
	unsigned char out[MSG], in[MSG];

	t_fill(out, n, seed, off);
	assert_int_equal(t_write_full(fd, out, n), 0);
	assert_int_equal(t_read_full(fd, in, n), 0);
	assert_true(t_check(in, n, seed, off));
}

static void test_tcp_echo_many_connections(void **state)
{
	static struct shared sh;
	int fd[NCONN];
	pn_pid p1;

	(void)state;
	memset(&sh, 0, sizeof(sh));
	sh.want = NCONN;
	t_start(NULL);
	one_server(&sh, M_ECHO, 0, PN_PID_NONE);
	p1 = srv_spawn(&sh, 1, 1, M_ECHO, 0, PN_PID_NONE);
	t_send(p1, T_GO, NULL, 0);
	t_expect(C_READY + 1);
	for (int i = 0; i < NCONN; i++)
		assert_true((fd[i] = t_connect(sh.port)) >= 0);
	for (int r = 0; r < ROUNDS; r++)
		for (int i = 0; i < NCONN; i++)
			echo_once(fd[i], (unsigned)i, (uint64_t)r * MSG, MSG);
	for (int i = 0; i < NCONN; i++)
		close(fd[i]);
	expect_done(&sh);
	t_finish();
	assert_int_equal(sh.accepted[0] + sh.accepted[1], NCONN);
	/* SO_REUSEPORT spreads 64 connections over both listeners. */
	assert_true(sh.accepted[0] > 0 && sh.accepted[1] > 0);
	assert_int_equal(sh.bytes[0] + sh.bytes[1], NCONN * MSG * ROUNDS);
	assert_int_equal(sh.close_res[0], 0);
	assert_int_equal(sh.stale_rc[0], -EBADF);
	assert_int_equal(sh.st[0].bufs_lent + sh.st[1].bufs_lent, 0);
}

static void test_tcp_reset_mid_message_closes_only_that_one(void **state)
{
	static struct shared sh;
	unsigned char half[MSG / 2];
	int good, bad;

	(void)state;
	memset(&sh, 0, sizeof(sh));
	sh.want = 2;
	t_start(NULL);
	one_server(&sh, M_ECHO, 0, PN_PID_NONE);
	assert_true((good = t_connect(sh.port)) >= 0);
	assert_true((bad = t_connect(sh.port)) >= 0);
	echo_once(good, 1, 0, MSG);
	t_fill(half, sizeof(half), 2, 0);
	assert_int_equal(t_write_full(bad, half, sizeof(half)), 0);
	t_reset(bad);
	/* The other connection is untouched, before and after. */
	for (int r = 1; r < 20; r++)
		echo_once(good, 1, (uint64_t)r * MSG, MSG);
	close(good);
	expect_done(&sh);
	t_finish();
	assert_int_equal(sh.resets[0], 1);
	assert_int_equal(sh.st[0].handles, 1); /* the listener */
}

static void test_tcp_close_flushes_abort_resets(void **state)
{
	static struct shared sh;
	unsigned char in[MSG];
	int fd, err;

	(void)state;
	memset(&sh, 0, sizeof(sh));
	sh.want = 1;
	t_start(NULL);
	one_server(&sh, M_CLOSE_AFTER, 0, PN_PID_NONE);
	assert_true((fd = t_connect(sh.port)) >= 0);
	echo_once(fd, 3, 0, MSG); /* queued before the close: delivered */
	assert_int_equal(t_read_full(fd, in, 1), -EPIPE); /* then EOF */
	close(fd);
	expect_done(&sh);
	t_finish();

	memset(&sh, 0, sizeof(sh));
	sh.want = 1;
	t_start(NULL);
	one_server(&sh, M_ABORT_AFTER, 0, PN_PID_NONE);
	assert_true((fd = t_connect(sh.port)) >= 0);
	t_fill(in, MSG, 4, 0);
	assert_int_equal(t_write_full(fd, in, MSG), 0);
	expect_done(&sh);
	/* Whatever was sent before the abort, the end is a reset. */
	do
		err = t_read_full(fd, in, 1);
	while (err == 0);
	assert_int_equal(err, -ECONNRESET);
	close(fd);
	t_finish();
}

static void test_tcp_zero_copy_in_order(void **state)
{
	static struct shared sh;
	static unsigned char in[ZC_LEN];
	char hdr[3];
	int fd;

	(void)state;
	memset(&sh, 0, sizeof(sh));
	sh.want = 1;
	t_fill(zc_buf, ZC_LEN, 9, 0);
	t_start(NULL);
	one_server(&sh, M_ZC, 0, PN_PID_NONE);
	assert_true((fd = t_connect(sh.port)) >= 0);
	assert_int_equal(t_read_full(fd, hdr, 3), 0);
	assert_memory_equal(hdr, "HDR", 3);
	assert_int_equal(t_read_full(fd, in, ZC_LEN), 0);
	assert_true(t_check(in, ZC_LEN, 9, 0));
	assert_int_equal(t_read_full(fd, hdr, 3), 0);
	assert_memory_equal(hdr, "TRL", 3);
	close(fd);
	expect_done(&sh);
	t_finish();
	assert_int_equal(sh.zc_res, ZC_LEN);
	assert_int_equal(sh.st[0].zc_sends, 1);
}

static void test_tcp_recv_copy_mode(void **state)
{
	static struct shared sh;
	int fd;

	(void)state;
	memset(&sh, 0, sizeof(sh));
	sh.want = 1;
	t_start(NULL);
	one_server(&sh, M_ECHO, PN_IO_RECV_COPY, PN_PID_NONE);
	assert_true((fd = t_connect(sh.port)) >= 0);
	for (int r = 0; r < 50; r++)
		echo_once(fd, 5, (uint64_t)r * MSG, MSG);
	close(fd);
	expect_done(&sh);
	t_finish();
	assert_int_equal(sh.bytes[0], 50 * MSG);
	assert_int_equal(sh.st[0].bufs_lent, 0);
}

static void test_tcp_handoff_to_other_shard(void **state)
{
	static struct shared sh;
	uint64_t hello = 0x0123456789abcdefull, back = 0;
	pn_pid worker;
	int fd;

	(void)state;
	memset(&sh, 0, sizeof(sh));
	sh.want = 1;
	t_start(NULL);
	worker = srv_spawn(&sh, 1, 1, M_WORKER, 0, PN_PID_NONE);
	one_server(&sh, M_HANDOFF, 0, worker);
	assert_true((fd = t_connect(sh.port)) >= 0);
	assert_int_equal(t_write_full(fd, &hello, 8), 0);
	assert_int_equal(t_read_full(fd, &back, 8), 0); /* from shard 1 */
	assert_true(back == hello);
	for (int r = 0; r < 10; r++)
		echo_once(fd, 6, (uint64_t)r * MSG, MSG);
	close(fd);
	expect_done(&sh);
	t_finish();
	assert_int_equal(sh.adopted_shard, 1);
	assert_true(sh.adopted_udata == hello);
	assert_int_equal(sh.bytes[1], 10 * MSG);
}

/* Shut down while a listener accepts and a connection receives with a
 * full send queue to a peer that never reads: the io stage cancels what
 * is in the kernel and closes everything, promptly and (under ASan)
 * without a leak. */
static void test_tcp_shutdown_with_live_connections(void **state)
{
	static struct shared sh;
	int fd;

	(void)state;
	memset(&sh, 0, sizeof(sh));
	t_start(NULL);
	one_server(&sh, M_STUFF, 0, PN_PID_NONE);
	assert_true((fd = t_connect(sh.port)) >= 0);
	expect_done(&sh);
	t_finish();
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_tcp_echo_many_connections,
					  t_teardown),
		cmocka_unit_test_teardown(
			test_tcp_reset_mid_message_closes_only_that_one,
			t_teardown),
		cmocka_unit_test_teardown(test_tcp_close_flushes_abort_resets,
					  t_teardown),
		cmocka_unit_test_teardown(test_tcp_zero_copy_in_order,
					  t_teardown),
		cmocka_unit_test_teardown(test_tcp_recv_copy_mode, t_teardown),
		cmocka_unit_test_teardown(test_tcp_handoff_to_other_shard,
					  t_teardown),
		cmocka_unit_test_teardown(
			test_tcp_shutdown_with_live_connections, t_teardown),
	};

	return cmocka_run_group_tests_name("io_tcp", tests, NULL, NULL);
}
