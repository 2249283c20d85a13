/* SPDX-License-Identifier: MIT */
/*
 * io/'s internal header: per-shard state, handles (struct pn__io_obj),
 * requests (struct pn__io_req) and the op table, which is the backend
 * interface (hot: prep/issue/complete; cold: name/cleanup; see uring.c).
 * All of it belongs to one shard thread (its poller hooks and handlers),
 * so nothing in io/ needs an atomic or a lock.
 */
#ifndef PN_IO_INT_H
#define PN_IO_INT_H

#include "pn_alloc.h"
#include "pn_backend.h"
#include "pn_io.h"
#include "pn_metrics.h"

#include <linux/time_types.h> /* the rest comes with pn_io.h */
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

enum pn__io_kind { PN__K_FREE, PN__K_LISTEN, PN__K_TCP, PN__K_UDP, PN__K_FILE };

/* struct pn__io_obj flags */
#define PN__O_RECV	0x0001u /* the owner wants to receive (re-arm) */
#define PN__O_ARMED	0x0002u /* a multishot accept/recv is in the kernel */
#define PN__O_BACKOFF	0x0004u /* a re-arm timer is pending */
#define PN__O_SENDING	0x0008u /* a send is in the kernel */
#define PN__O_CLOSING	0x0010u /* pn_io_close(): flush, then close */
#define PN__O_ABORT	0x0020u /* drop the queue, close at once */
#define PN__O_HANDOFF	0x0040u /* drain, then hand the fd over */
#define PN__O_SHUT_WR	0x0080u /* no more sends */
#define PN__O_SHUT_PEND 0x0100u /* a shutdown waits for the queue */
#define PN__O_WRITABLE	0x0200u /* owner wants PN_MSG_IO_WRITABLE */
#define PN__O_NOBUFS	0x0400u /* -ENOBUFS reported this episode */
#define PN__O_OPENING	0x0800u /* connect or open not done yet */
#define PN__O_FIXED	0x1000u /* file: fd is a registered-file index */
#define PN__O_COPY	0x2000u /* PN_IO_RECV_COPY */
#define PN__O_WAITQ	0x4000u /* on the shard's writable wait list */
#define PN__O_ENDING	(PN__O_CLOSING | PN__O_ABORT | PN__O_HANDOFF)

#define PN__IOV_MAX 16 /* chunks coalesced into one sendmsg */

/* A handle's object. Lives in the shard's object pool. */
struct pn__io_obj {
	uint8_t kind, shut_how;	 /* enum pn__io_kind; pn_io_shutdown()'s */
	uint32_t flags;		 /* PN__O_* */
	int fd, err;		 /* -1 once closed; what ends it (CLOSED) */
	uint32_t slot, inflight; /* table index; requests in the kernel */
	pn_pid owner;
	struct pn_io_opts opts;	  /* its udata; inherited by accepted sockets */
	struct pn__io_req *recv;  /* the multishot accept/recv, if armed */
	struct pn__io_req *timer; /* backoff timer, if pending */
	struct pn__io_req *qhead, *qtail; /* send queue, oldest first */
	uint32_t nsending;		  /* chunks of the queue in flight */
	uint64_t qbytes;		  /* queued or in flight, bytes */
	uint64_t backoff_ns;		  /* next re-arm delay */
	uint64_t want;			  /* send refused by the shard bound */
	pn_pid to; /* hand-off target (opts.udata: what it gets) */
	struct pn__io_obj *wnext; /* shard's writable wait list */
	struct msghdr smh;	  /* the coalesced send in flight */
	struct iovec siov[PN__IOV_MAX];
};

#define PN__REQ_INLINE 128  /* small send copies live in the request */
#define PN__R_HEAP     0x1u /* req flag: buf is an arena copy of len bytes */
#define PN__R_SENT     0x4u /* zc: off the queue, waiting notifications */

/* One operation in flight (or a queued send). Lives in the req pool. */
struct pn__io_req {
	struct pn__io_obj *obj; /* NULL: nobody waits for its completion */
	struct pn__io_req *next;
	uint8_t op, flags; /* enum pn_io_op; PN__R_* */
	uint32_t len, done,
		notifs; /* bytes; sent so far; zc notifications due */
	int32_t res;	/* zc: what ZC_DONE reports */
	void *buf;
	uint64_t off; /* file offset; fsync flags; shutdown how */
	struct __kernel_timespec
		ts;	  /* timer; connect's link timeout (0: none) */
	struct msghdr mh; /* sendmsg / recvmsg */
	struct iovec iov;
	struct sockaddr_in6 addr; /* sendmsg's or connect's peer (v4 or v6) */
	socklen_t alen;
	unsigned char inl[PN__REQ_INLINE]; /* small send copies */
};

/* Per-shard state: pn_ctx_poller_data() of each shard. */
struct pn__io_shard {
	struct pn_ctx *ctx;
	struct io_uring *ring;
	const struct pn__io_backend *be;
	const struct pn_io_config *cfg;
	unsigned id;
	struct pn_arena *arena;
	struct pn_pool *req_pool, *obj_pool;
	struct pn__io_obj **tab;    /* slot -> object (NULL: free) */
	uint32_t *gen, *free_slots; /* slot -> generation; free slots (stack) */
	uint32_t nfree, nused;	    /* stack depth; slots ever used */
	uint64_t qbytes;	    /* all send queues */
	struct pn__io_obj *waitq;   /* conns waiting for shard-wide room */
	void *bufs, *br;	    /* receive buffers, their ring (lazily) */
	size_t bufs_len, br_len;
	int files_ok;	/* file table: 1 registered, -1 none, 0 not yet */
	void *fbufs;	/* file_bufs * file_buf_size (mapped) */
	bool fbufs_reg; /* ... and registered with the ring */
	uint32_t *fbuf_free, fbuf_nfree; /* free file buffers (stack) */
	unsigned char *copy;		 /* RECV_COPY staging: ev + buf_size */
	struct pn_io_stats st;
};

#define pn__io_shard(ctx) ((struct pn__io_shard *)pn_ctx_poller_data(ctx))
int pn__obj_new(struct pn__io_shard *sh, int kind, int fd, pn_pid owner,
		struct pn__io_obj **out);
int pn__obj_get(struct pn_ctx *ctx, pn_io_handle h, struct pn__io_shard **sh,
		struct pn__io_obj **out);
pn_io_handle pn__obj_handle(const struct pn__io_shard *sh,
			    const struct pn__io_obj *o);
void pn__obj_free(struct pn__io_shard *sh, struct pn__io_obj *o);
struct pn__io_req *pn__req_new(struct pn__io_shard *sh, struct pn__io_obj *o,
			       int op);
int pn__req_copy(struct pn__io_shard *sh, struct pn__io_req *r,
		 const void *data, size_t len);
void pn__req_free(struct pn__io_shard *sh, struct pn__io_req *r);
int pn__issue(struct pn__io_shard *sh, struct pn__io_req *r);
int pn__deliver(struct pn__io_shard *sh, struct pn__io_obj *o, uint32_t type,
		int32_t res, uint16_t op, uint64_t v);
int pn__opts_set(int fd, const struct pn_io_opts *o, bool tcp);
int pn__recv_arm(struct pn__io_shard *sh, struct pn__io_obj *o);
void pn__backoff(struct pn__io_shard *sh, struct pn__io_obj *o);
int pn__queue_room(struct pn__io_shard *sh, struct pn__io_obj *o, size_t len,
		   bool copy);
void pn__queue_account(struct pn__io_shard *sh, struct pn__io_obj *o,
		       int64_t delta);
void pn__queue_drop(struct pn__io_shard *sh, struct pn__io_obj *o);
void pn__enqueue(struct pn__io_shard *sh, struct pn__io_obj *o,
		 struct pn__io_req *r);
void pn__send_kick(struct pn__io_shard *sh, struct pn__io_obj *o);
void pn__send_cleanup(struct pn__io_shard *sh, struct pn__io_req *r);
void pn__fail(struct pn__io_shard *sh, struct pn__io_obj *o, int err);
void pn__settle(struct pn__io_shard *sh, struct pn__io_obj *o);
int pn__sock_new(struct pn_ctx *ctx, int kind, const struct sockaddr *addr,
		 socklen_t len, const struct pn_io_opts *o,
		 struct pn__io_obj **out);
void pn__dgram_deliver(struct pn__io_shard *sh, struct pn__io_req *r,
		       unsigned bid, int32_t res);
void pn__file_close_fd(struct pn__io_shard *sh, struct pn__io_obj *f);
bool pn__fbuf_owns(const struct pn__io_shard *sh, const void *p, size_t len);

/* The complete column of the op table (front end, shared by backends). */
#define PN__DONE(name)                                                         \
	void pn__##name##_done(struct pn__io_shard *sh, struct pn__io_req *r,  \
			       const struct pn__io_cqe *c)
/* clang-format off */
PN__DONE(accept); PN__DONE(connect); PN__DONE(recv); PN__DONE(send);
PN__DONE(sendmsg); PN__DONE(shutdown); PN__DONE(timer); PN__DONE(file);
/* clang-format on */

void *pn__buf_addr(const struct pn__io_shard *sh, unsigned bid); /* uring.c */
extern const struct pn__io_op_cold pn__io_cold[PN_IO_OP_COUNT];	 /* io.c */

#endif /* PN_IO_INT_H */
