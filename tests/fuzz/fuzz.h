/* SPDX-License-Identifier: MIT */
/*
 * What every libFuzzer harness in tests/fuzz/ shares: the entry point's
 * prototype (the build passes -include fuzz.h, so a harness compiles under
 * -Wmissing-prototypes even without including this), and a check that
 * stops the run with a message naming what went wrong, in every build
 * (the harnesses' assertions are the point: NDEBUG must not remove them).
 */
#ifndef PN_TESTS_FUZZ_H
#define PN_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property the harness expects: print it and abort (libFuzzer keeps the
 * input as a crash). */
#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz: check failed: %s at %s:%d\n",   \
				#cond, __FILE__, __LINE__);                    \
			abort();                                               \
		}                                                              \
	} while (0)

#endif /* PN_TESTS_FUZZ_H */
