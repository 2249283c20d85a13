// SPDX-License-Identifier: MIT
// Micro-benchmarks of core/timers.h, the per-shard timing wheel: arming a
// one-shot timer and cancelling it (the request-timeout pattern: most
// timers never fire), and arming then cancelling many timers spread over
// 100 ms (records and wheel slots beyond the first level).
#include "shim.h"

#include <benchmark/benchmark.h>

namespace
{

constexpr uint64_t kInner = 1000;

void BM_TimerArmCancel(benchmark::State &state)
{
	gb_timers *t = gb_timers_create();

	if (!t) {
		state.SkipWithError("cannot create the timer wheel");
		return;
	}
	for (auto _ : state)
		if (gb_timers_arm_cancel(t, kInner) < 0) {
			state.SkipWithError("arm or cancel failed");
			break;
		}
	state.SetItemsProcessed(int64_t(state.iterations() * kInner));
	gb_timers_destroy(t);
}
BENCHMARK(BM_TimerArmCancel);

void BM_TimerArmManyThenCancel(benchmark::State &state)
{
	const unsigned n = unsigned(state.range(0));
	gb_timers *t = gb_timers_create();

	if (!t) {
		state.SkipWithError("cannot create the timer wheel");
		return;
	}
	for (auto _ : state)
		if (gb_timers_arm_many(t, n) < 0) {
			state.SkipWithError("arm or cancel failed");
			break;
		}
	state.SetItemsProcessed(int64_t(state.iterations() * n));
	gb_timers_destroy(t);
}
BENCHMARK(BM_TimerArmManyThenCancel)->Arg(1000)->Arg(100000);

} // namespace
