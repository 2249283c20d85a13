// SPDX-License-Identifier: MIT
/*
 * pn_plan_create() on synthetic machines: which cpus the shards get, where
 * the supervisor goes and whether it shares, SMT on and off, NUMA nodes,
 * restricted cpusets, every rejection, determinism, and the two printers.
 */
#include "json_check.h"
#include "pn_topology.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include <cmocka.h>

#define TWO_BY_EIGHT "pack:2 core:8 pu:2"

/* Plan for @desc (restricted to @restrict if not NULL) under @c. */
static int plan(const char *desc, const char *restrict_to,
		const struct pn_plan_config *c, struct pn_plan **p)
{
	struct pn_topology *t = NULL;
	int err;

	*p = NULL;
	if (pn_topology_load_synthetic(desc, &t))
		fail_msg("load \"%s\": %s", desc, pn_last_error());
	if (restrict_to && pn_topology_restrict(t, restrict_to))
		fail_msg("restrict \"%s\": %s", restrict_to, pn_last_error());
	err = pn_plan_create(t, c, p);
	pn_topology_destroy(t);
	return err;
}

static struct pn_plan *plan_ok(const char *desc, const char *restrict_to,
			       const struct pn_plan_config *c)
{
	struct pn_plan *p;

	if (plan(desc, restrict_to, c, &p))
		fail_msg("plan for \"%s\": %s", desc, pn_last_error());
	return p;
}

static struct pn_plan_config defaults(void)
{
	struct pn_plan_config c;

	pn_plan_config_init(&c);
	return c;
}

static void test_plan_two_cores_supervisor_shared(void **state)
{
	struct pn_plan_config c = defaults();
	struct pn_plan *p = plan_ok("pack:1 core:2 pu:1", NULL, &c);

	(void)state;
	assert_int_equal(p->nshards, 2);
	assert_int_equal(p->shard[0].cpu, 0);
	assert_int_equal(p->shard[1].cpu, 1);
	assert_int_equal(p->supervisor_cpu, 1);
	assert_true(p->supervisor_shared);
	assert_false(p->smt);
	assert_string_equal(p->note, "fewer than 3 cores: supervisor shares "
				     "core 1 with shard 1");
	pn_plan_destroy(p);
}

static void test_plan_one_core(void **state)
{
	struct pn_plan_config c = defaults();
	struct pn_plan *p = plan_ok("pack:1 core:1 pu:1", NULL, &c);

	(void)state;
	assert_int_equal(p->nshards, 1);
	assert_int_equal(p->supervisor_cpu, 0);
	assert_true(p->supervisor_shared);
	assert_non_null(strstr(p->note, "shares core 0 with shard 0"));
	pn_plan_destroy(p);
}

static void test_plan_three_cores_reserve_last(void **state)
{
	struct pn_plan_config c = defaults();
	struct pn_plan *p = plan_ok("pack:1 core:3 pu:1", NULL, &c);

	(void)state;
	assert_int_equal(p->nshards, 2);
	assert_int_equal(p->shard[1].cpu, 1);
	assert_int_equal(p->supervisor_cpu, 2);
	assert_false(p->supervisor_shared);
	assert_string_equal(p->note, "supervisor has core 2 (cpu 2) to itself");
	pn_plan_destroy(p);
}

/* SMT off (and the default): one PU per core, the last core supervises. */
static void check_smt_off(const struct pn_plan *p)
{
	assert_int_equal(p->nshards, 15);
	assert_false(p->smt);
	for (unsigned i = 0; i < 15; i++) {
		assert_int_equal(p->shard[i].cpu, 2 * i); /* never a sibling */
		assert_int_equal(p->shard[i].core, i);
		assert_int_equal(p->shard[i].package, i / 8);
		assert_int_equal(p->shard[i].numa_node, 0);
	}
	assert_int_equal(p->supervisor_cpu, 30);
	assert_false(p->supervisor_shared);
}

static void test_plan_smt_off_one_pu_per_core(void **state)
{
	struct pn_plan_config c = defaults();
	struct pn_plan *p;

	(void)state;
	p = plan_ok(TWO_BY_EIGHT, NULL, &c);
	check_smt_off(p);
	pn_plan_destroy(p);
	c.smt = PN_SMT_OFF;
	p = plan_ok(TWO_BY_EIGHT, NULL, &c);
	check_smt_off(p);
	pn_plan_destroy(p);
}

static void test_plan_smt_on_uses_siblings(void **state)
{
	struct pn_plan_config c = defaults();
	struct pn_plan *p;

	(void)state;
	c.smt = PN_SMT_ON;
	p = plan_ok(TWO_BY_EIGHT, NULL, &c);
	assert_int_equal(p->nshards, 30);
	assert_true(p->smt);
	for (unsigned i = 0; i < 30; i++) {
		assert_int_equal(p->shard[i].cpu, i);
		assert_int_equal(p->shard[i].core, i / 2);
	}
	/* The supervisor's core is kept whole: no shard on cpu 31. */
	assert_int_equal(p->supervisor_cpu, 30);
	assert_false(p->supervisor_shared);
	pn_plan_destroy(p);
}

/* Linux numbers siblings apart (0 and 16); the plan follows logical order. */
static void linux_numbering(char *desc, size_t len)
{
	int n = snprintf(desc, len, "pack:2 core:8 pu:2(indexes=");

	for (int core = 0; core < 16; core++)
		n += snprintf(desc + n, len - (size_t)n, "%s%d,%d",
			      core ? "," : "", core, core + 16);
	snprintf(desc + n, len - (size_t)n, ")");
}

static void test_plan_follows_logical_not_os_order(void **state)
{
	struct pn_plan_config c = defaults();
	struct pn_plan *p;
	char desc[256];

	(void)state;
	linux_numbering(desc, sizeof(desc));
	p = plan_ok(desc, NULL, &c);
	assert_int_equal(p->nshards, 15);
	for (unsigned i = 0; i < 15; i++)
		assert_int_equal(p->shard[i].cpu, i);
	assert_int_equal(p->supervisor_cpu, 15);
	pn_plan_destroy(p);
	c.smt = PN_SMT_ON;
	p = plan_ok(desc, NULL, &c);
	assert_int_equal(p->nshards, 30);
	assert_int_equal(p->shard[0].cpu, 0);
	assert_int_equal(p->shard[1].cpu, 16);
	assert_int_equal(p->shard[2].cpu, 1);
	assert_int_equal(p->shard[29].cpu, 30);
	assert_int_equal(p->supervisor_cpu, 15);
	pn_plan_destroy(p);
}

static void test_plan_numa_nodes(void **state)
{
	struct pn_plan_config c = defaults();
	struct pn_plan *p = plan_ok("pack:2 numa:2 core:4 pu:1", NULL, &c);

	(void)state;
	assert_int_equal(p->nshards, 15);
	for (unsigned i = 0; i < 15; i++) {
		assert_int_equal(p->shard[i].numa_node, i / 4);
		assert_int_equal(p->shard[i].package, i / 8);
	}
	assert_int_equal(p->supervisor_cpu, 15);
	assert_int_equal(p->supervisor_numa_node, 3);
	pn_plan_destroy(p);
}

static void test_plan_restricted_cpuset(void **state)
{
	struct pn_plan_config c = defaults();
	struct pn_plan *p;

	(void)state;
	/* cpus 5-11: half of core 2, all of cores 3-5. */
	p = plan_ok(TWO_BY_EIGHT, "5-11", &c);
	assert_int_equal(p->nshards, 3);
	assert_int_equal(p->shard[0].cpu, 5); /* core 2's only allowed PU */
	assert_int_equal(p->shard[1].cpu, 6);
	assert_int_equal(p->shard[2].cpu, 8);
	assert_int_equal(p->supervisor_cpu, 10);
	pn_plan_destroy(p);
	strcpy(c.cores, "4-9");
	assert_int_equal(plan(TWO_BY_EIGHT, "5-11", &c, &p), -EINVAL);
	assert_null(p);
	assert_string_equal(pn_last_error(), "PINION_CORES=4-9: cpu 4 is not "
					     "allowed (allowed: 5-11)");
}

static void test_plan_cores_narrow_candidates(void **state)
{
	struct pn_plan_config c = defaults();
	struct pn_plan *p;

	(void)state;
	strcpy(c.cores, "0-7");
	p = plan_ok(TWO_BY_EIGHT, NULL, &c);
	assert_int_equal(p->nshards, 3);
	assert_int_equal(p->shard[2].cpu, 4);
	assert_int_equal(p->supervisor_cpu, 6);
	pn_plan_destroy(p);
	strcpy(c.cores, "0-1,64");
	assert_int_equal(plan(TWO_BY_EIGHT, NULL, &c, &p), -EINVAL);
	assert_non_null(strstr(pn_last_error(), "PINION_CORES=0-1,64: cpu 64 "
						"does not exist"));
	strcpy(c.cores, "3-");
	assert_int_equal(plan(TWO_BY_EIGHT, NULL, &c, &p), -EINVAL);
	assert_non_null(strstr(pn_last_error(), "PINION_CORES=3-:"));
}

static void test_plan_too_many_shards(void **state)
{
	struct pn_plan_config c = defaults();
	struct pn_plan *p;

	(void)state;
	c.shards = 5;
	assert_int_equal(plan("pack:1 core:2 pu:1", NULL, &c, &p), -EINVAL);
	assert_null(p);
	assert_string_equal(pn_last_error(),
			    "PINION_SHARDS=5: only 2 usable cores (cpus 0-1)");
	c.shards = 17;
	assert_int_equal(plan(TWO_BY_EIGHT, NULL, &c, &p), -EINVAL);
	assert_non_null(strstr(pn_last_error(), "PINION_SHARDS=17: only 16"));
	c.smt = PN_SMT_ON;
	p = plan_ok(TWO_BY_EIGHT, NULL, &c); /* 32 PUs: 17 fit */
	assert_int_equal(p->nshards, 17);
	pn_plan_destroy(p);
}

static void test_plan_explicit_shards(void **state)
{
	struct pn_plan_config c = defaults();
	struct pn_plan *p;

	(void)state;
	c.shards = 4;
	p = plan_ok(TWO_BY_EIGHT, NULL, &c);
	assert_int_equal(p->nshards, 4);
	assert_int_equal(p->shard[3].cpu, 6);
	assert_int_equal(p->supervisor_cpu, 30);
	assert_false(p->supervisor_shared);
	pn_plan_destroy(p);
	/* Two cores, one shard: the supervisor need not share. */
	c.shards = 1;
	p = plan_ok("pack:1 core:2 pu:1", NULL, &c);
	assert_int_equal(p->supervisor_cpu, 1);
	assert_false(p->supervisor_shared);
	pn_plan_destroy(p);
}

static void test_plan_shards_on_every_core_share(void **state)
{
	struct pn_plan_config c = defaults();
	struct pn_plan *p;

	(void)state;
	c.shards = 4;
	p = plan_ok("pack:1 core:4 pu:1", NULL, &c);
	assert_int_equal(p->nshards, 4);
	assert_int_equal(p->shard[3].cpu, 3);
	assert_int_equal(p->supervisor_cpu, 3);
	assert_true(p->supervisor_shared);
	assert_string_equal(p->note, "PINION_SHARDS=4 needs every candidate "
				     "cpu: supervisor shares core 3 with "
				     "shard 3");
	pn_plan_destroy(p);
}

static void test_plan_supervisor_core_removed(void **state)
{
	struct pn_plan_config c = defaults();
	struct pn_plan *p;

	(void)state;
	c.supervisor_core = 1; /* core 0's sibling: core 0 goes whole */
	p = plan_ok(TWO_BY_EIGHT, NULL, &c);
	assert_int_equal(p->nshards, 15);
	for (unsigned i = 0; i < 15; i++)
		assert_int_equal(p->shard[i].core, i + 1);
	assert_int_equal(p->supervisor_cpu, 1);
	assert_false(p->supervisor_shared);
	pn_plan_destroy(p);
}

static void test_plan_supervisor_core_few_cores(void **state)
{
	struct pn_plan_config c = defaults();
	struct pn_plan *p;

	(void)state;
	c.supervisor_core = 0;
	p = plan_ok("pack:1 core:2 pu:1", NULL, &c);
	assert_int_equal(p->nshards, 2);
	assert_int_equal(p->supervisor_cpu, 0);
	assert_true(p->supervisor_shared);
	assert_non_null(strstr(p->note, "shares core 0 with shard 0"));
	pn_plan_destroy(p);
}

static void test_plan_supervisor_outside_cores(void **state)
{
	struct pn_plan_config c = defaults();
	struct pn_plan *p;

	(void)state;
	strcpy(c.cores, "0-7");
	c.supervisor_core = 20;
	p = plan_ok(TWO_BY_EIGHT, NULL, &c);
	assert_int_equal(p->nshards, 4); /* nothing to reserve among 0-7 */
	assert_int_equal(p->shard[3].cpu, 6);
	assert_int_equal(p->supervisor_cpu, 20);
	assert_false(p->supervisor_shared);
	pn_plan_destroy(p);
}

static void test_plan_supervisor_core_not_allowed(void **state)
{
	struct pn_plan_config c = defaults();
	struct pn_plan *p;

	(void)state;
	c.supervisor_core = 20;
	assert_int_equal(plan(TWO_BY_EIGHT, "0-7", &c, &p), -EINVAL);
	assert_string_equal(pn_last_error(),
			    "PINION_SUPERVISOR_CORE=20: cpu 20 is not allowed "
			    "(allowed: 0-7)");
	c.supervisor_core = 99;
	assert_int_equal(plan(TWO_BY_EIGHT, NULL, &c, &p), -EINVAL);
	assert_non_null(strstr(pn_last_error(), "PINION_SUPERVISOR_CORE=99: "
						"cpu 99 does not exist"));
}

static void test_plan_rejects_bad_smt_value(void **state)
{
	struct pn_plan_config c = defaults();
	struct pn_plan *p;

	(void)state;
	c.smt = (enum pn_smt)7;
	assert_int_equal(plan(TWO_BY_EIGHT, NULL, &c, &p), -EINVAL);
	assert_non_null(strstr(pn_last_error(), "PINION_SMT"));
}

static void assert_same_plan(const struct pn_plan *a, const struct pn_plan *b)
{
	assert_int_equal(a->nshards, b->nshards);
	assert_int_equal(a->smt, b->smt);
	assert_int_equal(a->supervisor_cpu, b->supervisor_cpu);
	assert_int_equal(a->supervisor_numa_node, b->supervisor_numa_node);
	assert_int_equal(a->supervisor_shared, b->supervisor_shared);
	assert_string_equal(a->note, b->note);
	assert_memory_equal(a->shard, b->shard,
			    a->nshards * sizeof(a->shard[0]));
}

static void test_plan_is_deterministic(void **state)
{
	static const char *const descs[] = {
		"pack:1 core:2 pu:1",
		TWO_BY_EIGHT,
		"pack:2 numa:2 core:4 pu:2",
		"pack:4 numa:1 l3:2 core:3 pu:2",
	};
	struct pn_plan_config c = defaults();
	struct pn_plan *a, *b;

	(void)state;
	for (int smt = PN_SMT_DEFAULT; smt <= PN_SMT_ON; smt++) {
		c.smt = (enum pn_smt)smt;
		for (size_t i = 0; i < sizeof(descs) / sizeof(descs[0]); i++) {
			a = plan_ok(descs[i], NULL, &c);
			b = plan_ok(descs[i], NULL, &c);
			assert_same_plan(a, b);
			pn_plan_destroy(a);
			pn_plan_destroy(b);
		}
	}
}

/* Run a printer into a string the caller frees. */
static char *printed(void (*print)(FILE *, const struct pn_topology *,
				   const struct pn_plan *),
		     const char *desc, const struct pn_plan_config *c)
{
	struct pn_topology *t = NULL;
	struct pn_plan *p = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	assert_int_equal(pn_topology_load_synthetic(desc, &t), 0);
	assert_int_equal(pn_plan_create(t, c, &p), 0);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	print(f, t, p);
	assert_int_equal(fclose(f), 0);
	pn_plan_destroy(p);
	pn_topology_destroy(t);
	return buf;
}

static void test_plan_print_table(void **state)
{
	struct pn_plan_config c = defaults();
	char *s = printed(pn_plan_print, "pack:2 numa:2 l3:1 core:4 pu:2", &c);

	(void)state;
	assert_non_null(strstr(s, "machine (synthetic): 2 packages, 4 NUMA "
				  "nodes, 16 cores, 32 PUs\n"));
	assert_non_null(strstr(s, "cpus: {0-7} {8-15} {16-23} {24-31}\n"));
	assert_non_null(strstr(s, "plan: 15 shards, SMT siblings unused\n"));
	assert_non_null(strstr(s, "\n     14    28    14     3       1\n"));
	assert_non_null(strstr(s, "supervisor: cpu 30, core 15, numa 3, "
				  "package 1\n"));
	assert_non_null(strstr(s, "note: supervisor has core 15 (cpu 30) to "
				  "itself\n"));
	free(s);
}

static void test_plan_print_json_valid(void **state)
{
	struct pn_plan_config c = defaults();
	char *s;

	(void)state;
	s = printed(pn_plan_print_json, "pack:2 numa:2 l3:1 core:4 pu:2", &c);
	assert_true(json_valid(s));
	assert_non_null(strstr(s, "\"nshards\": 15,"));
	assert_non_null(strstr(s, "{\"shard\": 14, \"cpu\": 28, \"core\": 14, "
				  "\"numa_node\": 3, \"package\": 1}"));
	assert_non_null(
		strstr(s, "\"supervisor\": {\"cpu\": 30, \"core\": 15"));
	free(s);
	s = printed(pn_plan_print_json, "pack:1 core:1 pu:1", &c);
	assert_true(json_valid(s));
	assert_non_null(strstr(s, "\"caches\": []"));
	assert_non_null(strstr(s, "\"shared\": true"));
	free(s);
	/* The checker itself must be able to say no. */
	assert_false(json_valid("{\"a\": 1,}"));
	assert_false(json_valid("{\"a\": 1} {}"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_two_cores_supervisor_shared),
		cmocka_unit_test(test_plan_one_core),
		cmocka_unit_test(test_plan_three_cores_reserve_last),
		cmocka_unit_test(test_plan_smt_off_one_pu_per_core),
		cmocka_unit_test(test_plan_smt_on_uses_siblings),
		cmocka_unit_test(test_plan_follows_logical_not_os_order),
		cmocka_unit_test(test_plan_numa_nodes),
		cmocka_unit_test(test_plan_restricted_cpuset),
		cmocka_unit_test(test_plan_cores_narrow_candidates),
		cmocka_unit_test(test_plan_too_many_shards),
		cmocka_unit_test(test_plan_explicit_shards),
		cmocka_unit_test(test_plan_shards_on_every_core_share),
		cmocka_unit_test(test_plan_supervisor_core_removed),
		cmocka_unit_test(test_plan_supervisor_core_few_cores),
		cmocka_unit_test(test_plan_supervisor_outside_cores),
		cmocka_unit_test(test_plan_supervisor_core_not_allowed),
		cmocka_unit_test(test_plan_rejects_bad_smt_value),
		cmocka_unit_test(test_plan_is_deterministic),
		cmocka_unit_test(test_plan_print_table),
		cmocka_unit_test(test_plan_print_json_valid),
	};

	return cmocka_run_group_tests_name("plan", tests, NULL, NULL);
}
