// SPDX-License-Identifier: MIT
/*
 * io/'s frame: the configuration, the poller hooks that give every shard
 * its own io state (made on the shard at start, torn down there in the
 * shutdown's io stage), the handle table, requests, socket options and the
 * one function every completion uses to reach an actor (pn__deliver).
 *
 * Lifetime. The per-runtime struct pn__io holds only the configuration; it
 * is freed by the last shard to run its shutdown hook (refs starts at the
 * number of shard threads, supervisor included). Each shard's state lives
 * in an arena of its own, created on that shard (NUMA-local), so teardown
 * is: cancel everything in the kernel synchronously, close descriptors,
 * destroy the arena. CQEs still in the ring after that carry pointers into
 * freed memory; the complete hook never looks at them, because the shard's
 * poller data is NULL by then. Also here: the names of errors, operations
 * and messages, and the cold half of the op table.
 */
#include "io_int.h"
#include "pn_migrate.h" /* pn_where(): is an owner still alive */

#include <errno.h>
#include <liburing.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SLOT_BITS 22
#define GEN_MASK  0xffffffffull

/* Per-runtime state: the configuration and how many shards still hold it. */
struct pn__io {
	struct pn_io_config cfg;
	_Atomic unsigned refs; /* shard threads yet to run the shutdown hook */
};

void pn_io_config_init(struct pn_io_config *c)
{
	*c = (struct pn_io_config){
		.buf_count = 1024,
		.buf_size = 4096,
		.max_handles = 65536,
		.send_queue_bytes = 1u << 20,
		.shard_send_bytes = 64ull << 20,
		.files = 256,
		.file_buf_size = 64u << 10,
		.file_bufs = 0,
		.nobufs_backoff_ns = 100000,
		.sweep_ns = 100000000,
	};
}

static int config_check(const struct pn_io_config *c)
{
	const char *bad = NULL;

	if (!c->buf_count || c->buf_count > 32768 ||
	    (c->buf_count & (c->buf_count - 1)))
		bad = "buf_count: a power of two, 1..32768";
	else if (c->buf_size < 64 || c->buf_size > (1u << 20))
		bad = "buf_size: 64 bytes..1 MiB";
	else if (!c->max_handles || c->max_handles > (1u << SLOT_BITS) - 1)
		bad = "max_handles: 1..4194303";
	else if (!c->send_queue_bytes ||
		 c->shard_send_bytes < c->send_queue_bytes)
		bad = "send_queue_bytes: > 0 and <= shard_send_bytes";
	else if (c->files > (1u << 20))
		bad = "files: at most 1048576";
	else if (c->file_bufs > 65536 ||
		 (c->file_bufs &&
		  (c->file_buf_size < 512 ||
		   (uint64_t)c->file_bufs * c->file_buf_size > (1ull << 30))))
		bad = "file_bufs/file_buf_size: at most 65536 buffers of "
		      ">= 512 bytes, 1 GiB in all";
	else if (!c->nobufs_backoff_ns)
		bad = "nobufs_backoff_ns: > 0";
	else if (c->conn_bufs > c->buf_count)
		bad = "conn_bufs: at most buf_count (0: a fair share)";
	else if (c->sweep_ns < 1000000 || c->sweep_ns > 10000000000ull)
		bad = "sweep_ns: 1 ms..10 s";
	if (bad)
		return pn__error(-EINVAL, "pn_io_init: %s", bad);
	return 0;
}

/* --- the shard's state ------------------------------------------------- */

static size_t tab_bytes(uint32_t n)
{
	return (size_t)n * (sizeof(void *) + 2 * sizeof(uint32_t));
}

static int shard_tables(struct pn__io_shard *sh)
{
	uint32_t n = sh->cfg->max_handles;
	/* Lazily touched: a shard pays for the slots it uses. */
	void *p = mmap(NULL, tab_bytes(n), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return -ENOMEM;
	sh->tab = p;
	sh->gen = (uint32_t *)(sh->tab + n);
	sh->free_slots = sh->gen + n;
	if (pn_pool_create(sh->arena, sizeof(struct pn__io_req), 0,
			   &sh->req_pool) < 0 ||
	    pn_pool_create(sh->arena, sizeof(struct pn__io_obj), 0,
			   &sh->obj_pool) < 0)
		return -ENOMEM;
	sh->copy = pn_arena_alloc(sh->arena,
				  sizeof(struct pn_io_ev) + sh->cfg->buf_size);
	sh->lent_to = pn_arena_zalloc(sh->arena, (size_t)sh->cfg->buf_count *
							 sizeof(pn_io_handle));
	return sh->copy && sh->lent_to ? 0 : -ENOMEM;
}

static void attach(struct pn_ctx *ctx, void *arg)
{
	struct pn__io *io = arg;
	const struct pn_plan *plan = pn_runtime_plan(pn_ctx_runtime(ctx));
	unsigned id = pn_shard(ctx);
	int node = id < plan->nshards ? plan->shard[id].numa_node
				      : plan->supervisor_numa_node;
	struct pn__io_shard *sh;
	struct pn_arena *a;

	/* A shard whose io state cannot be made has none: its io calls
	 * return -ENODEV, and the other shards are unaffected. */
	if (pn_arena_create(node, &a) < 0)
		return;
	sh = pn_arena_zalloc(a, sizeof(*sh));
	if (!sh) {
		pn_arena_destroy(a);
		return;
	}
	sh->ctx = ctx;
	sh->ring = pn_ctx_ring(ctx);
	sh->be = &pn__io_uring;
	sh->cfg = &io->cfg;
	sh->id = id;
	sh->arena = a;
	if (shard_tables(sh) < 0) {
		if (sh->tab)
			munmap(sh->tab, tab_bytes(sh->cfg->max_handles));
		pn_arena_destroy(a);
		return;
	}
	pn_ctx_set_poller_data(ctx, sh);
}

/*
 * PN_STAGE_IO: every actor has stopped. Cancel what is in the kernel and
 * wait for it (detach), close every descriptor, free everything.
 */
static void shutdown_hook(struct pn_ctx *ctx, void *arg)
{
	struct pn__io *io = arg;
	struct pn__io_shard *sh = pn_ctx_poller_data(ctx);

	if (sh) {
		uint32_t n = sh->cfg->max_handles;
		void *tab = sh->tab;

		sh->be->detach(sh);
		for (uint32_t i = 0; i < sh->nused; i++) {
			struct pn__io_obj *o = sh->tab[i];

			if (o && o->fd >= 0 && !(o->flags & PN__O_FIXED))
				close(o->fd);
		}
		pn_ctx_set_poller_data(ctx, NULL);
		pn_arena_destroy(sh->arena);
		munmap(tab, tab_bytes(n));
	}
	/* acq_rel: the last shard's free happens after every other
	 * shard's last use of io->cfg (their release decrements). */
	if (atomic_fetch_sub_explicit(&io->refs, 1, memory_order_acq_rel) == 1)
		free(io);
}

int pn_io_init(struct pn_runtime *rt, const struct pn_io_config *c)
{
	struct pn__io *io;
	struct pn_poller p;
	int err;

	if (!rt)
		return pn__error(-EINVAL, "pn_io_init: no runtime");
	io = calloc(1, sizeof(*io));
	if (!io)
		return pn__error(-ENOMEM, "pn_io_init: out of memory");
	if (c)
		io->cfg = *c;
	else
		pn_io_config_init(&io->cfg);
	if ((err = config_check(&io->cfg)) < 0) {
		free(io);
		return err;
	}
	atomic_init(&io->refs, pn_runtime_nshards(rt) + 1);
	p = (struct pn_poller){.name = "io",
			       .attach = attach,
			       .complete = pn__io_uring.reap,
			       .shutdown = shutdown_hook,
			       .arg = io};
	if ((err = pn_poller_register(rt, &p)) < 0)
		free(io);
	return err;
}

/* --- handles -------------------------------------------------------------
 */

pn_io_handle pn__obj_handle(const struct pn__io_shard *sh,
			    const struct pn__io_obj *o)
{
	return (pn_io_handle)sh->id << 54 | (pn_io_handle)o->slot << 32 |
	       sh->gen[o->slot];
}

int pn__obj_new(struct pn__io_shard *sh, int kind, int fd, pn_pid owner,
		struct pn__io_obj **out)
{
	struct pn__io_obj *o;
	uint32_t slot;

	if (!sh->nfree && sh->nused == sh->cfg->max_handles)
		return pn__error(-EMFILE,
				 "io: shard %u has no free handle "
				 "(max_handles %u)",
				 sh->id, sh->cfg->max_handles);
	o = pn_pool_alloc(sh->obj_pool);
	if (!o)
		return pn__error(-ENOMEM, "io: out of memory for a handle");
	slot = sh->nfree ? sh->free_slots[--sh->nfree] : sh->nused++;
	memset(o, 0, sizeof(*o));
	o->kind = (uint8_t)kind;
	o->fd = fd;
	o->slot = slot;
	o->owner = owner;
	/* Generation 0 never names a live handle (PN_IO_NONE is 0). */
	if (++sh->gen[slot] == 0)
		sh->gen[slot] = 1;
	sh->tab[slot] = o;
	sh->st.handles++;
	*out = o;
	if (kind == PN__K_TCP) {
		sh->ntcp++;
		pn__share_changed(sh);
	}
	return 0;
}

void pn__obj_free(struct pn__io_shard *sh, struct pn__io_obj *o)
{
	pn_assert(o->inflight == 0 && !o->qhead);
	pn__unguard(sh, o);
	if (o->kind == PN__K_TCP) {
		sh->ntcp--;
		pn__share_changed(sh);
	}
	sh->tab[o->slot] = NULL;
	sh->gen[o->slot]++; /* the handle is stale from now on */
	sh->free_slots[sh->nfree++] = o->slot;
	sh->st.handles--;
	o->kind = PN__K_FREE;
	pn_pool_free(sh->obj_pool, o);
}

/* The live object @h names on @sh, or NULL (stale, none, elsewhere). */
struct pn__io_obj *pn__obj_find(const struct pn__io_shard *sh, pn_io_handle h)
{
	uint32_t slot = (uint32_t)(h >> 32) & ((1u << SLOT_BITS) - 1);
	struct pn__io_obj *o;

	if (h == PN_IO_NONE || pn_io_handle_shard(h) != sh->id ||
	    slot >= sh->nused || !(o = sh->tab[slot]) ||
	    sh->gen[slot] != (uint32_t)(h & GEN_MASK))
		return NULL;
	return o;
}

int pn__obj_get(struct pn_ctx *ctx, pn_io_handle h, struct pn__io_shard **shp,
		struct pn__io_obj **out)
{
	struct pn__io_shard *sh = pn__io_shard(ctx);
	struct pn__io_obj *o;

	*out = NULL;
	if (PN_UNLIKELY(!sh))
		return pn__error(-ENODEV, "io: not initialised on shard %u",
				 pn_shard(ctx));
	if (PN_UNLIKELY(pn_io_handle_shard(h) != sh->id))
		return pn__error(-EXDEV,
				 "io: handle of shard %u used on "
				 "shard %u",
				 pn_io_handle_shard(h), sh->id);
	if (PN_UNLIKELY(!(o = pn__obj_find(sh, h))))
		return pn__error(-EBADF, "io: stale or unknown handle %#llx",
				 (unsigned long long)h);
	*shp = sh;
	*out = o;
	return 0;
}

/* --- requests ------------------------------------------------------------
 */

struct pn__io_req *pn__req_new(struct pn__io_shard *sh, struct pn__io_obj *o,
			       int op)
{
	struct pn__io_req *r = pn_pool_alloc(sh->req_pool);

	if (PN_UNLIKELY(!r)) {
		pn__error(-ENOMEM, "io: out of memory for a request");
		return NULL;
	}
	/* The header and timeout (0: none); the message header, address
	 * and inline bytes are written by whoever uses them. */
	memset(r, 0, offsetof(struct pn__io_req, mh));
	r->obj = o;
	r->op = (uint8_t)op;
	return r;
}

/* Copy @len bytes into @r: inline when they fit, else an arena copy. */
int pn__req_copy(struct pn__io_shard *sh, struct pn__io_req *r,
		 const void *data, size_t len)
{
	if (len <= PN__REQ_INLINE) {
		r->buf = r->inl;
	} else {
		r->buf = pn_arena_alloc(sh->arena, len);
		if (!r->buf)
			return pn__error(-ENOMEM, "io: no memory for %zu bytes",
					 len);
		r->flags |= PN__R_HEAP;
	}
	memcpy(r->buf, data, len);
	r->len = (uint32_t)len;
	return 0;
}

void pn__req_free(struct pn__io_shard *sh, struct pn__io_req *r)
{
	if (r->flags & PN__R_HEAP)
		pn_arena_free(sh->arena, r->buf, r->len);
	pn_pool_free(sh->req_pool, r);
}

/* Hand @r to the backend; its object waits for one more completion. */
int pn__issue(struct pn__io_shard *sh, struct pn__io_req *r)
{
	int err = sh->be->ops[r->op].issue(sh, r);

	if (PN_LIKELY(err == 0 && r->obj))
		r->obj->inflight++;
	return err;
}

/* --- messages ------------------------------------------------------------
 */

/*
 * Whether @type, for an owner that has stopped, is better not sent: it
 * carries nothing to give back (FILE and ZC_DONE carry the caller's
 * buffers, which a dead-letter hook may free; ACCEPT's connection is
 * closed by its caller when the delivery fails), and as a dead letter it
 * would only count against the runtime's accounting. The owner lives on
 * this shard and stops synchronously, so "gone" is exact here.
 */
static bool owner_gone(struct pn__io_shard *sh, uint32_t type, pn_pid owner)
{
	unsigned where;

	if (type == PN_MSG_IO_FILE || type == PN_MSG_IO_ZC_DONE)
		return false;
	return pn_where(pn_ctx_runtime(sh->ctx), owner, &where) == -ESRCH;
}

int pn__deliver(struct pn__io_shard *sh, struct pn__io_obj *o, uint32_t type,
		int32_t res, uint16_t op, uint64_t v)
{
	struct pn_io_ev ev = {.h = pn__obj_handle(sh, o),
			      .udata = o->opts.udata,
			      .res = res,
			      .op = op,
			      .buf = PN_IO_NOBUF,
			      .v = v};
	int err;

	if ((type == PN_MSG_IO_ERROR || type == PN_MSG_IO_CLOSED) && res < 0)
		sh->st.errors++;
	if (PN_UNLIKELY(owner_gone(sh, type, o->owner))) {
		sh->st.orphaned++;
		return -ESRCH;
	}
	err = pn_ctx_deliver(sh->ctx, o->owner, type, &ev, sizeof(ev));
	if (PN_UNLIKELY(err < 0))
		sh->st.dropped++;
	return err;
}

int pn_io_stats_get(struct pn_ctx *ctx, struct pn_io_stats *out)
{
	struct pn__io_shard *sh = pn__io_shard(ctx);

	if (!sh)
		return pn__error(-ENODEV, "io: not initialised on shard %u",
				 pn_shard(ctx));
	*out = sh->st;
	return 0;
}

/* --- options ------------------------------------------------------------- */

static int set_int(int fd, int level, int name, int v, const char *what)
{
	if (setsockopt(fd, level, name, &v, sizeof(v)) < 0)
		return pn__error(-errno, "io: setsockopt %s=%d: %s", what, v,
				 strerror(errno));
	return 0;
}

/*
 * Apply what can change on an open socket. Failures are reported through
 * pn_last_error() and the first one returned; the other options are still
 * tried (an unprivileged busy-poll must not cost a connection NODELAY).
 */
int pn__opts_set(int fd, const struct pn_io_opts *o, bool tcp)
{
	int err = 0, e = 0;

	if (tcp && (o->flags & PN_IO_NODELAY))
		e = set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY");
	err = e;
	if (o->rcvbuf > 0)
		e = set_int(fd, SOL_SOCKET, SO_RCVBUF, o->rcvbuf, "SO_RCVBUF");
	err = err ? err : e;
	if (o->sndbuf > 0)
		e = set_int(fd, SOL_SOCKET, SO_SNDBUF, o->sndbuf, "SO_SNDBUF");
	err = err ? err : e;
	if (o->busy_poll_us > 0) {
		e = set_int(fd, SOL_SOCKET, SO_BUSY_POLL, o->busy_poll_us,
			    "SO_BUSY_POLL");
		if (e == 0)
			e = set_int(fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, 1,
				    "SO_PREFER_BUSY_POLL");
	}
	return err ? err : e;
}

int pn_io_setopt(struct pn_ctx *ctx, pn_io_handle h, const struct pn_io_opts *o)
{
	struct pn__io_shard *sh;
	struct pn__io_obj *ob;
	int err = pn__obj_get(ctx, h, &sh, &ob);

	if (err < 0)
		return err;
	if (!o || ob->kind == PN__K_FILE || ob->fd < 0)
		return pn__error(-EINVAL, "pn_io_setopt: not a socket");
	if ((err = pn__opts_set(ob->fd, o, ob->kind != PN__K_UDP)) < 0 ||
	    (ob->kind == PN__K_UDP && (err = pn__mcast_set(ob->fd, o)) < 0))
		return err;
	ob->opts.flags = (ob->opts.flags & ~PN_IO_RECV_COPY) |
			 (o->flags & PN_IO_RECV_COPY);
	ob->flags = (ob->flags & ~PN__O_COPY) |
		    ((o->flags & PN_IO_RECV_COPY) ? PN__O_COPY : 0);
	return 0;
}

int pn_io_set_owner(struct pn_ctx *ctx, pn_io_handle h, pn_pid owner)
{
	struct pn__io_shard *sh;
	struct pn__io_obj *o;
	int err = pn__obj_get(ctx, h, &sh, &o);

	if (err < 0)
		return err;
	if (owner == PN_PID_NONE || pn_pid_shard(owner) != sh->id)
		return pn__error(-EINVAL,
				 "pn_io_set_owner: the owner must "
				 "live on shard %u (use "
				 "pn_io_handoff)",
				 sh->id);
	o->owner = owner;
	return 0;
}

int pn_io_set_udata(struct pn_ctx *ctx, pn_io_handle h, uint64_t udata)
{
	struct pn__io_shard *sh;
	struct pn__io_obj *o;
	int err = pn__obj_get(ctx, h, &sh, &o);

	if (err < 0)
		return err;
	o->opts.udata = udata;
	return 0;
}

int pn_io_fd(struct pn_ctx *ctx, pn_io_handle h)
{
	struct pn__io_shard *sh;
	struct pn__io_obj *o;
	int err = pn__obj_get(ctx, h, &sh, &o);

	if (err < 0)
		return err;
	if (o->fd < 0 || (o->flags & PN__O_FIXED))
		return pn__error(-EBADF, "pn_io_fd: no plain descriptor");
	return o->fd;
}

/* --- names ----------------------------------------------------------------
 *
 * The cold half of the op table (names and cleanups, touched only on
 * errors and teardown) and the names io/ gives errors and messages, so
 * that a log line says "ECONNREFUSED (connection refused)" and "recv",
 * not "-111" and "3". The cold table is the front end's: every backend
 * shares it, since what a dropped request must give back (a copy to free,
 * a lent buffer to return) does not depend on how it was issued.
 */

const struct pn__io_op_cold pn__io_cold[PN_IO_OP_COUNT] = {
	[PN_IO_OP_NONE] = {"none", NULL},
	[PN_IO_OP_ACCEPT] = {"accept", NULL},
	[PN_IO_OP_CONNECT] = {"connect", NULL},
	[PN_IO_OP_RECV] = {"recv", NULL},
	[PN_IO_OP_SEND] = {"send", pn__send_cleanup},
	[PN_IO_OP_SEND_ZC] = {"send_zc", pn__send_cleanup},
	[PN_IO_OP_RECVMSG] = {"recvmsg", NULL},
	[PN_IO_OP_SENDMSG] = {"sendmsg", NULL},
	[PN_IO_OP_SHUTDOWN] = {"shutdown", NULL},
	[PN_IO_OP_CANCEL] = {"cancel", NULL},
	[PN_IO_OP_TIMEOUT] = {"timeout", NULL},
	[PN_IO_OP_OPEN] = {"open", NULL},
	[PN_IO_OP_READ] = {"read", NULL},
	[PN_IO_OP_WRITE] = {"write", NULL},
	[PN_IO_OP_FSYNC] = {"fsync", NULL},
	[PN_IO_OP_CLOSE] = {"close", NULL},
};

const char *pn_io_op_name(unsigned op)
{
	return op < PN_IO_OP_COUNT ? pn__io_cold[op].name : "unknown";
}

const char *pn_io_msg_name(uint32_t type)
{
	static const char *const names[] = {
		NULL,	  "accept", "connected", "data",    "eof",   "writable",
		"closed", "error",  "zc_done",	 "handoff", "dgram", "file",
	};

	if (type <= PN_MSG_IO || type > PN_MSG_IO_FILE)
		return NULL;
	return names[type - PN_MSG_IO];
}

#define E(name, text)                                                          \
	{                                                                      \
		name, #name " (" text ")"                                      \
	}

/* The errors a socket or file operation reports in practice. */
static const struct {
	int err;
	const char *text;
} errs[] = {
	E(ECONNREFUSED, "connection refused"),
	E(ECONNRESET, "connection reset by peer"),
	E(ECONNABORTED, "connection aborted"),
	E(ETIMEDOUT, "timed out"),
	E(EPIPE, "broken pipe: the connection is closed for sending"),
	E(ENOBUFS, "no buffer space: receive ring empty or send queues full"),
	E(EAGAIN, "try again: the send queue is full"),
	E(EMSGSIZE, "message too long"),
	E(ENOTCONN, "not connected"),
	E(EHOSTUNREACH, "host unreachable"),
	E(ENETUNREACH, "network unreachable"),
	E(EADDRINUSE, "address in use"),
	E(EADDRNOTAVAIL, "address not available"),
	E(EACCES, "permission denied"),
	E(EPERM, "operation not permitted"),
	E(EMFILE, "too many open handles or files"),
	E(ENFILE, "too many open files in the system"),
	E(ENOMEM, "out of memory"),
	E(ECANCELED, "cancelled"),
	E(EBADF, "stale or closed handle"),
	E(EXDEV, "handle belongs to another shard"),
	E(EINVAL, "invalid argument"),
	E(EALREADY, "already in progress"),
	E(EBUSY, "busy"),
	E(ENODEV, "io/ is not initialised on this shard"),
	E(ENOENT, "no such file or directory"),
	E(EEXIST, "file exists"),
	E(EISDIR, "is a directory"),
	E(ENOSPC, "no space left"),
	E(EIO, "input/output error"),
	E(EINTR, "interrupted"),
	E(EOPNOTSUPP, "operation not supported"),
};

const char *pn_io_strerror(int err)
{
	static _Thread_local char other[64];

	if (err == 0)
		return "OK (no error)";
	for (unsigned i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		if (errs[i].err == -err || errs[i].err == err)
			return errs[i].text;
	snprintf(other, sizeof(other), "errno %d (%s)", err < 0 ? -err : err,
		 strerror(err < 0 ? -err : err));
	return other;
}
