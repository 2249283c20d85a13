// SPDX-License-Identifier: MIT
/*
 * Subscribing and unsubscribing, from a handler (on the actor's home shard
 * at once; away from home by a message to it) and from outside (a message
 * to the actor's home, and a futex wait for its answer); the writable
 * notice; what a handler sees of the delivery it runs for.
 */
#include "topic_int.h"

#include <errno.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* An external caller waiting for its subscribe (futex on done). */
struct pn__twait {
	_Atomic uint32_t done;
	int rc;
	uint64_t start;
};

/* --- subscriptions ------------------------------------------------------- */

static int sub_check(const struct pn_topic_sub_opts *o)
{
	if ((unsigned)o->policy >= PN_TOPIC_NPOLICIES)
		return pn__error(-EINVAL, "topic policy %d: no such policy",
				 (int)o->policy);
	if ((o->key_lo || o->key_hi) && o->key_lo > o->key_hi)
		return pn__error(-EINVAL, "key range [%llu, %llu] is empty",
				 (unsigned long long)o->key_lo,
				 (unsigned long long)o->key_hi);
	return 0;
}

/* Ask @pid's home shard to (un)subscribe it (from a shard). */
static int subreq_post(struct pn_shard *s, const struct pn__tsubreq *r)
{
	struct pn__tsubreq *b = pn__buf_alloc(s, sizeof(*b));
	struct pn_msg m = {.type = PN__MSG_TOPIC_SUBREQ,
			   .len = sizeof(*b),
			   .to = PN__TDST(pn_pid_shard(r->pid))};

	if (!b)
		return pn__error(-ENOMEM, "no memory for a subscribe");
	*b = *r;
	m.ptr = b;
	pn__topic_post(s, pn_pid_shard(r->pid), &m);
	return 1;
}

int pn_topic_subscribe(struct pn_ctx *ctx, uint32_t id,
		       const struct pn_topic_sub_opts *opts, uint64_t *start)
{
	struct pn_shard *s = pn__shard(ctx);
	struct pn_topic_sub_opts o =
		opts ? *opts : (struct pn_topic_sub_opts){0};
	pn_pid self;
	int err;

	PN__CTX_CHECK(s, "pn_topic_subscribe");
	if (!s->cur)
		return pn__error(-EPERM,
				 "pn_topic_subscribe: not in a handler");
	if ((err = sub_check(&o)))
		return err;
	if (!pn__topic_get(s->rt, id, "pn_topic_subscribe"))
		return -ENOENT;
	self = s->cur->pid;
	if (pn_pid_shard(self) == s->id)
		return pn__topic_sub_here(s, PN__TID_IDX(id), self, &o, start);
	return subreq_post(
		s, &(struct pn__tsubreq){.pid = self, .id = id, .o = o});
}

int pn_topic_unsubscribe(struct pn_ctx *ctx, uint32_t id)
{
	struct pn_shard *s = pn__shard(ctx);
	pn_pid self;

	PN__CTX_CHECK(s, "pn_topic_unsubscribe");
	if (!s->cur)
		return pn__error(-EPERM, "pn_topic_unsubscribe: not in a "
					 "handler");
	if (!pn__topic_get(s->rt, id, "pn_topic_unsubscribe"))
		return -ENOENT;
	self = s->cur->pid;
	if (pn_pid_shard(self) == s->id)
		return pn__topic_unsub_here(s, PN__TID_IDX(id), self);
	return subreq_post(s, &(struct pn__tsubreq){.pid = self,
						    .id = id,
						    .unsub = true}) < 0
		       ? -ENOMEM
		       : 0;
}

void pn__twait_done(struct pn__twait *w, int rc, uint64_t start)
{
	w->rc = rc;
	w->start = start;
	/* Release: rc and start, to the waiter's acquire. */
	atomic_store_explicit(&w->done, 1, memory_order_release);
	pn__futex_wake(&w->done);
}

/* Ask @r->pid's home to (un)subscribe it and wait for the answer in
 * @r->w (the caller's). */
static int ext_call(struct pn_runtime *rt, const struct pn__tsubreq *r,
		    const char *what, uint64_t *start)
{
	struct pn__twait *w = r->w;
	int err;

	if (!rt || r->pid == PN_PID_NONE || pn_pid_shard(r->pid) >= rt->nshards)
		return pn__error(-EINVAL, "%s: bad pid %#llx", what,
				 (unsigned long long)r->pid);
	if (pn__self_shard)
		return pn__error(-EPERM,
				 "%s: external only (a handler calls "
				 "the ctx version)",
				 what);
	if ((err = sub_check(&r->o)))
		return err;
	if (!pn__topic_get(rt, r->id, what))
		return -ENOENT;
	err = pn__runtime_send_sys(rt, PN__TDST(pn_pid_shard(r->pid)),
				   PN__MSG_TOPIC_SUBREQ, r, sizeof(*r),
				   UINT64_MAX);
	if (err < 0)
		return err;
	/* Acquire: pairs with pn__twait_done's release (rc, start). */
	while (!atomic_load_explicit(&w->done, memory_order_acquire))
		syscall(SYS_futex, (uint32_t *)&w->done, FUTEX_WAIT_PRIVATE, 0,
			NULL, NULL, 0);
	if (w->rc == 0 && start)
		*start = w->start;
	return w->rc < 0 ? pn__error(w->rc, "%s: %s", what, strerror(-w->rc))
			 : w->rc;
}

int pn_topic_subscribe_pid(struct pn_runtime *rt, uint32_t id, pn_pid pid,
			   const struct pn_topic_sub_opts *opts,
			   uint64_t *start)
{
	struct pn__twait w = {0};
	struct pn__tsubreq r = {.pid = pid, .id = id, .w = &w};

	if (opts)
		r.o = *opts;
	return ext_call(rt, &r, "pn_topic_subscribe_pid", start);
}

int pn_topic_unsubscribe_pid(struct pn_runtime *rt, uint32_t id, pn_pid pid)
{
	struct pn__twait w = {0};
	struct pn__tsubreq r = {.pid = pid, .id = id, .unsub = true, .w = &w};

	return ext_call(rt, &r, "pn_topic_unsubscribe_pid", NULL);
}

int pn_topic_notify_writable(struct pn_ctx *ctx, uint32_t id)
{
	struct pn_shard *s = pn__shard(ctx);
	struct pn__topic *t;
	pn_pid self;

	PN__CTX_CHECK(s, "pn_topic_notify_writable");
	if (!s->cur)
		return pn__error(-EPERM, "pn_topic_notify_writable: not in a "
					 "handler");
	if (!(t = pn__topic_get(s->rt, id, "pn_topic_notify_writable")))
		return -ENOENT;
	self = s->cur->pid;
	if (t->home == s->id) {
		pn__topic_wait(s, t, id, self);
	} else {
		struct pn_msg m = {.type = PN__MSG_TOPIC_WAIT,
				   .to = PN__TDST(t->home),
				   .from = self,
				   .ref = id};

		pn__topic_post(s, t->home, &m);
	}
	return 0;
}

/* A subscribe or unsubscribe asked of this shard, @r->pid's home: the
 * answer to its external caller or the actor. */
void pn__topic_subreq_msg(struct pn_shard *s, struct pn_msg *m)
{
	const struct pn__tsubreq *r = m->ptr;
	struct pn__topic *t = pn__topic_get(s->rt, r->id, "subscribe");
	uint32_t idx = PN__TID_IDX(r->id);
	uint32_t gen = atomic_load_explicit(&s->slots[pn_pid_slot(r->pid)].gen,
					    memory_order_relaxed);
	uint64_t start = 0;
	int rc;

	if (!t)
		rc = -ENOENT;
	else if (gen != pn_pid_gen(r->pid))
		rc = pn__error(-ESRCH, "%#llx is not alive",
			       (unsigned long long)r->pid);
	else if (r->unsub)
		rc = pn__topic_unsub_here(s, idx, r->pid);
	else
		rc = pn__topic_sub_here(s, idx, r->pid, &r->o, &start);
	if (r->w) {
		pn__twait_done(r->w, rc, start);
	} else if (!r->unsub) {
		struct pn_topic_event ev = {r->id, rc, start};

		(void)pn__send_sys(s, r->pid, PN_MSG_TOPIC_SUBSCRIBED,
				   PN_PID_NONE, 0, &ev, sizeof(ev));
	}
	pn__buf_free(s, m->ptr);
}
