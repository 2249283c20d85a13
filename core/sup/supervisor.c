// SPDX-License-Identifier: MIT
/*
 * Supervisor trees, after Erlang/OTP. A supervisor is an actor on the
 * supervisor shard that traps exits and is linked to its children; it owns
 * their restarts, their names and their orderly stop. It does one thing at
 * a time: starting one child (until its init has returned: the runtime's
 * CHILD_UP, or a child supervisor's SUP_UP once its tree is up) or stopping
 * one child (until its EXIT). What else happens meanwhile (other children
 * failing) only changes child states; step() then carries on with
 * whatever is next:
 *
 *   1. stop marked children, highest index first (reverse start order);
 *   2. then, if giving up (escalation) or shutting down, finish that;
 *   3. else start wanted children, lowest index first (start order).
 *
 * A failure marks what the strategy says: one_for_one (and
 * simple_one_for_one) wants the child back; one_for_all marks every other
 * child for stopping and wants them all; rest_for_one does so for the
 * children after it. Temporary children stopped as part of a group are
 * dropped, as in OTP. Dynamic calls (dynamic.c) only add children at the
 * end, mark them or change their state; step() does the rest, so they
 * keep the same order and the same one-at-a-time discipline. The answers
 * they owe (a start once the child is up, a terminate once it stopped)
 * ride on the child and are given by pn__child_set().
 *
 * A stop is bounded: a worker is sent PN__MSG_STOP_BY with a deadline (now
 * + its shutdown timeout). If its shard reaches that message in time the
 * child stops with STOPPING and cleanup (PN_REASON_SHUTDOWN); after the
 * deadline it is killed on the spot with its cleanup skipped (KILLED,
 * -ETIMEDOUT), which is reported. Messages from one sender stay in order,
 * so a later "kill" message could never overtake the stop: the deadline
 * travels with it instead. Once the deadline has passed the supervisor
 * waits for the EXIT only while the child's shard makes progress; a shard
 * stuck in one handler for the watchdog limit (see watchdog.c) gets the
 * child reported as left behind, and the supervisor moves on.
 *
 * Shutdown: the stop stage first has every root stop its tree (a child
 * supervisor stops its children before itself), then stops what is left
 * by depth. A root that gives up cannot call pn_runtime_shutdown() (the
 * controlling thread's call, which waits for this shard too): it stops its
 * tree in order and notifies PN_NOTIFY_ROOT_FAILED to pn_runtime_wait(),
 * whose caller then shuts the runtime down.
 */
#include "tree.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#define START_DEFAULT_NS 5000000000ull
#define STALL_DEFAULT_NS 1000000000ull

enum { T_START, T_STOP, T_CHECK };

struct sup_arg {
	const struct pn_sup_spec *spec;
	struct pn__ticket *ticket;
	bool root;
};

static const struct pn_behaviour sup_b;

struct timer_msg {
	uint32_t idx, epoch, kind;
};

/* --- small helpers ------------------------------------------------------- */

const char *pn__child_id(const struct pn__child *c)
{
	const struct pn_child_spec *sp = c->spec;

	if (sp->id)
		return sp->id;
	if (sp->name)
		return sp->name;
	if (sp->b && sp->b->name)
		return sp->b->name;
	return sp->sup && sp->sup->name ? sp->sup->name : "?";
}

static const char *sup_name(const struct pn__sup *s)
{
	return s->spec->name ? s->spec->name : "supervisor";
}

static const char *child_bname(const struct pn__child *c)
{
	return c->spec->b ? (c->spec->b->name ? c->spec->b->name : "")
			  : sup_b.name;
}

/* A runtime message from this supervisor (not refused by the budget). */
static void sup_send(struct pn_shard *ctx, pn_pid from, pn_pid to,
		     uint32_t type, const void *data, size_t len)
{
	if (pn__send_sys(ctx, to, type, from, 0, data, len) < 0)
		pn_panic("supervisor: cannot send %#x: %s", type,
			 pn_last_error());
}

static void stop_by(struct pn_shard *ctx, struct pn__sup *s, pn_pid to,
		    uint64_t deadline)
{
	sup_send(ctx, s->self, to, PN__MSG_STOP_BY, &deadline,
		 sizeof(deadline));
}

/* Arm timer @kind for child @i in @delay_ns (the supervisor's own type:
 * pn_send_after() takes application types only). */
static void arm(struct pn_shard *ctx, struct pn__sup *s, unsigned i,
		unsigned kind, uint64_t delay_ns)
{
	struct timer_msg t = {.idx = i, .epoch = s->c[i].epoch, .kind = kind};
	struct pn_msg m = {
		.type = PN__MSG_SUP_TIMER, .len = sizeof(t), .to = s->self};
	uint64_t id;
	if (delay_ns == PN_SHUTDOWN_INFINITY)
		return;
	memcpy(m.data, &t, sizeof(t));
	if (pn__timers_arm(ctx->timers, pn__now(ctx->rt), delay_ns, 0, &m, &id))
		pn_panic("supervisor: no memory for a timer");
}

static uint64_t stall_limit(const struct pn_runtime *rt)
{
	return rt->cfg.watchdog_ns ? rt->cfg.watchdog_ns : STALL_DEFAULT_NS;
}

/* Where child @c runs (PN_SHARD_SUPERVISOR resolved). */
static unsigned child_shard(const struct pn_shard *ctx,
			    const struct pn__child *c)
{
	if (c->pid)
		return pn_pid_shard(c->pid);
	return c->shard >= 0 ? (unsigned)c->shard : ctx->rt->napp;
}

void pn__child_event(struct pn_shard *ctx, struct pn__sup *s, int kind,
		     const struct pn__child *c, int reason, int detail,
		     const char *what)
{
	struct pn_event ev = {.kind = kind,
			      .supervisor = s->self,
			      .actor = c ? c->pid : PN_PID_NONE,
			      .shard = c ? child_shard(ctx, c) : ctx->id,
			      .behaviour = c ? child_bname(c) : sup_b.name,
			      .child = c ? pn__child_id(c) : NULL,
			      .reason = reason,
			      .detail = detail};

	if (c)
		pn__event(ctx->rt, &ev,
			  "supervisor \"%s\" (%#llx): child \"%s\" (actor "
			  "%#llx, behaviour \"%s\", shard %u) %s",
			  sup_name(s), (unsigned long long)s->self,
			  pn__child_id(c), (unsigned long long)c->pid,
			  child_bname(c), ev.shard, what);
	else
		pn__event(ctx->rt, &ev, "supervisor \"%s\" (%#llx) %s",
			  sup_name(s), (unsigned long long)s->self, what);
}

/* A line for the shutdown report, when a stop stage is waiting on us. */
static void shutdown_line(struct pn_runtime *rt, const char *line)
{
	struct pn__sup_rt *r = rt->sup;
	size_t used;

	pthread_mutex_lock(&r->mu);
	used = strlen(r->text);
	if (used + 2 < sizeof(r->text))
		snprintf(r->text + used, sizeof(r->text) - used, "%s\n", line);
	pthread_mutex_unlock(&r->mu);
}

/* --- strategy ------------------------------------------------------------ */

/* Room for one more restart: fewer than R in the last T. Records it. */
static bool intensity_ok(struct pn__sup *s, uint64_t now)
{
	uint32_t r = s->spec->intensity;

	if (r == 0)
		return false;
	if (s->hn == r && now - s->hist[s->hhead] < s->spec->period_ns)
		return false;
	s->hist[s->hhead] = now;
	s->hhead = (s->hhead + 1) % r;
	if (s->hn < r)
		s->hn++;
	return true;
}

/* Child @c is part of a group restart (a child being terminated stays
 * out of it, and so does one terminated). */
static void group_mark(struct pn_shard *ctx, struct pn__sup *s,
		       struct pn__child *c)
{
	bool temporary = c->spec->restart == PN_RESTART_TEMPORARY;

	if ((c->st == C_RUN || c->st == C_STARTING) && !c->stop_w.op) {
		c->mark = s->marked = true;
		c->after = temporary ? C_REMOVED : C_WANT;
	} else if (c->st == C_DOWN) {
		pn__child_set(ctx, s, c, temporary ? C_REMOVED : C_WANT);
	}
}

/* Stop every child (reverse order), then finish as @mode says. */
static void stop_all(struct pn_shard *ctx, struct pn__sup *s, int mode)
{
	s->mode = mode;
	for (unsigned j = 0; j < s->n; j++) {
		struct pn__child *c = &s->c[j];

		if (c->st == C_RUN || c->st == C_STARTING) {
			c->mark = s->marked = true;
			c->after = C_DOWN;
		} else if (c->st == C_WANT) {
			pn__child_set(ctx, s, c, C_DOWN);
		}
	}
}

static void __attribute__((format(printf, 3, 4)))
escalate(struct pn_shard *ctx, struct pn__sup *s, const char *fmt, ...)
{
	char what[sizeof(s->why) + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
	stop_all(ctx, s, M_ESCALATE);
	snprintf(what, sizeof(what), "gives up: %s", s->why);
	pn__child_event(ctx, s, PN_EVENT_ESCALATE, NULL, PN_REASON_FAILED,
			-ECHILD, what);
}

static const char *const strategy_name[] = {
	"one_for_one", "one_for_all", "rest_for_one", "simple_one_for_one"};

static void restart(struct pn_shard *ctx, struct pn__sup *s, unsigned i,
		    int reason, int detail)
{
	struct pn__child *c = &s->c[i];
	char what[160];

	snprintf(what, sizeof(what), "stopped: %s (%d); restarting (%s)",
		 pn_reason_name(reason), detail,
		 strategy_name[s->spec->strategy]);
	pn__child_event(ctx, s, PN_EVENT_RESTART, c, reason, detail, what);
	pn__child_set(ctx, s, c, C_WANT);
	for (unsigned j = 0; j < s->n; j++) {
		if (j == i || s->spec->strategy == PN_ONE_FOR_ONE ||
		    s->simple ||
		    (s->spec->strategy == PN_REST_FOR_ONE && j < i))
			continue;
		group_mark(ctx, s, &s->c[j]);
	}
}

/* Child @c did not start while its tree was starting: give up (OTP's
 * start_link fails), unless the runtime is shutting down anyway. */
static void start_failed(struct pn_shard *ctx, struct pn__sup *s,
			 struct pn__child *c, int reason, int detail,
			 bool closing)
{
	char what[160];

	if (!closing) {
		snprintf(what, sizeof(what), "failed to start: %s (%d)",
			 pn_reason_name(reason), detail);
		pn__child_event(ctx, s, PN_EVENT_CHILD_EXIT, c, reason, detail,
				what);
	}
	pn__child_set(ctx, s, c, C_DOWN);
	c->pid = PN_PID_NONE;
	if (closing)
		stop_all(ctx, s, M_SHUTDOWN);
	else
		escalate(ctx, s, "child \"%s\" failed to start: %s (%d)",
			 pn__child_id(c), pn_reason_name(reason), detail);
}

/* An instance of child @i ended without being asked to. */
static void child_gone(struct pn_shard *ctx, struct pn__sup *s, unsigned i,
		       int reason, int detail)
{
	struct pn__child *c = &s->c[i];
	const struct pn_child_spec *sp = c->spec;
	bool abnormal =
		reason != PN_REASON_NORMAL && reason != PN_REASON_SHUTDOWN;
	bool closing = s->closing || pn__rt_closing(ctx->rt);
	char what[160];

	if (c->st == C_STARTING && c->start_w.op) {
		pn__sup_dyn_start_failed(ctx, s, c, reason, detail);
		return;
	}
	if (c->st == C_STARTING && s->mode == M_START) {
		start_failed(ctx, s, c, reason, detail, closing);
		return;
	}
	if (c->mark && s->mode != M_ESCALATE && s->mode != M_SHUTDOWN &&
	    !closing) {
		/* Already on its way out in a group restart. */
		c->mark = false;
		pn__child_set(ctx, s, c, c->after);
		c->pid = PN_PID_NONE;
		return;
	}
	c->mark = false;
	if (s->mode == M_ESCALATE || s->mode == M_SHUTDOWN || closing ||
	    sp->restart == PN_RESTART_TEMPORARY ||
	    (sp->restart == PN_RESTART_TRANSIENT && !abnormal)) {
		if (abnormal) {
			snprintf(what, sizeof(what),
				 "stopped: %s (%d); not restarted",
				 pn_reason_name(reason), detail);
			pn__child_event(ctx, s, PN_EVENT_CHILD_EXIT, c, reason,
					detail, what);
		}
		/* A simple_one_for_one child has no spec of its own to
		 * keep: it goes. */
		pn__child_set(ctx, s, c,
			      sp->restart == PN_RESTART_TEMPORARY || s->simple
				      ? C_REMOVED
				      : C_DOWN);
		c->pid = PN_PID_NONE;
		return;
	}
	if (!intensity_ok(s, pn__now(ctx->rt))) {
		pn__child_set(ctx, s, c, C_DOWN);
		escalate(ctx, s,
			 "more than %u restart(s) in %llu ms (intensity; last: "
			 "child \"%s\", %s (%d))",
			 s->spec->intensity,
			 (unsigned long long)(s->spec->period_ns / 1000000),
			 pn__child_id(c), pn_reason_name(reason), detail);
		c->pid = PN_PID_NONE;
		return;
	}
	restart(ctx, s, i, reason, detail);
	c->pid = PN_PID_NONE;
}

/* --- starting and stopping one child --------------------------------- */

static void start_child(struct pn_shard *ctx, struct pn__sup *s, unsigned i)
{
	struct pn__child *c = &s->c[i];
	const struct pn_child_spec *sp = c->spec;
	struct sup_arg a = {.spec = sp->sup};
	struct pn_spawn_opts o = {.shard = c->shard,
				  .flags = PN_SPAWN_LINK,
				  .arg = sp->arg,
				  .arg_len = sp->arg_len};
	pn_pid pid;
	int err;

	if (sp->sup) {
		o.arg = &a;
		o.arg_len = sizeof(a);
	} else {
		o.flags |= PN__SPAWN_ACK;
	}
	pn__child_set(ctx, s, c, C_STARTING);
	c->t0 = pn__now(ctx->rt);
	err = pn_spawn(pn__ctx(ctx), sp->sup ? &sup_b : sp->b, &o, &pid);
	if (err == 0 && sp->name) {
		err = pn__name_claim(ctx->rt, sp->name, c->named, pid);
		if (err < 0) /* not ours to start: stop it unseen */
			stop_by(ctx, s, pid, 0);
		else
			c->named = pid;
		if (err < 0 && c->start_w.op) { /* start_child: its name */
			pn__sup_answer_err(ctx, s->self, &c->start_w, err,
					   "supervisor \"%s\": child \"%s\": "
					   "%s",
					   sup_name(s), pn__child_id(c),
					   pn_last_error());
			c->pid = PN_PID_NONE;
			pn__child_set(ctx, s, c, C_REMOVED);
			return;
		}
	}
	if (err < 0) {
		c->pid = PN_PID_NONE;
		child_gone(ctx, s, i, PN_REASON_INIT, err);
		return;
	}
	c->pid = pid;
	if (!sp->sup)
		arm(ctx, s, i, T_START,
		    s->spec->start_ns ? s->spec->start_ns : START_DEFAULT_NS);
}

static void stop_child(struct pn_shard *ctx, struct pn__sup *s, unsigned i)
{
	struct pn__child *c = &s->c[i];
	uint64_t now = pn__now(ctx->rt);

	c->mark = false;
	pn__child_set(ctx, s, c, C_STOPPING);
	c->t0 = now;
	if (c->spec->sup)
		sup_send(ctx, s->self, c->pid, PN__MSG_SUP_STOP, NULL, 0);
	else
		stop_by(ctx, s, c->pid,
			c->shutdown_ns == PN_SHUTDOWN_INFINITY
				? UINT64_MAX
				: pn_deadline_ns(now, c->shutdown_ns));
	arm(ctx, s, i, T_STOP, c->shutdown_ns);
}

/* A stop we asked for is complete. */
static void stopped(struct pn_shard *ctx, struct pn__sup *s, unsigned i,
		    const struct pn_down *d)
{
	struct pn__child *c = &s->c[i];

	if (d->reason == PN_REASON_KILLED && d->detail == -ETIMEDOUT) {
		char what[160];

		snprintf(what, sizeof(what),
			 "did not stop within its shutdown timeout of %llu "
			 "ms: killed, its cleanup skipped",
			 (unsigned long long)(c->shutdown_ns / 1000000));
		pn__child_event(ctx, s, PN_EVENT_KILLED, c, d->reason,
				d->detail, what);
	}
	pn__child_set(ctx, s, c, c->after);
	c->pid = PN_PID_NONE;
}

static void left_behind(struct pn_shard *ctx, struct pn__sup *s, unsigned i,
			const struct pn__running *run, uint64_t ns)
{
	struct pn__child *c = &s->c[i];
	char what[320], tn[32];

	snprintf(what, sizeof(what),
		 "could not be stopped: its shard has been stuck for %llu ms "
		 "in actor %#llx (behaviour \"%s\") handling %s; left behind",
		 (unsigned long long)(ns / 1000000),
		 (unsigned long long)run->actor,
		 run->b && run->b->name ? run->b->name : "?",
		 pn__type_name(run->type, tn, sizeof(tn)));
	pn__child_event(ctx, s, PN_EVENT_LEFT_BEHIND, c, PN_REASON_KILLED,
			-ETIMEDOUT, what);
	if (s->mode == M_SHUTDOWN || s->closing) {
		snprintf(what, sizeof(what),
			 "supervision: child \"%s\" (actor %#llx, behaviour "
			 "\"%s\") left behind on stuck shard %u",
			 pn__child_id(c), (unsigned long long)c->pid,
			 child_bname(c), child_shard(ctx, c));
		shutdown_line(ctx->rt, what);
	}
	if (c->stop_w.op)
		pn__sup_answer_err(ctx, s->self, &c->stop_w, -ETIMEDOUT,
				   "child \"%s\" %s", pn__child_id(c), what);
	pn__child_set(ctx, s, c, c->after);
	c->pid = PN_PID_NONE;
}

static void on_timer(struct pn_shard *ctx, struct pn__sup *s,
		     const struct pn_msg *m)
{
	struct timer_msg t;
	struct pn__child *c;
	uint64_t now = pn__now(ctx->rt), ns;
	struct pn__running run;

	memcpy(&t, m->data, sizeof(t));
	if (t.idx >= s->n || s->c[t.idx].epoch != t.epoch)
		return; /* stale: the child moved on */
	c = &s->c[t.idx];
	switch (t.kind) {
	case T_START: /* its init did not return in time */
		stop_by(ctx, s, c->pid, 0);
		child_gone(ctx, s, t.idx, PN_REASON_INIT, -ETIMEDOUT);
		break;
	case T_STOP: /* its deadline passed: it is killed when reached */
		if (c->spec->sup)
			stop_by(ctx, s, c->pid, 0);
		pn__child_set(ctx, s, c, C_KILLING);
		arm(ctx, s, t.idx, T_CHECK, stall_limit(ctx->rt) / 4);
		break;
	case T_CHECK: /* still not gone: is its shard stuck? */
		ns = pn__stall_ns(ctx->rt, pn_pid_shard(c->pid), now, &run);
		/* Stuck, or (a bound whatever happens) waited four stall
		 * limits past the deadline. */
		if (ns >= stall_limit(ctx->rt) ||
		    now - c->t0 - c->shutdown_ns >= 4 * stall_limit(ctx->rt))
			left_behind(ctx, s, t.idx, &run, ns);
		else
			arm(ctx, s, t.idx, T_CHECK, stall_limit(ctx->rt) / 4);
		break;
	}
}

static void on_exit_msg(struct pn_shard *ctx, struct pn__sup *s,
			const struct pn_msg *m)
{
	struct pn_down d;

	memcpy(&d, pn_msg_data(m), sizeof(d));
	if (s->parent && d.pid == s->parent) {
		/* Our supervisor is gone: stop our tree, then ourselves. */
		if (s->mode == M_START || s->mode == M_RUN)
			stop_all(ctx, s, M_SHUTDOWN);
		return;
	}
	for (unsigned i = 0; i < s->n; i++) {
		struct pn__child *c = &s->c[i];

		if (c->pid != d.pid)
			continue;
		if (c->st == C_STOPPING || c->st == C_KILLING)
			stopped(ctx, s, i, &d);
		else if (c->st == C_STARTING || c->st == C_RUN)
			child_gone(ctx, s, i, d.reason, d.detail);
		return;
	}
	/* An instance we already gave up on, or a stranger: nothing. */
}

static void on_up(struct pn_shard *ctx, struct pn__sup *s, pn_pid pid)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->c[i].pid == pid && s->c[i].st == C_STARTING) {
			pn__child_set(ctx, s, &s->c[i], C_RUN);
			return;
		}
}

/* The whole tree is up. */
static void tree_up(struct pn_shard *ctx, struct pn__sup *s)
{
	s->mode = M_RUN;
	s->up = true;
	if (s->root)
		pn__ticket_done(ctx->rt, &s->ticket, 0, "");
	else if (s->parent)
		sup_send(ctx, s->self, s->parent, PN__MSG_SUP_UP, NULL, 0);
}

static void finish_escalate(struct pn_shard *ctx, struct pn__sup *s)
{
	char msg[sizeof(s->why) + 64];

	s->mode = M_DONE;
	snprintf(msg, sizeof(msg), "supervisor \"%s\": %s", sup_name(s),
		 s->why);
	if (s->root) {
		struct pn_event ev = {.kind = PN_EVENT_ROOT_FAILED,
				      .supervisor = s->self,
				      .shard = ctx->id,
				      .behaviour = sup_b.name,
				      .reason = PN_REASON_FAILED,
				      .detail = -ECHILD};

		pn__event(
			ctx->rt, &ev,
			"root supervisor \"%s\" (%#llx) failed (%s): its tree "
			"is stopped; the runtime should be shut down",
			sup_name(s), (unsigned long long)s->self, s->why);
		/* Whoever waits in pn_supervisor_start() learns it there;
		 * otherwise tell the thread in pn_runtime_wait(). */
		if (!pn__ticket_done(ctx->rt, &s->ticket, -ECHILD, msg))
			pn_runtime_notify(ctx->rt, PN_NOTIFY_ROOT_FAILED);
	}
	pn_fail(pn__ctx(ctx), -ECHILD);
}

/* Carry on with whatever comes next (see the top of the file). */
static void step(struct pn_shard *ctx, struct pn__sup *s)
{
	for (;;) {
		int next = -1;

		if (s->mode == M_DONE || s->busy)
			return; /* one thing at a time */
		for (unsigned i = s->n; s->marked && i-- > 0 && next < 0;) {
			if (s->c[i].mark && s->c[i].st == C_RUN)
				next = (int)i;
			else
				s->c[i].mark = false;
		}
		if (next >= 0) {
			stop_child(ctx, s, (unsigned)next);
			continue;
		}
		s->marked = false; /* the scan cleared every mark */
		if (s->mode == M_ESCALATE) {
			finish_escalate(ctx, s);
			return;
		}
		if (s->mode == M_SHUTDOWN) {
			s->mode = M_DONE;
			pn_stop(pn__ctx(ctx), s->self);
			return;
		}
		for (unsigned i = s->want_lo; i < s->n && next < 0; i++)
			if (s->c[i].st == C_WANT)
				next = (int)i;
		s->want_lo = next >= 0 ? (unsigned)next : s->n;
		if (next >= 0) {
			start_child(ctx, s, (unsigned)next);
			continue;
		}
		/* Nothing is starting or stopping: no timer names an index
		 * any more, entries may move. */
		if (s->nremoved)
			pn__sup_compact(ctx, s);
		if (s->mode == M_START)
			tree_up(ctx, s);
		return;
	}
}

/* --- the supervisor behaviour -------------------------------------------- */

static int sup_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct pn_shard *sh = pn__shard(ctx);
	struct pn__sup *s = state;
	switch (m->type) {
	case PN_MSG_STARTED:
		s->parent = m->from; /* PN_PID_NONE for a root */
		break;
	case PN_MSG_EXIT:
		on_exit_msg(sh, s, m);
		break;
	case PN__MSG_CHILD_UP:
	case PN__MSG_SUP_UP:
		on_up(sh, s, m->from);
		break;
	case PN__MSG_SUP_TIMER:
		on_timer(sh, s, m);
		break;
	case PN__MSG_SUP_STOP:
		if (s->mode == M_START || s->mode == M_RUN)
			stop_all(sh, s, M_SHUTDOWN);
		break;
	case PN_MSG_SHUTDOWN:
		s->closing = true; /* no more restarts */
		break;
	case PN__MSG_SUP_CALL: /* through pn__sup_call_msg() */
		pn__sup_call(sh, s, m);
		break;
	default:
		return 0; /* STOPPING (cleanup follows), strangers */
	}
	step(sh, s);
	return 0;
}

static int sup_init(struct pn_ctx *ctx, void *state, const void *arg,
		    size_t len)
{
	struct pn_shard *sh = pn__shard(ctx);
	struct pn__sup *s = state;
	struct pn__sup_rt *r = sh->rt->sup;
	struct sup_arg a;

	if (len != sizeof(a))
		return -EINVAL;
	memcpy(&a, arg, sizeof(a));
	s->spec = a.spec;
	s->ticket = a.ticket;
	s->root = a.root;
	s->self = pn_self(pn__ctx(sh));
	/* simple_one_for_one: children[0] is the template, started only by
	 * start_child (dynamic.c). */
	s->simple = s->spec->strategy == PN_SIMPLE_ONE_FOR_ONE;
	s->cap = s->simple ? 0 : s->spec->nchildren;
	if (s->root) {
		s->next_root = r->roots;
		r->roots = s;
	}
	if (s->cap &&
	    !(s->c = pn_arena_zalloc(sh->arena, s->cap * sizeof(*s->c))))
		return -ENOMEM;
	if (s->spec->intensity &&
	    !(s->hist = pn_arena_zalloc(sh->arena,
					s->spec->intensity * sizeof(*s->hist))))
		return -ENOMEM;
	for (s->n = 0; s->n < s->cap; s->n++)
		pn__child_setup(sh, s, &s->c[s->n], &s->spec->children[s->n]);
	pn_trap_exit(pn__ctx(sh), true);
	return 0;
}

static void sup_cleanup(struct pn_ctx *ctx, void *state, int reason)
{
	struct pn_shard *sh = pn__shard(ctx);
	struct pn__sup *s = state;
	struct pn__sup_rt *r = sh->rt->sup;
	char msg[sizeof(s->why) + 96];

	if (s->root) {
		struct pn__sup **p = &r->roots;

		while (*p && *p != s)
			p = &(*p)->next_root;
		if (*p)
			*p = s->next_root;
	}
	if (s->counted) { /* the stop stage waits for this tree */
		pthread_mutex_lock(&r->mu);
		r->trees_left--;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
	}
	snprintf(msg, sizeof(msg),
		 "supervisor \"%s\" stopped (%s) before its "
		 "tree was up%s%s",
		 s->spec ? sup_name(s) : "?", pn_reason_name(reason),
		 s->why[0] ? ": " : "", s->why);
	pn__ticket_done(sh->rt, &s->ticket,
			reason == PN_REASON_SHUTDOWN || s->closing ||
					pn__rt_closing(sh->rt)
				? -ESHUTDOWN
				: -ECHILD,
			msg);
	for (unsigned i = 0; s->c && i < s->n; i++)
		if (s->c[i].named && s->c[i].st != C_RUN &&
		    s->c[i].st != C_STARTING)
			pn__name_drop(sh->rt, s->c[i].spec->name,
				      s->c[i].named);
	pn__sup_dyn_fini(sh, s); /* answers owed, dynamic children's specs */
	if (s->c)
		pn_arena_free(sh->arena, s->c, s->cap * sizeof(*s->c));
	if (s->hist)
		pn_arena_free(sh->arena, s->hist,
			      s->spec->intensity * sizeof(*s->hist));
}

static const struct pn_behaviour sup_b = {
	.name = "pinion.supervisor",
	.state_size = sizeof(struct pn__sup),
	.init = sup_init,
	.handle = sup_handle,
	.cleanup = sup_cleanup,
};

bool pn__sup_is(const struct pn__actor *a)
{
	return a->b == &sup_b;
}

/* --- the public side --------------------------------------------------- */

/*
 * Spawn a root supervisor for @spec (checked) on the supervisor shard; it
 * completes @t when its tree is up or it fails. External.
 */
int pn__sup_spawn_root(struct pn_runtime *rt, const struct pn_sup_spec *spec,
		       struct pn__ticket *t, pn_pid *pid)
{
	struct sup_arg a = {.spec = spec, .ticket = t, .root = true};
	struct pn_spawn_opts o = {
		.shard = PN_SHARD_SUPERVISOR, .arg = &a, .arg_len = sizeof(a)};

	return pn_runtime_spawn(rt, &sup_b, &o, pid);
}

/* The stop stage's first word, on every shard: the supervisor shard asks
 * each root supervisor to stop its tree. */
void pn__sup_shutdown_begin(struct pn_shard *s)
{
	struct pn__sup_rt *r = s->rt->sup;
	unsigned n = 0;

	if (s->id != s->rt->napp)
		return;
	for (struct pn__sup *p = r->roots; p; p = p->next_root) {
		if (p->counted)
			continue;
		p->counted = true;
		n++;
		sup_send(s, PN_PID_NONE, p->self, PN__MSG_SUP_STOP, NULL, 0);
	}
	pthread_mutex_lock(&r->mu);
	r->trees_left += n;
	pthread_mutex_unlock(&r->mu);
}
