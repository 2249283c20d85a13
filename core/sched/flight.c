// SPDX-License-Identifier: MIT
/*
 * The flight recorder: each shard keeps its last PN__FLIGHT_N events
 * (park, unpark, wake-ups it sent, spawns, stops and failures, dead
 * letters, refused sends, sampled dispatches, migrations) in a fixed ring
 * it overwrites, so that a crash report (crash.c) and a watchdog report
 * (watchdog.c) can say what the shard did just before. Only slow paths
 * record (never the per-message fast path), so each event may read the
 * clock.
 *
 * Owner-written; readers are the crash handler on the owner's own thread
 * (async-signal-safe: no locks, no allocation, fixed buffers) and the
 * watchdog on the supervisor shard. Each event is under its own seqlock
 * (base/seqlock.h; the owner is its one writer), and carries its number:
 * a reader takes event n only if the lock vouches for what it read and
 * that is event n, not an older or newer one in the same slot.
 */
#include "sched_int.h"
#include "seqlock.h"

#include <stdio.h>

static const char *const kind_name[PN__FL_KINDS] = {
	[PN__FL_PARK] = "park",	      [PN__FL_UNPARK] = "unpark",
	[PN__FL_WAKE] = "wake",	      [PN__FL_SPAWN] = "spawn",
	[PN__FL_STOP] = "stop",	      [PN__FL_DEAD] = "dead-letter",
	[PN__FL_EAGAIN] = "eagain",   [PN__FL_SAMPLE] = "dispatch",
	[PN__FL_MIGRATE] = "migrate",
};

void pn__flight_rec(struct pn__met *mt, uint64_t ts, int kind, pn_pid pid,
		    uint32_t type, uint64_t arg)
{
	struct pn__mshard *sh = mt->sh;
	uint64_t n = atomic_load_explicit(&sh->fl_next, memory_order_relaxed);
	struct pn__flight_ev *e = &sh->fl[n % PN__FLIGHT_N];

	if (!ts) /* the clock before the section: keep it short */
		ts = mt->now(mt->now_arg);
	pn__seq_write_begin(&e->seq);
	/* Relaxed inside the section (seqlock.h). */
	atomic_store_explicit(&e->num, n + 1, memory_order_relaxed);
	atomic_store_explicit(&e->ts, ts, memory_order_relaxed);
	atomic_store_explicit(&e->pid, pid, memory_order_relaxed);
	atomic_store_explicit(&e->arg, arg, memory_order_relaxed);
	atomic_store_explicit(&e->kt, (uint64_t)kind << 32 | type,
			      memory_order_relaxed);
	pn__seq_write_end(&e->seq);
	/* Relaxed: a hint of how far to look; read_ev() checks each event's
	 * own number. */
	atomic_store_explicit(&sh->fl_next, n + 1, memory_order_relaxed);
}

struct ev {
	uint64_t ts, pid, arg, kt;
};

/* Event number @n (0-based) if it is still in the ring and whole. */
static bool read_ev(const struct pn__mshard *sh, uint64_t n, struct ev *out)
{
	const struct pn__flight_ev *e = &sh->fl[n % PN__FLIGHT_N];
	uint32_t seq = pn__seq_read_begin(&e->seq);
	uint64_t num;

	if (seq & 1) /* being rewritten: event n is gone, or not there yet */
		return false;
	/* Relaxed, like every load of the event: seqlock.h. */
	num = atomic_load_explicit(&e->num, memory_order_relaxed);
	out->ts = atomic_load_explicit(&e->ts, memory_order_relaxed);
	out->pid = atomic_load_explicit(&e->pid, memory_order_relaxed);
	out->arg = atomic_load_explicit(&e->arg, memory_order_relaxed);
	out->kt = atomic_load_explicit(&e->kt, memory_order_relaxed);
	return pn__seq_read_ok(&e->seq, seq) && num == n + 1;
}

/* Async-signal-safe formatting into a fixed buffer. */
struct line {
	char b[160];
	size_t n;
};

static void put_s(struct line *l, const char *s)
{
	while (*s && l->n + 1 < sizeof(l->b))
		l->b[l->n++] = *s++;
	l->b[l->n] = 0;
}

static void put_u(struct line *l, uint64_t v, unsigned base)
{
	char t[24];
	int i = 0;

	if (base == 16)
		put_s(l, "0x");
	do {
		t[i++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (i-- > 0 && l->n + 1 < sizeof(l->b))
		l->b[l->n++] = t[i];
	l->b[l->n] = 0;
}

/* One event as a line: "-1.234567 ms stop pid 0x... type 0x... arg". */
static void format_ev(struct line *l, const struct ev *e, uint64_t now)
{
	unsigned kind = (unsigned)(e->kt >> 32);
	uint64_t ago = now > e->ts ? now - e->ts : 0;

	put_s(l, "pinion:     -");
	put_u(l, ago / 1000, 10);
	put_s(l, " us ");
	put_s(l,
	      kind < PN__FL_KINDS && kind_name[kind] ? kind_name[kind] : "?");
	if (e->pid) {
		put_s(l, " actor ");
		put_u(l, e->pid, 16);
	}
	if ((uint32_t)e->kt) {
		put_s(l, " type ");
		put_u(l, (uint32_t)e->kt, 16);
	}
	if (kind == PN__FL_STOP) {
		put_s(l, " reason ");
		put_s(l, pn_reason_name((int)(e->arg >> 32)));
	} else if (e->arg) {
		put_s(l, kind == PN__FL_WAKE || kind == PN__FL_SPAWN ? " arg "
								     : " ns ");
		put_u(l, e->arg, 10);
	}
	put_s(l, "\n");
}

/*
 * Call @put with the last events of @s, oldest first, one line each
 * (async-signal-safe if @put is: the crash handler's use).
 */
static void walk(const struct pn_shard *s, unsigned last,
		 void (*put)(void *arg, const char *line), void *arg)
{
	const struct pn__mshard *sh = s->met.sh;
	uint64_t next, first, now = pn__now(s->rt);
	struct line l;
	struct ev e;

	if (!PN__METRICS || !sh)
		return;
	next = atomic_load_explicit(&sh->fl_next, memory_order_relaxed);
	if (last > PN__FLIGHT_N)
		last = PN__FLIGHT_N;
	first = next > last ? next - last : 0;
	for (uint64_t n = first; n < next; n++) {
		if (!read_ev(sh, n, &e))
			continue;
		l.n = 0;
		format_ev(&l, &e, now);
		put(arg, l.b);
	}
}

struct crash_arg {
	void (*put)(const char *line);
};

static void crash_put(void *arg, const char *line)
{
	((struct crash_arg *)arg)->put(line);
}

void pn__flight_crash(const struct pn_shard *s, void (*put)(const char *line))
{
	struct crash_arg a = {.put = put};

	walk(s, 32, crash_put, &a);
}

struct text {
	char *buf;
	size_t size, n;
};

static void text_put(void *arg, const char *line)
{
	struct text *t = arg;
	int w = snprintf(t->buf + t->n, t->size - t->n, "%s", line);

	if (w > 0)
		t->n += (size_t)w < t->size - t->n ? (size_t)w
						   : t->size - t->n - 1;
}

/* The last @last events of @s as text lines into @buf; returns length. */
int pn__flight_text(const struct pn_shard *s, unsigned last, char *buf,
		    size_t size)
{
	struct text t = {.buf = buf, .size = size};

	if (!size)
		return 0;
	buf[0] = 0;
	walk(s, last, text_put, &t);
	return (int)t.n;
}
