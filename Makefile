# pvhboot build. Sources are found by wildcard: adding a file under lib/,
# vmm/, vmm/dev/, vmm/virtio/, api/, cli/, tests/unit/ or tests/fuzz/ needs no edit here.
#
#   make            build/release/pvhboot (+ the guest SDK images)
#   make demo       boot the bundled hello64 guest (host KVM, else the emulated machine)
#   make check      every test; last line "N passed, N failed, N skipped"
#   make fuzz       every libFuzzer harness for FUZZ_SECONDS (default 600)
#   make install    PREFIX=/usr/local DESTDIR=...: pvhboot, pvhboot(1), bash
#                   completion, libpvhboot.a, its headers, pvhboot.pc; make uninstall
#
# Variants (VARIANT=...): release (-O2), san (ASan+UBSan, used by the unit
# tests), static (-static, for the binaries that run inside the emulated machine),
# clang (release flags built by clang: make check's proof of no clang warnings).

CC      ?= cc
VARIANT ?= release
OUT     := build/$(VARIANT)

WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla -Wpointer-arith
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE $(WARN) -Iinclude -MMD -MP
SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

ifeq ($(VARIANT),san)
CFLAGS  += $(SAN)
LDFLAGS += $(SAN)
endif
ifeq ($(VARIANT),static)
LDFLAGS += -static
endif
ifeq ($(VARIANT),clang)
CC      := clang
endif

LIB_SRC  := $(wildcard lib/*.c)
EXTRACT_SRC := $(wildcard extract/*.c)
EXTRACT_LIBS := -lz -llzma -llz4 -lzstd -lbz2 -llzo2
VMM_SRC  := $(wildcard vmm/*.c vmm/dev/*.c vmm/virtio/*.c)
API_SRC  := $(wildcard api/*.c)
API_LIBS := -ljansson -lhttp_parser
CLI_SRC  := $(wildcard cli/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
BENCH_SRC := $(wildcard bench/bench_*.c)

obj = $(patsubst %.c,$(OUT)/obj/%.o,$(1))

LIBPVH  := $(OUT)/libpvhboot.a
LIBVMM  := $(OUT)/libpvhvmm.a
LIBEXT  := $(OUT)/libpvhextract.a
LIBAPI  := $(OUT)/libpvhapi.a
PVHBOOT := $(OUT)/pvhboot
UNITS   := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRC))
BENCHES := $(patsubst bench/%.c,$(OUT)/bench/%,$(BENCH_SRC))

.PHONY: all variant demo check unit fuzz fuzz-build clean guest bench install uninstall
all:
	$(MAKE) variant VARIANT=release
	$(MAKE) guest

ifeq ($(VARIANT),static)
variant: $(PVHBOOT)   # the binary the emulated machine runs; tests need the shared cmocka
else
variant: $(PVHBOOT) $(UNITS) $(BENCHES)
endif

$(OUT)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIBPVH): $(call obj,$(LIB_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIBVMM): $(call obj,$(VMM_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIBEXT): $(call obj,$(EXTRACT_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIBAPI): $(call obj,$(API_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

LIBS_ALL := $(LIBAPI) $(LIBEXT) $(LIBVMM) $(LIBPVH)
LDLIBS  += $(EXTRACT_LIBS) $(API_LIBS) -lpthread

$(PVHBOOT): $(call obj,$(CLI_SRC)) $(LIBS_ALL)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(OUT)/tests/test_%: $(OUT)/obj/tests/unit/test_%.o $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

$(OUT)/bench/%: $(OUT)/obj/bench/%.o $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

guest:
	$(MAKE) -C guest

# libFuzzer harnesses: clang, ASan+UBSan, every library source compiled in
# (once, instrumented for the fuzzer: build/fuzz/obj/, shared by the harnesses).
FUZZ_FLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude -MMD -MP
FUZZ_OBJS := $(patsubst %.c,build/fuzz/obj/%.o,$(LIB_SRC) $(EXTRACT_SRC) $(VMM_SRC) $(API_SRC))
FUZZERS := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(FUZZ_FLAGS) -c $< -o $@
.SECONDARY: $(FUZZ_OBJS) $(patsubst %.c,build/fuzz/obj/%.o,$(FUZZ_SRC))
build/fuzz/%: build/fuzz/obj/tests/fuzz/%.o $(FUZZ_OBJS)
	clang -fsanitize=fuzzer $(FUZZ_FLAGS) -o $@ $^ $(EXTRACT_LIBS) $(API_LIBS) -lpthread
fuzz-build: $(FUZZERS)
FUZZ_SECONDS ?= 600
fuzz: fuzz-build
	tests/fuzz/run-fuzzers.sh $(FUZZ_SECONDS) $(FUZZERS)

# make demo: its build is quiet (the log is kept in build/demo-build.log);
# what it shows is the guest's output and a one-line summary with its time.
demo:
	@tests/lib/install-deps.sh
	@tests/demo.sh

# ---- install -----------------------------------------------------------------
# The pvhboot command, its manual and bash completion, and the library that
# parses and plans (libpvhboot.a: lib/ only, libc only) with its headers and a
# pkg-config file. The extraction and VMM libraries stay inside pvhboot.
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
LIBDIR      ?= $(PREFIX)/lib
INCLUDEDIR  ?= $(PREFIX)/include
MANDIR      ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
VERSION     := $(shell sed -n 's/^\#define PVHBOOT_VERSION "\(.*\)"/\1/p' cli/main.c)
API_HEADERS := $(addprefix include/pvhboot/,acpi.h aml.h bootdata.h bytes.h bzimage.h entry.h error.h \
                 file.h image.h layout.h multiboot.h plan.h)
INSTALLED   := $(BINDIR)/pvhboot $(MANDIR)/man1/pvhboot.1 $(BASHCOMPDIR)/pvhboot $(LIBDIR)/libpvhboot.a \
               $(LIBDIR)/pkgconfig/pvhboot.pc $(INCLUDEDIR)/pvh/start_info.h \
               $(patsubst include/%,$(INCLUDEDIR)/%,$(API_HEADERS))

install:
	$(MAKE) VARIANT=release build/release/pvhboot build/release/libpvhboot.a
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR) \
	    $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/pvh $(DESTDIR)$(INCLUDEDIR)/pvhboot
	install -m 755 build/release/pvhboot $(DESTDIR)$(BINDIR)/pvhboot
	install -m 644 man/pvhboot.1 $(DESTDIR)$(MANDIR)/man1/pvhboot.1
	install -m 644 completion/pvhboot $(DESTDIR)$(BASHCOMPDIR)/pvhboot
	install -m 644 build/release/libpvhboot.a $(DESTDIR)$(LIBDIR)/libpvhboot.a
	install -m 644 include/pvh/start_info.h $(DESTDIR)$(INCLUDEDIR)/pvh/start_info.h
	install -m 644 $(API_HEADERS) $(DESTDIR)$(INCLUDEDIR)/pvhboot/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' pvhboot.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/pvhboot.pc

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	rmdir $(DESTDIR)$(INCLUDEDIR)/pvh $(DESTDIR)$(INCLUDEDIR)/pvhboot 2>/dev/null || true

# The builds use every CPU (CHECK_JOBS); tests/run-all.sh runs the suites
# one per CPU, then the benchmarks and fuzzers alone.
CHECK_JOBS ?= $(shell nproc)
check:
	tests/lib/install-deps.sh
	$(MAKE) -j$(CHECK_JOBS) variant VARIANT=san
	$(MAKE) -j$(CHECK_JOBS) variant VARIANT=release
	$(MAKE) -j$(CHECK_JOBS) variant VARIANT=static
	$(MAKE) -j$(CHECK_JOBS) variant VARIANT=clang
	$(MAKE) -j$(CHECK_JOBS) guest
	$(MAKE) -j$(CHECK_JOBS) fuzz-build
	tests/run-all.sh

clean:
	rm -rf build
	$(MAKE) -C guest clean

-include $(shell find build -name '*.d' 2>/dev/null)
