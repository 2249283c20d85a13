// SPDX-License-Identifier: MIT
/*
 * The mover's own messages keep their order. Two movers (homes: shard 0
 * and shard 1) send sequence-numbered messages, one in eight of them a
 * request, in bursts to four receivers: one on each application shard,
 * one on the supervisor shard, and one that migrated to shard 1 at the
 * start and stays there as a guest (so a mover on shard 1 reaches it
 * directly, and one elsewhere through its home on shard 0). After most
 * bursts a mover moves to another shard, the supervisor shard included,
 * so what it sent just before (in an unpublished batch, an overflow queue,
 * a ring, its receiver's home) races what it sends right after over
 * another path. Small rings make overflow common.
 *
 * Each receiver checks, per mover: every sequence number exactly the next
 * (no loss, duplicate or reordering) and answers the requests; each mover
 * checks that every reply comes and no request times out. After the
 * shutdown: the accounting identity (accepted = handled + dead letters,
 * nothing in flight) and no dead letter. It also prints what moves cost
 * in copies: (forwarded + bounced) per delivered message.
 * Reads PN_SEED and PN_STRESS_SCALE.
 */
#include "stress_util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define NMOVERS	  2
#define NRECV	  4
#define BURST	  24
#define REQ_EVERY 8
#define CODE_DONE 1

enum { MSG_DATA = 1, MSG_KICK, MSG_REPLY, MSG_SETTLE };

struct hdr {
	uint32_t mover, recv;
	uint64_t seq;
};

static struct {
	uint64_t m; /* messages per (mover, receiver) */
	unsigned nlocs;
	pn_pid recv[NRECV];
	_Atomic uint64_t got[NRECV][NMOVERS];
	_Atomic uint64_t moves[NMOVERS], replies[NMOVERS];
	_Atomic uint64_t handled;
} g;

/* --- receivers ------------------------------------------------------------ */

struct recv {
	uint32_t idx;
	uint64_t next[NMOVERS];
};

static void recv_data(struct pn_ctx *ctx, struct recv *r,
		      const struct pn_msg *m)
{
	struct hdr h;

	SU_CHECK(m->len == sizeof(h), "receiver %u: len %u", r->idx, m->len);
	memcpy(&h, pn_msg_data(m), sizeof(h));
	SU_CHECK(h.mover < NMOVERS && h.recv == r->idx,
		 "receiver %u: header mover %u recv %u", r->idx, h.mover,
		 h.recv);
	if (h.seq != r->next[h.mover])
		su_fail("receiver %u (shard %u) from mover %u: expected seq "
			"%" PRIu64 ", got %" PRIu64 " (%s) after %" PRIu64
			" moves",
			r->idx, pn_shard(ctx), h.mover, r->next[h.mover], h.seq,
			h.seq < r->next[h.mover] ? "duplicate or reordered"
						 : "lost or reordered",
			atomic_load(&g.moves[h.mover]));
	r->next[h.mover]++;
	if (pn_msg_ref(m))
		SU_CHECK(pn_reply(ctx, m, MSG_REPLY, &h, sizeof(h)) == 0,
			 "receiver %u: reply: %s", r->idx, pn_last_error());
	atomic_store_explicit(&g.got[r->idx][h.mover], r->next[h.mover],
			      memory_order_relaxed);
	atomic_fetch_add_explicit(&g.handled, 1, memory_order_relaxed);
	if (r->next[h.mover] == g.m)
		pn_runtime_notify(pn_ctx_runtime(ctx), CODE_DONE);
}

static int recv_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct recv *r = state;

	switch (m->type) {
	case MSG_DATA:
		recv_data(ctx, r, m);
		return 0;
	case MSG_SETTLE: /* the guest receiver: move once, stay */
		return pn_migrate(ctx, 1);
	case PN_MSG_MIGRATED:
		SU_CHECK(((const struct pn_migrated *)pn_msg_data(m))->status ==
				 0,
			 "receiver %u: move failed", r->idx);
		return 0;
	default:
		return 0;
	}
}

static int recv_init(struct pn_ctx *ctx, void *state, const void *arg,
		     size_t len)
{
	(void)ctx;
	SU_CHECK(len == sizeof(uint32_t), "receiver arg");
	memcpy(&((struct recv *)state)->idx, arg, len);
	return 0;
}

static const struct pn_behaviour recv_b = {.name = "mover_receiver",
					   .state_size = sizeof(struct recv),
					   .init = recv_init,
					   .handle = recv_handle};

/* --- movers --------------------------------------------------------------- */

struct mover {
	uint32_t idx;
	bool kicked, waiting; /* a KICK is on its way; waiting for WRITABLE */
	uint64_t rng, left, sent;
	uint64_t seq[NRECV];
	uint64_t replies[NRECV]; /* the next reply expected, per receiver */
};

/* One message to receiver @k; false on -EAGAIN (nothing sent). */
static bool mover_send(struct pn_ctx *ctx, struct mover *mv, unsigned k)
{
	struct hdr h = {.mover = mv->idx, .recv = k, .seq = mv->seq[k]};
	int err;

	if (mv->sent % REQ_EVERY == REQ_EVERY - 1)
		err = pn_request(ctx, g.recv[k], MSG_DATA, &h, sizeof(h),
				 20000000000ull, NULL);
	else
		err = pn_send(ctx, g.recv[k], MSG_DATA, &h, sizeof(h));
	if (err == -EAGAIN)
		return false;
	SU_CHECK(err == 0, "mover %u: send to %u: %d %s", mv->idx, k, err,
		 pn_last_error());
	mv->seq[k]++;
	mv->sent++;
	mv->left--;
	return true;
}

static void mover_burst(struct pn_ctx *ctx, struct mover *mv)
{
	unsigned to;
	int err;

	for (unsigned b = 0; b < BURST && mv->left; b++) {
		unsigned k = (unsigned)su_rnd_below(&mv->rng, NRECV);

		for (unsigned t = 0; t < NRECV && mv->seq[k] >= g.m; t++)
			k = (k + 1) % NRECV;
		if (!mover_send(ctx, mv, k)) { /* over budget: wait */
			SU_CHECK(pn_notify_writable(ctx) == 0, "writable");
			mv->waiting = true;
			return;
		}
	}
	if (mv->left && su_rnd_below(&mv->rng, 4) != 0) {
		to = (unsigned)su_rnd_below(&mv->rng, g.nlocs);
		if (to == pn_shard(ctx))
			to = (to + 1) % g.nlocs;
		err = pn_migrate(ctx, to);
		SU_CHECK(err == 0, "mover %u: pn_migrate(%u): %d %s", mv->idx,
			 to, err, pn_last_error());
	}
	if (mv->left) {
		SU_CHECK(pn_send(ctx, pn_self(ctx), MSG_KICK, NULL, 0) == 0,
			 "mover %u: kick: %s", mv->idx, pn_last_error());
		mv->kicked = true;
	}
}

static void mover_reply(struct mover *mv, const struct pn_msg *m)
{
	struct hdr h;

	SU_CHECK(pn_msg_is_reply(m) && m->len == sizeof(h), "mover %u: reply",
		 mv->idx);
	memcpy(&h, pn_msg_data(m), sizeof(h));
	SU_CHECK(h.mover == mv->idx && h.recv < NRECV &&
			 h.seq >= mv->replies[h.recv],
		 "mover %u: reply from %u for seq %" PRIu64
		 " after one for %" PRIu64,
		 mv->idx, h.recv, h.seq, mv->replies[h.recv]);
	mv->replies[h.recv] = h.seq + 1;
	atomic_fetch_add_explicit(&g.replies[mv->idx], 1, memory_order_relaxed);
}

static int mover_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct mover *mv = state;

	switch (m->type) {
	case PN_MSG_STARTED:
		break;
	case MSG_KICK:
		mv->kicked = false;
		break;
	case PN_MSG_WRITABLE:
		mv->waiting = false;
		break;
	case MSG_REPLY:
		mover_reply(mv, m);
		return 0;
	case PN_MSG_TIMEOUT:
		su_fail("mover %u: request %#" PRIx64 " timed out", mv->idx,
			pn_msg_ref(m));
	case PN_MSG_MIGRATED:
		SU_CHECK(((const struct pn_migrated *)pn_msg_data(m))->status ==
				 0,
			 "mover %u: move failed", mv->idx);
		atomic_fetch_add_explicit(&g.moves[mv->idx], 1,
					  memory_order_relaxed);
		return 0;
	default:
		return 0;
	}
	if (!mv->kicked && !mv->waiting)
		mover_burst(ctx, mv);
	return 0;
}

static int mover_init(struct pn_ctx *ctx, void *state, const void *arg,
		      size_t len)
{
	struct mover *mv = state;

	(void)ctx;
	SU_CHECK(len == sizeof(mv->idx), "mover arg");
	memcpy(&mv->idx, arg, len);
	mv->rng = su_stream(300 + mv->idx);
	mv->left = g.m * NRECV;
	return 0;
}

static const struct pn_behaviour mover_b = {.name = "mover",
					    .state_size = sizeof(struct mover),
					    .init = mover_init,
					    .handle = mover_handle};

/* --- the run ------------------------------------------------------------- */

static uint64_t progress(void *arg)
{
	(void)arg;
	return atomic_load_explicit(&g.handled, memory_order_relaxed);
}

static void report(void *arg)
{
	(void)arg;
	for (unsigned r = 0; r < NRECV; r++)
		for (unsigned v = 0; v < NMOVERS; v++)
			if (atomic_load(&g.got[r][v]) != g.m)
				su_log("receiver %u from mover %u: %" PRIu64
				       " of %" PRIu64 " (moves %" PRIu64 ")",
				       r, v, atomic_load(&g.got[r][v]), g.m,
				       atomic_load(&g.moves[v]));
}

/* The guest receiver lives on shard 1 before the movers start. */
static void settle_guest(struct pn_runtime *rt, pn_pid pid)
{
	unsigned where = 0;

	SU_CHECK(pn_runtime_send(rt, pid, MSG_SETTLE, NULL, 0, 1000000000ull) ==
			 0,
		 "settle: %s", pn_last_error());
	for (uint64_t t0 = pn_now_ns(); where != 1;) {
		SU_CHECK(pn_where(rt, pid, &where) == 0, "pn_where");
		SU_CHECK(pn_now_ns() - t0 < 10000000000ull,
			 "the guest receiver never reached shard 1");
		su_sync(rt);
	}
}

static void check_after(struct pn_runtime *rt, const char *name)
{
	struct pn_runtime_totals t;
	struct pn_migrate_stats ms, sum = {0};
	unsigned n = pn_runtime_nshards(rt);
	uint64_t delivered = g.m * NMOVERS * NRECV;

	for (unsigned i = 0; i <= n; i++) {
		pn_migrate_stats(rt, i, &ms);
		sum.forwarded += ms.forwarded;
		sum.bounced += ms.bounced;
	}
	su_shutdown_totals(rt, &t); /* checks the accounting identity */
	SU_CHECK(t.dead_letters == 0, "%s: %" PRIu64 " dead letters", name,
		 t.dead_letters);
	su_log("%s: %" PRIu64 " messages, %" PRIu64 " + %" PRIu64
	       " moves, %" PRIu64 " replies, copies per delivered message "
	       "%.2f (%" PRIu64 " forwarded, %" PRIu64 " bounced)",
	       name, delivered, atomic_load(&g.moves[0]),
	       atomic_load(&g.moves[1]),
	       atomic_load(&g.replies[0]) + atomic_load(&g.replies[1]),
	       (double)(sum.forwarded + sum.bounced) / (double)delivered,
	       sum.forwarded, sum.bounced);
}

static void variant(const char *name, uint32_t ring_slots, uint64_t m)
{
	struct pn_runtime *rt;
	struct pn_config c;
	unsigned n;

	memset(&g, 0, sizeof(g));
	su_config(&c);
	c.ring_slots = ring_slots;
	c.migrate_supervisor = true;
	c.overflow_bytes = 64 * 1024;
	rt = su_runtime(&c);
	n = pn_runtime_nshards(rt);
	SU_CHECK(n >= 2, "needs 2 application shards");
	g.nlocs = n + 1;
	g.m = m;
	g.recv[0] = su_spawn(rt, &recv_b, 0, 0);
	g.recv[1] = su_spawn(rt, &recv_b, 1, 1);
	g.recv[2] = su_spawn(rt, &recv_b, PN_SHARD_SUPERVISOR, 2);
	g.recv[3] = su_spawn(rt, &recv_b, 0, 3);
	settle_guest(rt, g.recv[3]);
	for (uint32_t v = 0; v < NMOVERS; v++)
		su_spawn(rt, &mover_b, (int)v, v);
	su_wait(rt, CODE_DONE, NRECV * NMOVERS, 20000000000ull, 280000000000ull,
		progress, report, NULL, name);
	su_sync(rt);
	check_after(rt, name);
}

int main(void)
{
	su_init("stress_mover");
	variant("mover default", 1024, su_scaled(20000, 500));
	variant("mover ring_slots=16", 16, su_scaled(6000, 300));
	su_log("ok");
	return 0;
}
