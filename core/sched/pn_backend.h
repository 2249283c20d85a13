/* SPDX-License-Identifier: MIT */
/*
 * The io back-end hook: how io/ (or another back-end: a simulated one, a
 * kernel-bypass one) plugs into every shard's loop: it registers a
 * poller, prepares operations on the shard's io_uring and hands the
 * completions back as messages through the one dispatch path. For
 * back-ends, not applications.
 */
#ifndef PN_BACKEND_H
#define PN_BACKEND_H

#include "pn_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A poller lets io/ build operations on each shard's io_uring without core
 * knowing about io: the shard reaps every CQE and hands those whose
 * user_data has PN_CQE_POLLER set to @complete on that shard.
 */
#define PN_CQE_POLLER (1ull << 63)
struct pn_poller {
	const char *name;
	void (*attach)(struct pn_ctx *ctx, void *arg); /* shard start */
	void (*complete)(struct pn_ctx *ctx, void *arg,
			 const struct io_uring_cqe *cqe);
	void (*shutdown)(struct pn_ctx *ctx, void *arg); /* PN_STAGE_IO */
	void *arg;
};

/* Register @p on every shard (before pn_runtime_start()). Returns 0,
 * -EBUSY (already started or a poller is registered). External. */
PN_API int pn_poller_register(struct pn_runtime *rt, const struct pn_poller *p);

/*
 * The shard's io_uring (SINGLE_ISSUER: submit only from this shard). SQEs
 * a poller or handler prepares are submitted by the shard at the end of
 * the loop turn (one io_uring_enter for the whole turn). Handler/poller.
 */
PN_API struct io_uring *pn_ctx_ring(struct pn_ctx *ctx);

/* A poller's per-shard state (NULL until set). Handler/poller. */
PN_API void pn_ctx_set_poller_data(struct pn_ctx *ctx, void *data);
PN_API void *pn_ctx_poller_data(const struct pn_ctx *ctx);

/*
 * From a poller's hooks: send a message of @type (an application type or
 * one of io/'s PN_MSG_IO types) to @to, from the runtime (msg->from is
 * PN_PID_NONE), through the one dispatch path. Errors as pn_send().
 * Poller (on the shard).
 */
PN_API int pn_ctx_deliver(struct pn_ctx *ctx, pn_pid to, uint32_t type,
			  const void *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* PN_BACKEND_H */
