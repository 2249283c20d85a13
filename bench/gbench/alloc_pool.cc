// SPDX-License-Identifier: MIT
// Micro-benchmarks of alloc/'s fixed-size pools (pn_alloc.h): one object
// allocated and freed at a time (the free-list hit path), and a batch of
// objects allocated then freed (LIFO reuse with a deeper free list).
#include "pn_alloc.h"

#include <benchmark/benchmark.h>
#include <vector>

namespace
{

struct Pool {
	pn_arena *arena = nullptr;
	pn_pool *pool = nullptr;

	explicit Pool(size_t size)
	{
		if (pn_arena_create(-1, &arena) == 0 &&
		    pn_pool_create(arena, size, 0, &pool) < 0)
			pool = nullptr;
	}
	~Pool()
	{
		pn_pool_destroy(pool);
		pn_arena_destroy(arena);
	}
};

void BM_PoolAllocFree(benchmark::State &state)
{
	Pool p(size_t(state.range(0)));

	if (!p.pool) {
		state.SkipWithError("cannot create the pool");
		return;
	}
	for (auto _ : state) {
		void *o = pn_pool_alloc(p.pool);
		benchmark::DoNotOptimize(o);
		pn_pool_free(p.pool, o);
	}
	state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_PoolAllocFree)->Arg(64)->Arg(256)->Arg(4096);

void BM_PoolAllocFreeBatch(benchmark::State &state)
{
	const size_t n = size_t(state.range(0));
	std::vector<void *> objs(n);
	Pool p(64);

	if (!p.pool) {
		state.SkipWithError("cannot create the pool");
		return;
	}
	for (auto _ : state) {
		for (size_t i = 0; i < n; i++)
			objs[i] = pn_pool_alloc(p.pool);
		benchmark::DoNotOptimize(objs.data());
		for (size_t i = 0; i < n; i++)
			pn_pool_free(p.pool, objs[i]);
	}
	state.SetItemsProcessed(int64_t(state.iterations() * n));
}
BENCHMARK(BM_PoolAllocFreeBatch)->Arg(64)->Arg(4096);

} // namespace
