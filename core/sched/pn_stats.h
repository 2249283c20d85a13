/* SPDX-License-Identifier: MIT */
/*
 * The counters that features above the scheduler keep (migration,
 * supervision, topics), as plain structs. They are defined here, below
 * every feature, because several public headers name them: pn_migrate.h,
 * pn_supervise.h and pn_topic.h (the single-value calls) and pn_metrics.h
 * (the snapshot
 * that holds them all), and those sub-modules must not include each
 * other's headers. Nothing here is a function; include the header of the
 * call you use.
 */
#ifndef PN_STATS_H
#define PN_STATS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Per shard: what migration did there (pn_migrate_stats(), and each
 * struct pn_shard_metrics's migrate). */
struct pn_migrate_stats {
	uint64_t moves;	    /* actors that left this shard */
	uint64_t installs;  /* actors that arrived here */
	uint64_t forwarded; /* messages this shard forwarded as a home */
	uint64_t bounced;   /* messages sent back to a home */
};

/* The runtime's supervision counters (pn_supervision_stats(), and
 * pn_metrics_supervision()). */
struct pn_supervision_stats {
	uint64_t restarts;	/* restart decisions (one per strategy run) */
	uint64_t escalations;	/* supervisors that gave up */
	uint64_t root_failures; /* root supervisors that gave up */
	uint64_t kills;		/* children killed without cleanup */
	uint64_t left_behind;	/* children whose shard was stuck */
	uint64_t stalls;	/* watchdog incidents */
};

#define PN_TOPIC_NAME_MAX 64 /* a topic's name, with its NUL */

/* A topic's counters (pn_topic_stats(), pn_metrics_topics(); relaxed
 * reads of counters the shards write). */
struct pn_topic_stats {
	char name[PN_TOPIC_NAME_MAX];
	unsigned home;
	uint64_t seq;	      /* messages numbered (published) */
	uint64_t refused;     /* publishes refused with -EAGAIN */
	uint64_t delivered;   /* handler runs, over every subscriber */
	uint64_t filtered;    /* skipped by a key range or predicate */
	uint64_t dropped;     /* DROP_OLDEST/CONFLATE overflow, cut channels */
	uint64_t conflated;   /* replaced by a newer one of the same key */
	uint64_t slots;	      /* ring slots sent (per destination and class) */
	uint64_t disconnects; /* subscriptions cut by DISCONNECT */
	uint32_t subscribers;
	uint32_t channels; /* destination shard and class pairs */
	uint64_t max_lag;  /* the slowest channel: messages not handled */
};

#ifdef __cplusplus
}
#endif
#endif /* PN_STATS_H */
