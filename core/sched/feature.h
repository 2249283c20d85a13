/* SPDX-License-Identifier: MIT */
/*
 * The features' registry (sched/feature.c): what a feature built on the
 * scheduler registers, and the services one of them provides.
 */
#ifndef PN_SCHED_FEATURE_H
#define PN_SCHED_FEATURE_H

#include "base_int.h"

struct pn_shard;
struct pn_runtime;
struct pn__actor;
struct pn_migrate_stats;
struct pn_supervision_stats;
struct pn_topic_stats;

/*
 * Features. The scheduler (sched/) and the actor layer under it call what
 * is built on them only through what a feature registers here: rt/ lists
 * the features (rt/runtime.c) and the base iterates over them, so that no
 * file below a feature names it. Every hook is optional (NULL: none).
 * Hooks marked "loop" run on the shard's thread; the others on the
 * controlling thread unless they say otherwise.
 */
struct pn__msg_range {
	uint32_t lo, hi; /* internal message types [lo, hi) */
	/* Consume @m on its shard (and free a large payload). */
	void (*handle)(struct pn_shard *s, struct pn_msg *m);
	/* Optional: @m will never be handled (the join sweep counts it a
	 * dead letter): free what it holds. NULL: a payload over
	 * PN_MSG_INLINE is a plain buffer (pn__buf_free). */
	void (*drop)(struct pn_shard *s, struct pn_msg *m);
	/* Optional: @m is for actor @a, whom the caller found (a moved
	 * actor's held messages, replayed to it): run it. NULL: handle. */
	void (*run)(struct pn_shard *s, struct pn__actor *a, struct pn_msg *m);
};

/*
 * The features' parts of a metrics snapshot: obs/ points the fields at
 * the snapshot's memory and asks every feature (pn__features_snapshot());
 * each fills the fields it keeps counters for and leaves the others
 * (zeroed). Declared here, under the features, so that obs/ takes what
 * mig/ and sup/ count without either side naming the other.
 */
struct pn__snap {
	unsigned nshards;
	struct pn_migrate_stats *migrate;	  /* [nshards] */
	struct pn_supervision_stats *supervision; /* one */
	struct pn_topic_stats *topics;		  /* [cfg.max_topics] */
	unsigned ntopics;			  /* filled */
};

/* A side queue of a feature: @fn visits each (shutdown's join sweep). */
typedef void (*pn__side_fn)(struct pn_shard *s, struct pn__fifo *f, void *arg);

struct pn__feature {
	const char *name;
	/* Runtime: defaults into a config; after the shards are allocated;
	 * once they run; before the shards are freed; after. */
	void (*config_init)(struct pn_config *c);
	int (*create)(struct pn_runtime *rt);
	int (*start)(struct pn_runtime *rt);
	void (*destroy)(struct pn_runtime *rt);
	void (*free)(struct pn_runtime *rt);
	/* Shard: set-up on its thread before start; entering and leaving
	 * its loop (loop); its memory freed (after its thread exited). */
	int (*shard_setup)(struct pn_shard *s);
	void (*shard_enter)(struct pn_shard *s);
	void (*shard_leave)(struct pn_shard *s);
	void (*shard_free)(struct pn_shard *s);
	/* The loop, while the shard's turn_want has this feature's bit:
	 * work each turn (returns how much), whether it has work now (a
	 * shard about to park), and arming its wake-ups before the park's
	 * barrier (loop). */
	unsigned (*turn)(struct pn_shard *s);
	bool (*ready)(struct pn_shard *s);
	void (*park)(struct pn_shard *s);
	/* Messages: internal types it handles; a message for no actor
	 * here (true: taken; features registered later are asked first). */
	const struct pn__msg_range *ranges;
	unsigned nranges;
	bool (*miss)(struct pn_shard *s, struct pn_msg *m);
	/* Shutdown: a stage begins on the shard (loop; @depth: the stop
	 * stage's word); its side queues for the join sweep; the gate
	 * closed (wake the external callers it keeps waiting). */
	void (*stage)(struct pn_shard *s, int stage, unsigned depth);
	void (*side_queues)(struct pn_shard *s, pn__side_fn fn, void *arg);
	void (*close)(struct pn_runtime *rt);
	/* Actors the slot table does not hold (loop): find one here by
	 * PID; take a slow-path message (an internal type or a reply)
	 * before anyone else does (true: taken); an actor homed elsewhere
	 * stopped here. */
	struct pn__actor *(*find)(struct pn_shard *s, pn_pid pid);
	bool (*divert)(struct pn_shard *s, struct pn_msg *m);
	void (*guest_gone)(struct pn_shard *s, pn_pid pid);
	/* An actor homed here stopped (loop; its slot is free already). */
	void (*stopped)(struct pn_shard *s, pn_pid pid);
	/* The shard publishes @n messages to shard @dst's ring, @last the
	 * newest (loop; once per published batch, never per message). */
	void (*publish)(struct pn_shard *s, unsigned dst, uint32_t n,
			const struct pn_msg *last);
	/* Every 1024 loop turns, and before a long sleep (loop). */
	void (*tick)(struct pn_shard *s);
	/* Fill its part of a metrics snapshot (any thread: relaxed reads
	 * of counters others write). */
	void (*snapshot)(const struct pn_runtime *rt, struct pn__snap *out);
};

/* How a feature redirects sends (struct pn_shard's route; loop). */
struct pn__route {
	/* The fast path's slot for an inline message to @to, whose home
	 * *@dst is another shard (*@dst updated to where it goes); NULL:
	 * take the general path. */
	struct pn_msg *(*slot)(struct pn_shard *s, pn_pid to, unsigned *dst);
	/* The general path: where a message to @to (home elsewhere) goes;
	 * *@held set: hold it in that side queue instead. */
	unsigned (*dst)(struct pn_shard *s, pn_pid to, struct pn__fifo **held);
};

/*
 * Services: what exactly one feature provides and the base calls on its
 * paths (set by that feature's create hook; NULL: nobody provides it).
 */
struct pn__services {
	/* After a handler returned non-zero or left pending bits (loop). */
	void (*after)(struct pn_shard *s, struct pn__actor *a, int rc);
	/* A reply (ref carries PN__REF_REPLY): deliver or dead-letter it. */
	void (*reply)(struct pn_shard *s, struct pn_msg *m);
	/* A timer of the shard's wheel fired (its message, its id). */
	void (*timer)(void *arg, const struct pn_msg *m, uint64_t id);
	/* Pending bits above the actor layer's (PN__P_FEATURE): acted on
	 * last, after the handler returned; @a may be gone after it. */
	void (*pending)(struct pn_shard *s, struct pn__actor *a, unsigned p);
	/* Where a spawn with a placement policy goes (any thread). */
	int (*place)(struct pn_runtime *rt, const struct pn_spawn_opts *o,
		     unsigned fallback, unsigned *shard);
};

#define PN__FEAT_MAX 8

/* The stop stage's first word (depth): the features stop what they keep
 * in order themselves (supervised trees) before actors go deepest first. */
#define PN__STOP_FEATURES 0xffff

/* feature.c */
int pn__features_create(struct pn_runtime *rt,
			const struct pn__feature *const *feat, unsigned n);
int pn__features_start(struct pn_runtime *rt);
void pn__features_destroy(struct pn_runtime *rt, bool late);
int pn__features_shard_setup(struct pn_shard *s);
void pn__features_shard_enter(struct pn_shard *s);
void pn__features_shard_leave(struct pn_shard *s);
void pn__features_shard_free(struct pn_shard *s);
void pn__features_stage(struct pn_shard *s, int stage, unsigned depth);
void pn__features_side_queues(struct pn_shard *s, pn__side_fn fn, void *arg);
void pn__features_close(struct pn_runtime *rt);
unsigned pn__features_turn(struct pn_shard *s);
bool pn__features_ready(struct pn_shard *s);
void pn__features_park(struct pn_shard *s);
bool pn__features_miss(struct pn_shard *s, struct pn_msg *m);
bool pn__features_msg(struct pn_shard *s, struct pn_msg *m);
struct pn__actor *pn__features_find(struct pn_shard *s, pn_pid pid);
bool pn__features_divert(struct pn_shard *s, struct pn_msg *m);
void pn__features_guest_gone(struct pn_shard *s, pn_pid pid);
void pn__features_stopped(struct pn_shard *s, pn_pid pid);
bool pn__features_drop(struct pn_shard *s, struct pn_msg *m);
void pn__features_run(struct pn_shard *s, struct pn__actor *a,
		      struct pn_msg *m);
void pn__features_publish(struct pn_shard *s, unsigned dst, uint32_t n,
			  const struct pn_msg *last);
void pn__features_tick(struct pn_shard *s);
void pn__features_snapshot(const struct pn_runtime *rt, struct pn__snap *out);

/* The bit of feature @f in turn_want (0 if it is not registered). */
uint32_t pn__feature_bit(const struct pn_runtime *rt,
			 const struct pn__feature *f);

#endif /* PN_SCHED_FEATURE_H */
