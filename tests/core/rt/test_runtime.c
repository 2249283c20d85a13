// SPDX-License-Identifier: MIT
/*
 * The runtime object (core/rt/runtime.c): configuration defaults, the
 * environment and every invalid setting; create, start, shutdown and
 * destroy in every order; a start that fails (no file descriptors left
 * for io_uring) leaving no thread behind; pn_runtime_wait/notify; the
 * statistics; the accessors a handler has; the poller hook; busy polling
 * and parking.
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static struct h_puppet A, B;

static int setup(void **state)
{
	(void)state;
	h_puppet_init(&A, 1);
	h_puppet_init(&B, 2);
	return 0;
}

static const char *const env_vars[] = {
	"PINION_SHARDS",     "PINION_CORES",	      "PINION_SUPERVISOR_CORE",
	"PINION_SMT",	     "PINION_BUSY_POLL",      "PINION_SPIN_NS",
	"PINION_RING_SLOTS", "PINION_METRICS_SAMPLE",
};

static void env_clear(void)
{
	for (unsigned i = 0; i < sizeof(env_vars) / sizeof(*env_vars); i++)
		unsetenv(env_vars[i]);
}

static int env_setup(void **state)
{
	env_clear();
	return setup(state);
}

static int env_teardown(void **state)
{
	env_clear();
	return h_teardown(state);
}

/* --- configuration ------------------------------------------------------ */

static void test_runtime_config_defaults(void **state)
{
	struct pn_config c;

	(void)state;
	memset(&c, 0x5a, sizeof(c));
	pn_config_init(&c);
	assert_int_equal(c.plan.shards, 0);
	assert_int_equal(c.ring_slots, 1024);
	assert_int_equal(c.batch, 64);
	assert_int_equal(c.spin_ns, 20000);
	assert_false(c.busy_poll);
	assert_false(c.no_pin);
	assert_int_equal(c.overflow_bytes, 4u << 20);
	assert_int_equal(c.inject_bytes, 64u << 20);
	assert_int_equal(c.max_producers, 16);
	assert_int_equal(c.max_actors, 1u << 20);
	assert_int_equal(c.timer_tick_ns, 100000);
	for (int st = 0; st < PN_STAGE_COUNT; st++)
		assert_true(c.stage_ns[st] > 0);
	assert_null(c.dead_letter);
	assert_null(c.dead_letter_arg);
}

static void test_runtime_config_from_env(void **state)
{
	struct pn_config c;

	(void)state;
	pn_config_init(&c);
	setenv("PINION_SPIN_NS", "1234", 1);
	setenv("PINION_BUSY_POLL", "1", 1);
	setenv("PINION_RING_SLOTS", "64", 1);
	setenv("PINION_SHARDS", "2", 1);
	assert_int_equal(pn_config_from_env(&c), 0);
	assert_int_equal(c.spin_ns, 1234);
	assert_true(c.busy_poll);
	assert_int_equal(c.ring_slots, 64);
	assert_int_equal(c.plan.shards, 2);
	assert_int_equal(c.batch, 64); /* untouched */
	/* Empty variables leave the setting alone. */
	setenv("PINION_SPIN_NS", "", 1);
	assert_int_equal(pn_config_from_env(&c), 0);
	assert_int_equal(c.spin_ns, 1234);
}

static void test_runtime_config_from_env_invalid(void **state)
{
	static const struct {
		const char *var, *value;
	} bad[] = {
		{"PINION_BUSY_POLL", "2"},
		{"PINION_BUSY_POLL", "yes"},
		{"PINION_SPIN_NS", "-5"},
		{"PINION_SPIN_NS", "12abc"},
		{"PINION_SPIN_NS", "99999999999999999999"},
		/* One strict parser: digits only, nothing wraps. */
		{"PINION_BUSY_POLL", " -18446744073709551615"},
		{"PINION_BUSY_POLL", "18446744073709551617"},
		{"PINION_BUSY_POLL", "+1"},
		{"PINION_BUSY_POLL", " 1"},
		{"PINION_BUSY_POLL", "1 "},
		{"PINION_SPIN_NS", "0x10"},
		{"PINION_SPIN_NS", "-0"},
		{"PINION_RING_SLOTS", "1e3"},
		{"PINION_RING_SLOTS", "3"},
		{"PINION_METRICS_SAMPLE", "-1"},
		{"PINION_RING_SLOTS", "1"},
		{"PINION_RING_SLOTS", "2097152"},
		{"PINION_SHARDS", "abc"},
		{"PINION_SMT", "maybe"},
		{"PINION_CORES", "9999-x"},
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct pn_config c, before;

		env_clear();
		pn_config_init(&c);
		c.spin_ns = 777;
		before = c;
		setenv(bad[i].var, bad[i].value, 1);
		if (pn_config_from_env(&c) != -EINVAL)
			print_message("%s=%s accepted\n", bad[i].var,
				      bad[i].value);
		assert_int_equal(pn_config_from_env(&c), -EINVAL);
		assert_memory_equal(&c, &before, sizeof(c));
		assert_non_null(strstr(pn_last_error(), bad[i].var));
	}
}

static void test_runtime_create_invalid_config(void **state)
{
	static const struct {
		const char *name; /* must appear in pn_last_error() */
		int field;
		uint64_t value;
	} bad[] = {
		{"ring_slots", 0, 3},	     {"ring_slots", 0, 0},
		{"ring_slots", 0, 1u << 21}, {"batch", 1, 0},
		{"max_actors", 2, 0},	     {"max_actors", 2, (1u << 22) + 1},
		{"timer_tick_ns", 3, 999},   {"overflow_bytes", 4, 63},
		{"inject_bytes", 5, 0},	     {"max_producers", 6, 4097},
		{"PINION_SHARDS", 7, 4096},  {"stage_ns[3]", 8, 0},
	};
	struct pn_runtime *rt, *const poison = (struct pn_runtime *)0x1;

	(void)state;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct pn_config c;
		int err;

		h_config(&c);
		switch (bad[i].field) {
		case 0:
			c.ring_slots = (uint32_t)bad[i].value;
			break;
		case 1:
			c.batch = (uint32_t)bad[i].value;
			break;
		case 2:
			c.max_actors = (uint32_t)bad[i].value;
			break;
		case 3:
			c.timer_tick_ns = bad[i].value;
			break;
		case 4:
			c.overflow_bytes = bad[i].value;
			break;
		case 5:
			c.inject_bytes = bad[i].value;
			break;
		case 6:
			c.max_producers = (uint32_t)bad[i].value;
			break;
		case 7:
			c.plan.shards = (unsigned)bad[i].value;
			break;
		default:
			c.stage_ns[PN_STAGE_STOP] = bad[i].value;
			break;
		}
		rt = poison;
		err = pn_runtime_create(&c, &rt);
		if (err != -EINVAL || !strstr(pn_last_error(), bad[i].name))
			print_message("%s: %d \"%s\"\n", bad[i].name, err,
				      pn_last_error());
		assert_int_equal(err, -EINVAL);
		assert_ptr_equal(rt, poison); /* *out untouched */
		assert_non_null(strstr(pn_last_error(), bad[i].name));
	}
}

static void test_runtime_create_from_env(void **state)
{
	struct pn_runtime *rt = NULL;

	(void)state;
	/* NULL: the defaults plus the environment. */
	setenv("PINION_SHARDS", "1", 1);
	assert_int_equal(pn_runtime_create(NULL, &rt), 0);
	assert_int_equal(pn_runtime_nshards(rt), 1);
	pn_runtime_destroy(rt);
	setenv("PINION_RING_SLOTS", "3", 1); /* in range, not a power of 2 */
	assert_int_equal(pn_runtime_create(NULL, &rt), -EINVAL);
	/* The error names the variable, not only the setting. */
	assert_non_null(strstr(pn_last_error(), "PINION_RING_SLOTS=3"));
	unsetenv("PINION_RING_SLOTS");
	setenv("PINION_BUSY_POLL", "x", 1);
	assert_int_equal(pn_runtime_create(NULL, &rt), -EINVAL);
	assert_non_null(strstr(pn_last_error(), "PINION_BUSY_POLL"));
}

/* --- create, start, shutdown, destroy in every order ------------------- */

static void test_runtime_start_twice(void **state)
{
	const struct pn_plan *plan;

	(void)state;
	h_start(NULL);
	assert_int_equal(pn_runtime_start(h_rt), -EALREADY);
	assert_int_equal(pn_runtime_nshards(h_rt), 2);
	plan = pn_runtime_plan(h_rt);
	assert_non_null(plan);
	assert_int_equal(plan->nshards, 2);
	/* It still works. */
	h_puppet_spawn(&A, 1);
	h_finish();
}

static void test_runtime_unstarted(void **state)
{
	struct pn_config c;

	(void)state;
	h_config(&c);
	/* Created and destroyed, never started. */
	assert_int_equal(pn_runtime_create(&c, &h_rt), 0);
	pn_runtime_destroy(h_rt);
	/* Shut down before it started: done, and it cannot start after. */
	assert_int_equal(pn_runtime_create(&c, &h_rt), 0);
	assert_int_equal(pn_runtime_shutdown(h_rt, H_SEC, NULL), 0);
	assert_int_equal(pn_runtime_start(h_rt), -EALREADY);
	assert_int_equal(pn_runtime_shutdown(h_rt, H_SEC, NULL), -EALREADY);
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
	pn_runtime_destroy(NULL);
}

static void test_runtime_start_after_shutdown(void **state)
{
	(void)state;
	h_start(NULL);
	assert_int_equal(pn_runtime_shutdown(h_rt, H_WAIT, NULL), 0);
	assert_int_equal(pn_runtime_start(h_rt), -EALREADY);
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
}

static void test_runtime_destroy_shuts_down(void **state)
{
	(void)state;
	h_start(NULL);
	h_puppet_spawn(&A, 0);
	h_puppet_spawn(&B, 1);
	pn_runtime_destroy(h_rt); /* no shutdown first */
	h_rt = NULL;
	assert_int_equal(A.cleanups, 1);
	assert_int_equal(A.cleanup_reason, PN_REASON_SHUTDOWN);
	assert_int_equal(B.cleanups, 1);
	assert_int_equal(B.cleanup_reason, PN_REASON_SHUTDOWN);
}

static unsigned nthreads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	unsigned n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* A joined thread's /proc entry may outlive pthread_join() briefly. */
static unsigned threads_want;

static bool threads_back(void *arg)
{
	(void)arg;
	return nthreads() == threads_want;
}

static int highest_fd(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int max = 2;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && atoi(e->d_name) > max)
			max = atoi(e->d_name);
	closedir(d);
	return max;
}

/*
 * The shards' io_uring set-up fails for want of file descriptors: start
 * reports it, and no thread is left running.
 */
static void test_runtime_start_error(void **state)
{
	struct pn_config c;
	struct rlimit old, low;
	int fill[1024], nfill = 0, err;

	(void)state;
	h_config(&c);
	assert_int_equal(pn_runtime_create(&c, &h_rt), 0);
	threads_want = nthreads();
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)highest_fd() + 1;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	while (nfill < 1024 && (fill[nfill] = open("/dev/null", O_RDONLY)) >= 0)
		nfill++;
	err = pn_runtime_start(h_rt);
	for (int i = 0; i < nfill; i++)
		close(fill[i]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	if (err != -EMFILE)
		print_message("start: %d %s\n", err, pn_last_error());
	assert_int_equal(err, -EMFILE);
	assert_non_null(strstr(pn_last_error(), "io_uring"));
	assert_true(h_until(threads_back, NULL, H_WAIT));
	/* No second try on top of the first: the same error, no thread. */
	assert_int_equal(pn_runtime_start(h_rt), -EMFILE);
	assert_true(h_until(threads_back, NULL, H_WAIT));
	assert_int_equal(pn_runtime_shutdown(h_rt, H_SEC, NULL), 0);
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
}

/* --- wait and notify ---------------------------------------------------- */

static void test_runtime_wait_notify(void **state)
{
	uint64_t t0;
	int code = 12345;

	(void)state;
	h_start(NULL);
	t0 = pn_now_ns();
	assert_int_equal(pn_runtime_wait(h_rt, 20 * H_MS, &code), -ETIMEDOUT);
	assert_true(pn_now_ns() - t0 >= 20 * H_MS);
	assert_int_equal(code, 12345);
	/* One wait per notify, in order; the code may be ignored. */
	for (int i = 0; i < 5; i++)
		pn_runtime_notify(h_rt, -i);
	assert_int_equal(pn_runtime_wait(h_rt, 0, NULL), 0);
	for (int i = 1; i < 5; i++) {
		assert_int_equal(pn_runtime_wait(h_rt, H_SEC, &code), 0);
		assert_int_equal(code, -i);
	}
	assert_int_equal(pn_runtime_wait(h_rt, 0, &code), -ETIMEDOUT);
	h_finish();
}

/* Every notify wakes exactly one wait, however many are queued. */
static void test_runtime_notify_never_drops(void **state)
{
	int code = -1, woken = 0;

	(void)state;
	h_start(NULL);
	for (int i = 0; i < 100; i++)
		pn_runtime_notify(h_rt, i);
	for (int i = 0; i < 100; i++) {
		if (pn_runtime_wait(h_rt, 0, &code) != 0 || code != i)
			break;
		woken++;
	}
	assert_int_equal(woken, 100);
	h_finish();
}

/* --- statistics --------------------------------------------------------- */

static struct pn_shard_stats st_before;
static unsigned st_shard;
static uint64_t st_want;

static bool handled_reached(void *arg)
{
	(void)arg;
	return h_stats(st_shard).handled - st_before.handled >= st_want;
}

/* Hot counters are published once per loop turn: wait for the turn. */
static bool sent_reached(void *arg)
{
	struct pn_shard_stats st = h_stats(st_shard);

	(void)arg;
	return st.sent_remote - st_before.sent_remote >= 3 &&
	       st.sent_local - st_before.sent_local >= 2;
}

static bool parked_both(void *arg)
{
	(void)arg;
	return h_stats(0).parks > 0 && h_stats(1).parks > 0;
}

static bool stopped_reached(void *arg)
{
	(void)arg;
	return h_stats(1).stopped == 1;
}

static void test_runtime_stats(void **state)
{
	struct pn_shard_stats st, st0;
	int codes[4];

	(void)state;
	h_start(NULL);
	/* Shards 0 and 1, and 2 the supervisor shard; no 3. */
	assert_int_equal(pn_runtime_stats(h_rt, 2, &st), 0);
	assert_int_equal(pn_runtime_stats(h_rt, 3, &st), -EINVAL);
	assert_int_equal(pn_runtime_stats(h_rt, 1000, &st), -EINVAL);
	B.notify_mask = H_BIT(H_EV_DATA);
	h_puppet_spawn(&A, 1);
	h_puppet_spawn(&B, 0);
	st = h_stats(1);
	assert_int_equal(st.spawned, 1);
	assert_int_equal(st.actors, 1);
	assert_int_equal(st.stopped, 0);
	assert_int_equal(st.dead_letters, 0);
	/* Six messages from outside, all handled. */
	st_before = h_stats(1);
	st_shard = 1;
	st_want = 6;
	for (uint64_t i = 0; i < 5; i++)
		h_send(A.self, H_MSG_DATA, &i, sizeof(i));
	h_cmd(A.self, H_NOP, 50, 0, 0, 0);
	h_expect(50);
	assert_true(h_until(handled_reached, NULL, H_WAIT));
	st = h_stats(1);
	assert_int_equal(st.received_ext - st_before.received_ext, 6);
	assert_int_equal(st.handled - st_before.handled, 6);
	/* Three to the other shard, two to itself. */
	st_before = st;
	st0 = h_stats(0);
	for (int i = 0; i < 3; i++)
		h_cmd(A.self, H_SEND, 0, 0, B.self, (uint64_t)i);
	for (int i = 0; i < 2; i++)
		h_cmd(A.self, H_SEND, 0, 0, A.self, (uint64_t)i);
	h_cmd(A.self, H_NOP, 51, 0, 0, 0);
	for (int i = 0; i < 3; i++)
		codes[i] = H_CODE(&B, H_EV_DATA);
	codes[3] = 51;
	h_expect_all(codes, 4);
	assert_true(h_until(sent_reached, NULL, H_WAIT));
	st = h_stats(1);
	assert_int_equal(st.sent_remote - st_before.sent_remote, 3);
	assert_int_equal(st.sent_local - st_before.sent_local, 2);
	assert_int_equal(h_stats(0).sent_remote, st0.sent_remote);
	/* A timer, a stop. */
	h_cmd(A.self, H_AFTER, 0, 0, 0, H_MS);
	h_cmd(A.self, H_CHECK, 0, 0, 0, 5 * H_MS);
	h_cmd(A.self, H_STOP, 0, 0, A.self, 0);
	assert_true(h_until(stopped_reached, NULL, H_WAIT));
	st = h_stats(1);
	assert_int_equal(st.spawned, 1);
	assert_int_equal(st.stopped, 1);
	assert_int_equal(st.actors, 0);
	/* Idle shards park. */
	assert_true(h_until(parked_both, NULL, H_WAIT));
	h_finish();
}

static void test_runtime_reason_names(void **state)
{
	static const char *const names[] = {"normal", "failed", "killed",
					    "linked", "noproc", "shutdown",
					    "init"};

	(void)state;
	for (int i = 0; i < 7; i++)
		assert_string_equal(pn_reason_name(i), names[i]);
	assert_string_equal(pn_reason_name(-1), "unknown");
	assert_string_equal(pn_reason_name(7), "unknown");
	assert_string_equal(pn_reason_name(PN_REASON_INIT + 100), "unknown");
}

/* --- what a handler sees ------------------------------------------------ */

static struct {
	pn_pid self;
	unsigned shard;
	struct pn_runtime *rt;
	uint64_t now;
	struct io_uring *ring;
} seen;

static int accessors_hook(struct pn_ctx *ctx, struct h_puppet *p,
			  const struct pn_msg *m)
{
	(void)p;
	if (m->type != H_MSG_DATA)
		return H_DEFAULT;
	seen.self = pn_self(ctx);
	seen.shard = pn_shard(ctx);
	seen.rt = pn_ctx_runtime(ctx);
	seen.now = pn_ctx_now_ns(ctx);
	seen.ring = pn_ctx_ring(ctx);
	pn_runtime_notify(pn_ctx_runtime(ctx), 52);
	return 0;
}

static void test_runtime_handler_accessors(void **state)
{
	uint64_t t0;

	(void)state;
	h_start(NULL);
	A.hook = accessors_hook;
	h_puppet_spawn(&A, 1);
	t0 = pn_now_ns();
	h_send(A.self, H_MSG_DATA, NULL, 0);
	h_expect(52);
	assert_true(seen.self == A.self);
	assert_int_equal(seen.shard, 1);
	assert_ptr_equal(seen.rt, h_rt);
	assert_true(seen.now >= t0 && seen.now <= pn_now_ns());
	assert_non_null(seen.ring);
	h_finish();
}

/* --- the poller hook ----------------------------------------------------- */

#define NSH	   3 /* two application shards and the supervisor shard */
#define NOP_ATTACH (PN_CQE_POLLER | 0x100)
#define NOP_ASK	   (PN_CQE_POLLER | 0x200)

/* A poller's per-shard data; written on that shard only. */
static struct poll_shard {
	unsigned shard;
	pn_pid deliver_to; /* set by a handler that asks for a delivery */
	int deliver_rc, bad_type_rc;
} pdata[NSH];
static atomic_int attached, completed, shut, bad_data;

/* Attach: per-shard data, and a NOP prepared, not submitted: the shard
 * submits what was prepared at the end of its turn. */
static void poll_attach(struct pn_ctx *ctx, void *arg)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(pn_ctx_ring(ctx));
	struct poll_shard *d = &pdata[pn_shard(ctx)];

	if (arg != pdata || pn_ctx_poller_data(ctx) != NULL)
		atomic_fetch_add(&bad_data, 1);
	d->shard = pn_shard(ctx);
	pn_ctx_set_poller_data(ctx, d);
	io_uring_prep_nop(sqe);
	sqe->user_data = NOP_ATTACH;
	atomic_fetch_add(&attached, 1);
}

/* Complete: after the attach NOP, notify 60 + shard; after a handler's
 * NOP, deliver a message to the actor that asked (and try a bad type). */
static void poll_complete(struct pn_ctx *ctx, void *arg,
			  const struct io_uring_cqe *cqe)
{
	struct poll_shard *d = pn_ctx_poller_data(ctx);
	uint64_t v = 88;

	(void)arg;
	if (!d || d->shard != pn_shard(ctx) || cqe->res != 0)
		atomic_fetch_add(&bad_data, 1);
	if (cqe->user_data == NOP_ATTACH) {
		atomic_fetch_add(&completed, 1);
		pn_runtime_notify(pn_ctx_runtime(ctx), 60 + (int)pn_shard(ctx));
	} else if (cqe->user_data == NOP_ASK && d) {
		d->bad_type_rc = pn_ctx_deliver(ctx, d->deliver_to,
						PN_MSG_STARTED, NULL, 0);
		d->deliver_rc = pn_ctx_deliver(ctx, d->deliver_to, H_MSG_DATA,
					       &v, sizeof(v));
	}
}

static void poll_shutdown(struct pn_ctx *ctx, void *arg)
{
	(void)ctx, (void)arg;
	atomic_fetch_add(&shut, 1);
}

/* On H_MSG_CHECK: prepare a NOP for the poller to answer with a DATA. */
static int ask_poller_hook(struct pn_ctx *ctx, struct h_puppet *p,
			   const struct pn_msg *m)
{
	struct io_uring_sqe *sqe;
	struct poll_shard *d;

	if (m->type != H_MSG_CHECK)
		return H_DEFAULT;
	d = pn_ctx_poller_data(ctx);
	d->deliver_to = p->self;
	sqe = io_uring_get_sqe(pn_ctx_ring(ctx));
	io_uring_prep_nop(sqe);
	sqe->user_data = NOP_ASK;
	return 0;
}

static void test_runtime_poller(void **state)
{
	struct pn_poller p = {.name = "test",
			      .attach = poll_attach,
			      .complete = poll_complete,
			      .shutdown = poll_shutdown,
			      .arg = pdata};
	struct pn_poller none = {.name = "none"};
	struct pn_config c;
	int codes[NSH] = {60, 61, 62};
	int i;

	(void)state;
	h_config(&c);
	assert_int_equal(pn_runtime_create(&c, &h_rt), 0);
	assert_int_equal(pn_poller_register(h_rt, NULL), -EINVAL);
	assert_int_equal(pn_poller_register(h_rt, &none), -EINVAL);
	assert_int_equal(pn_poller_register(h_rt, &p), 0);
	assert_int_equal(pn_poller_register(h_rt, &p), -EBUSY);
	assert_int_equal(pn_runtime_start(h_rt), 0);
	/* Every shard attached, and its NOP completed there. */
	h_expect_all(codes, NSH);
	assert_int_equal(atomic_load(&attached), NSH);
	assert_int_equal(atomic_load(&completed), NSH);
	assert_int_equal(pn_poller_register(h_rt, &p), -EBUSY);
	/* A handler's NOP; the poller answers through the dispatch path. */
	A.hook = ask_poller_hook;
	A.notify_mask = H_BIT(H_EV_DATA);
	h_puppet_spawn(&A, 1);
	h_send(A.self, H_MSG_CHECK, NULL, 0);
	h_expect(H_CODE(&A, H_EV_DATA));
	assert_int_equal(pdata[1].deliver_rc, 0);
	assert_int_equal(pdata[1].bad_type_rc, -EINVAL);
	i = h_find(&A, H_MSG_DATA, 0);
	assert_true(A.log[i].from == PN_PID_NONE);
	assert_int_equal(A.log[i].data[0], 88);
	assert_int_equal(atomic_load(&bad_data), 0);
	assert_int_equal(atomic_load(&shut), 0);
	h_finish();
	assert_int_equal(atomic_load(&shut), NSH);
}

/* --- busy polling ------------------------------------------------------- */

static void test_runtime_busy_poll(void **state)
{
	struct pn_config c;

	(void)state;
	h_config(&c);
	c.busy_poll = true;
	h_start(&c);
	A.notify_mask = H_BIT(H_EV_DATA);
	h_puppet_spawn(&A, 1);
	h_puppet_spawn(&B, 0);
	for (int i = 0; i < 20; i++) {
		h_cmd(B.self, H_SEND, 0, 0, A.self, (uint64_t)i);
		h_expect(H_CODE(&A, H_EV_DATA));
	}
	assert_int_equal(h_stats(0).parks, 0);
	assert_int_equal(h_stats(1).parks, 0);
	h_finish();
}

#define T(f)  cmocka_unit_test_setup_teardown(f, setup, h_teardown)
#define TE(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TE(test_runtime_config_defaults),
		TE(test_runtime_config_from_env),
		TE(test_runtime_config_from_env_invalid),
		TE(test_runtime_create_invalid_config),
		TE(test_runtime_create_from_env),
		T(test_runtime_start_twice),
		T(test_runtime_unstarted),
		T(test_runtime_start_after_shutdown),
		T(test_runtime_destroy_shuts_down),
		T(test_runtime_start_error),
		T(test_runtime_wait_notify),
		T(test_runtime_notify_never_drops),
		T(test_runtime_stats),
		T(test_runtime_reason_names),
		T(test_runtime_handler_accessors),
		T(test_runtime_poller),
		T(test_runtime_busy_poll),
	};

	return cmocka_run_group_tests_name("runtime", tests, NULL, NULL);
}
