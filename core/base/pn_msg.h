/* SPDX-License-Identifier: MIT */
/*
 * The message: one 64-byte cache line, the unit of every inbox ring slot,
 * local queue entry and timer. Included by pn_core.h (its only user-facing
 * entry point); kept apart so that the ring (pn_ring.h) and the internal
 * units can include it without the whole runtime API.
 */
#ifndef PN_MSG_H
#define PN_MSG_H

#include "pn_base.h"

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * An actor's address: shard (10 bits) | slot (22 bits) | generation (32
 * bits). A stopped actor's slot gets a new generation before it is reused,
 * so a stale PID never reaches a newer actor in the same slot; a slot whose
 * generation would wrap is retired instead. The PID names the actor's
 * *home* shard: an actor that migrates keeps its PID and its home forwards
 * (see README, "Migration"). 0 is never a valid PID.
 */
typedef uint64_t pn_pid;
#define PN_PID_NONE	  ((pn_pid)0)
#define PN_PID_SHARD_BITS 10
#define PN_PID_SLOT_BITS  22
#define PN_PID_GEN_BITS	  32
#define PN_MAX_SHARDS	  (1u << PN_PID_SHARD_BITS)

static inline unsigned pn_pid_shard(pn_pid p)
{
	return (unsigned)(p >> (PN_PID_SLOT_BITS + PN_PID_GEN_BITS));
}

static inline uint32_t pn_pid_slot(pn_pid p)
{
	return (uint32_t)(p >> PN_PID_GEN_BITS) &
	       ((1u << PN_PID_SLOT_BITS) - 1);
}

static inline uint32_t pn_pid_gen(pn_pid p)
{
	return (uint32_t)p;
}

static inline pn_pid pn_pid_make(unsigned shard, uint32_t slot, uint32_t gen)
{
	return ((pn_pid)shard << (PN_PID_SLOT_BITS + PN_PID_GEN_BITS)) |
	       ((pn_pid)slot << PN_PID_GEN_BITS) | gen;
}

/* Payload bytes that travel inside the ring slot itself. */
#define PN_MSG_INLINE 32

/*
 * A message as a handler sees it. Payloads up to PN_MSG_INLINE bytes sit in
 * data[]; larger ones in a buffer from the sender shard's pool that @ptr
 * points to and that goes back to its pool after the handler returns. Use
 * pn_msg_data() rather than reading the union.
 */
struct pn_msg {
	uint32_t type; /* application types < PN_MSG_SYS; see pn_core.h */
	uint32_t len;  /* payload bytes */
	pn_pid to;     /* destination */
	pn_pid from;   /* sender actor, or PN_PID_NONE for external/timer */
	uint64_t ref;  /* correlation id of a request or reply, else 0 */
	union {
		unsigned char data[PN_MSG_INLINE];
		void *ptr; /* len > PN_MSG_INLINE */
	};
} __attribute__((aligned(PN_CACHELINE)));

#ifdef __cplusplus
static_assert(sizeof(struct pn_msg) == PN_CACHELINE,
	      "a message is exactly one cache line");
#else
_Static_assert(sizeof(struct pn_msg) == PN_CACHELINE,
	       "a message is exactly one cache line");
#endif

/* The payload, wherever it lives. Valid until the handler returns. */
static inline const void *pn_msg_data(const struct pn_msg *m)
{
	return m->len <= PN_MSG_INLINE ? (const void *)m->data : m->ptr;
}

/* Read an 8-byte integer at the start of the payload (0 if shorter). */
static inline uint64_t pn_msg_u64(const struct pn_msg *m)
{
	uint64_t v = 0;

	if (m->len >= sizeof(v))
		memcpy(&v, pn_msg_data(m), sizeof(v));
	return v;
}

/*
 * Typed payloads. PN_MSG_AS(m, T) is @m's payload as a const T * when its
 * length is exactly sizeof(T), and NULL otherwise, in every build (the
 * handler decides what a wrong size means; the declared sizes below catch
 * a sender's mistake on delivery in debug builds). PN_MSG_AS_MIN(m, T)
 * accepts a length of at least sizeof(T), for a struct with a flexible
 * tail (the length says how much tail there is). The pointer is into the
 * message: valid until the handler returns, read-only. Payloads are
 * aligned to at least 16 bytes (inline ones sit 32 bytes into the 64-byte
 * message, larger ones in 16-byte aligned buffers), so a T of alignment
 * up to 16 may be read through it.
 */
static inline const void *pn_msg_as(const struct pn_msg *m, size_t size)
{
	return m->len == size ? pn_msg_data(m) : NULL;
}

static inline const void *pn_msg_as_min(const struct pn_msg *m, size_t size)
{
	return m->len >= size ? pn_msg_data(m) : NULL;
}

#define PN_MSG_AS(m, T)	    ((const T *)pn_msg_as((m), sizeof(T)))
#define PN_MSG_AS_MIN(m, T) ((const T *)pn_msg_as_min((m), sizeof(T)))

/* Send object @value (an lvalue or a compound literal) as the payload:
 * pn_send(ctx, to, type, &value, sizeof(value)), as pn_send() (pn_core.h)
 * with its errors; the receiver reads it with PN_MSG_AS(m, T). */
#define PN_SEND_AS(ctx, to, type, value)                                       \
	pn_send((ctx), (to), (type), &(value), sizeof(value))

/*
 * A declared payload size: messages of @type carry exactly @size bytes,
 * or at least @size with PN_MSG_SIZE_MIN in @flags. A behaviour lists its
 * types in struct pn_behaviour's msg_sizes; a library built without
 * NDEBUG (MODE=debug, asan, tsan) checks every message it delivers to the
 * actor against the list, before the handler runs, and a mismatch is a
 * pn_panic() naming the actor, its behaviour, the type and both sizes (a
 * programming error, like a failed assertion). A release library (NDEBUG)
 * has no check at all, so it costs nothing. Types not listed, and the
 * runtime's own, are not checked. PN_MSG_SIZE(type, T) and
 * PN_MSG_SIZE_AT_LEAST(type, T) write an entry for struct T.
 */
struct pn_msg_size {
	uint32_t type;
	uint32_t size;
	uint32_t flags; /* PN_MSG_SIZE_MIN */
};
#define PN_MSG_SIZE_MIN 0x1u
#define PN_MSG_SIZE(type, T)                                                   \
	{                                                                      \
		(type), (uint32_t)sizeof(T), 0                                 \
	}
#define PN_MSG_SIZE_AT_LEAST(type, T)                                          \
	{                                                                      \
		(type), (uint32_t)sizeof(T), PN_MSG_SIZE_MIN                   \
	}

/* Whether @m's length is what @tab (@n entries) declares for its type
 * (true when the type is not in @tab): the debug builds' delivery check,
 * for a handler or a test to call itself. Any thread. */
static inline bool pn_msg_size_ok(const struct pn_msg_size *tab, size_t n,
				  const struct pn_msg *m)
{
	for (size_t i = 0; i < n; i++)
		if (tab[i].type == m->type)
			return (tab[i].flags & PN_MSG_SIZE_MIN)
				       ? m->len >= tab[i].size
				       : m->len == tab[i].size;
	return true;
}

#ifdef __cplusplus
}
#endif
#endif /* PN_MSG_H */
