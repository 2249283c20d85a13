// SPDX-License-Identifier: MIT
/*
 * Request/reply and the public timer calls, both of which follow an actor
 * that migrates (README, "Migration").
 *
 * A request takes an entry in its shard's table of outstanding requests:
 * a struct pn__htab (core/base/hash.h) keyed by the correlation id
 * (msg->ref), which is
 * location-independent - (origin shard + 1) << 48 | a per-shard counter -
 * so that an actor that moves takes its entries along (pn__reqs_take/put)
 * and the reply, forwarded by its home, finds the entry where it now is.
 * A late reply (after the timeout freed the entry) finds nothing and is
 * dropped. Each request arms one timer carrying its PN_MSG_TIMEOUT;
 * whichever of reply and timer comes first frees the entry and cancels the
 * other, so exactly one reaches the requester.
 *
 * The caller's user value (pn_request_ctx) lives in the entry, so it costs
 * no allocation: the TIMEOUT carries a copy as its 8-byte payload (written
 * when the timer is armed), and a reply, which carries only what the
 * callee wrote, gets it from the entry as the entry is freed: the shard
 * remembers (ref, user) of the reply being delivered while its handler
 * runs, which is when pn_msg_user() may ask. A reply is delivered at once
 * once accepted (its requester lives here: the entry moves with it, and a
 * reply for an actor that moved away is diverted before it gets here).
 *
 * Timers are actor-scoped: the id pn_send_after() returns names an entry
 * in the actor's own table (struct pn__atimers), which maps it to the
 * shard's wheel id and remembers what a move needs to re-arm it elsewhere
 * (first expiry, period, message). The wheel's copy of the message carries
 * the entry's id in ref and the owner's struct pn__actor in from (both
 * cleared before delivery); the owner is alive and on this shard whenever
 * one of its timers fires, because its timers are cancelled when it stops
 * or leaves.
 */
#include "actor_int.h"

#include <errno.h>

#define REF_SEQ_BITS 48
#define REF_SEQ_MASK ((1ull << REF_SEQ_BITS) - 1)

struct req {
	uint64_t ref;	/* 0: empty */
	pn_pid owner;	/* the requester */
	uint64_t timer; /* the timeout's wheel id */
	uint64_t due;	/* when the timeout fires (the runtime's clock) */
	uint64_t user;	/* the caller's value (pn_request_ctx) */
};

struct pn__reqs {
	struct pn__htab t; /* ref -> struct req */
	uint64_t seq;	   /* the last ref's counter */
	/* The reply being delivered (its ref without the reply flag; 0:
	 * none) and its request's user value, for pn_msg_user(). */
	uint64_t done_ref, done_user;
};

/* What a move carries per request (pn__reqs_take/put): ref, time left,
 * user value. */
_Static_assert(PN__REQ_WIRE == 3 * sizeof(uint64_t), "request wire size");

int pn__reqs_create(struct pn_shard *s)
{
	s->reqs = pn_arena_zalloc(s->arena, sizeof(*s->reqs));
	if (!s->reqs)
		return pn__error(-ENOMEM, "no memory for requests");
	pn__htab_init(&s->reqs->t, sizeof(struct req), 64, 1u << 30);
	return 0;
}

void pn__reqs_destroy(struct pn_shard *s)
{
	if (!s->reqs)
		return;
	pn__htab_fini(&s->reqs->t, s->arena);
	pn_arena_free(s->arena, s->reqs, sizeof(*s->reqs));
	s->reqs = NULL;
}

/* The entry @ref names, if it is still outstanding. */
static struct req *req_find(struct pn_shard *s, uint64_t ref)
{
	return pn__htab_find(&s->reqs->t, ref & ~PN__REF_REPLY);
}

static int req_add(struct pn_shard *s, const struct req *r)
{
	struct req *e;
	int err = pn__htab_add(&s->reqs->t, s->arena, r->ref, (void **)&e);

	if (err == -ENOSPC)
		return pn__error(err, "too many outstanding requests");
	if (err < 0)
		return pn__error(err, "no memory for requests");
	*e = *r;
	return 0;
}

static void req_free(struct pn_shard *s, struct req *r)
{
	pn__htab_del(&s->reqs->t, r);
}

static uint64_t ref_new(struct pn_shard *s)
{
	uint64_t seq = (++s->reqs->seq) & REF_SEQ_MASK;

	if (!seq) /* after 2^48 requests: skip the counter's zero */
		seq = (++s->reqs->seq) & REF_SEQ_MASK;
	return ((uint64_t)(s->id + 1) << REF_SEQ_BITS) | seq;
}

/* The TIMEOUT of request @r (from: none, as for every timer), its user
 * value as the payload. */
static void timeout_msg(const struct req *r, struct pn_msg *m)
{
	*m = (struct pn_msg){.type = PN_MSG_TIMEOUT,
			     .len = sizeof(r->user),
			     .to = r->owner,
			     .ref = r->ref};
	memcpy(m->data, &r->user, sizeof(r->user));
}

int pn_request_ctx(struct pn_ctx *ctx, pn_pid to, uint32_t type,
		   const void *data, size_t len, uint64_t timeout_ns,
		   uint64_t user, uint64_t *ref)
{
	struct pn_shard *s = pn__shard(ctx);
	struct pn_msg tmo;
	uint64_t now;
	struct req r;
	int err;

	PN__CTX_CHECK(s, "pn_request");
	now = pn__now(s->rt);
	if (!s->cur || timeout_ns == 0 || type >= PN_MSG_SYS)
		return pn__error(-EINVAL, "pn_request: needs a handler, a "
					  "timeout and an application type");
	r = (struct req){.ref = ref_new(s), .owner = s->cur->pid, .user = user};
	r.due = pn_deadline_ns(now, timeout_ns);
	timeout_msg(&r, &tmo);
	err = pn__timers_arm(s->timers, now, timeout_ns, 0, &tmo, &r.timer);
	if (err == 0 && (err = req_add(s, &r)) < 0)
		pn__timers_cancel(s->timers, r.timer);
	if (err == 0) {
		err = pn__send(s, to, type, r.owner, r.ref, data, len);
		if (err < 0) {
			pn__timers_cancel(s->timers, r.timer);
			req_free(s, req_find(s, r.ref));
		}
	}
	if (err < 0)
		return err;
	if (ref)
		*ref = r.ref;
	return 0;
}

int pn_request(struct pn_ctx *ctx, pn_pid to, uint32_t type, const void *data,
	       size_t len, uint64_t timeout_ns, uint64_t *ref)
{
	return pn_request_ctx(ctx, to, type, data, len, timeout_ns, 0, ref);
}

uint64_t pn_msg_user(const struct pn_ctx *ctx, const struct pn_msg *m)
{
	const struct pn_shard *s = pn__shard_c(ctx);

	if (!m)
		return 0;
	if (m->type == PN_MSG_TIMEOUT) /* only the runtime sends it */
		return pn_msg_u64(m);
	if (!s || s != pn__self_shard || !pn_msg_is_reply(m) ||
	    !s->reqs->done_ref)
		return 0;
	return s->reqs->done_ref == pn_msg_ref(m) ? s->reqs->done_user : 0;
}

int pn_reply(struct pn_ctx *ctx, const struct pn_msg *req, uint32_t type,
	     const void *data, size_t len)
{
	struct pn_shard *s = pn__shard(ctx);

	PN__CTX_CHECK(s, "pn_reply");
	if (!req || !req->ref || (req->ref & PN__REF_REPLY) || !req->from)
		return pn__error(-EINVAL, "pn_reply: not a request");
	if (type >= PN_MSG_SYS)
		return pn__error(-EINVAL, "pn_reply: type %#x is reserved",
				 type);
	return pn__send(s, req->from, type, s->cur ? s->cur->pid : PN_PID_NONE,
			req->ref | PN__REF_REPLY, data, len);
}

/* A reply arrived: true (and its request's *@user) if its request is
 * still outstanding. */
bool pn__reply_accept(struct pn_shard *s, const struct pn_msg *m,
		      uint64_t *user)
{
	struct req *r = req_find(s, m->ref);

	if (!r)
		return false;
	*user = r->user;
	pn__timers_cancel(s->timers, r->timer);
	req_free(s, r);
	return true;
}

/* The reply service (core/sched/feature.h): a reply goes to its requester's
 * handler while its request is outstanding; a late one is a dead letter.
 * While the handler runs, pn_msg_user() finds the request's user value. */
void pn__reply_msg(struct pn_shard *s, struct pn_msg *m)
{
	struct pn__reqs *q = s->reqs;
	uint64_t user, ref = m->ref & ~PN__REF_REPLY, saved = q->done_ref,
		       saved_user = q->done_user;

	if (!pn__reply_accept(s, m, &user)) {
		PN__STAT_ADD(s, PN__ST_LATE, 1);
		pn__dead_letter(s, m);
		return;
	}
	q->done_ref = ref;
	q->done_user = user;
	pn__deliver(s, m);
	/* Restored, not cleared: a reply delivered from inside another
	 * reply's handler (a nested run) must not end the outer one's. */
	q->done_ref = saved;
	q->done_user = saved_user;
}

/* --- requests that move with their actor -------------------------------- */

uint32_t pn__reqs_count(struct pn_shard *s, pn_pid owner)
{
	const struct pn__htab *t = &s->reqs->t;
	uint32_t n = 0;

	for (uint32_t i = 0; i < t->cap; i++) {
		const struct req *r = pn__htab_slot(t, i);

		n += r && r->owner == owner;
	}
	return n;
}

/* Take @owner's @n outstanding requests out of this shard: their refs,
 * the time left before their timeouts and their user values into @out[3n]
 * (PN__REQ_WIRE bytes each). */
void pn__reqs_take(struct pn_shard *s, pn_pid owner, uint64_t *out, uint32_t n)
{
	const struct pn__htab *t = &s->reqs->t;
	uint64_t now = pn__now(s->rt);
	uint32_t k = 0;

	/* Refs first: freeing entries moves others. */
	for (uint32_t i = 0; i < t->cap && k < n; i++) {
		const struct req *r = pn__htab_slot(t, i);

		if (r && r->owner == owner)
			out[3 * k++] = r->ref;
	}
	for (k = 0; k < n; k++) {
		struct req *r = req_find(s, out[3 * k]);

		/* UINT64_MAX stays "never" wherever the request goes. */
		out[3 * k + 1] = r->due == UINT64_MAX ? UINT64_MAX
				 : r->due > now	      ? r->due - now
						      : 0;
		out[3 * k + 2] = r->user;
		pn__timers_cancel(s->timers, r->timer);
		req_free(s, r);
	}
}

/* The other half: re-arm @n requests of @owner here (see _take). */
int pn__reqs_put(struct pn_shard *s, pn_pid owner, const uint64_t *in,
		 uint32_t n)
{
	uint64_t now = pn__now(s->rt);
	int err = 0;

	for (uint32_t k = 0; k < n && !err; k++) {
		struct req r = {.ref = in[3 * k],
				.owner = owner,
				.user = in[3 * k + 2]};
		struct pn_msg tmo;

		timeout_msg(&r, &tmo);
		r.due = pn_deadline_ns(now, in[3 * k + 1]);
		err = pn__timers_arm(s->timers, now, in[3 * k + 1], 0, &tmo,
				     &r.timer);
		if (!err && (err = req_add(s, &r)) < 0)
			pn__timers_cancel(s->timers, r.timer);
	}
	return err;
}

/* --- actor timers ------------------------------------------------------- */

struct atm {
	uint64_t tid;	 /* the wheel's id */
	uint64_t first;	 /* first expiry (the runtime's clock) */
	uint64_t period; /* 0: one-shot */
	uint32_t gen;	 /* odd: in use; the handle's upper half */
	uint32_t next;	 /* free list: index + 1 */
	uint32_t type, len;
	unsigned char data[PN_MSG_INLINE];
};

struct pn__atimers {
	struct atm *v;
	uint32_t cap, free, armed;
};

/* What a move carries per timer (pn__atimers_take/put). */
struct pn__atimers_wire {
	uint64_t handle, left, period;
	uint32_t type, len;
	unsigned char data[PN_MSG_INLINE];
};

static struct atm *atm_find(const struct pn__actor *a, uint64_t handle)
{
	uint32_t idx = (uint32_t)handle;
	const struct pn__atimers *t = a->tm;

	if (!t || idx >= t->cap || t->v[idx].gen != (uint32_t)(handle >> 32) ||
	    !(t->v[idx].gen & 1))
		return NULL;
	return &t->v[idx];
}

static void atm_free(struct pn__actor *a, struct atm *e)
{
	e->gen++; /* even: free; the handle no longer matches */
	e->next = a->tm->free;
	a->tm->free = (uint32_t)(e - a->tm->v) + 1;
	a->tm->armed--;
}

static int atm_grow(struct pn_shard *s, struct pn__actor *a)
{
	struct pn__atimers *t = a->tm;
	uint32_t cap;
	struct atm *v;

	if (!t && !(t = a->tm = pn_arena_zalloc(s->arena, sizeof(*t))))
		return pn__error(-ENOMEM, "no memory for timers");
	cap = t->cap ? t->cap * 2 : 4;
	if (!(v = pn_arena_zalloc(s->arena, cap * sizeof(*v))))
		return pn__error(-ENOMEM, "no memory for timers");
	if (t->cap)
		memcpy(v, t->v, t->cap * sizeof(*v));
	for (uint32_t i = cap; i-- > t->cap;) {
		v[i].next = t->free;
		t->free = i + 1;
	}
	pn_arena_free(s->arena, t->v, t->cap * sizeof(*v));
	t->v = v;
	t->cap = cap;
	return 0;
}

/* Arm entry @e of @a on this shard's wheel, due in @delay. */
static int atm_arm(struct pn_shard *s, struct pn__actor *a, struct atm *e,
		   uint64_t now, uint64_t delay)
{
	struct pn_msg m = {.type = e->type, .len = e->len, .to = a->pid};

	m.ref = (uint64_t)e->gen << 32 | (uint32_t)(e - a->tm->v);
	m.from = (pn_pid)(uintptr_t)a; /* cleared in pn__timer_fire() */
	memcpy(m.data, e->data, sizeof(m.data));
	e->first = pn_deadline_ns(now, delay);
	return pn__timers_arm(s->timers, now, delay, e->period, &m, &e->tid);
}

/* A new entry for @a (its handle is @e's index and new generation). */
static struct atm *atm_new(struct pn_shard *s, struct pn__actor *a)
{
	struct atm *e;

	if ((!a->tm || !a->tm->free) && atm_grow(s, a) < 0)
		return NULL;
	e = &a->tm->v[a->tm->free - 1];
	a->tm->free = e->next;
	e->gen += (e->gen & 1) ? 2 : 1;
	a->tm->armed++;
	return e;
}

/* Cancel every timer of @a and free its table (it stops). */
void pn__atimers_fini(struct pn_shard *s, struct pn__actor *a)
{
	struct pn__atimers *t = a->tm;

	if (!t)
		return;
	for (uint32_t i = 0; i < t->cap; i++)
		if (t->v[i].gen & 1)
			pn__timers_cancel(s->timers, t->v[i].tid);
	pn_arena_free(s->arena, t->v, t->cap * sizeof(*t->v));
	pn_arena_free(s->arena, t, sizeof(*t));
	a->tm = NULL;
}

uint32_t pn__atimers_count(const struct pn__actor *a)
{
	return a->tm ? a->tm->armed : 0;
}

/* Cancel @a's timers here and describe them in @out[armed] (a move). */
void pn__atimers_take(struct pn_shard *s, struct pn__actor *a,
		      struct pn__atimers_wire *out)
{
	uint64_t now = pn__now(s->rt);
	uint32_t k = 0;

	for (uint32_t i = 0; a->tm && i < a->tm->cap; i++) {
		struct atm *e = &a->tm->v[i];
		uint64_t due = e->first;

		if (!(e->gen & 1))
			continue;
		if (e->period && due <= now) /* its next run, on its phase */
			due += ((now - due) / e->period + 1) * e->period;
		out[k++] = (struct pn__atimers_wire){
			.handle = (uint64_t)e->gen << 32 | i,
			.left = due == UINT64_MAX ? UINT64_MAX
				: due > now	  ? due - now
						  : 0,
			.period = e->period,
			.type = e->type,
			.len = e->len};
		memcpy(out[k - 1].data, e->data, sizeof(e->data));
	}
	pn__atimers_fini(s, a);
}

/* Re-arm @n timers of @a here, under the same handles. */
int pn__atimers_put(struct pn_shard *s, struct pn__actor *a,
		    const struct pn__atimers_wire *in, uint32_t n)
{
	uint64_t now = pn__now(s->rt);

	if (!n)
		return 0;
	for (uint32_t k = 0; k < n; k++) {
		uint32_t idx = (uint32_t)in[k].handle;
		struct atm *e;
		int err;

		while (!a->tm || idx >= a->tm->cap)
			if ((err = atm_grow(s, a)) < 0)
				return err;
		e = &a->tm->v[idx];
		*e = (struct atm){.gen = (uint32_t)(in[k].handle >> 32),
				  .period = in[k].period,
				  .type = in[k].type,
				  .len = in[k].len};
		memcpy(e->data, in[k].data, sizeof(e->data));
		a->tm->armed++;
		if ((err = atm_arm(s, a, e, now, in[k].left)) < 0)
			return err;
	}
	/* Rebuild the free list from the entries not in use. */
	a->tm->free = 0;
	for (uint32_t i = a->tm->cap; i-- > 0;)
		if (!(a->tm->v[i].gen & 1)) {
			a->tm->v[i].next = a->tm->free;
			a->tm->free = i + 1;
		}
	return 0;
}

size_t pn__atimers_wire_size(void)
{
	return sizeof(struct pn__atimers_wire);
}

/* --- firing ------------------------------------------------------------- */

/* Queue timer message @m for its owner, which lives on this shard. */
static void timer_deliver(struct pn_shard *s, const struct pn_msg *m)
{
	if (pn_pid_shard(m->to) != s->id) {
		/* A guest: like any message to it, through the send path
		 * (direct once its home agreed, else via the home), so that
		 * a move never strands it in this shard's queue. */
		if (pn__send_sys(s, m->to, m->type, PN_PID_NONE, m->ref,
				 m->data, m->len) < 0)
			pn_panic("cannot deliver a timer: %s", pn_last_error());
	} else {
		pn__local_push(s, m, false);
	}
	PN__STAT_ADD(s, PN__ST_TIMERS, 1);
}

/* Whether @pid still names a live (or starting) actor here. */
static bool owner_here(struct pn_shard *s, pn_pid pid)
{
	if (pn_pid_shard(pid) != s->id)
		return pn__lookup(s, pid) != NULL;
	return atomic_load_explicit(&s->slots[pn_pid_slot(pid)].gen,
				    memory_order_relaxed) == pn_pid_gen(pid);
}

/*
 * A timer is due. An actor's own timer (ref set) goes to its owner, alive
 * here by construction. A request's TIMEOUT goes to its requester if it is
 * still alive (or started but not yet given its STARTED: then it waits
 * like any early message); the runtime's own timers (supervision) likewise.
 */
void pn__timer_fire(void *arg, const struct pn_msg *m, uint64_t id)
{
	struct pn_shard *s = arg;
	struct pn_msg out = *m;

	if (m->type == PN_MSG_TIMEOUT) {
		struct req *r = req_find(s, m->ref);

		if (!r)
			return;
		req_free(s, r);
	} else if (m->ref) {
		struct pn__actor *a = (struct pn__actor *)(uintptr_t)m->from;
		struct atm *e = atm_find(a, m->ref);

		pn_verify(e != NULL && a->pid == m->to);
		if (!e->period)
			atm_free(a, e);
		out.from = PN_PID_NONE;
		out.ref = 0;
		timer_deliver(s, &out);
		return;
	}
	if (!owner_here(s, m->to)) {
		pn__timers_cancel(s->timers, id); /* periodic: stop it */
		return;
	}
	timer_deliver(s, &out);
}

static int timer_arm(struct pn_shard *ctx, uint64_t delay, uint64_t period,
		     uint32_t type, const void *data, size_t len, uint64_t *id)
{
	struct pn__actor *a;
	struct atm *e;
	int err;

	PN__CTX_CHECK(ctx, "pn_send_after/every");
	a = ctx->cur;
	if (!a || type >= PN_MSG_SYS)
		return pn__error(-EINVAL, "timer: needs a handler and an "
					  "application type");
	if (len > PN_MSG_INLINE)
		return pn__error(-EMSGSIZE,
				 "timer payload of %zu bytes (at "
				 "most %d)",
				 len, PN_MSG_INLINE);
	if (!(e = atm_new(ctx, a)))
		return -ENOMEM;
	e->type = type;
	e->len = (uint32_t)len;
	e->period = period;
	memset(e->data, 0, sizeof(e->data));
	if (len)
		memcpy(e->data, data, len);
	err = atm_arm(ctx, a, e, pn__now(ctx->rt), delay);
	if (err < 0) {
		atm_free(a, e);
		return err;
	}
	if (id)
		*id = (uint64_t)e->gen << 32 | (uint32_t)(e - a->tm->v);
	return 0;
}

int pn_send_after(struct pn_ctx *ctx, uint64_t delay_ns, uint32_t type,
		  const void *data, size_t len, uint64_t *id)
{
	struct pn_shard *s = pn__shard(ctx);

	return timer_arm(s, delay_ns, 0, type, data, len, id);
}

int pn_send_every(struct pn_ctx *ctx, uint64_t period_ns, uint32_t type,
		  const void *data, size_t len, uint64_t *id)
{
	struct pn_shard *s = pn__shard(ctx);

	if (period_ns == 0)
		return pn__error(-EINVAL, "pn_send_every: period 0");
	return timer_arm(s, period_ns, period_ns, type, data, len, id);
}

int pn_timer_cancel(struct pn_ctx *ctx, uint64_t id)
{
	struct pn_shard *s = pn__shard(ctx);
	struct atm *e;

	PN__CTX_CHECK(s, "pn_timer_cancel");
	e = s->cur ? atm_find(s->cur, id) : NULL;
	if (!e)
		return pn__error(-ENOENT, "timer %#llx: not armed",
				 (unsigned long long)id);
	pn__timers_cancel(s->timers, e->tid);
	atm_free(s->cur, e);
	return 0;
}
