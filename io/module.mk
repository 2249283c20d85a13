# io/: per-shard io_uring operations (not built yet).
