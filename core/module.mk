# core/: the actor runtime.
PUB_HEADERS += core/pinion.h core/pn_core.h core/pn_msg.h core/pn_ring.h
LIB_SRCS    += core/timers.c core/budget.c core/containers.c core/send.c \
	       core/shard.c core/shard_setup.c core/runtime.c core/actor.c \
	       core/request.c core/producer.c core/shutdown.c \
	       core/supervisor.c core/supervision.c core/registry.c \
	       core/watchdog.c core/crash.c
