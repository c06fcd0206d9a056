#!/usr/bin/env bash
# fuzz/build.sh: build the libFuzzer harnesses fuzz/<name>.c into build/fuzz/<name>.
#
#   1. A coverage-instrumented libgogc.a in its own target dir (target/fuzz, so the normal
#      target/release build is untouched): cargo build --profile fuzz --features fuzzing with
#      rustc's SanitizerCoverage pass (inline 8-bit counters, PC table, compare tracing), the
#      same instrumentation clang's -fsanitize=fuzzer gives C code, so libFuzzer's cov:/ft:
#      counts the Rust edges too. The fuzz profile (Cargo.toml) is the release profile without
#      LTO (a faster build; the instrumented staticlib links either way). --target makes
#      RUSTFLAGS skip the build scripts (they would need libFuzzer's callbacks to link), and
#      only the staticlib is built (a cdylib would not link without those callbacks either).
#   2. Each fuzz/*.c with clang -g -O1 -fsanitize=fuzzer,address,undefined, linked with that
#      library.
#
# Environment: CLANG (default clang, then clang-14), FUZZ_ONLY="name ..." (build only these),
# FUZZ_NO_LIB=1 (reuse the existing instrumented library).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'fuzz/build.sh: %s\n' "$*" >&2; }

CLANG=${CLANG:-}
if [[ -z $CLANG ]]; then
    for c in clang clang-14; do
        if command -v "$c" >/dev/null 2>&1; then CLANG=$c; break; fi
    done
fi
if [[ -z $CLANG ]]; then
    log "clang not found (apt-get install clang libclang-rt-14-dev)"
    exit 1
fi

export CARGO_TARGET_DIR=target/fuzz
HOST=$(rustc -vV | sed -n "s/^host: //p")
LIB=$CARGO_TARGET_DIR/$HOST/fuzz/libgogc.a
if [[ ${FUZZ_NO_LIB:-0} != 1 || ! -f $LIB ]]; then
    log "instrumented libgogc.a -> $LIB"
    RUSTFLAGS="${RUSTFLAGS:-} -Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
-Cforce-frame-pointers=yes" \
        cargo rustc --quiet --profile fuzz --features fuzzing --lib --crate-type staticlib \
            --target "$HOST"
fi

mkdir -p build/fuzz
if [[ -n ${FUZZ_ONLY:-} ]]; then
    names=($FUZZ_ONLY)
else
    names=()
    for f in fuzz/*.c; do
        [[ -e $f ]] || continue
        n=${f#fuzz/}
        names+=("${n%.c}")
    done
fi
for n in "${names[@]}"; do
    out=build/fuzz/$n
    if [[ -f $out && $out -nt fuzz/$n.c && $out -nt $LIB && $out -nt include/gogc.h ]]; then
        continue
    fi
    log "$CLANG fuzz/$n.c -> $out"
    "$CLANG" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -Iinclude -o "$out" "fuzz/$n.c" "$LIB" -lpthread -ldl -lm
done
