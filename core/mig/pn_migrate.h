/* SPDX-License-Identifier: MIT */
/*
 * Migration and placement: moving a live actor to another shard by
 * message, where it lives now, placement policies, the traffic view and
 * the rebalancer.
 */
#ifndef PN_MIGRATE_H
#define PN_MIGRATE_H

#include "pn_core.h"
#include "pn_stats.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * An actor can move to another shard and keep its PID: its state travels
 * as a message (a copy of state_size bytes, or the behaviour's pack/unpack)
 * and it is re-created there with its monitors, links, armed timers (same
 * ids; remaining time and period kept) and outstanding requests. Names
 * keep naming it. Every message for it still goes to its home shard (the
 * one its PID names), which forwards it to where the actor is, so no
 * message is lost and each sender's messages arrive in the order sent,
 * across any number of moves. Cost: while away from home a message makes
 * one more ring hop (via the home), except from the shard the actor is on,
 * whose sends go straight to it once the home has agreed (one round trip
 * after it arrives). See README, "Placement and migration".
 */

/* Payload of PN_MSG_MIGRATED: delivered first on the new shard (status 0),
 * or where the actor stays when a move failed after its handler returned
 * (status < 0: -ENOMEM, pack's error, -EMSGSIZE when pack wrote more than
 * pack_max, -ESHUTDOWN). */
struct pn_migrated {
	int32_t status;
	uint32_t from; /* the shard it left (or tried to) */
	uint32_t to;   /* where it is now (or was to go) */
};

/*
 * Move the calling actor to @shard once this handler returns (to the
 * shard it is on: nothing to do). Returns 0; -EINVAL (not in a handler,
 * no such shard, or in init: an actor moves once it has started); -EPERM
 * (to the supervisor shard without cfg.migrate_supervisor, or an actor
 * whose home is the supervisor shard); -EBUSY (a move is already asked
 * for in this handler); -EMSGSIZE (its state, as declared, is larger than
 * a message can carry); -ESHUTDOWN. A failure after the handler returns
 * comes as PN_MSG_MIGRATED with a status < 0; the actor keeps running
 * where it was. Handler.
 */
PN_API int pn_migrate(struct pn_ctx *ctx, unsigned shard);

/* Ask @pid to move to @shard: a message it acts on between two of its
 * messages, wherever it is by then. Errors as pn_migrate() for what can be
 * checked here; later ones reach @pid as PN_MSG_MIGRATED. Handler. */
PN_API int pn_migrate_pid(struct pn_ctx *ctx, pn_pid pid, unsigned shard);

/*
 * The shard @pid lives on now: its home (the PID's shard) unless it has
 * moved. A snapshot: the actor may move or stop right after. Returns 0;
 * -EINVAL (not a PID of this runtime), -ESRCH (the actor has stopped;
 * a PID whose spawn is still in flight counts as alive). Any thread.
 */
PN_API int pn_where(const struct pn_runtime *rt, pn_pid pid, unsigned *shard);

/* pn_migrate_pid() from outside the runtime (the runtime's own producer;
 * waits up to 1 s for room: -ETIMEDOUT). External. */
PN_API int pn_runtime_migrate(struct pn_runtime *rt, pn_pid pid,
			      unsigned shard);

/* Placements for struct pn_spawn_opts.placement. */
enum pn_placement {
	PN_PLACE_DEFAULT = 0, /* opts.shard decides (PN_SHARD_ANY: see spawn) */
	PN_PLACE_SHARD,	      /* opts.shard, which must be a shard index */
	PN_PLACE_NEAR,	      /* the shard opts.near lives on (pn_where) */
	PN_PLACE_COMPACT,     /* the first shard under cfg.compact_cap actors */
	PN_PLACE_SCATTER,     /* round-robin over the application shards */
	PN_PLACE_NUMA,	      /* round-robin over shards on opts.cpu's node */
};

/* Read shard @shard's migration counters (struct pn_migrate_stats,
 * pn_stats.h; a relaxed snapshot): the single-value shortcut, since
 * pn_metrics_snapshot() holds them for every shard (pn_shard_metrics's
 * migrate) with everything else. Returns 0 or -EINVAL. Any. */
PN_API int pn_migrate_stats(const struct pn_runtime *rt, unsigned shard,
			    struct pn_migrate_stats *out);

/*
 * The traffic view, always on. Per ordered shard pair: the messages that
 * crossed (counted a published batch at a time). Per actor pair: a sample,
 * one message of each published batch (so about 1 in the batch size):
 * the sender, the receiver, the sender's shard and the receiver's home.
 */
struct pn_traffic_pair {
	pn_pid from, to;
	unsigned from_shard; /* where the sender was */
	unsigned to_shard;   /* the receiver's home (the ring it went to) */
	uint64_t samples;
};

/* @out[i * n + j]: messages shard i sent into shard j's ring since start;
 * @n must be pn_runtime_nshards() + 1 (the supervisor shard is last).
 * Returns 0 or -EINVAL. Any. */
PN_API int pn_traffic_shards(const struct pn_runtime *rt, uint64_t *out,
			     unsigned n);
/* Up to @max sampled pairs of the current window, busiest first; returns
 * how many. Any. */
PN_API int pn_traffic_pairs(const struct pn_runtime *rt,
			    struct pn_traffic_pair *out, unsigned max);

/* What a rebalancing policy sees; valid during the call. */
struct pn_traffic_view {
	unsigned nshards;	/* application shards */
	const uint64_t *shards; /* [nshards^2] since the last run */
	const uint64_t *actors; /* [nshards] actors on each now */
	const struct pn_traffic_pair *pairs; /* sampled since the last run */
	unsigned npairs;
	uint32_t cap; /* cfg.compact_cap */
};

/*
 * The shipped policy (cfg.rebalance = pn_rebalance_colocate): for each
 * sampled pair on two application shards, busiest first, move one of the
 * two onto the other's shard - the less loaded of the two, if it holds
 * fewer than cfg.compact_cap actors and fewer than an even share of all
 * actors plus one (counting the moves it asked for), so that pairs spread
 * over the shards. Each actor takes part in at most one move per run.
 * cfg.rebalance runs on the supervisor shard every cfg.rebalance_ns and
 * may call pn_migrate_pid(). Handler.
 */
PN_API void pn_rebalance_colocate(struct pn_ctx *ctx,
				  const struct pn_traffic_view *v, void *arg);

#ifdef __cplusplus
}
#endif
#endif /* PN_MIGRATE_H */
