// SPDX-License-Identifier: MIT
/*
 * A storm against moving actors. Two targets (homes: shard 0 and shard 1)
 * migrate over and over between every shard, the supervisor shard included
 * (home -> T, T -> U, U -> home...): by themselves every few dozen messages
 * (pn_migrate) and at the request of a mover actor that fires
 * pn_migrate_pid() from a timer, so requests also reach a target while it
 * is between shards. Meanwhile SENDERS_PER_SHARD sender actors on every
 * shard and an external producer thread send each target M
 * sequence-numbered messages (a quarter with payloads past the inline
 * size, so that forwarded and bounced messages carry buffers), in bursts.
 * The senders on the target's current shard reach it directly once its
 * home has agreed, the others through the home.
 *
 * Each target checks, per sender: no loss (final counts), no duplication
 * and no reordering (each seq is exactly the next one), intact payloads;
 * and after each move that PN_MSG_MIGRATED names the shard it runs on and
 * that its periodic timer keeps firing there. At the end: no dead letters,
 * and the moves, forwards and bounces counted. Reads PN_SEED and
 * PN_STRESS_SCALE.
 */
#include "stress_util.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define NTARGETS	  2
#define SENDERS_PER_SHARD 2
#define MAX_SENDERS	  32
#define BURST		  32
#define MAX_LEN		  160
#define CODE_DONE	  1
/* Messages a sender may have in flight to one target. Each move sends
 * what is in flight to the target back through its home, so without a
 * bound senders run far ahead and every move costs the whole backlog. */
#define WINDOW 256
#define CREDIT 64

enum { MSG_DATA = 1, MSG_KICK, MSG_TICK, MSG_MOVE, MSG_CREDIT };

struct hdr {
	uint32_t sender, target;
	uint64_t seq;
};

static struct {
	unsigned nsenders, nlocs; /* locations: every shard */
	uint64_t m;		  /* per (sender, target) */
	pn_pid target[NTARGETS];
	_Atomic uint64_t got[NTARGETS][MAX_SENDERS];
	_Atomic uint64_t moves[NTARGETS];
	_Atomic uint64_t ticks[NTARGETS];
	_Atomic uint64_t handled;
	_Atomic bool done[NTARGETS];
} g;

static size_t build(unsigned char *buf, uint32_t s, uint32_t t, uint64_t seq,
		    uint64_t *rng)
{
	struct hdr h = {.sender = s, .target = t, .seq = seq};
	size_t len = sizeof(h);

	if (su_rnd_below(rng, 4) == 0)
		len = PN_MSG_INLINE + 1 + su_rnd_below(rng, MAX_LEN - 40);
	memcpy(buf, &h, sizeof(h));
	for (size_t i = sizeof(h); i < len; i++)
		buf[i] = (unsigned char)(seq * 31 + i + s);
	return len;
}

/* --- targets ------------------------------------------------------------ */

struct target {
	uint32_t idx;
	unsigned shard; /* where it runs now */
	uint64_t rng, total, until_move;
	uint64_t next[MAX_SENDERS];
	uint64_t tick; /* the periodic timer (armed at start, moves along) */
};

static void target_move(struct pn_ctx *ctx, struct target *t)
{
	unsigned to = (unsigned)su_rnd_below(&t->rng, g.nlocs);
	int err;

	if (to == t->shard)
		to = (to + 1) % g.nlocs;
	err = pn_migrate(ctx, to);
	SU_CHECK(err == 0 || err == -EBUSY, "target %u: pn_migrate(%u): %d %s",
		 t->idx, to, err, pn_last_error());
	t->until_move = 20 + su_rnd_below(&t->rng, 200);
}

static void target_data(struct pn_ctx *ctx, struct target *t,
			const struct pn_msg *m)
{
	const unsigned char *p = pn_msg_data(m);
	struct hdr h;

	SU_CHECK(m->len >= sizeof(h) && m->len <= MAX_LEN, "len %u", m->len);
	memcpy(&h, p, sizeof(h));
	SU_CHECK(h.sender < g.nsenders && h.target == t->idx,
		 "target %u: header sender %u target %u", t->idx, h.sender,
		 h.target);
	if (h.seq != t->next[h.sender])
		su_fail("target %u (on shard %u) from sender %u: expected "
			"seq %" PRIu64 ", got %" PRIu64 " (%s) after %" PRIu64
			" moves",
			t->idx, pn_shard(ctx), h.sender, t->next[h.sender],
			h.seq,
			h.seq < t->next[h.sender] ? "duplicate or reordered"
						  : "lost or reordered",
			atomic_load(&g.moves[t->idx]));
	for (size_t i = sizeof(h); i < m->len; i++)
		SU_CHECK(p[i] == (unsigned char)(h.seq * 31 + i + h.sender),
			 "target %u: sender %u seq %" PRIu64 ": byte %zu",
			 t->idx, h.sender, h.seq, i);
	t->next[h.sender]++;
	atomic_store_explicit(&g.got[t->idx][h.sender], t->next[h.sender],
			      memory_order_relaxed);
	if (m->from && t->next[h.sender] % CREDIT == 0)
		SU_CHECK(pn_send_u64(ctx, m->from, MSG_CREDIT,
				     (uint64_t)t->idx << 48 |
					     t->next[h.sender]) == 0,
			 "credit");
	atomic_fetch_add_explicit(&g.handled, 1, memory_order_relaxed);
	if (++t->total == g.m * g.nsenders) {
		/* Armed on its home shard, cancelled wherever it is now (a
		 * periodic timer on the supervisor shard would keep the
		 * shutdown's drain from ever seeing quiet). */
		SU_CHECK(pn_timer_cancel(ctx, t->tick) == 0,
			 "target %u: cancel its timer after %" PRIu64 " moves",
			 t->idx, atomic_load(&g.moves[t->idx]));
		atomic_store(&g.done[t->idx], true);
		pn_runtime_notify(pn_ctx_runtime(ctx), CODE_DONE);
		return;
	}
	if (--t->until_move == 0)
		target_move(ctx, t);
}

static void target_migrated(struct pn_ctx *ctx, struct target *t,
			    const struct pn_msg *m)
{
	struct pn_migrated d;

	memcpy(&d, pn_msg_data(m), sizeof(d));
	if (d.status == -ESHUTDOWN)
		return;
	SU_CHECK(d.status == 0 && d.to == pn_shard(ctx) && d.from == t->shard,
		 "target %u: MIGRATED status %d from %u to %u, on shard %u, "
		 "was on %u",
		 t->idx, d.status, d.from, d.to, pn_shard(ctx), t->shard);
	t->shard = d.to;
	atomic_fetch_add_explicit(&g.moves[t->idx], 1, memory_order_relaxed);
}

static int target_handle(struct pn_ctx *ctx, void *state,
			 const struct pn_msg *m)
{
	struct target *t = state;

	switch (m->type) {
	case PN_MSG_STARTED:
		t->shard = pn_shard(ctx);
		return pn_send_every(ctx, 300000, MSG_TICK, NULL, 0, &t->tick);
	case MSG_DATA:
		SU_CHECK(pn_shard(ctx) == t->shard,
			 "target %u runs on %u, "
			 "thinks %u",
			 t->idx, pn_shard(ctx), t->shard);
		target_data(ctx, t, m);
		return 0;
	case PN_MSG_MIGRATED:
		target_migrated(ctx, t, m);
		return 0;
	case MSG_TICK:
		atomic_fetch_add_explicit(&g.ticks[t->idx], 1,
					  memory_order_relaxed);
		return 0;
	case PN_MSG_STOPPING:
	case PN_MSG_SHUTDOWN:
		return 0;
	default:
		su_fail("target %u: unexpected type %#x", t->idx, m->type);
	}
}

static int target_init(struct pn_ctx *ctx, void *state, const void *arg,
		       size_t len)
{
	struct target *t = state;

	(void)ctx;
	SU_CHECK(len == sizeof(t->idx), "target arg");
	memcpy(&t->idx, arg, sizeof(t->idx));
	t->rng = su_stream(500 + t->idx);
	t->until_move = 50;
	return 0;
}

static const struct pn_behaviour target_b = {
	.name = "migrate_target",
	.state_size = sizeof(struct target),
	.init = target_init,
	.handle = target_handle,
};

/* --- the mover: pn_migrate_pid() from a timer ----------------------------- */

struct mover {
	uint64_t rng;
	uint64_t seen[NTARGETS]; /* moves of each target at our last ask */
};

/* One request outstanding per target: a request waits behind everything
 * queued for the target, and a move costs a trip of that backlog through
 * the home, so asking faster than moves complete would only pile up
 * requests (and the target would do nothing but move). */
static int mover_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct mover *mv = state;
	uint64_t *rng = &mv->rng;
	unsigned t, to;
	int err;

	if (m->type == PN_MSG_STARTED)
		return pn_send_every(ctx, 700000, MSG_MOVE, NULL, 0, NULL);
	if (m->type != MSG_MOVE)
		return 0;
	t = (unsigned)su_rnd_below(rng, NTARGETS);
	if (atomic_load(&g.done[t]) || atomic_load(&g.moves[t]) == mv->seen[t])
		return 0;
	mv->seen[t] = atomic_load(&g.moves[t]);
	to = (unsigned)su_rnd_below(rng, g.nlocs);
	err = pn_migrate_pid(ctx, g.target[t], to);
	SU_CHECK(err == 0, "pn_migrate_pid: %d %s", err, pn_last_error());
	return 0;
}

static int mover_init(struct pn_ctx *ctx, void *state, const void *arg,
		      size_t len)
{
	(void)ctx;
	(void)arg;
	(void)len;
	((struct mover *)state)->rng = su_stream(77);
	for (unsigned t = 0; t < NTARGETS; t++) /* first ask: at once */
		((struct mover *)state)->seen[t] = UINT64_MAX;
	return 0;
}

static const struct pn_behaviour mover_b = {
	.name = "migrate_mover",
	.state_size = sizeof(struct mover),
	.init = mover_init,
	.handle = mover_handle,
};

/* --- senders ------------------------------------------------------------ */

struct sender {
	uint32_t id;
	bool kicked; /* a KICK is on its way */
	uint64_t rng, left;
	uint64_t seq[NTARGETS];
	uint64_t credit[NTARGETS]; /* the target had this many at the last */
	unsigned char buf[MAX_LEN];
};

/* A target with messages left (and, with @credit, room in the window),
 * chosen at random; NTARGETS if none. */
static uint32_t pick(const uint64_t *seq, const uint64_t *credit, uint64_t *rng)
{
	uint32_t t = (uint32_t)su_rnd_below(rng, NTARGETS);

	for (unsigned k = 0; k < NTARGETS; k++, t = (t + 1) % NTARGETS)
		if (seq[t] < g.m && (!credit || seq[t] - credit[t] < WINDOW))
			return t;
	return NTARGETS;
}

static int sender_handle(struct pn_ctx *ctx, void *state,
			 const struct pn_msg *m)
{
	struct sender *s = state;
	int err;

	if (m->type == MSG_CREDIT) {
		uint64_t v = pn_msg_u64(m);

		s->credit[v >> 48] = v & ((1ull << 48) - 1);
	} else if (m->type == MSG_KICK) {
		s->kicked = false;
	} else if (m->type != PN_MSG_STARTED && m->type != PN_MSG_WRITABLE) {
		return 0;
	}
	if (s->kicked)
		return 0;
	for (unsigned k = 0; k < BURST && s->left; k++) {
		uint64_t save = s->rng;
		uint32_t t = pick(s->seq, s->credit, &s->rng);
		size_t len;

		if (t == NTARGETS) /* every window full: wait for credit */
			return 0;
		len = build(s->buf, s->id, t, s->seq[t], &s->rng);
		err = pn_send(ctx, g.target[t], MSG_DATA, s->buf, len);
		if (err == -EAGAIN) { /* over budget: resume on WRITABLE */
			s->rng = save;
			SU_CHECK(pn_notify_writable(ctx) == 0, "writable");
			return 0;
		}
		SU_CHECK(err == 0, "sender %u: pn_send: %d %s", s->id, err,
			 pn_last_error());
		s->seq[t]++;
		s->left--;
	}
	if (s->left) {
		SU_CHECK(pn_send(ctx, pn_self(ctx), MSG_KICK, NULL, 0) == 0,
			 "sender %u: kick", s->id);
		s->kicked = true;
	}
	return 0;
}

static int sender_init(struct pn_ctx *ctx, void *state, const void *arg,
		       size_t len)
{
	struct sender *s = state;

	(void)ctx;
	SU_CHECK(len == sizeof(s->id), "sender arg");
	memcpy(&s->id, arg, sizeof(s->id));
	s->rng = su_stream(1000 + s->id);
	s->left = g.m * NTARGETS;
	return 0;
}

static const struct pn_behaviour sender_b = {
	.name = "migrate_sender",
	.state_size = sizeof(struct sender),
	.init = sender_init,
	.handle = sender_handle,
};

struct producer {
	pthread_t th;
	uint32_t id;
	struct pn_runtime *rt;
};

static void *producer_main(void *arg)
{
	struct producer *pr = arg;
	struct pn_producer *p;
	uint64_t rng = su_stream(2000 + pr->id), seq[NTARGETS] = {0};
	uint64_t left = g.m * NTARGETS;
	unsigned char buf[MAX_LEN];
	int err = pn_producer_create(pr->rt, &p);

	SU_CHECK(err == 0, "pn_producer_create: %d %s", err, pn_last_error());
	while (left--) {
		uint32_t t = pick(seq, NULL, &rng);
		size_t len = build(buf, pr->id, t, seq[t], &rng);

		while (seq[t] - atomic_load_explicit(&g.got[t][pr->id],
						     memory_order_relaxed) >=
		       WINDOW)
			sched_yield(); /* the same window as the actors' */
		err = pn_inject(p, g.target[t], MSG_DATA, buf, len,
				10000000000ull);
		SU_CHECK(err == 0, "producer: pn_inject: %d %s", err,
			 pn_last_error());
		seq[t]++;
	}
	pn_producer_destroy(p);
	return NULL;
}

/* --- the run ------------------------------------------------------------ */

static uint64_t progress(void *arg)
{
	(void)arg;
	return atomic_load_explicit(&g.handled, memory_order_relaxed);
}

static void report(void *arg)
{
	(void)arg;
	for (unsigned t = 0; t < NTARGETS; t++)
		for (unsigned s = 0; s < g.nsenders; s++)
			if (atomic_load(&g.got[t][s]) != g.m)
				su_log("target %u from sender %u: %" PRIu64
				       " of %" PRIu64 " (moves %" PRIu64 ")",
				       t, s, atomic_load(&g.got[t][s]), g.m,
				       atomic_load(&g.moves[t]));
}

static void variant(const char *name, uint32_t ring_slots, uint64_t spin_ns,
		    uint64_t m)
{
	struct pn_migrate_stats ms, sum = {0};
	struct pn_shard_stats st;
	struct producer pr;
	struct pn_runtime *rt;
	struct pn_config c;
	unsigned n, nact;
	uint64_t t0 = pn_now_ns();

	memset(&g, 0, sizeof(g));
	su_config(&c);
	c.ring_slots = ring_slots;
	c.spin_ns = spin_ns;
	c.migrate_supervisor = true;
	rt = su_runtime(&c);
	n = pn_runtime_nshards(rt);
	g.nlocs = n + 1;
	nact = SENDERS_PER_SHARD * g.nlocs;
	g.nsenders = nact + 1;
	g.m = m;
	SU_CHECK(g.nsenders <= MAX_SENDERS, "too many shards");
	for (uint32_t t = 0; t < NTARGETS; t++)
		g.target[t] = su_spawn(rt, &target_b, (int)(t % n), t);
	su_spawn(rt, &mover_b, 1 % (int)n, 0);
	for (uint32_t s = 0; s < nact; s++)
		su_spawn(rt, &sender_b,
			 s % g.nlocs == n ? PN_SHARD_SUPERVISOR
					  : (int)(s % g.nlocs),
			 s);
	pr = (struct producer){.id = nact, .rt = rt};
	SU_CHECK(pthread_create(&pr.th, NULL, producer_main, &pr) == 0,
		 "pthread_create");
	su_wait(rt, CODE_DONE, NTARGETS, 20000000000ull, 280000000000ull,
		progress, report, NULL, name);
	pthread_join(pr.th, NULL);
	su_sync(rt);
	su_stats_sum(rt, &st);
	for (unsigned i = 0; i <= n; i++) {
		pn_migrate_stats(rt, i, &ms);
		sum.moves += ms.moves;
		sum.installs += ms.installs;
		sum.forwarded += ms.forwarded;
		sum.bounced += ms.bounced;
	}
	su_log("%s: %" PRIu64 " messages, %" PRIu64 " + %" PRIu64
	       " moves (%" PRIu64 " installs), %" PRIu64 " forwarded, %" PRIu64
	       " bounced, ticks %" PRIu64 "/%" PRIu64 ", parks %" PRIu64
	       ", overflowed %" PRIu64 " in %.2f s",
	       name, g.m * g.nsenders * NTARGETS, atomic_load(&g.moves[0]),
	       atomic_load(&g.moves[1]), sum.installs, sum.forwarded,
	       sum.bounced, atomic_load(&g.ticks[0]), atomic_load(&g.ticks[1]),
	       st.parks, st.overflowed, su_secs(t0));
	SU_CHECK(st.dead_letters == 0, "%s: %" PRIu64 " dead letters", name,
		 st.dead_letters);
	for (unsigned t = 0; t < NTARGETS; t++)
		SU_CHECK(atomic_load(&g.moves[t]) >= 2,
			 "%s: target %u moved only %" PRIu64 " times", name, t,
			 atomic_load(&g.moves[t]));
	SU_CHECK(sum.moves >= sum.installs, "moves %" PRIu64 " < installs",
		 sum.moves);
	su_shutdown(rt);
}

int main(void)
{
	uint64_t t0 = pn_now_ns(), m;

	su_init("stress_migrate");
	m = su_scaled(20000, 200);
	variant("migrate default", 1024, 20000, m);
	variant("migrate spin_ns=0", 1024, 0, m / 2);
	/* Tiny rings: forwarding and bouncing go through overflow queues.
	 * Small: a shard with overflow does not park, and the supervisor
	 * shard may share its core, so every ring's worth waits for a
	 * scheduler time slice there. */
	variant("migrate ring_slots=8", 8, 20000, m / 40 + 20);
	su_log("ok (%.2f s)", su_secs(t0));
	return 0;
}
