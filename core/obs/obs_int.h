/* SPDX-License-Identifier: MIT */
/*
 * obs/'s internal header: what its files share, and the feature it
 * registers (rt/ lists it). obs/ presents what the scheduler measures
 * (sched/meter.h): snapshots, JSON and Prometheus text, registered
 * counter sources.
 */
#ifndef PN_OBS_INT_H
#define PN_OBS_INT_H

#include "actor_int.h"
#include "pn_metrics.h"

extern const struct pn__feature pn__obs_feature;

/* hist.c: the upper edge of the bucket holding the @p-th percentile of
 * @total values counted in @count[@n] (pn_hist_percentile's walk, before
 * its clamp to the recorded extremes; @total > 0, @p < 100). */
uint64_t pn__hist_rank(const uint64_t *count, unsigned n, unsigned sub,
		       uint64_t total, double p);
void pn__hist_set_sum(struct pn_hist *h, uint64_t sum);
/* metrics.c */
void pn__met_collect(struct pn_shard *s); /* the sources, at a tick */
uint32_t pn__metrics_sample(const struct pn_metrics *m);

#endif /* PN_OBS_INT_H */
