// SPDX-License-Identifier: MIT
/*
 * pinion-topo: print the machine as Pinion sees it and the placement plan
 * the runtime would make under the current PINION_* environment, as a table
 * or as JSON. It runs the same code path as start-up (load, config from the
 * environment, plan), so what it prints is what a shard would get, and a
 * setting it rejects is one start-up would reject with the same words.
 */
#include "pn_topology.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

/* Exit statuses: 1 when the machine cannot be read, 2 for a bad request. */
enum { EXIT_LOAD = 1, EXIT_USAGE = 2 };

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pinion-topo [--json] [--synthetic DESC]\n"
		"Print this machine's topology and Pinion's placement plan.\n"
		"\n"
		"  --json            one JSON object instead of the table\n"
		"  --synthetic DESC  plan for an hwloc synthetic topology,\n"
		"                    e.g. \"pack:2 core:8 pu:2\"\n"
		"  --help            this text\n"
		"\n"
		"The plan follows PINION_SHARDS (count), PINION_CORES (cpu "
		"list),\n"
		"PINION_SUPERVISOR_CORE (cpu) and PINION_SMT (on|off).\n"
		"Exit status: 0 ok, 1 topology not loaded, 2 bad option or "
		"setting.\n");
}

struct options {
	bool json;
	const char *synthetic;
};

/* Returns -1 to go on, or the exit status to stop with. */
static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"synthetic", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int opt;

	/* Single-threaded here: getopt's global state is safe. */
	while ((opt = getopt_long(argc, argv, "js:h", longopts, // NOLINT
				  NULL)) != -1) {
		switch (opt) {
		case 'j':
			o->json = true;
			break;
		case 's':
			o->synthetic = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pinion-topo: unexpected argument \"%s\"\n",
			argv[optind]);
		return EXIT_USAGE;
	}
	return -1;
}

/* Report a failed call the way start-up would, and pick the exit status. */
static int fail(int err)
{
	fprintf(stderr, "pinion-topo: %s\n", pn_last_error());
	return err == -EINVAL ? EXIT_USAGE : EXIT_LOAD;
}

int main(int argc, char **argv)
{
	struct options o = {0};
	struct pn_plan_config cfg;
	struct pn_topology *t = NULL;
	struct pn_plan *p = NULL;
	int err, status;

	status = parse_args(argc, argv, &o);
	if (status >= 0)
		return status;
	/* The environment first: a bad setting is reported even where the
	 * machine could not be read. */
	pn_plan_config_init(&cfg);
	err = pn_plan_config_from_env(&cfg);
	if (err)
		return fail(err);
	err = o.synthetic ? pn_topology_load_synthetic(o.synthetic, &t)
			  : pn_topology_load(&t);
	if (!err)
		err = pn_plan_create(t, &cfg, &p);
	if (err) {
		status = fail(err);
	} else {
		if (o.json)
			pn_plan_print_json(stdout, t, p);
		else
			pn_plan_print(stdout, t, p);
		status = fflush(stdout) ? EXIT_LOAD : 0;
	}
	pn_plan_destroy(p);
	pn_topology_destroy(t);
	return status;
}
