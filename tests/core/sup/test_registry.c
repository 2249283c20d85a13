// SPDX-License-Identifier: MIT
/*
 * The name registry (core/sup/registry.c): register, look up, unregister;
 * the errors (-EEXIST, -ENOENT, -EINVAL, -ENOSPC at 3/4 full); a random
 * sequence of operations on a small table compared with a trivial model
 * after every step (removal shifts probe chains back, so collisions
 * matter; seed from PN_SEED); pn_name_send() from a handler; and lookups
 * from handlers on both shards while another thread registers and
 * unregisters other names: a stable name must always give its PID (TSan).
 */
#include "harness.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t seed;

static uint64_t rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return seed;
}

static int setup(void **state)
{
	const char *s = getenv("PN_SEED");

	(void)state;
	seed = s ? strtoull(s, NULL, 0) : pn_now_ns();
	if (!seed)
		seed = 1;
	print_message("PN_SEED=%" PRIu64 "\n", seed);
	return 0;
}

static void test_registry_basic(void **state)
{
	char name[PN_NAME_MAX + 1];
	pn_pid a = pn_pid_make(0, 5, 1), b = pn_pid_make(1, 7, 3);

	(void)state;
	h_start(NULL);
	assert_int_equal(pn_name_lookup(h_rt, "alpha"), PN_PID_NONE);
	assert_int_equal(pn_name_register(h_rt, "alpha", a), 0);
	assert_int_equal(pn_name_register(h_rt, "beta", b), 0);
	assert_int_equal(pn_name_lookup(h_rt, "alpha"), a);
	assert_int_equal(pn_name_lookup(h_rt, "beta"), b);
	assert_int_equal(pn_name_register(h_rt, "alpha", b), -EEXIST);
	assert_non_null(strstr(pn_last_error(), "alpha"));
	assert_int_equal(pn_name_lookup(h_rt, "alpha"), a);
	assert_int_equal(pn_name_unregister(h_rt, "alpha"), 0);
	assert_int_equal(pn_name_lookup(h_rt, "alpha"), PN_PID_NONE);
	assert_int_equal(pn_name_unregister(h_rt, "alpha"), -ENOENT);
	assert_int_equal(pn_name_register(h_rt, "alpha", b), 0);
	assert_int_equal(pn_name_lookup(h_rt, "alpha"), b);
	/* Bad input. */
	assert_int_equal(pn_name_register(h_rt, "", a), -EINVAL);
	assert_int_equal(pn_name_register(h_rt, NULL, a), -EINVAL);
	assert_int_equal(pn_name_register(h_rt, "gamma", PN_PID_NONE), -EINVAL);
	assert_int_equal(pn_name_lookup(h_rt, NULL), PN_PID_NONE);
	memset(name, 'x', sizeof(name));
	name[PN_NAME_MAX] = '\0'; /* PN_NAME_MAX bytes: one too many */
	assert_int_equal(pn_name_register(h_rt, name, a), -EINVAL);
	name[PN_NAME_MAX - 1] = '\0'; /* the longest allowed */
	assert_int_equal(pn_name_register(h_rt, name, a), 0);
	assert_int_equal(pn_name_lookup(h_rt, name), a);
	name[PN_NAME_MAX - 2] = '\0'; /* a prefix is another name */
	assert_int_equal(pn_name_lookup(h_rt, name), PN_PID_NONE);
	h_finish();
}

static void test_registry_full(void **state)
{
	struct pn_config c;
	char name[32];

	(void)state;
	h_config(&c);
	c.registry_slots = 16; /* at most 12 names */
	h_start(&c);
	for (int i = 0; i < 12; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		assert_int_equal(
			pn_name_register(h_rt, name, pn_pid_make(0, i, 1)), 0);
	}
	assert_int_equal(pn_name_register(h_rt, "one-more", 1), -ENOSPC);
	assert_int_equal(pn_name_unregister(h_rt, "n3"), 0);
	assert_int_equal(pn_name_register(h_rt, "one-more", 1), 0);
	for (int i = 0; i < 12; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		assert_int_equal(pn_name_lookup(h_rt, name),
				 i == 3 ? PN_PID_NONE : pn_pid_make(0, i, 1));
	}
	h_finish();
	/* A registry size that is not a power of two is refused. */
	h_config(&c);
	c.registry_slots = 100;
	assert_int_equal(pn_runtime_create(&c, &h_rt), -EINVAL);
	assert_non_null(strstr(pn_last_error(), "registry_slots"));
	h_rt = NULL;
}

/* Random operations on 64 slots (48 names at most) against a model. */
static void test_registry_model(void **state)
{
	enum { UNIVERSE = 80, STEPS = 10000 };
	static pn_pid model[UNIVERSE];
	struct pn_config c;
	char name[32];
	unsigned live = 0;

	(void)state;
	memset(model, 0, sizeof(model));
	h_config(&c);
	c.registry_slots = 64;
	h_start(&c);
	for (unsigned step = 0; step < STEPS; step++) {
		unsigned k = (unsigned)(rnd() % UNIVERSE);
		pn_pid pid = pn_pid_make(1, (uint32_t)step, 1);
		int err;

		snprintf(name, sizeof(name), "name-%u", k);
		if (rnd() % 2) {
			err = pn_name_register(h_rt, name, pid);
			if (model[k])
				assert_int_equal(err, -EEXIST);
			else if ((live + 1) * 4 > 64 * 3)
				assert_int_equal(err, -ENOSPC);
			else {
				assert_int_equal(err, 0);
				model[k] = pid;
				live++;
			}
		} else {
			err = pn_name_unregister(h_rt, name);
			assert_int_equal(err, model[k] ? 0 : -ENOENT);
			if (model[k]) {
				model[k] = 0;
				live--;
			}
		}
		for (unsigned j = 0; j < UNIVERSE; j++) {
			snprintf(name, sizeof(name), "name-%u", j);
			if (pn_name_lookup(h_rt, name) != model[j])
				print_message("step %u: %s (seed %" PRIu64
					      ")\n",
					      step, name, seed);
			assert_int_equal(pn_name_lookup(h_rt, name), model[j]);
		}
	}
	h_finish();
}

/* --- from handlers -------------------------------------------------------- */

#define R_GO	0x3001u /* a reader's next round */
#define R_SEND	0x3002u /* payload: a name; pn_name_send() H_MSG_DATA */
#define R_ROUND 200	/* lookups per round */

static atomic_uint mismatches, rounds_left[2];
static pn_pid stable[8];

static int reader(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	unsigned id = *(unsigned *)state;
	char name[16];

	if (m->type == R_SEND) {
		int err = pn_name_send(ctx, (const char *)pn_msg_data(m),
				       H_MSG_DATA, NULL, 0);

		pn_runtime_notify(pn_ctx_runtime(ctx), err == 0 ? 1 : err);
		return 0;
	}
	if (m->type != R_GO && m->type != PN_MSG_STARTED)
		return 0;
	for (unsigned i = 0; i < R_ROUND; i++) {
		unsigned k = i % 8;

		snprintf(name, sizeof(name), "stable-%u", k);
		if (pn_name_lookup(pn_ctx_runtime(ctx), name) != stable[k])
			atomic_fetch_add(&mismatches, 1);
	}
	if (atomic_fetch_sub(&rounds_left[id], 1) == 1) {
		pn_runtime_notify(pn_ctx_runtime(ctx), 100 + (int)id);
		return 0;
	}
	return pn_send(ctx, pn_self(ctx), R_GO, NULL, 0);
}

static int reader_init(struct pn_ctx *ctx, void *state, const void *arg,
		       size_t len)
{
	(void)ctx;
	memcpy(state, arg, len);
	return 0;
}

static const struct pn_behaviour reader_b = {.name = "reader",
					     .state_size = sizeof(unsigned),
					     .init = reader_init,
					     .handle = reader};

static atomic_bool churning;

static void *churn(void *arg)
{
	char name[32];
	unsigned i = 0;

	(void)arg;
	while (atomic_load(&churning)) {
		snprintf(name, sizeof(name), "churn-%u", i % 40);
		if (pn_name_register(h_rt, name, pn_pid_make(0, i, 9)) != 0)
			pn_name_unregister(h_rt, name);
		i++;
	}
	return NULL;
}

static void test_registry_concurrent_lookups(void **state)
{
	const unsigned rounds = 300;
	struct pn_config c;
	pthread_t t;
	char name[16];

	(void)state;
	h_config(&c);
	c.registry_slots = 64; /* crowded: long chains, many shifts */
	h_start(&c);
	for (unsigned k = 0; k < 8; k++) {
		snprintf(name, sizeof(name), "stable-%u", k);
		stable[k] = pn_pid_make(1, 1000 + k, 1);
		assert_int_equal(pn_name_register(h_rt, name, stable[k]), 0);
	}
	atomic_store(&mismatches, 0);
	atomic_store(&rounds_left[0], rounds);
	atomic_store(&rounds_left[1], rounds);
	atomic_store(&churning, true);
	assert_int_equal(pthread_create(&t, NULL, churn, NULL), 0);
	for (unsigned id = 0; id < 2; id++)
		h_spawn(&reader_b, (int)id, &id, sizeof(id));
	{
		int codes[2] = {100, 101};

		h_expect_all(codes, 2);
	}
	atomic_store(&churning, false);
	pthread_join(t, NULL);
	assert_int_equal(atomic_load(&mismatches), 0);
	h_finish();
}

static void test_registry_name_send(void **state)
{
	struct h_puppet target;
	unsigned id = 0;
	pn_pid r;

	(void)state;
	h_puppet_init(&target, 1);
	target.notify_mask = H_BIT(H_EV_DATA);
	h_start(NULL);
	h_puppet_spawn(&target, 1);
	atomic_store(&rounds_left[0], 1);
	r = h_spawn(&reader_b, 0, &id, sizeof(id));
	h_expect(100); /* its one round on STARTED */
	assert_int_equal(pn_name_register(h_rt, "target", target.self), 0);
	h_send(r, R_SEND, "target", 7);
	{
		int codes[2] = {1, H_CODE(&target, H_EV_DATA)};

		h_expect_all(codes, 2);
	}
	h_send(r, R_SEND, "nobody", 7);
	h_expect(-ESRCH);
	h_finish();
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_registry_basic),	    T(test_registry_full),
		T(test_registry_model),	    T(test_registry_concurrent_lookups),
		T(test_registry_name_send),
	};

	return cmocka_run_group_tests_name("registry", tests, NULL, NULL);
}
