// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for pinion-top's JSON parser (io/top_json.c): the
 * input as a whole body and its first half as the previous one, each
 * checked (fuzz_top.h), then both screens drawn: totals, and rates
 * between the two. A malformed body must report an offset within it.
 */
#include "fuzz_top.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pn_top_view v, pv;
	void *half = fuzz_prefix(data, size / 2);
	size_t off = SIZE_MAX;

	if (pn__top_parse_json(&v, data, size, &off) < 0)
		fuzz_check(off <= size, "error offset past the body");
	else
		fuzz_check(off == SIZE_MAX, "offset written on success");
	fuzz_check_view(&v);
	pn__top_parse_json(&pv, half, size / 2, NULL);
	fuzz_check_view(&pv);
	free(half);
	fuzz_draw(&v, NULL, 1);
	fuzz_draw(&v, &pv, 0.5);
	return 0;
}
