// SPDX-License-Identifier: MIT
/*
 * latency: a client actor on shard 0 sends requests at a
 * fixed rate to a server actor on shard 1, which answers; round-trip times
 * go into a histogram (hist.c). Open loop: request i is due at start +
 * i/rate whatever the replies do, and carries that *scheduled* time, so a
 * stall that delays sending is charged to every request it delayed (no
 * coordinated omission). The client sends what is due whenever it runs: on
 * every reply, and on a one-shot timer armed for the next request's due
 * time (the bench runs with a 1 us timer tick, bench_rt_start()).
 * ops = requests; secs is about N/rate. The check: replies come back
 * complete and in order (each names its request).
 */
#include "bench.h"

#include <errno.h>
#include <string.h>

struct request {
	uint64_t seq;
	uint64_t sched; /* when it was due (pn_now_ns() clock) */
};

struct client {
	struct bench_shared *sh;
	struct bench_hist *hist;
	pn_pid server;
	uint64_t rate;
	uint64_t start;
	uint64_t sent, received;
	uint64_t timer;
	bool armed; /* a timer for the next due request is pending */
};

struct server {
	struct bench_shared *sh;
	bool brk; /* answer one request out of order (self-test) */
};

static uint64_t due(const struct client *c, uint64_t i)
{
	return c->start + i * 1000000000ull / c->rate;
}

/* Arm a one-shot timer for the next request, unless one is pending. */
static int arm_next(struct pn_ctx *ctx, struct client *c)
{
	uint64_t now = pn_now_ns(), next;
	int err;

	if (c->armed || c->sent >= c->sh->n)
		return 0;
	next = due(c, c->sent);
	err = pn_send_after(ctx, next > now ? next - now : 0, BT_TICK, NULL, 0,
			    &c->timer);
	if (err < 0)
		return bench_fail(c->sh, err, "timer: %s", strerror(-err));
	c->armed = true;
	return 0;
}

/* Send every request whose time has come, then wait for the next. */
static int send_due(struct pn_ctx *ctx, struct client *c)
{
	uint64_t now = pn_now_ns(), n = c->sh->n;
	struct request r;
	int err;

	while (c->sent < n && (r.sched = due(c, c->sent)) <= now) {
		r.seq = c->sent;
		err = pn_send(ctx, c->server, BT_REQ, &r, sizeof(r));
		if (err < 0)
			return bench_fail(c->sh, err, "request: send: %s",
					  strerror(-err));
		c->sent++;
	}
	return arm_next(ctx, c);
}

static int on_reply(struct pn_ctx *ctx, struct client *c,
		    const struct pn_msg *m)
{
	uint64_t now = pn_now_ns();
	struct request r;

	memcpy(&r, pn_msg_data(m), sizeof(r));
	if (r.seq != c->received)
		return bench_fail(c->sh, -EPROTO, "reply %llu, expected %llu",
				  (unsigned long long)r.seq,
				  (unsigned long long)c->received);
	bench_hist_record(c->hist, now - r.sched);
	if (++c->received < c->sh->n)
		return send_due(ctx, c);
	if (c->armed)
		pn_timer_cancel(ctx, c->timer);
	c->sh->t1 = now;
	c->sh->got = c->received;
	pn_stop(ctx, c->server);
	bench_done(c->sh);
	return PN_STOP;
}

static int client_handle(struct pn_ctx *ctx, void *state,
			 const struct pn_msg *m)
{
	struct client *c = state;

	switch (m->type) {
	case BT_KICK:
		c->start = pn_now_ns();
		c->sh->t0 = c->start;
		return send_due(ctx, c);
	case BT_TICK:
		c->armed = false;
		return send_due(ctx, c);
	case BT_REP:
		return on_reply(ctx, c, m);
	default:
		return 0;
	}
}

static int server_handle(struct pn_ctx *ctx, void *state,
			 const struct pn_msg *m)
{
	struct server *s = state;
	struct request r;
	int err;

	if (m->type != BT_REQ)
		return 0;
	memcpy(&r, pn_msg_data(m), sizeof(r));
	if (PN_UNLIKELY(s->brk) && r.seq == s->sh->n / 2) {
		r.seq++; /* the self-test's wrong answer */
		s->brk = false;
	}
	err = pn_send(ctx, m->from, BT_REP, &r, sizeof(r));
	if (err < 0)
		return bench_fail(s->sh, err, "reply: send: %s",
				  strerror(-err));
	return 0;
}

static const struct pn_behaviour client_b = {
	.name = "bench-lat-client",
	.state_size = sizeof(struct client),
	.init = bench_actor_init,
	.handle = client_handle,
};

static const struct pn_behaviour server_b = {
	.name = "bench-lat-server",
	.state_size = sizeof(struct server),
	.init = bench_actor_init,
	.handle = server_handle,
};

int bench_latency(struct bench_env *e, struct bench_sample *s)
{
	struct bench_shared *sh = bench_shared_new(e, e->n);
	struct client c = {.sh = sh, .hist = e->hist, .rate = e->rate};
	struct server sv = {.sh = sh};
	pn_pid pc, ps;
	int err;

	if (!sh)
		return -ENOMEM;
	sv.brk = bench_broken("latency");
	err = bench_spawn(e, &server_b, 1 % (int)e->nshards, &sv, sizeof(sv),
			  &ps);
	c.server = ps;
	if (!err)
		err = bench_spawn(e, &client_b, 0, &c, sizeof(c), &pc);
	if (!err)
		err = bench_kick(e, pc, BT_KICK, 0);
	if (!err)
		err = bench_finish(e, sh, "latency", s);
	bench_shared_put(sh, err);
	return err;
}
