# tests/io/test_top: pinion-top against hostile input (shards and values
# out of range, bodies over the cap, a slow server, bad options). It runs
# the built tool, so it waits for it.
UNIT_TESTS += tests/io/test_top
tests/io/test_top_EXTRA := tests/io/harness.c
$(BUILD)/tests/io/test_top: | $(BUILD)/bin/pinion-top
