/* SPDX-License-Identifier: MIT */
/*
 * One supervisor's state, shared by the tree logic (supervisor.c) and the
 * dynamic calls it answers (dynamic.c, calls.c). Supervisor shard only,
 * except struct pn__sup_wait (under the runtime's sup->mu).
 */
#ifndef PN_SUP_TREE_H
#define PN_SUP_TREE_H

#include "sup_int.h"

/* A child's states. HELD: stopped by terminate_child, kept (not
 * restarted) until delete_child. REMOVED: gone; its entry is dropped when
 * nothing is starting or stopping (pn__sup_compact()). */
enum {
	C_DOWN,
	C_WANT,
	C_STARTING,
	C_RUN,
	C_STOPPING,
	C_KILLING,
	C_HELD,
	C_REMOVED
};
#define PN__C_BUSY(st)                                                         \
	((st) == C_STARTING || (st) == C_STOPPING || (st) == C_KILLING)
enum { M_START, M_RUN, M_ESCALATE, M_SHUTDOWN, M_DONE };

/* An external caller's wait for an answer (refs under the runtime's
 * sup->mu: the caller's and the request's). */
struct pn__sup_wait {
	int refs;
	bool done;
	struct pn_sup_reply rep;
	unsigned cap;
	struct pn_child_info info[]; /* [cap], which_children's */
};

/* Who waits for the answer to a call: op 0 is nobody. */
struct pn__origin {
	uint32_t op;		/* enum pn_sup_op */
	pn_pid from;		/* the calling actor (handler form), or */
	struct pn__sup_wait *w; /* the external caller's wait */
	uint64_t ref;		/* the handler form's correlation id */
};

/* The request itself (the call's payload; arg_len bytes of @arg sent). */
struct pn__call {
	struct pn__origin o;
	pn_pid pid;		   /* terminate: the child's PID, or 0 */
	uint32_t cap;		   /* which: entries wanted */
	bool has_spec;		   /* start: @spec (else the simple argument) */
	bool has_id;		   /* terminate, delete: @id */
	struct pn_child_spec spec; /* start: its id, name, arg not used */
	char id[PN_NAME_MAX], name[PN_NAME_MAX];
	uint32_t arg_len;
	unsigned char arg[PN_SPAWN_ARG_MAX];
};

struct pn__dyn; /* a dynamic child's own copy of its spec (dynamic.c) */

struct pn__child {
	const struct pn_child_spec *spec;
	struct pn__dyn *own; /* dynamic children only */
	pn_pid pid;    /* the instance being started, running or stopped */
	pn_pid named;  /* what its name is bound to */
	uint8_t st;    /* C_* */
	uint8_t after; /* its state once a stop we asked for is done */
	bool mark;     /* to be stopped (step 1) */
	int shard;
	uint32_t epoch; /* unique per state change: stale timers */
	uint64_t t0;	/* when the pending start or stop began */
	uint64_t shutdown_ns;
	struct pn__origin start_w, stop_w; /* answers owed */
};

struct pn__sup {
	const struct pn_sup_spec *spec;
	struct pn__sup *next_root;
	struct pn__child *c; /* [cap], @n in use, in start order */
	uint64_t *hist;	     /* times of the last restarts, a ring */
	unsigned n, cap, hn, hhead;
	unsigned busy;	   /* children STARTING, STOPPING or KILLING */
	unsigned nremoved; /* children REMOVED, not yet compacted */
	unsigned want_lo;  /* no child below it is WANT */
	uint32_t epochs;
	int mode; /* M_* */
	bool root, up, closing, counted, marked, simple;
	pn_pid self, parent;
	struct pn__ticket *ticket;
	char why[200];
};

#define PN__SHUTDOWN_DEFAULT_NS 1000000000ull /* a worker's default */

/* supervisor.c */
bool pn__sup_is(const struct pn__actor *a);
const char *pn__child_id(const struct pn__child *c);
void pn__child_event(struct pn_shard *ctx, struct pn__sup *s, int kind,
		     const struct pn__child *c, int reason, int detail,
		     const char *what);
/* dynamic.c: the supervisor's side */
void pn__sup_dyn_start_failed(struct pn_shard *ctx, struct pn__sup *s,
			      struct pn__child *c, int reason, int detail);
void pn__sup_call(struct pn_shard *ctx, struct pn__sup *s,
		  const struct pn_msg *m);
void pn__sup_compact(struct pn_shard *ctx, struct pn__sup *s);
void pn__child_set(struct pn_shard *ctx, struct pn__sup *s, struct pn__child *c,
		   int st);
void pn__child_setup(struct pn_shard *ctx, struct pn__sup *s,
		     struct pn__child *c, const struct pn_child_spec *sp);
void pn__sup_dyn_fini(struct pn_shard *ctx, struct pn__sup *s);
/* calls.c: answers */
void pn__sup_answer(struct pn_shard *ctx, pn_pid self, struct pn__origin *o,
		    const struct pn_sup_reply *r,
		    const struct pn_child_info *info, unsigned n);
void pn__sup_answer_err(struct pn_shard *ctx, pn_pid self, struct pn__origin *o,
			int err, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

#endif /* PN_SUP_TREE_H */
