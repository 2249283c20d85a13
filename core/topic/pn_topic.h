/* SPDX-License-Identifier: MIT */
/*
 * Topics: publish/subscribe inside one runtime, fanned out across shards
 * through the same rings and the same dispatch as every other message.
 */
#ifndef PN_TOPIC_H
#define PN_TOPIC_H

#include "pn_core.h"
#include "pn_stats.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A topic is named by a string (at most PN_TOPIC_NAME_MAX - 1 bytes) and
 * addressed by an id that pn_topic_open() gives out; an id stays valid
 * until pn_topic_close(), after which it gets -ENOENT (an id comes back
 * only after its table slot has been reused 65536 times). Every topic has a
 * home shard that is its sequencer: it numbers each accepted message (1, 2, 3,
 * ... per topic) and sends it on, one ring slot per destination shard and
 * delivery class, however many subscribers are there; the destination shard
 * runs each local subscriber's handler on it in turn (the ordinary dispatch:
 * the watchdog, probes and after-handler checks apply). A payload of up to
 * PN_TOPIC_INLINE bytes travels inside the slot; a larger one is copied
 * once into a buffer of the publisher's shard that every destination
 * reads in place and that goes back to the publisher's pool after the
 * last subscriber's handler returned. Nothing is copied per subscriber.
 *
 * Guarantees:
 *  - A subscription made by pn_topic_subscribe() on its subscriber's home
 *    shard is active when the call returns: it returns the topic's
 *    sequence number S at that point; the subscriber gets every message
 *    numbered above S (unless its filter or its slow-subscriber policy
 *    says otherwise) and none numbered S or below. In particular, any
 *    publish that happens after the call returned (in any thread, ordered
 *    after it by a message or other synchronisation) is delivered.
 *  - Every subscriber sees the messages of a topic in sequence order, so
 *    each publisher's messages in publish order; the sequence number comes
 *    with each delivery (pn_topic_delivery()), so that gaps can be seen.
 *  - Memory is bounded under every policy: per destination shard and class
 *    at most max_lag messages in flight plus max_lag waiting at the home.
 *    A subscriber that has migrated gets each delivery as a message of its
 *    own from then on, through its home (in order), which that bound does
 *    not cover.
 */
#define PN_TOPIC_INLINE 16 /* payload bytes inside the ring slot */

/* What a subscriber gets when it cannot keep up: its shard has max_lag
 * of the topic's messages for its class not yet handled. */
enum pn_topic_policy {
	/* Lossless: pn_topic_publish() returns -EAGAIN (nothing published,
	 * to anyone) until the lag is below max_lag again; publishers ask for
	 * PN_MSG_TOPIC_WRITABLE with pn_topic_notify_writable(). */
	PN_TOPIC_BACKPRESSURE,
	/* Keep the newest max_lag waiting at the home and drop the oldest;
	 * the next delivery's info counts the dropped (gap). */
	PN_TOPIC_DROP_OLDEST,
	/* As DROP_OLDEST, but a waiting message with the same key is replaced
	 * by the newer one (only the latest value per key: top of book); the
	 * next delivery's info counts the replaced (conflated). */
	PN_TOPIC_CONFLATE,
	/* Unsubscribed: PN_MSG_TOPIC_CLOSED with reason -ENOBUFS. */
	PN_TOPIC_DISCONNECT,
	PN_TOPIC_NPOLICIES
};

/* A subscription's predicate: deliver @m (its key @key) to this
 * subscriber? Runs on the subscriber's shard, before its handler. */
typedef bool (*pn_topic_filter_fn)(void *arg, uint64_t key,
				   const struct pn_msg *m);

struct pn_topic_sub_opts {
	enum pn_topic_policy policy; /* PN_TOPIC_BACKPRESSURE (0) by default */
	/* Deliver only keys in [key_lo, key_hi]: both 0 (the default) means
	 * every key. */
	uint64_t key_lo, key_hi;
	pn_topic_filter_fn filter; /* optional, after the key range */
	void *filter_arg;
};

struct pn_topic_opts {
	/* The home shard (the sequencer); PN_SHARD_ANY: the calling shard in
	 * a handler, else shard 0. Publishers on it pay no extra hop. */
	unsigned home;
	/* Lag bound per destination shard and class, messages; 0: 1024. */
	uint32_t max_lag;
};

/*
 * Open the topic @name, creating it with @opts (NULL: defaults) if it does
 * not exist; an existing one keeps its options. *@id is its id. Returns 0;
 * -EINVAL (no name, too long, bad home shard, max_lag over 1 << 20);
 * -ENFILE (cfg.max_topics open, counting closed ones until every shard
 * has swept them: a few loop turns); -ENOMEM; -ESHUTDOWN. Any thread.
 */
PN_API int pn_topic_open(struct pn_runtime *rt, const char *name,
			 const struct pn_topic_opts *opts, uint32_t *id);

/* The id of open topic @name in *@id: 0 or -ENOENT, -EINVAL. Any. */
PN_API int pn_topic_find(const struct pn_runtime *rt, const char *name,
			 uint32_t *id);

/*
 * Close topic @id for everyone: publishing fails with -ENOENT from this
 * call on; messages numbered before it and sent on are still delivered,
 * then every subscriber gets PN_MSG_TOPIC_CLOSED (reason 0) once and is
 * unsubscribed. What still waits at the home (DROP_OLDEST and CONFLATE
 * messages held back for a slow shard, forwarded publishes held back by
 * BACKPRESSURE) is dropped and counted (dropped; dead letters in the
 * runtime's totals); publishers waiting for PN_MSG_TOPIC_WRITABLE get it
 * (and -ENOENT when they try). The name can be opened again at once (a
 * new topic, a new id). Returns 0 or -ENOENT. Any thread.
 */
PN_API int pn_topic_close(struct pn_runtime *rt, uint32_t id);

/*
 * Publish @len bytes at @data (copied; the caller keeps its buffer) as a
 * message of @type (an application type) with @key (the filter and
 * conflation key; 0 if unused) to topic @id. The subscribers get it with
 * from = the caller (PN_PID_NONE from outside), to = themselves.
 *
 * From a handler on the home shard the message is numbered and sent on
 * before the call returns; from another shard, or from outside, it goes
 * to the home first (one more hop, in order per publisher) and is
 * numbered there. Returns 0; -ENOENT (no such topic, or closed); -EINVAL
 * (system type, @data NULL with @len > 0); -EMSGSIZE (over PN_MSG_MAX);
 * -EAGAIN (nothing published: a PN_TOPIC_BACKPRESSURE subscriber's shard
 * is max_lag behind, or max_lag messages from other shards already wait
 * at the home; see pn_topic_notify_writable()); -ENOMEM; -EPERM (not the
 * ctx's thread). Handler.
 */
PN_API int pn_topic_publish(struct pn_ctx *ctx, uint32_t id, uint32_t type,
			    uint64_t key, const void *data, size_t len);

/* pn_topic_publish() from outside, through producer @p, waiting up to
 * @timeout_ns (UINT64_MAX: no limit, 0: never) for room: -ETIMEDOUT or
 * -EAGAIN after it; and pn_inject()'s errors. External. */
PN_API int pn_topic_publish_ext(struct pn_producer *p, uint32_t id,
				uint32_t type, uint64_t key, const void *data,
				size_t len, uint64_t timeout_ns);

/*
 * Subscribe the calling actor to topic @id with @opts (NULL: lossless, no
 * filter); *@start (may be NULL) gets the sequence number it starts after.
 * An actor has at most one subscription per topic (again: -EALREADY;
 * unsubscribe first to change its options). Called on the actor's home
 * shard, the subscription is active when this returns 0. Called by an
 * actor living away from home (it migrated), the subscription is made at
 * its home: this returns 1 and the actor gets PN_MSG_TOPIC_SUBSCRIBED
 * (struct pn_topic_event, seq = its start) when it is active. Returns 0,
 * 1; -ENOENT; -EALREADY; -EINVAL (bad policy, key_lo > key_hi);
 * -ENOMEM; -EPERM.
 * Handler.
 */
PN_API int pn_topic_subscribe(struct pn_ctx *ctx, uint32_t id,
			      const struct pn_topic_sub_opts *opts,
			      uint64_t *start);

/* Subscribe actor @pid from outside: returns once the subscription is
 * active (0, *@start), or -ESRCH (@pid is not alive), pn_topic_subscribe()'s
 * errors, -ESHUTDOWN. @opts' filter runs on @pid's shard. External. */
PN_API int pn_topic_subscribe_pid(struct pn_runtime *rt, uint32_t id,
				  pn_pid pid,
				  const struct pn_topic_sub_opts *opts,
				  uint64_t *start);

/*
 * End the calling actor's subscription to @id: on its home shard at once
 * (nothing delivered after this returns), away from home once the home
 * has it. A stopped actor is unsubscribed from everything by the runtime.
 * Returns 0, -ENOENT (no such topic or no subscription), -EPERM. Handler.
 */
PN_API int pn_topic_unsubscribe(struct pn_ctx *ctx, uint32_t id);

/* End @pid's subscription to @id from outside: returns once it is over
 * (nothing delivered after), or -ENOENT, -ESRCH, -EINVAL, -ESHUTDOWN.
 * External. */
PN_API int pn_topic_unsubscribe_pid(struct pn_runtime *rt, uint32_t id,
				    pn_pid pid);

/* Ask for one PN_MSG_TOPIC_WRITABLE (struct pn_topic_event) when
 * pn_topic_publish() to @id would no longer get -EAGAIN (at once if so
 * already). Returns 0, -ENOENT, -ENOMEM, -EPERM. Handler. */
PN_API int pn_topic_notify_writable(struct pn_ctx *ctx, uint32_t id);

/*
 * In a handler running for a topic delivery: what it is (NULL for any
 * other message). Valid until the handler returns. Of the messages
 * numbered between this subscription's previous delivery (or its start)
 * and this one that its filter did not skip, @conflated were replaced by
 * a newer one of their key (CONFLATE) and @gap were dropped (DROP_OLDEST,
 * or a CONFLATE channel's overflow): gap + conflated = seq - previous - 1
 * - those its filter skipped, exactly. Both 0 under BACKPRESSURE. Handler.
 */
struct pn_topic_info {
	uint32_t topic;
	uint32_t gap;
	uint64_t seq;
	uint64_t key;
	uint32_t conflated;
};
PN_API const struct pn_topic_info *pn_topic_delivery(const struct pn_ctx *ctx);

/* PN_MSG_TOPIC_SUBSCRIBED, _WRITABLE and _CLOSED carry this payload. */
struct pn_topic_event {
	uint32_t topic;
	int32_t reason; /* CLOSED: 0 (pn_topic_close), -ENOBUFS (too slow) */
	uint64_t seq;	/* SUBSCRIBED: the start; CLOSED: the last sent */
};
#define PN_MSG_TOPIC_SUBSCRIBED (PN_MSG_SYS + 0x3001)
#define PN_MSG_TOPIC_WRITABLE	(PN_MSG_SYS + 0x3002)
#define PN_MSG_TOPIC_CLOSED	(PN_MSG_SYS + 0x3003)

/* Topic @id's counters (struct pn_topic_stats, pn_stats.h; also in every
 * metrics snapshot, pn_metrics_topics()): 0, -ENOENT. Any thread. */
PN_API int pn_topic_stats(const struct pn_runtime *rt, uint32_t id,
			  struct pn_topic_stats *out);

/* The open topic after @prev (0: the first) in *@id, to list them all:
 * 0 or -ENOENT (no more). Any thread. */
PN_API int pn_topic_next(const struct pn_runtime *rt, uint32_t prev,
			 uint32_t *id);

#ifdef __cplusplus
}
#endif

#endif /* PN_TOPIC_H */
