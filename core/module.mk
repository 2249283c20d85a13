# core/: the actor runtime.
PUB_HEADERS += core/pinion.h core/pn_core.h core/pn_msg.h core/pn_ring.h
LIB_SRCS    += core/timers.c core/budget.c core/containers.c core/send.c \
	       core/shard.c core/shard_setup.c core/runtime.c core/actor.c \
	       core/request.c core/producer.c core/shutdown.c \
	       core/supervisor.c core/supervision.c core/registry.c \
	       core/watchdog.c core/crash.c
# Observability (issue 8): metrics, histograms, the flight recorder.
# PN_METRICS=0 compiles every metric update out (-DPN_NO_METRICS);
# PN_PROBES=0 the USDT probes (-DPN_NO_PROBES).
LIB_SRCS    += core/metrics.c core/metrics_out.c core/hist.c core/flight.c
ifeq ($(PN_METRICS),0)
override CFLAGS += -DPN_NO_METRICS
endif
ifeq ($(PN_PROBES),0)
override CFLAGS += -DPN_NO_PROBES
endif
# Migration, placement, the traffic view and the rebalancer (issue 7).
LIB_SRCS    += core/migrate.c core/pack.c core/traffic.c core/placement.c
