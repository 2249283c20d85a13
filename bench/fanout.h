/* SPDX-License-Identifier: MIT */
/*
 * The fanout workload's parts (`fanout`): the actors of one repetition
 * (fanout.c: the publisher, under impl=pinion a topic publisher and under
 * impl=naive a loop of pn_send()s, and the subscribers that check every
 * delivery), and the driver that sets repetitions up, checks and reports
 * them (fanout_run.c). This header is the record they share.
 */
#ifndef PN_BENCH_FANOUT_H
#define PN_BENCH_FANOUT_H

#include "bench.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define FAN_INLINE 16  /* the small payload: seq, publish time */
#define FAN_BIG	   512 /* the large one: the same, the seq again at the end */

/*
 * One destination shard's latency record: for the sampled messages (seq a
 * multiple of the stride, a power of 2), how many of this shard's subscribers
 * got it (cnt) and, written by the one that completes that countdown, its
 * publish-to-delivery time (lat, ns). Only that shard's thread touches it
 * during a repetition (no atomics, no line shared between shards); the
 * driver reads it after the repetition (ordered by the subscribers' done
 * messages to the publisher, then its notify), and the message's latency
 * is the maximum over the shards: publish to its last delivery anywhere.
 */
struct fan_shard {
	uint32_t nsubs; /* subscribers living on this shard */
	uint32_t *cnt;	/* [nidx] */
	uint64_t *lat;	/* [nidx] */
};

/*
 * A repetition's record. The driver fills it before spawning anyone and
 * frees it after the repetition (kept, leaked, when it failed: actors may
 * still hold it). The actors write base.t0/t1/got/err (see struct
 * bench_shared: the publisher's notify orders them before the driver's
 * reads), the traffic snapshots (the publisher) and the shard records.
 */
struct fan_shared {
	struct bench_shared base; /* base.n = deliveries (N x S) */
	bool naive;		  /* pn_send per subscriber, not the topic */
	uint32_t topic;		  /* impl=pinion: the topic's id */
	uint64_t n;		  /* messages to publish */
	uint32_t s;		  /* subscribers */
	uint32_t len;		  /* payload bytes */
	uint64_t stride;	  /* latency sample: seq % stride == 0 */
	unsigned shift;		  /* stride = 1 << shift */
	pn_pid *subs;		  /* [s]: the naive publisher's send list */
	unsigned nshards;	  /* application shards */
	struct fan_shard *shard;  /* [nshards] */
	/* pn_traffic_shards() at the first publish and after the last done:
	 * [(nshards + 1)^2] each. */
	uint64_t *traffic0, *traffic1;
	uint64_t refused; /* -EAGAINs the publisher got (it waited) */
	/* Where the publisher is, for the message when a repetition times
	 * out (read while it may run: relaxed, nothing is ordered by it). */
	struct {
		_Atomic uint64_t next; /* the message due next */
		_Atomic uint32_t j;    /* naive: its subscriber due next */
		_Atomic uint32_t ready, done;
		_Atomic int waiting; /* 1: TOPIC_WRITABLE, 2: WRITABLE */
	} at;
	/* impl=pinion: pn_topic_stats() after the last tally, and its
	 * return; then the publisher closes the topic. */
	struct pn_topic_stats stats;
	int stats_err;
};

/* The fanout actors (fanout.c). The publisher lives on shard 0, the topic's
 * home; subscriber i on shard (1 + i) % nshards, so that S = 1 crosses. */
int fan_spawn_publisher(struct bench_env *e, struct fan_shared *sh,
			pn_pid *pid);
int fan_spawn_subscriber(struct bench_env *e, struct fan_shared *sh, pn_pid pub,
			 uint32_t i, pn_pid *pid);
int fan_shard_of(const struct fan_shared *sh, uint32_t i);

#endif /* PN_BENCH_FANOUT_H */
