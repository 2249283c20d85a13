// SPDX-License-Identifier: MIT
/*
 * Fuzz topology/cpulist.c: pn_cpulist_parse() (public), pn__cpulist_check()
 * and pn__cpulist_to_cpuset() (internal), and pn__cpuset_format() on what
 * the latter produced, each against the reference parser (ref_cpulist.h).
 *
 * Input: byte 0 picks the bitmap size (nbits, low 5 bits, from a table of
 * edges) and the reason buffer's size (whylen, high 3 bits); the rest is
 * the list, as a NUL-terminated copy (a NUL inside ends it early, as it
 * would for any C caller).
 *
 * Properties: each function accepts exactly what the reference accepts at
 * its limit (nbits, or PN__CPU_LIMIT for the internal ones) and sets the
 * same cpus; a refused list leaves the bitmap and the cpuset untouched,
 * says why within whylen, and is refused with -EINVAL; nothing is written
 * past the bitmap's (nbits + 63) / 64 words; a bitmap past INT_MAX bits
 * (whose count an int cannot hold) is refused untouched, whatever the
 * list; the internal functions leave pn_last_error() alone; a formatted
 * cpuset reads back as the same set, and a cut one ends in "...".
 */
#include "check.h"
#include "fuzz.h"
#include "ref_cpulist.h"
#include "topology_int.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Around the words' edges, the library's limit, and past it; and bitmaps
 * too large for the int count, which must be refused untouched. */
#define BIG ((unsigned)INT_MAX + 1)
static const unsigned nbits_of[] = {
	0,    1,    2,	  7,	63,    64,    65,    127,    128, 129,
	1000, 1024, 4096, 8192, 65535, 65536, 65537, 100000, BIG, UINT_MAX,
};
_Static_assert(PN__CPU_LIMIT == 65536, "nbits_of[] names the limit");
#define NNBITS	 (sizeof(nbits_of) / sizeof(nbits_of[0]))
#define MAXBITS	 100000u
#define MAXWORDS ((MAXBITS + 63) / 64)
#define LIMWORDS ((PN__CPU_LIMIT + 63) / 64)

static const size_t whylen_of[8] = {96, 0, 1, 2, 7, 13, 40, 96};
#define WHYMAX 128
#define GUARD  0x5a

#define SENTINEL UINT64_C(0xa5a5a5a5a5a5a5a5)

/* hwloc_bitmap_to_ith_ulong() words are compared with uint64_t ones. */
_Static_assert(sizeof(unsigned long) == sizeof(uint64_t), "LP64");

/* One word past the largest bitmap: a write there is a bug ASan would
 * not see (it is inside the array). */
static uint64_t bits[MAXWORDS + 1];
static uint64_t ref[MAXWORDS];
static uint64_t ref_lim[LIMWORDS];
/* Large enough for any set below PN__CPU_LIMIT ("0,2,4,...,65534"). */
static char text[6 * PN__CPU_LIMIT];

static const char marker[] = "fuzz: untouched";

/* Nothing was written past @whylen bytes of the reason buffer; after a
 * refusal (@err) it holds a NUL-terminated reason (if it has room). */
static void check_why(const char *why, size_t whylen, int err)
{
	for (size_t i = whylen; i < WHYMAX; i++)
		FUZZ_CHECK((unsigned char)why[i] == GUARD);
	if (!err || whylen == 0)
		return;
	FUZZ_CHECK(memchr(why, '\0', whylen) != NULL);
	if (whylen > 1)
		FUZZ_CHECK(why[0] != '\0');
}

/* pn_cpulist_parse() of @list into @nbits bits; returns what it did. */
static int fuzz_parse(const char *list, unsigned nbits)
{
	unsigned nwords = (nbits + 63) / 64;
	bool ok;
	int n;

	if (nbits > INT_MAX) {
		for (unsigned i = 0; i <= MAXWORDS; i++)
			bits[i] = SENTINEL;
		n = pn_cpulist_parse(list, bits, nbits);
		FUZZ_CHECK(n == -EINVAL);
		for (unsigned i = 0; i <= MAXWORDS; i++)
			FUZZ_CHECK(bits[i] == SENTINEL);
		return n;
	}

	memset(ref, 0, nwords * sizeof(ref[0]));
	ok = ref_cpulist(list, nbits, ref);
	for (unsigned i = 0; i <= nwords; i++)
		bits[i] = SENTINEL;
	n = pn_cpulist_parse(list, bits, nbits);
	FUZZ_CHECK(bits[nwords] == SENTINEL);
	if (!ok) {
		FUZZ_CHECK(n == -EINVAL);
		for (unsigned i = 0; i < nwords; i++)
			FUZZ_CHECK(bits[i] == SENTINEL);
		FUZZ_CHECK(strncmp(pn_last_error(), "cpu list", 8) == 0);
		return n;
	}
	FUZZ_CHECK(n >= 0);
	FUZZ_CHECK((unsigned)n == ref_popcount(ref, nwords));
	FUZZ_CHECK(memcmp(bits, ref, nwords * sizeof(bits[0])) == 0);
	return n;
}

/* pn__cpuset_format() of @set into a buffer of @len: the whole list, or
 * its first len - 4 characters and "...". */
static void fuzz_format(hwloc_const_bitmap_t set, const char *whole, size_t len)
{
	char small[64];
	size_t n = strlen(whole);

	memset(small, GUARD, sizeof(small));
	pn__cpuset_format(set, small, len);
	for (size_t i = len; i < sizeof(small); i++)
		FUZZ_CHECK((unsigned char)small[i] == GUARD);
	if (len == 0)
		return;
	FUZZ_CHECK(memchr(small, '\0', len) != NULL);
	if (n < len) {
		FUZZ_CHECK(strcmp(small, whole) == 0);
	} else if (len > 4) {
		FUZZ_CHECK(strlen(small) == len - 1);
		FUZZ_CHECK(memcmp(small, whole, len - 4) == 0);
		FUZZ_CHECK(strcmp(small + len - 4, "...") == 0);
	}
}

static void fuzz_cpuset(const char *list, bool ok, size_t whylen)
{
	hwloc_bitmap_t set = hwloc_bitmap_alloc();
	char why[WHYMAX];
	int n;

	/* Out of memory: nothing to learn. */
	if (!set)
		return;
	hwloc_bitmap_only(set, 3); /* what a refused list must leave */
	memset(why, GUARD, sizeof(why));
	n = pn__cpulist_to_cpuset(list, set, why, whylen);
	check_why(why, whylen, n < 0);
	if (!ok) {
		FUZZ_CHECK(n == -EINVAL);
		FUZZ_CHECK(hwloc_bitmap_weight(set) == 1 &&
			   hwloc_bitmap_isset(set, 3));
		hwloc_bitmap_free(set);
		return;
	}
	FUZZ_CHECK(n > 0);
	FUZZ_CHECK((unsigned)n == ref_popcount(ref_lim, LIMWORDS));
	FUZZ_CHECK(hwloc_bitmap_last(set) < (int)PN__CPU_LIMIT);
	for (unsigned w = 0; w < LIMWORDS; w++)
		FUZZ_CHECK(hwloc_bitmap_to_ith_ulong(set, w) == ref_lim[w]);
	/* The set formatted in full reads back as itself. */
	pn__cpuset_format(set, text, sizeof(text));
	memset(ref_lim, 0, sizeof(ref_lim));
	FUZZ_CHECK(ref_cpulist(text, PN__CPU_LIMIT, ref_lim));
	for (unsigned w = 0; w < LIMWORDS; w++)
		FUZZ_CHECK(hwloc_bitmap_to_ith_ulong(set, w) == ref_lim[w]);
	fuzz_format(set, text, whylen < 64 ? whylen : 64);
	hwloc_bitmap_free(set);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned nbits;
	size_t whylen;
	char why[WHYMAX];
	char *list;
	bool ok;
	int n, err;

	if (size == 0)
		return 0;
	nbits = nbits_of[(data[0] & 31) % NNBITS];
	whylen = whylen_of[data[0] >> 5];
	list = malloc(size);
	if (!list)
		return 0;
	memcpy(list, data + 1, size - 1);
	list[size - 1] = '\0';

	n = fuzz_parse(list, nbits);

	/* The internal ones, at the library's own limit. */
	memset(ref_lim, 0, sizeof(ref_lim));
	ok = ref_cpulist(list, PN__CPU_LIMIT, ref_lim);
	pn__error(-EINVAL, "%s", marker);
	memset(why, GUARD, sizeof(why));
	err = pn__cpulist_check(list, why, whylen);
	FUZZ_CHECK(err == (ok ? 0 : -EINVAL));
	check_why(why, whylen, err);
	fuzz_cpuset(list, ok, whylen);
	FUZZ_CHECK(strcmp(pn_last_error(), marker) == 0);

	/* What one accepts the other does, as far as their limits agree. */
	if (nbits <= PN__CPU_LIMIT && n >= 0)
		FUZZ_CHECK(err == 0);
	if (nbits >= PN__CPU_LIMIT && nbits <= INT_MAX && err == 0)
		FUZZ_CHECK(n >= 0);
	free(list);
	return 0;
}
