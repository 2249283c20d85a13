/* SPDX-License-Identifier: MIT */
/*
 * io/'s backend interface: what a completion looks like whatever the
 * backend, and the op table (hot: prep/issue/complete; cold: name and
 * cleanup) plus the calls that are not per operation. uring.c is the one
 * backend (pn__io_uring); README says how AF_XDP or DPDK would slot in.
 */
#ifndef PN_IO_BACKEND_H
#define PN_IO_BACKEND_H

#include <stdint.h>

struct io_uring_cqe;
struct pn_ctx;
struct pn__io_shard;
struct pn__io_req;

/* A completion, whatever the backend. Flags: MORE (more will follow),
 * BUF (@bid is a buffer lent to us), NOTIF (zero-copy pages released). */
struct pn__io_cqe {
	int32_t res; /* bytes, fd, 0, or -errno */
	uint32_t flags;
	uint16_t bid;
};
#define PN__C_MORE  0x1u
#define PN__C_BUF   0x2u
#define PN__C_NOTIF 0x4u

struct pn__io_op_def {
	void (*prep)(struct pn__io_shard *sh, struct pn__io_req *r, void *wi);
	int (*issue)(struct pn__io_shard *sh, struct pn__io_req *r);
	void (*complete)(struct pn__io_shard *sh, struct pn__io_req *r,
			 const struct pn__io_cqe *c);
} __attribute__((aligned(32)));

struct pn__io_op_cold {
	const char *name;
	void (*cleanup)(struct pn__io_shard *sh, struct pn__io_req *r);
};

/* A backend: its op table and what is not per operation (uring.c is
 * pn__io_uring; README says how AF_XDP or DPDK would slot in). */
struct pn__io_backend {
	const char *name;
	const struct pn__io_op_def *ops;	    /* [PN_IO_OP_COUNT] */
	const struct pn__io_op_cold *cold;	    /* [PN_IO_OP_COUNT] */
	void (*reap)(struct pn_ctx *ctx, void *arg, /* the poller's hook */
		     const struct io_uring_cqe *cqe);
	int (*bufs_setup)(struct pn__io_shard *sh); /* receive buffer ring */
	int (*buf_recycle)(struct pn__io_shard *sh, unsigned bid); /* -EINVAL */
	int (*cancel)(struct pn__io_shard *sh, struct pn__io_req *r);
	int (*cancel_fd)(struct pn__io_shard *sh, int fd);
	void (*detach)(struct pn__io_shard *sh); /* cancel all, unregister */
};
extern const struct pn__io_backend pn__io_uring;

#endif /* PN_IO_BACKEND_H */
