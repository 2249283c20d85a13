// SPDX-License-Identifier: MIT
// Micro-benchmarks of core/pn_ring.h, the SPSC ring every inbox is made
// of: one message pushed, published, popped and released at a time, and
// bursts published and released once per burst. Single-threaded: this is
// the instruction cost of the ring; the cross-core cost is pinion-bench's
// raw limit (bench/raw.c).
#include "shim.h"

#include <benchmark/benchmark.h>

namespace
{

constexpr uint64_t kInner = 1000; // ring operations per timed call

void BM_RingPushPopSingle(benchmark::State &state)
{
	gb_ring *r = gb_ring_create(1024);

	if (!r) {
		state.SkipWithError("out of memory");
		return;
	}
	for (auto _ : state)
		benchmark::DoNotOptimize(gb_ring_single(r, kInner));
	state.SetItemsProcessed(int64_t(state.iterations() * kInner));
	gb_ring_destroy(r);
}
BENCHMARK(BM_RingPushPopSingle);

void BM_RingPushPopBurst(benchmark::State &state)
{
	const unsigned burst = unsigned(state.range(0));
	gb_ring *r = gb_ring_create(1024);

	if (!r) {
		state.SkipWithError("out of memory");
		return;
	}
	for (auto _ : state)
		benchmark::DoNotOptimize(
			gb_ring_burst(r, kInner / burst + 1, burst));
	state.SetItemsProcessed(
		int64_t(state.iterations() * (kInner / burst + 1) * burst));
	gb_ring_destroy(r);
}
BENCHMARK(BM_RingPushPopBurst)->Arg(8)->Arg(32)->Arg(64)->Arg(256);

} // namespace
