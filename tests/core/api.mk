# tests/core/: unit tests of the runtime's public API (core/pn_core.h), one
# cmocka binary per unit, all on the fixture in tests/core/harness.c. They
# start real runtimes (2 shards), so they also run under ThreadSanitizer.
UNIT_TESTS += tests/core/test_runtime tests/core/test_spawn \
	      tests/core/test_send tests/core/test_lifecycle \
	      tests/core/test_request tests/core/test_timer_api \
	      tests/core/test_producer tests/core/test_shutdown \
	      tests/core/test_drain tests/core/test_release \
	      tests/core/test_deadline tests/core/test_misuse
TSAN_TESTS += tests/core/test_runtime tests/core/test_spawn \
	      tests/core/test_send tests/core/test_lifecycle \
	      tests/core/test_request tests/core/test_timer_api \
	      tests/core/test_producer tests/core/test_shutdown \
	      tests/core/test_drain tests/core/test_release \
	      tests/core/test_deadline tests/core/test_misuse
tests/core/test_runtime_EXTRA   := tests/core/harness.c
tests/core/test_spawn_EXTRA     := tests/core/harness.c
tests/core/test_send_EXTRA      := tests/core/harness.c
tests/core/test_lifecycle_EXTRA := tests/core/harness.c
tests/core/test_request_EXTRA   := tests/core/harness.c
tests/core/test_timer_api_EXTRA := tests/core/harness.c
tests/core/test_producer_EXTRA  := tests/core/harness.c
tests/core/test_shutdown_EXTRA  := tests/core/harness.c
tests/core/test_drain_EXTRA     := tests/core/harness.c
tests/core/test_release_EXTRA   := tests/core/harness.c
tests/core/test_deadline_EXTRA  := tests/core/harness.c
tests/core/test_misuse_EXTRA    := tests/core/harness.c
