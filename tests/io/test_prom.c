// SPDX-License-Identifier: MIT
/*
 * The metrics endpoint (io/prom.c) and pinion-top: off by default, a bad
 * address refused, GET /metrics answered in the Prometheus text format
 * (with io/'s counters registered as a metrics source), 404 and 405 for
 * other requests, repeated and concurrent scrapes, and pinion-top run
 * against the live endpoint, both plainly and inside a detached tmux
 * session whose pane is captured (skipped without tmux). A load actor
 * streams messages from shard 0 to shard 1 so there is something to see.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define T_LOAD 0x300u

static char top_bin[PATH_MAX];

struct load {
	pn_pid sink;
};

/* Every millisecond: 500 messages to the sink on the other shard. */
static int load_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct load *l = state;

	if (m->type == T_GO)
		l->sink = pn_msg_u64(m);
	if (m->type != T_GO && m->type != T_LOAD)
		return 0;
	for (int i = 0; i < 500; i++)
		if (pn_send_u64(ctx, l->sink, T_LOAD, (uint64_t)i) < 0)
			break;
	return pn_send_after(ctx, 1000000, T_LOAD, NULL, 0, NULL);
}

static int sink_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	(void)ctx;
	(void)state;
	(void)m;
	return 0;
}

static const struct pn_behaviour load_b = {
	.name = "test.load",
	.state_size = sizeof(struct load),
	.handle = load_handle,
};
static const struct pn_behaviour sink_b = {
	.name = "test.sink",
	.handle = sink_handle,
};

static uint16_t start(void)
{
	struct pn_config c;
	uint16_t port = 0;
	pn_pid sink, load;

	pn_config_init(&c);
	c.plan.shards = 2;
	c.spin_ns = 1000;
	assert_int_equal(pn_runtime_create(&c, &t_rt), 0);
	assert_int_equal(pn_io_init(t_rt, NULL), 0);
	assert_int_equal(pn_io_metrics_register(t_rt), 0);
	assert_int_equal(pn_runtime_start(t_rt), 0);
	assert_int_equal(pn_io_metrics_serve(t_rt, "127.0.0.1:0", &port), 0);
	assert_true(port != 0);
	sink = t_spawn(&sink_b, 1, NULL, 0);
	load = t_spawn(&load_b, 0, NULL, 0);
	t_send(load, T_GO, &sink, sizeof(sink));
	return port;
}

/* One request; the whole answer (headers and body), malloc'd. */
static char *http(uint16_t port, const char *req)
{
	int fd = t_connect(port);
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	ssize_t n;

	assert_true(fd >= 0);
	assert_non_null(buf);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (len + 1 == cap) {
			char *nb = realloc(buf, cap *= 2);

			assert_non_null(nb);
			buf = nb;
		}
	}
	close(fd);
	buf[len] = 0;
	return buf;
}

static char *scrape(uint16_t port)
{
	return http(port, "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
}

static void test_prom_off_by_default(void **state)
{
	struct pn_config c;
	uint16_t port = 1;

	(void)state;
	unsetenv("PINION_METRICS_ADDR");
	pn_config_init(&c);
	c.plan.shards = 1;
	assert_int_equal(pn_runtime_create(&c, &t_rt), 0);
	assert_int_equal(pn_io_init(t_rt, NULL), 0);
	assert_int_equal(pn_runtime_start(t_rt), 0);
	assert_int_equal(pn_io_metrics_serve(t_rt, NULL, &port), 0);
	assert_int_equal(port, 0);
	assert_int_equal(pn_io_metrics_serve(t_rt, "localhost", &port),
			 -EINVAL);
	assert_int_equal(pn_io_metrics_serve(t_rt, "1.2.3:99999", &port),
			 -EINVAL);
	t_finish();
}

static void test_prom_scrape(void **state)
{
	uint16_t port;
	char *a, *b;

	(void)state;
	port = start();
	usleep(50000);
	a = scrape(port);
	assert_non_null(strstr(a, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(a, "Content-Type: text/plain; version=0.0.4"));
	assert_non_null(strstr(a, "# TYPE pinion_messages_total counter\n"));
	assert_non_null(strstr(a, "pinion_messages_total{shard=\"1\","
				  "kind=\"cross\"} "));
	assert_non_null(strstr(a, "pinion_time_seconds_total{shard=\"0\","
				  "state=\"parked\"} "));
	assert_non_null(strstr(a, "# TYPE pinion_handler_seconds histogram"));
	assert_non_null(strstr(a, "pinion_io_accepted_total{shard=\"2\"} "));
	assert_non_null(strstr(a, "# TYPE pinion_io_handles gauge"));
	usleep(100000);
	b = scrape(port); /* the supervisor shard accepted the first one */
	assert_null(strstr(b, "pinion_io_accepted_total{shard=\"2\"} 0\n"));
	assert_non_null(strstr(b, "behaviour=\"test.sink\"} "));
	free(a);
	free(b);
	t_finish();
}

static void test_prom_errors(void **state)
{
	uint16_t port;
	char *a, *b;

	(void)state;
	port = start();
	a = http(port, "GET /nope HTTP/1.1\r\n\r\n");
	b = http(port, "POST /metrics HTTP/1.1\r\n\r\n");
	assert_non_null(strstr(a, "HTTP/1.1 404 "));
	assert_non_null(strstr(b, "HTTP/1.1 405 "));
	free(a);
	free(b);
	t_finish();
}

static void *scraper(void *arg)
{
	uint16_t port = *(uint16_t *)arg;
	intptr_t ok = 0;

	for (int i = 0; i < 10; i++) {
		char *r = scrape(port);

		ok += strstr(r, "HTTP/1.1 200 OK") != NULL;
		free(r);
	}
	return (void *)ok;
}

static void test_prom_concurrent(void **state)
{
	pthread_t t[4];
	uint16_t port;
	void *ok;

	(void)state;
	port = start();
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, scraper, &port),
				 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], &ok);
		assert_int_equal((intptr_t)ok, 10);
	}
	t_finish();
}

/* The output of @cmd into a malloc'd string. */
static char *run(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	char *buf = calloc(1, 1 << 16);
	size_t n;

	assert_non_null(p);
	assert_non_null(buf);
	n = fread(buf, 1, (1 << 16) - 1, p);
	buf[n] = 0;
	pclose(p);
	return buf;
}

static void check_screen(const char *s)
{
	assert_non_null(strstr(s, "pinion-top - http://127.0.0.1:"));
	assert_non_null(strstr(s, "SHARD  BUSY%  SPIN%  PARK%      MSG/S"));
	assert_non_null(strstr(s, "RING-HWM"));
	assert_non_null(strstr(s, "TOP ACTORS BY MESSAGES"));
	assert_non_null(strstr(s, "TOP ACTORS BY HANDLER TIME"));
	assert_non_null(strstr(s, "test.sink"));
}

static void test_prom_top(void **state)
{
	char cmd[PATH_MAX + 64], *out;
	uint16_t port;

	(void)state;
	if (access(top_bin, X_OK) != 0)
		skip();
	port = start();
	usleep(100000);
	snprintf(cmd, sizeof(cmd), "timeout 10 %s -p %u -n 2 -i 300", top_bin,
		 port);
	out = run(cmd);
	check_screen(out);
	free(out);
	t_finish();
}

static void test_prom_top_tmux(void **state)
{
	char cmd[PATH_MAX + 160], sess[32], *out = NULL;
	uint16_t port;

	(void)state;
	if (access(top_bin, X_OK) != 0 ||
	    system("tmux -V >/dev/null 2>&1") != 0)
		skip();
	port = start();
	snprintf(sess, sizeof(sess), "pn-top-%d", (int)getpid());
	snprintf(cmd, sizeof(cmd),
		 "tmux -L %s new-session -d -s %s -x 110 -y 40 "
		 "'%s -p %u -i 300'",
		 sess, sess, top_bin, port);
	assert_int_equal(system(cmd), 0);
	/* Up to 5 s for the second screen (rates) to show, whole:
	 * pinion-top clears the pane and then prints line by line, so a
	 * capture can catch a screen half drawn. */
	for (int i = 0; i < 50; i++) {
		usleep(100000);
		snprintf(cmd, sizeof(cmd), "tmux -L %s capture-pane -p -t %s",
			 sess, sess);
		free(out);
		out = run(cmd);
		if (strstr(out, "test.sink") &&
		    strstr(out, "TOP ACTORS BY HANDLER TIME") &&
		    !strstr(out, "totals (rates"))
			break;
	}
	snprintf(cmd, sizeof(cmd), "tmux -L %s kill-server", sess);
	if (system(cmd) != 0)
		print_message("tmux kill-server failed\n");
	print_message("%s", out);
	check_screen(out);
	free(out);
	t_finish();
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_prom_off_by_default, t_teardown),
		cmocka_unit_test_teardown(test_prom_scrape, t_teardown),
		cmocka_unit_test_teardown(test_prom_errors, t_teardown),
		cmocka_unit_test_teardown(test_prom_concurrent, t_teardown),
		cmocka_unit_test_teardown(test_prom_top, t_teardown),
		cmocka_unit_test_teardown(test_prom_top_tmux, t_teardown),
	};
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	(void)argc;
	(void)argv;
	/* $(BUILD)/tests/io/test_prom -> $(BUILD)/bin/pinion-top */
	if (n > 0) {
		self[n] = 0;
		snprintf(top_bin, sizeof(top_bin), "%s/bin/pinion-top",
			 dirname(dirname(dirname(self))));
	}
	return cmocka_run_group_tests_name("prom", tests, NULL, NULL);
}
