// SPDX-License-Identifier: MIT
/*
 * UDP: sockets bound to an address, multicast membership, one sendmsg per
 * datagram (copied, counted against the same send bounds as TCP), and
 * multishot recvmsg into the provided-buffer ring. Market-data feeds are
 * UDP multicast, so joining a group is part of the API.
 *
 * A received buffer is laid out by the kernel as struct
 * io_uring_recvmsg_out, then the sender's address (room for a
 * sockaddr_in6, as the recvmsg template asks), then the payload; DGRAM's
 * ev.data points at the payload, and pn_io_dgram_peer() walks back from it.
 *
 * Datagrams are independent: several sends may be in the kernel at once
 * and, as UDP allows, may leave in any order. A failed send is an ERROR
 * (op SENDMSG), never the end of the socket.
 */
#include "io_int.h"

#include <errno.h>
#include <liburing.h>
#include <string.h>
#include <unistd.h>

#define NAME_ROOM sizeof(struct sockaddr_in6)

/*
 * The multicast options of @o on UDP socket @fd: the interface, the TTL
 * (IPV6_MULTICAST_HOPS on an IPv6 socket) and loopback; a zero field
 * leaves the socket's setting alone. Returns 0 or the first -errno.
 */
int pn__mcast_set(int fd, const struct pn_io_opts *o)
{
	int ttl = o->mcast_ttl < 0 ? 0 : o->mcast_ttl, dom = AF_INET;
	socklen_t dlen = sizeof(dom);
	unsigned char loop = 1;
	bool v6;

	if (o->mcast_ttl < -1 || o->mcast_ttl > 255)
		return pn__error(-EINVAL,
				 "io: mcast_ttl %d: want 1-255 hops, 0 (the "
				 "default) or -1 (this host only)",
				 o->mcast_ttl);
	if (o->mcast_if.s_addr &&
	    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &o->mcast_if,
		       sizeof(o->mcast_if)) < 0)
		return pn__error(-errno, "io: IP_MULTICAST_IF: %s",
				 strerror(errno));
	getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &dlen);
	v6 = dom == AF_INET6;
	if (o->mcast_ttl &&
	    setsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP,
		       v6 ? IPV6_MULTICAST_HOPS : IP_MULTICAST_TTL, &ttl,
		       sizeof(ttl)) < 0)
		return pn__error(-errno, "io: %s %d: %s",
				 v6 ? "IPV6_MULTICAST_HOPS"
				    : "IP_MULTICAST_TTL",
				 ttl, strerror(errno));
	if ((o->flags & PN_IO_MCAST_LOOP) &&
	    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof(loop)))
		return pn__error(-errno, "io: IP_MULTICAST_LOOP: %s",
				 strerror(errno));
	return 0;
}

int pn_io_udp_open(struct pn_ctx *ctx, const struct sockaddr *addr,
		   socklen_t len, const struct pn_io_opts *o, pn_io_handle *out)
{
	struct pn__io_shard *sh = pn__io_shard(ctx);
	struct pn__io_obj *u;
	int err = pn__sock_new(ctx, PN__K_UDP, addr, len, o, &u);

	if (err < 0)
		return err;
	err = pn__mcast_set(u->fd, &u->opts);
	if (err < 0) { /* nothing issued yet: it ends quietly */
		close(u->fd);
		pn__obj_free(sh, u);
		return err;
	}
	*out = pn__obj_handle(sh, u);
	return 0;
}

static int membership(struct pn_ctx *ctx, pn_io_handle h, int opt,
		      struct in_addr group, struct in_addr iface)
{
	struct ip_mreq mr = {.imr_multiaddr = group, .imr_interface = iface};
	struct pn__io_shard *sh;
	struct pn__io_obj *u;
	int err = pn__obj_get(ctx, h, &sh, &u);

	if (err < 0)
		return err;
	if (u->kind != PN__K_UDP || u->fd < 0)
		return pn__error(-EINVAL, "io: multicast needs a UDP socket");
	if (setsockopt(u->fd, IPPROTO_IP, opt, &mr, sizeof(mr)) < 0)
		return pn__error(-errno, "io: %s: %s",
				 opt == IP_ADD_MEMBERSHIP
					 ? "IP_ADD_MEMBERSHIP"
					 : "IP_DROP_MEMBERSHIP",
				 strerror(errno));
	return 0;
}

int pn_io_udp_join(struct pn_ctx *ctx, pn_io_handle h, struct in_addr group,
		   struct in_addr iface)
{
	return membership(ctx, h, IP_ADD_MEMBERSHIP, group, iface);
}

int pn_io_udp_leave(struct pn_ctx *ctx, pn_io_handle h, struct in_addr group,
		    struct in_addr iface)
{
	return membership(ctx, h, IP_DROP_MEMBERSHIP, group, iface);
}

int pn_io_sendto(struct pn_ctx *ctx, pn_io_handle h, const void *data,
		 size_t len, const struct sockaddr *addr, socklen_t addrlen)
{
	struct pn__io_shard *sh;
	struct pn__io_obj *u;
	struct pn__io_req *r;
	int err = pn__obj_get(ctx, h, &sh, &u);

	if (err < 0)
		return err;
	if (u->kind != PN__K_UDP || (u->flags & PN__O_ENDING))
		return pn__error(-EINVAL, "pn_io_sendto: not an open UDP "
					  "socket");
	if (!addr || addrlen > sizeof(r->addr) || len > 65507)
		return pn__error(-EINVAL, "pn_io_sendto: bad address or "
					  "length");
	if ((err = pn__queue_room(sh, u, len, true)) < 0)
		return err;
	if (!(r = pn__req_new(sh, u, PN_IO_OP_SENDMSG)))
		return -ENOMEM;
	if (pn__req_copy(sh, r, data, len) < 0) {
		pn__req_free(sh, r);
		return -ENOMEM;
	}
	memcpy(&r->addr, addr, addrlen);
	r->iov = (struct iovec){.iov_base = r->buf, .iov_len = len};
	r->mh = (struct msghdr){.msg_name = &r->addr,
				.msg_namelen = addrlen,
				.msg_iov = &r->iov,
				.msg_iovlen = 1};
	if ((err = pn__issue(sh, r)) < 0) {
		pn__req_free(sh, r);
		return err;
	}
	pn__queue_account(sh, u, r->len);
	return 0;
}

void pn__sendmsg_done(struct pn__io_shard *sh, struct pn__io_req *r,
		      const struct pn__io_cqe *c)
{
	struct pn__io_obj *u = r->obj;
	uint32_t len = r->len;

	u->inflight--;
	pn__req_free(sh, r);
	if (c->res >= 0)
		sh->st.sent_bytes += (uint64_t)c->res;
	else if (c->res != -ECANCELED)
		pn__deliver(sh, u, PN_MSG_IO_ERROR, c->res, PN_IO_OP_SENDMSG,
			    0);
	pn__queue_account(sh, u, -(int64_t)len);
	pn__settle(sh, u);
}

/* A datagram arrived in buffer @bid (@res bytes in all). */
void pn__dgram_deliver(struct pn__io_shard *sh, struct pn__io_req *r,
		       unsigned bid, int32_t res)
{
	struct pn__io_obj *u = r->obj;
	void *buf = pn__buf_addr(sh, bid);
	struct io_uring_recvmsg_out *out =
		io_uring_recvmsg_validate(buf, res, &r->mh);
	struct pn_io_ev ev = {.h = pn__obj_handle(sh, u),
			      .udata = u->opts.udata,
			      .buf = (uint16_t)bid};

	if (!out) { /* shorter than its own header: nothing to deliver */
		sh->be->buf_recycle(sh, bid);
		return;
	}
	ev.data = io_uring_recvmsg_payload(out, &r->mh);
	ev.res = (int32_t)io_uring_recvmsg_payload_length(out, res, &r->mh);
	ev.op = (out->flags & MSG_TRUNC) ? PN_IO_DGRAM_TRUNC : 0;
	sh->st.recv_bytes += (uint64_t)ev.res;
	u->flags &= ~PN__O_NOBUFS;
	u->backoff_ns = 0;
	if (pn_ctx_deliver(sh->ctx, u->owner, PN_MSG_IO_DGRAM, &ev,
			   sizeof(ev)) < 0) {
		sh->st.dropped++;
		sh->be->buf_recycle(sh, bid);
		return;
	}
	sh->st.bufs_lent++;
}

socklen_t pn_io_dgram_peer(const struct pn_msg *m, struct sockaddr_storage *out)
{
	const struct pn_io_ev *ev;
	const unsigned char *name;
	struct io_uring_recvmsg_out hdr;
	socklen_t n;

	if (!m || m->type != PN_MSG_IO_DGRAM || m->len != sizeof(*ev))
		return 0;
	ev = pn_io_ev(m);
	name = (const unsigned char *)ev->data - NAME_ROOM;
	memcpy(&hdr, name - sizeof(hdr), sizeof(hdr));
	n = hdr.namelen < NAME_ROOM ? hdr.namelen : NAME_ROOM;
	memset(out, 0, sizeof(*out));
	memcpy(out, name, n);
	return n;
}
