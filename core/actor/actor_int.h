/* SPDX-License-Identifier: MIT */
/*
 * actor/'s internal header: actor lifecycle (spawn, stop, monitors, links,
 * exit signals, early messages), request/reply and actor timers; what the
 * features above it use of them; and the feature it registers.
 */
#ifndef PN_ACTOR_INT_H
#define PN_ACTOR_INT_H

#include "sched_int.h"

/* The actor layer's internal messages (its range). */
#define PN__MSG_SPAWN	  (PN__MSG_INTERNAL + 1)
#define PN__MSG_STOP	  (PN__MSG_INTERNAL + 2)
#define PN__MSG_KILL	  (PN__MSG_INTERNAL + 3)
#define PN__MSG_MONITOR	  (PN__MSG_INTERNAL + 4)
#define PN__MSG_DEMONITOR (PN__MSG_INTERNAL + 5)
#define PN__MSG_LINK	  (PN__MSG_INTERNAL + 6)
#define PN__MSG_UNLINK	  (PN__MSG_INTERNAL + 7)
#define PN__MSG_EXITSIG	  (PN__MSG_INTERNAL + 8)

/* A spawn flag: after the child's init returned, the parent gets
 * PN__MSG_CHILD_UP (a system type handlers see; supervisors use it). */
#define PN__SPAWN_ACK	 0x100u
#define PN__MSG_CHILD_UP (PN_MSG_SYS + 0x2001)

/* What the watchdog's beacon names while an end_batch runs: no message
 * type uses it (the last before the internal range). */
#define PN__BEACON_END_BATCH (PN__MSG_INTERNAL - 1)

/* The pending bits a new or arriving actor of @b starts with. */
static inline uint16_t pn__eob_armed(const struct pn_behaviour *b)
{
	return b->end_batch ? PN__P_EOB : 0;
}

/* actor.c */
struct pn__actor *pn__actor_target(struct pn_shard *s, struct pn_msg *m);
void pn__after_handle(struct pn_shard *s, struct pn__actor *a, int rc);
unsigned pn__spawn_target(const struct pn_runtime *rt, int shard, unsigned any);
int pn__spawn_prepare(struct pn_runtime *rt, const struct pn_behaviour *b,
		      const struct pn_spawn_opts *o, unsigned target,
		      pn_pid *pid);
size_t pn__spawn_payload(unsigned char *buf, const struct pn_behaviour *b,
			 const struct pn_spawn_opts *o, uint32_t depth);
#define PN__SPAWN_HDR 16
void pn__actor_stop(struct pn_shard *s, struct pn__actor *a, int reason,
		    int detail);
void pn__actors_shutdown_notify(struct pn_shard *s);
unsigned pn__actors_stop_depth(struct pn_shard *s, uint32_t depth);
uint32_t pn__actors_max_depth(struct pn_shard *s);
void pn__actors_fini(struct pn_shard *s);

/* request.c */
int pn__reqs_create(struct pn_shard *s);
void pn__reqs_destroy(struct pn_shard *s);
bool pn__reply_accept(struct pn_shard *s, const struct pn_msg *m,
		      uint64_t *user);
void pn__reply_msg(struct pn_shard *s, struct pn_msg *m);
extern const struct pn__feature pn__actor_feature;
void pn__timer_fire(void *arg, const struct pn_msg *m, uint64_t id);

/* actor.c: what moves with a migrating actor (mig/) */
void pn__actor_release(struct pn_shard *s, struct pn__actor *a);
void pn__actor_link(struct pn_shard *s, struct pn__actor *a);

/* request.c: what moves with an actor (PN__REQ_WIRE bytes per request) */
#define PN__REQ_WIRE (3 * sizeof(uint64_t))
struct pn__atimers_wire;
uint32_t pn__reqs_count(struct pn_shard *s, pn_pid owner);
void pn__reqs_take(struct pn_shard *s, pn_pid owner, uint64_t *out, uint32_t n);
int pn__reqs_put(struct pn_shard *s, pn_pid owner, const uint64_t *in,
		 uint32_t n);
void pn__atimers_fini(struct pn_shard *s, struct pn__actor *a);
uint32_t pn__atimers_count(const struct pn__actor *a);
void pn__atimers_take(struct pn_shard *s, struct pn__actor *a,
		      struct pn__atimers_wire *out);
int pn__atimers_put(struct pn_shard *s, struct pn__actor *a,
		    const struct pn__atimers_wire *in, uint32_t n);
size_t pn__atimers_wire_size(void);

/* actor.c, spawn.c: between the two */
void pn__actor_sys_send(struct pn_shard *s, pn_pid to, uint32_t type,
			pn_pid from, const void *data, size_t len);
void pn__send_down(struct pn_shard *s, pn_pid to, uint32_t type, pn_pid who,
		   int reason, int detail);
void pn__early_push(struct pn_shard *s, const struct pn_msg *m);
void pn__early_release(struct pn_shard *s, pn_pid pid);
void pn__early_replay(struct pn_shard *s, pn_pid pid);
void pn__actor_activate(struct pn_shard *s, const struct pn_msg *m);
void pn__sys_spawn(struct pn_shard *s, struct pn_msg *m);

/* Run @a's handler on @m from inside another actor's handler or the stop
 * sequence: the running actor and the beacon are restored after, and @m's
 * payload stays the caller's. */
void pn__run_nested(struct pn_shard *s, struct pn__actor *a,
		    const struct pn_msg *m);

#endif /* PN_ACTOR_INT_H */
