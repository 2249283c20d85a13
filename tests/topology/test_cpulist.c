// SPDX-License-Identifier: MIT
/*
 * pn_cpulist_parse(): the cpu-list syntax every setting and tool shares.
 * Good lists set exactly the named bits; bad ones are refused with a
 * reason and leave the caller's bitmap untouched.
 */
#include "pn_topology.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include <cmocka.h>

#define SENTINEL UINT64_C(0xa5a5a5a5a5a5a5a5)

static void test_cpulist_single_and_range(void **state)
{
	uint64_t bits[1] = {SENTINEL};

	(void)state;
	assert_int_equal(pn_cpulist_parse("0-3,8", bits, 64), 5);
	assert_true(bits[0] == UINT64_C(0x10f));
	assert_int_equal(pn_cpulist_parse("7", bits, 64), 1);
	assert_true(bits[0] == UINT64_C(0x80)); /* cleared, not OR-ed */
}

static void test_cpulist_overlap_counted_once(void **state)
{
	uint64_t bits[1];

	(void)state;
	assert_int_equal(pn_cpulist_parse("0-3,2-5,5", bits, 64), 6);
	assert_true(bits[0] == UINT64_C(0x3f));
}

static void test_cpulist_spans_words(void **state)
{
	uint64_t bits[3] = {0, 0, SENTINEL};

	(void)state;
	assert_int_equal(pn_cpulist_parse("63-64,127", bits, 128), 3);
	assert_true(bits[0] == UINT64_C(1) << 63);
	assert_true(bits[1] == (UINT64_C(1) | UINT64_C(1) << 63));
	assert_true(bits[2] == SENTINEL); /* only (nbits+63)/64 words */
}

static void test_cpulist_last_bit_in_range(void **state)
{
	uint64_t bits[2];

	(void)state;
	assert_int_equal(pn_cpulist_parse("0-99", bits, 100), 100);
	assert_int_equal(pn_cpulist_parse("99", bits, 100), 1);
	assert_true(bits[1] == UINT64_C(1) << 35);
}

static void test_cpulist_rejects_malformed(void **state)
{
	static const char *const bad[] = {
		"",    "a",    "1,",	",1",	"1-",  "-1",
		"3-1", "1 ,2", " 1",	"1 ",	"1;2", "1--2",
		"0x1", "+1",   "1-2-3", "1,,2", "1\n", "\xff",
	};
	uint64_t bits[1];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bits[0] = SENTINEL;
		assert_int_equal(pn_cpulist_parse(bad[i], bits, 64), -EINVAL);
		assert_true(bits[0] == SENTINEL);
		assert_non_null(strstr(pn_last_error(), "cpu list"));
	}
	assert_int_equal(pn_cpulist_parse(NULL, bits, 64), -EINVAL);
	assert_int_equal(pn_cpulist_parse("1", NULL, 64), -EINVAL);
}

static void test_cpulist_error_says_why(void **state)
{
	uint64_t bits[1];

	(void)state;
	assert_int_equal(pn_cpulist_parse("5-3", bits, 64), -EINVAL);
	assert_string_equal(pn_last_error(),
			    "cpu list \"5-3\": range 5-3 is reversed");
	assert_int_equal(pn_cpulist_parse("1,x", bits, 64), -EINVAL);
	assert_non_null(strstr(pn_last_error(), "at \"x\""));
}

static void test_cpulist_rejects_number_past_nbits(void **state)
{
	uint64_t bits[1] = {SENTINEL};

	(void)state;
	assert_int_equal(pn_cpulist_parse("0-64", bits, 64), -EINVAL);
	assert_non_null(strstr(pn_last_error(), "cpu 64 is out of range"));
	assert_true(bits[0] == SENTINEL);
	assert_int_equal(pn_cpulist_parse("0", bits, 0), -EINVAL);
}

static void test_cpulist_rejects_overflowing_number(void **state)
{
	uint64_t bits[1] = {SENTINEL};

	(void)state;
	/* 2^64 + 1 would wrap to 1 in a careless parser. */
	assert_int_equal(pn_cpulist_parse("18446744073709551617", bits, 64),
			 -EINVAL);
	assert_int_equal(pn_cpulist_parse("4294967297", bits, 64), -EINVAL);
	assert_true(bits[0] == SENTINEL);
}

static void test_cpulist_rejects_nbits_past_int_max(void **state)
{
	uint64_t bits[1] = {SENTINEL};

	(void)state;
	/* The count is an int: a bitmap it could overflow is refused before
	 * anything is written (this one-word array would not hold it). */
	assert_int_equal(pn_cpulist_parse("0", bits, (unsigned)INT_MAX + 1),
			 -EINVAL);
	assert_int_equal(pn_cpulist_parse("0", bits, UINT_MAX), -EINVAL);
	assert_non_null(strstr(pn_last_error(), "at most"));
	assert_true(bits[0] == SENTINEL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpulist_single_and_range),
		cmocka_unit_test(test_cpulist_overlap_counted_once),
		cmocka_unit_test(test_cpulist_spans_words),
		cmocka_unit_test(test_cpulist_last_bit_in_range),
		cmocka_unit_test(test_cpulist_rejects_malformed),
		cmocka_unit_test(test_cpulist_error_says_why),
		cmocka_unit_test(test_cpulist_rejects_number_past_nbits),
		cmocka_unit_test(test_cpulist_rejects_overflowing_number),
		cmocka_unit_test(test_cpulist_rejects_nbits_past_int_max),
	};

	return cmocka_run_group_tests_name("cpulist", tests, NULL, NULL);
}
