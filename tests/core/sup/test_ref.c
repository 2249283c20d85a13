// SPDX-License-Identifier: MIT
/*
 * Refs (struct pn_ref, core/sup/registry.c): handles on names that follow
 * a supervised child's restarts. pn_name_ref() and its errors; refs to
 * registered names (a send reaches the actor; unbound: -ESTALE, also once
 * the cell serves another binding; a dead actor on the sender's shard:
 * -ESRCH; on another shard: a dead letter); refs kept across a random
 * sequence of registrations on a crowded table (entries move under them)
 * against a model; a supervised child's ref across several restarts (a
 * send after each reaches the new incarnation, one between incarnations
 * gets -ESRCH from any shard, one after the child is gone for good
 * -ESTALE); and a sender storming a ref while the child restarts over and
 * over (TSan): every send is accepted or refused with -ESRCH, and every
 * accepted one is handled by some incarnation or is a dead letter.
 */
#include "sup_log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- a sender ------------------------------------------------------------ */

#define RS_SEND	 0x3001u /* struct rs_send: one pn_ref_send() */
#define RS_STORM 0x3002u /* bursts of W_COUNT through storm_ref */

struct rs_send {
	struct pn_ref ref;
	uint32_t type;
};

static atomic_int rs_rc[4];
static atomic_ulong storm_ok, storm_esrch, storm_other;
static atomic_bool storming;
static struct pn_ref storm_ref; /* set before the first RS_STORM */

static int rs_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	int id = *(int *)state;

	if (m->type == RS_SEND) {
		struct rs_send a;

		memcpy(&a, pn_msg_data(m), sizeof(a));
		atomic_store(&rs_rc[id],
			     pn_ref_send(ctx, a.ref, a.type, NULL, 0));
		pn_runtime_notify(pn_ctx_runtime(ctx), 50 + id);
		return 0;
	}
	if (m->type != RS_STORM)
		return 0;
	for (int i = 0; i < 32; i++) {
		int rc = pn_ref_send(ctx, storm_ref, W_COUNT, NULL, 0);

		if (rc == 0)
			atomic_fetch_add(&storm_ok, 1);
		else if (rc == -ESRCH)
			atomic_fetch_add(&storm_esrch, 1);
		else if (rc != -EAGAIN) /* backpressure: just try again */
			atomic_fetch_add(&storm_other, 1);
	}
	if (!atomic_load(&storming)) {
		pn_runtime_notify(pn_ctx_runtime(ctx), 60 + id);
		return 0;
	}
	return pn_send(ctx, pn_self(ctx), RS_STORM, NULL, 0);
}

static int rs_init(struct pn_ctx *ctx, void *state, const void *arg, size_t len)
{
	(void)ctx;
	if (len != sizeof(int))
		return -EINVAL;
	memcpy(state, arg, len);
	return 0;
}

static const struct pn_behaviour sender_b = {.name = "sender",
					     .state_size = sizeof(int),
					     .init = rs_init,
					     .handle = rs_handle};

static pn_pid sender(int id, int shard)
{
	return h_spawn(&sender_b, shard, &id, sizeof(id));
}

/* Sender @s (id @id) does one pn_ref_send(@ref, @type); its result. */
static int ref_send_from(pn_pid s, int id, struct pn_ref ref, uint32_t type)
{
	struct rs_send a = {.ref = ref, .type = type};

	h_send(s, RS_SEND, &a, sizeof(a));
	h_expect(50 + id);
	return atomic_load(&rs_rc[id]);
}

static pn_pid ref_pid(struct pn_ref ref, int *err)
{
	pn_pid pid;

	*err = pn_ref_pid(h_rt, ref, &pid);
	return pid;
}

static unsigned long dead_counts;

static void count_dead(void *arg, unsigned shard, const struct pn_msg *m)
{
	(void)arg, (void)shard;
	if (m->type == W_COUNT) /* on one shard thread at a time: below */
		__atomic_fetch_add(&dead_counts, 1, __ATOMIC_RELAXED);
}

/* --- registered names ---------------------------------------------------- */

static bool dead_seen(void *arg)
{
	return __atomic_load_n(&dead_counts, __ATOMIC_RELAXED) >=
	       *(unsigned long *)arg;
}

static void test_ref_registered_name(void **state)
{
	struct pn_ref ref, again, zero = {0};
	struct h_puppet far, near, watch;
	struct pn_config c;
	unsigned long one = 1;
	pn_pid s0, got;
	int err;

	(void)state;
	__atomic_store_n(&dead_counts, 0, __ATOMIC_RELAXED);
	config(&c);
	c.dead_letter = count_dead;
	h_start(&c);
	h_puppet_init(&far, 1);
	far.notify_mask = H_BIT(H_EV_DATA);
	h_puppet_spawn(&far, 1);
	h_puppet_init(&near, 2);
	h_puppet_spawn(&near, 0);
	h_puppet_init(&watch, 3);
	watch.notify_mask = H_BIT(H_EV_DOWN);
	h_puppet_spawn(&watch, 0);
	s0 = sender(0, 0);
	/* Bad input, unknown names. */
	assert_int_equal(pn_name_ref(h_rt, "far", &ref), -ENOENT);
	assert_int_equal(pn_name_ref(h_rt, "", &ref), -EINVAL);
	assert_int_equal(pn_name_ref(h_rt, "far", NULL), -EINVAL);
	assert_int_equal(pn_name_ref(NULL, "far", &ref), -EINVAL);
	got = ref_pid(zero, &err);
	assert_int_equal(err, -EINVAL);
	assert_true(got == PN_PID_NONE);
	assert_int_equal(ref_send_from(s0, 0, zero, H_MSG_DATA), -EINVAL);
	/* A ref reaches what the name is bound to. */
	assert_int_equal(pn_name_register(h_rt, "far", far.self), 0);
	assert_int_equal(pn_name_ref(h_rt, "far", &ref), 0);
	assert_true(ref_pid(ref, &err) == far.self);
	assert_int_equal(err, 0);
	assert_int_equal(ref_send_from(s0, 0, ref, H_MSG_DATA), 0);
	h_expect(H_CODE(&far, H_EV_DATA));
	/* Unbound: stale, and stays stale when the name (and, the free
	 * list being last-in first-out, the same cell) is bound anew; a
	 * new ref reaches the new PID. */
	assert_int_equal(pn_name_unregister(h_rt, "far"), 0);
	got = ref_pid(ref, &err);
	assert_int_equal(err, -ESTALE);
	assert_true(got == PN_PID_NONE);
	assert_non_null(strstr(pn_last_error(), "unbound"));
	assert_int_equal(ref_send_from(s0, 0, ref, H_MSG_DATA), -ESTALE);
	assert_int_equal(pn_name_register(h_rt, "far", near.self), 0);
	assert_int_equal(pn_name_ref(h_rt, "far", &again), 0);
	assert_int_equal(again.cell, ref.cell);
	ref_pid(ref, &err);
	assert_int_equal(err, -ESTALE);
	assert_true(ref_pid(again, &err) == near.self);
	assert_int_equal(err, 0);
	assert_int_equal(pn_name_unregister(h_rt, "far"), 0);
	/* A registered name's actor dead on the sender's shard: -ESRCH, as
	 * pn_send() says; on another shard: accepted, a dead letter. */
	assert_int_equal(pn_name_register(h_rt, "near", near.self), 0);
	assert_int_equal(pn_name_register(h_rt, "far", far.self), 0);
	assert_int_equal(pn_name_ref(h_rt, "near", &ref), 0);
	assert_int_equal(pn_name_ref(h_rt, "far", &again), 0);
	h_cmd(watch.self, H_MONITOR, 0, 0, near.self, 0);
	h_cmd(watch.self, H_MONITOR, 0, 0, far.self, 0);
	h_cmd(near.self, H_STOP, 0, 0, near.self, 0);
	h_expect(H_CODE(&watch, H_EV_DOWN));
	h_cmd(far.self, H_STOP, 0, 0, far.self, 0);
	h_expect(H_CODE(&watch, H_EV_DOWN));
	assert_int_equal(ref_send_from(s0, 0, ref, W_COUNT), -ESRCH);
	assert_true(ref_pid(ref, &err) == near.self); /* bound, but dead */
	assert_int_equal(ref_send_from(s0, 0, again, W_COUNT), 0);
	assert_true(h_until(dead_seen, &one, H_WAIT));
	h_finish();
	assert_int_equal(dead_counts, 1);
}

/*
 * Random registrations on a crowded table (64 slots, up to 48 names, so
 * removals shift chains and move entries under the refs), each name's ref
 * taken when it is bound: after every step, the ref of a bound name gives
 * its PID and that of an unbound one -ESTALE, whatever was bound since.
 */
static uint64_t seed;

static uint64_t rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return seed;
}

static void test_ref_model(void **state)
{
	enum { UNIVERSE = 80, STEPS = 4000 };
	static pn_pid model[UNIVERSE];
	static struct pn_ref refs[UNIVERSE], old[UNIVERSE];
	const char *env = getenv("PN_SEED");
	struct pn_config c;
	char name[32];

	(void)state;
	seed = env ? strtoull(env, NULL, 0) : pn_now_ns();
	seed = seed ? seed : 1;
	print_message("PN_SEED=%" PRIu64 "\n", seed);
	memset(model, 0, sizeof(model));
	memset(refs, 0, sizeof(refs));
	memset(old, 0, sizeof(old));
	config(&c);
	c.registry_slots = 64;
	h_start(&c);
	for (unsigned step = 0; step < STEPS; step++) {
		unsigned k = (unsigned)(rnd() % UNIVERSE);
		pn_pid pid = pn_pid_make(1, step, 1);

		snprintf(name, sizeof(name), "name-%u", k);
		if (rnd() % 2 && !model[k]) {
			if (pn_name_register(h_rt, name, pid) == 0) {
				model[k] = pid;
				assert_int_equal(
					pn_name_ref(h_rt, name, &refs[k]), 0);
			}
		} else if (model[k]) {
			assert_int_equal(pn_name_unregister(h_rt, name), 0);
			model[k] = 0;
			old[k] = refs[k];
		}
		for (unsigned j = 0; j < UNIVERSE; j++) {
			int err;
			pn_pid got;

			if (model[j]) {
				got = ref_pid(refs[j], &err);
				if (err || got != model[j])
					print_message("step %u: name-%u (seed "
						      "%" PRIu64 ")\n",
						      step, j, seed);
				assert_int_equal(err, 0);
				assert_true(got == model[j]);
			}
			if (old[j].seq) {
				ref_pid(old[j], &err);
				assert_int_equal(err, -ESTALE);
			}
		}
	}
	h_finish();
}

/* --- a supervised child ------------------------------------------------ */

static atomic_bool blocking;
static pn_pid blocker_self;

/* Keeps shard 0 busy (bounded) while @blocking holds. */
static int block_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	uint64_t end = pn_now_ns() + H_WAIT;

	(void)state;
	if (m->type != H_MSG_DATA)
		return 0;
	pn_runtime_notify(pn_ctx_runtime(ctx), 90);
	while (atomic_load(&blocking) && pn_now_ns() < end)
		;
	return 0;
}

static const struct pn_behaviour block_b = {.name = "block",
					    .handle = block_handle};

/*
 * "svc" (child 0, shard 1) restarts three times: after each, a send
 * through the ref taken at the start, from shard 1 and from the
 * supervisor shard, reaches the new incarnation. Then, one_for_all with
 * its sibling's shard held busy, it stays between incarnations: both
 * senders get -ESRCH until the sibling stops and both restart. Gone for
 * good (the runtime shut down): -ESTALE.
 */
static void test_ref_follows_restarts(void **state)
{
	static const struct pn_child_spec kids[] = {
		CHILD(0, 1, PN_RESTART_PERMANENT, "svc", 0),
		CHILD(1, 0, PN_RESTART_PERMANENT, NULL, PN_SHUTDOWN_INFINITY)};
	static const struct pn_sup_spec spec = {.strategy = PN_ONE_FOR_ALL,
						.intensity = 20,
						.period_ns = 60 * H_SEC,
						.children = kids,
						.nchildren = 2};
	struct pn_shutdown_report r;
	struct pn_config c;
	struct pn_ref ref;
	unsigned mark;
	pn_pid s1, ss, sup, was;
	char want[256] = "";
	int err;

	(void)state;
	config(&c);
	c.watchdog_ns = 5 * H_SEC; /* the blocker is busy, not stuck */
	h_start(&c);
	assert_int_equal(pn_supervisor_start(h_rt, &spec, H_WAIT, &sup), 0);
	expect_seq(0, "I0 I1");
	s1 = sender(1, 1);
	ss = sender(2, PN_SHARD_SUPERVISOR);
	blocker_self = h_spawn(&block_b, 0, NULL, 0);
	assert_int_equal(pn_name_ref(h_rt, "svc", &ref), 0);
	mark = log_mark();
	for (unsigned k = 0; k < 3; k++) {
		pn_pid now;

		was = pid_of(0);
		child_fail(0, -5);
		snprintf(want + strlen(want), sizeof(want) - strlen(want),
			 "%sC0f R0 C1s I0 I1", k ? " " : "");
		expect_seq(mark, want);
		now = pid_of(0);
		assert_true(now != was);
		assert_true(ref_pid(ref, &err) == now);
		assert_int_equal(ref_send_from(s1, 1, ref, W_PING), 0);
		assert_int_equal(ref_send_from(ss, 2, ref, W_PING), 0);
		wait_pings(now, 2);
	}
	/* Between incarnations. */
	atomic_store(&blocking, true);
	h_send(blocker_self, H_MSG_DATA, NULL, 0);
	h_expect(90);
	was = pid_of(0);
	mark = log_mark();
	child_fail(0, -5);
	expect_seq(mark, "C0f R0");
	/* The supervisor shard's sender runs after the supervisor's
	 * handler that logged R0 (same thread): the gap is set by then. */
	assert_int_equal(ref_send_from(ss, 2, ref, W_PING), -ESRCH);
	assert_int_equal(ref_send_from(s1, 1, ref, W_PING), -ESRCH);
	assert_true(ref_pid(ref, &err) == PN_PID_NONE);
	assert_int_equal(err, -ESRCH);
	assert_non_null(strstr(pn_last_error(), "between incarnations"));
	/* The table itself still names the old PID (pn_name_lookup). */
	assert_true(pn_name_lookup(h_rt, "svc") == was);
	atomic_store(&blocking, false);
	expect_seq(mark, "C0f R0 C1s I0 I1");
	assert_int_equal(ref_send_from(ss, 2, ref, W_PING), 0);
	assert_int_equal(ref_send_from(s1, 1, ref, W_PING), 0);
	wait_pings(pid_of(0), 2);
	assert_int_equal(pings_of(was, &(uint64_t){0}), 2);
	/* Gone for good. */
	assert_int_equal(pn_runtime_shutdown(h_rt, H_WAIT, &r), 0);
	assert_string_equal(r.text, "");
	ref_pid(ref, &err);
	assert_int_equal(err, -ESTALE);
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
}

/*
 * A sender on shard 0 storms "svc" (shard 1) through one ref while the
 * test fails the child 30 times. Every send is accepted or refused with
 * -ESRCH (never -ESTALE: the name stays bound); the accepted ones are
 * exactly those the incarnations handled plus the dead letters (sent in
 * the moment between a death and the supervisor hearing of it).
 */
static bool restarted(void *arg)
{
	return pid_of(0) != *(pn_pid *)arg;
}

static void test_ref_storm_across_restarts(void **state)
{
	static const struct pn_child_spec kids[] = {
		CHILD(0, 1, PN_RESTART_PERMANENT, "svc", 0)};
	static const struct pn_sup_spec spec = {.strategy = PN_ONE_FOR_ONE,
						.intensity = 100,
						.period_ns = 60 * H_SEC,
						.children = kids,
						.nchildren = 1};
	struct pn_shutdown_report r;
	struct pn_config c;
	pn_pid sup, s0, was;

	(void)state;
	__atomic_store_n(&dead_counts, 0, __ATOMIC_RELAXED);
	atomic_store(&storm_ok, 0);
	atomic_store(&storm_esrch, 0);
	atomic_store(&storm_other, 0);
	config(&c);
	c.dead_letter = count_dead;
	h_start(&c);
	assert_int_equal(pn_supervisor_start(h_rt, &spec, H_WAIT, &sup), 0);
	expect_seq(0, "I0");
	assert_int_equal(pn_name_ref(h_rt, "svc", &storm_ref), 0);
	atomic_store(&storming, true);
	s0 = sender(3, 0);
	h_send(s0, RS_STORM, NULL, 0);
	for (int k = 0; k < 30; k++) {
		was = pid_of(0);
		child_fail(0, -5);
		assert_true(h_until(restarted, &was, H_WAIT));
	}
	atomic_store(&storming, false);
	h_expect(63);
	assert_int_equal(pn_runtime_shutdown(h_rt, H_WAIT, &r), 0);
	print_message("accepted %lu, refused %lu, handled %lu, dead %lu\n",
		      atomic_load(&storm_ok), atomic_load(&storm_esrch),
		      atomic_load(&w_counted), dead_counts);
	assert_int_equal(atomic_load(&storm_other), 0);
	assert_true(atomic_load(&storm_ok) > 0);
	assert_int_equal(atomic_load(&storm_ok),
			 atomic_load(&w_counted) + dead_counts);
	assert_int_equal(r.totals.accepted,
			 r.totals.handled + r.totals.dead_letters);
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ref_registered_name),
		T(test_ref_model),
		T(test_ref_follows_restarts),
		T(test_ref_storm_across_restarts),
	};

	return cmocka_run_group_tests_name("ref", tests, NULL, NULL);
}
