# tests/core/rt/: the runtime object on the core fixture: configuration,
# create/start/shutdown/destroy, staged shutdown and its drain stage and
# accounting, and saturating deadlines. They start real runtimes (2
# shards), so they also run under ThreadSanitizer.
RT_TESTS := tests/core/rt/test_runtime tests/core/rt/test_shutdown \
	    tests/core/rt/test_drain tests/core/rt/test_deadline \
	    tests/core/rt/test_signals
UNIT_TESTS += $(RT_TESTS)
TSAN_TESTS += $(RT_TESTS)
$(foreach t,$(RT_TESTS),$(eval $(t)_EXTRA := tests/core/harness.c))
