// SPDX-License-Identifier: MIT
/*
 * The topic tests' fixture, the test thread's side (see topic_fix.h):
 * spawning and commanding tf_b actors, bounded waits, reading their logs.
 */
#include "topic_fix.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

void tf_config(struct pn_config *c)
{
	h_config(c);
	c->watchdog_ns = 0; /* the policy tests block shards on purpose */
}

void tf_init(struct tf_rec *r, int id)
{
	memset(r, 0, sizeof(*r));
	r->id = id;
	r->cleanup_reason = -1;
}

static bool started(void *arg)
{
	return atomic_load(&((struct tf_rec *)arg)->started);
}

pn_pid tf_spawn(struct tf_rec *r, int shard)
{
	pn_pid pid = h_spawn(&tf_b, shard, &r, sizeof(r));

	tf_until(started, r, "an actor's PN_MSG_STARTED");
	assert_true(r->self == pid);
	return pid;
}

void tf_send(struct tf_rec *r, struct tf_cmd c)
{
	h_send(r->self, TF_CMD, &c, sizeof(c));
}

struct rc_wait {
	struct tf_rec *r;
	unsigned k;
};

static bool rc_done(void *arg)
{
	struct rc_wait *w = arg;

	return atomic_load_explicit(&w->r->nrc, memory_order_acquire) > w->k;
}

int tf_result(struct tf_rec *r, unsigned k)
{
	struct rc_wait w = {r, k};

	assert_true(k < TF_RC);
	tf_until(rc_done, &w, "a command's result");
	return r->rc[k];
}

int tf_do(struct tf_rec *r, struct tf_cmd c)
{
	unsigned k = atomic_load(&r->nrc);

	tf_send(r, c);
	return tf_result(r, k);
}

int tf_sub(struct tf_rec *r, uint32_t topic, unsigned opts, uint64_t *start)
{
	unsigned k = atomic_load(&r->nrc);
	int rc = tf_do(r, (struct tf_cmd){.op = TF_SUB,
					  .topic = topic,
					  .opts = (uint16_t)opts});

	if (start)
		*start = r->start[k];
	return rc;
}

int tf_unsub(struct tf_rec *r, uint32_t topic)
{
	return tf_do(r, (struct tf_cmd){.op = TF_UNSUB, .topic = topic});
}

int tf_pub(struct tf_rec *r, uint32_t topic, uint32_t n, uint32_t len)
{
	return tf_do(r,
		     (struct tf_cmd){
			     .op = TF_PUB, .topic = topic, .n = n, .len = len});
}

void tf_until(bool (*cond)(void *), void *arg, const char *what)
{
	if (!h_until(cond, arg, H_WAIT)) {
		print_message("waited %llu s for %s\n",
			      (unsigned long long)(H_WAIT / H_SEC), what);
		fail();
	}
}

struct n_wait {
	struct tf_rec *r;
	unsigned n;
	uint8_t kind;
	uint32_t topic;
	int at;
};

static bool ndel_reached(void *arg)
{
	struct n_wait *w = arg;

	return atomic_load_explicit(&w->r->ndel, memory_order_acquire) >= w->n;
}

void tf_wait_ndel(struct tf_rec *r, unsigned n)
{
	struct n_wait w = {.r = r, .n = n};

	if (!h_until(ndel_reached, &w, H_WAIT)) {
		print_message("actor %d: %u deliveries of %u\n", r->id,
			      atomic_load(&r->ndel), n);
		fail();
	}
}

static bool kind_logged(void *arg)
{
	struct n_wait *w = arg;

	w->at = tf_find(w->r, w->kind, w->topic, 0, w->n);
	return w->at >= 0;
}

int tf_wait_nth(struct tf_rec *r, uint8_t kind, uint32_t topic, unsigned k)
{
	struct n_wait w = {
		.r = r, .n = k, .kind = kind, .topic = topic, .at = -1};

	if (!h_until(kind_logged, &w, H_WAIT)) {
		print_message("actor %d: %u log entries of kind %u for topic "
			      "%u, waiting for %u\n",
			      r->id, tf_count(r, kind, topic, 0), kind, topic,
			      k + 1);
		fail();
	}
	return w.at;
}

int tf_wait_kind(struct tf_rec *r, uint8_t kind, uint32_t topic)
{
	return tf_wait_nth(r, kind, topic, 0);
}

unsigned tf_count_pub(const struct tf_rec *r, uint32_t topic, unsigned from,
		      uint32_t pub)
{
	unsigned n = atomic_load_explicit(&r->nlog, memory_order_acquire);
	unsigned k = 0;

	for (unsigned i = from; i < n; i++)
		k += r->log[i].kind == TF_K_DLV && r->log[i].topic == topic &&
		     r->log[i].pub == pub;
	return k;
}

struct pub_wait {
	struct tf_rec *r;
	uint32_t topic, pub;
	unsigned from, want;
};

static bool pub_arrived(void *arg)
{
	struct pub_wait *w = arg;

	return tf_count_pub(w->r, w->topic, w->from, w->pub) >= w->want;
}

void tf_wait_pub(struct tf_rec *r, uint32_t topic, unsigned from, uint32_t pub,
		 unsigned want)
{
	struct pub_wait w = {r, topic, pub, from, want};

	if (!h_until(pub_arrived, &w, H_WAIT)) {
		print_message("actor %d: %u of %u messages of publisher %u\n",
			      r->id, tf_count_pub(r, topic, from, pub), want,
			      pub);
		fail();
	}
}

static bool is_blocking(void *arg)
{
	return atomic_load(&((struct tf_rec *)arg)->blocking);
}

void tf_wait_blocking(struct tf_rec *r)
{
	tf_until(is_blocking, r, "a blocking handler to start");
}

static bool stream_over(void *arg)
{
	return atomic_load(&((struct tf_rec *)arg)->stream_done);
}

void tf_wait_stream(struct tf_rec *r)
{
	tf_until(stream_over, r, "a stream to end");
}

int tf_find(const struct tf_rec *r, uint8_t kind, uint32_t topic, unsigned from,
	    unsigned k)
{
	unsigned n = atomic_load_explicit(&r->nlog, memory_order_acquire);

	for (unsigned i = from; i < n; i++)
		if (r->log[i].kind == kind &&
		    (kind == TF_K_MIGRATED || kind == TF_K_CLEANUP ||
		     r->log[i].topic == topic) &&
		    k-- == 0)
			return (int)i;
	return -1;
}

unsigned tf_count(const struct tf_rec *r, uint8_t kind, uint32_t topic,
		  unsigned from)
{
	unsigned n = 0;

	while (tf_find(r, kind, topic, from, n) >= 0)
		n++;
	return n;
}

const struct tf_ent *tf_last(const struct tf_rec *r, uint32_t topic)
{
	unsigned n = atomic_load_explicit(&r->nlog, memory_order_acquire);

	for (unsigned i = n; i-- > 0;)
		if (r->log[i].kind == TF_K_DLV && r->log[i].topic == topic)
			return &r->log[i];
	return NULL;
}

void tf_assert_clean(const struct tf_rec *r)
{
	if (atomic_load_explicit(&r->bad, memory_order_acquire))
		print_message("actor %d: %u violation(s), the first: %s\n",
			      r->id, atomic_load(&r->bad), r->why);
	assert_int_equal(atomic_load(&r->bad), 0);
	assert_int_equal(atomic_load(&r->overflow), 0);
	assert_false(atomic_load(&r->block_timeout));
}

unsigned tf_assert_window(const struct tf_rec *r, uint32_t topic, unsigned from,
			  uint64_t start, uint64_t end)
{
	return tf_assert_range(r, topic, from, UINT_MAX, start, end);
}

unsigned tf_assert_range(const struct tf_rec *r, uint32_t topic, unsigned from,
			 unsigned to, uint64_t start, uint64_t end)
{
	unsigned n = atomic_load_explicit(&r->nlog, memory_order_acquire);
	uint32_t last_cnt[TF_NPUBS];
	uint64_t prev = start;
	unsigned got = 0;

	memset(last_cnt, 0xff, sizeof(last_cnt));
	if (to < n)
		n = to;
	for (unsigned i = from; i < n; i++) {
		const struct tf_ent *e = &r->log[i];

		if (e->topic != topic)
			continue;
		if (e->kind == TF_K_UNSUB || e->kind == TF_K_CLOSED)
			break;
		if (e->kind != TF_K_DLV)
			continue;
		if (e->seq != prev + 1 || e->gap || e->conflated || !e->ok)
			print_message("actor %d, entry %u: seq %" PRIu64
				      " (expected %" PRIu64 ") gap %u "
				      "conflated %u ok %u len %u type %#x "
				      "from %#" PRIx64 " (%u violations: %s)\n",
				      r->id, i, e->seq, prev + 1, e->gap,
				      e->conflated, e->ok, e->len, e->type,
				      e->from, atomic_load(&r->bad),
				      atomic_load(&r->bad) ? r->why : "");
		assert_int_equal(e->seq, prev + 1);
		assert_int_equal(e->gap, 0);
		assert_int_equal(e->conflated, 0);
		assert_true(e->ok);
		if (e->pub < TF_NPUBS) {
			if (last_cnt[e->pub] != UINT32_MAX &&
			    e->cnt != last_cnt[e->pub] + 1)
				print_message("actor %d, entry %u: publisher %u"
					      " counter %u after %u\n",
					      r->id, i, e->pub, e->cnt,
					      last_cnt[e->pub]);
			if (last_cnt[e->pub] != UINT32_MAX)
				assert_int_equal(e->cnt, last_cnt[e->pub] + 1);
			last_cnt[e->pub] = e->cnt;
		}
		prev = e->seq;
		got++;
	}
	if (end && prev != end)
		print_message("actor %d: topic %u window from %" PRIu64
			      " ended at %" PRIu64 ", expected %" PRIu64 "\n",
			      r->id, topic, start, prev, end);
	if (end)
		assert_int_equal(prev, end);
	return got;
}

struct pn_topic_stats tf_stats(uint32_t id)
{
	struct pn_topic_stats st;

	memset(&st, 0, sizeof(st));
	assert_int_equal(pn_topic_stats(h_rt, id, &st), 0);
	return st;
}

uint32_t tf_open(const char *name, unsigned home, uint32_t max_lag)
{
	struct pn_topic_opts o = {.home = home, .max_lag = max_lag};
	uint32_t id = 0;
	int err = pn_topic_open(h_rt, name, &o, &id);

	if (err)
		print_message("pn_topic_open(%s): %d %s\n", name, err,
			      pn_last_error());
	assert_int_equal(err, 0);
	return id;
}

struct st_wait {
	uint32_t id;
	uint64_t delivered, filtered;
	struct pn_topic_stats st;
};

static bool stats_reached(void *arg)
{
	struct st_wait *w = arg;

	return pn_topic_stats(h_rt, w->id, &w->st) == 0 &&
	       w->st.delivered >= w->delivered && w->st.filtered >= w->filtered;
}

struct pn_topic_stats tf_stats_reach(uint32_t id, uint64_t delivered,
				     uint64_t filtered)
{
	struct st_wait w = {
		.id = id, .delivered = delivered, .filtered = filtered};

	if (!h_until(stats_reached, &w, H_WAIT)) {
		print_message("topic %u: delivered %" PRIu64 " of %" PRIu64
			      ", filtered %" PRIu64 " of %" PRIu64 "\n",
			      id, w.st.delivered, delivered, w.st.filtered,
			      filtered);
		fail();
	}
	return w.st;
}

struct sub_wait {
	uint32_t id, n;
	struct pn_topic_stats st;
};

static bool subscribers_are(void *arg)
{
	struct sub_wait *w = arg;

	return pn_topic_stats(h_rt, w->id, &w->st) == 0 &&
	       w->st.subscribers == w->n;
}

void tf_wait_subscribers(uint32_t id, uint32_t n)
{
	struct sub_wait w = {.id = id, .n = n};

	if (!h_until(subscribers_are, &w, H_WAIT)) {
		print_message("topic %u: %u subscribers, expected %u\n", id,
			      w.st.subscribers, n);
		fail();
	}
}

static bool seq_reached(void *arg)
{
	struct sub_wait *w = arg;

	return pn_topic_stats(h_rt, w->id, &w->st) == 0 && w->st.seq >= w->n;
}

void tf_wait_seq(uint32_t id, uint64_t seq)
{
	struct sub_wait w = {.id = id, .n = (uint32_t)seq};

	if (!h_until(seq_reached, &w, H_WAIT)) {
		print_message("topic %u: seq %" PRIu64 ", expected %" PRIu64
			      "\n",
			      id, w.st.seq, seq);
		fail();
	}
	assert_int_equal(w.st.seq, seq);
}

struct last_wait {
	struct tf_rec *r;
	uint32_t topic;
	uint64_t seq;
};

static bool last_reached(void *arg)
{
	struct last_wait *w = arg;
	const struct tf_ent *e = tf_last(w->r, w->topic);

	return e && e->seq >= w->seq;
}

void tf_wait_last(struct tf_rec *r, uint32_t topic, uint64_t seq)
{
	struct last_wait w = {r, topic, seq};
	const struct tf_ent *e;

	if (!h_until(last_reached, &w, H_WAIT)) {
		e = tf_last(r, topic);
		print_message("actor %d: topic %u: last seq %" PRIu64
			      ", waiting for %" PRIu64 "\n",
			      r->id, topic, e ? e->seq : 0, seq);
		fail();
	}
}

uint32_t tf_published(const struct tf_rec *r, uint32_t topic)
{
	for (unsigned i = 0; i < TF_SUBS; i++) {
		uint32_t n = atomic_load_explicit(&r->pub_n[i],
						  memory_order_acquire);

		if (n && r->pub_topic[i] == topic)
			return n;
	}
	return 0;
}

void tf_print_stats(const char *what, const struct pn_topic_stats *st)
{
	print_message(
		"%s: %s home %u seq %" PRIu64 " refused %" PRIu64
		" delivered %" PRIu64 " filtered %" PRIu64 " dropped %" PRIu64
		" conflated %" PRIu64 " slots %" PRIu64 " disconnects %" PRIu64
		" subscribers %u channels %u "
		"max_lag %" PRIu64 "\n",
		what, st->name, st->home, st->seq, st->refused, st->delivered,
		st->filtered, st->dropped, st->conflated, st->slots,
		st->disconnects, st->subscribers, st->channels, st->max_lag);
}

int tf_teardown(void **state)
{
	atomic_store(&tf_release, true);
	return h_teardown(state);
}
