/*
 * membw: the machine's own ceiling for markbench's heaps, with no collector.
 *
 * Lays out N MiB of 32-byte records {next, id, chain, check} the way markbench's allocation
 * order does (C chains, each a run of consecutive records), in plain malloc'd memory, then reads
 * every record K times with one thread and K times with two threads:
 *   --order alloc     (default) walks every chain by its `next` pointers, the two threads taking
 *                     alternate chains: markbench's allocation-ordered heap, front to back,
 *                     prefetching 2 KiB ahead as gogc's page walk does
 *   --order shuffle   reads the records in a pseudo-random order (a bijection of the record
 *                     index, so each once) with independent loads, the two threads taking
 *                     alternate positions of that order: the memory traffic of markbench's
 *                     shuffled heap for a marker that hides latency by prefetching, which is
 *                     then bound by how many random cache lines the machine serves per second
 * A marker that keeps up with memory on such a heap cannot scale from 1 to 2 workers by more
 * than this walk does, because the walk is all the memory traffic marking it needs (marking
 * adds the bitmap and the span records on top).
 *
 * Usage: membw [--mib N] [--chains C] [--reps K] [--order alloc|shuffle]
 * Output: per-rep lines, then
 *   RESULT mib=N order=O chains=C ms_1=MEDIAN ms_2=MEDIAN speedup=X mibps_1=Y check=ok
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct Rec {
    struct Rec *next;
    int64_t id, chain, check;
} Rec;

static Rec **heads;
static Rec *recs;
static long nchains, nrecs;
static int shuffled;
static unsigned pbits; /* 2^pbits >= nrecs */

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* A bijection of [0, 2^pbits): odd multiplications and xor-shifts, each invertible mod 2^pbits. */
static uint64_t mix(uint64_t x)
{
    uint64_t mask = (1ull << pbits) - 1;
    x = (x * 0x9e3779b97f4a7c15ull) & mask;
    x ^= x >> (pbits / 2 + 1);
    x = (x * 0xbf58476d1ce4e5b9ull) & mask;
    x ^= x >> (pbits / 3 + 1);
    return (x * 0x94d049bb133111ebull) & mask;
}

/* Reads part `first` of `step` parts of the heap; returns the number of records seen. */
static long walk(long first, long step)
{
    long seen = 0;
    if (shuffled) {
        for (long i = first; i < 1l << pbits; i += step) {
            /* mix maps [0, 2^pbits) onto itself, so each record is reached by exactly one i */
            long j = (long)mix((uint64_t)i);
            if (j < nrecs)
                seen += recs[j].id == j;
        }
        return seen;
    }
    for (long c = first; c < nchains; c += step)
        for (Rec *r = heads[c]; r; r = r->next) {
            /* As far ahead as gogc's page walk prefetches: the hardware's own stream
             * prefetch stops at every 4 KiB page, which would make this no ceiling. */
            __builtin_prefetch((const char *)r + 2048);
            seen += r->chain == c;
        }
    return seen;
}

struct arg {
    long first, seen;
};

static void *walker(void *p)
{
    struct arg *a = p;
    a->seen = walk(a->first, 2);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    long mib = 256, reps = 5;
    nchains = 1024;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mib") && i + 1 < argc)
            mib = atol(argv[++i]);
        else if (!strcmp(argv[i], "--chains") && i + 1 < argc)
            nchains = atol(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atol(argv[++i]);
        else if (!strcmp(argv[i], "--order") && i + 1 < argc && (!strcmp(argv[i + 1], "alloc") || !strcmp(argv[i + 1], "shuffle")))
            shuffled = !strcmp(argv[++i], "shuffle");
        else {
            fprintf(stderr, "usage: %s [--mib N] [--chains C] [--reps K] [--order alloc|shuffle]\n", argv[0]);
            return 2;
        }
    }
    if (mib < 1 || nchains < 2 || reps < 1 || reps > 100) {
        fprintf(stderr, "membw: bad arguments\n");
        return 2;
    }
    long n = mib * 1048576 / (long)sizeof(Rec), per = (n + nchains - 1) / nchains;
    nrecs = n;
    while (pbits < 62 && 1l << pbits < n)
        pbits++;
    recs = malloc((size_t)n * sizeof *recs);
    heads = calloc((size_t)nchains, sizeof *heads);
    if (!recs || !heads) {
        fprintf(stderr, "membw: out of memory\n");
        return 3;
    }
    for (long k = 0; k < n; k++) {
        long c = k / per;
        recs[k].id = k;
        recs[k].chain = c;
        recs[k].check = k ^ 0x5a5a5a5a;
        recs[k].next = (k + 1) % per == 0 || k + 1 == n ? NULL : &recs[k + 1];
        if (k % per == 0)
            heads[c] = &recs[k];
    }
    uint64_t t1[100], t2[100];
    int ok = 1;
    walk(0, 1); /* warm-up */
    for (long r = 0; r < reps; r++) {
        uint64_t a = now_ns();
        long s1 = walk(0, 1);
        uint64_t b = now_ns();
        struct arg x = {0, 0}, y = {1, 0};
        pthread_t tx, ty;
        pthread_create(&tx, NULL, walker, &x);
        pthread_create(&ty, NULL, walker, &y);
        pthread_join(tx, NULL);
        pthread_join(ty, NULL);
        uint64_t c = now_ns();
        t1[r] = b - a;
        t2[r] = c - b;
        if (s1 != n || x.seen + y.seen != n)
            ok = 0;
        printf("  rep %ld: 1 thread %.1f ms, 2 threads %.1f ms\n", r + 1, (double)t1[r] / 1e6, (double)t2[r] / 1e6);
    }
    qsort(t1, (size_t)reps, sizeof *t1, cmp_u64);
    qsort(t2, (size_t)reps, sizeof *t2, cmp_u64);
    double m1 = (double)t1[reps / 2] / 1e6, m2 = (double)t2[reps / 2] / 1e6;
    printf("RESULT mib=%ld order=%s chains=%ld ms_1=%.1f ms_2=%.1f speedup=%.2f mibps_1=%.0f check=%s\n", mib, shuffled ? "shuffle" : "alloc", nchains, m1, m2,
           m1 / m2, (double)mib / (m1 / 1e3), ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
