// SPDX-License-Identifier: MIT
/*
 * A graceful stop: on PN_MSG_SHUTDOWN a session queues its last 1 MiB,
 * closes with pn_io_close_linger() and defers its stop; the drain waits
 * for it, so the peer reads every byte and then a FIN (not a reset), and
 * the session's CLOSED (res 0) arrives before it says it is done. Also
 * the API's errors, and that a deferring actor which stops ends its
 * deferral (shutdown is not held to the drain's limit).
 */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LAST	 (1u << 20)
#define T_LISTEN 0x300u
#define T_PROBE	 0x301u /* API errors outside shutdown */
#define C_READY	 1
#define C_ACCEPT 2
#define C_PROBED 3

struct shared {
	uint16_t port;
	_Atomic int closed_res, done_rc, defer_rc, again_rc;
	_Atomic bool closed;
	int probe[3];
	bool stop_instead; /* on SHUTDOWN: defer, then pn_stop(self) */
};

struct session {
	struct shared *sh;
	pn_io_handle l, c;
};

static int ses_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	static const char last[LAST];
	struct session *s = state;
	const struct pn_io_ev *ev = pn_io_ev(m);
	struct sockaddr_in a = t_addr(0);

	switch (m->type) {
	case T_LISTEN:
		if (pn_io_listen(ctx, (struct sockaddr *)&a, sizeof(a), NULL,
				 &s->l) < 0)
			return -1;
		s->sh->port = t_port(ctx, s->l);
		pn_runtime_notify(t_rt, C_READY);
		break;
	case T_PROBE:
		s->sh->probe[0] = pn_shutdown_defer(ctx);
		s->sh->probe[1] = pn_shutdown_done(ctx);
		pn_runtime_notify(t_rt, C_PROBED);
		break;
	case PN_MSG_IO_ACCEPT:
		s->c = ev->conn; /* never receives: the linger must */
		pn_runtime_notify(t_rt, C_ACCEPT);
		break;
	case PN_MSG_SHUTDOWN:
		atomic_store(&s->sh->defer_rc, pn_shutdown_defer(ctx));
		atomic_store(&s->sh->again_rc, pn_shutdown_defer(ctx));
		if (s->sh->stop_instead)
			return pn_stop(ctx, pn_self(ctx));
		if (pn_io_send(ctx, s->c, last, sizeof(last)) < 0 ||
		    pn_io_close_linger(ctx, s->c, 5 * T_SEC) < 0)
			return -1;
		break;
	case PN_MSG_IO_CLOSED:
		if (ev->h != s->c)
			break;
		atomic_store(&s->sh->closed_res, ev->res);
		atomic_store(&s->sh->closed, true);
		atomic_store(&s->sh->done_rc, pn_shutdown_done(ctx));
		break;
	default:
		break;
	}
	return 0;
}

static int ses_init(struct pn_ctx *ctx, void *state, const void *arg,
		    size_t len)
{
	(void)ctx;
	(void)len;
	((struct session *)state)->sh = *(struct shared *const *)arg;
	return 0;
}

static const struct pn_behaviour ses_b = {.name = "test-session",
					  .state_size = sizeof(struct session),
					  .init = ses_init,
					  .handle = ses_handle};

struct shut {
	pthread_t th;
	int rc;
	struct pn_shutdown_report rep;
};

static void *shut_main(void *arg)
{
	struct shut *x = arg;

	x->rc = pn_runtime_shutdown(t_rt, 10 * T_SEC, &x->rep);
	return NULL;
}

static struct shared sh;

static int start(bool stop_instead)
{
	struct shared *arg = &sh;
	pn_pid p;
	int fd;
	struct pn_config c;

	memset(&sh, 0, sizeof(sh));
	sh.stop_instead = stop_instead;
	/* t_start()'s runtime, with room for a slow peer under the
	 * sanitizers: the deferral is bounded by the drain's limit. */
	pn_config_init(&c);
	c.plan.shards = 2;
	c.stage_ns[PN_STAGE_DRAIN] = 5 * T_SEC;
	assert_int_equal(pn_runtime_create(&c, &t_rt), 0);
	assert_int_equal(pn_io_init(t_rt, NULL), 0);
	assert_int_equal(pn_runtime_start(t_rt), 0);
	p = t_spawn(&ses_b, 0, &arg, sizeof(arg));
	t_send(p, T_LISTEN, NULL, 0);
	t_expect(C_READY);
	t_send(p, T_PROBE, NULL, 0);
	t_expect(C_PROBED);
	assert_int_equal(sh.probe[0], -EINVAL); /* not shutting down */
	assert_int_equal(sh.probe[1], -EINVAL); /* not deferring */
	assert_true((fd = t_connect(sh.port)) >= 0);
	t_expect(C_ACCEPT);
	return fd;
}

static void test_deferred_session_finishes_its_connection(void **state)
{
	static char buf[64 << 10];
	struct shut x;
	size_t got = 0;
	ssize_t n;
	int fd;

	(void)state;
	fd = start(false);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &(int){16 << 10}, sizeof(int));
	assert_int_equal(pthread_create(&x.th, NULL, shut_main, &x), 0);
	/* A slow peer (its pace, not a synchronisation): it starts reading
	 * only after the stages without a deferral would all have run. */
	nanosleep(&(struct timespec){0, 300 * 1000000}, NULL);
	/* The session's last MiB, then its FIN: nothing cut, no reset. */
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		got += (size_t)n;
	assert_int_equal(n, 0);
	assert_int_equal(got, LAST);
	close(fd); /* our EOF: the linger ends, the session says done */
	pthread_join(x.th, NULL);
	if (x.rc)
		fail_msg("shutdown: %s (defer %d, closed %d res %d, done %d)",
			 x.rep.text, atomic_load(&sh.defer_rc),
			 atomic_load(&sh.closed), atomic_load(&sh.closed_res),
			 atomic_load(&sh.done_rc));
	assert_int_equal(atomic_load(&sh.defer_rc), 0);
	assert_int_equal(atomic_load(&sh.again_rc), -EALREADY);
	assert_true(atomic_load(&sh.closed));
	assert_int_equal(atomic_load(&sh.closed_res), 0);
	assert_int_equal(atomic_load(&sh.done_rc), 0);
	assert_int_equal(x.rep.totals.dead_letters, 0);
	pn_runtime_destroy(t_rt);
	t_rt = NULL;
}

static void test_deferring_actor_that_stops_ends_it(void **state)
{
	struct shut x;
	int fd;

	(void)state;
	fd = start(true);
	assert_int_equal(pthread_create(&x.th, NULL, shut_main, &x), 0);
	pthread_join(x.th, NULL);
	if (x.rc)
		fail_msg("shutdown: %s", x.rep.text);
	/* Not held to the drain's 5 s limit by the stopped actor. */
	assert_true(x.rep.stage[PN_STAGE_DRAIN].elapsed_ns < 500 * T_MS);
	assert_int_equal(atomic_load(&sh.defer_rc), 0);
	close(fd);
	pn_runtime_destroy(t_rt);
	t_rt = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(
			test_deferred_session_finishes_its_connection,
			t_teardown),
		cmocka_unit_test_teardown(
			test_deferring_actor_that_stops_ends_it, t_teardown),
	};

	return cmocka_run_group_tests_name("defer", tests, NULL, NULL);
}
