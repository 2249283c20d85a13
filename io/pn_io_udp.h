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
