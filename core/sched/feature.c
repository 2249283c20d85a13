// SPDX-License-Identifier: MIT
/*
 * The features' registry: the one way the scheduler reaches what is built
 * on it. rt/ hands over the list of features at creation; from then on the
 * scheduler and the actor layer call a feature only through the hooks it
 * registered (struct pn__feature), here or in the hot paths' inline checks
 * (a feature asks for loop turns by setting its bit in turn_want).
 *
 * Internal message types are dispatched by range: the ranges of every
 * feature, sorted once at creation, searched on the slow path (a message
 * type at or above PN__MSG_INTERNAL).
 */
#include "sched_int.h"

#include <errno.h>
#include <stdlib.h>

static int range_cmp(const void *a, const void *b)
{
	const struct pn__msg_range *x = a, *y = b;

	return (x->lo > y->lo) - (x->lo < y->lo);
}

static int ranges_build(struct pn_runtime *rt)
{
	unsigned n = 0, k = 0;

	for (unsigned i = 0; i < rt->nfeat; i++)
		n += rt->feat[i]->nranges;
	if (n && !(rt->range = calloc(n, sizeof(*rt->range))))
		return pn__error(-ENOMEM, "no memory for message ranges");
	for (unsigned i = 0; i < rt->nfeat; i++)
		for (unsigned j = 0; j < rt->feat[i]->nranges; j++)
			rt->range[k++] = rt->feat[i]->ranges[j];
	qsort(rt->range, n, sizeof(*rt->range), range_cmp);
	for (unsigned j = 0; j < n; j++)
		if (rt->range[j].lo >= rt->range[j].hi ||
		    (j && rt->range[j].lo < rt->range[j - 1].hi))
			return pn__error(-EINVAL,
					 "message range [%#x, %#x) is empty "
					 "or overlaps another",
					 rt->range[j].lo, rt->range[j].hi);
	rt->nrange = n;
	return 0;
}

int pn__features_create(struct pn_runtime *rt,
			const struct pn__feature *const *feat, unsigned n)
{
	int err;

	if (n > PN__FEAT_MAX)
		return pn__error(-EINVAL, "%u features (at most %d)", n,
				 PN__FEAT_MAX);
	rt->feat = feat;
	rt->nfeat = n;
	for (unsigned i = 0; i < n; i++)
		if (feat[i]->publish)
			rt->publish[rt->npublish++] = feat[i]->publish;
	if ((err = ranges_build(rt)) < 0)
		return err;
	for (unsigned i = 0; i < n; i++)
		if (feat[i]->create && (err = feat[i]->create(rt)) < 0)
			return err;
	return 0;
}

int pn__features_start(struct pn_runtime *rt)
{
	int err;

	for (unsigned i = 0; i < rt->nfeat; i++)
		if (rt->feat[i]->start && (err = rt->feat[i]->start(rt)) < 0)
			return err;
	return 0;
}

/* Before the shards are freed (@late false) or after: reverse order. */
void pn__features_destroy(struct pn_runtime *rt, bool late)
{
	for (unsigned i = rt->nfeat; i-- > 0;) {
		void (*fn)(struct pn_runtime *) =
			late ? rt->feat[i]->free : rt->feat[i]->destroy;

		if (fn)
			fn(rt);
	}
	if (late) {
		free(rt->range);
		rt->range = NULL;
		rt->nrange = 0;
	}
}

int pn__features_shard_setup(struct pn_shard *s)
{
	int err;

	for (unsigned i = 0; i < s->rt->nfeat; i++)
		if (s->rt->feat[i]->shard_setup &&
		    (err = s->rt->feat[i]->shard_setup(s)) < 0)
			return err;
	return 0;
}

void pn__features_shard_enter(struct pn_shard *s)
{
	for (unsigned i = 0; i < s->rt->nfeat; i++)
		if (s->rt->feat[i]->shard_enter)
			s->rt->feat[i]->shard_enter(s);
}

void pn__features_shard_leave(struct pn_shard *s)
{
	for (unsigned i = s->rt->nfeat; i-- > 0;)
		if (s->rt->feat[i]->shard_leave)
			s->rt->feat[i]->shard_leave(s);
}

void pn__features_shard_free(struct pn_shard *s)
{
	for (unsigned i = s->rt->nfeat; i-- > 0;)
		if (s->rt->feat[i]->shard_free)
			s->rt->feat[i]->shard_free(s);
}

void pn__features_stage(struct pn_shard *s, int stage, unsigned depth)
{
	for (unsigned i = 0; i < s->rt->nfeat; i++)
		if (s->rt->feat[i]->stage)
			s->rt->feat[i]->stage(s, stage, depth);
}

void pn__features_side_queues(struct pn_shard *s, pn__side_fn fn, void *arg)
{
	for (unsigned i = 0; i < s->rt->nfeat; i++)
		if (s->rt->feat[i]->side_queues)
			s->rt->feat[i]->side_queues(s, fn, arg);
}

void pn__features_close(struct pn_runtime *rt)
{
	for (unsigned i = 0; i < rt->nfeat; i++)
		if (rt->feat[i]->close)
			rt->feat[i]->close(rt);
}

/* --- the loop's and dispatch's hooks -------------------------------------- */

unsigned pn__features_turn(struct pn_shard *s)
{
	unsigned work = 0;

	for (uint32_t w = s->turn_want; w; w &= w - 1) {
		const struct pn__feature *f = s->rt->feat[__builtin_ctz(w)];

		if (f->turn)
			work += f->turn(s);
	}
	return work;
}

bool pn__features_ready(struct pn_shard *s)
{
	for (uint32_t w = s->turn_want; w; w &= w - 1) {
		const struct pn__feature *f = s->rt->feat[__builtin_ctz(w)];

		if (f->ready && f->ready(s))
			return true;
	}
	return false;
}

void pn__features_park(struct pn_shard *s)
{
	for (uint32_t w = s->turn_want; w; w &= w - 1) {
		const struct pn__feature *f = s->rt->feat[__builtin_ctz(w)];

		if (f->park)
			f->park(s);
	}
}

bool pn__features_miss(struct pn_shard *s, struct pn_msg *m)
{
	for (unsigned i = s->rt->nfeat; i-- > 0;)
		if (s->rt->feat[i]->miss && s->rt->feat[i]->miss(s, m))
			return true;
	return false;
}

/* The range of internal type @type, or NULL. */
static const struct pn__msg_range *range_of(const struct pn_runtime *rt,
					    uint32_t type)
{
	const struct pn__msg_range *r = rt->range;
	unsigned lo = 0, hi = rt->nrange;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (type < r[mid].lo)
			hi = mid;
		else if (type >= r[mid].hi)
			lo = mid + 1;
		else
			return &r[mid];
	}
	return NULL;
}

bool pn__features_msg(struct pn_shard *s, struct pn_msg *m)
{
	const struct pn__msg_range *r = range_of(s->rt, m->type);

	if (!r)
		return false;
	r->handle(s, m);
	return true;
}

struct pn__actor *pn__features_find(struct pn_shard *s, pn_pid pid)
{
	struct pn__actor *a;

	for (unsigned i = s->rt->nfeat; i-- > 0;)
		if (s->rt->feat[i]->find && (a = s->rt->feat[i]->find(s, pid)))
			return a;
	return NULL;
}

bool pn__features_divert(struct pn_shard *s, struct pn_msg *m)
{
	for (unsigned i = s->rt->nfeat; i-- > 0;)
		if (s->rt->feat[i]->divert && s->rt->feat[i]->divert(s, m))
			return true;
	return false;
}

void pn__features_guest_gone(struct pn_shard *s, pn_pid pid)
{
	for (unsigned i = 0; i < s->rt->nfeat; i++)
		if (s->rt->feat[i]->guest_gone)
			s->rt->feat[i]->guest_gone(s, pid);
}

void pn__features_stopped(struct pn_shard *s, pn_pid pid)
{
	for (unsigned i = 0; i < s->rt->nfeat; i++)
		if (s->rt->feat[i]->stopped)
			s->rt->feat[i]->stopped(s, pid);
}

bool pn__features_drop(struct pn_shard *s, struct pn_msg *m)
{
	const struct pn__msg_range *r = range_of(s->rt, m->type);

	if (!r || !r->drop)
		return false;
	r->drop(s, m);
	return true;
}

void pn__features_run(struct pn_shard *s, struct pn__actor *a, struct pn_msg *m)
{
	const struct pn__msg_range *r = range_of(s->rt, m->type);

	if (!r)
		pn_panic("unknown runtime message %#x", m->type);
	if (r->run)
		r->run(s, a, m);
	else
		r->handle(s, m);
}

void pn__features_publish(struct pn_shard *s, unsigned dst, uint32_t n,
			  const struct pn_msg *last)
{
	for (unsigned i = 0; i < s->rt->npublish; i++)
		s->rt->publish[i](s, dst, n, last);
}

void pn__features_tick(struct pn_shard *s)
{
	for (unsigned i = 0; i < s->rt->nfeat; i++)
		if (s->rt->feat[i]->tick)
			s->rt->feat[i]->tick(s);
}

/* Any thread: a metrics snapshot gathers what the features count. */
void pn__features_snapshot(const struct pn_runtime *rt, struct pn__snap *out)
{
	for (unsigned i = 0; i < rt->nfeat; i++)
		if (rt->feat[i]->snapshot)
			rt->feat[i]->snapshot(rt, out);
}

uint32_t pn__feature_bit(const struct pn_runtime *rt,
			 const struct pn__feature *f)
{
	for (unsigned i = 0; i < rt->nfeat; i++)
		if (rt->feat[i] == f)
			return 1u << i;
	return 0;
}
