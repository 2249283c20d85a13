# tests/core/: migration and placement (issue 7). Unit tests on the core
# fixture (tests/core/harness.c); the storm against moving actors in
# tests/stress/; the Promela model of the home's bounce/drain handshake.
# All of them also run under ThreadSanitizer (scaled down).
MIG_TESTS := tests/core/test_migrate tests/core/test_placement
UNIT_TESTS += $(MIG_TESTS)
TSAN_TESTS += $(MIG_TESTS)
$(foreach t,$(MIG_TESTS),$(eval $(t)_EXTRA := tests/core/harness.c))
STRESS     += tests/stress/stress_migrate
TSAN_TESTS += tests/stress/stress_migrate
tests/stress/stress_migrate_EXTRA := tests/stress/stress_util.c
MODELS += tests/model/migrate.pml tests/model/migrate_mutant_noflush.pml
