// SPDX-License-Identifier: MIT
/*
 * stress_topic's subscribers (see stress_topic.c): their random steps
 * (subscribe with a random policy and filter, unsubscribe, migrate, stop
 * after spawning a successor) and the checks of every delivery.
 */
#include "stress_topic.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct topic_g g;

unsigned topic_of(uint32_t id)
{
	for (unsigned t = 0; t < NTOPICS; t++)
		if (g.id[t] == id)
			return t;
	su_fail("unknown topic id %u", id);
}

unsigned char fill(unsigned pub, unsigned t, uint32_t cnt, size_t i)
{
	return (unsigned char)(cnt * 7 + i * 13 + pub * 5 + t);
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

	SU_CHECK(st == S_ON || st == S_LEAVING || st == S_ENDING || st == S_CUT,
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
		 * its key range); keys repeat every NKEYS counters, and one
		 * passed, so NKEYS steps at most. */
		for (unsigned k = 0;
		     k < NKEYS &&
		     (h.pub == g.mark
			      ? (s->filt & 1) && (want < s->lo || want > s->hi)
			      : !passes(s, want % NKEYS));
		     k++)
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

	/* A DISCONNECT one may have been cut already, its CLOSED on its
	 * way: then there is no subscription, and the CLOSED comes. */
	if (rc == -ENOENT && s->policy == PN_TOPIC_DISCONNECT) {
		atomic_store(&s->state, S_CUT);
		return;
	}
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

const struct pn_behaviour sub_b = {
	.name = "topic_sub",
	.state_size = sizeof(unsigned),
	.init = sub_init,
	.handle = sub_handle,
};
