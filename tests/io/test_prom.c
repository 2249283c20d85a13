// SPDX-License-Identifier: MIT
/*
 * The metrics endpoint (io/prom.c) and pinion-top: off by default, bad
 * settings refused (strict port, limits, token), GET /metrics answered in
 * the Prometheus text format (with io/'s counters registered as a metrics
 * source, once), HEAD with the same headers and no body, 400, 401, 404,
 * 405 and 431 for other requests (a NUL byte, a head cut short), a bearer
 * token, the warning for an address beyond loopback, repeated and
 * concurrent scrapes, and pinion-top run against the live endpoint, both
 * plainly and inside a detached tmux session whose pane is captured
 * (skipped without tmux). Bad and slow clients: test_prom_limits.c.
 */
#include "prom_harness.h"

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

static char top_bin[PATH_MAX];

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
	port = p_serve(NULL);
	usleep(50000);
	a = p_scrape(port, NULL);
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
	b = p_scrape(port,
		     NULL); /* the supervisor shard accepted the first one */
	assert_null(strstr(b, "pinion_io_accepted_total{shard=\"2\"} 0\n"));
	assert_non_null(strstr(b, "behaviour=\"test.sink\"} "));
	free(a);
	free(b);
	t_finish();
}

/* Each request and the status it gets. */
static const struct {
	const char *req;
	int status;
} cases[] = {
	{"GET /nope HTTP/1.1\r\n\r\n", 404},
	{"GET /metricsx HTTP/1.1\r\n\r\n", 404},
	{"GET /metrics/ HTTP/1.1\r\n\r\n", 404},
	{"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405},
	{"DELETE /metrics HTTP/1.1\r\n\r\n", 405},
	{"GET /metrics HTTP/2.0\r\n\r\n", 400},
	{"GET metrics HTTP/1.1\r\n\r\n", 400},
	{"GET  /metrics HTTP/1.1\r\n\r\n", 400},
	{"GARBAGE\r\n\r\n", 400},
	{"GET /metrics HTTP/1.1\rX: y\r\n\r\n", 400},
	{"GET /metrics HTTP/1.1\r\nHost : t\r\n\r\n", 400},
	{"GET /metrics HTTP/1.1\r\nX: \x01\r\n\r\n", 400},
	{"GET /metrics?name=x HTTP/1.0\n\n", 200}, /* bare LF, a query */
};

static void test_prom_errors(void **state)
{
	char big[5000], *r;
	uint16_t port;

	(void)state;
	port = p_serve(NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = p_http(port, cases[i].req, 0);
		if (p_status(r) != cases[i].status)
			fail_msg("\"%s\": got \"%.40s\", expected %d",
				 cases[i].req, r, cases[i].status);
		if (cases[i].status == 405)
			assert_non_null(strstr(r, "\r\nAllow: GET, HEAD\r\n"));
		free(r);
	}
	/* A head over 4 KiB, never ended: 431 without waiting for more. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
	r = p_http(port, big, sizeof(big));
	assert_int_equal(p_status(r), 431);
	free(r);
	/* Each answer counted, in the endpoint's own series. */
	r = p_scrape(port, NULL);
	assert_non_null(strstr(r,
			       "# TYPE pinion_metrics_endpoint_answers_total "
			       "counter\n"));
	assert_non_null(strstr(r, "_answers_total{code=\"200\"} 1\n"));
	assert_non_null(strstr(r, "_answers_total{code=\"400\"} 7\n"));
	assert_non_null(strstr(r, "_answers_total{code=\"404\"} 3\n"));
	assert_non_null(strstr(r, "_answers_total{code=\"405\"} 2\n"));
	assert_non_null(strstr(r, "_answers_total{code=\"431\"} 1\n"));
	assert_non_null(strstr(r, "pinion_metrics_endpoint_shed_total 0\n"));
	free(r);
	t_finish();
}

/* A NUL byte in the head (strstr() would stop there): 400 at once. */
static void test_prom_nul(void **state)
{
	static const char line[] = "GET /met\0rics HTTP/1.1\r\n\r\n";
	static const char field[] = "GET /metrics HTTP/1.1\r\nX: a\0b\r\n\r\n";
	uint64_t t0;
	uint16_t port;
	char *a, *b;

	(void)state;
	port = p_serve(NULL);
	t0 = p_now();
	a = p_http(port, line, sizeof(line) - 1);
	b = p_http(port, field, sizeof(field) - 1);
	assert_int_equal(p_status(a), 400);
	assert_int_equal(p_status(b), 400);
	assert_non_null(strstr(a, "NUL byte"));
	assert_true(p_now() - t0 < T_SEC);
	free(a);
	free(b);
	t_finish();
}

/* HEAD: GET's status and headers (Content-Length of the body), no body. */
static void test_prom_head(void **state)
{
	uint16_t port;
	size_t n;
	char *g, *h, *e;

	(void)state;
	port = p_serve(NULL);
	g = p_scrape(port, NULL);
	h = p_http(port, "HEAD /metrics HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	e = p_http(port, "HEAD /nope HTTP/1.1\r\n\r\n", 0);
	assert_int_equal(p_status(g), 200);
	assert_int_equal(p_status(h), 200);
	assert_non_null(strstr(h, "Content-Type: text/plain; version=0.0.4"));
	p_body(g, &n);
	assert_int_equal(p_content_length(g), (long)n);
	assert_true(p_content_length(h) > 1000); /* the size of a body */
	p_body(h, &n);
	assert_int_equal(n, 0);
	assert_int_equal(p_status(e), 404);
	assert_int_equal(p_content_length(e), strlen("try /metrics\n"));
	p_body(e, &n);
	assert_int_equal(n, 0);
	free(g);
	free(h);
	free(e);
	t_finish();
}

/* The peer stops sending halfway through a head: 400, not silence. */
static void test_prom_cut_short(void **state)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: t\r\n";
	char buf[512] = {0};
	uint16_t port;
	int fd;

	(void)state;
	port = p_serve(NULL);
	fd = t_connect(port);
	assert_true(fd >= 0);
	assert_int_equal(t_write_full(fd, req, sizeof(req) - 1), 0);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	assert_true(read(fd, buf, sizeof(buf) - 1) > 0);
	assert_int_equal(p_status(buf), 400);
	close(fd);
	t_finish();
}

static void check_token(uint16_t port)
{
	static const struct {
		const char *auth;
		int status;
	} tries[] = {
		{NULL, 401},
		{"Authorization: Bearer wrong", 401},
		{"Authorization: Bearer s3cr3t-t0ke", 401},
		{"Authorization: Bearer s3cr3t-t0kenX", 401},
		{"Authorization: Basic czNjcjN0LXQwa2Vu", 401},
		{"Authorization: Bearer", 401},
		{"Authorization: Bearer s3cr3t-t0ken", 200},
		{"authorization:  bearer   s3cr3t-t0ken ", 200},
	};

	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		char *r = p_scrape(port, tries[i].auth);

		if (p_status(r) != tries[i].status)
			fail_msg("%s: got \"%.40s\", expected %d",
				 tries[i].auth ? tries[i].auth : "no token", r,
				 tries[i].status);
		if (tries[i].status == 401)
			assert_non_null(strstr(
				r, "\r\nWWW-Authenticate: Bearer realm="));
		else
			assert_non_null(strstr(r, "pinion_messages_total"));
		free(r);
	}
}

/* A bearer token, given in the options or in PINION_METRICS_TOKEN. */
static void test_prom_token(void **state)
{
	struct pn_io_metrics_opts o = {.addr = "127.0.0.1:0",
				       .token = "s3cr3t-t0ken"};
	uint16_t port;
	char *r;

	(void)state;
	check_token(p_serve(&o));
	t_finish();
	setenv("PINION_METRICS_TOKEN", "s3cr3t-t0ken", 1);
	o.token = NULL;
	port = p_serve(&o);
	unsetenv("PINION_METRICS_TOKEN");
	check_token(port);
	/* Without the token, 401 comes first: nothing else is told. */
	r = p_http(port, "POST /metrics HTTP/1.1\r\n\r\n", 0);
	assert_int_equal(p_status(r), 401);
	free(r);
	t_finish();
}

/* Settings that serve nothing: -EINVAL and a message naming them. */
static void refused(const struct pn_io_metrics_opts *o, const char *says,
		    const char *not_says)
{
	uint16_t port = 1;
	int err = pn_io_metrics_serve_opts(t_rt, o, &port);

	if (err != -EINVAL || port != 0)
		fail_msg("\"%s\": %d (%s), expected -EINVAL", o->addr, err,
			 pn_last_error());
	if (!strstr(pn_last_error(), says))
		fail_msg("\"%s\": \"%s\" does not say \"%s\"", o->addr,
			 pn_last_error(), says);
	if (not_says && strstr(pn_last_error(), not_says))
		fail_msg("\"%s\" tells the token", pn_last_error());
}

static void test_prom_settings(void **state)
{
	static const char *const ports[] = {
		"127.0.0.1:-0",	      "127.0.0.1: 0", "127.0.0.1:+0",
		"127.0.0.1:65536",    "127.0.0.1:",   "127.0.0.1:08x",
		"127.0.0.1:00000080", "127.0.0.1:0 ", "127.0.0.1:0x10",
	};
	static const struct {
		const char *var, *val;
	} envs[] = {
		{"PINION_METRICS_MAX_CONNS", "0"},
		{"PINION_METRICS_MAX_CONNS", "1025"},
		{"PINION_METRICS_MAX_CONNS", "16 "},
		{"PINION_METRICS_HEADER_MS", "0"},
		{"PINION_METRICS_HEADER_MS", "5s"},
		{"PINION_METRICS_IDLE_MS", "-1"},
		{"PINION_METRICS_DRAIN_MS", "3600001"},
		{"PINION_METRICS_REPLY_MS", "1e3"},
	};
	struct pn_io_metrics_opts o = {0};
	struct pn_config c;

	(void)state;
	pn_config_init(&c);
	c.plan.shards = 1;
	assert_int_equal(pn_runtime_create(&c, &t_rt), 0);
	assert_int_equal(pn_io_init(t_rt, NULL), 0);
	assert_int_equal(pn_runtime_start(t_rt), 0);
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		o.addr = ports[i];
		refused(&o, "port", NULL);
	}
	o.addr = "127.1:0";
	refused(&o, "IPv4", NULL);
	o.addr = "127.0.0.1:0";
	for (size_t i = 0; i < sizeof(envs) / sizeof(envs[0]); i++) {
		setenv(envs[i].var, envs[i].val, 1);
		refused(&o, envs[i].var, NULL);
		unsetenv(envs[i].var);
	}
	o.max_conns = 1025;
	refused(&o, "max_conns", NULL);
	o.max_conns = 0;
	o.token = "has space";
	refused(&o, "token", "has space");
	o.token = "";
	refused(&o, "token", NULL);
	o.token = NULL;
	setenv("PINION_METRICS_TOKEN", "", 1);
	refused(&o, "PINION_METRICS_TOKEN", NULL);
	unsetenv("PINION_METRICS_TOKEN");
	t_finish();
}

static void no_collect(struct pn_ctx *ctx, void *arg, uint64_t *v)
{
	(void)ctx;
	(void)arg;
	v[0] = 0;
}

/* Registered twice: -EALREADY, and no series twice in the output. */
static void test_prom_register_twice(void **state)
{
	static const char *const names[] = {"accepted"};
	static const struct pn_metrics_source io2 = {
		.name = "io", .n = 1, .names = names, .collect = no_collect};
	struct pn_config c;
	uint16_t port;
	const char *a;
	char *r;
	int n = 0;

	(void)state;
	pn_config_init(&c);
	c.plan.shards = 1;
	assert_int_equal(pn_runtime_create(&c, &t_rt), 0);
	assert_int_equal(pn_io_init(t_rt, NULL), 0);
	assert_int_equal(pn_io_metrics_register(t_rt), 0);
	assert_int_equal(pn_io_metrics_register(t_rt), -EALREADY);
	assert_non_null(strstr(pn_last_error(), "registered already"));
	assert_int_equal(pn_metrics_source_register(t_rt, &io2), -EALREADY);
	assert_int_equal(pn_runtime_start(t_rt), 0);
	assert_int_equal(pn_io_metrics_serve(t_rt, "127.0.0.1:0", &port), 0);
	r = p_scrape(port, NULL);
	assert_int_equal(p_status(r), 200);
	for (a = r; (a = strstr(a, "# TYPE pinion_io_accepted_total ")); a++)
		n++;
	assert_int_equal(n, 1);
	free(r);
	t_finish();
}

struct serve_call {
	struct pn_io_metrics_opts o;
	uint16_t port;
	int err;
};

static void serve_call(void *arg)
{
	struct serve_call *s = arg;

	s->err = pn_io_metrics_serve_opts(t_rt, &s->o, &s->port);
}

/* Beyond loopback: served, with a warning on stderr naming the address. */
static void test_prom_warn_exposed(void **state)
{
	struct serve_call lo = {.o = {.addr = "127.0.0.1:0"}};
	struct serve_call any = {
		.o = {.addr = "0.0.0.0:0", .token = "s3cr3t-t0ken"}};
	char *quiet, *loud, *r;

	(void)state;
	p_serve(NULL);
	quiet = p_stderr_of(serve_call, &lo);
	loud = p_stderr_of(serve_call, &any); /* the token guards it */
	assert_int_equal(lo.err, 0);
	assert_int_equal(any.err, 0);
	assert_null(strstr(quiet, "metrics endpoint"));
	if (!strstr(loud, "pinion: warning: the metrics endpoint on "
			  "0.0.0.0:0 is reachable from other hosts"))
		fail_msg("stderr: \"%s\"", loud);
	r = p_scrape(any.port, "Authorization: Bearer s3cr3t-t0ken");
	assert_int_equal(p_status(r), 200);
	free(r);
	free(quiet);
	free(loud);
	t_finish();
}

static void *scraper(void *arg)
{
	uint16_t port = *(uint16_t *)arg;
	intptr_t ok = 0;

	for (int i = 0; i < 10; i++) {
		char *r = p_scrape(port, NULL);

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
	port = p_serve(NULL);
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
	port = p_serve(NULL);
	usleep(100000);
	snprintf(cmd, sizeof(cmd), "timeout 10 %s -p %u -n 2 -i 300", top_bin,
		 port);
	out = run(cmd);
	check_screen(out);
	free(out);
	t_finish();
}

/* pinion-top sends PINION_METRICS_TOKEN as the bearer token. */
static void test_prom_top_token(void **state)
{
	struct pn_io_metrics_opts o = {.addr = "127.0.0.1:0",
				       .token = "s3cr3t-t0ken"};
	char cmd[PATH_MAX + 128], *out;
	uint16_t port;

	(void)state;
	if (access(top_bin, X_OK) != 0)
		skip();
	port = p_serve(&o);
	snprintf(cmd, sizeof(cmd),
		 "PINION_METRICS_TOKEN=s3cr3t-t0ken timeout 10 %s -p %u -n 1 "
		 "2>&1; echo rc=$?",
		 top_bin, port);
	out = run(cmd);
	assert_non_null(strstr(out, "SHARD  BUSY%"));
	assert_non_null(strstr(out, "rc=0"));
	free(out);
	snprintf(cmd, sizeof(cmd),
		 "PINION_METRICS_TOKEN=wrong timeout 10 %s -p %u -n 1 2>&1; "
		 "echo rc=$?",
		 top_bin, port);
	out = run(cmd);
	assert_non_null(strstr(out, "401"));
	assert_non_null(strstr(out, "rc=1"));
	free(out);
	snprintf(cmd, sizeof(cmd),
		 "PINION_METRICS_TOKEN='a b' %s -p %u -n 1 2>&1; echo rc=$?",
		 top_bin, port);
	out = run(cmd);
	assert_non_null(strstr(out, "rc=2"));
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
	port = p_serve(NULL);
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
		cmocka_unit_test_teardown(test_prom_nul, t_teardown),
		cmocka_unit_test_teardown(test_prom_head, t_teardown),
		cmocka_unit_test_teardown(test_prom_cut_short, t_teardown),
		cmocka_unit_test_teardown(test_prom_token, t_teardown),
		cmocka_unit_test_teardown(test_prom_settings, t_teardown),
		cmocka_unit_test_teardown(test_prom_register_twice, t_teardown),
		cmocka_unit_test_teardown(test_prom_warn_exposed, t_teardown),
		cmocka_unit_test_teardown(test_prom_concurrent, t_teardown),
		cmocka_unit_test_teardown(test_prom_top, t_teardown),
		cmocka_unit_test_teardown(test_prom_top_token, t_teardown),
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
