// SPDX-License-Identifier: MIT
/* README example 1: a hello-world actor. */
#include <pinion/pinion.h>
#include <stdio.h>

enum { HELLO = 1 };

static int greeter(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	(void)state;
	if (m->type != HELLO)
		return 0; /* PN_MSG_STARTED and friends */
	printf("hello, %.*s (shard %u)\n", (int)m->len,
	       (const char *)pn_msg_data(m), pn_shard(ctx));
	pn_runtime_notify(pn_ctx_runtime(ctx), 0);
	return PN_STOP; /* done: stop normally */
}

static const struct pn_behaviour greeter_b = {.name = "greeter",
					      .handle = greeter};

int main(void)
{
	struct pn_runtime *rt;
	pn_pid pid;
	int code;

	/* NULL config: defaults plus PINION_* environment variables. */
	if (pn_runtime_create(NULL, &rt) || pn_runtime_start(rt) ||
	    pn_runtime_spawn(rt, &greeter_b, NULL, &pid) ||
	    pn_runtime_send(rt, pid, HELLO, "world", 5, 1000000000) ||
	    pn_runtime_wait(rt, 5000000000, &code)) {
		fprintf(stderr, "hello: %s\n", pn_last_error());
		return 1;
	}
	pn_verify(code == 0); /* the checks an installed program can use too */
	pn_runtime_destroy(rt); /* shuts down first */
	return 0;
}
