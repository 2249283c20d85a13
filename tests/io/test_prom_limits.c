// SPDX-License-Identifier: MIT
/*
 * Bad and slow clients against the metrics endpoint (io/prom.c), all on
 * loopback: idle connections and slowloris senders (a byte every 100-200
 * ms, never ending the head) filling the connection table while a
 * scraper must still get its 200 within a second, time after time; a
 * full table giving the place of the connection quiet longest; and the
 * per-connection deadlines (the head's, idle, the answer's), which io/
 * enforces: those tests skip while io/ does not yet (p_io_deadlines()).
 */
#include "prom_harness.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define N_IDLE	  20 /* more than the table's 16 on their own */
#define N_SLOW	  4
#define N_ATTACK  (N_IDLE + N_SLOW)
#define N_SCRAPES 5

#define SLOW_HEAD "GET /metrics HTTP/1.1\r\nX-Slow: "

struct attack {
	uint16_t port;
	atomic_bool stop;
	atomic_uint opened;  /* connections made, first ones and again */
	atomic_uint dropped; /* seen closed or reset by the server */
	int fd[N_ATTACK];
	unsigned sent[N_ATTACK];
	uint64_t next[N_ATTACK]; /* slow: next byte; closed: reconnect */
};

static void attack_open(struct attack *a, int i, uint64_t now)
{
	a->fd[i] = t_connect(a->port);
	a->sent[i] = 0;
	a->next[i] = now + (i >= N_IDLE ? 0 : UINT64_MAX / 2);
	if (a->fd[i] >= 0)
		atomic_fetch_add(&a->opened, 1);
	else
		a->next[i] = now + 20 * T_MS;
}

/* One socket's turn: trickle a byte, notice a close, reconnect. */
static void attack_step(struct attack *a, int i, short revents, uint64_t now)
{
	char buf[512];
	ssize_t n;

	if (a->fd[i] < 0) {
		if (now >= a->next[i])
			attack_open(a, i, now);
		return;
	}
	n = revents ? recv(a->fd[i], buf, sizeof(buf), MSG_DONTWAIT) : -1;
	if (revents && (n == 0 || (n < 0 && errno != EAGAIN))) {
		close(a->fd[i]); /* shed, or timed out: come back, paced */
		a->fd[i] = -1;
		a->next[i] = now + 20 * T_MS;
		atomic_fetch_add(&a->dropped, 1);
		return;
	}
	if (i >= N_IDLE && now >= a->next[i]) {
		unsigned k = a->sent[i]++;
		char c = k < sizeof(SLOW_HEAD) - 1 ? SLOW_HEAD[k] : 'a';

		(void)send(a->fd[i], &c, 1, MSG_NOSIGNAL);
		a->next[i] = now + (100 + (k * 37 + (unsigned)i * 11) % 100) *
					   T_MS; /* the attack's pace */
	}
}

static void *attacker(void *arg)
{
	struct attack *a = arg;
	struct pollfd pf[N_ATTACK];

	for (int i = 0; i < N_ATTACK; i++)
		attack_open(a, i, p_now());
	while (!atomic_load(&a->stop)) {
		uint64_t now;

		for (int i = 0; i < N_ATTACK; i++)
			pf[i] = (struct pollfd){.fd = a->fd[i],
						.events = POLLIN};
		poll(pf, N_ATTACK, 10);
		now = p_now();
		for (int i = 0; i < N_ATTACK; i++)
			attack_step(a, i, a->fd[i] >= 0 ? pf[i].revents : 0,
				    now);
	}
	for (int i = 0; i < N_ATTACK; i++)
		if (a->fd[i] >= 0)
			close(a->fd[i]);
	return NULL;
}

/* A condition, checked every millisecond for at most @ns. */
static bool wait_for(bool (*cond)(void *), void *arg, uint64_t ns)
{
	for (uint64_t end = p_now() + ns; p_now() < end; usleep(1000))
		if (cond(arg))
			return true;
	return cond(arg);
}

static bool table_full(void *arg)
{
	struct attack *a = arg;

	/* Each connection over the table's size makes the server drop
	 * one (the old code reset the newcomer instead). */
	return atomic_load(&a->opened) >= N_ATTACK &&
	       atomic_load(&a->dropped) >= N_ATTACK - 16;
}

/*
 * 20 idle connections and 4 slowloris ones, each coming back when the
 * server drops it, against the default table of 16: five scrapes, each
 * answered 200 within a second.
 */
static void test_prom_limits_attack(void **state)
{
	struct attack *a = calloc(1, sizeof(*a));
	pthread_t t;
	uint16_t port;
	char *r;

	(void)state;
	assert_non_null(a);
	port = p_serve(NULL);
	a->port = port;
	assert_int_equal(pthread_create(&t, NULL, attacker, a), 0);
	assert_true(wait_for(table_full, a, 5 * T_SEC));
	for (int i = 0; i < N_SCRAPES; i++) {
		uint64_t t0 = p_now(), dt;

		r = p_scrape(port, NULL);
		dt = p_now() - t0;
		if (p_status(r) != 200 || dt > T_SEC)
			fail_msg("scrape %d under attack: \"%.30s\" after %llu "
				 "ms",
				 i, r, (unsigned long long)(dt / T_MS));
		assert_non_null(strstr(r, "pinion_messages_total"));
		free(r);
		usleep(300 * 1000); /* let the slowloris bytes trickle on */
	}
	atomic_store(&a->stop, true);
	pthread_join(t, NULL);
	r = p_scrape(port, NULL);
	assert_null(strstr(r, "pinion_metrics_endpoint_shed_total 0\n"));
	free(r);
	print_message("attack: %u connections made, %u dropped by the "
		      "server\n",
		      atomic_load(&a->opened), atomic_load(&a->dropped));
	free(a);
	t_finish();
}

static int open_partial(uint16_t port)
{
	static const char part[] = "GET /metrics HTTP/1.1\r\n";
	int fd = t_connect(port);

	assert_true(fd >= 0);
	assert_int_equal(t_write_full(fd, part, sizeof(part) - 1), 0);
	return fd;
}

/*
 * A full table (2 here) gives the place of the unanswered connection whose
 * last byte came longest ago to the newcomer; the other keeps its place.
 */
static void test_prom_limits_shed_oldest(void **state)
{
	struct pn_io_metrics_opts o = {.addr = "127.0.0.1:0", .max_conns = 2};
	char buf[256] = {0}, *r;
	uint16_t port;
	int old, young;

	(void)state;
	port = p_serve(&o);
	old = open_partial(port);
	r = p_scrape(port, NULL); /* answered after old's bytes came */
	assert_int_equal(p_status(r), 200);
	free(r);
	young = open_partial(port);
	r = p_scrape(port, NULL); /* the table is full: old goes */
	assert_int_equal(p_status(r), 200);
	free(r);
	assert_true(p_closed_within(old, 2 * T_SEC, false));
	assert_int_equal(t_write_full(young, "\r\n", 2), 0);
	assert_true(read(young, buf, sizeof(buf) - 1) > 0);
	assert_int_equal(p_status(buf), 200);
	close(old);
	close(young);
	t_finish();
}

/* How long the server took to end @fd, in ms (trickling with @slow). */
static uint64_t ended_after(int fd, bool slow, uint64_t bound_ms)
{
	uint64_t t0 = p_now();

	if (!p_closed_within(fd, bound_ms * T_MS, slow))
		fail_msg("still open after %llu ms",
			 (unsigned long long)bound_ms);
	return (p_now() - t0) / T_MS;
}

/*
 * The head's deadline (300 ms here): a slowloris sender, never quiet
 * long enough for the idle deadline, is reset within the deadline, a
 * sweep (100 ms) and a margin.
 */
static void test_prom_limits_header_deadline(void **state)
{
	struct pn_io_metrics_opts o = {.addr = "127.0.0.1:0",
				       .header_ns = 300 * T_MS,
				       .idle_ns = 10 * T_SEC};
	uint64_t ms;
	uint16_t port;
	int fd;
	char *r;

	(void)state;
	port = p_serve(&o);
	if (!p_io_deadlines()) {
		t_finish();
		skip();
	}
	fd = t_connect(port);
	assert_true(fd >= 0);
	ms = ended_after(fd, true, 300 + 100 + 600);
	print_message("slowloris reset after %llu ms\n",
		      (unsigned long long)ms);
	assert_true(ms >= 250);
	close(fd);
	r = p_scrape(port, NULL); /* a quick head is well within it */
	assert_int_equal(p_status(r), 200);
	assert_non_null(
		strstr(r, "pinion_metrics_endpoint_timeouts_total 1\n"));
	free(r);
	t_finish();
}

/* The idle deadline (300 ms here, inherited from the listener): a
 * connection that sends nothing, or stops halfway, is reset in time. */
static void test_prom_limits_idle_deadline(void **state)
{
	struct pn_io_metrics_opts o = {.addr = "127.0.0.1:0",
				       .header_ns = 10 * T_SEC,
				       .idle_ns = 300 * T_MS};
	uint64_t ms;
	uint16_t port;
	int fd;

	(void)state;
	port = p_serve(&o);
	if (!p_io_deadlines()) {
		t_finish();
		skip();
	}
	fd = t_connect(port);
	assert_true(fd >= 0);
	ms = ended_after(fd, false, 300 + 100 + 600);
	assert_true(ms >= 250);
	close(fd);
	fd = open_partial(port);
	ms = ended_after(fd, false, 300 + 100 + 600);
	assert_true(ms >= 250);
	close(fd);
	t_finish();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_prom_limits_attack, t_teardown),
		cmocka_unit_test_teardown(test_prom_limits_shed_oldest,
					  t_teardown),
		cmocka_unit_test_teardown(test_prom_limits_header_deadline,
					  t_teardown),
		cmocka_unit_test_teardown(test_prom_limits_idle_deadline,
					  t_teardown),
	};

	return cmocka_run_group_tests_name("prom_limits", tests, NULL, NULL);
}
