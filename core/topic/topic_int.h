/* SPDX-License-Identifier: MIT */
/*
 * topic/'s internal header: the topic table, the channel objects that
 * carry a topic's messages to one destination shard and class, and the
 * internal messages between a topic's home shard and the destinations.
 *
 * The protocol (tests/model/topic*.pml, README "Topics"): D installs a
 * channel (release), bumps members (seq_cst), then reads seq (seq_cst) as
 * a subscription's start; the home stores each seq (seq_cst), then reads
 * members (seq_cst) and rebuilds its list if it moved: the home sends q to
 * the channel, or the start is at least q. Slots and a channel's control
 * messages go home -> D in one FIFO ring, in seq order.
 */
#ifndef PN_TOPIC_INT_H
#define PN_TOPIC_INT_H

#include "pn_topic.h"
#include "sched_int.h"

/* Internal message types: the feature's range [PN__MSG_TOPIC, _END). */
#define PN__MSG_TOPIC	      (PN__MSG_INTERNAL + 0x100)
#define PN__MSG_TOPIC_SLOT    (PN__MSG_TOPIC + 0)  /* home -> D: a message */
#define PN__MSG_TOPIC_GAP     (PN__MSG_TOPIC + 1)  /* home -> D: dropped */
#define PN__MSG_TOPIC_CUT     (PN__MSG_TOPIC + 2)  /* home -> D: too slow */
#define PN__MSG_TOPIC_RETIRED (PN__MSG_TOPIC + 3)  /* home -> D: free it */
#define PN__MSG_TOPIC_CLOSE   (PN__MSG_TOPIC + 4)  /* home -> D: closed */
#define PN__MSG_TOPIC_SWEEP   (PN__MSG_TOPIC + 5)  /* home -> every shard */
#define PN__MSG_TOPIC_CREDIT  (PN__MSG_TOPIC + 6)  /* D -> home: room */
#define PN__MSG_TOPIC_RETIRE  (PN__MSG_TOPIC + 7)  /* D -> home: no subs */
#define PN__MSG_TOPIC_ACK     (PN__MSG_TOPIC + 8)  /* D -> home: swept */
#define PN__MSG_TOPIC_FWD     (PN__MSG_TOPIC + 9)  /* a publish for home */
#define PN__MSG_TOPIC_CLOSING (PN__MSG_TOPIC + 10) /* close(): to home */
#define PN__MSG_TOPIC_SUBREQ  (PN__MSG_TOPIC + 11) /* subscribe at home */
#define PN__MSG_TOPIC_UNSUB   (PN__MSG_TOPIC + 12) /* unsubscribe at home */
#define PN__MSG_TOPIC_WAIT    (PN__MSG_TOPIC + 13) /* notify_writable */
#define PN__MSG_TOPIC_ONE     (PN__MSG_TOPIC + 14) /* forwarded delivery */
#define PN__MSG_TOPIC_END     (PN__MSG_TOPIC + 15)

enum { PN__T_FREE, PN__T_OPEN, PN__T_CLOSING }; /* a topic's state */
enum { PN__C_OPEN, PN__C_CUT }; /* a channel, in the home's view */
/* A topic id: entry index + 1 in the low half, generation in the high. */
#define PN__TID_IDX(id)	  (((id)&0xffffu) - 1u)
#define PN__TID_GEN(id)	  ((id) >> 16)
#define PN__TID(idx, gen) (((uint32_t)(gen) << 16) | ((idx) + 1u))

/* A topic message's payload over PN_TOPIC_INLINE bytes: one buffer of
 * the publisher's shard (pn__buf_alloc), read by every destination,
 * freed by whichever drops the last reference. */
struct pn__tbuf {
	_Atomic uint32_t refs;
	uint32_t len, pad[2];
	alignas(16) unsigned char data[];
};

struct pn__tsub { /* one subscription, in its channel (D's) */
	pn_pid pid;
	uint64_t start; /* delivers seq > start */
	uint64_t lo, hi;
	pn_topic_filter_fn fn;
	void *arg;
	uint64_t last;		 /* seq of its last delivery (or start) */
	uint32_t skipped, confl; /* since: its filter's, conflated */
	bool routed;		 /* its actor was away: forwards only */
};

/* A channel: topic messages of one class to one destination shard. */
struct pn__tchan {
	/* shared: written by D, read by the home (credit) and stats. */
	alignas(PN_CACHELINE) _Atomic uint64_t done; /* slots handled */
	_Atomic uint64_t delivered, filtered, cuts;
	_Atomic uint32_t nsubs;
	uint32_t handle; /* D's, for slots: pid(dst, handle, 0); constant */
	/* shared: written by the home, read by D and stats. */
	alignas(PN_CACHELINE) _Atomic uint32_t want; /* send a CREDIT */
	_Atomic uint64_t sent;			     /* slots sent */
	/* the home's */
	alignas(PN_CACHELINE) uint64_t done_seen;
	int state;		 /* PN__C_* */
	struct pn__fifo pending; /* DROP_OLDEST, CONFLATE: slots waiting */
	struct pn__htab keys;	 /* CONFLATE: key -> pending slot */
	uint32_t confl;		 /* conflated since the last slot sent */
	/* D's */
	alignas(PN_CACHELINE) struct pn__tsub *subs;
	uint32_t n, cap, live; /* live: n less the holes */
	bool iterating, holes, dirty;
	bool retired;	   /* out of the table; freed on RETIRED */
	uint32_t confl_in; /* conflated since the last slot (a GAP) */
	uint32_t topic;	   /* table index */
	uint8_t cls;	   /* enum pn_topic_policy */
	unsigned dst;
};

/* A topic: one entry of the runtime's table. */
struct pn__topic {
	/* shared: set under the table mutex before state goes OPEN. */
	_Atomic int state;    /* PN__T_*; release by the writer */
	_Atomic uint32_t gen; /* the id's generation */
	unsigned home;
	uint32_t max_lag;
	char name[PN_TOPIC_NAME_MAX];
	_Atomic(struct pn__tchan *) *chan; /* [nshards * NPOLICIES], D's */
	/* shared: written by the home. */
	alignas(PN_CACHELINE) _Atomic uint64_t seq;
	_Atomic uint64_t refused, slots, dropped, conflated;
	/* shared: the counters of channels gone (under the table mutex). */
	_Atomic uint64_t gone_delivered, gone_filtered, gone_cuts; /* +fwd */
	/* shared: bumped by any D (install, uninstall). */
	alignas(PN_CACHELINE) _Atomic uint32_t members;
	/* shared: publishes from other shards or outside that have taken a
	 * place (at most max_lag) and not yet been sent on by the home. */
	alignas(PN_CACHELINE) _Atomic uint32_t fwd;
	_Atomic uint32_t fwd_sleepers; /* external publishers in futex */
	/* the home's */
	alignas(PN_CACHELINE) uint32_t members_seen;
	struct pn__tchan **dest; /* the channels it sends to */
	unsigned ndest;
	struct pn__fifo backlog; /* forwarded publishes, blocked */
	struct pn__pids waiters; /* want PN_MSG_TOPIC_WRITABLE */
	unsigned acks;		 /* close: shards not yet swept */
	bool close_wait, closed; /* close asked (waits for fwd 0), done */
};

/* Per shard (its thread's): its actors' subscriptions, its channel
 * objects by handle, the ones due a credit check, the delivery info. */
struct pn__tshard {
	struct pn__htab bypid; /* pid -> struct pn__tpid */
	struct pn__tchan **h;  /* [caph]: handle - 1 -> channel */
	uint32_t nh, caph, *freeh, nfree;
	struct pn__tchan **dirty;
	unsigned ndirty, capdirty;
	uint32_t bit, nclose_wait; /* turn_want bit; homed here, close waits */
};
struct pn__tpid { /* bypid's entry: the topics @pid subscribes here */
	pn_pid pid;
	uint32_t n, cap, *topic;
};

struct pn__twait; /* an external caller waiting (subscribe.c) */
void pn__twait_done(struct pn__twait *w, int rc, uint64_t start);
void pn__topic_subreq_msg(struct pn_shard *s, struct pn_msg *m);
/* A subscribe or unsubscribe asked of this shard (the PID's home). */
struct pn__tsubreq {
	pn_pid pid;
	uint32_t id;
	bool unsub;
	struct pn_topic_sub_opts o;
	struct pn__twait *w; /* outside's (futex), or NULL: tell the actor */
};

struct pn__topics {
	pthread_mutex_t mu; /* open, close, channel frees, stats */
	uint32_t max;
	struct pn__topic *t;	/* [max] */
	struct pn__tshard *per; /* [nshards] */
};
/* An internal message's to for shard @d: gen 0 is no actor's, ever. */
#define PN__TDST(d)	     pn_pid_make((d), (1u << PN_PID_SLOT_BITS) - 1, 0)
#define PN__TCHAN(t, d, cls) (&(t)->chan[(d)*PN_TOPIC_NPOLICIES + (cls)])
/* The topic of @id if open (acquire: its fields), or NULL. Any thread. */
struct pn__topic *pn__topic_get(const struct pn_runtime *rt, uint32_t id,
				const char *what);
/* Internal @m from @s to shard @dst, exempt (the windows bound them). */
void pn__topic_post(struct pn_shard *s, unsigned dst, const struct pn_msg *m);
/* A payload's reference dropped (@len over PN_TOPIC_INLINE). Loop. */
void pn__tbuf_put(struct pn_shard *s, struct pn__tbuf *b);
extern const struct pn__feature pn__topic_feature; /* then publish.c's: */
int pn__topic_publish_home(struct pn_shard *s, struct pn__topic *t,
			   uint32_t idx, const struct pn_msg *pub);
void pn__topic_home_msg(struct pn_shard *s, struct pn_msg *m);
void pn__topic_home_drop(struct pn_shard *s, struct pn_msg *m);
void pn__topic_wait(struct pn_shard *s, struct pn__topic *t, uint32_t id,
		    pn_pid pid);
void pn__topic_side_queues(struct pn_shard *s, pn__side_fn fn, void *arg);
void pn__topic_tick(struct pn_shard *s);
/* pending.c: the home's pending queues (a CONFLATE tombstone: to 0) */
#define PN__TOMB(m) ((m)->to == 0)
void pn__tbuf_get(const struct pn_msg *m);
void pn__tside_take(struct pn_shard *s, const struct pn_msg *m);
void pn__tside_drop(struct pn_shard *s, const struct pn_msg *m);
void pn__tpend(struct pn_shard *s, struct pn__topic *t, struct pn__tchan *c,
	       const struct pn_msg *m);
bool pn__tpend_pop(struct pn_shard *s, struct pn__tchan *c, struct pn_msg *out);
void pn__tpend_drop_all(struct pn_shard *s, struct pn__tchan *c);
void pn__tpend_compact(struct pn_shard *s, struct pn__tchan *c);
/* deliver.c: the destinations */
void pn__topic_dst_msg(struct pn_shard *s, struct pn_msg *m);
int pn__topic_sub_here(struct pn_shard *s, uint32_t idx, pn_pid pid,
		       const struct pn_topic_sub_opts *o, uint64_t *start);
int pn__topic_unsub_here(struct pn_shard *s, uint32_t idx, pn_pid pid);
void pn__topic_gone(struct pn_shard *s, pn_pid pid);
bool pn__topic_divert(struct pn_shard *s, struct pn_msg *m);
void pn__topic_one_run(struct pn_shard *s, struct pn__actor *a,
		       struct pn_msg *m);
unsigned pn__topic_turn(struct pn_shard *s);
bool pn__topic_ready(struct pn_shard *s);
void pn__topic_chan_free(struct pn_shard *s, struct pn__tchan *c);
void pn__topic_destroy(struct pn_runtime *rt);

#endif /* PN_TOPIC_INT_H */
