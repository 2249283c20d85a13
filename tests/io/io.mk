# tests/io/: io/ unit tests (one cmocka binary per unit), all on the
# fixture in tests/io/harness.c. They start real runtimes (2 shards) with
# the test thread as the network peer, so they also run under
# ThreadSanitizer.
IO_TESTS := tests/io/test_tcp tests/io/test_backpressure \
	    tests/io/test_connect tests/io/test_udp tests/io/test_file \
	    tests/io/test_bufring tests/io/test_api tests/io/test_shutdown
UNIT_TESTS += $(IO_TESTS)
TSAN_TESTS += $(IO_TESTS)
$(foreach t,$(IO_TESTS),$(eval $(t)_EXTRA := tests/io/harness.c))
# The receive share and connection deadlines (io/guard.c).
UNIT_TESTS += tests/io/test_guard
TSAN_TESTS += tests/io/test_guard
tests/io/test_guard_EXTRA := tests/io/harness.c
# pinion-echo attacked from outside: it runs the built tool (so under the
# sanitizers, the sanitized tool), hence it waits for it.
UNIT_TESTS += tests/io/test_echo
TSAN_TESTS += tests/io/test_echo
$(BUILD)/tests/io/test_echo: | $(BUILD)/bin/pinion-echo
tests/io/test_echo_EXTRA := tests/io/harness.c
# A graceful stop: a deferred session lingers its connection (rt + io).
UNIT_TESTS += tests/io/test_defer
TSAN_TESTS += tests/io/test_defer
tests/io/test_defer_EXTRA := tests/io/harness.c
