// SPDX-License-Identifier: MIT
/*
 * The name registry: one fixed-size open-addressing table per runtime
 * (linear probing, registry_slots entries of one cache line each: the PID
 * and the name, zero-padded into words). Lookups come from handlers on any
 * shard and must stay cheap, so they take no lock: the whole table is
 * under one sequence lock, reg_gen (base/seqlock.h has the protocol).
 * Writers (register, unregister, a supervisor moving a child's name to its
 * new instance) are rare; they serialise on reg_mu, which is what makes
 * them the lock's one writer. A reader whose probe the lock does not vouch
 * for simply probes again. Removal shifts the rest of the probe chain back
 * (Knuth's algorithm R) instead of leaving tombstones, so chains stay short
 * however many names come and go and no rebuild is ever needed; the seqlock
 * is what makes moving entries under a reader safe (a per-entry lock would
 * not: a reader could pass the slot an entry is being moved into).
 *
 * Rejected: RCU-style copy-on-write with one writer shard (every register
 * from a handler would become an asynchronous request, and callers want
 * -EEXIST at once), and a reader-writer lock (readers would write a shared
 * line on every lookup).
 *
 * Refs. Entries move, so a struct pn_ref cannot point at one: each bound
 * name has a cell (struct pn__cell) that stays put while the name stays
 * bound, with the PID its sends go to. A supervised child's name stays
 * bound across its restarts (supervisor.c), so its cell follows them: the
 * supervisor stores 0 there when the child is between incarnations and
 * the new PID when it spawns the next (release; a ref's reader loads it
 * with acquire, so the new PID's slot reservation is visible with it). A
 * cell is taken and freed under the registry's mutex, inside the table's
 * write section and its own (the cell's seqlock): pn_name_ref() reads the
 * cell's sequence under the table's seqlock, so it gets the binding the
 * name has, and a ref whose binding was freed since fails its sequence
 * check, whoever holds the cell now. Sequences step by 4 per binding, so
 * a stale ref could be fooled only after 2^30 bindings of one cell.
 */
#include "seqlock.h"
#include "sup_int.h"

#include <errno.h>
#include <stdlib.h>

#define REG_MIN 16u
#define REG_MAX (1u << 20)

/* @name as zero-padded words; -EINVAL if empty or too long. */
static int name_pack(const char *name, uint64_t w[PN__NAME_WORDS])
{
	size_t len = name ? strnlen(name, PN_NAME_MAX) : 0;

	if (len == 0 || len >= PN_NAME_MAX)
		return pn__error(-EINVAL, "name: %s (1 to %d bytes)",
				 len ? "too long" : "empty", PN_NAME_MAX - 1);
	memset(w, 0, PN__NAME_WORDS * sizeof(*w));
	memcpy(w, name, len);
	return 0;
}

static uint32_t name_hash(const uint64_t w[PN__NAME_WORDS])
{
	uint64_t h = 0x9e3779b97f4a7c15ull;

	for (unsigned i = 0; i < PN__NAME_WORDS && w[i]; i++) {
		h ^= w[i];
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	return (uint32_t)h;
}

static bool ent_is(const struct pn__name *e, const uint64_t w[PN__NAME_WORDS])
{
	for (unsigned i = 0; i < PN__NAME_WORDS; i++)
		if (atomic_load_explicit(&e->w[i], memory_order_relaxed) !=
		    w[i])
			return false;
	return true;
}

/* The slot holding @w, or the empty slot ending its chain. Probes at most
 * the whole table (it is never full: writers keep a quarter empty). */
static uint32_t probe(const struct pn__sup_rt *r, const uint64_t *w)
{
	uint32_t i = name_hash(w) & r->reg_mask;

	for (uint32_t n = 0; n <= r->reg_mask; n++, i = (i + 1) & r->reg_mask)
		if (!atomic_load_explicit(&r->reg[i].pid,
					  memory_order_relaxed) ||
		    ent_is(&r->reg[i], w))
			return i;
	return i;
}

pn_pid pn_name_lookup(const struct pn_runtime *rt, const char *name)
{
	const struct pn__sup_rt *r = rt->sup;
	uint64_t w[PN__NAME_WORDS];

	if (name_pack(name, w) < 0)
		return PN_PID_NONE;
	for (;;) {
		uint32_t g = pn__seq_read_begin(&r->reg_gen);
		pn_pid pid;

		if (g & 1) { /* a writer is moving entries: wait for it */
			pn__cpu_relax();
			continue;
		}
		/* Relaxed, like every load in probe(): seqlock.h. */
		pid = atomic_load_explicit(&r->reg[probe(r, w)].pid,
					   memory_order_relaxed);
		if (pn__seq_read_ok(&r->reg_gen, g))
			return pid;
	}
}

/* --- writers (reg_mu held: the seqlock's one writer) --------------------- */

static void ent_copy(struct pn__name *dst, const struct pn__name *src)
{
	for (unsigned i = 0; i < PN__NAME_WORDS; i++)
		atomic_store_explicit(
			&dst->w[i],
			atomic_load_explicit(&src->w[i], memory_order_relaxed),
			memory_order_relaxed);
	atomic_store_explicit(
		&dst->pid,
		atomic_load_explicit(&src->pid, memory_order_relaxed),
		memory_order_relaxed);
}

/* pn__probe_delete()'s view of the table: slot @j's home, or -1. */
static int64_t ent_home(void *p, uint32_t j)
{
	const struct pn__sup_rt *r = p;
	const struct pn__name *e = &r->reg[j];
	uint64_t w[PN__NAME_WORDS];

	if (!atomic_load_explicit(&e->pid, memory_order_relaxed))
		return -1;
	for (unsigned i = 0; i < PN__NAME_WORDS; i++)
		w[i] = atomic_load_explicit(&e->w[i], memory_order_relaxed);
	return name_hash(w) & r->reg_mask;
}

static void ent_move(void *p, uint32_t dst, uint32_t src)
{
	struct pn__sup_rt *r = p;

	ent_copy(&r->reg[dst], &r->reg[src]);
	atomic_store_explicit(
		&r->reg_cell[dst],
		atomic_load_explicit(&r->reg_cell[src], memory_order_relaxed),
		memory_order_relaxed);
}

/* Take a free cell for a new binding to @pid (inside the table's write
 * section). There is always one: never more names than cells. */
static uint32_t cell_take(struct pn__sup_rt *r, pn_pid pid)
{
	uint32_t c = r->cell_free - 1;
	struct pn__cell *e;

	pn_verify(r->cell_free != 0);
	e = &r->cells[c];
	r->cell_free = e->next;
	pn__seq_write_begin(&e->seq);
	atomic_store_explicit(&e->pid, pid, memory_order_relaxed);
	pn__seq_write_end(&e->seq);
	return c;
}

/* Free cell @c: every ref to its binding fails from now on. */
static void cell_free(struct pn__sup_rt *r, uint32_t c)
{
	struct pn__cell *e = &r->cells[c];

	pn__seq_write_begin(&e->seq);
	atomic_store_explicit(&e->pid, 0, memory_order_relaxed);
	pn__seq_write_end(&e->seq);
	e->next = r->cell_free;
	r->cell_free = c + 1;
}

/* Empty slot @i; later entries of its chain move back (the writer holds
 * the seqlock odd, so no reader trusts what it saw meanwhile). */
static void ent_remove(struct pn__sup_rt *r, uint32_t i)
{
	cell_free(r,
		  atomic_load_explicit(&r->reg_cell[i], memory_order_relaxed));
	i = pn__probe_delete(r, r->reg_mask, i, ent_home, ent_move);
	atomic_store_explicit(&r->reg[i].pid, 0, memory_order_relaxed);
	for (unsigned n = 0; n < PN__NAME_WORDS; n++)
		atomic_store_explicit(&r->reg[i].w[n], 0, memory_order_relaxed);
	r->reg_count--;
}

/*
 * Bind @name to @pid if it is free or bound to @old (PN_PID_NONE: free
 * only). Returns 0, -EINVAL, -EEXIST, -ENOSPC. Any.
 */
int pn__name_claim(struct pn_runtime *rt, const char *name, pn_pid old,
		   pn_pid pid)
{
	struct pn__sup_rt *r = rt->sup;
	uint64_t w[PN__NAME_WORDS];
	int err = name_pack(name, w);
	uint32_t i;
	pn_pid cur;

	if (err < 0)
		return err;
	if (pid == PN_PID_NONE)
		return pn__error(-EINVAL, "name \"%s\": no pid", name);
	pthread_mutex_lock(&r->reg_mu);
	i = probe(r, w);
	cur = atomic_load_explicit(&r->reg[i].pid, memory_order_relaxed);
	if (cur && cur != old) {
		err = pn__error(-EEXIST, "name \"%s\" is taken by %#llx", name,
				(unsigned long long)cur);
	} else if (!cur && (r->reg_count + 1) * 4 > (r->reg_mask + 1) * 3) {
		err = pn__error(-ENOSPC,
				"name registry full (registry_slots=%u)",
				r->reg_mask + 1);
	} else {
		pn__seq_write_begin(&r->reg_gen);
		if (!cur) {
			for (unsigned n = 0; n < PN__NAME_WORDS; n++)
				atomic_store_explicit(&r->reg[i].w[n], w[n],
						      memory_order_relaxed);
			atomic_store_explicit(&r->reg_cell[i],
					      cell_take(r, pid),
					      memory_order_relaxed);
			r->reg_count++;
		} else {
			/* The next incarnation. Release: pairs with the
			 * acquire in ref_read(); the PID's reservation
			 * (its slot's generation) comes before it. */
			atomic_store_explicit(
				&r->cells[atomic_load_explicit(
						  &r->reg_cell[i],
						  memory_order_relaxed)]
					 .pid,
				pid, memory_order_release);
		}
		atomic_store_explicit(&r->reg[i].pid, pid,
				      memory_order_relaxed);
		pn__seq_write_end(&r->reg_gen);
	}
	pthread_mutex_unlock(&r->reg_mu);
	return err;
}

/* Unbind @name if it is bound to @pid (PN_PID_NONE: to anything). */
static int name_drop(struct pn_runtime *rt, const char *name, pn_pid pid)
{
	struct pn__sup_rt *r = rt->sup;
	uint64_t w[PN__NAME_WORDS];
	int err = name_pack(name, w);
	uint32_t i;
	pn_pid cur;

	if (err < 0)
		return err;
	pthread_mutex_lock(&r->reg_mu);
	i = probe(r, w);
	cur = atomic_load_explicit(&r->reg[i].pid, memory_order_relaxed);
	if (!cur || (pid && cur != pid)) {
		err = pn__error(-ENOENT, "name \"%s\" is not registered%s",
				name, cur ? " to that pid" : "");
	} else {
		pn__seq_write_begin(&r->reg_gen);
		ent_remove(r, i);
		pn__seq_write_end(&r->reg_gen);
	}
	pthread_mutex_unlock(&r->reg_mu);
	return err;
}

void pn__name_drop(struct pn_runtime *rt, const char *name, pn_pid pid)
{
	if (name && pid)
		name_drop(rt, name, pid);
}

/*
 * @name, bound to @pid, stays bound but has no live instance for now (a
 * supervised child about to restart): refs to it get -ESRCH until the
 * next pn__name_claim() moves it on. The table itself is unchanged
 * (pn_name_lookup() still says @pid). Any.
 */
void pn__name_gap(struct pn_runtime *rt, const char *name, pn_pid pid)
{
	struct pn__sup_rt *r = rt->sup;
	uint64_t w[PN__NAME_WORDS];
	uint32_t i;

	if (!name || !pid || name_pack(name, w) < 0)
		return;
	pthread_mutex_lock(&r->reg_mu);
	i = probe(r, w);
	if (atomic_load_explicit(&r->reg[i].pid, memory_order_relaxed) == pid)
		/* Release: as for a new PID (pn__name_claim()). */
		atomic_store_explicit(
			&r->cells[atomic_load_explicit(&r->reg_cell[i],
						       memory_order_relaxed)]
				 .pid,
			0, memory_order_release);
	pthread_mutex_unlock(&r->reg_mu);
}

/* --- refs ---------------------------------------------------------------- */

int pn_name_ref(const struct pn_runtime *rt, const char *name,
		struct pn_ref *ref)
{
	const struct pn__sup_rt *r;
	uint64_t w[PN__NAME_WORDS];
	int err;

	if (!rt || !ref)
		return pn__error(-EINVAL, "pn_name_ref: NULL argument");
	if ((err = name_pack(name, w)) < 0)
		return err;
	r = rt->sup;
	for (;;) {
		uint32_t g = pn__seq_read_begin(&r->reg_gen), i, c;
		struct pn_ref got;
		pn_pid pid;

		if (g & 1) { /* a writer is moving entries: wait for it */
			pn__cpu_relax();
			continue;
		}
		/* Relaxed, like every load in probe(): seqlock.h. The cell's
		 * sequence changes only inside the table's write sections,
		 * so a valid read gives the binding the name has now. */
		i = probe(r, w);
		pid = atomic_load_explicit(&r->reg[i].pid,
					   memory_order_relaxed);
		c = atomic_load_explicit(&r->reg_cell[i], memory_order_relaxed);
		got.cell = c;
		got.seq = atomic_load_explicit(&r->cells[c].seq,
					       memory_order_relaxed);
		if (!pn__seq_read_ok(&r->reg_gen, g))
			continue;
		if (!pid)
			return pn__error(-ENOENT,
					 "name \"%s\" is not registered", name);
		*ref = got;
		return 0;
	}
}

/* The PID @ref reaches now: 0, -EINVAL, -ESTALE, -ESRCH. No lock, no
 * store: three loads of the cell's line. */
static int ref_read(const struct pn__sup_rt *r, struct pn_ref ref, pn_pid *pid)
{
	const struct pn__cell *c;
	uint32_t g;

	if (PN_UNLIKELY(ref.cell > r->reg_mask || !ref.seq))
		return pn__error(-EINVAL, "ref: not one pn_name_ref() gave");
	c = &r->cells[ref.cell];
	g = pn__seq_read_begin(&c->seq);
	/* Acquire: pairs with the release of a restart's new PID. */
	*pid = atomic_load_explicit(&c->pid, memory_order_acquire);
	if (PN_UNLIKELY(g != ref.seq || !pn__seq_read_ok(&c->seq, g)))
		return pn__error(-ESTALE, "ref: its name has been unbound "
					  "since (resolve it again)");
	if (PN_UNLIKELY(!*pid))
		return pn__error(-ESRCH, "ref: its actor is between "
					 "incarnations (being restarted)");
	return 0;
}

int pn_ref_pid(const struct pn_runtime *rt, struct pn_ref ref, pn_pid *pid)
{
	pn_pid p = PN_PID_NONE;
	int err;

	if (!rt || !pid)
		return pn__error(-EINVAL, "pn_ref_pid: NULL argument");
	err = ref_read(rt->sup, ref, &p);
	*pid = err < 0 ? PN_PID_NONE : p;
	return err;
}

int pn_ref_send(struct pn_ctx *ctx, struct pn_ref ref, uint32_t type,
		const void *data, size_t len)
{
	struct pn_shard *sh = pn__shard(ctx);
	pn_pid pid;
	int err;

	PN__CTX_CHECK(sh, "pn_ref_send");
	if (PN_UNLIKELY((err = ref_read(sh->rt->sup, ref, &pid)) < 0))
		return err;
	return pn_send(ctx, pid, type, data, len);
}

int pn_name_register(struct pn_runtime *rt, const char *name, pn_pid pid)
{
	return pn__name_claim(rt, name, PN_PID_NONE, pid);
}

int pn_name_unregister(struct pn_runtime *rt, const char *name)
{
	return name_drop(rt, name, PN_PID_NONE);
}

int pn_name_send(struct pn_ctx *ctx, const char *name, uint32_t type,
		 const void *data, size_t len)
{
	struct pn_shard *sh = pn__shard(ctx);
	pn_pid pid;

	PN__CTX_CHECK(sh, "pn_name_send");
	pid = pn_name_lookup(sh->rt, name);
	if (pid == PN_PID_NONE)
		return pn__error(-ESRCH, "no actor is registered as \"%s\"",
				 name ? name : "(null)");
	return pn_send(pn__ctx(sh), pid, type, data, len);
}

int pn__registry_init(struct pn_runtime *rt)
{
	struct pn__sup_rt *r = rt->sup;
	uint32_t n = rt->cfg.registry_slots;

	if (n < REG_MIN || n > REG_MAX || (n & (n - 1)))
		return pn__error(-EINVAL,
				 "registry_slots=%u: expected a power of two "
				 "from %u to %u",
				 n, REG_MIN, REG_MAX);
	r->reg = aligned_alloc(PN_CACHELINE, (size_t)n * sizeof(*r->reg));
	r->reg_cell = calloc(n, sizeof(*r->reg_cell));
	r->cells = calloc(n, sizeof(*r->cells));
	if (!r->reg || !r->reg_cell || !r->cells) {
		free(r->reg);
		free(r->reg_cell);
		free(r->cells);
		r->reg = NULL;
		return pn__error(-ENOMEM, "no memory for the name registry");
	}
	memset(r->reg, 0, (size_t)n * sizeof(*r->reg));
	for (uint32_t c = n; c-- > 0;) { /* all free, lowest first */
		atomic_init(&r->cells[c].seq, 0);
		atomic_init(&r->cells[c].pid, 0);
		r->cells[c].next = r->cell_free;
		r->cell_free = c + 1;
	}
	r->reg_mask = n - 1;
	atomic_init(&r->reg_gen, 0);
	pthread_mutex_init(&r->reg_mu, NULL);
	return 0;
}

void pn__registry_fini(struct pn_runtime *rt)
{
	if (!rt->sup->reg)
		return;
	pthread_mutex_destroy(&rt->sup->reg_mu);
	free(rt->sup->reg);
	free(rt->sup->reg_cell);
	free(rt->sup->cells);
	rt->sup->reg = NULL;
}
