// SPDX-License-Identifier: MIT
/*
 * Byte streams and the life of a handle: multishot receive (re-armed when
 * the kernel ends it; after -ENOBUFS with exponential backoff, reported
 * once per episode), the bounded send queue with coalesced sends and
 * zero-copy sends, PN_MSG_IO_WRITABLE, and pn__settle(), the one place a
 * handle ends.
 *
 * Send queue. Each pn_io_send() copies into a request (inline up to 128
 * bytes, else an arena copy) appended to the connection's queue; at most
 * one send per connection is in the kernel, so bytes leave in order
 * without linked SQEs. That send carries up to PN__IOV_MAX queued chunks
 * (one sendmsg), so a handler that writes many small pieces costs one SQE
 * per turn, not one per piece. A zero-copy chunk goes alone (SEND_ZC) and
 * stays alive after it is sent until its notification CQEs say the kernel
 * let go of the buffer; only then does ZC_DONE give it back.
 *
 * Bounds: a connection's queue (send_queue_bytes) and the shard's
 * (shard_send_bytes), counting the copies io/ holds (lent zero-copy
 * buffers are the caller's memory and do not count). A send that does not
 * fit is refused (-EAGAIN / -ENOBUFS) and marks the connection; WRITABLE
 * comes when its queue is back under half and its refused send fits in
 * the shard's room.
 *
 * Ending. An object is freed only in pn__settle() and only once no
 * request of its is in the kernel (inflight == 0), so a CQE never finds
 * its object gone. Completion handlers call pn__settle() last and never
 * touch the object after it.
 */
#include "io_int.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* --- receiving ---------------------------------------------------------- */

static uint16_t recv_op(const struct pn__io_obj *o)
{
	return o->kind == PN__K_LISTEN ? PN_IO_OP_ACCEPT
	       : o->kind == PN__K_UDP  ? PN_IO_OP_RECVMSG
				       : PN_IO_OP_RECV;
}

int pn__recv_arm(struct pn__io_shard *sh, struct pn__io_obj *o)
{
	int op = recv_op(o);
	struct pn__io_req *r = pn__req_new(sh, o, op);
	int err;

	if (!r)
		return -ENOMEM;
	if (op == PN_IO_OP_RECVMSG) {
		/* Multishot recvmsg lays out each buffer as header, name,
		 * payload; msg_namelen fixes the name's room. */
		memset(&r->mh, 0, sizeof(r->mh));
		r->mh.msg_namelen = sizeof(struct sockaddr_in6);
	}
	r->off = pn__recv_limit(sh, o); /* optlen: the share left */
	if ((err = pn__issue(sh, r)) < 0) {
		pn__req_free(sh, r);
		return err;
	}
	o->recv = r;
	o->flags |= PN__O_ARMED;
	return 0;
}

/*
 * Re-arm later: a timer request, then pn__timer_done(). The delay doubles
 * from nobufs_backoff_ns up to 128 times that, and starts over after a
 * successful receive. If even the timer cannot be issued, receiving stops
 * and the owner is told (ERROR, op TIMEOUT); pn_io_recv_start() resumes.
 */
void pn__backoff(struct pn__io_shard *sh, struct pn__io_obj *o)
{
	uint64_t base = sh->cfg->nobufs_backoff_ns, ns = o->backoff_ns;
	struct pn__io_req *r;
	int err = -ENOMEM;

	if (o->flags & (PN__O_BACKOFF | PN__O_ENDING))
		return;
	ns = ns ? ns * 2 : base;
	if (ns > base * 128)
		ns = base * 128;
	o->backoff_ns = ns;
	r = pn__req_new(sh, o, PN_IO_OP_TIMEOUT);
	if (r) {
		r->ts.tv_sec = (long long)(ns / 1000000000u);
		r->ts.tv_nsec = (long long)(ns % 1000000000u);
		if ((err = pn__issue(sh, r)) == 0) {
			o->timer = r;
			o->flags |= PN__O_BACKOFF;
			return;
		}
		pn__req_free(sh, r);
	}
	o->flags &= ~PN__O_RECV;
	pn__deliver(sh, o, PN_MSG_IO_ERROR, err, PN_IO_OP_TIMEOUT, 0);
}

static bool wants_recv(const struct pn__io_obj *o)
{
	return (o->flags & PN__O_RECV) &&
	       !(o->flags &
		 (PN__O_ARMED | PN__O_BACKOFF | PN__O_ENDING | PN__O_CAPPED));
}

/* Re-arm a multishot operation the kernel ended; back off on failure. */
void pn__rearm(struct pn__io_shard *sh, struct pn__io_obj *o)
{
	int err;

	if (!wants_recv(o))
		return;
	sh->st.rearms++;
	if ((err = pn__recv_arm(sh, o)) < 0) {
		pn__deliver(sh, o, PN_MSG_IO_ERROR, err, recv_op(o), 0);
		pn__backoff(sh, o);
	}
}

void pn__timer_done(struct pn__io_shard *sh, struct pn__io_req *r,
		    const struct pn__io_cqe *c)
{
	struct pn__io_obj *o = r->obj;

	(void)c;  /* -ETIME when it fired, -ECANCELED when we cancelled it */
	if (!o) { /* the shard's deadline sweep */
		pn__sweep_done(sh, r);
		return;
	}
	o->inflight--;
	o->timer = NULL;
	o->flags &= ~PN__O_BACKOFF;
	pn__req_free(sh, r);
	pn__rearm(sh, o);
	pn__settle(sh, o);
}

static void data_deliver(struct pn__io_shard *sh, struct pn__io_obj *o,
			 unsigned bid, int32_t len)
{
	struct pn_io_ev ev = {.h = pn__obj_handle(sh, o),
			      .udata = o->opts.udata,
			      .res = len,
			      .buf = PN_IO_NOBUF};
	void *p = pn__buf_addr(sh, bid);
	int err;

	sh->st.recv_bytes += (uint64_t)len;
	if (o->flags & PN__O_LINGER) { /* the owner is done: discard */
		sh->be->buf_recycle(sh, bid);
		return;
	}
	o->flags &= ~PN__O_NOBUFS;
	o->backoff_ns = 0;
	o->act = sh->tick;
	if (o->flags & PN__O_COPY) {
		/* Copy, then give the buffer back before anyone sees it. */
		memcpy(sh->copy, &ev, sizeof(ev));
		memcpy(sh->copy + sizeof(ev), p, (size_t)len);
		sh->be->buf_recycle(sh, bid);
		err = pn_ctx_deliver(sh->ctx, o->owner, PN_MSG_IO_DATA,
				     sh->copy, sizeof(ev) + (size_t)len);
		if (err < 0)
			sh->st.dropped++;
		return;
	}
	ev.buf = (uint16_t)bid;
	ev.data = p;
	err = pn_ctx_deliver(sh->ctx, o->owner, PN_MSG_IO_DATA, &ev,
			     sizeof(ev));
	if (PN_UNLIKELY(err < 0)) {
		sh->st.dropped++;
		sh->be->buf_recycle(sh, bid);
		return;
	}
	sh->st.bufs_lent++;
	pn__lend(sh, o, bid);
}

/* The multishot receive ended with @res: decide what comes next. */
static void recv_ended(struct pn__io_shard *sh, struct pn__io_obj *o,
		       int32_t res, bool limited)
{
	uint16_t op = recv_op(o);

	if (res == -EINVAL && limited && !sh->no_recv_limit) {
		/* A kernel without the multishot byte limit (optlen): go on
		 * without it; the pause at the share still holds. */
		sh->no_recv_limit = true;
		pn__rearm(sh, o);
	} else if (res == -ENOBUFS) {
		sh->st.nobufs++;
		if (!(o->flags & PN__O_NOBUFS)) {
			o->flags |= PN__O_NOBUFS;
			pn__deliver(sh, o, PN_MSG_IO_ERROR, res, op, 0);
		}
		pn__backoff(sh, o);
	} else if (res == 0 && o->kind == PN__K_TCP) {
		o->flags &= ~PN__O_RECV;
		o->flags |= PN__O_GOTEOF;
		if (o->flags & PN__O_LINGER) /* what it waited for: close */
			o->flags |= PN__O_CLOSING;
		else if (!(o->flags & PN__O_ENDING)) /* moot once closing */
			pn__deliver(sh, o, PN_MSG_IO_EOF, 0, op, 0);
	} else if (res == -ECANCELED) {
		pn__rearm(sh, o); /* stopped, unless started again since */
	} else if (res < 0 && o->kind == PN__K_TCP) {
		pn__fail(sh, o, res); /* reset, timed out: this one only */
	} else if (res < 0) {
		pn__deliver(sh, o, PN_MSG_IO_ERROR, res, op, 0);
		pn__backoff(sh, o);
	} else {
		pn__rearm(sh, o); /* the kernel ended it (e.g. CQ overflow) */
	}
}

void pn__recv_done(struct pn__io_shard *sh, struct pn__io_req *r,
		   const struct pn__io_cqe *c)
{
	struct pn__io_obj *o = r->obj;
	bool limited = r->off != 0; /* armed with a byte limit */

	if (c->flags & PN__C_BUF) {
		if (c->res <= 0)
			sh->be->buf_recycle(sh, c->bid);
		else if (o->kind == PN__K_UDP)
			pn__dgram_deliver(sh, r, c->bid, c->res);
		else
			data_deliver(sh, o, c->bid, c->res);
	}
	if (c->flags & PN__C_MORE)
		return;
	o->inflight--;
	o->recv = NULL;
	o->flags &= ~PN__O_ARMED;
	pn__req_free(sh, r);
	recv_ended(sh, o, c->res > 0 ? 1 : c->res, limited);
	pn__settle(sh, o);
}

void pn_io_buf_release(struct pn_ctx *ctx, unsigned buf)
{
	struct pn__io_shard *sh = pn__io_shard(ctx);

	if (buf == PN_IO_NOBUF || !sh || !sh->br)
		return;
	/* A double release is refused, never put in the ring twice. */
	if (sh->be->buf_recycle(sh, buf) == 0) {
		sh->st.bufs_lent--;
		pn__lend_back(sh, buf);
	}
}

/* --- send queue ----------------------------------------------------------- */

static void writable_check(struct pn__io_shard *sh, struct pn__io_obj *o)
{
	if (!(o->flags & PN__O_WRITABLE) || (o->flags & PN__O_WAITQ) ||
	    o->qbytes > sh->cfg->send_queue_bytes / 2)
		return;
	o->flags &= ~PN__O_WRITABLE;
	if (!(o->flags & PN__O_ENDING))
		pn__deliver(sh, o, PN_MSG_IO_WRITABLE, 0, 0, 0);
}

/*
 * The shard's queues shrank: wake every connection refused for lack of
 * shard room whose refused send would fit now (a
 * release that could admit someone wakes all who might fit; waking only
 * "under half" would let one stuck connection starve the rest).
 */
static void shard_writable(struct pn__io_shard *sh)
{
	struct pn__io_obj **pp = &sh->waitq, *o;

	while ((o = *pp) != NULL) {
		if (sh->qbytes + o->want > sh->cfg->shard_send_bytes) {
			pp = &o->wnext;
			continue;
		}
		*pp = o->wnext;
		o->flags &= ~PN__O_WAITQ;
		writable_check(sh, o);
	}
}

static void waitq_remove(struct pn__io_shard *sh, struct pn__io_obj *o)
{
	struct pn__io_obj **pp = &sh->waitq;

	if (!(o->flags & PN__O_WAITQ))
		return;
	while (*pp && *pp != o)
		pp = &(*pp)->wnext;
	if (*pp)
		*pp = o->wnext;
	o->flags &= ~PN__O_WAITQ;
}

/* Room for @len more bytes, or the refusal (and a WRITABLE later). */
int pn__queue_room(struct pn__io_shard *sh, struct pn__io_obj *o, size_t len,
		   bool copy)
{
	uint64_t limit = sh->cfg->send_queue_bytes;

	if (!copy) /* lent (zero-copy): the memory is the caller's */
		return 0;
	if (len > limit)
		return pn__error(-EMSGSIZE,
				 "pn_io_send: %zu bytes exceed the "
				 "send queue (%llu)",
				 len, (unsigned long long)limit);
	if (o->qbytes && o->qbytes + len > limit) {
		sh->st.send_eagain++;
		o->flags |= PN__O_WRITABLE;
		return pn__error(-EAGAIN, "io: send queue full");
	}
	if (sh->qbytes + len > sh->cfg->shard_send_bytes) {
		sh->st.send_enobufs++;
		o->flags |= PN__O_WRITABLE;
		o->want = len;
		if (!(o->flags & PN__O_WAITQ)) {
			o->flags |= PN__O_WAITQ;
			o->wnext = sh->waitq;
			sh->waitq = o;
		}
		return pn__error(-ENOBUFS, "io: shard %u send queues full",
				 sh->id);
	}
	return 0;
}

void pn__queue_account(struct pn__io_shard *sh, struct pn__io_obj *o,
		       int64_t delta)
{
	o->qbytes += (uint64_t)delta;
	sh->qbytes += (uint64_t)delta;
	sh->st.queued_bytes = sh->qbytes;
	if (delta < 0) {
		writable_check(sh, o);
		shard_writable(sh);
	}
}

/* A zero-copy chunk is done with: give the buffer back to its owner. */
static void zc_finish(struct pn__io_shard *sh, struct pn__io_req *r)
{
	struct pn__io_obj *o = r->obj;

	pn__deliver(sh, o, PN_MSG_IO_ZC_DONE, r->res, PN_IO_OP_SEND_ZC,
		    (uint64_t)(uintptr_t)r->buf);
	pn__req_free(sh, r);
}

void pn__send_cleanup(struct pn__io_shard *sh, struct pn__io_req *r)
{
	if (r->op == PN_IO_OP_SEND_ZC) {
		r->res = r->res ? r->res : -ECANCELED;
		r->flags |= PN__R_SENT;
		if (!r->notifs)
			zc_finish(sh, r);
		return;
	}
	pn__req_free(sh, r);
}

/* A queued request leaves the queue unsent or sent: its cold cleanup
 * frees it (or, for zero-copy, gives the buffer back when it may). */
static void drop_req(struct pn__io_shard *sh, struct pn__io_req *r)
{
	void (*cleanup)(struct pn__io_shard *, struct pn__io_req *) =
		sh->be->cold[r->op].cleanup;

	if (cleanup)
		cleanup(sh, r);
	else
		pn__req_free(sh, r);
}

/* Bytes of @r the shard holds: zero-copy data is the caller's. */
static uint32_t held(const struct pn__io_req *r)
{
	return r->op == PN_IO_OP_SEND_ZC ? 0 : r->len;
}

/* Pop the queue's head (fully sent or dropped) and release it. */
static void queue_pop(struct pn__io_shard *sh, struct pn__io_obj *o)
{
	struct pn__io_req *r = o->qhead;

	o->qhead = r->next;
	if (!o->qhead)
		o->qtail = NULL;
	pn__queue_account(sh, o, -(int64_t)held(r));
	drop_req(sh, r);
}

/* Append a send to @o's queue and start it if none is in the kernel. */
void pn__enqueue(struct pn__io_shard *sh, struct pn__io_obj *o,
		 struct pn__io_req *r)
{
	if (o->qtail) {
		o->qtail->next = r;
	} else {
		o->qhead = r;
		o->moved = sh->tick; /* the drain clock starts */
	}
	o->qtail = r;
	pn__queue_account(sh, o, held(r));
	pn__send_kick(sh, o);
}

/* Drop every chunk not in the kernel (abort, failure, ending). */
void pn__queue_drop(struct pn__io_shard *sh, struct pn__io_obj *o)
{
	struct pn__io_req *keep = o->qhead, *r;

	for (uint32_t i = 1; keep && i < o->nsending; i++)
		keep = keep->next;
	if (!o->nsending) { /* nothing in flight: drop them all */
		while (o->qhead)
			queue_pop(sh, o);
		return;
	}
	while (keep && (r = keep->next) != NULL) {
		keep->next = r->next;
		pn__queue_account(sh, o, -(int64_t)held(r));
		drop_req(sh, r);
	}
	o->qtail = keep;
}

static void shutdown_issue(struct pn__io_shard *sh, struct pn__io_obj *o)
{
	struct pn__io_req *r = pn__req_new(sh, o, PN_IO_OP_SHUTDOWN);
	int err = r ? 0 : -ENOMEM;

	o->flags &= ~PN__O_SHUT_PEND;
	if (r) {
		r->off = (uint64_t)o->shut_how;
		if ((err = pn__issue(sh, r)) < 0)
			pn__req_free(sh, r);
	}
	if (err < 0)
		pn__deliver(sh, o, PN_MSG_IO_ERROR, err, PN_IO_OP_SHUTDOWN, 0);
}

/* Start the next send if none is in the kernel; lay out the batch. */
void pn__send_kick(struct pn__io_shard *sh, struct pn__io_obj *o)
{
	struct pn__io_req *head = o->qhead, *r;
	uint32_t n = 0;
	int err;

	if (o->flags & (PN__O_SENDING | PN__O_OPENING | PN__O_ABORT) ||
	    o->fd < 0)
		return;
	if (!head) {
		if (o->flags & PN__O_SHUT_PEND)
			shutdown_issue(sh, o);
		return;
	}
	if (head->op == PN_IO_OP_SEND_ZC) {
		n = 1;
	} else {
		for (r = head; r && r->op == PN_IO_OP_SEND && n < PN__IOV_MAX;
		     r = r->next, n++) {
			o->siov[n].iov_base = (char *)r->buf + r->done;
			o->siov[n].iov_len = r->len - r->done;
		}
		o->smh = (struct msghdr){.msg_iov = o->siov, .msg_iovlen = n};
	}
	o->nsending = n; /* prep reads it: one chunk is a plain send */
	if ((err = pn__issue(sh, head)) < 0) {
		o->nsending = 0;
		pn__fail(sh, o, err);
		return;
	}
	o->flags |= PN__O_SENDING;
}

/* @sent bytes of the batch in flight went out: pop what is complete. */
static void consume(struct pn__io_shard *sh, struct pn__io_obj *o,
		    uint32_t sent)
{
	while (sent && o->qhead) {
		struct pn__io_req *h = o->qhead;
		uint32_t rem = h->len - h->done;

		if (sent < rem) {
			h->done += sent;
			return;
		}
		sent -= rem;
		h->done = h->len;
		if (h->op == PN_IO_OP_SEND_ZC) {
			h->res = (int32_t)h->len;
			sh->st.zc_sends++;
		}
		queue_pop(sh, o);
	}
}

/* The zero-copy chunk's notification: the kernel released its pages. */
static void zc_notif(struct pn__io_shard *sh, struct pn__io_req *r)
{
	struct pn__io_obj *o = r->obj;

	o->inflight--;
	r->notifs--;
	if ((r->flags & PN__R_SENT) && !r->notifs)
		zc_finish(sh, r);
	pn__settle(sh, o);
}

void pn__send_done(struct pn__io_shard *sh, struct pn__io_req *r,
		   const struct pn__io_cqe *c)
{
	struct pn__io_obj *o = r->obj;

	if (c->flags & PN__C_NOTIF) {
		zc_notif(sh, r);
		return;
	}
	if (c->flags & PN__C_MORE)
		r->notifs++; /* the notification will end this request */
	else
		o->inflight--;
	o->flags &= ~PN__O_SENDING;
	if (c->res >= 0) {
		sh->st.sent_bytes += (uint64_t)c->res;
		if (c->res > 0)
			o->act = o->moved = sh->tick;
		consume(sh, o, (uint32_t)c->res);
	} else {
		/* The batch failed: its chunks end with the connection. */
		if (r->op == PN_IO_OP_SEND_ZC)
			r->res = c->res;
		pn__fail(sh, o, c->res == -ECANCELED ? 0 : c->res);
	}
	o->nsending = 0;
	if (o->flags & PN__O_ABORT)
		pn__queue_drop(sh, o);
	else
		pn__send_kick(sh, o);
	pn__settle(sh, o);
}

/* --- ending a handle ---------------------------------------------------- */

/*
 * End @o because of @err (0: aborted on purpose): stop receiving, cancel
 * what is in the kernel, drop the queue. The CLOSED with @err comes from
 * pn__settle() once every request is back. Does not settle.
 */
void pn__fail(struct pn__io_shard *sh, struct pn__io_obj *o, int err)
{
	if (!o->err)
		o->err = err;
	if (o->flags & PN__O_ABORT)
		return;
	o->flags |= PN__O_ABORT;
	o->flags &= ~(PN__O_RECV | PN__O_WRITABLE);
	if (o->fd >= 0 && o->kind != PN__K_FILE &&
	    (o->flags & (PN__O_ARMED | PN__O_SENDING | PN__O_OPENING)))
		sh->be->cancel_fd(sh, o->fd);
	if (o->timer)
		sh->be->cancel(sh, o->timer);
	pn__queue_drop(sh, o);
}

static void handoff_finish(struct pn__io_shard *sh, struct pn__io_obj *o)
{
	struct pn_io_ev ev = {.h = PN_IO_NONE,
			      .udata = o->opts.udata,
			      .res = o->fd,
			      .op = o->kind,
			      .buf = PN_IO_NOBUF,
			      .v = o->opts.flags};
	int err = pn_ctx_deliver(sh->ctx, o->to, PN_MSG_IO_HANDOFF, &ev,
				 sizeof(ev));

	if (err < 0) { /* refused: the old owner hears why, fd closed */
		close(o->fd);
		pn__deliver(sh, o, PN_MSG_IO_CLOSED, err, 0, 0);
	}
	o->fd = -1;
	pn__obj_free(sh, o);
}

void pn__settle(struct pn__io_shard *sh, struct pn__io_obj *o)
{
	bool opening = o->flags & PN__O_OPENING;

	if (o->inflight || !(o->flags & PN__O_ENDING))
		return;
	if (!(o->flags & PN__O_ABORT) && o->qhead)
		return; /* a graceful close or hand-off still flushing */
	waitq_remove(sh, o);
	if (o->qhead) /* aborted: what is left was never sent */
		pn__queue_drop(sh, o);
	if (!(o->flags & PN__O_ABORT) && (o->flags & PN__O_HANDOFF)) {
		handoff_finish(sh, o);
		return;
	}
	if (o->kind == PN__K_FILE && o->fd >= 0) {
		pn__file_close_fd(sh, o); /* CLOSED after the close op */
		return;
	}
	if (o->fd >= 0) {
		if ((o->flags & PN__O_ABORT) && o->kind == PN__K_TCP) {
			struct linger l = {.l_onoff = 1, .l_linger = 0};

			/* A reset, not a graceful FIN, as abort promises. */
			setsockopt(o->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		}
		close(o->fd);
		o->fd = -1;
	}
	if (opening) /* a failed connect or open ends without CLOSED */
		pn__deliver(sh, o,
			    o->kind == PN__K_FILE ? PN_MSG_IO_FILE
						  : PN_MSG_IO_CONNECTED,
			    o->err, o->kind == PN__K_FILE ? PN_IO_OP_OPEN : 0,
			    0);
	else
		pn__deliver(sh, o, PN_MSG_IO_CLOSED, o->err, 0, 0);
	pn__obj_free(sh, o);
}
