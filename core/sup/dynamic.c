// SPDX-License-Identifier: MIT
/*
 * Dynamic supervision, the supervisor's side: what a running supervisor
 * does with a start_child, terminate_child, delete_child or
 * which_children request (calls.c brings them, and takes the answers
 * back). Each runs inside the supervisor's handler, between its other
 * work, and only changes the children's list and states: step()
 * (supervisor.c) then starts and stops in its usual order, one at a time,
 * and the answers a start or a terminate owes are given when the child
 * settles (pn__child_set()).
 *
 * A dynamic child owns a copy of its spec (struct pn__dyn: the spec, its
 * id and name, its init argument), so the caller's memory may go as soon
 * as the call returns; only the behaviour (or the child supervisor's
 * spec) must outlive the supervisor, as for the spec's own children. A
 * simple_one_for_one child's copy is its template with the template's
 * argument and the call's extra bytes after it.
 *
 * Children are an array in start order, grown by doubling. An entry that
 * is REMOVED stays until nothing starts or stops (no timer can name an
 * index then), when pn__sup_compact() closes the gaps.
 */
#include "tree.h"

#include <errno.h>
#include <stdio.h>

struct pn__dyn {
	struct pn_child_spec spec;
	char id[PN_NAME_MAX], name[PN_NAME_MAX];
	size_t size; /* of this allocation */
	unsigned char arg[];
};

static const char *who(const struct pn__sup *s)
{
	return s->spec->name ? s->spec->name : "supervisor";
}

/* --- a child's bookkeeping (for supervisor.c too) ------------------------ */

/* The answers a child owes once it has settled in state @st. */
static void settle(struct pn_shard *ctx, struct pn__sup *s, struct pn__child *c,
		   int st)
{
	if (c->start_w.op && st == C_RUN) {
		struct pn_sup_reply r = {.pid = c->pid};

		pn__sup_answer(ctx, s->self, &c->start_w, &r, NULL, 0);
	} else if (c->start_w.op && st != C_STARTING && st != C_WANT) {
		pn__sup_answer_err(ctx, s->self, &c->start_w, -ECHILD,
				   "supervisor \"%s\": child \"%s\" was "
				   "stopped before it was up",
				   who(s), pn__child_id(c));
	}
	if (c->stop_w.op && (st == C_DOWN || st == C_HELD || st == C_REMOVED)) {
		struct pn_sup_reply r = {0};

		pn__sup_answer(ctx, s->self, &c->stop_w, &r, NULL, 0);
	}
}

/*
 * Child @c enters state @st. A child's name stays bound while it is to
 * come back (its refs follow it; between incarnations they get -ESRCH)
 * and goes when it does not. Keeps the supervisor's counts (busy,
 * removed, the lowest WANT) and gives the answers the child owes.
 */
void pn__child_set(struct pn_shard *ctx, struct pn__sup *s, struct pn__child *c,
		   int st)
{
	unsigned idx = (unsigned)(c - s->c);

	s->busy += (unsigned)PN__C_BUSY(st) - (unsigned)PN__C_BUSY(c->st);
	s->nremoved += (st == C_REMOVED) - (c->st == C_REMOVED);
	c->st = (uint8_t)st;
	c->epoch = ++s->epochs;
	if ((st == C_DOWN || st == C_HELD || st == C_REMOVED) && c->named) {
		pn__name_drop(ctx->rt, c->spec->name, c->named);
		c->named = PN_PID_NONE;
	} else if (st == C_WANT && c->named) {
		pn__name_gap(ctx->rt, c->spec->name, c->named);
	}
	if (st == C_WANT && idx < s->want_lo)
		s->want_lo = idx;
	settle(ctx, s, c, st);
}

/* Fill entry @c (zeroed, already counted in s->n or about to be) for
 * @sp: it is WANT, to be started in its turn. */
void pn__child_setup(struct pn_shard *ctx, struct pn__sup *s,
		     struct pn__child *c, const struct pn_child_spec *sp)
{
	c->spec = sp;
	c->st = C_WANT;
	c->epoch = ++s->epochs;
	c->shard = sp->sup ? PN_SHARD_SUPERVISOR : sp->shard;
	if (c->shard == PN_SHARD_ANY)
		c->shard = (int)(ctx->rt->sup->rr++ % ctx->rt->napp);
	c->shutdown_ns = sp->shutdown_ns ? sp->shutdown_ns
			 : sp->sup	 ? PN_SHUTDOWN_INFINITY
					 : PN__SHUTDOWN_DEFAULT_NS;
}

/* A dynamic child's first start failed: it is not kept (OTP's
 * start_child returns the error); no restart, no intensity. */
void pn__sup_dyn_start_failed(struct pn_shard *ctx, struct pn__sup *s,
			      struct pn__child *c, int reason, int detail)
{
	char what[160];
	struct pn_sup_reply r = {
		.err = -ECHILD, .reason = reason, .detail = detail};

	snprintf(what, sizeof(what), "failed to start: %s (%d)",
		 pn_reason_name(reason), detail);
	pn__child_event(ctx, s, PN_EVENT_CHILD_EXIT, c, reason, detail, what);
	snprintf(r.error, sizeof(r.error),
		 "supervisor \"%s\": child \"%s\" failed to start: %s (%d)",
		 who(s), pn__child_id(c), pn_reason_name(reason), detail);
	pn__sup_answer(ctx, s->self, &c->start_w, &r, NULL, 0);
	c->mark = false;
	pn__child_set(ctx, s, c, C_REMOVED);
	c->pid = PN_PID_NONE;
}

/* --- the calls -------------------------------------------------------------
 */

static void dyn_free(struct pn_shard *ctx, struct pn__child *c)
{
	if (c->own)
		pn_arena_free(ctx->arena, c->own, c->own->size);
	c->own = NULL;
}

/* The child @id names (by child id; simple children have none), or the
 * one running as @pid; REMOVED entries are gone already. */
static struct pn__child *find(struct pn__sup *s, const struct pn__call *q)
{
	for (unsigned i = 0; i < s->n; i++) {
		struct pn__child *c = &s->c[i];

		if (c->st == C_REMOVED)
			continue;
		if (q->has_id && !s->simple &&
		    strcmp(pn__child_id(c), q->id) == 0)
			return c;
		if (!q->has_id && q->pid && c->pid == q->pid)
			return c;
	}
	return NULL;
}

/* Room for one more child (the array doubles); NULL: no memory. */
static struct pn__child *child_add(struct pn_shard *ctx, struct pn__sup *s)
{
	if (s->n == s->cap) {
		unsigned cap = s->cap ? 2 * s->cap : 8;
		struct pn__child *c =
			pn_arena_zalloc(ctx->arena, cap * sizeof(*c));

		if (!c)
			return NULL;
		if (s->n)
			memcpy(c, s->c, s->n * sizeof(*c));
		if (s->c)
			pn_arena_free(ctx->arena, s->c, s->cap * sizeof(*c));
		s->c = c;
		s->cap = cap;
	}
	memset(&s->c[s->n], 0, sizeof(s->c[0]));
	return &s->c[s->n++];
}

/* The copy a new child owns: @q's spec, or the template with the extra
 * argument. -EINVAL/-ENOMEM (answered by the caller). */
static int dyn_make(struct pn_shard *ctx, struct pn__sup *s,
		    const struct pn__call *q, struct pn__dyn **out)
{
	const struct pn_child_spec *t =
		s->simple ? &s->spec->children[0] : &q->spec;
	size_t base = s->simple ? t->arg_len : 0;
	size_t len = base + q->arg_len;
	struct pn__dyn *d;

	if (len > PN_SPAWN_ARG_MAX)
		return pn__error(-EINVAL,
				 "supervisor \"%s\": the template's argument "
				 "and the extra one are %zu bytes (at most %u)",
				 who(s), len, PN_SPAWN_ARG_MAX);
	if (!(d = pn_arena_zalloc(ctx->arena, sizeof(*d) + len)))
		return pn__error(-ENOMEM, "no memory for a child spec");
	d->size = sizeof(*d) + len;
	d->spec = *t;
	if (base)
		memcpy(d->arg, t->arg, base);
	memcpy(d->arg + base, q->arg, q->arg_len);
	d->spec.arg = len ? d->arg : NULL;
	d->spec.arg_len = len;
	if (!s->simple) { /* the template's own strings outlive us */
		snprintf(d->id, sizeof(d->id), "%s", q->id);
		snprintf(d->name, sizeof(d->name), "%s", q->name);
		d->spec.id = d->id[0] ? d->id : NULL;
		d->spec.name = d->name[0] ? d->name : NULL;
	}
	*out = d;
	return 0;
}

static int start_check(struct pn__sup *s, const struct pn__call *q)
{
	struct pn__child probe = {.spec = &q->spec};
	struct pn_child_spec sp = q->spec;

	if (s->simple && q->has_spec)
		return pn__error(-EINVAL,
				 "supervisor \"%s\" is simple_one_for_one: "
				 "start_child takes an extra argument, not a "
				 "child spec",
				 who(s));
	if (!s->simple && !q->has_spec)
		return pn__error(-EINVAL,
				 "supervisor \"%s\" is not simple_one_for_one: "
				 "start_child takes a child spec",
				 who(s));
	if (s->simple)
		return 0;
	sp.id = q->id[0] ? q->id : NULL;
	sp.name = q->name[0] ? q->name : NULL;
	probe.spec = &sp;
	for (unsigned i = 0; i < s->n; i++)
		if (s->c[i].st != C_REMOVED &&
		    strcmp(pn__child_id(&s->c[i]), pn__child_id(&probe)) == 0)
			return pn__error(-EEXIST,
					 "supervisor \"%s\" has a child "
					 "\"%s\" already",
					 who(s), pn__child_id(&probe));
	return 0;
}

static void do_start(struct pn_shard *ctx, struct pn__sup *s,
		     struct pn__call *q)
{
	struct pn__child *c;
	struct pn__dyn *d = NULL;
	int err;

	if ((err = start_check(s, q)) < 0 ||
	    (err = dyn_make(ctx, s, q, &d)) < 0) {
		pn__sup_answer_err(ctx, s->self, &q->o, err, "%s",
				   pn_last_error());
		return;
	}
	if (!(c = child_add(ctx, s))) {
		pn_arena_free(ctx->arena, d, d->size);
		pn__sup_answer_err(ctx, s->self, &q->o, -ENOMEM,
				   "no memory for a child");
		return;
	}
	c->own = d;
	pn__child_setup(ctx, s, c, &d->spec);
	c->start_w = q->o; /* answered once it is up, or is not */
	if (s->n - 1 < s->want_lo)
		s->want_lo = s->n - 1;
}

static void do_terminate(struct pn_shard *ctx, struct pn__sup *s,
			 struct pn__call *q)
{
	struct pn__child *c = find(s, q);
	int to = s->simple ? C_REMOVED : C_HELD;

	if (!c) {
		pn__sup_answer_err(ctx, s->self, &q->o, -ENOENT,
				   "supervisor \"%s\" has no child %s%s%s",
				   who(s), q->has_id ? "\"" : "running as ",
				   q->has_id ? q->id : "that PID",
				   q->has_id ? "\"" : "");
		return;
	}
	if (c->stop_w.op || c->st == C_DOWN || c->st == C_HELD) {
		pn__sup_answer_err(ctx, s->self, &q->o, -EALREADY,
				   "supervisor \"%s\": child \"%s\" is %s",
				   who(s), pn__child_id(c),
				   c->stop_w.op ? "being terminated already"
						: "not running");
		return;
	}
	c->stop_w = q->o;
	if (c->st == C_WANT) { /* not running: settled at once */
		pn__child_set(ctx, s, c, to);
		return;
	}
	/* Running, starting (stopped once up) or being stopped for a
	 * restart: then it stays stopped. */
	c->after = (uint8_t)to;
	if (c->st == C_RUN || c->st == C_STARTING)
		c->mark = s->marked = true;
}

static void do_delete(struct pn_shard *ctx, struct pn__sup *s,
		      struct pn__call *q)
{
	struct pn__child *c;

	if (s->simple) {
		pn__sup_answer_err(ctx, s->self, &q->o, -EINVAL,
				   "supervisor \"%s\" is simple_one_for_one: "
				   "its children go when terminated",
				   who(s));
		return;
	}
	if (!(c = find(s, q))) {
		pn__sup_answer_err(ctx, s->self, &q->o, -ENOENT,
				   "supervisor \"%s\" has no child \"%s\"",
				   who(s), q->id);
		return;
	}
	if (c->st != C_DOWN && c->st != C_HELD) {
		pn__sup_answer_err(ctx, s->self, &q->o, -EBUSY,
				   "supervisor \"%s\": child \"%s\" is running "
				   "(terminate it first)",
				   who(s), pn__child_id(c));
		return;
	}
	pn__child_set(ctx, s, c, C_REMOVED);
	pn__sup_answer(ctx, s->self, &q->o, &(struct pn_sup_reply){0}, NULL, 0);
}

static int status_of(const struct pn__child *c)
{
	switch (c->st) {
	case C_RUN:
		return PN_CHILD_RUNNING;
	case C_STARTING:
		return PN_CHILD_STARTING;
	case C_WANT:
		return PN_CHILD_RESTARTING;
	case C_STOPPING:
	case C_KILLING:
		return PN_CHILD_STOPPING;
	}
	return PN_CHILD_STOPPED;
}

static void do_which(struct pn_shard *ctx, struct pn__sup *s,
		     struct pn__call *q)
{
	struct pn_sup_reply r = {0};
	struct pn_child_info *v = NULL;
	unsigned n = 0, cap = q->cap;

	for (unsigned i = 0; i < s->n; i++)
		r.count += s->c[i].st != C_REMOVED;
	if (cap > r.count)
		cap = r.count;
	if (cap && !(v = pn_arena_zalloc(ctx->arena, cap * sizeof(*v)))) {
		pn__sup_answer_err(ctx, s->self, &q->o, -ENOMEM,
				   "no memory for the list of children");
		return;
	}
	for (unsigned i = 0; i < s->n && n < cap; i++) {
		const struct pn__child *c = &s->c[i];

		if (c->st == C_REMOVED)
			continue;
		if (!s->simple)
			snprintf(v[n].id, sizeof(v[n].id), "%s",
				 pn__child_id(c));
		v[n].status = status_of(c);
		v[n].pid = PN__C_BUSY(c->st) || c->st == C_RUN ? c->pid
							       : PN_PID_NONE;
		v[n].supervisor = c->spec->sup != NULL;
		n++;
	}
	pn__sup_answer(ctx, s->self, &q->o, &r, v, n);
	if (v)
		pn_arena_free(ctx->arena, v, cap * sizeof(*v));
}

/* A call for this supervisor (PN__MSG_SUP_CALL), in its handler. */
void pn__sup_call(struct pn_shard *ctx, struct pn__sup *s,
		  const struct pn_msg *m)
{
	struct pn__call q;
	bool stopping = s->mode != M_START && s->mode != M_RUN;

	memset(&q, 0, sizeof(q));
	memcpy(&q, pn_msg_data(m), m->len < sizeof(q) ? m->len : sizeof(q));
	if (stopping || ((s->closing || pn__rt_closing(ctx->rt)) &&
			 q.o.op != PN_SUP_WHICH_CHILDREN)) {
		pn__sup_answer_err(ctx, s->self, &q.o, -ESHUTDOWN,
				   "supervisor \"%s\" is %s", who(s),
				   s->mode == M_ESCALATE || s->mode == M_DONE
					   ? "giving up"
					   : "stopping");
		return;
	}
	switch (q.o.op) {
	case PN_SUP_START_CHILD:
		do_start(ctx, s, &q);
		break;
	case PN_SUP_TERMINATE_CHILD:
		do_terminate(ctx, s, &q);
		break;
	case PN_SUP_DELETE_CHILD:
		do_delete(ctx, s, &q);
		break;
	case PN_SUP_WHICH_CHILDREN:
		do_which(ctx, s, &q);
		break;
	}
}

/* Drop the REMOVED entries (nothing is starting or stopping). */
void pn__sup_compact(struct pn_shard *ctx, struct pn__sup *s)
{
	unsigned j = 0;

	pn_assert(!s->busy);
	for (unsigned i = 0; i < s->n; i++) {
		if (s->c[i].st == C_REMOVED) {
			dyn_free(ctx, &s->c[i]);
			continue;
		}
		if (j != i)
			s->c[j] = s->c[i];
		j++;
	}
	s->n = j;
	s->nremoved = 0;
	s->want_lo = 0;
}

/* The supervisor stops: every answer still owed, every copy freed. */
void pn__sup_dyn_fini(struct pn_shard *ctx, struct pn__sup *s)
{
	int err = s->closing || pn__rt_closing(ctx->rt) ? -ESHUTDOWN : -ECHILD;

	for (unsigned i = 0; s->c && i < s->n; i++) {
		struct pn__child *c = &s->c[i];

		if (c->start_w.op)
			pn__sup_answer_err(ctx, s->self, &c->start_w, err,
					   "supervisor \"%s\" stopped before "
					   "child \"%s\" was up",
					   who(s), pn__child_id(c));
		if (c->stop_w.op)
			pn__sup_answer(ctx, s->self, &c->stop_w,
				       &(struct pn_sup_reply){0}, NULL, 0);
		dyn_free(ctx, c);
	}
}
