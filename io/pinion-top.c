// SPDX-License-Identifier: MIT
/*
 * pinion-top: a terminal view of a running Pinion runtime's metrics. It
 * reads the Prometheus endpoint (pn_io_metrics_serve(): a plain HTTP GET
 * of /metrics on an IPv4 address) or a file holding either that text or
 * pn_metrics_json() output, and redraws every interval: per shard the
 * share of time busy, spinning and parked, message rates (handled, by
 * origin), the inbound rings' high-water mark and parks, then the top
 * actors by messages and by handler time (io/top_draw.c). Rates are
 * differences between two reads over the time between them; the first
 * screen shows totals. Plain ANSI (clear screen, text).
 *
 *   pinion-top [-p PORT | -a IPV4:PORT | -f FILE] [-i MS] [-n COUNT]
 *
 *   -p PORT        port on 127.0.0.1, 1-65535 (default 9464)
 *   -a IPV4:PORT   address of the endpoint, a dotted IPv4 address
 *   -f FILE        read FILE instead (a snapshot, read again each time)
 *   -i MS          refresh interval, 10-3600000 ms (default 1000)
 *   -n COUNT       stop after COUNT screens, 1-4294967295 (default: run)
 *
 * Numbers are decimal digits only: no sign, blank, base prefix or empty
 * string. A bad option or argument prints what was wrong and exits 2.
 * PINION_METRICS_TOKEN, when set, is sent as the endpoint's bearer token
 * (Authorization: Bearer), as the endpoint expects it.
 *
 * Limits, for any input: a body (file or HTTP) is read up to BODY_MAX
 * bytes (16 MiB), and an HTTP head up to HEAD_MAX (64 KiB); beyond that
 * the refresh fails with "body larger than 16777216 bytes" and nothing
 * more is read. Each fetch (connect, request and the whole response, or
 * the whole file) has one deadline, FETCH_MS (2 s); past it the refresh
 * fails with "no complete answer within 2000 ms". A failed refresh shows
 * its error on screen and the next interval tries again. The body parsers
 * (io/top_parse.c) check every shard number and value they store. The
 * exit status is 0 if the last refresh succeeded, 1 if it failed, 2 on a
 * usage error.
 */
#include "pn_base.h" /* pn_parse_u64 */
#include "top_parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BODY_MAX (16u << 20) /* bytes of a body, file or HTTP */
#define HEAD_MAX (64u << 10) /* bytes of an HTTP status line and headers */
#define FETCH_MS 2000	     /* one deadline per fetch */

/* What one refresh read, or why it failed. */
struct fetch {
	char *buf;	  /* malloc'd response; NUL after the end */
	size_t len;	  /* bytes in buf */
	const char *body; /* into buf */
	size_t body_len;
	char err[128]; /* set when the fetch failed */
};

/* Milliseconds on CLOCK_MONOTONIC: deadlines and ticks. */
static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Fail the fetch with "@what" or "@what: strerror(@err)". */
static bool fail(struct fetch *fe, const char *what, int err)
{
	if (err)
		snprintf(fe->err, sizeof(fe->err), "%s: %s", what,
			 strerror(err));
	else
		snprintf(fe->err, sizeof(fe->err), "%s", what);
	return false;
}

/* Fail the fetch: FETCH_MS passed before it completed. */
static bool fail_deadline(struct fetch *fe)
{
	snprintf(fe->err, sizeof(fe->err),
		 "no complete answer within %d ms (fetch deadline)", FETCH_MS);
	return false;
}

/* Fail the fetch: @what is over its cap @max. */
static bool fail_size(struct fetch *fe, const char *what, size_t max)
{
	snprintf(fe->err, sizeof(fe->err), "%s larger than %zu bytes", what,
		 max);
	return false;
}

/* Wait until @fd is ready for @events or @deadline (now_ms()) passes. */
static bool wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		uint64_t now = now_ms();
		int rc;

		if (now >= deadline)
			return false;
		rc = poll(&p, 1, (int)(deadline - now));
		if (rc > 0)
			return true;
		if (rc < 0 && errno != EINTR)
			return true; /* the read or write says why */
	}
}

/*
 * Read @fd (non-blocking) into fe->buf until end of file, at most @max
 * bytes: reading one more byte than that fails the fetch ("body larger
 * than BODY_MAX bytes": @max is BODY_MAX, or for HTTP BODY_MAX plus a head
 * that @check bounds), so the buffer never grows past @max + 2. After
 * each read @check (if not NULL) may fail the fetch or say it is complete.
 */
static bool read_all(struct fetch *fe, int fd, size_t max, uint64_t deadline,
		     bool (*check)(struct fetch *fe, bool *done))
{
	size_t cap = 0;
	bool done = false;

	while (!done) {
		ssize_t n;

		if (fe->len == cap) {
			size_t ncap = cap ? cap * 2 : 1 << 16;
			char *nb;

			if (ncap > max + 2)
				ncap = max + 2; /* max + 1 bytes, and a NUL */
			if (!(nb = realloc(fe->buf, ncap)))
				return fail(fe, "out of memory", 0);
			fe->buf = nb;
			fe->buf[fe->len] = 0;
			cap = ncap - 1;
		}
		/* Checked on every pass, not only when a read would block:
		 * a peer that always has a little more to send must not
		 * stretch the fetch either. */
		if (now_ms() >= deadline)
			return fail_deadline(fe);
		n = read(fd, fe->buf + fe->len, cap - fe->len);
		if (n > 0) {
			fe->len += (size_t)n;
			fe->buf[fe->len] = 0;
			if (fe->len > max)
				return fail_size(fe, "body", BODY_MAX);
			if (check && !check(fe, &done))
				return false;
		} else if (n == 0) {
			return true;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (!wait_fd(fd, POLLIN, deadline))
				return fail_deadline(fe);
		} else if (errno != EINTR) {
			return fail(fe, "read", errno);
		}
	}
	return true;
}

/* Read the file at @path (a FIFO or device too: it is opened without
 * blocking and read under the deadline). */
static bool fetch_file(struct fetch *fe, const char *path)
{
	uint64_t deadline = now_ms() + FETCH_MS;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	bool ok;

	if (fd < 0)
		return fail(fe, "open", errno);
	/* A regular file says its size: one too large is not read at all
	 * (read_all() still caps one that grows meanwhile). */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > BODY_MAX)
		ok = fail_size(fe, "body", BODY_MAX);
	else
		ok = read_all(fe, fd, BODY_MAX, deadline, NULL);
	close(fd);
	fe->body = fe->buf;
	fe->body_len = fe->len;
	return ok;
}

/* The end of the HTTP head in what was read so far, or NULL. */
static const char *head_end(const struct fetch *fe)
{
	const char *e = memmem(fe->buf, fe->len, "\r\n\r\n", 4);

	return e ? e + 4 : NULL;
}

/* The Content-Length of a complete head [buf, end), or SIZE_MAX if it
 * has none (then the body ends at end of file). */
static size_t content_length(const char *buf, const char *end)
{
	static const char key[] = "\r\ncontent-length:";
	const size_t klen = sizeof(key) - 1;
	size_t n = 0;

	for (const char *p = buf; p + klen < end; p++) {
		if (strncasecmp(p, key, klen) != 0)
			continue;
		for (p += klen; p < end && *p == ' '; p++)
			;
		if (p == end || *p < '0' || *p > '9')
			return SIZE_MAX;
		for (; p < end && *p >= '0' && *p <= '9'; p++) {
			if (n > BODY_MAX)
				break; /* over the cap: no need for more */
			n = n * 10 + (size_t)(*p - '0');
		}
		return n;
	}
	return SIZE_MAX;
}

/* read_all()'s check for HTTP: the head within HEAD_MAX, the body (as
 * declared, or as read) within BODY_MAX, done once Content-Length bytes
 * of body are in. */
static bool http_check(struct fetch *fe, bool *done)
{
	const char *e = head_end(fe);
	size_t head, cl;

	if (!e)
		return fe->len > HEAD_MAX ? fail_size(fe, "HTTP head", HEAD_MAX)
					  : true;
	head = (size_t)(e - fe->buf);
	if (head > HEAD_MAX)
		return fail_size(fe, "HTTP head", HEAD_MAX);
	cl = content_length(fe->buf, e);
	if ((cl != SIZE_MAX && cl > BODY_MAX) || fe->len - head > BODY_MAX)
		return fail_size(fe, "body", BODY_MAX);
	*done = cl != SIZE_MAX && fe->len - head >= cl;
	return true;
}

/* Connect @fd to @sa before @deadline. */
static bool connect_by(struct fetch *fe, int fd, const struct sockaddr_in *sa,
		       uint64_t deadline)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
		return true;
	if (errno != EINPROGRESS)
		return fail(fe, "connect", errno);
	if (!wait_fd(fd, POLLOUT, deadline))
		return fail_deadline(fe);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return fail(fe, "connect", errno);
	return err ? fail(fe, "connect", err) : true;
}

/* Send the request on @fd before @deadline (MSG_NOSIGNAL: a peer that
 * closed early is an error, not SIGPIPE). */
static bool send_request(struct fetch *fe, int fd, uint64_t deadline)
{
	/* The endpoint's bearer token, when it has one (checked in main). */
	const char *tok = getenv("PINION_METRICS_TOKEN"); // NOLINT
	char req[512];
	size_t off = 0, len;

	len = (size_t)snprintf(req, sizeof(req),
			       "GET /metrics HTTP/1.1\r\nHost: pinion\r\n"
			       "%s%s%sConnection: close\r\n\r\n",
			       tok && *tok ? "Authorization: Bearer " : "",
			       tok && *tok ? tok : "",
			       tok && *tok ? "\r\n" : "");
	if (len >= sizeof(req))
		return fail(fe, "PINION_METRICS_TOKEN too long", 0);
	while (off < len) {
		ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);

		if (n > 0)
			off += (size_t)n;
		else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!wait_fd(fd, POLLOUT, deadline))
				return fail_deadline(fe);
		} else if (n < 0 && errno != EINTR)
			return fail(fe, "send", errno);
	}
	return true;
}

/* Check the status line (a complete head, already bounded by
 * http_check()); point fe->body at the body. */
static bool http_body(struct fetch *fe)
{
	const char *e = fe->buf ? head_end(fe) : NULL;
	size_t cl, n;

	if (!e)
		return fail(fe, "truncated HTTP answer", 0);
	/* "HTTP/1.x 200 ..." (fe->buf[fe->len] is a NUL) */
	if (fe->len < 12 || strncmp(fe->buf, "HTTP/1.", 7) != 0 ||
	    strncmp(fe->buf + 8, " 200", 4) != 0 ||
	    (fe->buf[12] != ' ' && fe->buf[12] != '\r')) {
		n = strcspn(fe->buf, "\r\n");
		snprintf(fe->err, sizeof(fe->err), "HTTP answer: %.*s",
			 (int)(n < 60 ? n : 60), fe->buf);
		for (char *p = fe->err; *p; p++)
			*p = *p >= 0x20 && *p < 0x7f ? *p : '?';
		return false;
	}
	fe->body = e;
	fe->body_len = fe->len - (size_t)(e - fe->buf);
	cl = content_length(fe->buf, e);
	if (cl != SIZE_MAX && cl > fe->body_len)
		return fail(fe, "truncated HTTP body", 0);
	if (cl != SIZE_MAX)
		fe->body_len = cl;
	return true;
}

/* GET /metrics from @sa: connect, request and answer within FETCH_MS. */
static bool fetch_http(struct fetch *fe, const struct sockaddr_in *sa)
{
	uint64_t deadline = now_ms() + FETCH_MS;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return fail(fe, "socket", errno);
	ok = connect_by(fe, fd, sa, deadline) &&
	     send_request(fe, fd, deadline) &&
	     read_all(fe, fd, HEAD_MAX + BODY_MAX, deadline, http_check) &&
	     http_body(fe);
	close(fd);
	return ok;
}

/* --- options -------------------------------------------------------------- */

/* The synopsis, and with @full the options and limits. Returns 2. */
static int usage(FILE *f, bool full)
{
	fprintf(f,
		"usage: pinion-top [-p PORT | -a IPV4:PORT | -f FILE] "
		"[-i MS] [-n COUNT]%s\n",
		full ? "" : "   (-h: help)");
	if (!full)
		return 2;
	fprintf(f,
		"  -p PORT       port on 127.0.0.1, 1-65535 (default 9464)\n"
		"  -a IPV4:PORT  endpoint address, e.g. 127.0.0.1:9464\n"
		"  -f FILE       read a snapshot file (JSON or Prometheus "
		"text)\n"
		"  -i MS         refresh interval, 10-3600000 ms (default "
		"1000)\n"
		"  -n COUNT      stop after COUNT screens, 1-4294967295\n"
		"Numbers are decimal digits only. Limits: a body (file or "
		"HTTP) of at most %u bytes,\n%d ms for each fetch. Exit "
		"status: 0 if the last refresh worked, 1 if not, 2 on\n"
		"a usage error.\n",
		BODY_MAX, FETCH_MS);
	return 2;
}

/*
 * @s as a decimal number in [@lo, @hi] into *@out: digits only, the whole
 * string. Otherwise print an error naming option -@opt and return false.
 */
static bool parse_num(char opt, const char *what, const char *s,
		      unsigned long long lo, unsigned long long hi,
		      unsigned long long *out)
{
	uint64_t n;

	if (pn_parse_u64(s, lo, hi, &n, NULL) < 0) {
		fprintf(stderr,
			"pinion-top: -%c: %s must be a decimal integer in "
			"%llu-%llu, got '%s'\n",
			opt, what, lo, hi, s);
		return false;
	}
	*out = n;
	return true;
}

/* The command line, parsed. */
struct opts {
	const char *file; /* -f, or NULL: HTTP to sa */
	struct sockaddr_in sa;
	char src[160];
	unsigned interval_ms;
	unsigned long long count; /* 0: run until killed */
	bool addr_set;
};

/* -a IPV4:PORT */
static bool parse_addr(struct opts *o, const char *arg)
{
	const char *colon = strrchr(arg, ':');
	char host[INET_ADDRSTRLEN];
	unsigned long long port;

	if (!colon || (size_t)(colon - arg) >= sizeof(host)) {
		fprintf(stderr,
			"pinion-top: -a: expected IPV4:PORT (e.g. "
			"127.0.0.1:9464), got '%s'\n",
			arg);
		return false;
	}
	memcpy(host, arg, (size_t)(colon - arg));
	host[colon - arg] = 0;
	if (inet_pton(AF_INET, host, &o->sa.sin_addr) != 1) {
		fprintf(stderr,
			"pinion-top: -a: '%s' is not a dotted IPv4 address\n",
			host);
		return false;
	}
	if (!parse_num('a', "the port", colon + 1, 1, 65535, &port))
		return false;
	o->sa.sin_port = htons((uint16_t)port);
	return true;
}

/* One option; false on a usage error (already reported). */
static bool parse_opt(struct opts *o, int opt, const char *arg)
{
	unsigned long long n;

	switch (opt) {
	case 'p':
		if (!parse_num('p', "PORT", arg, 1, 65535, &n))
			return false;
		o->sa.sin_port = htons((uint16_t)n);
		o->addr_set = true;
		return true;
	case 'a':
		o->addr_set = true;
		return parse_addr(o, arg);
	case 'f':
		if (!arg[0]) {
			fprintf(stderr, "pinion-top: -f: empty file name\n");
			return false;
		}
		o->file = arg;
		return true;
	case 'i':
		if (!parse_num('i', "MS", arg, 10, 3600000, &n))
			return false;
		o->interval_ms = (unsigned)n;
		return true;
	case 'n':
		return parse_num('n', "COUNT", arg, 1, UINT32_MAX, &o->count);
	default:
		return false;
	}
}

/* Returns -1 to go on, or the exit status. */
static int parse_args(struct opts *o, int argc, char **argv)
{
	char ip[INET_ADDRSTRLEN];
	int opt;

	*o = (struct opts){.interval_ms = 1000};
	o->sa.sin_family = AF_INET;
	o->sa.sin_port = htons(9464);
	o->sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	while ((opt = getopt(argc, argv, "+p:a:f:i:n:h")) != -1) {
		if (opt == 'h') {
			usage(stdout, true);
			return 0;
		}
		if (!parse_opt(o, opt, optarg))
			return usage(stderr, false);
	}
	if (optind < argc) {
		fprintf(stderr, "pinion-top: unexpected argument '%s'\n",
			argv[optind]);
		return usage(stderr, false);
	}
	if (o->file && o->addr_set) {
		fprintf(stderr, "pinion-top: -f reads a file; it does not "
				"take -p or -a\n");
		return usage(stderr, false);
	}
	inet_ntop(AF_INET, &o->sa.sin_addr, ip, sizeof(ip));
	if (o->file)
		snprintf(o->src, sizeof(o->src), "%s", o->file);
	else
		snprintf(o->src, sizeof(o->src), "http://%s:%u/metrics", ip,
			 (unsigned)ntohs(o->sa.sin_port));
	for (char *p = o->src; *p; p++) /* it is shown on the screen */
		*p = *p >= 0x20 && *p < 0x7f ? *p : '?';
	return -1;
}

/* --- the loop ------------------------------------------------------------- */

/* One refresh into @v: true if it drew a screen of data. */
static bool refresh(const struct opts *o, struct pn_top_view *v,
		    const struct pn_top_view *pv, double dt)
{
	struct fetch fe = {0};
	bool ok = o->file ? fetch_file(&fe, o->file) : fetch_http(&fe, &o->sa);
	size_t off = 0;
	time_t now = time(NULL);
	struct tm tm;
	char ts[16] = "--:--:--";

	if (localtime_r(&now, &tm))
		strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
	if (ok && pn__top_parse(v, fe.body, fe.body_len, &off) < 0) {
		snprintf(fe.err, sizeof(fe.err), "malformed JSON at byte %zu",
			 off);
		ok = false;
	}
	free(fe.buf);
	if (ok)
		pn__top_draw(stdout, o->src, ts, v, pv, dt);
	else
		printf("\033[H\033[2Jpinion-top - %s - %s - cannot read: %s\n",
		       o->src, ts, fe.err);
	fflush(stdout);
	return ok;
}

/* Sleep until @ms on the now_ms() clock. */
static void sleep_until(uint64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
			      .tv_nsec = (long)(ms % 1000) * 1000000};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

int main(int argc, char **argv)
{
	static struct pn_top_view views[2];
	struct pn_top_view *pv = NULL;
	uint64_t prev_ms = 0, next_ms;
	struct opts o;
	bool ok = false;
	int rc = parse_args(&o, argc, argv);
	const char *tok = getenv("PINION_METRICS_TOKEN"); // NOLINT

	if (rc >= 0)
		return rc;
	/* The token goes into a header line: printable, no space, bounded. */
	for (size_t i = 0; tok && tok[i]; i++)
		if (tok[i] <= ' ' || tok[i] > '~' || i >= 256) {
			fprintf(stderr, "pinion-top: PINION_METRICS_TOKEN: "
					"at most 256 printable characters, no "
					"space\n");
			return 2;
		}
	next_ms = now_ms();
	for (unsigned long long k = 0; o.count == 0 || k < o.count; k++) {
		struct pn_top_view *v = &views[k % 2];
		uint64_t t = now_ms();

		/* Rates over the time between the two reads. */
		ok = refresh(&o, v, pv, pv ? (double)(t - prev_ms) / 1e3 : 1);
		pv = ok ? v : NULL;
		prev_ms = t;
		if (o.count && k + 1 == o.count)
			break;
		/* The next tick, or at once if this refresh overran it. */
		next_ms += o.interval_ms;
		if (next_ms < now_ms())
			next_ms = now_ms();
		sleep_until(next_ms);
	}
	return ok ? 0 : 1;
}
