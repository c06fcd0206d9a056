#!/usr/bin/env bash
# benches/run.sh [--quick] [--reps N] [--only WORKLOAD] [--out FILE] [--no-cargo]
#
# Collector benchmarks: gogc against bdwgc, against explicit-free allocators (glibc,
# jemalloc, mimalloc), each workload compiled once per backend from one source (backend.h),
# and, for the tree workloads, against the same program in Go (benches/go/*.go) built with the
# Go toolchain and with gccgo-12.
#
#   gcbench          benches/gcbench.c, the classic parameters (long-lived tree 16, depths 4..16)
#   gcbench-20       benches/gcbench.c 20 18: the larger variant (64 MiB long-lived tree,
#                    stretch depth 20, depths 4..18; full mode only)
#   binarytrees-16   benches/binarytrees.c 16   (both modes)
#   binarytrees-21   benches/binarytrees.c 21   (full mode only)
#   markbench        benches/markbench.c: full-collection time over a live heap of 32-byte
#                    linked objects, allocation order and shuffled order, 1 and 2 mark workers
#                    (gogc: GODEBUG=gcprocs=W, bdwgc: GC_MARKERS=W); 256 MiB, plus 1 GiB in
#                    full mode when MemAvailable allows; quick mode: 256 MiB in allocation
#                    order, 64 MiB shuffled, and no gogc-untyped rows; beside it
#                    benches/membw.c reads the same records in plain memory with 1 and 2
#                    threads (following the chains, or in random order for the shuffled
#                    heap), the ceiling for a memory-bound marker's speedup
#
# Variants: gogc-typed (GoType + GC program, precise), gogc-untyped (runtime_mallocgc(n, 0, 0),
# conservative), bdwgc (default configuration, parallel markers started), glibc, jemalloc,
# mimalloc (explicit free); for gcbench and binarytrees also go (`go build`, the golang-go
# package) and gccgo (`gccgo-12 -O2`), from benches/go/gcbench.go and benches/go/binarytrees.go.
# A missing Go toolchain gives a row that says "n/a (not installed)"; nothing fails.
#
# Method: every variant is run --reps times (default 5, quick 3), round-robin (rep 1 of every
# variant, then rep 2, ...) so slow drift hits all of them alike. Wall time is measured here
# around the process (date +%s%N); peak RSS by /usr/bin/time -f %M; CPU time (user+sys) by
# /usr/bin/time; collection count and longest pause from the program's RESULT line. Tables show
# medians. Before each run the script waits (up to IDLE_WAIT seconds, and IDLE_BUDGET seconds in
# all) for the machine to be idle, and reports how many runs had to start on a busy machine.
# markbench runs each configuration once: the repetitions are the K collections inside the
# process (K = 5 full, 3 quick; 3 at 1 GiB), of which it reports the median.
#
# Output: markdown tables on stdout, appended to FILE (default benches/results/<YYYY-MM-DD>.md).
# Binaries go to build/bench/, per-run logs to build/bench/logs/.
#
# Environment: CC (default cc), GO (default go), GCCGO (default gccgo-12), GOGC_LIBDIR (use this
# directory's libgogc.a instead of building target/release with cargo), IDLE_WAIT (seconds per
# run, default 30 full / 5 quick), IDLE_BUDGET (seconds of waiting in all, default 600 full /
# 30 quick).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

MODE=full
REPS=
ONLY=
OUTFILE=
NO_CARGO=0
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) MODE=quick ;;
    --reps) REPS=$2; shift ;;
    --only) ONLY=$2; shift ;;
    --out) OUTFILE=$2; shift ;;
    --no-cargo) NO_CARGO=1 ;;
    -h | --help) sed -n '2,44p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done
if [ "$MODE" = quick ]; then
    REPS=${REPS:-3}; IDLE_WAIT=${IDLE_WAIT:-5}; IDLE_BUDGET=${IDLE_BUDGET:-30}; MARK_GCS=3
else
    REPS=${REPS:-5}; IDLE_WAIT=${IDLE_WAIT:-30}; IDLE_BUDGET=${IDLE_BUDGET:-600}; MARK_GCS=5
fi
OUTFILE=${OUTFILE:-benches/results/$(date +%F).md}
CC=${CC:-cc}
BIN=build/bench
LOGS=$BIN/logs
mkdir -p "$BIN" "$LOGS" "$(dirname "$OUTFILE")"
T_START=$(date +%s)

note() { echo "run.sh: $*" >&2; }
want() { [ -z "$ONLY" ] || [[ "$1" == *"$ONLY"* ]]; }

# ------------------------------------------------------------------------------------------
# Library. The library may be mid-edit by someone else: retry cargo a few times.
if [ -n "${GOGC_LIBDIR:-}" ]; then
    LIBDIR=$GOGC_LIBDIR
elif [ "$NO_CARGO" = 1 ]; then
    LIBDIR=target/release
else
    LIBDIR=target/release
    for try in 1 2 3 4; do
        if cargo build --release --quiet 2> "$LOGS/cargo.log"; then
            break
        fi
        if [ $try = 4 ]; then
            note "cargo build --release failed 4 times; see $LOGS/cargo.log"
            tail -5 "$LOGS/cargo.log" >&2
            exit 1
        fi
        note "cargo build --release failed (try $try); retrying in 60 s"
        sleep 60
    done
fi
LIB=$LIBDIR/libgogc.a
[ -f "$LIB" ] || { note "$LIB not found"; exit 1; }

# ------------------------------------------------------------------------------------------
# Build every (program, variant).
CFLAGS_B="-O2 -g -Wall -Wextra -Iinclude -Ibenches"
VARIANTS="gogc-typed gogc-untyped bdwgc glibc jemalloc mimalloc"
build_one() { # prog variant
    local p=$1 v=$2 extra=() libs=()
    case $v in
    gogc-typed) extra=(-DBACKEND_GOGC -DGOGC_TYPED=1); libs=("$LIB" -lpthread -ldl -lm) ;;
    gogc-untyped) extra=(-DBACKEND_GOGC -DGOGC_TYPED=0); libs=("$LIB" -lpthread -ldl -lm) ;;
    bdwgc) extra=(-DBACKEND_BDWGC); libs=(-lgc)
        [ "$p" = markbench ] && extra+=(-DBK_BDWGC_NO_INTERIOR) ;;
    glibc) extra=(-DBACKEND_MALLOC) ;;
    jemalloc) extra=(-DBACKEND_JEMALLOC); libs=(-ljemalloc) ;;
    mimalloc) extra=(-DBACKEND_MIMALLOC); libs=(-lmimalloc) ;;
    esac
    # shellcheck disable=SC2086
    $CC $CFLAGS_B "${extra[@]}" -o "$BIN/$p-$v" "benches/$p.c" "${libs[@]}"
}
for p in gcbench binarytrees; do
    for v in $VARIANTS; do
        build_one $p $v || { note "build of $p-$v failed"; exit 1; }
    done
done
for v in gogc-typed gogc-untyped bdwgc; do
    build_one markbench $v || { note "build of markbench-$v failed"; exit 1; }
done
$CC -O2 -g -Wall -Wextra -pthread -o "$BIN/membw" benches/membw.c || { note "build of membw failed"; exit 1; }

# The Go peers of the tree workloads. A toolchain that is missing or fails to build leaves its
# variant out of the runs; its rows then say why (NA_go / NA_gccgo).
GO=${GO:-go}
GCCGO=${GCCGO:-gccgo-12}
GO_VARIANTS="go gccgo"
NA_go=""
NA_gccgo=""
GO_VERSION="not installed"
GCCGO_VERSION="not installed"
if ! command -v "$GO" > /dev/null 2>&1; then
    NA_go="n/a (not installed)"
    note "$GO not found: the go rows will say n/a (apt-get install golang-go)"
else
    GO_VERSION=$("$GO" version 2>/dev/null | awk '{print $3}')
fi
if ! command -v "$GCCGO" > /dev/null 2>&1; then
    NA_gccgo="n/a (not installed)"
    note "$GCCGO not found: the gccgo rows will say n/a (apt-get install gccgo-12)"
else
    GCCGO_VERSION="$("$GCCGO" -dumpfullversion 2>/dev/null || "$GCCGO" -dumpversion)"
fi
build_go() { # prog variant
    local p=$1 v=$2 src=benches/go/$1.go res=benches/go/result.go
    case $v in
    go)
        # A private build cache (HOME may be unset or read-only); GOTOOLCHAIN=local keeps a
        # newer go from trying to download another toolchain; GO111MODULE=off builds the
        # single file with no go.mod and no network.
        GOCACHE=${GOCACHE:-$ROOT/$BIN/go-cache} GOTOOLCHAIN=local GO111MODULE=off GOFLAGS= \
            "$GO" build -o "$BIN/$p-go" "$src" "$res" ;;
    gccgo) "$GCCGO" -O2 -g -o "$BIN/$p-gccgo" "$src" "$res" ;;
    esac
}
for v in $GO_VARIANTS; do
    na_var=NA_$v
    [ -n "${!na_var}" ] && continue
    for p in gcbench binarytrees; do
        if ! build_go $p $v > "$LOGS/build-$p-$v.log" 2>&1; then
            note "build of $p-$v failed (see $LOGS/build-$p-$v.log): its rows will say n/a"
            tail -n 3 "$LOGS/build-$p-$v.log" >&2
            printf -v "$na_var" '%s' "n/a (build failed)"
            break
        fi
    done
done

# ------------------------------------------------------------------------------------------
# Helpers.

# Waits until the CPUs are (nearly) idle: at most 15% busy over 0.25 s, i.e. nobody else is
# using more than ~a third of a core. Gives up after IDLE_WAIT seconds. Returns 1 if busy.
cpu_sample() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat; }
BUSY_RUNS=0
TOTAL_RUNS=0
IDLE_SPENT=0
wait_idle() {
    local t0 deadline a b
    t0=$(date +%s)
    [ "$IDLE_SPENT" -ge "$IDLE_BUDGET" ] && deadline=$t0 || deadline=$((t0 + IDLE_WAIT))
    while :; do
        a=$(cpu_sample); sleep 0.25; b=$(cpu_sample)
        if awk -v a="$a" -v b="$b" 'BEGIN{split(a,x," ");split(b,y," ");
                busy=y[1]-x[1]; tot=busy+y[2]-x[2]; exit !(tot>0 && busy/tot<=0.15)}'; then
            return 0
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            IDLE_SPENT=$((IDLE_SPENT + $(date +%s) - t0))
            return 1
        fi
        sleep 1
    done
}

kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< "$2" | head -n 1; }

# median of the numbers on stdin (one per line); "-" if none
median() { sort -g | awk '{v[NR]=$1} END{if(NR==0){print "-"; exit}
    if(NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
minmax() { sort -g | awk 'NR==1{lo=$1} {hi=$1} END{if(NR) printf "%s-%s", lo, hi; else print "-"}'; }
fmt() { awk -v x="$1" -v f="$2" 'BEGIN{ if (x=="-"||x=="") print "-"; else printf f, x }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a=="-"||b=="-"||a==""||b==""||b+0==0) print "-"; else printf "%.2f", a/b }'; }

# run_one NAME LOG ENV... -- CMD...: runs once, appends "wall_ms rss_kb cpu_s gcs maxpause_us ok"
# to $BIN/data/NAME.
run_one() {
    local name=$1 log=$2; shift 2
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    wait_idle || BUSY_RUNS=$((BUSY_RUNS + 1))
    TOTAL_RUNS=$((TOTAL_RUNS + 1))
    local tf=$LOGS/time.$$ t0 t1 rc
    t0=$(date +%s%N)
    env "${envs[@]}" /usr/bin/time -f "%M %U %S" -o "$tf" "$@" > "$log" 2>&1
    rc=$?
    t1=$(date +%s%N)
    local line rss cpu
    line=$(grep '^RESULT' "$log" | tail -n 1)
    read -r rss u s < <(tail -n 1 "$tf")
    cpu=$(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.2f", u+s}')
    local ok=1
    if [ $rc -ne 0 ] || [ -z "$line" ] || [ "$(kv check "$line")" != ok ]; then
        ok=0
        note "$name: FAILED (exit $rc); log: $log"
        tail -n 3 "$log" >&2
    fi
    echo "$(( (t1 - t0) / 1000000 )) $rss $cpu $(kv gcs "$line") $(kv maxpause_us "$line") $ok" >> "$BIN/data/$name"
    LAST_LINE=$line
}

col() { awk -v c="$1" '{print $c}' "$BIN/data/$2"; }

# ------------------------------------------------------------------------------------------
# Allocation workloads: table per workload.
rm -rf "$BIN/data"; mkdir -p "$BIN/data"
REPORT=$BIN/report.md
: > "$REPORT"
out() { printf '%s\n' "$*" | tee -a "$REPORT"; }

alloc_workload() { # title prog args...
    local title=$1 prog=$2; shift 2
    local tag=${prog}${1:+-$1}
    want "$tag" || return 0
    # every variant gets a row; those whose toolchain is missing are not run
    local all="$VARIANTS $GO_VARIANTS" runnable="" v na
    for v in $all; do
        na=NA_${v//-/_}
        [ -n "${!na:-}" ] || runnable="$runnable $v"
    done
    runnable=${runnable# }
    note "$tag: $REPS runs x ${runnable// /, }"
    for v in $all; do rm -f "$BIN/data/$tag-$v"; done
    for r in $(seq 1 "$REPS"); do
        for v in $runnable; do
            run_one "$tag-$v" "$LOGS/$tag-$v.$r.log" -- "$BIN/$prog-$v" "$@"
        done
    done
    local tw tr uw ur
    tw=$(col 1 "$tag-gogc-typed" | median); tr=$(col 2 "$tag-gogc-typed" | median)
    uw=$(col 1 "$tag-gogc-untyped" | median); ur=$(col 2 "$tag-gogc-untyped" | median)
    out ""
    out "### $title"
    out ""
    out "| variant | wall s (median) | wall s (min-max) | CPU s | peak RSS MiB | GCs | max pause ms | gogc-typed/this wall | gogc-typed/this RSS | gogc-untyped/this wall | gogc-untyped/this RSS |"
    out "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for v in $all; do
        na=NA_${v//-/_}
        if [ -n "${!na:-}" ]; then
            out "| $v | ${!na} | - | - | - | - | - | - | - | - | - |"
            continue
        fi
        local f="$tag-$v" w rss cpu gcs mp mm fails
        w=$(col 1 "$f" | median); rss=$(col 2 "$f" | median); cpu=$(col 3 "$f" | median)
        gcs=$(col 4 "$f" | grep -v '^$' | median); mp=$(col 5 "$f" | grep -v '^$' | median)
        mm=$(col 1 "$f" | awk '{printf "%.2f\n", $1/1000}' | minmax)
        fails=$(awk '$6==0' "$BIN/data/$f" | wc -l)
        case $v in glibc | jemalloc | mimalloc) gcs="-"; mp="-" ;; esac
        local name=$v
        [ "$fails" -gt 0 ] && name="$v (**$fails FAILED**)"
        out "| $name | $(awk -v m="$w" 'BEGIN{printf "%.2f", m/1000}') | $mm | $(fmt "$cpu" '%.2f') | $(awk -v k="$rss" 'BEGIN{printf "%.1f", k/1024}') | $gcs | $(awk -v u="$mp" 'BEGIN{if(u=="-")print "-"; else printf "%.1f", u/1000}') | $(ratio "$tw" "$w") | $(ratio "$tr" "$rss") | $(ratio "$uw" "$w") | $(ratio "$ur" "$rss") |"
    done
}

# ------------------------------------------------------------------------------------------
{
    echo
    echo "## Collector benchmarks ($MODE mode), $(date '+%F %H:%M %Z')"
    echo
    echo "- machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n1), $(nproc) online CPUs, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r)"
    echo "- gogc $(git describe --always --dirty 2>/dev/null || echo unknown), static $LIB; bdwgc $(dpkg-query -W -f='${Version}' libgc1 2>/dev/null), jemalloc $(dpkg-query -W -f='${Version}' libjemalloc2 2>/dev/null), mimalloc $(dpkg-query -W -f='${Version}' libmimalloc2.0 2>/dev/null), glibc $(ldd --version | head -n1 | awk '{print $NF}'); $($CC --version | head -n1), -O2"
    echo "- method: $REPS runs per variant, round-robin; wall time measured around the process, medians shown; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- Go peers (gcbench, binary-trees; the same programs in Go, benches/go/; GOGC and GOMAXPROCS unset): go = ${NA_go:-$GO_VERSION (\`$GO build\`)}; gccgo = ${NA_gccgo:-$GCCGO $GCCGO_VERSION -O2, the libgo collector}"
    echo "- collectors at their defaults: gogc GOGC=100 with $(nproc) mark workers; bdwgc with its parallel markers started (GC_start_mark_threads), GC_MARKERS unset, interior pointers on"
} | tee -a "$REPORT"

alloc_workload "GCBench (long-lived tree depth 16 + 500000 doubles; temporaries of depth 4..16, 32-byte nodes)" gcbench
if [ "$MODE" = full ]; then
    alloc_workload "GCBench, larger (long-lived tree depth 20 = 64 MiB + 500000 doubles; stretch depth 20, temporaries of depth 4..18, 32-byte nodes)" gcbench 20 18
fi
alloc_workload "binary-trees, depth 16 (16-byte nodes)" binarytrees 16
if [ "$MODE" = full ]; then
    alloc_workload "binary-trees, depth 21 (16-byte nodes)" binarytrees 21
fi

# ------------------------------------------------------------------------------------------
# markbench.
mark_row() { # size order variant workers gcs
    local mib=$1 order=$2 v=$3 w=$4 k=$5 envs=()
    case $v in
    gogc-*) envs=("GODEBUG=gcprocs=$w") ;;
    bdwgc) envs=("GC_MARKERS=$w") ;;
    esac
    local name="mark-$mib-$order-$v-$w"
    rm -f "$BIN/data/$name"
    run_one "$name" "$LOGS/$name.log" "${envs[@]}" -- "$BIN/markbench-$v" --mib "$mib" --order "$order" --gcs "$k"
    local line=$LAST_LINE mpg pm mbps wk
    mpg=$(kv ms_per_gc "$line"); pm=$(kv pause_ms "$line")
    mbps=$(kv mbps_per_worker "$line"); wk=$(kv workers "$line")
    printf '%s %s %s %s %s %s %s %s %s\n' "$mib" "$order" "$v" "$w" "${mpg:--}" "${pm:--}" \
        "${mbps:--}" "${wk:--}" "$(awk '{print $2, $6}' "$BIN/data/$name")" >> "$BIN/data/mark-rows"
}

if want markbench; then
    SIZES=256
    avail_kb=$(awk '/MemAvailable/{print $2}' /proc/meminfo)
    if [ "$MODE" = full ]; then
        if [ "$avail_kb" -gt $((8 * 1048576)) ]; then
            SIZES="256 1024"
            MARK_1G_NOTE=" (3 at 1 GiB)"
        else
            note "markbench: skipping 1 GiB (MemAvailable $((avail_kb / 1024)) MiB < 8 GiB)"
        fi
    fi
    rm -f "$BIN/data/mark-rows"
    # Quick mode traces the shuffled heap at 64 MiB only: at 256 MiB one shuffled collection
    # takes seconds (every object is a cache and TLB miss) and would blow the 3-minute budget.
    CONFIGS=""
    for mib in $SIZES; do
        CONFIGS="$CONFIGS $mib:alloc"
        if [ "$MODE" = quick ]; then CONFIGS="$CONFIGS 64:shuffle"; else CONFIGS="$CONFIGS $mib:shuffle"; fi
    done
    for cfg in $CONFIGS; do
        mib=${cfg%%:*} order=${cfg#*:}
        k=$MARK_GCS
        [ "$mib" -ge 1024 ] && k=3
        note "markbench: $mib MiB, $order order, K=$k"
        for w in 1 2; do
            for v in gogc-typed gogc-untyped bdwgc; do
                [ "$MODE" = quick ] && [ "$v" = gogc-untyped ] && continue
                mark_row "$mib" "$order" "$v" "$w" "$k"
            done
        done
    done
    # The machine's own 1 -> 2 thread ceiling on each layout that was marked (no collector).
    rm -f "$BIN/data/membw-rows"
    for cfg in $CONFIGS; do
        mib=${cfg%%:*} order=${cfg#*:}
        wait_idle || BUSY_RUNS=$((BUSY_RUNS + 1))
        "$BIN/membw" --mib "$mib" --order "$order" --reps 5 > "$LOGS/membw-$mib-$order.log" 2>&1
        line=$(grep '^RESULT' "$LOGS/membw-$mib-$order.log" | tail -n 1)
        echo "$mib $order $(kv ms_1 "$line") $(kv ms_2 "$line") $(kv speedup "$line") $(kv check "$line")" >> "$BIN/data/membw-rows"
    done
    out ""
    out "### markbench: full collections over a live heap of 32-byte linked objects (1024 chains)"
    out ""
    out "| live heap | order | collector | workers | ms per GC (wall) | pause ms | MiB/s per worker | peak RSS MiB | gogc/bdwgc pause (same workers) |"
    out "|---|---|---|---:|---:|---:|---:|---:|---:|"
    while read -r mib order v w mpg pm mbps wk rss ok; do
        bd=$(awk -v m="$mib" -v o="$order" -v w="$w" '$1==m && $2==o && $3=="bdwgc" && $4==w {print $6}' "$BIN/data/mark-rows")
        r="-"
        [ "$v" != bdwgc ] && r=$(ratio "$pm" "$bd")
        label=$v
        [ "$ok" = 1 ] || label="$v (**FAILED**)"
        [ "$wk" != - ] && [ "$wk" != "$w" ] && label="$label (ran with $wk)"
        out "| $mib MiB | $order | $label | $w | $mpg | $pm | $mbps | $(awk -v k="$rss" 'BEGIN{printf "%.0f", k/1024}') | $r |"
    done < "$BIN/data/mark-rows"
    out ""
    out "1 -> 2 worker speedups (pause with 1 worker / pause with 2), beside the machine's ceiling for each layout: benches/membw.c reads the same records in plain memory (no collector, no bitmap) with 1 and then 2 threads, following the chains in allocation order, and in a random order with independent loads for the shuffled heap (what a prefetching marker's traffic is bound by there)."
    out ""
    out "| live heap | order | gogc-typed | bdwgc | membw, 1 -> 2 threads (ms) |"
    out "|---|---|---:|---:|---:|"
    for cfg in $CONFIGS; do
        mib=${cfg%%:*} order=${cfg#*:}
        sp() { awk -v m="$mib" -v o="$order" -v v="$1" '$1==m && $2==o && $3==v {p[$4]=$6} END{ if (p[1] > 0 && p[2] > 0) printf "%.2f", p[1]/p[2]; else printf "-" }' "$BIN/data/mark-rows"; }
        mw=$(awk -v m="$mib" -v o="$order" '$1==m && $2==o {printf "%.2f (%s -> %s)%s", $5, $3, $4, ($6=="ok" ? "" : " FAILED")}' "$BIN/data/membw-rows")
        out "| $mib MiB | $order | $(sp gogc-typed) | $(sp bdwgc) | ${mw:--} |"
    done
fi

# ------------------------------------------------------------------------------------------
T_END=$(date +%s)
{
    echo
    echo "Notes:"
    echo "- wall = whole process (start-up, heap build, checks). CPU s = user+sys of all threads (mark workers and the background sweeper included). Ratio columns: gogc's median divided by this row's; < 1 means gogc is faster or smaller."
    echo "- GCs and max pause: the program's own counters. gogc: MStats.numgc and the largest pause_ns (a 256-entry ring: with more than 256 collections it is the max of the last 256); bdwgc: GC_get_gc_no() and the longest GC_EVENT_START..GC_EVENT_END; go and gccgo: runtime.MemStats NumGC and the largest PauseNs entry (also a 256-entry ring). Both Go runtimes (gccgo-12's libgo carries Go 1.18's runtime) mark concurrently with the program, so their pauses are only the short stop-the-world phases, while gogc and bdwgc stop the world for the whole mark: compare wall and CPU time with them, not pauses. glibc/jemalloc/mimalloc free every tree explicitly."
    want markbench && echo "- markbench: ms per GC is the wall time of runtime_GC() (which also sweeps the whole heap before returning) or GC_gcollect() (which sweeps lazily later); pause is each collector's stop-the-world time (mark + termination) and is the column to compare. MiB/s per worker = live MiB / pause / workers. bdwgc is built with interior pointers off there, so its objects are 32 bytes like gogc's (with them on, every object would take 48). Medians of $MARK_GCS timed collections after one warm-up${MARK_1G_NOTE:-}."
    echo "- $BUSY_RUNS of $TOTAL_RUNS runs started while something else kept the CPUs more than 15% busy (the script waited ${IDLE_SPENT} s in all for idle CPUs); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg). Total time $(( (T_END - T_START) / 60 )) min $(( (T_END - T_START) % 60 )) s."
} | tee -a "$REPORT"

cat "$REPORT" >> "$OUTFILE"
note "appended to $OUTFILE; per-run logs in $LOGS"
