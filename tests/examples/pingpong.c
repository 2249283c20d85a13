// SPDX-License-Identifier: MIT
/* README example 2: ping-pong between actors on two shards. */
#include <errno.h>
#include <pinion/pinion.h>
#include <stdio.h>

enum { START = 1, PING, PONG };

struct player {
	pn_pid peer;
	uint64_t left; /* round trips still to play */
	/* A send the runtime refused for now (-EAGAIN), sent again on
	 * PN_MSG_WRITABLE; a handler that returned the error would fail. */
	pn_pid to;
	uint32_t type;
	uint64_t v;
};

/* Send, or keep it for PN_MSG_WRITABLE: a refused send is backpressure. */
static int play(struct pn_ctx *ctx, struct player *p, pn_pid to, uint32_t type,
		uint64_t v)
{
	int err = pn_send_u64(ctx, to, type, v);

	if (err != -EAGAIN)
		return err < 0 ? err : 0; /* -ESRCH etc.: a real failure */
	p->to = to;
	p->type = type;
	p->v = v;
	return pn_notify_writable(ctx);
}

static int player(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct player *p = state;

	switch (m->type) {
	case START: /* payload: the peer's pid, then the round trips */
		memcpy(p, pn_msg_data(m), 2 * sizeof(uint64_t));
		return play(ctx, p, p->peer, PING, p->left);
	case PING:
		return play(ctx, p, m->from, PONG, pn_msg_u64(m));
	case PONG:
		if (--p->left == 0) {
			pn_runtime_notify(pn_ctx_runtime(ctx), 0);
			return 0;
		}
		return play(ctx, p, p->peer, PING, p->left);
	case PN_MSG_WRITABLE:
		return play(ctx, p, p->to, p->type, p->v);
	}
	return 0;
}

static const struct pn_behaviour player_b = {.name = "player",
					     .state_size =
						     sizeof(struct player),
					     .handle = player};

int main(void)
{
	struct pn_config cfg;
	struct pn_runtime *rt;
	struct pn_shutdown_report rep;
	pn_pid a, b;
	int code;

	pn_config_init(&cfg);
	cfg.plan.shards = 2;
	if (pn_runtime_create(&cfg, &rt) || pn_runtime_start(rt))
		goto fail;
	struct pn_spawn_opts on0 = {.shard = 0}, on1 = {.shard = 1};
	if (pn_runtime_spawn(rt, &player_b, &on0, &a) ||
	    pn_runtime_spawn(rt, &player_b, &on1, &b))
		goto fail;
	struct player start = {.peer = b, .left = 100000};
	if (pn_runtime_send(rt, a, START, &start, sizeof(start), 1000000000) ||
	    pn_runtime_wait(rt, 10000000000, &code))
		goto fail;
	printf("100000 round trips between shard 0 and shard 1\n");
	if (pn_runtime_shutdown(rt, 2000000000, &rep))
		fprintf(stderr, "shutdown:\n%s", rep.text);
	pn_runtime_destroy(rt);
	return 0;
fail:
	fprintf(stderr, "pingpong: %s\n", pn_last_error());
	return 1;
}
