// SPDX-License-Identifier: MIT
/*
 * The runtime's one clock (struct pn_config's clock): a handler's
 * pn_ctx_now_ns() and the actors' timers follow a virtual clock the test
 * drives, not the machine's: a 10 s timer fires once the virtual clock has
 * passed 10 s, after a few microseconds of real time, and not before.
 */
#include "harness.h"

#include <errno.h>
#include <stdatomic.h>

enum { MSG_ARM = 1, MSG_NUDGE, MSG_TICK };
enum { CODE_ARMED = 1, CODE_NUDGED, CODE_FIRED };

#define BASE  (1000 * H_SEC)
#define DELAY (10 * H_SEC)

static _Atomic uint64_t vclock;
static _Atomic uint64_t seen, fired_at;
static _Atomic int fired;

static uint64_t vclock_fn(void *arg)
{
	(void)arg;
	return atomic_load(&vclock);
}

static int ticker(struct pn_ctx *ctx, void *st, const struct pn_msg *m)
{
	struct pn_runtime *rt = pn_ctx_runtime(ctx);

	(void)st;
	switch (m->type) {
	case MSG_ARM:
		atomic_store(&seen, pn_ctx_now_ns(ctx));
		if (pn_send_after(ctx, DELAY, MSG_TICK, NULL, 0, NULL) < 0)
			return -1;
		pn_runtime_notify(rt, CODE_ARMED);
		break;
	case MSG_NUDGE:
		atomic_store(&seen, pn_ctx_now_ns(ctx));
		pn_runtime_notify(rt, CODE_NUDGED);
		break;
	case MSG_TICK:
		atomic_store(&fired_at, pn_ctx_now_ns(ctx));
		atomic_store(&fired, 1);
		pn_runtime_notify(rt, CODE_FIRED);
		break;
	default:
		break;
	}
	return 0;
}

static const struct pn_behaviour ticker_b = {.name = "clock.ticker",
					     .handle = ticker};

static void send_to(pn_pid to, uint32_t type)
{
	assert_int_equal(pn_runtime_send(h_rt, to, type, NULL, 0, H_WAIT), 0);
}

static void expect(int want)
{
	int code = 0;

	assert_int_equal(pn_runtime_wait(h_rt, H_WAIT, &code), 0);
	assert_int_equal(code, want);
}

static void expect_both(int a, int b)
{
	int c1 = 0, c2 = 0;

	assert_int_equal(pn_runtime_wait(h_rt, H_WAIT, &c1), 0);
	assert_int_equal(pn_runtime_wait(h_rt, H_WAIT, &c2), 0);
	assert_true((c1 == a && c2 == b) || (c1 == b && c2 == a));
}

static void test_clock_virtual_timers(void **state)
{
	struct pn_config c;
	pn_pid t;

	(void)state;
	atomic_store(&vclock, BASE);
	h_config(&c);
	c.clock = vclock_fn;
	h_start(&c);
	t = h_spawn(&ticker_b, 0, NULL, 0);
	send_to(t, MSG_ARM);
	expect(CODE_ARMED);
	assert_int_equal(atomic_load(&seen), BASE);
	/* Half way (virtual): the handler sees it, the timer waits. */
	atomic_store(&vclock, BASE + DELAY / 2);
	send_to(t, MSG_NUDGE);
	expect(CODE_NUDGED);
	assert_int_equal(atomic_load(&seen), BASE + DELAY / 2);
	assert_int_equal(atomic_load(&fired), 0);
	/* Past it: the shard's next turn fires the timer. A shard still
	 * spinning may see the clock move and fire it before it takes the
	 * nudge, so the two codes come in either order. */
	atomic_store(&vclock, BASE + DELAY + H_MS);
	send_to(t, MSG_NUDGE);
	expect_both(CODE_NUDGED, CODE_FIRED);
	assert_true(atomic_load(&fired_at) >= BASE + DELAY);
	h_finish();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_clock_virtual_timers,
					  h_teardown),
	};

	return cmocka_run_group_tests_name("clock", tests, NULL, NULL);
}
