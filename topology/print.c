// SPDX-License-Identifier: MIT
/*
 * Showing a topology and a plan to people and to programs: the table that
 * pinion-topo prints and the JSON object with the same content. Both read
 * only the flat arrays of struct pn_topology and the plan, so output
 * follows the plan's determinism: same machine and config, same bytes.
 */
#include "topology_int.h"

#include <stdio.h>

/* "32 KiB", "1 MiB": caches are powers of two times small numbers. */
static void size_format(unsigned long size, char *buf, size_t len)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB"};
	unsigned u = 0;

	while (u < 3 && size >= 1024 && size % 1024 == 0) {
		size /= 1024;
		u++;
	}
	snprintf(buf, len, "%lu %s", size, unit[u]);
}

static const char *plural(unsigned n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/*
 * One line per run of caches of the same level, type and size, listing the
 * cpu set each instance serves, wrapped to 80 columns.
 */
static unsigned print_cache_run(FILE *f, const struct pn_topology *t,
				unsigned i)
{
	const struct pn_cache_info *c = &t->cache[i];
	unsigned j = i, col, indent;
	char size[32];

	while (j < t->ncaches && t->cache[j].level == c->level &&
	       t->cache[j].type == c->type && t->cache[j].size == c->size)
		j++;
	size_format(c->size, size, sizeof(size));
	col = (unsigned)fprintf(f, "  L%d%c %8s x%-3u cpus:", c->level, c->type,
				size, j - i);
	indent = col;
	for (unsigned k = i; k < j; k++) {
		unsigned w =
			(unsigned)snprintf(NULL, 0, " {%s}", t->cache[k].cpus);

		if (col + w > 80 && k > i)
			col = (unsigned)fprintf(f, "\n%*s", (int)indent, "") -
			      1;
		col += (unsigned)fprintf(f, " {%s}", t->cache[k].cpus);
	}
	fputc('\n', f);
	return j;
}

static void print_machine(FILE *f, const struct pn_topology *t)
{
	char allowed[256];

	pn__cpuset_format(t->allowed, allowed, sizeof(allowed));
	fprintf(f, "machine%s: %u %s, %u NUMA %s, %u %s, %u %s\n",
		t->synthetic ? " (synthetic)" : "", t->npackages,
		plural(t->npackages, "package", "packages"), t->nnuma,
		plural(t->nnuma, "node", "nodes"), t->ncores,
		plural(t->ncores, "core", "cores"), t->npus,
		plural(t->npus, "PU", "PUs"));
	fprintf(f, "allowed cpus: %s\n", allowed);
	if (!t->ncaches)
		fprintf(f, "caches: none reported\n");
	else
		fprintf(f, "caches:\n");
	for (unsigned i = 0; i < t->ncaches;)
		i = print_cache_run(f, t, i);
}

/* The supervisor's core and package, which the plan does not store. */
static void supervisor_info(const struct pn_topology *t,
			    const struct pn_plan *p, int *core, int *package)
{
	const struct pn_cpu_info *ci = pn__topology_find(t, p->supervisor_cpu);

	*core = ci ? ci->core : -1;
	*package = ci ? ci->package : -1;
}

void pn_plan_print(FILE *f, const struct pn_topology *t,
		   const struct pn_plan *p)
{
	int core, package;

	print_machine(f, t);
	fprintf(f, "plan: %u %s, SMT siblings %s\n", p->nshards,
		plural(p->nshards, "shard", "shards"),
		p->smt ? "used" : "unused");
	fprintf(f, "  %5s %5s %5s %5s %7s\n", "shard", "cpu", "core", "numa",
		"package");
	for (unsigned i = 0; i < p->nshards; i++)
		fprintf(f, "  %5u %5d %5d %5d %7d\n", i, p->shard[i].cpu,
			p->shard[i].core, p->shard[i].numa_node,
			p->shard[i].package);
	supervisor_info(t, p, &core, &package);
	fprintf(f, "supervisor: cpu %d, core %d, numa %d, package %d%s\n",
		p->supervisor_cpu, core, p->supervisor_numa_node, package,
		p->supervisor_shared ? " (shared)" : "");
	fprintf(f, "note: %s\n", p->note);
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void json_machine(FILE *f, const struct pn_topology *t)
{
	char allowed[256];

	pn__cpuset_format(t->allowed, allowed, sizeof(allowed));
	fprintf(f,
		"  \"machine\": {\n    \"synthetic\": %s,\n"
		"    \"packages\": %u,\n    \"numa_nodes\": %u,\n"
		"    \"cores\": %u,\n    \"pus\": %u,\n    \"allowed\": ",
		t->synthetic ? "true" : "false", t->npackages, t->nnuma,
		t->ncores, t->npus);
	json_str(f, allowed);
	fprintf(f, ",\n    \"caches\": [");
	for (unsigned i = 0; i < t->ncaches; i++) {
		const struct pn_cache_info *c = &t->cache[i];

		fprintf(f,
			"%s\n      {\"level\": %d, \"type\": \"%c\", "
			"\"size\": %lu, \"cpus\": ",
			i ? "," : "", c->level, c->type, c->size);
		json_str(f, c->cpus);
		fputc('}', f);
	}
	fprintf(f, "%s]\n  },\n", t->ncaches ? "\n    " : "");
}

void pn_plan_print_json(FILE *f, const struct pn_topology *t,
			const struct pn_plan *p)
{
	int core, package;

	fprintf(f, "{\n");
	json_machine(f, t);
	fprintf(f, "  \"plan\": {\n    \"nshards\": %u,\n    \"smt\": %s,\n",
		p->nshards, p->smt ? "true" : "false");
	fprintf(f, "    \"shards\": [");
	for (unsigned i = 0; i < p->nshards; i++)
		fprintf(f,
			"%s\n      {\"shard\": %u, \"cpu\": %d, \"core\": %d, "
			"\"numa_node\": %d, \"package\": %d}",
			i ? "," : "", i, p->shard[i].cpu, p->shard[i].core,
			p->shard[i].numa_node, p->shard[i].package);
	supervisor_info(t, p, &core, &package);
	fprintf(f,
		"\n    ],\n    \"supervisor\": {\"cpu\": %d, \"core\": %d, "
		"\"numa_node\": %d, \"package\": %d, \"shared\": %s},\n"
		"    \"note\": ",
		p->supervisor_cpu, core, p->supervisor_numa_node, package,
		p->supervisor_shared ? "true" : "false");
	json_str(f, p->note);
	fprintf(f, "\n  }\n}\n");
}
