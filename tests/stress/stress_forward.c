// SPDX-License-Identifier: MIT
/*
 * Forwarding is bounded. A target actor (home: shard 0) spends about 5 us
 * on each message and moves between the application shards every few
 * milliseconds, while senders on the supervisor shard (never where the
 * target is: its sends always go through the ring to the home) send to it
 * as fast as the runtime lets them, with no window of their own: they
 * stop only at -EAGAIN and go on at PN_MSG_WRITABLE. A requester there
 * asks the target something every 2 ms with a 2 s timeout. Every message
 * goes through the home, which forwards it to where the target is; each
 * move sends back what was at the old location.
 *
 * Checks: no shard's overflow (sampled every 200 us by a thread reading
 * pn_runtime_stats) exceeds the stated bound: twice its budget plus what
 * can be on its way to it when it turns congested (an inbound ring and a
 * sender shard's budget); every request is answered, none times out; the
 * target gets every message once, in order per sender; exact accounting
 * at shutdown; and it prints the copies per delivered message. Without
 * the congestion push-back the home's overflow grows with the run (the
 * senders never see -EAGAIN). Reads PN_SEED and PN_STRESS_SCALE.
 */
#include "stress_util.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define NSENDERS       4
#define MAX_SENDERS    NSENDERS
#define BURST	       64
#define WORK_NS	       5000
#define MOVE_NS	       3000000ull
#define REQ_NS	       2000000ull
#define REQ_TIMEOUT_NS 2000000000ull
#define RING_SLOTS     256
#define BUDGET	       (256 * 1024)
#define CODE_DONE      1

enum { MSG_DATA = 1, MSG_KICK, MSG_MOVE, MSG_ASK, MSG_ANSWER, MSG_TICK };

static struct {
	unsigned nsenders, nlocs;
	uint64_t m; /* per sender */
	pn_pid target;
	_Atomic uint64_t got[MAX_SENDERS];
	_Atomic uint64_t handled, moves, answers, asked, eagain;
	_Atomic uint64_t max_overflow, max_at[8];
	_Atomic bool stop;
} g;

/* --- the target ---------------------------------------------------------- */

struct target {
	uint64_t next[MAX_SENDERS];
	uint64_t rng, total;
};

static void spin_for(uint64_t ns)
{
	uint64_t t0 = pn_now_ns();

	while (pn_now_ns() - t0 < ns)
		;
}

static int target_data(struct pn_ctx *ctx, struct target *t,
		       const struct pn_msg *m)
{
	uint64_t v = pn_msg_u64(m), s = v >> 48, seq = v & ((1ull << 48) - 1);

	SU_CHECK(s < g.nsenders, "sender %" PRIu64, s);
	if (seq != t->next[s])
		su_fail("target (shard %u) from sender %" PRIu64
			": expected seq %" PRIu64 ", got %" PRIu64
			" after %" PRIu64 " moves",
			pn_shard(ctx), s, t->next[s], seq,
			atomic_load(&g.moves));
	t->next[s]++;
	atomic_store_explicit(&g.got[s], t->next[s], memory_order_relaxed);
	atomic_fetch_add_explicit(&g.handled, 1, memory_order_relaxed);
	spin_for(WORK_NS);
	if (++t->total == g.m * g.nsenders)
		pn_runtime_notify(pn_ctx_runtime(ctx), CODE_DONE);
	return 0;
}

static int target_handle(struct pn_ctx *ctx, void *state,
			 const struct pn_msg *m)
{
	struct target *t = state;
	unsigned to;
	int err;

	switch (m->type) {
	case PN_MSG_STARTED:
		t->rng = su_stream(11);
		return pn_send_every(ctx, MOVE_NS, MSG_MOVE, NULL, 0, NULL);
	case MSG_DATA:
		return target_data(ctx, t, m);
	case MSG_ASK:
		return pn_reply(ctx, m, MSG_ANSWER, NULL, 0);
	case MSG_MOVE:
		if (t->total == g.m * g.nsenders)
			return 0;
		to = (unsigned)su_rnd_below(&t->rng, g.nlocs);
		if (to == pn_shard(ctx))
			to = (to + 1) % g.nlocs;
		err = pn_migrate(ctx, to);
		SU_CHECK(err == 0, "pn_migrate(%u): %d %s", to, err,
			 pn_last_error());
		return 0;
	case PN_MSG_MIGRATED:
		atomic_fetch_add_explicit(&g.moves, 1, memory_order_relaxed);
		return 0;
	default:
		return 0;
	}
}

static const struct pn_behaviour target_b = {.name = "forward_target",
					     .state_size =
						     sizeof(struct target),
					     .handle = target_handle};

/* --- senders and the requester -------------------------------------------- */

struct sender {
	uint32_t id;
	bool busy; /* a KICK or a WRITABLE is on its way */
	uint64_t seq;
};

static int sender_handle(struct pn_ctx *ctx, void *state,
			 const struct pn_msg *m)
{
	struct sender *s = state;

	if (m->type == MSG_KICK || m->type == PN_MSG_WRITABLE)
		s->busy = false;
	else if (m->type != PN_MSG_STARTED)
		return 0;
	if (s->busy)
		return 0;
	for (unsigned k = 0; k < BURST && s->seq < g.m; k++) {
		int err = pn_send_u64(ctx, g.target, MSG_DATA,
				      (uint64_t)s->id << 48 | s->seq);
		if (err == -EAGAIN) {
			atomic_fetch_add_explicit(&g.eagain, 1,
						  memory_order_relaxed);
			SU_CHECK(pn_notify_writable(ctx) == 0, "writable");
			s->busy = true;
			return 0;
		}
		SU_CHECK(err == 0, "sender %u: %d %s", s->id, err,
			 pn_last_error());
		s->seq++;
	}
	if (s->seq < g.m) {
		SU_CHECK(pn_send(ctx, pn_self(ctx), MSG_KICK, NULL, 0) == 0,
			 "kick");
		s->busy = true;
	}
	return 0;
}

static int sender_init(struct pn_ctx *ctx, void *state, const void *arg,
		       size_t len)
{
	(void)ctx;
	SU_CHECK(len == sizeof(uint32_t), "sender arg");
	memcpy(&((struct sender *)state)->id, arg, len);
	return 0;
}

static const struct pn_behaviour sender_b = {.name = "forward_sender",
					     .state_size =
						     sizeof(struct sender),
					     .init = sender_init,
					     .handle = sender_handle};

static int asker_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	int err;

	(void)state;
	switch (m->type) {
	case PN_MSG_STARTED:
		return pn_send_every(ctx, REQ_NS, MSG_TICK, NULL, 0, NULL);
	case MSG_TICK:
		if (atomic_load(&g.stop))
			return 0;
		err = pn_request(ctx, g.target, MSG_ASK, NULL, 0,
				 REQ_TIMEOUT_NS, NULL);
		if (err == -EAGAIN) /* pushed back: ask at the next tick */
			return 0;
		SU_CHECK(err == 0, "pn_request: %d %s", err, pn_last_error());
		atomic_fetch_add_explicit(&g.asked, 1, memory_order_relaxed);
		return 0;
	case MSG_ANSWER:
		atomic_fetch_add_explicit(&g.answers, 1, memory_order_relaxed);
		return 0;
	case PN_MSG_TIMEOUT:
		su_fail("a request to the moving target timed out after %.1f "
			"s (%" PRIu64 " moves, %" PRIu64 " handled)",
			(double)REQ_TIMEOUT_NS / 1e9, atomic_load(&g.moves),
			atomic_load(&g.handled));
	default:
		return 0;
	}
}

static const struct pn_behaviour asker_b = {.name = "forward_asker",
					    .handle = asker_handle};

/* --- the run ------------------------------------------------------------- */

static void *sampler(void *arg)
{
	struct pn_runtime *rt = arg;
	unsigned n = pn_runtime_nshards(rt);

	while (!atomic_load(&g.stop)) {
		for (unsigned i = 0; i <= n; i++) {
			struct pn_shard_stats st;
			uint64_t cur;

			pn_runtime_stats(rt, i, &st);
			cur = atomic_load(&g.max_overflow);
			if (st.overflow_bytes > cur)
				atomic_store(&g.max_overflow,
					     st.overflow_bytes);
			if (i < 8 &&
			    st.overflow_bytes > atomic_load(&g.max_at[i]))
				atomic_store(&g.max_at[i], st.overflow_bytes);
		}
		/* A measurement interval, not a synchronisation. */
		struct timespec nap = {.tv_nsec = 200000};
		nanosleep(&nap, NULL);
	}
	return NULL;
}

static uint64_t progress(void *arg)
{
	(void)arg;
	return atomic_load_explicit(&g.handled, memory_order_relaxed);
}

static void report(void *arg)
{
	(void)arg;
	for (unsigned s = 0; s < g.nsenders; s++)
		if (atomic_load(&g.got[s]) != g.m)
			su_log("sender %u: %" PRIu64 " of %" PRIu64, s,
			       atomic_load(&g.got[s]), g.m);
}

int main(void)
{
	struct pn_migrate_stats ms, sum = {0};
	struct pn_runtime *rt;
	struct pn_config c;
	pthread_t th;
	unsigned n;
	uint64_t bound, delivered;

	su_init("stress_forward");
	su_config(&c);
	c.ring_slots = RING_SLOTS;
	c.overflow_bytes = BUDGET;
	rt = su_runtime(&c);
	n = pn_runtime_nshards(rt);
	SU_CHECK(n >= 2, "needs 2 application shards");
	g.nlocs = n;
	g.nsenders = NSENDERS;
	g.m = su_scaled(40000, 1000);
	g.target = su_spawn(rt, &target_b, 0, 0);
	for (uint32_t s = 0; s < g.nsenders; s++)
		su_spawn(rt, &sender_b, PN_SHARD_SUPERVISOR, s);
	su_spawn(rt, &asker_b, PN_SHARD_SUPERVISOR, 0);
	SU_CHECK(pthread_create(&th, NULL, sampler, rt) == 0, "thread");
	su_wait(rt, CODE_DONE, 1, 20000000000ull, 280000000000ull, progress,
		report, NULL, "forward");
	atomic_store(&g.stop, true);
	pthread_join(th, NULL);
	su_sync(rt);
	for (unsigned i = 0; i <= n; i++) {
		pn_migrate_stats(rt, i, &ms);
		sum.forwarded += ms.forwarded;
		sum.bounced += ms.bounced;
	}
	delivered = g.m * g.nsenders;
	/* What a shard may hold before it turns congested (its budget, side
	 * queues included) and what reaches it before the senders see it (a
	 * full ring from their shard and that shard's own budget), counted
	 * twice: a move's taken-back messages leave a placeholder behind
	 * until it drains. */
	bound = 2 * (BUDGET + RING_SLOTS * 64 + BUDGET);
	su_log("forward: %" PRIu64 " messages, %" PRIu64 " moves, %" PRIu64
	       " requests answered, %" PRIu64 " refused sends; max overflow "
	       "%" PRIu64 " bytes (bound %" PRIu64 "); copies per delivered "
	       "message %.2f (%" PRIu64 " forwarded, %" PRIu64 " bounced)",
	       delivered, atomic_load(&g.moves), atomic_load(&g.answers),
	       atomic_load(&g.eagain), atomic_load(&g.max_overflow), bound,
	       (double)(sum.forwarded + sum.bounced) / (double)delivered,
	       sum.forwarded, sum.bounced);
	for (unsigned i = 0; i <= n && i < 8; i++)
		su_log("shard %u: max overflow %" PRIu64, i,
		       atomic_load(&g.max_at[i]));
	SU_CHECK(atomic_load(&g.max_overflow) <= bound,
		 "overflow reached %" PRIu64 " bytes, over the bound %" PRIu64,
		 atomic_load(&g.max_overflow), bound);
	/* A message is bounced only by a location it was forwarded to. */
	SU_CHECK(sum.bounced <= sum.forwarded,
		 "%" PRIu64 " bounced, %" PRIu64 " forwarded", sum.bounced,
		 sum.forwarded);
	SU_CHECK(atomic_load(&g.moves) >= 3, "the target hardly moved");
	su_shutdown(rt);
	su_log("ok");
	return 0;
}
