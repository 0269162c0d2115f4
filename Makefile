# postdesk - one non-recursive Makefile.
#   make            build build/postdesk
#   make demo       install dependencies, build, ingest the sample mail, show tickets
#   make check      install test dependencies, build, run every test
#   make check SANITIZE=1   the same under AddressSanitizer and UBSan (build/asan/)
#   make bench      the benchmark: prints figures, never fails on a slow machine
#   make fuzz       each libFuzzer target for FUZZ_SECONDS (clang, build/fuzz/)
#   make install    PREFIX=/usr/local DESTDIR=  (PREFIX=$HOME/.local: no root needed)

PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  := $(PREFIX)/bin
DATADIR := $(PREFIX)/share/postdesk
MANDIR  := $(PREFIX)/share/man

SANITIZE ?= 0
# Warnings are errors in CI (CI=true) or with WERROR=1.
WERROR ?= $(if $(filter true,$(CI)),1,0)

ifeq ($(SANITIZE),1)
B   := build/asan
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
B   := build
SAN :=
endif

PKGS    := gmime-3.0 sqlite3 glib-2.0 gio-2.0 json-glib-1.0 libxml-2.0 gnutls libpcre2-8 libytnef libetpan
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# Debian's libetpan.pc adds -specs=.../no-pie-link.specs, which silently
# links a non-PIE executable; it is dropped here and -fPIE -pie kept.
PKG_LIBS   := $(filter-out -specs=%,$(shell pkg-config --libs $(PKGS) 2>/dev/null))

CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes
ALL_CFLAGS = -std=gnu11 $(WARN) $(if $(filter 1,$(WERROR)),-Werror) \
             -Iinclude -I$(B) $(PKG_CFLAGS) -fPIE $(SAN) $(CFLAGS) \
             -DG_LOG_DOMAIN=\"postdesk\" -DGLIB_VERSION_MIN_REQUIRED=GLIB_VERSION_2_74 \
             -DPD_DATADIR=\"$(DATADIR)\" -MMD -MP
ALL_LDFLAGS = -pie $(SAN) $(LDFLAGS)

SRCS      := $(wildcard ingest/*.c)
LIB_OBJS  := $(patsubst ingest/%.c,$(B)/ingest/%.o,$(filter-out ingest/main.c,$(SRCS))) $(B)/resources.o
BIN       := $(B)/postdesk
# While a module is being written, a unit test can be linked with fewer
# objects: make build/tests/test_mime TEST_OBJS="build/ingest/util.o ..."
TEST_OBJS ?= $(LIB_OBJS)

# Everything `postdesk init` writes is compiled into the binary (GResource),
# so init works the same from the build tree and from an installed copy.
DATA_FILES := $(sort $(wildcard rules/* templates/*)) examples/postdesk.conf

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))
E2E_TESTS := $(sort $(wildcard tests/e2e/*.t))

# The fuzz targets (fuzz/fuzz_*.c). make check replays their seeds and the
# regression corpus through the same code built as plain programs, with
# the compiler and sanitizers of the build in hand.
FUZZ_TARGETS := mime rules template
REPLAY_BINS  := $(patsubst %,$(B)/tests/fuzz-replay-%,$(FUZZ_TARGETS))

BENCH_BINS := $(B)/bench/gen-corpus $(B)/bench/parse-baseline $(B)/bench/peak-rss $(B)/bench/rules-bench

.PHONY: all deps demo-deps test-deps demo check test unit e2e bench fuzz fuzz-build install clean
all: $(BIN)

$(B)/ingest/%.o: ingest/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/resources.xml: $(DATA_FILES) Makefile
	@mkdir -p $(B)
	@{ echo '<?xml version="1.0" encoding="UTF-8"?>'; \
	   echo '<gresources><gresource prefix="/postdesk">'; \
	   for f in $(DATA_FILES); do echo "  <file>$$f</file>"; done; \
	   echo '</gresource></gresources>'; } > $@

$(B)/resources.c: $(B)/resources.xml $(DATA_FILES)
	glib-compile-resources --sourcedir=. --generate-source --c-name pd_data --target=$@ $<

$(B)/resources.o: $(B)/resources.c
	$(CC) $(filter-out -W% -MMD -MP,$(ALL_CFLAGS)) -w -c -o $@ $<

$(BIN): $(B)/ingest/main.o $(LIB_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(B)/tests/testutil.o: tests/unit/testutil.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -c -o $@ $<

$(B)/tests/test_%: tests/unit/test_%.c $(B)/tests/testutil.o $(TEST_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit $(ALL_LDFLAGS) -o $@ $< $(B)/tests/testutil.o $(TEST_OBJS) $(PKG_LIBS)

$(B)/tests/fuzz-replay-%: fuzz/fuzz_%.c fuzz/replay.c fuzz/fuzz.h $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ifuzz $(ALL_LDFLAGS) -o $@ fuzz/replay.c $< $(LIB_OBJS) $(PKG_LIBS)

# The rules benchmark measures postdesk's own classifier, so it links the
# module objects; the other benchmark tools stand alone (the baseline must
# not share postdesk's code), so they link only the libraries.
$(B)/bench/rules-bench: bench/rules-bench.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB_OBJS) $(PKG_LIBS)

$(B)/bench/%: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(PKG_LIBS)

deps:
	@scripts/deps.sh build
demo-deps:
	@scripts/deps.sh demo
test-deps:
	@scripts/deps.sh test

# The public targets install what they need first, then re-enter make so
# that pkg-config is read again with the libraries present.
# The demo builds quietly (-s: no compiler command lines, only warnings
# and errors) and says so; make V=1 demo shows the commands.
demo: demo-deps
	@echo "Building $(BIN) (make V=1 demo shows the compiler commands)"
	@$(MAKE) --no-print-directory $(if $(filter 1,$(V)),,-s) $(BIN)
	@scripts/demo.sh $(BIN)

check: test-deps
	@$(MAKE) --no-print-directory test

# A sanitizer finding exits 86, which no test mistakes for an expected 1 or 2.
SAN_ENV := ASAN_OPTIONS=exitcode=86:detect_leaks=1:abort_on_error=0 \
           UBSAN_OPTIONS=exitcode=86:print_stacktrace=1 LSAN_OPTIONS=exitcode=86

test: $(BIN) $(UNIT_BINS) $(REPLAY_BINS)
	@$(SAN_ENV) POSTDESK="$(abspath $(BIN))" POSTDESK_SRC="$(CURDIR)" \
	  prove --merge --failures $(if $(V),-v) $(UNIT_BINS) $(E2E_TESTS)

bench: test-deps
	@$(MAKE) --no-print-directory $(BIN) $(BENCH_BINS)
	@scripts/bench.sh $(B)

# ---- fuzzing --------------------------------------------------------------
# libFuzzer needs clang; the whole of postdesk is compiled again with it
# into build/fuzz/, with coverage instrumentation and ASan+UBSan, so the
# gcc builds above are never touched. UBSan findings abort (no recovery), so
# libFuzzer keeps the input like a crash's.
FZ          := build/fuzz
FUZZ_CC     ?= clang
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS  = -std=gnu11 $(WARN) $(if $(filter 1,$(WERROR)),-Werror) -Iinclude $(PKG_CFLAGS) \
               $(FUZZ_SAN) -O1 -g -DG_LOG_DOMAIN=\"postdesk\" \
               -DGLIB_VERSION_MIN_REQUIRED=GLIB_VERSION_2_74 -DPD_DATADIR=\"$(DATADIR)\" -MMD -MP
# The targets reach the modules, never the commands (ingest/cmd_*.c).
FUZZ_OBJS   := $(patsubst ingest/%.c,$(FZ)/ingest/%.o,$(filter-out ingest/main.c ingest/cmd_%.c,$(SRCS))) \
               $(FZ)/resources.o
FUZZ_BINS   := $(patsubst %,$(FZ)/fuzz-%,$(FUZZ_TARGETS))
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   ?=

# Unlike gcc, clang takes a parameter named like libc's global 'timezone'
# (sla.c) for shadowing; the gcc builds go on checking -Wshadow.
$(FZ)/ingest/%.o: ingest/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Wno-shadow -fsanitize=fuzzer-no-link -c -o $@ $<

$(FZ)/resources.o: $(B)/resources.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(filter-out -W% -MMD -MP,$(FUZZ_CFLAGS)) -w -c -o $@ $<

# Named here, outside the pattern rule, so make keeps the objects.
$(FUZZ_BINS): $(FUZZ_OBJS)
$(FZ)/fuzz-%: fuzz/fuzz_%.c fuzz/fuzz.h $(FUZZ_OBJS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Ifuzz -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJS) $(PKG_LIBS)

fuzz-build: test-deps
	@$(MAKE) --no-print-directory $(FUZZ_BINS)

fuzz: fuzz-build
	@FUZZ_SECONDS="$(FUZZ_SECONDS)" FUZZ_FLAGS="$(FUZZ_FLAGS)" scripts/fuzz.sh $(FZ) $(FUZZ_TARGETS)

install: $(BIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/rules $(DESTDIR)$(DATADIR)/templates \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5
	install -m 755 $(BIN) $(DESTDIR)$(BINDIR)/postdesk
	install -m 644 examples/postdesk.conf $(DESTDIR)$(DATADIR)/postdesk.conf
	for f in $(wildcard rules/*); do install -m 644 $$f $(DESTDIR)$(DATADIR)/rules/; done
	for f in $(wildcard templates/*); do install -m 644 $$f $(DESTDIR)$(DATADIR)/templates/; done
	install -m 644 docs/postdesk.1 $(DESTDIR)$(MANDIR)/man1/postdesk.1
	install -m 644 docs/postdesk.conf.5 $(DESTDIR)$(MANDIR)/man5/postdesk.conf.5
	install -m 644 docs/postdesk-rules.5 $(DESTDIR)$(MANDIR)/man5/postdesk-rules.5

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
