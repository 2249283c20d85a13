# core/: the actor runtime, in sub-modules that depend one way:
#   base <- sched <- actor <- {sup, mig, obs, topic} <- rt
# (scripts/check-deps.sh enforces it; README "Architecture").
CORE_SUBS   := base sched actor sup mig obs topic rt
PUB_HEADERS += core/pn_core.h core/base/pn_msg.h core/base/pn_ring.h \
	       core/actor/pn_request.h \
	       core/sched/pn_backend.h core/sched/pn_stats.h \
	       core/sup/pn_supervise.h \
	       core/obs/pn_metrics.h core/mig/pn_migrate.h core/rt/pn_shutdown.h \
	       core/topic/pn_topic.h
# base: messages, the SPSC ring, FIFOs and PID sets, the timer wheel,
# histograms, probes.
LIB_SRCS    += core/base/containers.c core/base/timers.c core/base/buckets.c \
	       core/base/hash.c
# sched: shards and their loop, sends, dispatch, producers, the budget,
# park/wake, the features' registry, the shard's meter and flight recorder.
LIB_SRCS    += core/sched/budget.c core/sched/send.c core/sched/shard.c \
	       core/sched/shard_setup.c core/sched/producer.c \
	       core/sched/feature.c core/sched/dispatch.c core/sched/meter.c \
	       core/sched/flight.c core/sched/ctx.c core/sched/stage.c \
	       core/sched/slots.c
# actor: lifecycle, monitors and links, request/reply and timers.
LIB_SRCS    += core/actor/actor.c core/actor/spawn.c core/actor/request.c
# sup: supervisors, the name registry, the watchdog, crash reports.
LIB_SRCS    += core/sup/supervisor.c core/sup/supervision.c \
	       core/sup/dynamic.c core/sup/calls.c \
	       core/sup/registry.c core/sup/watchdog.c core/sup/crash.c
# obs: metric snapshots, JSON and Prometheus text, counter sources.
# PN_METRICS=0 compiles every metric update out (-DPN_NO_METRICS);
# PN_PROBES=0 the USDT probes (-DPN_NO_PROBES).
LIB_SRCS    += core/obs/metrics.c core/obs/metrics_out.c core/obs/hist.c
ifeq ($(PN_METRICS),0)
override CFLAGS += -DPN_NO_METRICS
endif
ifeq ($(PN_PROBES),0)
override CFLAGS += -DPN_NO_PROBES
endif
# topic: publish/subscribe (the table, the home's fan-out, delivery).
LIB_SRCS    += core/topic/topic.c core/topic/publish.c core/topic/deliver.c \
	       core/topic/subscribe.c
# mig: migration, placement, the traffic view and the rebalancer.
LIB_SRCS    += core/mig/migrate.c core/mig/queues.c core/mig/fence.c \
	       core/mig/pack.c core/mig/traffic.c \
	       core/mig/placement.c
# rt: runtime create, start, shutdown, destroy.
LIB_SRCS    += core/rt/runtime.c core/rt/shutdown.c core/rt/signals.c
