// SPDX-License-Identifier: MIT
/*
 * What makes a result reproducible: the CPU model, the cpus used, kernel,
 * SMT, frequency governor, build mode and commit, printed as one "context:"
 * line at the start of a run. Also the runtime set-up every Pinion
 * repetition shares (bench_rt_start), so that raw baselines and the runtime
 * get their cpus from the same plan.
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#ifndef PN_BENCH_MODE
#ifdef NDEBUG
#define PN_BENCH_MODE "release?"
#else
#define PN_BENCH_MODE "debug?"
#endif
#endif

/* First line of @path without its newline, or @dflt. */
static void read_line(const char *path, char *buf, size_t len, const char *dflt)
{
	FILE *f = fopen(path, "r");

	snprintf(buf, len, "%s", dflt);
	if (!f)
		return;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = '\0';
	else
		snprintf(buf, len, "%s", dflt);
	fclose(f);
}

static void cpu_model(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256], *colon;

	snprintf(buf, len, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "model name", 10) != 0)
			continue;
		colon = strchr(line, ':');
		if (!colon)
			continue;
		colon += strspn(colon, ": \t");
		colon[strcspn(colon, "\n")] = '\0';
		snprintf(buf, len, "%s", colon);
		break;
	}
	fclose(f);
}

/*
 * The commit the binary was built from: asked of git in the source tree at
 * run time (so an uncommitted tree says "-dirty"), else the compile-time
 * PN_GIT_COMMIT, else "unknown".
 */
static void git_commit(char *buf, size_t len)
{
#ifdef PN_BENCH_SRCDIR
	FILE *p = popen("git -C '" PN_BENCH_SRCDIR "' describe --always "
			"--dirty --abbrev=7 --exclude='*' 2>/dev/null",
			"r");

	if (p) {
		char line[64] = "";

		if (fgets(line, sizeof(line), p))
			line[strcspn(line, "\n")] = '\0';
		if (pclose(p) == 0 && line[0]) {
			snprintf(buf, len, "%s", line);
			return;
		}
	}
#endif
#ifdef PN_GIT_COMMIT
	snprintf(buf, len, "%s", PN_GIT_COMMIT);
#else
	snprintf(buf, len, "unknown");
#endif
}

static const char *smt_state(const struct bench_cpus *c)
{
	char buf[16];

	read_line("/sys/devices/system/cpu/smt/active", buf, sizeof(buf), "");
	if (!strcmp(buf, "1"))
		return "on";
	if (!strcmp(buf, "0"))
		return "off";
	if (c->topo && pn_topology_npus(c->topo) > pn_topology_ncores(c->topo))
		return "on";
	return "off";
}

void bench_context(const struct bench_opts *o, const struct bench_cpus *c)
{
	char model[128], gov[64], commit[64], cpus[32];
	struct utsname u;

	cpu_model(model, sizeof(model));
	read_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", gov,
		  sizeof(gov), "unreadable");
	git_commit(commit, sizeof(commit));
	bench_cpus_str(c, c->n, cpus, sizeof(cpus));
	if (uname(&u) != 0)
		memset(&u, 0, sizeof(u));
	bench_note(o, "context",
		   "cpu=\"%s\" cpus=%s online_cpus=%u kernel=\"%s %s %s\" "
		   "smt=%s governor=%s mode=%s commit=%s",
		   model, cpus, c->topo ? pn_topology_npus(c->topo) : 0,
		   u.sysname, u.release, u.machine, smt_state(c), gov,
		   PN_BENCH_MODE, commit);
}

/* --- the runtime --------------------------------------------------------- */

int bench_rt_start(const struct bench_opts *o, unsigned shards, bool busy,
		   struct pn_runtime **out)
{
	struct pn_runtime *rt = NULL;
	struct pn_config c;
	int err;

	(void)o;
	pn_config_init(&c);
	err = pn_config_from_env(&c);
	if (err < 0) {
		fprintf(stderr, "pinion-bench: %s\n", pn_last_error());
		return err;
	}
	c.plan.shards = shards;
	c.busy_poll = busy;
	/* latency's open-loop client sends each request when it is due, on
	 * a timer: at the default 100 us tick, requests due between ticks
	 * would leave late and the histogram would measure the tick. A
	 * latency-sensitive deployment sets the tick the same way. */
	c.timer_tick_ns = 1000;
	err = pn_runtime_create(&c, &rt);
	if (err < 0) {
		fprintf(stderr, "pinion-bench: runtime: %s (%s)\n",
			strerror(-err), pn_last_error());
		return err;
	}
	err = bench_scrape_prepare(rt);
	if (!err)
		err = pn_runtime_start(rt);
	if (err < 0) {
		fprintf(stderr, "pinion-bench: start: %s (%s)\n",
			strerror(-err), pn_last_error());
		pn_runtime_destroy(rt);
		return err;
	}
	if ((err = bench_scrape_start(rt)) < 0) {
		bench_rt_stop(rt);
		return err;
	}
	*out = rt;
	return 0;
}

void bench_rt_stop(struct pn_runtime *rt)
{
	struct pn_shutdown_report rep;
	int err;

	if (!rt)
		return;
	bench_scrape_stop();
	err = pn_runtime_shutdown(rt, 5000000000ull, &rep);
	if (err < 0)
		fprintf(stderr, "pinion-bench: shutdown: %s\n%s",
			strerror(-err), rep.text);
	pn_runtime_destroy(rt);
}

/*
 * The cpus a run with @shards shards uses (0: the plan's choice), from the
 * same plan the runtime makes: the topology, PINION_* environment and
 * pn_plan_create(). The raw baselines pin to these.
 */
int bench_cpus_plan(unsigned shards, struct bench_cpus *out)
{
	static struct pn_topology *topo;
	struct pn_plan *plan = NULL;
	struct pn_config c;
	int err;

	memset(out, 0, sizeof(*out));
	if (!topo) {
		err = pn_topology_load(&topo);
		if (err < 0) {
			fprintf(stderr, "pinion-bench: topology: %s\n",
				pn_last_error());
			return err;
		}
	}
	pn_config_init(&c);
	err = pn_config_from_env(&c);
	if (err >= 0) {
		c.plan.shards = shards;
		err = pn_plan_create(topo, &c.plan, &plan);
	}
	if (err < 0) {
		fprintf(stderr, "pinion-bench: plan: %s\n", pn_last_error());
		return err;
	}
	out->topo = topo;
	out->n = plan->nshards < 2 ? plan->nshards : 2;
	for (unsigned i = 0; i < out->n; i++)
		out->cpu[i] = plan->shard[i].cpu;
	pn_plan_destroy(plan);
	return 0;
}
