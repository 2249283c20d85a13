// SPDX-License-Identifier: MIT
/*
 * The metrics endpoint and io/'s metrics source. An actor on the
 * supervisor shard listens (through that shard's own io_uring, like any
 * other io/ user) and answers GET and HEAD /metrics with pn_metrics_prom()
 * of a fresh snapshot, in HTTP/1.1 with Connection: close, so a scrape
 * costs the application shards nothing but the relaxed loads of their
 * counters from the supervisor core. Request heads are parsed by http.c.
 *
 * Bad or slow clients must not lock a scraper out, so every connection is
 * bounded: a deadline for its whole head (however slowly bytes trickle in),
 * then one for its whole answer, an idle and a drain deadline inherited
 * from the listener (all enforced by io/, which resets the connection),
 * and a table of max_conns connections in which a newcomer takes the
 * place of the unanswered connection that has been quiet longest. Only
 * when every connection in the table is being answered does a newcomer
 * get 503; answers end within the answer deadline, so that never lasts
 * longer.
 *
 * The io source (pn_io_metrics_register) turns each shard's struct
 * pn_io_stats into registered per-shard counters: pinion_io_*.
 */
#include "http.h"
#include "pn_io.h"
#include "pn_metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONNS_DEF 16
#define CONNS_MAX 1024
#define TOKEN_MAX 256
#define MS_MAX	  3600000ull   /* an hour: the most any *_MS may say */
#define CHUNK	  (256u << 10) /* bytes per pn_io_send() */
#define NS_MS	  1000000ull

/* --- io's counters as a metrics source ---------------------------------- */

static const char *const io_names[] = {
	"accepted",	"connected",	"recv_bytes", "sent_bytes",
	"send_eagain",	"send_enobufs", "nobufs",     "rearms",
	"zc_sends",	"errors",	"handles",    "bufs_lent",
	"queued_bytes", "dropped",	"capped",     "timeouts",
	"orphaned",
};
#define IO_N (sizeof(io_names) / sizeof(io_names[0]))
static const unsigned char io_gauge[IO_N] = {[10] = 1, [11] = 1, [12] = 1};

static void io_collect(struct pn_ctx *ctx, void *arg, uint64_t *v)
{
	struct pn_io_stats st;

	(void)arg;
	_Static_assert(sizeof(st) == IO_N * sizeof(uint64_t),
		       "io_names mirrors struct pn_io_stats");
	if (pn_io_stats_get(ctx, &st) == 0)
		memcpy(v, &st, sizeof(st));
}

static const struct pn_metrics_source io_source = {
	.name = "io",
	.n = IO_N,
	.names = io_names,
	.is_gauge = io_gauge,
	.collect = io_collect,
};

int pn_io_metrics_register(struct pn_runtime *rt)
{
	return pn_metrics_source_register(rt, &io_source);
}

/* --- the endpoint ----------------------------------------------------------
 */

/* pn_io_metrics_opts resolved: fields, then environment, then defaults. */
struct cfg {
	struct sockaddr_in addr;
	char addr_text[64]; /* as given, for messages (cut short) */
	unsigned max_conns;
	uint64_t header_ns, reply_ns, idle_ns, drain_ns;
	size_t token_len; /* 0: no token */
	char token[TOKEN_MAX + 1];
};

/*
 * pn_io_metrics_serve()'s rendezvous with the server's init. The caller
 * frees it, unless it gave up waiting (@abandoned): then init does.
 */
struct start {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done, abandoned;
	int err;
	uint16_t port;
	struct cfg cfg;
};

struct conn {
	pn_io_handle h;	      /* PN_IO_NONE: free */
	uint64_t last;	      /* pn_ctx_now_ns() of the accept, the last byte */
	uint32_t len;	      /* bytes in req */
	bool answered;	      /* the answer is queued: no more reading */
	struct pn__http http; /* the parse of req */
	char req[PN__HTTP_HEAD_MAX];
};

/* The answers the endpoint gives, in the order it counts them. */
static const struct {
	int code;
	const char *status;
} answers[] = {
	{200, "200 OK"},
	{400, "400 Bad Request"},
	{401, "401 Unauthorized"},
	{404, "404 Not Found"},
	{405, "405 Method Not Allowed"},
	{431, "431 Request Header Fields Too Large"},
	{500, "500 Internal Server Error"},
	{503, "503 Service Unavailable"},
};
#define N_ANSWERS (sizeof(answers) / sizeof(answers[0]))

/* The server's state; its udata on a connection is its slot + 1. */
struct server {
	pn_io_handle listener;
	struct conn *c; /* [cfg.max_conns], freed by cleanup */
	struct cfg cfg;
	/* What bad clients cost, in its own output (serve_metrics). */
	uint64_t answered[N_ANSWERS]; /* by code, as answers[] */
	uint64_t shed;		      /* reset to make room (slot_get) */
	uint64_t timeouts;	      /* ended by a deadline */
};

static void start_done(struct start *st, int err, uint16_t port)
{
	bool abandoned;

	pthread_mutex_lock(&st->mu);
	st->err = err;
	st->port = port;
	st->done = true;
	abandoned = st->abandoned;
	pthread_cond_signal(&st->cv);
	pthread_mutex_unlock(&st->mu);
	if (abandoned) { /* nobody waits any more: ours to free */
		explicit_bzero(st->cfg.token, sizeof(st->cfg.token));
		pthread_mutex_destroy(&st->mu);
		pthread_cond_destroy(&st->cv);
		free(st);
	}
}

static int server_init(struct pn_ctx *ctx, void *state, const void *arg,
		       size_t len)
{
	struct server *sv = state;
	struct start *st = *(struct start *const *)arg;
	struct pn_io_opts o = {.flags = PN_IO_REUSEADDR | PN_IO_RECV_COPY |
					PN_IO_NODELAY};
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int err = 0, fd;

	(void)len;
	sv->cfg = st->cfg;
	o.idle_ns = sv->cfg.idle_ns; /* inherited by every connection */
	o.drain_ns = sv->cfg.drain_ns;
	if (!(sv->c = calloc(sv->cfg.max_conns, sizeof(*sv->c))))
		err = -ENOMEM;
	if (!err)
		err = pn_io_listen(ctx, (const struct sockaddr *)&sv->cfg.addr,
				   sizeof(sv->cfg.addr), &o, &sv->listener);
	if (!err && ((fd = pn_io_fd(ctx, sv->listener)) < 0 ||
		     getsockname(fd, (struct sockaddr *)&a, &alen) < 0))
		err = -EIO;
	start_done(st, err, err ? 0 : ntohs(a.sin_port));
	return err; /* cleanup frees sv->c */
}

static struct conn *conn_of(struct server *sv, const struct pn_io_ev *ev)
{
	uint64_t i = ev->udata - 1; /* 0 (not a slot) wraps: too big */

	if (i < sv->cfg.max_conns && sv->c[i].h == ev->h)
		return &sv->c[i];
	return NULL;
}

static void drop(struct pn_ctx *ctx, struct conn *c)
{
	if (c->h)
		pn_io_abort(ctx, c->h);
	c->h = PN_IO_NONE;
}

/*
 * Queue answer @code on @h and close it after what is queued has gone
 * (or reset it if it cannot all be queued), counted. @body is @len bytes;
 * with @head (a HEAD request) only the headers go, Content-Length still
 * @len. @extra: more header lines, each ending in CRLF.
 */
static void answer(struct pn_ctx *ctx, struct server *sv, pn_io_handle h,
		   int code, const char *extra, const char *type,
		   const char *body, size_t len, bool head)
{
	char hd[512];
	unsigned a = 0;
	int n, err;

	while (a + 1 < N_ANSWERS && answers[a].code != code)
		a++;
	sv->answered[a]++;
	n = snprintf(hd, sizeof(hd),
		     "HTTP/1.1 %s\r\n%sContent-Type: %s\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		     answers[a].status, extra, type, len);
	err = pn_io_send(ctx, h, hd, (size_t)n);
	for (size_t off = 0; !err && !head && off < len; off += CHUNK)
		err = pn_io_send(ctx, h, body + off,
				 len - off < CHUNK ? len - off : CHUNK);
	if (err) /* queue full or connection gone: drop it */
		pn_io_abort(ctx, h);
	else
		pn_io_close(ctx, h); /* after what is queued is sent */
}

/* Answer @c (it reads no more): the answer has reply_ns to leave. */
static void reply(struct pn_ctx *ctx, struct server *sv, struct conn *c,
		  int code, const char *extra, const char *type,
		  const char *body, size_t len)
{
	c->answered = true;
	pn_io_set_deadline(ctx, c->h, sv->cfg.reply_ns);
	answer(ctx, sv, c->h, code, extra, type, body, len,
	       c->http.method == PN__HTTP_HEAD);
}

static void reply_text(struct pn_ctx *ctx, struct server *sv, struct conn *c,
		       int code, const char *extra, const char *text)
{
	reply(ctx, sv, c, code, extra, "text/plain; charset=utf-8", text,
	      strlen(text));
}

/* The endpoint's own counters, after the runtime's. */
static int endpoint_prom(const struct server *sv, FILE *f)
{
	fprintf(f, "# TYPE pinion_metrics_endpoint_answers_total counter\n");
	for (unsigned a = 0; a < N_ANSWERS; a++)
		fprintf(f,
			"pinion_metrics_endpoint_answers_total{code=\"%d\"} "
			"%llu\n",
			answers[a].code, (unsigned long long)sv->answered[a]);
	fprintf(f,
		"# TYPE pinion_metrics_endpoint_shed_total counter\n"
		"pinion_metrics_endpoint_shed_total %llu\n"
		"# TYPE pinion_metrics_endpoint_timeouts_total counter\n"
		"pinion_metrics_endpoint_timeouts_total %llu\n",
		(unsigned long long)sv->shed, (unsigned long long)sv->timeouts);
	return ferror(f) ? -EIO : 0;
}

static void serve_metrics(struct pn_ctx *ctx, struct server *sv, struct conn *c)
{
	struct pn_metrics *m = NULL;
	char *body = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&body, &len);
	int err = f ? pn_metrics_snapshot(pn_ctx_runtime(ctx), &m) : -ENOMEM;

	if (!err)
		err = pn_metrics_prom(m, f);
	if (!err)
		err = endpoint_prom(sv, f);
	if (f)
		fclose(f);
	pn_metrics_free(m);
	if (err)
		reply_text(ctx, sv, c, 500, "", "snapshot failed\n");
	else
		reply(ctx, sv, c, 200, "", "text/plain; version=0.0.4", body,
		      len);
	free(body);
}

static bool is_path(const struct conn *c, const char *path)
{
	size_t n = strlen(path);

	return c->http.path.len == n &&
	       memcmp(c->req + c->http.path.off, path, n) == 0;
}

static bool authorized(const struct server *sv, const struct conn *c)
{
	const struct pn__http *p = &c->http;

	return !sv->cfg.token_len ||
	       (p->has_auth &&
		pn__http_bearer_ok(c->req + p->auth.off, p->auth.len,
				   sv->cfg.token, sv->cfg.token_len));
}

/* The head of @c is parsed (c->http.status is not 0): answer it. */
static void request(struct pn_ctx *ctx, struct server *sv, struct conn *c)
{
	char why[96];

	if (c->http.status != 200) {
		snprintf(why, sizeof(why), "%s\n", c->http.why);
		reply_text(ctx, sv, c, c->http.status, "", why);
	} else if (!authorized(sv, c)) {
		reply_text(ctx, sv, c, 401,
			   "WWW-Authenticate: Bearer realm=\"pinion\"\r\n",
			   "bearer token required\n");
	} else if (c->http.method == PN__HTTP_OTHER) {
		reply_text(ctx, sv, c, 405, "Allow: GET, HEAD\r\n",
			   "GET or HEAD only\n");
	} else if (is_path(c, "/metrics")) {
		serve_metrics(ctx, sv, c);
	} else {
		reply_text(ctx, sv, c, 404, "", "try /metrics\n");
	}
}

static void on_data(struct pn_ctx *ctx, struct server *sv,
		    const struct pn_msg *m)
{
	const struct pn_io_ev *ev = pn_io_ev(m);
	struct conn *c = conn_of(sv, ev);
	size_t n = ev->res > 0 ? (size_t)ev->res : 0;

	pn_io_buf_release(ctx, ev->buf); /* PN_IO_NOBUF with RECV_COPY */
	if (!c || c->answered)
		return;
	c->last = pn_ctx_now_ns(ctx);
	if (n > sizeof(c->req) - c->len)
		n = sizeof(c->req) - c->len; /* the parse says 431 */
	memcpy(c->req + c->len, pn_io_data(m), n);
	c->len += (uint32_t)n;
	if (pn__http_parse(&c->http, c->req, c->len))
		request(ctx, sv, c);
}

/* The peer will send no more: a partial head gets 400. */
static void on_eof(struct pn_ctx *ctx, struct server *sv, struct conn *c)
{
	if (c->answered)
		return;
	if (c->len == 0) {
		pn_io_close(ctx, c->h);
		c->h = PN_IO_NONE; /* nothing queued: its CLOSED is near */
		return;
	}
	c->http.why = "request head cut short";
	c->http.status = 400;
	request(ctx, sv, c);
}

/*
 * A slot for a new connection: a free one, or else the one not yet
 * answered whose last byte (or accept) is oldest, reset. NULL when every
 * connection is being answered.
 */
static struct conn *slot_get(struct pn_ctx *ctx, struct server *sv)
{
	struct conn *old = NULL;

	for (unsigned i = 0; i < sv->cfg.max_conns; i++) {
		struct conn *c = &sv->c[i];

		if (!c->h)
			return c;
		if (!c->answered && (!old || c->last < old->last))
			old = c;
	}
	if (old) {
		drop(ctx, old);
		sv->shed++;
	}
	return old;
}

static void on_accept(struct pn_ctx *ctx, struct server *sv,
		      const struct pn_io_ev *ev)
{
	struct conn *c = slot_get(ctx, sv);
	pn_io_handle h = ev->conn;

	if (!c) { /* its request unread: the close may become a reset */
		pn_io_set_deadline(ctx, h, sv->cfg.reply_ns);
		answer(ctx, sv, h, 503, "Retry-After: 1\r\n",
		       "text/plain; charset=utf-8", "busy\n", 5, false);
		return;
	}
	if (pn_io_set_udata(ctx, h, (uint64_t)(c - sv->c) + 1) < 0 ||
	    pn_io_set_deadline(ctx, h, sv->cfg.header_ns) < 0 ||
	    pn_io_recv_start(ctx, h) < 0) {
		pn_io_abort(ctx, h);
		return;
	}
	c->h = h;
	c->last = pn_ctx_now_ns(ctx);
	c->len = 0;
	c->answered = false;
	pn__http_init(&c->http);
}

/* Reset every connection and close the listener. */
static void server_stop(struct pn_ctx *ctx, struct server *sv)
{
	for (unsigned i = 0; sv->c && i < sv->cfg.max_conns; i++)
		drop(ctx, &sv->c[i]);
	if (sv->listener)
		pn_io_close(ctx, sv->listener);
	sv->listener = PN_IO_NONE;
}

static int server_handle(struct pn_ctx *ctx, void *state,
			 const struct pn_msg *m)
{
	struct server *sv = state;
	const struct pn_io_ev *ev = pn_io_ev(m);
	struct conn *c;

	switch (m->type) {
	case PN_MSG_IO_ACCEPT:
		on_accept(ctx, sv, ev);
		break;
	case PN_MSG_IO_DATA:
		on_data(ctx, sv, m);
		break;
	case PN_MSG_IO_EOF:
		if ((c = conn_of(sv, ev)))
			on_eof(ctx, sv, c);
		break;
	case PN_MSG_IO_CLOSED: /* res 0, or -ETIMEDOUT, -ECONNRESET, ... */
		if ((c = conn_of(sv, ev))) {
			c->h = PN_IO_NONE;
			sv->timeouts += ev->res == -ETIMEDOUT;
		}
		break;
	case PN_MSG_STOPPING:
	case PN_MSG_SHUTDOWN:
		server_stop(ctx, sv);
		break;
	}
	return 0;
}

static void server_cleanup(struct pn_ctx *ctx, void *state, int reason)
{
	struct server *sv = state;

	(void)reason;
	server_stop(ctx, sv);
	explicit_bzero(sv->cfg.token, sizeof(sv->cfg.token));
	free(sv->c);
	sv->c = NULL;
}

static const struct pn_behaviour server_b = {
	.name = "pinion.metrics",
	.state_size = sizeof(struct server),
	.init = server_init,
	.handle = server_handle,
	.cleanup = server_cleanup,
};

/* --- settings ---------------------------------------------------------- */

/* "host:port" (IPv4 dotted quad; port 1-5 digits, at most 65535). */
static int parse_addr(const char *s, struct sockaddr_in *a)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strrchr(s, ':');
	size_t hl = colon ? (size_t)(colon - s) : 0, pl;
	uint64_t port;

	if (!colon)
		return pn__error(-EINVAL,
				 "metrics endpoint \"%.64s\": no "
				 "\":port\"",
				 s);
	pl = strlen(colon + 1);
	if (pl < 1 || pl > 5 || pn_parse_u64(colon + 1, 0, 65535, &port, NULL))
		return pn__error(-EINVAL,
				 "metrics endpoint \"%.64s\": the port is not "
				 "1 to 5 digits from 0 to 65535",
				 s);
	if (hl >= sizeof(host))
		hl = sizeof(host) - 1; /* too long for a dotted quad anyway */
	memcpy(host, s, hl);
	host[hl] = 0;
	*a = (struct sockaddr_in){.sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port)};
	if (hl != (size_t)(colon - s) ||
	    inet_pton(AF_INET, host, &a->sin_addr) != 1)
		return pn__error(-EINVAL,
				 "metrics endpoint \"%.64s\": the host is not "
				 "an IPv4 address (a.b.c.d)",
				 s);
	return 0;
}

/* @v (ns) if set, else PINION_METRICS_<@name>, else @def_ms, into @out. */
static int opt_ms(uint64_t v, const char *name, uint64_t def_ms, uint64_t *out)
{
	char var[64];
	const char *s, *why;

	snprintf(var, sizeof(var), "PINION_METRICS_%s", name);
	s = getenv(var); // NOLINT(concurrency-mt-unsafe)
	*out = v ? v : def_ms * NS_MS;
	if (v || !s || !*s)
		return 0;
	if (pn_parse_u64(s, 1, MS_MAX, &v, &why) < 0)
		return pn__error(-EINVAL,
				 "%s=%.64s: %s (expected milliseconds from 1 "
				 "to %llu)",
				 var, s, why, MS_MAX);
	*out = v * NS_MS;
	return 0;
}

static int opt_conns(unsigned v, unsigned *out)
{
	const char *s = getenv("PINION_METRICS_MAX_CONNS"); // NOLINT
	const char *why;
	uint64_t n;

	if (v > CONNS_MAX)
		return pn__error(-EINVAL,
				 "metrics endpoint: max_conns=%u: expected 1 "
				 "to %d",
				 v, CONNS_MAX);
	*out = v ? v : CONNS_DEF;
	if (v || !s || !*s)
		return 0;
	if (pn_parse_u64(s, 1, CONNS_MAX, &n, &why) < 0)
		return pn__error(-EINVAL,
				 "PINION_METRICS_MAX_CONNS=%.64s: %s (expected "
				 "an integer from 1 to %d)",
				 s, why, CONNS_MAX);
	*out = (unsigned)n;
	return 0;
}

/* The token is a secret: errors describe it, never echo it. */
static int opt_token(const char *t, struct cfg *c)
{
	const char *from = t ? "token" : "PINION_METRICS_TOKEN";
	size_t n;

	if (!t && !(t = getenv("PINION_METRICS_TOKEN"))) // NOLINT
		return 0;
	n = strlen(t);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
			n = 0;
	if (n == 0 || n > TOKEN_MAX)
		return pn__error(-EINVAL,
				 "metrics endpoint: the %s must be 1 to %d "
				 "visible ASCII characters (no spaces)",
				 from, TOKEN_MAX);
	memcpy(c->token, t, n + 1);
	c->token_len = n;
	return 0;
}

/* Resolve @o into @c; 1 if there is an address to serve, 0 if none. */
static int cfg_get(const struct pn_io_metrics_opts *o, struct cfg *c)
{
	const char *addr = o->addr;
	int err;

	if (!addr && !(addr = getenv("PINION_METRICS_ADDR"))) // NOLINT
		return 0; /* off by default */
	snprintf(c->addr_text, sizeof(c->addr_text), "%s", addr);
	err = parse_addr(addr, &c->addr);
	if (!err)
		err = opt_conns(o->max_conns, &c->max_conns);
	if (!err)
		err = opt_ms(o->header_ns, "HEADER_MS", 5000, &c->header_ns);
	if (!err)
		err = opt_ms(o->reply_ns, "REPLY_MS", 10000, &c->reply_ns);
	if (!err)
		err = opt_ms(o->idle_ns, "IDLE_MS", 2000, &c->idle_ns);
	if (!err)
		err = opt_ms(o->drain_ns, "DRAIN_MS", 10000, &c->drain_ns);
	if (!err)
		err = opt_token(o->token, c);
	return err < 0 ? err : 1;
}

/* --- start-up ---------------------------------------------------------- */

static int wait_start(struct start *st)
{
	struct timespec ts;
	int err = 0;
	bool done;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	pthread_mutex_lock(&st->mu);
	while (!st->done && err == 0)
		err = pthread_cond_timedwait(&st->cv, &st->mu, &ts);
	done = st->done;
	/* Init, when it comes, frees @st. (If it never comes, the runtime
	 * having stopped first, these few hundred bytes are lost.) */
	st->abandoned = !done;
	pthread_mutex_unlock(&st->mu);
	return done ? st->err : -ETIMEDOUT;
}

static void warn_exposed(const struct cfg *c)
{
	if ((ntohl(c->addr.sin_addr.s_addr) >> 24) == 127)
		return;
	fprintf(stderr,
		"pinion: warning: the metrics endpoint on %s is reachable "
		"from other hosts (not a loopback address)%s\n",
		c->addr_text,
		c->token_len ? "; it requires the bearer token"
			     : " and anyone who reaches it reads actor and "
			       "behaviour names: set PINION_METRICS_TOKEN or "
			       "bind 127.0.0.1");
}

int pn_io_metrics_serve_opts(struct pn_runtime *rt,
			     const struct pn_io_metrics_opts *o, uint16_t *port)
{
	static const struct pn_io_metrics_opts none;
	struct pn_spawn_opts so = {.shard = PN_SHARD_SUPERVISOR};
	struct start *st;
	pn_pid pid;
	int err;

	if (port)
		*port = 0;
	if (!(st = calloc(1, sizeof(*st))))
		return pn__error(-ENOMEM, "metrics endpoint: out of memory");
	if ((err = cfg_get(o ? o : &none, &st->cfg)) <= 0) {
		free(st);
		return err;
	}
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->cv, NULL);
	so.arg = &st;
	so.arg_len = sizeof(st);
	err = pn_runtime_spawn(rt, &server_b, &so, &pid);
	if (!err && (err = wait_start(st)) == -ETIMEDOUT)
		return pn__error(err, "metrics endpoint: no answer in 5 s");
	pthread_mutex_destroy(&st->mu);
	pthread_cond_destroy(&st->cv);
	if (!err && port)
		*port = st->port;
	if (!err)
		warn_exposed(&st->cfg);
	else
		pn__error(err, "metrics endpoint on %s: %s", st->cfg.addr_text,
			  strerror(-err));
	explicit_bzero(st->cfg.token, sizeof(st->cfg.token));
	free(st);
	return err;
}

int pn_io_metrics_serve(struct pn_runtime *rt, const char *addr, uint16_t *port)
{
	struct pn_io_metrics_opts o = {.addr = addr};

	return pn_io_metrics_serve_opts(rt, &o, port);
}
