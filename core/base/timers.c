// SPDX-License-Identifier: MIT
/*
 * Per-shard timers: a hierarchical timing wheel over a table of timer
 * records. Owns the wheel's placement rule, its cascading, the record table
 * (growable array, free list, generations) and the order in which due
 * timers fire. Single-threaded: the owning shard is the only caller.
 *
 * Placement. Time is counted in ticks. The wheel has a position @cur (a
 * tick); a timer due at tick e >= cur goes to the level of the highest
 * 6-bit digit in which e and cur differ, in the slot named by e's digit at
 * that level (the "xor" placement of W. Ahern's timeout.c). So a level-L
 * timer agrees with cur in every digit above L and is ahead of it in digit
 * L; a slot never holds timers from two different rotations, and the
 * lowest occupied slot (a ctz) of the lowest non-empty level is always the
 * next thing to do. Level 0 slots hold exactly one tick each; the start of
 * an upper slot is a lower bound for every timer in it. When the wheel
 * reaches an upper slot it is cascaded: its timers are placed again
 * relative to the slot's start, which puts each at a lower level. Timers
 * whose expiry differs from cur above the 36 bits the wheel covers wait on
 * one overflow list that behaves as a seventh level with a single slot,
 * starting at the next multiple of 2^36 ticks.
 *
 * Invariant: every occupied upper slot starts strictly after cur, every
 * occupied level-0 slot at or after it. That is what makes the lowest
 * level's first slot the earliest: its timers lie in cur's block at that
 * level, every higher level's in a later block. Moving cur to a tick X
 * with cur <= X <= (the earliest slot start) keeps every placement valid,
 * because X agrees with cur above the lowest non-empty level and passes no
 * occupied slot; but an upper slot starting exactly at X must then be
 * cascaded at once, or the invariant breaks (a timer armed next at level 0
 * would be found before it). So cur moves only to the start of the slot
 * about to be processed, and at the end of advance() to the first
 * unprocessed tick after cascading any upper slot that starts there.
 *
 * Order. When a level-0 slot becomes due, its timers (which may come from
 * direct arming and from cascades, in any order) are sorted by (expiry_ns,
 * arming sequence) with a linked-list merge sort, so callbacks run in exact
 * expiry order with ties in arming order.
 */
#include "timers.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define TW_BITS	     6
#define TW_SLOTS     (1u << TW_BITS)
#define TW_MASK	     (TW_SLOTS - 1)
#define TW_LEVELS    6
#define TW_SPAN_BITS (TW_BITS * TW_LEVELS) /* 36: ticks the wheel covers */

/* List heads: the 6 x 64 wheel slots, then three more lists. */
enum {
	TW_OVERFLOW = TW_LEVELS * TW_SLOTS, /* differs from cur above 2^36 */
	TW_OVERDUE, /* due at a tick already processed: next advance() */
	TW_DUE,	    /* the sorted batch advance() is firing */
	TW_NLISTS,
	TW_FREE = 0xffff, /* record on the free list, or retired */
};

#define TW_NIL	    UINT32_MAX
#define TW_INIT_CAP 64u
#define TW_MAX_RECS (1u << 30) /* keeps the merge sort's 32 bins enough */

struct tw_rec {
	struct pn_msg msg;  /* delivered by copy at each firing */
	uint64_t expiry_ns; /* exact expiry on the caller's clock */
	uint64_t tick;	    /* expiry rounded up to ticks: the wheel key */
	uint64_t period_ns; /* 0: one-shot */
	uint64_t seq;	    /* arming order, breaks expiry ties */
	uint32_t gen;	    /* bumped when freed; the id's upper half */
	uint32_t prev;	    /* list links by index: the table may move */
	uint32_t next;	    /* (the free list uses next only) */
	uint16_t list;	    /* which list holds the record, or TW_FREE */
};

struct pn__timers {
	struct pn_arena *arena;
	uint64_t tick_ns;
	uint64_t cur;	  /* wheel position: placement is relative to it */
	uint64_t done;	  /* every tick < done has been processed */
	uint64_t last_ns; /* greatest now_ns given to advance() */
	uint64_t seq;	  /* next arming sequence number */
	uint64_t occupied[TW_LEVELS]; /* bit s: slot s of the level non-empty */
	struct tw_rec *recs;	      /* [cap], cacheline-aligned */
	uint32_t nrecs;		      /* records ever handed out */
	uint32_t cap;
	uint32_t free_head;
	unsigned armed;
	uint32_t head[TW_NLISTS];
};

/* Memory goes through these two so the source of it is in one place. */
static void *tw_mem_alloc(struct pn_arena *a, size_t size)
{
	return pn_arena_alloc_aligned(a, size, PN_CACHELINE);
}

static void tw_mem_free(struct pn_arena *a, void *p, size_t size)
{
	pn_arena_free_aligned(a, p, size, PN_CACHELINE);
}

static uint64_t tw_sat_add(uint64_t a, uint64_t b)
{
	uint64_t s;

	return __builtin_add_overflow(a, b, &s) ? UINT64_MAX : s;
}

/* The tick at which a timer due at @ns may fire: ns rounded up. */
static uint64_t tw_tick(const struct pn__timers *t, uint64_t ns)
{
	return ns / t->tick_ns + (ns % t->tick_ns != 0);
}

static uint64_t tw_id(uint32_t idx, uint32_t gen)
{
	return (uint64_t)gen << 32 | idx; /* gen >= 1, so never 0 */
}

static void tw_push(struct pn__timers *t, unsigned list, uint32_t idx)
{
	struct tw_rec *r = &t->recs[idx];

	r->prev = TW_NIL;
	r->next = t->head[list];
	if (r->next != TW_NIL)
		t->recs[r->next].prev = idx;
	t->head[list] = idx;
	r->list = (uint16_t)list;
	if (list < TW_OVERFLOW)
		t->occupied[list / TW_SLOTS] |= 1ull << (list % TW_SLOTS);
}

static void tw_unlink(struct pn__timers *t, uint32_t idx)
{
	struct tw_rec *r = &t->recs[idx];
	unsigned list = r->list;

	if (r->next != TW_NIL)
		t->recs[r->next].prev = r->prev;
	if (r->prev != TW_NIL) {
		t->recs[r->prev].next = r->next;
	} else {
		t->head[list] = r->next;
		if (r->next == TW_NIL && list < TW_OVERFLOW)
			t->occupied[list / TW_SLOTS] &=
				~(1ull << (list % TW_SLOTS));
	}
}

/* Empty @list and return its chain (linked by next). */
static uint32_t tw_detach(struct pn__timers *t, unsigned list)
{
	uint32_t first = t->head[list];

	t->head[list] = TW_NIL;
	if (list < TW_OVERFLOW)
		t->occupied[list / TW_SLOTS] &= ~(1ull << (list % TW_SLOTS));
	return first;
}

/* Put record @idx on the list its tick belongs to (see the file comment). */
static void tw_place(struct pn__timers *t, uint32_t idx)
{
	uint64_t e = t->recs[idx].tick, x;
	unsigned level;

	if (e < t->done) {
		tw_push(t, TW_OVERDUE, idx);
		return;
	}
	pn_assert(e >= t->cur); /* cur <= done always */
	x = e ^ t->cur;
	level = x ? (unsigned)(63 - __builtin_clzll(x)) / TW_BITS : 0;
	if (level >= TW_LEVELS)
		tw_push(t, TW_OVERFLOW, idx);
	else
		tw_push(t,
			level * TW_SLOTS +
				(unsigned)((e >> (level * TW_BITS)) & TW_MASK),
			idx);
}

/*
 * The first tick at which the wheel has work: the start of the lowest
 * occupied slot of the lowest non-empty level (exact at level 0), or of
 * the overflow list; UINT64_MAX if all are empty. *@list names it.
 */
static uint64_t tw_first(const struct pn__timers *t, unsigned *list)
{
	unsigned level, shift, slot;

	for (level = 0; level < TW_LEVELS; level++) {
		if (!t->occupied[level])
			continue;
		shift = level * TW_BITS;
		slot = (unsigned)__builtin_ctzll(t->occupied[level]);
		*list = level * TW_SLOTS + slot;
		return ((t->cur >> shift >> TW_BITS << TW_BITS) | slot)
		       << shift;
	}
	*list = TW_OVERFLOW;
	if (t->head[TW_OVERFLOW] == TW_NIL)
		return UINT64_MAX;
	return ((t->cur >> TW_SPAN_BITS) + 1) << TW_SPAN_BITS;
}

/* --- the record table ------------------------------------------------- */

static int tw_grow(struct pn__timers *t)
{
	uint32_t cap = t->cap ? t->cap * 2 : TW_INIT_CAP;
	struct tw_rec *recs;

	if (cap > TW_MAX_RECS)
		return pn__error(-ENOMEM, "timers: more than %u armed",
				 TW_MAX_RECS);
	recs = tw_mem_alloc(t->arena, (size_t)cap * sizeof(*recs));
	if (!recs)
		return pn__error(-ENOMEM, "timers: no memory for %u records",
				 cap);
	if (t->recs) {
		memcpy(recs, t->recs, (size_t)t->nrecs * sizeof(*recs));
		tw_mem_free(t->arena, t->recs, (size_t)t->cap * sizeof(*recs));
	}
	t->recs = recs;
	t->cap = cap;
	return 0;
}

static int tw_rec_alloc(struct pn__timers *t, uint32_t *idx)
{
	int err;

	if (t->free_head != TW_NIL) {
		*idx = t->free_head;
		t->free_head = t->recs[*idx].next;
		return 0;
	}
	if (t->nrecs == t->cap) {
		err = tw_grow(t);
		if (err < 0)
			return err;
	}
	*idx = t->nrecs++;
	t->recs[*idx].gen = 1;
	return 0;
}

/*
 * Free record @idx (already unlinked). Its generation moves on so that its
 * old id is dead; a record whose generation would wrap to 0 is retired
 * rather than reused, so an id is never issued twice.
 */
static void tw_rec_free(struct pn__timers *t, uint32_t idx)
{
	struct tw_rec *r = &t->recs[idx];

	r->list = TW_FREE;
	t->armed--;
	if (++r->gen == 0)
		return;
	r->next = t->free_head;
	t->free_head = idx;
}

/* --- sorting a due batch ------------------------------------------------ */

static bool tw_before(const struct tw_rec *a, const struct tw_rec *b)
{
	if (a->expiry_ns != b->expiry_ns)
		return a->expiry_ns < b->expiry_ns;
	return a->seq < b->seq;
}

/* Merge two sorted chains; on equal keys @a's records come first. */
static uint32_t tw_merge(struct tw_rec *r, uint32_t a, uint32_t b)
{
	uint32_t head = TW_NIL, *tail = &head;

	while (a != TW_NIL && b != TW_NIL) {
		if (tw_before(&r[b], &r[a])) {
			*tail = b;
			tail = &r[b].next;
			b = r[b].next;
		} else {
			*tail = a;
			tail = &r[a].next;
			a = r[a].next;
		}
	}
	*tail = a != TW_NIL ? a : b;
	return head;
}

/*
 * Bottom-up merge sort of a chain (linked by next): bin[i] holds a sorted
 * run of 2^i records or nothing, as the digits of a binary counter. Uses no
 * memory beyond the 32 bins; TW_MAX_RECS keeps the counter in range.
 */
static uint32_t tw_sort(struct tw_rec *r, uint32_t chain)
{
	uint32_t bin[32], run;
	unsigned i;

	for (i = 0; i < 32; i++)
		bin[i] = TW_NIL;
	while (chain != TW_NIL) {
		run = chain;
		chain = r[chain].next;
		r[run].next = TW_NIL;
		for (i = 0; bin[i] != TW_NIL; i++) {
			run = tw_merge(r, bin[i], run);
			bin[i] = TW_NIL;
		}
		bin[i] = run;
	}
	run = TW_NIL;
	for (i = 0; i < 32; i++)
		if (bin[i] != TW_NIL)
			run = tw_merge(r, bin[i], run);
	return run;
}

/* Move @list, sorted, to the (empty) due list. */
static void tw_take_due(struct pn__timers *t, unsigned list)
{
	uint32_t idx, prev = TW_NIL;

	pn_assert(t->head[TW_DUE] == TW_NIL);
	idx = tw_sort(t->recs, tw_detach(t, list));
	t->head[TW_DUE] = idx;
	for (; idx != TW_NIL; prev = idx, idx = t->recs[idx].next) {
		t->recs[idx].prev = prev;
		t->recs[idx].list = TW_DUE;
	}
}

/* --- firing --------------------------------------------------------------- */

/*
 * Re-arm periodic record @idx after its firing at advance(@now_ns): on its
 * original phase, at the first expiry after @now_ns, so that it never
 * fires twice in one advance() (see the header).
 */
static void tw_rearm(struct pn__timers *t, uint32_t idx, uint64_t now_ns)
{
	struct tw_rec *r = &t->recs[idx];
	uint64_t next = tw_sat_add(r->expiry_ns, r->period_ns), k, skip;

	if (next <= now_ns) { /* fell behind; now_ns < UINT64_MAX */
		k = (now_ns - r->expiry_ns) / r->period_ns + 1;
		if (__builtin_mul_overflow(k, r->period_ns, &skip))
			skip = UINT64_MAX;
		next = tw_sat_add(r->expiry_ns, skip);
	}
	r->expiry_ns = next;
	r->tick = tw_tick(t, next);
	r->seq = t->seq++;
	tw_place(t, idx);
}

/*
 * Fire the due list in order. The record is re-armed or freed before its
 * callback, which gets a copy of the message: arm() in the callback may
 * move the table, and cancel() of the id must see the timer's new state.
 */
static unsigned tw_fire_due(struct pn__timers *t, uint64_t now_ns,
			    pn__timers_fire_fn fire, void *arg)
{
	unsigned n = 0;
	uint32_t idx;

	while ((idx = t->head[TW_DUE]) != TW_NIL) {
		struct tw_rec *r = &t->recs[idx];
		struct pn_msg msg = r->msg;
		uint64_t id = tw_id(idx, r->gen);

		tw_unlink(t, idx);
		if (r->period_ns)
			tw_rearm(t, idx, now_ns);
		else
			tw_rec_free(t, idx);
		fire(arg, &msg, id);
		n++;
	}
	return n;
}

/* Re-place every timer of @list relative to cur (which is its start). */
static void tw_cascade(struct pn__timers *t, unsigned list)
{
	uint32_t idx = tw_detach(t, list), next;

	for (; idx != TW_NIL; idx = next) {
		next = t->recs[idx].next;
		tw_place(t, idx);
	}
}

unsigned pn__timers_advance(struct pn__timers *t, uint64_t now_ns,
			    pn__timers_fire_fn fire, void *arg)
{
	uint64_t target, start;
	unsigned n, list;

	if (now_ns < t->last_ns)
		now_ns = t->last_ns;
	if (now_ns >= UINT64_MAX - 1) /* keeps target + 2 representable */
		now_ns = UINT64_MAX - 2;
	t->last_ns = now_ns;
	target = now_ns / t->tick_ns;

	/* Overdue timers are all earlier than anything in the wheel. */
	tw_take_due(t, TW_OVERDUE);
	n = tw_fire_due(t, now_ns, fire, arg);

	/* Level-0 slots up to target fire. Upper slots are cascaded up to
	 * target + 1, the final position: one starting exactly there must be
	 * emptied too, or a timer armed next could land in level 0 ahead of
	 * it and be found first although it is due later. */
	for (;;) {
		start = tw_first(t, &list);
		if (start > target + (list >= TW_SLOTS))
			break;
		pn_assert(start >= t->cur);
		t->cur = start;
		if (list < TW_SLOTS) {
			/* Arms from these callbacks due at or before this
			 * tick go to the overdue list: next advance(). */
			t->done = start + 1;
			tw_take_due(t, list);
			n += tw_fire_due(t, now_ns, fire, arg);
		} else {
			tw_cascade(t, list);
		}
	}
	/* Every tick <= target is processed, and every slot starts after
	 * target + 1 (level 0: at or after), so the wheel can stand there. */
	t->done = target + 1;
	t->cur = t->done;
	return n;
}

/* --- the API ----------------------------------------------------------------
 */

int pn__timers_create(struct pn_arena *a, uint64_t now_ns, uint64_t tick_ns,
		      struct pn__timers **out)
{
	struct pn__timers *t;
	unsigned i;

	if (tick_ns == 0)
		return pn__error(-EINVAL, "timers: tick must not be 0");
	t = tw_mem_alloc(a, sizeof(*t));
	if (!t)
		return pn__error(-ENOMEM, "timers: no memory");
	memset(t, 0, sizeof(*t));
	t->arena = a;
	t->tick_ns = tick_ns;
	t->last_ns = now_ns;
	/* Ticks up to now_ns's are in the past (a timer due then is
	 * overdue). Saturating: now_ns near UINT64_MAX is not a clock. */
	t->done = tw_sat_add(now_ns / tick_ns, 1);
	t->cur = t->done;
	t->free_head = TW_NIL;
	for (i = 0; i < TW_NLISTS; i++)
		t->head[i] = TW_NIL;
	*out = t;
	return 0;
}

void pn__timers_destroy(struct pn__timers *t)
{
	if (!t)
		return;
	if (t->recs)
		tw_mem_free(t->arena, t->recs,
			    (size_t)t->cap * sizeof(*t->recs));
	tw_mem_free(t->arena, t, sizeof(*t));
}

int pn__timers_arm(struct pn__timers *t, uint64_t now_ns, uint64_t delay_ns,
		   uint64_t period_ns, const struct pn_msg *msg, uint64_t *id)
{
	struct tw_rec *r;
	uint32_t idx;
	int err;

	err = tw_rec_alloc(t, &idx);
	if (err < 0)
		return err;
	r = &t->recs[idx];
	r->msg = *msg;
	r->expiry_ns = tw_sat_add(now_ns, delay_ns);
	r->tick = tw_tick(t, r->expiry_ns);
	r->period_ns = period_ns;
	r->seq = t->seq++;
	tw_place(t, idx);
	t->armed++;
	*id = tw_id(idx, r->gen);
	return 0;
}

int pn__timers_cancel(struct pn__timers *t, uint64_t id)
{
	uint32_t idx = (uint32_t)id;

	/* No pn__error() detail: a cancel racing a firing is routine. */
	if (idx >= t->nrecs || t->recs[idx].list == TW_FREE ||
	    t->recs[idx].gen != (uint32_t)(id >> 32))
		return -ENOENT;
	tw_unlink(t, idx);
	tw_rec_free(t, idx);
	return 0;
}

uint64_t pn__timers_next_ns(const struct pn__timers *t, uint64_t now_ns)
{
	uint64_t start, due;
	unsigned list;

	if (t->head[TW_OVERDUE] != TW_NIL || t->head[TW_DUE] != TW_NIL)
		return 0;
	start = tw_first(t, &list);
	if (start == UINT64_MAX)
		return UINT64_MAX;
	/* Saturate below UINT64_MAX, which means "none armed". */
	if (__builtin_mul_overflow(start, t->tick_ns, &due) ||
	    due == UINT64_MAX)
		due = UINT64_MAX - 1;
	return due > now_ns ? due - now_ns : 0;
}

unsigned pn__timers_armed(const struct pn__timers *t)
{
	return t->armed;
}
