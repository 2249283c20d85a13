// SPDX-License-Identifier: MIT
/*
 * pinion-top: a terminal view of a running Pinion runtime's metrics. It
 * reads the Prometheus endpoint (pn_io_metrics_serve(): a plain HTTP GET
 * of /metrics on 127.0.0.1) or a file holding either that text or
 * pn_metrics_json() output, and redraws every second: per shard the share
 * of time busy, spinning and parked, message rates (handled, by origin),
 * the inbound rings' high-water mark and parks, then the top actors by
 * messages and by handler time. Rates are differences between two reads;
 * the first screen shows totals. Plain ANSI (clear screen, text).
 *
 *   pinion-top [-p PORT | -a HOST:PORT | -f FILE] [-i MS] [-n COUNT]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SHARDS 256
#define MAX_ACTORS 64
#define TOP	   8

struct shard {
	double local, cross, ext;  /* messages */
	double busy, spin, parked; /* seconds */
	double hwm, parks;
	bool seen;
};

struct actor {
	char pid[24], beh[32];
	unsigned shard;
	double msgs, handler_s;
};

struct view {
	unsigned nshards, nactors;
	struct shard sh[MAX_SHARDS];
	struct actor a[MAX_ACTORS];
};

/* --- input ---------------------------------------------------------------- */

static char *fetch_http(const char *host, unsigned port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port)};
	struct timeval tv = {.tv_sec = 2};
	const char req[] = "GET /metrics HTTP/1.1\r\nHost: pinion\r\n"
			   "Connection: close\r\n\r\n";
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap), *body;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ssize_t n;

	if (!buf || fd < 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1))
		goto fail;
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (len + 1 == cap) {
			char *nb = realloc(buf, cap *= 2);

			if (!nb)
				goto fail;
			buf = nb;
		}
	}
	close(fd);
	buf[len] = 0;
	if (strncmp(buf, "HTTP/1.1 200", 12) != 0 ||
	    !(body = strstr(buf, "\r\n\r\n"))) {
		free(buf);
		return NULL;
	}
	memmove(buf, body + 4, strlen(body + 4) + 1);
	return buf;
fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, len = 0, n;

	if (!f)
		return NULL;
	do {
		char *nb = realloc(buf, cap += 1 << 16);

		if (!nb) {
			free(buf);
			fclose(f);
			return NULL;
		}
		buf = nb;
		len += (n = fread(buf + len, 1, cap - len - 1, f));
	} while (n > 0);
	fclose(f);
	buf[len] = 0;
	return buf;
}

/* --- Prometheus text ------------------------------------------------------ */

/* The value of label @key in "{a="x",b="y"}" into @out. */
static bool label(const char *labels, const char *key, char *out, size_t size)
{
	char pat[32];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "%s=\"", key);
	if (!(p = strstr(labels, pat)))
		return false;
	p += strlen(pat);
	if (!(e = strchr(p, '"')) || (size_t)(e - p) >= size)
		return false;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = 0;
	return true;
}

static struct actor *actor_of(struct view *v, const char *labels)
{
	char pid[24], beh[32] = "", sh[8] = "0";

	if (!label(labels, "actor", pid, sizeof(pid)))
		return NULL;
	label(labels, "behaviour", beh, sizeof(beh));
	label(labels, "shard", sh, sizeof(sh));
	for (unsigned i = 0; i < v->nactors; i++)
		if (strcmp(v->a[i].pid, pid) == 0)
			return &v->a[i];
	if (v->nactors == MAX_ACTORS)
		return NULL;
	struct actor *a = &v->a[v->nactors++];

	snprintf(a->pid, sizeof(a->pid), "%s", pid);
	snprintf(a->beh, sizeof(a->beh), "%s", beh);
	a->shard = (unsigned)atoi(sh);
	return a;
}

static void prom_line(struct view *v, const char *name, const char *labels,
		      double val)
{
	char sh[8], kind[16];
	struct shard *s;
	struct actor *a;
	unsigned i;

	if (strncmp(name, "pinion_actor_", 13) == 0) {
		if (!(a = actor_of(v, labels)))
			return;
		if (strcmp(name, "pinion_actor_messages_total") == 0)
			a->msgs = val;
		else if (strcmp(name, "pinion_actor_handler_seconds_total") ==
			 0)
			a->handler_s = val;
		return;
	}
	if (!label(labels, "shard", sh, sizeof(sh)) ||
	    (i = (unsigned)atoi(sh)) >= MAX_SHARDS)
		return;
	s = &v->sh[i];
	s->seen = true;
	if (i + 1 > v->nshards)
		v->nshards = i + 1;
	if (strcmp(name, "pinion_messages_total") == 0 &&
	    label(labels, "kind", kind, sizeof(kind)))
		*(strcmp(kind, "local") == 0   ? &s->local
		  : strcmp(kind, "cross") == 0 ? &s->cross
					       : &s->ext) = val;
	else if (strcmp(name, "pinion_time_seconds_total") == 0 &&
		 label(labels, "state", kind, sizeof(kind)))
		*(strcmp(kind, "busy") == 0   ? &s->busy
		  : strcmp(kind, "spin") == 0 ? &s->spin
					      : &s->parked) = val;
	else if (strcmp(name, "pinion_ring_backlog_max") == 0 && val > s->hwm)
		s->hwm = val;
	else if (strcmp(name, "pinion_parks_total") == 0)
		s->parks = val;
}

static void parse_prom(struct view *v, char *text)
{
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char *sp, *br;

		if (line[0] == '#' || !(sp = strrchr(line, ' ')))
			continue;
		*sp = 0;
		br = strchr(line, '{');
		if (br)
			*br++ = 0;
		prom_line(v, line, br ? br : "", strtod(sp + 1, NULL));
	}
}

/* --- pn_metrics_json() output ------------------------------------------- */

/* The number after "key": inside [p, end), or 0. */
static double jnum(const char *p, const char *end, const char *key)
{
	char pat[48];
	const char *q;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	q = strstr(p, pat);
	return q && q < end ? strtod(q + strlen(pat), NULL) : 0;
}

/* The end of the object opening at @p (balanced braces). */
static const char *obj_end(const char *p)
{
	int depth = 0;

	for (; *p; p++) {
		if (*p == '{')
			depth++;
		else if (*p == '}' && --depth == 0)
			return p + 1;
	}
	return p;
}

static void json_shard(struct view *v, const char *p, const char *e)
{
	unsigned i = (unsigned)jnum(p, e, "shard");
	struct shard *s = &v->sh[i < MAX_SHARDS ? i : 0];
	const char *h = strstr(p, "\"ring_hwm\":[");

	s->seen = true;
	v->nshards = i + 1 > v->nshards ? i + 1 : v->nshards;
	s->local = jnum(p, e, "handled_local");
	s->cross = jnum(p, e, "handled_cross");
	s->ext = jnum(p, e, "handled_ext");
	s->busy = jnum(p, e, "busy_ns") / 1e9;
	s->spin = jnum(p, e, "spin_ns") / 1e9;
	s->parked = jnum(p, e, "parked_ns") / 1e9;
	s->parks = jnum(p, e, "parks");
	for (h = h && h < e ? h + 12 : e; h < e && *h != ']'; h++)
		if (strtod(h, NULL) > s->hwm)
			s->hwm = strtod(h, NULL);
}

static void parse_json(struct view *v, const char *text)
{
	const char *p = strstr(text, "\"shards\":["), *a, *e;

	for (p = p ? p + 10 : ""; *p == '{' || *p == ','; p = e) {
		p += *p == ',';
		e = obj_end(p);
		json_shard(v, p, e);
	}
	a = strstr(text, "\"actors\":[");
	for (p = a ? a + 10 : "";
	     (*p == '{' || *p == ',') && v->nactors < MAX_ACTORS; p = e) {
		struct actor *ac = &v->a[v->nactors++];
		const char *q;

		p += *p == ',';
		e = obj_end(p);
		if ((q = strstr(p, "\"pid\":\"")) && q < e)
			sscanf(q + 7, "%23[^\"]", ac->pid);
		if ((q = strstr(p, "\"behaviour\":\"")) && q < e)
			sscanf(q + 13, "%31[^\"]", ac->beh);
		ac->shard = (unsigned)jnum(p, e, "shard");
		ac->msgs = jnum(p, e, "messages_est");
		ac->handler_s = jnum(p, e, "handler_ns") *
				jnum(text, text + strlen(text), "sample") / 1e9;
	}
}

/* --- drawing -------------------------------------------------------------- */

static const struct actor *prev_actor(const struct view *pv, const char *pid)
{
	for (unsigned i = 0; pv && i < pv->nactors; i++)
		if (strcmp(pv->a[i].pid, pid) == 0)
			return &pv->a[i];
	return NULL;
}

static void draw_shards(const struct view *v, const struct view *pv, double dt)
{
	printf("SHARD  BUSY%%  SPIN%%  PARK%%      MSG/S    LOCAL/S    "
	       "CROSS/S      EXT/S  RING-HWM  PARKS/S\n");
	for (unsigned i = 0; i < v->nshards; i++) {
		const struct shard *s = &v->sh[i], *p = pv ? &pv->sh[i] : NULL;
		double b = s->busy - (p ? p->busy : 0),
		       sp = s->spin - (p ? p->spin : 0),
		       pk = s->parked - (p ? p->parked : 0), t = b + sp + pk;
		double l = (s->local - (p ? p->local : 0)) / dt,
		       c = (s->cross - (p ? p->cross : 0)) / dt,
		       x = (s->ext - (p ? p->ext : 0)) / dt;

		if (t <= 0)
			t = 1;
		printf("%5u%s %5.1f  %5.1f  %5.1f %10.0f %10.0f %10.0f %10.0f "
		       "%9.0f %8.0f\n",
		       i, i + 1 == v->nshards ? "s" : " ", 100 * b / t,
		       100 * sp / t, 100 * pk / t, l + c + x, l, c, x, s->hwm,
		       (s->parks - (p ? p->parks : 0)) / dt);
	}
}

static int cmp_rate(const void *a, const void *b)
{
	double x = ((const double *)a)[0], y = ((const double *)b)[0];

	return x < y ? 1 : x > y ? -1 : 0;
}

static void draw_top(const struct view *v, const struct view *pv, double dt,
		     bool by_time)
{
	double r[MAX_ACTORS][2];
	unsigned n = v->nactors;

	for (unsigned i = 0; i < n; i++) {
		const struct actor *a = &v->a[i], *p = prev_actor(pv, a->pid);
		double val = by_time ? a->handler_s - (p ? p->handler_s : 0)
				     : a->msgs - (p ? p->msgs : 0);

		r[i][0] = val / dt;
		r[i][1] = i;
	}
	qsort(r, n, sizeof(r[0]), cmp_rate);
	printf("\nTOP ACTORS BY %s\n%-20s %5s  %-24s %12s %12s\n",
	       by_time ? "HANDLER TIME" : "MESSAGES", "ACTOR", "SHARD",
	       "BEHAVIOUR", "MSG/S", "HANDLER%");
	for (unsigned k = 0; k < n && k < TOP; k++) {
		const struct actor *a = &v->a[(unsigned)r[k][1]],
				   *p = prev_actor(pv, a->pid);

		printf("%-20s %5u  %-24s %12.0f %11.2f%%\n", a->pid, a->shard,
		       a->beh, (a->msgs - (p ? p->msgs : 0)) / dt,
		       100 * (a->handler_s - (p ? p->handler_s : 0)) / dt);
	}
}

static void draw(const char *src, const struct view *v, const struct view *pv,
		 double dt)
{
	time_t now = time(NULL);
	char ts[16];

	strftime(ts, sizeof(ts), "%H:%M:%S", localtime(&now));
	printf("\033[H\033[2J");
	printf("pinion-top - %s - %u shards (s: supervisor) - %s%s\n\n", src,
	       v->nshards, ts, pv ? "" : " - totals (rates from the next)");
	draw_shards(v, pv, dt);
	draw_top(v, pv, dt, false);
	draw_top(v, pv, dt, true);
	fflush(stdout);
}

static int usage(void)
{
	fprintf(stderr, "usage: pinion-top [-p PORT | -a HOST:PORT | -f FILE] "
			"[-i MS] [-n COUNT]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static struct view views[2];
	const char *file = NULL;
	char host[64] = "127.0.0.1", src[128];
	unsigned port = 9464, interval = 1000;
	long count = -1;
	struct view *pv = NULL;
	int opt;

	while ((opt = getopt(argc, argv, "p:a:f:i:n:h")) != -1) {
		if (opt == 'p')
			port = (unsigned)atoi(optarg);
		else if (opt == 'a' &&
			 sscanf(optarg, "%63[^:]:%u", host, &port) == 2)
			;
		else if (opt == 'f')
			file = optarg;
		else if (opt == 'i')
			interval = (unsigned)atoi(optarg);
		else if (opt == 'n')
			count = atol(optarg);
		else
			return usage();
	}
	if (file)
		snprintf(src, sizeof(src), "%s", file);
	else
		snprintf(src, sizeof(src), "http://%s:%u/metrics", host, port);
	for (unsigned k = 0; count < 0 || k < (unsigned long)count; k++) {
		struct view *v = &views[k % 2];
		char *text = file ? read_file(file) : fetch_http(host, port);

		memset(v, 0, sizeof(*v));
		if (!text) {
			printf("\033[H\033[2Jpinion-top - %s - cannot read: "
			       "%s\n",
			       src, strerror(errno ? errno : EIO));
			fflush(stdout);
			pv = NULL;
		} else {
			if (text[0] == '{')
				parse_json(v, text);
			else
				parse_prom(v, text);
			free(text);
			draw(src, v, pv, pv ? interval / 1000.0 : 1.0);
			pv = v;
		}
		if (count < 0 || k + 1 < (unsigned long)count)
			usleep(interval * 1000u);
	}
	return 0;
}
