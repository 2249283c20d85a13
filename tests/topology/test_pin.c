// SPDX-License-Identifier: MIT
/*
 * pn_thread_pin() on this machine: the calling thread ends up on exactly
 * the cpu asked for, its memory on that cpu's node where there is more than
 * one; cpus that do not exist, are not allowed, or belong to a synthetic
 * machine are refused and the thread's mask is left alone. Each pin runs
 * on a thread of its own so the test's thread keeps its mask, and only the
 * test's thread asserts (cmocka is not thread-safe).
 */
#include "pn_topology.h"

#include <errno.h>
#include <hwloc.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include <cmocka.h>

struct pin_job {
	const struct pn_topology *t;
	int cpu;
	int err;	  /* pn_thread_pin() */
	char detail[256]; /* pn_last_error() of the pinning thread */
	cpu_set_t before; /* mask before the call */
	cpu_set_t after;  /* and after it */
	int mem_node;	  /* node the thread's memory is bound to, or -1 */
};

/* The node the calling thread's memory policy binds to, or -1 if unbound. */
static int bound_node(void)
{
	hwloc_topology_t hw;
	hwloc_nodeset_t set = hwloc_bitmap_alloc();
	hwloc_membind_policy_t policy;
	int node = -1;

	if (hwloc_topology_init(&hw) == 0 && hwloc_topology_load(hw) == 0 &&
	    hwloc_get_membind(hw, set, &policy,
			      HWLOC_MEMBIND_THREAD | HWLOC_MEMBIND_BYNODESET) ==
		    0 &&
	    policy == HWLOC_MEMBIND_BIND && hwloc_bitmap_weight(set) == 1)
		node = hwloc_bitmap_first(set);
	hwloc_topology_destroy(hw);
	hwloc_bitmap_free(set);
	return node;
}

static void *pin_thread(void *arg)
{
	struct pin_job *j = arg;

	sched_getaffinity(0, sizeof(j->before), &j->before);
	j->err = pn_thread_pin(j->t, j->cpu);
	snprintf(j->detail, sizeof(j->detail), "%s", pn_last_error());
	sched_getaffinity(0, sizeof(j->after), &j->after);
	j->mem_node = bound_node();
	return NULL;
}

static void run_pin(struct pin_job *j)
{
	pthread_t th;

	assert_int_equal(pthread_create(&th, NULL, pin_thread, j), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
}

static int load_machine(void **state)
{
	struct pn_topology *t = NULL;

	if (pn_topology_load(&t))
		return -1;
	*state = t;
	return 0;
}

static int unload(void **state)
{
	pn_topology_destroy(*state);
	return 0;
}

static void test_pin_every_allowed_cpu(void **state)
{
	const struct pn_topology *t = *state;
	struct pn_cpu_info ci;
	unsigned pinned = 0;

	for (unsigned i = 0; i < pn_topology_npus(t); i++) {
		struct pin_job j = {.t = t};

		assert_int_equal(pn_topology_pu(t, i, &ci), 0);
		if (!ci.allowed)
			continue;
		j.cpu = ci.cpu;
		run_pin(&j);
		if (j.err)
			fail_msg("pin to cpu %d: %s", ci.cpu, j.detail);
		assert_int_equal(CPU_COUNT(&j.after), 1);
		assert_true(CPU_ISSET(ci.cpu, &j.after));
		/* One node may refuse a bind (no CAP_SYS_NICE) harmlessly. */
		if (pn_topology_nnuma(t) > 1 || j.mem_node >= 0)
			assert_int_equal(j.mem_node, ci.numa_node);
		pinned++;
	}
	assert_true(pinned >= 1);
}

static void test_pin_nonexistent_cpu(void **state)
{
	const struct pn_topology *t = *state;
	struct pin_job j = {.t = t, .cpu = 100000};

	run_pin(&j);
	assert_int_equal(j.err, -ENOENT);
	assert_string_equal(j.detail, "pin to cpu 100000: no such cpu");
	assert_true(CPU_EQUAL(&j.before, &j.after));
	j.cpu = -1;
	run_pin(&j);
	assert_int_equal(j.err, -ENOENT);
}

/* The first two allowed cpus of @t, or -1 where there are fewer. */
static void two_allowed(const struct pn_topology *t, int cpu[2])
{
	struct pn_cpu_info ci;
	int n = 0;

	cpu[0] = cpu[1] = -1;
	for (unsigned i = 0; i < pn_topology_npus(t) && n < 2; i++) {
		assert_int_equal(pn_topology_pu(t, i, &ci), 0);
		if (ci.allowed)
			cpu[n++] = ci.cpu;
	}
}

static void test_pin_disallowed_cpu(void **state)
{
	struct pn_topology *t = NULL;
	struct pin_job j = {0};
	char keep[16];
	int cpu[2];

	(void)state;
	assert_int_equal(pn_topology_load(&t), 0);
	two_allowed(t, cpu);
	if (cpu[1] < 0) {
		pn_topology_destroy(t);
		skip(); /* one cpu: nothing to restrict away */
	}
	snprintf(keep, sizeof(keep), "%d", cpu[0]);
	assert_int_equal(pn_topology_restrict(t, keep), 0);
	j.t = t;
	j.cpu = cpu[1];
	run_pin(&j);
	assert_int_equal(j.err, -EINVAL);
	assert_non_null(strstr(j.detail, "not in the allowed set"));
	assert_true(CPU_EQUAL(&j.before, &j.after));
	pn_topology_destroy(t);
}

static void test_pin_synthetic_refused(void **state)
{
	struct pn_topology *t = NULL;
	struct pin_job j = {.cpu = 0};

	(void)state;
	assert_int_equal(pn_topology_load_synthetic("pack:1 core:2 pu:1", &t),
			 0);
	j.t = t;
	run_pin(&j);
	assert_int_equal(j.err, -EINVAL);
	assert_non_null(strstr(j.detail, "synthetic"));
	assert_true(CPU_EQUAL(&j.before, &j.after));
	pn_topology_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pin_every_allowed_cpu),
		cmocka_unit_test(test_pin_nonexistent_cpu),
		cmocka_unit_test(test_pin_disallowed_cpu),
		cmocka_unit_test(test_pin_synthetic_refused),
	};

	return cmocka_run_group_tests_name("pin", tests, load_machine, unload);
}
