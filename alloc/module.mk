# alloc/: per-shard jemalloc arenas and fixed-size pools.
PUB_HEADERS += alloc/pn_alloc.h
