// SPDX-License-Identifier: MIT
/*
 * The public timer calls (core/actor/request.c over core/base/timers.c):
 * pn_send_after() fires once and never early, pn_send_every() fires until
 * cancelled, timers fire in expiry order, pn_timer_cancel() of what is not
 * armed is -ENOENT, invalid timers are refused, and the timers of a
 * stopped actor never fire into the next actor in its slot. (The wheel
 * itself has its own test, test_timers.)
 *
 * "No more ticks" is checked with a later timer (H_CHECK): timers fire in
 * expiry order, so a tick due before it would have come first.
 */
#include "harness.h"

#include <errno.h>
#include <string.h>

static struct h_puppet P, D, C[2];

static int setup(void **state)
{
	(void)state;
	h_puppet_init(&P, 1);
	h_puppet_init(&D, 2);
	h_puppet_init(&C[0], 10);
	h_puppet_init(&C[1], 11);
	return 0;
}

static int32_t tick_value(const struct h_entry *e)
{
	int32_t v;

	assert_int_equal(e->len, sizeof(v));
	memcpy(&v, e->data, sizeof(v));
	return v;
}

static void test_timer_send_after_once_not_early(void **state)
{
	const struct h_entry *e;

	(void)state;
	h_start(NULL);
	P.notify_mask = H_BIT(H_EV_TICK) | H_BIT(H_EV_CHECK);
	h_puppet_spawn(&P, 1);
	h_cmd(P.self, H_AFTER, 0, 1234, 0, 20 * H_MS);
	h_expect(H_CODE(&P, H_EV_TICK));
	assert_int_equal(P.rc[0], 0);
	assert_true(P.timer != 0);
	e = &P.log[h_find(&P, H_MSG_TICK, 0)];
	assert_true(e->t >= P.armed_at + 20 * H_MS);
	assert_int_equal(tick_value(e), 1234);
	assert_true(e->from == PN_PID_NONE);
	/* Once: nothing more before a later check; then it is unknown. */
	h_cmd(P.self, H_CHECK, 0, 0, 0, 60 * H_MS);
	h_expect(H_CODE(&P, H_EV_CHECK));
	h_cmd(P.self, H_CANCEL, 50, 0, 0, 0);
	h_expect(50);
	assert_int_equal(P.rc[2], -ENOENT);
	h_finish();
	assert_int_equal(h_count(&P, H_MSG_TICK), 1);
}

/* Count ticks; at the 5th cancel (twice), arm a check 3 periods on. */
#define PERIOD (5 * H_MS)
static int cancel_rc[2];

static int every_hook(struct pn_ctx *ctx, struct h_puppet *p,
		      const struct pn_msg *m)
{
	if (m->type == H_MSG_TICK && p->ticks == 5) {
		cancel_rc[0] = pn_timer_cancel(ctx, p->timer);
		cancel_rc[1] = pn_timer_cancel(ctx, p->timer);
		pn_send_after(ctx, 3 * PERIOD, H_MSG_CHECK, NULL, 0, NULL);
	}
	return H_DEFAULT;
}

static void test_timer_send_every_until_cancelled(void **state)
{
	(void)state;
	h_start(NULL);
	P.hook = every_hook;
	P.notify_mask = H_BIT(H_EV_CHECK);
	h_puppet_spawn(&P, 0);
	h_cmd(P.self, H_EVERY, 0, 7, 0, PERIOD);
	h_expect(H_CODE(&P, H_EV_CHECK));
	assert_int_equal(P.rc[0], 0);
	assert_int_equal(cancel_rc[0], 0);
	assert_int_equal(cancel_rc[1], -ENOENT);
	assert_int_equal(P.ticks, 5);
	/* The k-th tick came no earlier than k periods after arming. */
	for (unsigned k = 0; k < 5; k++) {
		const struct h_entry *e = &P.log[h_find(&P, H_MSG_TICK, k)];

		assert_true(e->t >= P.armed_at + (k + 1) * PERIOD);
		assert_int_equal(tick_value(e), 7);
	}
	h_finish();
	assert_int_equal(h_count(&P, H_MSG_TICK), 5);
}

/* On DATA: five timers, armed out of order; they fire in order. */
static int order_hook(struct pn_ctx *ctx, struct h_puppet *p,
		      const struct pn_msg *m)
{
	static const int32_t delay_ms[] = {50, 10, 40, 20, 30};

	if (m->type != H_MSG_DATA)
		return H_DEFAULT;
	for (unsigned i = 0; i < 5; i++)
		p->rc[p->nrc++] = pn_send_after(
			ctx, (uint64_t)delay_ms[i] * H_MS, H_MSG_TICK,
			&delay_ms[i], sizeof(delay_ms[i]), NULL);
	pn_send_after(ctx, 60 * H_MS, H_MSG_CHECK, NULL, 0, NULL);
	return 0;
}

static void test_timer_expiry_order(void **state)
{
	(void)state;
	h_start(NULL);
	P.hook = order_hook;
	P.notify_mask = H_BIT(H_EV_CHECK);
	h_puppet_spawn(&P, 1);
	h_send(P.self, H_MSG_DATA, NULL, 0);
	h_expect(H_CODE(&P, H_EV_CHECK));
	for (unsigned k = 0; k < 5; k++) {
		assert_int_equal(P.rc[k], 0);
		assert_int_equal(tick_value(&P.log[h_find(&P, H_MSG_TICK, k)]),
				 10 * (k + 1));
	}
	h_finish();
}

/* On DATA: invalid timers (rc[]), then a 32-byte one (the limit). */
static int invalid_hook(struct pn_ctx *ctx, struct h_puppet *p,
			const struct pn_msg *m)
{
	unsigned char buf[PN_MSG_INLINE + 1];
	uint64_t id;

	if (m->type != H_MSG_DATA)
		return H_DEFAULT;
	h_fill(buf, sizeof(buf), 3);
	p->rc[p->nrc++] = pn_send_after(ctx, H_MS, H_MSG_TICK, buf,
					PN_MSG_INLINE + 1, &id);
	p->rc[p->nrc++] = pn_send_every(ctx, H_MS, H_MSG_TICK, buf,
					PN_MSG_INLINE + 1, &id);
	p->rc[p->nrc++] =
		pn_send_after(ctx, H_MS, PN_MSG_TIMEOUT, NULL, 0, &id);
	p->rc[p->nrc++] = pn_send_every(ctx, H_MS, PN_MSG_SYS, NULL, 0, &id);
	p->rc[p->nrc++] = pn_send_every(ctx, 0, H_MSG_TICK, NULL, 0, &id);
	p->rc[p->nrc++] = pn_timer_cancel(ctx, 12345);
	p->rc[p->nrc++] = pn_timer_cancel(ctx, 0);
	p->rc[p->nrc++] = pn_timer_cancel(ctx, UINT64_MAX);
	p->rc[p->nrc++] =
		pn_send_after(ctx, 0, H_MSG_CHECK, buf, PN_MSG_INLINE, NULL);
	return 0;
}

static void test_timer_invalid(void **state)
{
	static const int want[] = {-EMSGSIZE, -EMSGSIZE, -EINVAL,
				   -EINVAL,   -EINVAL,	 -ENOENT,
				   -ENOENT,   -ENOENT,	 0};
	unsigned char buf[PN_MSG_INLINE];
	int i;

	(void)state;
	h_start(NULL);
	P.hook = invalid_hook;
	P.notify_mask = H_BIT(H_EV_CHECK);
	h_puppet_spawn(&P, 0);
	h_send(P.self, H_MSG_DATA, NULL, 0);
	h_expect(H_CODE(&P, H_EV_CHECK));
	assert_int_equal(P.nrc, 9);
	for (unsigned k = 0; k < 9; k++)
		assert_int_equal(P.rc[k], want[k]);
	/* The zero-delay one fired, with its whole 32-byte payload. */
	h_fill(buf, sizeof(buf), 3);
	i = h_find(&P, H_MSG_CHECK, 0);
	assert_int_equal(P.log[i].len, PN_MSG_INLINE);
	assert_memory_equal(P.log[i].data, buf, PN_MSG_INLINE);
	h_finish();
	assert_int_equal(h_count(&P, H_MSG_TICK), 0);
}

/*
 * x arms a one-shot and a periodic timer and stops; y takes its slot. None
 * of x's timers reaches y: y's own check, due after all of them, comes
 * first and alone.
 */
static void test_timer_of_stopped_actor_not_delivered(void **state)
{
	pn_pid d, x, y;

	(void)state;
	h_start(NULL);
	D.notify_mask = H_BIT(H_EV_DOWN);
	d = h_puppet_spawn(&D, 0);
	h_cmd(d, H_SPAWN, 70, 0, PN_SPAWN_MONITOR, (uintptr_t)&C[0]);
	h_expect(70);
	x = D.spawned;
	h_cmd(x, H_AFTER, 0, 1, 0, 30 * H_MS);
	h_cmd(x, H_EVERY, 0, 2, 0, 10 * H_MS);
	h_cmd(x, H_STOP, 0, 0, x, 0);
	h_expect(H_CODE(&D, H_EV_DOWN));
	assert_int_equal(C[0].rc[0], 0);
	assert_int_equal(C[0].rc[1], 0);
	C[1].notify_mask = H_BIT(H_EV_CHECK);
	h_cmd(d, H_SPAWN, 71, 0, 0, (uintptr_t)&C[1]);
	h_expect(71);
	y = D.spawned;
	assert_int_equal(pn_pid_slot(y), pn_pid_slot(x));
	h_cmd(y, H_CHECK, 0, 0, 0, 100 * H_MS);
	h_expect(H_CODE(&C[1], H_EV_CHECK));
	assert_int_equal(h_count(&C[1], H_MSG_TICK), 0);
	h_finish();
	assert_int_equal(h_count(&C[1], H_MSG_TICK), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_timer_send_after_once_not_early),
		T(test_timer_send_every_until_cancelled),
		T(test_timer_expiry_order),
		T(test_timer_invalid),
		T(test_timer_of_stopped_actor_not_delivered),
	};

	return cmocka_run_group_tests_name("timer_api", tests, NULL, NULL);
}
