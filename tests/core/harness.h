/* SPDX-License-Identifier: MIT */
/*
 * The fixture the core runtime's unit tests share: a runtime to start and
 * shut down (with a cmocka teardown that cleans up after a failed test),
 * bounded waits for the codes actors send with pn_runtime_notify(), and
 * "puppets": actors driven by commands from the test thread that log every
 * message they get into test-owned memory.
 *
 * Threads. cmocka's assertions run on the test thread only; actors just
 * record. An actor writes its struct h_puppet and then notifies; the test
 * reads it only after the pn_runtime_wait() that consumed that code (the
 * wait queue's mutex orders the two) or after the runtime has been shut
 * down (the shard threads have been joined). Fields the test sets (id,
 * notify_mask, flags, hook) are set before the actor is spawned.
 */
#ifndef PN_TESTS_CORE_HARNESS_H
#define PN_TESTS_CORE_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above first. */
#include "pinion.h"

#include <cmocka.h>

#define H_MS   1000000ull
#define H_SEC  1000000000ull
#define H_WAIT (10 * H_SEC) /* bound on every wait for the runtime */

/* Application message types the puppets understand. */
#define H_MSG_CMD   0x1000u /* struct h_cmd */
#define H_MSG_DATA  0x1001u /* anything; notifies H_EV_DATA */
#define H_MSG_TICK  0x1002u /* timers; notifies H_EV_TICK */
#define H_MSG_REQ   0x1003u /* a request (auto_reply answers it) */
#define H_MSG_REPLY 0x1004u /* the answer: payload u64 v + 1 */
#define H_MSG_CHECK 0x1005u /* timers used as "later than" markers */

/* What a command asks the puppet to do (from the test, via H_MSG_CMD). */
enum h_op {
	H_NOP,	     /* nothing (log, notify) */
	H_STOP,	     /* pn_stop(pid) */
	H_KILL,	     /* pn_kill(pid) */
	H_FAIL,	     /* pn_fail(a) */
	H_RETURN,    /* return a from the handler */
	H_MONITOR,   /* pn_monitor(pid) */
	H_DEMONITOR, /* pn_demonitor(pid) */
	H_LINK,	     /* pn_link(pid) */
	H_UNLINK,    /* pn_unlink(pid) */
	H_TRAP,	     /* pn_trap_exit(a) */
	H_SEND,	     /* pn_send_u64(pid, H_MSG_DATA, v) */
	H_SPAWN,     /* pn_spawn(h_puppet_b, shard a, flags pid, arg v) */
	H_REQUEST,   /* pn_request(pid, H_MSG_REQ, v, timeout a ms) */
	H_REPLY,     /* pn_reply() to the last request held, payload v */
	H_AFTER,     /* pn_send_after(v ns, H_MSG_TICK, payload a) */
	H_EVERY,     /* pn_send_every(v ns, H_MSG_TICK, payload a) */
	H_CANCEL,    /* pn_timer_cancel(v, or the last timer if v == 0) */
	H_CHECK,     /* pn_send_after(v ns, H_MSG_CHECK) */
	H_POKE,	     /* send pid a NOP command that notifies a */
};

struct h_cmd {
	uint16_t op;	 /* enum h_op */
	uint16_t notify; /* code to notify once done, 0: none */
	int32_t a;
	pn_pid pid;
	uint64_t v;
};

/*
 * Events a puppet can notify (code = id * 100 + event) when bit
 * H_BIT(event) is in its notify_mask. System messages are their type
 * minus PN_MSG_SYS (H_EV_STARTED .. H_EV_WRITABLE).
 */
enum h_ev {
	H_EV_STARTED = 1,
	H_EV_STOPPING = 2,
	H_EV_DOWN = 3,
	H_EV_EXIT = 4,
	H_EV_TIMEOUT = 5,
	H_EV_SHUTDOWN = 6,
	H_EV_WRITABLE = 7,
	H_EV_DATA = 10,
	H_EV_TICK = 11,
	H_EV_REPLY = 12,
	H_EV_CHECK = 13,
	H_EV_CLEANUP = 20,
};
#define H_BIT(ev)     (1u << (ev))
#define H_CODE(p, ev) ((p)->id * 100 + (ev))
#define H_DEFAULT     (-1000000) /* hook: go on with the default */
#define H_LOG_MAX     2048
#define H_RC_MAX      64

struct h_entry {
	uint32_t type, len;
	pn_pid from;
	uint64_t ref;
	uint64_t t;		/* pn_now_ns() when handled */
	unsigned char data[32]; /* the payload's first bytes */
	uint32_t sum;		/* sum of all payload bytes */
};

struct h_puppet;
typedef int (*h_hook_fn)(struct pn_ctx *ctx, struct h_puppet *p,
			 const struct pn_msg *m);

struct h_puppet {
	/* set by the test before the spawn */
	int id;
	uint32_t notify_mask;
	bool auto_reply; /* answer H_MSG_REQ at once */
	h_hook_fn hook;	 /* optional, runs after logging */
	void *user;
	/* written by the actor */
	pn_pid self;
	unsigned shard;
	unsigned n; /* log entries (those past H_LOG_MAX are counted) */
	struct h_entry log[H_LOG_MAX];
	int rc[H_RC_MAX]; /* command results, in order */
	unsigned nrc;
	int reply_rc; /* auto_reply's pn_reply() */
	pn_pid spawned;
	uint64_t ref;	   /* last H_REQUEST's correlation id */
	uint64_t timer;	   /* last timer id */
	uint64_t armed_at; /* pn_now_ns() at the last H_AFTER/EVERY/REQUEST */
	struct pn_msg req; /* last request held (auto_reply off) */
	bool has_req;
	int cleanup_reason, cleanups;
	unsigned cleanup_at;  /* log length when cleanup ran */
	unsigned cleanup_seq; /* 1 + cleanups of any puppet before it */
	unsigned ticks;
};

extern const struct pn_behaviour h_puppet_b;
/* An actor that ignores every message (no state): for placement checks. */
extern const struct pn_behaviour h_idle_b;
extern struct pn_runtime *h_rt;

/* pn_config_init() plus the tests' defaults: 2 shards, a short spin,
 * 3 s per shutdown stage. */
void h_config(struct pn_config *c);
/* Create and start h_rt from @c (NULL: h_config()); asserts success. */
struct pn_runtime *h_start(const struct pn_config *c);
/* cmocka teardown: destroy h_rt if a failed test left it behind. */
int h_teardown(void **state);
/* Shut h_rt down, assert a clean report, destroy it. */
void h_finish(void);

/* The next notified code (fails the test after H_WAIT). */
int h_wait(void);
/* The next code must be @code. */
void h_expect(int code);
/* The next @n codes must be @codes in some order. */
void h_expect_all(const int *codes, unsigned n);
/* Poll @cond until it holds or @timeout_ns pass; whether it held. */
bool h_until(bool (*cond)(void *), void *arg, uint64_t timeout_ns);

/* Built with ThreadSanitizer (gcc or clang). */
#if defined(__SANITIZE_THREAD__)
#define H_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define H_UNDER_TSAN 1
#endif
#endif

/*
 * The end of a test whose handler was left stuck on purpose and whose shard
 * shutdown abandoned: set *@release so the handler returns, then wait (fails
 * after H_WAIT) until thread *@tid has exited by itself; nothing joins it.
 * Under TSan the thread is left stuck instead: its exit gives TSan no
 * happens-before edge to pn_runtime_destroy(), so such a test must be the
 * binary's last.
 */
void h_stuck_thread_finish(atomic_bool *release, atomic_int *tid);

/* pn_runtime_spawn() / pn_runtime_send() that must succeed. */
pn_pid h_spawn(const struct pn_behaviour *b, int shard, const void *arg,
	       size_t len);
void h_send(pn_pid to, uint32_t type, const void *data, size_t len);
struct pn_shard_stats h_stats(unsigned shard);

/* Reset @p with @id; spawn it from outside on @shard and wait for its
 * STARTED; returns its PID. */
void h_puppet_init(struct h_puppet *p, int id);
pn_pid h_puppet_spawn(struct h_puppet *p, int shard);
/* Send a command to a puppet from the test thread. */
void h_cmd(pn_pid to, enum h_op op, int notify, int32_t a, pn_pid pid,
	   uint64_t v);
/* Log entries of @type, and the index of the @k-th one (-1: none). */
unsigned h_count(const struct h_puppet *p, uint32_t type);
int h_find(const struct h_puppet *p, uint32_t type, unsigned k);
/* The struct pn_down in log entry @i. */
struct pn_down h_down(const struct h_puppet *p, int i);

/* A deterministic payload of @len bytes (tag @seed), and its check. */
void h_fill(void *buf, size_t len, unsigned seed);
uint32_t h_sum(const void *buf, size_t len);

#endif /* PN_TESTS_CORE_HARNESS_H */
