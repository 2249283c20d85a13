// SPDX-License-Identifier: MIT
/*
 * echo: TCP echo on loopback with C = 1, 16 and 256 client
 * connections, each with one 64-byte request outstanding; every reply is
 * checked byte for byte. Two servers, one after the other, against the
 * same load generator (echo_client.c) in the same run:
 *
 *   impl=pinion  Pinion with io/: one shard, one echo actor serving every
 *                connection (multishot receive into the provided-buffer
 *                ring, the lent buffer echoed with pn_io_send and given
 *                back), the same server as the pinion-echo tool
 *   impl=epoll   a plain single-threaded epoll echo server (epoll_echo.c)
 *
 * Both servers run on the plan's first cpu, the generator on the second
 * (two pinned threads, never sharing a core with each other). ops =
 * requests, over all C connections; latency = request sent to reply
 * complete. After both, "ratio:" gives pinion/epoll. The runtime's
 * supervisor thread shares the server's core (it idles).
 */
#include "echo.h"

#include "pn_io.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define READY 77

static const unsigned conns[] = {1, 16, 256};

struct srv {
	pn_io_handle l;
};

static int srv_init(struct pn_ctx *ctx, void *state, const void *arg,
		    size_t len)
{
	struct srv *s = state;
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct pn_io_opts o = {.flags = PN_IO_NODELAY};
	socklen_t alen = sizeof(a);
	int err;

	(void)arg;
	(void)len;
	err = pn_io_listen(ctx, (struct sockaddr *)&a, sizeof(a), &o, &s->l);
	if (err < 0 ||
	    getsockname(pn_io_fd(ctx, s->l), (struct sockaddr *)&a, &alen)) {
		fprintf(stderr, "pinion-bench: echo: listen: %s\n",
			pn_last_error());
		return err < 0 ? err : -EIO;
	}
	pn_runtime_notify(pn_ctx_runtime(ctx), READY + ntohs(a.sin_port));
	return 0;
}

/* One request in flight per connection: the queue never fills, so a
 * refused send is a failure, not backpressure. */
static int srv_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	const struct pn_io_ev *ev = pn_io_ev(m);
	int err = 0;

	(void)state;
	switch (m->type) {
	case PN_MSG_IO_ACCEPT:
		err = pn_io_recv_start(ctx, ev->conn);
		break;
	case PN_MSG_IO_DATA:
		err = pn_io_send(ctx, ev->h, ev->data, (size_t)ev->res);
		pn_io_buf_release(ctx, ev->buf);
		if (err == -EBADF || err == -EPIPE) /* the peer went away */
			err = 0;
		break;
	case PN_MSG_IO_EOF:
		err = pn_io_close(ctx, ev->h);
		break;
	default:
		break;
	}
	if (err < 0)
		fprintf(stderr, "pinion-bench: echo server: %s\n",
			pn_io_strerror(err));
	return 0;
}

static const struct pn_behaviour srv_b = {.name = "bench-echo",
					  .state_size = sizeof(struct srv),
					  .init = srv_init,
					  .handle = srv_handle};

/* A one-shard runtime with io/ on @cpu, its echo actor listening. */
static int pinion_start(const struct bench_opts *o, int cpu,
			struct pn_runtime **rt, uint16_t *port)
{
	struct pn_config c;
	pn_pid pid;
	int err, code = 0;

	pn_config_init(&c);
	if ((err = pn_config_from_env(&c)) < 0)
		return err;
	c.plan.shards = 1;
	snprintf(c.plan.cores, sizeof(c.plan.cores), "%d", cpu);
	c.busy_poll = o->busy_poll;
	if ((err = pn_runtime_create(&c, rt)) < 0)
		return err;
	if ((err = pn_io_init(*rt, NULL)) < 0 ||
	    (err = pn_runtime_start(*rt)) < 0 ||
	    (err = pn_runtime_spawn(*rt, &srv_b, NULL, &pid)) < 0 ||
	    (err = pn_runtime_wait(*rt, 5000000000ull, &code)) < 0) {
		pn_runtime_destroy(*rt);
		return err;
	}
	*port = (uint16_t)(code - READY);
	return 0;
}

struct series {
	uint64_t ns[BENCH_MAX_REPS], p50[BENCH_MAX_REPS], p99[BENCH_MAX_REPS];
	uint64_t p999[BENCH_MAX_REPS], max[BENCH_MAX_REPS];
};

/* Warm-up plus the timed repetitions against 127.0.0.1:@port. */
static int reps(const struct bench_opts *o, const struct bench_cpus *cpus,
		uint16_t port, unsigned c, uint64_t n, struct series *s)
{
	/* A stall, not a total: a slow or loaded machine (a VM that takes
	 * 100 us to wake a parked core) only runs longer. */
	struct echo_load l = {.port = port,
			      .conns = c,
			      .timeout_ns = o->timeout_ns ? o->timeout_ns
							  : 30000000000ull,
			      .hist = bench_hist_create(),
			      .corrupt = bench_broken("echo")};
	int err = l.hist ? 0 : -ENOMEM;

	for (unsigned r = 0; !err && r <= o->reps; r++) {
		l.n = r ? n : (n / 10 > c ? n / 10 : c);
		bench_hist_reset(l.hist);
		err = bench_run_pinned(cpus, cpus->cpu[1], echo_load_run, &l);
		if (!err)
			err = l.err;
		if (err < 0) {
			fprintf(stderr,
				"pinion-bench: echo/c%u: check failed: "
				"%s\n",
				c, l.what[0] ? l.what : strerror(-err));
			break;
		}
		if (r == 0)
			continue;
		s->ns[r - 1] = l.ns;
		s->p50[r - 1] = bench_hist_percentile(l.hist, 50);
		s->p99[r - 1] = bench_hist_percentile(l.hist, 99);
		s->p999[r - 1] = bench_hist_percentile(l.hist, 99.9);
		s->max[r - 1] = bench_hist_max(l.hist);
	}
	bench_hist_destroy(l.hist);
	return err;
}

static void report(const struct bench_opts *o, const char *impl, unsigned c,
		   uint64_t n, struct series *s, const struct bench_cpus *cpus,
		   struct bench_result *r)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->bench, sizeof(r->bench), "echo");
	snprintf(r->variant, sizeof(r->variant), "c%u", c);
	snprintf(r->impl, sizeof(r->impl), "%s", impl);
	r->shards = 1;
	r->ops = n;
	r->secs = (double)bench_median(s->ns, o->reps) / 1e9;
	r->latency = true;
	r->busy = !strcmp(impl, "pinion") && o->busy_poll;
	r->p50 = bench_median(s->p50, o->reps);
	r->p99 = bench_median(s->p99, o->reps);
	r->p999 = bench_median(s->p999, o->reps);
	r->max = bench_median(s->max, o->reps);
	snprintf(r->extra, sizeof(r->extra), "%sconns=%u cpus=%d+%d",
		 strcmp(impl, "pinion") ? ""
		 : r->busy		? "poll=busy "
					: "poll=park ",
		 c, cpus->cpu[0], cpus->cpu[1]);
	bench_report(o, r);
}

static int one_c(const struct bench_opts *o, const struct bench_cpus *cpus,
		 unsigned c, uint64_t n, bool pinion, bool epoll)
{
	static struct series s;
	struct bench_result rp = {.secs = 0}, re = {.secs = 0};
	struct pn_runtime *rt;
	struct echo_epoll *es;
	uint16_t port;
	int err = 0;

	if (pinion && (err = pinion_start(o, cpus->cpu[0], &rt, &port)) < 0)
		fprintf(stderr, "pinion-bench: echo: %s\n", pn_last_error());
	if (pinion && !err) {
		err = reps(o, cpus, port, c, n, &s);
		pn_runtime_shutdown(rt, 5000000000ull, NULL);
		pn_runtime_destroy(rt);
		if (!err)
			report(o, "pinion", c, n, &s, cpus, &rp);
	}
	if (epoll && !err &&
	    (err = echo_epoll_start(cpus, cpus->cpu[0], &port, &es)) == 0) {
		err = reps(o, cpus, port, c, n, &s);
		echo_epoll_stop(es);
		if (!err)
			report(o, "epoll", c, n, &s, cpus, &re);
	}
	if (!err && rp.secs > 0 && re.secs > 0)
		bench_note(o, "ratio",
			   "echo/c%u pinion/epoll ns_per_op=%.2f "
			   "ops_per_sec=%.2f p99_ns=%.2f",
			   c, rp.secs / re.secs, re.secs / rp.secs,
			   (double)rp.p99 / (double)(re.p99 ? re.p99 : 1));
	return err;
}

int bench_echo(const struct bench_opts *o)
{
	bool pinion = !o->impl || !strcmp(o->impl, "pinion");
	bool epoll = !o->impl || !strcmp(o->impl, "epoll");
	uint64_t n = o->n ? o->n : 1000000;
	struct bench_cpus cpus;
	char name[8];
	int err = bench_cpus_plan(2, &cpus);

	if (err < 0)
		return err;
	if (cpus.n < 2) {
		bench_note(o, "skip", "echo: needs 2 cpus (server, client)");
		return 0;
	}
	for (unsigned i = 0; i < sizeof(conns) / sizeof(*conns); i++) {
		snprintf(name, sizeof(name), "c%u", conns[i]);
		if (o->variant && strcmp(o->variant, name))
			continue;
		if ((err = one_c(o, &cpus, conns[i], n, pinion, epoll)) < 0)
			return err;
	}
	return 0;
}
