#!/usr/bin/env bash
# benches/deps.sh: make sure the benchmark peers are installed (`make bench` and
# `make bench-quick` run this first).
#
#   required (the C backends of benches/run.sh):
#     libgc-dev        /usr/include/gc.h                bdwgc
#     libjemalloc-dev  /usr/include/jemalloc/jemalloc.h jemalloc
#     libmimalloc-dev  /usr/include/mimalloc.h          mimalloc
#     time             /usr/bin/time                    peak RSS and CPU time of every run
#   optional (their rows say "n/a (not installed)" without them):
#     golang-go        go        the Go peer of GCBench and binary-trees
#     gccgo-12         gccgo-12  the gccgo peer of GCBench and binary-trees
#
# Missing packages are installed with apt-get when this runs as root, or through sudo when
# `sudo -n` works; otherwise (or with BENCH_NO_INSTALL=1) it prints the apt-get line to run.
# Exit status 1 only if a required package is still missing.
set -uo pipefail

REQUIRED="libgc-dev:/usr/include/gc.h libjemalloc-dev:/usr/include/jemalloc/jemalloc.h libmimalloc-dev:/usr/include/mimalloc.h time:/usr/bin/time"
OPTIONAL="golang-go:go gccgo-12:gccgo-12"

note() { echo "bench deps: $*" >&2; }

present() { # what: a path (starts with /) or a command name
    case $1 in
    /*) test -e "$1" ;;
    *) command -v "$1" > /dev/null 2>&1 ;;
    esac
}

missing() { # list of pkg:what -> the packages whose file/command is absent
    local e out=""
    for e in $1; do
        present "${e#*:}" || out="$out ${e%%:*}"
    done
    echo "${out# }"
}

need_req=$(missing "$REQUIRED")
need_opt=$(missing "$OPTIONAL")
need="$need_req${need_opt:+ $need_opt}"
need=${need# }
[ -z "$need" ] && exit 0

SUDO=""
can_install=1
if [ "${BENCH_NO_INSTALL:-0}" = 1 ] || ! command -v apt-get > /dev/null 2>&1; then
    can_install=0
elif [ "$(id -u)" != 0 ]; then
    if command -v sudo > /dev/null 2>&1 && sudo -n true > /dev/null 2>&1; then
        SUDO="sudo -n"
    else
        can_install=0
    fi
fi

if [ "$can_install" = 1 ]; then
    note "installing missing Debian packages: $need"
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086
    if ! $SUDO apt-get install -y --no-install-recommends $need > /dev/null 2>&1; then
        # one package at a time after refreshing the lists, so that one unavailable optional
        # package does not keep the others out
        $SUDO apt-get update > /dev/null 2>&1 || note "apt-get update failed"
        for pkg in $need; do
            $SUDO apt-get install -y --no-install-recommends "$pkg" > /dev/null 2>&1 ||
                note "apt-get install $pkg failed"
        done
    fi
    need_req=$(missing "$REQUIRED")
    need_opt=$(missing "$OPTIONAL")
fi

if [ -n "$need_opt" ]; then
    note "optional peers missing (their rows will say n/a): apt-get install $need_opt"
fi
if [ -n "$need_req" ]; then
    note "required packages missing: apt-get install $need_req${need_opt:+ $need_opt}"
    exit 1
fi
exit 0
