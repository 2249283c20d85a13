// SPDX-License-Identifier: MIT
/*
 * Staged shutdown (core/rt/shutdown.c): a clean shutdown
 * reports nothing; actors get PN_MSG_SHUTDOWN, then STOPPING and cleanup
 * with PN_REASON_SHUTDOWN, children before parents (links or not); what
 * was in flight is delivered first; nothing new is spawned once actors are
 * being stopped; a second shutdown is -EALREADY; sending and spawning from
 * outside afterwards is -ESHUTDOWN; and a handler that never returns costs
 * its shard, not the shutdown: the call returns by its deadline with
 * -ETIMEDOUT, the rest of the runtime stopped properly, and a report
 * naming the abandoned shard and the actor it was stuck in.
 */
#include "harness.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct h_puppet A, B, T[6];

static int setup(void **state)
{
	(void)state;
	h_puppet_init(&A, 1);
	h_puppet_init(&B, 2);
	for (int i = 0; i < 6; i++)
		h_puppet_init(&T[i], 10 + i);
	return 0;
}

/* @p's last messages were SHUTDOWN, then STOPPING (reason SHUTDOWN), and
 * cleanup came after them with reason SHUTDOWN. */
static void assert_shut_down(const struct h_puppet *p)
{
	int32_t r;

	assert_true(p->n >= 3);
	assert_int_equal(h_count(p, PN_MSG_SHUTDOWN), 1);
	assert_int_equal(h_count(p, PN_MSG_STOPPING), 1);
	assert_int_equal(p->log[p->n - 1].type, PN_MSG_STOPPING);
	memcpy(&r, p->log[p->n - 1].data, sizeof(r));
	assert_int_equal(r, PN_REASON_SHUTDOWN);
	assert_true(h_find(p, PN_MSG_SHUTDOWN, 0) < (int)p->n - 1);
	assert_int_equal(p->cleanups, 1);
	assert_int_equal(p->cleanup_reason, PN_REASON_SHUTDOWN);
	assert_int_equal(p->cleanup_at, p->n);
}

static void test_shutdown_clean_report(void **state)
{
	static const char *const names[PN_STAGE_COUNT] = {
		"input", "notify", "drain", "stop", "io", "join"};
	struct pn_shutdown_report r;
	uint64_t t0;

	(void)state;
	h_start(NULL);
	h_puppet_spawn(&A, 0);
	h_puppet_spawn(&B, 1);
	for (uint64_t i = 0; i < 50; i++)
		h_cmd(A.self, H_SEND, 0, 0, B.self, i);
	t0 = pn_now_ns();
	assert_int_equal(pn_runtime_shutdown(h_rt, H_WAIT, &r), 0);
	assert_true(pn_now_ns() - t0 < H_WAIT);
	for (int st = 0; st < PN_STAGE_COUNT; st++) {
		assert_string_equal(r.stage[st].name, names[st]);
		assert_int_equal(r.stage[st].status, 0);
		assert_int_equal(r.stage[st].shards_pending, 0);
	}
	assert_int_equal(r.actors_left, 0);
	assert_int_equal(r.shards_abandoned, 0);
	assert_string_equal(r.text, "");
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
	assert_shut_down(&A);
	assert_shut_down(&B);
	/* What was in flight was delivered before B stopped. */
	assert_int_equal(h_count(&B, H_MSG_DATA), 50);
}

static void test_shutdown_delivers_in_flight(void **state)
{
	(void)state;
	h_start(NULL);
	h_puppet_spawn(&A, 1);
	for (uint64_t i = 0; i < 300; i++)
		h_send(A.self, H_MSG_DATA, &i, sizeof(i));
	h_finish();
	assert_int_equal(h_count(&A, H_MSG_DATA), 300);
	for (unsigned k = 0; k < 300; k++) {
		uint64_t v;

		memcpy(&v, A.log[h_find(&A, H_MSG_DATA, k)].data, sizeof(v));
		assert_int_equal(v, k);
	}
	assert_shut_down(&A);
}

/*
 * A tree across both shards: T0 (depth 0) spawns T1 on shard 1 and T2 on
 * shard 0; T1 spawns T3 on shard 0, T2 spawns T4 on shard 1; T4 spawns
 * T5. Spawn flags @flags on every edge.
 */
static void spawn_tree(unsigned flags)
{
	static const int parent[6] = {-1, 0, 0, 1, 2, 4};
	static const int shard[6] = {0, 1, 0, 0, 1, 1};

	pn_pid pid[6];
	int codes[5];

	pid[0] = h_puppet_spawn(&T[0], 0);
	for (int i = 1; i < 6; i++) {
		const struct h_puppet *p = &T[parent[i]];

		/* (The parent may not have started yet: it is fine to send
		 * to a PID at once.) */
		h_cmd(pid[parent[i]], H_SPAWN, 70 + i, shard[i], flags,
		      (uintptr_t)&T[i]);
		h_expect(70 + i);
		assert_int_equal(p->rc[p->nrc - 1], 0);
		pid[i] = p->spawned;
	}
	/* All of them are up before the shutdown. */
	for (int i = 1; i < 6; i++) {
		h_cmd(pid[i], H_NOP, 80 + i, 0, 0, 0);
		codes[i - 1] = 80 + i;
	}
	h_expect_all(codes, 5);
}

static void assert_children_first(void)
{
	static const int depth[6] = {0, 1, 1, 2, 2, 3};

	for (int i = 0; i < 6; i++) {
		assert_shut_down(&T[i]);
		for (int j = 0; j < 6; j++)
			if (depth[i] > depth[j])
				assert_true(T[i].cleanup_seq <
					    T[j].cleanup_seq);
	}
}

static void test_shutdown_children_first(void **state)
{
	(void)state;
	h_start(NULL);
	spawn_tree(0);
	h_finish();
	assert_children_first();
}

/* Linked to its children, a parent still gets a clean shutdown: their
 * PN_REASON_SHUTDOWN does not stop it as LINKED first. */
static void test_shutdown_linked_tree(void **state)
{
	(void)state;
	h_start(NULL);
	spawn_tree(PN_SPAWN_LINK);
	h_finish();
	assert_children_first();
}

static void test_shutdown_twice(void **state)
{
	struct pn_shutdown_report r;

	(void)state;
	h_start(NULL);
	assert_int_equal(pn_runtime_shutdown(h_rt, H_WAIT, NULL), 0);
	memset(&r, 0x5a, sizeof(r));
	assert_int_equal(pn_runtime_shutdown(h_rt, H_WAIT, &r), -EALREADY);
	assert_int_equal(r.actors_left, 0);
	assert_string_equal(r.stage[PN_STAGE_STOP].name, "stop");
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
}

static void test_shutdown_then_external_input(void **state)
{
	struct pn_spawn_opts o = {.shard = 1};
	struct pn_config c;
	pn_pid pid;

	(void)state;
	/* The runtime's own producer exists already... */
	h_start(NULL);
	pid = h_puppet_spawn(&A, 0);
	assert_int_equal(pn_runtime_shutdown(h_rt, H_WAIT, NULL), 0);
	assert_int_equal(pn_runtime_send(h_rt, pid, H_MSG_DATA, NULL, 0, 0),
			 -ESHUTDOWN);
	assert_int_equal(pn_runtime_send(h_rt, pid, H_MSG_DATA, NULL, 0, H_SEC),
			 -ESHUTDOWN);
	assert_int_equal(pn_runtime_spawn(h_rt, &h_puppet_b, &o, &pid),
			 -ESHUTDOWN);
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
	/* ...or not yet. */
	h_config(&c);
	assert_int_equal(pn_runtime_create(&c, &h_rt), 0);
	assert_int_equal(pn_runtime_start(h_rt), 0);
	assert_int_equal(pn_runtime_shutdown(h_rt, H_WAIT, NULL), 0);
	assert_int_equal(pn_runtime_send(h_rt, pn_pid_make(0, 0, 1), H_MSG_DATA,
					 NULL, 0, H_SEC),
			 -ESHUTDOWN);
	assert_int_equal(pn_runtime_spawn(h_rt, &h_puppet_b, &o, &pid),
			 -ESHUTDOWN);
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
}

/* On STOPPING: try to spawn here and on the other shard. */
static int spawn_rc[2];

static int spawn_on_stop_hook(struct pn_ctx *ctx, struct h_puppet *p,
			      const struct pn_msg *m)
{
	if (m->type != PN_MSG_STOPPING)
		return H_DEFAULT;
	for (int i = 0; i < 2; i++) {
		struct h_puppet *child = &T[i];
		struct pn_spawn_opts o = {
			.shard = i, .arg = &child, .arg_len = sizeof(child)};

		spawn_rc[i] = pn_spawn(ctx, &h_puppet_b, &o, &p->spawned);
	}
	return H_DEFAULT;
}

static void test_shutdown_no_spawn_while_stopping(void **state)
{
	struct pn_shutdown_report r;

	(void)state;
	h_start(NULL);
	A.hook = spawn_on_stop_hook;
	h_puppet_spawn(&A, 0);
	assert_int_equal(pn_runtime_shutdown(h_rt, H_WAIT, &r), 0);
	if (r.actors_left)
		print_message("%s", r.text);
	assert_int_equal(r.actors_left, 0);
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
	/* Refused; had they been let in, nothing would have stopped them. */
	assert_int_equal(spawn_rc[0], -ESHUTDOWN);
	assert_int_equal(spawn_rc[1], -ESHUTDOWN);
	assert_int_equal(T[0].cleanups + T[1].cleanups, 0);
}

/*
 * A deadline too short for anything: the call still returns at once and
 * says what did not finish; shards it left behind are not waited for, and
 * pn_runtime_destroy() must not free what their threads may still use.
 */
static void test_shutdown_tiny_deadline(void **state)
{
	/* Its own puppets: shards left behind may still run them after this
	 * test, while the next ones reset theirs. */
	static struct h_puppet a, b;
	struct pn_shutdown_report r;
	uint64_t t0, took;
	int err;

	(void)state;
	h_puppet_init(&a, 7);
	h_puppet_init(&b, 8);
	h_start(NULL);
	h_puppet_spawn(&a, 0);
	h_puppet_spawn(&b, 1);
	t0 = pn_now_ns();
	err = pn_runtime_shutdown(h_rt, 1, &r);
	took = pn_now_ns() - t0;
	assert_int_equal(err, -ETIMEDOUT);
	assert_true(took < 500 * H_MS);
	assert_true(r.text[0] != '\0');
	assert_true(r.stage[PN_STAGE_JOIN].status == 0 ||
		    r.shards_abandoned > 0);
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
}

/* --- a handler that never returns ------------------------------------ */

static atomic_bool stuck_release;
static atomic_int stuck_tid;

/* On DATA: tell the test, then spin until it lets go (bounded). */
static int stuck_hook(struct pn_ctx *ctx, struct h_puppet *p,
		      const struct pn_msg *m)
{
	uint64_t end = pn_now_ns() + 60 * H_SEC;

	(void)p;
	if (m->type != H_MSG_DATA)
		return H_DEFAULT;
	atomic_store(&stuck_tid, (int)gettid());
	pn_runtime_notify(pn_ctx_runtime(ctx), 90);
	while (!atomic_load(&stuck_release) && pn_now_ns() < end)
		;
	return 0;
}

static void test_shutdown_stuck_handler(void **state)
{
	const uint64_t timeout = 4 * H_SEC, slack = 500 * H_MS;
	struct pn_shutdown_report r;
	struct pn_config c;
	char pid_text[32];
	uint64_t t0, took;
	int err;

	(void)state;
	/* The stuck shard costs one stage's limit (then it is not waited
	 * for) and the join's: about 2 s, well within the deadline. */
	h_config(&c);
	for (int st = 0; st < PN_STAGE_COUNT; st++)
		c.stage_ns[st] = H_SEC;
	h_start(&c);
	/* A healthy tree on shard 0, a stuck actor on shard 1. */
	h_puppet_spawn(&T[0], 0);
	h_cmd(T[0].self, H_SPAWN, 71, 0, PN_SPAWN_LINK, (uintptr_t)&T[1]);
	h_expect(71);
	B.hook = stuck_hook;
	h_puppet_spawn(&B, 1);
	h_send(B.self, H_MSG_DATA, NULL, 0);
	h_expect(90);
	t0 = pn_now_ns();
	err = pn_runtime_shutdown(h_rt, timeout, &r);
	took = pn_now_ns() - t0;
	print_message("stuck shutdown took %llu ms:\n%s",
		      (unsigned long long)(took / H_MS), r.text);
	assert_int_equal(err, -ETIMEDOUT);
	assert_true(took <= timeout + slack);
	assert_int_equal(r.shards_abandoned, 1);
	assert_int_equal(r.stage[PN_STAGE_JOIN].shards_pending, 1u << 1);
	snprintf(pid_text, sizeof(pid_text), "%#llx",
		 (unsigned long long)B.self);
	assert_non_null(strstr(r.text, "shard 1 abandoned"));
	assert_non_null(strstr(r.text, pid_text));
	/* Shard 0 was stopped properly all the same. */
	assert_shut_down(&T[0]);
	assert_shut_down(&T[1]);
	assert_true(T[1].cleanup_seq < T[0].cleanup_seq);
	h_stuck_thread_finish(&stuck_release, &stuck_tid);
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_shutdown_clean_report),
		T(test_shutdown_delivers_in_flight),
		T(test_shutdown_children_first),
		T(test_shutdown_linked_tree),
		T(test_shutdown_twice),
		T(test_shutdown_then_external_input),
		T(test_shutdown_no_spawn_while_stopping),
		T(test_shutdown_tiny_deadline),
		T(test_shutdown_stuck_handler), /* last: see its TSan note */
	};

	return cmocka_run_group_tests_name("shutdown", tests, NULL, NULL);
}
