# qbk: GNU make.  Targets: all check install uninstall lint check-headers
# fuzz bench demo clean.  `make SANITIZE=1` builds with ASan+UBSan into
# build-san/, so the plain and the sanitizer builds never mix objects.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/qbk
DESTDIR ?=

CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS = libcurl jansson libarchive libsodium inih libzstd libcrypto

ifeq ($(SANITIZE),1)
BUILD ?= build-san
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
else
BUILD ?= build
SANFLAGS =
endif

WARN = -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wold-style-definition -Wpointer-arith -Wvla \
	-Wwrite-strings -Wcast-qual
OPT ?= -O2 -g
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
BASE_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
	$(OPT) $(WARN) $(SANFLAGS) -pthread -Ilib $(PKG_CFLAGS) $(CFLAGS)
LIB_CFLAGS = $(BASE_CFLAGS) -Wconversion
LDLIBS_ALL = $(PKG_LIBS) -pthread -lm
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)

LIB_SRC ?= $(shell find lib -name '*.c' | LC_ALL=C sort)
LIB_OBJ := $(patsubst lib/%.c,$(BUILD)/lib/%.o,$(LIB_SRC))
LIB_HDR := $(shell find lib -name '*.h' | LC_ALL=C sort)
LIBQBK := $(BUILD)/libqbk.a

CLI_SRC := $(filter-out cmd/qbk-%.c,$(wildcard cmd/*.c))
CLI_OBJ := $(patsubst cmd/%.c,$(BUILD)/cmd/%.o,$(CLI_SRC))
PROG_SRC ?= $(wildcard cmd/qbk-*.c)
PROGS := $(patsubst cmd/%.c,$(BUILD)/bin/%,$(PROG_SRC))

UNIT_SRC ?= $(wildcard tests/unit/*_test.c)
UNIT_BIN := $(patsubst tests/unit/%_test.c,$(BUILD)/tests/unit/%.t,$(UNIT_SRC))
UNIT_HELP_SRC := $(filter-out %_test.c,$(wildcard tests/unit/*.c))
UNIT_HELP_OBJ := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%.o,$(UNIT_HELP_SRC))

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_REPLAY := $(patsubst tests/fuzz/%.c,$(BUILD)/tests/fuzz/%-replay,$(FUZZ_SRC))

MAN_PAGES := $(wildcard man/*.[157])
SCRIPTS := $(wildcard scripts/qbk-*)

.PHONY: all check unit install uninstall lint check-headers fuzz bench demo \
	clean
.SUFFIXES:
.SECONDARY:

all: $(LIBQBK) $(PROGS)

$(BUILD)/lib/%.o: lib/%.c $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -c -o $@ $<

$(LIBQBK): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $(LIB_OBJ)

$(BUILD)/cmd/%.o: cmd/%.c $(LIB_HDR) $(wildcard cmd/*.h) | $(BUILD)/cmd
	$(CC) $(BASE_CFLAGS) -c -o $@ $<

$(BUILD)/bin/%: $(BUILD)/cmd/%.o $(CLI_OBJ) $(LIBQBK) | $(BUILD)/bin
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(CLI_OBJ) $(LIBQBK) $(LDLIBS_ALL)

$(BUILD)/tests/unit/%.o: tests/unit/%.c $(LIB_HDR) $(wildcard tests/unit/*.h) | $(BUILD)/tests/unit
	$(CC) $(BASE_CFLAGS) -Itests/unit -c -o $@ $<

$(BUILD)/tests/unit/%.t: $(BUILD)/tests/unit/%_test.o $(UNIT_HELP_OBJ) $(LIBQBK)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(UNIT_HELP_OBJ) $(LIBQBK) $(LDLIBS_ALL) -lcmocka

# Each fuzz target also builds with a small main() that replays its corpus,
# so that gcc builds rerun every input that ever crashed.
$(BUILD)/tests/fuzz/%-replay: tests/fuzz/%.c tests/fuzz/replay.c $(LIBQBK) | $(BUILD)/tests/fuzz
	$(CC) $(BASE_CFLAGS) $(ALL_LDFLAGS) -o $@ $< tests/fuzz/replay.c $(LIBQBK) $(LDLIBS_ALL)

$(BUILD)/cmd $(BUILD)/bin $(BUILD)/tests/unit $(BUILD)/tests/fuzz:
	mkdir -p $@

unit: $(UNIT_BIN)

check: all $(UNIT_BIN) $(FUZZ_REPLAY)
	QBK_BUILD=$(BUILD) sh tests/run

check-headers:
	@set -e; for h in $(LIB_HDR); do \
		printf '#include "%s"\n' "$${h#lib/}" | \
		$(CC) $(BASE_CFLAGS) -x c -fsyntax-only - ; \
	done; echo "check-headers: ok"

lint: check-headers
	@sh scripts/check-layers
	@sh scripts/check-functions
	@sh scripts/check-repo-door
	@! grep -nE '\b(exit|printf|puts)\(|\b(stderr|stdout)\b' $(LIB_SRC) | \
		grep -v 'qbk_log.c' || { echo "lint: lib/ must not print or exit"; exit 1; }
	@! grep -n '_internal\.h' cmd/*.c cmd/*.h 2>/dev/null || \
		{ echo "lint: cmd/ includes an internal header"; exit 1; }
	@! grep -nE '#include <(curl/curl|jansson|archive|sodium|ini)\.h>' $(LIB_HDR) || \
		{ echo "lint: a public header includes a third-party header"; exit 1; }
	@out=$$(nm -g --defined-only $(LIB_OBJ) 2>/dev/null | \
		awk 'NF==3 && $$3 !~ /^qbk_/ {print}'); \
		if [ -n "$$out" ]; then echo "lint: symbols without qbk_ prefix:"; \
		echo "$$out"; exit 1; fi
	shellcheck -s sh scripts/install-deps scripts/demo scripts/check-layers scripts/check-repo-door scripts/check-functions $(SCRIPTS) tests/run
	@# CLI tests pass their checks as single-quoted strings to lib.sh.
	shellcheck -s sh -e SC1091,SC2016,SC2034 tests/cli/*.sh
	mandoc -Tlint -Wwarning $(MAN_PAGES)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 \
		$(DESTDIR)$(DOCDIR)/examples
	$(if $(PROGS),install -m 0755 $(PROGS) $(DESTDIR)$(BINDIR)/)
	$(if $(SCRIPTS),install -m 0755 $(SCRIPTS) $(DESTDIR)$(BINDIR)/)
	$(if $(filter %.1,$(MAN_PAGES)),install -m 0644 $(filter %.1,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man1/)
	$(if $(filter %.5,$(MAN_PAGES)),install -m 0644 $(filter %.5,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man5/)
	$(if $(filter %.7,$(MAN_PAGES)),install -m 0644 $(filter %.7,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man7/)
	cp -R etc/. $(DESTDIR)$(DOCDIR)/examples/
	install -m 0644 README COPYING $(DESTDIR)$(DOCDIR)/

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(PROGS) $(SCRIPTS)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(filter %.1,$(MAN_PAGES))))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(filter %.5,$(MAN_PAGES))))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man7/,$(notdir $(filter %.7,$(MAN_PAGES))))
	rm -rf $(DESTDIR)$(DOCDIR)

demo: all
	QBK_BIN=$(CURDIR)/$(BUILD)/bin sh scripts/demo

$(BUILD)/tests/bench/%: tests/bench/%.c $(LIBQBK)
	mkdir -p $(BUILD)/tests/bench
	$(CC) $(BASE_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIBQBK) $(LDLIBS_ALL)

bench: all $(BUILD)/tests/bench/bench_chunk
	$(BUILD)/tests/bench/bench_chunk
	QBK_BUILD=$(BUILD) python3 tests/bench/bench.py

# libFuzzer targets (clang): build-fuzz/fuzz_<x>; run one with
#   build-fuzz/fuzz_config -max_total_time=600 tests/fuzz/corpus/config
FUZZ_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -g
fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang \
		CFLAGS="-fsanitize=fuzzer-no-link $(FUZZ_FLAGS)" build-fuzz/libqbk.a
	set -e; for f in $(FUZZ_SRC); do \
		clang $(BASE_CFLAGS) -fsanitize=fuzzer $(FUZZ_FLAGS) \
		-o build-fuzz/$$(basename $$f .c) $$f build-fuzz/libqbk.a \
		$(LDLIBS_ALL); done

clean:
	rm -rf build build-san build-fuzz
