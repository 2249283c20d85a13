// SPDX-License-Identifier: MIT
/*
 * Handles through the runtime's shutdown: a listener (and a connection
 * it accepted, with the test thread as the peer) whose owner leaves it
 * open, closes it on PN_MSG_SHUTDOWN, on PN_MSG_STOPPING or in its
 * cleanup; or lingers on SHUTDOWN and stops at once, with a peer thread
 * that reads to EOF and closes (so the CLOSED comes after the owner is
 * gone). However it ends, the shutdown report must show no dead letter:
 * io/'s own CLOSED for a handle whose owner has stopped is nobody's
 * message (pn_io.h, after "Every handle ends with exactly one CLOSED").
 * Before io/ checked the owner, the STOPPING, cleanup and lingering
 * cases failed (one dead CLOSED per handle; the listener's only when its
 * cancellation completed before the io stage).
 */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define C_READY	   1
#define C_ACCEPTED 2
#define C_FAIL	   -1

enum mode {
	M_OPEN,
	M_ON_SHUTDOWN,
	M_ON_STOPPING,
	M_IN_CLEANUP,
	M_LINGER_AND_STOP,
};

struct shared {
	uint16_t port;
	char what[128];
};

struct srv {
	struct shared *sh;
	int mode;
	bool conn; /* also hold an accepted connection */
	pn_io_handle l, c;
};

static _Atomic unsigned dead_io, dead_other;
static _Atomic uint32_t dead_type;

static void on_dead(void *arg, unsigned shard, const struct pn_msg *m)
{
	(void)arg;
	(void)shard;
	if (m->type >= PN_MSG_IO && m->type <= PN_MSG_IO + 64)
		atomic_fetch_add(&dead_io, 1);
	else
		atomic_fetch_add(&dead_other, 1);
	atomic_store(&dead_type, m->type);
}

static int srv_fail(struct srv *s, const char *what, int err)
{
	snprintf(s->sh->what, sizeof(s->sh->what), "%s: %s (%s)", what,
		 pn_io_strerror(err), pn_last_error());
	pn_runtime_notify(t_rt, C_FAIL);
	return 0;
}

static void close_all(struct pn_ctx *ctx, struct srv *s)
{
	if (s->l != PN_IO_NONE)
		pn_io_close(ctx, s->l);
	if (s->c != PN_IO_NONE)
		pn_io_close(ctx, s->c);
	s->l = s->c = PN_IO_NONE;
}

static int srv_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct srv *s = state;
	struct sockaddr_in a = t_addr(0);
	int err;

	switch (m->type) {
	case T_GO:
		if ((err = pn_io_listen(ctx, (struct sockaddr *)&a, sizeof(a),
					NULL, &s->l)) < 0)
			return srv_fail(s, "listen", err);
		s->sh->port = t_port(ctx, s->l);
		pn_runtime_notify(t_rt, C_READY);
		return 0;
	case PN_MSG_IO_ACCEPT:
		s->c = pn_io_ev(m)->conn;
		if ((err = pn_io_recv_start(ctx, s->c)) < 0)
			return srv_fail(s, "recv_start", err);
		pn_runtime_notify(t_rt, C_ACCEPTED);
		return 0;
	case PN_MSG_IO_DATA:
		pn_io_buf_release(ctx, pn_io_ev(m)->buf);
		return 0;
	case PN_MSG_SHUTDOWN:
		if (s->mode == M_ON_SHUTDOWN)
			close_all(ctx, s);
		if (s->mode == M_LINGER_AND_STOP) {
			if (s->c != PN_IO_NONE &&
			    (err = pn_io_close_linger(ctx, s->c, 2 * T_SEC)) <
				    0)
				return srv_fail(s, "close_linger", err);
			return PN_STOP; /* its CLOSED comes after it stopped */
		}
		return 0;
	case PN_MSG_STOPPING:
		if (s->mode == M_ON_STOPPING)
			close_all(ctx, s);
		return 0;
	default:
		return 0;
	}
}

static void srv_cleanup(struct pn_ctx *ctx, void *state, int reason)
{
	struct srv *s = state;

	(void)reason;
	if (s->mode == M_IN_CLEANUP)
		close_all(ctx, s);
}

static int srv_init(struct pn_ctx *ctx, void *state, const void *arg,
		    size_t len)
{
	(void)ctx;
	memcpy(state, arg, len);
	return 0;
}

static const struct pn_behaviour srv_b = {.name = "test-shutdown",
					  .state_size = sizeof(struct srv),
					  .init = srv_init,
					  .handle = srv_handle,
					  .cleanup = srv_cleanup};

static void start(void)
{
	struct pn_config c;

	pn_config_init(&c);
	c.plan.shards = 2;
	c.spin_ns = 1000;
	c.dead_letter = on_dead;
	if (pn_runtime_create(&c, &t_rt) || pn_io_init(t_rt, NULL) ||
	    pn_runtime_start(t_rt))
		fail_msg("start: %s", pn_last_error());
}

/* A peer that reads until the server's FIN, then closes. */
static void *reader(void *arg)
{
	int fd = *(int *)arg;
	char buf[256];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
	return NULL;
}

static void run(int mode, bool conn)
{
	static struct shared sh;
	struct srv s = {.sh = &sh, .mode = mode, .conn = conn};
	struct pn_shutdown_report rep;
	pthread_t peer;
	pn_pid p;
	int fd = -1, err;

	memset(&sh, 0, sizeof(sh));
	atomic_store(&dead_io, 0);
	atomic_store(&dead_other, 0);
	start();
	p = t_spawn(&srv_b, 1, &s, sizeof(s));
	t_send(p, T_GO, NULL, 0);
	t_expect(C_READY);
	if (conn) {
		fd = t_connect(sh.port);
		assert_true(fd >= 0);
		assert_int_equal(t_write_full(fd, "ping", 4), 0);
		t_expect(C_ACCEPTED);
	}
	if (mode == M_LINGER_AND_STOP)
		assert_int_equal(pthread_create(&peer, NULL, reader, &fd), 0);
	err = pn_runtime_shutdown(t_rt, 5 * T_SEC, &rep);
	if (mode == M_LINGER_AND_STOP)
		pthread_join(peer, NULL); /* it closed fd */
	else if (fd >= 0)
		close(fd);
	if (err)
		fail_msg("shutdown: %s", rep.text);
	if (rep.totals.dead_letters != 0)
		fail_msg("mode %d%s: %llu dead letters (io %u, other %u, "
			 "last type 0x%x): %s",
			 mode, conn ? " with a connection" : "",
			 (unsigned long long)rep.totals.dead_letters,
			 atomic_load(&dead_io), atomic_load(&dead_other),
			 (unsigned)atomic_load(&dead_type), rep.text);
	assert_int_equal(rep.actors_left, 0);
	pn_runtime_destroy(t_rt);
	t_rt = NULL;
}

static void test_listener_left_open(void **state)
{
	(void)state;
	run(M_OPEN, false);
}

static void test_listener_closed_on_shutdown(void **state)
{
	(void)state;
	run(M_ON_SHUTDOWN, false);
}

static void test_listener_closed_on_stopping(void **state)
{
	(void)state;
	run(M_ON_STOPPING, false);
}

static void test_listener_closed_in_cleanup(void **state)
{
	(void)state;
	run(M_IN_CLEANUP, false);
}

static void test_connection_left_open(void **state)
{
	(void)state;
	run(M_OPEN, true);
}

static void test_connection_closed_on_shutdown(void **state)
{
	(void)state;
	run(M_ON_SHUTDOWN, true);
}

static void test_connection_closed_on_stopping(void **state)
{
	(void)state;
	run(M_ON_STOPPING, true);
}

static void test_connection_closed_in_cleanup(void **state)
{
	(void)state;
	run(M_IN_CLEANUP, true);
}

static void test_connection_lingering_owner_stopped(void **state)
{
	(void)state;
	run(M_LINGER_AND_STOP, true);
}

int main(void)
{
#define T(f) cmocka_unit_test_teardown(f, t_teardown)
	const struct CMUnitTest tests[] = {
		T(test_listener_left_open),
		T(test_listener_closed_on_shutdown),
		T(test_listener_closed_on_stopping),
		T(test_listener_closed_in_cleanup),
		T(test_connection_left_open),
		T(test_connection_closed_on_shutdown),
		T(test_connection_closed_on_stopping),
		T(test_connection_closed_in_cleanup),
		T(test_connection_lingering_owner_stopped),
	};
#undef T

	return cmocka_run_group_tests_name("io_shutdown", tests, NULL, NULL);
}
