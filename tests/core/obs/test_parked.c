// SPDX-License-Identifier: MIT
/*
 * Parked time advances while a shard sleeps: a snapshot taken during a
 * sleep counts the time parked so far, not only the sleeps the shard has
 * woken from. An idle shard (no actors, no messages) parks; two snapshots
 * taken while it stays parked (its parks counter, which counts wake-ups,
 * unchanged) must show parked_ns grown by about the time between them.
 *
 * White-box only to know that the shard has gone to sleep (its parked
 * word, core_int.h); everything measured comes from pn_metrics_snapshot().
 */
#include "core_int.h"
#include "harness.h"

#include <stdatomic.h>
#include <stdlib.h>

#define SHARD	 0
#define ADVANCE	 (50 * H_MS) /* parked time to see grow within one sleep */
#define PATIENCE (2 * H_SEC) /* to see it (the old code never did) */

struct look {
	uint64_t t, parked_ns, parks, busy_ns, spin_ns;
};

static struct look look(void)
{
	struct pn_metrics *m;
	const struct pn_shard_metrics *s;
	struct look l;

	assert_int_equal(pn_metrics_snapshot(h_rt, &m), 0);
	s = pn_metrics_shard(m, SHARD);
	assert_non_null(s);
	l = (struct look){
		.t = pn_metrics_time_ns(m),
		.parked_ns = s->parked_ns,
		.parks = s->stats.parks,
		.busy_ns = s->busy_ns,
		.spin_ns = s->spin_ns,
	};
	pn_metrics_free(m);
	return l;
}

static bool shard_parked(void *arg)
{
	(void)arg;
	/* Relaxed: a hint to start looking; the snapshots decide. */
	return atomic_load_explicit(&h_rt->shard[SHARD]->parked,
				    memory_order_relaxed) == 1;
}

static void test_parked_advances_while_asleep(void **state)
{
	struct look a, b;
	uint64_t end;
	bool grew = false;

	(void)state;
	h_start(NULL);
	assert_true(h_until(shard_parked, NULL, H_WAIT));
	a = look();
	end = a.t + PATIENCE;
	/* Poll until parked time has grown by ADVANCE within one sleep. A
	 * wake-up in between (parks moved: a timer, a sweep) starts the
	 * window again from that snapshot. */
	for (;;) {
		b = look();
		assert_true(b.parked_ns >= a.parked_ns); /* a counter */
		if (b.parks != a.parks) {
			a = b;
			end = a.t + PATIENCE;
			continue;
		}
		/* Still the same sleep after the snapshot that saw it grow
		 * (b may have read parks just before a wake-up's increment
		 * and parked_ns just after its charge). */
		if (b.parked_ns - a.parked_ns > ADVANCE &&
		    look().parks == a.parks) {
			grew = true;
			break;
		}
		if (b.t > end)
			break;
		sched_yield();
	}
	if (!grew)
		print_message(
			"parked_ns %llu -> %llu over %llu ns, parks %llu: "
			"parked time stood still while the shard slept\n",
			(unsigned long long)a.parked_ns,
			(unsigned long long)b.parked_ns,
			(unsigned long long)(b.t - a.t),
			(unsigned long long)b.parks);
	assert_true(grew);
	/* The time it grew by is the time that passed (the snapshot reads
	 * the clock at its end, a little after the parked estimate), and
	 * none of it went to busy or spin. */
	assert_true(b.parked_ns - a.parked_ns <= b.t - a.t + H_MS);
	assert_true(b.busy_ns == a.busy_ns && b.spin_ns == a.spin_ns);
	h_finish();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_parked_advances_while_asleep,
					  h_teardown),
	};

	return cmocka_run_group_tests_name("parked", tests, NULL, NULL);
}
