/* SPDX-License-Identifier: MIT */
/*
 * Request/reply: a message that expects one answer, and its correlation.
 * Included by pn_core.h; every call here is for a handler (see pn_core.h
 * for what "handler" means and for the error convention).
 *
 * Each outstanding request takes one entry in its shard's table (no other
 * allocation); the entry holds the caller's user value, moves with the
 * requester when it migrates, and is freed by whichever of the reply and
 * the timeout comes first.
 */
#ifndef PN_REQUEST_H
#define PN_REQUEST_H

#include "pn_msg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pn_ctx;

/*
 * Send @type to @to as a request: the reply (pn_reply()) or, after
 * @timeout_ns, a PN_MSG_TIMEOUT comes back to the caller, either one
 * carrying the correlation id in msg->ref (also returned in *ref, which
 * may be NULL). Exactly one of the two arrives; a reply after the timeout
 * is a dead letter (counted in late_replies too). UINT64_MAX: no timeout
 * (the reply, if it comes, is all). Errors as pn_send(), plus -EINVAL for
 * timeout 0 or a system type, and -ENOSPC when the shard already has 2^29
 * requests outstanding; on any error nothing is sent and no TIMEOUT
 * follows. Handler.
 */
PN_API int pn_request(struct pn_ctx *ctx, pn_pid to, uint32_t type,
		      const void *data, size_t len, uint64_t timeout_ns,
		      uint64_t *ref);

/*
 * As pn_request(), with a value of the caller's own (an index, a pointer
 * cast to an integer, a client's id: whatever says which request this
 * was) that the runtime keeps in the request's entry and hands back with
 * whichever of the reply and the TIMEOUT arrives: pn_msg_user() returns
 * it. The callee never sees it. It follows the requester across shards
 * and migrations like the request itself. pn_request() is this call with
 * @user 0. Handler.
 */
PN_API int pn_request_ctx(struct pn_ctx *ctx, pn_pid to, uint32_t type,
			  const void *data, size_t len, uint64_t timeout_ns,
			  uint64_t user, uint64_t *ref);

/*
 * The user value of the request that @m answers, for the requester's
 * handler: on a reply to one of its requests (pn_msg_is_reply()) while
 * that handler runs, and on a PN_MSG_TIMEOUT (whose payload is the user
 * value as 8 bytes, so pn_msg_u64() reads it too, also after the handler).
 * 0 for any other message, for a reply outside the handler it was
 * delivered to, or with a ctx that is not the calling shard's. Handler.
 */
PN_API uint64_t pn_msg_user(const struct pn_ctx *ctx, const struct pn_msg *m);

/* Answer request @req with @type and a payload. As pn_send(); -EINVAL if
 * @req is not a request. Handler. */
PN_API int pn_reply(struct pn_ctx *ctx, const struct pn_msg *req, uint32_t type,
		    const void *data, size_t len);

/* The correlation id of a request, reply or TIMEOUT, as pn_request()
 * returned it in *ref (a reply's msg->ref also carries a reply flag). */
static inline uint64_t pn_msg_ref(const struct pn_msg *m)
{
	return m->ref & ~(1ull << 63);
}

/* Whether @m is a reply (to one of this actor's requests). */
static inline bool pn_msg_is_reply(const struct pn_msg *m)
{
	return (m->ref >> 63) != 0;
}

#ifdef __cplusplus
}
#endif
#endif /* PN_REQUEST_H */
