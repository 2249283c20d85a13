# tests/core/obs/: observability. test_metrics, test_snapshot (the one
# snapshot against the single stats calls) and test_parked (parked time
# while a shard sleeps) are on the core fixture
# (also under ThreadSanitizer: snapshots race the shards by design);
# test_probes reads the USDT notes of libpinion.so with readelf -n, so it
# waits for the shared library.
OBS_TESTS := tests/core/obs/test_metrics tests/core/obs/test_snapshot \
	     tests/core/obs/test_parked
UNIT_TESTS += $(OBS_TESTS) tests/core/obs/test_probes
TSAN_TESTS += $(OBS_TESTS)
$(foreach t,$(OBS_TESTS),$(eval $(t)_EXTRA := tests/core/harness.c))
$(BUILD)/tests/core/obs/test_probes: | $(BUILD)/libpinion.so.$(MAJOR)
