/* SPDX-License-Identifier: MIT */
/*
 * sup/'s internal header: supervisors, the name registry, the watchdog and
 * crash reports, and the feature they register.
 */
#ifndef PN_SUP_INT_H
#define PN_SUP_INT_H

#include "actor_int.h"
#include "pn_supervise.h"

/* Delivered to supervisor and watchdog handlers: system types below
 * PN__MSG_INTERNAL, which applications cannot send (PN__MSG_SUP + 1 is the
 * actor layer's PN__MSG_CHILD_UP). */
#define PN__MSG_SUP	  (PN_MSG_SYS + 0x2000)
#define PN__MSG_SUP_UP	  (PN__MSG_SUP + 2) /* a child supervisor's tree is up */
#define PN__MSG_SUP_STOP  (PN__MSG_SUP + 3) /* stop your tree, then yourself */
#define PN__MSG_SUP_TIMER (PN__MSG_SUP + 4) /* a supervisor's own timer */
#define PN__MSG_WD_TICK	  (PN__MSG_SUP + 5) /* the watchdog's period */
/* Stop with PN_REASON_SHUTDOWN, or kill without cleanup once the deadline
 * in its payload (u64 ns) has passed. Handled by pn__stop_by(). */
#define PN__MSG_STOP_BY (PN__MSG_INTERNAL + 0x40)
/* A dynamic call to a supervisor (struct pn__call, tree.h), handled by
 * pn__sup_call_msg() on the supervisor shard (calls.c). */
#define PN__MSG_SUP_CALL (PN__MSG_INTERNAL + 0x41)

/* A name registry entry: the PID (0: empty) and the name, zero-padded. */
#define PN__NAME_WORDS (PN_NAME_MAX / 8)
struct pn__name {
	_Atomic uint64_t pid;
	_Atomic uint64_t w[PN__NAME_WORDS];
};

/* The PID a struct pn_ref reaches (registry.c): one cell per bound name,
 * kept while the name stays bound. @seq is a seqlock (base/seqlock.h)
 * around taking and freeing the cell, so a ref taken for one binding
 * never reads the next; @pid alone changes in place (restarts). */
struct pn__cell {
	_Atomic uint32_t seq;
	uint32_t next;	      /* free list, under reg_mu */
	_Atomic uint64_t pid; /* 0: between incarnations */
};

/* What the watchdog last saw of a shard. Supervisor shard only. */
struct pn__running {
	pn_pid actor;
	uint32_t type;
	const struct pn_behaviour *b;
};
struct pn__stall {
	uint64_t beat, seq, since;
	bool reported;		/* the watchdog reported this stall */
	struct pn__running run; /* what it reported */
};

struct pn__sup; /* supervisor.c: one supervisor's state */

struct pn__sup_rt {
	/* registry.c: readers anywhere; writers hold reg_mu. reg_gen is a
	 * seqlock over the whole table (base/seqlock.h). */
	pthread_mutex_t reg_mu;
	_Atomic uint32_t reg_gen;
	uint32_t reg_mask, reg_count;
	struct pn__name *reg;
	_Atomic uint32_t
		*reg_cell;	/* [slots]: each entry's cell, moved along */
	struct pn__cell *cells; /* [slots] (never more names than slots) */
	uint32_t cell_free;	/* free list head + 1, under reg_mu */
	/* supervisor.c: mu/cv for pn_supervisor_start and the stop stage */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned trees_left;	 /* under mu: roots still stopping */
	char text[640];		 /* under mu: lines for the shutdown report */
	struct pn__sup *roots;	 /* supervisor shard only */
	unsigned rr;		 /* supervisor shard only: PN_SHARD_ANY */
	struct pn__stall *stall; /* [nshards], supervisor shard only */
	/* Owner-written (supervisor shard) counters: stats order. */
	_Atomic uint64_t n[6];
};

/* pn_supervisor_start()'s rendezvous with its root (refs under sup->mu). */
struct pn__ticket {
	int refs, err;
	bool done;
	char msg[256];
};

/* supervision.c: the runtime's side */
int pn__sup_init(struct pn_runtime *rt);
void pn__sup_fini(struct pn_runtime *rt);
void pn__sup_wake(struct pn_runtime *rt);
void pn__sup_config_init(struct pn_config *c);
void pn__stop_by(struct pn_shard *s, struct pn__actor *a,
		 const struct pn_msg *m);
int pn__sup_shutdown_wait(struct pn_runtime *rt, uint64_t until, bool skip,
			  char *text, size_t size);
bool pn__ticket_done(struct pn_runtime *rt, struct pn__ticket **t, int err,
		     const char *msg);
int pn__sup_child_check(const struct pn_runtime *rt,
			const struct pn_child_spec *c);
void pn__event(struct pn_runtime *rt, struct pn_event *ev, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
const char *pn__type_name(uint32_t type, char *buf, size_t size);
extern const struct pn__feature pn__sup_feature;
/* supervisor.c */
int pn__sup_spawn_root(struct pn_runtime *rt, const struct pn_sup_spec *spec,
		       struct pn__ticket *t, pn_pid *pid);
void pn__sup_shutdown_begin(struct pn_shard *s);
/* calls.c */
void pn__sup_call_msg(struct pn_shard *s, struct pn_msg *m);
/* registry.c */
int pn__registry_init(struct pn_runtime *rt);
void pn__registry_fini(struct pn_runtime *rt);
int pn__name_claim(struct pn_runtime *rt, const char *name, pn_pid old,
		   pn_pid pid);
void pn__name_drop(struct pn_runtime *rt, const char *name, pn_pid pid);
void pn__name_gap(struct pn_runtime *rt, const char *name, pn_pid pid);
/* watchdog.c */
void pn__watchdog_start(struct pn_shard *s);
uint64_t pn__stall_ns(struct pn_runtime *rt, unsigned shard, uint64_t now,
		      struct pn__running *what);
/* crash.c */
void pn__crash_thread_init(struct pn_shard *s);
void pn__crash_thread_fini(void);

#endif /* PN_SUP_INT_H */
