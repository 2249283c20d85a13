// SPDX-License-Identifier: MIT
/*
 * pinion-top against hostile input: it runs the built tool (one screen,
 * -n 1, each run under a 30 s alarm that survives exec) and checks how it
 * ends. Snapshot files naming shards out of range (256, -1, 1e300, NaN,
 * 2^32, ...) or holding NaN, huge values and overlong names draw a screen,
 * say what was ignored and exit 0; a body over the 16 MiB cap, from a
 * file, /dev/zero or HTTP (streamed or declared by Content-Length), fails
 * that refresh with "body larger than" in bounded time and memory; a
 * server that sends one byte every 200 ms fails the fetch at its 2 s
 * deadline; and every malformed option exits 2 naming the option. Real
 * bodies (pn_metrics_json() and pn_metrics_prom() of a running runtime)
 * draw with nothing ignored.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEADLINE 2.0	      /* pinion-top's FETCH_MS, in seconds */
#define MARGIN	 3.0	      /* seconds of slack on a loaded machine */
#define RSS_MAX	 (128l << 10) /* KiB: well over the cap, under 256 MiB */
#define OUT_MAX	 (1u << 20)

static char top_bin[PATH_MAX];
static char dir[] = "/tmp/pn-test-top-XXXXXX";

struct run {
	int status;	 /* from wait4() */
	long rss_kb;	 /* the child's peak resident set */
	double secs;	 /* wall time, CLOCK_MONOTONIC */
	char *out, *err; /* its stdout and stderr, NUL-terminated */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* All of @fd from the start, at most OUT_MAX bytes. */
static char *slurp(int fd)
{
	char *buf = malloc(OUT_MAX + 1);
	size_t len = 0;
	ssize_t n;

	assert_non_null(buf);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	while (len < OUT_MAX && (n = read(fd, buf + len, OUT_MAX - len)) > 0)
		len += (size_t)n;
	buf[len] = 0;
	close(fd);
	return buf;
}

/* The tool is built in the same mode as this test; the sanitizers
 * reserve terabytes of address space, so only plain builds get a limit. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define AS_LIMIT 0
#else
#define AS_LIMIT (1ul << 30)
#endif

/* The child (async-signal-safe calls only: the test has threads):
 * output to @out and @err, a 30 s alarm (it survives exec: a hung
 * pinion-top dies of SIGALRM), and an address-space limit, so a
 * regression cannot eat the machine. */
static void child(const char *const *argv, int out, int err)
{
	dup2(out, 1);
	dup2(err, 2);
	alarm(30);
	if (AS_LIMIT) {
		struct rlimit rl = {AS_LIMIT, AS_LIMIT};

		setrlimit(RLIMIT_AS, &rl);
	}
	execv(top_bin, (char *const *)argv);
	_exit(127);
}

/* Run pinion-top with @args (NULL-terminated, without argv[0]). */
static struct run run_top(const char *const *args)
{
	const char *argv[16] = {top_bin};
	struct run r = {0};
	struct rusage ru;
	FILE *o = tmpfile(), *e = tmpfile();
	double t0;
	pid_t pid;

	for (int i = 0; args[i]; i++) {
		assert_true(i + 2 < 16);
		argv[i + 1] = args[i];
	}
	assert_non_null(o);
	assert_non_null(e);
	t0 = now_s();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		child(argv, fileno(o), fileno(e));
	assert_int_equal(wait4(pid, &r.status, 0, &ru), pid);
	r.secs = now_s() - t0;
	r.rss_kb = ru.ru_maxrss;
	r.out = slurp(dup(fileno(o)));
	r.err = slurp(dup(fileno(e)));
	fclose(o);
	fclose(e);
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* It exited by itself with @code (no signal, no alarm). */
static void exited(const struct run *r, int code)
{
	if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != code)
		fail_msg("pinion-top: %s %d (wanted exit %d) after %.2f s\n"
			 "stdout: %.2000s\nstderr: %.2000s",
			 WIFSIGNALED(r->status) ? "signal" : "exit",
			 WIFSIGNALED(r->status) ? WTERMSIG(r->status)
						: WEXITSTATUS(r->status),
			 code, r->secs, r->out, r->err);
}

static void has(const char *s, const char *want)
{
	if (!strstr(s, want))
		fail_msg("wanted \"%s\" in:\n%.3000s", want, s);
}

/* Write @len bytes of @body to @name in the test directory. */
static const char *put(const char *name, const void *body, size_t len)
{
	static char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, body, len), (ssize_t)len);
	close(fd);
	return path;
}

/* One screen of the file @path. */
static struct run top_file(const char *path)
{
	const char *args[] = {"-f", path, "-n", "1", NULL};

	return run_top(args);
}

static void check_no_line_over(const char *s, size_t max)
{
	for (const char *l = s; *l;) {
		const char *e = strchr(l, '\n');
		size_t n = e ? (size_t)(e - l) : strlen(l);

		if (n > max)
			fail_msg("a line of %zu bytes: %.200s", n, l);
		l += n + (e != NULL);
	}
}

/* --- real bodies ---------------------------------------------------------- */

static char *render(const struct pn_metrics *m, bool json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(json ? pn_metrics_json(m, f) : pn_metrics_prom(m, f),
			 0);
	fclose(f);
	return buf;
}

static void test_top_real_bodies(void **state)
{
	struct pn_metrics *m;
	char *body[2], shards[32];

	(void)state;
	t_start(NULL);
	assert_int_equal(pn_metrics_snapshot(t_rt, &m), 0);
	body[0] = render(m, true);
	body[1] = render(m, false);
	snprintf(shards, sizeof(shards), "- %u shards", pn_metrics_nshards(m));
	pn_metrics_free(m);
	t_finish();
	for (int k = 0; k < 2; k++) {
		struct run r = top_file(put(k ? "real.txt" : "real.json",
					    body[k], strlen(body[k])));

		exited(&r, 0);
		has(r.out, shards);
		has(r.out, "SHARD  BUSY%");
		assert_null(strstr(r.out, "ignored"));
		assert_null(strstr(r.out, "cut to fit"));
		run_free(&r);
		free(body[k]);
	}
}

/* --- shards and values out of range ----------------------------------------
 */

static void test_top_bad_shards(void **state)
{
	static const char *const json_shards[] = {
		"256",	     "-1",  "1e300", "NaN",  "4294967296", "100000",
		"-Infinity", "0.5", "\"3\"", "null", "1e-300",	   "255.5",
	};
	static const char *const prom_shards[] = {
		"256", "-1", "1e300", "NaN",	    "+1",
		" 1",  "",   "0x1",   "1000000000",
	};
	char body[512];

	(void)state;
	for (size_t i = 0; i < sizeof(json_shards) / sizeof(json_shards[0]);
	     i++) {
		int n = snprintf(body, sizeof(body),
				 "{\"sample\":1,\"shards\":[{\"shard\":%s,"
				 "\"parks\":7},{\"shard\":0,\"parks\":1}],"
				 "\"actors\":[{\"pid\":\"0x1\",\"shard\":%s}]}",
				 json_shards[i], json_shards[i]);
		struct run r = top_file(put("shard.json", body, (size_t)n));

		exited(&r, 0);
		has(r.out, "- 1 shards");
		has(r.out, "ignored: 2 entries naming a shard outside 0-255");
		run_free(&r);
	}
	for (size_t i = 0; i < sizeof(prom_shards) / sizeof(prom_shards[0]);
	     i++) {
		int n = snprintf(body, sizeof(body),
				 "pinion_parks_total{shard=\"%s\"} 7\n"
				 "pinion_parks_total{shard=\"0\"} 1\n"
				 "pinion_actor_messages_total{shard=\"%s\","
				 "actor=\"0x1\",behaviour=\"b\"} 5\n",
				 prom_shards[i], prom_shards[i]);
		struct run r = top_file(put("shard.txt", body, (size_t)n));

		exited(&r, 0);
		has(r.out, "- 1 shards");
		has(r.out, "ignored: 2 entries naming a shard outside 0-255");
		run_free(&r);
	}
}

static void test_top_bad_values(void **state)
{
	static const char json[] =
		"{\"sample\":1e300,\"shards\":[{\"shard\":0,\"parks\":1e300,"
		"\"busy_ns\":NaN,\"spin_ns\":Infinity,\"parked_ns\":-1e21,"
		"\"handled_local\":1e19,\"ring_hwm\":[1e999,3]}],"
		"\"actors\":[{\"pid\":\"0x1\",\"shard\":0,"
		"\"messages_est\":\"many\"}]}";
	static const char prom[] =
		"pinion_parks_total{shard=\"0\"} 1e300\n"
		"pinion_messages_total{shard=\"0\",kind=\"local\"} NaN\n"
		"pinion_messages_total{shard=\"0\",kind=\"cross\"} +Inf\n"
		"pinion_messages_total{shard=\"0\",kind=\"external\"} 1e19\n"
		"pinion_ring_backlog_max{shard=\"0\",source=\"1\"} 12abc\n";
	struct run r;

	(void)state;
	r = top_file(put("values.json", json, sizeof(json) - 1));
	exited(&r, 0);
	has(r.out, "ignored: 7 entries not a finite number within 1e20");
	has(r.out, "1.00e+19"); /* a large value fits its column */
	check_no_line_over(r.out, 200);
	run_free(&r);
	r = top_file(put("values.txt", prom, sizeof(prom) - 1));
	exited(&r, 0);
	has(r.out, "ignored: 4 entries not a finite number within 1e20");
	has(r.out, "1.00e+19");
	check_no_line_over(r.out, 200);
	run_free(&r);
}

static void test_top_long_names(void **state)
{
	size_t n = 100000, len = 0;
	char *body = malloc(3 * n + 256);

	(void)state;
	assert_non_null(body);
	len += (size_t)sprintf(body, "{\"actors\":[{\"shard\":0,\"pid\":\"");
	memset(body + len, '7', n);
	len += n;
	len += (size_t)sprintf(body + len, "\",\"behaviour\":\"\\u001b[2J");
	memset(body + len, 'b', n);
	len += n;
	len += (size_t)sprintf(body + len, "\",\"");
	memset(body + len, 'k', n); /* a long key: skipped */
	len += n;
	len += (size_t)sprintf(body + len, "\":1}]}");
	{
		struct run r = top_file(put("names.json", body, len));

		exited(&r, 0);
		has(r.out, "2 names cut to fit");
		has(r.out, "?[2Jbbb"); /* no escape reaches the terminal */
		check_no_line_over(r.out, 200);
		run_free(&r);
	}
	free(body);
}

/* --- the body cap ----------------------------------------------------------
 */

static void check_too_large(const struct run *r)
{
	exited(r, 1);
	has(r->out, "body larger than 16777216 bytes");
	if (r->rss_kb > RSS_MAX)
		fail_msg("pinion-top's peak RSS %ld KiB", r->rss_kb);
	assert_true(r->secs < 10);
}

static void test_top_file_cap(void **state)
{
	char path[PATH_MAX];
	struct run r;
	int fd;

	(void)state;
	/* A sparse 256 MiB file: zeros, no disk. */
	snprintf(path, sizeof(path), "%s/big.txt", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 256l << 20), 0);
	close(fd);
	r = top_file(path);
	check_too_large(&r);
	run_free(&r);
	unlink(path);
	r = top_file("/dev/zero");
	check_too_large(&r);
	run_free(&r);
}

/* --- HTTP servers on the test's side ----------------------------------------
 */

struct server {
	int lfd;
	uint16_t port;
	const char *head; /* sent first */
	size_t body;	  /* then this many '0's (SIZE_MAX: forever) */
	long gap_ns;	  /* between bytes (0: as fast as possible) */
	pthread_t thread;
};

/* Serve each connection until the peer goes away or all is sent; ends
 * when the test shuts the listener down. */
static void *serve(void *arg)
{
	struct server *s = arg;
	static char zeros[1 << 16];
	int fd;

	memset(zeros, '0', sizeof(zeros));
	while ((fd = accept(s->lfd, NULL, NULL)) >= 0) {
		bool ok = send(fd, s->head, strlen(s->head), MSG_NOSIGNAL) ==
			  (ssize_t)strlen(s->head);

		for (size_t sent = 0; ok && sent < s->body;) {
			size_t n = s->gap_ns ? 1 : sizeof(zeros);
			ssize_t w;

			if (n > s->body - sent)
				n = s->body - sent;
			w = send(fd, zeros, n, MSG_NOSIGNAL);
			ok = w > 0;
			sent += ok ? (size_t)w : 0;
			if (ok && s->gap_ns) {
				/* the slow server's pace, not a wait */
				struct timespec ts = {0, s->gap_ns};

				nanosleep(&ts, NULL);
			}
		}
		close(fd);
	}
	return NULL;
}

static void server_start(struct server *s)
{
	struct sockaddr_in a = t_addr(0);
	socklen_t len = sizeof(a);
	int one = 1;

	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->lfd >= 0);
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->lfd, 8), 0);
	assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &len), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

/* shutdown() wakes the accept(); the thread's current connection ended
 * with pinion-top. */
static void server_stop(struct server *s)
{
	shutdown(s->lfd, SHUT_RDWR);
	pthread_join(s->thread, NULL);
	close(s->lfd);
}

static struct run top_http(const struct server *s, const char *count)
{
	char port[8];
	const char *args[] = {"-p", port, "-n", count, "-i", "100", NULL};

	snprintf(port, sizeof(port), "%u", s->port);
	return run_top(args);
}

static void test_top_http_cap(void **state)
{
	struct server s = {.head = "HTTP/1.1 200 OK\r\n\r\n", .body = SIZE_MAX};
	struct run r;

	(void)state;
	server_start(&s);
	r = top_http(&s, "1");
	check_too_large(&r);
	run_free(&r);
	server_stop(&s);
	/* A declared length over the cap fails before any of it is read. */
	s = (struct server){.head = "HTTP/1.1 200 OK\r\n"
				    "Content-Length: 99999999999999999999\r\n"
				    "\r\n",
			    .body = 10};
	server_start(&s);
	r = top_http(&s, "1");
	check_too_large(&r);
	run_free(&r);
	server_stop(&s);
}

static void test_top_slow_server(void **state)
{
	struct server s = {.head = "H", .body = 600, .gap_ns = 200000000};
	struct run r;

	(void)state;
	server_start(&s);
	r = top_http(&s, "1");
	exited(&r, 1);
	has(r.out, "no complete answer within 2000 ms");
	if (r.secs > DEADLINE + MARGIN)
		fail_msg("one fetch took %.2f s", r.secs);
	run_free(&r);
	/* The next refresh tries again, and gives up the same way. */
	r = top_http(&s, "2");
	exited(&r, 1);
	{
		const char *p = strstr(r.out, "no complete answer");

		assert_non_null(p);
		has(p + 1, "no complete answer");
	}
	if (r.secs > 2 * DEADLINE + 0.1 + MARGIN)
		fail_msg("two fetches took %.2f s", r.secs);
	run_free(&r);
	server_stop(&s);
}

/* --- options ---------------------------------------------------------------
 */

static void test_top_options(void **state)
{
	static const struct {
		const char *opt, *arg, *name;
	} bad[] = {
		{"-p", "105977", "-p"},
		{"-p", "0x10", "-p"},
		{"-p", "0", "-p"},
		{"-p", "+5", "-p"},
		{"-p", " 5", "-p"},
		{"-p", "5 ", "-p"},
		{"-p", "", "-p"},
		{"-p", "-0", "-p"},
		{"-i", "-5", "-i"},
		{"-i", "", "-i"},
		{"-i", "5", "-i"},
		{"-i", "1e3", "-i"},
		{"-i", "99999999999999999999", "-i"},
		{"-n", "abc", "-n"},
		{"-n", "0", "-n"},
		{"-n", "-1", "-n"},
		{"-n", "4294967296", "-n"},
		{"-a", "127.0.0.1:70000", "-a"},
		{"-a", "localhost:80", "-a"},
		{"-a", "127.0.0.1", "-a"},
		{"-a", "127.0.0.1:", "-a"},
		{"-f", "", "-f"},
	};
	const char *extra[][6] = {
		{"-f", "/dev/null", "-p", "80", NULL},
		{"-n", "1", "stray", NULL},
		{"-q", NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *args[] = {"-f",	  "/dev/null", "-n", "1",
				      bad[i].opt, bad[i].arg,  NULL};
		char want[16];
		struct run r;

		if (strcmp(bad[i].opt, "-a") == 0) { /* -a with -f: bad */
			args[0] = "-i";
			args[1] = "100";
		}
		r = run_top(args);
		exited(&r, 2);
		snprintf(want, sizeof(want), "%s: ", bad[i].name);
		has(r.err, want);
		has(r.err, "usage: pinion-top");
		run_free(&r);
	}
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		struct run r = run_top(extra[i]);

		exited(&r, 2);
		has(r.err, "usage: pinion-top");
		run_free(&r);
	}
	{ /* the bounds themselves are accepted */
		const char *args[] = {"-f", "/dev/null", "-i", "10",
				      "-n", "2",	 NULL};
		struct run r = run_top(args);

		exited(&r, 0);
		run_free(&r);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_top_real_bodies, t_teardown),
		cmocka_unit_test(test_top_bad_shards),
		cmocka_unit_test(test_top_bad_values),
		cmocka_unit_test(test_top_long_names),
		cmocka_unit_test(test_top_file_cap),
		cmocka_unit_test(test_top_http_cap),
		cmocka_unit_test(test_top_slow_server),
		cmocka_unit_test(test_top_options),
	};
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int rc;

	/* $(BUILD)/tests/io/test_top -> $(BUILD)/bin/pinion-top, or argv[1] */
	if (argc > 1)
		snprintf(top_bin, sizeof(top_bin), "%s", argv[1]);
	else if (n > 0) {
		self[n] = 0;
		snprintf(top_bin, sizeof(top_bin), "%s/bin/pinion-top",
			 dirname(dirname(dirname(self))));
	}
	if (access(top_bin, X_OK) != 0) {
		fprintf(stderr, "test_top: no %s\n", top_bin);
		return 77;
	}
	if (!mkdtemp(dir))
		return 1;
	rc = cmocka_run_group_tests_name("top", tests, NULL, NULL);
	{
		char cmd[sizeof(dir) + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "test_top: could not remove %s\n", dir);
	}
	return rc;
}
