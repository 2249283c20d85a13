// SPDX-License-Identifier: MIT
/*
 * The runtime's side of supervision: the per-runtime state (created with
 * the runtime), the configuration defaults, pn_supervisor_start() (the
 * spec check and the wait for the root's tree), the deadline stop that
 * lets a supervisor kill a child without its cleanup, the stop stage's
 * wait for the supervised trees, and the events and counters every
 * supervisor and the watchdog report through. The tree logic itself is in
 * supervisor.c, the watchdog in watchdog.c.
 */
#include "sup_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_NESTING   16
#define MAX_INTENSITY 65536

void pn__sup_config_init(struct pn_config *c)
{
	c->watchdog_ns = 1000000000ull;
	c->watchdog_policy = PN_WATCHDOG_REPORT;
	c->registry_slots = 4096;
	c->no_crash_report = false;
}

int pn__sup_init(struct pn_runtime *rt)
{
	struct pn__sup_rt *r;
	pthread_condattr_t ca;
	int err;

	if (rt->cfg.watchdog_policy != PN_WATCHDOG_REPORT &&
	    rt->cfg.watchdog_policy != PN_WATCHDOG_ABORT)
		return pn__error(-EINVAL,
				 "watchdog_policy=%d: expected "
				 "PN_WATCHDOG_REPORT or _ABORT",
				 rt->cfg.watchdog_policy);
	if (rt->cfg.watchdog_ns && rt->cfg.watchdog_ns < 1000000)
		return pn__error(-EINVAL,
				 "watchdog_ns=%llu: expected 0 (off) or at "
				 "least 1000000 (1 ms)",
				 (unsigned long long)rt->cfg.watchdog_ns);
	if (!(r = calloc(1, sizeof(*r))) ||
	    !(r->stall = calloc(rt->nshards, sizeof(*r->stall)))) {
		free(r);
		return pn__error(-ENOMEM, "out of memory");
	}
	rt->sup = r;
	if ((err = pn__registry_init(rt)) < 0) {
		free(r->stall);
		free(r);
		rt->sup = NULL;
		return err;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	return 0;
}

void pn__sup_fini(struct pn_runtime *rt)
{
	struct pn__sup_rt *r = rt->sup;

	if (!r)
		return;
	pn__registry_fini(rt);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	free(r->stall);
	free(r);
	rt->sup = NULL;
}

/* Wake pn_supervisor_start() callers: the gate closed (producer.c). */
void pn__sup_wake(struct pn_runtime *rt)
{
	struct pn__sup_rt *r = rt->sup;

	pthread_mutex_lock(&r->mu);
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

/* --- events and counters ------------------------------------------------- */

/* Counter index of an event kind (struct pn_supervision_stats order). */
static int counter_of(int kind)
{
	switch (kind) {
	case PN_EVENT_RESTART:
		return 0;
	case PN_EVENT_ESCALATE:
		return 1;
	case PN_EVENT_ROOT_FAILED:
		return 2;
	case PN_EVENT_KILLED:
		return 3;
	case PN_EVENT_LEFT_BEHIND:
		return 4;
	case PN_EVENT_STALL:
		return 5;
	}
	return -1;
}

/*
 * Report @ev with the text @fmt makes: count it, then hand it to the
 * configured hook, or print it. Supervisor shard only (the counters are
 * owner-written: a relaxed load and store, no RMW; readers load relaxed).
 */
void pn__event(struct pn_runtime *rt, struct pn_event *ev, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	int i = counter_of(ev->kind);

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	ev->text = text;
	if (!ev->behaviour)
		ev->behaviour = "";
	if (i >= 0)
		pn__ctr_add(&rt->sup->n[i], 1);
	if (ev->kind == PN_EVENT_RESTART)
		PN_PROBE3(restart, ev->supervisor, ev->actor, ev->reason);
	if (rt->cfg.on_event)
		rt->cfg.on_event(rt->cfg.event_arg, ev);
	else
		fprintf(stderr, "pinion: %s\n", text);
}

int pn_supervision_stats(const struct pn_runtime *rt,
			 struct pn_supervision_stats *out)
{
	uint64_t *v = (uint64_t *)out;

	_Static_assert(sizeof(*out) == sizeof(rt->sup->n),
		       "pn_supervision_stats mirrors pn__sup_rt.n");
	for (unsigned i = 0; i < sizeof(*out) / sizeof(*v); i++)
		v[i] = atomic_load_explicit(&rt->sup->n[i],
					    memory_order_relaxed);
	return 0;
}

/* "stopping", "0x1001", ... for reports. */
const char *pn__type_name(uint32_t type, char *buf, size_t size)
{
	static const char *const sys[] = {"?",	      "started", "stopping",
					  "down",     "exit",	 "timeout",
					  "shutdown", "writable"};

	if (type > PN_MSG_SYS && type <= PN_MSG_WRITABLE)
		snprintf(buf, size, "%s", sys[type - PN_MSG_SYS]);
	else if (type == PN__MSG_SPAWN)
		snprintf(buf, size, "init (spawn)");
	else if (type >= PN_MSG_SYS)
		snprintf(buf, size, "runtime type %#x", type);
	else
		snprintf(buf, size, "type %#x", type);
	return buf;
}

/* --- pn_supervisor_start() ----------------------------------------------- */

static int spec_check(const struct pn_runtime *rt, const struct pn_sup_spec *sp,
		      unsigned depth);

static int child_check(const struct pn_runtime *rt,
		       const struct pn_sup_spec *sp, unsigned i, unsigned depth)
{
	const struct pn_child_spec *c = &sp->children[i];
	const char *who = sp->name ? sp->name : "supervisor";
	size_t nlen = c->name ? strnlen(c->name, PN_NAME_MAX) : 1;

	if (!c->b == !c->sup)
		return pn__error(-EINVAL,
				 "%s: child %u needs exactly one of "
				 "b (a worker) and sup",
				 who, i);
	if (c->b && !c->b->handle)
		return pn__error(-EINVAL,
				 "%s: child %u: behaviour without a "
				 "handler",
				 who, i);
	if ((unsigned)c->restart > PN_RESTART_TEMPORARY)
		return pn__error(-EINVAL, "%s: child %u: restart=%d", who, i,
				 (int)c->restart);
	if (c->b && c->shard != PN_SHARD_ANY &&
	    c->shard != PN_SHARD_SUPERVISOR &&
	    (c->shard < 0 || (unsigned)c->shard >= rt->napp))
		return pn__error(-EINVAL,
				 "%s: child %u: no shard %d (%u shards)", who,
				 i, c->shard, rt->napp);
	if (c->arg_len > PN_SPAWN_ARG_MAX || (c->arg_len && !c->arg))
		return pn__error(-EINVAL,
				 "%s: child %u: argument of %zu "
				 "bytes",
				 who, i, c->arg_len);
	if (nlen == 0 || nlen >= PN_NAME_MAX)
		return pn__error(-EINVAL, "%s: child %u: name of 1 to %d bytes",
				 who, i, PN_NAME_MAX - 1);
	return c->sup ? spec_check(rt, c->sup, depth + 1) : 0;
}

static int spec_check(const struct pn_runtime *rt, const struct pn_sup_spec *sp,
		      unsigned depth)
{
	const char *who;
	int err;

	if (!sp)
		return pn__error(-EINVAL, "supervisor: no spec");
	who = sp->name ? sp->name : "supervisor";
	if (depth > MAX_NESTING)
		return pn__error(-EINVAL,
				 "%s: nested more than %d deep (a cycle?)", who,
				 MAX_NESTING);
	if ((unsigned)sp->strategy > PN_SIMPLE_ONE_FOR_ONE)
		return pn__error(-EINVAL, "%s: strategy=%d", who,
				 (int)sp->strategy);
	if (sp->strategy == PN_SIMPLE_ONE_FOR_ONE &&
	    (sp->nchildren != 1 || !sp->children || !sp->children[0].b ||
	     sp->children[0].name))
		return pn__error(-EINVAL,
				 "%s: simple_one_for_one needs exactly one "
				 "child spec, a worker without a name (the "
				 "template)",
				 who);
	if (sp->intensity > MAX_INTENSITY || (sp->intensity && !sp->period_ns))
		return pn__error(-EINVAL,
				 "%s: intensity=%u period_ns=%llu: expected at "
				 "most %d restarts in a period > 0",
				 who, sp->intensity,
				 (unsigned long long)sp->period_ns,
				 MAX_INTENSITY);
	if (sp->nchildren && !sp->children)
		return pn__error(-EINVAL, "%s: %u children but no list", who,
				 sp->nchildren);
	for (unsigned i = 0; i < sp->nchildren; i++)
		if ((err = child_check(rt, sp, i, depth)) < 0)
			return err;
	return 0;
}

/* A child spec for start_child (calls.c): as a spec's own child. */
int pn__sup_child_check(const struct pn_runtime *rt,
			const struct pn_child_spec *c)
{
	struct pn_sup_spec one = {.name = "start_child",
				  .strategy = PN_ONE_FOR_ONE,
				  .children = c,
				  .nchildren = 1};

	return spec_check(rt, &one, 1);
}

/* Complete *@pt (and forget it); whether its starter still waits. */
bool pn__ticket_done(struct pn_runtime *rt, struct pn__ticket **pt, int err,
		     const char *msg)
{
	struct pn__ticket *t = *pt;
	bool waiting;

	if (!t)
		return false;
	*pt = NULL;
	pthread_mutex_lock(&rt->sup->mu);
	waiting = t->refs > 1;
	t->done = true;
	t->err = err;
	snprintf(t->msg, sizeof(t->msg), "%s", msg);
	pthread_cond_broadcast(&rt->sup->cv);
	if (--t->refs == 0)
		free(t);
	pthread_mutex_unlock(&rt->sup->mu);
	return waiting;
}

/* pn_supervisor_start() inside the gate: spawn the root, wait for it. */
static int sup_start(struct pn_runtime *rt, const struct pn_sup_spec *spec,
		     uint64_t timeout_ns, pn_pid *pid)
{
	struct pn__sup_rt *r = rt->sup;
	uint64_t until = pn_deadline_ns(pn_now_ns(), timeout_ns);
	struct timespec ts = {.tv_sec = (time_t)(until / 1000000000u),
			      .tv_nsec = (long)(until % 1000000000u)};
	struct pn__ticket *t;
	bool done, closed;
	int err;

	if ((err = spec_check(rt, spec, 0)) < 0)
		return err;
	if (!(t = calloc(1, sizeof(*t))))
		return pn__error(-ENOMEM, "out of memory");
	t->refs = 2; /* ours and the supervisor's */
	if ((err = pn__sup_spawn_root(rt, spec, t, pid)) < 0) {
		free(t);
		return err;
	}
	pthread_mutex_lock(&r->mu);
	/* The closer broadcasts cv under mu once it has closed the gate. */
	while (timeout_ns && !t->done && !pn__rt_closing(rt) &&
	       pn_now_ns() < until) {
		if (until == UINT64_MAX)
			pthread_cond_wait(&r->cv, &r->mu);
		else
			pthread_cond_timedwait(&r->cv, &r->mu, &ts);
	}
	done = t->done;
	err = t->err;
	closed = pn__rt_closing(rt);
	if (done && err)
		pn__error(err, "%s", t->msg);
	if (--t->refs == 0)
		free(t);
	pthread_mutex_unlock(&r->mu);
	if (!timeout_ns || (done && !err))
		return 0;
	if (done)
		return err;
	if (closed)
		return pn__error(-ESHUTDOWN,
				 "supervisor \"%s\": the runtime is shutting "
				 "down before the tree was up",
				 spec->name ? spec->name : "");
	return pn__error(-ETIMEDOUT,
			 "supervisor \"%s\": tree not up within %llu ms",
			 spec->name ? spec->name : "",
			 (unsigned long long)(timeout_ns / 1000000));
}

int pn_supervisor_start(struct pn_runtime *rt, const struct pn_sup_spec *spec,
			uint64_t timeout_ns, pn_pid *pid)
{
	int err;

	if (!rt || !pid)
		return pn__error(-EINVAL, "pn_supervisor_start: NULL argument");
	if ((err = pn__gate_enter(rt, &rt->ext_inside, true, false,
				  "pn_supervisor_start")) < 0)
		return err;
	err = sup_start(rt, spec, timeout_ns, pid);
	pn__gate_leave(rt, &rt->ext_inside, true);
	return err;
}

/* --- stopping ------------------------------------------------------------ */

/*
 * PN__MSG_STOP_BY, on the actor's shard (actor.c's runtime-message
 * dispatch): stop with STOPPING and cleanup (PN_REASON_SHUTDOWN) while the
 * deadline in the payload holds; after it, kill without cleanup.
 */
void pn__stop_by(struct pn_shard *s, struct pn__actor *a,
		 const struct pn_msg *m)
{
	if (pn__now(s->rt) <= pn_msg_u64(m)) {
		pn__actor_stop(s, a, PN_REASON_SHUTDOWN, 0);
		return;
	}
	a->flags |= PN__A_NOCLEANUP;
	pn__actor_stop(s, a, PN_REASON_KILLED, -ETIMEDOUT);
}

static void text_add(char *text, size_t size, const char *line)
{
	size_t used = strlen(text);

	if (used + 1 < size)
		snprintf(text + used, size - used, "%s", line);
}

/*
 * The controller's side of the stop stage's first step: wait until every
 * supervised tree is down or @until. @skip: the supervisor shard did not
 * take the request. Lines go to @text (the shutdown report). Returns 0 or
 * -ETIMEDOUT (something did not stop, or not in order).
 */
int pn__sup_shutdown_wait(struct pn_runtime *rt, uint64_t until, bool skip,
			  char *text, size_t size)
{
	struct pn__sup_rt *r = rt->sup;
	struct timespec ts = {.tv_sec = (time_t)(until / 1000000000u),
			      .tv_nsec = (long)(until % 1000000000u)};
	char line[96];
	unsigned left;
	bool lines;

	if (skip) {
		text_add(text, size,
			 "supervision: the supervisor shard did not answer; "
			 "trees not stopped in order\n");
		return -ETIMEDOUT;
	}
	pthread_mutex_lock(&r->mu);
	while (r->trees_left && pn_now_ns() < until)
		pthread_cond_timedwait(&r->cv, &r->mu, &ts);
	left = r->trees_left;
	lines = r->text[0] != '\0';
	text_add(text, size, r->text);
	r->text[0] = '\0';
	pthread_mutex_unlock(&r->mu);
	if (left) {
		snprintf(line, sizeof(line),
			 "supervision: %u supervisor tree(s) not stopped in "
			 "time\n",
			 left);
		text_add(text, size, line);
	}
	return left || lines ? -ETIMEDOUT : 0;
}

/* --- supervision as a feature of the scheduler --------------------------- */

static void sup_shard_enter(struct pn_shard *s)
{
	pn__crash_thread_init(s); /* alternate stack, fatal signals */
	if (s->id == s->rt->napp)
		pn__watchdog_start(s);
}

static void sup_shard_leave(struct pn_shard *s)
{
	(void)s;
	pn__crash_thread_fini();
}

/* The stop stage's first word: supervised trees stop first, in order. */
static void sup_stage(struct pn_shard *s, int stage, unsigned depth)
{
	if (stage == PN_STAGE_STOP && depth == PN__STOP_FEATURES)
		pn__sup_shutdown_begin(s);
}

static void stop_by_msg(struct pn_shard *s, struct pn_msg *m)
{
	struct pn__actor *a = pn__actor_target(s, m);

	if (a)
		pn__stop_by(s, a, m);
}

static const struct pn__msg_range sup_ranges[] = {
	{PN__MSG_STOP_BY, PN__MSG_STOP_BY + 1, stop_by_msg, NULL, NULL},
	{PN__MSG_SUP_CALL, PN__MSG_SUP_CALL + 1, pn__sup_call_msg, NULL, NULL},
};

/* The supervision counters into a metrics snapshot. */
static void sup_snapshot(const struct pn_runtime *rt, struct pn__snap *out)
{
	pn_supervision_stats(rt, out->supervision);
}

const struct pn__feature pn__sup_feature = {
	.name = "supervision",
	.config_init = pn__sup_config_init,
	.create = pn__sup_init,
	.free = pn__sup_fini,
	.shard_enter = sup_shard_enter,
	.shard_leave = sup_shard_leave,
	.ranges = sup_ranges,
	.nranges = sizeof(sup_ranges) / sizeof(sup_ranges[0]),
	.stage = sup_stage,
	.close = pn__sup_wake,
	.snapshot = sup_snapshot,
};
