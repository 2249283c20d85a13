// SPDX-License-Identifier: MIT
/*
 * Typed payloads (pn_msg.h): PN_MSG_AS yields the payload only at exactly
 * sizeof(T) and PN_MSG_AS_MIN at least that, inline and large alike;
 * pn_msg_size_ok reads a declaration table; PN_SEND_AS sends a struct
 * that PN_MSG_AS reads back on another shard; a behaviour with
 * nmsg_sizes but no table is refused at spawn. And the delivery check: a
 * library built without NDEBUG panics, naming actor, type and sizes,
 * before a handler sees a message of a declared type with the wrong
 * length; a release library delivers it (no check at all). That runs in
 * a child process (this binary again, re-executed), whose death the test
 * observes.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define M_POINT 0x3001u /* struct point */
#define M_VAR	0x3002u /* struct var: at least its header */
#define M_BIG	0x3003u /* struct big (over PN_MSG_INLINE) */
#define M_GO	0x3004u /* to the sender: u64 pid of the receiver */

struct point {
	int32_t x, y;
	uint64_t t;
};
struct var {
	uint32_t n;
	uint32_t pad;
	unsigned char tail[];
};
struct big {
	uint64_t v[12];
};

static void test_typed_as_exact(void **state)
{
	struct pn_msg m = {.type = M_POINT, .len = sizeof(struct point)};
	struct point p = {.x = -3, .y = 4, .t = 99};
	const struct point *q;

	(void)state;
	memcpy(m.data, &p, sizeof(p));
	q = PN_MSG_AS(&m, struct point);
	assert_non_null(q);
	assert_ptr_equal(q, m.data);
	assert_int_equal(q->x, -3);
	assert_int_equal(q->y, 4);
	assert_int_equal(q->t, 99);
	m.len = sizeof(struct point) - 1;
	assert_null(PN_MSG_AS(&m, struct point));
	m.len = sizeof(struct point) + 1;
	assert_null(PN_MSG_AS(&m, struct point));
	m.len = 0;
	assert_null(PN_MSG_AS(&m, struct point));
}

static void test_typed_as_min_and_large(void **state)
{
	static struct big b; /* a large payload lives behind ptr */
	struct pn_msg m = {.type = M_VAR, .len = sizeof(struct var) + 5};

	(void)state;
	assert_non_null(PN_MSG_AS_MIN(&m, struct var));
	assert_null(PN_MSG_AS(&m, struct var)); /* not exactly */
	m.len = sizeof(struct var);
	assert_non_null(PN_MSG_AS_MIN(&m, struct var));
	m.len = sizeof(struct var) - 1;
	assert_null(PN_MSG_AS_MIN(&m, struct var));
	m = (struct pn_msg){.type = M_BIG, .len = sizeof(b), .ptr = &b};
	assert_ptr_equal(PN_MSG_AS(&m, struct big), &b);
	m.len = sizeof(b) - 8;
	assert_null(PN_MSG_AS(&m, struct big));
}

static const struct pn_msg_size sizes[] = {
	PN_MSG_SIZE(M_POINT, struct point),
	PN_MSG_SIZE_AT_LEAST(M_VAR, struct var),
	PN_MSG_SIZE(M_BIG, struct big),
};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static void test_typed_size_table(void **state)
{
	struct pn_msg m = {.type = M_POINT, .len = sizeof(struct point)};

	(void)state;
	assert_true(pn_msg_size_ok(sizes, NSIZES, &m));
	m.len = 12;
	assert_false(pn_msg_size_ok(sizes, NSIZES, &m));
	m = (struct pn_msg){.type = M_VAR, .len = 100};
	assert_true(pn_msg_size_ok(sizes, NSIZES, &m));
	m.len = 4;
	assert_false(pn_msg_size_ok(sizes, NSIZES, &m));
	m = (struct pn_msg){.type = M_BIG, .len = sizeof(struct big)};
	assert_true(pn_msg_size_ok(sizes, NSIZES, &m));
	m.len = 32;
	assert_false(pn_msg_size_ok(sizes, NSIZES, &m));
	m = (struct pn_msg){.type = 0x77, .len = 3}; /* not declared */
	assert_true(pn_msg_size_ok(sizes, NSIZES, &m));
	assert_true(pn_msg_size_ok(NULL, 0, &m));
}

/* --- on a runtime ----------------------------------------------------- */

static struct point got_point;
static struct big got_big;
static int as_null, send_rc[3];

/* The receiver: checks what PN_MSG_AS gives for each type. */
static int recv_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	const struct point *p;
	const struct big *b;

	(void)state;
	if (m->type == M_POINT) {
		if ((p = PN_MSG_AS(m, struct point)) != NULL)
			got_point = *p;
		else
			as_null++;
		pn_runtime_notify(pn_ctx_runtime(ctx), 10);
	} else if (m->type == M_BIG) {
		if ((b = PN_MSG_AS(m, struct big)) != NULL)
			got_big = *b;
		else
			as_null++;
		pn_runtime_notify(pn_ctx_runtime(ctx), 11);
	}
	return 0;
}

/* The sender: PN_SEND_AS a point and a big struct, then a point's worth
 * of bytes short by 4 with plain pn_send. */
static int send_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct point p = {.x = 7, .y = -8, .t = 0x1234567890ull};
	struct big b;
	pn_pid to;

	(void)state;
	if (m->type != M_GO)
		return 0;
	to = pn_msg_u64(m);
	for (unsigned i = 0; i < 12; i++)
		b.v[i] = i * 3 + 1;
	send_rc[0] = PN_SEND_AS(ctx, to, M_POINT, p);
	send_rc[1] = PN_SEND_AS(ctx, to, M_BIG, b);
	send_rc[2] = pn_send(ctx, to, M_POINT, &p, sizeof(p) - 4);
	return 0;
}

static const struct pn_behaviour recv_b = {.name = "typed-recv",
					   .handle = recv_handle};
static const struct pn_behaviour send_b = {.name = "typed-send",
					   .handle = send_handle};

static void test_typed_send_as(void **state)
{
	pn_pid r, s;
	uint64_t v;

	(void)state;
	h_start(NULL);
	r = h_spawn(&recv_b, 1, NULL, 0);
	s = h_spawn(&send_b, 0, NULL, 0);
	v = r;
	h_send(s, M_GO, &v, sizeof(v));
	h_expect(10);
	h_expect(11);
	h_expect(10);
	h_finish();
	assert_int_equal(send_rc[0], 0);
	assert_int_equal(send_rc[1], 0);
	assert_int_equal(send_rc[2], 0);
	assert_int_equal(got_point.x, 7);
	assert_int_equal(got_point.y, -8);
	assert_true(got_point.t == 0x1234567890ull);
	for (unsigned i = 0; i < 12; i++)
		assert_true(got_big.v[i] == i * 3 + 1);
	assert_int_equal(as_null, 1); /* the short one (no declaration) */
}

static void test_typed_spawn_refuses_half_table(void **state)
{
	static const struct pn_behaviour bad = {
		.name = "half", .handle = recv_handle, .nmsg_sizes = 2};
	struct pn_spawn_opts o = {.shard = 0};
	pn_pid pid = PN_PID_NONE;

	(void)state;
	h_start(NULL);
	assert_int_equal(pn_runtime_spawn(h_rt, &bad, &o, &pid), -EINVAL);
	assert_non_null(strstr(pn_last_error(), "msg_sizes"));
	h_finish();
}

/* --- the delivery check, in a child ------------------------------------ */

/* The child's checked actor: notifies 20 + the length it was handed. */
static int checked_handle(struct pn_ctx *ctx, void *state,
			  const struct pn_msg *m)
{
	(void)state;
	if (m->type == M_POINT)
		pn_runtime_notify(pn_ctx_runtime(ctx), 20 + (int)m->len);
	return 0;
}

static const struct pn_behaviour checked_b = {.name = "checked",
					      .handle = checked_handle,
					      .msg_sizes = sizes,
					      .nmsg_sizes = NSIZES};

/* The child: a right-sized point (handled), then a short one: a debug
 * library panics before the handler; a release one hands it over, and
 * the child says "delivered" and exits 0. Any other outcome: exit 3. */
static int child_main(void)
{
	struct point p = {1, 2, 3};
	struct pn_config c;
	struct pn_runtime *rt;
	pn_pid pid;
	int code = 0;

	pn_config_init(&c);
	c.plan.shards = 1;
	c.no_pin = true;
	c.no_crash_report = true; /* the panic's own line is the report */
	if (pn_runtime_create(&c, &rt) || pn_runtime_start(rt) ||
	    pn_runtime_spawn(rt, &checked_b, NULL, &pid) ||
	    pn_runtime_send(rt, pid, M_POINT, &p, sizeof(p), H_WAIT) ||
	    pn_runtime_wait(rt, H_WAIT, &code) || code != 20 + (int)sizeof(p)) {
		fprintf(stderr, "child: set-up failed: %s\n", pn_last_error());
		return 3;
	}
	if (pn_runtime_send(rt, pid, M_POINT, &p, sizeof(p) - 4, H_WAIT) ||
	    pn_runtime_wait(rt, H_WAIT, &code) ||
	    code != 20 + (int)sizeof(p) - 4) {
		fprintf(stderr, "child: no delivery: %s\n", pn_last_error());
		return 3;
	}
	printf("delivered %d\n", code - 20);
	fflush(stdout);
	pn_runtime_destroy(rt);
	return 0;
}

/* Run the child with stdout and stderr into @out; its wait status. */
static int run_child(char *out, size_t cap)
{
	char *argv[] = {(char *)"test_typed", NULL};
	posix_spawn_file_actions_t fa;
	uint64_t end = pn_now_ns() + 2 * H_WAIT;
	size_t n = 0;
	int fds[2], st = 0;
	char **env;
	size_t nenv = 0;
	pid_t pid;

	while (environ[nenv])
		nenv++;
	env = calloc(nenv + 2, sizeof(*env));
	assert_non_null(env);
	memcpy(env, environ, nenv * sizeof(*env));
	env[nenv] = (char *)"PN_TYPED_CHILD=1";
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
	assert_int_equal(
		posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, env), 0);
	posix_spawn_file_actions_destroy(&fa);
	free(env);
	close(fds[1]);
	for (;;) { /* until EOF (the child is gone), bounded */
		struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
		ssize_t r;

		if (pn_now_ns() > end) {
			kill(pid, SIGKILL);
			break;
		}
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		r = read(fds[0], out + n, cap - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == cap - 1)
			break;
	}
	out[n] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void test_typed_delivery_check(void **state)
{
	static char out[8192];
	int st;

	(void)state;
	st = run_child(out, sizeof(out));
#ifdef NDEBUG
	/* Release: no check; the handler got the short message. */
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		print_message("child: status %#x, output:\n%s", st, out);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_non_null(strstr(out, "delivered 12"));
#else
	/* Debug: the check stopped it before the handler, by name. */
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT)
		print_message("child: status %#x, output:\n%s", st, out);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	assert_null(strstr(out, "delivered"));
	assert_non_null(strstr(out, "(checked) got message type 0x3001 with "
				    "12 bytes; its msg_sizes declare 16"));
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_typed_as_exact),
		cmocka_unit_test(test_typed_as_min_and_large),
		cmocka_unit_test(test_typed_size_table),
		cmocka_unit_test_teardown(test_typed_send_as, h_teardown),
		cmocka_unit_test_teardown(test_typed_spawn_refuses_half_table,
					  h_teardown),
		cmocka_unit_test(test_typed_delivery_check),
	};

	if (getenv("PN_TYPED_CHILD"))
		return child_main();
	return cmocka_run_group_tests_name("typed", tests, NULL, NULL);
}
