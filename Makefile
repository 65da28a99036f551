# umbra build.
#
#   make                      optimised build with debug info: build/umbra
#   make check                build, unit tests (Criterion), fuzz seed replay,
#                             end-to-end tests (real processes on loopback)
#   make SANITIZE=address,undefined check
#                             the same under ASan/UBSan/LSan, in its own tree
#   make check-loaded         make check 5 times (RUNS=N) from fresh clones
#                             while stress-ng loads the machine; not in CI
#   make bench                benchmarks (bench/*.sh; long, not in check)
#   make fuzz                 libFuzzer (clang) on every tests/fuzz target,
#                             FUZZ_SECONDS each (default 60)
#   make docs                 regenerate docs/config.md from the field table
#   make compile_commands.json  (bear)
#   V=1                       show full compiler command lines
#
# Every dependency comes from pkg-config; when one is missing the first
# build runs scripts/deps.sh, which installs the Debian packages.

VERSION    := 0.1.0
PKGS       := libevent libevent_pthreads libfyaml libcrypto libpcre2-8 sqlite3 \
              libpcap libcurl jansson gsl zlib libzstd libseccomp
TEST_PKGS  := criterion

CC         ?= cc
V          ?= 0
ifeq ($(V),0)
Q          := @
else
Q          :=
endif
SANITIZE   ?=
PYTHON     ?= /usr/bin/python3
FUZZ_SECONDS ?= 60

comma      := ,
ifeq ($(SANITIZE),)
BUILD      := build
OPT        := -O2
else
BUILD      := build/san-$(subst $(comma),-,$(SANITIZE))
OPT        := -O1 -fno-omit-frame-pointer -fsanitize=$(SANITIZE) \
              -fno-sanitize-recover=all
endif

WARN       := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
              -Wmissing-prototypes -Wpointer-arith -Wformat=2 -Wvla \
              -Wno-unused-parameter -Wno-missing-field-initializers
CFLAGS     ?= -g $(OPT)
ALL_CFLAGS  = -std=gnu11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -Isrc -I$(BUILD) \
              $(PKG_CFLAGS) -MMD -MP
ALL_LDFLAGS = $(CFLAGS) $(LDFLAGS)
LIBS        = $(PKG_LIBS) -lpthread -lm

# Leaks inside dependencies that we cannot fix are listed, with reasons, in
# tests/lsan.supp.
export LSAN_OPTIONS := suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS := print_stacktrace=1:halt_on_error=1

# --------------------------------------------------------------- dependencies
# build/pkg.mk is generated once (and after Makefile or deps.sh change):
# make re-reads it before building anything, so the pkg-config flags are
# known before the first compile. Installing missing packages happens here.
NODEPS_GOALS := clean distclean help
ifeq ($(filter-out $(NODEPS_GOALS),$(or $(MAKECMDGOALS),all)),)
else
include build/pkg.mk
endif

build/pkg.mk: Makefile scripts/deps.sh
	@mkdir -p $(@D)
	@pkg-config --exists $(PKGS) $(TEST_PKGS) 2>/dev/null || scripts/deps.sh
	@scripts/deps.sh --check >/dev/null 2>&1 || scripts/deps.sh
	@{ echo "PKG_CFLAGS := $$(pkg-config --cflags $(PKGS))"; \
	   echo "PKG_LIBS := $$(pkg-config --libs $(PKGS))"; \
	   echo "TEST_CFLAGS := $$(pkg-config --cflags $(TEST_PKGS))"; \
	   echo "TEST_LIBS := $$(pkg-config --libs $(TEST_PKGS))"; } > $@.tmp
	@mv $@.tmp $@

# --------------------------------------------------------------- sources
LIB_SRC    := $(sort $(shell find src -name '*.c' ! -path src/cmd/main.c))
LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC   := $(sort $(shell find tests/unit -name 'test_*.c'))
UNIT_BIN   := $(UNIT_SRC:%.c=$(BUILD)/%)
FUZZ_SRC   := $(sort $(wildcard tests/fuzz/*.c))
FUZZ_SRC   := $(filter-out tests/fuzz/driver.c,$(FUZZ_SRC))
FUZZ_REPLAY:= $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz-replay/%)
BENCH_SRC  := $(sort $(wildcard bench/*.c))
BENCH_BIN  := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
DEMO_SRC   := $(sort $(wildcard demo/*.c))
DEMO_BIN   := $(DEMO_SRC:demo/%.c=$(BUILD)/demo/%)
TOOL_SRC   := $(sort $(wildcard tests/tools/*.c))
TOOL_BIN   := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)
UMBRA      := $(BUILD)/umbra
# The programs' own objects; kept (not intermediate) so that a library
# change relinks them without compiling them again.
PROG_OBJ   := $(patsubst %.c,$(BUILD)/obj/%.o,$(TOOL_SRC) $(DEMO_SRC) \
              $(BENCH_SRC) $(UNIT_SRC) $(FUZZ_SRC) tests/fuzz/driver.c)
.SECONDARY: $(PROG_OBJ)

.PHONY: all check check-loaded shadow-reach unit e2e fuzz-replay fuzz bench demo docs docs-check clean distclean FORCE
.DEFAULT_GOAL := all

all: $(UMBRA) $(TOOL_BIN) $(DEMO_BIN)

# The version string carries the commit; the header is rewritten only when
# its text changes, so an unchanged tree rebuilds nothing.
$(BUILD)/version.h: FORCE
	@mkdir -p $(@D)
	@v="$(VERSION)"; c=$$(git rev-parse --short HEAD 2>/dev/null); \
	 [ -n "$$c" ] && v="$$v+$$c"; \
	 printf '#define UMBRA_VERSION "%s"\n' "$$v" > $@.tmp; \
	 cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

$(BUILD)/src/cmd/cmd.o: $(BUILD)/version.h

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	@[ "$(V)" = 0 ] && echo "  CC      $<" || true
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libumbra.a: $(LIB_OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(UMBRA): $(BUILD)/src/cmd/main.o $(BUILD)/libumbra.a
	@[ "$(V)" = 0 ] && echo "  LD      $@" || true
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# Programs beside the library (tools, demo, benchmarks, tests): each
# source is compiled to its own object, whose dependency file is included
# below, so touching a header rebuilds exactly the objects that include it,
# and a library change only relinks them.
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	@[ "$(V)" = 0 ] && echo "  CC      $<" || true
	$(Q)$(CC) $(ALL_CFLAGS) $(if $(filter tests/%,$<),$(TEST_CFLAGS) -Itests) \
	    -c $< -o $@

# Small helper programs for the end-to-end tests and benchmarks.
$(BUILD)/tools/%: $(BUILD)/obj/tests/tools/%.o $(BUILD)/libumbra.a
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# The demo's programs (demo/*.c): its service and load generator.
$(BUILD)/demo/%: $(BUILD)/obj/demo/%.o $(BUILD)/libumbra.a
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# Benchmark programs (bench/*.c); `make bench` runs every bench/*.sh in
# name order, each printing its own table. Long: not part of check.
$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(BUILD)/libumbra.a
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

bench: all $(BENCH_BIN)
	@for s in bench/*.sh; do \
	    echo "== $$s"; \
	    UMBRA=$(CURDIR)/$(UMBRA) TOOLS=$(CURDIR)/$(BUILD)/tools \
	    BENCH=$(CURDIR)/$(BUILD)/bench bash $$s || exit 1; \
	 done

# --------------------------------------------------------------- tests
# One Criterion binary per test file; Criterion runs every test in its own
# process.
$(BUILD)/tests/unit/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/libumbra.a
	@mkdir -p $(@D)
	@[ "$(V)" = 0 ] && echo "  TEST    $@" || true
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(LIBS)

# Tools first: some unit tests run tests/tools programs (testsvc).
# Criterion reports a test's leaks (LeakSanitizer, in the forked test)
# but still exits 0: the log is searched for them. Each binary also writes
# a TAP report with every test's time, for `make check`'s slowest list.
TIMES      := $(BUILD)/times
unit: $(UNIT_BIN) $(TOOL_BIN) | shadow-reach
	@mkdir -p $(TIMES)/unit; rm -f $(TIMES)/unit/*.tap
	@fail=0; log=$(BUILD)/unit.log; for t in $(UNIT_BIN); do \
	    tap=$(TIMES)/unit/$$(echo $${t#$(BUILD)/tests/unit/} | tr / -).tap; \
	    UMBRA_TEST_DATA=$(CURDIR)/tests/data $$t --jobs=2 --short-filename \
	        --output=tap:$$tap >$$log 2>&1; st=$$?; cat $$log; \
	    if [ $$st != 0 ]; then echo "FAILED: $$t"; fail=1; \
	    elif grep -q 'ERROR: LeakSanitizer' $$log; then \
	        echo "FAILED: $$t leaks (LeakSanitizer, above)"; fail=1; fi; \
	 done; exit $$fail

# Every fuzz target is also built with a plain main() (tests/fuzz/driver.c)
# and replayed over its seed corpus, so the invariants it asserts are
# checked by every `make check`, with any compiler.
$(BUILD)/fuzz-replay/%: $(BUILD)/obj/tests/fuzz/%.o \
		$(BUILD)/obj/tests/fuzz/driver.o $(BUILD)/libumbra.a
	@mkdir -p $(@D)
	@[ "$(V)" = 0 ] && echo "  FUZZ    $@" || true
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

fuzz-replay: $(FUZZ_REPLAY)
	@for f in $(FUZZ_REPLAY); do \
	    n=$${f##*/}; $$f tests/fuzz/corpus/$$n || exit 1; \
	 done

e2e: $(UMBRA) $(TOOL_BIN) $(DEMO_BIN) | shadow-reach
	@mkdir -p $(TIMES)
	UMBRA=$(CURDIR)/$(UMBRA) TOOLS=$(CURDIR)/$(BUILD)/tools \
	    $(PYTHON) tests/e2e/run.py --times $(TIMES)/e2e.tsv

# The closed loop on embedded defaults (demo/demo.py, examples/demo.yaml):
# a bad config ships to production, umbra rolls it back, alerts, and
# scales ahead of the day's peak. Exit status 1 when the loop did not act.
demo: all | shadow-reach
	$(PYTHON) demo/demo.py

# As root, the shadow runs as umbra-shadow: it must be able to reach the
# build tree's programs (scripts/shadow-reach.sh says what it changes).
shadow-reach:
	@scripts/shadow-reach.sh $(CURDIR)

# The suite, then where its time went: the ten slowest tests, unit and
# end-to-end, and one closing count.
check: all unit fuzz-replay e2e docs-check
	@$(PYTHON) tests/slowest.py $(TIMES)

# The same, RUNS times (5) from fresh clones while stress-ng loads the
# machine (scripts/check-loaded.sh); SANITIZE passes through. Not in CI.
check-loaded:
	RUNS=$(or $(RUNS),5) SANITIZE=$(SANITIZE) scripts/check-loaded.sh

# libFuzzer needs clang; the library is rebuilt with clang's sanitizers.
FUZZ_BUILD := build/fuzz
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer-no-link,address,undefined
FUZZ_OBJ   := $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o)
$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(@D)
	clang -std=gnu11 -D_GNU_SOURCE -Isrc -I$(BUILD) $(PKG_CFLAGS) \
	    $(FUZZ_FLAGS) -MMD -MP -c $< -o $@
$(FUZZ_BUILD)/bin/%: tests/fuzz/%.c $(FUZZ_OBJ)
	@mkdir -p $(@D)
	clang -std=gnu11 -D_GNU_SOURCE -Isrc $(PKG_CFLAGS) -g -O1 \
	    -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_OBJ) $(LIBS)
$(FUZZ_OBJ): | $(BUILD)/version.h
fuzz: $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/bin/%)
	@for f in $^; do n=$${f##*/}; mkdir -p $(FUZZ_BUILD)/corpus/$$n; \
	    echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -dict=tests/fuzz/$$n.dict \
	        $(FUZZ_BUILD)/corpus/$$n tests/fuzz/corpus/$$n || exit 1; \
	 done

# --------------------------------------------------------------- docs
docs: $(UMBRA)
	$(UMBRA) check-config --reference > docs/config.md

# The reference in docs/ must match the table it is generated from.
docs-check: $(UMBRA)
	@$(UMBRA) check-config --reference | diff -u docs/config.md - \
	    || { echo "docs/config.md is stale: run 'make docs'"; exit 1; }

compile_commands.json: FORCE
	$(MAKE) clean && bear -- $(MAKE) all $(UNIT_BIN)

clean:
	rm -rf build

distclean: clean
	rm -f compile_commands.json

# Every object's dependency file: the library's, the programs' (tools,
# demo, benchmarks, unit tests, fuzz replays) and libFuzzer's.
-include $(LIB_OBJ:.o=.d) $(BUILD)/src/cmd/main.d $(FUZZ_OBJ:.o=.d) \
         $(PROG_OBJ:.o=.d)
FORCE:
