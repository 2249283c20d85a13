// SPDX-License-Identifier: MIT
/*
 * USDT probes (core/base/probes.h): every probe of provider "pinion" is in
 * libpinion.so as a stapsdt note, found with readelf -n (the way bpftrace
 * and perf find them). The migrate probe is required once the migration
 * code (pn__mig_*) is part of the library. Skips (77) without readelf or
 * in a build with PN_NO_PROBES.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const probes[] = {
	"send",	   "dispatch_start", "dispatch_end",  "park",
	"unpark",  "wake",	     "spawn",	      "stop",
	"failure", "restart",	     "topic_publish", "topic_deliver",
};

static char lib[PATH_MAX];
static char notes[1 << 18];

/* The output of @cmd (at most sizeof(notes) bytes) into notes. */
static int run(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	size_t n;

	if (!p)
		return -1;
	n = fread(notes, 1, sizeof(notes) - 1, p);
	notes[n] = 0;
	return pclose(p) == 0 ? 0 : -1;
}

/* Whether the notes name provider pinion with probe @name. */
static bool has_probe(const char *name)
{
	char want[128];
	const char *p = notes;

	snprintf(want, sizeof(want), "Name: %s\n", name);
	while ((p = strstr(p, "Provider: pinion\n")) != NULL) {
		p += strlen("Provider: pinion\n");
		while (*p == ' ')
			p++;
		if (strncmp(p, want, strlen(want)) == 0)
			return true;
	}
	return false;
}

static void test_probes_present(void **state)
{
	char cmd[PATH_MAX + 64];

	(void)state;
	snprintf(cmd, sizeof(cmd), "readelf -n '%s'", lib);
	assert_int_equal(run(cmd), 0);
	assert_non_null(strstr(notes, ".note.stapsdt"));
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		if (!has_probe(probes[i]))
			fail_msg("probe pinion:%s is not in %s", probes[i],
				 lib);
	}
}

static void test_probes_migrate(void **state)
{
	char cmd[PATH_MAX + 64];

	(void)state;
	snprintf(cmd, sizeof(cmd), "readelf -sW '%s' | grep -c pn__mig_", lib);
	if (run(cmd) != 0 || atoi(notes) == 0)
		skip(); /* no migration code in this library yet */
	snprintf(cmd, sizeof(cmd), "readelf -n '%s'", lib);
	assert_int_equal(run(cmd), 0);
	assert_true(has_probe("migrate"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probes_present),
		cmocka_unit_test(test_probes_migrate),
	};
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

#ifdef PN_NO_PROBES
	return 77;
#endif
	if (n <= 0 || system("readelf --version >/dev/null 2>&1") != 0)
		return 77;
	self[n] = 0;
	/* $(BUILD)/tests/core/obs/test_probes -> $(BUILD)/libpinion.so.0 */
	snprintf(lib, sizeof(lib), "%s/libpinion.so.0",
		 dirname(dirname(dirname(dirname(self)))));
	if (access(lib, R_OK) != 0) {
		fprintf(stderr, "test_probes: no %s (make lib first)\n", lib);
		return 1;
	}
	return cmocka_run_group_tests_name("probes", tests, NULL, NULL);
}
