# tests/fuzz/: libFuzzer targets. A target <name> is
#   tests/fuzz/fuzz_<name>.c    defines LLVMFuzzerTestOneInput()
#   tests/fuzz/fuzz_<name>.mk   FUZZERS += <name>
#                               <name>_SRCS := sources beyond the library
#   tests/fuzz/corpus/<name>/   seed inputs and every input that ever
#                               crashed it (the regression corpus)
# and optionally tests/fuzz/fuzz_<name>.dict, a libFuzzer dictionary.
#
# Everything here is built by clang into build/fuzz/, whatever the MODE:
# the library's sources with coverage (-fsanitize=fuzzer-no-link) and
# ASan+UBSan into build/fuzz/libpinion.a, each harness linked against it
# with -fsanitize=fuzzer. Harnesses may include internal headers; fuzz.h
# (the prototype of LLVMFuzzerTestOneInput, which -Wmissing-prototypes
# asks for) is included into each of them by the command line, and
# check.h has FUZZ_CHECK() for those that want it.
#
#   make fuzz           FUZZ_SECONDS (180) of fuzzing per target
#   make fuzz-regress   each corpus once, then FUZZ_REGRESS_SECONDS (5)
#   make fuzz-build     only build
#   FUZZ_TARGETS="a b"  only these targets (default: all of FUZZERS)
# scripts/fuzz.sh runs them (see there for where inputs and crashes go).

FUZZERS :=
include $(sort $(wildcard tests/fuzz/fuzz_*.mk))

FUZZ_CC              ?= clang
FUZZ_DIR             := build/fuzz
FUZZ_SECONDS         ?= 180
FUZZ_REGRESS_SECONDS ?= 5
FUZZ_TARGETS         ?= $(FUZZERS)

# The release flags' language, warnings (clang takes every one of WARN)
# and includes; PN_ALLOC_LIBC as in the sanitizer modes, so that ASan sees
# every allocation. -O1: fast enough, and stack traces stay readable.
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  = -std=c11 -D_GNU_SOURCE -DPN_INTERNAL -DPN_ALLOC_LIBC \
	       -fno-omit-frame-pointer -fvisibility=hidden -pthread $(WARN) \
	       -O1 -g -fsanitize=fuzzer-no-link $(FUZZ_SAN) \
	       $(filter-out -I$(BUILD)/include,$(INCLUDES)) -MMD -MP
FUZZ_LIBS   := -luring -lhwloc -lm
FUZZ_LIB_A  := $(FUZZ_DIR)/libpinion.a
FUZZ_BINS   := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)

.PHONY: fuzz fuzz-build fuzz-regress fuzz-toolchain

# A name in FUZZ_TARGETS that is no target is an error, but only when a
# fuzz goal was asked for (the variable may be in the environment).
ifneq ($(filter fuzz fuzz-build fuzz-regress,$(MAKECMDGOALS)),)
ifneq ($(filter-out $(FUZZERS),$(FUZZ_TARGETS)),)
$(error FUZZ_TARGETS: no fuzz target named $(filter-out $(FUZZERS),$(FUZZ_TARGETS)) (there are: $(FUZZERS)))
endif
endif

# Checked on every fuzz build (cheap); order-only, so it rebuilds nothing.
fuzz-toolchain: | $(DEPS_STAMP)
	$(Q)scripts/fuzz.sh toolchain $(FUZZ_CC)

$(FUZZ_DIR)/obj/%.o: %.c | fuzz-toolchain
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_XFLAGS) -c $< -o $@

$(FUZZ_DIR)/obj/tests/fuzz/%.o: FUZZ_XFLAGS = -include tests/fuzz/fuzz.h

$(FUZZ_LIB_A): $(LIB_SRCS:%.c=$(FUZZ_DIR)/obj/%.o)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# A harness, its extra sources (those the library has come from the
# archive instead) and the library.
define fuzz_rule
$(FUZZ_DIR)/fuzz_$(1): $(FUZZ_DIR)/obj/tests/fuzz/fuzz_$(1).o \
		$$(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$$(filter-out $(LIB_SRCS),$$($(1)_SRCS))) \
		$(FUZZ_LIB_A)
	@$$(if $$(Q),echo "  FUZZLD  $$@")
	$$(Q)$$(FUZZ_CC) -fsanitize=fuzzer $$(FUZZ_SAN) -pthread -o $$@ \
		$$(filter %.o,$$^) $(FUZZ_LIB_A) $$(FUZZ_LIBS)
endef
$(foreach f,$(FUZZERS),$(eval $(call fuzz_rule,$(f))))

fuzz-build: $(FUZZ_BINS)
fuzz: fuzz-build
	$(Q)scripts/fuzz.sh run $(FUZZ_SECONDS) $(FUZZ_TARGETS)
fuzz-regress: fuzz-build
	$(Q)scripts/fuzz.sh regress $(FUZZ_REGRESS_SECONDS) $(FUZZ_TARGETS)

-include $(shell find $(FUZZ_DIR) -name '*.d' 2>/dev/null)
