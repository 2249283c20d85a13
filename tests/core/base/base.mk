# tests/core/base/: the base sub-module, white box and without a runtime:
# the timer wheel (core/base/timers.c), driven with explicit times.
UNIT_TESTS += tests/core/base/test_timers
