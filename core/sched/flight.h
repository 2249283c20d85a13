/* SPDX-License-Identifier: MIT */
/*
 * The flight recorder (sched/flight.c): the last events of each shard, in a
 * ring any thread may read (the crash handler too: async-signal-safe), for
 * crash and watchdog reports and metrics. Written by its shard only.
 */
#ifndef PN_SCHED_FLIGHT_H
#define PN_SCHED_FLIGHT_H

#include "base_int.h"

struct pn_shard;
struct pn__met;

/* Flight recorder: the last PN__FLIGHT_N events of a shard. */
#define PN__FLIGHT_N 256
enum pn__flight_kind {
	PN__FL_PARK = 1, /* arg: how long it may sleep (ns, 0: no limit) */
	PN__FL_UNPARK,	 /* arg: slept ns */
	PN__FL_WAKE,	 /* arg: the shard it woke */
	PN__FL_SPAWN,	 /* pid; arg: spawn depth */
	PN__FL_STOP,	 /* pid; arg: reason << 32 | (uint32_t)detail */
	PN__FL_DEAD,	 /* pid: the addressee; type */
	PN__FL_EAGAIN,	 /* arg: overflow bytes */
	PN__FL_SAMPLE,	 /* pid, type; arg: handler ns */
	PN__FL_MIGRATE,	 /* pid; arg: from << 32 | to */
	PN__FL_KINDS
};
struct pn__flight_ev {
	_Atomic uint32_t seq; /* seqlock (base/seqlock.h) over the rest */
	_Atomic uint64_t num; /* event number + 1; 0: never written */
	_Atomic uint64_t ts, pid, arg;
	_Atomic uint64_t kt; /* kind << 32 | message type */
};

/* flight.c */
void pn__flight_rec(struct pn__met *mt, uint64_t ts, int kind, pn_pid pid,
		    uint32_t type, uint64_t arg); /* ts 0: now */
int pn__flight_text(const struct pn_shard *s, unsigned last, char *buf,
		    size_t size);
void pn__flight_crash(const struct pn_shard *s, void (*put)(const char *line));

#endif /* PN_SCHED_FLIGHT_H */
