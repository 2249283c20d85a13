// SPDX-License-Identifier: MIT
/*
 * Files: open, read, write, fsync and close as io_uring operations, each
 * completion a PN_MSG_IO_FILE to the file's owner. Regular-file I/O never
 * blocks the shard: io_uring runs what would block on its own workers.
 *
 * Registered files. At a shard's first open its ring gets a sparse table
 * of @files fixed slots; opens then install the file in a slot the kernel
 * picks (IORING_FILE_INDEX_ALLOC) and every later operation names the slot
 * (IOSQE_FIXED_FILE), sparing the kernel an fd lookup and reference per
 * operation. If the table cannot be registered (or files is 0) plain
 * descriptors are used; nothing else changes.
 *
 * Registered buffers. With file_bufs > 0, pn_io_file_buf_get() hands out
 * pieces of one region registered with the ring at first use; a read or
 * write whose buffer lies in it uses READ_FIXED/WRITE_FIXED, sparing the
 * page pinning per operation.
 */
#include "io_int.h"

#include <errno.h>
#include <liburing.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void files_setup(struct pn__io_shard *sh)
{
	if (sh->files_ok)
		return;
	sh->files_ok = -1;
	if (sh->cfg->files &&
	    io_uring_register_files_sparse(sh->ring, sh->cfg->files) == 0)
		sh->files_ok = 1;
}

int pn_io_file_open(struct pn_ctx *ctx, const char *path, int flags,
		    unsigned mode, uint64_t udata, pn_io_handle *out)
{
	struct pn__io_shard *sh = pn__io_shard(ctx);
	struct pn__io_obj *f;
	struct pn__io_req *r;
	int err;

	if (!sh)
		return pn__error(-ENODEV, "io: not initialised on shard %u",
				 pn_shard(ctx));
	if (!path || !*path || pn_self(ctx) == PN_PID_NONE)
		return pn__error(-EINVAL, "pn_io_file_open: no path or not "
					  "in a handler");
	files_setup(sh);
	if ((err = pn__obj_new(sh, PN__K_FILE, -1, pn_self(ctx), &f)) < 0)
		return err;
	f->opts.udata = udata;
	f->flags |= PN__O_OPENING | (sh->files_ok > 0 ? PN__O_FIXED : 0);
	r = pn__req_new(sh, f, PN_IO_OP_OPEN);
	if (!r || pn__req_copy(sh, r, path, strlen(path) + 1) < 0)
		err = -ENOMEM;
	if (!err) {
		r->off = (uint64_t)mode << 32 | (uint32_t)flags;
		err = pn__issue(sh, r);
	}
	if (err < 0) {
		if (r)
			pn__req_free(sh, r);
		pn__obj_free(sh, f);
		return err;
	}
	*out = pn__obj_handle(sh, f);
	return 0;
}

static int file_op(struct pn_ctx *ctx, pn_io_handle h, int op, void *buf,
		   uint32_t len, uint64_t off)
{
	struct pn__io_shard *sh;
	struct pn__io_obj *f;
	struct pn__io_req *r;
	int err = pn__obj_get(ctx, h, &sh, &f);

	if (err < 0)
		return err;
	if (f->kind != PN__K_FILE)
		return pn__error(-EINVAL, "io: not a file");
	if (f->flags & (PN__O_OPENING | PN__O_ENDING))
		return pn__error(-EBADF, "io: file is %s",
				 f->flags & PN__O_OPENING ? "not open yet"
							  : "closing");
	if (op != PN_IO_OP_FSYNC && (!buf || !len))
		return pn__error(-EINVAL, "io: no buffer");
	if (!(r = pn__req_new(sh, f, op)))
		return -ENOMEM;
	r->buf = buf;
	r->len = len;
	r->off = off;
	if ((err = pn__issue(sh, r)) < 0)
		pn__req_free(sh, r);
	return err;
}

int pn_io_file_read(struct pn_ctx *ctx, pn_io_handle h, void *buf, uint32_t len,
		    uint64_t off)
{
	return file_op(ctx, h, PN_IO_OP_READ, buf, len, off);
}

int pn_io_file_write(struct pn_ctx *ctx, pn_io_handle h, const void *buf,
		     uint32_t len, uint64_t off)
{
	/* The kernel only reads @buf; the request keeps it as void *. */
	return file_op(ctx, h, PN_IO_OP_WRITE, (void *)(uintptr_t)buf, len,
		       off);
}

int pn_io_file_fsync(struct pn_ctx *ctx, pn_io_handle h, bool datasync)
{
	return file_op(ctx, h, PN_IO_OP_FSYNC, NULL, 0,
		       datasync ? IORING_FSYNC_DATASYNC : 0);
}

/* Settle found the file ending with nothing in flight: close it. */
void pn__file_close_fd(struct pn__io_shard *sh, struct pn__io_obj *f)
{
	struct pn__io_req *r = pn__req_new(sh, f, PN_IO_OP_CLOSE);
	int fd = f->fd;

	f->fd = -1;
	if (r) {
		r->off = (uint64_t)(unsigned)fd;
		if (pn__issue(sh, r) == 0)
			return;
		pn__req_free(sh, r);
	}
	/* No request or no SQE: close it here, synchronously. */
	if (f->flags & PN__O_FIXED) {
		int none = -1;

		io_uring_register_files_update(sh->ring, (unsigned)fd, &none,
					       1);
	} else {
		close(fd);
	}
	pn__settle(sh, f);
}

void pn__file_done(struct pn__io_shard *sh, struct pn__io_req *r,
		   const struct pn__io_cqe *c)
{
	struct pn__io_obj *f = r->obj;
	int op = r->op;

	f->inflight--;
	if (op == PN_IO_OP_OPEN) {
		if (c->res >= 0)
			f->fd = c->res;
		if (f->flags & PN__O_ENDING) {
			f->flags &= ~PN__O_OPENING; /* closed: CLOSED ends it */
		} else if (c->res < 0) {
			f->err = c->res;
			f->flags |= PN__O_ABORT; /* FILE(OPEN, err) ends it */
		} else {
			f->flags &= ~PN__O_OPENING;
			pn__deliver(sh, f, PN_MSG_IO_FILE, 0, PN_IO_OP_OPEN, 0);
		}
	} else if (op == PN_IO_OP_CLOSE) {
		if (c->res < 0 && !f->err)
			f->err = c->res;
	} else {
		pn__deliver(sh, f, PN_MSG_IO_FILE, c->res, (uint16_t)op,
			    (uint64_t)(uintptr_t)r->buf);
	}
	pn__req_free(sh, r);
	pn__settle(sh, f);
}

/* --- registered buffers ------------------------------------------------- */

static int fbufs_setup(struct pn__io_shard *sh)
{
	uint32_t n = sh->cfg->file_bufs;
	size_t len = (size_t)n * sh->cfg->file_buf_size;
	struct iovec iov;
	void *p;

	if (sh->fbufs)
		return 0;
	if (!n)
		return -ENOSPC;
	sh->fbuf_free = pn_arena_alloc(sh->arena, n * sizeof(uint32_t));
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (!sh->fbuf_free || p == MAP_FAILED) {
		if (p != MAP_FAILED)
			munmap(p, len);
		return -ENOMEM;
	}
	iov = (struct iovec){.iov_base = p, .iov_len = len};
	sh->fbufs_reg = io_uring_register_buffers(sh->ring, &iov, 1) == 0;
	sh->fbufs = p;
	for (uint32_t i = 0; i < n; i++)
		sh->fbuf_free[i] = n - 1 - i;
	sh->fbuf_nfree = n;
	return 0;
}

static bool in_region(const struct pn__io_shard *sh, const void *p, size_t len)
{
	const char *b = sh->fbufs, *q = p;

	return b && q >= b &&
	       q + len <=
		       b + (size_t)sh->cfg->file_bufs * sh->cfg->file_buf_size;
}

/* Whether [p, p + len) lies in the shard's registered file buffers. */
bool pn__fbuf_owns(const struct pn__io_shard *sh, const void *p, size_t len)
{
	return sh->fbufs_reg && in_region(sh, p, len);
}

void *pn_io_file_buf_get(struct pn_ctx *ctx)
{
	struct pn__io_shard *sh = pn__io_shard(ctx);

	if (!sh || fbufs_setup(sh) < 0 || !sh->fbuf_nfree)
		return NULL;
	return (char *)sh->fbufs +
	       (size_t)sh->fbuf_free[--sh->fbuf_nfree] * sh->cfg->file_buf_size;
}

void pn_io_file_buf_put(struct pn_ctx *ctx, void *buf)
{
	struct pn__io_shard *sh = pn__io_shard(ctx);
	size_t off;

	if (!sh || !buf || !in_region(sh, buf, 1))
		return;
	off = (size_t)((char *)buf - (char *)sh->fbufs);
	sh->fbuf_free[sh->fbuf_nfree++] =
		(uint32_t)(off / sh->cfg->file_buf_size);
}
