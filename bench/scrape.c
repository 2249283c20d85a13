// SPDX-License-Identifier: MIT
/*
 * A Prometheus scraper for measuring what the metrics endpoint costs the
 * shards: with PINION_BENCH_SCRAPE_MS=N in the environment, every runtime
 * the benchmarks start serves GET /metrics on a free loopback port
 * (pn_io_metrics_serve) and a thread fetches it every N ms until the
 * runtime stops. Compare `latency` with and without (README, "Metrics").
 * One runtime at a time (the driver's way).
 */
#include "bench.h"
#include "pn_io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static pthread_t scraper;
static atomic_bool stop;
static bool running;
static unsigned period_ms;
static uint16_t port;
static atomic_ulong scrapes;
/* The scraper thread's own; read after it is joined. */
static uint64_t scrape_ns, scrape_max_ns, scrape_bytes;

static void scrape_once(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: b\r\n\r\n";
	char buf[16384];
	uint64_t t0 = pn_now_ns(), bytes = 0, dt;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ssize_t n;

	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    write(fd, req, sizeof(req) - 1) == (ssize_t)(sizeof(req) - 1)) {
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			bytes += (uint64_t)n;
		dt = pn_now_ns() - t0;
		scrape_ns += dt;
		scrape_max_ns = dt > scrape_max_ns ? dt : scrape_max_ns;
		scrape_bytes += bytes;
		atomic_fetch_add(&scrapes, 1);
	}
	close(fd);
}

static void *scrape_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		scrape_once();
		usleep(period_ms * 1000u);
	}
	return NULL;
}

/* Before pn_runtime_start(): io/ and its metrics, if scraping is on. */
int bench_scrape_prepare(struct pn_runtime *rt)
{
	const char *e = getenv("PINION_BENCH_SCRAPE_MS");
	uint64_t v;
	int err;

	period_ms = 0;
	if (!e || !*e)
		return 0;
	if (pn_parse_u64(e, 0, 60000, &v, NULL) < 0) {
		fprintf(stderr,
			"pinion-bench: PINION_BENCH_SCRAPE_MS=%.32s: expected "
			"0..60000 (ms)\n",
			e);
		return -EINVAL;
	}
	if (!(period_ms = (unsigned)v))
		return 0;
	if ((err = pn_io_init(rt, NULL)) < 0 ||
	    (err = pn_io_metrics_register(rt)) < 0)
		fprintf(stderr, "pinion-bench: scrape: %s\n", pn_last_error());
	return err;
}

/* After pn_runtime_start(): the endpoint and the scraper thread. */
int bench_scrape_start(struct pn_runtime *rt)
{
	int err;

	if (!period_ms)
		return 0;
	err = pn_io_metrics_serve(rt, "127.0.0.1:0", &port);
	if (err < 0) {
		fprintf(stderr, "pinion-bench: scrape: %s\n", pn_last_error());
		return err;
	}
	atomic_store(&stop, false);
	running = pthread_create(&scraper, NULL, scrape_main, NULL) == 0;
	return running ? 0 : -EAGAIN;
}

/* Before the runtime shuts down. */
void bench_scrape_stop(void)
{
	unsigned long n;

	if (!running)
		return;
	atomic_store(&stop, true);
	pthread_join(scraper, NULL);
	running = false;
	n = atomic_load(&scrapes);
	fprintf(stderr,
		"pinion-bench: %lu scrapes of /metrics every %u ms: %llu "
		"bytes, %.0f us each on average (connect to last byte), "
		"%.0f us at most\n",
		n, period_ms, n ? (unsigned long long)(scrape_bytes / n) : 0ull,
		n ? (double)scrape_ns / (double)n / 1e3 : 0.0,
		(double)scrape_max_ns / 1e3);
	atomic_store(&scrapes, 0);
	scrape_ns = scrape_max_ns = scrape_bytes = 0;
}
