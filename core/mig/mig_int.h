/* SPDX-License-Identifier: MIT */
/*
 * mig/'s internal header: migration, placement and the traffic view, and
 * the feature they register. The mechanism is in migrate.c's opening
 * comment; packing an actor is in pack.c, placement and the rebalancer in
 * placement.c, the traffic view in traffic.c.
 */
#ifndef PN_MIG_INT_H
#define PN_MIG_INT_H

#include "queues.h"

/* The pending bit of pn_migrate() (a feature's bit, above PN__P_ACTOR):
 * move to a->mig_to once the handler returns. */
#define PN__P_MIGRATE 0x8

/* Internal messages of the move protocol (migrate.c). All are addressed
 * to the moving actor's PID; REQ is for the actor, the others for the
 * runtime on the shard they are sent to (H: home, T/U: other shards). */
#define PN__MSG_MIG	    (PN__MSG_INTERNAL + 0x80)
#define PN__MSG_MIG_REQ	    (PN__MSG_MIG + 0)  /* move to shard (u32) */
#define PN__MSG_MIG_INSTALL (PN__MSG_MIG + 1)  /* H -> U: the packed actor */
#define PN__MSG_MIG_MOVE    (PN__MSG_MIG + 2)  /* T -> H: packed, for U */
#define PN__MSG_MIG_FLUSH   (PN__MSG_MIG + 3)  /* H -> T: after MOVE */
#define PN__MSG_MIG_FLUSHED (PN__MSG_MIG + 4)  /* T -> H: FLUSH's answer */
#define PN__MSG_MIG_GONE    (PN__MSG_MIG + 5)  /* T -> H: it stopped at T */
#define PN__MSG_MIG_MARK    (PN__MSG_MIG + 6)  /* T -> H: T wants direct */
#define PN__MSG_MIG_DIRECT  (PN__MSG_MIG + 7)  /* H -> T: MARK's answer */
#define PN__MSG_MIG_NOP	    (PN__MSG_MIG + 8)  /* a queued message moved */
#define PN__MSG_MIG_FENCE   (PN__MSG_MIG + 9)  /* T -> all: after T's sends */
#define PN__MSG_MIG_ACK	    (PN__MSG_MIG + 10) /* all -> U: fence passed */
#define PN__MSG_MIG_END	    (PN__MSG_MIG + 11)

/* In msg->len of a message a former location sends back to the home. */
#define PN__LEN_BOUNCED (1u << 31)

/* A protocol message (for the runtime, not the actor). */
static inline bool pn__mig_proto(uint32_t type)
{
	return type > PN__MSG_MIG_REQ && type < PN__MSG_MIG_END;
}

/*
 * send_fast() on a shard with guests, for an inline message to @to, whose
 * home *@dst is another shard and which is not a direct guest (those are
 * in the shard's direct table, which send_fast() looks at first): the
 * ring's slot, or NULL to send it the general way (a guest still held,
 * a full ring). The route's slot hook (migrate.c).
 */
static inline struct pn_msg *pn__mig_send_slot(struct pn_shard *s, pn_pid to,
					       unsigned *dst)
{
	struct pn__guest *e = pn__mig_gfind(s, to);

	pn_assert(!e || e->mode != PN__G_DIRECT);
	if (!e || e->mode == PN__G_BOUNCE || !e->a)
		return pn_ring_slot(s->out[*dst].ring);
	return NULL;
}

/* migrate.c */
extern const struct pn__feature pn__mig_feature;
void pn__mig_guest_del(struct pn_shard *s, pn_pid pid);
void pn__mig_gone(struct pn_shard *s, pn_pid pid);
void pn__mig_leave(struct pn_shard *s, struct pn__actor *a);
void pn__mig_request(struct pn_shard *s, struct pn__actor *a,
		     const struct pn_msg *m);
unsigned pn__mig_dst(struct pn_shard *s, pn_pid to, struct pn__fifo **held);
void pn__mig_fini(struct pn_shard *s);
unsigned pn__mig_pump(struct pn_shard *s);
bool pn__mig_pump_room(struct pn_shard *s);
void pn__mig_pump_arm(struct pn_shard *s);
void pn__mig_side_queues(struct pn_shard *s,
			 void (*fn)(struct pn_shard *s, struct pn__fifo *f,
				    void *arg),
			 void *arg);
void pn__mig_post(struct pn_shard *s, unsigned dst, const struct pn_msg *m);
int pn__mig_check(struct pn_runtime *rt, unsigned home, unsigned to);
int pn__where(const struct pn_runtime *rt, pn_pid pid, unsigned *shard);

/* pack.c: the INSTALL/MOVE payload */
void pn__mig_fence_of(const struct pn_msg *m, uint32_t *gen, uint32_t *n);
int pn__mig_pack(struct pn_shard *s, struct pn__actor *a, unsigned dest,
		 uint32_t nfence, struct pn_msg *m);
struct pn__actor *pn__mig_unpack(struct pn_shard *s, const struct pn_msg *m,
				 int *err, unsigned *from, unsigned *dest);
size_t pn__mig_pack_bound(const struct pn_behaviour *b);

/* traffic.c */
int pn__traffic_init(struct pn_runtime *rt);
void pn__traffic_fini(struct pn_runtime *rt);
void pn__traffic_note(struct pn_shard *s, unsigned dst, uint32_t n,
		      const struct pn_msg *last);
enum {
	PN__TR_MOVES,
	PN__TR_INSTALLS,
	PN__TR_FORWARDED,
	PN__TR_BOUNCED,
	PN__TR_NCOUNT
};
void pn__traffic_count(struct pn_shard *s, unsigned which);
unsigned pn__traffic_collect(const struct pn_runtime *rt,
			     struct pn_traffic_pair *v);
unsigned pn__traffic_max_pairs(const struct pn_runtime *rt);
void pn__traffic_reset(const struct pn_runtime *rt);

/* placement.c */
int pn__place_init(struct pn_runtime *rt);
void pn__place_fini(struct pn_runtime *rt);
int pn__place_start(struct pn_runtime *rt);
int pn__place(struct pn_runtime *rt, const struct pn_spawn_opts *o,
	      unsigned here, unsigned *target);

#endif /* PN_MIG_INT_H */
