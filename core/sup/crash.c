// SPDX-License-Identifier: MIT
/*
 * Crash reports. A fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT)
 * on a shard thread prints what the shard was running and a backtrace,
 * then the signal takes its course: the handler that was installed before
 * ours runs (a sanitizer's, the application's), or the default action
 * kills the process. Signals on other threads pass straight through.
 *
 * Each shard thread gets an alternate signal stack when it starts, so a
 * stack overflow in a handler is reported too. The handler is installed
 * once per process (the first runtime without no_crash_report).
 *
 * Only async-signal-safe calls in the handler: write(2) and our own
 * number formatting; backtrace() is loaded once beforehand (its first call
 * may allocate while libgcc is loaded), backtrace_symbols_fd() writes
 * without allocating. What it reads of the shard (its beacon, its current
 * actor) is best effort in a process that just faulted. Format (README,
 * "Crash reports"):
 *
 *   pinion: fatal signal 11 (SIGSEGV) on shard 1 (cpu 1), address 0x0
 *   pinion:   actor 0x40000100000001 behaviour "crasher" message type 0x1234
 *   pinion:   backtrace:
 *   <one line per frame, from backtrace_symbols_fd()>
 *   pinion:   last events on this shard (flight recorder, oldest first):
 *   pinion:     -1234 us spawn actor 0x40000100000001 arg 1
 *   <up to 32 lines: flight.c>
 *   pinion: end of crash report
 */
#include "sup_int.h"

#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#define ALT_STACK (64 * 1024)
#define NFRAMES	  64

static const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
#define NFATAL (int)(sizeof(fatal) / sizeof(fatal[0]))

static struct sigaction previous[NFATAL]; /* written once, before use */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_flag reporting = ATOMIC_FLAG_INIT; /* one report a process */

static __thread struct pn_shard *crash_shard;
static __thread void *alt_stack;
static __thread size_t alt_size;

/* --- async-signal-safe output -------------------------------------------- */

struct out {
	char buf[512];
	size_t n;
};

static void put(struct out *o, const char *s)
{
	while (*s && o->n < sizeof(o->buf))
		o->buf[o->n++] = *s++;
}

static void put_uint(struct out *o, uint64_t v, unsigned base)
{
	char tmp[24];
	int i = 0;

	if (base == 16)
		put(o, "0x");
	do {
		tmp[i++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (i-- > 0 && o->n < sizeof(o->buf))
		o->buf[o->n++] = tmp[i];
}

static void flush(struct out *o)
{
	size_t done = 0;

	while (done < o->n) {
		ssize_t w = write(STDERR_FILENO, o->buf + done, o->n - done);

		if (w <= 0)
			break;
		done += (size_t)w;
	}
	o->n = 0;
}

/* One flight-recorder line (AS-safe: write(2) only). */
static void put_line(const char *line)
{
	struct out o = {.n = 0};

	put(&o, line);
	flush(&o);
}

static const char *sig_name(int sig)
{
	switch (sig) {
	case SIGSEGV:
		return "SIGSEGV";
	case SIGBUS:
		return "SIGBUS";
	case SIGFPE:
		return "SIGFPE";
	case SIGILL:
		return "SIGILL";
	case SIGABRT:
		return "SIGABRT";
	}
	return "?";
}

/* The message type as the report shows it (AS-safe: constant strings). */
static void put_type(struct out *o, uint32_t type)
{
	static const char *const sys[] = {
		"?",	   " (started)", " (stopping)", " (down)",
		" (exit)", " (timeout)", " (shutdown)", " (writable)"};

	put_uint(o, type, 16);
	if (type > PN_MSG_SYS && type <= PN_MSG_WRITABLE)
		put(o, sys[type - PN_MSG_SYS]);
	else if (type == PN__MSG_SPAWN)
		put(o, " (init)");
}

static void report(struct pn_shard *s, int sig, const siginfo_t *si)
{
	void *frames[NFRAMES];
	struct out o = {.n = 0};
	const struct pn_behaviour *b;
	int n;

	put(&o, "pinion: fatal signal ");
	put_uint(&o, (uint64_t)sig, 10);
	put(&o, " (");
	put(&o, sig_name(sig));
	put(&o, ") on shard ");
	put_uint(&o, s->id, 10);
	if (s->id == s->rt->napp)
		put(&o, " (the supervisor shard)");
	put(&o, " (cpu ");
	put_uint(&o, (uint64_t)(unsigned)s->cpu, 10);
	put(&o, ")");
	if (sig != SIGABRT && si) {
		put(&o, ", address ");
		put_uint(&o, (uint64_t)(uintptr_t)si->si_addr, 16);
	}
	put(&o, "\npinion:   ");
	if (s->cur) {
		/* The beacon names the innermost actor running (init and the
		 * stop sequence included), with its message type. */
		b = atomic_load_explicit(&s->beacon.b, memory_order_relaxed);
		put(&o, "actor ");
		put_uint(&o,
			 atomic_load_explicit(&s->beacon.actor,
					      memory_order_relaxed),
			 16);
		put(&o, " behaviour \"");
		put(&o, b && b->name ? b->name : "?");
		put(&o, "\" message type ");
		put_type(&o, atomic_load_explicit(&s->beacon.type,
						  memory_order_relaxed));
	} else {
		put(&o, "no handler running (in the shard's loop)");
	}
	put(&o, "\npinion:   backtrace:\n");
	flush(&o);
	n = backtrace(frames, NFRAMES);
	backtrace_symbols_fd(frames, n, STDERR_FILENO);
	if (PN__METRICS) {
		put(&o, "pinion:   last events on this shard (flight "
			"recorder, oldest first):\n");
		flush(&o);
		pn__flight_crash(s, put_line);
	}
	put(&o, "pinion: end of crash report\n");
	flush(&o);
}

static int fatal_index(int sig)
{
	for (int i = 0; i < NFATAL; i++)
		if (fatal[i] == sig)
			return i;
	return -1;
}

static void on_fatal(int sig, siginfo_t *si, void *uc)
{
	struct pn_shard *s = crash_shard;
	int i = fatal_index(sig);
	struct sigaction *prev;

	if (s && !atomic_flag_test_and_set(&reporting))
		report(s, sig, si);
	if (i < 0)
		return;
	prev = &previous[i];
	/* Hand over to whoever handled it before us... */
	if ((prev->sa_flags & SA_SIGINFO) && prev->sa_sigaction) {
		prev->sa_sigaction(sig, si, uc);
		return;
	}
	if (!(prev->sa_flags & SA_SIGINFO) && prev->sa_handler != SIG_DFL &&
	    prev->sa_handler != SIG_IGN && prev->sa_handler) {
		prev->sa_handler(sig);
		return;
	}
	/* ...or take the default action: the signal is blocked while we run,
	 * so it is delivered, fatally, when we return (a fault also recurs
	 * when the instruction runs again). */
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install(void)
{
	struct sigaction sa;
	void *warm[2];

	/* Load libgcc's unwinder now: its first use may allocate. */
	backtrace(warm, 2);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fatal;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < NFATAL; i++)
		sigaction(fatal[i], &sa, &previous[i]);
}

/* At a shard thread's start: its alternate stack, and the handler. */
void pn__crash_thread_init(struct pn_shard *s)
{
	stack_t ss = {.ss_flags = 0};
	size_t size = SIGSTKSZ > ALT_STACK ? SIGSTKSZ : ALT_STACK;
	void *p;

	if (s->rt->cfg.no_crash_report)
		return;
	pthread_once(&once, install);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (p != MAP_FAILED) {
		ss.ss_sp = p;
		ss.ss_size = size;
		if (sigaltstack(&ss, NULL) == 0) {
			alt_stack = p;
			alt_size = size;
		} else {
			munmap(p, size);
		}
	}
	crash_shard = s;
}

/* When a shard thread leaves its loop. */
void pn__crash_thread_fini(void)
{
	stack_t ss = {.ss_flags = SS_DISABLE};

	crash_shard = NULL;
	if (!alt_stack)
		return;
	sigaltstack(&ss, NULL);
	munmap(alt_stack, alt_size);
	alt_stack = NULL;
}
