// SPDX-License-Identifier: MIT
/*
 * A storm on topics (core/topic/, pn_topic.h). NTOPICS topics (homes on
 * different shards, small and large max_lag); PUBS_PER_LOC publisher
 * actors on every shard (the supervisor shard too) and one external
 * producer thread each publish M messages to every topic, payloads of
 * random length (inline, 25..32, large, sometimes 4 KiB) carrying
 * (publisher, topic, counter) and bytes derived from them, key = counter
 * % NKEYS; publishers stop at -EAGAIN and resume on PN_MSG_TOPIC_WRITABLE.
 * Meanwhile SUBS_PER_SHARD subscribers per shard, on seeded random ticks,
 * subscribe (random policy, key range and predicate), unsubscribe,
 * migrate (to every shard) and stop (returning PN_STOP or failing, after
 * spawning their replacement).
 *
 * Each delivery is checked by its subscriber: subscribed (not pending, not
 * after a home unsubscribe or a CLOSED), seq above the start and strictly
 * increasing, key and payload intact and within the filter; the seq jump
 * equals gap + conflated + the predicate's skips (gap-free for the
 * lossless policies while subscribed); each publisher's counters
 * increasing, and for lossless subscriptions exactly the next counter the
 * filter lets through. At the end the churn stops, a marker of every key
 * goes to every topic and every live subscription must get its last one;
 * then pn_topic_stats() must reconcile: seq = every accepted publish,
 * delivered = the subscribers' count, dropped, conflated, filtered,
 * refused and disconnects at least what the subscribers and publishers
 * saw, and the lag never over max_lag. Reads PN_SEED and PN_STRESS_SCALE.
 */
#include "stress_util.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define NTOPICS	       3
#define NKEYS	       16
#define PUBS_PER_LOC   2
#define MAX_PUBS       16
#define SUBS_PER_SHARD 4
#define MAX_SUBS       400
#define MAX_LEN	       4096
#define BURST	       8

enum { MSG_KICK = 1, MSG_TICK, MSG_START };
#define T_DATA	   0x100u
#define T_MARK	   0x101u
#define CODE_PUB   1
#define CODE_QUIET 2
enum { S_NONE, S_PENDING, S_ON, S_LEAVING, S_ENDING };

struct hdr {
	uint16_t pub, topic;
	uint32_t cnt;
};

struct sub_t { /* one subscriber's subscription to one topic */
	_Atomic uint8_t state;
	uint8_t policy, filt; /* filt: bit 0 key range, bit 1 predicate */
	bool no_resub, away;  /* away: subscribed from away (SUBSCRIBED) */
	unsigned nsub;	      /* subscribes so far */
	uint8_t ended; /* how the last ended: 1 unsubscribe at home, 2 away,
			* 3 CLOSED -ENOBUFS */
	_Atomic bool marked; /* got its last marker */
	uint64_t lo, hi, rem;
	uint64_t start, last;
	/* Over the window (while S_ON): the seq jumps, gap + conflated,
	 * and the predicate's count at its start. The predicate may run
	 * ahead of the handler, so only the sums must agree (at the end). */
	uint64_t jumps, gapconf, skip0;
	_Atomic uint64_t skips; /* the predicate's rejections */
	uint32_t last_cnt[MAX_PUBS + 2];
};

struct subrec {
	_Atomic bool used, quiet;
	uint64_t rng;
	unsigned moves;		       /* PN_MSG_MIGRATED seen */
	unsigned from, to;	       /* the last move */
	uint64_t moved_after[NTOPICS]; /* its last seq of each when it moved */
	struct sub_t t[NTOPICS];
};

static struct {
	uint32_t id[NTOPICS], lag[NTOPICS];
	unsigned nshards, nlocs, npubs; /* actor publishers */
	unsigned ext, mark;		/* publisher ids */
	uint64_t m;
	pn_pid pub_pid[MAX_PUBS];
	_Atomic uint64_t published[MAX_PUBS + 2][NTOPICS];
	_Atomic uint64_t eagain[NTOPICS];
	_Atomic int waiting[MAX_PUBS + 2];
	_Atomic uint64_t delivered[NTOPICS], gaps[NTOPICS], confl[NTOPICS];
	_Atomic uint64_t skipped[NTOPICS], cut[NTOPICS];
	_Atomic uint64_t progress, stops, moves, subscribes;
	_Atomic unsigned next_sub;
	_Atomic bool quiet;
	uint64_t worst_lag[NTOPICS], worst_overflow;
	struct subrec subs[MAX_SUBS];
} g;

static unsigned topic_of(uint32_t id)
{
	for (unsigned t = 0; t < NTOPICS; t++)
		if (g.id[t] == id)
			return t;
	su_fail("unknown topic id %u", id);
}

static unsigned char fill(unsigned pub, unsigned t, uint32_t cnt, size_t i)
{
	return (unsigned char)(cnt * 7 + i * 13 + pub * 5 + t);
}

static size_t build(unsigned char *buf, unsigned pub, unsigned t, uint32_t cnt,
		    uint64_t *rng)
{
	struct hdr h = {(uint16_t)pub, (uint16_t)t, cnt};
	uint64_t r = su_rnd_below(rng, 64);
	size_t len = r < 40   ? 8 + su_rnd_below(rng, 17)	 /* inline */
		     : r < 50 ? 25 + su_rnd_below(rng, 8)	 /* 25..32 */
		     : r < 63 ? 33 + su_rnd_below(rng, 600 - 32) /* large */
			      : MAX_LEN;

	memcpy(buf, &h, sizeof(h));
	for (size_t i = sizeof(h); i < len; i++)
		buf[i] = fill(pub, t, cnt, i);
	return len;
}

/* --- publishers ------------------------------------------------------------
 */

struct pub {
	uint32_t idx;
	bool kicked, started;
	uint64_t rng;
	uint32_t cnt[NTOPICS];
	unsigned char buf[MAX_LEN];
};

static bool pub_done(const struct pub *p)
{
	for (unsigned t = 0; t < NTOPICS; t++)
		if (p->cnt[t] < (p->idx == g.mark ? NKEYS : g.m))
			return false;
	return true;
}

static void pub_burst(struct pn_ctx *ctx, struct pub *p)
{
	for (unsigned k = 0; k < BURST && !pub_done(p); k++) {
		unsigned t = (unsigned)su_rnd_below(&p->rng, NTOPICS);
		bool mark = p->idx == g.mark;
		size_t len;
		int err;

		while (p->cnt[t] >= (mark ? NKEYS : g.m))
			t = (t + 1) % NTOPICS;
		len = build(p->buf, p->idx, t, p->cnt[t], &p->rng);
		err = pn_topic_publish(ctx, g.id[t], mark ? T_MARK : T_DATA,
				       p->cnt[t] % NKEYS, p->buf, len);
		if (err == -EAGAIN) {
			atomic_fetch_add(&g.eagain[t], 1);
			SU_CHECK(pn_topic_notify_writable(ctx, g.id[t]) == 0,
				 "notify_writable: %s", pn_last_error());
			atomic_store(&g.waiting[p->idx], (int)t + 1);
			return;
		}
		SU_CHECK(err == 0, "publisher %u: topic %u: %d %s", p->idx, t,
			 err, pn_last_error());
		p->cnt[t]++;
		atomic_fetch_add_explicit(&g.published[p->idx][t], 1,
					  memory_order_relaxed);
		atomic_fetch_add_explicit(&g.progress, 1, memory_order_relaxed);
	}
	if (pub_done(p)) {
		pn_runtime_notify(pn_ctx_runtime(ctx), CODE_PUB);
		return;
	}
	SU_CHECK(pn_send(ctx, pn_self(ctx), MSG_KICK, NULL, 0) == 0, "kick");
	p->kicked = true;
}

static int pub_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct pub *p = state;

	if (m->type == MSG_START)
		p->started = true;
	else if (m->type == MSG_KICK)
		p->kicked = false;
	else if (m->type == PN_MSG_TOPIC_WRITABLE)
		atomic_store(&g.waiting[p->idx], 0);
	else
		return 0;
	if (p->started && !p->kicked && !atomic_load(&g.waiting[p->idx]))
		pub_burst(ctx, p);
	return 0;
}

static int pub_init(struct pn_ctx *ctx, void *state, const void *arg,
		    size_t len)
{
	struct pub *p = state;

	(void)ctx;
	SU_CHECK(len == sizeof(p->idx), "publisher arg");
	memcpy(&p->idx, arg, sizeof(p->idx));
	p->rng = su_stream(100 + p->idx);
	return 0;
}

static const struct pn_behaviour pub_b = {
	.name = "topic_pub",
	.state_size = sizeof(struct pub),
	.init = pub_init,
	.handle = pub_handle,
};

static void *ext_main(void *arg)
{
	struct pn_runtime *rt = arg;
	uint64_t rng = su_stream(99);
	uint32_t cnt[NTOPICS] = {0};
	static unsigned char buf[MAX_LEN];
	struct pn_producer *p;
	int err = pn_producer_create(rt, &p);

	SU_CHECK(err == 0, "pn_producer_create: %d", err);
	for (uint64_t left = g.m * NTOPICS; left; left--) {
		unsigned t = (unsigned)su_rnd_below(&rng, NTOPICS);
		size_t len;

		while (cnt[t] >= g.m)
			t = (t + 1) % NTOPICS;
		len = build(buf, g.ext, t, cnt[t], &rng);
		err = pn_topic_publish_ext(p, g.id[t], T_DATA, cnt[t] % NKEYS,
					   buf, len, 10000000000ull);
		SU_CHECK(err == 0,
			 "pn_topic_publish_ext: topic %u: %d %s (10 s without "
			 "room)",
			 t, err, pn_last_error());
		cnt[t]++;
		atomic_fetch_add(&g.published[g.ext][t], 1);
		atomic_fetch_add_explicit(&g.progress, 1, memory_order_relaxed);
	}
	pn_producer_destroy(p);
	pn_runtime_notify(rt, CODE_PUB);
	return NULL;
}

/* --- subscribers --------------------------------------------------------- */

static bool pred(void *arg, uint64_t key, const struct pn_msg *m)
{
	struct sub_t *s = arg;

	if (m->type == T_MARK || key % 3 != s->rem)
		return true;
	atomic_fetch_add_explicit(&s->skips, 1, memory_order_relaxed);
	return false;
}

static bool passes(const struct sub_t *s, uint64_t key)
{
	return (!(s->filt & 1) || (key >= s->lo && key <= s->hi)) &&
	       (!(s->filt & 2) || key % 3 != s->rem);
}

/* The last marker @s can get (markers have keys 0..NKEYS-1, in order). */
static uint64_t last_mark(const struct sub_t *s)
{
	return s->filt & 1 ? s->hi : NKEYS - 1;
}

static void sub_start(struct sub_t *s, uint64_t start)
{
	s->start = s->last = start;
	s->jumps = s->gapconf = 0;
	s->skip0 = atomic_load(&s->skips);
	atomic_store(&s->marked, false);
	memset(s->last_cnt, 0xff, sizeof(s->last_cnt));
	atomic_store(&s->state, S_ON);
}

/* Where a subscriber is, for a failure's message. */
static const char *where(struct pn_ctx *ctx, unsigned id, const struct sub_t *s)
{
	static _Thread_local char buf[192];

	const struct subrec *r = &g.subs[id];

	snprintf(buf, sizeof(buf),
		 "on shard %u, home %u, %u moves (the last %u -> %u after seq "
		 "%" PRIu64 "), subscribed %s, policy %u, filter %u",
		 pn_shard(ctx), pn_pid_shard(pn_self(ctx)), r->moves, r->from,
		 r->to, r->moved_after[s - r->t], s->away ? "away" : "at home",
		 s->policy, s->filt);
	return buf;
}

static void sub_check(struct pn_ctx *ctx, unsigned id, struct sub_t *s,
		      unsigned t, const struct pn_msg *m,
		      const struct pn_topic_info *ti)
{
	const unsigned char *p = pn_msg_data(m);
	uint64_t jump;
	int st = atomic_load(&s->state);
	bool lossless = s->policy == PN_TOPIC_BACKPRESSURE ||
			s->policy == PN_TOPIC_DISCONNECT;
	struct hdr h;

	SU_CHECK(st == S_ON || st == S_LEAVING || st == S_ENDING,
		 "sub %u topic %u seq %" PRIu64 ": delivered in state %d "
		 "(0: not subscribed, 1: before SUBSCRIBED) after %u "
		 "subscribes, the last ended by %d (1 unsubscribe at home, 3 "
		 "CLOSED) after seq %" PRIu64 " (%s)",
		 id, t, ti->seq, st, s->nsub, s->ended, s->last,
		 where(ctx, id, s));
	SU_CHECK(ti->seq > s->last && ti->seq > s->start,
		 "sub %u topic %u: seq %" PRIu64 " after %" PRIu64
		 " (start %" PRIu64 "; %s)",
		 id, t, ti->seq, s->last, s->start, where(ctx, id, s));
	SU_CHECK(m->len >= sizeof(h) && m->len <= MAX_LEN &&
			 m->to == pn_self(ctx),
		 "sub %u topic %u seq %" PRIu64 ": len %u", id, t, ti->seq,
		 m->len);
	memcpy(&h, p, sizeof(h));
	SU_CHECK(h.topic == t && h.pub < g.npubs + 2 &&
			 ti->key == h.cnt % NKEYS &&
			 (m->type == T_MARK) == (h.pub == g.mark),
		 "sub %u topic %u seq %" PRIu64 ": header pub %u topic %u cnt "
		 "%u, key %" PRIu64 " type %#x (a corrupt payload or key)",
		 id, t, ti->seq, h.pub, h.topic, h.cnt, ti->key, m->type);
	for (size_t i = sizeof(h); i < m->len; i++)
		SU_CHECK(p[i] == fill(h.pub, t, h.cnt, i),
			 "sub %u topic %u seq %" PRIu64 " (len %u): byte %zu",
			 id, t, ti->seq, m->len, i);
	SU_CHECK(m->from == (h.pub == g.ext ? PN_PID_NONE : g.pub_pid[h.pub]),
		 "sub %u: from %#" PRIx64 " for publisher %u", id, m->from,
		 h.pub);
	SU_CHECK(m->type == T_MARK || passes(s, ti->key),
		 "sub %u topic %u: key %" PRIu64 " outside its filter", id, t,
		 ti->key);
	jump = ti->seq - s->last - 1;
	if (st == S_ON) {
		SU_CHECK(s->filt ? jump >= (uint64_t)ti->gap + ti->conflated
				 : jump == (uint64_t)ti->gap + ti->conflated,
			 "sub %u topic %u: seq %" PRIu64 " after %" PRIu64
			 ", gap %u conflated %u (start %" PRIu64 "; %s)",
			 id, t, ti->seq, s->last, ti->gap, ti->conflated,
			 s->start, where(ctx, id, s));
		s->jumps += jump;
		s->gapconf += (uint64_t)ti->gap + ti->conflated;
	}
	if (lossless)
		SU_CHECK(ti->gap == 0 && ti->conflated == 0,
			 "sub %u topic %u: lossless, gap %u conflated %u", id,
			 t, ti->gap, ti->conflated);
	if (s->policy != PN_TOPIC_CONFLATE)
		SU_CHECK(ti->conflated == 0, "sub %u: conflated %u", id,
			 ti->conflated);
	if (s->last_cnt[h.pub] != UINT32_MAX) {
		uint32_t want = s->last_cnt[h.pub] + 1;

		/* The next one its filter lets through (markers: any, in
		 * its key range). */
		while (h.pub == g.mark
			       ? (s->filt & 1) && (want < s->lo || want > s->hi)
			       : !passes(s, want % NKEYS))
			want++;
		SU_CHECK(h.cnt > s->last_cnt[h.pub] &&
				 (!lossless || st != S_ON || h.cnt == want),
			 "sub %u topic %u: publisher %u counter %u after %u "
			 "(expected %u; seq %" PRIu64 " after %" PRIu64 "; %s)",
			 id, t, h.pub, h.cnt, s->last_cnt[h.pub], want, ti->seq,
			 s->last, where(ctx, id, s));
	}
	s->last_cnt[h.pub] = h.cnt;
	s->last = ti->seq;
	atomic_fetch_add(&g.delivered[t], 1);
	atomic_fetch_add(&g.gaps[t], ti->gap);
	atomic_fetch_add(&g.confl[t], ti->conflated);
	atomic_fetch_add_explicit(&g.progress, 1, memory_order_relaxed);
	if (m->type == T_MARK && ti->key == last_mark(s))
		atomic_store(&s->marked, true);
}

static void subscribe(struct pn_ctx *ctx, unsigned id, unsigned t)
{
	struct subrec *r = &g.subs[id];
	struct sub_t *s = &r->t[t];
	uint64_t x = su_rnd_below(&r->rng, 100), start = 0;
	struct pn_topic_sub_opts o = {0};
	bool away = pn_shard(ctx) != pn_pid_shard(pn_self(ctx));
	int rc;

	s->policy = x < 55   ? PN_TOPIC_BACKPRESSURE
		    : x < 70 ? PN_TOPIC_DROP_OLDEST
		    : x < 85 ? PN_TOPIC_CONFLATE
			     : PN_TOPIC_DISCONNECT;
	s->filt = (uint8_t)su_rnd_below(&r->rng, 4);
	if (s->policy != PN_TOPIC_BACKPRESSURE)
		s->filt &= 2; /* a lossy one gets its last marker */
	s->lo = su_rnd_below(&r->rng, NKEYS);
	s->hi = s->lo + su_rnd_below(&r->rng, NKEYS - s->lo);
	s->rem = su_rnd_below(&r->rng, 3);
	o.policy = (enum pn_topic_policy)s->policy;
	if (s->filt & 1) {
		o.key_lo = s->lo;
		o.key_hi = s->hi;
		if (o.key_lo == 0 && o.key_hi == 0)
			s->filt &= 2; /* [0, 0] means every key */
	}
	if (s->filt & 2) {
		o.filter = pred;
		o.filter_arg = s;
	}
	rc = pn_topic_subscribe(ctx, g.id[t], &o, &start);
	SU_CHECK(rc == (away ? 1 : 0), "sub %u: subscribe topic %u %s: %d %s",
		 id, t, away ? "away from home" : "at home", rc,
		 pn_last_error());
	atomic_fetch_add(&g.subscribes, 1);
	s->away = rc == 1;
	s->nsub++;
	if (rc == 0)
		sub_start(s, start);
	else
		atomic_store(&s->state, S_PENDING);
}

static void unsubscribe(struct pn_ctx *ctx, unsigned id, unsigned t)
{
	struct sub_t *s = &g.subs[id].t[t];
	bool away = pn_shard(ctx) != pn_pid_shard(pn_self(ctx));
	int rc = pn_topic_unsubscribe(ctx, g.id[t]);

	SU_CHECK(rc == 0, "sub %u: unsubscribe topic %u: %d %s", id, t, rc,
		 pn_last_error());
	/* Away: effective once the home has it; no new one on this topic
	 * (it could overtake the unsubscribe). */
	atomic_store(&s->state, away ? S_LEAVING : S_NONE);
	s->no_resub = away;
	s->ended = away ? 2 : 1;
}

static bool pending(const struct subrec *r)
{
	for (unsigned t = 0; t < NTOPICS; t++)
		if (atomic_load(&r->t[t].state) == S_PENDING)
			return true;
	return false;
}

/* A random step; true: stop now, *nid the replacement's id. */
static bool churn(struct pn_ctx *ctx, unsigned id, unsigned *nid)
{
	struct subrec *r = &g.subs[id];
	uint64_t x = su_rnd_below(&r->rng, 100);
	unsigned t = (unsigned)su_rnd_below(&r->rng, NTOPICS);
	int st = atomic_load(&r->t[t].state);

	if (x < 40) {
		if (st == S_NONE && !r->t[t].no_resub)
			subscribe(ctx, id, t);
		else if (st == S_ON)
			unsubscribe(ctx, id, t);
	} else if (x < 46) {
		unsigned to = (unsigned)su_rnd_below(&r->rng, g.nlocs);

		if (pn_migrate(ctx, to) == 0)
			atomic_fetch_add(&g.moves, 1);
	} else if (x < 48) {
		*nid = atomic_fetch_add(&g.next_sub, 1);
		return *nid < MAX_SUBS;
	}
	return false;
}

static const struct pn_behaviour sub_b;

static int sub_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	unsigned id = *(unsigned *)state;
	struct subrec *r = &g.subs[id];
	const struct pn_topic_info *ti = pn_topic_delivery(ctx);
	struct pn_topic_event ev;
	unsigned nid;

	if (ti) {
		unsigned t = topic_of(ti->topic);

		sub_check(ctx, id, &r->t[t], t, m, ti);
		return 0;
	}
	switch (m->type) {
	case PN_MSG_STARTED:
	case MSG_TICK:
		if (atomic_load(&g.quiet)) {
			if (pending(r) || atomic_load(&r->quiet))
				break; /* its SUBSCRIBED comes */
			atomic_store(&r->quiet, true);
			pn_runtime_notify(pn_ctx_runtime(ctx), CODE_QUIET);
			return 0;
		}
		if (churn(ctx, id, &nid)) { /* after spawning its successor */
			struct pn_spawn_opts o = {
				.shard = (int)su_rnd_below(&r->rng, g.nshards),
				.arg = &nid,
				.arg_len = sizeof(nid)};
			pn_pid pid;

			SU_CHECK(pn_spawn(ctx, &sub_b, &o, &pid) == 0,
				 "spawn a subscriber: %s", pn_last_error());
			for (unsigned t = 0; t < NTOPICS; t++)
				if (atomic_load(&r->t[t].state) != S_NONE)
					atomic_store(&r->t[t].state, S_ENDING);
			atomic_store(&r->quiet, true);
			atomic_fetch_add(&g.stops, 1);
			return su_rnd_below(&r->rng, 2) ? PN_STOP : -EIO;
		}
		break;
	case PN_MSG_TOPIC_SUBSCRIBED:
		memcpy(&ev, pn_msg_data(m), sizeof(ev));
		SU_CHECK(atomic_load(&r->t[topic_of(ev.topic)].state) ==
				 S_PENDING,
			 "sub %u: SUBSCRIBED unasked", id);
		sub_start(&r->t[topic_of(ev.topic)], ev.seq);
		break;
	case PN_MSG_TOPIC_CLOSED: {
		struct sub_t *s;

		memcpy(&ev, pn_msg_data(m), sizeof(ev));
		s = &r->t[topic_of(ev.topic)];
		SU_CHECK(ev.reason == -ENOBUFS &&
				 s->policy == PN_TOPIC_DISCONNECT &&
				 atomic_load(&s->state) != S_NONE,
			 "sub %u: CLOSED reason %d policy %u state %d", id,
			 ev.reason, s->policy, atomic_load(&s->state));
		atomic_fetch_add(&g.cut[topic_of(ev.topic)], 1);
		atomic_store(&s->state, S_NONE);
		s->ended = 3;
		return 0;
	}
	case PN_MSG_MIGRATED: {
		struct pn_migrated d;

		memcpy(&d, pn_msg_data(m), sizeof(d));
		SU_CHECK(d.status == 0 || d.status == -ESHUTDOWN,
			 "sub %u: MIGRATED %d", id, d.status);
		if (d.status == 0) {
			r->moves++;
			r->from = d.from;
			r->to = d.to;
			for (unsigned t = 0; t < NTOPICS; t++)
				r->moved_after[t] = r->t[t].last;
		}
		return 0;
	}
	default:
		return 0;
	}
	if (!atomic_load(&r->quiet))
		SU_CHECK(pn_send_after(ctx,
				       100000 + su_rnd_below(&r->rng, 300000),
				       MSG_TICK, NULL, 0, NULL) == 0,
			 "tick");
	return 0;
}

static int sub_init(struct pn_ctx *ctx, void *state, const void *arg,
		    size_t len)
{
	unsigned id;

	(void)ctx;
	SU_CHECK(len == sizeof(id), "subscriber arg");
	memcpy(&id, arg, sizeof(id));
	SU_CHECK(id < MAX_SUBS && !atomic_exchange(&g.subs[id].used, true),
		 "subscriber id %u", id);
	g.subs[id].rng = su_stream(1000 + id);
	memcpy(state, &id, sizeof(id));
	return 0;
}

static const struct pn_behaviour sub_b = {
	.name = "topic_sub",
	.state_size = sizeof(unsigned),
	.init = sub_init,
	.handle = sub_handle,
};

/* --- the run ------------------------------------------------------------- */

static unsigned nsubs0; /* subscribers alive at any time */

static void sample(void)
{
	for (unsigned t = 0; t < NTOPICS; t++) {
		struct pn_topic_stats st;

		if (pn_topic_stats(su.rt, g.id[t], &st) == 0 &&
		    st.max_lag > g.worst_lag[t])
			g.worst_lag[t] = st.max_lag;
	}
	for (unsigned i = 0; i <= g.nshards; i++) {
		struct pn_shard_stats ss;

		if (pn_runtime_stats(su.rt, i, &ss) == 0 &&
		    ss.overflow_bytes > g.worst_overflow)
			g.worst_overflow = ss.overflow_bytes;
	}
}

static uint64_t progress(void *arg)
{
	(void)arg;
	sample();
	return atomic_load(&g.progress);
}

static void report(void *arg)
{
	(void)arg;
	for (unsigned p = 0; p < g.npubs + 2; p++)
		su_log("publisher %u: %" PRIu64 "/%" PRIu64 "/%" PRIu64
		       " published, waiting for WRITABLE of topic %d",
		       p, atomic_load(&g.published[p][0]),
		       atomic_load(&g.published[p][1]),
		       atomic_load(&g.published[p][2]),
		       atomic_load(&g.waiting[p]) - 1);
	for (unsigned i = 0; i < atomic_load(&g.next_sub) && i < MAX_SUBS; i++)
		for (unsigned t = 0; t < NTOPICS; t++)
			if (atomic_load(&g.subs[i].t[t].state) == S_ON &&
			    !atomic_load(&g.subs[i].t[t].marked))
				su_log("sub %u topic %u: subscribed, no last "
				       "marker (quiet %d)",
				       i, t, atomic_load(&g.subs[i].quiet));
}

/* Subscriptions in state @st to topic @t. */
static unsigned count(unsigned t, int st)
{
	unsigned n = 0;

	for (unsigned i = 0; i < MAX_SUBS; i++)
		n += atomic_load(&g.subs[i].t[t].state) == st;
	return n;
}

/* Poll @cond for up to @limit_s seconds (bounded); fail naming @what. */
static void until(bool (*cond)(void), double limit_s, const char *what)
{
	uint64_t t0 = pn_now_ns();

	while (!cond()) {
		if (su_secs(t0) > limit_s) {
			report(NULL);
			su_fail("%s: not within %.0f s", what, limit_s);
		}
		sample();
		sched_yield();
	}
}

static bool homes_agree(void)
{
	for (unsigned t = 0; t < NTOPICS; t++) {
		struct pn_topic_stats st;

		if (pn_topic_stats(su.rt, g.id[t], &st) ||
		    st.subscribers != count(t, S_ON))
			return false;
	}
	return true;
}

static bool all_marked(void)
{
	for (unsigned i = 0; i < MAX_SUBS; i++)
		for (unsigned t = 0; t < NTOPICS; t++)
			if (atomic_load(&g.subs[i].t[t].state) == S_ON &&
			    !atomic_load(&g.subs[i].t[t].marked))
				return false;
	return true;
}

static bool delivered_agree(void)
{
	for (unsigned t = 0; t < NTOPICS; t++) {
		struct pn_topic_stats st;

		if (pn_topic_stats(su.rt, g.id[t], &st) ||
		    st.delivered != atomic_load(&g.delivered[t]))
			return false;
	}
	return true;
}

/* Every live subscription with only a predicate: its seq jumps are its
 * gaps, conflations and the predicate's rejections, exactly (nothing
 * comes after its last marker). */
static void check_sums(void)
{
	for (unsigned i = 0; i < MAX_SUBS; i++)
		for (unsigned t = 0; t < NTOPICS; t++) {
			const struct sub_t *s = &g.subs[i].t[t];
			uint64_t sk = atomic_load(&s->skips) - s->skip0;

			if (atomic_load(&s->state) != S_ON || s->filt != 2)
				continue;
			SU_CHECK(s->jumps == s->gapconf + sk,
				 "sub %u topic %u (policy %u): seq jumps "
				 "%" PRIu64 " from %" PRIu64 " to %" PRIu64
				 ", gap + conflated %" PRIu64
				 ", predicate rejections %" PRIu64,
				 i, t, s->policy, s->jumps, s->start, s->last,
				 s->gapconf, sk);
		}
}

static void reconcile(void)
{
	for (unsigned t = 0; t < NTOPICS; t++) {
		struct pn_topic_stats st;
		uint64_t pubs = 0, skips = 0;

		SU_CHECK(pn_topic_stats(su.rt, g.id[t], &st) == 0, "stats");
		for (unsigned p = 0; p < g.npubs + 2; p++)
			pubs += atomic_load(&g.published[p][t]);
		for (unsigned i = 0; i < MAX_SUBS; i++)
			skips += atomic_load(&g.subs[i].t[t].skips);
		su_log("topic %u (home %u, max_lag %u): seq %" PRIu64
		       " delivered %" PRIu64 " filtered %" PRIu64
		       " dropped %" PRIu64 " conflated %" PRIu64
		       " refused %" PRIu64 " disconnects %" PRIu64
		       " slots %" PRIu64 " subscribers %u; worst lag %" PRIu64,
		       t, st.home, g.lag[t], st.seq, st.delivered, st.filtered,
		       st.dropped, st.conflated, st.refused, st.disconnects,
		       st.slots, st.subscribers, g.worst_lag[t]);
		SU_CHECK(st.seq == pubs,
			 "topic %u: seq %" PRIu64 ", %" PRIu64 " published", t,
			 st.seq, pubs);
		SU_CHECK(st.delivered == atomic_load(&g.delivered[t]),
			 "topic %u: delivered %" PRIu64 ", the subscribers "
			 "handled %" PRIu64,
			 t, st.delivered, atomic_load(&g.delivered[t]));
		SU_CHECK(st.dropped >= atomic_load(&g.gaps[t]) &&
				 st.conflated >= atomic_load(&g.confl[t]) &&
				 st.filtered >= skips &&
				 st.refused >= atomic_load(&g.eagain[t]) &&
				 st.disconnects >= atomic_load(&g.cut[t]),
			 "topic %u: dropped %" PRIu64 " (gaps seen %" PRIu64
			 "), conflated %" PRIu64 " (%" PRIu64
			 "), filtered %" PRIu64 " (predicates %" PRIu64
			 "), refused %" PRIu64 " (%" PRIu64
			 "), disconnects %" PRIu64 " (%" PRIu64 ")",
			 t, st.dropped, atomic_load(&g.gaps[t]), st.conflated,
			 atomic_load(&g.confl[t]), st.filtered, skips,
			 st.refused, atomic_load(&g.eagain[t]), st.disconnects,
			 atomic_load(&g.cut[t]));
		SU_CHECK(g.worst_lag[t] <= g.lag[t],
			 "topic %u: lag %" PRIu64 " over max_lag %u", t,
			 g.worst_lag[t], g.lag[t]);
	}
}

static void quiet_event(void *arg, const struct pn_event *ev)
{
	(void)arg;
	(void)ev; /* the subscribers' planned crashes */
}

int main(void)
{
	static const uint32_t lags[NTOPICS] = {16, 256, 1024};
	uint64_t t0 = pn_now_ns();
	struct pn_runtime *rt;
	struct pn_config c;
	pthread_t th;

	su_init("stress_topic");
	su_config(&c);
	c.migrate_supervisor = true;
	c.on_event = quiet_event;
	rt = su_runtime(&c);
	g.nshards = pn_runtime_nshards(rt);
	g.nlocs = g.nshards + 1;
	g.npubs = PUBS_PER_LOC * g.nlocs;
	g.ext = g.npubs;
	g.mark = g.npubs + 1;
	g.m = su_scaled(1500, 30);
	SU_CHECK(g.npubs + 2 <= MAX_PUBS, "too many shards");
	for (unsigned t = 0; t < NTOPICS; t++) {
		struct pn_topic_opts o = {.home = t % g.nshards,
					  .max_lag = lags[t]};
		char name[16];
		int err;

		snprintf(name, sizeof(name), "storm%u", t);
		g.lag[t] = lags[t];
		err = pn_topic_open(rt, name, &o, &g.id[t]);
		SU_CHECK(err == 0, "pn_topic_open: %d %s", err,
			 pn_last_error());
	}
	for (uint32_t p = 0; p < g.npubs; p++)
		g.pub_pid[p] =
			su_spawn(rt, &pub_b,
				 p % g.nlocs == g.nshards ? PN_SHARD_SUPERVISOR
							  : (int)(p % g.nlocs),
				 p);
	nsubs0 = SUBS_PER_SHARD * g.nshards;
	atomic_store(&g.next_sub, nsubs0);
	for (uint32_t i = 0; i < nsubs0; i++)
		su_spawn(rt, &sub_b, (int)(i % g.nshards), i);
	SU_CHECK(pthread_create(&th, NULL, ext_main, rt) == 0, "thread");
	for (uint32_t p = 0; p < g.npubs; p++)
		SU_CHECK(pn_runtime_send(rt, g.pub_pid[p], MSG_START, NULL, 0,
					 10000000000ull) == 0,
			 "start");
	su_wait(rt, CODE_PUB, g.npubs + 1, 20000000000ull, 200000000000ull,
		progress, report, NULL, "publishers");
	pthread_join(th, NULL);
	/* The end: no more churn; the homes agree with the subscribers;
	 * every live subscription gets its last marker. */
	atomic_store(&g.quiet, true);
	su_wait(rt, CODE_QUIET, nsubs0, 20000000000ull, 60000000000ull,
		progress, report, NULL, "quiet subscribers");
	until(homes_agree, 20, "the homes' subscriber counts");
	g.pub_pid[g.mark] = su_spawn(rt, &pub_b, 0, g.mark);
	SU_CHECK(pn_runtime_send(rt, g.pub_pid[g.mark], MSG_START, NULL, 0,
				 10000000000ull) == 0,
		 "start");
	su_wait(rt, CODE_PUB, 1, 20000000000ull, 60000000000ull, progress,
		report, NULL, "markers");
	until(all_marked, 20, "the last markers");
	su_sync(rt);
	check_sums();
	/* The counters may lag a loop turn: give them time, then compare
	 * (reconcile() says what differs). */
	for (uint64_t t1 = pn_now_ns(); !delivered_agree() && su_secs(t1) < 10;)
		sched_yield();
	reconcile();
	su_log("%" PRIu64 " messages published, %" PRIu64
	       " subscribes, %" PRIu64 " moves, %" PRIu64
	       " stops, worst overflow %" PRIu64 " bytes",
	       (g.npubs + 1) * g.m * NTOPICS, atomic_load(&g.subscribes),
	       atomic_load(&g.moves), atomic_load(&g.stops), g.worst_overflow);
	su_shutdown(rt);
	su_log("ok (%.2f s)", su_secs(t0));
	return 0;
}
