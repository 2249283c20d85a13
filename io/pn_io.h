/* SPDX-License-Identifier: MIT */
/*
 * io/: TCP, UDP and files over each shard's own io_uring. An operation is
 * started by a handler on the handle's shard; its completion comes back to
 * the handle's owner as a message (PN_MSG_IO_*, payload struct pn_io_ev)
 * through the one dispatch path. Nothing blocks; nothing is retried behind
 * the actor's back but multishot re-arming and no-buffer backoff.
 *
 * Set-up: pn_io_init(rt, &cfg) after pn_runtime_create() and before
 * pn_runtime_start(); it registers io/ as the runtime's poller. Teardown is
 * part of pn_runtime_shutdown() (its "io" stage, after every actor has
 * stopped): every operation still in the kernel is cancelled and every
 * socket and file closed at once. Bytes still queued for sending are
 * dropped unsent, and a socket closed with unread input makes the kernel
 * reset it (the peer sees ECONNRESET): an actor that wants its peers to
 * get everything closes its connections itself while it runs, with
 * pn_io_close_linger() (flush, FIN, wait for the peer's EOF, bounded).
 *
 * Handles. A pn_io_handle names a listener, a TCP connection, a UDP socket
 * or a file on the shard it was made on (shard | slot | generation, like a
 * PID: a stale one is never confused with a newer one); calls from
 * another shard fail with -EXDEV. Any actor on that shard may use it; its
 * messages go to its owner (its maker, see pn_io_set_owner()). A
 * connection moves to another shard by pn_io_handoff().
 *
 * Every handle ends with exactly one PN_MSG_IO_CLOSED (res 0, or the
 * -errno that ended it), except a failed connect or open, which ends with
 * its CONNECTED or FILE message. io/ sends the messages that carry
 * nothing to give back (CLOSED, ERROR, EOF, WRITABLE, CONNECTED; and
 * ACCEPT: its connection is closed) only to an owner still alive, so a
 * handle closed in the owner's STOPPING or cleanup, or during shutdown,
 * ends without a dead letter (pn_io_stats.orphaned counts them; one
 * already queued when the owner stops is still a dead letter). A handle
 * io/ ends itself (a reset, a failed send) is stale from the moment it
 * ends: calls on it from handlers still working through messages queued
 * before the CLOSED get -EBADF (treat it like -EPIPE). Errors that do
 * not end the handle come as PN_MSG_IO_ERROR. A failure on one
 * connection never touches another.
 *
 * Received data (PN_MSG_IO_DATA, PN_MSG_IO_DGRAM) is lent from the shard's
 * provided-buffer ring: the actor must give each buffer back with
 * pn_io_buf_release() (at once, or later from any handler on the same
 * shard), or the ring runs dry and receives stall (reported as -ENOBUFS,
 * re-armed with backoff). With PN_IO_RECV_COPY (TCP) the data is copied
 * into the message instead and the buffer goes back before the message is
 * even delivered: automatic and safe, at the cost of one copy (io/ does
 * not see when a message is handled, so lending cannot release it
 * itself). A lent buffer whose DATA message becomes a dead letter (its
 * owner stopped) is lost to the ring: close connections in the owner's
 * cleanup.
 *
 * Calling context: "handler" as in pn_core.h (on the handle's shard);
 * "external" before the runtime starts; "any" anywhere.
 */
#ifndef PN_IO_H
#define PN_IO_H

#include "pn_core.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A listener, connection, UDP socket or file: shard | slot | generation. */
typedef uint64_t pn_io_handle;
#define PN_IO_NONE ((pn_io_handle)0)

static inline unsigned pn_io_handle_shard(pn_io_handle h)
{
	return (unsigned)(h >> 54);
}

/* --- messages --------------------------------------------------------- */

/*
 * Message types (payload: struct pn_io_ev unless said otherwise). "ev.x"
 * names the field that carries something for that type.
 */
#define PN_MSG_IO_ACCEPT    (PN_MSG_IO + 1)  /* ev.conn: new connection */
#define PN_MSG_IO_CONNECTED (PN_MSG_IO + 2)  /* res 0, or -errno (ends it) */
#define PN_MSG_IO_DATA	    (PN_MSG_IO + 3)  /* res bytes; pn_io_data() */
#define PN_MSG_IO_EOF	    (PN_MSG_IO + 4)  /* the peer shut down writing */
#define PN_MSG_IO_WRITABLE  (PN_MSG_IO + 5)  /* send queue drained */
#define PN_MSG_IO_CLOSED    (PN_MSG_IO + 6)  /* the last message */
#define PN_MSG_IO_ERROR	    (PN_MSG_IO + 7)  /* res -errno, op: which */
#define PN_MSG_IO_ZC_DONE   (PN_MSG_IO + 8)  /* ev.data: lent buffer back */
#define PN_MSG_IO_HANDOFF   (PN_MSG_IO + 9)  /* pn_io_adopt() it */
#define PN_MSG_IO_DGRAM	    (PN_MSG_IO + 10) /* UDP datagram (lent) */
#define PN_MSG_IO_FILE	    (PN_MSG_IO + 11) /* a file op completed */

/* Operations, as named in ev.op of ERROR and FILE messages. */
enum pn_io_op {
	PN_IO_OP_NONE,
	PN_IO_OP_ACCEPT,
	PN_IO_OP_CONNECT,
	PN_IO_OP_RECV,
	PN_IO_OP_SEND,
	PN_IO_OP_SEND_ZC,
	PN_IO_OP_RECVMSG,
	PN_IO_OP_SENDMSG,
	PN_IO_OP_SHUTDOWN,
	PN_IO_OP_CANCEL,
	PN_IO_OP_TIMEOUT,
	PN_IO_OP_OPEN,
	PN_IO_OP_READ,
	PN_IO_OP_WRITE,
	PN_IO_OP_FSYNC,
	PN_IO_OP_CLOSE,
	PN_IO_OP_COUNT
};

#define PN_IO_NOBUF	  0xffffu /* ev.buf when nothing is lent */
#define PN_IO_DGRAM_TRUNC 0x1u	  /* ev.op of DGRAM: datagram was cut */

/* The payload of every io message: 32 bytes, inline in the message. */
struct pn_io_ev {
	pn_io_handle h; /* the listener, connection, socket or file */
	uint64_t udata; /* the handle's user data (pn_io_set_udata()) */
	int32_t res;	/* bytes, 0, or -errno */
	uint16_t op;	/* enum pn_io_op (ERROR, FILE); flags (DGRAM) */
	uint16_t buf;	/* lent buffer to release, or PN_IO_NOBUF */
	union {
		void *data;	   /* DATA/DGRAM: the bytes; FILE, ZC_DONE */
		pn_io_handle conn; /* ACCEPT: the new connection */
		uint64_t v;	   /* HANDOFF: private */
	};
};

static inline const struct pn_io_ev *pn_io_ev(const struct pn_msg *m)
{
	return (const struct pn_io_ev *)pn_msg_data(m);
}

/*
 * The received bytes of a DATA or DGRAM message (ev->res of them): lent
 * from the ring (valid until pn_io_buf_release()), or, with
 * PN_IO_RECV_COPY, inside the message (valid until the handler returns).
 */
static inline const void *pn_io_data(const struct pn_msg *m)
{
	const struct pn_io_ev *ev = pn_io_ev(m);

	if (m->len > sizeof(*ev))
		return (const unsigned char *)ev + sizeof(*ev);
	return ev->data;
}

/*
 * Give a lent receive buffer back to the shard's ring (@buf = ev->buf of a
 * DATA or DGRAM message; PN_IO_NOBUF is ignored). Call it once per
 * buffer, on the shard the message came from; a buffer that is not lent
 * out (a second release) is refused, never put in the ring twice.
 * Handler (that shard).
 */
PN_API void pn_io_buf_release(struct pn_ctx *ctx, unsigned buf);

/* --- set-up ------------------------------------------------------------ */

struct pn_io_config {
	uint32_t buf_count;	   /* receive buffers per shard, 2^n; 1024 */
	uint32_t buf_size;	   /* bytes per buffer; 4096 */
	uint32_t conn_bufs;	   /* lent to one connection at most; 0: auto */
	uint64_t sweep_ns;	   /* how often deadlines are checked; 100 ms */
	uint32_t max_handles;	   /* handles per shard; 65536 */
	uint32_t send_queue_bytes; /* per connection; 1 MiB */
	uint64_t shard_send_bytes; /* all queues of a shard; 64 MiB */
	uint32_t files;		   /* registered (fixed) file slots; 256 */
	uint32_t file_buf_size;	   /* registered file buffers: size; 64 KiB */
	uint32_t file_bufs;	   /* ... and how many per shard; 0 (none) */
	uint64_t nobufs_backoff_ns; /* first re-arm after -ENOBUFS; 100 us */
};

/* Fill @c with the defaults above. Any. */
PN_API void pn_io_config_init(struct pn_io_config *c);

/*
 * Attach io/ to @rt (NULL @c: defaults): registers its poller, which sets
 * up each shard's io state on that shard when it starts (buffer rings and
 * file tables lazily, at first use). Call once, after pn_runtime_create()
 * and before pn_runtime_start(). The io state is freed by the shutdown's
 * io stage (a runtime destroyed without ever starting leaks its few
 * bytes: core calls no poller hook then). Returns 0, -EINVAL naming a bad
 * setting, -EBUSY (started, or a poller is already registered), -ENOMEM.
 * External.
 */
PN_API int pn_io_init(struct pn_runtime *rt, const struct pn_io_config *c);

/* --- socket options ------------------------------------------------------ */

#define PN_IO_NODELAY	 0x01u /* TCP_NODELAY */
#define PN_IO_REUSEADDR	 0x02u /* SO_REUSEADDR (listeners, UDP) */
#define PN_IO_REUSEPORT	 0x04u /* SO_REUSEPORT: one listener per shard */
#define PN_IO_RECV_COPY	 0x08u /* copy received data into messages */
#define PN_IO_MCAST_LOOP 0x10u /* UDP: see our own multicast (loopback) */

struct pn_io_opts {
	unsigned flags;	  /* PN_IO_* above */
	int rcvbuf;	  /* SO_RCVBUF bytes; 0: system default */
	int sndbuf;	  /* SO_SNDBUF bytes; 0: system default */
	int busy_poll_us; /* SO_BUSY_POLL + SO_PREFER_BUSY_POLL; 0: off */
	int backlog;	  /* listen(); 0: SOMAXCONN */
	uint64_t udata;	  /* the new handle's user data */
	struct in_addr mcast_if; /* UDP: IP_MULTICAST_IF (0: default) */
	int mcast_ttl; /* UDP: IP_MULTICAST_TTL (0: default; pn_io_udp.h) */
	/* TCP connections (inherited from a listener), see "Deadlines"
	 * below; 0 or UINT64_MAX: none. */
	uint64_t idle_ns;  /* nothing received or sent for this long */
	uint64_t drain_ns; /* queued bytes not moving for this long */
};

/*
 * Apply @o's socket options (NODELAY, buffer sizes, busy-poll; on a UDP
 * socket the multicast ones, see pn_io_udp.h; not REUSE*, which only
 * matter before bind) to an open socket, and its RECV_COPY flag. Returns
 * 0, -EBADF (stale), -EXDEV (other shard), -EINVAL (a bad mcast_ttl),
 * or setsockopt's -errno. Handler.
 */
PN_API int pn_io_setopt(struct pn_ctx *ctx, pn_io_handle h,
			const struct pn_io_opts *o);

/* --- TCP ------------------------------------------------------------ */

/*
 * Listen on @addr (@o may be NULL) on the calling shard, owned by the
 * caller. Each accepted connection comes as PN_MSG_IO_ACCEPT (ev.h the
 * listener, ev.conn the connection, which inherits the listener's options
 * and udata, is owned by the listener's owner and receives nothing until
 * pn_io_recv_start()). With PN_IO_REUSEPORT, an actor on every shard can
 * listen on the same address and the kernel spreads connections over
 * them. Accept failures come as ERROR (op ACCEPT) and the accept is
 * re-armed. Returns 0 and *out, or -errno of socket/bind/listen,
 * -EMFILE (no free handle). Handler.
 */
PN_API int pn_io_listen(struct pn_ctx *ctx, const struct sockaddr *addr,
			socklen_t len, const struct pn_io_opts *o,
			pn_io_handle *out);

/*
 * Connect to @addr; PN_MSG_IO_CONNECTED follows with res 0, or with the
 * -errno (-ECONNREFUSED, -ETIMEDOUT after @timeout_ns, 0: none) that ends
 * the handle (no CLOSED follows a failed connect). Returns 0 and *out, or
 * -errno from socket(). Handler.
 */
PN_API int pn_io_connect(struct pn_ctx *ctx, const struct sockaddr *addr,
			 socklen_t len, const struct pn_io_opts *o,
			 uint64_t timeout_ns, pn_io_handle *out);

/*
 * Start receiving on a connection or UDP socket: multishot receive into
 * the shard's provided-buffer ring, one DATA (DGRAM) message per
 * completion, EOF when the peer shuts down writing (the connection stays
 * open for sending; no EOF comes once the owner is closing it).
 * pn_io_recv_stop() cancels it (messages already sent still arrive).
 *
 * Fair share of the buffer ring. A TCP connection holds at most a
 * share of its shard's receive buffers lent at once (DATA messages not
 * yet given back by pn_io_buf_release()): io_config.conn_bufs, or by
 * default (0) buf_count / (2 * (receiving connections + 1)), at least 2
 * and at most buf_count / 8, recomputed as connections come and go. At
 * its share the connection's receive pauses (no error, nothing lost: the
 * bytes wait in the socket, and TCP flow control slows the peer); it
 * resumes by itself once the owner has released half of what it holds.
 * So connections whose owner keeps their buffers (a peer that does not
 * read its replies, an actor that falls behind) cannot take the buffers
 * every other connection of the shard receives into. A multishot
 * receive may complete a few buffers past the share before the pause
 * takes effect (it is armed with a byte limit of the remaining share, so
 * a burst of full buffers stops exactly there; small segments arriving
 * within one kernel pass can overshoot by a few). RECV_COPY connections
 * and UDP sockets give each buffer back before delivery and are not
 * capped. Counted in pn_io_stats.capped.
 *
 * Returns 0, -EBADF, -EXDEV, -EINVAL (a listener or file, or not
 * connected yet), -EALREADY (receiving), -ENOMEM (the buffer ring could
 * not be set up). Handler.
 */
PN_API int pn_io_recv_start(struct pn_ctx *ctx, pn_io_handle h);
PN_API int pn_io_recv_stop(struct pn_ctx *ctx, pn_io_handle h);

/*
 * Queue a copy of @len bytes for sending; sends leave in order. Bounded:
 * -EAGAIN when this connection's queue (send_queue_bytes) is full,
 * -ENOBUFS when the shard's (shard_send_bytes) is; either way nothing was
 * queued and one PN_MSG_IO_WRITABLE comes when the queue is back under
 * half and the refused send fits the shard's room. -EMSGSIZE when @len
 * exceeds the queue itself (use pn_io_send_zc()); -EPIPE after
 * pn_io_shutdown(SHUT_WR) or close; -EBADF, -EXDEV. Sends made while
 * connecting wait for the connection. A send the kernel fails ends the
 * connection (CLOSED with the -errno). Handler.
 */
PN_API int pn_io_send(struct pn_ctx *ctx, pn_io_handle h, const void *data,
		      size_t len);

/*
 * Send @len bytes at @buf without copying them (IORING_OP_SEND_ZC), for
 * large buffers (a copy is cheaper below ~16 KiB). The buffer is lent to
 * the kernel: do not touch it until PN_MSG_IO_ZC_DONE (ev.data == @buf,
 * res = bytes sent or -errno, after the kernel's notification that it let
 * go of the pages) gives it back. Ordered with pn_io_send(). Not counted
 * against the queue bounds: io/ holds no copy, and the caller cannot reuse
 * the buffer before ZC_DONE anyway. Errors as pn_io_send() (no -EAGAIN,
 * -ENOBUFS or -EMSGSIZE). Handler.
 */
PN_API int pn_io_send_zc(struct pn_ctx *ctx, pn_io_handle h, const void *buf,
			 size_t len);

/*
 * Shut down one or both directions (SHUT_RD, SHUT_WR, SHUT_RDWR) once the
 * data queued so far has been sent. Failure comes as ERROR (op SHUTDOWN).
 * Returns 0, -EINVAL, -EBADF, -EXDEV. Handler.
 */
PN_API int pn_io_shutdown(struct pn_ctx *ctx, pn_io_handle h, int how);

/*
 * Close a handle of any kind: stop receiving, send what is queued, close
 * the descriptor, then PN_MSG_IO_CLOSED (res 0). A peer that never reads
 * holds a graceful close open: pn_io_abort() drops the queue (lent
 * zero-copy buffers come back with -ECANCELED), resets the connection
 * (SO_LINGER 0) and closes at once. Lent receive buffers stay valid until
 * released. Returns 0, -EBADF, -EXDEV, -EALREADY. Handler.
 */
PN_API int pn_io_close(struct pn_ctx *ctx, pn_io_handle h);
PN_API int pn_io_abort(struct pn_ctx *ctx, pn_io_handle h);

/*
 * Close TCP connection @h the way a peer expects: sends stop (-EPIPE),
 * what is queued is sent, then a FIN (SHUT_WR); whatever the peer still
 * sends is received and dropped (unread input would turn a close into a
 * reset); the peer's EOF then closes it (CLOSED res 0). After @timeout_ns
 * (UINT64_MAX: none; checked by the deadline sweep) it is reset instead:
 * CLOSED res -ETIMEDOUT. No DATA, EOF or WRITABLE is sent after the call
 * (messages sent before it still arrive);
 * buffers lent before it stay valid until released. pn_io_close() or
 * pn_io_abort() may still cut it short. Returns 0, -EINVAL (not a
 * connected TCP connection), -EALREADY (lingering or closing), -EBADF,
 * -EXDEV. Handler.
 */
PN_API int pn_io_close_linger(struct pn_ctx *ctx, pn_io_handle h,
			      uint64_t timeout_ns);

/*
 * Deadlines. A TCP connection ends with CLOSED res -ETIMEDOUT (reset and
 * closed at once, as pn_io_abort(), its queue dropped) when:
 *   - opts.idle_ns: nothing was received and no queued byte was sent for
 *     that long (a peer that connects and goes silent);
 *   - opts.drain_ns: bytes are queued (or a graceful close is flushing)
 *     and none of them was sent for that long (a peer that never reads);
 *   - pn_io_set_deadline(): its absolute deadline passed (a request head
 *     that must arrive in time whatever trickles in).
 * Checked every io_config.sweep_ns by one timer per shard, armed only
 * while some connection has a deadline, so a deadline fires up to one
 * sweep late; activity costs one store, no clock read. Each firing is
 * counted in pn_io_stats.timeouts. A listener's idle_ns and drain_ns are
 * inherited by what it accepts.
 */

/*
 * Abort connection @h @after_ns from now (saturating; UINT64_MAX: clear
 * the deadline). Returns 0, -EBADF, -EXDEV, -EINVAL (not a TCP
 * connection). Handler.
 */
PN_API int pn_io_set_deadline(struct pn_ctx *ctx, pn_io_handle h,
			      uint64_t after_ns);

/* Whose messages these are (an actor on the same shard), and the user
 * data echoed in every ev. Return 0, -EINVAL, -EBADF, -EXDEV. Handler. */
PN_API int pn_io_set_owner(struct pn_ctx *ctx, pn_io_handle h, pn_pid owner);
PN_API int pn_io_set_udata(struct pn_ctx *ctx, pn_io_handle h, uint64_t udata);

/* The descriptor behind a socket (getsockname, extra options), or -EBADF,
 * -EXDEV; io/ still owns it: do not close it. Handler. */
PN_API int pn_io_fd(struct pn_ctx *ctx, pn_io_handle h);

/*
 * Hand connection (or UDP socket) @h to actor @to, which may live on any
 * shard. Protocol: receiving stops (its cancellation completes first, so
 * every byte received so far has been delivered to the old owner), the
 * send queue drains, then @to gets PN_MSG_IO_HANDOFF carrying the
 * descriptor, @udata and the options, and @h is stale. @to calls
 * pn_io_adopt() to make it a handle on its own shard (and
 * pn_io_recv_start() to receive). If the connection fails first, the old
 * owner gets CLOSED instead and no HANDOFF is sent. A HANDOFF that ends as
 * a dead letter owns a descriptor: a dead-letter hook should pass it to
 * pn_io_handoff_drop(). Lent buffers stay with the old shard. Returns 0,
 * -EBADF, -EXDEV, -EINVAL (a listener or file), -EALREADY. Handler.
 */
PN_API int pn_io_handoff(struct pn_ctx *ctx, pn_io_handle h, pn_pid to,
			 uint64_t udata);

/* Make the descriptor of HANDOFF message @m a handle on the calling
 * shard, owned by the caller. Returns 0 and *out, -EINVAL (not a
 * HANDOFF), -EMFILE. Handler. */
PN_API int pn_io_adopt(struct pn_ctx *ctx, const struct pn_msg *m,
		       pn_io_handle *out);

/* Close the descriptor a HANDOFF message carries (it was not adopted).
 * Any. */
PN_API void pn_io_handoff_drop(const struct pn_msg *m);

/* --- names and counters ---------------------------------------------- */

/* "ECONNREFUSED (connection refused)" for -ECONNREFUSED. Any. */
PN_API const char *pn_io_strerror(int err);
/* "accept", "recv", ... for enum pn_io_op. Any. */
PN_API const char *pn_io_op_name(unsigned op);
/* "data", "closed", ... for a PN_MSG_IO_* type, else NULL. Any. */
PN_API const char *pn_io_msg_name(uint32_t type);

struct pn_io_stats {
	uint64_t accepted;     /* connections accepted */
	uint64_t connected;    /* outgoing connections established */
	uint64_t recv_bytes;   /* received (TCP and UDP) */
	uint64_t sent_bytes;   /* sent (kernel's count) */
	uint64_t send_eagain;  /* pn_io_send*: connection queue full */
	uint64_t send_enobufs; /* pn_io_send*: shard queues full */
	uint64_t nobufs;       /* receives stopped by an empty buffer ring */
	uint64_t rearms;       /* multishot operations re-armed */
	uint64_t zc_sends;     /* zero-copy sends completed */
	uint64_t errors;       /* ERROR and failing CLOSED messages */
	uint64_t handles;      /* open now */
	uint64_t bufs_lent;    /* receive buffers lent to actors now */
	uint64_t queued_bytes; /* in send queues now */
	uint64_t dropped;      /* messages the runtime refused (buffer back) */
	uint64_t capped;       /* receives paused at the connection's share */
	uint64_t timeouts;     /* connections ended by a deadline */
	uint64_t orphaned;     /* messages not sent: the owner had stopped */
};

/* This shard's io counters. Returns 0, or -ENODEV (no io/). Handler. */
PN_API int pn_io_stats_get(struct pn_ctx *ctx, struct pn_io_stats *out);

/* --- metrics (io/prom.c) ------------------------------------------------ */

/* io/'s metrics source and the /metrics endpoint: pn_io_metrics.h. */

#ifdef __cplusplus
}
#endif

#include "pn_io_file.h"	   /* files */
#include "pn_io_metrics.h" /* metrics source, /metrics endpoint */
#include "pn_io_udp.h"	   /* UDP and multicast */
#endif			   /* PN_IO_H */
