# tests/io/: the metrics endpoint and pinion-top, on the io fixture;
# test_prom runs the pinion-top tool (plainly and in a detached tmux
# session), so it waits for it.
UNIT_TESTS += tests/io/test_prom
TSAN_TESTS += tests/io/test_prom
tests/io/test_prom_EXTRA := tests/io/harness.c
$(BUILD)/tests/io/test_prom: | $(BUILD)/bin/pinion-top
# test_http: the endpoint's request-head parser (io/http.c).
UNIT_TESTS += tests/io/test_http
