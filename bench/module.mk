# bench/: pinion-bench (the standard workloads beside their raw limits)
# and pinion-gbench (google-benchmark micro-benchmarks, bench/gbench/).
BENCH_PROGS += pinion-bench pinion-gbench

pinion-bench_SRCS := bench/main.c bench/driver.c bench/report.c \
		     bench/context.c bench/hist.c bench/measure.c \
		     bench/scrape.c \
		     bench/raw.c bench/raw_local.c \
		     bench/pingpong.c bench/ring.c bench/counting.c \
		     bench/forkjoin.c bench/spawn.c bench/churn.c \
		     bench/latency.c \
		     bench/echo.c bench/echo_client.c bench/epoll_echo.c \
		     bench/migrate.c bench/migrate_load.c bench/pairs.c \
		     bench/fanout.c bench/fanout_run.c
pinion-bench_LINK := $(CC)
pinion-bench_LIBS :=

pinion-gbench_SRCS := bench/gbench/core_ring.cc bench/gbench/core_send.cc \
		      bench/gbench/core_timers.cc bench/gbench/alloc_pool.cc \
		      bench/gbench/core_pid.cc bench/gbench/shim.c
pinion-gbench_LINK := $(CXX)
pinion-gbench_LIBS := -lbenchmark_main -lbenchmark

# The context line names the build mode and asks git in this tree for the
# commit at run time (a rebuilt binary is not needed for a new commit).
$(BUILD)/obj/bench/context.o: override CFLAGS += \
	-DPN_BENCH_MODE='"$(MODE)"' -DPN_BENCH_SRCDIR='"$(CURDIR)"'
