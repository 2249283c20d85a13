// SPDX-License-Identifier: MIT
/*
 * What one connection may cost its shard: its share of the receive
 * buffer ring, and how long it may sit idle, leave queued bytes unsent,
 * or take to reach an application's deadline. Both exist so that a bad
 * peer costs only its own connection (DESIGN.md: "a malformed frame from
 * the network closes that connection only").
 *
 * The share. Each buffer lent with a DATA message is recorded against
 * its connection (lent_to[bid] = handle, o->lent++); pn_io_buf_release()
 * takes it off again. A connection at its share (pn__share()) is paused:
 * its multishot receive is cancelled and not re-armed until it holds at
 * most half its share. A multishot receive is also armed with a byte
 * limit of the share it has left (the kernel's optlen cap, Linux 6.17 and
 * later; an older kernel refuses it with -EINVAL once, and the shard goes
 * on without), so a burst of full buffers ends exactly at the share
 * instead of a kernel pass later.
 *
 * Deadlines. Connections with an idle, drain or absolute deadline are on
 * the shard's guarded list; one timer per shard (sweep_ns, armed only
 * while the list is non-empty) advances the shard's tick and walks the
 * list. Activity is recorded as the current tick (one store, no clock
 * read): o->act on a receive or a sent byte, o->moved on a sent byte or
 * when an empty queue gets bytes. A connection that waits only because it
 * is paused at its share is not idle: its owner, not its peer, is slow.
 */
#include "io_int.h"

#include <errno.h>

/* --- the share -------------------------------------------------------- */

uint32_t pn__share(const struct pn__io_shard *sh)
{
	uint32_t n = sh->cfg->buf_count, s;

	if (sh->cfg->conn_bufs)
		return sh->cfg->conn_bufs;
	s = n / (2 * (sh->ntcp + 1));
	if (s > n / 8)
		s = n / 8;
	return s < 2 ? 2 : s;
}

/*
 * The number of connections changed. When the share shrank, receives
 * armed with a byte limit for the old share are cancelled and re-armed
 * (their -ECANCELED end re-arms them) with the new one, before a burst
 * can fill more buffers than the new share. The share takes only a few
 * dozen values as connections come (buf_count / 2(k+1), clamped), so the
 * walk over the table is rare; a larger share needs nothing: the old,
 * smaller limits run out and are re-armed with the new one.
 */
void pn__share_changed(struct pn__io_shard *sh)
{
	uint32_t s = pn__share(sh), old = sh->share;

	sh->share = s;
	if (s >= old || sh->no_recv_limit)
		return;
	for (uint32_t i = 0; i < sh->nused; i++) {
		struct pn__io_obj *o = sh->tab[i];

		if (o && o->kind == PN__K_TCP && o->recv &&
		    o->recv->off > pn__recv_limit(sh, o))
			sh->be->cancel(sh, o->recv);
	}
}

/* The byte limit for a new multishot receive on @o: what is left of its
 * share, in buffers' worth (0: no limit). */
uint32_t pn__recv_limit(const struct pn__io_shard *sh,
			const struct pn__io_obj *o)
{
	uint32_t share = pn__share(sh);
	uint64_t bytes;

	if (sh->no_recv_limit || o->kind != PN__K_TCP ||
	    (o->flags & PN__O_COPY))
		return 0;
	bytes = (uint64_t)(share > o->lent ? share - o->lent : 1) *
		sh->cfg->buf_size;
	return bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)bytes;
}

void pn__lend(struct pn__io_shard *sh, struct pn__io_obj *o, unsigned bid)
{
	sh->lent_to[bid] = pn__obj_handle(sh, o);
	if (++o->lent < pn__share(sh) || (o->flags & PN__O_CAPPED))
		return;
	o->flags |= PN__O_CAPPED;
	sh->st.capped++;
	if (o->recv) /* its end comes as -ECANCELED; rearm waits */
		sh->be->cancel(sh, o->recv);
}

void pn__lend_back(struct pn__io_shard *sh, unsigned bid)
{
	struct pn__io_obj *o = pn__obj_find(sh, sh->lent_to[bid]);

	sh->lent_to[bid] = PN_IO_NONE;
	if (!o) /* closed, handed off, or a datagram's */
		return;
	pn_assert(o->lent > 0);
	o->lent--;
	if ((o->flags & PN__O_CAPPED) && o->lent <= pn__share(sh) / 2) {
		o->flags &= ~PN__O_CAPPED;
		pn__rearm(sh, o);
	}
}

/* --- deadlines -------------------------------------------------------- */

static bool guarded(const struct pn__io_obj *o)
{
	return o->opts.idle_ns || o->opts.drain_ns || o->deadline;
}

/* Whole sweeps that must pass before @ns has surely elapsed. */
static uint64_t sweeps(const struct pn__io_shard *sh, uint64_t ns)
{
	return ns == UINT64_MAX ? UINT64_MAX : ns / sh->cfg->sweep_ns + 1;
}

static void sweep_arm(struct pn__io_shard *sh)
{
	struct pn__io_req *r;
	uint64_t ns = sh->cfg->sweep_ns;

	if (sh->sweep || !sh->guarded)
		return;
	if (!(r = pn__req_new(sh, NULL, PN_IO_OP_TIMEOUT)))
		return; /* tried again when the next connection is guarded */
	r->ts.tv_sec = (long long)(ns / 1000000000u);
	r->ts.tv_nsec = (long long)(ns % 1000000000u);
	if (pn__issue(sh, r) < 0) {
		pn__req_free(sh, r);
		return;
	}
	sh->sweep = r;
}

void pn__guard(struct pn__io_shard *sh, struct pn__io_obj *o)
{
	if ((o->flags & PN__O_GUARD) || o->kind != PN__K_TCP || !guarded(o))
		return;
	o->flags |= PN__O_GUARD;
	o->act = o->moved = sh->tick;
	o->gprev = NULL;
	o->gnext = sh->guarded;
	if (sh->guarded)
		sh->guarded->gprev = o;
	sh->guarded = o;
	sweep_arm(sh);
}

void pn__unguard(struct pn__io_shard *sh, struct pn__io_obj *o)
{
	if (!(o->flags & PN__O_GUARD))
		return;
	o->flags &= ~PN__O_GUARD;
	if (o->gprev)
		o->gprev->gnext = o->gnext;
	else
		sh->guarded = o->gnext;
	if (o->gnext)
		o->gnext->gprev = o->gprev;
	o->gprev = o->gnext = NULL;
}

static bool expired(const struct pn__io_shard *sh, const struct pn__io_obj *o,
		    uint64_t now)
{
	uint64_t idle = sh->tick - o->act, still = sh->tick - o->moved;

	if (o->deadline && now >= o->deadline)
		return true;
	if (o->opts.idle_ns && !(o->flags & PN__O_ENDING) &&
	    idle >= sweeps(sh, o->opts.idle_ns))
		return true;
	return o->opts.drain_ns && o->qhead &&
	       still >= sweeps(sh, o->opts.drain_ns);
}

/* The sweep timer fired (or was cancelled at teardown). */
void pn__sweep_done(struct pn__io_shard *sh, struct pn__io_req *r)
{
	uint64_t now = pn_ctx_now_ns(sh->ctx);
	struct pn__io_obj *o, *next;

	pn__req_free(sh, r);
	sh->sweep = NULL;
	sh->tick++;
	for (o = sh->guarded; o; o = next) {
		next = o->gnext;
		if (o->flags & PN__O_ABORT)
			continue; /* ending already */
		if (!guarded(o)) {
			pn__unguard(sh, o);
			continue;
		}
		if (o->flags & PN__O_CAPPED)
			o->act = sh->tick; /* waiting for its owner */
		if (!expired(sh, o, now))
			continue;
		sh->st.timeouts++;
		pn__fail(sh, o, -ETIMEDOUT);
		pn__settle(sh, o); /* may free @o; @next is not touched */
	}
	sweep_arm(sh);
}

/* Abort @o @after_ns from now (saturating); UINT64_MAX: no deadline. */
void pn__deadline_set(struct pn__io_shard *sh, struct pn__io_obj *o,
		      uint64_t after_ns)
{
	if (after_ns == UINT64_MAX) {
		o->deadline = 0; /* the sweep drops it if nothing else */
		return;
	}
	o->deadline = pn_deadline_ns(pn_ctx_now_ns(sh->ctx), after_ns);
	if (!o->deadline) /* 0 means none: the clock's very first ns */
		o->deadline = 1;
	pn__guard(sh, o);
}

int pn_io_set_deadline(struct pn_ctx *ctx, pn_io_handle h, uint64_t after_ns)
{
	struct pn__io_shard *sh;
	struct pn__io_obj *o;
	int err = pn__obj_get(ctx, h, &sh, &o);

	if (err < 0)
		return err;
	if (o->kind != PN__K_TCP)
		return pn__error(-EINVAL, "pn_io_set_deadline: not a TCP "
					  "connection");
	pn__deadline_set(sh, o, after_ns);
	return 0;
}
