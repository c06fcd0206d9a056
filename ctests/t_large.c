/*
 * t_large: large objects (> 32 KiB, libgo-abi.md 6.3 step 6 and 11.7): many sizes up to 256 MiB
 * are page aligned, writable over their whole range, pairwise disjoint, reported by mlookup with
 * the page-rounded size, zeroed, freed and reused; and the heap statistics move sensibly
 * (heap_sys >= heap_inuse, heap_inuse grows by the objects' pages and shrinks when they are
 * freed, the heap does not keep growing when the same sizes are freed and allocated again).
 */
#include "testutil.h"
#include "gogc.h"

#pragma weak runtime_updatememstats

#define MiB ((uintptr_t)1 << 20)

static const uintptr_t sizes[] = {
    32769, 40960, 40961, 65536, 100000, 1 * MiB, 1 * MiB + 1, 3 * MiB + 4097, 64 * MiB, 256 * MiB,
};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static void stats(const char *when)
{
    printf("%-28s heap_sys %8.1f MiB  heap_inuse %8.1f MiB  heap_idle %8.1f MiB  heap_alloc %8.1f MiB"
           "  sys %8.1f MiB\n",
           when, runtime_memStats.heap_sys / 1048576.0, runtime_memStats.heap_inuse / 1048576.0,
           runtime_memStats.heap_idle / 1048576.0, runtime_memStats.heap_alloc / 1048576.0,
           runtime_memStats.sys / 1048576.0);
    CHECK(runtime_memStats.heap_sys >= runtime_memStats.heap_inuse,
          "%s: heap_sys %" PRIu64 " < heap_inuse %" PRIu64, when, runtime_memStats.heap_sys,
          runtime_memStats.heap_inuse);
    CHECK(runtime_memStats.heap_idle + runtime_memStats.heap_inuse == runtime_memStats.heap_sys,
          "%s: heap_idle %" PRIu64 " + heap_inuse %" PRIu64 " != heap_sys %" PRIu64, when,
          runtime_memStats.heap_idle, runtime_memStats.heap_inuse, runtime_memStats.heap_sys);
    CHECK(runtime_memStats.heap_released <= runtime_memStats.heap_idle,
          "%s: heap_released %" PRIu64 " > heap_idle %" PRIu64, when, runtime_memStats.heap_released,
          runtime_memStats.heap_idle);
}

/* Fill every word with a value derived from its address and a tag; verify later. */
static void fill(unsigned char *p, uintptr_t n, uint64_t tag)
{
    uint64_t *w = (uint64_t *)(void *)p;
    for (uintptr_t i = 0; i < n / 8; i++)
        w[i] = ((uintptr_t)&w[i] * 0x9E3779B97F4A7C15ULL) ^ tag;
    for (uintptr_t i = n & ~(uintptr_t)7; i < n; i++)
        p[i] = (unsigned char)(tag + i);
}

static int verify(const unsigned char *p, uintptr_t n, uint64_t tag)
{
    const uint64_t *w = (const uint64_t *)(const void *)p;
    for (uintptr_t i = 0; i < n / 8; i++)
        if (w[i] != (((uintptr_t)&w[i] * 0x9E3779B97F4A7C15ULL) ^ tag)) {
            CHECK(0, "object %p (%" PRIuPTR " bytes, tag %" PRIu64 "): word at offset %" PRIuPTR
                  " clobbered",
                  (const void *)p, n, tag, i * 8);
            return 0;
        }
    for (uintptr_t i = n & ~(uintptr_t)7; i < n; i++)
        if (p[i] != (unsigned char)(tag + i)) {
            CHECK(0, "object %p: tail byte %" PRIuPTR " clobbered", (const void *)p, i);
            return 0;
        }
    return 1;
}

static void check_block(unsigned char *p, uintptr_t n, const char *what)
{
    uintptr_t pages = TU_ROUND_PAGE(n);
    uint8_t *base = NULL;
    uintptr_t size = 0;
    CHECK(((uintptr_t)p & (TU_PAGE - 1)) == 0, "%s: %p is not 8192-aligned", what, (void *)p);
    CHECK(runtime_mlookup(p, &base, &size, NULL) == 1 && base == p && size == pages,
          "%s: mlookup(%p) base %p size %" PRIuPTR ", want size %" PRIuPTR, what, (void *)p,
          (void *)base, size, pages);
    CHECK(runtime_mlookup(p + n - 1, &base, &size, NULL) == 1 && base == p && size == pages,
          "%s: mlookup(last byte) base %p size %" PRIuPTR, what, (void *)base, size);
    long nz = tu_first_nonzero(p, n);
    CHECK(nz < 0, "%s: object %p not zeroed at byte %ld", what, (void *)p, nz);
}

static void test_live_set(void)
{
    unsigned char *objs[NSIZES];
    uint64_t inuse0 = runtime_memStats.heap_inuse;
    uint64_t sum = 0;
    stats("start");
    for (size_t i = 0; i < NSIZES; i++) {
        objs[i] = runtime_mallocgc(sizes[i], 0, i & 1 ? FlagNoScan : 0);
        CHECK(objs[i] != NULL, "mallocgc(%" PRIuPTR ") returned NULL", sizes[i]);
        if (!objs[i])
            continue;
        char what[64];
        snprintf(what, sizeof what, "first %" PRIuPTR, sizes[i]);
        check_block(objs[i], sizes[i], what);
        fill(objs[i], sizes[i], i + 1);
        sum += TU_ROUND_PAGE(sizes[i]);
    }
    stats("all live");
    CHECK(runtime_memStats.heap_inuse >= inuse0 + sum,
          "heap_inuse grew by %" PRIu64 " for %" PRIu64 " bytes of large objects",
          runtime_memStats.heap_inuse - inuse0, sum);
    CHECK(runtime_memStats.heap_alloc >= sum, "heap_alloc %" PRIu64 " < live large bytes %" PRIu64,
          runtime_memStats.heap_alloc, sum);
    /* sys is a derived total: only runtime_updatememstats computes it (section 13.7). */
    if (runtime_updatememstats) {
        runtime_updatememstats(NULL);
        CHECK(runtime_memStats.sys >= runtime_memStats.heap_sys, "after updatememstats: sys %" PRIu64
              " < heap_sys %" PRIu64,
              runtime_memStats.sys, runtime_memStats.heap_sys);
        CHECK(runtime_memStats.heap_alloc >= sum, "after updatememstats: heap_alloc %" PRIu64
              " < live large bytes %" PRIu64, runtime_memStats.heap_alloc, sum);
        CHECK(runtime_memStats.heap_objects >= NSIZES, "after updatememstats: heap_objects %" PRIu64,
              runtime_memStats.heap_objects);
        stats("after updatememstats");
    } else {
        printf("runtime_updatememstats missing: sys not checked\n");
    }
    /* Disjoint ranges, intact contents. */
    for (size_t i = 0; i < NSIZES; i++)
        for (size_t j = i + 1; j < NSIZES; j++)
            if (objs[i] && objs[j])
                CHECK(objs[i] + TU_ROUND_PAGE(sizes[i]) <= objs[j] ||
                          objs[j] + TU_ROUND_PAGE(sizes[j]) <= objs[i],
                      "objects %p (%" PRIuPTR ") and %p (%" PRIuPTR ") overlap", (void *)objs[i],
                      sizes[i], (void *)objs[j], sizes[j]);
    for (size_t i = 0; i < NSIZES; i++)
        if (objs[i])
            verify(objs[i], sizes[i], i + 1);

    uint64_t sys_live = runtime_memStats.heap_sys, inuse_live = runtime_memStats.heap_inuse;
    uint64_t alloc_live = runtime_memStats.heap_alloc;
    for (size_t i = 0; i < NSIZES; i++)
        if (objs[i])
            __go_free(objs[i]);
    stats("all freed");
    /* efence=1 makes a freed object's pages inaccessible and never hands them out again: they
     * stay in heap_inuse and heap_sys grows when the sizes are allocated again. What must hold
     * instead: the freed objects are gone (mlookup no longer finds them, HeapAlloc fell) and no
     * new object reuses their addresses. */
    const int efence = tu_godebug("efence") != 0;
    unsigned char *freed[NSIZES];
    memcpy(freed, objs, sizeof freed);
    if (efence) {
        for (size_t i = 0; i < NSIZES; i++) {
            uint8_t *base = NULL;
            MSpan *sp = NULL;
            uintptr_t sz = 0;
            CHECK(!freed[i] || runtime_mlookup(freed[i], &base, &sz, &sp) == 0,
                  "efence: mlookup still finds freed object %p", (void *)freed[i]);
        }
    } else {
        CHECK(inuse_live - runtime_memStats.heap_inuse >= sum,
              "heap_inuse fell by %" PRIu64 " after freeing %" PRIu64 " bytes of large objects",
              inuse_live - runtime_memStats.heap_inuse, sum);
    }
    CHECK(alloc_live - runtime_memStats.heap_alloc >= sum,
          "heap_alloc fell by %" PRIu64 " after freeing %" PRIu64 " bytes of large objects",
          alloc_live - runtime_memStats.heap_alloc, sum);
    CHECK(runtime_memStats.heap_sys <= sys_live, "heap_sys grew while freeing");

    /* Same sizes again (reverse order): memory comes back zeroed and the heap does not grow by
     * more than a little slack. */
    for (size_t k = NSIZES; k-- > 0;) {
        objs[k] = runtime_mallocgc(sizes[k], 0, 0);
        CHECK(objs[k] != NULL, "second mallocgc(%" PRIuPTR ") returned NULL", sizes[k]);
        if (!objs[k])
            continue;
        char what[64];
        snprintf(what, sizeof what, "reused %" PRIuPTR, sizes[k]);
        check_block(objs[k], sizes[k], what);
        fill(objs[k], sizes[k], 100 + k);
    }
    stats("all live again");
    if (efence) {
        for (size_t i = 0; i < NSIZES; i++)
            for (size_t j = 0; j < NSIZES; j++)
                CHECK(!objs[i] || !freed[j] || objs[i] + TU_ROUND_PAGE(sizes[i]) <= freed[j] ||
                          freed[j] + TU_ROUND_PAGE(sizes[j]) <= objs[i],
                      "efence: new object %p reuses the pages of freed object %p", (void *)objs[i],
                      (void *)freed[j]);
    } else {
        CHECK(runtime_memStats.heap_sys <= sys_live + 8 * MiB,
              "heap_sys grew from %" PRIu64 " to %" PRIu64 " re-allocating sizes that were just freed",
              sys_live, runtime_memStats.heap_sys);
    }
    for (size_t i = 0; i < NSIZES; i++)
        if (objs[i]) {
            verify(objs[i], sizes[i], 100 + i);
            __go_free(objs[i]);
        }
    stats("freed again");
}

/* Many allocate/write/free cycles over random large sizes must not grow the heap without bound. */
static void test_churn(void)
{
    uint64_t seed = tu_seed(0x1a2b3c4d5e6fULL);
    printf("churn seed %#" PRIx64 " (set GOGC_TEST_SEED to replay)\n", seed);
    uint64_t sys0 = runtime_memStats.heap_sys;
    enum { LIVE = 8 };
    unsigned char *live[LIVE] = {0};
    uintptr_t lsz[LIVE] = {0};
    uint64_t tags[LIVE] = {0};
    for (int it = 0; it < 600; it++) {
        int slot = (int)(tu_rand(&seed) % LIVE);
        if (live[slot]) {
            verify(live[slot], lsz[slot], tags[slot]);
            __go_free(live[slot]);
            live[slot] = NULL;
        }
        uintptr_t n = 32769 + (uintptr_t)(tu_rand(&seed) % (4 * MiB));
        if (it % 50 == 0)
            n = 24 * MiB + (uintptr_t)(tu_rand(&seed) % MiB);
        unsigned char *p = (it & 1) ? __go_alloc(n) : runtime_mallocgc(n, 0, FlagNoScan);
        CHECK(p != NULL, "churn: allocation of %" PRIuPTR " returned NULL", n);
        if (!p)
            continue;
        if (it % 7 == 0) {
            char what[64];
            snprintf(what, sizeof what, "churn %d (%" PRIuPTR ")", it, n);
            check_block(p, n, what);
        } else {
            CHECK(p[0] == 0 && p[n / 2] == 0 && p[n - 1] == 0, "churn: %p (%" PRIuPTR ") not zeroed",
                  (void *)p, n);
        }
        live[slot] = p;
        lsz[slot] = n;
        tags[slot] = tu_rand(&seed);
        fill(p, n, tags[slot]);
    }
    for (int i = 0; i < LIVE; i++)
        if (live[i]) {
            verify(live[i], lsz[i], tags[i]);
            __go_free(live[i]);
        }
    stats("after churn");
    /* At most 8 live objects of <= 25 MiB at any time; allow generous fragmentation (none of
     * it comes back under efence=1, where freed pages are never reused). */
    CHECK(tu_godebug("efence") || runtime_memStats.heap_sys <= sys0 + 512 * MiB,
          "heap_sys grew by %" PRIu64 " MiB over a churn whose live set is below 60 MiB",
          (runtime_memStats.heap_sys - sys0) >> 20);
}

/* A large object's pages must not be handed out again while it is alive, even with many small
 * allocations happening in between. */
static void test_large_with_small_neighbours(void)
{
    unsigned char *big = runtime_mallocgc(2 * MiB + 100, 0, 0);
    CHECK(big != NULL, "2 MiB allocation returned NULL");
    if (!big)
        return;
    fill(big, 2 * MiB + 100, 77);
    for (int i = 0; i < 20000; i++) {
        uintptr_t n = 16 + (uintptr_t)(i * 37) % 8000;
        unsigned char *s = runtime_mallocgc(n, 0, 0);
        CHECK(s != NULL && (s + n <= big || s >= big + TU_ROUND_PAGE(2 * MiB + 100)),
              "small object %p (%" PRIuPTR ") inside the live large object %p", (void *)s, n, (void *)big);
        if (s) {
            memset(s, 0xcc, n);
            if (i % 3)
                __go_free(s);
        }
    }
    verify(big, 2 * MiB + 100, 77);
    __go_free(big);
}

int main(void)
{
    printf("t_large\n");
    test_live_set();
    test_churn();
    test_large_with_small_neighbours();
    return test_summary();
}
