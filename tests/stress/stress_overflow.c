// SPDX-License-Identifier: MIT
/*
 * The ring-full overflow path. Senders flood receivers on the other shard
 * through tiny inbox rings (ring_slots 2, 4 and 8) with a small per-shard
 * overflow budget, so that sends go to the overflow queue and then fail
 * with -EAGAIN; a sender that gets -EAGAIN calls pn_notify_writable() and
 * resumes on PN_MSG_WRITABLE, resending the refused message.
 *
 * Each round runs three flows at once: two senders on shard 0 share that
 * shard's budget (two waiters on one writable list) and flood one
 * receiver on shard 1, and one sender on shard 1 floods a receiver on
 * shard 0 (both directions full at once). Payloads are sequence-numbered
 * and a seeded mix of inline and large (up to 300 bytes) sizes.
 *
 * Checks: every message arrives exactly once and in order with its
 * payload intact; -EAGAIN really happened (the shards' eagain counters and
 * the senders' own count agree) and so did overflow; every -EAGAIN got
 * exactly one WRITABLE and none came unasked; overflow bytes are back to 0
 * on every shard at the end.
 */
#include "stress_util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define FLOWS	 3
#define MAX_LEN	 300
#define PER_CALL 256 /* sends per handler call before yielding */
#define OVERFLOW 2048

enum { MSG_DATA = 1, MSG_KICK };
#define CODE_DONE 1

struct hdr {
	uint32_t flow;
	uint32_t len;
	uint64_t seq;
};

static struct {
	uint64_t n; /* messages per flow */
	_Atomic uint64_t got[FLOWS], sent[FLOWS];
	_Atomic uint64_t eagain[FLOWS], writable_asked[FLOWS],
		writable_got[FLOWS];
	_Atomic uint64_t handled;
} g;

static unsigned char byte_at(uint32_t flow, uint64_t seq, size_t i)
{
	return (unsigned char)(seq * 131 + i * 7 + flow);
}

static size_t build(unsigned char *buf, uint32_t flow, uint64_t seq,
		    uint64_t *rng)
{
	struct hdr h = {.flow = flow, .seq = seq};

	h.len = su_rnd_below(rng, 3) == 0
			? (uint32_t)(PN_MSG_INLINE + 1 +
				     su_rnd_below(rng, MAX_LEN - PN_MSG_INLINE))
			: (uint32_t)(sizeof(h) +
				     su_rnd_below(rng, PN_MSG_INLINE -
							       sizeof(h) + 1));
	memcpy(buf, &h, sizeof(h));
	for (size_t i = sizeof(h); i < h.len; i++)
		buf[i] = byte_at(flow, seq, i);
	return h.len;
}

/* --- receiver ----------------------------------------------------------- */

struct receiver {
	uint64_t next[FLOWS];
	uint32_t flows; /* how many flows it expects to finish */
	uint32_t done;
};

static int recv_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct receiver *rv = state;
	const unsigned char *p = pn_msg_data(m);
	struct hdr h;

	if (m->type != MSG_DATA)
		return 0; /* STARTED, STOPPING, SHUTDOWN */
	SU_CHECK(m->len >= sizeof(h), "message of %u bytes", m->len);
	memcpy(&h, p, sizeof(h));
	SU_CHECK(h.flow < FLOWS && h.len == m->len,
		 "bad header: flow %u len %u (message %u bytes)", h.flow, h.len,
		 m->len);
	if (h.seq != rv->next[h.flow])
		su_fail("flow %u (receiver on shard %u): expected seq %" PRIu64
			", got %" PRIu64 " (%s)",
			h.flow, pn_shard(ctx), rv->next[h.flow], h.seq,
			h.seq < rv->next[h.flow] ? "duplicate or reordered"
						 : "lost or reordered");
	for (size_t i = sizeof(h); i < m->len; i++)
		SU_CHECK(p[i] == byte_at(h.flow, h.seq, i),
			 "flow %u seq %" PRIu64 ": byte %zu of %u corrupt",
			 h.flow, h.seq, i, m->len);
	rv->next[h.flow]++;
	atomic_store_explicit(&g.got[h.flow], rv->next[h.flow],
			      memory_order_relaxed);
	atomic_fetch_add_explicit(&g.handled, 1, memory_order_relaxed);
	if (rv->next[h.flow] == g.n && ++rv->done == rv->flows)
		pn_runtime_notify(pn_ctx_runtime(ctx), CODE_DONE);
	return 0;
}

static int recv_init(struct pn_ctx *ctx, void *state, const void *arg,
		     size_t len)
{
	struct receiver *rv = state;

	(void)ctx;
	SU_CHECK(len == sizeof(rv->flows), "receiver arg");
	memcpy(&rv->flows, arg, sizeof(rv->flows));
	return 0;
}

static const struct pn_behaviour recv_b = {
	.name = "overflow_recv",
	.state_size = sizeof(struct receiver),
	.init = recv_init,
	.handle = recv_handle,
};

/* --- sender ------------------------------------------------------------- */

struct sender_arg {
	uint32_t flow;
	pn_pid to;
};

struct sender {
	struct sender_arg a;
	uint64_t seq, rng;
	bool waiting;
	unsigned char buf[MAX_LEN];
};

static void sender_run(struct pn_ctx *ctx, struct sender *s)
{
	int err;

	for (unsigned k = 0; k < PER_CALL && s->seq < g.n; k++) {
		uint64_t save = s->rng;
		size_t len = build(s->buf, s->a.flow, s->seq, &s->rng);

		err = pn_send(ctx, s->a.to, MSG_DATA, s->buf, len);
		if (err == -EAGAIN) {
			s->rng = save; /* resend the same message */
			s->waiting = true;
			atomic_fetch_add_explicit(&g.eagain[s->a.flow], 1,
						  memory_order_relaxed);
			atomic_fetch_add_explicit(&g.writable_asked[s->a.flow],
						  1, memory_order_relaxed);
			err = pn_notify_writable(ctx);
			SU_CHECK(err == 0, "pn_notify_writable: %d %s", err,
				 pn_last_error());
			return;
		}
		SU_CHECK(err == 0, "flow %u seq %" PRIu64 ": pn_send: %d %s",
			 s->a.flow, s->seq, err, pn_last_error());
		s->seq++;
		atomic_store_explicit(&g.sent[s->a.flow], s->seq,
				      memory_order_relaxed);
	}
	if (s->seq < g.n) {
		err = pn_send(ctx, pn_self(ctx), MSG_KICK, NULL, 0);
		SU_CHECK(err == 0, "kick: %d %s", err, pn_last_error());
	}
}

static int sender_handle(struct pn_ctx *ctx, void *state,
			 const struct pn_msg *m)
{
	struct sender *s = state;

	switch (m->type) {
	case PN_MSG_STARTED:
	case MSG_KICK:
		SU_CHECK(!s->waiting, "flow %u: kick while waiting", s->a.flow);
		sender_run(ctx, s);
		return 0;
	case PN_MSG_WRITABLE:
		SU_CHECK(s->waiting,
			 "flow %u: PN_MSG_WRITABLE that was not asked for",
			 s->a.flow);
		s->waiting = false;
		atomic_fetch_add_explicit(&g.writable_got[s->a.flow], 1,
					  memory_order_relaxed);
		sender_run(ctx, s);
		return 0;
	case PN_MSG_STOPPING:
	case PN_MSG_SHUTDOWN:
		return 0;
	default:
		su_fail("flow %u: unexpected type %#x", s->a.flow, m->type);
	}
}

static int sender_init(struct pn_ctx *ctx, void *state, const void *arg,
		       size_t len)
{
	struct sender *s = state;

	(void)ctx;
	SU_CHECK(len == sizeof(s->a), "sender arg");
	memcpy(&s->a, arg, sizeof(s->a));
	s->rng = su_stream(s->a.flow + 1);
	return 0;
}

static const struct pn_behaviour sender_b = {
	.name = "overflow_sender",
	.state_size = sizeof(struct sender),
	.init = sender_init,
	.handle = sender_handle,
};

/* --- the test thread ---------------------------------------------------- */

static uint64_t progress(void *arg)
{
	(void)arg;
	return atomic_load_explicit(&g.handled, memory_order_relaxed);
}

static void report(void *arg)
{
	(void)arg;
	for (unsigned f = 0; f < FLOWS; f++)
		fprintf(stderr,
			"  flow %u (shard %u -> %u): received %" PRIu64
			" of %" PRIu64 ", sent %" PRIu64 ", -EAGAIN %" PRIu64
			", WRITABLE asked %" PRIu64 " got %" PRIu64 "\n",
			f, f < 2 ? 0 : 1, f < 2 ? 1 : 0, atomic_load(&g.got[f]),
			g.n, atomic_load(&g.sent[f]), atomic_load(&g.eagain[f]),
			atomic_load(&g.writable_asked[f]),
			atomic_load(&g.writable_got[f]));
}

static void round_run(uint32_t ring_slots, uint64_t spin_ns, uint64_t n)
{
	struct pn_config c;
	struct pn_runtime *rt;
	struct pn_shard_stats st[2], sum;
	pn_pid recv[2];
	uint32_t flows_of[2] = {1, 2}; /* receiver on shard 0, on shard 1 */
	uint64_t t0, eagain = 0, asked = 0, got = 0;
	char name[64];

	snprintf(name, sizeof(name), "ring_slots=%u spin_ns=%" PRIu64,
		 ring_slots, spin_ns);
	memset(&g, 0, sizeof(g));
	g.n = n;
	su_config(&c);
	c.ring_slots = ring_slots;
	c.spin_ns = spin_ns;
	c.overflow_bytes = OVERFLOW;
	rt = su_runtime(&c);
	SU_CHECK(pn_runtime_nshards(rt) == 2, "needs 2 shards");
	t0 = pn_now_ns();
	for (int i = 0; i < 2; i++) {
		struct pn_spawn_opts o = {.shard = i,
					  .arg = &flows_of[i],
					  .arg_len = sizeof(flows_of[i])};
		int err = pn_runtime_spawn(rt, &recv_b, &o, &recv[i]);

		SU_CHECK(err == 0, "spawn receiver: %d %s", err,
			 pn_last_error());
	}
	for (uint32_t f = 0; f < FLOWS; f++) {
		int from = f < 2 ? 0 : 1; /* flows 0, 1: shard 0 -> 1 */
		struct sender_arg a = {.flow = f, .to = recv[1 - from]};
		struct pn_spawn_opts o = {
			.shard = from, .arg = &a, .arg_len = sizeof(a)};
		pn_pid pid;
		int err = pn_runtime_spawn(rt, &sender_b, &o, &pid);

		SU_CHECK(err == 0, "spawn sender: %d %s", err, pn_last_error());
	}
	su_wait(rt, CODE_DONE, 2, 20000000000ull, 280000000000ull, progress,
		report, NULL, name);
	su_sync(rt);
	for (unsigned i = 0; i < 2; i++)
		SU_CHECK(pn_runtime_stats(rt, i, &st[i]) == 0, "stats");
	su_stats_sum(rt, &sum);
	for (unsigned f = 0; f < FLOWS; f++) {
		eagain += atomic_load(&g.eagain[f]);
		asked += atomic_load(&g.writable_asked[f]);
		got += atomic_load(&g.writable_got[f]);
		SU_CHECK(atomic_load(&g.got[f]) == n,
			 "%s: flow %u got %" PRIu64 " of %" PRIu64, name, f,
			 atomic_load(&g.got[f]), n);
	}
	su_log("%s: %" PRIu64 " messages in %.2f s; overflowed %" PRIu64
	       ", -EAGAIN %" PRIu64 " (shard 0: %" PRIu64 ", shard 1: %" PRIu64
	       "), WRITABLE %" PRIu64 ", parks %" PRIu64,
	       name, FLOWS * n, su_secs(t0), sum.overflowed, sum.eagain,
	       st[0].eagain, st[1].eagain, got, sum.parks);
	SU_CHECK(sum.eagain == eagain,
		 "%s: shards counted %" PRIu64 " -EAGAIN, senders saw %" PRIu64,
		 name, sum.eagain, eagain);
	SU_CHECK(st[0].eagain > 0 && st[1].eagain > 0,
		 "%s: -EAGAIN never happened on a shard (%" PRIu64 ", %" PRIu64
		 ")",
		 name, st[0].eagain, st[1].eagain);
	SU_CHECK(st[0].overflowed > 0 && st[1].overflowed > 0,
		 "%s: overflow never engaged", name);
	SU_CHECK(asked == got,
		 "%s: %" PRIu64 " WRITABLE asked for, %" PRIu64 " delivered",
		 name, asked, got);
	for (unsigned i = 0; i < 2; i++)
		SU_CHECK(st[i].overflow_bytes == 0,
			 "%s: shard %u still counts %" PRIu64
			 " overflow bytes after everything arrived",
			 name, i, st[i].overflow_bytes);
	SU_CHECK(sum.dead_letters == 0, "%s: %" PRIu64 " dead letters", name,
		 sum.dead_letters);
	su_shutdown(rt);
}

int main(void)
{
	uint64_t t0 = pn_now_ns(), n;

	su_init("stress_overflow");
	n = su_scaled(100000, 300);
	round_run(2, 20000, n);
	round_run(4, 0, n);
	round_run(8, 20000, n);
	su_log("ok (%.2f s)", su_secs(t0));
	return 0;
}
