# tests/core/base/: the base sub-module, white box and without a runtime:
# the timer wheel (core/base/timers.c), driven with explicit times; the
# SPSC ring (core/base/pn_ring.h), whose two-thread case also runs under
# ThreadSanitizer; the chunked message FIFO and the PID set
# (core/base/containers.c) over a real arena; the hash table and its
# backward-shift deletion (core/base/hash.h, hash.c); the seqlock
# (core/base/seqlock.h), whose two-thread case also runs under
# ThreadSanitizer.
UNIT_TESTS += tests/core/base/test_timers tests/core/base/test_ring \
	      tests/core/base/test_fifo tests/core/base/test_pids \
	      tests/core/base/test_hash tests/core/base/test_seqlock
TSAN_TESTS += tests/core/base/test_ring tests/core/base/test_seqlock
