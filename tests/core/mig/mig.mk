# tests/core/mig/: migration and placement (with the traffic view and the
# rebalancer) on the core fixture; also under ThreadSanitizer. The storm
# against moving actors is tests/stress/stress_migrate, the model of the
# home's bounce/drain handshake tests/model/migrate.pml.
MIG_TESTS := tests/core/mig/test_migrate tests/core/mig/test_placement
UNIT_TESTS += $(MIG_TESTS)
TSAN_TESTS += $(MIG_TESTS)
$(foreach t,$(MIG_TESTS),$(eval $(t)_EXTRA := tests/core/harness.c))
