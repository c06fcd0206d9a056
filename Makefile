# gogc: build, test, demo, benchmark and install.
#
#   make            cargo build --release (target/release/libgogc.{so,a})
#   make check      library build, Rust unit tests, C tests against both libraries
#   make demo       build and run demo/gcbench.c (GCBench with GODEBUG=gctrace=1) and
#                   demo/alloc_demo.c against the static library
#   make bench      installs missing peers (benches/deps.sh: libgc-dev libjemalloc-dev
#                   libmimalloc-dev time golang-go gccgo-12, via apt-get when root or sudo -n
#                   works), then the allocation benchmark (gogc vs glibc, jemalloc, mimalloc;
#                   1, 2 and 4 threads), benches/run.sh (GCBench classic and larger,
#                   binary-trees 16 and 21, markbench; gogc typed and untyped vs bdwgc, glibc,
#                   jemalloc, mimalloc, and Go and gccgo-12 for the tree workloads) and the
#                   Rust micro-benchmarks (cargo bench --bench micro: malloc fast path,
#                   GC-program interpreter, mark loop); writes benches/results/<date>.md
#                   (long: 30-70 min)
#   make bench-quick  the same in quick mode without the Rust micro-benchmarks (about 3 min;
#                   writes benches/results/<date>-quick.md)
#   make bench-micro  only the Rust micro-benchmarks (cargo bench --bench micro)
#   make fuzz       build the libFuzzer harnesses fuzz/*.c (fuzz/build.sh: clang, coverage-
#                   instrumented libgogc.a in target/fuzz) and run each for FUZZ_SECONDS (60);
#                   FUZZ_MERGE=1 merges new coverage into fuzz/corpus/<name> (see fuzz/README.md)
#   make fuzz-replay  the harnesses over their committed corpora only (part of make check)
#   make header     regenerate the committed include/gogc.h
#   make install    PREFIX=/usr/local (default), DESTDIR supported
#   make clean
#
# Build products other than cargo's live in build/ (ignored by git).

SHELL := /bin/bash

CARGO   ?= cargo
CC      ?= cc
CFLAGS  ?= -O2 -g -Wall -Wextra
PREFIX  ?= /usr/local
DESTDIR ?=
INSTALL ?= install

LIBDIR    := target/release
BUILD     := build
STATICLIB := $(LIBDIR)/libgogc.a
SHAREDLIB := $(LIBDIR)/libgogc.so
HEADER    := include/gogc.h
# What a C program needs besides libgogc.a when linking statically.
STATIC_LIBS := -lpthread -ldl -lm

VERSION := $(shell sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n 1)
COMMIT  := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
TODAY   := $(shell date +%F)

# Extra arguments for build/alloc_bench under `make bench` / `make bench-quick` (e.g. --reps 21).
BENCH_ARGS ?=

# Known-flaky tests kept out of `make check` (each must be named in an open issue with its
# failure rate); run them with `make check-flaky`. None at the moment: the three that were here
# (t_mt_fork, t_mt_stress, t_minigo) came back after their causes were found and fixed (issue 4:
# a stop that could leave a stopped thread's stack unscanned, a checkmark pass that scanned an
# exiting thread the first pass had skipped, and two flushes of one exiting thread's cache under
# a cooperative host).
FLAKY := ^$$

# Tests that also run under GODEBUG=stress=65536 in `make check` (the rest take minutes under
# stress on 2 cores; `bash ctests/run_knobs.sh target/release` runs the whole suite under each knob).
# t_mt_signals is not among them: its sender waits for each of 6000 signals to be handled, and
# with a stop-the-world every 64 KiB of allocation most targets are parked when their signal
# arrives, so a run takes anywhere from 2 s to over 2 minutes on 2 cores (timing, not a
# failure: it runs in the checkmark and plain passes). Nor is t_mt_fork: its main thread builds
# and forks while two background threads allocate flat out, and with a collection every 64 KiB
# it spends most of its time stopped; a run took 2 s to 148 s on 2 cores, on the code of
# 2026-11-25 as on later code (6 runs each; the 120 s limit failed a CI run). It passes in the
# checkmark and plain passes, and `ctests/run_knobs.sh` still runs it under stress.
STRESS_TESTS := ^t_(zeroing|roundupsize|mlookup|large|types|misc|fatal|gc_roots|gc_precise|gc_fatal|gc_trace|fin|setfinalizer|gc_mixed)$$

# Tests that also run under GODEBUG=efence=1 and GODEBUG=clobberfree=1 in `make check`: ones
# whose expectations depend on the size-class layout or the heap accounting (each checks what
# it means in a way efence honours too), about 10 s per pass under efence. Not here for time:
# t_zeroing (35 s under efence), t_threads (23 s), t_memstats (13 s). The whole suite under
# every knob: `make check-knobs` (ctests/run_knobs.sh, about 30 minutes on 2 cores).
KNOB_TESTS := ^t_(fatal|mlookup|misc|large|gc_page|gc_precise|types|roundupsize|setfinalizer)$$

# Tests that also run with the C side built with -fsanitize=address,undefined in `make check`
# (CTEST_SANITIZE=1 in ctests/run.sh; about 25 s); `CTEST_SANITIZE=1 bash ctests/run.sh
# target/release` runs the whole suite that way (about 3 minutes).
SAN_TESTS := ^t_(fatal|mlookup|misc|types|gc_precise|mt_churn)$$

.PHONY: check-knobs soak check-flaky all check fuzz fuzz-build fuzz-replay header demo bench bench-quick bench-deps bench-micro install uninstall clean

all:
	$(CARGO) build --release

# Fail-fast sequence; the last line printed on success or on a C-test failure is the
# `N passed, M failed` line of ctests/run.sh.
check:
	@echo "==> cargo clippy --all-targets -- -D warnings"
	@$(CARGO) clippy --quiet --all-targets -- -D warnings
	@echo "==> cargo build --release"
	@$(CARGO) build --release --quiet
	@echo "==> cargo test --release"
	@$(CARGO) test --release --quiet
	@test -f ctests/run.sh || { echo "check: ctests/run.sh is missing" >&2; exit 1; }
	@echo "==> C tests under GODEBUG=checkmark=1 (every collection re-verified)"
	@GODEBUG=checkmark=1 CTEST_SKIP='$(FLAKY)' bash ctests/run.sh $(LIBDIR) | grep -E '^(FAIL|    \||[0-9]+ passed)' | sed 's/^/checkmark: /'; test $${PIPESTATUS[0]} -eq 0
	@echo "==> C tests under GODEBUG=stress=65536 (a collection every 64 KiB; the heavy tests run in the full pass only)"
	@GODEBUG=stress=65536 CTEST_FILTER='$(STRESS_TESTS)' CTEST_SKIP='$(FLAKY)' bash ctests/run.sh $(LIBDIR) | grep -E '^(FAIL|    \||[0-9]+ passed)' | sed 's/^/stress: /'; test $${PIPESTATUS[0]} -eq 0
	@echo "==> C tests under GODEBUG=efence=1 and GODEBUG=clobberfree=1 (the layout and heap-accounting tests; run_knobs.sh runs all)"
	@for k in efence=1 clobberfree=1; do GODEBUG=$$k CTEST_FILTER='$(KNOB_TESTS)' CTEST_SKIP='$(FLAKY)' bash ctests/run.sh $(LIBDIR) | grep -E '^(FAIL|    \||[0-9]+ passed)' | sed "s/^/$$k: /"; test $${PIPESTATUS[0]} -eq 0 || exit 1; done
	@echo "==> C tests built with -fsanitize=address,undefined (CTEST_SANITIZE=1; a fast subset)"
	@CTEST_SANITIZE=1 CTEST_FILTER='$(SAN_TESTS)' CTEST_SKIP='$(FLAKY)' bash ctests/run.sh $(LIBDIR) | grep -E '^(FAIL|    \||[0-9]+ passed)' | sed 's/^/sanitize: /'; test $${PIPESTATUS[0]} -eq 0
	@echo "==> fuzz corpus replay (fuzz/build.sh, fuzz/run.sh --replay)"
	@$(MAKE) --no-print-directory fuzz-replay
	@echo "==> C tests (ctests/run.sh $(LIBDIR))"
	@CTEST_SKIP='$(FLAKY)' bash ctests/run.sh $(LIBDIR)

# The whole C suite under each GODEBUG knob (efence=1 clobberfree=1 checkmark=1 gcprocs=1
# stress=65536; KNOBS='...' picks others): ctests/run_knobs.sh.
check-knobs:
	@$(CARGO) build --release --quiet
	@bash ctests/run_knobs.sh $(LIBDIR)

# t_gc_random, t_mt_stress (4 mutator threads) and t_mt_churn with fresh seeds, every other
# round under checkmark, until SOAK_GCS (default 10000) collections have run: ctests/soak.sh.
soak:
	@$(CARGO) build --release --quiet
	@bash ctests/soak.sh $(LIBDIR)

check-flaky:
	@$(CARGO) build --release --quiet
	@CTEST_FILTER='$(FLAKY)' bash ctests/run.sh $(LIBDIR)

# libFuzzer harnesses (fuzz/README.md). FUZZ_SECONDS per harness, FUZZ_MERGE=1 to merge.
FUZZ_SECONDS ?= 60
fuzz-build:
	@bash fuzz/build.sh

fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash fuzz/run.sh

# Every committed corpus input once through its harness: a fixed crash stays fixed.
fuzz-replay: fuzz-build
	@bash fuzz/run.sh --replay

header:
	GOGC_UPDATE_HEADER=1 $(CARGO) build --release

$(HEADER):
	@echo "$(HEADER) is missing; run 'make header' to generate it" >&2
	@exit 1

$(BUILD):
	@mkdir -p $(BUILD)

# The C programs link the static library, so they run without LD_LIBRARY_PATH.
$(BUILD)/alloc_demo: demo/alloc_demo.c $(HEADER) all | $(BUILD)
	$(CC) $(CFLAGS) -Iinclude -o $@ demo/alloc_demo.c $(STATICLIB) $(STATIC_LIBS)

$(BUILD)/gcbench: demo/gcbench.c $(HEADER) all | $(BUILD)
	$(CC) $(CFLAGS) -Iinclude -o $@ demo/gcbench.c $(STATICLIB) $(STATIC_LIBS)

# gcbench runs with gctrace on: one line per collection on stderr, then a MemStats summary.
demo: $(BUILD)/gcbench $(BUILD)/alloc_demo
	@echo "==> GODEBUG=gctrace=1 $(BUILD)/gcbench"
	@GODEBUG=gctrace=1 ./$(BUILD)/gcbench
	@echo "==> $(BUILD)/alloc_demo"
	@./$(BUILD)/alloc_demo

# alloc_bench's multi-thread table also measures jemalloc and mimalloc, through their own entry
# points only, so that the process's malloc stays glibc's (Debian's builds of both export
# malloc/free too): jemalloc is linked statically from a copy of libjemalloc_pic.a whose standard
# names are made local (objcopy), leaving mallocx/dallocx; mimalloc is dlopen'ed at run time.
# Without libjemalloc_pic.a (libjemalloc-dev) the jemalloc column says n/a.
JE_LOCALIZE := malloc calloc realloc free aligned_alloc memalign posix_memalign valloc malloc_usable_size
$(BUILD)/alloc_bench: benches/alloc_bench.c $(HEADER) all | $(BUILD) bench-deps
	@je=$$($(CC) -print-file-name=libjemalloc_pic.a); jedef=; jelib=; \
	if [ -f "$$je" ] && objcopy $(addprefix --localize-symbol=,$(JE_LOCALIZE)) "$$je" $(BUILD)/libjemalloc_local.a; then \
		jedef=-DHAVE_JEMALLOC; jelib=$(BUILD)/libjemalloc_local.a; \
	else echo "alloc_bench: libjemalloc_pic.a not found (libjemalloc-dev): no jemalloc column" >&2; fi; \
	echo "$(CC) -O2 -g -Wall -Wextra -Iinclude $$jedef -o $@ benches/alloc_bench.c $(STATICLIB) $$jelib $(STATIC_LIBS)"; \
	$(CC) -O2 -g -Wall -Wextra -Iinclude -DGOGC_COMMIT='"$(COMMIT)"' $$jedef \
		-o $@ benches/alloc_bench.c $(STATICLIB) $$jelib $(STATIC_LIBS)

# bench-deps: benches/deps.sh installs the missing peers with apt-get (as root, or with a sudo
# that needs no password) and otherwise prints the apt-get line; it fails only when a C peer
# (libgc-dev, libjemalloc-dev, libmimalloc-dev) or /usr/bin/time is still missing. Without
# golang-go or gccgo-12 their rows say "n/a (not installed)".
bench-deps:
	@bash benches/deps.sh

# bench: the allocation micro-benchmark (its output starts benches/results/$(TODAY).md), then
# benches/run.sh: GCBench (classic and larger), binary-trees 16 and 21, markbench against bdwgc,
# glibc, jemalloc, mimalloc, Go and gccgo-12 (tables appended to the same file), then the Rust
# micro-benchmarks (appended too); 30-70 minutes on a 2-core VM. bench-quick: alloc_bench
# --quick and run.sh --quick (about 3 minutes on an idle 2-core machine), no Rust
# micro-benchmarks; it writes benches/results/$(TODAY)-quick.md, so a quick run never replaces
# the day's full results.
# run_benches ALLOC_BENCH_ARGS RUN_SH_ARGS OUTFILE
define run_benches
	@mkdir -p benches/results
	@echo "==> $(BUILD)/alloc_bench $(1) (results also go to $(3))" >&2
	@set -o pipefail; ./$(BUILD)/alloc_bench $(1) | tee $(3).tmp
	@mv -f $(3).tmp $(3)
	@echo "==> benches/run.sh $(2) (tables appended to $(3))" >&2
	@bash benches/run.sh --no-cargo --out $(3) $(2)
endef

bench: $(BUILD)/alloc_bench
	$(call run_benches,$(BENCH_ARGS),,benches/results/$(TODAY).md)
	@echo "==> cargo bench --bench micro (table appended to benches/results/$(TODAY).md)" >&2
	@set -o pipefail; $(CARGO) bench --quiet --bench micro | tee -a benches/results/$(TODAY).md
	@echo "==> wrote benches/results/$(TODAY).md" >&2

bench-quick: $(BUILD)/alloc_bench
	$(call run_benches,--quick $(BENCH_ARGS),--quick,benches/results/$(TODAY)-quick.md)
	@echo "==> wrote benches/results/$(TODAY)-quick.md" >&2

# The Rust micro-benchmarks alone (benches/micro.rs; stdout only). MICRO_ARGS='--quick' or
# MICRO_ARGS='gcprog' are passed on to the harness.
MICRO_ARGS ?=
bench-micro:
	$(CARGO) bench --bench micro -- $(MICRO_ARGS)

$(BUILD)/gogc.pc: gogc.pc.in Cargo.toml | $(BUILD)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' gogc.pc.in > $@.tmp
	mv -f $@.tmp $@

# Does not run cargo itself when the libraries exist, so `make && sudo make install` works
# even where root has no Rust toolchain. The .pc file is regenerated for every PREFIX.
install: $(HEADER)
	@test -f $(SHAREDLIB) -a -f $(STATICLIB) || $(CARGO) build --release
	@rm -f $(BUILD)/gogc.pc
	@$(MAKE) --no-print-directory $(BUILD)/gogc.pc PREFIX='$(PREFIX)'
	$(INSTALL) -d '$(DESTDIR)$(PREFIX)/lib' '$(DESTDIR)$(PREFIX)/lib/pkgconfig' '$(DESTDIR)$(PREFIX)/include'
	$(INSTALL) -m 755 $(SHAREDLIB) '$(DESTDIR)$(PREFIX)/lib/libgogc.so'
	$(INSTALL) -m 644 $(STATICLIB) '$(DESTDIR)$(PREFIX)/lib/libgogc.a'
	$(INSTALL) -m 644 $(HEADER) '$(DESTDIR)$(PREFIX)/include/gogc.h'
	$(INSTALL) -m 644 $(BUILD)/gogc.pc '$(DESTDIR)$(PREFIX)/lib/pkgconfig/gogc.pc'

uninstall:
	rm -f '$(DESTDIR)$(PREFIX)/lib/libgogc.so' '$(DESTDIR)$(PREFIX)/lib/libgogc.a' \
		'$(DESTDIR)$(PREFIX)/include/gogc.h' '$(DESTDIR)$(PREFIX)/lib/pkgconfig/gogc.pc'

clean:
	$(CARGO) clean
	rm -rf $(BUILD)
