// SPDX-License-Identifier: MIT
/*
 * Request/reply with timeouts and user context (README "Requests"): a
 * client asks a pricer (on any shard) for 100 quotes, each request
 * carrying the index of its order as user context (pn_request_ctx), so
 * the reply and the TIMEOUT both say which order they are about
 * (pn_msg_user) and the client keeps no ref -> request table. The pricer
 * drops the first attempt of every tenth quote; the client's timeout
 * fires for those (and for any answer slower than 50 ms on a loaded
 * machine) and it asks again. Payloads are typed (PN_MSG_AS). Exit 0
 * when every order got its quote exactly once and at least the ten
 * dropped ones timed out.
 */
#include "pinion.h"

#include <stdio.h>

#define ORDERS	100
#define QUOTE	0x100u /* struct ask -> struct quote */
#define GO	0x101u /* struct go: the pricer's pid */
#define C_DONE	1
#define TIMEOUT 50000000ull /* 50 ms */

struct ask {
	uint32_t order, attempt;
};
struct quote {
	uint32_t order, price;
};
struct go {
	pn_pid pricer;
};

static int pricer_handle(struct pn_ctx *ctx, void *state,
			 const struct pn_msg *m)
{
	const struct ask *a = PN_MSG_AS(m, struct ask);
	struct quote q;

	(void)state;
	if (m->type != QUOTE || !a)
		return 0;
	if (a->order % 10 == 9 && a->attempt == 0)
		return 0; /* slow today: this one will time out */
	q = (struct quote){a->order, 1000 + a->order};
	pn_reply(ctx, m, QUOTE, &q, sizeof(q));
	return 0;
}

static const struct pn_behaviour pricer_b = {.name = "example.pricer",
					     .handle = pricer_handle};

struct client {
	pn_pid pricer;
	uint32_t price[ORDERS];
	unsigned quoted, timeouts;
};

/* What main reads: written before the notify, read after the wait (the
 * notify's mutex orders the two). */
static struct result {
	unsigned quoted, timeouts;
} result;

static int ask(struct pn_ctx *ctx, struct client *c, uint32_t order,
	       uint32_t attempt)
{
	struct ask a = {order, attempt};

	/* The order's index rides along as the request's user context. */
	return pn_request_ctx(ctx, c->pricer, QUOTE, &a, sizeof(a), TIMEOUT,
			      order, NULL);
}

static int client_handle(struct pn_ctx *ctx, void *state,
			 const struct pn_msg *m)
{
	struct client *c = state;
	const struct quote *q;
	uint64_t order;

	switch (m->type) {
	case GO:
		c->pricer = PN_MSG_AS(m, struct go)->pricer;
		for (uint32_t i = 0; i < ORDERS; i++)
			if (ask(ctx, c, i, 0) < 0)
				return -1;
		break;
	case QUOTE: /* a reply: which order is in the user context */
		order = pn_msg_user(ctx, m);
		q = PN_MSG_AS(m, struct quote);
		if (!q || order >= ORDERS || q->order != order ||
		    c->price[order])
			return -1; /* wrong, or twice */
		c->price[order] = q->price;
		if (++c->quoted == ORDERS) {
			result = (struct result){c->quoted, c->timeouts};
			pn_runtime_notify(pn_ctx_runtime(ctx), C_DONE);
		}
		break;
	case PN_MSG_TIMEOUT: /* no answer in time: the same order, again */
		order = pn_msg_user(ctx, m);
		c->timeouts++;
		return ask(ctx, c, (uint32_t)order, 1) < 0 ? -1 : 0;
	default:
		break;
	}
	return 0;
}

static const struct pn_behaviour client_b = {.name = "example.client",
					     .state_size =
						     sizeof(struct client),
					     .handle = client_handle};

int main(void)
{
	struct pn_spawn_opts any = {.shard = PN_SHARD_ANY};
	struct pn_runtime *rt;
	struct go g;
	pn_pid client;
	int code, rc = 1;

	if (pn_runtime_create(NULL, &rt) < 0 || pn_runtime_start(rt) < 0 ||
	    pn_runtime_spawn(rt, &pricer_b, &any, &g.pricer) < 0 ||
	    pn_runtime_spawn(rt, &client_b, &any, &client) < 0 ||
	    pn_runtime_send(rt, client, GO, &g, sizeof(g), 1000000000ull) < 0 ||
	    pn_runtime_wait(rt, 10000000000ull, &code) < 0 || code != C_DONE) {
		fprintf(stderr, "request: %s\n", pn_last_error());
		pn_runtime_destroy(rt);
		return 1;
	}
	if (pn_runtime_shutdown(rt, 2000000000ull, NULL) == 0 &&
	    result.quoted == ORDERS && result.timeouts >= ORDERS / 10)
		rc = 0;
	printf("request: %u quotes, %u timed out once and were asked again\n",
	       result.quoted, result.timeouts);
	pn_runtime_destroy(rt);
	return rc;
}
