# cwg: see README.md. `make`, `make check`, `make freestanding`, `make install`.
CC ?= cc
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
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
ALL_CPPFLAGS := -D_GNU_SOURCE -Iinclude -Isrc $(CPPFLAGS)
# The daemon sees the public headers and its own directory, nothing else:
# an #include of a core, crypto or UAPI internal does not compile.
DAEMON_CPPFLAGS := -D_GNU_SOURCE -Iinclude $(CPPFLAGS)
# libcwg's objects export only what the public headers mark CWG_EXPORT.
LIB_CFLAGS := -fPIC -fvisibility=hidden -DCWG_BUILDING_LIBRARY
ALL_LDFLAGS := -pthread $(LDFLAGS)
LDLIBS := -lcrypto
# The daemon alone links libseccomp, for its sandbox (src/linux/sandbox.c).
DAEMON_LDLIBS := $(if $(wildcard src/linux/sandbox.c),-lseccomp)
ifneq ($(SANITIZE),)
# CWG_SANITIZED: the daemon leaves its sandbox off (see sandbox.c).
# CWG_DEBUG_LOCKS: every lock rule's assertion is checked.
ALL_CPPFLAGS += -DCWG_SANITIZED -DCWG_DEBUG_LOCKS
DAEMON_CPPFLAGS += -DCWG_SANITIZED -DCWG_DEBUG_LOCKS
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
ALL_LDFLAGS += -fsanitize=$(SANITIZE)
endif

# libcwg: the sans-IO core, the crypto layer, the UAPI, the single-tunnel
# API, and the POSIX host the core's <cwg/platform.h> names (locks,
# memory, packet buffers). The daemon is src/linux/; its parts that unit
# tests use too (offload helpers, the packet pool, batch ordering, ...)
# also go into an archive of their own.
LIB_SRCS := $(sort $(wildcard src/*.c src/core/*.c src/crypto/*.c src/uapi/*.c src/tunnel/*.c src/posix/*.c))
DAEMON_SRCS := $(sort $(wildcard src/linux/*.c))
TEST_SRCS := $(sort $(wildcard tests/unit/test_*.c))
TEST_HELPERS := $(sort $(filter-out $(TEST_SRCS),$(wildcard tests/unit/*.c)))
BENCH_SRCS := $(sort $(wildcard bench/*.c))
TOOL_SRCS := $(sort $(wildcard tests/tools/*.c))

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
DAEMON_OBJS := $(DAEMON_SRCS:%.c=$(BUILD)/%.o)
DAEMON_PARTS := $(filter-out $(BUILD)/src/linux/main.o,$(DAEMON_OBJS))
TEST_HELPER_OBJS := $(TEST_HELPERS:%.c=$(BUILD)/%.o)
TEST_BINS := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)
TOOL_BINS := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tools/%)
LIB := $(BUILD)/libcwg.a
DAEMON_LIB := $(BUILD)/libcwg-daemon.a
SONAME := libcwg.so.0
SO := $(BUILD)/$(SONAME)

.PHONY: all check unit-check freestanding install install-stage clean bench demo fuzz abi-check abi-update api-check soak deb kmod kmod-check
all: $(BUILD)/cwg $(SO) $(TEST_BINS) $(BENCH_BINS) $(TOOL_BINS)

$(BUILD)/%.o: %.c $(MAKEFILE_LIST)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(LIB_OBJS): $(BUILD)/%.o: %.c $(MAKEFILE_LIST)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(LIB_CFLAGS) -MMD -MP -c -o $@ $<

$(DAEMON_OBJS): $(BUILD)/%.o: %.c $(MAKEFILE_LIST)
	@mkdir -p $(dir $@)
	$(CC) $(DAEMON_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(DAEMON_LIB): $(DAEMON_PARTS)
	rm -f $@
	$(AR) rcs $@ $^

# The shared library: SONAME libcwg.so.0, only cwg_ symbols exported
# (-fvisibility=hidden plus the version script src/libcwg.map).
$(SO): $(LIB_OBJS) src/libcwg.map
	$(CC) $(ALL_LDFLAGS) -shared -Wl,-soname,$(SONAME) \
		-Wl,--version-script=src/libcwg.map -Wl,--no-undefined \
		-o $@ $(LIB_OBJS) $(LDLIBS)
	ln -sf $(SONAME) $(BUILD)/libcwg.so

$(BUILD)/cwg: $(DAEMON_OBJS) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $(DAEMON_OBJS) $(LIB) $(LDLIBS) $(DAEMON_LDLIBS)

# Unit tests of internals, tools and benchmarks link the archives.
TEST_LIBS := $(DAEMON_LIB) $(LIB)
$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(TEST_HELPER_OBJS) $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(TEST_HELPER_OBJS) $(TEST_LIBS) $(LDLIBS) $(DAEMON_LDLIBS)

# Traffic generators the network tests drive (tests/tools/).
$(BUILD)/tools/%: $(BUILD)/tests/tools/%.o $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(TEST_LIBS) $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(TEST_LIBS) $(LDLIBS)

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
# api-check first: it builds examples/wgping, which tests/net/94 runs.
check: all api-check
	rm -f $(SAN_LOG).*
	$(SAN_ENV) IMPL=$(abspath $(BUILD)/cwg) prove -v $(TEST_BINS) $(sort $(wildcard tests/net/[0-9]*.sh))
	@if ls $(SAN_LOG).* >/dev/null 2>&1; then \
		echo "sanitizer reports:"; cat $(SAN_LOG).*; exit 1; fi

# DURATION s (1800) of traffic both ways plus churn; rekeys and VmRSS
# checked (root; not in CI; see scripts/soak.sh).
DURATION ?= 1800
soak: all
	rm -f $(SAN_LOG).*
	$(SAN_ENV) IMPL=$(abspath $(BUILD)/cwg) DURATION=$(DURATION) scripts/soak.sh
	@if ls $(SAN_LOG).* >/dev/null 2>&1; then \
		echo "sanitizer reports:"; cat $(SAN_LOG).*; exit 1; fi

unit-check: all
	prove -v $(TEST_BINS)

# The core compiled with no C library in sight: -nostdinc means any
# #include outside the public headers (include/cwg/), the freestanding
# base (src/base.h), src/crypto/crypto.h and src/core itself fails.
FREESTANDING_FLAGS := -std=c11 $(WARN) -O2 -ffreestanding -nostdinc -fno-builtin-printf -DCWG_FREESTANDING
freestanding:
	@set -e; for f in $(sort $(wildcard src/core/*.c)); do \
		echo "  FREESTANDING $$f"; \
		$(CC) $(FREESTANDING_FLAGS) -Iinclude -c -o /dev/null $$f; \
	done; \
	bad=$$(grep -ho '^#include *[<"][^>"]*[>"]' $(wildcard src/core/*.c src/core/*.h) | \
		grep -v -e '"../base.h"' -e '"../crypto/crypto.h"' \
		-e '<cwg/[a-z_]*\.h>' -e '"[a-z_]*\.h"' || true); \
	if [ -n "$$bad" ]; then echo "core includes outside itself: $$bad"; exit 1; fi; \
	echo "freestanding: ok"

# The public interface, installed: headers, libcwg.a, libcwg.so.0 and
# cwg.pc; no internal header goes anywhere.
PUBLIC_HEADERS := $(sort $(wildcard include/cwg/*.h))
$(BUILD)/cwg.pc: cwg.pc.in $(MAKEFILE_LIST)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(shell sed -n 's/^\#define CWG_VERSION_MAJOR //p' include/cwg/cwg.h).$(shell sed -n 's/^\#define CWG_VERSION_MINOR //p' include/cwg/cwg.h)|' \
		$< >$@

install: $(BUILD)/cwg $(LIB) $(SO) $(BUILD)/cwg.pc
	install -D -m 0755 $(BUILD)/cwg $(DESTDIR)$(PREFIX)/bin/cwg
	if [ -f doc/cwg.8 ]; then install -D -m 0644 doc/cwg.8 $(DESTDIR)$(PREFIX)/share/man/man8/cwg.8; fi
	install -d $(DESTDIR)$(INCLUDEDIR)/cwg $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 0644 $(PUBLIC_HEADERS) $(DESTDIR)$(INCLUDEDIR)/cwg/
	install -m 0644 $(LIB) $(DESTDIR)$(LIBDIR)/libcwg.a
	install -m 0755 $(SO) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libcwg.so
	install -m 0644 $(BUILD)/cwg.pc $(DESTDIR)$(LIBDIR)/pkgconfig/cwg.pc

# The ABI of libcwg.so.0 against the description stored in abi/
# (abigail-tools): an incompatible change fails unless the SONAME changed
# with it; exports other than cwg_ symbols fail too. Only the public
# headers' types count (--drop-private-types): struct cwg_device,
# cwg_peer and cwg_tunnel are opaque, their layout the library's own. `make abi-update`
# stores the current one after a deliberate, compatible change.
ABI_REF := abi/$(SONAME).abi
abi-check: $(SO)
	@bad=$$(nm -D --defined-only $(SO) | awk '$$2 != "A" { print $$3 }' | sed 's/@.*//' | grep -v '^cwg_' || true); \
	if [ -n "$$bad" ]; then echo "abi-check: exported without the cwg_ prefix: $$bad"; exit 1; fi
	abidw --headers-dir include/cwg --drop-private-types --no-corpus-path --out-file $(BUILD)/abi.xml $(SO)
	@ref_soname=$$(grep -o "soname='[^']*'" $(ABI_REF) | head -n1 | cut -d"'" -f2); \
	if [ "$$ref_soname" != "$(SONAME)" ]; then \
		echo "abi-check: SONAME changed ($$ref_soname -> $(SONAME)): a new ABI, nothing to compare"; exit 0; fi; \
	abidiff --no-added-syms $(ABI_REF) $(BUILD)/abi.xml; rc=$$?; \
	if [ $$((rc & 3)) -ne 0 ]; then echo "abi-check: abidiff failed ($$rc)"; exit 1; fi; \
	if [ $$((rc & 12)) -ne 0 ]; then \
		echo "abi-check: $(SONAME) changed incompatibly (abidiff $$rc): bump the SONAME or undo it"; exit 1; fi; \
	abidiff $(ABI_REF) $(BUILD)/abi.xml >/dev/null || \
		echo "abi-check: symbols added (compatible); make abi-update records them"; \
	echo "abi-check: $(SONAME) compatible with $(ABI_REF)"
abi-update: $(SO)
	abidw --headers-dir include/cwg --drop-private-types --no-corpus-path --out-file $(ABI_REF) $(SO)

# Programs outside the tree: install into a staging root, then build
# examples/ and tests/api/ with nothing but `pkg-config --cflags --libs
# cwg` against it, and run what runs without a network.
STAGE := $(abspath $(BUILD))/stage
API_PKG := PKG_CONFIG_PATH=$(STAGE)$(LIBDIR)/pkgconfig PKG_CONFIG_SYSROOT_DIR=$(STAGE)
api-check: install-stage
	@mkdir -p $(BUILD)/api
	@set -e; for f in $(wildcard examples/*.c tests/api/*.c); do \
		echo "  CC (pkg-config cwg) $$f"; \
		$(CC) -std=c11 $(WARN) $(CFLAGS) -D_GNU_SOURCE \
			$(if $(SANITIZE),-fsanitize=$(SANITIZE)) \
			$$($(API_PKG) pkg-config --cflags cwg) $$f \
			-o $(BUILD)/api/$$(basename $$f .c) \
			$$($(API_PKG) pkg-config --libs cwg); \
	done
	LD_LIBRARY_PATH=$(STAGE)$(LIBDIR) $(SAN_ENV) prove -v $(BUILD)/api/test_*
	LD_LIBRARY_PATH=$(STAGE)$(LIBDIR) $(SAN_ENV) $(BUILD)/api/pair
install-stage:
	rm -rf $(STAGE)
	$(MAKE) --no-print-directory install DESTDIR=$(STAGE)

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

# The Debian package (debian/): build/deb/cwg_VERSION_ARCH.deb, checked
# by lintian. dpkg-buildpackage writes next to the tree it builds, so it
# builds a copy in build/deb/src. Neither all nor check runs it.
deb:
	scripts/deps.sh build deb
	rm -rf build/deb
	mkdir -p build/deb/src
	tar -c --anchored --exclude=./.git --exclude='./build*' . | \
		tar -x -C build/deb/src
	cd build/deb/src && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		dpkg-buildpackage -us -uc -b -Jauto
	rm -rf build/deb/src
	@echo "lintian --info --display-info --pedantic build/deb/*.changes"; \
	lintian --info --display-info --pedantic build/deb/*.changes \
		>build/deb/lintian.txt; rc=$$?; cat build/deb/lintian.txt; \
	n() { grep -c "^$$1:" build/deb/lintian.txt; }; \
	echo "lintian: exit $$rc; tags: $$(n E) errors, $$(n W) warnings," \
		"$$(n I) info, $$(n P) pedantic"; \
	echo "deb: $$(ls build/deb/*.deb | grep -v dbgsym)"; exit $$rc
# The kernel module, built against Debian's packaged kernel headers
# (kmod/README.md); kmod-check boots it in a VM and checks it there.
kmod:
	$(MAKE) -C kmod OUT=$(abspath $(BUILD))/kmod all probe
kmod-check: kmod $(BUILD)/cwg $(BUILD)/tools/garbage $(BUILD)/tools/deadfeed $(BUILD)/tools/cookie_probe
	BUILD=$(abspath $(BUILD)) scripts/kmod-vm.sh

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
