// SPDX-License-Identifier: MIT
// Micro-benchmark of PID resolution (pn_msg.h's pn_pid_* inline functions):
// split a PID into shard, slot and generation and check the generation
// against a slot table, as a shard does before delivering a message. The
// table sizes span L1-resident to well past the L2.
#include "shim.h"

#include <benchmark/benchmark.h>

namespace
{

constexpr uint64_t kInner = 1000;

void BM_PidResolve(benchmark::State &state)
{
	gb_pids *p = gb_pids_create(unsigned(state.range(0)));

	if (!p) {
		state.SkipWithError("out of memory");
		return;
	}
	for (auto _ : state)
		benchmark::DoNotOptimize(gb_pids_resolve(p, kInner));
	state.SetItemsProcessed(int64_t(state.iterations() * kInner));
	gb_pids_destroy(p);
}
BENCHMARK(BM_PidResolve)->Arg(1 << 10)->Arg(1 << 16)->Arg(1 << 20);

} // namespace
