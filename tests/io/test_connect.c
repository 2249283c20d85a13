// SPDX-License-Identifier: MIT
/*
 * Outgoing connections: a connect that succeeds (and is then used and
 * closed), one to a port nothing listens on (PN_MSG_IO_CONNECTED with
 * -ECONNREFUSED, no CLOSED after it), and one that times out against a
 * listener whose backlog is full (the kernel drops the SYN, the link
 * timeout cancels the connect: -ETIMEDOUT). Everything on 127.0.0.1.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define C_RESULT 100 /* + 1000 for a success, code = -res otherwise */

struct dialer {
	uint16_t port;
	uint64_t timeout_ns;
	int *res;	   /* CONNECTED's res */
	unsigned *closed;  /* CLOSED messages seen */
	uint64_t *took_ns; /* connect to CONNECTED */
	uint64_t t0;
};

static int dial_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct dialer *d = state;
	const struct pn_io_ev *ev = pn_io_ev(m);
	struct sockaddr_in a = t_addr(d->port);
	pn_io_handle h;
	int err;

	switch (m->type) {
	case T_GO:
		d->t0 = pn_now_ns();
		err = pn_io_connect(ctx, (struct sockaddr *)&a, sizeof(a), NULL,
				    d->timeout_ns, &h);
		if (err < 0) {
			*d->res = err;
			pn_runtime_notify(t_rt, C_RESULT);
		}
		return 0;
	case PN_MSG_IO_CONNECTED:
		*d->res = ev->res;
		*d->took_ns = pn_now_ns() - d->t0;
		if (ev->res == 0) /* close it; CLOSED reports back */
			return pn_io_close(ctx, ev->h) < 0 ? -1 : 0;
		pn_runtime_notify(t_rt, C_RESULT);
		return 0;
	case PN_MSG_IO_CLOSED:
		(*d->closed)++;
		pn_runtime_notify(t_rt, C_RESULT);
		return 0;
	default:
		return 0;
	}
}

static int dial_init(struct pn_ctx *ctx, void *state, const void *arg,
		     size_t len)
{
	(void)ctx;
	memcpy(state, arg, len);
	return 0;
}

static const struct pn_behaviour dial_b = {.name = "test-dialer",
					   .state_size = sizeof(struct dialer),
					   .init = dial_init,
					   .handle = dial_handle};

static int res;
static unsigned closed;
static uint64_t took;

/* Dial 127.0.0.1:@port from shard 1 and wait for the outcome. */
static void dial(uint16_t port, uint64_t timeout_ns)
{
	struct dialer d = {.port = port,
			   .timeout_ns = timeout_ns,
			   .res = &res,
			   .closed = &closed,
			   .took_ns = &took};
	pn_pid p;

	res = 1;
	closed = 0;
	t_start(NULL);
	p = t_spawn(&dial_b, 1, &d, sizeof(d));
	t_send(p, T_GO, NULL, 0);
	t_expect(C_RESULT);
}

static void test_connect_succeeds_and_closes(void **state)
{
	struct sockaddr_in a = t_addr(0);
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	(void)state;
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 8), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &len), 0);
	dial(ntohs(a.sin_port), 2 * T_SEC);
	t_finish();
	close(l);
	assert_int_equal(res, 0);
	assert_int_equal(closed, 1);
}

static void test_connect_refused_is_a_message(void **state)
{
	(void)state;
	dial(t_closed_port(), 0);
	t_finish();
	assert_int_equal(res, -ECONNREFUSED);
	assert_int_equal(closed, 0); /* a failed connect ends the handle */
}

/*
 * Fill a backlog-0 listener's accept queue with connections nobody
 * accepts; returns how many were made, and whether one stalled (the
 * sign that the next SYN will be dropped).
 */
static bool fill_backlog(int l, uint16_t port, int *fds, int max, int *n)
{
	struct sockaddr_in a = t_addr(port);

	(void)l;
	for (*n = 0; *n < max; (*n)++) {
		struct pollfd p;
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

		fds[*n] = fd;
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			continue;
		if (errno != EINPROGRESS)
			return false;
		p = (struct pollfd){.fd = fd, .events = POLLOUT};
		if (poll(&p, 1, 200) == 0) { /* bounded: 200 ms */
			(*n)++;
			return true;
		}
	}
	return false;
}

static void test_connect_timeout_full_backlog(void **state)
{
	struct sockaddr_in a = t_addr(0);
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), fds[16], n;
	bool full;

	(void)state;
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 0), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &len), 0);
	full = fill_backlog(l, ntohs(a.sin_port), fds, 16, &n);
	if (full)
		dial(ntohs(a.sin_port), 300 * T_MS);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	close(l);
	if (!full) {
		print_message("skip: the kernel kept accepting SYNs past a "
			      "full backlog, so no connect can hang\n");
		skip();
	}
	t_finish();
	if (res == 0) {
		print_message("skip: the connect got through anyway\n");
		skip();
	}
	assert_int_equal(res, -ETIMEDOUT);
	assert_true(took >= 300 * T_MS && took < 3 * T_SEC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_connect_succeeds_and_closes,
					  t_teardown),
		cmocka_unit_test_teardown(test_connect_refused_is_a_message,
					  t_teardown),
		cmocka_unit_test_teardown(test_connect_timeout_full_backlog,
					  t_teardown),
	};

	return cmocka_run_group_tests_name("io_connect", tests, NULL, NULL);
}
