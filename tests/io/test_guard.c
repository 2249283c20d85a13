// SPDX-License-Identifier: MIT
/*
 * What one connection may cost its shard (io/guard.c).
 *
 * Share: eight connections whose owner keeps every buffer it is lent (as
 * a server does for a peer that never reads its replies) and one normal
 * connection, on a shard with 64 receive buffers. The hoarders are
 * paused at their share, so the normal connection's echoes keep coming
 * and no receive on the shard ever finds the ring empty; once the owner
 * gives the buffers back, the hoarders resume by themselves and every
 * byte they sent arrives.
 *
 * Deadlines: a silent connection ends after idle_ns, a talking one does
 * not; a peer that never reads ends after drain_ns, also while a graceful
 * close is flushing; pn_io_set_deadline() ends a connection that trickles
 * bytes, and UINT64_MAX clears it. Each ends with CLOSED -ETIMEDOUT.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NHOARD	8
#define NBUF	64
#define BUFSZ	1024
#define HOARD_B (256u << 10) /* bytes each hoarder's client sends */
#define ECHO_N	200	     /* round trips on the normal connection */
#define MAXHELD (NBUF * 2)

#define T_LISTEN  0x300u /* arg: struct pn_io_opts */
#define T_RELEASE 0x301u /* give every held buffer back, hold no more */
#define T_STATS	  0x302u
#define T_FLOOD	  0x303u /* queue bytes on every connection */
#define T_CLOSE	  0x304u /* pn_io_close every connection */
#define T_DEADL	  0x305u /* arg: uint64_t ns for every connection */
#define T_QUIET	  0x306u /* count and release data, echo nothing */
#define T_LINGER  0x307u /* arg: uint64_t ns: queue LINGER_B, linger */
#define LINGER_B  (256u << 10)
#define C_READY	  1
#define C_STATS	  2
#define C_CLOSED  3 /* a connection ended: shared.closed[] */
#define C_FAIL	  -1

struct shared {
	uint16_t port;
	unsigned nconn, nclosed, nobufs;
	int closed_res[16];
	pn_io_handle h[16];
	uint64_t bytes[16]; /* received, per connection (accept order) */
	uint32_t most_held[16];
	struct pn_io_stats st;
	uint32_t share;
	char what[128];
};

/* The actor works on its own copy (v) and publishes it to the test's
 * (out) just before each notify, so the test reads a settled copy. */
struct server {
	struct shared v, *out;
	struct shared *sh; /* == &v */
	pn_io_handle l;
	bool release, quiet;
	unsigned nheld;
	unsigned held[MAXHELD];
	uint32_t nheld_of[16];
};

static pthread_mutex_t pub_mu = PTHREAD_MUTEX_INITIALIZER;

static void notify(struct server *s, int code)
{
	pthread_mutex_lock(&pub_mu);
	*s->out = s->v;
	pthread_mutex_unlock(&pub_mu);
	pn_runtime_notify(t_rt, code);
}

static int srv_fail(struct server *s, const char *what, int err)
{
	snprintf(s->sh->what, sizeof(s->sh->what), "%s: %s", what,
		 pn_io_strerror(err));
	notify(s, C_FAIL);
	return 0;
}

static int conn_index(struct server *s, pn_io_handle h)
{
	for (unsigned i = 0; i < s->sh->nconn; i++)
		if (s->sh->h[i] == h)
			return (int)i;
	return -1;
}

/* Connection 0 is the normal one (echo, release at once); the rest
 * hoard until T_RELEASE. */
static int on_data(struct pn_ctx *ctx, struct server *s,
		   const struct pn_io_ev *ev)
{
	int i = conn_index(s, ev->h);

	if (i < 0)
		return srv_fail(s, "data from an unknown connection", -EPROTO);
	s->sh->bytes[i] += (uint64_t)ev->res;
	if (s->quiet) {
		pn_io_buf_release(ctx, ev->buf);
		return 0;
	}
	if (i == 0 || s->release) {
		if (i == 0 &&
		    pn_io_send(ctx, ev->h, ev->data, (size_t)ev->res) < 0)
			return srv_fail(s, "echo", -EIO);
		pn_io_buf_release(ctx, ev->buf);
		return 0;
	}
	if (s->nheld == MAXHELD)
		return srv_fail(s, "held more than the ring has", -EPROTO);
	s->held[s->nheld++] = ev->buf;
	if (++s->nheld_of[i] > s->sh->most_held[i])
		s->sh->most_held[i] = s->nheld_of[i];
	return 0;
}

static void each_conn(struct pn_ctx *ctx, struct server *s, uint32_t type,
		      const struct pn_msg *m)
{
	static const char blob[64 << 10];

	for (unsigned i = 0; i < s->sh->nconn; i++) {
		pn_io_handle h = s->sh->h[i];

		if (!h)
			continue;
		if (type == T_LINGER) {
			static const char big[LINGER_B];

			if (pn_io_send(ctx, h, big, sizeof(big)) < 0 ||
			    pn_io_close_linger(
				    ctx, h, *(const uint64_t *)pn_msg_data(m)) <
				    0 ||
			    pn_io_close_linger(ctx, h, 0) != -EALREADY ||
			    pn_io_send(ctx, h, "x", 1) != -EPIPE)
				srv_fail(s, "linger", -EIO);
			continue;
		}
		if (type == T_FLOOD)
			while (pn_io_send(ctx, h, blob, sizeof(blob)) == 0)
				;
		else if (type == T_CLOSE && i == 0)
			pn_io_close(ctx, h);
		else if (type == T_CLOSE)
			continue;
		else if (pn_io_set_deadline(
				 ctx, h, *(const uint64_t *)pn_msg_data(m)) < 0)
			srv_fail(s, "pn_io_set_deadline", -EIO);
	}
}

static int srv_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct server *s = state;
	const struct pn_io_ev *ev = pn_io_ev(m);
	struct sockaddr_in a = t_addr(0);
	int i, err;

	switch (m->type) {
	case T_LISTEN:
		err = pn_io_listen(ctx, (struct sockaddr *)&a, sizeof(a),
				   pn_msg_data(m), &s->l);
		if (err < 0)
			return srv_fail(s, "listen", err);
		s->sh->port = t_port(ctx, s->l);
		notify(s, C_READY);
		return 0;
	case PN_MSG_IO_ACCEPT:
		s->sh->h[s->sh->nconn++] = ev->conn;
		err = pn_io_recv_start(ctx, ev->conn);
		if (err == 0 && s->sh->nconn == 1) /* not a listener */
			err = pn_io_set_deadline(ctx, s->l, 1) == -EINVAL
				      ? 0
				      : -EPROTO;
		return err < 0 ? srv_fail(s, "accept", err) : 0;
	case PN_MSG_IO_DATA:
		return on_data(ctx, s, ev);
	case T_RELEASE:
		s->release = true;
		for (unsigned k = 0; k < s->nheld; k++)
			pn_io_buf_release(ctx, s->held[k]);
		s->nheld = 0;
		return 0;
	case T_STATS:
		pn_io_stats_get(ctx, &s->sh->st);
		notify(s, C_STATS);
		return 0;
	case T_QUIET:
		s->quiet = true;
		return 0;
	case T_FLOOD:
	case T_CLOSE:
	case T_DEADL:
	case T_LINGER:
		each_conn(ctx, s, m->type, m);
		return 0;
	case PN_MSG_IO_ERROR:
		if (ev->res == -ENOBUFS)
			s->sh->nobufs++;
		return 0;
	case PN_MSG_IO_CLOSED:
		if ((i = conn_index(s, ev->h)) >= 0) {
			s->sh->closed_res[i] = ev->res;
			s->sh->h[i] = PN_IO_NONE;
			s->sh->nclosed++;
			notify(s, C_CLOSED);
		}
		return 0;
	default:
		return 0;
	}
}

static int srv_init(struct pn_ctx *ctx, void *state, const void *arg,
		    size_t len)
{
	(void)ctx;
	(void)len;
	struct server *s = state;

	s->out = *(struct shared *const *)arg;
	s->sh = &s->v;
	return 0;
}

static const struct pn_behaviour srv_b = {.name = "test-guard",
					  .state_size = sizeof(struct server),
					  .init = srv_init,
					  .handle = srv_handle};

static struct shared pub, sh; /* the actor's last publication; a copy */

/* Codes, and a copy of what the actor published (under pub_mu). */
static void take(void)
{
	pthread_mutex_lock(&pub_mu);
	sh = pub;
	pthread_mutex_unlock(&pub_mu);
}

static void expect(int code)
{
	t_expect(code);
	take();
}

static int next(uint64_t ns)
{
	int code = t_next(ns);

	take();
	return code;
}

static pn_pid serve(const struct pn_io_config *cfg, const struct pn_io_opts *o)
{
	struct shared *arg = &pub;
	pn_pid p;

	memset(&pub, 0, sizeof(pub));
	memset(&sh, 0, sizeof(sh));
	t_start(cfg);
	p = t_spawn(&srv_b, 0, &arg, sizeof(arg));
	t_send(p, T_LISTEN, o, sizeof(*o));
	expect(C_READY);
	return p;
}

/* serve() with the default io config but a 10 ms deadline sweep. */
static pn_pid serve_swept(const struct pn_io_opts *o)
{
	struct pn_io_config cfg;

	pn_io_config_init(&cfg);
	cfg.sweep_ns = 10 * T_MS;
	return serve(&cfg, o);
}

static void stats(pn_pid p)
{
	t_send(p, T_STATS, NULL, 0);
	expect(C_STATS);
}

/* Until the server has accepted @n connections (bounded). */
static void wait_conns(pn_pid p, unsigned n)
{
	time_t t0 = time(NULL);

	for (stats(p); sh.nconn < n; stats(p))
		assert_true(time(NULL) - t0 < 8);
}

/* Write until the socket takes no more (non-blocking), at most @max. */
static size_t stuff(int fd, size_t max)
{
	static unsigned char blob[16 << 10];
	size_t sent = 0;
	ssize_t n;

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	while (sent < max &&
	       (n = write(fd, blob,
			  max - sent < sizeof(blob) ? max - sent
						    : sizeof(blob))) > 0)
		sent += (size_t)n;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return sent;
}

static void test_share_keeps_the_ring_for_others(void **state)
{
	struct pn_io_config cfg;
	struct pn_io_opts o = {0};
	unsigned char out[100], in[100];
	size_t sent[NHOARD + 1] = {0};
	int fd[NHOARD + 1];
	uint64_t t0;
	pn_pid p;

	(void)state;
	pn_io_config_init(&cfg);
	cfg.buf_count = NBUF;
	cfg.buf_size = BUFSZ;
	p = serve(&cfg, &o);
	for (int i = 0; i <= NHOARD; i++) {
		assert_true((fd[i] = t_connect(sh.port)) >= 0);
		/* One at a time: accept order is connection order. */
		t_fill(out, 1, 0, 0);
		if (i == 0) {
			assert_int_equal(t_write_full(fd[0], out, 1), 0);
			assert_int_equal(t_read_full(fd[0], in, 1), 0);
		}
	}
	wait_conns(p, NHOARD + 1); /* the share counts all of them */
	/* The hoarders' clients send all they can; the server holds it. */
	for (int r = 0; r < 8; r++)
		for (int i = 1; i <= NHOARD; i++)
			sent[i] += stuff(fd[i], HOARD_B - sent[i]);
	for (int r = 0; r < ECHO_N; r++) {
		t_fill(out, sizeof(out), 1, (uint64_t)r * sizeof(out));
		assert_int_equal(t_write_full(fd[0], out, sizeof(out)), 0);
		assert_int_equal(t_read_full(fd[0], in, sizeof(in)), 0);
		assert_true(
			t_check(in, sizeof(in), 1, (uint64_t)r * sizeof(out)));
	}
	stats(p);
	assert_int_equal(sh.nconn, NHOARD + 1);
	assert_int_equal(sh.nobufs, 0); /* the ring never ran dry */
	assert_int_equal(sh.st.nobufs, 0);
	assert_true(sh.st.capped >= 1);
	assert_true(sh.st.bufs_lent < NBUF);
	for (int i = 1; i <= NHOARD; i++) /* share: 64 / (2 * 10) = 3 */
		assert_true(sh.most_held[i] <= 3 + 1); /* + a part-filled one */

	/* Given back, the hoarders resume by themselves: all bytes come. */
	t_send(p, T_RELEASE, NULL, 0);
	for (int i = 1; i <= NHOARD; i++)
		while (sent[i] < HOARD_B)
			sent[i] += stuff(fd[i], HOARD_B - sent[i]);
	t0 = (uint64_t)time(NULL);
	for (;;) {
		bool all = true;

		stats(p);
		for (int i = 1; i <= NHOARD; i++)
			all &= sh.bytes[i] == HOARD_B;
		if (all)
			break;
		assert_true((uint64_t)time(NULL) - t0 < 8);
	}
	for (int i = 0; i <= NHOARD; i++)
		close(fd[i]);
	t_finish();
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void test_idle_connection_ends_talking_one_stays(void **state)
{
	struct pn_io_opts o = {.idle_ns = 150 * T_MS};
	int quiet, talk;
	uint64_t t0;
	char c = 'x';
	pn_pid p;

	(void)state;
	p = serve_swept(&o);
	assert_true((talk = t_connect(sh.port)) >= 0);
	assert_true((quiet = t_connect(sh.port)) >= 0);
	wait_conns(p, 2);
	t0 = mono_ms();
	/* The talker sends a byte every 30 ms (the peer's pace, not a
	 * synchronisation) until the quiet one has been closed. */
	for (;;) {
		struct timespec ts = {0, 30 * 1000000};

		assert_int_equal(t_write_full(talk, &c, 1), 0);
		nanosleep(&ts, NULL);
		if (next(0) == C_CLOSED)
			break;
		assert_true(mono_ms() - t0 < 5000);
	}
	assert_int_equal(sh.nclosed, 1);
	assert_int_equal(sh.closed_res[1], -ETIMEDOUT);
	assert_int_equal(sh.closed_res[0], 0); /* the talker is open */
	assert_true(mono_ms() - t0 >= 150);
	assert_int_equal(t_read_full(quiet, &c, 1), -ECONNRESET);
	stats(p);
	assert_int_equal(sh.st.timeouts, 1);
	close(quiet);
	close(talk);
	t_finish();
}

static void test_peer_that_never_reads_is_drained_out(void **state)
{
	struct pn_io_opts o = {.drain_ns = 150 * T_MS, .sndbuf = 4096};
	int a, b;
	pn_pid p;

	(void)state;
	p = serve_swept(&o);
	assert_true((a = t_connect(sh.port)) >= 0);
	assert_true((b = t_connect(sh.port)) >= 0);
	wait_conns(p, 2);
	/* Neither reads; the first is closed gracefully while it still
	 * flushes, the second stays open with its queue full. */
	t_send(p, T_FLOOD, NULL, 0);
	t_send(p, T_CLOSE, NULL, 0);
	expect(C_CLOSED);
	expect(C_CLOSED);
	assert_int_equal(sh.nclosed, 2);
	assert_int_equal(sh.closed_res[0], -ETIMEDOUT);
	assert_int_equal(sh.closed_res[1], -ETIMEDOUT);
	stats(p);
	assert_int_equal(sh.st.timeouts, 2);
	assert_int_equal(sh.st.queued_bytes, 0);
	close(a);
	close(b);
	t_finish();
}

static void test_deadline_ends_a_trickle_and_clears(void **state)
{
	struct pn_io_opts o = {0};
	uint64_t ns = 200 * T_MS, t0;
	int fd;
	char c = 'x';
	pn_pid p;

	(void)state;
	p = serve_swept(&o);
	assert_true((fd = t_connect(sh.port)) >= 0);
	wait_conns(p, 1);
	/* Set, then cleared: the connection outlives the first deadline. */
	t_send(p, T_DEADL, &ns, sizeof(ns));
	ns = UINT64_MAX;
	t_send(p, T_DEADL, &ns, sizeof(ns));
	assert_int_equal(next(400 * T_MS), INT32_MIN);
	assert_int_equal(sh.nclosed, 0);
	/* Set again: bytes trickling in do not hold it open. */
	ns = 200 * T_MS;
	t_send(p, T_DEADL, &ns, sizeof(ns));
	t0 = mono_ms();
	for (;;) {
		struct timespec ts = {0, 20 * 1000000};

		if (next(0) == C_CLOSED)
			break;
		if (write(fd, &c, 1) != 1) { /* reset: the CLOSED is due */
			expect(C_CLOSED);
			break;
		}
		nanosleep(&ts, NULL);
		assert_true(mono_ms() - t0 < 5000);
	}
	assert_int_equal(sh.closed_res[0], -ETIMEDOUT);
	assert_true(mono_ms() - t0 >= 190);
	close(fd);
	t_finish();
}

/* Queue LINGER_B and linger; the client keeps sending (input the server
 * never reads), reads every byte, then sees a FIN, not a reset. */
static void linger_run(uint64_t ns, bool client_closes)
{
	static char junk[32 << 10], got[64 << 10];
	struct pn_io_opts o = {0};
	size_t n = 0;
	ssize_t r;
	int fd;
	pn_pid p;

	p = serve_swept(&o);
	assert_true((fd = t_connect(sh.port)) >= 0);
	wait_conns(p, 1);
	t_send(p, T_QUIET, NULL, 0);
	assert_int_equal(t_write_full(fd, junk, sizeof(junk)), 0);
	t_send(p, T_LINGER, &ns, sizeof(ns));
	assert_int_equal(t_write_full(fd, junk, sizeof(junk)), 0);
	while ((r = read(fd, got, sizeof(got))) > 0)
		n += (size_t)r;
	assert_int_equal(r, 0); /* FIN: nothing unread turned it into RST */
	assert_int_equal(n, LINGER_B);
	if (client_closes)
		shutdown(fd, SHUT_WR);
	expect(C_CLOSED);
	assert_int_equal(sh.closed_res[0], client_closes ? 0 : -ETIMEDOUT);
	stats(p);
	assert_int_equal(sh.st.queued_bytes, 0);
	close(fd);
	t_finish();
}

static void test_linger_flushes_then_waits_for_eof(void **state)
{
	(void)state;
	linger_run(5 * T_SEC, true);
}

static void test_linger_times_out(void **state)
{
	(void)state;
	linger_run(200 * T_MS, false);
}

static void test_bad_settings_are_refused(void **state)
{
	struct pn_io_config cfg;
	struct pn_runtime *rt;
	struct pn_config c;

	(void)state;
	pn_config_init(&c);
	c.plan.shards = 1;
	assert_int_equal(pn_runtime_create(&c, &rt), 0);
	pn_io_config_init(&cfg);
	cfg.conn_bufs = cfg.buf_count + 1;
	assert_int_equal(pn_io_init(rt, &cfg), -EINVAL);
	assert_non_null(strstr(pn_last_error(), "conn_bufs"));
	pn_io_config_init(&cfg);
	cfg.sweep_ns = 0;
	assert_int_equal(pn_io_init(rt, &cfg), -EINVAL);
	assert_non_null(strstr(pn_last_error(), "sweep_ns"));
	pn_runtime_destroy(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_share_keeps_the_ring_for_others,
					  t_teardown),
		cmocka_unit_test_teardown(
			test_idle_connection_ends_talking_one_stays,
			t_teardown),
		cmocka_unit_test_teardown(
			test_peer_that_never_reads_is_drained_out, t_teardown),
		cmocka_unit_test_teardown(
			test_deadline_ends_a_trickle_and_clears, t_teardown),
		cmocka_unit_test_teardown(
			test_linger_flushes_then_waits_for_eof, t_teardown),
		cmocka_unit_test_teardown(test_linger_times_out, t_teardown),
		cmocka_unit_test(test_bad_settings_are_refused),
	};

	return cmocka_run_group_tests_name("io_guard", tests, NULL, NULL);
}
