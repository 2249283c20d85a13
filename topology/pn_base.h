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

/*
 * Internal (pn__): record the detail for pn_last_error() and return @err
 * (a negative errno) so that callers can write `return pn__error(-EINVAL,
 * "...")`.
 */
int pn__error(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Internal: print "pinion: panic: <msg> at file:line" and abort(). */
__attribute__((noreturn, format(printf, 3, 4))) void
pn__panic(const char *file, int line, const char *fmt, ...);

/* Unrecoverable state: print and abort. Always on. */
#define pn_panic(...) pn__panic(__FILE__, __LINE__, __VA_ARGS__)

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

#ifdef __cplusplus
}
#endif
#endif /* PN_BASE_H */
