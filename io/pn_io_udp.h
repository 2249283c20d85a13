/* SPDX-License-Identifier: MIT */
/*
 * io/: UDP sockets and multicast groups. Part of pn_io.h, which includes it:
 * include that one.
 */
#ifndef PN_IO_UDP_H
#define PN_IO_UDP_H

#include "pn_io.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- UDP --------------------------------------------------------------- */

/*
 * A UDP socket bound to @addr, owned by the caller; pn_io_recv_start()
 * delivers each datagram as PN_MSG_IO_DGRAM (lent, like DATA; the sender
 * from pn_io_dgram_peer()). Returns 0 and *out, or the -errno of
 * socket/bind. Handler.
 */
PN_API int pn_io_udp_open(struct pn_ctx *ctx, const struct sockaddr *addr,
			  socklen_t len, const struct pn_io_opts *o,
			  pn_io_handle *out);

/* Send one datagram of a copy of @len bytes to @addr. Bounded as
 * pn_io_send(); a failure comes as ERROR (op SENDMSG). Handler. */
PN_API int pn_io_sendto(struct pn_ctx *ctx, pn_io_handle h, const void *data,
			size_t len, const struct sockaddr *addr,
			socklen_t addrlen);

/*
 * Multicast. A sender's options (struct pn_io_opts; pn_io_udp_open()
 * applies them, pn_io_setopt() changes them; a zero field leaves the
 * kernel's setting):
 *   - mcast_if: the interface, by its IPv4 address, that datagrams to a
 *     group leave by (IP_MULTICAST_IF); 0: the one the route for the
 *     group names (with no route for 224.0.0.0/4, the default route's).
 *   - mcast_ttl: IP_MULTICAST_TTL (IPV6_MULTICAST_HOPS on an IPv6
 *     socket): 1-255 router hops; 0: the kernel's default, 1 (the local
 *     network only); -1: TTL 0, delivered to this host's members and
 *     sent on no wire. Anything else: -EINVAL.
 *   - PN_IO_MCAST_LOOP: IP_MULTICAST_LOOP on, so members on this host
 *     that joined on the sending interface get a copy. Linux has it on
 *     by default, so the flag only makes that explicit (io/ offers no
 *     way to turn it off: use pn_io_fd()).
 * On loopback (checked on Linux 6.18, with and without other interfaces):
 * members join with @iface 127.0.0.1 and the sender sets mcast_if
 * 127.0.0.1; then neither a route nor PN_IO_MCAST_LOOP nor the TTL
 * matters (lo hands every datagram back itself). Without mcast_if the
 * datagram follows the route: out of the default interface (not lo: a
 * member joined on lo gets nothing, and it leaves the host), or
 * -ENETUNREACH on a host without a default route; joining with @iface
 * 0.0.0.0 there fails with -ENODEV. Alternatively `ip route add
 * 224.0.0.0/4 dev lo` (root) makes lo the default for every group.
 */

/* Join / leave multicast @group on the interface with address @iface
 * (IP_ADD_MEMBERSHIP / IP_DROP_MEMBERSHIP). Returns 0 or -errno.
 * Handler. */
PN_API int pn_io_udp_join(struct pn_ctx *ctx, pn_io_handle h,
			  struct in_addr group, struct in_addr iface);
PN_API int pn_io_udp_leave(struct pn_ctx *ctx, pn_io_handle h,
			   struct in_addr group, struct in_addr iface);

/* The sender of DGRAM message @m into @out (sockaddr_in or _in6);
 * returns its length, or 0 if unknown. Handler. */
PN_API socklen_t pn_io_dgram_peer(const struct pn_msg *m,
				  struct sockaddr_storage *out);

#ifdef __cplusplus
}
#endif
#endif /* PN_IO_UDP_H */
