/* SPDX-License-Identifier: MIT */
/*
 * Every internal header of core/, for white-box tests and benchmarks only.
 * Nothing in core/ includes it: each sub-module includes its own header,
 * which includes those of the sub-modules below it (scripts/check-deps.sh).
 */
#ifndef PN_CORE_INT_H
#define PN_CORE_INT_H

#include "rt_int.h"

#endif /* PN_CORE_INT_H */
