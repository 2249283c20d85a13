/* SPDX-License-Identifier: MIT */
/*
 * USDT (statically defined tracing) probes, provider "pinion". Each probe
 * is one nop in the code and a note in .note.stapsdt naming the probe and
 * where its arguments live; a tracer (bpftrace, perf, SystemTap) turns the
 * nop into a breakpoint only while it is attached. No semaphores: a
 * semaphore would add a load and a branch to every site, and the nop is
 * cheaper than that. The arguments must already be in registers or memory
 * at the site, so every probe passes values the code has at hand.
 * -DPN_NO_PROBES compiles them out.
 *
 *   send(from, to, type, dst_shard)       a message left a handler
 *   dispatch_start(shard, pid, type)       a handler is about to run
 *   dispatch_end(shard, pid, type, rc)     ... and returned rc
 *   park(shard, max_ns)                    the shard goes to sleep
 *   unpark(shard, slept_ns)                ... and woke up
 *   wake(from_shard, to_shard)             a producer wakes a parked shard
 *   spawn(shard, pid, behaviour)           an actor started (name: char *)
 *   stop(shard, pid, reason, detail)       an actor stopped
 *   failure(shard, pid, reason, detail)    ... abnormally (failed, killed)
 *   restart(supervisor, child, reason)     a supervisor restarts
 *   migrate(pid, from_shard, to_shard)     an actor moved (migration)
 *
 * README lists them with bpftrace and perf one-liners; tests check that
 * every one is in libpinion.so (tests/core/obs/test_probes.c).
 */
#ifndef PN_PROBES_H
#define PN_PROBES_H

#if !defined(PN_NO_PROBES) && __has_include(<sys/sdt.h>)
#include <sys/sdt.h>
#define PN_PROBE2(n, a, b)	 STAP_PROBE2(pinion, n, a, b)
#define PN_PROBE3(n, a, b, c)	 STAP_PROBE3(pinion, n, a, b, c)
#define PN_PROBE4(n, a, b, c, d) STAP_PROBE4(pinion, n, a, b, c, d)
#define PN__PROBES_ON		 1
#else
#define PN_PROBE2(n, a, b)	 ((void)0)
#define PN_PROBE3(n, a, b, c)	 ((void)0)
#define PN_PROBE4(n, a, b, c, d) ((void)0)
#define PN__PROBES_ON		 0
#endif

/* For the migration code, on shard @s (a struct pn_shard *): actor @pid
 * moved from shard @from to shard @to. The probe and a flight-recorder
 * event (a macro: struct pn_shard is complete where it is used). */
#define PN_PROBE_MIGRATE(s, pid, from, to)                                     \
	do {                                                                   \
		PN_PROBE3(migrate, pid, from, to);                             \
		pn__met_event(&(s)->met, PN__FL_MIGRATE, pid, 0,               \
			      (uint64_t)(from) << 32 | (uint32_t)(to));        \
	} while (0)

#endif /* PN_PROBES_H */
