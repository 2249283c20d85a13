/* SPDX-License-Identifier: MIT */
/*
 * The entry point every libFuzzer harness in tests/fuzz/ defines. The
 * build passes -include fuzz.h when it compiles a harness, so that one
 * compiles under -Wmissing-prototypes whether or not it declares the
 * function itself: keep this header to that one declaration (anything
 * more could clash with what a harness defines).
 */
#ifndef PN_TESTS_FUZZ_H
#define PN_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* PN_TESTS_FUZZ_H */
