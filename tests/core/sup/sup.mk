# tests/core/sup/: supervision on the core fixture: supervisor trees, the
# name registry, the watchdog and crash reports. All of them also run under
# ThreadSanitizer (test_crash skips itself there: it checks what the
# process does on a fatal signal, which the sanitizers take over).
SUP_TESTS := tests/core/sup/test_supervisor tests/core/sup/test_registry \
	     tests/core/sup/test_watchdog tests/core/sup/test_crash \
	     tests/core/sup/test_ref tests/core/sup/test_dynamic
UNIT_TESTS += $(SUP_TESTS)
TSAN_TESTS += $(SUP_TESTS)
$(foreach t,$(SUP_TESTS),$(eval $(t)_EXTRA := tests/core/harness.c))
$(foreach t,test_supervisor test_ref test_dynamic,\
	$(eval tests/core/sup/$(t)_EXTRA += tests/core/sup/sup_log.c))
