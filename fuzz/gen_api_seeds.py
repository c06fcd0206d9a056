#!/usr/bin/env python3
"""Writes the hand-made seeds of fuzz/corpus/api/ (one per operation and per misuse).

The byte layout of each operation is the one fuzz/api.c decodes (opcode % 16, then its
argument bytes). Run from the repository root: python3 fuzz/gen_api_seeds.py
"""
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "api")

# pick_size's edge table (selector 0xC0 + index).
EDGE = [0, 1, 8, 15, 16, 17, 24, 1024, 1025, 8192, 8193, 32767, 32768, 32769, 65536,
        (1 << 20) + 1, 4 << 20, 48, 256, 4000, 12288, 2 << 20, 100000]


def size(n):
    if n < 64:
        return [n]
    if n in EDGE:
        return [0xC0 + EDGE.index(n)]
    assert n <= 32768
    return [0x40, (n - 1) & 255, (n - 1) >> 8]


def alloc(i, n, flags=0, api=0, rooted=True, seed=0x5a):
    return [0x00, i] + size(n) + [flags, api | (0 if rooted else 0x80), seed]


def roots(a, mode): return [0x07, a, mode]
def gc(mode=0): return [0x08, mode]
def free(pick, mode=0, off=None): return [0x04, pick, mode] + ([off & 255, off >> 8] if off is not None else [])
def drop(i, b=0): return [0x05, i, b]
def setfin(mode, pick, extra=()): return [0x06, mode, pick] + list(extra)
def pct(v): return [0x09, v]
def att(b): return [0x0b, b]
def rewrite(pick, seed): return [0x0d, pick, seed & 0x7f]
def link(a, b): return [0x0d, a, 0x80, b]  # b = 0xff clears the link
def hostile(k, pick=0, w=3): return [0x0e, k, pick, w & 255, w >> 8]
def fork(kind, v=0, extra=()): return [0xff, kind, v] + list(extra)


MS, RUNFIN, CHECK = [0x0a], [0x0c], [0x0f]

S = {}
S['basic'] = roots(0, 0) + sum([alloc(i, n, seed=i * 17) for i, n in enumerate(
    [1, 8, 15, 16, 17, 24, 48, 256, 1024, 1025, 8192, 32768, 32769, 65536, 100000])], []) \
    + MS + gc(0) + MS + CHECK + free(3) + free(9) + MS + gc(3) + MS
S['nogc-unreferenced'] = sum([alloc(64 + i, n, flags=4, rooted=False, seed=i) for i, n in enumerate(
    [16, 48, 256, 1024, 8192, 32768, 100000, 1, 8])], []) + gc(0) + gc(2) + roots(0, 0) \
    + sum([alloc(i, n, seed=i) for i, n in enumerate([16, 48, 256, 1024, 8192, 32768, 100000])], []) \
    + drop(0) + drop(1) + drop(2) + gc(3) + gc(0) + CHECK
S['nogc-rooted-then-dropped'] = roots(0, 0) + alloc(0, 48, flags=4) + alloc(1, 48) + gc(0) + drop(0) \
    + drop(1) + gc(0) + gc(0) + CHECK + drop(0, 1)
S['finalizers'] = roots(0, 0) + alloc(0, 48) + alloc(1, 32769) + alloc(2, 24) + setfin(0, 0) + setfin(0, 1) \
    + setfin(0, 2) + setfin(1, 0) + setfin(2, 2) + setfin(3, 1, [5, 0]) + drop(0) + drop(1) + drop(2) \
    + gc(0) + RUNFIN + gc(0) + RUNFIN + MS
S['finalizers-unregister'] = roots(1, 0) + alloc(32, 100) + alloc(33, 8193) + setfin(0, 32) + setfin(0, 33) \
    + roots(1, 1) + gc(0) + RUNFIN + gc(3) + RUNFIN
S['roots'] = roots(1, 0) + roots(1, 0) + alloc(32, 48) + alloc(33, 1024) + roots(1, 1) + gc(0) + CHECK \
    + roots(1, 2) + roots(1, 3) + roots(1, 4) + roots(1, 5) + gc(0) + CHECK + roots(1, 1) + gc(0) \
    + roots(2, 1) + roots(2, 0) + alloc(64, 16) + gc(0)
S['gcpercent'] = pct(1) + pct(0) + roots(0, 0) + alloc(0, 48) + alloc(1, 48) + pct(2) + gc(0) + MS + gc(2) + MS \
    + pct(4) + gc(0) + MS + pct(200) + [0, 0, 0, 0] + pct(7) + pct(8) + alloc(2, 1024) + MS
S['attach'] = att(0) + att(0) + att(1) + att(0) + roots(0, 0) + alloc(0, 48) + att(0) + gc(0) + att(0) + att(1) + CHECK
S['hostile'] = roots(0, 0) + alloc(0, 48) + alloc(1, 32769) + sum([hostile(k, 0, 7) for k in [
    0, 1, 1 | 8, 1 | 16, 1 | 24, 1 | 32, 1 | 40, 1 | 48, 1 | 0x80, 2, 2 | 8, 2 | 16, 2 | 24, 2 | 40, 3, 4, 5]], []) \
    + hostile(3, 1, 5000)
S['free-modes'] = roots(0, 0) + alloc(0, 48) + alloc(1, 32769) + alloc(2, 100) + alloc(3, 8193) + free(0, 1, 7) \
    + free(1, 2 | 4) + free(2, 2) + free(3, 1 | 4, 5000) + MS + gc(0)
S['apis'] = roots(0, 0) + alloc(0, 48, api=1) + alloc(1, 48, api=2) + alloc(2, 16, api=3) + alloc(3, 24, api=4) \
    + alloc(4, 0) + alloc(5, 0, api=1) + alloc(6, 0, api=2) + alloc(7, 8, flags=1) + alloc(8, 3, flags=1) \
    + alloc(9, 5, flags=1) + gc(0) + CHECK
S['nozero-reuse'] = roots(0, 0) + alloc(0, 256, flags=8) + free(0) + alloc(1, 256, flags=8) + alloc(2, 256) \
    + free(1) + alloc(3, 256) + alloc(4, 32769, flags=8) + free(4) + alloc(5, 32769) + gc(0) + CHECK
S['gc-kinds'] = roots(0, 0) + alloc(0, 48) + alloc(70, 48, rooted=False) + gc(0) + gc(1) + gc(2) + gc(3) + gc(4) \
    + gc(0x34) + gc(5) + gc(6 | 0x40) + MS + CHECK
S['rewrite'] = roots(0, 0) + alloc(0, 1024) + alloc(1, 100000) + rewrite(0, 9) + rewrite(1, 3) + gc(0) + CHECK
S['links'] = roots(0, 0) + alloc(0, 48) + alloc(1, 100) + link(0, 1) + drop(1) + gc(0) + CHECK \
    + alloc(2, 32769) + link(1, 2) + drop(2) + gc(0) + CHECK + alloc(3, 16, api=3) + link(3, 0) + drop(0) \
    + gc(3) + CHECK + setfin(0, 2) + link(3, 0xff) + gc(0) + RUNFIN + gc(0) + RUNFIN + MS
S['links-free-target'] = roots(0, 0) + alloc(0, 48) + alloc(1, 1024) + link(0, 1) + free(1) + gc(0) + CHECK \
    + alloc(1, 1024) + link(0, 1) + drop(1) + alloc(1, 64) + gc(0) + CHECK
for k in range(10):
    pre = roots(0, 0) + alloc(0, 48) + setfin(0, 0) if k == 6 else []
    S['fork-%d' % k] = pre + fork(k, 1 if k == 6 else 0, [0, 0, 0, 0])
S['fork-6-interior'] = roots(0, 0) + alloc(0, 48) + setfin(0, 0) + fork(6, 1, [7, 0])
S['fork-0-noscan'] = fork(0, 1, [1])
S['fork-7-nogc'] = fork(7, 3, [1])
S['fork-8-toolarge'] = fork(8, 4)

for name, b in S.items():
    with open(os.path.join(OUT, name), 'wb') as f:
        f.write(bytes(b))
print(len(S), "seeds in", OUT)
