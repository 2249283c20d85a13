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

extern const struct pn__feature pn__obs_feature;

/* metrics.c */
void pn__met_collect(struct pn_shard *s); /* the sources, at a tick */
uint32_t pn__metrics_sample(const struct pn_metrics *m);

#endif /* PN_OBS_INT_H */
