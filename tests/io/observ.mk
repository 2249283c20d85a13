# tests/io/: the metrics endpoint and pinion-top, on the io fixture;
# test_prom runs the pinion-top tool (plainly and in a detached tmux
# session), so it waits for it. test_prom_limits: bad and slow clients
# against the endpoint's limits. test_http: its request-head parser.
UNIT_TESTS += tests/io/test_prom tests/io/test_prom_limits tests/io/test_http
TSAN_TESTS += tests/io/test_prom tests/io/test_prom_limits
tests/io/test_prom_EXTRA := tests/io/harness.c tests/io/prom_harness.c
tests/io/test_prom_limits_EXTRA := tests/io/harness.c tests/io/prom_harness.c
$(BUILD)/tests/io/test_prom: | $(BUILD)/bin/pinion-top
