/*
 * t_misc: the smaller parts of the allocation contract.
 *  - explicit runtime_mallocinit() before any allocation; runtime.Sizeof_C_MStats == 5776,
 *    sizeof(MStats) == 5920 and the field offsets of section 11.9; by_size[i].size holds the
 *    class sizes;
 *  - size 0 returns &runtime_zerobase from every entry point; __go_free(NULL) is ignored;
 *  - runtime_persistentalloc: alignment (0 means 8; 64, 4096, 8192), zeroed, disjoint, the
 *    *stat accounting, the >= 64 KiB path, a NULL stat;
 *  - runtime_SysAlloc / runtime_SysFree: zeroed page-aligned memory, *stat += n / -= n, unmapped
 *    after SysFree;
 *  - the tiny allocator (section 16.2): many 1..15-byte FlagNoScan allocations are zeroed, aligned
 *    as the contract says, inside one 16-byte block, and never overlap (patterns survive);
 *    FlagNoScan|FlagNoGC small requests bypass it;
 *  - runtime_updatememstats (section 13.7): nmalloc/nfree/by_size/heap_alloc/heap_objects/
 *    total_alloc/nlookup/sys after a known series of allocations and frees.
 */
#include "testutil.h"
#include "gogc.h"
#include <sys/mman.h>

/* Weak, so that the rest of the test still runs against a library that lacks them. */
#pragma weak runtime_updatememstats
void runtime_GC(void) __attribute__((weak));

static void test_init_and_layout(void)
{
    runtime_mallocinit();
    CHECK(runtime_Sizeof_C_MStats == 5776, "runtime.Sizeof_C_MStats = %" PRIuPTR ", want 5776",
          runtime_Sizeof_C_MStats);
    CHECK(sizeof(MStats) == 5920, "sizeof(MStats) = %zu, want 5920", sizeof(MStats));
    CHECK(sizeof(runtime_memStats) == 5920, "sizeof(runtime_memStats) = %zu", sizeof(runtime_memStats));
    CHECK(offsetof(MStats, heap_alloc) == 48, "offsetof heap_alloc = %zu", offsetof(MStats, heap_alloc));
    CHECK(offsetof(MStats, heap_inuse) == 72, "offsetof heap_inuse = %zu", offsetof(MStats, heap_inuse));
    CHECK(offsetof(MStats, other_sys) == 160, "offsetof other_sys = %zu", offsetof(MStats, other_sys));
    CHECK(offsetof(MStats, next_gc) == 168, "offsetof next_gc = %zu", offsetof(MStats, next_gc));
    CHECK(offsetof(MStats, pause_ns) == 192, "offsetof pause_ns = %zu", offsetof(MStats, pause_ns));
    CHECK(offsetof(MStats, pause_end) == 2240, "offsetof pause_end = %zu", offsetof(MStats, pause_end));
    CHECK(offsetof(MStats, numgc) == 4288, "offsetof numgc = %zu", offsetof(MStats, numgc));
    CHECK(offsetof(MStats, gc_cpu_fraction) == 4296, "offsetof gc_cpu_fraction = %zu",
          offsetof(MStats, gc_cpu_fraction));
    CHECK(offsetof(MStats, enablegc) == 4304, "offsetof enablegc = %zu", offsetof(MStats, enablegc));
    CHECK(offsetof(MStats, debuggc) == 4305, "offsetof debuggc = %zu", offsetof(MStats, debuggc));
    CHECK(offsetof(MStats, by_size) == 4312, "offsetof by_size = %zu", offsetof(MStats, by_size));
    CHECK(sizeof(runtime_memStats.by_size[0]) == 24, "by_size entry is %zu bytes",
          sizeof(runtime_memStats.by_size[0]));
    CHECK(sizeof(runtime_memStats.by_size) / sizeof(runtime_memStats.by_size[0]) == 67,
          "by_size has %zu entries", sizeof(runtime_memStats.by_size) / sizeof(runtime_memStats.by_size[0]));
    /* The Go-visible prefix ends after by_size[60]. */
    CHECK(offsetof(MStats, by_size) + 61 * 24 == 5776, "Go-visible prefix is not 5776 bytes");
    /* InitSizes fills by_size[i].size with the class sizes. */
    unsigned bad = 0;
    for (int c = 0; c < 67; c++)
        if (runtime_memStats.by_size[c].size != (uint32_t)tu_class_size[c] && bad++ < 5)
            CHECK(0, "memStats.by_size[%d].size = %u, want %u", c, runtime_memStats.by_size[c].size,
                  (unsigned)tu_class_size[c]);
    CHECK(bad == 0, "%u by_size[].size entries wrong", bad);
    /* The heap works after the explicit init. */
    void *p = runtime_mallocgc(100, 0, 0);
    CHECK(p != NULL, "mallocgc after runtime_mallocinit returned NULL");
    CHECK(runtime_Sizeof_C_MStats == 5776, "Sizeof_C_MStats changed to %" PRIuPTR, runtime_Sizeof_C_MStats);
}

static void test_zero_size(void)
{
    void *z = &runtime_zerobase;
    CHECK(runtime_mallocgc(0, 0, 0) == z, "mallocgc(0, 0, 0) != &runtime_zerobase");
    CHECK(runtime_mallocgc(0, 0, FlagNoScan) == z, "mallocgc(0, 0, FlagNoScan) != &runtime_zerobase");
    CHECK(runtime_mallocgc(0, 0, FlagNoScan | FlagNoZero) == z, "mallocgc(0, NoScan|NoZero)");
    CHECK(runtime_mallocgc(0, 0, FlagNoGC) == z, "mallocgc(0, 0, FlagNoGC) != &runtime_zerobase");
    CHECK(runtime_mallocgc(0, 0, FlagNoInvokeGC | FlagNoProfiling) == z, "mallocgc(0, NoInvokeGC|NoProfiling)");
    CHECK(__go_alloc(0) == z, "__go_alloc(0) != &runtime_zerobase");
    CHECK(runtime_mal(0) == z, "runtime_mal(0) != &runtime_zerobase");
    CHECK(runtime_zerobase == 0, "runtime_zerobase = %#" PRIxPTR ", want 0", runtime_zerobase);
    __go_free(NULL); /* ignored */
    CHECK(1, "__go_free(NULL) returned");
    /* Non-zero sizes never return the zero base. */
    for (uintptr_t n = 1; n < 64; n++) {
        CHECK(runtime_mallocgc(n, 0, FlagNoScan) != z, "mallocgc(%" PRIuPTR ", NoScan) == zerobase", n);
        CHECK(__go_alloc(n) != z, "__go_alloc(%" PRIuPTR ") == zerobase", n);
    }
}

typedef struct {
    unsigned char *p;
    uintptr_t n;
} piece_t;

static void test_persistentalloc(void)
{
    static const uintptr_t aligns[] = {0, 1, 2, 4, 8, 16, 64, 256, 4096, 8192};
    static const uintptr_t psizes[] = {1, 7, 8, 24, 100, 1000, 4095, 8192, 20000, 65535};
    enum { MAXP = 4000 };
    static piece_t pieces[MAXP];
    int np = 0;
    uint64_t seed = 12345;
    for (int round = 0; round < 20; round++)
        for (size_t a = 0; a < sizeof aligns / sizeof aligns[0]; a++)
            for (size_t s = 0; s < sizeof psizes / sizeof psizes[0]; s++) {
                uintptr_t n = psizes[s], al = aligns[a];
                /* Vary the size a little so the chunk cursor moves to odd places. */
                n += (uintptr_t)(tu_rand(&seed) % 13);
                uint64_t stat = 1000;
                unsigned char *p = runtime_persistentalloc(n, al, &stat);
                CHECK(p != NULL, "persistentalloc(%" PRIuPTR ", %" PRIuPTR ") returned NULL", n, al);
                if (!p)
                    continue;
                uintptr_t eff = al == 0 ? 8 : al;
                if (n < 65536)
                    CHECK(((uintptr_t)p & (eff - 1)) == 0,
                          "persistentalloc(%" PRIuPTR ", align %" PRIuPTR ") = %p, not %" PRIuPTR "-aligned",
                          n, al, (void *)p, eff);
                else
                    CHECK(((uintptr_t)p & 7) == 0, "big persistentalloc %p not 8-aligned", (void *)p);
                CHECK(stat >= 1000 + n, "persistentalloc(%" PRIuPTR "): *stat grew by %" PRIu64 " only", n,
                      stat - 1000);
                long nz = tu_first_nonzero(p, n);
                CHECK(nz < 0, "persistentalloc(%" PRIuPTR ", %" PRIuPTR ") = %p: byte %ld not zero", n, al,
                      (void *)p, nz);
                memset(p, (int)(np & 0xff) | 1, n);
                if (np < MAXP) {
                    pieces[np].p = p;
                    pieces[np].n = n;
                    np++;
                }
            }
    /* Nothing clobbered anything else. */
    unsigned long bad = 0;
    for (int i = 0; i < np; i++) {
        unsigned char v = (unsigned char)((i & 0xff) | 1);
        for (uintptr_t k = 0; k < pieces[i].n; k++)
            if (pieces[i].p[k] != v) {
                if (bad++ < 5)
                    CHECK(0, "persistentalloc piece %d (%p, %" PRIuPTR " bytes) clobbered at byte %" PRIuPTR,
                          i, (void *)pieces[i].p, pieces[i].n, k);
                break;
            }
    }
    CHECK(bad == 0, "%lu persistentalloc pieces clobbered", bad);
    /* Not in the GC heap. */
    CHECK(runtime_mlookup(pieces[0].p, NULL, NULL, NULL) == 0, "persistentalloc memory is in the heap");
    /* The big path (>= 64 KiB) goes straight to SysAlloc: accounted to *stat in full. */
    for (uintptr_t n = 65536; n <= (4u << 20); n *= 4) {
        uint64_t stat = 0;
        unsigned char *p = runtime_persistentalloc(n, 0, &stat);
        CHECK(p != NULL, "persistentalloc(%" PRIuPTR ") returned NULL", n);
        CHECK(stat >= n, "persistentalloc(%" PRIuPTR "): *stat = %" PRIu64, n, stat);
        if (p) {
            CHECK(tu_first_nonzero(p, n) < 0, "big persistentalloc(%" PRIuPTR ") not zeroed", n);
            memset(p, 0x42, n);
            CHECK(p[0] == 0x42 && p[n - 1] == 0x42, "big persistentalloc not writable");
        }
    }
    /* NULL stat: accounted to other_sys, must work. */
    uint64_t other0 = runtime_memStats.other_sys;
    for (int i = 0; i < 100; i++) {
        unsigned char *p = runtime_persistentalloc(200, 64, NULL);
        CHECK(p != NULL && ((uintptr_t)p & 63) == 0 && tu_first_nonzero(p, 200) < 0,
              "persistentalloc(200, 64, NULL) = %p", (void *)p);
        if (p)
            memset(p, 1, 200);
    }
    CHECK(runtime_memStats.other_sys >= other0, "other_sys fell after persistentalloc(NULL stat)");
    /* A known stat: memStats.gc_sys grows by at least the size. */
    uint64_t gc0 = runtime_memStats.gc_sys;
    void *g = runtime_persistentalloc(3000, 0, &runtime_memStats.gc_sys);
    CHECK(g != NULL && runtime_memStats.gc_sys >= gc0 + 3000, "gc_sys %" PRIu64 " -> %" PRIu64, gc0,
          runtime_memStats.gc_sys);
}

static int mapped(void *p, size_t n)
{
    size_t pages = (n + 4095) / 4096;
    unsigned char *vec = malloc(pages);
    int r = mincore(p, n, vec);
    int e = errno;
    free(vec);
    return r == 0 ? 1 : (e == ENOMEM ? 0 : -1);
}

static void test_sysalloc(void)
{
    static const uintptr_t ns[] = {4096, 8192, 65536, 1 << 20, (16 << 20) + 8192};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        uintptr_t n = ns[i];
        uint64_t stat = 7;
        unsigned char *p = runtime_SysAlloc(n, &stat);
        CHECK(p != NULL, "SysAlloc(%" PRIuPTR ") returned NULL", n);
        if (!p)
            continue;
        CHECK(stat == 7 + n, "SysAlloc(%" PRIuPTR "): *stat = %" PRIu64 ", want %" PRIu64, n, stat,
              (uint64_t)(7 + n));
        CHECK(((uintptr_t)p & 4095) == 0, "SysAlloc returned %p, not page aligned", (void *)p);
        CHECK(tu_first_nonzero(p, n) < 0, "SysAlloc(%" PRIuPTR ") memory not zeroed", n);
        memset(p, 0x99, n);
        CHECK(p[n - 1] == 0x99, "SysAlloc memory not writable");
        CHECK(runtime_mlookup(p, NULL, NULL, NULL) == 0, "SysAlloc memory is in the heap");
        CHECK(mapped(p, n) == 1, "SysAlloc memory %p not mapped", (void *)p);
        runtime_SysFree(p, n, &stat);
        CHECK(stat == 7, "SysFree: *stat = %" PRIu64 ", want 7", stat);
        CHECK(mapped(p, n) == 0, "after SysFree(%p, %" PRIuPTR ") the range is still mapped", (void *)p, n);
    }
    /* Accounting into a memStats field. */
    uint64_t o0 = runtime_memStats.other_sys;
    void *q = runtime_SysAlloc(1 << 16, &runtime_memStats.other_sys);
    CHECK(q != NULL && runtime_memStats.other_sys == o0 + (1 << 16), "other_sys %" PRIu64 " -> %" PRIu64, o0,
          runtime_memStats.other_sys);
    if (q) {
        runtime_SysFree(q, 1 << 16, &runtime_memStats.other_sys);
        CHECK(runtime_memStats.other_sys == o0, "other_sys not restored by SysFree");
    }
}

static void test_tiny(void)
{
    enum { N = 20000 };
    /* On the stack, not in static storage: the library collects garbage, and a conservative
     * scan of this thread's stack is what keeps these objects alive (unregistered globals are
     * not roots). */
    unsigned char *ptr[N];
    uint8_t len[N];
    unsigned long bad_zero = 0, bad_align = 0, bad_block = 0;
    const int efence = tu_godebug("efence") != 0;
    uint64_t seed = 777;
    for (int i = 0; i < N; i++) {
        uintptr_t n = 1 + (uintptr_t)(tu_rand(&seed) % 15);
        /* Now and then a non-tiny allocation in between. */
        if (i % 97 == 0) {
            void *other = runtime_mallocgc(40, 0, FlagNoScan);
            CHECK(other != NULL, "mallocgc(40, 0, FlagNoScan) returned NULL");
            if (other)
                memset(other, 0xab, 40);
        }
        unsigned char *p = runtime_mallocgc(n, 0, FlagNoScan);
        ptr[i] = p;
        len[i] = (uint8_t)n;
        CHECK(p != NULL, "tiny mallocgc(%" PRIuPTR ") returned NULL", n);
        if (!p) {
            len[i] = 0;
            continue;
        }
        if (tu_first_nonzero(p, n) >= 0 && bad_zero++ < 5)
            CHECK(0, "tiny object %p (%" PRIuPTR " bytes) not zeroed", (void *)p, n);
        uintptr_t al = n % 8 == 0 ? 8 : n % 4 == 0 ? 4 : n % 2 == 0 ? 2 : 1;
        if (((uintptr_t)p & (al - 1)) && bad_align++ < 5)
            CHECK(0, "tiny object %p of %" PRIuPTR " bytes is not %" PRIuPTR "-aligned", (void *)p, n, al);
        uint8_t *base = NULL;
        uintptr_t bs = 0;
        int32_t r = runtime_mlookup(p, &base, &bs, NULL);
        /* efence=1 has no tiny allocator: every request is a page-aligned object of its own. */
        int in_block = efence ? r == 1 && bs == TU_PAGE && base == p
                              : r == 1 && bs == 16 && base <= p && p + n <= base + 16;
        if (!in_block && bad_block++ < 5)
            CHECK(0, "tiny object %p (%" PRIuPTR " bytes): mlookup %d base %p size %" PRIuPTR
                  " (want inside one 16-byte block)",
                  (void *)p, n, (int)r, (void *)base, bs);
        for (uintptr_t k = 0; k < n; k++)
            p[k] = (unsigned char)(i * 7 + (int)k + 1);
    }
    CHECK(bad_zero == 0, "%lu tiny objects not zeroed", bad_zero);
    CHECK(bad_align == 0, "%lu tiny objects misaligned", bad_align);
    CHECK(bad_block == 0, "%lu tiny objects not inside one 16-byte block", bad_block);
    unsigned long clobbered = 0, shared = 0;
    for (int i = 0; i < N; i++) {
        if (!ptr[i])
            continue;
        for (uintptr_t k = 0; k < len[i]; k++)
            if (ptr[i][k] != (unsigned char)(i * 7 + (int)k + 1)) {
                if (clobbered++ < 5)
                    CHECK(0, "tiny object %d (%p, %u bytes) clobbered at byte %" PRIuPTR, i, (void *)ptr[i],
                          len[i], k);
                break;
            }
        if (i && ptr[i] && ptr[i - 1] && ((uintptr_t)ptr[i] & ~(uintptr_t)15) == ((uintptr_t)ptr[i - 1] & ~(uintptr_t)15))
            shared++;
    }
    CHECK(clobbered == 0, "%lu tiny objects clobbered (overlap)", clobbered);
    printf("tiny: %lu of %d consecutive tiny objects share a 16-byte block\n", shared, N);
    if (efence)
        CHECK(shared == 0, "efence: %lu consecutive small objects share a 16-byte block", shared);
    else
        CHECK(shared > N / 10, "the tiny allocator never packs objects together (%lu sharing)", shared);
    /* NoScan|NoGC and plain (scanned) small requests are not tiny: each is its own block. */
    for (uintptr_t n = 1; n < 16; n++) {
        unsigned char *a = runtime_mallocgc(n, 0, FlagNoScan | FlagNoGC);
        unsigned char *b = runtime_mallocgc(n, 0, 0);
        uint8_t *base = NULL;
        uintptr_t bs = 0;
        uintptr_t want = efence ? TU_PAGE : n <= 8 ? 8u : 16u;
        CHECK(a && runtime_mlookup(a, &base, &bs, NULL) == 1 && base == a && bs == want,
              "mallocgc(%" PRIuPTR ", NoScan|NoGC) = %p: base %p size %" PRIuPTR, n, (void *)a, (void *)base, bs);
        CHECK(b && runtime_mlookup(b, &base, &bs, NULL) == 1 && base == b && bs == want,
              "mallocgc(%" PRIuPTR ", 0, 0) = %p: base %p size %" PRIuPTR, n, (void *)b, (void *)base, bs);
    }
}

static void test_memstats(void)
{
    if (!runtime_updatememstats) {
        printf("SKIP memstats: runtime_updatememstats is not defined by the library\n");
        CHECK(0, "runtime_updatememstats missing");
        return;
    }
    /* Class 53 (9472 bytes) is used by nothing else in this program. The counts below must
     * change only by what this function does: if the library collects garbage, first finish a
     * full collection and sweep (runtime.GC), then allocate with FlagNoInvokeGC so no collection
     * or sweep of earlier garbage happens between the two snapshots. */
    enum { CL = 53, N = 100, F = 40 };
    const uintptr_t req = 9000, big = 100000, bigblk = 106496;
    /* Under efence=1 the 9000-byte requests are large objects of two pages each, and class 53
     * is not used at all. */
    const int efence = tu_godebug("efence") != 0;
    const uintptr_t sz = efence ? TU_ROUND_PAGE(req) : 9472;
    const uint64_t cl_n = efence ? 0 : N, cl_f = efence ? 0 : F;
    if (runtime_GC)
        runtime_GC();
    runtime_updatememstats(NULL);
    MStats a = runtime_memStats;
    CHECK(a.heap_objects == a.nmalloc - a.nfree, "heap_objects %" PRIu64 " != nmalloc %" PRIu64 " - nfree %" PRIu64,
          a.heap_objects, a.nmalloc, a.nfree);
    void *objs[N];
    for (int i = 0; i < N; i++) {
        objs[i] = runtime_mallocgc(req, 0, FlagNoInvokeGC | (i & 1 ? FlagNoScan : 0));
        CHECK(objs[i] != NULL, "mallocgc(%" PRIuPTR ") returned NULL", req);
    }
    for (int i = 0; i < F; i++)
        if (objs[i * 2])
            __go_free(objs[i * 2]);
    void *l[3];
    for (int i = 0; i < 3; i++)
        l[i] = runtime_mallocgc(big, 0, FlagNoInvokeGC);
    __go_free(l[1]);
    for (int i = 0; i < 1000; i++)
        runtime_mlookup(objs[1], NULL, NULL, NULL);
    runtime_updatememstats(NULL);
    MStats b = runtime_memStats;
    printf("memstats: nmalloc +%" PRIu64 " nfree +%" PRIu64 " heap_alloc +%" PRId64 " heap_objects +%" PRId64
           " total_alloc +%" PRIu64 " nlookup +%" PRIu64 " by_size[%d] +%" PRIu64 "/+%" PRIu64 "\n",
           b.nmalloc - a.nmalloc, b.nfree - a.nfree, (int64_t)(b.heap_alloc - a.heap_alloc),
           (int64_t)(b.heap_objects - a.heap_objects), b.total_alloc - a.total_alloc, b.nlookup - a.nlookup, CL,
           b.by_size[CL].nmalloc - a.by_size[CL].nmalloc, b.by_size[CL].nfree - a.by_size[CL].nfree);
    CHECK(b.by_size[CL].size == 9472, "by_size[%d].size = %u", CL, b.by_size[CL].size);
    CHECK(b.by_size[CL].nmalloc - a.by_size[CL].nmalloc == cl_n,
          "by_size[%d].nmalloc grew by %" PRIu64 ", want %" PRIu64, CL, b.by_size[CL].nmalloc - a.by_size[CL].nmalloc,
          cl_n);
    CHECK(b.by_size[CL].nfree - a.by_size[CL].nfree == cl_f, "by_size[%d].nfree grew by %" PRIu64 ", want %" PRIu64,
          CL, b.by_size[CL].nfree - a.by_size[CL].nfree, cl_f);
    CHECK(b.nmalloc - a.nmalloc >= N + 3, "nmalloc grew by %" PRIu64 ", want >= %d", b.nmalloc - a.nmalloc, N + 3);
    CHECK(b.nfree - a.nfree >= F + 1, "nfree grew by %" PRIu64 ", want >= %d", b.nfree - a.nfree, F + 1);
    CHECK(b.heap_objects == b.nmalloc - b.nfree, "heap_objects %" PRIu64 " != nmalloc - nfree", b.heap_objects);
    CHECK(b.heap_objects - a.heap_objects == (uint64_t)(N - F + 2), "heap_objects grew by %" PRId64 ", want %d",
          (int64_t)(b.heap_objects - a.heap_objects), N - F + 2);
    uint64_t live = (uint64_t)(N - F) * sz + 2 * bigblk;
    CHECK(b.heap_alloc - a.heap_alloc == live, "heap_alloc grew by %" PRId64 ", want %" PRIu64,
          (int64_t)(b.heap_alloc - a.heap_alloc), live);
    CHECK(b.alloc == b.heap_alloc, "alloc %" PRIu64 " != heap_alloc %" PRIu64, b.alloc, b.heap_alloc);
    CHECK(b.total_alloc - a.total_alloc >= (uint64_t)N * sz + 3 * bigblk, "total_alloc grew by %" PRIu64,
          b.total_alloc - a.total_alloc);
    CHECK(b.nlookup - a.nlookup >= 1000, "nlookup grew by %" PRIu64 " after 1000 lookups", b.nlookup - a.nlookup);
    CHECK(b.sys == b.heap_sys + b.stacks_sys + b.mspan_sys + b.mcache_sys + b.buckhash_sys + b.gc_sys + b.other_sys,
          "sys %" PRIu64 " is not the sum of the *_sys fields", b.sys);
    CHECK(b.heap_sys >= b.heap_inuse && b.heap_inuse >= b.heap_alloc, "heap_sys %" PRIu64 " heap_inuse %" PRIu64
          " heap_alloc %" PRIu64, b.heap_sys, b.heap_inuse, b.heap_alloc);
    CHECK(b.stacks_inuse == 0, "stacks_inuse = %" PRIu64, b.stacks_inuse);
}

int main(void)
{
    printf("t_misc\n");
    test_init_and_layout();
    test_zero_size();
    test_persistentalloc();
    test_sysalloc();
    test_tiny();
    test_memstats();
    return test_summary();
}
