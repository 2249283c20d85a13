// SPDX-License-Identifier: MIT
/*
 * counting: a producer sends N inc messages to one counter
 * actor without waiting, then get; the counter answers the total, which
 * must equal N. ops = messages. local: both on shard 0; cross: the producer
 * on shard 0, the counter on shard 1.
 *
 * The producer never blocks and never hogs its shard: it sends BENCH_CHUNK
 * messages per handler invocation and then a message to itself to go on,
 * and when pn_send() says -EAGAIN (its shard's overflow is over budget) it
 * asks for PN_MSG_WRITABLE and resumes there.
 */
#include "bench.h"

#include <errno.h>
#include <string.h>

struct producer {
	struct bench_shared *sh;
	pn_pid counter;
	uint64_t sent;
	bool get_sent;
	bool waiting; /* for PN_MSG_WRITABLE */
};

struct counter {
	struct bench_shared *sh;
	uint64_t count;
	bool brk; /* lose one inc (self-test) */
};

/* Handle a send error: wait for WRITABLE on -EAGAIN, else fail. */
static int send_error(struct pn_ctx *ctx, struct producer *p, int err)
{
	if (err != -EAGAIN)
		return bench_fail(p->sh, err, "counting: send: %s",
				  strerror(-err));
	p->waiting = true;
	return pn_notify_writable(ctx);
}

static int produce(struct pn_ctx *ctx, struct producer *p)
{
	uint64_t n = p->sh->n;
	int err;

	for (unsigned k = 0; k < BENCH_CHUNK && p->sent < n; k++) {
		err = pn_send_u64(ctx, p->counter, BT_INC, 1);
		if (PN_UNLIKELY(err < 0))
			return send_error(ctx, p, err);
		p->sent++;
	}
	if (p->sent < n)
		err = pn_send_u64(ctx, pn_self(ctx), BT_CONT, 0);
	else if (!p->get_sent)
		err = pn_send_u64(ctx, p->counter, BT_GET, 0);
	else
		return 0;
	if (err < 0)
		return send_error(ctx, p, err);
	p->get_sent = p->sent == n;
	return 0;
}

static int producer_handle(struct pn_ctx *ctx, void *state,
			   const struct pn_msg *m)
{
	struct producer *p = state;

	switch (m->type) {
	case BT_KICK:
		p->sh->t0 = pn_now_ns();
		return produce(ctx, p);
	case BT_CONT:
		return produce(ctx, p);
	case PN_MSG_WRITABLE:
		if (!p->waiting)
			return 0;
		p->waiting = false;
		return produce(ctx, p);
	case BT_TOTAL:
		p->sh->t1 = pn_now_ns();
		p->sh->got = pn_msg_u64(m);
		pn_stop(ctx, p->counter);
		bench_done(p->sh);
		return PN_STOP;
	default:
		return 0;
	}
}

static int counter_handle(struct pn_ctx *ctx, void *state,
			  const struct pn_msg *m)
{
	struct counter *c = state;
	int err;

	if (PN_LIKELY(m->type == BT_INC)) {
		c->count += pn_msg_u64(m);
		if (PN_UNLIKELY(c->brk) && c->count == c->sh->n / 2) {
			c->count--; /* the self-test's lost message */
			c->brk = false;
		}
		return 0;
	}
	if (m->type != BT_GET)
		return 0;
	err = pn_send_u64(ctx, m->from, BT_TOTAL, c->count);
	if (err < 0)
		return bench_fail(c->sh, err, "total: send: %s",
				  strerror(-err));
	return 0;
}

static const struct pn_behaviour producer_b = {
	.name = "bench-producer",
	.state_size = sizeof(struct producer),
	.init = bench_actor_init,
	.handle = producer_handle,
};

static const struct pn_behaviour counter_b = {
	.name = "bench-counter",
	.state_size = sizeof(struct counter),
	.init = bench_actor_init,
	.handle = counter_handle,
};

int bench_counting(struct bench_env *e, struct bench_sample *s)
{
	struct bench_shared *sh = bench_shared_new(e, e->n);
	struct producer p = {.sh = sh};
	struct counter c = {.sh = sh};
	pn_pid pp, pc;
	int err;

	if (!sh)
		return -ENOMEM;
	c.brk = bench_broken("counting");
	err = bench_spawn(e, &counter_b, bench_shard_of(e, 1), &c, sizeof(c),
			  &pc);
	if (err < 0)
		goto out;
	p.counter = pc;
	err = bench_spawn(e, &producer_b, 0, &p, sizeof(p), &pp);
	if (!err)
		err = bench_kick(e, pp, BT_KICK, 0);
	if (!err)
		err = bench_finish(e, sh, "counting", s);
out:
	bench_shared_put(sh, err);
	return err;
}
