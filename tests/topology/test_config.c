// SPDX-License-Identifier: MIT
/*
 * pn_plan_config_init() and pn_plan_config_from_env(): every PINION_*
 * variable read when good, and refused when bad with a message naming the
 * variable and the value, leaving the config exactly as it was.
 */
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

static const char *const vars[] = {
	"PINION_SHARDS",
	"PINION_CORES",
	"PINION_SUPERVISOR_CORE",
	"PINION_SMT",
};

static int clear_env(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	return 0;
}

/* A config with every field off its default, to see nothing is touched. */
static void custom(struct pn_plan_config *c)
{
	pn_plan_config_init(c);
	c->shards = 3;
	strcpy(c->cores, "1-2");
	c->supervisor_core = 7;
	c->smt = PN_SMT_OFF;
}

/* Set @var=@value, expect -EINVAL naming both, and @c unchanged. */
static void expect_rejected(const char *var, const char *value)
{
	struct pn_plan_config c, before;
	char named[128];

	custom(&c);
	before = c;
	assert_int_equal(setenv(var, value, 1), 0);
	assert_int_equal(pn_plan_config_from_env(&c), -EINVAL);
	snprintf(named, sizeof(named), "%s=%s", var, value);
	if (strstr(pn_last_error(), named) != pn_last_error())
		fail_msg("%s=\"%s\": error \"%s\" does not start with it", var,
			 value, pn_last_error());
	assert_memory_equal(&c, &before, sizeof(c));
	unsetenv(var);
}

static void test_config_init_defaults(void **state)
{
	struct pn_plan_config c;

	(void)state;
	memset(&c, 0x5a, sizeof(c));
	pn_plan_config_init(&c);
	assert_int_equal(c.shards, 0);
	assert_string_equal(c.cores, "");
	assert_int_equal(c.supervisor_core, -1);
	assert_int_equal(c.smt, PN_SMT_DEFAULT);
}

static void test_config_unset_and_empty_leave_config(void **state)
{
	struct pn_plan_config c, before;

	(void)state;
	custom(&c);
	before = c;
	assert_int_equal(pn_plan_config_from_env(&c), 0);
	assert_memory_equal(&c, &before, sizeof(c));
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		setenv(vars[i], "", 1);
	assert_int_equal(pn_plan_config_from_env(&c), 0);
	assert_memory_equal(&c, &before, sizeof(c));
}

static void test_config_reads_every_variable(void **state)
{
	struct pn_plan_config c;

	(void)state;
	pn_plan_config_init(&c);
	setenv("PINION_SHARDS", "4", 1);
	setenv("PINION_CORES", "0-3,8", 1);
	setenv("PINION_SUPERVISOR_CORE", "9", 1);
	setenv("PINION_SMT", "on", 1);
	assert_int_equal(pn_plan_config_from_env(&c), 0);
	assert_int_equal(c.shards, 4);
	assert_string_equal(c.cores, "0-3,8");
	assert_int_equal(c.supervisor_core, 9);
	assert_int_equal(c.smt, PN_SMT_ON);
}

static void test_config_reads_limits(void **state)
{
	struct pn_plan_config c;

	(void)state;
	pn_plan_config_init(&c);
	setenv("PINION_SHARDS", "1", 1);
	setenv("PINION_SUPERVISOR_CORE", "0", 1);
	setenv("PINION_SMT", "off", 1);
	assert_int_equal(pn_plan_config_from_env(&c), 0);
	assert_int_equal(c.shards, 1);
	assert_int_equal(c.supervisor_core, 0);
	assert_int_equal(c.smt, PN_SMT_OFF);
}

/* The one parser every PINION_* number goes through (pn_base.h). */
static void test_config_parse_u64_strict(void **state)
{
	static const char *const bad[] = {
		"",
		" 1",
		"1 ",
		"+1",
		"-1",
		"-0",
		"0x1",
		"1e3",
		"1k",
		"18446744073709551616",
		"99999999999999999999999",
		"1-",
	};
	const char *why;
	uint64_t v;

	(void)state;
	assert_int_equal(pn_parse_u64("0", 0, 10, &v, NULL), 0);
	assert_int_equal(v, 0);
	assert_int_equal(pn_parse_u64("007", 0, 10, &v, NULL), 0);
	assert_int_equal(v, 7);
	assert_int_equal(
		pn_parse_u64("18446744073709551615", 0, UINT64_MAX, &v, NULL),
		0);
	assert_true(v == UINT64_MAX);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		v = 42;
		assert_true(pn_parse_u64(bad[i], 0, UINT64_MAX, &v, &why) < 0);
		assert_int_equal(v, 42); /* untouched */
	}
	assert_int_equal(pn_parse_u64("11", 0, 10, &v, &why), -ERANGE);
	assert_string_equal(why, "out of range");
	assert_int_equal(pn_parse_u64("1", 2, 10, &v, &why), -ERANGE);
	assert_int_equal(pn_parse_u64("1x", 0, 10, &v, &why), -EINVAL);
	assert_string_equal(why, "not a number");
	assert_int_equal(pn_parse_u64(NULL, 0, 10, &v, &why), -EINVAL);
}

static void test_config_rejects_bad_shards(void **state)
{
	static const char *const bad[] = {
		"0",
		"-1",
		"abc",
		"3x",
		" 3",
		"3 ",
		"+3",
		"0x4",
		"1.5",
		"4294967297",
		"18446744073709551617",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_rejected("PINION_SHARDS", bad[i]);
}

static void test_config_rejects_bad_cores(void **state)
{
	static const char *const bad[] = {
		"0-", "a", "3-1", "1,,2", ",", "0-3,", "1 2", "99999999",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_rejected("PINION_CORES", bad[i]);
}

static void test_config_rejects_too_long_cores(void **state)
{
	struct pn_plan_config c, before;
	char list[400] = "";

	(void)state;
	for (int i = 0; strlen(list) < 300; i += 2)
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
			 "%s%d", i ? "," : "", i);
	custom(&c);
	before = c;
	setenv("PINION_CORES", list, 1);
	assert_int_equal(pn_plan_config_from_env(&c), -EINVAL);
	assert_non_null(strstr(pn_last_error(), "PINION_CORES=0,2,4"));
	assert_non_null(strstr(pn_last_error(), "longer than 255"));
	assert_memory_equal(&c, &before, sizeof(c));
}

static void test_config_rejects_bad_supervisor(void **state)
{
	static const char *const bad[] = {
		"-1", "x", "1.5", "1,2", "0-1", "99999999999", "65536",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_rejected("PINION_SUPERVISOR_CORE", bad[i]);
}

static void test_config_rejects_bad_smt(void **state)
{
	static const char *const bad[] = {"maybe", "1", "yes", "ON", "on "};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_rejected("PINION_SMT", bad[i]);
	setenv("PINION_SMT", "maybe", 1);
	pn_plan_config_from_env(&(struct pn_plan_config){0});
	assert_string_equal(pn_last_error(),
			    "PINION_SMT=maybe: expected on or off");
}

static void test_config_one_bad_variable_applies_nothing(void **state)
{
	struct pn_plan_config c, before;

	(void)state;
	custom(&c);
	before = c;
	setenv("PINION_SHARDS", "4", 1);
	setenv("PINION_CORES", "0-3", 1);
	setenv("PINION_SMT", "sometimes", 1);
	assert_int_equal(pn_plan_config_from_env(&c), -EINVAL);
	assert_non_null(strstr(pn_last_error(), "PINION_SMT=sometimes"));
	assert_memory_equal(&c, &before, sizeof(c));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_config_init_defaults, clear_env),
		cmocka_unit_test(test_config_parse_u64_strict),
		cmocka_unit_test_setup(test_config_unset_and_empty_leave_config,
				       clear_env),
		cmocka_unit_test_setup(test_config_reads_every_variable,
				       clear_env),
		cmocka_unit_test_setup(test_config_reads_limits, clear_env),
		cmocka_unit_test_setup(test_config_rejects_bad_shards,
				       clear_env),
		cmocka_unit_test_setup(test_config_rejects_bad_cores,
				       clear_env),
		cmocka_unit_test_setup(test_config_rejects_too_long_cores,
				       clear_env),
		cmocka_unit_test_setup(test_config_rejects_bad_supervisor,
				       clear_env),
		cmocka_unit_test_setup(test_config_rejects_bad_smt, clear_env),
		cmocka_unit_test_setup(
			test_config_one_bad_variable_applies_nothing,
			clear_env),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
