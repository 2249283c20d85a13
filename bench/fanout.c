// SPDX-License-Identifier: MIT
/*
 * fanout's actors: one publisher and S subscribers per repetition.
 *
 * The publisher (shard 0, the topic's home) waits until every subscriber
 * said it is ready (subscribed) and the driver kicked it, then sends
 * messages 1..N, each carrying its seq and its publish time (pn_now_ns()),
 * BENCH_CHUNK publishes (impl=pinion) or sends (impl=naive) per handler
 * run, then a message to itself to go on, so that the subscribers on its
 * own shard run in between. impl=pinion: pn_topic_publish(), and on
 * -EAGAIN (a PN_TOPIC_BACKPRESSURE subscriber's shard is max_lag behind)
 * pn_topic_notify_writable() and resume at PN_MSG_TOPIC_WRITABLE.
 * impl=naive: one pn_send() per subscriber PID, and on -EAGAIN
 * pn_notify_writable() and resume at PN_MSG_WRITABLE with the same
 * subscriber. Both are lossless and flow-controlled.
 *
 * A subscriber checks every delivery: the topic's seq
 * (pn_topic_delivery()) for impl=pinion, the payload's counter (and, for
 * 512 bytes, its copy at the end), the length and the sender must all be
 * the next one in order; the completing subscriber of a sampled message's
 * per-shard countdown records its latency (struct fan_shard). After seq N
 * it sends its tally and the time of its last delivery to the publisher
 * and stops; the publisher checks each tally is N, and after the last one
 * records the end (the latest last delivery) and wakes the driver.
 */
#include "fanout.h"

#include <errno.h>
#include <stdalign.h>
#include <string.h>

struct fan_sub {
	struct fan_shared *sh;
	struct fan_shard *fs; /* this shard's latency record */
	pn_pid pub;
	uint32_t i;
	bool brk;      /* self-test: lose one message */
	uint64_t next; /* the seq due next */
};

/* A subscriber's tally, to the publisher after its last delivery. */
struct fan_done {
	uint64_t i, got, t_last;
};

struct fan_pub {
	struct fan_shared *sh;
	uint64_t next;	 /* the message due next, 1..n */
	uint32_t j;	 /* naive: the subscriber due next for it */
	uint32_t ready;	 /* subscribers subscribed */
	uint32_t done;	 /* tallies in */
	bool kicked;	 /* the driver wrote sh->subs and said go */
	bool started;	 /* publishing */
	bool waiting;	 /* for PN_MSG_TOPIC_WRITABLE or PN_MSG_WRITABLE */
	uint64_t got;	 /* the sum of the tallies */
	uint64_t t_last; /* the latest last delivery */
	alignas(16) unsigned char buf[FAN_BIG];
};

int fan_shard_of(const struct fan_shared *sh, uint32_t i)
{
	return (int)((1 + i) % sh->nshards);
}

/* --- subscribers --------------------------------------------------------- */

static int sub_started(struct pn_ctx *ctx, struct fan_sub *u)
{
	struct fan_shared *sh = u->sh;
	uint64_t start = 0;
	int err;

	u->fs = &sh->shard[pn_shard(ctx)];
	u->next = 1;
	if (!sh->naive) {
		err = pn_topic_subscribe(ctx, sh->topic, NULL, &start);
		if (err != 0 || start != 0)
			return bench_fail(&sh->base, err < 0 ? err : -EPROTO,
					  "subscribe: %d (%s), start "
					  "%llu (a new topic: want 0)",
					  err, err < 0 ? strerror(-err) : "",
					  (unsigned long long)start);
	}
	err = pn_send_u64(ctx, u->pub, BT_HELLO, u->i);
	if (err < 0)
		return bench_fail(&sh->base, err, "ready: %s", strerror(-err));
	return 0;
}

/* The last delivery: the tally to the publisher, and stop. */
static int sub_last(struct pn_ctx *ctx, struct fan_sub *u, uint64_t now)
{
	struct fan_done d = {u->i, u->next - 1, now};
	int err = PN_SEND_AS(ctx, u->pub, BT_COUNT, d);

	if (err < 0)
		return bench_fail(&u->sh->base, err, "tally: %s",
				  strerror(-err));
	return PN_STOP; /* which unsubscribes it */
}

static int sub_data(struct pn_ctx *ctx, struct fan_sub *u,
		    const struct pn_msg *m)
{
	const struct fan_shared *sh = u->sh;
	const unsigned char *p = pn_msg_data(m);
	const struct pn_topic_info *ti = NULL;
	uint64_t seq = 0, t_pub = 0, tail, tseq, now = 0, k;

	if (m->len == sh->len) {
		memcpy(&seq, p, sizeof(seq));
		memcpy(&t_pub, p + 8, sizeof(t_pub));
	}
	tail = seq;
	if (m->len == sh->len && m->len > FAN_INLINE)
		memcpy(&tail, p + m->len - 8, sizeof(tail));
	tseq = seq;
	if (!sh->naive) {
		ti = pn_topic_delivery(ctx);
		tseq = ti && ti->topic == sh->topic && ti->key == seq &&
				       !ti->gap && !ti->conflated
			       ? ti->seq
			       : 0;
	}
	if (PN_UNLIKELY(u->brk) && tseq == sh->n / 2 + 1) {
		u->brk = false; /* the self-test's lost message */
		return 0;
	}
	if (PN_UNLIKELY(tseq != u->next || seq != u->next || tail != seq ||
			m->from != u->pub))
		return bench_fail(&u->sh->base, -EPROTO,
				  "subscriber %u got seq %llu "
				  "(payload %llu/%llu, %u bytes), expected "
				  "%llu",
				  u->i, (unsigned long long)tseq,
				  (unsigned long long)seq,
				  (unsigned long long)tail, m->len,
				  (unsigned long long)u->next);
	u->next++;
	if ((seq & (sh->stride - 1)) == 0) { /* no division per delivery */
		k = seq >> sh->shift;
		if (++u->fs->cnt[k] == u->fs->nsubs) {
			now = pn_now_ns();
			u->fs->lat[k] = now - t_pub;
		}
	}
	if (PN_LIKELY(seq != sh->n))
		return 0;
	return sub_last(ctx, u, now ? now : pn_now_ns());
}

static int sub_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct fan_sub *u = state;

	switch (m->type) {
	case BT_TICK:
		return sub_data(ctx, u, m);
	case PN_MSG_STARTED:
		return sub_started(ctx, u);
	case PN_MSG_SHUTDOWN: /* a failed repetition's leftovers */
		return PN_STOP;
	default:
		return 0;
	}
}

static const struct pn_behaviour sub_b = {
	.name = "fanout-subscriber",
	.state_size = sizeof(struct fan_sub),
	.init = bench_actor_init,
	.handle = sub_handle,
};

int fan_spawn_subscriber(struct bench_env *e, struct fan_shared *sh, pn_pid pub,
			 uint32_t i, pn_pid *pid)
{
	struct fan_sub u = {.sh = sh, .pub = pub, .i = i};

	u.brk = i == 0 && bench_broken("fanout");
	return bench_spawn(e, &sub_b, fan_shard_of(sh, i), &u, sizeof(u), pid);
}

/* --- the publisher -------------------------------------------------------- */

/* Message @seq's payload, published at @now. */
static void stamp(struct fan_pub *p, uint64_t seq, uint64_t now)
{
	memcpy(p->buf, &seq, sizeof(seq));
	memcpy(p->buf + 8, &now, sizeof(now));
	if (p->sh->len > FAN_INLINE)
		memcpy(p->buf + p->sh->len - 8, &seq, sizeof(seq));
}

/* Where the publisher is (struct fan_shared's at), at each yield. */
static void pub_at(const struct fan_pub *p, int waiting)
{
	struct fan_shared *sh = p->sh;

	/* Relaxed, all: diagnostics for a timeout, no order needed. */
	atomic_store_explicit(&sh->at.next, p->next, memory_order_relaxed);
	atomic_store_explicit(&sh->at.j, p->j, memory_order_relaxed);
	atomic_store_explicit(&sh->at.ready, p->ready, memory_order_relaxed);
	atomic_store_explicit(&sh->at.done, p->done, memory_order_relaxed);
	atomic_store_explicit(&sh->at.waiting, waiting, memory_order_relaxed);
}

/* -EAGAIN: wait for the writable notice @topic says (else the shard's). */
static int pub_wait(struct pn_ctx *ctx, struct fan_pub *p, bool topic)
{
	int err = topic ? pn_topic_notify_writable(ctx, p->sh->topic)
			: pn_notify_writable(ctx);

	p->sh->refused++;
	p->waiting = true;
	pub_at(p, topic ? 1 : 2);
	if (err < 0)
		return bench_fail(&p->sh->base, err, "notify: %s",
				  strerror(-err));
	return 0;
}

/* Go on after this handler, unless all is sent. */
static int pub_cont(struct pn_ctx *ctx, struct fan_pub *p)
{
	int err;

	pub_at(p, 0);
	if (p->next > p->sh->n)
		return 0;
	err = pn_send_u64(ctx, pn_self(ctx), BT_CONT, 0);
	if (err == -EAGAIN)
		return pub_wait(ctx, p, false);
	if (err < 0)
		return bench_fail(&p->sh->base, err, "go on: %s",
				  strerror(-err));
	return 0;
}

static int pub_topic(struct pn_ctx *ctx, struct fan_pub *p)
{
	struct fan_shared *sh = p->sh;
	int err;

	for (unsigned k = 0; k < BENCH_CHUNK && p->next <= sh->n; k++) {
		stamp(p, p->next, pn_now_ns());
		err = pn_topic_publish(ctx, sh->topic, BT_TICK, p->next, p->buf,
				       sh->len);
		if (err == -EAGAIN)
			return pub_wait(ctx, p, true);
		if (PN_UNLIKELY(err < 0))
			return bench_fail(&sh->base, err, "publish %llu: %s",
					  (unsigned long long)p->next,
					  strerror(-err));
		p->next++;
	}
	return pub_cont(ctx, p);
}

static int pub_naive(struct pn_ctx *ctx, struct fan_pub *p)
{
	struct fan_shared *sh = p->sh;
	int err;

	for (unsigned k = 0; k < BENCH_CHUNK && p->next <= sh->n; k++) {
		if (p->j == 0) /* one publish time for all S copies */
			stamp(p, p->next, pn_now_ns());
		err = pn_send(ctx, sh->subs[p->j], BT_TICK, p->buf, sh->len);
		if (err == -EAGAIN)
			return pub_wait(ctx, p, false);
		if (PN_UNLIKELY(err < 0))
			return bench_fail(&sh->base, err, "send %llu to %u: %s",
					  (unsigned long long)p->next, p->j,
					  strerror(-err));
		if (++p->j == sh->s) {
			p->j = 0;
			p->next++;
		}
	}
	return pub_cont(ctx, p);
}

static int pub_go(struct pn_ctx *ctx, struct fan_pub *p)
{
	struct fan_shared *sh = p->sh;

	if (p->started || !p->kicked || p->ready < sh->s)
		return 0;
	p->started = true;
	p->next = 1;
	pn_traffic_shards(pn_ctx_runtime(ctx), sh->traffic0, sh->nshards + 1);
	sh->base.t0 = pn_now_ns();
	return sh->naive ? pub_naive(ctx, p) : pub_topic(ctx, p);
}

/* impl=pinion, after the last tally: the topic's counters (complete: the
 * home is this shard), then close it. */
static int pub_close(struct pn_ctx *ctx, struct fan_shared *sh)
{
	struct pn_runtime *rt = pn_ctx_runtime(ctx);
	int err;

	sh->stats_err = pn_topic_stats(rt, sh->topic, &sh->stats);
	err = pn_topic_close(rt, sh->topic);
	if (err < 0)
		return bench_fail(&sh->base, err, "topic close: %s",
				  strerror(-err));
	return 0;
}

static int pub_tally(struct pn_ctx *ctx, struct fan_pub *p,
		     const struct pn_msg *m)
{
	const struct fan_done *d = PN_MSG_AS(m, struct fan_done);
	struct fan_shared *sh = p->sh;
	int err;

	if (!d || d->got != sh->n)
		return bench_fail(&sh->base, -EPROTO,
				  "subscriber %llu: %llu messages, "
				  "expected %llu",
				  d ? (unsigned long long)d->i : 0ull,
				  d ? (unsigned long long)d->got : 0ull,
				  (unsigned long long)sh->n);
	p->got += d->got;
	if (d->t_last > p->t_last)
		p->t_last = d->t_last;
	if (++p->done < sh->s) {
		if (p->done % 256 == 0)
			pub_at(p, 0);
		return 0;
	}
	pn_traffic_shards(pn_ctx_runtime(ctx), sh->traffic1, sh->nshards + 1);
	if (!sh->naive && (err = pub_close(ctx, sh)) < 0)
		return err;
	sh->base.t1 = p->t_last;
	sh->base.got = p->got;
	bench_done(&sh->base);
	return PN_STOP;
}

static int pub_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct fan_pub *p = state;

	switch (m->type) {
	case BT_CONT:
		return p->sh->naive ? pub_naive(ctx, p) : pub_topic(ctx, p);
	case PN_MSG_TOPIC_WRITABLE:
	case PN_MSG_WRITABLE:
		if (!p->waiting)
			return 0;
		p->waiting = false;
		return p->sh->naive ? pub_naive(ctx, p) : pub_topic(ctx, p);
	case BT_COUNT:
		return pub_tally(ctx, p, m);
	case BT_HELLO:
		pub_at(p, 0);
		p->ready++;
		return pub_go(ctx, p);
	case BT_KICK:
		p->kicked = true;
		return pub_go(ctx, p);
	case PN_MSG_SHUTDOWN:
		return PN_STOP;
	default:
		return 0;
	}
}

static const struct pn_behaviour pub_b = {
	.name = "fanout-publisher",
	.state_size = sizeof(struct fan_pub),
	.init = bench_actor_init,
	.handle = pub_handle,
};

int fan_spawn_publisher(struct bench_env *e, struct fan_shared *sh, pn_pid *pid)
{
	struct fan_pub p = {.sh = sh};

	return bench_spawn(e, &pub_b, 0, &p, sizeof(p), pid);
}
