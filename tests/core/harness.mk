# tests/core/harness.{c,h}: the fixture the core unit tests share (a
# runtime to start and stop, bounded waits, puppet actors). The tests in
# tests/core/<sub-module>/ include it by name, and name harness.c in their
# <path>_EXTRA.
$(BUILD)/obj/tests/core/%.o: override CFLAGS += -Itests/core
