// SPDX-License-Identifier: MIT
/*
 * Buffer-ring exhaustion: a shard with four receive buffers, sixteen
 * connections sending at once, and a server that holds on to the buffers
 * it is lent (it answers in batches: when it holds all four, or at each
 * 1 ms tick). The ring runs dry, the kernel ends receives with -ENOBUFS;
 * io/ reports it (ERROR, op RECV, once per episode) and re-arms with
 * backoff, and every byte still arrives and is echoed in order.
 */
#include "harness.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define NBUF	4
#define NCONN	16
#define MSG	200
#define ROUNDS	20
#define T_TICK	0x300u
#define C_READY 1
#define C_DONE	2
#define C_FAIL	-1

struct shared {
	uint16_t port;
	unsigned nobufs_msgs; /* ERROR -ENOBUFS messages */
	unsigned closed;
	uint64_t bytes;
	struct pn_io_stats st;
	char what[128];
};

struct held {
	pn_io_handle h;
	unsigned buf;
	const void *data;
	int32_t len;
};

struct hoarder {
	struct shared *sh;
	pn_io_handle l;
	uint64_t tick;
	unsigned n;
	struct held held[NBUF];
};

static int hoard_fail(struct hoarder *s, const char *what, int err)
{
	snprintf(s->sh->what, sizeof(s->sh->what), "%s: %s", what,
		 pn_io_strerror(err));
	pn_runtime_notify(t_rt, C_FAIL);
	return 0;
}

/* Echo and give back everything held, in the order it arrived. */
static int flush(struct pn_ctx *ctx, struct hoarder *s)
{
	int err = 0;

	for (unsigned i = 0; i < s->n; i++) {
		struct held *h = &s->held[i];
		int e = pn_io_send(ctx, h->h, h->data, (size_t)h->len);

		if (e < 0 && e != -EBADF && !err)
			err = e;
		pn_io_buf_release(ctx, h->buf);
	}
	s->n = 0;
	return err < 0 ? hoard_fail(s, "send", err) : 0;
}

static int hoard_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct hoarder *s = state;
	const struct pn_io_ev *ev = pn_io_ev(m);
	struct sockaddr_in a = t_addr(0);
	int err;

	switch (m->type) {
	case T_GO:
		err = pn_io_listen(ctx, (struct sockaddr *)&a, sizeof(a), NULL,
				   &s->l);
		if (err == 0)
			err = pn_send_every(ctx, T_MS, T_TICK, NULL, 0,
					    &s->tick);
		if (err < 0)
			return hoard_fail(s, "listen", err);
		s->sh->port = t_port(ctx, s->l);
		pn_runtime_notify(t_rt, C_READY);
		return 0;
	case PN_MSG_IO_ACCEPT:
		err = pn_io_recv_start(ctx, ev->conn);
		return err < 0 ? hoard_fail(s, "recv_start", err) : 0;
	case PN_MSG_IO_DATA:
		if (s->n == NBUF)
			return hoard_fail(s, "more buffers than the ring has",
					  -EPROTO);
		s->held[s->n++] =
			(struct held){ev->h, ev->buf, ev->data, ev->res};
		s->sh->bytes += (uint64_t)ev->res;
		return s->n == NBUF ? flush(ctx, s) : 0;
	case T_TICK:
		return flush(ctx, s);
	case PN_MSG_IO_ERROR:
		if (ev->res != -ENOBUFS || ev->op != PN_IO_OP_RECV)
			return hoard_fail(s, pn_io_op_name(ev->op), ev->res);
		s->sh->nobufs_msgs++;
		return 0;
	case PN_MSG_IO_EOF:
		flush(ctx, s);
		return pn_io_close(ctx, ev->h) < 0 ? -1 : 0;
	case PN_MSG_IO_CLOSED:
		if (++s->sh->closed == NCONN) {
			pn_timer_cancel(ctx, s->tick); /* let shutdown drain */
			pn_io_stats_get(ctx, &s->sh->st);
			pn_runtime_notify(t_rt, C_DONE);
		}
		return 0;
	default:
		return 0;
	}
}

static int hoard_init(struct pn_ctx *ctx, void *state, const void *arg,
		      size_t len)
{
	(void)ctx;
	(void)len;
	((struct hoarder *)state)->sh = *(struct shared *const *)arg;
	return 0;
}

static const struct pn_behaviour hoard_b = {.name = "test-hoarder",
					    .state_size =
						    sizeof(struct hoarder),
					    .init = hoard_init,
					    .handle = hoard_handle};

static void test_bufring_exhaustion_recovers(void **state)
{
	static struct shared sh;
	struct shared *arg = &sh;
	struct pn_io_config cfg;
	unsigned char out[MSG], in[MSG];
	int fd[NCONN], code;
	pn_pid p;

	(void)state;
	memset(&sh, 0, sizeof(sh));
	pn_io_config_init(&cfg);
	cfg.buf_count = NBUF;
	cfg.buf_size = 256;
	t_start(&cfg);
	p = t_spawn(&hoard_b, 0, &arg, sizeof(arg));
	t_send(p, T_GO, NULL, 0);
	t_expect(C_READY);
	for (int i = 0; i < NCONN; i++)
		assert_true((fd[i] = t_connect(sh.port)) >= 0);
	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < NCONN; i++) {
			t_fill(out, MSG, (unsigned)i, (uint64_t)r * MSG);
			assert_int_equal(t_write_full(fd[i], out, MSG), 0);
		}
		for (int i = 0; i < NCONN; i++) {
			assert_int_equal(t_read_full(fd[i], in, MSG), 0);
			assert_true(t_check(in, MSG, (unsigned)i,
					    (uint64_t)r * MSG));
		}
	}
	for (int i = 0; i < NCONN; i++)
		close(fd[i]);
	code = t_next(T_WAIT);
	if (code != C_DONE)
		fail_msg("code %d: %s", code, sh.what);
	t_finish();
	assert_int_equal(sh.bytes, NCONN * MSG * ROUNDS);
	assert_true(sh.st.nobufs > 0);
	assert_true(sh.nobufs_msgs > 0);
	assert_true(sh.st.rearms > 0);
	assert_int_equal(sh.st.bufs_lent, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_bufring_exhaustion_recovers,
					  t_teardown),
	};

	return cmocka_run_group_tests_name("io_bufring", tests, NULL, NULL);
}
