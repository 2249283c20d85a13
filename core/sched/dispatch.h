/* SPDX-License-Identifier: MIT */
/*
 * The dispatch fast path, inline: what the ring drain and the local queue
 * run per message (sched/dispatch.c has the slow paths).
 */
#ifndef PN_SCHED_DISPATCH_H
#define PN_SCHED_DISPATCH_H

#include "runtime.h"

void pn__dispatch_slow(struct pn_shard *s, struct pn_msg *m);
void pn__dispatch_miss(struct pn_shard *s, struct pn_msg *m);
void pn__dead_letter(struct pn_shard *s, const struct pn_msg *m);
/* As pn__dead_letter(), but the payload stays (its owner frees it). */
void pn__dead_letter_keep(struct pn_shard *s, const struct pn_msg *m);
struct pn__actor *pn__lookup(struct pn_shard *s, pn_pid pid);
void pn__buf_free(struct pn_shard *s, void *data);
/* Builds without NDEBUG: panic unless @m has the size @a's behaviour
 * declares for its type (struct pn_msg_size). Cold; release builds have
 * neither the call nor the function. */
#ifndef NDEBUG
void pn__msg_size_check(const struct pn_shard *s, const struct pn__actor *a,
			const struct pn_msg *m);
#define PN__MSG_SIZE_CHECK(s, a, m)                                            \
	do {                                                                   \
		if ((a)->b->msg_sizes)                                         \
			pn__msg_size_check((s), (a), (m));                     \
	} while (0)
#else
#define PN__MSG_SIZE_CHECK(s, a, m) ((void)0)
#endif

/*
 * Publish what this shard is about to run for the watchdog, the shutdown
 * report and crash reports. Owner only. actor/type/b are relaxed; seq goes
 * last with release, pairing with the watchdog's acquire load of it, so
 * once seq has stopped moving the fields are those of dispatch seq.
 */
static inline void pn__beacon_set(struct pn_shard *s, const struct pn__actor *a,
				  uint32_t type)
{
	/* The actor's fields only when another actor runs: a stream of
	 * messages to one actor pays two stores per dispatch, not four. */
	if (s->beacon_last != a) {
		s->beacon_last = a;
		atomic_store_explicit(&s->beacon.actor, a->pid,
				      memory_order_relaxed);
		atomic_store_explicit(&s->beacon.b, a->b, memory_order_relaxed);
	}
	atomic_store_explicit(&s->beacon.type, type, memory_order_relaxed);
	atomic_store_explicit(&s->beacon.seq, ++s->dispatch_seq,
			      memory_order_release);
}

/* Around user code that may run nested in another actor's handler (init,
 * the stop sequence): the beacon names the inner actor, then the outer
 * one again. */
static inline uint32_t
pn__beacon_enter(struct pn_shard *s, const struct pn__actor *a, uint32_t type)
{
	uint32_t outer =
		atomic_load_explicit(&s->beacon.type, memory_order_relaxed);

	pn__beacon_set(s, a, type);
	return outer;
}

static inline void pn__beacon_leave(struct pn_shard *s,
				    const struct pn__actor *outer,
				    uint32_t type)
{
	if (outer)
		pn__beacon_set(s, outer, type);
}

/*
 * Run actor @a's handler on @m, not nested in another handler: the one
 * place that does it (the fast path, guests, replayed early messages), so
 * the watchdog beacon, the probes and the after-handler checks are the
 * same everywhere. Frees a large payload after the handler. Always
 * inlined: the probes' asm makes the compiler think it too big, and a call
 * per message is what the fast path cannot afford.
 */
static inline __attribute__((always_inline)) void
pn__run_keep(struct pn_shard *s, struct pn__actor *a, const struct pn_msg *m)
{
	int rc;

	pn_assert(!s->cur && a->pid == m->to); /* not nested: see run_nested */
	PN__MSG_SIZE_CHECK(s, a, m);
	s->cur = a;
	pn__beacon_set(s, a, m->type); /* for the watchdog: see there */
	PN_PROBE3(dispatch_start, s->id, m->to, m->type);
	rc = a->b->handle(pn__ctx(s), a->state, m);
	PN_PROBE4(dispatch_end, s->id, m->to, m->type, rc);
	if (PN_UNLIKELY(rc != 0 || a->pending))
		s->rt->svc.after(s, a, rc);
	s->cur = NULL;
}

/* pn__run_keep(), and then the payload goes back to its pool: the one
 * place that runs a handler on a message it owns. (pn__run_keep() alone:
 * a payload that others read too, which its owner frees.) */
static inline __attribute__((always_inline)) void
pn__run(struct pn_shard *s, struct pn__actor *a, struct pn_msg *m)
{
	pn__run_keep(s, a, m);
	if (PN_UNLIKELY(m->len > PN_MSG_INLINE))
		pn__buf_free(s, m->ptr);
}

/* An actor living here under another shard's PID (a feature moved it
 * here) that messages may reach without asking that feature, or NULL. */
struct pn__direct {
	pn_pid pid;
	struct pn__actor *a;
};

static inline struct pn__actor *pn__direct_find(const struct pn_shard *s,
						pn_pid pid)
{
	const struct pn__direct *d = pn__htab_find(&s->direct, pid);

	return d ? d->a : NULL;
}

/* Deliver @m to its actor here; the common half of pn__dispatch(). */
static inline __attribute__((always_inline)) void
pn__deliver(struct pn_shard *s, struct pn_msg *m)
{
	uint32_t idx = pn_pid_slot(m->to);
	struct pn__actor *a = idx < s->max_slots ? s->slots[idx].actor : NULL;

	if (PN_UNLIKELY(!a || a->pid != m->to)) {
		/* Not an actor of the slot table: one living here away from
		 * home, else the features' (one not started yet, one to
		 * forward) or a dead letter. */
		if (!(a = pn__direct_find(s, m->to))) {
			pn__dispatch_miss(s, m);
			return;
		}
	}
	pn__run(s, a, m);
}

/* The dispatch fast path, shared by the ring drain and the local queue.
 * A message stamped for sampling (meter.h) takes the slow way, through
 * the same test as replies: unstamped messages pay nothing for it. */
static inline void pn__dispatch(struct pn_shard *s, struct pn_msg *m)
{
	const uint64_t slow =
		PN__METRICS ? PN__REF_STAMP | PN__REF_REPLY : PN__REF_REPLY;

	if (PN_UNLIKELY(m->type >= PN__MSG_INTERNAL || (m->ref & slow))) {
		if (PN__METRICS && m->ref == PN__REF_STAMP)
			pn__met_dispatch(s, m);
		else
			pn__dispatch_slow(s, m);
	} else {
		pn__deliver(s, m);
	}
}

#endif /* PN_SCHED_DISPATCH_H */
