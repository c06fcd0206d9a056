/*
 * t_gc_nogc.c: what the collector must never free, tried against every sweep fast path.
 *
 * FlagNoGC blocks are invisible to marking (libgo-abi.md: "never free and never scan"), so
 * nothing the collector learns from mark bits may free them. Objects whose finalizer was queued
 * must survive until the finalizer ran. This test allocates, with no reference the collector can
 * see (their addresses are kept hidden):
 *   A. spans made only of FlagNoGC blocks, for several small size classes and a large size
 *      (the sweep's dead-span path hands a span with no mark bit back whole);
 *   B. spans mixing FlagNoGC blocks with live (rooted) and dead ordinary blocks (the general
 *      word-at-a-time sweep must skip FlagNoGC starts);
 *   C. spans made only of objects with finalizers (the sweep marks them when it queues their
 *      finalizers: the dead-span path must see those marks);
 *   D. FlagNoGC blocks taken from other threads' caches: one thread that exits (its cache is
 *      released) and one that stays attached, asleep, through every collection;
 * then churns every size with garbage of the same size over many forced collections (so freed
 * memory is reused at once), checks that no allocation ever returns memory inside a kept block,
 * calls freeOSMemory (the scavenger must not release in-use pages), and finally checks every
 * kept block's contents word by word and that every finalizer ran exactly once on intact data.
 * The same body runs again in a child under GODEBUG=efence=1 (every block its own span, swept
 * as a large span) and GODEBUG=clobberfree=1 (the dead-span path is off: the general path).
 */
#include "testutil.h"
#include "t_gc_util.h"

#include <pthread.h>

/* Small classes across the range, one class that straddles bitmap words, the largest small
 * class, and a large block. */
static const uintptr_t sizes[] = {16, 48, 112, 512, 1152, 8192, 32768, 100000};
#define NSIZES (sizeof sizes / sizeof sizes[0])

typedef struct {
    uint64_t hidden; /* gc_hide(block) */
    uintptr_t size;
    uint64_t seed;
} kept_t;

static kept_t *kept;
static size_t nkept, capkept;
/* Sorted [lo, hi) ranges of every kept block, for the "no allocation lands inside" check. */
static uintptr_t (*ranges)[2];

static uint64_t pattern(uint64_t seed, size_t i) { return (seed * 0x9E3779B97F4A7C15ULL) ^ (i * 0xD1B54A32D192ED03ULL) ^ 0x5bd1e995; }

static void fill(void *p, uintptr_t size, uint64_t seed)
{
    uint64_t *w = p;
    for (size_t i = 0; i < size / 8; i++)
        w[i] = pattern(seed, i);
}

/* Index of the first corrupt word, or -1. */
static long first_bad(const void *p, uintptr_t size, uint64_t seed)
{
    const uint64_t *w = p;
    for (size_t i = 0; i < size / 8; i++)
        if (w[i] != pattern(seed, i))
            return (long)i;
    return -1;
}

static void keep(void *p, uintptr_t size)
{
    if (nkept == capkept) {
        capkept = capkept ? 2 * capkept : 1024;
        kept = realloc(kept, capkept * sizeof *kept);
        if (!kept)
            abort();
    }
    uint64_t seed = 0x1234 + nkept;
    fill(p, size, seed);
    kept[nkept++] = (kept_t){gc_hide(p), size, seed};
}

static int cmp_range(const void *a, const void *b)
{
    uintptr_t x = ((const uintptr_t *)a)[0], y = ((const uintptr_t *)b)[0];
    return x < y ? -1 : x > y;
}

static void build_ranges(void)
{
    ranges = malloc(nkept * sizeof *ranges);
    if (!ranges)
        abort();
    for (size_t i = 0; i < nkept; i++) {
        ranges[i][0] = (uintptr_t)gc_unhide(kept[i].hidden);
        ranges[i][1] = ranges[i][0] + kept[i].size;
    }
    qsort(ranges, nkept, sizeof *ranges, cmp_range);
}

/* 1 if [p, p+n) overlaps a kept block. */
static int overlaps_kept(uintptr_t p, uintptr_t n)
{
    size_t lo = 0, hi = nkept;
    while (lo < hi) { /* first range with start >= p + n */
        size_t mid = (lo + hi) / 2;
        if (ranges[mid][0] < p + n)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && ranges[lo - 1][1] > p;
}

/* --- C: finalized objects --- */
#define NFIN 256
#define FIN_SIZE 48
static int fin_ran[NFIN];
static int fin_bad;

static void fin(void *obj, void *arg)
{
    uintptr_t i = (uintptr_t)arg;
    if (i >= NFIN) {
        fin_bad++;
        return;
    }
    fin_ran[i]++;
    if (first_bad(obj, FIN_SIZE, 0xF1F1 + i) >= 0)
        fin_bad++;
}

/* Rooted ordinary blocks of case B (a libc array registered as a root range). */
#define NLIVE 4096
static void **live;

static __attribute__((noinline)) void make_blocks(int scale)
{
    for (size_t s = 0; s < NSIZES; s++) {
        uintptr_t size = sizes[s];
        /* A: at least three spans' worth of FlagNoGC blocks in a row, so whole spans hold
         * nothing else; odd ones also FlagNoScan. */
        size_t n = (size_t)(size > 32768 ? 3 : (3 * 65536) / size + 2) / (size_t)scale + 1;
        for (size_t i = 0; i < n; i++) {
            uint32_t flag = FlagNoGC | (i % 2 ? FlagNoScan : 0);
            void *p = runtime_mallocgc(size, 0, flag);
            keep(p, size);
        }
    }
    /* B: mixed spans: FlagNoGC, rooted live, and garbage blocks interleaved. */
    size_t nl = 0;
    for (size_t s = 0; s < NSIZES - 1; s++) {
        uintptr_t size = sizes[s];
        size_t n = (size_t)((2 * 65536) / size + 2) / (size_t)scale + 1;
        for (size_t i = 0; i < n; i++) {
            switch (i % 3) {
            case 0:
                keep(runtime_mallocgc(size, 0, FlagNoGC | FlagNoScan), size);
                break;
            case 1:
                if (nl < NLIVE) {
                    void *p = runtime_mallocgc(size, 0, FlagNoScan);
                    keep(p, size);
                    live[nl++] = p;
                }
                break;
            default:
                memset(runtime_mallocgc(size, 0, FlagNoScan), 0x77, size);
            }
        }
    }
    /* C: objects with finalizers, several spans of them and nothing else. */
    for (uintptr_t i = 0; i < NFIN; i++) {
        void *p = runtime_mallocgc(FIN_SIZE, 0, FlagNoScan);
        fill(p, FIN_SIZE, 0xF1F1 + i);
        CHECK(gogc_set_finalizer(p, fin, (void *)i) == 0, "set_finalizer %" PRIuPTR, i);
    }
}

/* --- D: blocks from other threads' caches --- */
#define NTHR_BLOCKS 600
typedef struct {
    void *blocks[NTHR_BLOCKS];
    uintptr_t size[NTHR_BLOCKS];
    int stay; /* stay attached until `release` is set */
} thr_arg_t;
static volatile int release_sleeper;
static volatile int sleeper_ready;

static void *thr_alloc(void *a)
{
    thr_arg_t *t = a;
    gogc_thread_attach();
    for (int i = 0; i < NTHR_BLOCKS; i++) {
        t->size[i] = i % 2 ? 48 : 1152;
        t->blocks[i] = runtime_mallocgc(t->size[i], 0, FlagNoGC | FlagNoScan);
    }
    if (t->stay) {
        /* Keep no reference where the collector would see it, then sleep attached. */
        for (int i = 0; i < NTHR_BLOCKS; i++)
            t->blocks[i] = (void *)(uintptr_t)gc_hide(t->blocks[i]);
        __atomic_store_n(&sleeper_ready, 1, __ATOMIC_SEQ_CST);
        while (!__atomic_load_n(&release_sleeper, __ATOMIC_SEQ_CST))
            usleep(1000);
        return NULL;
    }
    for (int i = 0; i < NTHR_BLOCKS; i++)
        t->blocks[i] = (void *)(uintptr_t)gc_hide(t->blocks[i]);
    gogc_thread_detach();
    return NULL;
}

static thr_arg_t thr_args[2];
static pthread_t sleeper;

static void other_threads(void)
{
    pthread_t exiting;
    thr_args[1].stay = 1;
    CHECK(pthread_create(&exiting, NULL, thr_alloc, &thr_args[0]) == 0, "pthread_create");
    pthread_join(exiting, NULL);
    CHECK(pthread_create(&sleeper, NULL, thr_alloc, &thr_args[1]) == 0, "pthread_create");
    while (!__atomic_load_n(&sleeper_ready, __ATOMIC_SEQ_CST))
        usleep(1000);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < NTHR_BLOCKS; i++)
            keep(gc_unhide((uint64_t)(uintptr_t)thr_args[k].blocks[i]), thr_args[k].size[i]);
}

static __attribute__((noinline)) unsigned long churn(int rounds, int scale)
{
    unsigned long landed_inside = 0;
    for (int r = 0; r < rounds; r++) {
        for (size_t s = 0; s < NSIZES; s++) {
            uintptr_t size = sizes[s];
            size_t n = (size_t)(size > 32768 ? 4 : (4 * 65536) / size) / (size_t)scale + 1;
            for (size_t i = 0; i < n; i++) {
                unsigned char *p = runtime_mallocgc(size, 0, (r + i) % 2 ? FlagNoScan : 0);
                if (overlaps_kept((uintptr_t)p, size))
                    landed_inside++;
                memset(p, 0xEE, size);
            }
        }
        if (r == rounds / 2)
            runtime_debug_freeOSMemory();
        gc_full();
    }
    return landed_inside;
}

static int body(int rounds, int scale)
{
    live = calloc(NLIVE, sizeof *live);
    if (!live)
        abort();
    gogc_add_roots(live, live + NLIVE);
    make_blocks(scale);
    other_threads();
    build_ranges();
    gc_scrub_stack();
    MStats m0, m1;
    gc_stats(&m0);
    unsigned long inside = churn(rounds, scale);
    gc_stats(&m1);
    /* The churn really collected and reused memory (else the checks below prove nothing). */
    CHECK(m1.numgc - m0.numgc >= (uint32_t)rounds, "only %u collections", m1.numgc - m0.numgc);
    CHECK(m1.nfree - m0.nfree >= m1.nmalloc - m0.nmalloc - 1000, "churn: %" PRIu64 " mallocs, %" PRIu64 " frees",
          m1.nmalloc - m0.nmalloc, m1.nfree - m0.nfree);
    CHECK(inside == 0, "%lu allocations returned memory inside a FlagNoGC or rooted block", inside);

    size_t bad = 0;
    for (size_t i = 0; i < nkept; i++) {
        long w = first_bad(gc_unhide(kept[i].hidden), kept[i].size, kept[i].seed);
        if (w >= 0 && bad++ < 5)
            fprintf(stderr, "block %zu (%" PRIuPTR " bytes at %p): word %ld overwritten\n", i, kept[i].size,
                    gc_unhide(kept[i].hidden), w);
    }
    CHECK(bad == 0, "%zu of %zu kept blocks corrupted", bad, nkept);

    /* The finalizers were queued at the first collection; their objects survived the churn. */
    gc_full();
    gogc_run_finalizers();
    int missing = 0, twice = 0;
    for (int i = 0; i < NFIN; i++) {
        missing += fin_ran[i] == 0;
        twice += fin_ran[i] > 1;
    }
    CHECK(missing == 0 && twice == 0, "finalizers: %d never ran, %d ran twice", missing, twice);
    CHECK(fin_bad == 0, "%d finalizers saw their object overwritten", fin_bad);
    gogc_remove_roots(live, live + NLIVE);
    __atomic_store_n(&release_sleeper, 1, __ATOMIC_SEQ_CST);
    pthread_join(sleeper, NULL);
    printf("%zu kept blocks, %d rounds: %zu corrupted, %lu allocations inside kept blocks\n", nkept, rounds, bad,
           inside);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "--child") == 0) {
        /* Under efence every block is its own span of pages: fewer blocks, fewer rounds. */
        body(6, 8);
        return test_summary();
    }
    body(30, 1);

    static const char *const knobs[] = {"GODEBUG=efence=1", "GODEBUG=clobberfree=1"};
    for (size_t k = 0; k < sizeof knobs / sizeof knobs[0]; k++) {
        const char *env[] = {knobs[k], NULL};
        static char out[64 * 1024];
        int status;
        tu_run_self("knob", env, out, sizeof out, &status, 100);
        int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        CHECK(ok, "child under %s: status %#x, output:\n%s", knobs[k], status, out);
        if (ok)
            printf("%s: %s", knobs[k], out);
    }
    return test_summary();
}
