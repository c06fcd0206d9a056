#!/usr/bin/env bash
# ctests/soak.sh LIBDIR: the soak run behind `make soak`. Runs the randomised collector tests
# over and over with fresh seeds until at least SOAK_GCS collections have happened in total,
# and prints one line per run (test, seed, GODEBUG, collections, status, time) and a summary.
#
# The tests (linked statically against LIBDIR/libgogc.a, built into build/soak/):
#   t_gc_random   one mutator against a shadow model (GOGC_TEST_SEED, GOGC_TEST_STEPS)
#   t_mt_stress   4 mutator threads (its default; setting MT_STRESS_WORKERS would turn its
#                 collection-count checks off) building and mutating lists and trees
#                 held only in their locals, 2 attached collector threads and 1 unattached one
#                 (GOGC_TEST_SEED)
#   t_mt_churn    2 allocating threads and the main thread's list while waves of threads
#                 attach, allocate, detach and exit, and a collector thread (GOGC_TEST_SEED)
# Every other round runs with GODEBUG=checkmark=1 (each collection re-verified by a second
# mark). Collections are counted, not assumed: every run has gctrace=1 in its GODEBUG and the
# script counts the "gcN(...)" lines it printed.
#
# Environment:
#   SOAK_GCS       collections to reach in total (default 10000)
#   SOAK_SEED      base seed (default: the current time); run i uses a seed derived from it,
#                  printed on its line; replay one run with the command printed for a failure
#   SOAK_MIN_ROUNDS  rounds to run at least (default 4: two plain, two under checkmark)
#   SOAK_TIMEOUT   per-run limit in seconds, a guard against hangs (default 600)
#   SOAK_STEPS     GOGC_TEST_STEPS for t_gc_random (default 200000)
#   CC             C compiler (default cc)
#
# Exit status: 0 when every run passed, 1 otherwise (2 for a usage or build error).
set -u

if [ $# -lt 1 ]; then
    echo "usage: $0 LIBDIR   (the directory holding libgogc.a)" >&2
    exit 2
fi
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LIBDIR=$(cd "$1" 2>/dev/null && pwd) || { echo "soak: no directory $1" >&2; exit 2; }
CC=${CC:-cc}
GCS=${SOAK_GCS:-10000}
BASE=${SOAK_SEED:-$(date +%s)}
MIN_ROUNDS=${SOAK_MIN_ROUNDS:-4}
TIMEOUT=${SOAK_TIMEOUT:-600}
STEPS=${SOAK_STEPS:-200000}
OUT=$ROOT/build/soak
TESTS=(t_gc_random t_mt_stress t_mt_churn)
mkdir -p "$OUT/logs"

for t in "${TESTS[@]}"; do
    if ! "$CC" -O1 -g -pthread -Wall -Wextra -Werror -I"$ROOT/include" "$ROOT/ctests/$t.c" -o "$OUT/$t" \
        "$LIBDIR/libgogc.a" -lpthread -ldl -lm >"$OUT/logs/$t.build.log" 2>&1; then
        echo "soak: building $t failed:" >&2
        sed 's/^/    | /' "$OUT/logs/$t.build.log" >&2
        exit 2
    fi
done

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

total_gcs=0
runs=0
fails=0
round=0
declare -A t_runs=() t_gcs=()
failed_runs=()
t_start=$(now)
echo "soak: base seed $BASE (SOAK_SEED), target $GCS collections, library $LIBDIR"
printf '%-5s %-12s %-20s %-28s %8s %-8s %7s\n' run test seed GODEBUG gcs status secs
while [ "$total_gcs" -lt "$GCS" ] || [ "$round" -lt "$MIN_ROUNDS" ]; do
    if [ $((round % 2)) -eq 1 ]; then
        godebug=gctrace=1,checkmark=1
    else
        godebug=gctrace=1
    fi
    for t in "${TESTS[@]}"; do
        runs=$((runs + 1))
        # A 63-bit seed derived from the base seed and the run number (bash arithmetic wraps).
        seed=$(( (BASE * 6364136223846793005 + runs * 1442695040888963407) & 0x7fffffffffffffff ))
        seed=$(printf '%#x' "$seed")
        log=$OUT/logs/$t.$seed.${godebug//[^A-Za-z0-9=]/_}.log
        env_desc="GOGC_TEST_SEED=$seed GODEBUG=$godebug"
        case $t in
        t_gc_random) env_desc="$env_desc GOGC_TEST_STEPS=$STEPS" ;;
        esac
        t0=$(now)
        # shellcheck disable=SC2086
        (env $env_desc timeout -k 5 "$TIMEOUT" "$OUT/$t" >"$log" 2>&1 </dev/null; exit $?) 2>/dev/null
        rc=$?
        t1=$(now)
        n=$(grep -cE '^gc[0-9]+\([0-9]+\): ' "$log")
        total_gcs=$((total_gcs + n))
        t_runs[$t]=$(( ${t_runs[$t]:-0} + 1 ))
        t_gcs[$t]=$(( ${t_gcs[$t]:-0} + n ))
        if [ $rc -eq 0 ]; then
            status=ok
            rm -f "$log"
        else
            status="FAIL($rc)"
            fails=$((fails + 1))
            failed_runs+=("$t: env $env_desc build/soak/$t   (log $log)")
        fi
        printf '%-5s %-12s %-20s %-28s %8s %-8s %7s\n' "$runs" "$t" "$seed" "$godebug" "$n" "$status" "$(secs "$t0" "$t1")"
        if [ $rc -ne 0 ]; then
            tail -n 30 "$log" | grep -vE '^gc[0-9]+\(' | sed 's/^/    | /'
        fi
    done
    round=$((round + 1))
done
t_end=$(now)

echo
echo "=== soak summary ==="
echo "base seed:    $BASE (SOAK_SEED=$BASE replays the whole soak's seeds)"
echo "rounds:       $round (every other one under GODEBUG=checkmark=1)"
for t in "${TESTS[@]}"; do
    printf '  %-12s %4d runs %8d collections\n' "$t" "${t_runs[$t]:-0}" "${t_gcs[$t]:-0}"
done
echo "runs:         $runs, failures: $fails"
echo "collections:  $total_gcs (counted from gctrace lines)"
echo "wall time:    $(secs "$t_start" "$t_end") s"
if [ "$fails" -ne 0 ]; then
    echo "failed runs (replay with the environment shown):"
    for f in "${failed_runs[@]}"; do
        echo "  $f"
    done
    exit 1
fi
exit 0
