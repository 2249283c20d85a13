// SPDX-License-Identifier: MIT
/*
 * Placement (core/mig/placement.c), the traffic view (core/mig/traffic.c) and
 * the rebalancer with the shipped colocate policy: where each placement puts a
 * spawn, its errors, what the traffic view shows for a known flow, and that
 * colocate brings a chatty pair started on two shards onto one.
 */
#include "harness.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#define P_PING 0x3000u
#define P_GO   0x3001u

static pn_pid place(int placement, int shard, pn_pid near, int cpu, int *err)
{
	struct pn_spawn_opts o = {.shard = shard,
				  .placement = placement,
				  .near = near,
				  .cpu = cpu};
	pn_pid pid = 0;

	*err = pn_runtime_spawn(h_rt, &h_idle_b, &o, &pid);
	return pid;
}

static unsigned on(int placement, int shard, pn_pid near, int cpu)
{
	int err;
	pn_pid pid = place(placement, shard, near, cpu, &err);

	assert_int_equal(err, 0);
	return pn_pid_shard(pid);
}

static void test_placement_explicit_near_default(void **state)
{
	int err;
	pn_pid p1;

	(void)state;
	h_start(NULL);
	assert_int_equal(on(PN_PLACE_SHARD, 1, 0, 0), 1);
	assert_int_equal(on(PN_PLACE_SHARD, 0, 0, 0), 0);
	place(PN_PLACE_SHARD, 2, 0, 0, &err); /* not an application shard */
	assert_int_equal(err, -EINVAL);
	place(PN_PLACE_SHARD, -1, 0, 0, &err);
	assert_int_equal(err, -EINVAL);
	p1 = place(PN_PLACE_SHARD, 1, 0, 0, &err);
	assert_int_equal(on(PN_PLACE_NEAR, 0, p1, 0), 1);
	place(PN_PLACE_NEAR, 0, 0, 0, &err);
	assert_int_equal(err, -EINVAL);
	place(42, 0, 0, 0, &err);
	assert_int_equal(err, -EINVAL);
	/* The default: opts.shard as it always was. */
	assert_int_equal(on(PN_PLACE_DEFAULT, 1, 0, 0), 1);
	h_finish();
}

static void test_placement_scatter(void **state)
{
	unsigned n[2] = {0, 0};

	(void)state;
	h_start(NULL);
	for (int i = 0; i < 8; i++)
		n[on(PN_PLACE_SCATTER, 0, 0, 0)]++;
	assert_int_equal(n[0], 4);
	assert_int_equal(n[1], 4);
	h_finish();
}

static void test_placement_compact(void **state)
{
	struct pn_config c;
	unsigned n[2] = {0, 0};

	(void)state;
	h_config(&c);
	c.compact_cap = 3;
	h_start(&c);
	/* A burst from one thread: spawns on their way count too. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(on(PN_PLACE_COMPACT, 0, 0, 0), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(on(PN_PLACE_COMPACT, 0, 0, 0), 1);
	for (int i = 0; i < 4; i++) /* all full: the least loaded */
		n[on(PN_PLACE_COMPACT, 0, 0, 0)]++;
	assert_int_equal(n[0], 2);
	assert_int_equal(n[1], 2);
	h_finish();
	h_config(&c);
	c.compact_cap = 0;
	assert_int_equal(pn_runtime_create(&c, &h_rt), -EINVAL);
	h_rt = NULL;
}

static void test_placement_numa(void **state)
{
	const struct pn_plan *plan;
	int err;

	(void)state;
	h_start(NULL);
	plan = pn_runtime_plan(h_rt);
	for (unsigned i = 0; i < 2; i++) { /* a shard on that cpu's node */
		unsigned s = on(PN_PLACE_NUMA, 0, 0, plan->shard[i].cpu);

		assert_int_equal(plan->shard[s].numa_node,
				 plan->shard[i].numa_node);
	}
	place(PN_PLACE_NUMA, 0, 0, -5, &err);
	assert_int_equal(err, -EINVAL);
	h_finish();
}

/* --- traffic and the rebalancer ---------------------------------------- */

struct pp {
	pn_pid peer;
	int id;
	uint64_t n, limit;
};

static _Atomic unsigned where[2]; /* each pinger's shard, relaxed */
static _Atomic bool pp_stop;	  /* set by the test: stop pinging */

static int pp_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct pp *p = state;

	atomic_store_explicit(&where[p->id], pn_shard(ctx),
			      memory_order_relaxed);
	if (m->type == P_GO && pn_msg_u64(m))
		p->peer = (pn_pid)pn_msg_u64(m);
	if ((m->type == P_GO || m->type == P_PING) && p->peer &&
	    ++p->n <= p->limit && !atomic_load(&pp_stop))
		return pn_send_u64(ctx, p->peer, P_PING, p->n);
	if (p->n == p->limit + 1 && p->id == 0)
		pn_runtime_notify(pn_ctx_runtime(ctx), 77);
	return 0;
}

static int pp_init(struct pn_ctx *ctx, void *state, const void *arg, size_t len)
{
	(void)ctx;
	memcpy(state, arg, len);
	return 0;
}

static const struct pn_behaviour pp_b = {.name = "place-pp",
					 .state_size = sizeof(struct pp),
					 .init = pp_init,
					 .handle = pp_handle};

/* The shard matrix shows both directions' 2000 pings (shard 0 <-> 1). */
static bool all_counted(void *arg)
{
	uint64_t *m = arg;

	assert_int_equal(pn_traffic_shards(h_rt, m, 3), 0);
	return m[0 * 3 + 1] >= 2000 && m[1 * 3 + 0] >= 2000;
}

static void test_traffic_view(void **state)
{
	struct pn_traffic_pair pairs[16];
	uint64_t m[9];
	struct pp a = {.id = 0, .limit = 2000}, b = {.id = 1, .limit = 2000};
	pn_pid pa, pb;
	int n, found = 0;

	(void)state;
	h_start(NULL);
	pb = h_spawn(&pp_b, 1, &b, sizeof(b));
	a.peer = pb;
	pa = h_spawn(&pp_b, 0, &a, sizeof(a));
	h_send(pb, P_GO, &(uint64_t){pa}, sizeof(uint64_t));
	h_send(pa, P_GO, &(uint64_t){0}, sizeof(uint64_t));
	h_expect(77);
	assert_int_equal(pn_traffic_shards(h_rt, m, 2), -EINVAL);
	/* Both sides send 2000 pings; pa's last one may still sit unpublished
	 * in its batch when pa notifies (two pings are in flight), so wait
	 * for the shards to publish rather than read once. */
	assert_true(h_until(all_counted, m, H_WAIT));
	n = pn_traffic_pairs(h_rt, pairs, 16);
	assert_true(n >= 1);
	for (int i = 0; i < n; i++)
		if (pairs[i].from == pa && pairs[i].to == pb) {
			assert_int_equal(pairs[i].from_shard, 0);
			assert_int_equal(pairs[i].to_shard, 1);
			assert_true(pairs[i].samples > 0);
			found = 1;
		}
	assert_true(found);
	h_finish();
}

static bool together(void *arg)
{
	(void)arg;
	return atomic_load(&where[0]) == atomic_load(&where[1]);
}

/* A pair ping-ponging across shards is brought onto one by colocate. */
static void test_rebalance_colocate(void **state)
{
	struct pp a = {.id = 0, .limit = UINT64_MAX / 2},
		  b = {.id = 1, .limit = UINT64_MAX / 2};
	struct pn_migrate_stats ms0, ms1;
	struct pn_config c;
	pn_pid pa, pb;

	(void)state;
	atomic_store(&pp_stop, false);
	h_config(&c);
	c.rebalance = pn_rebalance_colocate;
	c.rebalance_ns = 10 * H_MS;
	h_start(&c);
	atomic_store(&where[0], 0);
	atomic_store(&where[1], 1);
	pb = h_spawn(&pp_b, 1, &b, sizeof(b));
	a.peer = pb;
	pa = h_spawn(&pp_b, 0, &a, sizeof(a));
	h_send(pb, P_GO, &(uint64_t){pa}, sizeof(uint64_t));
	h_send(pa, P_GO, &(uint64_t){0}, sizeof(uint64_t));
	assert_true(h_until(together, NULL, H_WAIT));
	pn_migrate_stats(h_rt, 0, &ms0);
	pn_migrate_stats(h_rt, 1, &ms1);
	assert_true(ms0.installs + ms1.installs >= 1);
	atomic_store(&pp_stop, true);
	h_finish();
}

int main(void)
{
#define T(f) cmocka_unit_test_teardown(f, h_teardown)
	const struct CMUnitTest tests[] = {
		T(test_placement_explicit_near_default),
		T(test_placement_scatter),
		T(test_placement_compact),
		T(test_placement_numa),
		T(test_traffic_view),
		T(test_rebalance_colocate),
	};

	return cmocka_run_group_tests_name("placement", tests, NULL, NULL);
}
