/* SPDX-License-Identifier: MIT */
/*
 * A strict JSON syntax check for the tests of pn_plan_print_json() and
 * pinion-topo --json, so that "valid JSON" is asserted in C rather than by
 * a script.
 */
#ifndef PN_TEST_JSON_CHECK_H
#define PN_TEST_JSON_CHECK_H

#include <stdbool.h>

/* True if @s is exactly one JSON value (RFC 8259), whitespace around it. */
bool json_valid(const char *s);

#endif /* PN_TEST_JSON_CHECK_H */
