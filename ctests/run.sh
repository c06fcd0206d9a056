#!/usr/bin/env bash
# ctests/run.sh LIBDIR: build every ctests/t_*.c against LIBDIR/libgogc.so and LIBDIR/libgogc.a,
# run each binary, print one PASS/FAIL line per run and end with "N passed, M failed".
#
# Environment:
#   CC             C compiler (default cc)
#   CTEST_FILTER   run only tests whose name (t_xxx) matches this extended regular expression
#                  (a plain substring works too)
#   CTEST_SKIP     skip tests whose name matches this extended regular expression
#   CTEST_CFLAGS   warning flags (default "-Wall -Wextra -Werror")
#   CTEST_TIMEOUT  per-run timeout in seconds (default 120)
#   CTEST_VERBOSE  1: print every run's full output, not only the failures' tail
#   CTEST_OUT      where binaries and logs go (default build/ctests), so that two runs can go
#                  on side by side
#   CTEST_SANITIZE 1: build the C side of each test with -fsanitize=address,undefined (the
#                  library itself is not instrumented) and run it with ASan/UBSan stopping at
#                  the first report; binaries and logs go to build/ctests-san unless CTEST_OUT
#                  says otherwise. The tests in SAN_SKIP below are left out; see README.md.
set -u

if [ $# -lt 1 ]; then
    echo "usage: $0 LIBDIR   (the directory holding libgogc.so and libgogc.a)" >&2
    exit 2
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if ! LIBDIR=$(cd "$1" 2>/dev/null && pwd); then
    echo "run.sh: library directory '$1' does not exist" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
CC=${CC:-cc}
FILTER=${CTEST_FILTER:-}
WARN=${CTEST_CFLAGS--Wall -Wextra -Werror}
TIMEOUT=${CTEST_TIMEOUT:-120}
VERBOSE=${CTEST_VERBOSE:-0}
SANITIZE=${CTEST_SANITIZE:-0}
SAN=
if [ "$SANITIZE" = 1 ]; then
    SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
    OUT=${CTEST_OUT:-$ROOT/build/ctests-san}
    # detect_leaks=0: what the library keeps in libc malloc lives until exit by design, and
    # LeakSanitizer's exit-time scan knows nothing of the collected heap.
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0:exitcode=99}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=98}
    # Tests left out of the sanitizer pass (README.md, "Sanitizers", says why): each checks
    # that an object whose last reference was in a returned-from stack frame is freed by the
    # next collection, and the instrumented code leaves other stale copies of such pointers in
    # live frames and callee-saved registers, which the conservative stack scan rightly keeps.
    SAN_SKIP=${CTEST_SANITIZE_SKIP-'^t_(gc_roots|memstats|setfinalizer)$'}
else
    OUT=${CTEST_OUT:-$ROOT/build/ctests}
    SAN_SKIP='^$'
fi
mkdir -p "$OUT/shared" "$OUT/static" "$OUT/logs"

passed=0
failed=0

show_tail() { # file
    tail -n 40 "$1" | sed 's/^/    | /'
}

run_one() { # name variant binary
    local name=$1 variant=$2 bin=$3
    # One log per GODEBUG setting too, so a failure in one pass of `make check` is not
    # overwritten by the next pass.
    local tag=${GODEBUG:-}
    tag=${tag//[^A-Za-z0-9=]/_}
    local log=$OUT/logs/$name.$variant${tag:+.$tag}.log
    local start end rc
    start=$(date +%s.%N)
    # The test's own output goes to the log; a dying test must not take the script with it.
    # (The subshell keeps bash's own "Segmentation fault ..." job notice out of our output.)
    (timeout -k 5 "$TIMEOUT" "$bin" >"$log" 2>&1 </dev/null; exit $?) 2>/dev/null
    rc=$?
    end=$(date +%s.%N)
    local secs
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    if [ $rc -eq 0 ]; then
        echo "PASS $name ($variant)"
        passed=$((passed + 1))
        [ "$VERBOSE" = 1 ] && sed 's/^/    | /' "$log"
    else
        local why="exit status $rc"
        if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
            why="timed out after ${TIMEOUT}s"
        elif [ $rc -gt 128 ]; then
            why="killed by signal $((rc - 128))"
        fi
        echo "FAIL $name ($variant) [$why after ${secs}s, log $log]"
        failed=$((failed + 1))
        show_tail "$log"
    fi
}

shopt -s nullglob
tests=("$ROOT"/ctests/t_*.c)
if [ ${#tests[@]} -eq 0 ]; then
    echo "run.sh: no ctests/t_*.c found" >&2
fi

for src in "${tests[@]}"; do
    name=$(basename "$src" .c)
    if [ -n "${CTEST_SKIP:-}" ] && [[ "$name" =~ ${CTEST_SKIP} ]]; then
        continue
    fi
    if [ -n "$FILTER" ] && ! [[ "$name" =~ $FILTER ]]; then
        continue
    fi
    if [ "$SANITIZE" = 1 ] && [[ "$name" =~ $SAN_SKIP ]]; then
        echo "SKIP $name (sanitizers)"
        continue
    fi
    for variant in shared static; do
        bin=$OUT/$variant/$name
        blog=$OUT/logs/$name.$variant.build.log
        rm -f "$bin"
        if [ "$variant" = shared ]; then
            # shellcheck disable=SC2086
            "$CC" -O1 -g -pthread $SAN $WARN -I"$ROOT/include" "$src" -o "$bin" \
                -L"$LIBDIR" -lgogc -Wl,-rpath,"$LIBDIR" >"$blog" 2>&1
        else
            # shellcheck disable=SC2086
            "$CC" -O1 -g -pthread $SAN $WARN -I"$ROOT/include" "$src" -o "$bin" \
                "$LIBDIR/libgogc.a" -lpthread -ldl -lm >"$blog" 2>&1
        fi
        if [ $? -ne 0 ] || [ ! -x "$bin" ]; then
            echo "FAIL $name ($variant) [build failed, log $blog]"
            failed=$((failed + 1))
            show_tail "$blog"
            continue
        fi
        run_one "$name" "$variant" "$bin"
    done
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
