// SPDX-License-Identifier: MIT
/*
 * Topics: the runtime's table of them (open, find, close, list, counters),
 * the handler and external entry points, and the feature that registers
 * topic/ with the scheduler. The home shard's fan-out is publish.c; the
 * destination shards' side, subscriptions and delivery, is deliver.c.
 *
 * The table is fixed at runtime creation (cfg.max_topics entries). Open
 * and close run under its mutex on any thread: cold paths. An entry's
 * fields are written under the mutex while it is FREE and published by
 * the release store that makes it OPEN; every other thread reads state
 * with acquire before it reads them. An entry goes back to FREE only on
 * its home shard, once every shard has swept the closed topic away
 * (publish.c), so that nothing refers to it any more.
 */
#include "topic_int.h"

#include <errno.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_LAG 1024u
#define MAX_LAG	    (1u << 20)

struct pn__topic *pn__topic_get(const struct pn_runtime *rt, uint32_t id,
				const char *what)
{
	const struct pn__topics *T = rt->topics;
	uint32_t idx = PN__TID_IDX(id);
	struct pn__topic *t;

	if (!T || !id || idx >= T->max) {
		pn__error(-ENOENT, "%s: no topic %#x", what, id);
		return NULL;
	}
	t = &T->t[idx];
	/* Acquire: pairs with the release that opened it (the fields). */
	if (atomic_load_explicit(&t->state, memory_order_acquire) !=
		    PN__T_OPEN ||
	    atomic_load_explicit(&t->gen, memory_order_relaxed) !=
		    PN__TID_GEN(id)) {
		pn__error(-ENOENT, "%s: topic %#x is not open", what, id);
		return NULL;
	}
	return t;
}

static int name_check(const char *name)
{
	size_t n = name ? strnlen(name, PN_TOPIC_NAME_MAX) : 0;

	if (n == 0 || n >= PN_TOPIC_NAME_MAX)
		return pn__error(-EINVAL, "topic name: %s (1 to %d bytes)",
				 n ? "too long" : "empty",
				 PN_TOPIC_NAME_MAX - 1);
	return 0;
}

/* The open topic called @name (under the mutex), or -1. */
static int name_find(const struct pn__topics *T, const char *name)
{
	for (uint32_t i = 0; i < T->max; i++)
		if (atomic_load_explicit(&T->t[i].state,
					 memory_order_relaxed) == PN__T_OPEN &&
		    !strcmp(T->t[i].name, name))
			return (int)i;
	return -1;
}

static int opts_home(const struct pn_runtime *rt, const struct pn_topic_opts *o,
		     unsigned *home)
{
	const struct pn_shard *self = pn__self_shard;

	if (!o || (int)o->home == PN_SHARD_ANY) {
		*home = self && self->rt == rt ? self->id : 0;
		return 0;
	}
	if (o->home >= rt->nshards)
		return pn__error(-EINVAL, "topic home shard %u: there are %u",
				 o->home, rt->nshards);
	*home = o->home;
	return 0;
}

/* Make free entry @t topic @name (under the mutex). */
static int topic_init(struct pn_runtime *rt, struct pn__topic *t,
		      const char *name, unsigned home, uint32_t lag)
{
	size_t n = (size_t)rt->nshards * PN_TOPIC_NPOLICIES;

	t->chan = calloc(n, sizeof(*t->chan));
	if (!t->chan)
		return pn__error(-ENOMEM, "no memory for a topic");
	strcpy(t->name, name);
	t->home = home;
	t->max_lag = lag;
	/* Relaxed: published by the release store of state (open). */
	atomic_store_explicit(&t->seq, 0, memory_order_relaxed);
	atomic_store_explicit(&t->refused, 0, memory_order_relaxed);
	atomic_store_explicit(&t->slots, 0, memory_order_relaxed);
	atomic_store_explicit(&t->dropped, 0, memory_order_relaxed);
	atomic_store_explicit(&t->conflated, 0, memory_order_relaxed);
	atomic_store_explicit(&t->gone_delivered, 0, memory_order_relaxed);
	atomic_store_explicit(&t->gone_filtered, 0, memory_order_relaxed);
	atomic_store_explicit(&t->gone_cuts, 0, memory_order_relaxed);
	atomic_store_explicit(&t->members, 0, memory_order_relaxed);
	atomic_store_explicit(&t->fwd, 0, memory_order_relaxed);
	t->members_seen = 0;
	t->ndest = 0;
	t->acks = 0;
	t->close_wait = t->closed = false;
	return 0;
}

int pn_topic_open(struct pn_runtime *rt, const char *name,
		  const struct pn_topic_opts *opts, uint32_t *id)
{
	struct pn__topics *T = rt ? rt->topics : NULL;
	uint32_t lag = opts && opts->max_lag ? opts->max_lag : DEFAULT_LAG;
	unsigned home = 0;
	int err, i;

	if (!T || !id)
		return pn__error(-EINVAL, "pn_topic_open: no runtime or id");
	if ((err = name_check(name)) || (err = opts_home(rt, opts, &home)))
		return err;
	if (lag > MAX_LAG)
		return pn__error(-EINVAL, "max_lag %u: at most %u", lag,
				 MAX_LAG);
	if (pn__rt_closing(rt))
		return pn__error(-ESHUTDOWN, "pn_topic_open: shutting down");
	pthread_mutex_lock(&T->mu);
	if ((i = name_find(T, name)) < 0) {
		for (i = 0; i < (int)T->max; i++)
			if (atomic_load_explicit(&T->t[i].state,
						 memory_order_acquire) ==
			    PN__T_FREE)
				break;
		if (i == (int)T->max)
			err = pn__error(-ENFILE, "%u topics open (max_topics)",
					T->max);
		else if (!(err = topic_init(rt, &T->t[i], name, home, lag)))
			/* Release: the fields above, to pn__topic_get(). */
			atomic_store_explicit(&T->t[i].state, PN__T_OPEN,
					      memory_order_release);
	}
	if (!err)
		*id = PN__TID((uint32_t)i,
			      atomic_load_explicit(&T->t[i].gen,
						   memory_order_relaxed));
	pthread_mutex_unlock(&T->mu);
	return err;
}

int pn_topic_find(const struct pn_runtime *rt, const char *name, uint32_t *id)
{
	struct pn__topics *T = rt ? rt->topics : NULL;
	int err, i;

	if (!T || !id)
		return pn__error(-EINVAL, "pn_topic_find: no runtime or id");
	if ((err = name_check(name)))
		return err;
	pthread_mutex_lock(&T->mu);
	if ((i = name_find(T, name)) >= 0)
		*id = PN__TID((uint32_t)i,
			      atomic_load_explicit(&T->t[i].gen,
						   memory_order_relaxed));
	pthread_mutex_unlock(&T->mu);
	return i >= 0 ? 0 : pn__error(-ENOENT, "no topic %s", name);
}

int pn_topic_close(struct pn_runtime *rt, uint32_t id)
{
	struct pn__topics *T = rt ? rt->topics : NULL;
	struct pn__topic *t;
	struct pn_shard *self = pn__self_shard;
	int err = 0;

	if (!T)
		return pn__error(-EINVAL, "pn_topic_close: no runtime");
	pthread_mutex_lock(&T->mu);
	if ((t = pn__topic_get(rt, id, "pn_topic_close")))
		/* seq_cst: the close's Dekker pair with a subscribe's
		 * install, whose members bump is seq_cst too; the home
		 * reads members after this (publish.c, home_close). */
		atomic_store_explicit(&t->state, PN__T_CLOSING,
				      memory_order_seq_cst);
	pthread_mutex_unlock(&T->mu);
	if (!t)
		return -ENOENT;
	if (self && self->rt == rt) {
		struct pn_msg m = {.type = PN__MSG_TOPIC_CLOSING,
				   .to = PN__TDST(t->home)};
		uint32_t idx = PN__TID_IDX(id);

		memcpy(m.data, &idx, sizeof(idx));
		pn__topic_post(self, t->home, &m);
	} else {
		uint32_t idx = PN__TID_IDX(id);

		err = pn__runtime_send_sys(rt, PN__TDST(t->home),
					   PN__MSG_TOPIC_CLOSING, &idx,
					   sizeof(idx), PN_FOREVER);
	}
	/* Not sent (shutting down): the join sweep frees the topic. */
	return err == -ESHUTDOWN ? 0 : err;
}

int pn_topic_next(const struct pn_runtime *rt, uint32_t prev, uint32_t *id)
{
	const struct pn__topics *T = rt ? rt->topics : NULL;

	if (!T || !id)
		return pn__error(-EINVAL, "pn_topic_next: no runtime or id");
	for (uint32_t i = prev ? PN__TID_IDX(prev) + 1 : 0; i < T->max; i++)
		if (atomic_load_explicit(&T->t[i].state,
					 memory_order_acquire) == PN__T_OPEN) {
			*id = PN__TID(
				i, atomic_load_explicit(&T->t[i].gen,
							memory_order_relaxed));
			return 0;
		}
	return -ENOENT;
}

/* One channel's counters into @out (relaxed: a snapshot). */
static void stats_chan(const struct pn__tchan *c, struct pn_topic_stats *out)
{
	uint64_t sent = atomic_load_explicit(&c->sent, memory_order_relaxed);
	uint64_t done = atomic_load_explicit(&c->done, memory_order_relaxed);

	out->delivered +=
		atomic_load_explicit(&c->delivered, memory_order_relaxed);
	out->filtered +=
		atomic_load_explicit(&c->filtered, memory_order_relaxed);
	out->subscribers +=
		atomic_load_explicit(&c->nsubs, memory_order_relaxed);
	out->disconnects +=
		atomic_load_explicit(&c->cuts, memory_order_relaxed);
	out->channels++;
	if (sent > done && sent - done > out->max_lag)
		out->max_lag = sent - done;
}

int pn_topic_stats(const struct pn_runtime *rt, uint32_t id,
		   struct pn_topic_stats *out)
{
	struct pn__topic *t;
	struct pn__topics *T = rt ? rt->topics : NULL;

	if (!out)
		return pn__error(-EINVAL, "pn_topic_stats: no output");
	if (!T)
		return pn__error(-ENOENT, "pn_topic_stats: no topics");
	/* The mutex keeps a closing topic's channels from being freed. */
	pthread_mutex_lock(&T->mu);
	if (!(t = pn__topic_get(rt, id, "pn_topic_stats"))) {
		pthread_mutex_unlock(&T->mu);
		return -ENOENT;
	}
	*out = (struct pn_topic_stats){.home = t->home};
	strcpy(out->name, t->name);
	out->seq = atomic_load_explicit(&t->seq, memory_order_relaxed);
	out->refused = atomic_load_explicit(&t->refused, memory_order_relaxed);
	out->slots = atomic_load_explicit(&t->slots, memory_order_relaxed);
	out->dropped = atomic_load_explicit(&t->dropped, memory_order_relaxed);
	out->conflated =
		atomic_load_explicit(&t->conflated, memory_order_relaxed);
	out->delivered =
		atomic_load_explicit(&t->gone_delivered, memory_order_relaxed);
	out->filtered =
		atomic_load_explicit(&t->gone_filtered, memory_order_relaxed);
	out->disconnects =
		atomic_load_explicit(&t->gone_cuts, memory_order_relaxed);
	for (size_t i = 0; i < (size_t)rt->nshards * PN_TOPIC_NPOLICIES; i++) {
		/* Acquire: pairs with the installing release (deliver.c). */
		const struct pn__tchan *c =
			atomic_load_explicit(&t->chan[i], memory_order_acquire);

		if (c)
			stats_chan(c, out);
	}
	pthread_mutex_unlock(&T->mu);
	return 0;
}

/* --- publishing ---------------------------------------------------------- */

static int pub_check(uint32_t type, const void *data, size_t len,
		     const char *what)
{
	if (type >= PN_MSG_SYS)
		return pn__error(-EINVAL, "%s: type %#x is the runtime's", what,
				 type);
	if (!data && len)
		return pn__error(-EINVAL, "%s: %zu-byte payload at NULL", what,
				 len);
	if (len > PN_MSG_MAX)
		return pn__error(-EMSGSIZE, "%s: %zu bytes, over PN_MSG_MAX",
				 what, len);
	return 0;
}

/* A payload over @inl bytes in a fresh buffer (one reference); NULL
 * and -ENOMEM set if there is no memory. @s NULL: from outside. */
static struct pn__tbuf *tbuf_new(struct pn_shard *s, const void *data,
				 size_t len)
{
	size_t n = sizeof(struct pn__tbuf) + len;
	struct pn__tbuf *b = s ? pn__buf_alloc(s, n) : pn__buf_malloc(n);

	if (!b) {
		pn__error(-ENOMEM, "no memory for a %zu-byte payload", len);
		return NULL;
	}
	/* Relaxed: published with the message that carries it. */
	atomic_init(&b->refs, 1);
	b->len = (uint32_t)len;
	memcpy(b->data, data, len);
	return b;
}

void pn__tbuf_put(struct pn_shard *s, struct pn__tbuf *b)
{
	/* acq_rel: every reader's use of the payload happens before the
	 * last one's free (the classic reference count). */
	if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
		pn__buf_free(s, b);
}

/* The FWD message of a publish that goes through the home (publish.c has
 * the layout); with @inl of payload inline, else in *@b. */
static int fwd_build(struct pn_shard *s, struct pn_msg *m, uint32_t id,
		     uint32_t type, uint64_t key, const void *data, size_t len)
{
	uint32_t n = (uint32_t)len;

	if (len > 12) {
		struct pn__tbuf *b = tbuf_new(s, data, len);

		if (!b)
			return -ENOMEM;
		m->ptr = b;
	} else if (len) {
		memcpy(m->data, data, len);
	}
	memcpy(m->data + 12, &n, sizeof(n));
	memcpy(m->data + 16, &key, sizeof(key));
	memcpy(m->data + 24, &type, sizeof(type));
	memcpy(m->data + 28, &id, sizeof(id));
	return 0;
}

/* Take a place for a forwarded publish (at most max_lag wait). Relaxed
 * CAS: the count orders nothing (the message carries the data). */
static bool fwd_take(struct pn__topic *t)
{
	uint32_t n = atomic_load_explicit(&t->fwd, memory_order_relaxed);

	do {
		if (n >= t->max_lag)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&t->fwd, &n, n + 1,
							memory_order_relaxed,
							memory_order_relaxed));
	return true;
}

static void fwd_undo(struct pn__topic *t)
{
	atomic_fetch_sub_explicit(&t->fwd, 1, memory_order_relaxed);
}

int pn_topic_publish(struct pn_ctx *ctx, uint32_t id, uint32_t type,
		     uint64_t key, const void *data, size_t len)
{
	struct pn_shard *s = pn__shard(ctx);
	struct pn__topic *t;
	struct pn_msg m = {0};
	int err;

	PN__CTX_CHECK(s, "pn_topic_publish");
	m.from = s->cur ? s->cur->pid : PN_PID_NONE;
	if ((err = pub_check(type, data, len, "pn_topic_publish")) ||
	    !(t = pn__topic_get(s->rt, id, "pn_topic_publish")))
		return err ? err : -ENOENT;
	if (t->home == s->id) {
		m.type = PN__MSG_TOPIC_SLOT;
		m.len = (uint32_t)len;
		memcpy(m.data + 16, &key, sizeof(key));
		memcpy(m.data + 24, &type, sizeof(type));
		if (len > PN_TOPIC_INLINE) {
			if (!(m.ptr = tbuf_new(s, data, len)))
				return -ENOMEM;
		} else if (len) { /* @data may be NULL with 0 */
			memcpy(m.data, data, len);
		}
		err = pn__topic_publish_home(s, t, PN__TID_IDX(id), &m);
		if (len > PN_TOPIC_INLINE)
			pn__tbuf_put(s, m.ptr); /* the publisher's reference */
		return err;
	}
	if (!fwd_take(t)) {
		atomic_fetch_add_explicit(&t->refused, 1, memory_order_relaxed);
		return pn__error(-EAGAIN,
				 "topic %s: %u publishes wait at its "
				 "home",
				 t->name, t->max_lag);
	}
	m.type = PN__MSG_TOPIC_FWD;
	m.len = PN_MSG_INLINE;
	m.to = PN__TDST(t->home);
	if ((err = fwd_build(s, &m, id, type, key, data, len)) < 0) {
		fwd_undo(t);
		return err;
	}
	pn__topic_post(s, t->home, &m);
	return 0;
}

void pn__topic_post(struct pn_shard *s, unsigned dst, const struct pn_msg *m)
{
	struct pn__res r;

	if (pn__msg_reserve(s, dst, m->len, true, &r) < 0)
		pn_panic("cannot send a topic message: %s", pn_last_error());
	*r.m = *m;
	pn__msg_commit(s, dst, &r);
}

/* --- from outside -------------------------------------------------------- */

struct ext_pub {
	struct pn__topic *t;
	uint32_t id;
	struct pn_msg m;
	uint64_t deadline;
};

/* Wait for a place among the forwarded publishes, until the deadline:
 * counted among the sleepers, then a fresh look (seq_cst: the Dekker pair
 * with the home's fwd_release, publish.c), then the futex, which checks
 * fwd again in the kernel. */
static int fwd_wait(struct pn_runtime *rt, struct ext_pub *a)
{
	struct pn__topic *t = a->t;

	while (!fwd_take(t)) {
		uint64_t now = pn_now_ns();
		uint32_t n;
		struct timespec ts;

		if (now >= a->deadline)
			return pn__error(a->deadline ? -ETIMEDOUT : -EAGAIN,
					 "topic %s: %u publishes wait at its "
					 "home",
					 t->name, t->max_lag);
		atomic_fetch_add_explicit(&t->fwd_sleepers, 1,
					  memory_order_seq_cst);
		n = atomic_load_explicit(&t->fwd, memory_order_seq_cst);
		if (n >= t->max_lag && !pn__rt_closing(rt) &&
		    atomic_load_explicit(&t->state, memory_order_relaxed) ==
			    PN__T_OPEN) {
			uint64_t left = a->deadline - now;

			if (left > 1000000000ull) /* a bound per sleep */
				left = 1000000000ull;
			ts.tv_sec = (time_t)(left / 1000000000ull);
			ts.tv_nsec = (long)(left % 1000000000ull);
			syscall(SYS_futex, (uint32_t *)&t->fwd,
				FUTEX_WAIT_PRIVATE, n, &ts, NULL, 0);
		}
		atomic_fetch_sub_explicit(&t->fwd_sleepers, 1,
					  memory_order_relaxed);
		if (pn__rt_closing(rt))
			return pn__error(-ESHUTDOWN, "shutting down");
		if (!pn__topic_get(rt, a->id, "pn_topic_publish_ext"))
			return -ENOENT;
	}
	return 0;
}

static int ext_pub_fn(struct pn_producer *p, void *arg)
{
	struct ext_pub *a = arg;
	uint64_t now = pn_now_ns();
	int err;

	if ((err = fwd_wait(p->rt, a)) < 0)
		return err;
	err = pn__inject_sys(p, a->m.to, PN__MSG_TOPIC_FWD, a->m.data,
			     PN_MSG_INLINE,
			     a->deadline > now ? a->deadline - now : 0);
	if (err < 0)
		fwd_undo(a->t);
	return err;
}

int pn_topic_publish_ext(struct pn_producer *p, uint32_t id, uint32_t type,
			 uint64_t key, const void *data, size_t len,
			 uint64_t timeout_ns)
{
	struct ext_pub a = {.id = id};
	uint32_t n;
	int err;

	if (!p)
		return pn__error(-EINVAL, "pn_topic_publish_ext: no producer");
	if ((err = pub_check(type, data, len, "pn_topic_publish_ext")))
		return err;
	if (!(a.t = pn__topic_get(p->rt, id, "pn_topic_publish_ext")))
		return -ENOENT;
	a.deadline = timeout_ns ? pn_deadline_ns(pn_now_ns(), timeout_ns) : 0;
	a.m.to = PN__TDST(a.t->home);
	if ((err = fwd_build(NULL, &a.m, id, type, key, data, len)) < 0)
		return err;
	err = pn__producer_call(p, "pn_topic_publish_ext", ext_pub_fn, &a);
	memcpy(&n, a.m.data + 12, sizeof(n));
	if (err < 0 && n > 12)
		pn__buf_free_malloc(a.m.ptr);
	if (err == -EAGAIN)
		atomic_fetch_add_explicit(&a.t->refused, 1,
					  memory_order_relaxed);
	return err;
}

/* --- teardown ------------------------------------------------------------ */

/* Every shard's channel objects (with the home's queues in them), the
 * per-shard tables and the topic table. Before the shards are freed: the
 * arenas are still there. Controlling thread, the shards joined. */
void pn__topic_destroy(struct pn_runtime *rt)
{
	struct pn__topics *T = rt->topics;

	if (!T)
		return;
	for (unsigned d = 0; T->per && d < rt->nshards; d++) {
		struct pn__tshard *p = &T->per[d];
		struct pn_arena *a = rt->shard[d] ? rt->shard[d]->arena : NULL;

		for (uint32_t i = 0; i < p->nh; i++) {
			struct pn__tchan *c = p->h[i];
			struct pn_shard *home;

			if (!c)
				continue;
			home = rt->shard[T->t[c->topic].home];
			pn__fifo_fini(&c->pending, home->arena);
			pn__htab_fini(&c->keys, home->arena);
			free(c->subs);
			free(c);
		}
		for (uint32_t i = 0; a && i < p->bypid.cap; i++) {
			struct pn__tpid *e = pn__htab_slot(&p->bypid, i);

			if (e)
				free(e->topic);
		}
		if (a)
			pn__htab_fini(&p->bypid, a);
		free(p->h);
		free(p->freeh);
		free(p->dirty);
	}
	for (uint32_t i = 0; T->t && i < T->max; i++) {
		struct pn__topic *t = &T->t[i];
		struct pn_shard *home = rt->shard ? rt->shard[t->home] : NULL;

		if (home) {
			pn__fifo_fini(&t->backlog, home->arena);
			pn__pids_fini(&t->waiters, home->arena);
		}
		free(t->dest);
		free(t->chan);
	}
	pthread_mutex_destroy(&T->mu);
	free(T->per);
	free(T->t);
	free(T);
	rt->topics = NULL;
}

/* --- the feature ----------------------------------------------------------
 */

static void topic_config_init(struct pn_config *c)
{
	c->max_topics = 1024;
}

static int topic_create(struct pn_runtime *rt)
{
	struct pn__topics *T;
	uint32_t max = rt->cfg.max_topics;

	if (max == 0 || max > 65535)
		return pn__error(-EINVAL, "max_topics=%u: expected 1 to 65535",
				 max);
	if (!(T = calloc(1, sizeof(*T))))
		return pn__error(-ENOMEM, "no memory for topics");
	T->max = max;
	T->t = aligned_alloc(PN_CACHELINE,
			     ((size_t)max * sizeof(*T->t) + PN_CACHELINE - 1) &
				     ~(size_t)(PN_CACHELINE - 1));
	T->per = calloc(rt->nshards, sizeof(*T->per));
	if (!T->t || !T->per) {
		free(T->t);
		free(T->per);
		free(T);
		return pn__error(-ENOMEM, "no memory for topics");
	}
	memset(T->t, 0, (size_t)max * sizeof(*T->t));
	pthread_mutex_init(&T->mu, NULL);
	rt->topics = T;
	return 0;
}

static int topic_shard_setup(struct pn_shard *s)
{
	struct pn__tshard *p = &s->rt->topics->per[s->id];

	p->bit = pn__feature_bit(s->rt, &pn__topic_feature);
	pn__htab_init(&p->bypid, sizeof(struct pn__tpid), 16, 1u << 30);
	return 0;
}

/* The gate closed: external publishers asleep for a place wake up and
 * see the runtime closing. */
static void topic_gate_closed(struct pn_runtime *rt)
{
	struct pn__topics *T = rt->topics;

	for (uint32_t i = 0; T && i < T->max; i++)
		if (atomic_load_explicit(&T->t[i].fwd_sleepers,
					 memory_order_seq_cst))
			pn__futex_wake(&T->t[i].fwd);
}

static bool home_type(uint32_t type)
{
	return type == PN__MSG_TOPIC_FWD || type == PN__MSG_TOPIC_WAIT ||
	       type == PN__MSG_TOPIC_CREDIT || type == PN__MSG_TOPIC_RETIRE ||
	       type == PN__MSG_TOPIC_ACK || type == PN__MSG_TOPIC_CLOSING;
}

static void topic_msg(struct pn_shard *s, struct pn_msg *m)
{
	if (home_type(m->type))
		pn__topic_home_msg(s, m);
	else
		pn__topic_dst_msg(s, m);
}

/* A topic message left over at the join: what it holds goes back. */
static void topic_drop(struct pn_shard *s, struct pn_msg *m)
{
	if (m->type == PN__MSG_TOPIC_SUBREQ) {
		const struct pn__tsubreq *r = m->ptr;

		if (r->w)
			pn__twait_done(r->w, -ESHUTDOWN, 0);
		pn__buf_free(s, m->ptr);
	} else if (m->type == PN__MSG_TOPIC_ONE) {
		pn__buf_free(s, m->ptr);
	} else {
		pn__topic_home_drop(s, m);
	}
}

static void topic_stopped(struct pn_shard *s, pn_pid pid)
{
	if (s->rt->topics->per[s->id].bypid.n)
		pn__topic_gone(s, pid);
}

/* A guest stopped here: its subscriptions are at its home. */
static void topic_guest_gone(struct pn_shard *s, pn_pid pid)
{
	struct pn_msg m = {.type = PN__MSG_TOPIC_UNSUB,
			   .to = PN__TDST(pn_pid_shard(pid)),
			   .ref = UINT32_MAX};

	memcpy(m.data, &pid, sizeof(pid));
	pn__topic_post(s, pn_pid_shard(pid), &m);
}

/* Every open topic's counters into a metrics snapshot. */
static void topic_snapshot(const struct pn_runtime *rt, struct pn__snap *out)
{
	uint32_t id = 0;

	out->ntopics = 0;
	while (out->ntopics < rt->cfg.max_topics &&
	       pn_topic_next(rt, id, &id) == 0)
		if (pn_topic_stats(rt, id, &out->topics[out->ntopics]) == 0)
			out->ntopics++;
}

/* An internal message for an actor its caller found (migration's held
 * messages): only a forwarded delivery is ever for an actor. */
static void topic_run(struct pn_shard *s, struct pn__actor *a, struct pn_msg *m)
{
	if (m->type != PN__MSG_TOPIC_ONE)
		topic_msg(s, m);
	else if (!pn__topic_divert(s, m)) /* at home: still subscribed? */
		pn__topic_one_run(s, a, m);
}

static const struct pn__msg_range topic_ranges[] = {
	{PN__MSG_TOPIC, PN__MSG_TOPIC_END, topic_msg, topic_drop, topic_run},
};

const struct pn__feature pn__topic_feature = {
	.name = "topics",
	.config_init = topic_config_init,
	.create = topic_create,
	.destroy = pn__topic_destroy,
	.shard_setup = topic_shard_setup,
	.turn = pn__topic_turn,
	.ready = pn__topic_ready,
	.ranges = topic_ranges,
	.nranges = 1,
	.side_queues = pn__topic_side_queues,
	.close = topic_gate_closed,
	.guest_gone = topic_guest_gone,
	.stopped = topic_stopped,
	.divert = pn__topic_divert,
	.snapshot = topic_snapshot,
	.tick = pn__topic_tick,
};
