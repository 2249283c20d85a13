// SPDX-License-Identifier: MIT
/*
 * Sending (core/sched/send.c, the send side of core/sched/producer.c and dead
 * letters in core/actor/actor.c): inline and pooled and malloc'd payloads up to
 * PN_MSG_MAX, per-sender order within a shard, across shards and from outside,
 * dead letters for stale and unknown PIDs (counted, handed to the dead-letter
 * hook, never delivered to the slot's next actor), every invalid send, and the
 * overflow path behind a full ring: its byte budget, -EAGAIN, PN_MSG_WRITABLE,
 * and nothing lost or reordered on the way.
 */
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct h_puppet S, T, L, C[4];

static int setup(void **state)
{
	(void)state;
	h_puppet_init(&S, 1);
	h_puppet_init(&T, 2);
	h_puppet_init(&L, 3);
	for (int i = 0; i < 4; i++)
		h_puppet_init(&C[i], 10 + i);
	return 0;
}

/* --- a receiver that checks per-sender sequence numbers ----------------- */

#define RX_SENDERS 8

/* Messages carry a u64 sequence number first; long ones a pattern after. */
struct rx {
	pn_pid from[RX_SENDERS];
	uint64_t next[RX_SENDERS];
	unsigned nfrom;
	uint64_t got, errors, bad_payload, large;
	uint64_t first_error; /* seq of the first out-of-order message */
};

static int rx_init(struct pn_ctx *ctx, void *state, const void *arg, size_t len)
{
	(void)ctx;
	memcpy(state, arg, len);
	return 0;
}

static void rx_data(struct rx *r, const struct pn_msg *m)
{
	uint64_t seq = pn_msg_u64(m);
	unsigned i;

	for (i = 0; i < r->nfrom && r->from[i] != m->from; i++)
		;
	if (i == r->nfrom) {
		if (i == RX_SENDERS) {
			r->errors++;
			return;
		}
		r->from[r->nfrom++] = m->from;
	}
	if (seq != r->next[i] && r->errors++ == 0)
		r->first_error = seq;
	r->next[i] = seq + 1;
	r->got++;
	if (m->len > 8) {
		const unsigned char *p = pn_msg_data(m);

		r->large++;
		for (uint32_t k = 8; k < m->len; k++)
			if (p[k] != (unsigned char)(k + seq))
				r->bad_payload++;
	}
}

static int rx_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct rx *r = *(struct rx **)state;

	if (m->type == H_MSG_DATA)
		rx_data(r, m);
	else if (m->type == H_MSG_CMD)
		pn_runtime_notify(pn_ctx_runtime(ctx), (int)pn_msg_u64(m));
	return 0;
}

static const struct pn_behaviour rx_b = {
	.name = "rx",
	.state_size = sizeof(struct rx *),
	.init = rx_init,
	.handle = rx_handle,
};

static pn_pid rx_spawn(struct rx *r, int shard)
{
	memset(r, 0, sizeof(*r));
	return h_spawn(&rx_b, shard, &r, sizeof(r));
}

/* Where rx_b's sender @from is in @r, or -1. */
static int rx_sender(const struct rx *r, pn_pid from)
{
	for (unsigned i = 0; i < r->nfrom; i++)
		if (r->from[i] == from)
			return (int)i;
	return -1;
}

/* A sequenced message of @len bytes (>= 8) in @buf. */
static void seq_msg(unsigned char *buf, uint64_t seq, size_t len)
{
	memcpy(buf, &seq, sizeof(seq));
	for (size_t k = 8; k < len; k++)
		buf[k] = (unsigned char)(k + seq);
}

/* --- payload sizes ---------------------------------------------------- */

static const size_t sizes[] = {
	0,	1,	8,	31,	  32,	      33,   64,
	100,	112,	113,	496,	  2032,	      8176, 32752,
	131056, 131057, 200000, 1u << 20, PN_MSG_MAX,
};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))
static unsigned char *big;    /* PN_MSG_MAX bytes, filled before start */
static uint32_t sums[NSIZES]; /* of its first sizes[i] bytes */

static int sizes_setup(void **state)
{
	setup(state);
	big = malloc(PN_MSG_MAX);
	if (!big)
		return -1;
	h_fill(big, PN_MSG_MAX, 5);
	for (unsigned i = 0; i < NSIZES; i++)
		sums[i] = h_sum(big, sizes[i]);
	return 0;
}

static int sizes_teardown(void **state)
{
	free(big);
	big = NULL;
	return h_teardown(state);
}

/* On DATA: send every size to T and L, then a CMD notifying 90 to each. */
static int sizes_hook(struct pn_ctx *ctx, struct h_puppet *p,
		      const struct pn_msg *m)
{
	struct h_cmd done = {.op = H_NOP, .notify = 90};
	pn_pid to[2] = {T.self, L.self};

	if (m->type != H_MSG_DATA)
		return H_DEFAULT;
	for (unsigned i = 0; i < NSIZES; i++)
		for (int k = 0; k < 2; k++)
			p->rc[p->nrc++] =
				pn_send(ctx, to[k], H_MSG_DATA, big, sizes[i]);
	for (int k = 0; k < 2; k++)
		p->rc[p->nrc++] =
			pn_send(ctx, to[k], H_MSG_CMD, &done, sizeof(done));
	return 0;
}

static void assert_sizes(const struct h_puppet *p, unsigned first)
{
	for (unsigned i = 0; i < NSIZES; i++) {
		const struct h_entry *e = &p->log[first + i];

		assert_int_equal(e->type, H_MSG_DATA);
		assert_int_equal(e->len, sizes[i]);
		if (e->sum != sums[i])
			print_message("size %zu: payload differs\n", sizes[i]);
		assert_int_equal(e->sum, sums[i]);
	}
}

static void test_send_payload_sizes(void **state)
{
	int codes[2] = {90, 90};

	(void)state;
	h_start(NULL);
	h_puppet_spawn(&T, 0); /* same shard as the sender */
	h_puppet_spawn(&L, 1); /* the other one */
	S.hook = sizes_hook;
	h_puppet_spawn(&S, 0);
	h_send(S.self, H_MSG_DATA, NULL, 0);
	h_expect_all(codes, 2);
	for (unsigned i = 0; i < S.nrc; i++)
		assert_int_equal(S.rc[i], 0);
	/* From outside too, to the other shard. */
	for (unsigned i = 0; i < NSIZES; i++)
		h_send(L.self, H_MSG_DATA, big, sizes[i]);
	h_cmd(L.self, H_NOP, 91, 0, 0, 0);
	h_expect(91);
	h_finish();
	assert_sizes(&T, 1);
	assert_sizes(&L, 1);
	assert_sizes(&L, 1 + NSIZES + 1);
}

/* --- order ------------------------------------------------------------- */

#define ORDER_N 3000

/* On DATA: send ORDER_N sequenced messages to each receiver in user, then
 * to each a CMD that makes it notify 92 + its index: it comes after all of
 * this sender's messages, so the receiver has them all by then. */
static int order_hook(struct pn_ctx *ctx, struct h_puppet *p,
		      const struct pn_msg *m)
{
	const pn_pid *to = p->user;
	unsigned char buf[100];
	int err = 0;

	if (m->type != H_MSG_DATA)
		return H_DEFAULT;
	for (uint64_t seq = 0; seq < ORDER_N && !err; seq++) {
		size_t len = seq % 7 == 3 ? sizeof(buf) : 8;

		seq_msg(buf, seq, len);
		for (int k = 0; k < 2 && !err; k++)
			err = pn_send(ctx, to[k], H_MSG_DATA, buf, len);
	}
	for (int k = 0; k < 2 && !err; k++) {
		uint64_t done = 92 + (uint64_t)k;

		err = pn_send(ctx, to[k], H_MSG_CMD, &done, sizeof(done));
	}
	p->rc[p->nrc++] = err;
	return 0;
}

static void test_send_order_per_sender(void **state)
{
	static struct rx r[2];
	static pn_pid to[2];
	int codes[6] = {92, 92, 92, 93, 93, 93}; /* S, T, outside */
	unsigned char buf[100];

	(void)state;
	h_start(NULL);
	to[0] = rx_spawn(&r[0], 0);
	to[1] = rx_spawn(&r[1], 1);
	/* A sender on each shard, each to a local and a remote receiver. */
	S.hook = T.hook = order_hook;
	S.user = T.user = to;
	h_puppet_spawn(&S, 0);
	h_puppet_spawn(&T, 1);
	h_send(S.self, H_MSG_DATA, NULL, 0);
	h_send(T.self, H_MSG_DATA, NULL, 0);
	/* And from outside, meanwhile. */
	for (uint64_t seq = 0; seq < 500; seq++) {
		size_t len = seq % 5 == 1 ? sizeof(buf) : 8;

		seq_msg(buf, seq, len);
		for (int k = 0; k < 2; k++)
			h_send(to[k], H_MSG_DATA, buf, len);
	}
	for (int k = 0; k < 2; k++) {
		uint64_t done = 92 + (uint64_t)k;

		h_send(to[k], H_MSG_CMD, &done, sizeof(done));
	}
	h_expect_all(codes, 6);
	assert_int_equal(S.rc[0], 0);
	assert_int_equal(T.rc[0], 0);
	h_finish();
	for (int k = 0; k < 2; k++) {
		int s = rx_sender(&r[k], S.self), t = rx_sender(&r[k], T.self);
		int x = rx_sender(&r[k], PN_PID_NONE);

		if (r[k].errors)
			print_message("receiver %d: first error at seq %llu\n",
				      k, (unsigned long long)r[k].first_error);
		assert_int_equal(r[k].errors, 0);
		assert_int_equal(r[k].bad_payload, 0);
		assert_int_equal(r[k].got, 2 * ORDER_N + 500);
		assert_true(s >= 0 && t >= 0 && x >= 0);
		assert_int_equal(r[k].next[s], ORDER_N);
		assert_int_equal(r[k].next[t], ORDER_N);
		assert_int_equal(r[k].next[x], 500);
	}
}

/* --- dead letters -------------------------------------------------------- */

static struct {
	unsigned count;
	unsigned shard;
	uint32_t type, len, sum;
	pn_pid to, from;
	uint64_t v;
} dl;

static void dl_hook(void *arg, unsigned shard, const struct pn_msg *m)
{
	(void)arg;
	dl.count++;
	dl.shard = shard;
	dl.type = m->type;
	dl.len = m->len;
	dl.to = m->to;
	dl.from = m->from;
	dl.v = pn_msg_u64(m);
	dl.sum = h_sum(pn_msg_data(m), m->len);
}

static pn_pid stale_remote, stale_local;
static int stale_rc[3];
static char stale_err[128];

/* On DATA 1000: a 100-byte message to stale_local (refused) and to
 * stale_remote, then DATA to L. */
static int stale_hook(struct pn_ctx *ctx, struct h_puppet *p,
		      const struct pn_msg *m)
{
	unsigned char buf[100];

	if (m->type != H_MSG_DATA || pn_msg_u64(m) != 1000)
		return H_DEFAULT;
	seq_msg(buf, 1000, sizeof(buf));
	(void)p;
	stale_rc[2] = pn_send(ctx, stale_local, H_MSG_DATA, buf, sizeof(buf));
	snprintf(stale_err, sizeof(stale_err), "%s", pn_last_error());
	stale_rc[0] = pn_send(ctx, stale_remote, H_MSG_DATA, buf, sizeof(buf));
	stale_rc[1] = pn_send_u64(ctx, L.self, H_MSG_DATA, 1);
	return 0;
}

/*
 * A stale PID: refused at once by pn_send() on its own shard (-ESRCH,
 * nothing sent, nothing counted), a dead letter anywhere else.
 */
static void test_send_stale_pid_refused_or_dead_letter(void **state)
{
	struct pn_config c;
	struct pn_shutdown_report r;
	unsigned char buf[100];
	pn_pid d, x, y, z;

	(void)state;
	memset(&dl, 0, sizeof(dl));
	h_config(&c);
	c.dead_letter = dl_hook;
	h_start(&c);
	L.notify_mask = H_BIT(H_EV_DATA);
	h_puppet_spawn(&L, 1);
	S.notify_mask = H_BIT(H_EV_DOWN) | H_BIT(H_EV_DATA);
	S.hook = stale_hook;
	d = h_puppet_spawn(&S, 0);
	/* x lives and dies on shard 0; y then takes its slot. */
	h_cmd(d, H_SPAWN, 0, 0, PN_SPAWN_MONITOR, (uintptr_t)&C[0]);
	h_cmd(d, H_NOP, 60, 0, 0, 0);
	h_expect(60);
	x = S.spawned;
	h_cmd(d, H_STOP, 0, 0, x, 0);
	h_expect(H_CODE(&S, H_EV_DOWN));
	h_cmd(d, H_SPAWN, 61, 0, 0, (uintptr_t)&C[1]);
	h_expect(61);
	y = S.spawned;
	assert_int_equal(pn_pid_slot(y), pn_pid_slot(x));
	assert_true(y != x);
	/* To x from a handler on its shard: refused, its slot has moved
	 * on. S's DATA to itself comes after it in the local queue, so a
	 * dead letter, had there been one, would be known when S says. */
	h_cmd(d, H_SEND, 0, 0, x, 77);
	h_cmd(d, H_SEND, 0, 0, d, 78);
	h_expect(H_CODE(&S, H_EV_DATA));
	assert_int_equal(S.rc[S.nrc - 2], -ESRCH);
	assert_int_equal(S.rc[S.nrc - 1], 0);
	assert_int_equal(dl.count, 0);
	assert_int_equal(h_stats(0).dead_letters, 0);
	/* A stale PID on the other shard, with a pooled payload; the ring
	 * from shard 0 to shard 1 carries it before S's DATA to L. The
	 * same payload to x first: refused too (the general path). */
	h_cmd(d, H_SPAWN, 0, 1, PN_SPAWN_MONITOR, (uintptr_t)&C[2]);
	h_cmd(d, H_NOP, 62, 0, 0, 0);
	h_expect(62);
	z = S.spawned;
	h_cmd(d, H_STOP, 0, 0, z, 0);
	h_expect(H_CODE(&S, H_EV_DOWN));
	stale_remote = z;
	stale_local = x;
	h_send(d, H_MSG_DATA, &(uint64_t){1000}, sizeof(uint64_t));
	h_expect(H_CODE(&L, H_EV_DATA));
	seq_msg(buf, 1000, sizeof(buf));
	assert_int_equal(stale_rc[2], -ESRCH);
	assert_non_null(strstr(stale_err, "has stopped"));
	assert_int_equal(dl.count, 1);
	assert_int_equal(dl.shard, 1);
	assert_true(dl.to == z);
	assert_int_equal(dl.len, sizeof(buf));
	assert_int_equal(dl.sum, h_sum(buf, sizeof(buf)));
	assert_int_equal(h_stats(1).dead_letters, 1);
	/* From outside, to x (stale) and to a slot never used; the commands
	 * that follow on the same producer ring say when they are done. */
	h_send(x, H_MSG_DATA, &(uint64_t){79}, sizeof(uint64_t));
	h_cmd(d, H_NOP, 63, 0, 0, 0);
	h_expect(63);
	assert_int_equal(dl.count, 2);
	assert_true(dl.to == x);
	assert_true(dl.from == PN_PID_NONE);
	assert_int_equal(dl.v, 79);
	h_send(pn_pid_make(1, 1000, 5), H_MSG_DATA, NULL, 0);
	h_cmd(L.self, H_NOP, 64, 0, 0, 0);
	h_expect(64);
	assert_int_equal(dl.count, 3);
	assert_int_equal(h_stats(0).dead_letters, 1);
	assert_int_equal(h_stats(1).dead_letters, 2);
	/* The refused sends were never accepted: the books balance. */
	assert_int_equal(pn_runtime_shutdown(h_rt, H_WAIT, &r), 0);
	assert_int_equal(r.totals.accepted,
			 r.totals.handled + r.totals.dead_letters);
	assert_int_equal(r.totals.dead_letters, 3);
	pn_runtime_destroy(h_rt);
	h_rt = NULL;
	/* y, in x's old slot, got none of it. */
	assert_int_equal(C[1].n, 3);
	assert_int_equal(C[1].log[0].type, PN_MSG_STARTED);
	assert_int_equal(C[1].log[1].type, PN_MSG_SHUTDOWN);
	assert_int_equal(C[1].log[2].type, PN_MSG_STOPPING);
	assert_int_equal(stale_rc[0], 0);
	assert_int_equal(stale_rc[1], 0);
}

/* --- invalid sends ----------------------------------------------------- */

#define GOOD_PID (~(pn_pid)0) /* stands for a valid target */

struct bad_send {
	pn_pid to;
	uint32_t type;
	size_t len;
	int err;
};

static const struct bad_send bad_sends[] = {
	{PN_PID_NONE, H_MSG_DATA, 8, -EINVAL},
	{((pn_pid)1023 << 54) | 1, H_MSG_DATA, 8, -EINVAL}, /* shard 1023 */
	/* shard 3: 2 is the supervisor shard, after the two of the plan */
	{((pn_pid)3 << 54) | 1, H_MSG_DATA, 8, -EINVAL},
	{GOOD_PID, PN_MSG_SYS, 8, -EINVAL},
	{GOOD_PID, PN_MSG_STARTED, 0, -EINVAL},
	{GOOD_PID, PN_MSG_WRITABLE, 0, -EINVAL},
	{GOOD_PID, 0xffffffffu, 0, -EINVAL},
	{GOOD_PID, H_MSG_DATA, PN_MSG_MAX + 1, -EMSGSIZE},
	{GOOD_PID, H_MSG_DATA, SIZE_MAX, -EMSGSIZE},
};
#define NBADS (sizeof(bad_sends) / sizeof(bad_sends[0]))

static pn_pid bad_target(const struct bad_send *b)
{
	return b->to == GOOD_PID ? L.self : b->to;
}

/* On DATA: every bad send (rc[i]), then pn_send_u64 with a reserved type
 * and a good send to L. */
static int bad_send_hook(struct pn_ctx *ctx, struct h_puppet *p,
			 const struct pn_msg *m)
{
	static const unsigned char small[8];

	if (m->type != H_MSG_DATA)
		return H_DEFAULT;
	for (unsigned i = 0; i < NBADS; i++) {
		p->rc[p->nrc++] =
			pn_send(ctx, bad_target(&bad_sends[i]),
				bad_sends[i].type, small, bad_sends[i].len);
	}
	p->rc[p->nrc++] = pn_send_u64(ctx, L.self, PN_MSG_DOWN, 1);
	p->rc[p->nrc++] = pn_send_u64(ctx, L.self, H_MSG_DATA, 2);
	return 0;
}

static bool sent_one(void *arg)
{
	const struct pn_shard_stats *st0 = arg;

	return h_stats(0).sent_remote > st0->sent_remote;
}

/* S's STARTED (a local runtime message) is counted and published. */
static bool started_counted(void *arg)
{
	(void)arg;
	return h_stats(0).sent_local == 1;
}

static void test_send_invalid(void **state)
{
	static const unsigned char small[8];
	struct pn_shard_stats st0, st1;

	(void)state;
	h_start(NULL);
	L.notify_mask = H_BIT(H_EV_DATA);
	h_puppet_spawn(&L, 1);
	S.hook = bad_send_hook;
	h_puppet_spawn(&S, 0);
	assert_true(h_until(started_counted, NULL, H_WAIT));
	st0 = h_stats(0);
	h_send(S.self, H_MSG_DATA, NULL, 0);
	h_expect(H_CODE(&L, H_EV_DATA));
	for (unsigned i = 0; i < NBADS; i++) {
		if (S.rc[i] != bad_sends[i].err)
			print_message("bad send %u: %d\n", i, S.rc[i]);
		assert_int_equal(S.rc[i], bad_sends[i].err);
	}
	assert_int_equal(S.rc[NBADS], -EINVAL);
	assert_int_equal(S.rc[NBADS + 1], 0);
	/* Only the good send counted (counters are published once per loop
	 * turn: wait for it). */
	assert_true(h_until(sent_one, &st0, H_WAIT));
	st1 = h_stats(0);
	assert_int_equal(st1.sent_remote - st0.sent_remote, 1);
	assert_int_equal(st1.sent_local, st0.sent_local);
	/* The same from outside. */
	for (unsigned i = 0; i < NBADS; i++) {
		int err = pn_runtime_send(h_rt, bad_target(&bad_sends[i]),
					  bad_sends[i].type, small,
					  bad_sends[i].len, H_SEC);

		assert_int_equal(err, bad_sends[i].err);
		assert_true(pn_last_error()[0] != '\0');
	}
	h_send(L.self, H_MSG_DATA, NULL, 0);
	h_expect(H_CODE(&L, H_EV_DATA));
	h_finish();
	/* L got exactly the two good messages. */
	assert_int_equal(h_count(&L, H_MSG_DATA), 2);
	assert_int_equal(L.n, 2 + 3); /* plus STARTED, SHUTDOWN, STOPPING */
}

/* --- overflow ------------------------------------------------------------ */

#define OVF_N	   300
#define OVF_SLOTS  2
#define OVF_BUDGET 512

static size_t ovf_len(uint64_t seq)
{
	return seq % 5 == 4 ? 100 : 8;
}

static uint64_t ovf_cost(uint64_t seq)
{
	return 64 + (ovf_len(seq) > PN_MSG_INLINE ? ovf_len(seq) : 0);
}

static struct {
	pn_pid to;
	uint64_t next;
	unsigned first_burst, eagains, writables;
	int error, monitor_rc, notify_rc;
	bool tried_monitor;
} ovf;

/* Send until -EAGAIN, then ask for WRITABLE; on WRITABLE go on. */
static int ovf_hook(struct pn_ctx *ctx, struct h_puppet *p,
		    const struct pn_msg *m)
{
	unsigned char buf[100];

	(void)p;
	if (m->type == PN_MSG_WRITABLE)
		ovf.writables++;
	else if (m->type != H_MSG_DATA)
		return H_DEFAULT;
	while (ovf.next < OVF_N) {
		int err;

		seq_msg(buf, ovf.next, ovf_len(ovf.next));
		err = pn_send(ctx, ovf.to, H_MSG_DATA, buf, ovf_len(ovf.next));
		if (err == -EAGAIN) {
			if (!ovf.eagains++)
				ovf.first_burst = (unsigned)ovf.next;
			/* Runtime messages are not refused by the budget. */
			if (!ovf.tried_monitor) {
				ovf.tried_monitor = true;
				ovf.monitor_rc = pn_monitor(ctx, ovf.to);
			}
			ovf.notify_rc = pn_notify_writable(ctx);
			return 0;
		}
		if (err) {
			ovf.error = err;
			return 0;
		}
		ovf.next++;
	}
	if (ovf.next == OVF_N) {
		uint64_t done = 94;

		ovf.next++;
		ovf.error = pn_send(ctx, ovf.to, H_MSG_CMD, &done, 8);
	}
	return 0;
}

static void test_send_overflow_eagain_writable(void **state)
{
	static struct rx r;
	struct pn_config c;
	struct pn_shard_stats st;
	unsigned burst = OVF_SLOTS;
	uint64_t cost = 0;

	(void)state;
	memset(&ovf, 0, sizeof(ovf));
	h_config(&c);
	c.ring_slots = OVF_SLOTS;
	c.overflow_bytes = OVF_BUDGET;
	h_start(&c);
	ovf.to = rx_spawn(&r, 1);
	S.hook = ovf_hook;
	h_puppet_spawn(&S, 0);
	h_send(S.self, H_MSG_DATA, NULL, 0);
	h_expect(94);
	st = h_stats(0);
	h_finish();
	/* The first burst filled the ring, then the overflow to its budget:
	 * nothing is published mid-handler, so this is exact. */
	while (cost + ovf_cost(burst) <= OVF_BUDGET)
		cost += ovf_cost(burst++);
	assert_int_equal(ovf.first_burst, burst);
	assert_int_equal(ovf.error, 0);
	assert_int_equal(ovf.monitor_rc, 0);
	assert_int_equal(ovf.notify_rc, 0);
	assert_true(ovf.eagains >= 2);
	assert_int_equal(ovf.writables, ovf.eagains);
	/* Nothing lost, nothing reordered, payloads intact. */
	assert_int_equal(r.errors, 0);
	assert_int_equal(r.bad_payload, 0);
	assert_int_equal(r.got, OVF_N);
	assert_int_equal(r.large, OVF_N / 5);
	assert_int_equal(st.eagain, ovf.eagains);
	assert_true(st.overflowed >= OVF_N / 2);
	assert_int_equal(st.overflow_bytes, 0);
}

/* On DATA: pn_notify_writable() (rc[]). */
static int writable_hook(struct pn_ctx *ctx, struct h_puppet *p,
			 const struct pn_msg *m)
{
	if (m->type != H_MSG_DATA)
		return H_DEFAULT;
	p->rc[p->nrc++] = pn_notify_writable(ctx);
	return 0;
}

static void test_send_writable_at_once(void **state)
{
	int i;

	(void)state;
	h_start(NULL);
	S.notify_mask = H_BIT(H_EV_WRITABLE);
	S.hook = writable_hook;
	h_puppet_spawn(&S, 0);
	/* Nothing is waiting in overflow: WRITABLE comes at once. */
	h_send(S.self, H_MSG_DATA, NULL, 0);
	h_expect(H_CODE(&S, H_EV_WRITABLE));
	assert_int_equal(S.rc[0], 0);
	i = h_find(&S, PN_MSG_WRITABLE, 0);
	assert_true(i > 0);
	assert_int_equal(S.log[i].len, 0);
	assert_true(S.log[i].from == PN_PID_NONE);
	h_finish();
	assert_int_equal(h_count(&S, PN_MSG_WRITABLE), 1);
}

#define T(f)  cmocka_unit_test_setup_teardown(f, setup, h_teardown)
#define TS(f) cmocka_unit_test_setup_teardown(f, sizes_setup, sizes_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TS(test_send_payload_sizes),
		T(test_send_order_per_sender),
		T(test_send_stale_pid_refused_or_dead_letter),
		T(test_send_invalid),
		T(test_send_overflow_eagain_writable),
		T(test_send_writable_at_once),
	};

	return cmocka_run_group_tests_name("send", tests, NULL, NULL);
}
