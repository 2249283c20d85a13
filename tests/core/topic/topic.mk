# tests/core/topic/: publish/subscribe (core/topic/) on the core fixture
# and the topic fixture (topic_fix.{c,h}: a commanded actor that logs and
# checks what it gets; topic_wait.c: the test thread's side). test_topic:
# the API and the lossless path; test_topic_life: unsubscribe, stops,
# close, the counters, migration; test_topic_policy: slow subscribers
# under each policy, bounded memory, shutdown. All run under
# ThreadSanitizer too. The storm is tests/stress/stress_topic.
TOPIC_TESTS := tests/core/topic/test_topic tests/core/topic/test_topic_life \
	       tests/core/topic/test_topic_policy
UNIT_TESTS += $(TOPIC_TESTS)
TSAN_TESTS += $(TOPIC_TESTS)
$(foreach t,$(TOPIC_TESTS),$(eval $(t)_EXTRA := tests/core/harness.c \
	tests/core/topic/topic_fix.c tests/core/topic/topic_wait.c))
