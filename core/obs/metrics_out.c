// SPDX-License-Identifier: MIT
/*
 * A metrics snapshot as text: one JSON object (pn_metrics_json), or the
 * Prometheus text exposition format 0.0.4 (pn_metrics_prom), which the
 * /metrics endpoint (io/prom.c) serves and pinion-top reads.
 *
 * Prometheus names follow its conventions: base units (seconds, bytes),
 * _total for counters, one family per quantity with labels for the
 * dimensions (shard, kind, state, to, source), histograms as _bucket{le}
 * (cumulative, ending in +Inf), _sum and _count. Histogram edges are
 * powers of two of nanoseconds, which are exact bucket edges of the
 * log-linear histograms, so the cumulative counts are exact.
 */
#include "obs_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define TOP_ACTORS 32 /* actors in the Prometheus output */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_hist(FILE *f, const char *name, const struct pn_hist *h)
{
	fprintf(f,
		"\"%s\":{\"count\":%" PRIu64 ",\"sum\":%" PRIu64
		",\"p50\":%" PRIu64 ",\"p99\":%" PRIu64 ",\"p999\":%" PRIu64
		",\"max\":%" PRIu64 "}",
		name, pn_hist_count(h), pn_hist_sum(h),
		pn_hist_percentile(h, 50), pn_hist_percentile(h, 99),
		pn_hist_percentile(h, 99.9), pn_hist_max(h));
}

static void json_shard_counts(FILE *f, const struct pn_shard_metrics *s)
{
	const struct pn_shard_stats *st = &s->stats;

	fprintf(f,
		"\"handled\":%" PRIu64 ",\"handled_local\":%" PRIu64
		",\"handled_cross\":%" PRIu64 ",\"handled_ext\":%" PRIu64
		",\"sent_local\":%" PRIu64 ",\"sent_remote\":%" PRIu64
		",\"overflowed\":%" PRIu64 ",\"eagain\":%" PRIu64
		",\"overflow_bytes\":%" PRIu64 ",\"dead_letters\":%" PRIu64
		",\"late_replies\":%" PRIu64 ",\"accepted\":%" PRIu64
		",\"forwarded\":%" PRIu64 ",\"timers_fired\":%" PRIu64
		",\"parks\":%" PRIu64 ",\"wakes_sent\":%" PRIu64
		",\"wakes_received\":%" PRIu64 ",\"spawned\":%" PRIu64
		",\"stopped\":%" PRIu64 ",\"actors\":%" PRIu64
		",\"busy_ns\":%" PRIu64 ",\"spin_ns\":%" PRIu64
		",\"parked_ns\":%" PRIu64 ",\"samples\":%" PRIu64,
		st->handled, s->handled_local, s->handled_cross, s->handled_ext,
		st->sent_local, st->sent_remote, st->overflowed, st->eagain,
		st->overflow_bytes, st->dead_letters, st->late_replies,
		st->accepted, st->forwarded, st->timers_fired, st->parks,
		st->wakes_sent, s->wakes_received, st->spawned, st->stopped,
		st->actors, s->busy_ns, s->spin_ns, s->parked_ns, s->samples);
}

static void json_shard(FILE *f, const struct pn_metrics *m, unsigned i)
{
	const struct pn_shard_metrics *s = pn_metrics_shard(m, i);
	unsigned n = pn_metrics_nshards(m);

	fprintf(f, "{\"shard\":%u,\"supervisor\":%s,", i,
		i + 1 == n ? "true" : "false");
	json_shard_counts(f, s);
	fprintf(f,
		",\"migrate\":{\"moves\":%" PRIu64 ",\"installs\":%" PRIu64
		",\"forwarded\":%" PRIu64 ",\"bounced\":%" PRIu64 "}",
		s->migrate.moves, s->migrate.installs, s->migrate.forwarded,
		s->migrate.bounced);
	fputs(",\"sent_to\":[", f);
	for (unsigned d = 0; d < n; d++)
		fprintf(f, "%s%" PRIu64, d ? "," : "", s->sent_to[d]);
	fputs("],\"ring_hwm\":[", f);
	for (unsigned k = 0; k < s->nsources; k++)
		fprintf(f, "%s%u", k ? "," : "", s->ring_hwm[k]);
	fputs("],\"ext\":{", f);
	for (unsigned k = 0; k < pn_metrics_ext_count(m); k++) {
		fprintf(f, "%s", k ? "," : "");
		json_str(f, pn_metrics_ext_name(m, k, NULL));
		fprintf(f, ":%" PRIu64, s->ext[k]);
	}
	fputs("},", f);
	json_hist(f, "handler_ns", s->handler_ns);
	fputc(',', f);
	json_hist(f, "queue_ns", s->queue_ns);
	fputc('}', f);
}

static void json_actor(FILE *f, const struct pn_actor_metrics *a)
{
	fprintf(f,
		"{\"pid\":\"%#" PRIx64 "\",\"shard\":%u,\"behaviour\":", a->pid,
		a->shard);
	json_str(f, a->behaviour);
	fprintf(f,
		",\"samples\":%" PRIu64 ",\"messages_est\":%" PRIu64
		",\"handler_ns\":%" PRIu64 ",\"queue_ns\":%" PRIu64
		",\"handler_p99_ns\":%" PRIu64 ",\"queue_p99_ns\":%" PRIu64 "}",
		a->samples, a->messages_est, a->handler_ns, a->queue_ns,
		a->handler_p99_ns, a->queue_p99_ns);
}

/* The runtime-wide parts: the exact totals and the supervision counters. */
static void json_runtime(FILE *f, const struct pn_metrics *m)
{
	const struct pn_runtime_totals *t = pn_metrics_totals(m);
	const struct pn_supervision_stats *v = pn_metrics_supervision(m);

	fprintf(f,
		"\"totals\":{\"accepted\":%" PRIu64 ",\"handled\":%" PRIu64
		",\"dead_letters\":%" PRIu64 ",\"in_flight\":%" PRIu64
		",\"injected\":%" PRIu64 "},",
		t->accepted, t->handled, t->dead_letters, t->in_flight,
		t->injected);
	fprintf(f,
		"\"supervision\":{\"restarts\":%" PRIu64
		",\"escalations\":%" PRIu64 ",\"root_failures\":%" PRIu64
		",\"kills\":%" PRIu64 ",\"left_behind\":%" PRIu64
		",\"stalls\":%" PRIu64 "},",
		v->restarts, v->escalations, v->root_failures, v->kills,
		v->left_behind, v->stalls);
}

/* "topics":[...], after the shards' array closes (the caller's "],"). */
static void json_topics(FILE *f, const struct pn_metrics *m)
{
	const struct pn_topic_stats *t;
	unsigned n = pn_metrics_topics(m, &t);

	fputs("],\"topics\":[", f);
	for (unsigned i = 0; i < n; i++) {
		fputs(i ? ",{\"name\":" : "{\"name\":", f);
		json_str(f, t[i].name);
		fprintf(f,
			",\"home\":%u,\"published\":%" PRIu64
			",\"refused\":%" PRIu64 ",\"delivered\":%" PRIu64
			",\"filtered\":%" PRIu64 ",\"dropped\":%" PRIu64
			",\"conflated\":%" PRIu64 ",\"slots\":%" PRIu64
			",\"disconnects\":%" PRIu64 ",\"subscribers\":%u"
			",\"channels\":%u,\"lag_max\":%" PRIu64 "}",
			t[i].home, t[i].seq, t[i].refused, t[i].delivered,
			t[i].filtered, t[i].dropped, t[i].conflated, t[i].slots,
			t[i].disconnects, t[i].subscribers, t[i].channels,
			t[i].max_lag);
	}
}

int pn_metrics_json(const struct pn_metrics *m, FILE *f)
{
	const struct pn_actor_metrics *a;
	unsigned na = pn_metrics_actors(m, &a);

	fprintf(f, "{\"time_ns\":%" PRIu64 ",\"sample\":%u,",
		pn_metrics_time_ns(m), pn__metrics_sample(m));
	json_runtime(f, m);
	fputs("\"shards\":[", f);
	for (unsigned i = 0; i < pn_metrics_nshards(m); i++) {
		if (i)
			fputc(',', f);
		json_shard(f, m, i);
	}
	json_topics(f, m);
	fputs("],\"actors\":[", f);
	for (unsigned i = 0; i < na; i++) {
		if (i)
			fputc(',', f);
		json_actor(f, &a[i]);
	}
	fputs("]}\n", f);
	return ferror(f) ? pn__error(-EIO, "metrics: write error") : 0;
}

/* --- Prometheus --------------------------------------------------------- */

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP pinion_%s %s\n# TYPE pinion_%s %s\n", name, help,
		name, type);
}

/* One value per shard of a counter or gauge, read by @get. */
static void per_shard(FILE *f, const struct pn_metrics *m, const char *name,
		      const char *type, const char *help,
		      uint64_t (*get)(const struct pn_shard_metrics *s))
{
	head(f, name, type, help);
	for (unsigned i = 0; i < pn_metrics_nshards(m); i++)
		fprintf(f, "pinion_%s{shard=\"%u\"} %" PRIu64 "\n", name, i,
			get(pn_metrics_shard(m, i)));
}

#define GETTER(fn, expr)                                                       \
	static uint64_t fn(const struct pn_shard_metrics *s)                   \
	{                                                                      \
		return (expr);                                                 \
	}
GETTER(g_accepted, s->stats.accepted)
GETTER(g_handled, s->stats.handled)
GETTER(g_forwarded, s->stats.forwarded)
GETTER(g_overflowed, s->stats.overflowed)
GETTER(g_eagain, s->stats.eagain)
GETTER(g_obytes, s->stats.overflow_bytes)
GETTER(g_dead, s->stats.dead_letters)
GETTER(g_late, s->stats.late_replies)
GETTER(g_timers, s->stats.timers_fired)
GETTER(g_parks, s->stats.parks)
GETTER(g_wsent, s->stats.wakes_sent)
GETTER(g_wrcvd, s->wakes_received)
GETTER(g_spawned, s->stats.spawned)
GETTER(g_stopped, s->stats.stopped)
GETTER(g_actors, s->stats.actors)
GETTER(g_samples, s->samples)
GETTER(g_moves, s->migrate.moves)
GETTER(g_installs, s->migrate.installs)
GETTER(g_mforwarded, s->migrate.forwarded)
GETTER(g_bounced, s->migrate.bounced)

static const struct {
	const char *name, *type, *help;
	uint64_t (*get)(const struct pn_shard_metrics *s);
} simple[] = {
	{"accepted_total", "counter",
	 "Messages accepted here (sends, timers, io, the runtime's own).",
	 g_accepted},
	{"handled_total", "counter",
	 "Messages that ended here, consumed by a handler or the runtime.",
	 g_handled},
	{"forwarded_total", "counter",
	 "Messages queued again here (migration, early, held).", g_forwarded},
	{"overflowed_total", "counter",
	 "Sends that waited in an overflow queue.", g_overflowed},
	{"eagain_total", "counter", "Sends refused with -EAGAIN.", g_eagain},
	{"overflow_bytes", "gauge",
	 "Bytes waiting outside the rings (overflow and side queues).",
	 g_obytes},
	{"dead_letters_total", "counter", "Messages to dead actors.", g_dead},
	{"late_replies_total", "counter", "Replies after their timeout.",
	 g_late},
	{"timers_fired_total", "counter", "Timers fired.", g_timers},
	{"parks_total", "counter", "Times the shard went to sleep.", g_parks},
	{"wakeups_sent_total", "counter", "Wake-ups sent to parked shards.",
	 g_wsent},
	{"wakeups_received_total", "counter", "Wake-ups received.", g_wrcvd},
	{"spawned_total", "counter", "Actors started.", g_spawned},
	{"stopped_total", "counter", "Actors stopped.", g_stopped},
	{"actors", "gauge", "Actors alive.", g_actors},
	{"samples_total", "counter", "Sampled dispatches.", g_samples},
	{"migrate_moves_total", "counter", "Actors that migrated away.",
	 g_moves},
	{"migrate_installs_total", "counter", "Actors that migrated here.",
	 g_installs},
	{"migrate_forwarded_total", "counter",
	 "Messages forwarded as the receiver's home.", g_mforwarded},
	{"migrate_bounced_total", "counter",
	 "Messages sent back to the receiver's home.", g_bounced},
};

/* The runtime-wide parts (no shard label): the exact totals, which the
 * per-shard counts only approach (a moved message may end elsewhere), and
 * the supervision counters. */
static void prom_runtime(FILE *f, const struct pn_metrics *m)
{
	const struct pn_runtime_totals *t = pn_metrics_totals(m);
	const struct pn_supervision_stats *v = pn_metrics_supervision(m);
	const struct {
		const char *name, *type, *help;
		uint64_t v;
	} one[] = {
		{"runtime_accepted_total", "counter",
		 "Messages accepted (exact, every shard and producer).",
		 t->accepted},
		{"runtime_handled_total", "counter",
		 "Messages handled (exact).", t->handled},
		{"runtime_dead_letters_total", "counter",
		 "Messages dead-lettered (exact).", t->dead_letters},
		{"runtime_in_flight", "gauge",
		 "Messages queued, held, or in a handler now.", t->in_flight},
		{"runtime_injected_total", "counter",
		 "Messages accepted from external producers.", t->injected},
		{"supervision_restarts_total", "counter",
		 "Restart decisions (one per strategy run).", v->restarts},
		{"supervision_escalations_total", "counter",
		 "Supervisors that gave up.", v->escalations},
		{"supervision_root_failures_total", "counter",
		 "Root supervisors that gave up.", v->root_failures},
		{"supervision_kills_total", "counter",
		 "Children killed without cleanup.", v->kills},
		{"supervision_left_behind_total", "counter",
		 "Children whose shard was stuck.", v->left_behind},
		{"supervision_stalls_total", "counter", "Watchdog incidents.",
		 v->stalls},
	};

	for (size_t k = 0; k < sizeof(one) / sizeof(one[0]); k++) {
		head(f, one[k].name, one[k].type, one[k].help);
		fprintf(f, "pinion_%s %" PRIu64 "\n", one[k].name, one[k].v);
	}
}

static void prom_messages(FILE *f, const struct pn_metrics *m)
{
	unsigned n = pn_metrics_nshards(m);

	head(f, "messages_total", "counter",
	     "Messages handled, by where they came from.");
	for (unsigned i = 0; i < n; i++) {
		const struct pn_shard_metrics *s = pn_metrics_shard(m, i);

		fprintf(f,
			"pinion_messages_total{shard=\"%u\",kind=\"local\"} "
			"%" PRIu64 "\n"
			"pinion_messages_total{shard=\"%u\",kind=\"cross\"} "
			"%" PRIu64 "\n"
			"pinion_messages_total{shard=\"%u\",kind=\"external\"}"
			" %" PRIu64 "\n",
			i, s->handled_local, i, s->handled_cross, i,
			s->handled_ext);
	}
	head(f, "sent_total", "counter",
	     "Messages sent, by destination shard.");
	for (unsigned i = 0; i < n; i++)
		for (unsigned d = 0; d < n; d++)
			fprintf(f,
				"pinion_sent_total{shard=\"%u\",to=\"%u\"} "
				"%" PRIu64 "\n",
				i, d, pn_metrics_shard(m, i)->sent_to[d]);
	head(f, "ring_backlog_max", "gauge",
	     "High-water mark of an inbound ring's backlog, by source.");
	for (unsigned i = 0; i < n; i++) {
		const struct pn_shard_metrics *s = pn_metrics_shard(m, i);

		for (unsigned k = 0; k < s->nsources; k++)
			if (s->ring_hwm[k] || k < n)
				fprintf(f,
					"pinion_ring_backlog_max{shard=\"%u\","
					"source=\"%u\"} %u\n",
					i, k, s->ring_hwm[k]);
	}
}

/* @ns as seconds, exactly, without floating point (a scrape formats a few
 * hundred of these on the supervisor shard: integers are cheaper). */
static void secs(FILE *f, uint64_t ns)
{
	fprintf(f, "%" PRIu64 ".%09" PRIu64, ns / 1000000000u,
		ns % 1000000000u);
}

static void prom_time(FILE *f, const struct pn_metrics *m)
{
	head(f, "time_seconds_total", "counter",
	     "Shard thread time: busy, spinning idle, or parked.");
	for (unsigned i = 0; i < pn_metrics_nshards(m); i++) {
		const struct pn_shard_metrics *s = pn_metrics_shard(m, i);
		const char *st[3] = {"busy", "spin", "parked"};
		uint64_t v[3] = {s->busy_ns, s->spin_ns, s->parked_ns};

		for (int k = 0; k < 3; k++) {
			fprintf(f,
				"pinion_time_seconds_total{shard=\"%u\","
				"state=\"%s\"} ",
				i, st[k]);
			secs(f, v[k]);
			fputc('\n', f);
		}
	}
}

static void prom_hist(FILE *f, const struct pn_metrics *m, const char *name,
		      const char *help, bool queue)
{
	head(f, name, "histogram", help);
	for (unsigned i = 0; i < pn_metrics_nshards(m); i++) {
		const struct pn_shard_metrics *s = pn_metrics_shard(m, i);
		const struct pn_hist *h = queue ? s->queue_ns : s->handler_ns;

		/* 256 ns to 17 s by powers of four: exact bucket edges. */
		for (unsigned k = 8; k <= 34; k += 2) {
			fprintf(f, "pinion_%s_bucket{shard=\"%u\",le=\"", name,
				i);
			secs(f, 1ull << k);
			fprintf(f, "\"} %" PRIu64 "\n",
				pn_hist_count_below(h, 1ull << k));
		}
		fprintf(f,
			"pinion_%s_bucket{shard=\"%u\",le=\"+Inf\"} %" PRIu64
			"\npinion_%s_sum{shard=\"%u\"} ",
			name, i, pn_hist_count(h), name, i);
		secs(f, pn_hist_sum(h));
		fprintf(f, "\npinion_%s_count{shard=\"%u\"} %" PRIu64 "\n",
			name, i, pn_hist_count(h));
	}
}

static void prom_ext(FILE *f, const struct pn_metrics *m)
{
	for (unsigned k = 0; k < pn_metrics_ext_count(m); k++) {
		bool gauge;
		const char *n = pn_metrics_ext_name(m, k, &gauge);
		char name[80];

		snprintf(name, sizeof(name), "%s%s", n, gauge ? "" : "_total");
		head(f, name, gauge ? "gauge" : "counter",
		     "Registered source counter.");
		for (unsigned i = 0; i < pn_metrics_nshards(m); i++)
			fprintf(f, "pinion_%s{shard=\"%u\"} %" PRIu64 "\n",
				name, i, pn_metrics_shard(m, i)->ext[k]);
	}
}

/* Label values: escape \, " and newline (behaviour names are free). */
static void label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void prom_actors(FILE *f, const struct pn_metrics *m)
{
	static const char *const fam[4][2] = {
		{"actor_messages_total", "Messages handled (estimate)."},
		{"actor_samples_total", "Sampled dispatches."},
		{"actor_handler_seconds_total",
		 "Handler run time (estimate from samples)."},
		{"actor_queue_p99_seconds", "Sampled time-in-queue p99."},
	};
	const struct pn_actor_metrics *a;
	unsigned na = pn_metrics_actors(m, &a);
	uint32_t rate = pn__metrics_sample(m);

	if (na > TOP_ACTORS)
		na = TOP_ACTORS;
	for (int k = 0; k < 4; k++) {
		head(f, fam[k][0], k == 3 ? "gauge" : "counter", fam[k][1]);
		for (unsigned i = 0; i < na; i++) {
			/* Counts are integers; times are ns (k >= 2). */
			uint64_t v[4] = {a[i].messages_est, a[i].samples,
					 a[i].handler_ns * rate,
					 a[i].queue_p99_ns};

			fprintf(f,
				"pinion_%s{shard=\"%u\",actor=\"%#" PRIx64
				"\",behaviour=\"",
				fam[k][0], a[i].shard, a[i].pid);
			label(f, a[i].behaviour);
			fputs("\"} ", f);
			if (k >= 2)
				secs(f, v[k]);
			else
				fprintf(f, "%" PRIu64, v[k]);
			fputc('\n', f);
		}
	}
}

/* One family per topic counter, labelled by topic name and home. */
static void prom_topics(FILE *f, const struct pn_metrics *m)
{
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} fam[] = {
#define TF(n, t, h, fld) {n, t, h, offsetof(struct pn_topic_stats, fld)}
		TF("topic_published_total", "counter", "Messages numbered.",
		   seq),
		TF("topic_refused_total", "counter",
		   "Publishes refused (-EAGAIN).", refused),
		TF("topic_delivered_total", "counter",
		   "Handler runs, over every subscriber.", delivered),
		TF("topic_filtered_total", "counter",
		   "Deliveries a subscription's filter skipped.", filtered),
		TF("topic_dropped_total", "counter",
		   "Messages a slow channel lost.", dropped),
		TF("topic_conflated_total", "counter",
		   "Messages replaced by a newer one of their key.", conflated),
		TF("topic_slots_total", "counter",
		   "Ring slots sent (one per destination and class).", slots),
		TF("topic_disconnects_total", "counter",
		   "Subscriptions cut for being too slow.", disconnects),
		TF("topic_lag_max", "gauge",
		   "The slowest channel's messages not yet handled.", max_lag),
#undef TF
	};
	const struct pn_topic_stats *t;
	unsigned n = pn_metrics_topics(m, &t);

	if (!n)
		return;
	for (size_t k = 0; k < sizeof(fam) / sizeof(fam[0]); k++) {
		head(f, fam[k].name, fam[k].type, fam[k].help);
		for (unsigned i = 0; i < n; i++) {
			uint64_t v;

			memcpy(&v, (const char *)&t[i] + fam[k].off, sizeof(v));
			fprintf(f, "pinion_%s{topic=\"", fam[k].name);
			label(f, t[i].name);
			fprintf(f, "\",home=\"%u\"} %" PRIu64 "\n", t[i].home,
				v);
		}
	}
	head(f, "topic_subscribers", "gauge", "Subscriptions now.");
	for (unsigned i = 0; i < n; i++) {
		fputs("pinion_topic_subscribers{topic=\"", f);
		label(f, t[i].name);
		fprintf(f, "\",home=\"%u\"} %u\n", t[i].home, t[i].subscribers);
	}
}

int pn_metrics_prom(const struct pn_metrics *m, FILE *f)
{
	prom_runtime(f, m);
	prom_messages(f, m);
	prom_time(f, m);
	for (size_t k = 0; k < sizeof(simple) / sizeof(simple[0]); k++)
		per_shard(f, m, simple[k].name, simple[k].type, simple[k].help,
			  simple[k].get);
	prom_ext(f, m);
	prom_hist(f, m, "handler_seconds", "Sampled handler run time.", false);
	prom_hist(f, m, "queue_seconds", "Sampled time from send to dispatch.",
		  true);
	prom_actors(f, m);
	prom_topics(f, m);
	return ferror(f) ? pn__error(-EIO, "metrics: write error") : 0;
}
