// SPDX-License-Identifier: MIT
/*
 * The churn workload as a stress test (no message may be lost at the inbox).
 * A driver actor on shard 0 runs N cycles; cycle i:
 *
 *   driver  spawns a victim on shard i % nshards with PN_SPAWN_MONITOR
 *           (every other cycle crosses shards), sends it HELLO at once
 *           (the PID is valid at once: HELLO must come after STARTED),
 *           and arms a 1 s timer for the cycle
 *   victim  on STARTED spawns a child on shard (i / nshards) % nshards,
 *           tells the driver (CHILD, carrying the child's PID) and asks to
 *           be stopped: pn_stop() on itself, returns PN_STOP, or sends
 *           STOPME so that the driver stops it (a cross-shard stop)
 *   driver  on CHILD monitors the child; on the victim's DOWN cancels the
 *           timer and starts the next cycle
 *   child   on STARTED returns PN_STOP (nothing stops it otherwise)
 *
 * Checks: no cycle timer fires and no cycle takes 1 s (a lost message: the
 * timer would otherwise hide a lost wake-up as a 1 s delay); DOWN reasons;
 * CHILD arrives before its victim's DOWN (per-sender order); every child's
 * DOWN arrives; no actor gets an application message before STARTED; the
 * HELLOs are handled or counted as dead letters, each exactly once; at the
 * end the shards' actor counts are back to the baseline and spawned and
 * stopped add up. Phase 1 runs the default configuration, phase 2
 * spin_ns=0 (a shard parks as soon as it is idle: the park/wake race on
 * every message), phase 3 the driver again while EXT_THREADS external
 * threads spawn short-lived actors on both shards through their own
 * producers (every shard's lock-free slot stack popped by three threads
 * while its owner pushes freed slots back). PN_SEED picks the victim's
 * stop method order.
 */
#include "stress_util.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

enum {
	MSG_HELLO = 1, /* driver -> victim right after spawning it */
	MSG_CHILD,     /* victim -> driver: struct child_msg */
	MSG_STOPME,    /* victim -> driver: please pn_stop() me */
	MSG_CYCLE_TMO, /* driver's per-cycle timer (payload: cycle) */
};
#define CODE_DONE   1
#define CYCLE_NS    1000000000ull
#define EXT_THREADS 2

struct victim_arg {
	uint32_t cycle;
	uint32_t child_shard;
	uint32_t stop_how; /* 0: pn_stop(self), 1: PN_STOP, 2: ask driver */
	pn_pid driver;
};

struct child_msg {
	uint32_t cycle;
	pn_pid child;
};

/* Shared with the test thread: progress (relaxed atomics) and results
 * (read after the final notify/sync). */
static struct {
	_Atomic uint64_t cycles_done;
	_Atomic uint64_t child_downs;
	_Atomic uint64_t hello_handled;
	_Atomic uint64_t early;	    /* app message before STARTED */
	_Atomic uint64_t child_bad; /* child got something odd */
	_Atomic uint64_t victims_started, children_started;
	_Atomic uint64_t slow; /* cycles over 50 ms */
	_Atomic uint64_t max_cycle_ns;
	_Atomic uint64_t stopme;
	uint64_t ext_total; /* actors the external threads spawn */
	_Atomic uint64_t ext_started;
} g;

static void note_early(const char *who, pn_pid pid, const struct pn_msg *m,
		       uint32_t cycle)
{
	uint64_t n =
		atomic_fetch_add_explicit(&g.early, 1, memory_order_relaxed);

	if (n < 5)
		su_log("VIOLATION: %s %#" PRIx64 " (cycle %u) got message "
		       "type %#x from %#" PRIx64 " before PN_MSG_STARTED",
		       who, (uint64_t)pid, cycle, m->type, (uint64_t)m->from);
}

/* --- child ---------------------------------------------------------------- */

struct child {
	bool started;
};

static int child_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct child *c = state;

	if (m->type == PN_MSG_STARTED) {
		SU_CHECK(!c->started, "child %#" PRIx64 ": STARTED twice",
			 (uint64_t)pn_self(ctx));
		c->started = true;
		atomic_fetch_add_explicit(&g.children_started, 1,
					  memory_order_relaxed);
		return PN_STOP;
	}
	if (m->type == PN_MSG_STOPPING)
		return 0;
	if (!c->started)
		note_early("child", pn_self(ctx), m, 0);
	else
		atomic_fetch_add_explicit(&g.child_bad, 1,
					  memory_order_relaxed);
	return 0;
}

static const struct pn_behaviour child_b = {
	.name = "churn_child",
	.state_size = sizeof(struct child),
	.handle = child_handle,
};

/* --- victim --------------------------------------------------------------- */

struct victim {
	struct victim_arg a;
	bool started;
	bool stopping;
};

static int victim_init(struct pn_ctx *ctx, void *state, const void *arg,
		       size_t len)
{
	struct victim *v = state;

	(void)ctx;
	SU_CHECK(len == sizeof(v->a), "victim arg of %zu bytes", len);
	memcpy(&v->a, arg, sizeof(v->a));
	return 0;
}

static int victim_started(struct pn_ctx *ctx, struct victim *v,
			  const struct pn_msg *m)
{
	struct pn_spawn_opts o = {.shard = (int)v->a.child_shard};
	struct child_msg cm = {.cycle = v->a.cycle};
	int err;

	SU_CHECK(!v->started, "victim cycle %u: STARTED twice", v->a.cycle);
	SU_CHECK(m->from == v->a.driver,
		 "victim cycle %u: STARTED from %#" PRIx64 ", not the parent",
		 v->a.cycle, (uint64_t)m->from);
	v->started = true;
	atomic_fetch_add_explicit(&g.victims_started, 1, memory_order_relaxed);
	err = pn_spawn(ctx, &child_b, &o, &cm.child);
	SU_CHECK(err == 0, "victim cycle %u: spawn child: %d %s", v->a.cycle,
		 err, pn_last_error());
	err = pn_send(ctx, v->a.driver, MSG_CHILD, &cm, sizeof(cm));
	SU_CHECK(err == 0, "victim cycle %u: send CHILD: %d %s", v->a.cycle,
		 err, pn_last_error());
	switch (v->a.stop_how) {
	case 0:
		err = pn_stop(ctx, pn_self(ctx));
		SU_CHECK(err == 0, "pn_stop(self): %d", err);
		return 0;
	case 1:
		return PN_STOP;
	default:
		err = pn_send(ctx, v->a.driver, MSG_STOPME, NULL, 0);
		SU_CHECK(err == 0, "send STOPME: %d %s", err, pn_last_error());
		return 0;
	}
}

static int victim_handle(struct pn_ctx *ctx, void *state,
			 const struct pn_msg *m)
{
	struct victim *v = state;

	switch (m->type) {
	case PN_MSG_STARTED:
		return victim_started(ctx, v, m);
	case PN_MSG_STOPPING:
		SU_CHECK(v->started, "victim cycle %u: STOPPING before STARTED",
			 v->a.cycle);
		v->stopping = true;
		return 0;
	case MSG_HELLO:
		if (!v->started) {
			note_early("victim", pn_self(ctx), m, v->a.cycle);
			return 0;
		}
		SU_CHECK(!v->stopping, "victim cycle %u: HELLO after STOPPING",
			 v->a.cycle);
		SU_CHECK(pn_msg_u64(m) == v->a.cycle,
			 "victim cycle %u: HELLO for cycle %" PRIu64,
			 v->a.cycle, pn_msg_u64(m));
		atomic_fetch_add_explicit(&g.hello_handled, 1,
					  memory_order_relaxed);
		return 0;
	default:
		su_fail("victim cycle %u: unexpected message type %#x",
			v->a.cycle, m->type);
	}
}

static const struct pn_behaviour victim_b = {
	.name = "churn_victim",
	.state_size = sizeof(struct victim),
	.init = victim_init,
	.handle = victim_handle,
};

/* --- driver --------------------------------------------------------------- */

struct driver {
	uint32_t cycles; /* to run */
	uint32_t cycle;	 /* current */
	uint64_t order;	 /* stop_how rotation offset (from the seed) */
	pn_pid victim;
	uint32_t victim_shard, child_shard, stop_how;
	uint64_t timer;
	uint64_t t_cycle;
	bool child_seen;
	bool done;
	uint64_t child_downs, hello_dead_or_handled;
};

/* All cycles run and every child's DOWN in: tell the test thread. */
static void driver_check_done(struct pn_ctx *ctx, struct driver *d)
{
	if (!d->done && d->cycle == d->cycles && d->child_downs == d->cycles) {
		d->done = true;
		pn_runtime_notify(pn_ctx_runtime(ctx), CODE_DONE);
	}
}

static void driver_next(struct pn_ctx *ctx, struct driver *d)
{
	struct pn_runtime *rt = pn_ctx_runtime(ctx);
	unsigned n = pn_runtime_nshards(rt);
	struct victim_arg a;
	struct pn_spawn_opts o;
	uint64_t c = d->cycle;
	int err;

	if (d->cycle == d->cycles) {
		driver_check_done(ctx, d);
		return;
	}
	d->victim_shard = d->cycle % n;
	d->child_shard = (d->cycle / n) % n;
	d->stop_how = (uint32_t)((d->cycle / (n * n) + d->order) % 3);
	a = (struct victim_arg){.cycle = d->cycle,
				.child_shard = d->child_shard,
				.stop_how = d->stop_how,
				.driver = pn_self(ctx)};
	o = (struct pn_spawn_opts){.shard = (int)d->victim_shard,
				   .flags = PN_SPAWN_MONITOR,
				   .arg = &a,
				   .arg_len = sizeof(a)};
	d->child_seen = false;
	d->t_cycle = pn_now_ns();
	err = pn_spawn(ctx, &victim_b, &o, &d->victim);
	SU_CHECK(err == 0, "cycle %u: spawn: %d %s", d->cycle, err,
		 pn_last_error());
	err = pn_send_u64(ctx, d->victim, MSG_HELLO, c);
	SU_CHECK(err == 0, "cycle %u: send HELLO: %d %s", d->cycle, err,
		 pn_last_error());
	err = pn_send_after(ctx, CYCLE_NS, MSG_CYCLE_TMO, &c, sizeof(c),
			    &d->timer);
	SU_CHECK(err == 0, "cycle %u: pn_send_after: %d %s", d->cycle, err,
		 pn_last_error());
}

static void driver_down(struct pn_ctx *ctx, struct driver *d,
			const struct pn_msg *m)
{
	struct pn_down dn;
	uint64_t dt, max;
	int err;

	SU_CHECK(m->len == sizeof(dn), "DOWN of %u bytes", m->len);
	memcpy(&dn, pn_msg_data(m), sizeof(dn));
	if (dn.pid != d->victim || d->cycle == d->cycles) {
		/* A child's DOWN (we monitored it on CHILD). */
		SU_CHECK(dn.reason == PN_REASON_NORMAL ||
				 dn.reason == PN_REASON_NOPROC,
			 "child %#" PRIx64 " DOWN with reason %s",
			 (uint64_t)dn.pid, pn_reason_name(dn.reason));
		d->child_downs++;
		atomic_store_explicit(&g.child_downs, d->child_downs,
				      memory_order_relaxed);
		driver_check_done(ctx, d); /* may be the last one missing */
		return;
	}
	dt = pn_now_ns() - d->t_cycle;
	SU_CHECK(dn.reason == PN_REASON_NORMAL,
		 "cycle %u: victim DOWN with reason %s", d->cycle,
		 pn_reason_name(dn.reason));
	SU_CHECK(d->child_seen,
		 "cycle %u: victim's DOWN arrived before its CHILD message "
		 "(per-sender order broken; victim shard %u)",
		 d->cycle, d->victim_shard);
	err = pn_timer_cancel(ctx, d->timer);
	SU_CHECK(err == 0, "cycle %u: cycle timer already gone (%d)", d->cycle,
		 err);
	SU_CHECK(dt < CYCLE_NS,
		 "cycle %u: DOWN took %.3f s (bound 1 s): a lost message "
		 "rescued only by a later wake-up (victim shard %u, child "
		 "shard %u, stop method %u)",
		 d->cycle, (double)dt / 1e9, d->victim_shard, d->child_shard,
		 d->stop_how);
	if (dt > 50000000ull)
		atomic_fetch_add_explicit(&g.slow, 1, memory_order_relaxed);
	max = atomic_load_explicit(&g.max_cycle_ns, memory_order_relaxed);
	if (dt > max)
		atomic_store_explicit(&g.max_cycle_ns, dt,
				      memory_order_relaxed);
	d->cycle++;
	atomic_store_explicit(&g.cycles_done, d->cycle, memory_order_relaxed);
	driver_next(ctx, d);
}

static int driver_handle(struct pn_ctx *ctx, void *state,
			 const struct pn_msg *m)
{
	struct driver *d = state;
	struct child_msg cm;
	int err;

	switch (m->type) {
	case PN_MSG_STARTED:
		driver_next(ctx, d);
		return 0;
	case PN_MSG_DOWN:
		driver_down(ctx, d, m);
		return 0;
	case MSG_CHILD:
		SU_CHECK(m->len == sizeof(cm), "CHILD of %u bytes", m->len);
		memcpy(&cm, pn_msg_data(m), sizeof(cm));
		SU_CHECK(cm.cycle == d->cycle && m->from == d->victim,
			 "CHILD for cycle %u from %#" PRIx64
			 " during cycle %u (victim %#" PRIx64 ")",
			 cm.cycle, (uint64_t)m->from, d->cycle,
			 (uint64_t)d->victim);
		SU_CHECK(!d->child_seen, "cycle %u: CHILD twice", d->cycle);
		d->child_seen = true;
		err = pn_monitor(ctx, cm.child);
		SU_CHECK(err == 0, "monitor child: %d %s", err,
			 pn_last_error());
		return 0;
	case MSG_STOPME:
		SU_CHECK(m->from == d->victim && d->child_seen,
			 "cycle %u: STOPME from %#" PRIx64 " (child seen %d)",
			 d->cycle, (uint64_t)m->from, d->child_seen);
		atomic_fetch_add_explicit(&g.stopme, 1, memory_order_relaxed);
		err = pn_stop(ctx, m->from);
		SU_CHECK(err == 0, "pn_stop(victim): %d %s", err,
			 pn_last_error());
		return 0;
	case PN_MSG_STOPPING:
	case PN_MSG_SHUTDOWN:
		return 0;
	case MSG_CYCLE_TMO:
		su_fail("cycle %" PRIu64 " (current %u of %u): no DOWN from "
			"victim %#" PRIx64 " within 1 s: a lost message "
			"(victim on shard %u, child on shard %u, stop method "
			"%u, CHILD %s)",
			pn_msg_u64(m), d->cycle, d->cycles, (uint64_t)d->victim,
			d->victim_shard, d->child_shard, d->stop_how,
			d->child_seen ? "seen" : "not seen");
	default:
		su_fail("driver: unexpected message type %#x", m->type);
	}
}

static int driver_init(struct pn_ctx *ctx, void *state, const void *arg,
		       size_t len)
{
	struct driver *d = state;
	uint64_t a[2];

	(void)ctx;
	SU_CHECK(len == sizeof(a), "driver arg");
	memcpy(a, arg, sizeof(a));
	d->cycles = (uint32_t)a[0];
	d->order = a[1];
	return 0;
}

static const struct pn_behaviour driver_b = {
	.name = "churn_driver",
	.state_size = sizeof(struct driver),
	.init = driver_init,
	.handle = driver_handle,
};

/* --- external spawners ---------------------------------------------- */

static int ext_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	bool *started = state;

	if (m->type == PN_MSG_STOPPING || m->type == PN_MSG_SHUTDOWN)
		return 0;
	SU_CHECK(m->type == PN_MSG_STARTED && !*started,
		 "external actor %#" PRIx64 ": message %#x (started %d)",
		 (uint64_t)pn_self(ctx), m->type, *started);
	*started = true;
	if (atomic_fetch_add_explicit(&g.ext_started, 1, memory_order_relaxed) +
		    1 ==
	    g.ext_total)
		pn_runtime_notify(pn_ctx_runtime(ctx), CODE_DONE);
	return PN_STOP;
}

static const struct pn_behaviour ext_b = {
	.name = "churn_ext",
	.state_size = sizeof(bool),
	.handle = ext_handle,
};

struct spawner {
	pthread_t th;
	unsigned id;
	uint64_t n;
	struct pn_runtime *rt;
};

static void *spawner_main(void *arg)
{
	struct spawner *sp = arg;
	unsigned nshards = pn_runtime_nshards(sp->rt);
	struct pn_producer *p;
	int err = pn_producer_create(sp->rt, &p);

	SU_CHECK(err == 0, "pn_producer_create: %d %s", err, pn_last_error());
	for (uint64_t i = 0; i < sp->n; i++) {
		struct pn_spawn_opts o = {
			.shard = (int)((i + sp->id) % nshards)};
		pn_pid pid;

		err = pn_producer_spawn(p, &ext_b, &o, &pid);
		SU_CHECK(err == 0,
			 "spawner %u: pn_producer_spawn %" PRIu64 ": %d %s",
			 sp->id, i, err, pn_last_error());
	}
	pn_producer_destroy(p);
	return NULL;
}

/* --- the test thread ---------------------------------------------------- */

static uint64_t progress(void *arg)
{
	(void)arg;
	return atomic_load_explicit(&g.cycles_done, memory_order_relaxed) +
	       atomic_load_explicit(&g.child_downs, memory_order_relaxed);
}

static uint64_t cycles_wanted;

static void report(void *arg)
{
	(void)arg;
	fprintf(stderr,
		"  cycles done %" PRIu64 " of %" PRIu64
		", children DOWN %" PRIu64 " (children started %" PRIu64
		", victims started %" PRIu64 ")\n",
		atomic_load_explicit(&g.cycles_done, memory_order_relaxed),
		cycles_wanted,
		atomic_load_explicit(&g.child_downs, memory_order_relaxed),
		atomic_load_explicit(&g.children_started, memory_order_relaxed),
		atomic_load_explicit(&g.victims_started, memory_order_relaxed));
}

static uint64_t phase(const char *name, uint64_t spin_ns, uint64_t cycles,
		      uint64_t ext, uint64_t *early_out)
{
	struct spawner sp[EXT_THREADS];
	struct pn_config c;
	struct pn_runtime *rt;
	struct pn_shard_stats st;
	uint64_t arg[2] = {cycles, su_rnd_below(&(uint64_t){su.seed}, 3)};
	struct pn_spawn_opts o = {
		.shard = 0, .arg = arg, .arg_len = sizeof(arg)};
	uint64_t t0, early, hello, base;
	unsigned n;
	pn_pid driver;
	int err;

	memset(&g, 0, sizeof(g));
	cycles_wanted = cycles;
	su_config(&c);
	c.spin_ns = spin_ns;
	rt = su_runtime(&c);
	n = pn_runtime_nshards(rt);
	t0 = pn_now_ns();
	g.ext_total = ext * EXT_THREADS;
	err = pn_runtime_spawn(rt, &driver_b, &o, &driver);
	SU_CHECK(err == 0, "spawn driver: %d %s", err, pn_last_error());
	for (unsigned i = 0; ext && i < EXT_THREADS; i++) {
		sp[i] = (struct spawner){.id = i, .n = ext, .rt = rt};
		SU_CHECK(pthread_create(&sp[i].th, NULL, spawner_main,
					&sp[i]) == 0,
			 "pthread_create");
	}
	/* Each cycle is bounded by its own 1 s timer; this only catches a
	 * driver whose own shard never runs again (or a lost external
	 * spawn). */
	su_wait(rt, CODE_DONE, ext ? 2 : 1, 20000000000ull, 600000000000ull,
		progress, report, NULL, name);
	for (unsigned i = 0; ext && i < EXT_THREADS; i++)
		pthread_join(sp[i].th, NULL);
	su_sync(rt); /* every child's stop has finished and is counted */
	su_stats_sum(rt, &st);
	early = atomic_load_explicit(&g.early, memory_order_relaxed);
	hello = atomic_load_explicit(&g.hello_handled, memory_order_relaxed);
	base = 1 + n; /* the driver and the probes */
	su_log("%s: %" PRIu64 " cycles in %.2f s (%.1f us/cycle), max cycle "
	       "%.3f ms, %" PRIu64 " over 50 ms; parks %" PRIu64
	       ", wakes %" PRIu64 ", hellos handled %" PRIu64
	       ", dead letters %" PRIu64 ", external actors %" PRIu64,
	       name, cycles, su_secs(t0), su_secs(t0) * 1e6 / (double)cycles,
	       (double)atomic_load_explicit(&g.max_cycle_ns,
					    memory_order_relaxed) /
		       1e6,
	       atomic_load_explicit(&g.slow, memory_order_relaxed), st.parks,
	       st.wakes_sent, hello, st.dead_letters,
	       atomic_load(&g.ext_started));
	*early_out = early;
	if (early)
		su_log("VIOLATION: %s: %" PRIu64 " of %" PRIu64
		       " victims got HELLO before PN_MSG_STARTED",
		       name, early, cycles);
	SU_CHECK(atomic_load_explicit(&g.child_bad, memory_order_relaxed) == 0,
		 "a child got an unexpected message");
	SU_CHECK(
		atomic_load_explicit(&g.victims_started,
				     memory_order_relaxed) == cycles &&
			atomic_load_explicit(&g.children_started,
					     memory_order_relaxed) == cycles,
		"%s: started %" PRIu64 " victims and %" PRIu64
		" children for %" PRIu64 " cycles",
		name,
		atomic_load_explicit(&g.victims_started, memory_order_relaxed),
		atomic_load_explicit(&g.children_started, memory_order_relaxed),
		cycles);
	SU_CHECK(hello + early + st.dead_letters == cycles,
		 "%s: %" PRIu64 " HELLOs handled (+ %" PRIu64
		 " before STARTED) + %" PRIu64 " dead letters != %" PRIu64
		 " sent (lost or duplicated)",
		 name, hello, early, st.dead_letters, cycles);
	SU_CHECK(st.actors == base,
		 "%s: %" PRIu64 " actors alive at the end, expected %" PRIu64
		 " (children or victims left behind)",
		 name, st.actors, base);
	SU_CHECK(st.spawned == base + 2 * cycles + g.ext_total &&
			 st.stopped == 2 * cycles + g.ext_total,
		 "%s: spawned %" PRIu64 " stopped %" PRIu64
		 ", expected %" PRIu64 " and %" PRIu64,
		 name, st.spawned, st.stopped, base + 2 * cycles + g.ext_total,
		 2 * cycles + g.ext_total);
	su_shutdown(rt);
	return st.parks;
}

int main(void)
{
	uint64_t t0 = pn_now_ns(), parks, early1, early2, early3;

	su_init("stress_churn");
	phase("churn default", 20000, su_scaled(100000, 200), 0, &early1);
	parks = phase("churn spin_ns=0", 0, su_scaled(100000, 200), 0, &early2);
	SU_CHECK(parks > 0, "spin_ns=0 phase never parked");
	phase("churn with external spawners", 20000, su_scaled(30000, 100),
	      su_scaled(30000, 100), &early3);
	/* Checked last so that a failure here still shows every other
	 * check of both phases passing. */
	SU_CHECK(early1 + early2 + early3 == 0,
		 "%" PRIu64 " application message(s) were delivered before "
		 "PN_MSG_STARTED (pn_spawn(): \"messages sent to it are "
		 "delivered after its PN_MSG_STARTED\"): a cross-shard "
		 "spawn's SPAWN and the next message from the same sender "
		 "arrive in one ring batch, and the ring drain delivers the "
		 "message while STARTED still waits in the local queue",
		 early1 + early2 + early3);
	su_log("ok (%.2f s)", su_secs(t0));
	return 0;
}
