// SPDX-License-Identifier: MIT
// Micro-benchmarks of pn_send() plus dispatch on a running runtime: a
// producer actor streams 8-byte messages to a consumer on the same shard
// (local: the shard's own queue) or on another shard (cross: an inbox
// ring between cores). Each iteration is one batch of messages timed by
// the actors themselves (manual time), so spawning the pair is not counted.
#include "shim.h"

#include <benchmark/benchmark.h>

namespace
{

void send_bench(benchmark::State &state, bool cross)
{
	const uint64_t batch = uint64_t(state.range(0));

	if (!gb_rt_start()) {
		state.SkipWithError("cannot start the runtime");
		return;
	}
	if (cross && gb_rt_nshards() < 2) {
		state.SkipWithError("needs 2 shards (2 cores)");
		return;
	}
	for (auto _ : state) {
		uint64_t ns = gb_rt_send(cross, batch);

		if (ns == 0) {
			state.SkipWithError("send run failed");
			break;
		}
		state.SetIterationTime(double(ns) / 1e9);
	}
	state.SetItemsProcessed(int64_t(state.iterations() * batch));
}

void BM_SendLocal(benchmark::State &state)
{
	send_bench(state, false);
}
BENCHMARK(BM_SendLocal)->Arg(100000)->UseManualTime();

void BM_SendCross(benchmark::State &state)
{
	send_bench(state, true);
}
BENCHMARK(BM_SendCross)->Arg(100000)->UseManualTime();

} // namespace
