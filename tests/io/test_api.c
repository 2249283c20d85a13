// SPDX-License-Identifier: MIT
/*
 * io/'s API contracts that need no traffic: configuration checks and
 * pn_io_init() once only; handles used on the wrong shard (-EXDEV), stale
 * (-EBADF) or of the wrong kind (-EINVAL); owners on other shards
 * refused; a shard without io/ (-ENODEV); and the names of errors,
 * operations and messages.
 */
#include "harness.h"

#include <errno.h>
#include <string.h>

#define C_DONE 1

struct results {
	int xdev, stale, kind, owner, nodev, recv_listener;
};

static int prober_handle(struct pn_ctx *ctx, void *state,
			 const struct pn_msg *m)
{
	struct results *r = *(struct results **)state;
	struct sockaddr_in a = t_addr(0);
	struct pn_io_stats st;
	pn_io_handle l;
	/* shard 0, slot 0, generation 1; and one on this shard, stale */
	pn_io_handle other = 1, mine = ((uint64_t)pn_shard(ctx) << 54) | 9;

	if (m->type != T_GO)
		return 0;
	if (pn_msg_u64(m)) { /* a runtime without io/ */
		r->nodev = pn_io_stats_get(ctx, &st);
		pn_runtime_notify(t_rt, C_DONE);
		return 0;
	}
	r->xdev = pn_io_send(ctx, other, "x", 1);
	r->stale = pn_io_close(ctx, mine);
	if (pn_io_listen(ctx, (struct sockaddr *)&a, sizeof(a), NULL, &l) ==
	    0) {
		r->kind = pn_io_send(ctx, l, "x", 1);
		r->owner = pn_io_set_owner(ctx, l, pn_pid_make(0, 1, 1));
		r->recv_listener = pn_io_recv_start(ctx, l);
		pn_io_close(ctx, l);
	}
	pn_runtime_notify(t_rt, C_DONE);
	return 0;
}

static int prober_init(struct pn_ctx *ctx, void *state, const void *arg,
		       size_t len)
{
	(void)ctx;
	memcpy(state, arg, len);
	return 0;
}

static const struct pn_behaviour prober_b = {.name = "test-prober",
					     .state_size = sizeof(void *),
					     .init = prober_init,
					     .handle = prober_handle};

static void test_api_config_and_init_once(void **state)
{
	struct pn_io_config cfg;
	struct pn_config c;

	(void)state;
	pn_config_init(&c);
	c.plan.shards = 2;
	assert_int_equal(pn_runtime_create(&c, &t_rt), 0);
	pn_io_config_init(&cfg);
	cfg.buf_count = 1000; /* not a power of two */
	assert_int_equal(pn_io_init(t_rt, &cfg), -EINVAL);
	assert_non_null(strstr(pn_last_error(), "buf_count"));
	pn_io_config_init(&cfg);
	cfg.shard_send_bytes = cfg.send_queue_bytes - 1;
	assert_int_equal(pn_io_init(t_rt, &cfg), -EINVAL);
	assert_non_null(strstr(pn_last_error(), "send_queue_bytes"));
	assert_int_equal(pn_io_init(t_rt, NULL), 0);
	assert_int_equal(pn_io_init(t_rt, NULL), -EBUSY);
	assert_int_equal(pn_runtime_start(t_rt), 0);
	t_finish();
}

static void test_api_handle_checks(void **state)
{
	static struct results r;
	struct results *arg = &r;
	pn_pid p;

	(void)state;
	t_start(NULL);
	p = t_spawn(&prober_b, 1, &arg, sizeof(arg));
	t_send(p, T_GO, NULL, 0);
	t_expect(C_DONE);
	t_finish();
	assert_int_equal(r.xdev, -EXDEV);
	assert_int_equal(r.stale, -EBADF);
	assert_int_equal(r.kind, -EINVAL);
	assert_int_equal(r.owner, -EINVAL);
	assert_int_equal(r.recv_listener, -EINVAL);
}

static void test_api_no_io_on_runtime(void **state)
{
	static struct results r;
	struct results *arg = &r;
	struct pn_config c;
	uint64_t one = 1;
	pn_pid p;

	(void)state;
	pn_config_init(&c);
	c.plan.shards = 2;
	assert_int_equal(pn_runtime_create(&c, &t_rt), 0);
	assert_int_equal(pn_runtime_start(t_rt), 0);
	p = t_spawn(&prober_b, 0, &arg, sizeof(arg));
	t_send(p, T_GO, &one, sizeof(one));
	t_expect(C_DONE);
	t_finish();
	assert_int_equal(r.nodev, -ENODEV);
}

static void test_api_names(void **state)
{
	(void)state;
	assert_string_equal(pn_io_strerror(-ECONNREFUSED),
			    "ECONNREFUSED (connection refused)");
	assert_non_null(strstr(pn_io_strerror(-ENOBUFS), "ENOBUFS"));
	assert_non_null(strstr(pn_io_strerror(-ECONNRESET), "reset"));
	assert_non_null(strstr(pn_io_strerror(-ETIMEDOUT), "ETIMEDOUT"));
	assert_non_null(strstr(pn_io_strerror(-ENOTBLK), "errno"));
	assert_string_equal(pn_io_op_name(PN_IO_OP_RECV), "recv");
	assert_string_equal(pn_io_op_name(PN_IO_OP_COUNT), "unknown");
	assert_string_equal(pn_io_msg_name(PN_MSG_IO_CLOSED), "closed");
	assert_string_equal(pn_io_msg_name(PN_MSG_IO_FILE), "file");
	assert_null(pn_io_msg_name(PN_MSG_IO));
	assert_null(pn_io_msg_name(PN_MSG_IO + 0x800));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_api_config_and_init_once,
					  t_teardown),
		cmocka_unit_test_teardown(test_api_handle_checks, t_teardown),
		cmocka_unit_test_teardown(test_api_no_io_on_runtime,
					  t_teardown),
		cmocka_unit_test(test_api_names),
	};

	return cmocka_run_group_tests_name("io_api", tests, NULL, NULL);
}
