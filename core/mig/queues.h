/* SPDX-License-Identifier: MIT */
/*
 * Migration's per-shard state and queues (queues.c), the home's forwarder
 * and a deferred fence, with what migrate.c, fence.c and queues.c share.
 * Owner only, every field.
 */
#ifndef PN_MIG_QUEUES_H
#define PN_MIG_QUEUES_H

#include "actor_int.h"
#include "pn_migrate.h"

/* The guest table: a struct pn__htab (core/base/hash.h) PID -> entry,
 * owner only. Here so that the hot lookups (sends in mig_int.h) inline. */
enum { PN__G_PENDING = 1, PN__G_DIRECT, PN__G_BOUNCE, PN__G_FENCE };

struct pn__guest {
	pn_pid pid;	       /* 0: empty */
	struct pn__actor *a;   /* the actor; NULL: a bounce or early acks */
	struct pn__fifo *held; /* PENDING, FENCE: our sends to it, in order */
	/* FENCE (migrate.c, "The mover's own messages"): what reached it
	 * before its fence completed, in order; the acks so far, how many
	 * it needs (known once its INSTALL came) and their generation. */
	struct pn__fifo *fq;
	uint32_t acks, need, gen;
	uint16_t mode;
	uint16_t from; /* FENCE: the shard it left (for PN_MSG_MIGRATED) */
	bool dead;     /* stopped while fencing: late acks are only counted */
};

struct pn__fwd;
struct pn__fence; /* a mover's fence waiting for held messages (migrate.c) */
struct pn__mig {
	struct pn__htab guests;	 /* pid -> struct pn__guest */
	struct pn__fwd *fwds;	 /* forwarders in this shard's slots */
	uint32_t npump;		 /* destinations with a non-empty fwdq */
	uint32_t nguests;	 /* guests here that sends reach directly */
	uint32_t bit;		 /* the feature's bit in turn_want */
	struct pn__fence *defer; /* [ndefer] fences not yet sent */
	uint32_t ndefer, cdefer;
};

static inline struct pn__guest *pn__mig_gfind(struct pn_shard *s, pn_pid pid)
{
	return s->mig ? pn__htab_find(&s->mig->guests, pid) : NULL;
}

/* A guest living here that messages go to directly, or NULL. */
static inline struct pn__actor *pn__mig_guest_hot(struct pn_shard *s,
						  pn_pid pid)
{
	struct pn__guest *e = pn__mig_gfind(s, pid);

	return e && (e->mode == PN__G_DIRECT || e->mode == PN__G_PENDING)
		       ? e->a
		       : NULL;
}

/* A moved-away actor's stand-in in its home slot (migrate.c). */
struct pn__fwd {
	struct pn__actor a; /* first: the slot points here */
	pn_pid pid;
	unsigned loc;	       /* where P is (INSTALL went there) */
	unsigned dest;	       /* draining: where it goes next */
	bool draining;	       /* between MOVE and FLUSHED */
	bool flushed;	       /* draining home: FLUSHED came, acks may not */
	uint32_t acks, need;   /* draining home: P's fence ACKs, how many */
	struct pn__fifo strag; /* draining: bounced messages */
	struct pn__fifo back;  /* draining: taken back from fwdq[loc] */
	struct pn__fifo held;  /* draining: new messages */
	struct pn__fwd *prev, *next;
	struct pn_msg move; /* draining: the MOVE, owning the packed P */
};

/* A fence a mover could not post yet: P's sends sit in a held queue. */
struct pn__fence {
	pn_pid pid;
	uint32_t gen;
	uint32_t dest;
	uint64_t mask; /* the shards to fence (sent_to) */
};

/* queues.c */
struct pn__mig *pn__mig_get(struct pn_shard *s);
void pn__mig_guests_add(struct pn_shard *s, int n);
void pn__mig_pump_add(struct pn_shard *s, int n);
struct pn__guest *pn__mig_g_add(struct pn_shard *s, pn_pid pid);
void pn__mig_g_del(struct pn_shard *s, struct pn__guest *e);
void pn__mig_post(struct pn_shard *s, unsigned dst, const struct pn_msg *m);
void pn__mig_ctl(struct pn_shard *s, unsigned dst, uint32_t type, pn_pid pid);
void pn__mig_side_put(struct pn_shard *s, struct pn__fifo *f,
		      const struct pn_msg *m, bool moved);
void pn__mig_fifo_put(struct pn_shard *s, struct pn__fifo *f,
		      const struct pn_msg *m);
void pn__mig_repost(struct pn_shard *s, unsigned dst, const struct pn_msg *m);
void pn__mig_fifo_post(struct pn_shard *s, struct pn__fifo *f, unsigned dst);
void pn__mig_bounce(struct pn_shard *s, struct pn_msg *m);
void pn__mig_bounce_local(struct pn_shard *s, pn_pid pid);
void pn__mig_hold(struct pn_shard *s, struct pn__fifo **q,
		  const struct pn_msg *m);
void pn__mig_side_free(struct pn_shard *s, struct pn__fifo **q);
void pn__mig_side_drop(struct pn_shard *s, struct pn__fifo **q);
void pn__mig_fwd_send(struct pn_shard *s, unsigned d, const struct pn_msg *m,
		      bool moved);
void pn__mig_fifo_forward(struct pn_shard *s, struct pn__fifo *f, unsigned d);
unsigned pn__mig_pump(struct pn_shard *s);
bool pn__mig_pump_room(struct pn_shard *s);
void pn__mig_pump_arm(struct pn_shard *s);
/* fence.c */
uint32_t pn__mig_fence_count(const struct pn_shard *s, uint64_t mask);
void pn__mig_fence_start(struct pn_shard *s, pn_pid pid, uint32_t gen,
			 unsigned dest, uint64_t mask);
void pn__mig_fences_retry(struct pn_shard *s);
void pn__mig_on_fence(struct pn_shard *s, const struct pn_msg *m);
void pn__mig_fence_try(struct pn_shard *s, pn_pid pid);
void pn__mig_on_ack(struct pn_shard *s, const struct pn_msg *m);
/* migrate.c */
extern const struct pn__route pn__mig_route;
void pn__mig_migrated(struct pn_shard *s, struct pn__actor *a, int status,
		      unsigned from, unsigned to, bool now);
void pn__mig_take_back(struct pn_shard *s, struct pn__fwd *f);
struct pn__fwd *pn__mig_fwd_of(struct pn_shard *s, pn_pid pid);
void pn__mig_replay(struct pn_shard *s, struct pn__fifo *q);
void pn__mig_come_home(struct pn_shard *s, struct pn__fwd *f);

#endif /* PN_MIG_QUEUES_H */
