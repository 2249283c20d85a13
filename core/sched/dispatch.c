// SPDX-License-Identifier: MIT
/*
 * The dispatch slow paths (the fast path is pn__dispatch() in dispatch.h):
 * internal messages and replies, messages for no actor in the slot table,
 * and dead letters. What is not the scheduler's own (congestion news) goes
 * to the features, in this order: a feature may divert it first (an actor
 * that moved away), a reply goes to the reply service, an internal type to
 * the feature whose range holds it; a miss is offered to every feature
 * (the last registered first) before it becomes a dead letter.
 */
#include "sched_int.h"

void pn__dead_letter_keep(struct pn_shard *s, const struct pn_msg *m)
{
	PN__STAT_ADD(s, PN__ST_DEAD, 1);
	pn__met_event(&s->met, PN__FL_DEAD, m->to, m->type, 0);
	if (s->rt->cfg.dead_letter)
		s->rt->cfg.dead_letter(s->rt->cfg.dead_letter_arg, s->id, m);
}

void pn__dead_letter(struct pn_shard *s, const struct pn_msg *m)
{
	pn__dead_letter_keep(s, m);
	if (m->len > PN_MSG_INLINE)
		pn__buf_free(s, m->ptr);
}

#ifndef NDEBUG
void pn__msg_size_check(const struct pn_shard *s, const struct pn__actor *a,
			const struct pn_msg *m)
{
	const struct pn_behaviour *b = a->b;

	if (pn_msg_size_ok(b->msg_sizes, b->nmsg_sizes, m))
		return;
	for (size_t i = 0; i < b->nmsg_sizes; i++)
		if (b->msg_sizes[i].type == m->type)
			pn_panic(
				"shard %u: actor %#llx (%s) got message type "
				"%#x with %u bytes; its msg_sizes declare %s%u",
				s->id, (unsigned long long)a->pid,
				b->name ? b->name : "?", m->type, m->len,
				(b->msg_sizes[i].flags & PN_MSG_SIZE_MIN)
					? "at least "
					: "",
				b->msg_sizes[i].size);
}
#endif

struct pn__actor *pn__lookup(struct pn_shard *s, pn_pid pid)
{
	uint32_t idx = pn_pid_slot(pid);
	struct pn__actor *a;

	if (pn_pid_shard(pid) != s->id)
		return (a = pn__direct_find(s, pid))
			       ? a
			       : pn__features_find(s, pid);
	if (idx >= s->max_slots)
		return NULL;
	a = s->slots[idx].actor;
	return a && a->pid == pid ? a : NULL;
}

void pn__direct_add(struct pn_shard *s, struct pn__actor *a)
{
	struct pn__direct *d;

	pn_assert(pn_pid_shard(a->pid) != s->id && !pn__direct_find(s, a->pid));
	if (!s->direct.esz)
		pn__htab_init(&s->direct, sizeof(*d), 16, 1u << 30);
	if (pn__htab_add(&s->direct, s->arena, a->pid, (void **)&d) < 0)
		pn_panic("no memory for the table of actors away from home");
	d->a = a;
}

void pn__direct_del(struct pn_shard *s, pn_pid pid)
{
	void *d = pn__htab_find(&s->direct, pid);

	if (d)
		pn__htab_del(&s->direct, d);
}

void pn__dispatch_slow(struct pn_shard *s, struct pn_msg *m)
{
	if (m->type == PN__MSG_FLOW) { /* congestion news (send.c) */
		pn__flow_msg(s, m);
		return;
	}
	if (pn__features_divert(s, m))
		return;
	if (m->type < PN__MSG_INTERNAL) {
		if ((m->ref & PN__REF_REPLY) && s->rt->svc.reply) {
			s->rt->svc.reply(s, m);
			return;
		}
		m->ref = 0; /* a sample stamp nobody reads */
		pn__deliver(s, m);
		return;
	}
	if (!pn__features_msg(s, m))
		pn_panic("unknown runtime message %#x", m->type);
}

void pn__dispatch_miss(struct pn_shard *s, struct pn_msg *m)
{
	if (!pn__features_miss(s, m))
		pn__dead_letter(s, m);
}
