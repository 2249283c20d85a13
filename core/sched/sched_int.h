/* SPDX-License-Identifier: MIT */
/*
 * sched/'s internal header: the shard, its loop, sends, dispatch, external
 * producers and the gate, the features' registry, the shard's meter and
 * flight recorder (each in a header of its own, included here), and what
 * the sub-modules above may call. Nothing outside core/ includes it.
 */
#ifndef PN_SCHED_INT_H
#define PN_SCHED_INT_H

#include "dispatch.h"
#include "pn_backend.h"

/* CQE user_data of the core's own operations (PN_CQE_POLLER clear). */
#define PN__CQE_WAKE	  1ull /* a MSG_RING wake-up from another shard */
#define PN__CQE_WAKE_SENT 2ull /* our MSG_RING (posted only on failure) */
#define PN__CQE_EFD	  3ull /* the eventfd read external wakes land on */

/* The scheduler's own internal message (the features' are in ranges). */
#define PN__MSG_FLOW (PN__MSG_INTERNAL + 9) /* congestion (send.c) */

/* A stage word's stage (sched/stage.c): stage + 1 in the high half. */
#define PN__WORD_STAGE(w) ((int)(((unsigned)(w) >> 16) - 1))

/* The destination of @o is congested now (send.c; relaxed: a hint). */
static inline bool pn__out_congested(const struct pn__out *o)
{
	return atomic_load_explicit(o->congested, memory_order_relaxed);
}

static inline void pn__acct_moved(struct pn_shard *s)
{
	PN__STAT_ADD(s, PN__ST_MOVED, 1);
}

/* What a message costs against the overflow budget (flag bits off). */
static inline uint64_t pn__msg_cost(uint32_t len)
{
	len &= ~(1u << 31); /* migration's bounced flag (mig_int.h) */
	return sizeof(struct pn_msg) + (len > PN_MSG_INLINE ? len : 0);
}

/* @m enters or leaves a side queue: counted, and its bytes weigh on the
 * shard's congestion like its overflow's (send.c's flow control: a home
 * holding a moving actor's backlog must push back too). */
static inline void pn__acct_side_in(struct pn_shard *s, const struct pn_msg *m)
{
	PN__STAT_ADD(s, PN__ST_SIDE_IN, 1);
	s->side_bytes += pn__msg_cost(m->len);
}

static inline void pn__acct_side_out(struct pn_shard *s, const struct pn_msg *m)
{
	PN__STAT_ADD(s, PN__ST_SIDE_OUT, 1);
	s->side_bytes -= pn__msg_cost(m->len);
}

/* Messages this shard has put into queues and taken out of them, exact:
 * its own counters, read on its thread (shutdown's drain waves). */
static inline void pn__shard_hops(const struct pn_shard *s, uint64_t *sent,
				  uint64_t *done)
{
	*sent = s->n_sent_local + s->n_sent_remote +
		atomic_load_explicit(&s->stats.v[PN__ST_SIDE_IN],
				     memory_order_relaxed);
	*done = s->n_dispatched +
		atomic_load_explicit(&s->stats.v[PN__ST_SIDE_OUT],
				     memory_order_relaxed);
}

/* shard.c, shard_setup.c, stage.c */
int pn__shard_setup(struct pn_shard *s);
void pn__shard_loop(struct pn_shard *s);
/* The loop in two halves, for a driver other than the shard's own
 * thread: pn__shard_turn() (returns the work done; *exit: stop), then
 * pn__shard_wait() (idle accounting, spin, park). */
struct pn__idle {
	bool idle;
	uint64_t since; /* idle since (the runtime's clock) */
};
unsigned pn__shard_turn(struct pn_shard *s, bool *exit);
void pn__shard_wait(struct pn_shard *s, unsigned work, struct pn__idle *w);
void pn__shard_free(struct pn_shard *s);
void pn__shard_free_tables(struct pn_shard *s);
void pn__shard_publish(struct pn_shard *s);
bool pn__shard_stage(struct pn_shard *s, int stage_word);
void *pn__shard_main(void *arg);
void pn__heavy_barrier(struct pn_runtime *rt);
void pn__source_publish(struct pn_runtime *rt, struct pn_shard *dst,
			unsigned source, struct pn_shard *waker);
void pn__wake_external(struct pn_shard *dst);
struct io_uring_sqe *pn__sqe(struct pn_shard *s);

/* producer.c: external producers and the gate of external calls */
void pn__producers_free(struct pn_runtime *rt);
int pn__gate_enter(struct pn_runtime *rt, _Atomic uint32_t *mark, bool shared,
		   bool any_phase, const char *what);
void pn__gate_leave(struct pn_runtime *rt, _Atomic uint32_t *mark, bool shared);
unsigned pn__gate_close(struct pn_runtime *rt, uint64_t until);
void pn__gate_drain(struct pn_runtime *rt);
uint64_t pn__producers_sent(const struct pn_runtime *rt);
void pn__futex_wake(_Atomic uint32_t *w);
int pn__runtime_send_sys(struct pn_runtime *rt, pn_pid to, uint32_t type,
			 const void *data, size_t len, uint64_t timeout_ns);
int pn__producer_call(struct pn_producer *p, const char *what,
		      int (*fn)(struct pn_producer *p, void *arg), void *arg);
int pn__own_call(struct pn_runtime *rt, const char *what,
		 int (*fn)(struct pn_producer *p, void *arg), void *arg);
int pn__inject_sys(struct pn_producer *p, pn_pid to, uint32_t type,
		   const void *data, size_t len, uint64_t timeout_ns);

/* send.c */
/* A reserved slot for a message (pn__msg_reserve()): where it goes, what
 * it costs against the overflow budget there. */
enum { PN__RES_LOCAL, PN__RES_RING, PN__RES_OVERFLOW };
struct pn__res {
	struct pn_msg *m;
	uint64_t cost;
	int kind; /* PN__RES_* */
};
int pn__msg_reserve(struct pn_shard *s, unsigned dst, uint32_t len, bool exempt,
		    struct pn__res *r);
void pn__msg_commit(struct pn_shard *s, unsigned dst, const struct pn__res *r);
/* Send to @to: budgeted (-EAGAIN over the overflow budget or to a
 * congested shard), or a runtime message exempt from it (_sys). */
int pn__send(struct pn_shard *s, pn_pid to, uint32_t type, pn_pid from,
	     uint64_t ref, const void *data, size_t len);
int pn__send_sys(struct pn_shard *s, pn_pid to, uint32_t type, pn_pid from,
		 uint64_t ref, const void *data, size_t len);
void pn__flush(struct pn_shard *s);
void pn__flush_wakes(struct pn_shard *s);
unsigned pn__overflow_drain(struct pn_shard *s);
void pn__flow_update(struct pn_shard *s);
void pn__flow_msg(struct pn_shard *s, const struct pn_msg *m);
void *pn__buf_alloc(struct pn_shard *s, size_t len);
void *pn__buf_malloc(size_t len);
void pn__buf_free_malloc(void *data);
void pn__buf_free(struct pn_shard *s, void *data);
void pn__buf_flush_remote(struct pn_shard *s);

/* slots.c: the slot table */
int pn__slot_reserve(struct pn_shard *owner, pn_pid *pid);
void pn__slot_unreserve(struct pn_shard *owner, pn_pid pid);
void pn__slot_free(struct pn_shard *s, uint32_t idx);
bool pn__slot_reserved(struct pn_shard *s, pn_pid pid);

/* dispatch.c */
void pn__local_push(struct pn_shard *s, const struct pn_msg *m, bool moved);
/* @a (PID homed elsewhere) lives here and takes messages directly: the
 * send and dispatch fast paths find it (pn__direct_find) until _del. */
void pn__direct_add(struct pn_shard *s, struct pn__actor *a);
void pn__direct_del(struct pn_shard *s, pn_pid pid);

#endif /* PN_SCHED_INT_H */
