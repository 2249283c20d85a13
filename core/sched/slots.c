// SPDX-License-Identifier: MIT
/*
 * The slot table: each shard's actors by slot index, a lazily touched
 * mmap, with a lock-free free stack so that any thread can reserve a PID
 * on any shard. A PID is shard | slot | generation; a slot freed gets the
 * next generation, and one whose generation would wrap is retired.
 */
#include "sched_int.h"

/*
 * Reserve a slot on @o from any thread. The free stack's head packs a tag
 * (bumped by every push and pop, so a head that was popped and pushed back
 * meanwhile does not compare equal: no ABA) with the slot index + 1.
 */
int pn__slot_reserve(struct pn_shard *o, pn_pid *pid)
{
	/* Acquire: pairs with the release of the push in pn__slot_free(), so
	 * the popped slot's gen and next are those its freeing wrote. */
	uint64_t head =
		atomic_load_explicit(&o->free_head, memory_order_acquire);
	uint32_t f;

	while ((uint32_t)head) {
		uint32_t idx = (uint32_t)head - 1;
		uint32_t next;

		pn_assert(idx < o->max_slots);
		next = atomic_load_explicit(&o->slots[idx].next,
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
void pn__slot_free(struct pn_shard *s, uint32_t idx)
{
	struct pn__slot *sl = &s->slots[idx];
	uint32_t g = atomic_load_explicit(&sl->gen, memory_order_relaxed);

	/* Only a slot handed out, not retired, is freed, by its owner. */
	pn_assert(idx < atomic_load_explicit(&s->fresh, memory_order_relaxed));
	pn_assert(g != 0 && (s == pn__self_shard || !pn__self_shard));
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

/*
 * A PID whose slot is reserved but whose actor has not started yet: its
 * spawn is on its way, or the actor exists but its STARTED has not been
 * dispatched (see pn__actor_activate()).
 */
bool pn__slot_reserved(struct pn_shard *s, pn_pid pid)
{
	uint32_t idx = pn_pid_slot(pid);

	return pn_pid_shard(pid) == s->id && pn_pid_gen(pid) != 0 &&
	       idx < atomic_load_explicit(&s->fresh, memory_order_relaxed) &&
	       !s->slots[idx].actor &&
	       atomic_load_explicit(&s->slots[idx].gen, memory_order_relaxed) ==
		       pn_pid_gen(pid);
}
