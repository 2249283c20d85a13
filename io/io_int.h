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

#include "io_backend.h"
#include "pn_alloc.h"
#include "pn_backend.h"
#include "pn_io.h"
#include "pn_metrics.h"

#include <linux/time_types.h> /* the rest comes with pn_io.h */
struct pn__io_shard;
struct pn__io_req;

enum pn__io_kind { PN__K_FREE, PN__K_LISTEN, PN__K_TCP, PN__K_UDP, PN__K_FILE };

/* struct pn__io_obj flags */
#define PN__O_RECV	0x0001u	 /* the owner wants to receive (re-arm) */
#define PN__O_ARMED	0x0002u	 /* a multishot accept/recv is in the kernel */
#define PN__O_BACKOFF	0x0004u	 /* a re-arm timer is pending */
#define PN__O_SENDING	0x0008u	 /* a send is in the kernel */
#define PN__O_CLOSING	0x0010u	 /* pn_io_close(): flush, then close */
#define PN__O_ABORT	0x0020u	 /* drop the queue, close at once */
#define PN__O_HANDOFF	0x0040u	 /* drain, then hand the fd over */
#define PN__O_SHUT_WR	0x0080u	 /* no more sends */
#define PN__O_SHUT_PEND 0x0100u	 /* a shutdown waits for the queue */
#define PN__O_WRITABLE	0x0200u	 /* owner wants PN_MSG_IO_WRITABLE */
#define PN__O_NOBUFS	0x0400u	 /* -ENOBUFS reported this episode */
#define PN__O_OPENING	0x0800u	 /* connect or open not done yet */
#define PN__O_FIXED	0x1000u	 /* file: fd is a registered-file index */
#define PN__O_COPY	0x2000u	 /* PN_IO_RECV_COPY */
#define PN__O_WAITQ	0x4000u	 /* on the shard's writable wait list */
#define PN__O_CAPPED	0x8000u	 /* receive paused: at its buffer share */
#define PN__O_GUARD	0x10000u /* on the shard's guarded list */
#define PN__O_LINGER	0x20000u /* pn_io_close_linger(): FIN, await EOF */
#define PN__O_GOTEOF	0x40000u /* the peer's EOF came */
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
	uint32_t lent;		  /* receive buffers lent now (guard.c) */
	uint32_t act, moved;	  /* ticks: last activity, last sent byte */
	uint64_t deadline;	  /* pn_io_set_deadline(), ns; 0: none */
	struct pn__io_obj *gprev, *gnext; /* the shard's guarded list */
	struct msghdr smh;		  /* the coalesced send in flight */
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
	pn_io_handle *lent_to;	    /* buffer id -> connection it is lent to */
	uint32_t ntcp;		    /* TCP connections open (the share) */
	uint32_t share;		    /* what receives were armed for */
	bool no_recv_limit;	    /* the kernel refused optlen: none */
	uint32_t tick;		    /* sweeps so far */
	struct pn__io_obj *guarded; /* connections with deadlines */
	struct pn__io_req *sweep;   /* the pending sweep timer, if any */
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
struct pn__io_obj *pn__obj_find(const struct pn__io_shard *sh, pn_io_handle h);
struct pn__io_req *pn__req_new(struct pn__io_shard *sh, struct pn__io_obj *o,
			       int op);
int pn__req_copy(struct pn__io_shard *sh, struct pn__io_req *r,
		 const void *data, size_t len);
void pn__req_free(struct pn__io_shard *sh, struct pn__io_req *r);
int pn__issue(struct pn__io_shard *sh, struct pn__io_req *r);
int pn__deliver(struct pn__io_shard *sh, struct pn__io_obj *o, uint32_t type,
		int32_t res, uint16_t op, uint64_t v);
int pn__opts_set(int fd, const struct pn_io_opts *o, bool tcp);
int pn__mcast_set(int fd, const struct pn_io_opts *o);
int pn__recv_arm(struct pn__io_shard *sh, struct pn__io_obj *o);
void pn__backoff(struct pn__io_shard *sh, struct pn__io_obj *o);
void pn__rearm(struct pn__io_shard *sh, struct pn__io_obj *o);
/* guard.c: the receive share and deadlines */
uint32_t pn__share(const struct pn__io_shard *sh);
void pn__share_changed(struct pn__io_shard *sh);
uint32_t pn__recv_limit(const struct pn__io_shard *sh,
			const struct pn__io_obj *o);
void pn__lend(struct pn__io_shard *sh, struct pn__io_obj *o, unsigned bid);
void pn__lend_back(struct pn__io_shard *sh, unsigned bid);
void pn__guard(struct pn__io_shard *sh, struct pn__io_obj *o);
void pn__unguard(struct pn__io_shard *sh, struct pn__io_obj *o);
void pn__deadline_set(struct pn__io_shard *sh, struct pn__io_obj *o,
		      uint64_t after_ns);
void pn__sweep_done(struct pn__io_shard *sh, struct pn__io_req *r);
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
