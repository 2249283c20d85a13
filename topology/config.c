// SPDX-License-Identifier: MIT
/*
 * The plan's configuration: its defaults and the PINION_* environment
 * variables that override them. Only syntax is judged here; whether a cpu
 * exists or is allowed depends on the topology, so pn_plan_create() checks
 * that. Every rejection names the variable and its value, and nothing is
 * applied unless every variable is good.
 */
#include "topology_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void pn_plan_config_init(struct pn_plan_config *c)
{
	memset(c, 0, sizeof(*c));
	c->supervisor_core = -1;
	c->smt = PN_SMT_DEFAULT;
}

/*
 * The variable's value, or NULL when it is unset or empty ("leave alone").
 * getenv() races only with setenv(); configuration is read at start-up.
 */
static const char *env(const char *name)
{
	const char *v = getenv(name); // NOLINT(concurrency-mt-unsafe)

	return v && *v ? v : NULL;
}

/* A decimal number in [0, @max], through the one strict parser
 * (pn_parse_u64). Returns 0, or -EINVAL with *@why set. */
static int parse_uint(const char *s, unsigned max, unsigned *out,
		      const char **why)
{
	uint64_t v;

	if (pn_parse_u64(s, 0, max, &v, why) < 0) {
		if (!strcmp(*why, "out of range"))
			*why = "too large";
		return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

static int env_shards(struct pn_plan_config *c)
{
	const char *v = env("PINION_SHARDS"), *why;
	unsigned n;

	if (!v)
		return 0;
	if (parse_uint(v, PN__CPU_LIMIT, &n, &why))
		return pn__error(-EINVAL,
				 "PINION_SHARDS=%.64s: %s (expected a positive "
				 "integer, at most %u)",
				 v, why, PN__CPU_LIMIT);
	if (n == 0)
		return pn__error(
			-EINVAL,
			"PINION_SHARDS=%.64s: expected a positive integer "
			"(unset it to get one shard per core)",
			v);
	c->shards = n;
	return 0;
}

static int env_cores(struct pn_plan_config *c)
{
	const char *v = env("PINION_CORES");
	char why[96];

	if (!v)
		return 0;
	if (strlen(v) >= sizeof(c->cores))
		return pn__error(-EINVAL,
				 "PINION_CORES=%.32s...: longer than %zu "
				 "characters",
				 v, sizeof(c->cores) - 1);
	if (pn__cpulist_check(v, why, sizeof(why)))
		return pn__error(-EINVAL,
				 "PINION_CORES=%.64s: %s (expected a cpu list "
				 "such as 0-3,8)",
				 v, why);
	strcpy(c->cores, v);
	return 0;
}

static int env_supervisor(struct pn_plan_config *c)
{
	const char *v = env("PINION_SUPERVISOR_CORE"), *why;
	unsigned n;

	if (!v)
		return 0;
	if (parse_uint(v, PN__CPU_LIMIT - 1, &n, &why))
		return pn__error(-EINVAL,
				 "PINION_SUPERVISOR_CORE=%.64s: %s (expected a "
				 "cpu number, 0 to %u)",
				 v, why, PN__CPU_LIMIT - 1);
	c->supervisor_core = (int)n;
	return 0;
}

static int env_smt(struct pn_plan_config *c)
{
	const char *v = env("PINION_SMT");

	if (!v)
		return 0;
	if (!strcmp(v, "on"))
		c->smt = PN_SMT_ON;
	else if (!strcmp(v, "off"))
		c->smt = PN_SMT_OFF;
	else
		return pn__error(-EINVAL,
				 "PINION_SMT=%.64s: expected on or off", v);
	return 0;
}

int pn_plan_config_from_env(struct pn_plan_config *c)
{
	struct pn_plan_config next = *c;
	int err;

	/* Work on a copy: a bad variable must leave @c exactly as it was. */
	err = env_shards(&next);
	if (!err)
		err = env_cores(&next);
	if (!err)
		err = env_supervisor(&next);
	if (!err)
		err = env_smt(&next);
	if (!err)
		*c = next;
	return err;
}
