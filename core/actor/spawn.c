// SPDX-License-Identifier: MIT
/*
 * Spawning: from a handler (pn_spawn()) or from outside through a producer
 * (pn_producer_spawn(), pn_runtime_spawn()). The PID is reserved on the
 * target shard at once (any thread may), and the SPAWN message travels to
 * it; the actor's init runs there, its STARTED comes first of everything
 * sent to it, and whatever arrives before that waits as early messages.
 */
#include "actor_int.h"

#include <errno.h>

struct spawn_hdr {
	const struct pn_behaviour *b;
	uint32_t flags;
	uint32_t depth;
};

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
 * early queue, and pn__actor_activate() hands it over after STARTED. So
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
	a->pending = (uint16_t)((a->pending & PN__P_STOP) | pn__eob_armed(b));
	/* len 0: the actor pointer rides in data[] for pn__actor_activate(). */
	st = (struct pn_msg){.type = PN_MSG_STARTED, .to = pid, .from = parent};
	memcpy(st.data, &a, sizeof(a));
	pn__local_push(s, &st, false);
	if ((flags & PN__SPAWN_ACK) && parent) /* supervisor.c: in order */
		pn__actor_sys_send(s, parent, PN__MSG_CHILD_UP, pid, NULL, 0);
	return 0;
}

/*
 * The STARTED that actor_start() queued is being dispatched (it missed the
 * slot table, which is why we are here): make the actor visible, give it
 * STARTED, then its early messages. Not nested in a handler. If the actor
 * was stopped before this (shutdown), its PID is no longer reserved and
 * STARTED is dropped.
 */
void pn__actor_activate(struct pn_shard *s, const struct pn_msg *m)
{
	struct pn_msg st = {.type = PN_MSG_STARTED};
	struct pn__actor *a;

	if (!pn__slot_reserved(s, m->to))
		return;
	st.to = m->to;
	st.from = m->from;
	memcpy(&a, m->data, sizeof(a));
	pn_verify(a->pid == m->to);
	s->slots[pn_pid_slot(m->to)].actor = a;
	pn__deliver(s, &st);
	pn__early_replay(s, m->to);
}

static int spawn_check(const struct pn_runtime *rt,
		       const struct pn_behaviour *b,
		       const struct pn_spawn_opts *o)
{
	if (!b || !b->handle)
		return pn__error(-EINVAL, "spawn: behaviour without a handler");
	if (b->nmsg_sizes && !b->msg_sizes)
		return pn__error(-EINVAL,
				 "spawn: behaviour %s has nmsg_sizes "
				 "%zu but no msg_sizes table",
				 b->name ? b->name : "?", b->nmsg_sizes);
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
	err = pn__send_sys(s, *pid, PN__MSG_SPAWN, self, 0, buf,
			   pn__spawn_payload(buf, b, o, depth));
	if (err < 0)
		pn__slot_unreserve(s->rt->shard[target], *pid);
	return err;
}

void pn__sys_spawn(struct pn_shard *s, struct pn_msg *m)
{
	const unsigned char *p = pn_msg_data(m);
	struct spawn_hdr h;
	int err;

	memcpy(&h, p, sizeof(h));
	pn_verify(pn__slot_reserved(s, m->to));
	err = actor_start(s, m->to, h.b, h.flags, h.depth, m->from,
			  p + sizeof(h), m->len - sizeof(h));
	if (err < 0) {
		/* Report it as a failed init to whoever asked to know. */
		if (h.flags & (PN_SPAWN_MONITOR | PN_SPAWN_LINK))
			pn__send_down(s, m->from,
				      h.flags & PN_SPAWN_MONITOR
					      ? PN_MSG_DOWN
					      : PN__MSG_EXITSIG,
				      m->to, PN_REASON_INIT, err);
		pn__slot_free(s, pn_pid_slot(m->to));
		pn__early_release(s, m->to); /* they become dead letters */
	}
}
