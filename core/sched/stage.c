// SPDX-License-Identifier: MIT
/*
 * The shard's side of staged shutdown (rt/shutdown.c has the controller's
 * and the protocol): at a turn boundary the loop acts on a new stage word,
 * lets every feature act on it, and acknowledges. A drain wave publishes
 * the shard's message hops sent and done with its acknowledgement.
 */
#include "sched_int.h"

static void ack(struct pn_shard *s, int word)
{
	struct pn_runtime *rt = s->rt;

	/* Release: what the shard did for the stage (and its drain report)
	 * happens before the controller, which acquires stage_done, goes
	 * on. */
	atomic_store_explicit(&s->beacon.stage_done, word,
			      memory_order_release);
	pthread_mutex_lock(&rt->ctl_mu);
	pthread_cond_broadcast(&rt->ctl_cv);
	pthread_mutex_unlock(&rt->ctl_mu);
}

/* A drain wave: stop the timers (once), report the hops so far. */
static void drain_report(struct pn_shard *s)
{
	uint64_t sent, done;

	/* Timers are input too: a periodic one would keep the runtime from
	 * ever draining. None fires from here on, except on the supervisor
	 * shard: its supervisors bound each child's stop in the stop stage
	 * with timers (the drain allows for them, see the file comment). */
	s->timers_frozen = s->id != s->rt->napp;
	pn__shard_hops(s, &sent, &done);
	/* Relaxed: the ack's release publishes them. */
	atomic_store_explicit(&s->beacon.drain_sent, sent,
			      memory_order_relaxed);
	atomic_store_explicit(&s->beacon.drain_done, done,
			      memory_order_relaxed);
}

/* Act on stage word @word at a turn boundary; true when the shard's loop
 * must end. */
bool pn__shard_stage(struct pn_shard *s, int word)
{
	struct pn_runtime *rt = s->rt;
	unsigned stage = ((unsigned)word >> 16) - 1;
	unsigned depth = (unsigned)word & 0xffff;

	if (word < 0)
		return false;
	pn__features_stage(s, (int)stage, depth);
	switch (stage) {
	case PN_STAGE_DRAIN:
		drain_report(s);
		break;
	case PN_STAGE_IO:
		if (rt->has_poller && rt->poller.shutdown)
			rt->poller.shutdown(pn__ctx(s), rt->poller.arg);
		break;
	default:
		break;
	}
	pn__flush(s);
	if (stage == PN_STAGE_JOIN) {
		pn__buf_flush_remote(s);
		pn__shard_publish(s); /* final counts, before the thread ends */
	}
	ack(s, word);
	return stage == PN_STAGE_JOIN;
}
