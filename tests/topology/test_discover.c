// SPDX-License-Identifier: MIT
/*
 * Discovery: synthetic and real topologies load with the right counts, PU
 * and cache details in logical order; the allowed set follows the calling
 * thread's affinity; pn_topology_restrict() only ever narrows it.
 */
#include "pn_topology.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include <cmocka.h>

static struct pn_topology *load(const char *desc)
{
	struct pn_topology *t = NULL;

	if (pn_topology_load_synthetic(desc, &t))
		fail_msg("load \"%s\": %s", desc, pn_last_error());
	return t;
}

static void test_discover_synthetic_counts(void **state)
{
	struct pn_topology *t = load("pack:2 numa:2 core:4 pu:2");

	(void)state;
	assert_int_equal(pn_topology_npackages(t), 2);
	assert_int_equal(pn_topology_nnuma(t), 4);
	assert_int_equal(pn_topology_ncores(t), 16);
	assert_int_equal(pn_topology_npus(t), 32);
	pn_topology_destroy(t);
}

static void test_discover_pu_details_in_logical_order(void **state)
{
	struct pn_topology *t = load("pack:2 numa:2 core:4 pu:2");
	struct pn_cpu_info ci;

	(void)state;
	for (unsigned i = 0; i < 32; i++) {
		assert_int_equal(pn_topology_pu(t, i, &ci), 0);
		assert_int_equal(ci.cpu, i);
		assert_int_equal(ci.core, i / 2);
		assert_int_equal(ci.smt_rank, i % 2);
		assert_int_equal(ci.numa_node, i / 8);
		assert_int_equal(ci.package, i / 16);
		assert_true(ci.allowed);
	}
	assert_int_equal(pn_topology_pu(t, 32, &ci), -ERANGE);
	pn_topology_destroy(t);
}

/* OS numbers need not follow logical order (Linux puts siblings apart). */
static void test_discover_cpu_lookup_by_os_number(void **state)
{
	struct pn_topology *t = load("pack:1 core:2 pu:2(indexes=0,2,1,3)");
	struct pn_cpu_info ci;

	(void)state;
	assert_int_equal(pn_topology_cpu(t, 2, &ci), 0);
	assert_int_equal(ci.cpu, 2);
	assert_int_equal(ci.core, 0);
	assert_int_equal(ci.smt_rank, 1);
	assert_int_equal(pn_topology_cpu(t, 1, &ci), 0);
	assert_int_equal(ci.core, 1);
	assert_int_equal(ci.smt_rank, 0);
	assert_int_equal(pn_topology_pu(t, 1, &ci), 0);
	assert_int_equal(ci.cpu, 2);
	assert_int_equal(pn_topology_cpu(t, 4, &ci), -ENOENT);
	assert_non_null(strstr(pn_last_error(), "cpu 4"));
	assert_int_equal(pn_topology_cpu(t, -1, &ci), -ENOENT);
	pn_topology_destroy(t);
}

static void test_discover_coreless_pus_count_as_cores(void **state)
{
	struct pn_topology *t = load("pack:2 pu:3");
	struct pn_cpu_info ci;

	(void)state;
	assert_int_equal(pn_topology_ncores(t), 6);
	assert_int_equal(pn_topology_pu(t, 4, &ci), 0);
	assert_int_equal(ci.core, 4);
	assert_int_equal(ci.smt_rank, 0);
	assert_int_equal(ci.package, 1);
	pn_topology_destroy(t);
}

static void test_discover_caches_by_level(void **state)
{
	struct pn_topology *t = load("pack:1 l3:1 l2:2 l1d:1 core:1 pu:2");
	static const struct {
		int level;
		const char *cpus;
	} want[] = {{1, "0-1"}, {1, "2-3"}, {2, "0-1"}, {2, "2-3"}, {3, "0-3"}};
	struct pn_cache_info c;

	(void)state;
	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(pn_topology_cache(t, i, &c), 0);
		assert_int_equal(c.level, want[i].level);
		assert_string_equal(c.cpus, want[i].cpus);
		assert_true(c.size > 0);
		assert_int_equal(c.type, i < 2 ? 'd' : 'u');
	}
	assert_int_equal(pn_topology_cache(t, 5, &c), -ERANGE);
	pn_topology_destroy(t);
}

static void test_discover_rejects_bad_synthetic(void **state)
{
	struct pn_topology *t = NULL;

	(void)state;
	assert_int_equal(pn_topology_load_synthetic("garbage:x", &t), -EINVAL);
	assert_non_null(strstr(pn_last_error(), "\"garbage:x\""));
	assert_null(t);
	assert_int_equal(pn_topology_load_synthetic("", &t), -EINVAL);
	assert_int_equal(pn_topology_load_synthetic(NULL, &t), -EINVAL);
	assert_null(t);
}

/* The allowed cpus of @t as a cpu_set_t. */
static void allowed_set(const struct pn_topology *t, cpu_set_t *set)
{
	struct pn_cpu_info ci;

	CPU_ZERO(set);
	for (unsigned i = 0; i < pn_topology_npus(t); i++) {
		assert_int_equal(pn_topology_pu(t, i, &ci), 0);
		if (ci.allowed)
			CPU_SET(ci.cpu, set);
	}
}

static void test_discover_restrict_narrows(void **state)
{
	struct pn_topology *t = load("pack:2 core:8 pu:2");
	cpu_set_t set;

	(void)state;
	assert_int_equal(pn_topology_restrict(t, "0-3,8,40-50"), 0);
	allowed_set(t, &set);
	assert_int_equal(CPU_COUNT(&set), 5);
	assert_true(CPU_ISSET(8, &set) && CPU_ISSET(3, &set));
	assert_false(CPU_ISSET(4, &set));
	/* A second restriction intersects; it never widens. */
	assert_int_equal(pn_topology_restrict(t, "2-7"), 0);
	allowed_set(t, &set);
	assert_int_equal(CPU_COUNT(&set), 2);
	assert_true(CPU_ISSET(2, &set) && CPU_ISSET(3, &set));
	pn_topology_destroy(t);
}

static void test_discover_restrict_failure_leaves_set(void **state)
{
	struct pn_topology *t = load("pack:1 core:4 pu:1");
	cpu_set_t set;

	(void)state;
	assert_int_equal(pn_topology_restrict(t, "1-2"), 0);
	assert_int_equal(pn_topology_restrict(t, "3"), -EINVAL);
	assert_non_null(strstr(pn_last_error(), "no allowed cpu"));
	assert_int_equal(pn_topology_restrict(t, "1-x"), -EINVAL);
	assert_non_null(strstr(pn_last_error(), "\"1-x\""));
	assert_int_equal(pn_topology_restrict(t, ""), -EINVAL);
	allowed_set(t, &set);
	assert_int_equal(CPU_COUNT(&set), 2);
	assert_true(CPU_ISSET(1, &set) && CPU_ISSET(2, &set));
	pn_topology_destroy(t);
}

static void test_discover_machine_allowed_is_affinity(void **state)
{
	struct pn_topology *t = NULL;
	cpu_set_t aff, allowed;

	(void)state;
	assert_int_equal(pn_topology_load(&t), 0);
	assert_true(pn_topology_npus(t) >= 1);
	assert_true(pn_topology_ncores(t) >= 1);
	assert_true(pn_topology_ncores(t) <= pn_topology_npus(t));
	assert_true(pn_topology_nnuma(t) >= 1);
	assert_int_equal(sched_getaffinity(0, sizeof(aff), &aff), 0);
	allowed_set(t, &allowed);
	assert_true(CPU_EQUAL(&aff, &allowed));
	pn_topology_destroy(t);
}

struct narrowed {
	int cpu;	   /* in: the one cpu to run on */
	int err;	   /* out: pn_topology_load() */
	cpu_set_t allowed; /* out: what it called allowed */
};

/* Runs on a thread of its own so the test's thread keeps its mask. */
static void *load_narrowed(void *arg)
{
	struct narrowed *n = arg;
	struct pn_topology *t = NULL;
	struct pn_cpu_info ci;
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(n->cpu, &one);
	CPU_ZERO(&n->allowed);
	n->err = sched_setaffinity(0, sizeof(one), &one) ? -1
							 : pn_topology_load(&t);
	for (unsigned i = 0; !n->err && i < pn_topology_npus(t); i++)
		if (!pn_topology_pu(t, i, &ci) && ci.allowed)
			CPU_SET(ci.cpu, &n->allowed);
	pn_topology_destroy(t);
	return NULL;
}

static void test_discover_machine_follows_thread_affinity(void **state)
{
	struct narrowed n = {.cpu = -1};
	cpu_set_t aff;
	pthread_t th;

	(void)state;
	assert_int_equal(sched_getaffinity(0, sizeof(aff), &aff), 0);
	for (int c = CPU_SETSIZE - 1; c >= 0; c--)
		if (CPU_ISSET(c, &aff))
			n.cpu = c; /* the lowest allowed cpu */
	assert_true(n.cpu >= 0);
	assert_int_equal(pthread_create(&th, NULL, load_narrowed, &n), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(n.err, 0);
	assert_int_equal(CPU_COUNT(&n.allowed), 1);
	assert_true(CPU_ISSET(n.cpu, &n.allowed));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_discover_synthetic_counts),
		cmocka_unit_test(test_discover_pu_details_in_logical_order),
		cmocka_unit_test(test_discover_cpu_lookup_by_os_number),
		cmocka_unit_test(test_discover_coreless_pus_count_as_cores),
		cmocka_unit_test(test_discover_caches_by_level),
		cmocka_unit_test(test_discover_rejects_bad_synthetic),
		cmocka_unit_test(test_discover_restrict_narrows),
		cmocka_unit_test(test_discover_restrict_failure_leaves_set),
		cmocka_unit_test(test_discover_machine_allowed_is_affinity),
		cmocka_unit_test(test_discover_machine_follows_thread_affinity),
	};

	return cmocka_run_group_tests_name("discover", tests, NULL, NULL);
}
