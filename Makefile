# SPDX-License-Identifier: MIT
#
# Pinion's one non-recursive Makefile. Each module lists its sources in
# <module>/module.mk; tests and benchmarks do the same in .mk fragments
# beside them (tests/<module>/*.mk, tests/core/<sub-module>/<sub-module>.mk)
# and bench/module.mk. Builds go out of tree into build/$(MODE)/.
#
#   make [MODE=release|debug|asan|tsan]   libpinion.a, libpinion.so, tools
#   make test                              everything CI runs (see README)
#   make bench                             the standard workloads + table
#   make fuzz | fuzz-regress               libFuzzer targets (tests/fuzz/)
#
# Every object waits (order-only) on build/.deps-ok, which scripts/deps.sh
# writes once the Debian packages the build needs are present; on a fresh
# machine that step installs them (as root) or prints the exact command.

MODE       ?= release
BUILD      ?= build/$(MODE)
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR     ?= $(PREFIX)/bin
DESTDIR    ?=
MAJOR      := 0
MINOR      := 1
PATCH      := 0
VERSION    := $(MAJOR).$(MINOR).$(PATCH)

ifeq ($(filter $(MODE),release debug asan tsan),)
$(error MODE must be one of release, debug, asan, tsan (got '$(MODE)'))
endif

WARN      = -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes \
	    -Wstrict-prototypes -Wvla
f_debug   = -O0 -g3
f_release = -O2 -g -DNDEBUG
f_asan    = -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
	    -DPN_ALLOC_LIBC
f_tsan    = -O1 -g -fsanitize=thread -DPN_ALLOC_LIBC
l_asan    = -fsanitize=address,undefined
l_tsan    = -fsanitize=thread

INCLUDES  = -Iinclude -Itopology -Ialloc -Icore $(CORE_SUBS:%=-Icore/%) -Iio \
	    -I$(BUILD)/include
# PN_INTERNAL: Pinion's own sources, tests and benchmarks see the internal
# declarations the installed headers keep to themselves (pn_base.h).
override CFLAGS   += -std=c11 -D_GNU_SOURCE -DPN_INTERNAL -fPIC -fno-omit-frame-pointer \
		     -fvisibility=hidden -pthread $(WARN) $(f_$(MODE)) \
		     $(INCLUDES) -MMD -MP
override CXXFLAGS += -std=c++17 -D_GNU_SOURCE -DPN_INTERNAL -fno-omit-frame-pointer \
		     -pthread -Wall -Wextra -Werror $(f_$(MODE)) $(INCLUDES) \
		     -MMD -MP
override LDFLAGS  += -pthread -Wl,-z,defs $(l_$(MODE))
# Sanitizer builds use libc malloc (PN_ALLOC_LIBC) and do not link jemalloc,
# so that ASan/TSan see every allocation.
LIBS      = -luring $(if $(filter asan tsan,$(MODE)),,-ljemalloc) -lhwloc -lm

ifeq ($(V),1)
Q :=
else
Q := @
endif

# Filled in by the module.mk files.
LIB_SRCS    :=	# sources of libpinion
PUB_HEADERS :=	# installed as <pinion/...>
TOOLS       :=	# programs; each lists <name>_SRCS, installed to BINDIR
UNIT_TESTS  :=	# tests/<module>/[<sub-module>/]test_<unit> (source: + .c)
STRESS      :=	# tests/stress/stress_<what>
TSAN_TESTS  :=	# the unit/stress tests that also run under tsan
MODELS      :=	# tests/model/*.pml (see scripts/check-models.sh)
BENCH_PROGS :=	# bench programs; each lists <name>_SRCS

include topology/module.mk alloc/module.mk core/module.mk io/module.mk
PUB_HEADERS += include/pinion.h
include $(filter-out tests/fuzz/%,$(wildcard tests/*/*.mk tests/*/*/*.mk)) \
	bench/module.mk

DEPS_STAMP := build/.deps-ok
LIB_OBJS   := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
LIB_A      := $(BUILD)/libpinion.a
LIB_SO     := $(BUILD)/libpinion.so.$(MAJOR)
TOOL_BINS  := $(TOOLS:%=$(BUILD)/bin/%)
UNIT_BINS  := $(UNIT_TESTS:%=$(BUILD)/%)
STRESS_BINS:= $(STRESS:%=$(BUILD)/%)
TSAN_BINS  := $(TSAN_TESTS:%=$(BUILD)/%)
BENCH_BINS := $(BENCH_PROGS:%=$(BUILD)/bench/%)

# The libFuzzer targets: built by clang into build/fuzz whatever the MODE;
# tests/fuzz/module.mk includes their fragments (tests/fuzz/fuzz_*.mk).
include tests/fuzz/module.mk

.PHONY: all lib tools tests unit stress test bench bench-micro install \
	uninstall clean format format-check lint check deps models
.DEFAULT_GOAL := all

all: lib tools
lib: $(LIB_A) $(LIB_SO)
tools: $(TOOL_BINS)
tests: $(UNIT_BINS) $(STRESS_BINS)

$(DEPS_STAMP): scripts/deps.sh
	$(Q)scripts/deps.sh
	$(Q)mkdir -p $(@D) && touch $@
deps: $(DEPS_STAMP)

# Public headers staged as <pinion/...>, the way installed users see them.
INC_STAMP := $(BUILD)/include/pinion/.stamp
$(INC_STAMP): $(PUB_HEADERS)
	@mkdir -p $(@D)
	$(Q)cp $(PUB_HEADERS) $(@D)/ && touch $@

$(BUILD)/obj/%.o: %.c | $(DEPS_STAMP) $(INC_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.cc | $(DEPS_STAMP) $(INC_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CXX     $<")
	$(Q)$(CXX) $(CXXFLAGS) -c $< -o $@

$(LIB_A): $(LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(LIB_SO): $(LIB_OBJS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -Wl,-soname,libpinion.so.$(MAJOR) $(LDFLAGS) \
		-o $@ $^ $(LIBS)
	$(Q)ln -sf libpinion.so.$(MAJOR) $(BUILD)/libpinion.so

# Programs link the static library so that tests see internal (pn__)
# symbols and no LD_LIBRARY_PATH is needed.
define link_c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB_A) $(1) $(LIBS)
endef

define tool_rule
$(BUILD)/bin/$(1): $$($(1)_SRCS:%.c=$(BUILD)/obj/%.o) $(LIB_A)
	$$(call link_c,)
endef
$(foreach t,$(TOOLS),$(eval $(call tool_rule,$(t))))

# A test is one .c file, plus the optional <path>_EXTRA sources.
define test_rule
$(BUILD)/$(1): $(BUILD)/obj/$(1).o $$($(1)_EXTRA:%.c=$(BUILD)/obj/%.o) $(LIB_A)
	$$(call link_c,-lcmocka)
endef
$(foreach t,$(sort $(UNIT_TESTS) $(STRESS)),$(eval $(call test_rule,$(t))))

define bench_rule
$(BUILD)/bench/$(1): $$(patsubst %.c,$(BUILD)/obj/%.o,$$(patsubst %.cc,$(BUILD)/obj/%.o,$$($(1)_SRCS))) $(LIB_A)
	@mkdir -p $$(@D)
	@$$(if $$(Q),echo "  LINK    $$@")
	$$(Q)$$($(1)_LINK) $$(LDFLAGS) -o $$@ $$(filter %.o,$$^) $(LIB_A) $$($(1)_LIBS) $$(LIBS)
endef
$(foreach b,$(BENCH_PROGS),$(eval $(call bench_rule,$(b))))

# --- running tests ---------------------------------------------------------
# `unit` and `stress` run what this MODE built; `test` is the whole suite.
unit: $(UNIT_BINS)
	$(Q)scripts/run-tests.sh --mode $(MODE) --timeout 120 $(UNIT_BINS)
stress: $(STRESS_BINS)
	$(Q)scripts/run-tests.sh --mode $(MODE) --timeout 300 $(STRESS_BINS)
tsan-tests-build: $(TSAN_BINS)
tsan-tests: $(TSAN_BINS)
	$(Q)scripts/run-tests.sh --mode $(MODE) --timeout 300 $(TSAN_BINS)
models:
	$(Q)scripts/check-models.sh $(MODELS)

test: $(DEPS_STAMP)
	$(Q)scripts/test.sh

# --- benchmarks --------------------------------------------------------------
bench: $(DEPS_STAMP)
	$(Q)$(MAKE) --no-print-directory MODE=release all bench-progs
	$(Q)scripts/bench.sh build/release
	$(Q)scripts/bench-metrics.sh build/release

bench-progs: $(BENCH_BINS)

bench-micro: $(DEPS_STAMP)
	$(Q)$(MAKE) --no-print-directory MODE=release bench-progs
	$(Q)build/release/bench/pinion-gbench

# --- install -------------------------------------------------------------------
# The loader (scripts/loader.sh, README "Installing"): into a directory the
# loader searches by itself (PREFIX=/usr/local's /usr/local/lib on Debian),
# install and uninstall run ldconfig when DESTDIR is empty and we are root
# (else they say what to run); anywhere else pinion.pc's Libs carry
# -Wl,-rpath,${libdir}, so a program linked with pkg-config finds the library.
install: all
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/pinion \
		$(DESTDIR)$(BINDIR)
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/libpinion.a
	install -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/libpinion.so.$(VERSION)
	ln -sf libpinion.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libpinion.so.$(MAJOR)
	ln -sf libpinion.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/libpinion.so
	install -m 644 $(PUB_HEADERS) $(DESTDIR)$(INCLUDEDIR)/pinion/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
		-e "s|@RPATH@|$$(scripts/loader.sh rpath '$(LIBDIR)')|" \
		pinion.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/pinion.pc
	$(if $(TOOL_BINS),install -m 755 $(TOOL_BINS) $(DESTDIR)$(BINDIR)/)
	@scripts/loader.sh refresh '$(LIBDIR)' '$(DESTDIR)'

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libpinion.a $(DESTDIR)$(LIBDIR)/libpinion.so \
		$(DESTDIR)$(LIBDIR)/libpinion.so.$(MAJOR) \
		$(DESTDIR)$(LIBDIR)/libpinion.so.$(VERSION) \
		$(DESTDIR)$(LIBDIR)/pkgconfig/pinion.pc \
		$(addprefix $(DESTDIR)$(BINDIR)/,$(TOOLS))
	rm -rf $(DESTDIR)$(INCLUDEDIR)/pinion
	@scripts/loader.sh refresh '$(LIBDIR)' '$(DESTDIR)' uninstall

clean:
	rm -rf build

# --- code checks ---------------------------------------------------------------
SRC_FILES = $(shell git ls-files '*.c' '*.h' '*.cc' 2>/dev/null)
format:
	clang-format -i $(SRC_FILES)
format-check:
	clang-format --dry-run --Werror $(SRC_FILES)
lint: $(DEPS_STAMP)
	$(Q)scripts/lint.sh
check: format-check lint
	$(Q)scripts/check-deps.sh
	$(Q)scripts/check-headers.sh
	$(Q)$(MAKE) --no-print-directory lib
	$(Q)scripts/check-symbols.sh $(LIB_SO)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
