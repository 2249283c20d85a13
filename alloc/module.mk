# alloc/: per-shard jemalloc arenas and fixed-size pools. arena.c and numa.c
# are the jemalloc backend, arena_libc.c the PN_ALLOC_LIBC one (asan, tsan);
# each compiles to nothing in the other configuration.
LIB_SRCS    += alloc/arena.c alloc/arena_libc.c alloc/numa.c alloc/pool.c
PUB_HEADERS += alloc/pn_alloc.h
