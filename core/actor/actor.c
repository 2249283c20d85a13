// SPDX-License-Identifier: MIT
/*
 * Actors: the stop sequence (STOPPING, cleanup, DOWN to monitors, exit
 * signals to links, slot freed with a new generation), monitors and links,
 * the actor layer's internal messages, early messages for PIDs whose spawn
 * is still on its way, what happens after a handler, the end of a batch,
 * and the feature the actor layer registers. Spawning is in spawn.c.
 */
#include "actor_int.h"

#include <errno.h>

/* --- sending system messages ---------------------------------------------- */

/* Runtime messages bypass the overflow budget: they must not be lost. */
void pn__actor_sys_send(struct pn_shard *s, pn_pid to, uint32_t type,
			pn_pid from, const void *data, size_t len)
{
	if (pn__send_sys(s, to, type, from, 0, data, len) < 0)
		pn_panic("cannot send runtime message %#x: %s", type,
			 pn_last_error());
}

void pn__send_down(struct pn_shard *s, pn_pid to, uint32_t type, pn_pid who,
		   int reason, int detail)
{
	struct pn_down d = {.pid = who, .reason = reason, .detail = detail};

	pn__actor_sys_send(s, to, type, who, &d, sizeof(d));
}

/* Hold @m (taken from a queue) until its PID's actor starts. */
void pn__early_push(struct pn_shard *s, const struct pn_msg *m)
{
	struct pn_msg *e = pn__fifo_slot(&s->early, s->arena);

	if (!e)
		pn_panic("no memory to hold an early message");
	*e = *m;
	pn__fifo_commit(&s->early);
	pn__acct_side_in(s, m);
	pn__acct_moved(s);
}

/* Take the oldest early message out (the caller owns the copy). */
static struct pn_msg early_pop(struct pn_shard *s)
{
	struct pn_msg m = *pn__fifo_peek(&s->early);

	pn__fifo_pop(&s->early, s->arena);
	pn__acct_side_out(s, &m);
	return m;
}

/* Queue @m on the local queue: a new message from the runtime (@moved
 * false: STARTED, a timer) or one already counted (@moved). */
void pn__local_push(struct pn_shard *s, const struct pn_msg *m, bool moved)
{
	struct pn_msg *slot = pn__fifo_slot(&s->local, s->arena);

	if (!slot)
		pn_panic("no memory for the local queue (message %#x)",
			 m->type);
	*slot = *m;
	pn__fifo_commit(&s->local);
	s->n_sent_local++;
	if (moved)
		pn__acct_moved(s);
}

/* Move the early messages for @pid behind its STARTED, in order. */
void pn__early_release(struct pn_shard *s, pn_pid pid)
{
	uint32_t n = pn__fifo_len(&s->early);

	while (n--) {
		struct pn_msg m = early_pop(s);

		if (m.to == pid)
			pn__local_push(s, &m, true);
		else
			pn__early_push(s, &m);
	}
}

/*
 * Hand @pid's early messages to it now, in the order they came, before
 * anything that arrives later can reach it directly. Replies among them
 * were accepted when they arrived: they go straight to the handler.
 */
void pn__early_replay(struct pn_shard *s, pn_pid pid)
{
	uint32_t n = pn__fifo_len(&s->early);

	while (n--) {
		struct pn_msg m = early_pop(s);

		if (m.to != pid)
			pn__early_push(s, &m);
		else if (m.type >= PN__MSG_INTERNAL)
			pn__dispatch_slow(s, &m);
		else
			pn__deliver(s, &m);
	}
}

/* --- lifecycle
 * ---------------------------------------------------------------- */

static void list_del(struct pn_shard *s, struct pn__actor *a)
{
	if (a->prev)
		a->prev->next = a->next;
	else
		s->actors = a->next;
	if (a->next)
		a->next->prev = a->prev;
}

/* Unlink @a and free what it owns but its slot (migrate.c: it moves). */
void pn__actor_release(struct pn_shard *s, struct pn__actor *a)
{
	if (s->beacon_last == a) /* its memory may hold the next actor */
		s->beacon_last = NULL;
	list_del(s, a);
	pn__pids_fini(&a->monitors, s->arena);
	pn__pids_fini(&a->links, s->arena);
	pn_arena_free(s->arena, a->state, a->b->state_size);
	pn_pool_free(s->actor_pool, a);
	PN__STAT_ADD(s, PN__ST_ACTORS, (uint64_t)-1);
}

/* Put @a on the shard's list of live actors. */
void pn__actor_link(struct pn_shard *s, struct pn__actor *a)
{
	a->prev = NULL;
	a->next = s->actors;
	if (s->actors)
		s->actors->prev = a;
	s->actors = a;
	PN__STAT_ADD(s, PN__ST_ACTORS, 1);
}

/* Free @a; a guest (homed elsewhere) that @stopped is reported to the
 * features (when the shard is torn down, they free their own state). */
static void actor_free(struct pn_shard *s, struct pn__actor *a, bool stopped)
{
	pn_pid pid = a->pid;

	/* In its stop sequence, or the shard is being torn down. */
	pn_assert((a->flags & PN__A_DYING) || (!stopped && !pn__self_shard));

	pn__atimers_fini(s, a);
	pn__actor_release(s, a);
	if (pn_pid_shard(pid) != s->id) {
		if (stopped)
			pn__features_guest_gone(s, pid);
		return;
	}
	pn__slot_free(s, pn_pid_slot(pid));
	if (stopped)
		pn__features_stopped(s, pid);
}

/* Probes and the flight recorder for a stop (failures get their own). */
static void stop_observed(struct pn_shard *s, pn_pid pid, int reason,
			  int detail)
{
	PN_PROBE4(stop, s->id, pid, reason, detail);
	if (reason != PN_REASON_NORMAL && reason != PN_REASON_SHUTDOWN)
		PN_PROBE4(failure, s->id, pid, reason, detail);
	pn__met_event(&s->met, PN__FL_STOP, pid, 0,
		      (uint64_t)(uint32_t)reason << 32 | (uint32_t)detail);
}

void pn__actor_stop(struct pn_shard *s, struct pn__actor *a, int reason,
		    int detail)
{
	struct pn__actor *saved = s->cur;
	pn_pid pid = a->pid;
	bool guest = pn_pid_shard(pid) != s->id;
	bool started = guest || s->slots[pn_pid_slot(pid)].actor == a;
	uint32_t outer;

	if (a->flags & PN__A_DYING)
		return;
	pn_assert(!(a->flags & PN__A_FWD)); /* a stand-in is not an actor */
	if (a->flags & PN__A_DEFER) /* stopped before it said it was done */
		atomic_fetch_sub_explicit(&s->rt->deferring, 1,
					  memory_order_release);
	a->flags |= PN__A_DYING;
	s->cur = a;
	outer = pn__beacon_enter(s, a, PN_MSG_STOPPING);
	if (reason == PN_REASON_NORMAL || reason == PN_REASON_SHUTDOWN) {
		struct pn_msg m = {.type = PN_MSG_STOPPING,
				   .len = sizeof(int32_t),
				   .to = a->pid};
		int32_t r = reason;

		memcpy(m.data, &r, sizeof(r));
		a->b->handle(pn__ctx(s), a->state, &m);
	}
	if (a->b->cleanup && !(a->flags & PN__A_NOCLEANUP))
		a->b->cleanup(pn__ctx(s), a->state, reason);
	s->cur = saved == a ? NULL : saved;
	pn__beacon_leave(s, s->cur, outer);
	for (uint32_t i = 0; i < a->monitors.n; i++)
		pn__send_down(s, a->monitors.v[i], PN_MSG_DOWN, a->pid, reason,
			      detail);
	for (uint32_t i = 0; i < a->links.n; i++)
		pn__send_down(s, a->links.v[i], PN__MSG_EXITSIG, a->pid, reason,
			      detail);
	actor_free(s, a, true);
	PN__STAT_ADD(s, PN__ST_STOPPED, 1);
	stop_observed(s, pid, reason, detail);
	if (!started)
		pn__early_release(s, pid); /* they become dead letters */
}

/* --- the end of a batch ----------------------------------------------------
 *
 * An actor whose behaviour has end_batch carries PN__P_EOB in its pending
 * bits while it is not on the shard's eob list, so the test every handler
 * run makes anyway (rc != 0 || pending) brings its first handler of a turn
 * here, which lists it; the others of that turn find the bit clear and pay
 * nothing. The list is run by the actor feature's turn hook, which the
 * loop calls after the turn's inbound drain and local-queue run (the actor
 * feature is the first in the list, so before the other features' turns)
 * and before it publishes and submits io; each listed actor is looked up
 * by PID, so one that stopped or moved away since is skipped, and gets
 * the bit back after its call. Actors without end_batch never have it.
 */

static void eob_add(struct pn_shard *s, struct pn__actor *a)
{
	if (!s->eob.n) /* the loop calls actor_turn() while this is set */
		s->turn_want |= pn__feature_bit(s->rt, &pn__actor_feature);
	if (pn__pids_add(&s->eob, s->arena, a->pid) < 0)
		pn_panic("no memory for the end-of-batch list");
}

/* Run @a's end_batch, as pn__run() runs a handler. */
static void eob_run(struct pn_shard *s, struct pn__actor *a)
{
	int rc;

	pn_assert(!s->cur); /* between handlers, in the loop's turn */
	s->cur = a;
	pn__beacon_set(s, a, PN__BEACON_END_BATCH);
	rc = a->b->end_batch(pn__ctx(s), a->state);
	if (rc != 0 || a->pending)
		pn__after_handle(s, a, rc);
	s->cur = NULL;
}

static unsigned actor_turn(struct pn_shard *s)
{
	uint32_t i;

	/* By index: a call that makes another listed actor handle a message
	 * (nested) appends it, and it runs in this same pass. */
	for (i = 0; i < s->eob.n; i++) {
		pn_pid pid = s->eob.v[i];
		struct pn__actor *a = pn__lookup(s, pid);

		if (!a || (a->flags & PN__A_DYING))
			continue;
		eob_run(s, a);
		if ((a = pn__lookup(s, pid)) && !(a->flags & PN__A_DYING))
			a->pending |= PN__P_EOB; /* armed for its next batch */
	}
	s->eob.n = 0;
	s->turn_want &= ~pn__feature_bit(s->rt, &pn__actor_feature);
	return i;
}

/* Listed actors keep the shard from parking until they ran. */
static bool actor_ready(struct pn_shard *s)
{
	return s->eob.n != 0;
}

/* --- after a handler -------------------------------------------------------
 */

void pn__after_handle(struct pn_shard *s, struct pn__actor *a, int rc)
{
	unsigned p = a->pending;

	pn_assert(s->cur == a); /* right after its handler returned */
	a->pending = 0;
	if (a->flags & PN__A_DYING)
		return;
	if (p & PN__P_EOB) /* listed even if it stops now: the run skips it */
		eob_add(s, a);
	if (rc < 0)
		pn__actor_stop(s, a, PN_REASON_FAILED, rc);
	else if (p & PN__P_FAIL)
		pn__actor_stop(s, a, PN_REASON_FAILED, a->detail);
	else if (p & PN__P_KILL)
		pn__actor_stop(s, a, PN_REASON_KILLED, 0);
	else if (rc == PN_STOP || (p & PN__P_STOP))
		pn__actor_stop(s, a, PN_REASON_NORMAL, 0);
	else if ((p & ~PN__P_ACTOR) && s->rt->svc.pending)
		s->rt->svc.pending(s, a, p & ~PN__P_ACTOR); /* last */
}

/* See actor_int.h: a handler run from inside another (EXIT delivery, guests).
 */
void pn__run_nested(struct pn_shard *s, struct pn__actor *a,
		    const struct pn_msg *m)
{
	struct pn__actor *saved = s->cur;
	uint32_t outer;
	int rc;

	PN__MSG_SIZE_CHECK(s, a, m);
	outer = pn__beacon_enter(s, a, m->type);
	s->cur = a;
	rc = a->b->handle(pn__ctx(s), a->state, m);
	if (rc != 0 || a->pending)
		pn__after_handle(s, a, rc);
	s->cur = saved;
	pn__beacon_leave(s, saved, outer);
}

/* --- the runtime's own messages ------------------------------------------ */

static void on_exit_signal(struct pn_shard *s, struct pn__actor *a,
			   const struct pn_msg *m)
{
	struct pn_down d;

	memcpy(&d, pn_msg_data(m), sizeof(d));
	if (!pn__pids_del(&a->links, m->from))
		return; /* unlinked meanwhile */
	if (a->flags & PN__A_TRAP) {
		struct pn_msg e = {.type = PN_MSG_EXIT,
				   .len = sizeof(d),
				   .to = a->pid,
				   .from = m->from};

		memcpy(e.data, &d, sizeof(d));
		pn__run_nested(s, a, &e);
	} else if (d.reason != PN_REASON_NORMAL &&
		   d.reason != PN_REASON_SHUTDOWN) {
		/* A shutdown stops everyone in its own order (children
		 * first, each with STOPPING); a linked child's SHUTDOWN must
		 * not stop its parent early as LINKED. */
		pn__actor_stop(s, a, PN_REASON_LINKED, 0);
	}
}

/* An internal message for an actor that is gone. */
static void sys_to_dead(struct pn_shard *s, const struct pn_msg *m)
{
	if (m->type == PN__MSG_MONITOR)
		pn__send_down(s, m->from, PN_MSG_DOWN, m->to, PN_REASON_NOPROC,
			      0);
	else if (m->type == PN__MSG_LINK)
		pn__send_down(s, m->from, PN__MSG_EXITSIG, m->to,
			      PN_REASON_NOPROC, 0);
	/* STOP, KILL, DEMONITOR, UNLINK, EXITSIG to the dead: nothing. */
}

static void sys_dispatch(struct pn_shard *s, struct pn_msg *m,
			 struct pn__actor *a)
{
	switch (m->type) {
	case PN__MSG_STOP:
		pn__actor_stop(s, a, PN_REASON_NORMAL, 0);
		break;
	case PN__MSG_KILL:
		pn__actor_stop(s, a, PN_REASON_KILLED, 0);
		break;
	case PN__MSG_MONITOR:
		if (pn__pids_add(&a->monitors, s->arena, m->from) < 0)
			pn_panic("no memory to add a monitor");
		break;
	case PN__MSG_DEMONITOR:
		pn__pids_del(&a->monitors, m->from);
		break;
	case PN__MSG_LINK:
		if (pn__pids_add(&a->links, s->arena, m->from) < 0)
			pn_panic("no memory to add a link");
		break;
	case PN__MSG_UNLINK:
		pn__pids_del(&a->links, m->from);
		break;
	case PN__MSG_EXITSIG:
		on_exit_signal(s, a, m);
		break;
	default:
		pn_panic("unknown runtime message %#x", m->type);
	}
}

/*
 * The actor a runtime message is for, or NULL when there is none here: a
 * PID reserved for an actor not started yet keeps the message (early),
 * one that is gone handles it as sent to the dead. With NULL the message
 * is consumed (its payload too). For the features' messages to actors as
 * well (a supervisor's stop, a move request).
 */
struct pn__actor *pn__actor_target(struct pn_shard *s, struct pn_msg *m)
{
	struct pn__actor *a = pn__lookup(s, m->to);

	if (a)
		return a;
	if (pn__slot_reserved(s, m->to)) {
		pn__early_push(s, m); /* the early queue owns the payload now */
		return NULL;
	}
	sys_to_dead(s, m);
	if (m->len > PN_MSG_INLINE)
		pn__buf_free(s, m->ptr);
	return NULL;
}

/* The actor layer's internal messages (its range, PN__MSG_SPAWN on). */
static void actor_msg(struct pn_shard *s, struct pn_msg *m)
{
	struct pn__actor *a;

	if (m->type == PN__MSG_SPAWN)
		pn__sys_spawn(s, m);
	else if ((a = pn__actor_target(s, m)) != NULL)
		sys_dispatch(s, m, a);
	else
		return;
	if (m->len > PN_MSG_INLINE)
		pn__buf_free(s, m->ptr);
}

/* A message for no actor in the slot table: STARTED of a spawn, or early
 * for a reserved PID. */
static bool actor_miss(struct pn_shard *s, struct pn_msg *m)
{
	if (m->type == PN_MSG_STARTED) { /* only the runtime sends it */
		pn__actor_activate(s, m);
		return true;
	}
	if (pn__slot_reserved(s, m->to)) {
		pn__early_push(s, m);
		return true;
	}
	return false;
}

/* --- the public lifecycle calls ------------------------------------------- */

static int to_other(struct pn_shard *ctx, pn_pid pid, uint32_t type)
{
	PN__CTX_CHECK(ctx, "pn_monitor/pn_link");
	if (!ctx->cur)
		return pn__error(-EINVAL, "called outside a handler");
	if (pid == PN_PID_NONE || pn_pid_shard(pid) >= ctx->nshards)
		return pn__error(-EINVAL, "invalid pid %#llx",
				 (unsigned long long)pid);
	pn__actor_sys_send(ctx, pid, type, ctx->cur->pid, NULL, 0);
	return 0;
}

int pn_stop(struct pn_ctx *ctx, pn_pid pid)
{
	struct pn_shard *s = pn__shard(ctx);

	PN__CTX_CHECK(s, "pn_stop");
	if (s->cur && pid == s->cur->pid) {
		s->cur->pending |= PN__P_STOP;
		return 0;
	}
	return to_other(s, pid, PN__MSG_STOP);
}

int pn_kill(struct pn_ctx *ctx, pn_pid pid)
{
	struct pn_shard *s = pn__shard(ctx);

	PN__CTX_CHECK(s, "pn_kill");
	if (s->cur && pid == s->cur->pid) {
		s->cur->pending |= PN__P_KILL;
		return 0;
	}
	return to_other(s, pid, PN__MSG_KILL);
}

void pn_fail(struct pn_ctx *ctx, int detail)
{
	struct pn_shard *s = pn__shard(ctx);

	if (!s || s != pn__self_shard || !s->cur)
		return; /* not in a handler: nothing to fail */
	s->cur->pending |= PN__P_FAIL;
	s->cur->detail = detail;
}

int pn_monitor(struct pn_ctx *ctx, pn_pid pid)
{
	struct pn_shard *s = pn__shard(ctx);

	return to_other(s, pid, PN__MSG_MONITOR);
}

int pn_demonitor(struct pn_ctx *ctx, pn_pid pid)
{
	struct pn_shard *s = pn__shard(ctx);

	return to_other(s, pid, PN__MSG_DEMONITOR);
}

int pn_link(struct pn_ctx *ctx, pn_pid pid)
{
	struct pn_shard *s = pn__shard(ctx);
	int err = to_other(s, pid, PN__MSG_LINK);

	if (err < 0)
		return err;
	return pn__pids_add(&s->cur->links, s->arena, pid);
}

int pn_unlink(struct pn_ctx *ctx, pn_pid pid)
{
	struct pn_shard *s = pn__shard(ctx);
	int err = to_other(s, pid, PN__MSG_UNLINK);

	if (err == 0)
		pn__pids_del(&s->cur->links, pid);
	return err;
}

void pn_trap_exit(struct pn_ctx *ctx, bool on)
{
	struct pn_shard *s = pn__shard(ctx);

	if (!s || s != pn__self_shard || !s->cur)
		return;
	if (on)
		s->cur->flags |= PN__A_TRAP;
	else
		s->cur->flags &= (uint16_t)~PN__A_TRAP;
}

/* --- shutdown helpers
 * --------------------------------------------------------- */

void pn__actors_shutdown_notify(struct pn_shard *s)
{
	for (struct pn__actor *a = s->actors; a; a = a->next)
		pn__actor_sys_send(s, a->pid, PN_MSG_SHUTDOWN, PN_PID_NONE,
				   NULL, 0);
}

uint32_t pn__actors_max_depth(struct pn_shard *s)
{
	uint32_t d = 0;

	for (struct pn__actor *a = s->actors; a; a = a->next)
		if (a->depth > d)
			d = a->depth;
	return d;
}

/* Stop every actor at @depth or deeper; returns how many. */
unsigned pn__actors_stop_depth(struct pn_shard *s, uint32_t depth)
{
	struct pn__actor *a = s->actors, *next;
	unsigned n = 0;

	for (; a; a = next) {
		next = a->next;
		if (a->depth >= depth && !(a->flags & PN__A_DYING)) {
			pn__actor_stop(s, a, PN_REASON_SHUTDOWN, 0);
			n++;
		}
	}
	return n;
}

/* Free whatever actors are left, without running their code. */
void pn__actors_fini(struct pn_shard *s)
{
	while (s->actors)
		actor_free(s, s->actors, false);
}

/* --- the actor layer as a feature of the scheduler ---------------------- */

static int actor_create(struct pn_runtime *rt)
{
	rt->svc.after = pn__after_handle;
	rt->svc.reply = pn__reply_msg;
	rt->svc.timer = pn__timer_fire;
	return 0;
}

static void actor_shard_free(struct pn_shard *s)
{
	pn__actors_fini(s);
	pn__reqs_destroy(s);
	pn__pids_fini(&s->eob, s->arena);
}

/* Shutdown on this shard: SHUTDOWN to every actor; the deepest actor for
 * the stop stage (published with the drain's acknowledgement); stop the
 * actors at the stop stage's depth (PN__STOP_FEATURES: not ours). */
static void actor_stage(struct pn_shard *s, int stage, unsigned depth)
{
	if (stage == PN_STAGE_NOTIFY)
		pn__actors_shutdown_notify(s);
	else if (stage == PN_STAGE_DRAIN)
		atomic_store_explicit(&s->beacon.depth, pn__actors_max_depth(s),
				      memory_order_relaxed);
	else if (stage == PN_STAGE_STOP && depth != PN__STOP_FEATURES)
		pn__actors_stop_depth(s, depth);
}

static void actor_side_queues(struct pn_shard *s, pn__side_fn fn, void *arg)
{
	fn(s, &s->early, arg);
}

static const struct pn__msg_range actor_ranges[] = {
	{PN__MSG_SPAWN, PN__MSG_EXITSIG + 1, actor_msg, NULL, NULL},
};

const struct pn__feature pn__actor_feature = {
	.name = "actor",
	.create = actor_create,
	.shard_setup = pn__reqs_create,
	.shard_free = actor_shard_free,
	.turn = actor_turn,
	.ready = actor_ready,
	.ranges = actor_ranges,
	.nranges = sizeof(actor_ranges) / sizeof(actor_ranges[0]),
	.miss = actor_miss,
	.stage = actor_stage,
	.side_queues = actor_side_queues,
};
