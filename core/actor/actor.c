// SPDX-License-Identifier: MIT
/*
 * Actors: the slot table (a lock-free free stack, so any thread can reserve
 * a PID on any shard), spawning, the stop sequence (STOPPING, cleanup,
 * DOWN to monitors, exit signals to links, slot freed with a new
 * generation), monitors and links, the runtime's internal messages, early
 * messages for PIDs whose spawn is still on its way, and dead letters.
 */
#include "actor_int.h"

#include <errno.h>

struct spawn_hdr {
	const struct pn_behaviour *b;
	uint32_t flags;
	uint32_t depth;
};

/* --- slots ------------------------------------------------------------------
 */

/*
 * Reserve a slot on @o from any thread. The free stack's head packs a tag
 * (bumped by every push and pop, so a head that was popped and pushed back
 * meanwhile does not compare equal: no ABA) with the slot index + 1.
 */
int pn__slot_reserve(struct pn_shard *o, pn_pid *pid)
{
	/* Acquire: pairs with the release of the push in slot_free(), so
	 * the popped slot's gen and next are those its freeing wrote. */
	uint64_t head =
		atomic_load_explicit(&o->free_head, memory_order_acquire);
	uint32_t f;

	while ((uint32_t)head) {
		uint32_t idx = (uint32_t)head - 1;
		uint32_t next = atomic_load_explicit(&o->slots[idx].next,
						     memory_order_relaxed);
		uint64_t nh = (((head >> 32) + 1) << 32) | next;

		if (atomic_compare_exchange_weak_explicit(
			    &o->free_head, &head, nh, memory_order_acquire,
			    memory_order_acquire)) {
			*pid = pn_pid_make(
				o->id, idx,
				atomic_load_explicit(&o->slots[idx].gen,
						     memory_order_relaxed));
			return 0;
		}
	}
	f = atomic_load_explicit(&o->fresh, memory_order_relaxed);
	do {
		if (f >= o->max_slots)
			return pn__error(-ENOSPC,
					 "shard %u has no free actor "
					 "slot (max_actors=%u)",
					 o->id, o->max_slots);
	} while (!atomic_compare_exchange_weak_explicit(&o->fresh, &f, f + 1,
							memory_order_relaxed,
							memory_order_relaxed));
	/* Relaxed: the PID reaches anyone only through a message (release/
	 * acquire through a ring), which orders this store before it. */
	atomic_store_explicit(&o->slots[f].gen, 1, memory_order_relaxed);
	*pid = pn_pid_make(o->id, f, 1);
	return 0;
}

/* Push slot @idx on @o's free stack (any thread). */
static void slot_push(struct pn_shard *o, uint32_t idx)
{
	uint64_t head =
		atomic_load_explicit(&o->free_head, memory_order_relaxed);
	uint64_t nh;

	do {
		atomic_store_explicit(&o->slots[idx].next, (uint32_t)head,
				      memory_order_relaxed);
		nh = (((head >> 32) + 1) << 32) | (idx + 1);
		/* Release: pairs with the acquire in pn__slot_reserve(). */
	} while (!atomic_compare_exchange_weak_explicit(
		&o->free_head, &head, nh, memory_order_release,
		memory_order_relaxed));
}

/* Give back a reserved slot that was never used (any thread). The PID
 * names the shard (placement may have chosen another than @o). */
void pn__slot_unreserve(struct pn_shard *o, pn_pid pid)
{
	slot_push(o->rt->shard[pn_pid_shard(pid)], pn_pid_slot(pid));
}

/* Free an actor's slot with a new generation (owner only). */
static void slot_free(struct pn_shard *s, uint32_t idx)
{
	struct pn__slot *sl = &s->slots[idx];
	uint32_t g = atomic_load_explicit(&sl->gen, memory_order_relaxed);

	sl->actor = NULL;
	if (g == UINT32_MAX) {
		/* Retired: its next PID could alias an old one. Generation 0
		 * is never handed out, so no PID names the slot any more. */
		atomic_store_explicit(&sl->gen, 0, memory_order_relaxed);
		return;
	}
	atomic_store_explicit(&sl->gen, g + 1, memory_order_relaxed);
	slot_push(s, idx);
}

/* slot_free() for migrate.c: a moved-away actor stopped (owner only). */
void pn__slot_release(struct pn_shard *s, uint32_t idx)
{
	slot_free(s, idx);
}

/*
 * A PID whose slot is reserved but whose actor has not started yet: its
 * spawn is on its way, or the actor exists but its STARTED has not been
 * dispatched (see actor_activate()).
 */
static bool slot_reserved(struct pn_shard *s, pn_pid pid)
{
	uint32_t idx = pn_pid_slot(pid);

	return pn_pid_shard(pid) == s->id && pn_pid_gen(pid) != 0 &&
	       idx < atomic_load_explicit(&s->fresh, memory_order_relaxed) &&
	       !s->slots[idx].actor &&
	       atomic_load_explicit(&s->slots[idx].gen, memory_order_relaxed) ==
		       pn_pid_gen(pid);
}

/* --- sending system messages ---------------------------------------------- */

/* Runtime messages bypass the overflow budget: they must not be lost. */
static void sys_send(struct pn_shard *s, pn_pid to, uint32_t type, pn_pid from,
		     const void *data, size_t len)
{
	s->sys_send = true;
	if (pn__send(s, to, type, from, 0, data, len) < 0)
		pn_panic("cannot send runtime message %#x: %s", type,
			 pn_last_error());
	s->sys_send = false;
}

static void send_down(struct pn_shard *s, pn_pid to, uint32_t type, pn_pid who,
		      int reason, int detail)
{
	struct pn_down d = {.pid = who, .reason = reason, .detail = detail};

	sys_send(s, to, type, who, &d, sizeof(d));
}

/* Hold @m (taken from a queue) until its PID's actor starts. */
static void early_push(struct pn_shard *s, const struct pn_msg *m)
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
static void early_release(struct pn_shard *s, pn_pid pid)
{
	uint32_t n = pn__fifo_len(&s->early);

	while (n--) {
		struct pn_msg m = early_pop(s);

		if (m.to == pid)
			pn__local_push(s, &m, true);
		else
			early_push(s, &m);
	}
}

/*
 * Hand @pid's early messages to it now, in the order they came, before
 * anything that arrives later can reach it directly. Replies among them
 * were accepted when they arrived: they go straight to the handler.
 */
static void early_replay(struct pn_shard *s, pn_pid pid)
{
	uint32_t n = pn__fifo_len(&s->early);

	while (n--) {
		struct pn_msg m = early_pop(s);

		if (m.to != pid)
			early_push(s, &m);
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

	pn__atimers_fini(s, a);
	pn__actor_release(s, a);
	if (pn_pid_shard(pid) == s->id)
		slot_free(s, pn_pid_slot(pid));
	else if (stopped)
		pn__features_guest_gone(s, pid);
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
		send_down(s, a->monitors.v[i], PN_MSG_DOWN, a->pid, reason,
			  detail);
	for (uint32_t i = 0; i < a->links.n; i++)
		send_down(s, a->links.v[i], PN__MSG_EXITSIG, a->pid, reason,
			  detail);
	actor_free(s, a, true);
	PN__STAT_ADD(s, PN__ST_STOPPED, 1);
	stop_observed(s, pid, reason, detail);
	if (!started)
		early_release(s, pid); /* they become dead letters */
}

static int actor_init(struct pn_shard *s, struct pn__actor *a, pn_pid parent,
		      unsigned flags, const void *arg, size_t arg_len)
{
	struct pn__actor *saved = s->cur;
	int rc = 0;

	if (flags & PN_SPAWN_TRAP)
		a->flags |= PN__A_TRAP;
	if (((flags & PN_SPAWN_MONITOR) &&
	     pn__pids_add(&a->monitors, s->arena, parent) < 0) ||
	    ((flags & PN_SPAWN_LINK) &&
	     pn__pids_add(&a->links, s->arena, parent) < 0))
		return -ENOMEM;
	if (a->b->init) {
		uint32_t outer = pn__beacon_enter(s, a, PN__MSG_SPAWN);

		s->cur = a;
		rc = a->b->init(pn__ctx(s), a->state, arg, arg_len);
		s->cur = saved;
		pn__beacon_leave(s, saved, outer);
	}
	return rc;
}

/*
 * Bring reserved PID @pid to life on this shard. Returns 0 or -ENOMEM.
 *
 * The actor stays out of the slot table (its PID still counts as reserved)
 * until its STARTED is dispatched from the local queue: whatever reaches
 * the PID before that - messages its init sent itself, messages in the
 * same ring batch as the SPAWN, messages from other shards - waits in the
 * early queue, and actor_activate() hands it over after STARTED. So
 * STARTED is first whatever the route, and per-sender order holds.
 */
static int actor_start(struct pn_shard *s, pn_pid pid,
		       const struct pn_behaviour *b, unsigned flags,
		       uint32_t depth, pn_pid parent, const void *arg,
		       size_t arg_len)
{
	struct pn__actor *a = pn_pool_alloc(s->actor_pool);
	struct pn_msg st;
	int rc;

	if (!a)
		return pn__error(-ENOMEM, "no memory for an actor");
	*a = (struct pn__actor){.b = b, .pid = pid, .depth = depth};
	if (b->state_size &&
	    !(a->state = pn_arena_zalloc(s->arena, b->state_size))) {
		pn_pool_free(s->actor_pool, a);
		return pn__error(-ENOMEM, "no memory for actor state");
	}
	a->next = s->actors;
	if (s->actors)
		s->actors->prev = a;
	s->actors = a;
	PN__STAT_ADD(s, PN__ST_ACTORS, 1);
	PN__STAT_ADD(s, PN__ST_SPAWNED, 1);
	PN_PROBE3(spawn, s->id, pid, b->name ? b->name : "");
	pn__met_event(&s->met, PN__FL_SPAWN, pid, 0, depth);
	rc = actor_init(s, a, parent, flags, arg, arg_len);
	if (rc < 0 || (a->pending & (PN__P_FAIL | PN__P_KILL))) {
		unsigned p = a->pending;

		a->pending = 0;
		pn__actor_stop(s, a,
			       rc < 0 || (p & PN__P_FAIL) ? PN_REASON_INIT
							  : PN_REASON_KILLED,
			       rc < 0 ? rc : a->detail);
		return 0;
	}
	/* pn_stop(self) in init stays pending: STARTED comes first, then
	 * the stop takes effect after its handler (STOPPING follows it). */
	a->pending &= PN__P_STOP;
	/* len 0: the actor pointer rides in data[] for actor_activate(). */
	st = (struct pn_msg){.type = PN_MSG_STARTED, .to = pid, .from = parent};
	memcpy(st.data, &a, sizeof(a));
	pn__local_push(s, &st, false);
	if ((flags & PN__SPAWN_ACK) && parent) /* supervisor.c: in order */
		sys_send(s, parent, PN__MSG_CHILD_UP, pid, NULL, 0);
	return 0;
}

/*
 * The STARTED that actor_start() queued is being dispatched (it missed the
 * slot table, which is why we are here): make the actor visible, give it
 * STARTED, then its early messages. Not nested in a handler. If the actor
 * was stopped before this (shutdown), its PID is no longer reserved and
 * STARTED is dropped.
 */
static void actor_activate(struct pn_shard *s, const struct pn_msg *m)
{
	struct pn_msg st = {.type = PN_MSG_STARTED};
	struct pn__actor *a;

	if (!slot_reserved(s, m->to))
		return;
	st.to = m->to;
	st.from = m->from;
	memcpy(&a, m->data, sizeof(a));
	pn_verify(a->pid == m->to);
	s->slots[pn_pid_slot(m->to)].actor = a;
	pn__deliver(s, &st);
	early_replay(s, m->to);
}

static int spawn_check(const struct pn_runtime *rt,
		       const struct pn_behaviour *b,
		       const struct pn_spawn_opts *o)
{
	if (!b || !b->handle)
		return pn__error(-EINVAL, "spawn: behaviour without a handler");
	if (o->shard != PN_SHARD_ANY && o->shard != PN_SHARD_SUPERVISOR &&
	    (o->shard < 0 || (unsigned)o->shard >= rt->napp))
		return pn__error(-EINVAL, "spawn: no shard %d (%u shards)",
				 o->shard, rt->napp);
	if (o->arg_len > PN_SPAWN_ARG_MAX || (o->arg_len && !o->arg))
		return pn__error(-EINVAL,
				 "spawn: argument of %zu bytes "
				 "(at most %u)",
				 o->arg_len, PN_SPAWN_ARG_MAX);
	if (o->flags &
	    ~(PN_SPAWN_MONITOR | PN_SPAWN_LINK | PN_SPAWN_TRAP | PN__SPAWN_ACK))
		return pn__error(-EINVAL, "spawn: unknown flags %#x", o->flags);
	return 0;
}

/* The SPAWN message's payload: header then argument; returns its size. */
size_t pn__spawn_payload(unsigned char *buf, const struct pn_behaviour *b,
			 const struct pn_spawn_opts *o, uint32_t depth)
{
	struct spawn_hdr h = {.b = b, .flags = o->flags, .depth = depth};

	memcpy(buf, &h, sizeof(h));
	if (o->arg_len)
		memcpy(buf + sizeof(h), o->arg, o->arg_len);
	return sizeof(h) + o->arg_len;
}

/* The shard index a spawn goes to; PN_SHARD_ANY means @any. */
unsigned pn__spawn_target(const struct pn_runtime *rt, int shard, unsigned any)
{
	if (shard == PN_SHARD_ANY)
		return any;
	if (shard == PN_SHARD_SUPERVISOR)
		return rt->napp;
	/* Out of range: spawn_check() refuses it before it is used. */
	return shard >= 0 && (unsigned)shard < rt->napp ? (unsigned)shard : 0;
}

int pn__spawn_prepare(struct pn_runtime *rt, const struct pn_behaviour *b,
		      const struct pn_spawn_opts *o, unsigned target,
		      pn_pid *pid)
{
	int err = spawn_check(rt, b, o);

	if (err < 0)
		return err;
	/* A placement (placement.c) overrides @target; the PID names the
	 * shard chosen, which is what callers route by. */
	if (o->placement) {
		if (!rt->svc.place)
			return pn__error(-EINVAL,
					 "spawn: placement %d: no "
					 "placement policies here",
					 o->placement);
		if ((err = rt->svc.place(rt, o, target, &target)) < 0)
			return err;
	}
	return pn__slot_reserve(rt->shard[target], pid);
}

/* --- spawns from outside (through a producer) ----------------------------- */

struct outside_spawn {
	const struct pn_behaviour *b;
	struct pn_spawn_opts o;
	pn_pid *pid;
	bool own; /* the runtime's own producer: round-robin over shards */
};

/* Reserve the PID on the target shard, then send it the spawn through
 * @p (inside the gate); the reservation goes if the send fails. */
static int outside_spawn(struct pn_producer *p, void *arg)
{
	struct outside_spawn *a = arg;
	struct pn_runtime *rt = p->rt;
	unsigned char buf[PN__SPAWN_HDR + PN_SPAWN_ARG_MAX];
	unsigned target = pn__spawn_target(rt, a->o.shard,
					   a->own ? rt->rr++ % rt->napp
						  : p->index % rt->napp);
	int err;

	if (a->o.flags & (PN_SPAWN_MONITOR | PN_SPAWN_LINK))
		return pn__error(-EINVAL, "spawn from outside: no MONITOR or "
					  "LINK (there is no parent actor)");
	if ((err = pn__spawn_prepare(rt, a->b, &a->o, target, a->pid)) < 0)
		return err;
	err = pn__inject_sys(p, *a->pid, PN__MSG_SPAWN, buf,
			     pn__spawn_payload(buf, a->b, &a->o, 0),
			     1000000000ull);
	if (err < 0)
		pn__slot_unreserve(rt->shard[target], *a->pid);
	return err;
}

int pn_producer_spawn(struct pn_producer *p, const struct pn_behaviour *b,
		      const struct pn_spawn_opts *opts, pn_pid *pid)
{
	struct outside_spawn a = {
		.b = b,
		.o = opts ? *opts
			  : (struct pn_spawn_opts){.shard = PN_SHARD_ANY},
		.pid = pid};

	if (!p || !pid)
		return pn__error(-EINVAL, "pn_producer_spawn: NULL argument");
	return pn__producer_call(p, "spawn", outside_spawn, &a);
}

int pn_runtime_spawn(struct pn_runtime *rt, const struct pn_behaviour *b,
		     const struct pn_spawn_opts *opts, pn_pid *pid)
{
	struct outside_spawn a = {
		.b = b,
		.o = opts ? *opts
			  : (struct pn_spawn_opts){.shard = PN_SHARD_ANY},
		.pid = pid,
		.own = true};

	if (!pid)
		return pn__error(-EINVAL, "pn_runtime_spawn: pid is NULL");
	return pn__own_call(rt, "pn_runtime_spawn", outside_spawn, &a);
}

int pn_spawn(struct pn_ctx *ctx, const struct pn_behaviour *b,
	     const struct pn_spawn_opts *opts, pn_pid *pid)
{
	struct pn_shard *s = pn__shard(ctx);

	static const struct pn_spawn_opts none = {.shard = PN_SHARD_ANY};
	const struct pn_spawn_opts *o = opts ? opts : &none;
	unsigned char buf[sizeof(struct spawn_hdr) + PN_SPAWN_ARG_MAX];
	struct pn__actor *parent;
	pn_pid self;
	uint32_t depth;
	unsigned target;
	int err;

	PN__CTX_CHECK(s, "pn_spawn");
	if (!pid)
		return pn__error(-EINVAL, "pn_spawn: pid is NULL");
	parent = s->cur;
	self = parent ? parent->pid : PN_PID_NONE;
	depth = parent ? parent->depth + 1 : 0;
	target = pn__spawn_target(s->rt, o->shard, s->id);

	if ((o->flags & (PN_SPAWN_MONITOR | PN_SPAWN_LINK)) && !parent)
		return pn__error(-EINVAL, "spawn: MONITOR/LINK need a parent");
	/* Once shutdown has begun nothing new may appear (a spawn racing
	 * the close is stopped by the stop stage like any actor). */
	if (pn__rt_closing(s->rt))
		return pn__error(-ESHUTDOWN, "spawn: the runtime is shutting "
					     "down");
	if ((err = pn__spawn_prepare(s->rt, b, o, target, pid)) < 0)
		return err;
	target = pn_pid_shard(*pid);
	if ((o->flags & PN_SPAWN_LINK) &&
	    (err = pn__pids_add(&parent->links, s->arena, *pid)) < 0) {
		pn__slot_unreserve(s->rt->shard[target], *pid);
		return err;
	}
	if (target == s->id) {
		err = actor_start(s, *pid, b, o->flags, depth, self, o->arg,
				  o->arg_len);
		if (err < 0)
			pn__slot_unreserve(s, *pid);
		return err;
	}
	s->sys_send = true;
	err = pn__send(s, *pid, PN__MSG_SPAWN, self, 0, buf,
		       pn__spawn_payload(buf, b, o, depth));
	s->sys_send = false;
	if (err < 0)
		pn__slot_unreserve(s->rt->shard[target], *pid);
	return err;
}

/* --- after a handler -------------------------------------------------------
 */

void pn__after_handle(struct pn_shard *s, struct pn__actor *a, int rc)
{
	unsigned p = a->pending;

	a->pending = 0;
	if (a->flags & PN__A_DYING)
		return;
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

/* See core_int.h: a handler run from inside another (EXIT delivery, guests). */
void pn__run_nested(struct pn_shard *s, struct pn__actor *a,
		    const struct pn_msg *m)
{
	struct pn__actor *saved = s->cur;
	uint32_t outer = pn__beacon_enter(s, a, m->type);
	int rc;

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
		send_down(s, m->from, PN_MSG_DOWN, m->to, PN_REASON_NOPROC, 0);
	else if (m->type == PN__MSG_LINK)
		send_down(s, m->from, PN__MSG_EXITSIG, m->to, PN_REASON_NOPROC,
			  0);
	/* STOP, KILL, DEMONITOR, UNLINK, EXITSIG to the dead: nothing. */
}

static void sys_spawn(struct pn_shard *s, struct pn_msg *m)
{
	const unsigned char *p = pn_msg_data(m);
	struct spawn_hdr h;
	int err;

	memcpy(&h, p, sizeof(h));
	pn_verify(slot_reserved(s, m->to));
	err = actor_start(s, m->to, h.b, h.flags, h.depth, m->from,
			  p + sizeof(h), m->len - sizeof(h));
	if (err < 0) {
		/* Report it as a failed init to whoever asked to know. */
		if (h.flags & (PN_SPAWN_MONITOR | PN_SPAWN_LINK))
			send_down(s, m->from,
				  h.flags & PN_SPAWN_MONITOR ? PN_MSG_DOWN
							     : PN__MSG_EXITSIG,
				  m->to, PN_REASON_INIT, err);
		slot_free(s, pn_pid_slot(m->to));
		early_release(s, m->to); /* they become dead letters */
	}
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
	if (slot_reserved(s, m->to)) {
		early_push(s, m); /* the early queue owns the payload now */
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
		sys_spawn(s, m);
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
		actor_activate(s, m);
		return true;
	}
	if (slot_reserved(s, m->to)) {
		early_push(s, m);
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
	sys_send(ctx, pid, type, ctx->cur->pid, NULL, 0);
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
		sys_send(s, a->pid, PN_MSG_SHUTDOWN, PN_PID_NONE, NULL, 0);
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
	{PN__MSG_SPAWN, PN__MSG_EXITSIG + 1, actor_msg},
};

const struct pn__feature pn__actor_feature = {
	.name = "actor",
	.create = actor_create,
	.shard_setup = pn__reqs_create,
	.shard_free = actor_shard_free,
	.ranges = actor_ranges,
	.nranges = sizeof(actor_ranges) / sizeof(actor_ranges[0]),
	.miss = actor_miss,
	.stage = actor_stage,
	.side_queues = actor_side_queues,
};
