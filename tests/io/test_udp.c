// SPDX-License-Identifier: MIT
/*
 * UDP through io/: a ping-pong of datagrams between sockets on two shards
 * (the echo goes back to pn_io_dgram_peer()), and multicast: a socket
 * that joined 239.255.77.1 on the loopback interface receives what
 * another sends to the group with opts.mcast_if 127.0.0.1 and mcast_ttl
 * -1 (TTL 0), so nothing leaves the host (no route and no
 * PN_IO_MCAST_LOOP needed: see "Multicast" in pn_io_udp.h). Skips (with
 * the reason) when the machine will not join a group on lo. The
 * multicast options as the kernel holds them afterwards (getsockopt):
 * defaults, set at open, changed by pn_io_setopt(), refused out of range.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#define ROUNDS	200
#define C_READY 1
#define C_DONE	2
#define C_SKIP	3
#define C_FAIL	-1
#define T_PING	0x200u
#define GROUP	"239.255.77.1"

struct shared {
	uint16_t port[2];
	unsigned got;
	uint16_t peer_port; /* the sender's port, as the receiver saw it */
	int err;
	char what[128];
};

struct peer {
	struct shared *sh;
	int id;	    /* 0: pinger (shard 0), 1: echoer / group member */
	bool mcast; /* bind to the group and join it */
	pn_io_handle u;
	unsigned next;
};

static int udp_fail(struct peer *p, const char *what, int err)
{
	p->sh->err = err;
	snprintf(p->sh->what, sizeof(p->sh->what), "%s: %s (%s)", what,
		 pn_io_strerror(err), pn_last_error());
	pn_runtime_notify(t_rt, C_FAIL);
	return 0;
}

static int open_sock(struct pn_ctx *ctx, struct peer *p)
{
	struct sockaddr_in a = t_addr(0);
	struct pn_io_opts o = {.flags = PN_IO_REUSEADDR};
	struct in_addr group, lo = {htonl(INADDR_LOOPBACK)};
	int err;

	inet_pton(AF_INET, GROUP, &group);
	if (p->mcast) {
		a.sin_addr = group;
	} else {
		o.mcast_if = lo;
		o.mcast_ttl = -1; /* TTL 0: it never leaves the host */
	}
	if ((err = pn_io_udp_open(ctx, (struct sockaddr *)&a, sizeof(a), &o,
				  &p->u)) < 0)
		return udp_fail(p, "udp_open", err);
	if (p->mcast && (err = pn_io_udp_join(ctx, p->u, group, lo)) < 0) {
		snprintf(p->sh->what, sizeof(p->sh->what), "%s",
			 pn_last_error());
		pn_runtime_notify(t_rt, C_SKIP);
		return 0;
	}
	if ((err = pn_io_recv_start(ctx, p->u)) < 0)
		return udp_fail(p, "recv_start", err);
	p->sh->port[p->id] = t_port(ctx, p->u);
	pn_runtime_notify(t_rt, C_READY);
	return 0;
}

static int ping(struct pn_ctx *ctx, struct peer *p, bool mcast)
{
	struct sockaddr_in to = t_addr(p->sh->port[1]);
	uint32_t v = p->next;
	int err;

	if (mcast)
		inet_pton(AF_INET, GROUP, &to.sin_addr);
	err = pn_io_sendto(ctx, p->u, &v, sizeof(v), (struct sockaddr *)&to,
			   sizeof(to));
	return err < 0 ? udp_fail(p, "sendto", err) : 0;
}

static int on_dgram(struct pn_ctx *ctx, struct peer *p, const struct pn_msg *m)
{
	const struct pn_io_ev *ev = pn_io_ev(m);
	struct sockaddr_storage from;
	uint32_t v = 0;
	int err = 0;

	if (ev->res != sizeof(v) || !pn_io_dgram_peer(m, &from))
		err = -EPROTO;
	else
		memcpy(&v, pn_io_data(m), sizeof(v));
	if (!err && p->id == 1 && !p->mcast) /* echo it to its sender */
		err = pn_io_sendto(ctx, p->u, &v, sizeof(v),
				   (struct sockaddr *)&from,
				   sizeof(struct sockaddr_in));
	pn_io_buf_release(ctx, ev->buf);
	if (err < 0)
		return udp_fail(p, "dgram", err);
	if (p->id == 1 && p->mcast) { /* a group member: one is enough */
		p->sh->peer_port =
			ntohs(((struct sockaddr_in *)&from)->sin_port);
		if (p->sh->got++ == 0)
			pn_runtime_notify(t_rt, C_DONE);
		return 0;
	}
	if (p->id == 0) {
		if (v != p->next)
			return udp_fail(p, "echo out of order", -EPROTO);
		p->sh->got++;
		if (++p->next == ROUNDS) {
			pn_runtime_notify(t_rt, C_DONE);
			return 0;
		}
		return ping(ctx, p, false);
	}
	return 0;
}

static int peer_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct peer *p = state;

	switch (m->type) {
	case T_GO:
		return open_sock(ctx, p);
	case T_PING: /* multicast: three tries, one must arrive */
		for (int i = 0; i < (pn_msg_u64(m) ? 3 : 1); i++)
			ping(ctx, p, pn_msg_u64(m) != 0);
		return 0;
	case PN_MSG_IO_DGRAM:
		return on_dgram(ctx, p, m);
	case PN_MSG_IO_ERROR:
		return udp_fail(p, pn_io_op_name(pn_io_ev(m)->op),
				pn_io_ev(m)->res);
	default:
		return 0;
	}
}

static int peer_init(struct pn_ctx *ctx, void *state, const void *arg,
		     size_t len)
{
	(void)ctx;
	memcpy(state, arg, len);
	return 0;
}

static const struct pn_behaviour peer_b = {.name = "test-udp",
					   .state_size = sizeof(struct peer),
					   .init = peer_init,
					   .handle = peer_handle};

/* --- the multicast options, as getsockopt sees them ----------------- */

struct mopts {
	int ttl_default, ttl_open, ttl_host, ttl_set, ttl_after_bad;
	int bad_open, bad_set;
	int hops6; /* IPv6: IPV6_MULTICAST_HOPS; INT32_MIN: no IPv6 here */
	struct in_addr if_open;
	int err;
	char what[128];
};

static int get_ttl(struct pn_ctx *ctx, pn_io_handle h)
{
	int v = -100;
	socklen_t n = sizeof(v);

	getsockopt(pn_io_fd(ctx, h), IPPROTO_IP, IP_MULTICAST_TTL, &v, &n);
	return v;
}

/* The TTL on an IPv6 socket is IPV6_MULTICAST_HOPS. */
static int opts_probe6(struct pn_ctx *ctx, struct mopts *r)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6,
				 .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	struct pn_io_opts o = {.mcast_ttl = 9};
	socklen_t n = sizeof(r->hops6);
	pn_io_handle u;

	r->hops6 = INT32_MIN;
	if (pn_io_udp_open(ctx, (struct sockaddr *)&a, sizeof(a), &o, &u) < 0)
		return 0; /* no IPv6 loopback on this machine */
	getsockopt(pn_io_fd(ctx, u), IPPROTO_IPV6, IPV6_MULTICAST_HOPS,
		   &r->hops6, &n);
	pn_io_close(ctx, u);
	return 0;
}

static int opts_probe(struct pn_ctx *ctx, struct mopts *r)
{
	struct sockaddr_in a = t_addr(0);
	struct pn_io_opts o = {.mcast_ttl = 7,
			       .mcast_if = {htonl(INADDR_LOOPBACK)}};
	pn_io_handle plain, u, host, bad = PN_IO_NONE;
	socklen_t n = sizeof(r->if_open);

	r->err = pn_io_udp_open(ctx, (struct sockaddr *)&a, sizeof(a), NULL,
				&plain);
	if (!r->err)
		r->err = pn_io_udp_open(ctx, (struct sockaddr *)&a, sizeof(a),
					&o, &u);
	o.mcast_ttl = -1;
	if (!r->err)
		r->err = pn_io_udp_open(ctx, (struct sockaddr *)&a, sizeof(a),
					&o, &host);
	if (r->err) {
		snprintf(r->what, sizeof(r->what), "%s", pn_last_error());
		return 0;
	}
	r->ttl_default = get_ttl(ctx, plain);
	r->ttl_open = get_ttl(ctx, u);
	r->ttl_host = get_ttl(ctx, host);
	getsockopt(pn_io_fd(ctx, u), IPPROTO_IP, IP_MULTICAST_IF, &r->if_open,
		   &n);
	o = (struct pn_io_opts){.mcast_ttl = 32};
	r->err = pn_io_setopt(ctx, u, &o);
	r->ttl_set = get_ttl(ctx, u);
	o.mcast_ttl = 256;
	r->bad_set = pn_io_setopt(ctx, u, &o);
	r->ttl_after_bad = get_ttl(ctx, u);
	o.mcast_ttl = -2;
	r->bad_open =
		pn_io_udp_open(ctx, (struct sockaddr *)&a, sizeof(a), &o, &bad);
	pn_io_close(ctx, plain);
	pn_io_close(ctx, u);
	pn_io_close(ctx, host);
	return opts_probe6(ctx, r);
}

static int probe_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct mopts *r = *(struct mopts **)state;

	if (m->type == T_GO) {
		opts_probe(ctx, r);
		pn_runtime_notify(t_rt, C_DONE);
	}
	return 0;
}

static const struct pn_behaviour probe_b = {.name = "test-udp-opts",
					    .state_size =
						    sizeof(struct mopts *),
					    .init = peer_init,
					    .handle = probe_handle};

static void test_udp_multicast_options(void **state)
{
	static struct mopts r;
	struct mopts *rp = &r;
	pn_pid p;

	(void)state;
	memset(&r, 0, sizeof(r));
	t_start(NULL);
	p = t_spawn(&probe_b, 0, &rp, sizeof(rp));
	t_send(p, T_GO, NULL, 0);
	t_expect(C_DONE);
	t_finish();
	if (r.err)
		fail_msg("%s: %s", pn_io_strerror(r.err), r.what);
	assert_int_equal(r.ttl_default, 1); /* mcast_ttl 0: the kernel's */
	assert_int_equal(r.ttl_open, 7);
	assert_int_equal(r.ttl_host, 0); /* -1: TTL 0, this host only */
	assert_int_equal(r.if_open.s_addr, htonl(INADDR_LOOPBACK));
	assert_int_equal(r.ttl_set, 32); /* pn_io_setopt() */
	assert_int_equal(r.bad_set, -EINVAL);
	assert_int_equal(r.ttl_after_bad, 32);
	assert_int_equal(r.bad_open, -EINVAL);
	if (r.hops6 != INT32_MIN)
		assert_int_equal(r.hops6, 9);
	else
		print_message(
			"no IPv6 loopback: IPV6_MULTICAST_HOPS unchecked\n");
}

static int run(struct shared *sh, bool mcast)
{
	struct peer a = {.sh = sh, .id = 0},
		    b = {.sh = sh, .id = 1, .mcast = mcast};
	pn_pid pa, pb;
	uint64_t v = mcast;
	int code;

	t_start(NULL);
	pb = t_spawn(&peer_b, 1, &b, sizeof(b));
	t_send(pb, T_GO, NULL, 0);
	if ((code = t_next(T_WAIT)) != C_READY)
		return code;
	pa = t_spawn(&peer_b, 0, &a, sizeof(a));
	t_send(pa, T_GO, NULL, 0);
	t_expect(C_READY);
	t_send(pa, T_PING, &v, sizeof(v));
	return t_next(T_WAIT);
}

static void test_udp_round_trip(void **state)
{
	static struct shared sh;
	int code;

	(void)state;
	memset(&sh, 0, sizeof(sh));
	code = run(&sh, false);
	if (code != C_DONE)
		fail_msg("code %d: %s", code, sh.what);
	t_finish();
	assert_int_equal(sh.got, ROUNDS);
}

static void test_udp_multicast_on_loopback(void **state)
{
	static struct shared sh;
	int code;

	(void)state;
	memset(&sh, 0, sizeof(sh));
	code = run(&sh, true);
	if (code == C_SKIP) {
		t_finish();
		print_message("skip: cannot join %s on lo: %s\n", GROUP,
			      sh.what);
		skip();
	}
	if (code != C_DONE)
		fail_msg("code %d: %s", code, sh.what);
	t_finish();
	assert_true(sh.got >= 1);
	assert_int_equal(sh.peer_port, sh.port[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_udp_round_trip, t_teardown),
		cmocka_unit_test_teardown(test_udp_multicast_on_loopback,
					  t_teardown),
		cmocka_unit_test_teardown(test_udp_multicast_options,
					  t_teardown),
	};

	return cmocka_run_group_tests_name("io_udp", tests, NULL, NULL);
}
