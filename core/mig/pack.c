// SPDX-License-Identifier: MIT
/*
 * An actor in transit: packing it into the INSTALL/MOVE payload on the
 * shard it leaves and re-creating it from that payload where it arrives
 * (migrate.c runs the protocol around this), and the public calls that
 * ask for a move, with their checks.
 *
 * The payload is one buffer: a header, the monitors and links, the armed
 * timers (request.c's wire form: handle, time left, period, message), the
 * outstanding requests (ref, time left), then the state - state_size bytes
 * as they are, or what the behaviour's pack wrote. Behaviour pointers are
 * valid on every shard (one process), so the header carries b itself.
 */
#include "mig_int.h"

#include <errno.h>
#include <sched.h>

struct mig_hdr {
	const struct pn_behaviour *b;
	pn_pid pid;
	uint32_t flags, depth;
	uint32_t nmon, nlink, ntimer, nreq;
	uint32_t state_len;
	uint32_t from;	 /* the shard it left */
	uint32_t dest;	 /* where it goes */
	uint32_t moves;	 /* its move count: this move's fence generation */
	uint32_t nfence; /* fence acks its destination waits for */
};

/* The fence of the move @m (INSTALL or MOVE) carries. */
void pn__mig_fence_of(const struct pn_msg *m, uint32_t *gen, uint32_t *n)
{
	struct mig_hdr h;

	memcpy(&h, m->ptr, sizeof(h));
	*gen = h.moves;
	*n = h.nfence;
}

size_t pn__mig_pack_bound(const struct pn_behaviour *b)
{
	return sizeof(struct mig_hdr) + (b->pack ? b->pack_max : b->state_size);
}

/* Write the state at @p (at most @size bytes); its length or < 0. */
static long pack_state(struct pn_shard *s, struct pn__actor *a, void *p,
		       size_t size)
{
	struct pn__actor *saved = s->cur;
	long n;

	if (!a->b->pack) {
		if (size)
			memcpy(p, a->state, size);
		return (long)size;
	}
	s->cur = a; /* pack may call pn_self() */
	n = a->b->pack(pn__ctx(s), a->state, p, size);
	s->cur = saved;
	if (n < 0)
		return pn__error((int)n, "migrate: %s's pack failed",
				 a->b->name ? a->b->name : "actor");
	if ((size_t)n > size)
		return pn__error(-EMSGSIZE,
				 "migrate: %s's pack wrote %ld bytes, "
				 "pack_max is %zu",
				 a->b->name ? a->b->name : "actor", n, size);
	return n;
}

/*
 * Pack @a (leaving for @dest) into @m->ptr/len. Returns 0, or < 0 with
 * nothing changed (no memory, too large, pack refused). On success its
 * timers here are cancelled and its requests taken out of this shard's
 * table: they travel in the payload.
 */
int pn__mig_pack(struct pn_shard *s, struct pn__actor *a, unsigned dest,
		 uint32_t nfence, struct pn_msg *m)
{
	struct mig_hdr h = {.b = a->b, .pid = a->pid, .depth = a->depth};
	size_t wire = pn__atimers_wire_size(), fixed, room;
	unsigned char *buf, *p;
	long n;

	h.flags = a->flags & (PN__A_TRAP | PN__A_NOCLEANUP | PN__A_DEFER);
	h.nmon = a->monitors.n;
	h.nlink = a->links.n;
	h.ntimer = pn__atimers_count(a);
	h.nreq = pn__reqs_count(s, a->pid);
	h.from = s->id;
	h.dest = dest;
	h.moves = a->moves;
	h.nfence = nfence; /* the ACKs its destination waits for */
	fixed = sizeof(h) + (h.nmon + h.nlink) * sizeof(pn_pid) +
		h.ntimer * wire + h.nreq * PN__REQ_WIRE;
	room = a->b->pack ? a->b->pack_max : a->b->state_size;
	if (fixed + room > PN_MSG_MAX)
		return pn__error(-EMSGSIZE,
				 "migrate: %zu bytes to carry, over "
				 "PN_MSG_MAX",
				 fixed + room);
	if (!(buf = pn__buf_alloc(s, fixed + room)))
		return pn__error(-ENOMEM, "migrate: no memory to pack");
	if ((n = pack_state(s, a, buf + fixed, room)) < 0) {
		pn__buf_free(s, buf);
		return (int)n;
	}
	h.state_len = (uint32_t)n;
	memcpy(buf, &h, sizeof(h));
	p = buf + sizeof(h);
	if (h.nmon) /* v is NULL for an empty set */
		memcpy(p, a->monitors.v, h.nmon * sizeof(pn_pid));
	p += h.nmon * sizeof(pn_pid);
	if (h.nlink)
		memcpy(p, a->links.v, h.nlink * sizeof(pn_pid));
	p += h.nlink * sizeof(pn_pid);
	pn__atimers_take(s, a, (struct pn__atimers_wire *)(void *)p);
	p += h.ntimer * wire;
	pn__reqs_take(s, a->pid, (uint64_t *)(void *)p, h.nreq);
	m->len = (uint32_t)(fixed + (size_t)n);
	m->ptr = buf;
	return 0;
}

static void pids_load(struct pn_shard *s, struct pn__pids *set,
		      const unsigned char *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		pn_pid pid;

		memcpy(&pid, p + i * sizeof(pid), sizeof(pid));
		if (pn__pids_add(set, s->arena, pid) < 0)
			pn_panic("no memory to install a migrated actor");
	}
}

/*
 * Re-create the actor @m carries on this shard: on its list, with its
 * timers and requests armed again. *err gets unpack's failure (the actor
 * exists; the caller stops it). The caller puts it in its slot or guest
 * table. The payload stays the caller's.
 */
struct pn__actor *pn__mig_unpack(struct pn_shard *s, const struct pn_msg *m,
				 int *err, unsigned *from, unsigned *dest)
{
	const unsigned char *p = m->ptr;
	struct pn__actor *a = pn_pool_alloc(s->actor_pool);
	struct mig_hdr h;

	memcpy(&h, p, sizeof(h));
	p += sizeof(h);
	if (!a)
		pn_panic("no memory to install a migrated actor");
	*a = (struct pn__actor){.b = h.b,
				.pid = h.pid,
				.flags = (uint16_t)h.flags,
				.pending = pn__eob_armed(h.b),
				.depth = h.depth,
				.moves = h.moves};
	if (h.b->state_size &&
	    !(a->state = pn_arena_zalloc(s->arena, h.b->state_size)))
		pn_panic("no memory to install a migrated actor");
	pids_load(s, &a->monitors, p, h.nmon);
	p += h.nmon * sizeof(pn_pid);
	pids_load(s, &a->links, p, h.nlink);
	p += h.nlink * sizeof(pn_pid);
	pn__actor_link(s, a);
	if (pn__atimers_put(s, a, (const void *)p, h.ntimer) < 0)
		pn_panic("no memory to re-arm a migrated actor's timers");
	p += h.ntimer * pn__atimers_wire_size();
	if (pn__reqs_put(s, a->pid, (const void *)p, h.nreq) < 0)
		pn_panic("no memory for a migrated actor's requests");
	p += h.nreq * PN__REQ_WIRE;
	*err = 0;
	if (h.b->unpack) {
		struct pn__actor *saved = s->cur;

		s->cur = a;
		*err = h.b->unpack(pn__ctx(s), a->state, p, h.state_len);
		s->cur = saved;
		*err = *err < 0 ? *err : 0;
	} else if (h.state_len) {
		memcpy(a->state, p, h.state_len);
	}
	*from = h.from;
	*dest = h.dest;
	return a;
}

/* --- asking for a move -------------------------------------------------- */

/* Whether an actor whose home is @home may move to shard @to now. */
int pn__mig_check(struct pn_runtime *rt, unsigned home, unsigned to)
{
	if (to >= rt->nshards)
		return pn__error(-EINVAL, "migrate: no shard %u (%u shards)",
				 to, rt->nshards);
	if (home == rt->napp)
		return pn__error(-EPERM, "migrate: actors of the supervisor "
					 "shard do not move");
	if (to == rt->napp && !rt->cfg.migrate_supervisor)
		return pn__error(-EPERM, "migrate: to the supervisor shard "
					 "needs cfg.migrate_supervisor");
	if (pn__rt_closing(rt))
		return pn__error(-ESHUTDOWN, "migrate: the runtime is "
					     "shutting down");
	return 0;
}

int pn_migrate(struct pn_ctx *ctx, unsigned shard)
{
	struct pn_shard *s = pn__shard(ctx);
	struct pn__actor *a;
	int err;

	PN__CTX_CHECK(s, "pn_migrate");
	a = s->cur;
	if (!a || (a->flags & PN__A_DYING))
		return pn__error(-EINVAL, "pn_migrate: not in a handler");
	if (pn_pid_shard(a->pid) == s->id &&
	    s->slots[pn_pid_slot(a->pid)].actor != a)
		return pn__error(-EINVAL, "pn_migrate: in init (an actor "
					  "moves once it has started)");
	if (a->pending & PN__P_MIGRATE)
		return pn__error(-EBUSY,
				 "pn_migrate: a move to shard %u is "
				 "already asked for",
				 a->mig_to);
	if ((err = pn__mig_check(s->rt, pn_pid_shard(a->pid), shard)) < 0)
		return err;
	if (pn__mig_pack_bound(a->b) > PN_MSG_MAX)
		return pn__error(-EMSGSIZE, "pn_migrate: state of %zu bytes",
				 pn__mig_pack_bound(a->b));
	if (shard == s->id)
		return 0;
	a->pending |= PN__P_MIGRATE;
	a->mig_to = shard;
	return 0;
}

int pn_migrate_pid(struct pn_ctx *ctx, pn_pid pid, unsigned shard)
{
	struct pn_shard *s = pn__shard(ctx);
	uint64_t to = shard;
	int err;

	PN__CTX_CHECK(s, "pn_migrate_pid");
	if (!s->cur)
		return pn__error(-EINVAL, "pn_migrate_pid: not in a handler");
	if (pid == s->cur->pid)
		return pn_migrate(pn__ctx(s), shard);
	if (pid == PN_PID_NONE || pn_pid_shard(pid) >= s->nshards)
		return pn__error(-EINVAL, "pn_migrate_pid: invalid pid %#llx",
				 (unsigned long long)pid);
	if ((err = pn__mig_check(s->rt, pn_pid_shard(pid), shard)) < 0)
		return err;
	return pn__send_sys(s, pid, PN__MSG_MIG_REQ, s->cur->pid, 0, &to,
			    sizeof(to));
}

int pn_runtime_migrate(struct pn_runtime *rt, pn_pid pid, unsigned shard)
{
	uint64_t to = shard;
	int err;

	if (pid == PN_PID_NONE || pn_pid_shard(pid) >= rt->nshards)
		return pn__error(-EINVAL,
				 "pn_runtime_migrate: invalid pid "
				 "%#llx",
				 (unsigned long long)pid);
	if ((err = pn__mig_check(rt, pn_pid_shard(pid), shard)) < 0)
		return err;
	/* Through the runtime's own producer: gate, budget, ring. */
	return pn__runtime_send_sys(rt, pid, PN__MSG_MIG_REQ, &to, sizeof(to),
				    1000000000ull);
}
