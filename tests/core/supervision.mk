# tests/core/: supervision (issue 5): supervisor trees, the name registry,
# the watchdog and crash reports. Each is one cmocka binary on the core
# fixture (tests/core/harness.c); all of them also run under
# ThreadSanitizer (test_crash skips itself there: it checks what the
# process does on a fatal signal, which the sanitizers take over).
SUP_TESTS := tests/core/test_supervisor tests/core/test_registry \
	     tests/core/test_watchdog tests/core/test_crash
UNIT_TESTS += $(SUP_TESTS)
TSAN_TESTS += $(SUP_TESTS)
$(foreach t,$(SUP_TESTS),$(eval $(t)_EXTRA := tests/core/harness.c))
