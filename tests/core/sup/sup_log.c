// SPDX-License-Identifier: MIT
/*
 * The supervision tests' shared fixture: the log, the worker, the runtime
 * with the log's event hook (sup_log.h).
 */
#include "sup_log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LOG_MAX 4096
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t log_cv = PTHREAD_COND_INITIALIZER;
static struct lent lg[LOG_MAX];
static unsigned nlog;
atomic_int init_fail[W_MAX];
atomic_ulong w_counted;

void log_add(const struct lent *e)
{
	pthread_mutex_lock(&log_mu);
	if (nlog < LOG_MAX)
		lg[nlog++] = *e;
	pthread_cond_broadcast(&log_cv);
	pthread_mutex_unlock(&log_mu);
}

unsigned log_mark(void)
{
	unsigned n;

	pthread_mutex_lock(&log_mu);
	n = nlog;
	pthread_mutex_unlock(&log_mu);
	return n;
}

/* How event @e names its child: its spec's id, or for a template ("*")
 * the worker whose init logged its PID; log_mu held. */
static void event_child(const struct lent *e, char *t, size_t size)
{
	if (strcmp(e->child, "*") == 0)
		for (unsigned i = 0; i < nlog; i++)
			if (lg[i].what == L_INIT && lg[i].pid == e->pid) {
				snprintf(t, size, "%d", lg[i].id);
				return;
			}
	snprintf(t, size, "%s", e->child);
}

/* The token string of entries [from, nlog); log_mu held. */
static unsigned tokens(unsigned from, char *buf, size_t size)
{
	static const char rc[] = "nfklosi";
	unsigned n = 0;

	buf[0] = '\0';
	for (unsigned i = from; i < nlog; i++) {
		const struct lent *e = &lg[i];
		char t[24] = "", c[12];

		event_child(e, c, sizeof(c));
		if (e->what == L_INIT)
			snprintf(t, sizeof(t), "I%d", e->id);
		else if (e->what == L_CLEANUP)
			snprintf(t, sizeof(t), "C%d%c", e->id, rc[e->reason]);
		else if (e->what == L_EVENT && e->id == PN_EVENT_RESTART)
			snprintf(t, sizeof(t), "R%s", c);
		else if (e->what == L_EVENT && e->id == PN_EVENT_CHILD_EXIT)
			snprintf(t, sizeof(t), "X%s", c);
		else if (e->what == L_EVENT && e->id == PN_EVENT_KILLED)
			snprintf(t, sizeof(t), "K%s", c);
		else if (e->what == L_EVENT && e->id == PN_EVENT_ESCALATE)
			snprintf(t, sizeof(t), "E");
		else if (e->what == L_EVENT && e->id == PN_EVENT_ROOT_FAILED)
			snprintf(t, sizeof(t), "F");
		if (!t[0])
			continue;
		snprintf(buf + strlen(buf), size - strlen(buf), "%s%s",
			 n ? " " : "", t);
		n++;
	}
	return n;
}

void expect_seq(unsigned from, const char *want)
{
	struct timespec ts;
	unsigned need = 1;
	char got[1024];

	for (const char *p = want; *p; p++)
		need += *p == ' ';
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(H_WAIT / H_SEC);
	pthread_mutex_lock(&log_mu);
	while (tokens(from, got, sizeof(got)) < need)
		if (pthread_cond_timedwait(&log_cv, &log_mu, &ts))
			break;
	pthread_mutex_unlock(&log_mu);
	if (strcmp(got, want))
		print_message("want \"%s\"\n got \"%s\"\n", want, got);
	assert_string_equal(got, want);
}

pn_pid pid_of(int id)
{
	pn_pid pid = PN_PID_NONE;

	pthread_mutex_lock(&log_mu);
	for (unsigned i = 0; i < nlog; i++)
		if (lg[i].what == L_INIT && lg[i].id == id)
			pid = lg[i].pid;
	pthread_mutex_unlock(&log_mu);
	assert_true(pid != PN_PID_NONE);
	return pid;
}

/* Pings logged by @pid, and the last one's count; log_mu held. */
static unsigned pings_locked(pn_pid pid, uint64_t *last)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nlog; i++)
		if (lg[i].what == L_PING && lg[i].pid == pid) {
			n++;
			*last = lg[i].v;
		}
	return n;
}

unsigned pings_of(pn_pid pid, uint64_t *last)
{
	unsigned n;

	pthread_mutex_lock(&log_mu);
	n = pings_locked(pid, last);
	pthread_mutex_unlock(&log_mu);
	return n;
}

void wait_pings(pn_pid pid, unsigned n)
{
	struct timespec ts;
	uint64_t last;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(H_WAIT / H_SEC);
	pthread_mutex_lock(&log_mu);
	while (pings_locked(pid, &last) < n)
		if (pthread_cond_timedwait(&log_cv, &log_mu, &ts))
			break;
	pthread_mutex_unlock(&log_mu);
	assert_true(pings_of(pid, &last) >= n);
}

/* --- the worker -------------------------------------------------------- */

struct wstate {
	int id;
	uint64_t pings;
};

static int w_init(struct pn_ctx *ctx, void *state, const void *arg, size_t len)
{
	struct wstate *w = state;
	struct lent e = {.what = L_INIT};

	/* No cmocka assertions on shard threads. */
	if (len != sizeof(int) || *(const int *)arg < 0 ||
	    *(const int *)arg >= W_MAX)
		return -EINVAL;
	memcpy(&w->id, arg, sizeof(int));
	e.id = w->id;
	e.pid = pn_self(ctx);
	log_add(&e);
	return atomic_load(&init_fail[w->id]);
}

static int w_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct wstate *w = state;
	int32_t d = 0;

	if (m->len >= sizeof(d) && m->type < PN_MSG_SYS)
		memcpy(&d, pn_msg_data(m), sizeof(d));
	switch (m->type) {
	case W_FAIL:
		return d;
	case W_PNFAIL:
		pn_fail(ctx, d);
		return 0;
	case W_STOP:
		return PN_STOP;
	case W_COUNT:
		atomic_fetch_add(&w_counted, 1);
		return 0;
	case H_MSG_DATA: /* from a puppet (H_SEND): a ping */
	case W_PING: {
		struct lent e = {.what = L_PING,
				 .id = w->id,
				 .pid = pn_self(ctx),
				 .v = ++w->pings};

		log_add(&e);
		return 0;
	}
	}
	return 0;
}

static void w_cleanup(struct pn_ctx *ctx, void *state, int reason)
{
	struct wstate *w = state;
	struct lent e = {.what = L_CLEANUP,
			 .id = w->id,
			 .pid = pn_self(ctx),
			 .reason = reason};

	log_add(&e);
}

const struct pn_behaviour worker_b = {.name = "worker",
				      .state_size = sizeof(struct wstate),
				      .init = w_init,
				      .handle = w_handle,
				      .cleanup = w_cleanup};

const int ids[W_MAX] = {0,  1,	2,  3,	4,  5,	6,  7,	8,  9,	10, 11, 12,
			13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
			26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38,
			39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51,
			52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63};

/* --- fixture ---------------------------------------------------------- */

static void on_event(void *arg, const struct pn_event *ev)
{
	struct lent e = {.what = L_EVENT,
			 .id = ev->kind,
			 .pid = ev->actor,
			 .reason = ev->reason,
			 .detail = ev->detail};

	(void)arg;
	if (ev->child)
		snprintf(e.child, sizeof(e.child), "%s", ev->child);
	print_message("event: %s\n", ev->text);
	log_add(&e);
}

void config(struct pn_config *c)
{
	h_config(c);
	c->on_event = on_event;
}

int setup(void **state)
{
	(void)state;
	pthread_mutex_lock(&log_mu);
	nlog = 0;
	pthread_mutex_unlock(&log_mu);
	for (int i = 0; i < W_MAX; i++)
		atomic_store(&init_fail[i], 0);
	atomic_store(&w_counted, 0);
	return 0;
}

pn_pid start(const struct pn_sup_spec *spec)
{
	struct pn_config c;
	pn_pid sup;
	int err;

	config(&c);
	h_start(&c);
	err = pn_supervisor_start(h_rt, spec, H_WAIT, &sup);
	if (err)
		print_message("pn_supervisor_start: %d %s\n", err,
			      pn_last_error());
	assert_int_equal(err, 0);
	return sup;
}

void child_fail(int id, int32_t detail)
{
	h_send(pid_of(id), W_FAIL, &detail, sizeof(detail));
}

struct pn_supervision_stats sstats(void)
{
	struct pn_supervision_stats st;

	assert_int_equal(pn_supervision_stats(h_rt, &st), 0);
	return st;
}
