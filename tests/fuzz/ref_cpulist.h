/* SPDX-License-Identifier: MIT */
/*
 * A reference cpu-list parser the harnesses compare topology/'s with,
 * written from the syntax alone: a non-empty list of comma-separated
 * items, each a decimal number or a range "lo-hi" with lo <= hi, every
 * number below a limit, nothing else (no sign, no space, no empty item).
 * It cuts the list at commas and dashes with the standard library and
 * shares no code with topology/cpulist.c: slow and plain on purpose.
 */
#ifndef PN_TESTS_FUZZ_REF_CPULIST_H
#define PN_TESTS_FUZZ_REF_CPULIST_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Whether @list is a valid cpu list with every number below @limit. When
 * it is and @bits is not NULL, set the bit of every cpu it names in @bits
 * ((limit + 63) / 64 words, cleared by the caller); when it is not, @bits
 * may have been written.
 */
bool ref_cpulist(const char *list, unsigned limit, uint64_t *bits);

/* The number of bits set in @bits[0..nwords). */
unsigned ref_popcount(const uint64_t *bits, unsigned nwords);

#endif /* PN_TESTS_FUZZ_REF_CPULIST_H */
