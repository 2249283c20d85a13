// SPDX-License-Identifier: MIT
/*
 * The core's two small single-threaded containers: the chunked message
 * FIFO (local queue, overflow queues, early messages) and the PID set
 * (monitors, links, writable waiters). Both take memory from the owning
 * shard's arena, grow only when they must, and keep what they grew.
 */
#include "base_int.h"

#include <errno.h>

/*
 * Spare chunks a FIFO keeps: up to its high-water mark, at most 4 MiB.
 * An overflow queue swings between half and all of its budget under
 * streaming; freeing chunks on the way down only to allocate them again on
 * the way up would put the allocator on the send path.
 */
#define PN__MAX_SPARE 1024

int pn__fifo_grow(struct pn__fifo *f, struct pn_arena *a)
{
	struct pn__chunk *c = f->spare;

	if (c) {
		f->spare = c->next;
		f->nspare--;
	} else {
		c = pn_arena_alloc_aligned(a, sizeof(*c), PN_CACHELINE);
		if (!c)
			return -ENOMEM;
	}
	c->next = NULL;
	if (f->tail)
		f->tail->next = c;
	else
		f->head = c;
	f->tail = c;
	f->tidx = 0;
	if (f->head == c)
		f->hidx = 0;
	return 0;
}

/* The head chunk is used up: move to the next one, keep it as a spare. */
void pn__fifo_next_chunk(struct pn__fifo *f, struct pn_arena *a)
{
	struct pn__chunk *old = f->head;

	if (old == f->tail) { /* the only chunk, and empty: start over */
		f->hidx = f->tidx = 0;
		return;
	}
	f->head = old->next;
	f->hidx = 0;
	if (f->nspare < PN__MAX_SPARE) {
		old->next = f->spare;
		f->spare = old;
		f->nspare++;
	} else {
		pn_arena_free_aligned(a, old, sizeof(*old), PN_CACHELINE);
	}
}

bool pn__fifo_ok(const struct pn__fifo *f)
{
	uint64_t n = 0;
	const struct pn__chunk *c;

	if (!f->head)
		return !f->len && !f->tail;
	for (c = f->head; c; c = c->next) {
		uint32_t i = c == f->head ? f->hidx : 0;
		uint32_t end = c == f->tail ? f->tidx : PN__CHUNK_MSGS;

		if (i > end || end > PN__CHUNK_MSGS)
			return false;
		n += end - i;
		if (c == f->tail)
			return !c->next && n == f->len;
	}
	return false; /* the tail is not on the chain */
}

void pn__fifo_fini(struct pn__fifo *f, struct pn_arena *a)
{
	struct pn__chunk *c, *next;

	pn_assert(pn__fifo_ok(f));
	for (c = f->head; c; c = next) {
		next = c->next;
		pn_arena_free_aligned(a, c, sizeof(*c), PN_CACHELINE);
	}
	for (c = f->spare; c; c = next) {
		next = c->next;
		pn_arena_free_aligned(a, c, sizeof(*c), PN_CACHELINE);
	}
	*f = (struct pn__fifo){0};
}

/* Call @fn on each message of @f, oldest first (@fn may change a message
 * in place, not the FIFO); true as soon as @fn returns true. */
bool pn__fifo_each(struct pn__fifo *f, bool (*fn)(struct pn_msg *m, void *arg),
		   void *arg)
{
	pn_assert(pn__fifo_ok(f));
	for (struct pn__chunk *c = f->head; c && f->len; c = c->next) {
		uint32_t i = c == f->head ? f->hidx : 0;
		uint32_t end = c == f->tail ? f->tidx : PN__CHUNK_MSGS;

		for (; i < end; i++)
			if (fn(&c->m[i], arg))
				return true;
		if (c == f->tail)
			break;
	}
	return false;
}

int pn__pids_add(struct pn__pids *p, struct pn_arena *a, pn_pid pid)
{
	if (p->n == p->cap) {
		uint32_t cap = p->cap ? p->cap * 2 : 4;
		pn_pid *v = pn_arena_alloc(a, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		if (p->n)
			memcpy(v, p->v, p->n * sizeof(*v));
		pn_arena_free(a, p->v, p->cap * sizeof(*v));
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n++] = pid;
	return 0;
}

/* Remove one occurrence of @pid (order is not kept). */
bool pn__pids_del(struct pn__pids *p, pn_pid pid)
{
	for (uint32_t i = 0; i < p->n; i++) {
		if (p->v[i] == pid) {
			p->v[i] = p->v[--p->n];
			return true;
		}
	}
	return false;
}

void pn__pids_fini(struct pn__pids *p, struct pn_arena *a)
{
	pn_arena_free(a, p->v, p->cap * sizeof(*p->v));
	*p = (struct pn__pids){0};
}
