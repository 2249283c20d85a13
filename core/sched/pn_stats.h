/* SPDX-License-Identifier: MIT */
/*
 * The counters that features above the scheduler keep (migration,
 * supervision), as plain structs. They are defined here, below every
 * feature, because three public headers name them: pn_migrate.h and
 * pn_supervise.h (the single-value calls) and pn_metrics.h (the snapshot
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

#ifdef __cplusplus
}
#endif
#endif /* PN_STATS_H */
