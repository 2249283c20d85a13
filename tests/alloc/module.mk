# tests/alloc/: arena and pool unit tests, the remote-free stress test and
# the spin models of the remote-free protocol (and its mutants).
UNIT_TESTS += tests/alloc/test_arena tests/alloc/test_pool
STRESS     += tests/stress/stress_pool_remote
TSAN_TESTS += tests/stress/stress_pool_remote tests/alloc/test_pool
MODELS     += tests/model/pool_remote.pml \
	      tests/model/pool_remote_mutant_plain_push.pml \
	      tests/model/pool_remote_mutant_load_store_take.pml \
	      tests/model/pool_remote_mutant_link_after_cas.pml
