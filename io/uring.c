// SPDX-License-Identifier: MIT
/*
 * The io_uring backend: the hot op table (prep fills an SQE, issue takes
 * one from the shard's ring, complete is the front end's), the
 * provided-buffer ring receives land in, cancellation, the poller's
 * complete hook that turns a CQE into a struct pn__io_cqe, and detach.
 *
 * SQEs are only prepared here: the shard submits them all at the end of its
 * loop turn (one io_uring_enter per turn). When the SQ is full mid-turn we
 * submit what is there and take the freed slot (SINGLE_ISSUER: we are the
 * shard thread, the only submitter).
 *
 * user_data is PN_CQE_POLLER | the request's address; 0 as the address
 * marks fire-and-forget SQEs (cancellations, link timeouts) whose CQEs
 * nobody waits for and the complete hook drops.
 */
#include "io_int.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <string.h>
#include <sys/mman.h>

static struct io_uring_sqe *sqe_get(struct pn__io_shard *sh)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(sh->ring);

	if (PN_UNLIKELY(!sqe)) {
		io_uring_submit(sh->ring);
		sqe = io_uring_get_sqe(sh->ring);
	}
	return sqe;
}

static void sqe_own(struct io_uring_sqe *sqe, struct pn__io_req *r)
{
	io_uring_sqe_set_data64(sqe, PN_CQE_POLLER | (uint64_t)(uintptr_t)r);
}

static int issue_one(struct pn__io_shard *sh, struct pn__io_req *r)
{
	struct io_uring_sqe *sqe = sqe_get(sh);

	if (PN_UNLIKELY(!sqe))
		return pn__error(-EBUSY, "io: submission queue full");
	sh->be->ops[r->op].prep(sh, r, sqe);
	sqe_own(sqe, r);
	return 0;
}

/* A connect with a timeout is two linked SQEs: take both or neither. */
static int issue_connect(struct pn__io_shard *sh, struct pn__io_req *r)
{
	struct io_uring_sqe *sqe, *lt;

	if (!r->ts.tv_sec && !r->ts.tv_nsec)
		return issue_one(sh, r);
	if (io_uring_sq_space_left(sh->ring) < 2)
		io_uring_submit(sh->ring);
	sqe = io_uring_get_sqe(sh->ring);
	lt = sqe ? io_uring_get_sqe(sh->ring) : NULL;
	if (!lt) {
		if (sqe) /* cannot give an SQE back: make it a no-op */
			io_uring_prep_nop(sqe), sqe_own(sqe, NULL);
		return pn__error(-EBUSY, "io: submission queue full");
	}
	sh->be->ops[r->op].prep(sh, r, sqe);
	sqe_own(sqe, r);
	sqe->flags |= IOSQE_IO_LINK;
	/* The kernel reads the timespec when it takes the SQE (at the end of
	 * this turn); the request outlives that. */
	io_uring_prep_link_timeout(lt, &r->ts, 0);
	sqe_own(lt, NULL);
	return 0;
}

/* --- prep: one SQE per operation ------------------------------------------ */

static void fixed(const struct pn__io_obj *o, struct io_uring_sqe *sqe)
{
	if (o->flags & PN__O_FIXED)
		sqe->flags |= IOSQE_FIXED_FILE;
}

static void prep_accept(struct pn__io_shard *sh, struct pn__io_req *r, void *wi)
{
	(void)sh;
	io_uring_prep_multishot_accept(wi, r->obj->fd, NULL, NULL,
				       SOCK_CLOEXEC);
}

static void prep_connect(struct pn__io_shard *sh, struct pn__io_req *r,
			 void *wi)
{
	(void)sh;
	io_uring_prep_connect(wi, r->obj->fd, (struct sockaddr *)&r->addr,
			      r->alen);
}

static void buffer_select(struct io_uring_sqe *sqe)
{
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = 0;
}

static void prep_recv(struct pn__io_shard *sh, struct pn__io_req *r, void *wi)
{
	(void)sh;
	io_uring_prep_recv_multishot(wi, r->obj->fd, NULL, 0, 0);
	buffer_select(wi);
	/* The multishot's total byte limit (optlen, which liburing 2.3
	 * still calls file_index): the connection's share left. */
	((struct io_uring_sqe *)wi)->file_index = (uint32_t)r->off;
}

static void prep_recvmsg(struct pn__io_shard *sh, struct pn__io_req *r,
			 void *wi)
{
	(void)sh;
	io_uring_prep_recvmsg_multishot(wi, r->obj->fd, &r->mh, 0);
	buffer_select(wi);
}

/* The coalesced chunks stream.c laid out in the object's iovecs. */
static void prep_send(struct pn__io_shard *sh, struct pn__io_req *r, void *wi)
{
	struct pn__io_obj *o = r->obj;

	(void)sh;
	if (o->nsending == 1)
		io_uring_prep_send(wi, o->fd, o->siov[0].iov_base,
				   o->siov[0].iov_len, MSG_NOSIGNAL);
	else
		io_uring_prep_sendmsg(wi, o->fd, &o->smh, MSG_NOSIGNAL);
}

static void prep_send_zc(struct pn__io_shard *sh, struct pn__io_req *r,
			 void *wi)
{
	(void)sh;
	io_uring_prep_send_zc(wi, r->obj->fd, (char *)r->buf + r->done,
			      r->len - r->done, MSG_NOSIGNAL, 0);
}

static void prep_sendmsg(struct pn__io_shard *sh, struct pn__io_req *r,
			 void *wi)
{
	(void)sh;
	io_uring_prep_sendmsg(wi, r->obj->fd, &r->mh, 0);
}

static void prep_shutdown(struct pn__io_shard *sh, struct pn__io_req *r,
			  void *wi)
{
	(void)sh;
	io_uring_prep_shutdown(wi, r->obj->fd, (int)r->off);
}

static void prep_timeout(struct pn__io_shard *sh, struct pn__io_req *r,
			 void *wi)
{
	(void)sh;
	io_uring_prep_timeout(wi, &r->ts, 0, 0);
}

static void prep_open(struct pn__io_shard *sh, struct pn__io_req *r, void *wi)
{
	struct io_uring_sqe *sqe = wi;
	bool direct = r->obj->flags & PN__O_FIXED;

	(void)sh;
	/* A direct descriptor is in no fd table: O_CLOEXEC is refused. */
	io_uring_prep_openat(sqe, AT_FDCWD, r->buf,
			     (int)(uint32_t)r->off | (direct ? 0 : O_CLOEXEC),
			     (mode_t)(r->off >> 32));
	/* liburing 2.3's openat_direct() turns IORING_FILE_INDEX_ALLOC into
	 * 0 ("not direct"); the kernel wants the marker itself. */
	if (direct)
		sqe->file_index = IORING_FILE_INDEX_ALLOC;
}

static void prep_rw(struct pn__io_shard *sh, struct pn__io_req *r, void *wi)
{
	struct io_uring_sqe *sqe = wi;
	bool rd = r->op == PN_IO_OP_READ;

	if (pn__fbuf_owns(sh, r->buf, r->len)) {
		if (rd)
			io_uring_prep_read_fixed(sqe, r->obj->fd, r->buf,
						 r->len, r->off, 0);
		else
			io_uring_prep_write_fixed(sqe, r->obj->fd, r->buf,
						  r->len, r->off, 0);
	} else if (rd) {
		io_uring_prep_read(sqe, r->obj->fd, r->buf, r->len, r->off);
	} else {
		io_uring_prep_write(sqe, r->obj->fd, r->buf, r->len, r->off);
	}
	fixed(r->obj, sqe);
}

static void prep_fsync(struct pn__io_shard *sh, struct pn__io_req *r, void *wi)
{
	(void)sh;
	io_uring_prep_fsync(wi, r->obj->fd, (unsigned)r->off);
	fixed(r->obj, wi);
}

/* File close: the descriptor (or fixed index) travels in r->off, since
 * the object gives it up as the request is issued. */
static void prep_close(struct pn__io_shard *sh, struct pn__io_req *r, void *wi)
{
	(void)sh;
	if (r->obj->flags & PN__O_FIXED)
		io_uring_prep_close_direct(wi, (unsigned)r->off);
	else
		io_uring_prep_close(wi, (int)r->off);
}

/* The hot table. Ops without an entry (NONE, CANCEL) are never issued. */
static const struct pn__io_op_def uring_ops[PN_IO_OP_COUNT] = {
	[PN_IO_OP_ACCEPT] = {prep_accept, issue_one, pn__accept_done},
	[PN_IO_OP_CONNECT] = {prep_connect, issue_connect, pn__connect_done},
	[PN_IO_OP_RECV] = {prep_recv, issue_one, pn__recv_done},
	[PN_IO_OP_SEND] = {prep_send, issue_one, pn__send_done},
	[PN_IO_OP_SEND_ZC] = {prep_send_zc, issue_one, pn__send_done},
	[PN_IO_OP_RECVMSG] = {prep_recvmsg, issue_one, pn__recv_done},
	[PN_IO_OP_SENDMSG] = {prep_sendmsg, issue_one, pn__sendmsg_done},
	[PN_IO_OP_SHUTDOWN] = {prep_shutdown, issue_one, pn__shutdown_done},
	[PN_IO_OP_TIMEOUT] = {prep_timeout, issue_one, pn__timer_done},
	[PN_IO_OP_OPEN] = {prep_open, issue_one, pn__file_done},
	[PN_IO_OP_READ] = {prep_rw, issue_one, pn__file_done},
	[PN_IO_OP_WRITE] = {prep_rw, issue_one, pn__file_done},
	[PN_IO_OP_FSYNC] = {prep_fsync, issue_one, pn__file_done},
	[PN_IO_OP_CLOSE] = {prep_close, issue_one, pn__file_done},
};

/* --- completions ------------------------------------------------------ */

/* Which buffers the kernel has handed us: a bitmap after the ring's
 * entries, in the same mapping (the kernel reads only the entries). */
static uint64_t *lent_map(const struct pn__io_shard *sh)
{
	return (uint64_t *)((char *)sh->br +
			    (size_t)sh->cfg->buf_count *
				    sizeof(struct io_uring_buf));
}

static void uring_reap(struct pn_ctx *ctx, void *arg,
		       const struct io_uring_cqe *cqe)
{
	struct pn__io_shard *sh = pn_ctx_poller_data(ctx);
	struct pn__io_req *r = (struct pn__io_req *)(uintptr_t)(cqe->user_data &
								~PN_CQE_POLLER);
	struct pn__io_cqe c = {.res = cqe->res};

	(void)arg;
	/* No state: io was torn down (shutdown) and this CQE is stale. */
	if (PN_UNLIKELY(!sh || !r))
		return;
	if (cqe->flags & IORING_CQE_F_MORE)
		c.flags |= PN__C_MORE;
	if (cqe->flags & IORING_CQE_F_NOTIF)
		c.flags |= PN__C_NOTIF;
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		c.flags |= PN__C_BUF;
		c.bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		lent_map(sh)[c.bid / 64] |= 1ull << (c.bid % 64);
	}
	sh->be->ops[r->op].complete(sh, r, &c);
}

/* --- provided buffers ----------------------------------------------------- */

void *pn__buf_addr(const struct pn__io_shard *sh, unsigned bid)
{
	return (char *)sh->bufs + (size_t)bid * sh->cfg->buf_size;
}

static void *map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * The shard's buffer ring (group 0), made at the first receive: entries
 * in page-aligned memory we own (liburing 2.3 has no
 * io_uring_setup_buf_ring), buffers in one mapping, all handed over.
 */
static int uring_bufs_setup(struct pn__io_shard *sh)
{
	uint32_t n = sh->cfg->buf_count, i;
	struct io_uring_buf_reg reg = {.ring_entries = n, .bgid = 0};
	struct io_uring_buf_ring *br;
	int err;

	sh->br_len =
		((size_t)n * sizeof(struct io_uring_buf) + n / 8 + 8 + 4095) &
		~4095ul;
	sh->bufs_len = (size_t)n * sh->cfg->buf_size;
	sh->br = map(sh->br_len);
	sh->bufs = sh->br ? map(sh->bufs_len) : NULL;
	if (!sh->bufs)
		goto fail;
	br = sh->br;
	reg.ring_addr = (uint64_t)(uintptr_t)br;
	err = io_uring_register_buf_ring(sh->ring, &reg, 0);
	if (err < 0) {
		pn__error(err, "io: shard %u: register buffer ring: %s", sh->id,
			  strerror(-err));
		goto fail_err;
	}
	io_uring_buf_ring_init(br);
	for (i = 0; i < n; i++)
		io_uring_buf_ring_add(br, pn__buf_addr(sh, i),
				      sh->cfg->buf_size, (unsigned short)i,
				      io_uring_buf_ring_mask(n), (int)i);
	io_uring_buf_ring_advance(br, (int)n);
	return 0;
fail:
	err = pn__error(-ENOMEM,
			"io: shard %u: no memory for %u receive "
			"buffers",
			sh->id, n);
fail_err:
	if (sh->bufs)
		munmap(sh->bufs, sh->bufs_len);
	if (sh->br)
		munmap(sh->br, sh->br_len);
	sh->bufs = sh->br = NULL;
	return err;
}

/*
 * Give buffer @bid back to the kernel: one entry, one release store of
 * the tail (io_uring_buf_ring_advance), which the kernel acquires. A
 * buffer we do not hold (released twice, or never lent) is refused: in
 * the ring twice, two receives would land in the same memory.
 */
static int uring_buf_recycle(struct pn__io_shard *sh, unsigned bid)
{
	uint32_t n = sh->cfg->buf_count;
	uint64_t *w, bit = 1ull << (bid % 64);

	if (PN_UNLIKELY(bid >= n))
		return pn__error(-EINVAL, "io: no receive buffer %u", bid);
	w = &lent_map(sh)[bid / 64];
	if (PN_UNLIKELY(!(*w & bit)))
		return pn__error(-EINVAL, "io: buffer %u is not lent out", bid);
	*w &= ~bit;
	io_uring_buf_ring_add(sh->br, pn__buf_addr(sh, bid), sh->cfg->buf_size,
			      (unsigned short)bid, io_uring_buf_ring_mask(n),
			      0);
	io_uring_buf_ring_advance(sh->br, 1);
	return 0;
}

/* --- cancellation and teardown ------------------------------------------- */

static int uring_cancel(struct pn__io_shard *sh, struct pn__io_req *r)
{
	struct io_uring_sqe *sqe = sqe_get(sh);

	if (!sqe)
		return pn__error(-EBUSY, "io: submission queue full");
	io_uring_prep_cancel64(sqe, PN_CQE_POLLER | (uint64_t)(uintptr_t)r, 0);
	sqe_own(sqe, NULL);
	return 0;
}

static int uring_cancel_fd(struct pn__io_shard *sh, int fd)
{
	struct io_uring_sqe *sqe = sqe_get(sh);

	if (!sqe)
		return pn__error(-EBUSY, "io: submission queue full");
	io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
	sqe_own(sqe, NULL);
	return 0;
}

/*
 * Shutdown: submit what is prepared, then cancel every request of the
 * ring and wait for them (IORING_REGISTER_SYNC_CANCEL), so that the kernel
 * no longer writes into our buffers or reads our requests. This also
 * cancels the core's eventfd read, which the core re-arms when it reaps
 * the cancellation. Then unregister the buffer ring, files and buffers.
 */
static void uring_detach(struct pn__io_shard *sh)
{
	struct io_uring_sync_cancel_reg reg = {
		.fd = -1,
		.flags = IORING_ASYNC_CANCEL_ANY,
		.timeout = {.tv_sec = 1, .tv_nsec = 0},
	};
	int err;

	io_uring_submit(sh->ring);
	err = io_uring_register_sync_cancel(sh->ring, &reg);
	if (err < 0 && err != -ENOENT) {
		/* Something would not cancel in time: keep its memory
		 * (leak the buffers) rather than free what it may write. */
		sh->bufs = sh->br = sh->fbufs = NULL;
		sh->fbufs_reg = false;
	}
	if (sh->br)
		io_uring_unregister_buf_ring(sh->ring, 0);
	if (sh->files_ok > 0)
		io_uring_unregister_files(sh->ring);
	if (sh->fbufs_reg)
		io_uring_unregister_buffers(sh->ring);
	if (sh->bufs)
		munmap(sh->bufs, sh->bufs_len);
	if (sh->br)
		munmap(sh->br, sh->br_len);
	if (sh->fbufs)
		munmap(sh->fbufs,
		       (size_t)sh->cfg->file_bufs * sh->cfg->file_buf_size);
}

const struct pn__io_backend pn__io_uring = {
	.name = "io_uring",
	.ops = uring_ops,
	.cold = pn__io_cold,
	.reap = uring_reap,
	.bufs_setup = uring_bufs_setup,
	.buf_recycle = uring_buf_recycle,
	.cancel = uring_cancel,
	.cancel_fd = uring_cancel_fd,
	.detach = uring_detach,
};
