// SPDX-License-Identifier: MIT
/*
 * pinion-echo attacked from outside (loopback only, bounded in count and
 * time): the built tool runs as a child process, the test is every peer.
 *
 *   - non-readers: 30 clients that send and never read, on one shard,
 *     and one normal client whose echoes must keep coming; then the 30
 *     reset and 150 new connections each get an echo, three rounds (the
 *     pattern after which a release pinion-echo once died: under ASan and
 *     TSan builds this test is that soak);
 *   - half-close with a backlog: a client writes 3 MiB without reading,
 *     shuts down writing while the server still holds its bytes, and
 *     must get every byte back, then EOF (12 runs);
 *   - limits: a silent connection is reset after --idle; with
 *     --max-conns full, a new client is served and the least active
 *     connection is the one reset;
 *   - the environment and the command line: PINION_SHARDS applies
 *     unless --shards is given; bad numbers are refused with the option
 *     named, exit status 2.
 */
#include "harness.h" /* t_connect, t_reset, t_closed_port */

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NSLOW	30
#define NFRESH	150
#define ROUNDS	3
#define BIG	(3u << 20)
#define HALF_N	12
#define TIMEOUT 10 /* s: bound on every wait */

static char echo_bin[PATH_MAX];

struct child {
	pid_t pid;
	uint16_t port;
	char line[256]; /* its first line of output */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Read one line from @fd within TIMEOUT (the child's banner or error). */
static void read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;
	uint64_t t0 = now_ms();

	while (n + 1 < size) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;

		assert_true(now_ms() - t0 < TIMEOUT * 1000);
		if (poll(&p, 1, 100) <= 0)
			continue;
		if ((r = read(fd, buf + n, 1)) <= 0 || buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = 0;
}

/*
 * Run pinion-echo with @argv (after the program name; "PORT" is replaced
 * by a free port) and @env ("NAME=value" or NULL) and read its first
 * line of stdout (or of stderr when it fails at once).
 */
static void spawn(struct child *c, const char *env, const char *const *args)
{
	char port[8], *argv[16];
	int out[2], n = 0;

	c->port = t_closed_port();
	snprintf(port, sizeof(port), "%u", c->port);
	argv[n++] = echo_bin;
	for (; *args && n < 15; args++)
		argv[n++] = strcmp(*args, "PORT") ? (char *)*args : port;
	argv[n] = NULL;
	assert_int_equal(pipe(out), 0);
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		dup2(out[1], 1);
		dup2(out[1], 2);
		close(out[0]);
		unsetenv("PINION_SHARDS");
		if (env)
			putenv((char *)env);
		execv(echo_bin, argv);
		_exit(127);
	}
	close(out[1]);
	read_line(out[0], c->line, sizeof(c->line));
	close(out[0]);
}

/* SIGTERM it; its exit status (or 128 + signal). */
static int stop(struct child *c)
{
	int st;

	kill(c->pid, SIGTERM);
	assert_int_equal(waitpid(c->pid, &st, 0), c->pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Still running (no crash so far). */
static bool alive(struct child *c)
{
	int st;

	return waitpid(c->pid, &st, WNOHANG) == 0;
}

/* t_connect() (5 s timeouts, NODELAY), which must succeed. */
static int connected(uint16_t port)
{
	int fd = t_connect(port);

	assert_true(fd >= 0);
	return fd;
}

/* One echo of @n bytes on @fd: 0, or -errno (-EAGAIN: timed out). */
static int echo_once(int fd, size_t n, unsigned seed)
{
	unsigned char out[512] = {0}, in[512];
	size_t got = 0;

	assert_true(n <= sizeof(out));
	for (size_t i = 0; i < n; i++)
		out[i] = (unsigned char)(seed * 31 + i);
	if (write(fd, out, n) != (ssize_t)n)
		return -errno;
	while (got < n) {
		ssize_t r = read(fd, in + got, n - got);

		if (r <= 0)
			return r == 0 ? -EPIPE : -errno;
		got += (size_t)r;
	}
	return memcmp(in, out, n) ? -EPROTO : 0;
}

/* Write what the socket takes without blocking, at most @max. */
static size_t stuff(int fd, size_t max)
{
	static unsigned char blob[64 << 10];
	size_t sent = 0;
	ssize_t n;

	while (sent < max &&
	       (n = send(fd, blob,
			 max - sent < sizeof(blob) ? max - sent : sizeof(blob),
			 MSG_DONTWAIT)) > 0)
		sent += (size_t)n;
	return sent;
}

/*
 * Send on every @fd until none takes more for 50 ms (the server stopped
 * receiving on all of them), bounded by TIMEOUT.
 */
static void fill_all(const int *fd, int n)
{
	uint64_t t0 = now_ms(), quiet = now_ms();

	while (now_ms() - quiet < 50) {
		size_t round = 0;

		assert_true(now_ms() - t0 < TIMEOUT * 1000);
		for (int i = 0; i < n; i++)
			round += stuff(fd[i], 1u << 20);
		if (round)
			quiet = now_ms();
		poll(NULL, 0, 1); /* pacing while the server catches up */
	}
}

static void test_non_readers_do_not_stall_others(void **state)
{
	const char *args[] = {"--port", "PORT", "--shards", "1", NULL};
	struct child c;
	int slow[NSLOW], fresh[NFRESH], normal;

	(void)state;
	spawn(&c, NULL, args);
	assert_non_null(strstr(c.line, "1 shards"));
	normal = connected(c.port);
	for (int round = 0; round < ROUNDS; round++) {
		for (int i = 0; i < NSLOW; i++)
			slow[i] = connected(c.port);
		/* They fill their queues both ways and never read. */
		fill_all(slow, NSLOW);
		for (int k = 0; k < 200; k++)
			assert_int_equal(echo_once(normal, 64, (unsigned)k), 0);
		for (int i = 0; i < NSLOW; i++)
			t_reset(slow[i]);
		for (int i = 0; i < NFRESH; i++)
			fresh[i] = connected(c.port);
		for (int i = 0; i < NFRESH; i++)
			assert_int_equal(echo_once(fresh[i], 100, (unsigned)i),
					 0);
		for (int i = 0; i < NFRESH; i++)
			close(fresh[i]);
		assert_true(alive(&c));
	}
	assert_int_equal(echo_once(normal, 64, 7), 0);
	close(normal);
	assert_int_equal(stop(&c), 0);
}

/* 3 MiB in without reading until the socket pushes back, half-close, and
 * every byte must come back in order, then EOF. */
static void half_close_run(uint16_t port, unsigned seed)
{
	unsigned char *out = malloc(BIG), *in = malloc(BIG);
	size_t sent = 0, got = 0;
	bool backlog = false, shut = false;
	uint64_t t0 = now_ms();
	int fd = connected(port), small = 64 << 10;

	/* A small receive buffer: the server's queue fills and it holds
	 * bytes, so the half-close finds a backlog there. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	assert_non_null(out);
	assert_non_null(in);
	for (size_t i = 0; i < BIG; i++)
		out[i] = (unsigned char)(i * 131 + seed + (i >> 12));
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (now_ms() - t0 >= TIMEOUT * 1000)
			fail_msg("run %u: sent %zu, got %zu, shut %d", seed,
				 sent, got, shut);
		if (sent < BIG) {
			n = send(fd, out + sent, BIG - sent, MSG_DONTWAIT);
			if (n > 0)
				sent += (size_t)n;
			else
				backlog = true; /* both ways are full */
		}
		if (sent == BIG && !shut) {
			assert_int_equal(shutdown(fd, SHUT_WR), 0);
			shut = backlog = true;
		}
		if (!backlog)
			continue; /* read nothing until the server holds bytes
				   */
		if (poll(&p, 1, 10) <= 0)
			continue;
		n = read(fd, in + got, BIG - got);
		if (n == 0)
			break;
		assert_true(n > 0);
		got += (size_t)n;
		if (got == BIG) {
			assert_int_equal(read(fd, in, 1), 0); /* then EOF */
			break;
		}
	}
	assert_true(shut);
	assert_int_equal(got, BIG);
	assert_memory_equal(in, out, BIG);
	close(fd);
	free(out);
	free(in);
}

static void test_half_close_with_backlog_echoes_every_byte(void **state)
{
	const char *args[] = {"--port", "PORT", "--shards", "1", NULL};
	struct child c;

	(void)state;
	spawn(&c, NULL, args);
	for (unsigned i = 0; i < HALF_N; i++)
		half_close_run(c.port, i);
	assert_int_equal(stop(&c), 0);
}

/* The connection's first read: 0 (EOF) or -errno, within TIMEOUT. */
static int ended(int fd)
{
	char b;
	ssize_t n = read(fd, &b, 1);

	return n < 0 ? -errno : (int)n;
}

static void test_limits_idle_and_full_table(void **state)
{
	const char *idle[] = {"--port", "PORT", "--shards", "1",
			      "--idle", "300",	NULL};
	const char *full[] = {"--port",	     "PORT",   "--shards",
			      "1",	     "--idle", "0",
			      "--max-conns", "4",      NULL};
	struct child c;
	int fd[4], n, quiet;
	uint64_t t0;

	(void)state;
	spawn(&c, NULL, idle);
	quiet = connected(c.port);
	t0 = now_ms();
	n = ended(quiet);
	assert_true(n == -ECONNRESET || n == 0);
	assert_true(now_ms() - t0 >= 250 && now_ms() - t0 < 3000);
	close(quiet);
	assert_int_equal(stop(&c), 0);

	spawn(&c, NULL, full);
	for (int i = 0; i < 4; i++) {
		fd[i] = connected(c.port);
		assert_int_equal(echo_once(fd[i], 10, (unsigned)i), 0);
	}
	/* fd[0] was active longest ago once the others echoed... */
	for (int i = 1; i < 4; i++)
		assert_int_equal(echo_once(fd[i], 10, (unsigned)i), 0);
	n = connected(c.port); /* ...so a fifth is served and fd[0] is reset */
	assert_int_equal(echo_once(n, 10, 9), 0);
	assert_int_equal(ended(fd[0]), -ECONNRESET);
	for (int i = 1; i < 4; i++)
		assert_int_equal(echo_once(fd[i], 10, (unsigned)i), 0);
	for (int i = 0; i < 4; i++)
		close(fd[i]);
	close(n);
	assert_int_equal(stop(&c), 0);
}

static void test_environment_and_options(void **state)
{
	const char *plain[] = {"--port", "PORT", NULL};
	const char *one[] = {"--port", "PORT", "--shards", "1", NULL};
	const char *bad[][5] = {
		{"--port", "105977", NULL},
		{"--port", "+80", NULL},
		{"--port", " 80", NULL},
		{"--port", "PORT", "--shards", "-0", NULL},
		{"--port", "PORT", "--idle", "1e3", NULL},
		{"--port", "PORT", "--max-conns", "0", NULL},
	};
	struct child c;
	int st;

	(void)state;
	spawn(&c, "PINION_SHARDS=2", plain);
	assert_non_null(strstr(c.line, "2 shards"));
	assert_int_equal(stop(&c), 0);
	spawn(&c, "PINION_SHARDS=2", one);
	assert_non_null(strstr(c.line, "1 shards"));
	assert_int_equal(stop(&c), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		spawn(&c, NULL, bad[i]);
		assert_non_null(strstr(c.line, "expected a number"));
		assert_int_equal(waitpid(c.pid, &st, 0), c.pid);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 2);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_non_readers_do_not_stall_others),
		cmocka_unit_test(
			test_half_close_with_backlog_echoes_every_byte),
		cmocka_unit_test(test_limits_idle_and_full_table),
		cmocka_unit_test(test_environment_and_options),
	};
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	(void)argc;
	(void)argv;
	signal(SIGPIPE, SIG_IGN);
	/* $(BUILD)/tests/io/test_echo -> $(BUILD)/bin/pinion-echo */
	if (n > 0) {
		self[n] = 0;
		snprintf(echo_bin, sizeof(echo_bin), "%s/bin/pinion-echo",
			 dirname(dirname(dirname(self))));
	}
	return cmocka_run_group_tests_name("echo", tests, NULL, NULL);
}
