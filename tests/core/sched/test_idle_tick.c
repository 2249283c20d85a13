// SPDX-License-Identifier: MIT
/*
 * A shard that only runs its own timers does not spin: woken by a 1 ms
 * periodic timer with nothing else to do, it parks again at once rather
 * than spinning spin_ns first (which cost 20 us of a core per tick: 2% at
 * 1 kHz, 10% at 5 kHz, before any wake-up cost). Measured from the
 * shard's own time accounting (pn_metrics_snapshot: spin_ns per park),
 * not from a clock in the test. The cost model is in README ("Idle cost").
 */
#include "harness.h"

#include <errno.h>

#define TICK  0x777u
#define TICKS 100
#define SPIN  (200 * 1000ull) /* a long spin, so that one per tick shows */

struct ticker {
	uint64_t timer;
	unsigned n;
};

static int tick_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct ticker *t = state;

	if (m->type == PN_MSG_STARTED)
		return pn_send_every(ctx, H_MS, TICK, NULL, 0, &t->timer);
	if (m->type == TICK && ++t->n == TICKS) {
		pn_timer_cancel(ctx, t->timer);
		pn_runtime_notify(pn_ctx_runtime(ctx), 1);
	}
	return 0;
}

static const struct pn_behaviour tick_b = {.name = "test.ticker",
					   .state_size = sizeof(struct ticker),
					   .handle = tick_handle};

static void shard_time(uint64_t *spin_ns, uint64_t *parks)
{
	struct pn_metrics *m;
	const struct pn_shard_metrics *s;

	assert_int_equal(pn_metrics_snapshot(h_rt, &m), 0);
	s = pn_metrics_shard(m, 0);
	assert_non_null(s);
	*spin_ns = s->spin_ns;
	*parks = s->stats.parks;
	pn_metrics_free(m);
}

static void test_timer_only_shard_does_not_spin(void **state)
{
	uint64_t spin0, parks0, spin1, parks1;
	struct pn_config c;

	(void)state;
	h_config(&c);
	c.spin_ns = SPIN;
	h_start(&c);
	shard_time(&spin0, &parks0);
	h_spawn(&tick_b, 0, NULL, 0);
	h_expect(1);
	shard_time(&spin1, &parks1);
	/* About one park per tick; the spawn's message from outside earns
	 * one or two spins, the ticks none. */
	assert_true(parks1 - parks0 >= TICKS / 2);
	if (spin1 - spin0 >= 10 * SPIN)
		fail_msg("spun %llu ns over %llu parks (spin_ns %llu)",
			 (unsigned long long)(spin1 - spin0),
			 (unsigned long long)(parks1 - parks0),
			 (unsigned long long)SPIN);
	h_finish();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_timer_only_shard_does_not_spin,
					  h_teardown),
	};

	return cmocka_run_group_tests_name("idle_tick", tests, NULL, NULL);
}
