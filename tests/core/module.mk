# Core runtime unit tests.
UNIT_TESTS += tests/core/test_timers tests/core/test_budget
TSAN_TESTS += tests/core/test_budget
STRESS     += tests/stress/stress_budget
TSAN_TESTS += tests/stress/stress_budget
