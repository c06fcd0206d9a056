#!/usr/bin/env bash
# fuzz/run.sh: run every libFuzzer harness (build/fuzz/<name>, built by fuzz/build.sh) in turn.
#
#   fuzz/run.sh [name ...]     fuzz each harness for FUZZ_SECONDS (default 60) seconds over a
#                              working corpus build/fuzz/corpus/<name>, seeded from the committed
#                              fuzz/corpus/<name>; per harness print executions, exec/s and
#                              coverage (cov:, ft:); crashes, timeouts and leaks are saved in
#                              build/fuzz/crashes/<name>/ (emptied at the start of each
#                              run) and make the script fail.
#   FUZZ_MERGE=1               afterwards merge the inputs that add coverage back into
#                              fuzz/corpus/<name> (-merge=1), ready to commit.
#   fuzz/run.sh --replay       run each harness once over its committed corpus (fast; `make check`).
#
# Environment: FUZZ_SECONDS, FUZZ_MERGE, FUZZ_TIMEOUT (libFuzzer -timeout, seconds per input,
# default 30), FUZZ_ARGS (extra libFuzzer flags, e.g. -seed=1 or -max_len=512).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

replay=0
if [[ ${1:-} == --replay ]]; then
    replay=1
    shift
fi
names=("$@")
if ((${#names[@]} == 0)); then
    for f in fuzz/*.c; do
        [[ -e $f ]] || continue
        n=${f#fuzz/}
        names+=("${n%.c}")
    done
fi
SECONDS_EACH=${FUZZ_SECONDS:-60}
TIMEOUT=${FUZZ_TIMEOUT:-30}
fail=0

for n in "${names[@]}"; do
    bin=build/fuzz/$n
    if [[ ! -x $bin ]]; then
        echo "fuzz/run.sh: $bin is missing (run fuzz/build.sh)" >&2
        fail=1
        continue
    fi
    seeds=fuzz/corpus/$n
    mkdir -p "$seeds"
    if ((replay)); then
        # Each committed input once; any crash, fatal mismatch or timeout fails.
        files=("$seeds"/*)
        if [[ ! -e ${files[0]} ]]; then
            echo "replay $n: no committed corpus"
            continue
        fi
        log=build/fuzz/replay-$n.log
        if "$bin" -timeout="$TIMEOUT" -runs=1 "${files[@]}" >"$log" 2>&1; then
            echo "replay $n: ${#files[@]} inputs ok"
        else
            echo "replay $n: FAILED (log $log)"
            grep -E 'gcprog:|ERROR|SUMMARY|Running:' "$log" | tail -n 20 | sed 's/^/    | /'
            fail=1
        fi
        continue
    fi
    work=build/fuzz/corpus/$n
    crashes=build/fuzz/crashes/$n
    mkdir -p "$work" "$crashes"
    # Only this run's crashes are reported: an earlier run's (already fixed and put in the
    # corpus, or still to be looked at) would otherwise fail every later run.
    rm -f "$crashes"/*
    cp -n "$seeds"/* "$work"/ 2>/dev/null || true
    log=build/fuzz/$n.log
    echo "==> $n: ${SECONDS_EACH}s over $work (log $log)"
    # -fork would hide the exec counts; one process, stop at the first crash.
    "$bin" -max_total_time="$SECONDS_EACH" -timeout="$TIMEOUT" -print_final_stats=1 \
        -artifact_prefix="$crashes/" ${FUZZ_ARGS:-} "$work" >"$log" 2>&1
    rc=$?
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\).*/cov: \1 ft: \2/p' <<<"$last")
    corp=$(sed -n 's/.*corp: \([0-9]*\/[0-9a-zA-Z]*\).*/corp: \1/p' <<<"$last")
    echo "$n: executions ${execs:-?} (${rate:-?}/s), ${cov:-cov: ?}, ${corp:-corp: ?}"
    if ((rc != 0)) || compgen -G "$crashes/*" >/dev/null; then
        echo "$n: FAILED (exit $rc); inputs in $crashes/:"
        ls -1 "$crashes" | sed 's/^/    /'
        grep -E 'gcprog:|ERROR|SUMMARY' "$log" | tail -n 20 | sed 's/^/    | /'
        fail=1
    fi
    if [[ ${FUZZ_MERGE:-0} == 1 ]]; then
        before=$(ls "$seeds" | wc -l)
        "$bin" -merge=1 -timeout="$TIMEOUT" "$seeds" "$work" >>"$log" 2>&1 || fail=1
        echo "$n: merged into $seeds: $before -> $(ls "$seeds" | wc -l) inputs"
    fi
done
exit $fail
