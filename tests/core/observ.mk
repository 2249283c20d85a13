# tests/core/: observability (issue 8). test_metrics is a cmocka binary on
# the core fixture (also under ThreadSanitizer: snapshots race the shards
# by design); test_probes reads the USDT notes of libpinion.so with
# readelf -n, so it waits for the shared library.
OBS_TESTS := tests/core/test_metrics
UNIT_TESTS += $(OBS_TESTS) tests/core/test_probes
TSAN_TESTS += $(OBS_TESTS)
$(foreach t,$(OBS_TESTS),$(eval $(t)_EXTRA := tests/core/harness.c))
$(BUILD)/tests/core/test_probes: | $(BUILD)/libpinion.so.$(MAJOR)
