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
#include "stress_topic.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

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
		/* The topic counts a drop or a replacement once per channel;
		 * every subscriber of that channel sees it in its gap or
		 * conflated: seen only implies counted. */
		SU_CHECK((st.dropped > 0 || !atomic_load(&g.gaps[t])) &&
				 (st.conflated > 0 ||
				  !atomic_load(&g.confl[t])) &&
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
	g.m = su_scaled(40000, 300);
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
