#!/usr/bin/env bash
# ctests/run_knobs.sh LIBDIR: run the whole C suite (ctests/run.sh) again under each debugging
# knob of GODEBUG, one full pass per knob, and print a summary line per knob plus a total.
#
#   efence=1        every allocation is a large object of its own pages; a freed one is made
#                   inaccessible and never reused (layout-dependent tests check what they mean
#                   in that form: tu_godebug("efence") in testutil.h)
#   clobberfree=1   freed blocks are filled with a pattern that is no heap pointer
#   checkmark=1     every collection re-marks into a shadow bitmap and checks that the first mark
#                   found every object the second one did
#   gcprocs=1       one mark worker
#   stress=65536    a collection every 64 KiB of allocation, with no explicit call
#
# A test that starts children with its own GODEBUG (gctrace, stress, ...) replaces the knob in
# those children; everything else inherits it.
#
# Environment:
#   KNOBS           space-separated GODEBUG values to run (default
#                   "efence=1 clobberfree=1 checkmark=1 gcprocs=1 stress=65536")
#   CTEST_FILTER    passed on to run.sh (only tests whose name contains it)
#   CTEST_TIMEOUT   per-run timeout for run.sh (default here 300 s: the knobs make tests slower)
#   CTEST_VERBOSE   passed on to run.sh
#
# run.sh writes its binaries and logs to build/ctests-knobs/work (CTEST_OUT; overwritten on every
# pass, and apart from build/ctests so that make check can run meanwhile); after each pass this
# script copies that pass's logs to build/ctests-knobs/<knob>/.
#
# Exit status: 0 if every pass passed, 1 otherwise (2 for a usage error).
set -u

if [ $# -lt 1 ]; then
    echo "usage: $0 LIBDIR   (the directory holding libgogc.so and libgogc.a)" >&2
    exit 2
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LIBDIR=$1
KNOBS=${KNOBS:-efence=1 clobberfree=1 checkmark=1 gcprocs=1 stress=65536}
export CTEST_TIMEOUT=${CTEST_TIMEOUT:-300}
SAVE=$ROOT/build/ctests-knobs
export CTEST_OUT=${CTEST_OUT:-$ROOT/build/ctests-knobs/work}

declare -a summary=()
total_pass=0
total_fail=0
status=0
t_all=$(date +%s.%N)

for knob in $KNOBS; do
    echo "=== GODEBUG=$knob ==="
    t0=$(date +%s.%N)
    out=$(mktemp)
    GODEBUG=$knob bash "$ROOT/ctests/run.sh" "$LIBDIR" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    t1=$(date +%s.%N)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
    p=0
    f=0
    if [ -n "$line" ]; then
        p=$(echo "$line" | awk '{ print $1 }')
        f=$(echo "$line" | awk '{ print $3 }')
    else
        f=1
        line="run.sh printed no summary"
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        line="$line (run.sh exit status $rc)"
    fi
    failed_names=$(grep -E '^FAIL ' "$out" | awk '{ print $2 $3 }' | tr '\n' ' ')
    rm -f "$out"
    dest=$SAVE/$knob
    rm -rf "$dest"
    mkdir -p "$dest"
    cp -r "$CTEST_OUT/logs" "$dest/" 2>/dev/null
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    if [ "$f" -ne 0 ]; then
        status=1
        summary+=("FAIL GODEBUG=$knob: $line in ${secs}s; failed: ${failed_names:-?} (logs: $dest/logs)")
    else
        summary+=("PASS GODEBUG=$knob: $line in ${secs}s")
    fi
done

t_end=$(date +%s.%N)
echo
echo "=== knob summary ==="
for s in "${summary[@]}"; do
    echo "$s"
done
echo "knobs total: $total_pass passed, $total_fail failed in $(awk -v a="$t_all" -v b="$t_end" 'BEGIN { printf "%.1f", b - a }')s"
exit $status
