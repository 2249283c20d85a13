// SPDX-License-Identifier: MIT
/*
 * A storm of messages from everywhere to everywhere. Every shard runs
 * SENDERS_PER_SHARD sender actors and RECV_PER_SHARD receiver actors, and
 * PRODUCERS external threads inject through their own struct pn_producer.
 * Every sender (actor or thread) sends exactly M sequence-numbered
 * messages to every receiver, in a seeded random interleaving, with a mix
 * of inline (<= 32 bytes) and large (up to 600 bytes) payloads whose every
 * byte is derived from (sender, receiver, seq). Sender actors send in
 * bursts and yield with a message to themselves; on -EAGAIN they ask for
 * PN_MSG_WRITABLE and resume on it. Producer threads mix blocking
 * pn_inject() and pn_inject_try() with retries.
 *
 * Receivers check, per sender: no loss (final counts), no duplication and
 * no reordering (seq is exactly the next one expected), intact payloads,
 * and that nothing arrives before PN_MSG_STARTED. Completion is detected
 * by counts; a stall (no message handled for 20 s) fails with the list of
 * (sender, receiver) pairs that are short. Runs six configurations: the
 * defaults; spin_ns=0 (a shard parks as soon as it is idle); ring_slots=4
 * with a 32 KiB overflow budget (overflow queues engage, and -EAGAIN with
 * PN_MSG_WRITABLE; both checked); the same with spin_ns=0; batch=1 with
 * spin_ns=0; and busy_poll (no doorbells, no parking).
 * At the end of each, overflow bytes are 0.
 */
#include "stress_util.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SENDERS_PER_SHARD 3
#define RECV_PER_SHARD	  2
#define PRODUCERS	  2
#define MAX_SENDERS	  64
#define MAX_RECV	  32
#define BURST		  48
#define MAX_LEN		  600
#define INJECT_TMO_NS	  10000000000ull

enum { MSG_DATA = 1, MSG_KICK };
#define CODE_RECV_DONE 1

struct hdr {
	uint32_t sender;
	uint32_t recv;
	uint64_t seq;
	uint64_t tag;
};

/* Shared with the test thread: relaxed progress and diagnostics. */
static struct {
	unsigned nsenders, nrecv;
	uint64_t m; /* per (sender, receiver) */
	pn_pid recv[MAX_RECV];
	_Atomic uint64_t got[MAX_RECV][MAX_SENDERS];
	_Atomic uint64_t sent[MAX_SENDERS][MAX_RECV];
	_Atomic uint64_t handled;
	_Atomic uint64_t early; /* before STARTED */
	_Atomic uint64_t eagain, writable;
	_Atomic uint64_t inject_try_again;
} g;

static uint64_t tag_of(uint32_t s, uint32_t r, uint64_t seq)
{
	uint64_t x = ((uint64_t)s << 48) ^ ((uint64_t)r << 32) ^ seq ^ su.seed;

	return su_rnd(&x);
}

/* Build message (s -> r, seq) in @buf; returns its length. */
static size_t build(unsigned char *buf, uint32_t s, uint32_t r, uint64_t seq,
		    uint64_t *rng)
{
	struct hdr h = {.sender = s, .recv = r, .seq = seq};
	size_t len;

	h.tag = tag_of(s, r, seq);
	if (su_rnd_below(rng, 4) == 0)
		len = PN_MSG_INLINE + 1 + su_rnd_below(rng, MAX_LEN - 32);
	else
		len = sizeof(h) +
		      su_rnd_below(rng, PN_MSG_INLINE - sizeof(h) + 1);
	memcpy(buf, &h, sizeof(h));
	for (size_t i = sizeof(h); i < len; i++)
		buf[i] = (unsigned char)(h.tag >> (i % 8 * 8)) ^
			 (unsigned char)i;
	return len;
}

/* --- receivers -------------------------------------------------------- */

struct receiver {
	uint32_t idx;
	bool started, done;
	uint64_t total;
	uint64_t next[MAX_SENDERS];
};

static void recv_data(struct pn_ctx *ctx, struct receiver *rv,
		      const struct pn_msg *m)
{
	const unsigned char *p = pn_msg_data(m);
	struct hdr h;

	SU_CHECK(m->len >= sizeof(h) && m->len <= MAX_LEN,
		 "receiver %u: message of %u bytes", rv->idx, m->len);
	memcpy(&h, p, sizeof(h));
	SU_CHECK(h.sender < g.nsenders && h.recv == rv->idx,
		 "receiver %u: header says sender %u receiver %u", rv->idx,
		 h.sender, h.recv);
	if (h.seq != rv->next[h.sender])
		su_fail("receiver %u (shard %u) from sender %u: expected seq "
			"%" PRIu64 ", got %" PRIu64 " (%s; %u-byte payload, "
			"from pid %#" PRIx64 ")",
			rv->idx, pn_shard(ctx), h.sender, rv->next[h.sender],
			h.seq,
			h.seq < rv->next[h.sender] ? "duplicate or reordered"
						   : "lost or reordered",
			m->len, (uint64_t)m->from);
	SU_CHECK(h.tag == tag_of(h.sender, h.recv, h.seq),
		 "receiver %u: sender %u seq %" PRIu64 ": corrupt header",
		 rv->idx, h.sender, h.seq);
	for (size_t i = sizeof(h); i < m->len; i++)
		SU_CHECK(p[i] == ((unsigned char)(h.tag >> (i % 8 * 8)) ^
				  (unsigned char)i),
			 "receiver %u: sender %u seq %" PRIu64
			 ": payload byte %zu of %u corrupt",
			 rv->idx, h.sender, h.seq, i, m->len);
	rv->next[h.sender]++;
	atomic_store_explicit(&g.got[rv->idx][h.sender], rv->next[h.sender],
			      memory_order_relaxed);
	atomic_fetch_add_explicit(&g.handled, 1, memory_order_relaxed);
	if (++rv->total == g.m * g.nsenders) {
		rv->done = true;
		pn_runtime_notify(pn_ctx_runtime(ctx), CODE_RECV_DONE);
	}
}

static int recv_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct receiver *rv = state;

	switch (m->type) {
	case PN_MSG_STARTED:
		SU_CHECK(!rv->started, "receiver %u: STARTED twice", rv->idx);
		rv->started = true;
		return 0;
	case MSG_DATA:
		if (!rv->started &&
		    atomic_fetch_add_explicit(&g.early, 1,
					      memory_order_relaxed) < 5)
			su_log("VIOLATION: receiver %u got data before "
			       "PN_MSG_STARTED",
			       rv->idx);
		recv_data(ctx, rv, m);
		return 0;
	case PN_MSG_STOPPING:
	case PN_MSG_SHUTDOWN:
		return 0;
	default:
		su_fail("receiver %u: unexpected type %#x", rv->idx, m->type);
	}
}

static int recv_init(struct pn_ctx *ctx, void *state, const void *arg,
		     size_t len)
{
	struct receiver *rv = state;

	(void)ctx;
	SU_CHECK(len == sizeof(rv->idx), "receiver arg");
	memcpy(&rv->idx, arg, sizeof(rv->idx));
	return 0;
}

static const struct pn_behaviour recv_b = {
	.name = "storm_recv",
	.state_size = sizeof(struct receiver),
	.init = recv_init,
	.handle = recv_handle,
};

/* --- sender actors ------------------------------------------------------ */

struct sender {
	uint32_t id;
	uint64_t rng;
	uint64_t left; /* messages still to send */
	bool waiting;  /* for PN_MSG_WRITABLE */
	uint64_t seq[MAX_RECV];
	unsigned char buf[MAX_LEN];
};

/* A receiver with messages left, chosen at random. */
static uint32_t pick(const uint64_t *seq, uint64_t *rng)
{
	uint32_t r = (uint32_t)su_rnd_below(rng, g.nrecv);

	while (seq[r] == g.m)
		r = (r + 1) % g.nrecv;
	return r;
}

static void sender_burst(struct pn_ctx *ctx, struct sender *s)
{
	int err;

	for (unsigned k = 0; k < BURST && s->left; k++) {
		uint64_t save = s->rng;
		uint32_t r = pick(s->seq, &s->rng);
		size_t len = build(s->buf, s->id, r, s->seq[r], &s->rng);

		err = pn_send(ctx, g.recv[r], MSG_DATA, s->buf, len);
		if (err == -EAGAIN) {
			s->rng = save; /* the same message next time */
			atomic_fetch_add_explicit(&g.eagain, 1,
						  memory_order_relaxed);
			s->waiting = true;
			err = pn_notify_writable(ctx);
			SU_CHECK(err == 0, "pn_notify_writable: %d", err);
			return;
		}
		SU_CHECK(err == 0, "sender %u: pn_send: %d %s", s->id, err,
			 pn_last_error());
		s->seq[r]++;
		s->left--;
		atomic_store_explicit(&g.sent[s->id][r], s->seq[r],
				      memory_order_relaxed);
	}
	if (s->left) {
		err = pn_send(ctx, pn_self(ctx), MSG_KICK, NULL, 0);
		SU_CHECK(err == 0, "sender %u: kick: %d %s", s->id, err,
			 pn_last_error());
	}
}

static int sender_handle(struct pn_ctx *ctx, void *state,
			 const struct pn_msg *m)
{
	struct sender *s = state;

	switch (m->type) {
	case PN_MSG_STARTED:
	case MSG_KICK:
		SU_CHECK(!s->waiting, "sender %u: kick while waiting", s->id);
		sender_burst(ctx, s);
		return 0;
	case PN_MSG_WRITABLE:
		SU_CHECK(s->waiting, "sender %u: WRITABLE not asked for",
			 s->id);
		atomic_fetch_add_explicit(&g.writable, 1, memory_order_relaxed);
		s->waiting = false;
		sender_burst(ctx, s);
		return 0;
	case PN_MSG_STOPPING:
	case PN_MSG_SHUTDOWN:
		return 0;
	default:
		su_fail("sender %u: unexpected type %#x", s->id, m->type);
	}
}

static int sender_init(struct pn_ctx *ctx, void *state, const void *arg,
		       size_t len)
{
	struct sender *s = state;

	(void)ctx;
	SU_CHECK(len == sizeof(s->id), "sender arg");
	memcpy(&s->id, arg, sizeof(s->id));
	s->rng = su_stream(1000 + s->id);
	s->left = g.m * g.nrecv;
	return 0;
}

static const struct pn_behaviour sender_b = {
	.name = "storm_sender",
	.state_size = sizeof(struct sender),
	.init = sender_init,
	.handle = sender_handle,
};

/* --- producer threads -------------------------------------------------- */

struct producer {
	pthread_t th;
	uint32_t id;
	struct pn_runtime *rt;
};

static void *producer_main(void *arg)
{
	struct producer *pr = arg;
	struct pn_producer *p;
	uint64_t rng = su_stream(2000 + pr->id), seq[MAX_RECV] = {0};
	uint64_t left = g.m * g.nrecv;
	unsigned char buf[MAX_LEN];
	int err = pn_producer_create(pr->rt, &p);

	SU_CHECK(err == 0, "pn_producer_create: %d %s", err, pn_last_error());
	while (left) {
		uint32_t r = pick(seq, &rng);
		size_t len = build(buf, pr->id, r, seq[r], &rng);

		if (su_rnd_below(&rng, 4)) {
			err = pn_inject(p, g.recv[r], MSG_DATA, buf, len,
					INJECT_TMO_NS);
			SU_CHECK(err == 0,
				 "producer %u: pn_inject to receiver %u "
				 "(seq %" PRIu64 "): %d %s",
				 pr->id, r, seq[r], err, pn_last_error());
		} else {
			uint64_t t0 = pn_now_ns();

			while ((err = pn_inject_try(p, g.recv[r], MSG_DATA, buf,
						    len)) == -EAGAIN) {
				atomic_fetch_add_explicit(&g.inject_try_again,
							  1,
							  memory_order_relaxed);
				SU_CHECK(pn_now_ns() - t0 < INJECT_TMO_NS,
					 "producer %u: pn_inject_try to "
					 "receiver %u refused for 10 s",
					 pr->id, r);
				sched_yield();
			}
			SU_CHECK(err == 0, "producer %u: pn_inject_try: %d %s",
				 pr->id, err, pn_last_error());
		}
		seq[r]++;
		left--;
		atomic_store_explicit(&g.sent[pr->id][r], seq[r],
				      memory_order_relaxed);
	}
	pn_producer_destroy(p);
	return NULL;
}

/* --- the test thread ---------------------------------------------------- */

static uint64_t progress(void *arg)
{
	(void)arg;
	return atomic_load_explicit(&g.handled, memory_order_relaxed);
}

static void report(void *arg)
{
	unsigned shown = 0;

	(void)arg;
	for (unsigned r = 0; r < g.nrecv; r++)
		for (unsigned s = 0; s < g.nsenders; s++) {
			uint64_t got = atomic_load_explicit(
				&g.got[r][s], memory_order_relaxed);
			uint64_t sent = atomic_load_explicit(
				&g.sent[s][r], memory_order_relaxed);

			if (got == g.m || shown++ >= 40)
				continue;
			fprintf(stderr,
				"  receiver %u (pid %#" PRIx64
				", shard %u) from sender %u (%s %u): got "
				"%" PRIu64 " of %" PRIu64 ", sender has sent "
				"%" PRIu64 "%s\n",
				r, (uint64_t)g.recv[r], pn_pid_shard(g.recv[r]),
				s,
				s < g.nsenders - PRODUCERS ? "actor on shard"
							   : "producer",
				s < g.nsenders - PRODUCERS
					? s % (g.nrecv / RECV_PER_SHARD)
					: s - (g.nsenders - PRODUCERS),
				got, g.m, sent,
				sent > got ? " (stranded in flight)" : "");
		}
}

static uint64_t early_total;

static uint32_t batch_override; /* 0: the default */
static bool busy_poll;		/* never park */

static void variant(const char *name, uint32_t ring_slots, uint64_t spin_ns,
		    uint64_t overflow_bytes, uint64_t m)
{
	struct pn_config c;
	struct pn_runtime *rt;
	struct pn_shard_stats st;
	struct producer pr[PRODUCERS];
	unsigned n, nactors;
	uint64_t t0, total;

	memset(&g, 0, sizeof(g));
	su_config(&c);
	c.ring_slots = ring_slots;
	c.spin_ns = spin_ns;
	if (batch_override)
		c.batch = batch_override;
	c.busy_poll = busy_poll;
	if (overflow_bytes)
		c.overflow_bytes = overflow_bytes;
	rt = su_runtime(&c);
	n = pn_runtime_nshards(rt);
	nactors = SENDERS_PER_SHARD * n;
	g.nsenders = nactors + PRODUCERS;
	g.nrecv = RECV_PER_SHARD * n;
	g.m = m;
	SU_CHECK(g.nsenders <= MAX_SENDERS && g.nrecv <= MAX_RECV,
		 "%u shards: too many", n);
	total = g.m * g.nsenders * g.nrecv;
	t0 = pn_now_ns();
	/* Receivers, then senders, then producers: nothing waits for a
	 * receiver to have started, so the early-message path is taken. */
	for (uint32_t r = 0; r < g.nrecv; r++) {
		struct pn_spawn_opts o = {
			.shard = (int)(r % n), .arg = &r, .arg_len = sizeof(r)};
		int err = pn_runtime_spawn(rt, &recv_b, &o, &g.recv[r]);

		SU_CHECK(err == 0, "spawn receiver: %d %s", err,
			 pn_last_error());
	}
	for (uint32_t s = 0; s < nactors; s++) {
		struct pn_spawn_opts o = {
			.shard = (int)(s % n), .arg = &s, .arg_len = sizeof(s)};
		pn_pid pid;
		int err = pn_runtime_spawn(rt, &sender_b, &o, &pid);

		SU_CHECK(err == 0, "spawn sender: %d %s", err, pn_last_error());
	}
	for (unsigned i = 0; i < PRODUCERS; i++) {
		pr[i] = (struct producer){.id = nactors + i, .rt = rt};
		SU_CHECK(pthread_create(&pr[i].th, NULL, producer_main,
					&pr[i]) == 0,
			 "pthread_create");
	}
	su_wait(rt, CODE_RECV_DONE, g.nrecv, 20000000000ull, 280000000000ull,
		progress, report, NULL, name);
	for (unsigned i = 0; i < PRODUCERS; i++)
		pthread_join(pr[i].th, NULL);
	su_sync(rt);
	su_stats_sum(rt, &st);
	su_log("%s: %" PRIu64 " messages in %.2f s (%.0f ns/msg); "
	       "overflowed %" PRIu64 ", eagain %" PRIu64 " (writable %" PRIu64
	       "), inject_try refused %" PRIu64 ", parks %" PRIu64
	       ", wakes %" PRIu64,
	       name, total, su_secs(t0), su_secs(t0) * 1e9 / (double)total,
	       st.overflowed, atomic_load(&g.eagain), atomic_load(&g.writable),
	       atomic_load(&g.inject_try_again), st.parks, st.wakes_sent);
	if (atomic_load(&g.early)) {
		early_total += atomic_load(&g.early);
		su_log("VIOLATION: %s: %" PRIu64 " message(s) delivered "
		       "before their receiver's PN_MSG_STARTED",
		       name, atomic_load(&g.early));
	}
	SU_CHECK(st.overflow_bytes == 0,
		 "%s: %" PRIu64 " overflow bytes left after everything "
		 "arrived",
		 name, st.overflow_bytes);
	SU_CHECK(st.dead_letters == 0, "%s: %" PRIu64 " dead letters", name,
		 st.dead_letters);
	SU_CHECK(st.received_ext >= PRODUCERS * g.m * g.nrecv,
		 "%s: shards received %" PRIu64 " external messages, "
		 "producers sent %" PRIu64,
		 name, st.received_ext, PRODUCERS * g.m * g.nrecv);
	if (overflow_bytes)
		SU_CHECK(atomic_load(&g.eagain) > 0 &&
				 atomic_load(&g.writable) > 0,
			 "%s: overflow budget %" PRIu64 " and no -EAGAIN/"
			 "WRITABLE (%" PRIu64 "/%" PRIu64 ")",
			 name, overflow_bytes, atomic_load(&g.eagain),
			 atomic_load(&g.writable));
	if (ring_slots <= 8)
		SU_CHECK(st.overflowed > 0,
			 "%s: ring_slots=%u and no send overflowed", name,
			 ring_slots);
	if (spin_ns == 0 && !busy_poll)
		SU_CHECK(st.parks > 0, "%s: spin_ns=0 and no shard parked",
			 name);
	su_shutdown(rt);
}

int main(void)
{
	uint64_t t0 = pn_now_ns(), m, m4;

	su_init("stress_storm");
	/* Per (sender, receiver) pair; 32 pairs with 2 shards. Tiny rings
	 * are slow (producers wait for slots), so they get fewer. */
	m = su_scaled(60000, 40);
	m4 = su_scaled(4000, 10);
	variant("storm default", 1024, 20000, 0, m);
	variant("storm spin_ns=0", 1024, 0, 0, m);
	/* A 32 KiB overflow budget shared by 3 senders per shard: -EAGAIN
	 * and PN_MSG_WRITABLE too. */
	variant("storm ring_slots=4", 4, 20000, 32768, m4);
	variant("storm ring_slots=4 spin_ns=0", 4, 0, 32768, m4);
	/* One message per source per turn: every source is left with more
	 * to do after each turn (the "more" bits, fairness, the recheck). */
	batch_override = 1;
	variant("storm batch=1 spin_ns=0", 1024, 0, 0, m4 * 2);
	batch_override = 0;
	/* Busy polling: no doorbells, no parking, every ring every turn. */
	busy_poll = true;
	variant("storm busy_poll", 1024, 0, 0, m / 2);
	busy_poll = false;
	/* Last, so that a failure here shows every other check passing. */
	SU_CHECK(early_total == 0,
		 "%" PRIu64 " message(s) were delivered before their "
		 "receiver's PN_MSG_STARTED (see stress_churn)",
		 early_total);
	su_log("ok (%.2f s)", su_secs(t0));
	return 0;
}
