// SPDX-License-Identifier: MIT
/*
 * pinion-topo, run as a user would: the table, --json that a JSON parser
 * accepts and that agrees with the library's own plan, --synthetic, --help,
 * and exit status 2 with "pinion-topo: <detail>" on stderr for a bad
 * setting or option. The tool is found beside this binary's build tree:
 * $BUILD/tests/topology/test_tool -> $BUILD/bin/pinion-topo.
 */
#include "json_check.h"
#include "pn_topology.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include <cmocka.h>

static char tool[PATH_MAX + 32];

static int find_tool(void **state)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	(void)state;
	if (n <= 0)
		return -1;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	snprintf(tool, sizeof(tool), "%s/../../bin/pinion-topo", self);
	if (access(tool, X_OK)) {
		fprintf(stderr, "test_tool: %s: not built\n", tool);
		return -1;
	}
	return 0;
}

static int clear_env(void **state)
{
	(void)state;
	unsetenv("PINION_SHARDS");
	unsetenv("PINION_CORES");
	unsetenv("PINION_SUPERVISOR_CORE");
	unsetenv("PINION_SMT");
	return 0;
}

/*
 * Run the tool with @args (shell words) and return its exit status, its
 * stdout in @out and, if @err is not NULL, its stderr in @err.
 */
static int run(const char *args, char *out, size_t outlen, char *err,
	       size_t errlen)
{
	char cmd[PATH_MAX + 512], errfile[] = "/tmp/pn-test-tool-XXXXXX";
	size_t n;
	FILE *f;
	int fd, status;

	fd = mkstemp(errfile);
	assert_true(fd >= 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "'%s' %s 2>'%s'", tool, args, errfile);
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(out, 1, outlen - 1, f);
	out[n] = '\0';
	status = pclose(f);
	f = fopen(errfile, "r");
	assert_non_null(f);
	n = err ? fread(err, 1, errlen - 1, f) : 0;
	if (err)
		err[n] = '\0';
	fclose(f);
	unlink(errfile);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* The integer after "@key": in @json, or -1. */
static long field(const char *json, const char *key)
{
	char pat[64];
	const char *at;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	at = strstr(json, pat);
	return at ? strtol(at + strlen(pat), NULL, 10) : -1;
}

static void test_tool_json_matches_library(void **state)
{
	static char out[1 << 16];
	struct pn_plan_config c;
	struct pn_topology *t = NULL;
	struct pn_plan *p = NULL;

	(void)state;
	assert_int_equal(run("--json", out, sizeof(out), NULL, 0), 0);
	assert_true(json_valid(out));
	pn_plan_config_init(&c);
	assert_int_equal(pn_topology_load(&t), 0);
	assert_int_equal(pn_plan_create(t, &c, &p), 0);
	assert_int_equal(field(out, "nshards"), p->nshards);
	assert_int_equal(field(out, "pus"), pn_topology_npus(t));
	assert_int_equal(field(out, "cores"), pn_topology_ncores(t));
	assert_non_null(strstr(out, "\"synthetic\": false"));
	assert_non_null(strstr(out, "\"supervisor\": {"));
	pn_plan_destroy(p);
	pn_topology_destroy(t);
}

static void test_tool_synthetic_json(void **state)
{
	static char out[1 << 16];

	(void)state;
	assert_int_equal(run("--synthetic 'pack:2 core:8 pu:2' --json", out,
			     sizeof(out), NULL, 0),
			 0);
	assert_true(json_valid(out));
	assert_int_equal(field(out, "nshards"), 15);
	assert_int_equal(field(out, "packages"), 2);
	assert_int_equal(field(out, "pus"), 32);
	assert_non_null(strstr(out, "\"supervisor\": {\"cpu\": 30, "
				    "\"core\": 15,"));
}

static void test_tool_table_follows_env(void **state)
{
	static char out[1 << 16];

	(void)state;
	setenv("PINION_SHARDS", "3", 1);
	setenv("PINION_SMT", "on", 1);
	assert_int_equal(run("--synthetic 'pack:1 core:4 pu:2'", out,
			     sizeof(out), NULL, 0),
			 0);
	assert_non_null(strstr(out, "plan: 3 shards, SMT siblings used\n"));
	assert_non_null(strstr(out, "supervisor: cpu 6, core 3"));
	assert_non_null(strstr(out, "\nnote: "));
}

static void test_tool_bad_env_exits_2(void **state)
{
	char out[4096], err[512];

	(void)state;
	setenv("PINION_SMT", "maybe", 1);
	assert_int_equal(run("--json", out, sizeof(out), err, sizeof(err)), 2);
	assert_string_equal(err, "pinion-topo: PINION_SMT=maybe: expected on "
				 "or off\n");
	assert_string_equal(out, "");
	clear_env(NULL);
	setenv("PINION_SHARDS", "0", 1);
	assert_int_equal(run("", out, sizeof(out), err, sizeof(err)), 2);
	assert_non_null(strstr(err, "pinion-topo: PINION_SHARDS=0: "));
}

static void test_tool_unplannable_exits_2(void **state)
{
	char out[4096], err[512];

	(void)state;
	setenv("PINION_SHARDS", "5", 1);
	assert_int_equal(run("--synthetic 'pack:1 core:2 pu:1'", out,
			     sizeof(out), err, sizeof(err)),
			 2);
	assert_string_equal(err, "pinion-topo: PINION_SHARDS=5: only 2 usable "
				 "cores (cpus 0-1)\n");
}

static void test_tool_help_and_bad_usage(void **state)
{
	char out[4096], err[4096];

	(void)state;
	assert_int_equal(run("--help", out, sizeof(out), NULL, 0), 0);
	assert_non_null(strstr(out, "usage: pinion-topo"));
	assert_int_equal(run("--bogus", out, sizeof(out), err, sizeof(err)), 2);
	assert_non_null(strstr(err, "usage: pinion-topo"));
	assert_int_equal(run("extra", out, sizeof(out), err, sizeof(err)), 2);
	assert_int_equal(run("--synthetic 'nonsense:3'", out, sizeof(out), err,
			     sizeof(err)),
			 2);
	assert_non_null(strstr(err, "pinion-topo: synthetic topology "
				    "\"nonsense:3\""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_tool_json_matches_library,
				       clear_env),
		cmocka_unit_test_setup(test_tool_synthetic_json, clear_env),
		cmocka_unit_test_setup(test_tool_table_follows_env, clear_env),
		cmocka_unit_test_setup(test_tool_bad_env_exits_2, clear_env),
		cmocka_unit_test_setup(test_tool_unplannable_exits_2,
				       clear_env),
		cmocka_unit_test_setup(test_tool_help_and_bad_usage, clear_env),
	};

	return cmocka_run_group_tests_name("tool", tests, find_tool, NULL);
}
