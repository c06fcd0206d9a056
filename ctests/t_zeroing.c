/*
 * t_zeroing: every allocation comes back zeroed unless FlagNoZero was given (libgo-abi.md 6.5,
 * 16.1): at every size-class boundary, after explicit frees of dirty objects (memory reuse),
 * after FlagNoZero allocations were dirtied and freed, and for large objects (> 32 KiB),
 * including small spans carved out of pages that a dirty large object gave back.
 */
#include "testutil.h"
#include "gogc.h"

#define ROUNDS 6

static unsigned long reused; /* allocations that got back an address freed just before */

/* The interesting request sizes for class c: its size, one less, and one more than the
 * previous class (the smallest request it serves). */
static int class_requests(int c, uintptr_t out[3])
{
    int n = 0;
    uintptr_t s = tu_class_size[c], prev = tu_class_size[c - 1];
    out[n++] = s;
    if (s - 1 > prev)
        out[n++] = s - 1;
    if (prev + 1 < s - 1)
        out[n++] = prev + 1;
    return n;
}

static const char *mode_name(int mode)
{
    switch (mode) {
    case 0: return "mallocgc(typ 0, flag 0)";
    case 1: return "mallocgc(typ 0, FlagNoScan)";
    case 2: return "__go_alloc";
    default: return "runtime_mal";
    }
}

static void *alloc_mode(int mode, uintptr_t n)
{
    switch (mode) {
    case 0: return runtime_mallocgc(n, 0, 0);
    case 1: return runtime_mallocgc(n, 0, FlagNoScan);
    case 2: return __go_alloc(n);
    default: return runtime_mal(n);
    }
}

/* Allocate `count` objects of `req` bytes, check each is zero over its whole block (the class
 * size, found with mlookup), dirty every byte, free them, and repeat. */
static void churn_small(uintptr_t req, int mode, int count)
{
    void *objs[256];
    void *prev[256];
    int nprev = 0;
    uintptr_t cls = tu_expected_class_size(req);
    /* The tiny allocator (FlagNoScan, < 16 bytes) returns blocks that must not be freed; class 1
     * (8 bytes) blocks must not be freed either ("freeing too small block"). */
    int can_free = cls >= 16 && !(mode == 1 && req < 16);
    if (count > 256)
        count = 256;
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < count; i++) {
            unsigned char *p = alloc_mode(mode, req);
            objs[i] = p;
            CHECK(p != NULL, "%s(%lu) returned NULL", mode_name(mode), (unsigned long)req);
            if (!p)
                continue;
            for (int k = 0; k < nprev; k++)
                if (prev[k] == p) {
                    reused++;
                    break;
                }
            uint8_t *base = NULL;
            uintptr_t bsize = 0;
            int32_t found = runtime_mlookup(p, &base, &bsize, NULL);
            CHECK(found == 1, "mlookup(%p) of a fresh %lu-byte object failed", (void *)p,
                  (unsigned long)req);
            uintptr_t check = req;
            if (found == 1 && !(mode == 1 && req < 16)) {
                CHECK(base == p, "mlookup base %p != object %p (req %lu)", (void *)base, (void *)p,
                      (unsigned long)req);
                /* efence=1: every request is a large object, of its pages. */
                uintptr_t want = tu_godebug("efence") ? TU_ROUND_PAGE(req) : cls;
                CHECK(bsize == want, "mlookup size %lu != block size %lu (req %lu)",
                      (unsigned long)bsize, (unsigned long)want, (unsigned long)req);
                if (base == p && bsize == want)
                    check = bsize; /* the whole block must be zero, not only the request */
            }
            long nz = tu_first_nonzero(p, check);
            CHECK(nz < 0, "%s(%lu) round %d object %d at %p: byte %ld of %lu is 0x%02x, not zero",
                  mode_name(mode), (unsigned long)req, r, i, (void *)p, nz, (unsigned long)check,
                  nz >= 0 ? p[nz] : 0);
            if (can_free)
                memset(p, 0xff, check);
            else
                memset(p, 0xff, req);
        }
        if (!can_free)
            continue;
        /* Free in a mixed order: odd indexes backwards, then even ones forwards. */
        for (int i = count - 1; i >= 0; i--)
            if ((i & 1) && objs[i])
                __go_free(objs[i]);
        for (int i = 0; i < count; i++)
            if (!(i & 1) && objs[i])
                __go_free(objs[i]);
        memcpy(prev, objs, sizeof(void *) * (size_t)count);
        nprev = count;
    }
}

static void test_class_boundaries(void)
{
    for (int c = 1; c < 67; c++) {
        uintptr_t reqs[3];
        int n = class_requests(c, reqs);
        uintptr_t s = tu_class_size[c];
        int count = s <= 1024 ? 96 : s <= 8192 ? 24 : 6;
        for (int i = 0; i < n; i++)
            for (int mode = 0; mode < 4; mode++)
                churn_small(reqs[i], mode, count);
    }
    printf("class boundaries: %lu allocations reused a just-freed address\n", reused);
    /* efence=1 never hands freed memory out again. */
    if (tu_godebug("efence"))
        CHECK(reused == 0, "efence: %lu allocations got a just-freed address", reused);
    else
        CHECK(reused > 0, "explicitly freed small objects were never handed out again");
}

/* FlagNoZero: the allocation works and is usable; a later zeroing allocation that reuses the
 * dirty memory must still get zeros. */
static void test_nozero(void)
{
    for (int c = 2; c < 67; c++) {
        uintptr_t s = tu_class_size[c];
        void *objs[32];
        int count = s <= 4096 ? 32 : 4;
        for (int r = 0; r < 3; r++) {
            for (int i = 0; i < count; i++) {
                unsigned char *p = runtime_mallocgc(s, 0, FlagNoZero | (i & 1 ? FlagNoScan : 0));
                objs[i] = p;
                CHECK(p != NULL, "FlagNoZero mallocgc(%lu) returned NULL", (unsigned long)s);
                if (!p)
                    continue;
                uintptr_t bsize = 0;
                CHECK(runtime_mlookup(p, NULL, &bsize, NULL) == 1 &&
                          bsize == (tu_godebug("efence") ? TU_ROUND_PAGE(s) : s),
                      "FlagNoZero object %p of class size %lu: mlookup size %lu", (void *)p,
                      (unsigned long)s, (unsigned long)bsize);
                memset(p, 0xa5, s);
            }
            for (int i = 0; i < count; i++)
                if (objs[i])
                    __go_free(objs[i]);
            /* The same class, zeroing this time: must not see the 0xa5 pattern. */
            for (int i = 0; i < count; i++) {
                unsigned char *p = runtime_mallocgc(s, 0, i & 1 ? FlagNoScan : 0);
                objs[i] = p;
                CHECK(p != NULL, "mallocgc(%lu) returned NULL", (unsigned long)s);
                if (!p)
                    continue;
                long nz = tu_first_nonzero(p, s);
                CHECK(nz < 0, "after FlagNoZero reuse: class %d (%lu) object %p byte %ld = 0x%02x", c,
                      (unsigned long)s, (void *)p, nz, nz >= 0 ? p[nz] : 0);
            }
            for (int i = 0; i < count; i++)
                if (objs[i])
                    __go_free(objs[i]);
        }
    }
    /* Tiny FlagNoZero requests (< 16 bytes, NoScan) must also work. */
    for (int i = 0; i < 1000; i++) {
        unsigned char *p = runtime_mallocgc((uintptr_t)(1 + i % 15), 0, FlagNoScan | FlagNoZero);
        CHECK(p != NULL, "tiny FlagNoZero allocation returned NULL");
        if (p)
            memset(p, 0x5a, (size_t)(1 + i % 15));
    }
}

static void check_zero_large(const unsigned char *p, uintptr_t n, const char *what)
{
    long nz = tu_first_nonzero(p, n);
    CHECK(nz < 0, "%s: large object %p (%lu bytes): byte %ld = 0x%02x, not zero", what, (const void *)p,
          (unsigned long)n, nz, nz >= 0 ? p[nz] : 0);
}

static void test_large(void)
{
    static const uintptr_t sizes[] = {32769,        40000,          40960,           40961,
                                      65536,        65537,          100000,          262144 + 17,
                                      1 << 20,      (1 << 20) + 1,  3 * (1 << 20) + 5, 16 << 20};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        uintptr_t n = sizes[k];
        uintptr_t pages = TU_ROUND_PAGE(n);
        for (int r = 0; r < 5; r++) {
            int mode = r % 4;
            unsigned char *p = alloc_mode(mode, n);
            CHECK(p != NULL, "%s(%lu) returned NULL", mode_name(mode), (unsigned long)n);
            if (!p)
                continue;
            uint8_t *base = NULL;
            uintptr_t bsize = 0;
            CHECK(runtime_mlookup(p, &base, &bsize, NULL) == 1 && base == p && bsize == pages,
                  "large %lu: mlookup base %p size %lu, want %p size %lu", (unsigned long)n,
                  (void *)base, (unsigned long)bsize, (void *)p, (unsigned long)pages);
            char what[96];
            snprintf(what, sizeof what, "%s(%lu) round %d", mode_name(mode), (unsigned long)n, r);
            check_zero_large(p, n, what);
            memset(p, 0xff, n);
            __go_free(p);
        }
        /* FlagNoZero large object dirtied and freed, then a zeroing one of the same size. */
        unsigned char *q = runtime_mallocgc(n, 0, FlagNoZero | FlagNoScan);
        CHECK(q != NULL, "FlagNoZero large mallocgc(%lu) returned NULL", (unsigned long)n);
        if (q) {
            memset(q, 0x77, n);
            __go_free(q);
        }
        unsigned char *z = runtime_mallocgc(n, 0, 0);
        CHECK(z != NULL, "large mallocgc(%lu) returned NULL", (unsigned long)n);
        if (z) {
            check_zero_large(z, n, "after a dirty FlagNoZero large object was freed");
            __go_free(z);
        }
    }
}

/* A big dirty large object goes back to the heap; small spans carved from those pages later must
 * still be zero (span needzero must survive). */
static void test_large_pages_to_small(void)
{
    enum { BIG = 8 << 20 };
    unsigned char *big[4];
    for (int i = 0; i < 4; i++) {
        big[i] = runtime_mallocgc(BIG, 0, i & 1 ? FlagNoZero : 0);
        CHECK(big[i] != NULL, "mallocgc(%d) returned NULL", BIG);
        if (big[i])
            memset(big[i], 0xee, BIG);
    }
    for (int i = 0; i < 4; i++)
        if (big[i])
            __go_free(big[i]);
    /* Now allocate ~40 MiB of small objects across all classes; most must come from fresh
     * spans that reuse the pages just freed. (Classes 1 and 2, 8 and 16 bytes, are carved
     * without zeroing the pages first: threading their free list writes every word.) */
    unsigned long bad = 0, total = 0;
    for (int round = 0; round < 20; round++) {
        for (int c = 1; c < 67; c++) {
            uintptr_t s = tu_class_size[c];
            int count = (int)(32768 / s) + 1;
            for (int i = 0; i < count; i++) {
                unsigned char *p = runtime_mallocgc(s, 0, (i & 1) ? FlagNoScan : 0);
                total++;
                if (!p) {
                    bad++;
                    CHECK(p != NULL, "mallocgc(%lu) returned NULL", (unsigned long)s);
                    continue;
                }
                long nz = tu_first_nonzero(p, s);
                if (nz >= 0) {
                    bad++;
                    CHECK(nz < 0,
                          "small object %p (class %d, %lu bytes) carved after large frees: byte %ld = "
                          "0x%02x",
                          (void *)p, c, (unsigned long)s, nz, p[nz]);
                }
                /* deliberately kept live: forces fresh spans */
            }
        }
    }
    printf("large-to-small reuse: %lu small objects checked, %lu bad\n", total, bad);
}

/* A fresh span is carved a batch at a time; a collection hands the span back with the rest
 * still raw. Those blocks must keep the zeroing protocol: old data whose second word happens
 * to be 0 must not pass for a zeroed block. The dirty pages come from a freed large object
 * filled with a pattern that is 0 in every odd word (a block's second word) and non-zero in
 * every even word. Runs first, while these classes have no spans yet. */
static void test_uncarved_rest(void)
{
    enum { BIG = 1 << 20, N = 3000 };
    static const uintptr_t sizes[] = {16, 32, 48, 64, 96};
    unsigned long checked = 0, inside = 0;
    for (unsigned k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        uint64_t *big = runtime_mallocgc(BIG, 0, FlagNoScan);
        CHECK(big != NULL, "mallocgc(%d) returned NULL", BIG);
        if (!big)
            return;
        for (size_t i = 0; i < BIG / 8; i++)
            big[i] = i % 2 ? 0 : 0xeeeeeeeeeeeeeeeeull;
        uintptr_t lo = (uintptr_t)big, hi = lo + BIG;
        __go_free(big);
        uintptr_t s = sizes[k];
        /* One block: the class grows a span (from the dirty pages) and carves one batch. */
        unsigned char *first = runtime_mallocgc(s, 0, 0);
        CHECK(first && tu_first_nonzero(first, s) < 0, "first %lu-byte block not zero", (unsigned long)s);
        /* The collection takes the span back from the cache, rest uncarved. */
        runtime_gc(2);
        for (int i = 0; i < N; i++) {
            unsigned char *p = runtime_mallocgc(s, 0, i & 1 ? FlagNoScan : 0);
            if (!p) {
                CHECK(p != NULL, "mallocgc(%lu) returned NULL", (unsigned long)s);
                break;
            }
            checked++;
            inside += (uintptr_t)p >= lo && (uintptr_t)p < hi;
            long nz = tu_first_nonzero(p, s);
            if (nz >= 0) {
                CHECK(nz < 0, "%lu-byte block %p from a span carved out of dirty pages: byte %ld = 0x%02x",
                      (unsigned long)s, (void *)p, nz, p[nz]);
                break;
            }
        }
    }
    printf("uncarved rest: %lu blocks checked, %lu inside the freed dirty pages\n", checked, inside);
    CHECK(inside > 0 || getenv("GODEBUG") != NULL, "no block reused the dirty pages: the test did not test");
}

int main(void)
{
    printf("t_zeroing\n");
    test_uncarved_rest();
    test_class_boundaries();
    test_nozero();
    test_large();
    test_large_pages_to_small();
    return test_summary();
}
