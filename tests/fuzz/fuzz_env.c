// SPDX-License-Identifier: MIT
/*
 * Fuzz the environment parsers: topology's pn_plan_config_from_env()
 * (PINION_SHARDS, PINION_CORES, PINION_SUPERVISOR_CORE, PINION_SMT) and
 * core's pn_config_from_env() (those, then PINION_BUSY_POLL,
 * PINION_SPIN_NS, PINION_RING_SLOTS, PINION_METRICS_SAMPLE), against a
 * reference written from their documentation (pn_topology.h, pn_core.h).
 *
 * Input: one line per variable, in the order above; a variable past the
 * last line is unset, an empty line sets it to "" (which reads as unset).
 * A value is cut at VALUE_MAX bytes and at a NUL.
 *
 * Properties: a call succeeds exactly when the reference accepts every
 * variable, and then sets the fields the reference computed and no other;
 * otherwise it returns -EINVAL, leaves the config byte for byte as it was,
 * and pn_last_error() starts with "<first bad variable>=<its value>" (the
 * variables are judged in the order above).
 *
 * The variables are set with putenv() on buffers of this file rather than
 * setenv(): glibc keeps every string setenv() ever made (a value may still
 * be in use), so millions of runs would grow without bound.
 */
#include "check.h"
#include "fuzz.h"
#include "pinion.h"
#include "ref_cpulist.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* PINION_CORES' syntax limit (topology_int.h's PN__CPU_LIMIT): the
 * reference states it rather than include topology's internal header. */
#define CPU_LIMIT  65536u
#define CORES_SIZE sizeof(((struct pn_plan_config *)0)->cores)
#define VALUE_MAX  300 /* past CORES_SIZE - 1, to reach that check */

enum {
	V_SHARDS,
	V_CORES,
	V_SUPERVISOR,
	V_SMT,
	V_PLAN, /* the variables above are the plan's */
	V_BUSY_POLL = V_PLAN,
	V_SPIN_NS,
	V_RING_SLOTS,
	V_METRICS_SAMPLE,
	NVARS
};

static const char *const names[NVARS] = {
	"PINION_SHARDS",     "PINION_CORES",	      "PINION_SUPERVISOR_CORE",
	"PINION_SMT",	     "PINION_BUSY_POLL",      "PINION_SPIN_NS",
	"PINION_RING_SLOTS", "PINION_METRICS_SAMPLE",
};

/* "NAME=value" for putenv(); environ points into these while set. */
static char entry[NVARS][32 + VALUE_MAX + 1];

/* What the reference makes of the input. */
struct ref {
	const char *value[NVARS]; /* NULL: unset or empty */
	bool ok[NVARS];
	uint64_t v[NVARS]; /* the number (V_CORES: unused, V_SMT: enum) */
};

/* Decimal digits only, in [@lo, @hi]. */
static bool ref_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	uint64_t v = 0;
	bool big = false;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v >= UINT64_C(1000000000000000000))
			big = true; /* past every range below */
		else
			v = v * 10 + (uint64_t)(*s - '0');
	}
	if (big || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static bool ref_var(unsigned i, const char *s, uint64_t *v)
{
	switch (i) {
	case V_SHARDS:
		return ref_u64(s, 1, CPU_LIMIT, v);
	case V_CORES: /* it must fit struct pn_plan_config's cores[] */
		return strlen(s) < CORES_SIZE &&
		       ref_cpulist(s, CPU_LIMIT, NULL);
	case V_SUPERVISOR:
		return ref_u64(s, 0, CPU_LIMIT - 1, v);
	case V_SMT:
		*v = !strcmp(s, "on") ? PN_SMT_ON : PN_SMT_OFF;
		return !strcmp(s, "on") || !strcmp(s, "off");
	case V_BUSY_POLL:
		return ref_u64(s, 0, 1, v);
	case V_SPIN_NS:
		return ref_u64(s, 0, UINT64_C(10000000000), v);
	case V_RING_SLOTS:
		return ref_u64(s, 2, 1u << 20, v) && !(*v & (*v - 1));
	default:
		return ref_u64(s, 0, 1u << 30, v);
	}
}

/* Split the input into the variables, set them, and judge them. */
static void set_env(const uint8_t *data, size_t size, struct ref *r)
{
	size_t off = 0;
	bool more = true; /* a line starts at @off */

	memset(r, 0, sizeof(*r));
	for (unsigned i = 0; i < NVARS; i++) {
		size_t head = strlen(names[i]) + 1, len = 0;
		char *val = entry[i] + head;

		if (!more) {
			unsetenv(names[i]);
			r->ok[i] = true;
			continue;
		}
		while (off + len < size && data[off + len] != '\n')
			len++;
		more = off + len < size; /* stopped at a newline */
		memcpy(entry[i], names[i], head - 1);
		entry[i][head - 1] = '=';
		memcpy(val, data + off, len < VALUE_MAX ? len : VALUE_MAX);
		val[len < VALUE_MAX ? len : VALUE_MAX] = '\0';
		off += len + 1;
		FUZZ_CHECK(putenv(entry[i]) == 0);
		r->value[i] = *val ? val : NULL;
		r->ok[i] = !r->value[i] || ref_var(i, val, &r->v[i]);
	}
}

/* The first variable below @n the reference refuses, or -1. */
static int first_bad(const struct ref *r, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (!r->ok[i])
			return (int)i;
	return -1;
}

/* pn_last_error() after a refusal of variable @bad. */
static void check_error(const struct ref *r, int bad)
{
	const char *e = pn_last_error();
	size_t n = strlen(names[bad]);

	FUZZ_CHECK(strncmp(e, names[bad], n) == 0 && e[n] == '=');
	/* The value as given (the ring's power-of-two check prints it as a
	 * number, the long-cores one its first 32 characters). */
	if (bad != V_RING_SLOTS)
		FUZZ_CHECK(strncmp(e + n + 1, r->value[bad],
				   strnlen(r->value[bad], 32)) == 0);
	FUZZ_CHECK(strstr(e, ": ") != NULL);
}

/* A config off every default, so that a field the call sets shows. */
static void plan_custom(struct pn_plan_config *c)
{
	pn_plan_config_init(c);
	c->shards = 3;
	strcpy(c->cores, "1-2");
	c->supervisor_core = 7;
	c->smt = PN_SMT_OFF;
}

/* @c after a successful call, against @before and the reference. */
static void check_plan(const struct pn_plan_config *c,
		       const struct pn_plan_config *before, const struct ref *r)
{
	const char *const *val = r->value;

	FUZZ_CHECK(c->shards ==
		   (val[V_SHARDS] ? r->v[V_SHARDS] : before->shards));
	FUZZ_CHECK(
		!strcmp(c->cores, val[V_CORES] ? val[V_CORES] : before->cores));
	FUZZ_CHECK(c->supervisor_core == (val[V_SUPERVISOR]
						  ? (int)r->v[V_SUPERVISOR]
						  : before->supervisor_core));
	FUZZ_CHECK(c->smt ==
		   (val[V_SMT] ? (enum pn_smt)r->v[V_SMT] : before->smt));
}

static void fuzz_plan(const struct ref *r)
{
	struct pn_plan_config c, before;
	int bad = first_bad(r, V_PLAN), err;

	memset(&c, 0, sizeof(c));
	plan_custom(&c);
	memcpy(&before, &c, sizeof(c)); /* padding too: memcmp() below */
	err = pn_plan_config_from_env(&c);
	if (bad >= 0) {
		FUZZ_CHECK(err == -EINVAL);
		FUZZ_CHECK(memcmp(&c, &before, sizeof(c)) == 0);
		check_error(r, bad);
		return;
	}
	FUZZ_CHECK(err == 0);
	check_plan(&c, &before, r);
}

static void fuzz_core(const struct ref *r)
{
	struct pn_config c, before;
	const char *const *val = r->value;
	int bad = first_bad(r, NVARS), err;

	memset(&c, 0, sizeof(c));
	pn_config_init(&c);
	plan_custom(&c.plan);
	c.busy_poll = true;
	c.spin_ns = 123;
	c.ring_slots = 64;
	c.metrics_sample = 5;
	memcpy(&before, &c, sizeof(c)); /* padding too: memcmp() below */
	err = pn_config_from_env(&c);
	if (bad >= 0) {
		FUZZ_CHECK(err == -EINVAL);
		FUZZ_CHECK(memcmp(&c, &before, sizeof(c)) == 0);
		check_error(r, bad);
		return;
	}
	FUZZ_CHECK(err == 0);
	check_plan(&c.plan, &before.plan, r);
	FUZZ_CHECK(c.busy_poll == (val[V_BUSY_POLL] ? r->v[V_BUSY_POLL] != 0
						    : before.busy_poll));
	FUZZ_CHECK(c.spin_ns ==
		   (val[V_SPIN_NS] ? r->v[V_SPIN_NS] : before.spin_ns));
	FUZZ_CHECK(c.ring_slots == (val[V_RING_SLOTS] ? r->v[V_RING_SLOTS]
						      : before.ring_slots));
	FUZZ_CHECK(c.metrics_sample == (val[V_METRICS_SAMPLE]
						? r->v[V_METRICS_SAMPLE]
						: before.metrics_sample));
	/* A field no variable names is as it was. */
	FUZZ_CHECK(c.batch == before.batch &&
		   c.max_actors == before.max_actors &&
		   c.timer_tick_ns == before.timer_tick_ns &&
		   c.overflow_bytes == before.overflow_bytes &&
		   c.stage_ns[PN_STAGE_JOIN] == before.stage_ns[PN_STAGE_JOIN]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ref r;

	set_env(data, size, &r);
	fuzz_plan(&r);
	fuzz_core(&r);
	return 0;
}
