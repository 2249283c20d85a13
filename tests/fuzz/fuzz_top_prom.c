// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for pinion-top's Prometheus text parser
 * (io/top_parse.c): the input as a whole body and its first half as the
 * previous one, each checked (fuzz_top.h), then both screens drawn:
 * totals, and rates between the two. pn__top_parse() (which picks the
 * parser by the first byte) is run too, so inputs starting with '{' also
 * reach the JSON parser.
 */
#include "fuzz_top.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pn_top_view v, pv;
	void *half = fuzz_prefix(data, size / 2);

	pn__top_parse_prom(&v, data, size);
	fuzz_check_view(&v);
	pn__top_parse(&pv, half, size / 2, NULL);
	fuzz_check_view(&pv);
	free(half);
	fuzz_draw(&v, NULL, 1);
	fuzz_draw(&v, &pv, 0.5);
	return 0;
}
