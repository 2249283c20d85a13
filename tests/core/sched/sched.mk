# tests/core/sched/: the sched sub-module: the external producers' byte
# budget (core/sched/budget.c, white box, no runtime), and on the core
# fixture external producers, sends and the overflow path, shutdown
# releasing blocked callers, and misuse from the wrong thread. All of them
# also run under ThreadSanitizer.
SCHED_TESTS := tests/core/sched/test_producer tests/core/sched/test_send \
	       tests/core/sched/test_clock tests/core/sched/test_idle_tick \
	       tests/core/sched/test_release tests/core/sched/test_misuse
UNIT_TESTS += tests/core/sched/test_budget $(SCHED_TESTS)
TSAN_TESTS += tests/core/sched/test_budget $(SCHED_TESTS)
$(foreach t,$(SCHED_TESTS),$(eval $(t)_EXTRA := tests/core/harness.c))
