// SPDX-License-Identifier: MIT
/*
 * Dynamic supervision, the callers' side: the public start_child,
 * terminate_child, delete_child and which_children calls in their two
 * forms, the request that carries them to the supervisor, and the answers
 * that come back (dynamic.c does the work).
 *
 * A request is one PN__MSG_SUP_CALL (struct pn__call), an internal type
 * of the supervision feature: on the supervisor shard, pn__sup_call_msg()
 * gives it to the supervisor's handler if the PID is a live supervisor,
 * keeps it early if the PID is reserved (a supervisor still being
 * spawned), and otherwise answers -ESRCH at once, so no caller waits on a
 * supervisor that is gone or never was. From a handler it is an ordinary
 * budgeted send from the calling actor (-EAGAIN under backpressure); the
 * answer is a PN_MSG_SUP_REPLY to that actor (a runtime message, exempt
 * from the budget). From outside it goes through the runtime's own
 * producer, and the answer is written into a struct pn__sup_wait the
 * caller sleeps on (the runtime's sup->cv, which the closing gate also
 * broadcasts); the wait has two references, so a caller that gave up may
 * go while the supervisor still answers into it. A request still in a
 * ring when the shard threads exit is dead-lettered by the join stage and
 * its wait (an external caller's, who has timed out by then) is not
 * freed: a few hundred bytes, at shutdown only.
 */
#include "tree.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* which_children's entries follow the header in a reply, aligned. */
_Static_assert(sizeof(struct pn_sup_reply) % _Alignof(struct pn_child_info) ==
		       0,
	       "struct pn_child_info after struct pn_sup_reply is aligned");

/* --- answers (supervisor shard) ---------------------------------------- */

static void wait_done(struct pn_runtime *rt, struct pn__sup_wait *w,
		      const struct pn_sup_reply *r,
		      const struct pn_child_info *info, unsigned n)
{
	struct pn__sup_rt *sr = rt->sup;

	pthread_mutex_lock(&sr->mu);
	w->rep = *r;
	w->rep.n = n < w->cap ? n : w->cap;
	if (w->rep.n)
		memcpy(w->info, info, w->rep.n * sizeof(*info));
	w->done = true;
	pthread_cond_broadcast(&sr->cv);
	if (--w->refs == 0)
		free(w);
	pthread_mutex_unlock(&sr->mu);
}

/* A PN_MSG_SUP_REPLY to the calling actor; if it cannot be sent (no
 * memory), the caller learns nothing, as with any lost runtime message. */
static void reply_msg(struct pn_shard *ctx, pn_pid self,
		      const struct pn__origin *o, const struct pn_sup_reply *r,
		      const struct pn_child_info *info, unsigned n)
{
	size_t len = sizeof(*r) + (size_t)n * sizeof(*info);
	struct pn_sup_reply *buf = pn_arena_alloc(ctx->arena, len);

	if (!buf)
		return;
	*buf = *r;
	buf->n = n;
	if (n)
		memcpy(buf + 1, info, (size_t)n * sizeof(*info));
	(void)pn__send_sys(ctx, o->from, PN_MSG_SUP_REPLY, self, 0, buf, len);
	pn_arena_free(ctx->arena, buf, len);
}

/* Give @o its answer @r (+ @n entries @info) and clear it: owed no more. */
void pn__sup_answer(struct pn_shard *ctx, pn_pid self, struct pn__origin *o,
		    const struct pn_sup_reply *r,
		    const struct pn_child_info *info, unsigned n)
{
	struct pn__origin to = *o;
	struct pn_sup_reply out = *r;

	if (!to.op)
		return;
	*o = (struct pn__origin){0};
	out.op = (int32_t)to.op;
	out.ref = to.ref;
	if (to.w)
		wait_done(ctx->rt, to.w, &out, info, n);
	else if (to.from)
		reply_msg(ctx, self, &to, &out, info, n);
}

void pn__sup_answer_err(struct pn_shard *ctx, pn_pid self, struct pn__origin *o,
			int err, const char *fmt, ...)
{
	struct pn_sup_reply r = {.err = err};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r.error, sizeof(r.error), fmt, ap);
	va_end(ap);
	pn__sup_answer(ctx, self, o, &r, NULL, 0);
}

/* PN__MSG_SUP_CALL on the supervisor shard (the feature's range). */
void pn__sup_call_msg(struct pn_shard *s, struct pn_msg *m)
{
	struct pn__actor *a = pn__lookup(s, m->to);
	struct pn__origin o = {0};

	if (!a && pn__slot_reserved(s, m->to)) {
		pn__early_push(s, m); /* the early queue owns the payload */
		return;
	}
	if (a && pn__sup_is(a)) {
		pn__run(s, a, m); /* its handler: pn__sup_call() */
		return;
	}
	if (m->len >= sizeof(o))
		memcpy(&o, pn_msg_data(m), sizeof(o));
	pn__sup_answer_err(s, m->to, &o, -ESRCH, "%#llx is no supervisor%s",
			   (unsigned long long)m->to,
			   a ? "" : " (it has stopped, or never was)");
	if (m->len > PN_MSG_INLINE)
		pn__buf_free(s, m->ptr);
}

/* --- requests ------------------------------------------------------------ */

static size_t call_len(const struct pn__call *q)
{
	return offsetof(struct pn__call, arg) + q->arg_len;
}

static int copy_str(char *dst, const char *src, const char *what)
{
	size_t len = src ? strnlen(src, PN_NAME_MAX) : 0;

	if (len >= PN_NAME_MAX)
		return pn__error(-EINVAL, "%s: at most %d bytes", what,
				 PN_NAME_MAX - 1);
	memcpy(dst, src ? src : "", len);
	dst[len] = '\0';
	return 0;
}

static int start_make(const struct pn_runtime *rt, struct pn__call *q,
		      const struct pn_child_spec *spec, const void *arg,
		      size_t len)
{
	int err;

	q->o.op = PN_SUP_START_CHILD;
	if (spec && len)
		return pn__error(-EINVAL, "start_child: a child spec or an "
					  "extra argument, not both");
	if (!spec) {
		if (len > PN_SPAWN_ARG_MAX || (len && !arg))
			return pn__error(-EINVAL,
					 "start_child: an argument of %zu "
					 "bytes (at most %u)",
					 len, PN_SPAWN_ARG_MAX);
		if (len)
			memcpy(q->arg, arg, len);
		q->arg_len = (uint32_t)len;
		return 0;
	}
	if ((err = pn__sup_child_check(rt, spec)) < 0 ||
	    (err = copy_str(q->id, spec->id, "start_child: id")) < 0 ||
	    (err = copy_str(q->name, spec->name, "start_child: name")) < 0)
		return err;
	q->has_spec = true;
	q->spec = *spec;
	q->spec.id = q->spec.name = NULL; /* copied: q->id, q->name */
	q->spec.arg = NULL;
	if (spec->arg_len)
		memcpy(q->arg, spec->arg, spec->arg_len);
	q->arg_len = (uint32_t)spec->arg_len;
	return 0;
}

static int id_make(struct pn__call *q, int op, const char *id, pn_pid pid)
{
	q->o.op = (uint32_t)op;
	if (!id && !pid)
		return pn__error(-EINVAL, "%s: needs a child id or a PID",
				 op == PN_SUP_DELETE_CHILD ? "delete_child"
							   : "terminate_child");
	if (id && pid)
		return pn__error(-EINVAL, "terminate_child: an id or a PID, "
					  "not both");
	q->has_id = id != NULL;
	q->pid = pid;
	return id ? copy_str(q->id, id, "child id") : 0;
}

static int sup_check(const struct pn_runtime *rt, pn_pid sup)
{
	if (sup == PN_PID_NONE || pn_pid_shard(sup) != rt->napp)
		return pn__error(-EINVAL,
				 "%#llx is no supervisor: supervisors live on "
				 "the supervisor shard (%u)",
				 (unsigned long long)sup, rt->napp);
	return 0;
}

/* --- the handler form ------------------------------------------------------
 */

static _Thread_local uint64_t call_seq; /* the caller's shard's */

static int call_send(struct pn_shard *s, pn_pid sup, struct pn__call *q,
		     uint64_t *ref)
{
	int err;

	if (!s->cur)
		return pn__error(-EINVAL, "supervisor call outside a handler "
					  "(the answer goes to the caller)");
	if ((err = sup_check(s->rt, sup)) < 0)
		return err;
	if (pn__rt_closing(s->rt))
		return pn__error(-ESHUTDOWN, "supervisor call: the runtime is "
					     "shutting down");
	q->o.from = s->cur->pid;
	q->o.ref = ((uint64_t)(s->id + 1) << 48) |
		   (++call_seq & ((1ull << 48) - 1));
	if ((err = pn__send(s, sup, PN__MSG_SUP_CALL, s->cur->pid, 0, q,
			    call_len(q))) < 0)
		return err;
	if (ref)
		*ref = q->o.ref;
	return 0;
}

int pn_sup_start_child(struct pn_ctx *ctx, pn_pid sup,
		       const struct pn_child_spec *spec, const void *arg,
		       size_t len, uint64_t *ref)
{
	struct pn_shard *s = pn__shard(ctx);
	struct pn__call q;
	int err;

	PN__CTX_CHECK(s, "pn_sup_start_child");
	memset(&q, 0, offsetof(struct pn__call, arg));
	if ((err = start_make(s->rt, &q, spec, arg, len)) < 0)
		return err;
	return call_send(s, sup, &q, ref);
}

int pn_sup_terminate_child(struct pn_ctx *ctx, pn_pid sup, const char *id,
			   pn_pid pid, uint64_t *ref)
{
	struct pn_shard *s = pn__shard(ctx);
	struct pn__call q;
	int err;

	PN__CTX_CHECK(s, "pn_sup_terminate_child");
	memset(&q, 0, offsetof(struct pn__call, arg));
	if ((err = id_make(&q, PN_SUP_TERMINATE_CHILD, id, pid)) < 0)
		return err;
	return call_send(s, sup, &q, ref);
}

int pn_sup_delete_child(struct pn_ctx *ctx, pn_pid sup, const char *id,
			uint64_t *ref)
{
	struct pn_shard *s = pn__shard(ctx);
	struct pn__call q;
	int err;

	PN__CTX_CHECK(s, "pn_sup_delete_child");
	memset(&q, 0, offsetof(struct pn__call, arg));
	if ((err = id_make(&q, PN_SUP_DELETE_CHILD, id, 0)) < 0)
		return err;
	return call_send(s, sup, &q, ref);
}

/* The most entries a PN_MSG_SUP_REPLY can carry. */
#define WHICH_MAX                                                              \
	((PN_MSG_MAX - sizeof(struct pn_sup_reply)) /                          \
	 sizeof(struct pn_child_info))

int pn_sup_which_children(struct pn_ctx *ctx, pn_pid sup, unsigned cap,
			  uint64_t *ref)
{
	struct pn_shard *s = pn__shard(ctx);
	struct pn__call q;

	PN__CTX_CHECK(s, "pn_sup_which_children");
	memset(&q, 0, offsetof(struct pn__call, arg));
	q.o.op = PN_SUP_WHICH_CHILDREN;
	q.cap = cap < WHICH_MAX ? cap : (uint32_t)WHICH_MAX;
	return call_send(s, sup, &q, ref);
}

/* --- the external form ----------------------------------------------------
 */

struct ext_send {
	pn_pid sup;
	const struct pn__call *q;
	uint64_t timeout_ns;
};

static int ext_send(struct pn_producer *p, void *arg)
{
	const struct ext_send *a = arg;

	return pn__inject_sys(p, a->sup, PN__MSG_SUP_CALL, a->q, call_len(a->q),
			      a->timeout_ns);
}

/* Wait for @w until it is done, the deadline or the close (sup->mu
 * held); whether it is done. */
static bool ext_wait(struct pn_runtime *rt, struct pn__sup_wait *w,
		     uint64_t until)
{
	struct pn__sup_rt *r = rt->sup;
	struct timespec ts = {.tv_sec = (time_t)(until / 1000000000u),
			      .tv_nsec = (long)(until % 1000000000u)};

	while (!w->done && !pn__rt_closing(rt) && pn_now_ns() < until) {
		if (until == UINT64_MAX)
			pthread_cond_wait(&r->cv, &r->mu);
		else
			pthread_cond_timedwait(&r->cv, &r->mu, &ts);
	}
	return w->done;
}

/* Send @q to @sup and wait up to @timeout_ns for the answer into *@out
 * (and up to @cap entries into @info). Inside the gate. */
static int ext_call(struct pn_runtime *rt, pn_pid sup, struct pn__call *q,
		    uint64_t timeout_ns, struct pn_sup_reply *out,
		    struct pn_child_info *info, unsigned cap)
{
	uint64_t until = pn_deadline_ns(pn_now_ns(), timeout_ns);
	struct ext_send a = {.sup = sup, .q = q, .timeout_ns = timeout_ns};
	struct pn__sup_wait *w;
	bool done;
	int err;

	if (!(w = calloc(1, sizeof(*w) + (size_t)cap * sizeof(*info))))
		return pn__error(-ENOMEM, "out of memory");
	w->refs = 2; /* ours and the request's */
	w->cap = cap;
	q->o.w = w;
	if ((err = pn__own_call(rt, "supervisor call", ext_send, &a)) < 0) {
		free(w);
		return err;
	}
	pthread_mutex_lock(&rt->sup->mu);
	done = ext_wait(rt, w, until);
	if (done) {
		*out = w->rep;
		if (out->n)
			memcpy(info, w->info, out->n * sizeof(*info));
	}
	if (--w->refs == 0)
		free(w);
	pthread_mutex_unlock(&rt->sup->mu);
	if (done)
		return out->err ? pn__error(out->err, "%s", out->error) : 0;
	if (pn__rt_closing(rt))
		return pn__error(-ESHUTDOWN, "supervisor call: the runtime is "
					     "shutting down");
	return pn__error(-ETIMEDOUT,
			 "supervisor %#llx did not answer within %llu ms",
			 (unsigned long long)sup,
			 (unsigned long long)(timeout_ns / 1000000));
}

/* An external call: checks, the gate, ext_call(). */
static int ext(struct pn_runtime *rt, pn_pid sup, struct pn__call *q,
	       uint64_t timeout_ns, struct pn_sup_reply *out,
	       struct pn_child_info *info, unsigned cap, const char *what)
{
	int err;

	if (pn__self_shard)
		return pn__error(-EPERM,
				 "%s from a shard thread: handlers use the "
				 "pn_sup_*() form",
				 what);
	if ((err = sup_check(rt, sup)) < 0)
		return err;
	if ((err = pn__gate_enter(rt, &rt->ext_inside, true, false, what)) < 0)
		return err;
	err = ext_call(rt, sup, q, timeout_ns, out, info, cap);
	pn__gate_leave(rt, &rt->ext_inside, true);
	return err;
}

int pn_supervisor_start_child(struct pn_runtime *rt, pn_pid sup,
			      const struct pn_child_spec *spec, const void *arg,
			      size_t len, uint64_t timeout_ns, pn_pid *pid)
{
	struct pn_sup_reply r = {0};
	struct pn__call q;
	int err;

	if (!rt || !pid)
		return pn__error(-EINVAL, "pn_supervisor_start_child: NULL "
					  "argument");
	memset(&q, 0, offsetof(struct pn__call, arg));
	if ((err = start_make(rt, &q, spec, arg, len)) < 0)
		return err;
	err = ext(rt, sup, &q, timeout_ns, &r, NULL, 0,
		  "pn_supervisor_start_child");
	*pid = err ? PN_PID_NONE : r.pid;
	return err;
}

int pn_supervisor_terminate_child(struct pn_runtime *rt, pn_pid sup,
				  const char *id, pn_pid pid,
				  uint64_t timeout_ns)
{
	struct pn_sup_reply r;
	struct pn__call q;
	int err;

	if (!rt)
		return pn__error(-EINVAL, "pn_supervisor_terminate_child: NULL "
					  "runtime");
	memset(&q, 0, offsetof(struct pn__call, arg));
	if ((err = id_make(&q, PN_SUP_TERMINATE_CHILD, id, pid)) < 0)
		return err;
	return ext(rt, sup, &q, timeout_ns, &r, NULL, 0,
		   "pn_supervisor_terminate_child");
}

int pn_supervisor_delete_child(struct pn_runtime *rt, pn_pid sup,
			       const char *id, uint64_t timeout_ns)
{
	struct pn_sup_reply r;
	struct pn__call q;
	int err;

	if (!rt)
		return pn__error(-EINVAL, "pn_supervisor_delete_child: NULL "
					  "runtime");
	memset(&q, 0, offsetof(struct pn__call, arg));
	if ((err = id_make(&q, PN_SUP_DELETE_CHILD, id, 0)) < 0)
		return err;
	return ext(rt, sup, &q, timeout_ns, &r, NULL, 0,
		   "pn_supervisor_delete_child");
}

int pn_supervisor_which_children(struct pn_runtime *rt, pn_pid sup,
				 struct pn_child_info *out, unsigned cap,
				 unsigned *count, uint64_t timeout_ns)
{
	struct pn_sup_reply r = {0};
	struct pn__call q;
	int err;

	if (!rt || !count || (cap && !out))
		return pn__error(-EINVAL, "pn_supervisor_which_children: NULL "
					  "argument");
	memset(&q, 0, offsetof(struct pn__call, arg));
	q.o.op = PN_SUP_WHICH_CHILDREN;
	q.cap = cap;
	err = ext(rt, sup, &q, timeout_ns, &r, out, cap,
		  "pn_supervisor_which_children");
	*count = err ? 0 : r.count;
	return err;
}
