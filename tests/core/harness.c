// SPDX-License-Identifier: MIT
/*
 * The core tests' fixture (see harness.h): runtime set-up and tear-down,
 * bounded waits on pn_runtime_wait(), and the puppet actor.
 */
#include "harness.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

struct pn_runtime *h_rt;

void h_config(struct pn_config *c)
{
	pn_config_init(c);
	c->plan.shards = 2;
	c->spin_ns = 5000;
	/* Generous shutdown stages: on a loaded machine a shard may well be
	 * off its core for longer than the default 100 ms. */
	for (int st = 0; st < PN_STAGE_COUNT; st++)
		c->stage_ns[st] = 3 * H_SEC;
}

struct pn_runtime *h_start(const struct pn_config *c)
{
	struct pn_config def;
	int err;

	if (!c) {
		h_config(&def);
		c = &def;
	}
	assert_null(h_rt);
	err = pn_runtime_create(c, &h_rt);
	if (err)
		print_message("pn_runtime_create: %d %s\n", err,
			      pn_last_error());
	assert_int_equal(err, 0);
	err = pn_runtime_start(h_rt);
	if (err)
		print_message("pn_runtime_start: %d %s\n", err,
			      pn_last_error());
	assert_int_equal(err, 0);
	return h_rt;
}

int h_teardown(void **state)
{
	(void)state;
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
	return 0;
}

void h_finish(void)
{
	struct pn_shutdown_report r;
	int err = pn_runtime_shutdown(h_rt, H_WAIT, &r);

	if (err)
		print_message("shutdown: %d\n%s", err, r.text);
	assert_int_equal(err, 0);
	assert_string_equal(r.text, "");
	assert_int_equal(r.actors_left, 0);
	assert_int_equal(r.shards_abandoned, 0);
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
}

int h_wait(void)
{
	int code = 0, err = pn_runtime_wait(h_rt, H_WAIT, &code);

	if (err)
		print_message("no notification within %llu s\n",
			      (unsigned long long)(H_WAIT / H_SEC));
	assert_int_equal(err, 0);
	return code;
}

void h_expect(int code)
{
	assert_int_equal(h_wait(), code);
}

void h_expect_all(const int *codes, unsigned n)
{
	bool seen[64] = {0};

	assert_true(n <= 64);
	for (unsigned i = 0; i < n; i++) {
		int c = h_wait();
		unsigned j;

		for (j = 0; j < n; j++)
			if (!seen[j] && codes[j] == c)
				break;
		if (j == n)
			print_message("unexpected code %d\n", c);
		assert_true(j < n);
		seen[j] = true;
	}
}

bool h_until(bool (*cond)(void *), void *arg, uint64_t timeout_ns)
{
	uint64_t end = pn_now_ns() + timeout_ns;

	while (!cond(arg)) {
		if (pn_now_ns() > end)
			return false;
		sched_yield();
	}
	return true;
}

pn_pid h_spawn(const struct pn_behaviour *b, int shard, const void *arg,
	       size_t len)
{
	struct pn_spawn_opts o = {.shard = shard, .arg = arg, .arg_len = len};
	pn_pid pid = PN_PID_NONE;
	int err = pn_runtime_spawn(h_rt, b, &o, &pid);

	if (err)
		print_message("pn_runtime_spawn: %d %s\n", err,
			      pn_last_error());
	assert_int_equal(err, 0);
	assert_true(pid != PN_PID_NONE);
	return pid;
}

void h_send(pn_pid to, uint32_t type, const void *data, size_t len)
{
	int err = pn_runtime_send(h_rt, to, type, data, len, H_WAIT);

	if (err)
		print_message("pn_runtime_send: %d %s\n", err, pn_last_error());
	assert_int_equal(err, 0);
}

struct pn_shard_stats h_stats(unsigned shard)
{
	struct pn_shard_stats st;

	assert_int_equal(pn_runtime_stats(h_rt, shard, &st), 0);
	return st;
}

/* --- the puppet ------------------------------------------------------- */

static atomic_uint cleanup_seq; /* across all puppets, for the order */

struct puppet_state {
	struct h_puppet *p;
};

static void puppet_notify(struct pn_ctx *ctx, struct h_puppet *p, int ev)
{
	if (p->notify_mask & H_BIT(ev))
		pn_runtime_notify(pn_ctx_runtime(ctx), H_CODE(p, ev));
}

static int puppet_init(struct pn_ctx *ctx, void *state, const void *arg,
		       size_t len)
{
	struct puppet_state *s = state;

	if (len != sizeof(s->p))
		return -EINVAL;
	memcpy(&s->p, arg, sizeof(s->p));
	s->p->self = pn_self(ctx);
	s->p->shard = pn_shard(ctx);
	return 0;
}

static void puppet_log(struct h_puppet *p, const struct pn_msg *m)
{
	struct h_entry *e;

	if (p->n++ >= H_LOG_MAX)
		return;
	e = &p->log[p->n - 1];
	*e = (struct h_entry){.type = m->type,
			      .len = m->len,
			      .from = m->from,
			      .ref = m->ref,
			      .t = pn_now_ns(),
			      .sum = h_sum(pn_msg_data(m), m->len)};
	memcpy(e->data, pn_msg_data(m), m->len < 32 ? m->len : 32);
}

static int puppet_timer(struct pn_ctx *ctx, struct h_puppet *p,
			const struct h_cmd *c, uint32_t type, bool every)
{
	uint64_t id = 0;
	int err;

	p->armed_at = pn_now_ns();
	if (every)
		err = pn_send_every(ctx, c->v, type, &c->a, sizeof(c->a), &id);
	else
		err = pn_send_after(ctx, c->v, type, &c->a, sizeof(c->a), &id);
	if (err == 0)
		p->timer = id;
	return err;
}

static int puppet_spawn(struct pn_ctx *ctx, struct h_puppet *p,
			const struct h_cmd *c)
{
	struct h_puppet *child = (struct h_puppet *)(uintptr_t)c->v;
	struct pn_spawn_opts o = {.shard = c->a,
				  .flags = (unsigned)c->pid,
				  .arg = &child,
				  .arg_len = sizeof(child)};

	return pn_spawn(ctx, &h_puppet_b, &o, &p->spawned);
}

/* Run command @c; returns its result, *ret what the handler returns. */
static int puppet_cmd(struct pn_ctx *ctx, struct h_puppet *p,
		      const struct h_cmd *c, int *ret)
{
	switch (c->op) {
	case H_NOP:
		return 0;
	case H_STOP:
		return pn_stop(ctx, c->pid);
	case H_KILL:
		return pn_kill(ctx, c->pid);
	case H_FAIL:
		pn_fail(ctx, c->a);
		return 0;
	case H_RETURN:
		*ret = c->a;
		return 0;
	case H_MONITOR:
		return pn_monitor(ctx, c->pid);
	case H_DEMONITOR:
		return pn_demonitor(ctx, c->pid);
	case H_LINK:
		return pn_link(ctx, c->pid);
	case H_UNLINK:
		return pn_unlink(ctx, c->pid);
	case H_TRAP:
		pn_trap_exit(ctx, c->a != 0);
		return 0;
	case H_SEND:
		return pn_send_u64(ctx, c->pid, H_MSG_DATA, c->v);
	case H_SPAWN:
		return puppet_spawn(ctx, p, c);
	case H_REQUEST:
		p->armed_at = pn_now_ns();
		return pn_request(ctx, c->pid, H_MSG_REQ, &c->v, sizeof(c->v),
				  (uint64_t)c->a * H_MS, &p->ref);
	case H_REPLY:
		return p->has_req ? pn_reply(ctx, &p->req, H_MSG_REPLY, &c->v,
					     sizeof(c->v))
				  : -ENOENT;
	case H_AFTER:
		return puppet_timer(ctx, p, c, H_MSG_TICK, false);
	case H_EVERY:
		return puppet_timer(ctx, p, c, H_MSG_TICK, true);
	case H_CANCEL:
		return pn_timer_cancel(ctx, c->v ? c->v : p->timer);
	case H_CHECK:
		return pn_send_after(ctx, c->v, H_MSG_CHECK, NULL, 0, NULL);
	case H_POKE: {
		struct h_cmd nop = {.op = H_NOP, .notify = (uint16_t)c->a};

		return pn_send(ctx, c->pid, H_MSG_CMD, &nop, sizeof(nop));
	}
	}
	return -ENOSYS;
}

/* The event a message counts as, or 0. */
static int puppet_event(const struct pn_msg *m)
{
	if (m->type > PN_MSG_SYS && m->type <= PN_MSG_WRITABLE)
		return (int)(m->type - PN_MSG_SYS);
	if (pn_msg_is_reply(m))
		return H_EV_REPLY;
	switch (m->type) {
	case H_MSG_DATA:
		return H_EV_DATA;
	case H_MSG_TICK:
		return H_EV_TICK;
	case H_MSG_CHECK:
		return H_EV_CHECK;
	}
	return 0;
}

static int puppet_handle(struct pn_ctx *ctx, void *state,
			 const struct pn_msg *m)
{
	struct h_puppet *p = ((struct puppet_state *)state)->p;
	int ret = 0, ev;

	puppet_log(p, m);
	if (m->type == H_MSG_TICK)
		p->ticks++;
	if (p->hook) {
		ret = p->hook(ctx, p, m);
		if (ret != H_DEFAULT)
			return ret;
		ret = 0;
	}
	if (m->type == H_MSG_CMD && m->len == sizeof(struct h_cmd)) {
		struct h_cmd c;
		int rc;

		memcpy(&c, pn_msg_data(m), sizeof(c));
		rc = puppet_cmd(ctx, p, &c, &ret);
		if (p->nrc < H_RC_MAX)
			p->rc[p->nrc++] = rc;
		if (c.notify)
			pn_runtime_notify(pn_ctx_runtime(ctx), c.notify);
		return ret;
	}
	if (m->type == H_MSG_REQ && !pn_msg_is_reply(m)) {
		if (p->auto_reply) {
			uint64_t v = pn_msg_u64(m) + 1;

			p->reply_rc =
				pn_reply(ctx, m, H_MSG_REPLY, &v, sizeof(v));
		} else {
			p->req = *m;
			p->has_req = true;
		}
	}
	ev = puppet_event(m);
	if (ev)
		puppet_notify(ctx, p, ev);
	return 0;
}

static void puppet_cleanup(struct pn_ctx *ctx, void *state, int reason)
{
	struct h_puppet *p = ((struct puppet_state *)state)->p;

	p->cleanup_reason = reason;
	p->cleanups++;
	p->cleanup_at = p->n;
	p->cleanup_seq = atomic_fetch_add(&cleanup_seq, 1) + 1;
	puppet_notify(ctx, p, H_EV_CLEANUP);
}

const struct pn_behaviour h_puppet_b = {
	.name = "puppet",
	.state_size = sizeof(struct puppet_state),
	.init = puppet_init,
	.handle = puppet_handle,
	.cleanup = puppet_cleanup,
};

static int idle_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	(void)ctx;
	(void)state;
	(void)m;
	return 0;
}

const struct pn_behaviour h_idle_b = {.name = "idle", .handle = idle_handle};

void h_puppet_init(struct h_puppet *p, int id)
{
	memset(p, 0, sizeof(*p));
	p->id = id;
	p->cleanup_reason = -1;
}

pn_pid h_puppet_spawn(struct h_puppet *p, int shard)
{
	pn_pid pid;

	p->notify_mask |= H_BIT(H_EV_STARTED);
	pid = h_spawn(&h_puppet_b, shard, &p, sizeof(p));
	h_expect(H_CODE(p, H_EV_STARTED));
	assert_true(p->self == pid);
	return pid;
}

void h_cmd(pn_pid to, enum h_op op, int notify, int32_t a, pn_pid pid,
	   uint64_t v)
{
	struct h_cmd c = {.op = (uint16_t)op,
			  .notify = (uint16_t)notify,
			  .a = a,
			  .pid = pid,
			  .v = v};

	h_send(to, H_MSG_CMD, &c, sizeof(c));
}

unsigned h_count(const struct h_puppet *p, uint32_t type)
{
	unsigned k = 0;

	for (unsigned i = 0; i < p->n && i < H_LOG_MAX; i++)
		k += p->log[i].type == type;
	return k;
}

int h_find(const struct h_puppet *p, uint32_t type, unsigned k)
{
	for (unsigned i = 0; i < p->n && i < H_LOG_MAX; i++)
		if (p->log[i].type == type && k-- == 0)
			return (int)i;
	return -1;
}

struct pn_down h_down(const struct h_puppet *p, int i)
{
	struct pn_down d;

	assert_true(i >= 0 && (unsigned)i < p->n);
	assert_int_equal(p->log[i].len, sizeof(d));
	memcpy(&d, p->log[i].data, sizeof(d));
	return d;
}

void h_fill(void *buf, size_t len, unsigned seed)
{
	unsigned char *b = buf;

	for (size_t i = 0; i < len; i++)
		b[i] = (unsigned char)(i * 31 + seed * 7 + (i >> 8));
}

uint32_t h_sum(const void *buf, size_t len)
{
	const unsigned char *b = buf;
	uint32_t s = 0;

	for (size_t i = 0; i < len; i++)
		s = s * 33 + b[i];
	return s;
}

#ifndef H_UNDER_TSAN
static bool thread_gone(void *arg)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/self/task/%d", *(int *)arg);
	return stat(path, &st) != 0;
}
#endif

void h_stuck_thread_finish(atomic_bool *release, atomic_int *tid)
{
#ifdef H_UNDER_TSAN
	(void)release;
	(void)tid;
#else
	int t;

	atomic_store(release, true);
	t = atomic_load(tid);
	assert_true(h_until(thread_gone, &t, H_WAIT));
#endif
}
