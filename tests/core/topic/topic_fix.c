// SPDX-License-Identifier: MIT
/*
 * The topic tests' fixture (see topic_fix.h): the commanded actor tf_b, its
 * log and its on-the-spot checks, payloads, and bounded waits.
 */
#include "topic_fix.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

atomic_bool tf_release;

enum { TS_NONE, TS_PENDING, TS_ON, TS_LEAVING };

struct tf_state {
	struct tf_rec *r;
};

/* --- payloads ---------------------------------------------------------- */

struct tf_hdr {
	uint32_t pub, cnt;
	uint64_t key;
};

static unsigned char fill_byte(uint32_t pub, uint32_t cnt, size_t i)
{
	return (unsigned char)(cnt * 31 + i * 7 + pub * 3 + (i >> 8));
}

void tf_payload(unsigned char *buf, size_t len, uint32_t pub, uint32_t cnt,
		uint64_t key)
{
	struct tf_hdr h = {.pub = pub, .cnt = cnt, .key = key};

	if (len < TF_HDR) {
		for (size_t i = 0; i < len; i++)
			buf[i] = (unsigned char)(key * 13 + i * 5 + 1);
		return;
	}
	memcpy(buf, &h, sizeof(h));
	for (size_t i = TF_HDR; i < len; i++)
		buf[i] = fill_byte(pub, cnt, i);
}

int tf_payload_check(const unsigned char *buf, size_t len, uint32_t *pub,
		     uint32_t *cnt, uint64_t key)
{
	struct tf_hdr h;

	*pub = *cnt = UINT32_MAX;
	if (len < TF_HDR) {
		for (size_t i = 0; i < len; i++)
			if (buf[i] != (unsigned char)(key * 13 + i * 5 + 1))
				return (int)i;
		return -1;
	}
	memcpy(&h, buf, sizeof(h));
	*pub = h.pub;
	*cnt = h.cnt;
	if (h.key != key)
		return 8;
	for (size_t i = TF_HDR; i < len; i++)
		if (buf[i] != fill_byte(h.pub, h.cnt, i))
			return (int)i;
	return -1;
}

/* --- the filter -------------------------------------------------------- */

void tf_filt_init(struct tf_filt *f, uint64_t mod, uint64_t rem)
{
	memset(f, 0, sizeof(*f));
	f->mod = mod;
	f->rem = rem;
	atomic_store(&f->kmin, UINT64_MAX);
}

bool tf_filter(void *arg, uint64_t key, const struct pn_msg *m)
{
	struct tf_filt *f = arg;
	struct tf_hdr h;
	bool pass = key % f->mod != f->rem;

	atomic_fetch_add(&f->calls, 1);
	atomic_store(&f->tid, (int)gettid());
	if (key < atomic_load(&f->kmin))
		atomic_store(&f->kmin, key);
	if (key > atomic_load(&f->kmax))
		atomic_store(&f->kmax, key);
	if (m->type >= PN_MSG_SYS)
		atomic_fetch_add(&f->bad, 1);
	if (m->len >= TF_HDR) {
		memcpy(&h, pn_msg_data(m), sizeof(h));
		if (h.key != key)
			atomic_fetch_add(&f->bad, 1);
	}
	if (pass)
		atomic_fetch_add(&f->passed, 1);
	return pass;
}

/* --- the actor: log and checks ------------------------------------------ */

static struct tf_ent scratch; /* where entries past TF_LOG go */

static struct tf_ent *ent_new(struct pn_ctx *ctx, struct tf_rec *r,
			      uint8_t kind)
{
	unsigned n = atomic_load_explicit(&r->nlog, memory_order_relaxed);
	struct tf_ent *e = &scratch;

	if (n < TF_LOG)
		e = &r->log[n];
	else
		atomic_fetch_add(&r->overflow, 1);
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->shard = (uint16_t)pn_shard(ctx);
	return e;
}

static void ent_commit(struct tf_rec *r, const struct tf_ent *e)
{
	unsigned n = atomic_load_explicit(&r->nlog, memory_order_relaxed);

	if (e != &scratch)
		atomic_store_explicit(&r->nlog, n + 1, memory_order_release);
}

static __attribute__((format(printf, 2, 3))) void bad(struct tf_rec *r,
						      const char *fmt, ...)
{
	va_list ap;

	if (atomic_load(&r->bad) == 0) {
		va_start(ap, fmt);
		vsnprintf(r->why, sizeof(r->why), fmt, ap);
		va_end(ap);
	}
	atomic_fetch_add_explicit(&r->bad, 1, memory_order_release);
}

static struct tf_sub *sub_find(struct tf_rec *r, uint32_t topic, bool create)
{
	struct tf_sub *free_one = NULL;

	for (unsigned i = 0; i < TF_SUBS; i++) {
		if (r->subs[i].state != TS_NONE && r->subs[i].topic == topic)
			return &r->subs[i];
		if (!free_one && r->subs[i].state == TS_NONE)
			free_one = &r->subs[i];
	}
	if (create && free_one) {
		memset(free_one, 0, sizeof(*free_one));
		free_one->topic = topic;
	}
	return create ? free_one : NULL;
}

static bool away(struct pn_ctx *ctx)
{
	return pn_shard(ctx) != pn_pid_shard(pn_self(ctx));
}

static void deliver(struct pn_ctx *ctx, struct tf_rec *r,
		    const struct pn_msg *m, const struct pn_topic_info *ti)
{
	struct tf_ent *e = ent_new(ctx, r, TF_K_DLV);
	struct tf_sub *s = sub_find(r, ti->topic, false);

	e->topic = ti->topic;
	e->seq = ti->seq;
	e->key = ti->key;
	e->gap = ti->gap;
	e->conflated = ti->conflated;
	e->type = m->type;
	e->len = m->len;
	e->from = m->from;
	e->data = (uintptr_t)pn_msg_data(m);
	e->reason = tf_payload_check(pn_msg_data(m), m->len, &e->pub, &e->cnt,
				     ti->key);
	e->ok = m->to == r->self && m->type < PN_MSG_SYS && e->reason < 0;
	if (!e->ok)
		bad(r,
		    "actor %d: topic %u seq %" PRIu64 ": type %#x len %u "
		    "to %#" PRIx64 " (self %#" PRIx64 "), key %#" PRIx64
		    ", payload byte %d wrong (%#x)",
		    r->id, ti->topic, ti->seq, m->type, m->len, m->to, r->self,
		    ti->key, e->reason,
		    e->reason >= 0
			    ? ((const unsigned char *)pn_msg_data(m))[e->reason]
			    : 0);
	if (!s)
		bad(r,
		    "actor %d: topic %u seq %" PRIu64 " delivered while "
		    "not subscribed",
		    r->id, ti->topic, ti->seq);
	else if (s->state == TS_PENDING)
		bad(r,
		    "actor %d: topic %u seq %" PRIu64 " delivered before "
		    "PN_MSG_TOPIC_SUBSCRIBED",
		    r->id, ti->topic, ti->seq);
	else if (ti->seq <= s->start)
		bad(r,
		    "actor %d: topic %u seq %" PRIu64 " at or before "
		    "its start %" PRIu64,
		    r->id, ti->topic, ti->seq, s->start);
	else if (ti->seq <= s->last)
		bad(r,
		    "actor %d: topic %u seq %" PRIu64 " after %" PRIu64
		    " (not increasing)",
		    r->id, ti->topic, ti->seq, s->last);
	if (s && ti->seq > s->last)
		s->last = ti->seq;
	ent_commit(r, e);
	atomic_fetch_add_explicit(&r->ndel, 1, memory_order_release);
}

/* --- publishing --------------------------------------------------------- */

/* The topic's slot in @r's per-topic publish counters (the first
 * TF_SUBS topics; -1 past them). */
static int pub_slot(struct tf_rec *r, uint32_t topic)
{
	for (unsigned i = 0; i < TF_SUBS; i++) {
		if (!atomic_load(&r->pub_n[i]) && !r->pub_used[i]) {
			r->pub_topic[i] = topic;
			r->pub_used[i] = true;
			return (int)i;
		}
		if (r->pub_topic[i] == topic)
			return (int)i;
	}
	return -1;
}

static int pub_one(struct pn_ctx *ctx, struct tf_rec *r, const struct tf_cmd *c)
{
	int slot = pub_slot(r, c->topic);
	uint32_t cnt = slot < 0 ? r->cnt : r->pub_cnt[slot];
	uint64_t key = c->keymode == TF_KEY_CNT	  ? cnt
		       : c->keymode == TF_KEY_MOD ? cnt % c->key
						  : c->key;
	uint32_t type = c->a > 0 ? (uint32_t)c->a : TF_APP;
	size_t len = c->len < TF_BUF ? c->len : TF_BUF;
	int err;

	tf_payload(r->buf, len, (uint32_t)r->id, cnt, key);
	err = pn_topic_publish(ctx, c->topic, type, key, r->buf, len);
	/* The caller keeps its buffer: scribble on it at once. */
	memset(r->buf, 0xee, len < 256 ? len : 256);
	if (len)
		r->buf[len - 1] ^= 0x5a;
	if (err == 0) {
		r->cnt++;
		if (slot >= 0) {
			r->pub_cnt[slot]++;
			atomic_fetch_add_explicit(&r->pub_n[slot], 1,
						  memory_order_release);
		}
		atomic_fetch_add_explicit(&r->published, 1,
					  memory_order_release);
	} else if (err == -EAGAIN) {
		atomic_fetch_add(&r->eagain, 1);
	}
	return err;
}

static int pub_n(struct pn_ctx *ctx, struct tf_rec *r, const struct tf_cmd *c)
{
	for (uint32_t i = 0; i < c->n; i++) {
		int err = pub_one(ctx, r, c);

		if (err)
			return err;
	}
	return 0;
}

static void stream_end(struct pn_ctx *ctx, struct tf_rec *r)
{
	r->stream.left = 0;
	if (r->stream.timer)
		pn_timer_cancel(ctx, r->stream.timer);
	r->stream.timer = 0;
	atomic_store(&r->stream_done, true);
}

static void stream_burst(struct pn_ctx *ctx, struct tf_rec *r)
{
	uint32_t burst = r->stream.c.burst ? r->stream.c.burst : 1;

	if (!r->stream.left || r->stream.waiting)
		return;
	for (uint32_t k = 0; k < burst && r->stream.left; k++) {
		int err = pub_one(ctx, r, &r->stream.c);

		if (err == -EAGAIN) {
			err = pn_topic_notify_writable(ctx, r->stream.c.topic);
			if (err) {
				atomic_store(&r->pub_err, err);
				stream_end(ctx, r);
				return;
			}
			r->stream.waiting = true;
			return;
		}
		if (err) {
			atomic_store(&r->pub_err, err);
			stream_end(ctx, r);
			return;
		}
		r->stream.left--;
	}
	if (!r->stream.left) {
		stream_end(ctx, r);
		return;
	}
	if (!r->stream.timer && !r->stream.kicked &&
	    pn_send(ctx, pn_self(ctx), TF_KICK, NULL, 0) == 0)
		r->stream.kicked = true;
}

static int stream_start(struct pn_ctx *ctx, struct tf_rec *r,
			const struct tf_cmd *c)
{
	int err = 0;

	r->stream.c = *c;
	r->stream.left = c->n;
	r->stream.waiting = false;
	atomic_store(&r->stream_done, c->n == 0);
	if (c->v)
		err = pn_send_every(ctx, c->v, TF_KICK, NULL, 0,
				    &r->stream.timer);
	else
		stream_burst(ctx, r);
	return err;
}

/* --- commands ----------------------------------------------------------- */

static void send_go(struct pn_ctx *ctx, struct tf_rec *r,
		    const struct tf_cmd *g)
{
	int err = pn_send(ctx, g->pid, TF_GO, g, sizeof(*g));

	if (err)
		bad(r, "actor %d: sending GO: %d", r->id, err);
}

static int do_sub(struct pn_ctx *ctx, struct tf_rec *r, const struct tf_cmd *c,
		  uint64_t *start)
{
	const struct pn_topic_sub_opts *o =
		c->opts == TF_OPTS_NULL ? NULL : &r->opts[c->opts % TF_OPTS];
	struct tf_ent *e;
	struct tf_sub *s;
	int rc = pn_topic_subscribe(ctx, c->topic, o, start);

	e = ent_new(ctx, r, TF_K_SUB);
	e->topic = c->topic;
	e->reason = rc;
	e->seq = *start;
	ent_commit(r, e);
	if (rc != 0 && rc != 1)
		return rc;
	s = sub_find(r, c->topic, true);
	if (!s) {
		bad(r, "actor %d: more than %d subscriptions", r->id, TF_SUBS);
		return rc;
	}
	s->state = rc == 0 ? TS_ON : TS_PENDING;
	s->start = s->last = rc == 0 ? *start : 0;
	s->has_go = false;
	if (c->op == TF_SUB && c->a > 0 && pn_migrate(ctx, (unsigned)c->a - 1))
		bad(r, "actor %d: pn_migrate after subscribe: %s", r->id,
		    pn_last_error());
	if (c->op == TF_SUB_GO) {
		struct tf_cmd g = {.op = TF_PUB,
				   .topic = c->topic,
				   .n = c->n,
				   .len = c->len,
				   .keymode = c->keymode,
				   .key = c->key,
				   .pid = c->pid};

		if (rc == 0) {
			send_go(ctx, r, &g);
		} else {
			s->go = g;
			s->has_go = true;
		}
	}
	return rc;
}

static int do_unsub(struct pn_ctx *ctx, struct tf_rec *r, uint32_t topic)
{
	struct tf_ent *e;
	struct tf_sub *s;
	int rc = pn_topic_unsubscribe(ctx, topic);

	e = ent_new(ctx, r, TF_K_UNSUB);
	e->topic = topic;
	e->reason = rc;
	ent_commit(r, e);
	if (rc == 0 && (s = sub_find(r, topic, false)))
		s->state = away(ctx) ? TS_LEAVING : TS_NONE;
	return rc;
}

static void do_block(struct tf_rec *r)
{
	uint64_t end = pn_now_ns() + H_WAIT;

	atomic_store(&r->blocking, true);
	while (!atomic_load(&tf_release)) {
		if (pn_now_ns() > end) {
			atomic_store(&r->block_timeout, true);
			break;
		}
		sched_yield();
	}
	atomic_store(&r->blocking, false);
}

/* Run @c; *ret is what the handler returns. */
static int run(struct pn_ctx *ctx, struct tf_rec *r, const struct tf_cmd *c,
	       uint64_t *start, int *ret)
{
	struct tf_sub *s;
	int err;

	switch (c->op) {
	case TF_NOP:
		return 0;
	case TF_SUB:
	case TF_SUB_GO:
		return do_sub(ctx, r, c, start);
	case TF_UNSUB:
		return do_unsub(ctx, r, c->topic);
	case TF_PUB:
		return pub_n(ctx, r, c);
	case TF_TRY:
		return pn_topic_publish(ctx, c->topic, (uint32_t)c->a, c->key,
					(const void *)(uintptr_t)c->v, c->len);
	case TF_STREAM:
		return stream_start(ctx, r, c);
	case TF_STREAM_END:
		stream_end(ctx, r);
		return 0;
	case TF_WRITABLE:
		return pn_topic_notify_writable(ctx, c->topic);
	case TF_MIGRATE:
		return pn_migrate(ctx, (unsigned)c->a);
	case TF_MIGRATE_PID:
		return pn_migrate_pid(ctx, c->pid, (unsigned)c->a);
	case TF_STOP:
		*ret = PN_STOP;
		return 0;
	case TF_FAIL:
		*ret = c->a;
		return 0;
	case TF_KILL:
		return pn_kill(ctx, c->pid);
	case TF_BLOCK:
		do_block(r);
		return 0;
	case TF_CLOSE:
		return pn_topic_close(pn_ctx_runtime(ctx), c->topic);
	case TF_PUB_CLOSE:
		err = pub_n(ctx, r, c);
		return err ? err
			   : pn_topic_close(pn_ctx_runtime(ctx), c->topic);
	case TF_EXPECT:
		if (!(s = sub_find(r, c->topic, true)))
			return -ENOSPC;
		s->state = TS_ON;
		s->start = s->last = 0;
		return 0;
	}
	return -ENOSYS;
}

static void on_event(struct pn_ctx *ctx, struct tf_rec *r,
		     const struct pn_msg *m, uint8_t kind)
{
	struct tf_ent *e = ent_new(ctx, r, kind);
	struct pn_topic_event ev = {0};
	struct tf_sub *s;

	if (m->len != sizeof(ev))
		bad(r, "actor %d: topic event %#x of %u bytes", r->id, m->type,
		    m->len);
	else
		memcpy(&ev, pn_msg_data(m), sizeof(ev));
	e->topic = ev.topic;
	e->reason = ev.reason;
	e->seq = ev.seq;
	e->from = m->from;
	e->type = m->type;
	ent_commit(r, e);
	s = sub_find(r, ev.topic, false);
	if (kind == TF_K_SUBSCRIBED) {
		if (!s || s->state != TS_PENDING) {
			bad(r, "actor %d: SUBSCRIBED to topic %u unasked",
			    r->id, ev.topic);
			return;
		}
		s->state = TS_ON;
		s->start = s->last = ev.seq;
		if (s->has_go)
			send_go(ctx, r, &s->go);
		s->has_go = false;
	} else if (kind == TF_K_CLOSED) {
		if (!s || s->state == TS_PENDING)
			bad(r,
			    "actor %d: CLOSED (%d) for topic %u while not "
			    "subscribed",
			    r->id, ev.reason, ev.topic);
		else
			s->state = TS_NONE;
	} else if (kind == TF_K_WRITABLE && r->stream.waiting &&
		   ev.topic == r->stream.c.topic) {
		r->stream.waiting = false;
		if (!r->stream.timer)
			stream_burst(ctx, r);
	}
}

static int tf_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct tf_rec *r = ((struct tf_state *)state)->r;
	const struct pn_topic_info *ti = pn_topic_delivery(ctx);
	struct tf_cmd c;
	struct tf_ent *e;
	uint64_t start = 0;
	int ret = 0, rc;

	atomic_store(&r->ctx, ctx);
	atomic_store(&r->tid, (int)gettid());
	atomic_store(&r->shard, pn_shard(ctx));
	if (ti) {
		deliver(ctx, r, m, ti);
		return 0;
	}
	if (m->type < PN_MSG_SYS && m->type >= TF_APP)
		bad(r, "actor %d: type %#x without pn_topic_delivery()", r->id,
		    m->type);
	switch (m->type) {
	case PN_MSG_STARTED:
		r->self = pn_self(ctx);
		atomic_store(&r->started, true);
		return 0;
	case TF_CMD:
	case TF_GO:
		if (m->len != sizeof(c)) {
			bad(r, "actor %d: command of %u bytes", r->id, m->len);
			return 0;
		}
		memcpy(&c, pn_msg_data(m), sizeof(c));
		rc = run(ctx, r, &c, &start, &ret);
		if (m->type == TF_CMD) {
			unsigned k = atomic_load(&r->nrc);

			if (k < TF_RC) {
				r->rc[k] = rc;
				r->start[k] = start;
				atomic_store_explicit(&r->nrc, k + 1,
						      memory_order_release);
			}
		} else if (rc) {
			bad(r, "actor %d: GO op %u: %d", r->id, c.op, rc);
		}
		return ret;
	case TF_KICK:
		r->stream.kicked = false;
		stream_burst(ctx, r);
		return 0;
	case PN_MSG_TOPIC_SUBSCRIBED:
		on_event(ctx, r, m, TF_K_SUBSCRIBED);
		return 0;
	case PN_MSG_TOPIC_WRITABLE:
		on_event(ctx, r, m, TF_K_WRITABLE);
		return 0;
	case PN_MSG_TOPIC_CLOSED:
		on_event(ctx, r, m, TF_K_CLOSED);
		return 0;
	case PN_MSG_MIGRATED: {
		struct pn_migrated d;

		memcpy(&d, pn_msg_data(m), sizeof(d));
		e = ent_new(ctx, r, TF_K_MIGRATED);
		e->reason = d.status;
		e->key = d.to;
		ent_commit(r, e);
		return 0;
	}
	case PN_MSG_SHUTDOWN:
		if (!r->keep_on_shutdown)
			stream_end(ctx, r);
		return 0;
	}
	return 0;
}

static int tf_init_cb(struct pn_ctx *ctx, void *state, const void *arg,
		      size_t len)
{
	struct tf_state *s = state;

	(void)ctx;
	if (len != sizeof(s->r))
		return -EINVAL;
	memcpy(&s->r, arg, sizeof(s->r));
	return 0;
}

static void tf_cleanup(struct pn_ctx *ctx, void *state, int reason)
{
	struct tf_rec *r = ((struct tf_state *)state)->r;
	struct tf_ent *e = ent_new(ctx, r, TF_K_CLEANUP);

	e->reason = reason;
	ent_commit(r, e);
	r->cleanup_reason = reason;
	r->cleanups++;
}

const struct pn_behaviour tf_b = {
	.name = "topic-actor",
	.state_size = sizeof(struct tf_state),
	.init = tf_init_cb,
	.handle = tf_handle,
	.cleanup = tf_cleanup,
};
