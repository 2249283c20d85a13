/* SPDX-License-Identifier: MIT */
/*
 * What stress_topic.c (the publishers and the run) and stress_topic_sub.c
 * (the subscribers and their checks) share: the sizes, message types,
 * the payload, and the test's state g (atomics where the test thread or
 * other shards read them).
 */
#ifndef PN_STRESS_TOPIC_H
#define PN_STRESS_TOPIC_H

#include "stress_util.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define NTOPICS	       3
#define NKEYS	       16
#define PUBS_PER_LOC   2
#define MAX_PUBS       16
#define SUBS_PER_SHARD 4
#define MAX_SUBS       2048
#define MAX_LEN	       4096
#define BURST	       8

enum { MSG_KICK = 1, MSG_TICK, MSG_START };
#define T_DATA	   0x100u
#define T_MARK	   0x101u
#define CODE_PUB   1
#define CODE_QUIET 2
/* A subscription's state: none; asked for away from home (its SUBSCRIBED
 * on its way); on; unsubscribed away (until the home has it); its actor
 * stopping; DISCONNECT cut, CLOSED on its way (unsubscribe said -ENOENT). */
enum { S_NONE, S_PENDING, S_ON, S_LEAVING, S_ENDING, S_CUT };

struct hdr {
	uint16_t pub, topic;
	uint32_t cnt;
};

struct sub_t { /* one subscriber's subscription to one topic */
	_Atomic uint8_t state;
	uint8_t policy, filt; /* filt: bit 0 key range, bit 1 predicate */
	bool no_resub, away;  /* away: subscribed from away (SUBSCRIBED) */
	unsigned nsub;	      /* subscribes so far */
	uint8_t ended; /* how the last ended: 1 unsubscribe at home, 2 away,
			* 3 CLOSED -ENOBUFS */
	_Atomic bool marked; /* got its last marker */
	uint64_t lo, hi, rem;
	uint64_t start, last;
	/* Over the window (while S_ON): the seq jumps, gap + conflated,
	 * and the predicate's count at its start. The predicate may run
	 * ahead of the handler, so only the sums must agree (at the end). */
	uint64_t jumps, gapconf, skip0;
	_Atomic uint64_t skips; /* the predicate's rejections */
	uint32_t last_cnt[MAX_PUBS + 2];
};

struct subrec {
	_Atomic bool used, quiet;
	uint64_t rng;
	unsigned moves;		       /* PN_MSG_MIGRATED seen */
	unsigned from, to;	       /* the last move */
	uint64_t moved_after[NTOPICS]; /* its last seq of each when it moved */
	struct sub_t t[NTOPICS];
};

struct topic_g {
	uint32_t id[NTOPICS], lag[NTOPICS];
	unsigned nshards, nlocs, npubs; /* actor publishers */
	unsigned ext, mark;		/* publisher ids */
	uint64_t m;
	pn_pid pub_pid[MAX_PUBS];
	_Atomic uint64_t published[MAX_PUBS + 2][NTOPICS];
	_Atomic uint64_t eagain[NTOPICS];
	_Atomic int waiting[MAX_PUBS + 2];
	_Atomic uint64_t delivered[NTOPICS], gaps[NTOPICS], confl[NTOPICS];
	_Atomic uint64_t skipped[NTOPICS], cut[NTOPICS];
	_Atomic uint64_t progress, stops, moves, subscribes;
	_Atomic unsigned next_sub;
	_Atomic bool quiet;
	uint64_t worst_lag[NTOPICS], worst_overflow;
	struct subrec subs[MAX_SUBS];
};
extern struct topic_g g;

/* The index of topic id @id in g.id (fails the test if none). */
unsigned topic_of(uint32_t id);
/* Payload byte @i of publisher @pub's message @cnt to topic @t. */
unsigned char fill(unsigned pub, unsigned t, uint32_t cnt, size_t i);

extern const struct pn_behaviour sub_b;

#endif /* PN_STRESS_TOPIC_H */
