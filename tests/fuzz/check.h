/* SPDX-License-Identifier: MIT */
/*
 * FUZZ_CHECK(): a property a harness expects, checked in every build (the
 * harnesses' checks are the point; NDEBUG must not remove them). A failed
 * one prints itself and aborts, and libFuzzer keeps the input as a crash.
 */
#ifndef PN_TESTS_FUZZ_CHECK_H
#define PN_TESTS_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz: check failed: %s at %s:%d\n",   \
				#cond, __FILE__, __LINE__);                    \
			abort();                                               \
		}                                                              \
	} while (0)

#endif /* PN_TESTS_FUZZ_CHECK_H */
