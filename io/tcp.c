// SPDX-License-Identifier: MIT
/*
 * The socket API actors call: TCP listen (multishot accept), connect with
 * a timeout (a linked timeout SQE), receive start/stop, send and
 * zero-copy send, shutdown, close and abort, and handing a connection to
 * another shard (the descriptor travels in a PN_MSG_IO_HANDOFF message).
 *
 * Sockets stay blocking: io_uring arms its own poll when a socket is not
 * ready, whereas an O_NONBLOCK socket would make it return -EAGAIN to us.
 */
#include "io_int.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static int sock_err(const char *what, int err)
{
	return pn__error(-err, "io: %s: %s", what, strerror(err));
}

/* The calling actor: every handle needs an owner on this shard. */
static int owner_of(struct pn_ctx *ctx, struct pn__io_shard **sh, pn_pid *pid)
{
	*sh = pn__io_shard(ctx);
	if (!*sh)
		return pn__error(-ENODEV, "io: not initialised on shard %u",
				 pn_shard(ctx));
	*pid = pn_self(ctx);
	if (*pid == PN_PID_NONE)
		return pn__error(-EINVAL, "io: call it from a handler");
	return 0;
}

/* A socket of @type for @addr with the options that precede bind. */
static int sock_open(const struct sockaddr *addr, int type,
		     const struct pn_io_opts *o)
{
	int fd = socket(addr->sa_family, type | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return sock_err("socket", errno);
	if (((o->flags & PN_IO_REUSEADDR) &&
	     setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one))) ||
	    ((o->flags & PN_IO_REUSEPORT) &&
	     setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))) {
		int err = sock_err("SO_REUSEADDR/SO_REUSEPORT", errno);

		close(fd);
		return err;
	}
	return fd;
}

/* Wrap @fd in a handle owned by @owner with @o; the fd is closed on
 * failure. */
static int sock_handle(struct pn__io_shard *sh, int kind, int fd, pn_pid owner,
		       const struct pn_io_opts *o, struct pn__io_obj **out)
{
	int err = pn__obj_new(sh, kind, fd, owner, out);

	if (err < 0) {
		close(fd);
		return err;
	}
	(*out)->opts = *o;
	if (o->flags & PN_IO_RECV_COPY)
		(*out)->flags |= PN__O_COPY;
	return 0;
}

int pn__sock_new(struct pn_ctx *ctx, int kind, const struct sockaddr *addr,
		 socklen_t len, const struct pn_io_opts *o,
		 struct pn__io_obj **out)
{
	static const struct pn_io_opts none;
	struct pn__io_shard *sh;
	pn_pid me;
	int fd, err;

	if ((err = owner_of(ctx, &sh, &me)) < 0)
		return err;
	if (!addr || len < sizeof(struct sockaddr_in))
		return pn__error(-EINVAL, "io: no address");
	o = o ? o : &none;
	fd = sock_open(addr, kind == PN__K_UDP ? SOCK_DGRAM : SOCK_STREAM, o);
	if (fd < 0)
		return fd;
	if ((err = pn__opts_set(fd, o, kind != PN__K_UDP)) < 0 ||
	    (kind != PN__K_TCP && bind(fd, addr, len) < 0 &&
	     (err = sock_err("bind", errno)) < 0)) {
		close(fd);
		return err;
	}
	return sock_handle(sh, kind, fd, me, o, out);
}

/* --- listen and accept -------------------------------------------------- */

int pn_io_listen(struct pn_ctx *ctx, const struct sockaddr *addr, socklen_t len,
		 const struct pn_io_opts *o, pn_io_handle *out)
{
	struct pn__io_shard *sh = pn__io_shard(ctx);
	struct pn__io_obj *l;
	int err = pn__sock_new(ctx, PN__K_LISTEN, addr, len, o, &l);

	if (err < 0)
		return err;
	if (listen(l->fd, l->opts.backlog > 0 ? l->opts.backlog : SOMAXCONN))
		err = sock_err("listen", errno);
	l->flags |= PN__O_RECV;
	if (!err)
		err = pn__recv_arm(sh, l);
	if (err < 0) {
		close(l->fd);
		pn__obj_free(sh, l);
		return err;
	}
	*out = pn__obj_handle(sh, l);
	return 0;
}

/* A new connection @fd from listener @l: a handle, then ACCEPT. */
static void accepted(struct pn__io_shard *sh, struct pn__io_obj *l, int fd)
{
	struct pn__io_obj *c;
	int err;

	if (l->flags & PN__O_ENDING) {
		close(fd);
		return;
	}
	err = sock_handle(sh, PN__K_TCP, fd, l->owner, &l->opts, &c);
	if (err < 0) {
		pn__deliver(sh, l, PN_MSG_IO_ERROR, err, PN_IO_OP_ACCEPT, 0);
		return;
	}
	c->opts.udata = l->opts.udata;
	pn__opts_set(fd, &l->opts, true); /* best effort: it worked once */
	pn__guard(sh, c); /* the listener's idle_ns and drain_ns */
	sh->st.accepted++;
	if (pn__deliver(sh, l, PN_MSG_IO_ACCEPT, 0, PN_IO_OP_ACCEPT,
			pn__obj_handle(sh, c)) < 0) {
		close(c->fd);
		pn__obj_free(sh, c);
	}
}

void pn__accept_done(struct pn__io_shard *sh, struct pn__io_req *r,
		     const struct pn__io_cqe *c)
{
	struct pn__io_obj *l = r->obj;
	int err;

	if (c->res >= 0)
		accepted(sh, l, c->res);
	if (c->flags & PN__C_MORE)
		return;
	l->inflight--;
	l->recv = NULL;
	l->flags &= ~PN__O_ARMED;
	pn__req_free(sh, r);
	if (c->res < 0 && c->res != -ECANCELED) {
		/* EMFILE and friends: say so, retry later, keep listening. */
		pn__deliver(sh, l, PN_MSG_IO_ERROR, c->res, PN_IO_OP_ACCEPT, 0);
		pn__backoff(sh, l);
	} else if ((l->flags & PN__O_RECV) && !(l->flags & PN__O_ENDING)) {
		sh->st.rearms++;
		if ((err = pn__recv_arm(sh, l)) < 0) {
			pn__deliver(sh, l, PN_MSG_IO_ERROR, err,
				    PN_IO_OP_ACCEPT, 0);
			pn__backoff(sh, l);
		}
	}
	pn__settle(sh, l);
}

/* --- connect ------------------------------------------------------------- */

int pn_io_connect(struct pn_ctx *ctx, const struct sockaddr *addr,
		  socklen_t len, const struct pn_io_opts *o,
		  uint64_t timeout_ns, pn_io_handle *out)
{
	struct pn__io_shard *sh = pn__io_shard(ctx);
	struct pn__io_obj *c;
	struct pn__io_req *r;
	int err;

	if (len > sizeof(r->addr))
		return pn__error(-EINVAL, "pn_io_connect: address too long");
	if ((err = pn__sock_new(ctx, PN__K_TCP, addr, len, o, &c)) < 0)
		return err;
	r = pn__req_new(sh, c, PN_IO_OP_CONNECT);
	err = r ? 0 : -ENOMEM;
	if (r) {
		memcpy(&r->addr, addr, len);
		r->alen = len;
		if (timeout_ns) {
			r->ts.tv_sec = (long long)(timeout_ns / 1000000000u);
			r->ts.tv_nsec = (long long)(timeout_ns % 1000000000u);
		}
		if ((err = pn__issue(sh, r)) < 0)
			pn__req_free(sh, r);
	}
	if (err < 0) {
		close(c->fd);
		pn__obj_free(sh, c);
		return err;
	}
	c->flags |= PN__O_OPENING;
	pn__guard(sh, c);
	*out = pn__obj_handle(sh, c);
	return 0;
}

void pn__connect_done(struct pn__io_shard *sh, struct pn__io_req *r,
		      const struct pn__io_cqe *c)
{
	struct pn__io_obj *o = r->obj;
	bool timed = r->ts.tv_sec || r->ts.tv_nsec;

	o->inflight--;
	pn__req_free(sh, r);
	if (o->flags & PN__O_ENDING) {
		/* Closed while connecting: it ends with CLOSED, not a failed
		 * CONNECTED (the owner asked for it). */
		o->flags &= ~PN__O_OPENING;
	} else if (c->res < 0) {
		/* The link timeout cancels the connect: -ECANCELED. */
		pn__fail(sh, o,
			 c->res == -ECANCELED && timed ? -ETIMEDOUT : c->res);
	} else {
		o->flags &= ~PN__O_OPENING;
		sh->st.connected++;
		pn__deliver(sh, o, PN_MSG_IO_CONNECTED, 0, PN_IO_OP_CONNECT, 0);
		pn__send_kick(sh, o); /* sends queued while connecting */
	}
	pn__settle(sh, o);
}

/* --- receive, send ------------------------------------------------------- */

static int sock_get(struct pn_ctx *ctx, pn_io_handle h, int kind,
		    struct pn__io_shard **sh, struct pn__io_obj **o)
{
	int err = pn__obj_get(ctx, h, sh, o);

	if (err == 0 && (*o)->kind != kind &&
	    !(kind == PN__K_TCP && (*o)->kind == PN__K_UDP))
		err = pn__error(-EINVAL, "io: wrong kind of handle");
	return err;
}

int pn_io_recv_start(struct pn_ctx *ctx, pn_io_handle h)
{
	struct pn__io_shard *sh;
	struct pn__io_obj *o;
	int err = sock_get(ctx, h, PN__K_TCP, &sh, &o);

	if (err < 0)
		return err;
	if (o->flags & (PN__O_ENDING | PN__O_OPENING))
		return pn__error(-EINVAL, "pn_io_recv_start: %s",
				 o->flags & PN__O_OPENING ? "not connected"
							  : "closing");
	if (o->flags & PN__O_RECV)
		return pn__error(-EALREADY, "pn_io_recv_start: receiving");
	if (!sh->br && (err = sh->be->bufs_setup(sh)) < 0)
		return err;
	o->flags |= PN__O_RECV;
	if (o->flags & (PN__O_ARMED | PN__O_BACKOFF))
		return 0; /* a stop is still in flight: it re-arms */
	if ((err = pn__recv_arm(sh, o)) < 0)
		o->flags &= ~PN__O_RECV;
	return err;
}

int pn_io_recv_stop(struct pn_ctx *ctx, pn_io_handle h)
{
	struct pn__io_shard *sh;
	struct pn__io_obj *o;
	int err = sock_get(ctx, h, PN__K_TCP, &sh, &o);

	if (err < 0)
		return err;
	o->flags &= ~PN__O_RECV;
	if (o->recv)
		return sh->be->cancel(sh, o->recv);
	if (o->timer)
		return sh->be->cancel(sh, o->timer);
	return 0;
}

static int send_check(struct pn_ctx *ctx, pn_io_handle h, size_t len, bool copy,
		      struct pn__io_shard **sh, struct pn__io_obj **o)
{
	int err = pn__obj_get(ctx, h, sh, o);

	if (err < 0)
		return err;
	if ((*o)->kind != PN__K_TCP)
		return pn__error(-EINVAL, "pn_io_send: not a TCP connection");
	if ((*o)->flags & (PN__O_ENDING | PN__O_SHUT_WR))
		return pn__error(-EPIPE, "pn_io_send: connection is %s",
				 (*o)->flags & PN__O_SHUT_WR ? "shut down"
							     : "closing");
	if (!len || len > UINT32_MAX)
		return pn__error(-EINVAL, "pn_io_send: length %zu", len);
	return pn__queue_room(*sh, *o, len, copy);
}

int pn_io_send(struct pn_ctx *ctx, pn_io_handle h, const void *data, size_t len)
{
	struct pn__io_shard *sh;
	struct pn__io_obj *o;
	struct pn__io_req *r;
	int err = send_check(ctx, h, len, true, &sh, &o);

	if (err < 0)
		return err;
	if (!(r = pn__req_new(sh, o, PN_IO_OP_SEND)))
		return -ENOMEM;
	if (pn__req_copy(sh, r, data, len) < 0) {
		pn__req_free(sh, r);
		return -ENOMEM;
	}
	pn__enqueue(sh, o, r);
	return 0;
}

int pn_io_send_zc(struct pn_ctx *ctx, pn_io_handle h, const void *buf,
		  size_t len)
{
	struct pn__io_shard *sh;
	struct pn__io_obj *o;
	struct pn__io_req *r;
	int err = send_check(ctx, h, len, false, &sh, &o);

	if (err < 0)
		return err;
	if (!(r = pn__req_new(sh, o, PN_IO_OP_SEND_ZC)))
		return -ENOMEM;
	r->buf = (void *)(uintptr_t)buf; /* lent, never written */
	r->len = (uint32_t)len;
	pn__enqueue(sh, o, r);
	return 0;
}

/* --- shutdown, close, abort ---------------------------------------------- */

int pn_io_shutdown(struct pn_ctx *ctx, pn_io_handle h, int how)
{
	struct pn__io_shard *sh;
	struct pn__io_obj *o;
	int err = sock_get(ctx, h, PN__K_TCP, &sh, &o);

	if (err < 0)
		return err;
	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
		return pn__error(-EINVAL, "pn_io_shutdown: how %d", how);
	if (o->flags & PN__O_ENDING)
		return pn__error(-EPIPE, "pn_io_shutdown: closing");
	if (how != SHUT_RD)
		o->flags |= PN__O_SHUT_WR;
	o->shut_how = (uint8_t)how;
	o->flags |= PN__O_SHUT_PEND;
	pn__send_kick(sh, o); /* issues it now if the queue is empty */
	return 0;
}

void pn__shutdown_done(struct pn__io_shard *sh, struct pn__io_req *r,
		       const struct pn__io_cqe *c)
{
	struct pn__io_obj *o = r->obj;

	o->inflight--;
	pn__req_free(sh, r);
	if (c->res < 0 && c->res != -ENOTCONN)
		pn__deliver(sh, o, PN_MSG_IO_ERROR, c->res, PN_IO_OP_SHUTDOWN,
			    0);
	pn__settle(sh, o);
}

static int end_check(struct pn_ctx *ctx, pn_io_handle h,
		     struct pn__io_shard **sh, struct pn__io_obj **o)
{
	int err = pn__obj_get(ctx, h, sh, o);

	if (err == 0 && ((*o)->flags & PN__O_ENDING))
		err = pn__error(-EALREADY, "io: handle is already closing");
	return err;
}

int pn_io_close(struct pn_ctx *ctx, pn_io_handle h)
{
	struct pn__io_shard *sh;
	struct pn__io_obj *o;
	int err = end_check(ctx, h, &sh, &o);

	if (err < 0)
		return err;
	o->flags |= PN__O_CLOSING;
	o->flags &= ~(PN__O_RECV | PN__O_WRITABLE);
	if (o->kind != PN__K_FILE) {
		if (o->flags & PN__O_OPENING)
			sh->be->cancel_fd(sh, o->fd);
		else if (o->recv)
			sh->be->cancel(sh, o->recv);
		if (o->timer)
			sh->be->cancel(sh, o->timer);
	}
	pn__settle(sh, o);
	return 0;
}

int pn_io_abort(struct pn_ctx *ctx, pn_io_handle h)
{
	struct pn__io_shard *sh;
	struct pn__io_obj *o;
	int err = pn__obj_get(ctx, h, &sh, &o);

	if (err < 0)
		return err;
	if (o->flags & PN__O_ABORT)
		return pn__error(-EALREADY, "pn_io_abort: already aborting");
	if (o->kind == PN__K_FILE)
		return pn_io_close(ctx, h);
	o->flags &= ~PN__O_HANDOFF; /* an abort wins over a hand-off */
	pn__fail(sh, o, 0);
	pn__settle(sh, o);
	return 0;
}

/*
 * Lingering close: no more sends; what is queued goes out, then a FIN
 * (SHUT_WR); bytes the peer still sends are received and dropped (so the
 * close is not turned into a reset by unread input); the peer's EOF ends
 * it like pn_io_close(), and the deadline like pn_io_set_deadline().
 */
int pn_io_close_linger(struct pn_ctx *ctx, pn_io_handle h, uint64_t timeout_ns)
{
	struct pn__io_shard *sh;
	struct pn__io_obj *o;
	int err = end_check(ctx, h, &sh, &o);

	if (err < 0)
		return err;
	if (o->kind != PN__K_TCP || (o->flags & PN__O_OPENING))
		return pn__error(-EINVAL, "pn_io_close_linger: not a connected "
					  "TCP connection");
	if (o->flags & PN__O_LINGER)
		return pn__error(-EALREADY, "pn_io_close_linger: lingering");
	o->flags |= PN__O_LINGER | PN__O_SHUT_WR | PN__O_SHUT_PEND;
	o->flags &= ~(PN__O_WRITABLE | PN__O_CAPPED);
	o->shut_how = SHUT_WR;
	if ((o->flags & PN__O_GOTEOF) ||
	    (!sh->br && sh->be->bufs_setup(sh) < 0)) {
		/* Nothing to wait for, or no way to hear it (no receive
		 * buffers): a plain close after the flush. */
		o->flags |= PN__O_CLOSING;
	} else {
		o->flags |= PN__O_RECV;
		pn__rearm(sh, o); /* unless a receive is armed already */
	}
	if (timeout_ns != UINT64_MAX)
		pn__deadline_set(sh, o, timeout_ns);
	pn__send_kick(sh, o); /* the FIN now if nothing is queued */
	pn__settle(sh, o);
	return 0;
}

/* --- hand-off ------------------------------------------------------------ */

int pn_io_handoff(struct pn_ctx *ctx, pn_io_handle h, pn_pid to, uint64_t udata)
{
	struct pn__io_shard *sh;
	struct pn__io_obj *o;
	int err = end_check(ctx, h, &sh, &o);

	if (err < 0)
		return err;
	if ((o->kind != PN__K_TCP && o->kind != PN__K_UDP) ||
	    (o->flags & PN__O_OPENING) || to == PN_PID_NONE)
		return pn__error(-EINVAL, "pn_io_handoff: only an open "
					  "connection or UDP socket, to an "
					  "actor");
	o->flags |= PN__O_HANDOFF;
	o->flags &= ~(PN__O_RECV | PN__O_WRITABLE);
	o->to = to;
	o->opts.udata = udata;
	if (o->recv)
		sh->be->cancel(sh, o->recv);
	if (o->timer)
		sh->be->cancel(sh, o->timer);
	pn__settle(sh, o); /* at once when nothing is in flight */
	return 0;
}

int pn_io_adopt(struct pn_ctx *ctx, const struct pn_msg *m, pn_io_handle *out)
{
	const struct pn_io_ev *ev;
	struct pn__io_shard *sh;
	struct pn__io_obj *o;
	struct pn_io_opts opts = {0};
	pn_pid me;
	int err;

	if (!m || m->type != PN_MSG_IO_HANDOFF || m->len != sizeof(*ev))
		return pn__error(-EINVAL, "pn_io_adopt: not a HANDOFF");
	if ((err = owner_of(ctx, &sh, &me)) < 0)
		return err;
	ev = pn_io_ev(m);
	opts.flags = (unsigned)ev->v;
	opts.udata = ev->udata;
	err = pn__obj_new(sh, ev->op == PN__K_UDP ? PN__K_UDP : PN__K_TCP,
			  ev->res, me, &o);
	if (err < 0)
		return err;
	o->opts = opts;
	if (opts.flags & PN_IO_RECV_COPY)
		o->flags |= PN__O_COPY;
	*out = pn__obj_handle(sh, o);
	return 0;
}

void pn_io_handoff_drop(const struct pn_msg *m)
{
	if (m && m->type == PN_MSG_IO_HANDOFF &&
	    m->len == sizeof(struct pn_io_ev) && pn_io_ev(m)->res >= 0)
		close(pn_io_ev(m)->res);
}
