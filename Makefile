# cwg: see README.md. `make`, `make check`, `make freestanding`, `make install`.
CC ?= cc
PREFIX ?= /usr/local
DESTDIR ?=
SANITIZE ?=
# A sanitized build gets its own tree, so objects never mix: ThreadSanitizer
# (SANITIZE=thread) in build-tsan, the others (address,undefined) in build-san.
ifneq ($(findstring thread,$(SANITIZE)),)
BUILD ?= build-tsan
else ifneq ($(SANITIZE),)
BUILD ?= build-san
else
BUILD ?= build
endif

CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
ALL_CFLAGS := -std=c11 $(WARN) $(CFLAGS) -pthread
ALL_CPPFLAGS := -D_GNU_SOURCE -Isrc $(CPPFLAGS)
ALL_LDFLAGS := -pthread $(LDFLAGS)
LDLIBS := -lcrypto
# The daemon alone links libseccomp, for its sandbox (src/linux/sandbox.c).
DAEMON_LDLIBS := $(if $(wildcard src/linux/sandbox.c),-lseccomp)
ifneq ($(SANITIZE),)
# CWG_SANITIZED: the daemon leaves its sandbox off (see sandbox.c).
ALL_CPPFLAGS += -DCWG_SANITIZED
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
ALL_LDFLAGS += -fsanitize=$(SANITIZE)
endif

# The library: the sans-IO core, the crypto layer, the UAPI, the host
# functions the core's platform header names (src/linux/platform.c, the
# packet pool in src/linux/pool.c), the pure offload helpers (segmenting,
# checksums, coalescing) and the data threads' batch ordering
# (src/linux/order.c), which unit tests use too.
LIB_LINUX := $(wildcard src/linux/platform.c src/linux/pool.c src/linux/offload.c src/linux/order.c)
LIB_SRCS := $(sort $(wildcard src/core/*.c src/crypto/*.c src/uapi/*.c) $(LIB_LINUX))
DAEMON_SRCS := $(sort $(filter-out $(LIB_LINUX),$(wildcard src/linux/*.c)))
TEST_SRCS := $(sort $(wildcard tests/unit/test_*.c))
TEST_HELPERS := $(sort $(filter-out $(TEST_SRCS),$(wildcard tests/unit/*.c)))
BENCH_SRCS := $(sort $(wildcard bench/*.c))
TOOL_SRCS := $(sort $(wildcard tests/tools/*.c))

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
DAEMON_OBJS := $(DAEMON_SRCS:%.c=$(BUILD)/%.o)
TEST_HELPER_OBJS := $(TEST_HELPERS:%.c=$(BUILD)/%.o)
TEST_BINS := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)
TOOL_BINS := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tools/%)
LIB := $(BUILD)/libcwg.a

.PHONY: all check unit-check freestanding install clean bench demo fuzz
all: $(BUILD)/cwg $(TEST_BINS) $(BENCH_BINS) $(TOOL_BINS)

$(BUILD)/%.o: %.c $(MAKEFILE_LIST)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/cwg: $(DAEMON_OBJS) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $(DAEMON_OBJS) $(LIB) $(LDLIBS) $(DAEMON_LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(TEST_HELPER_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(TEST_HELPER_OBJS) $(LIB) $(LDLIBS)

# Traffic generators the network tests drive (tests/tools/).
$(BUILD)/tools/%: $(BUILD)/tests/tools/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# Unit tests (TAP programs) and, as root with /dev/net/tun, the network
# tests in tests/net/ (each says "skipped" with its reason otherwise).
# Under SANITIZE, every report (including the daemon's, whose stderr is gone
# once it daemonizes) goes to $(BUILD)/san-log.PID, and any such file fails
# the run: leaks at exit included.
SAN_LOG := $(abspath $(BUILD))/san-log
SAN_ENV := $(if $(SANITIZE),ASAN_OPTIONS=log_path=$(SAN_LOG):detect_leaks=1 UBSAN_OPTIONS=log_path=$(SAN_LOG):print_stacktrace=1:halt_on_error=1)
# ThreadSanitizer: every report is logged and the daemon runs on (one run
# collects all of them), 2 data threads per direction (one is the default
# on 2 CPUs, and races need two); tests/tsan.supp says why each
# suppression is there. TSan runtimes older than LLVM 18 (gcc 12's,
# clang 14's) die at start ("unexpected memory mapping",
# google/sanitizers#1716) when the kernel randomizes mmap with more bits
# than the 28 they work with here: then the tests run with ASLR off
# (setarch -R, which every child inherits, daemons included).
ifneq ($(findstring thread,$(SANITIZE)),)
TSAN_NOASLR ?= $(shell [ "$$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null)" \
	-gt 28 ] 2>/dev/null && echo 'setarch -R')
TSAN_OPTS := log_path=$(SAN_LOG):halt_on_error=0:second_deadlock_stack=1
TSAN_OPTS := $(TSAN_OPTS):suppressions=$(abspath tests/tsan.supp)
SAN_ENV := $(TSAN_NOASLR) env TSAN_OPTIONS=$(TSAN_OPTS) \
	UBSAN_OPTIONS=log_path=$(SAN_LOG):print_stacktrace=1:halt_on_error=1 \
	CWG_THREADS=$(or $(CWG_THREADS),2)
endif
check: all
	rm -f $(SAN_LOG).*
	$(SAN_ENV) IMPL=$(abspath $(BUILD)/cwg) prove -v $(TEST_BINS) $(sort $(wildcard tests/net/[0-9]*.sh))
	@if ls $(SAN_LOG).* >/dev/null 2>&1; then \
		echo "sanitizer reports:"; cat $(SAN_LOG).*; exit 1; fi

unit-check: all
	prove -v $(TEST_BINS)

# The core compiled with no C library in sight: -nostdinc means any
# #include outside src/core and src/crypto/crypto.h fails to compile.
FREESTANDING_FLAGS := -std=c11 $(WARN) -O2 -ffreestanding -nostdinc -fno-builtin-printf -DCWG_FREESTANDING
freestanding:
	@set -e; for f in $(sort $(wildcard src/core/*.c)); do \
		echo "  FREESTANDING $$f"; \
		$(CC) $(FREESTANDING_FLAGS) -iquote src/core -c -o /dev/null $$f; \
	done; \
	bad=$$(grep -ho '^#include *[<"][^>"]*[>"]' $(filter-out src/core/platform.h,$(wildcard src/core/*.c src/core/*.h)) | \
		grep -v -e '"platform.h"' -e '"../crypto/crypto.h"' \
		-e '"[a-z_]*\.h"' || true); \
	if [ -n "$$bad" ]; then echo "core includes outside itself: $$bad"; exit 1; fi; \
	echo "freestanding: ok"

install: $(BUILD)/cwg
	install -D -m 0755 $(BUILD)/cwg $(DESTDIR)$(PREFIX)/bin/cwg
	if [ -f doc/cwg.8 ]; then install -D -m 0644 doc/cwg.8 $(DESTDIR)$(PREFIX)/share/man/man8/cwg.8; fi

# A tunnel between two namespaces with stock wg-quick (root).
demo: $(BUILD)/cwg
	scripts/demo.sh

# cwg side by side with wireguard-go and the bare veth (root).
bench: all
	bench/run

# libFuzzer targets for FUZZ_SECONDS each (clang).
FUZZ_SECONDS ?= 30
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
