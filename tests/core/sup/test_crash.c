// SPDX-License-Identifier: MIT
/*
 * Crash reports (core/sup/crash.c). Each test runs this program again as a
 * child ("--crash-child <mode>"), which starts a runtime and crashes an
 * actor's handler on shard 1 in one way; the parent checks how the child
 * died (by the right signal: the report must not change the outcome) and
 * that its stderr holds the report: shard, actor, behaviour, message
 * type, a backtrace. Modes: a SIGSEGV, a SIGFPE, abort() in the STOPPING
 * handler (the stop sequence is named), a stack overflow (reported thanks
 * to the shard's alternate signal stack), a loop that the watchdog aborts
 * (PN_WATCHDOG_ABORT: its report, then the stuck thread's crash report),
 * and no_crash_report (no report, same death).
 *
 * Skipped (exit 77) under ASan and TSan: their own fatal-signal handlers
 * take over after ours (the report is still printed, then the sanitizer
 * reports and exits instead of dying by the signal), so the outcome this
 * test checks is not the one a sanitized process has.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

#define CRASH_TYPE 0x1234u

enum mode { M_SEGV, M_FPE, M_ABORT_STOPPING, M_OVERFLOW, M_LOOP, M_QUIET };
static const char *const mode_name[] = {"segv",	    "fpe",  "abort-stopping",
					"overflow", "loop", "quiet"};

/* --- the child ------------------------------------------------------ */

static int depth_sink;
static volatile int depth_stop = -1; /* never reached */
static int *volatile bad_address = (int *)8;

static int __attribute__((noinline)) recurse(int n)
{
	volatile char pad[4096];

	if (n == depth_stop)
		return 0;
	pad[0] = (char)n;
	depth_sink += pad[0];
	return recurse(n + 1) + pad[0]; /* not a tail call */
}

static int crasher(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	enum mode md = *(enum mode *)state;

	(void)ctx;
	if (m->type == PN_MSG_STOPPING && md == M_ABORT_STOPPING)
		abort();
	if (m->type != CRASH_TYPE)
		return 0;
	switch (md) {
	case M_SEGV:
	case M_QUIET:
		*bad_address = 1;
		break;
	case M_FPE: {
#if defined(__x86_64__) || defined(__i386__)
		volatile int zero = 0, one = 1;

		depth_sink = one / zero;
#else
		raise(SIGFPE); /* integer division does not trap here */
#endif
		break;
	}
	case M_ABORT_STOPPING:
		return PN_STOP;
	case M_OVERFLOW:
		return recurse(0);
	case M_LOOP:
		for (;;)
			__asm__ volatile("" ::: "memory");
	}
	return 0;
}

static int crasher_init(struct pn_ctx *ctx, void *state, const void *arg,
			size_t len)
{
	(void)ctx;
	memcpy(state, arg, len);
	return 0;
}

static const struct pn_behaviour crasher_b = {.name = "crasher",
					      .state_size = sizeof(enum mode),
					      .init = crasher_init,
					      .handle = crasher};

static int child_main(const char *name)
{
	struct rlimit no_core = {0, 0};
	struct pn_spawn_opts o = {.shard = 1};
	struct pn_runtime *rt;
	struct pn_config c;
	enum mode md = M_SEGV;
	pn_pid pid;
	int code;

	setrlimit(RLIMIT_CORE, &no_core);
	for (int i = 0; i <= M_QUIET; i++)
		if (!strcmp(name, mode_name[i]))
			md = (enum mode)i;
	pn_config_init(&c);
	c.plan.shards = 2;
	c.spin_ns = 5000;
	c.no_pin = true;
	if (md == M_LOOP) {
		c.watchdog_ns = 100 * H_MS;
		c.watchdog_policy = PN_WATCHDOG_ABORT;
	}
	c.no_crash_report = md == M_QUIET;
	o.arg = &md;
	o.arg_len = sizeof(md);
	if (pn_runtime_create(&c, &rt) || pn_runtime_start(rt) ||
	    pn_runtime_spawn(rt, &crasher_b, &o, &pid)) {
		fprintf(stderr, "child: %s\n", pn_last_error());
		return 2;
	}
	printf("pid=%#llx\n", (unsigned long long)pid);
	fflush(stdout);
	if (pn_runtime_send(rt, pid, CRASH_TYPE, NULL, 0, H_SEC))
		return 2;
	if (md == M_ABORT_STOPPING) /* STOPPING comes with the shutdown */
		pn_runtime_wait(rt, 200 * H_MS, &code);
	pn_runtime_wait(rt, 30 * H_SEC, &code);
	return 3; /* it did not crash */
}

/* --- the parent ---------------------------------------------------- */

struct outcome {
	int status;
	char out[256];
	char err[16384];
};

static void slurp(int fd, char *buf, size_t size)
{
	ssize_t n = pread(fd, buf, size - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	close(fd);
}

static int temp_file(void)
{
	char path[] = "/tmp/pinion-crash-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	return fd;
}

/* Run the child in @mode; bounded: 30 s, then it is killed. */
static void run_child(enum mode md, struct outcome *o)
{
	struct timespec limit = {.tv_sec = 30};
	int out = temp_file(), err = temp_file();
	sigset_t chld;
	pid_t pid;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(out, STDOUT_FILENO);
		dup2(err, STDERR_FILENO);
		execl("/proc/self/exe", "test_crash", "--crash-child",
		      mode_name[md], (char *)NULL);
		_exit(127);
	}
	if (sigtimedwait(&chld, NULL, &limit) < 0)
		kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &o->status, 0), pid);
	sigprocmask(SIG_UNBLOCK, &chld, NULL);
	slurp(out, o->out, sizeof(o->out));
	slurp(err, o->err, sizeof(o->err));
	print_message("child %s: status %#x\n%s", mode_name[md], o->status,
		      o->err);
}

static void assert_died_by(const struct outcome *o, int sig)
{
	assert_true(WIFSIGNALED(o->status));
	assert_int_equal(WTERMSIG(o->status), sig);
}

static void assert_has(const struct outcome *o, const char *s)
{
	if (!strstr(o->err, s))
		print_message("stderr lacks \"%s\"\n", s);
	assert_non_null(strstr(o->err, s));
}

/* A full report: header, actor line naming the child's PID, backtrace. */
static void assert_report(const struct outcome *o, const char *sigtext,
			  const char *type)
{
	const char *bt, *end;
	char line[128], pid[32];
	int frames = 0;

	assert_has(o, sigtext);
	assert_has(o, "on shard 1 (cpu ");
	assert_non_null(strstr(o->out, "pid="));
	sscanf(strchr(o->out, '=') + 1, "%31s", pid);
	snprintf(line, sizeof(line),
		 "pinion:   actor %s behaviour \"crasher\" message type %s",
		 pid, type);
	assert_has(o, line);
	bt = strstr(o->err, "pinion:   backtrace:\n");
	end = strstr(o->err, "pinion: end of crash report");
	assert_non_null(bt);
	assert_non_null(end);
	for (const char *p = bt; p < end; p++)
		frames += *p == '\n';
	assert_true(frames >= 3); /* the header's newline + 2 frames */
}

static void test_crash_segv(void **state)
{
	struct outcome o;

	(void)state;
	run_child(M_SEGV, &o);
	assert_died_by(&o, SIGSEGV);
	assert_report(&o, "pinion: fatal signal 11 (SIGSEGV) on shard 1",
		      "0x1234");
	assert_has(&o, "address 0x8");
}

static void test_crash_fpe(void **state)
{
	struct outcome o;

	(void)state;
	run_child(M_FPE, &o);
	assert_died_by(&o, SIGFPE);
	assert_report(&o, "pinion: fatal signal 8 (SIGFPE) on shard 1",
		      "0x1234");
}

static void test_crash_abort_in_stop_sequence(void **state)
{
	struct outcome o;

	(void)state;
	run_child(M_ABORT_STOPPING, &o);
	assert_died_by(&o, SIGABRT);
	assert_report(&o, "pinion: fatal signal 6 (SIGABRT) on shard 1",
		      "0xffff0002 (stopping)");
}

static void test_crash_stack_overflow(void **state)
{
	struct outcome o;

	(void)state;
	run_child(M_OVERFLOW, &o);
	assert_died_by(&o, SIGSEGV);
	assert_report(&o, "pinion: fatal signal 11 (SIGSEGV) on shard 1",
		      "0x1234");
}

static void test_crash_watchdog_abort(void **state)
{
	struct outcome o;
	char line[128], pid[32];

	(void)state;
	run_child(M_LOOP, &o);
	assert_died_by(&o, SIGABRT);
	sscanf(strchr(o.out, '=') + 1, "%31s", pid);
	snprintf(line, sizeof(line),
		 "watchdog: shard 1 has been in the handler of actor %s "
		 "(behaviour \"crasher\") on type 0x1234",
		 pid);
	assert_has(&o, line);
	assert_has(&o, "aborting (watchdog_policy=abort)");
	assert_report(&o, "pinion: fatal signal 6 (SIGABRT) on shard 1",
		      "0x1234");
}

static void test_crash_no_report_when_disabled(void **state)
{
	struct outcome o;

	(void)state;
	run_child(M_QUIET, &o);
	assert_died_by(&o, SIGSEGV);
	assert_null(strstr(o.err, "pinion: fatal signal"));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crash_segv),
		cmocka_unit_test(test_crash_fpe),
		cmocka_unit_test(test_crash_abort_in_stop_sequence),
		cmocka_unit_test(test_crash_stack_overflow),
		cmocka_unit_test(test_crash_watchdog_abort),
		cmocka_unit_test(test_crash_no_report_when_disabled),
	};

	if (argc == 3 && !strcmp(argv[1], "--crash-child"))
		return child_main(argv[2]);
#ifdef UNDER_SANITIZER
	printf("test_crash: skipped under a sanitizer (it installs its own "
	       "fatal-signal handlers)\n");
	return 77;
#endif
	return cmocka_run_group_tests_name("crash", tests, NULL, NULL);
}
