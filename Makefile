# llmux build. `make` builds build/llmux; `make run` and `make test` are the two commands of the
# README. Plain make + pkg-config: the tree is small, the dependencies are Debian packages, and
# one file that shows every flag beats a generator (CMake would add a tool and hide the flags).
#
# Variables: BUILD (output folder), SAN=1 (clang, ASan+UBSan, into build-san), MODULES (the
# src/ folders to build; lets one module be built and tested alone while others are in flux).

SAN ?=
ifeq ($(SAN),1)
BUILD ?= build-san
CC := clang
OPT ?= -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
LDSAN := -fsanitize=address,undefined
else
BUILD ?= build
OPT ?= -O2
LDSAN :=
endif

MODULES ?= core json sse config router auth providers state pool server upstream gateway
LLHTTP_SRC := /usr/share/llhttp
LLHTTP_INC := /usr/share/include/llhttp
PKGS := libuv openssl libfyaml hiredis

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
        -Wno-unused-parameter -Werror
CFLAGS_ALL = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DLLHTTP_STRICT_MODE=1 \
             -Isrc -I. -I$(LLHTTP_INC) $(PKG_CFLAGS) -g $(OPT) -MMD -MP $(WARN) $(CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lm -lpthread $(LDSAN) $(LDFLAGS)

LIB_SRCS := $(foreach m,$(MODULES),$(wildcard src/$(m)/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LLHTTP_OBJS := $(BUILD)/llhttp/llhttp.o $(BUILD)/llhttp/api.o $(BUILD)/llhttp/http.o
UNIT_SRCS := tests/unit/main.c $(foreach m,$(MODULES),$(wildcard tests/unit/test_$(m).c tests/unit/test_$(m)_*.c))
UNIT_OBJS := $(UNIT_SRCS:%.c=$(BUILD)/%.o)
MOCK_SRCS := $(wildcard tests/mock/*.c)
MOCK_OBJS := $(MOCK_SRCS:%.c=$(BUILD)/%.o)
BENCH_SRCS := $(wildcard bench/src/*.c)
BENCH_BINS := $(patsubst bench/src/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))
HAVE_MAIN := $(wildcard src/main.c)
TESTBIN_SRCS := $(wildcard tests/bin/*.c)
TESTBINS := $(patsubst tests/bin/%.c,$(BUILD)/tests/bin/%,$(TESTBIN_SRCS))


.PHONY: fuzz-bins all deps deps-test run test test-san check fuzz fuzz-smoke bench clean
all: $(if $(HAVE_MAIN),$(BUILD)/llmux) $(if $(MOCK_SRCS),$(BUILD)/mockllm) $(BUILD)/test_unit $(BENCH_BINS) $(TESTBINS)

deps:
	@scripts/deps.sh build

deps-test:
	@scripts/deps.sh test

run: deps
	@$(MAKE) --no-print-directory $(BUILD)/llmux
	exec $(BUILD)/llmux serve

# Every test: lint, unit, corpora, integration, fuzz replay. Ends with "N passed, N failed".
test: deps-test
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory fuzz
	@scripts/run-tests.sh $(BUILD)

test-san: deps-test
	@$(MAKE) --no-print-directory SAN=1 all
	@scripts/run-tests.sh build-san

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/llhttp/%.o: $(LLHTTP_SRC)/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -DLLHTTP_STRICT_MODE=1 -I$(LLHTTP_INC) -g $(OPT) -w -c $< -o $@

$(BUILD)/libllmux.a: $(LIB_OBJS) $(LLHTTP_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/llmux: $(BUILD)/src/main.o $(BUILD)/libllmux.a
	$(CC) -o $@ $(filter %.c %.o %.a,$^) $(LDLIBS_ALL)

$(BUILD)/mockllm: $(MOCK_OBJS) $(BUILD)/libllmux.a
	$(CC) -o $@ $(filter %.c %.o %.a,$^) $(LDLIBS_ALL)

$(BUILD)/test_unit: $(UNIT_OBJS) $(BUILD)/libllmux.a
	$(CC) -o $@ $(filter %.c %.o %.a,$^) $(LDLIBS_ALL) $(if $(filter json,$(MODULES)),-ljansson)

$(BUILD)/bench/%: bench/src/%.c $(BUILD)/libllmux.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $(filter %.c %.o %.a,$^) $(LDLIBS_ALL)

# libFuzzer targets: clang, ASan+UBSan, one binary per tests/fuzz/fuzz_*.c, linked against a
# library built with coverage instrumentation. `make fuzz` builds them all into build-fuzz/;
# one alone: make BUILD=build-fuzz-x CC=clang OPT="$(FUZZ_OPT)" MODULES="core json" build-fuzz-x/fuzz_json
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_OPT := -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
            -fno-sanitize-recover=all
fuzz:
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang OPT="$(FUZZ_OPT)" fuzz-bins
fuzz-bins: $(patsubst tests/fuzz/%.c,$(BUILD)/%,$(FUZZ_SRCS))
$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(BUILD)/libllmux.a
	$(CC) $(CFLAGS_ALL) -o $@ $(filter %.c %.o %.a,$^) $(PKG_LIBS) -ljansson -lm -lpthread \
	    -fsanitize=fuzzer,address,undefined

# Test-only programs (servers and clients the integration tests drive): tests/bin/<name>.c.
$(BUILD)/tests/bin/%: tests/bin/%.c $(BUILD)/libllmux.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $(filter %.c %.o %.a,$^) $(LDLIBS_ALL)

fuzz-smoke: fuzz
	@scripts/fuzz-smoke.sh $(or $(SECONDS_PER_TARGET),30)

bench: deps-test all
	bench/run.sh $(BUILD)

clean:
	rm -rf build build-san build-fuzz

-include $(LIB_OBJS:.o=.d) $(UNIT_OBJS:.o=.d) $(MOCK_OBJS:.o=.d) $(BENCH_BINS:=.d) $(TESTBINS:=.d)
