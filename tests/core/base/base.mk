# tests/core/base/: the base sub-module, white box and without a runtime:
# the timer wheel (core/base/timers.c), driven with explicit times; the
# SPSC ring (core/base/pn_ring.h), whose two-thread case also runs under
# ThreadSanitizer.
UNIT_TESTS += tests/core/base/test_timers tests/core/base/test_ring
TSAN_TESTS += tests/core/base/test_ring
