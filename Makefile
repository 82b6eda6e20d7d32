# joulebench — GNU make build. `make` builds, `make check` runs every test,
# `make demo` runs the case study, `make deps` installs Debian packages.
# New .c files under src/, src/sources/ and tests/unit/ are picked up by
# wildcard; nothing here needs editing to add a source or a unit test.

PREFIX ?= /usr/local
CC ?= cc
BUILD ?= build
PKGS := sqlite3 yaml-0.1 gsl libmodbus json-c
DEBS := build-essential pkg-config libsqlite3-dev libyaml-dev libgsl-dev libmodbus-dev \
        libjson-c-dev libcmocka-dev libopenblas-dev libjpeg-dev libpng-dev bats sqlite3 \
        python3 python3-numpy python3-scipy python3-pil

# Optional: the headless-browser test of the HTML report (skipped with a
# reason when absent). `make deps-browser` installs it; CI does.
BROWSER_DEBS := chromium

WARN := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wno-format-truncation
ifeq ($(CI),true)
WARN += -Werror
endif
OPT ?= -O2 -g
CFLAGS ?=
CFLAGS += -std=c17 $(OPT) $(WARN) -D_GNU_SOURCE -pthread -Iinclude -Isrc $(SANFLAGS)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDLIBS += $(PKG_LIBS) -ldl -lm -pthread
LDFLAGS += $(SANFLAGS)

CORE_SRC := $(filter-out src/main.c,$(wildcard src/*.c src/sources/*.c))
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
LIB_SRC := lib/joulebench.c
LIB_OBJ := $(BUILD)/lib/joulebench.o
LIB_PIC := $(BUILD)/lib/joulebench.pic.o
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TEST_HELPERS := $(wildcard tests/helpers/*.c)
TEST_HELPER_BIN := $(TEST_HELPERS:tests/helpers/%.c=$(BUILD)/tests/helpers/%)
# Fake libnvidia-ml.so.1 for the nvml source tests (tests/fakes/fake_nvml.c).
FAKE_NVML := $(BUILD)/tests/fake/libnvidia-ml.so.1
CHECK_EXTRA += $(FAKE_NVML)

.PHONY: format-check all check unit e2e sanitize deps demo install clean format bench deps-browser \
        report-screenshot
all: $(BUILD)/joulebench $(BUILD)/libjoulebench.a $(BUILD)/libjoulebench.so joulebench

joulebench: $(BUILD)/joulebench
	@ln -sf $(BUILD)/joulebench joulebench

$(BUILD)/joulebench: $(BUILD)/src/main.o $(CORE_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libjoulebench.a: $(LIB_OBJ)
	ar rcs $@ $^

$(BUILD)/libjoulebench.so: $(LIB_PIC)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libjoulebench.so.0 -o $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/lib/joulebench.pic.o: lib/joulebench.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(CORE_OBJ) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $^ $(LDLIBS) $(LDFLAGS) -lcmocka

$(BUILD)/tests/helpers/%: tests/helpers/%.c $(CORE_OBJ) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $^ $(LDLIBS) $(LDFLAGS)

$(FAKE_NVML): tests/fakes/fake_nvml.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -shared -fPIC -o $@ $<

-include workloads/cnn/cnn.mk
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

deps:
	@missing=""; for p in $(DEBS) $(EXTRA_DEBS); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	else echo "all Debian packages present"; fi

deps-browser:
	@$(MAKE) --no-print-directory deps DEBS="$(BROWSER_DEBS)"

# The HTML report of a synthetic experiment, checked in headless Chromium,
# as build/report.html and build/report.png.
report-screenshot: all
	@JB=$(BUILD)/joulebench tests/browser/make_store.sh $(BUILD)/report-demo.db
	@$(BUILD)/joulebench report $(BUILD)/report-demo.db --html $(BUILD)/report.html \
	  --target epoch:2 >/dev/null
	@tests/browser/check_report.sh $(BUILD)/report.html $(BUILD)/report.png

check: deps all $(UNIT_BIN) $(TEST_HELPER_BIN) $(CHECK_EXTRA)
	@BUILD=$(BUILD) tests/run.sh

# The whole suite once more under AddressSanitizer + UndefinedBehaviorSanitizer.
sanitize: deps
	$(MAKE) BUILD=build-san SANFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer" \
	  OPT="-O1 -g" all unit-bins
	@BUILD=build-san JB_SANITIZE=1 ASAN_OPTIONS=detect_leaks=1 \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 tests/run.sh

unit-bins: $(UNIT_BIN) $(TEST_HELPER_BIN) $(CHECK_EXTRA)

demo: deps all $(DEMO_DEPS)
	@tests/../examples/demo.sh

bench: all
	@echo "benchmarks live in bench/: see README.md"

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(BUILD)/joulebench $(DESTDIR)$(PREFIX)/bin/joulebench
	install -m 644 include/joulebench.h $(DESTDIR)$(PREFIX)/include/joulebench.h
	install -m 644 $(BUILD)/libjoulebench.a $(DESTDIR)$(PREFIX)/lib/libjoulebench.a
	install -m 755 $(BUILD)/libjoulebench.so $(DESTDIR)$(PREFIX)/lib/libjoulebench.so.0
	ln -sf libjoulebench.so.0 $(DESTDIR)$(PREFIX)/lib/libjoulebench.so
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(shell sed -n 's/.*JB_VERSION "\(.*\)"/\1/p' src/jb.h)|' \
	  lib/joulebench.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/joulebench.pc
	pydir=$$(/usr/bin/python3 -c 'import sys; print([p for p in sys.path if p.startswith("/usr/local/lib/python3") or p.endswith("dist-packages")][0])' 2>/dev/null); \
	  if [ "$(PREFIX)" != /usr/local ] || [ -z "$$pydir" ]; then pydir=$(PREFIX)/lib/python3/dist-packages; fi; \
	  install -d $(DESTDIR)$$pydir && install -m 644 python/joulebench.py $(DESTDIR)$$pydir/joulebench.py

format:
	clang-format -i $$(git ls-files "*.c" "*.h" | grep -v "^tests/fixtures/")

# Fails when a C file differs from the checked-in .clang-format style (CI runs it).
format-check:
	@clang-format --dry-run --Werror $$(git ls-files "*.c" "*.h" | grep -v "^tests/fixtures/") \
	  && echo "format: every C file follows .clang-format"

clean:
	rm -rf build build-san joulebench
