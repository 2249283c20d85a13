# Stress tests of the core runtime; each reads PN_SEED and PN_STRESS_SCALE
# (tests/stress/stress_util.h) and all of them also run under
# ThreadSanitizer, scaled down. Some read core/ internals (white box).
# stress_budget drives the producers' byte budget (core/sched/budget.c) on
# its own, without a runtime or stress_util.
STRESS     += tests/stress/stress_churn tests/stress/stress_storm \
	      tests/stress/stress_overflow tests/stress/stress_inject \
	      tests/stress/stress_parkwake tests/stress/stress_mover \
	      tests/stress/stress_forward tests/stress/stress_room \
	      tests/stress/stress_migrate tests/stress/stress_budget
TSAN_TESTS += tests/stress/stress_churn tests/stress/stress_storm \
	      tests/stress/stress_overflow tests/stress/stress_inject \
	      tests/stress/stress_parkwake tests/stress/stress_mover \
	      tests/stress/stress_forward tests/stress/stress_room \
	      tests/stress/stress_migrate tests/stress/stress_budget
tests/stress/stress_churn_EXTRA    := tests/stress/stress_util.c
tests/stress/stress_storm_EXTRA    := tests/stress/stress_util.c
tests/stress/stress_overflow_EXTRA := tests/stress/stress_util.c
tests/stress/stress_inject_EXTRA   := tests/stress/stress_util.c
tests/stress/stress_parkwake_EXTRA := tests/stress/stress_util.c
tests/stress/stress_mover_EXTRA    := tests/stress/stress_util.c
tests/stress/stress_forward_EXTRA  := tests/stress/stress_util.c
tests/stress/stress_room_EXTRA     := tests/stress/stress_util.c
tests/stress/stress_migrate_EXTRA  := tests/stress/stress_util.c
# stress_topic: publish/subscribe (core/topic/) under churn.
STRESS     += tests/stress/stress_topic
TSAN_TESTS += tests/stress/stress_topic
tests/stress/stress_topic_EXTRA    := tests/stress/stress_util.c \
	tests/stress/stress_topic_sub.c
