/* SPDX-License-Identifier: MIT */
/*
 * Definitions every Pinion module shares: export marking, cache-line size,
 * branch hints, the thread-local error detail behind every -errno return,
 * and the three levels of checks (assert, verify, panic). It lives in the
 * bottom module, topology/, so that every module may include it without a
 * dependency pointing upwards.
 */
#ifndef PN_BASE_H
#define PN_BASE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks a public function: libpinion is built with -fvisibility=hidden. */
#define PN_API __attribute__((visibility("default")))

/* Cache-line size Pinion pads shared data to (x86-64 and most arm64). */
#define PN_CACHELINE 64

#define PN_LIKELY(x)   __builtin_expect(!!(x), 1)
#define PN_UNLIKELY(x) __builtin_expect(!!(x), 0)

/*
 * The human-readable detail of the last failure on the calling thread: every
 * Pinion function that returns -errno first records a sentence here naming
 * what was wrong ("PINION_SHARDS=abc: not a number"). The string is owned by
 * the thread and valid until its next failing Pinion call. Returns "" when
 * nothing has failed yet. Callable from any thread.
 */
PN_API const char *pn_last_error(void);

#ifdef PN_INTERNAL
/*
 * Inside Pinion only (the build defines PN_INTERNAL; an installed
 * program never sees it): record the detail for pn_last_error() and
 * return @err (a negative errno), as in `return pn__error(-EINVAL, ...)`.
 */
int pn__error(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#endif

#if defined(PN_INTERNAL) && !defined(__cplusplus)
#include <stdatomic.h>
/*
 * Inside Pinion only: the one owner-written counter. Add @d to a counter
 * that only its owner thread writes, with a relaxed load and a relaxed
 * store, not an atomic RMW: with a single writer no update can be lost,
 * and the plain store costs no locked instruction on the hot path. Readers
 * on other threads use relaxed loads (pn__ctr_get) and see some recent
 * value; nothing else is published through a counter, so no ordering is
 * needed (a counter that must be seen before a publish is ordered by that
 * publish's release). Subtract by adding (uint64_t)-d: unsigned arithmetic
 * wraps. 64- and 32-bit counters.
 */
static inline void pn__ctr_add64(_Atomic uint64_t *c, uint64_t d)
{
	atomic_store_explicit(c,
			      atomic_load_explicit(c, memory_order_relaxed) + d,
			      memory_order_relaxed);
}

static inline void pn__ctr_add32(_Atomic uint32_t *c, uint32_t d)
{
	atomic_store_explicit(c,
			      atomic_load_explicit(c, memory_order_relaxed) + d,
			      memory_order_relaxed);
}

#define pn__ctr_add(c, d)                                                      \
	_Generic((c), _Atomic uint32_t *: pn__ctr_add32, default: pn__ctr_add64)( \
		(c), (d))

/* Read a counter from any thread (see pn__ctr_add() for why relaxed). */
#define pn__ctr_get(c) atomic_load_explicit((c), memory_order_relaxed)
#endif

/* Print "pinion: panic: <msg> at file:line" on stderr and abort(). The
 * function behind pn_panic(), pn_verify() and pn_assert(). Any thread. */
PN_API __attribute__((noreturn, format(printf, 3, 4))) void
pn_panic_at(const char *file, int line, const char *fmt, ...);

/* Unrecoverable state: print and abort. Always on. */
#define pn_panic(...) pn_panic_at(__FILE__, __LINE__, __VA_ARGS__)

/* Cheap corruption check, always on. */
#define pn_verify(cond)                                                        \
	do {                                                                   \
		if (PN_UNLIKELY(!(cond)))                                      \
			pn_panic("verify failed: %s", #cond);                  \
	} while (0)

/* Debug and sanitizer builds only (compiled out with NDEBUG). */
#ifdef NDEBUG
#define pn_assert(cond) ((void)sizeof(!(cond)))
#else
#define pn_assert(cond) pn_verify(cond)
#endif

/* Monotonic clock in nanoseconds (CLOCK_MONOTONIC, vDSO: no system call). */
PN_API uint64_t pn_now_ns(void);

/* Timeouts and deadlines: every Pinion call that takes a timeout in
 * nanoseconds treats UINT64_MAX as "forever", and every deadline is
 * computed with this saturating sum, so a huge timeout never wraps into
 * an instant one. */
#define PN_FOREVER UINT64_MAX

/* @now + @timeout_ns, or UINT64_MAX (never) when the sum would wrap. */
static inline uint64_t pn_deadline_ns(uint64_t now, uint64_t timeout_ns)
{
	return timeout_ns > UINT64_MAX - now ? UINT64_MAX : now + timeout_ns;
}

/*
 * Parse @text as a decimal integer in [@lo, @hi]: ASCII digits only, so
 * " 1", "+1", "-1", "1k", "0x1" and "" are refused rather than read as
 * something the writer did not mean, and values past @hi (however many
 * digits) are refused without wrapping. The one parser every PINION_*
 * variable and numeric tool option goes through. Returns 0 and *@out;
 * -EINVAL ("not a number", *@why), -ERANGE ("out of range", *@why). @why
 * may be NULL. Does not touch errno or pn_last_error(). Any thread.
 */
PN_API int pn_parse_u64(const char *text, uint64_t lo, uint64_t hi,
			uint64_t *out, const char **why);

#ifdef __cplusplus
}
#endif
#endif /* PN_BASE_H */
