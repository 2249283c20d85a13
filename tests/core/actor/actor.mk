# tests/core/actor/: the actor sub-module on the core fixture: spawning,
# an actor's lifecycle (stop, fail, kill, monitors, links), request/reply
# (with the caller's user value), the public timer calls, the end of a
# batch (end_batch, self-send order) and typed payloads. They start real
# runtimes (2 shards), so they also run under ThreadSanitizer.
ACTOR_TESTS := tests/core/actor/test_spawn tests/core/actor/test_lifecycle \
	       tests/core/actor/test_request tests/core/actor/test_timer_api \
	       tests/core/actor/test_batch tests/core/actor/test_typed
UNIT_TESTS += $(ACTOR_TESTS)
TSAN_TESTS += $(ACTOR_TESTS)
$(foreach t,$(ACTOR_TESTS),$(eval $(t)_EXTRA := tests/core/harness.c))
