/*
 * t_roundupsize: runtime_roundupsize against the size-class table of libgo-abi.md section 12
 * (embedded below, independently of testutil.h's copy), its large-size page rounding and its
 * overflow rule; and runtime_mallocgc(n, 0, 0) for every n in 1..32768 returns a block whose
 * runtime_mlookup size is exactly roundupsize(n).
 */
#include "testutil.h"
#include "gogc.h"

/* class, object size, first request served, pages per span, objects per span (section 12). */
static const struct {
    int cls;
    uintptr_t size, from;
    int pages, objects;
} table[] = {
    {1, 8, 1, 1, 1024},          {2, 16, 9, 1, 512},          {3, 32, 17, 1, 256},
    {4, 48, 33, 1, 170},         {5, 64, 49, 1, 128},         {6, 80, 65, 1, 102},
    {7, 96, 81, 1, 85},          {8, 112, 97, 1, 73},         {9, 128, 113, 1, 64},
    {10, 144, 129, 1, 56},       {11, 160, 145, 1, 51},       {12, 176, 161, 1, 46},
    {13, 192, 177, 1, 42},       {14, 208, 193, 1, 39},       {15, 224, 209, 1, 36},
    {16, 240, 225, 1, 34},       {17, 256, 241, 1, 32},       {18, 288, 257, 1, 28},
    {19, 320, 289, 1, 25},       {20, 352, 321, 1, 23},       {21, 384, 353, 1, 21},
    {22, 416, 385, 1, 19},       {23, 448, 417, 1, 18},       {24, 480, 449, 1, 17},
    {25, 512, 481, 1, 16},       {26, 576, 513, 1, 14},       {27, 640, 577, 1, 12},
    {28, 704, 641, 1, 11},       {29, 768, 705, 1, 10},       {30, 896, 769, 1, 9},
    {31, 1024, 897, 1, 8},       {32, 1152, 1025, 1, 7},      {33, 1280, 1153, 1, 6},
    {34, 1408, 1281, 2, 11},     {35, 1536, 1409, 1, 5},      {36, 1664, 1537, 2, 9},
    {37, 2048, 1665, 1, 4},      {38, 2304, 2049, 2, 7},      {39, 2560, 2305, 1, 3},
    {40, 2816, 2561, 3, 8},      {41, 3072, 2817, 2, 5},      {42, 3328, 3073, 3, 7},
    {43, 4096, 3329, 1, 2},      {44, 4608, 4097, 3, 5},      {45, 5376, 4609, 2, 3},
    {46, 6144, 5377, 3, 4},      {47, 6400, 6145, 4, 5},      {48, 6656, 6401, 5, 6},
    {49, 6912, 6657, 6, 7},      {50, 8192, 6913, 1, 1},      {51, 8448, 8193, 7, 6},
    {52, 8704, 8449, 6, 5},      {53, 9472, 8705, 5, 4},      {54, 10496, 9473, 4, 3},
    {55, 12288, 10497, 3, 2},    {56, 13568, 12289, 5, 3},    {57, 14080, 13569, 7, 4},
    {58, 16384, 14081, 2, 1},    {59, 16640, 16385, 9, 4},    {60, 17664, 16641, 7, 3},
    {61, 20480, 17665, 5, 2},    {62, 21248, 20481, 8, 3},    {63, 24576, 21249, 3, 1},
    {64, 24832, 24577, 10, 3},   {65, 28416, 24833, 7, 2},    {66, 32768, 28417, 4, 1},
};
#define NCLASSES ((int)(sizeof table / sizeof table[0]))

static void check_rup(uintptr_t in, uintptr_t want)
{
    uintptr_t got = runtime_roundupsize(in);
    CHECK(got == want, "roundupsize(%" PRIuPTR " = %#" PRIxPTR ") = %" PRIuPTR " (%#" PRIxPTR
          "), want %" PRIuPTR " (%#" PRIxPTR ")",
          in, in, got, got, want, want);
}

static void test_table_consistency(void)
{
    /* The embedded table must agree with itself and with testutil's copy. */
    CHECK(NCLASSES == 66, "table has %d classes", NCLASSES);
    for (int i = 0; i < NCLASSES; i++) {
        CHECK(table[i].cls == i + 1, "row %d", i);
        CHECK(table[i].size == tu_class_size[i + 1], "row %d size", i);
        CHECK(table[i].from == (i ? table[i - 1].size + 1 : 1), "row %d from", i);
        CHECK((uintptr_t)table[i].pages * 8192 / table[i].size == (uintptr_t)table[i].objects,
              "row %d objects", i);
    }
}

static void test_boundaries(void)
{
    for (int i = 0; i < NCLASSES; i++) {
        uintptr_t s = table[i].size, from = table[i].from;
        check_rup(s, s);
        check_rup(from, s);
        if (s - 1 >= from)
            check_rup(s - 1, s);
        if ((from + s) / 2 >= from)
            check_rup((from + s) / 2, s);
        if (i + 1 < NCLASSES)
            check_rup(s + 1, table[i + 1].size);
    }
    /* Exhaustive: every small request maps to the smallest class that holds it. */
    int cls = 0;
    unsigned long bad = 0;
    for (uintptr_t n = 1; n < 32768; n++) {
        while (table[cls].size < n)
            cls++;
        uintptr_t got = runtime_roundupsize(n);
        if (got != table[cls].size && bad++ < 10)
            CHECK(got == table[cls].size, "roundupsize(%" PRIuPTR ") = %" PRIuPTR ", want %" PRIuPTR,
                  n, got, table[cls].size);
    }
    CHECK(bad == 0, "%lu of the sizes 1..32767 rounded wrongly", bad);
    /* Size 0 lies in the first lookup bucket, which belongs to class 1 (section 12: each entry
     * is the smallest class whose size is >= the bucket's upper size). */
    check_rup(0, 8);
}

static void test_large_and_overflow(void)
{
    check_rup(32768, 32768);
    check_rup(32769, 40960);
    check_rup(33000, 40960);
    check_rup(1025, 1152);
    check_rup(40960, 40960);
    check_rup(40961, 49152);
    check_rup(65536, 65536);
    check_rup(65537, 73728);
    check_rup(1 << 20, 1 << 20);
    check_rup((1 << 20) + 1, (1 << 20) + 8192);
    check_rup((uintptr_t)1 << 40, (uintptr_t)1 << 40);
    check_rup(((uintptr_t)1 << 40) + 1, ((uintptr_t)1 << 40) + 8192);
    check_rup(((uintptr_t)1 << 62) - 1, (uintptr_t)1 << 62);
    /* The last value whose size+8192 does not overflow is rounded up to a page multiple. */
    check_rup(UINTPTR_MAX - 8192, UINTPTR_MAX & ~(uintptr_t)8191);
    check_rup(UINTPTR_MAX - 8192 - 100, UINTPTR_MAX & ~(uintptr_t)8191);
    check_rup((UINTPTR_MAX & ~(uintptr_t)8191) - 8192, (UINTPTR_MAX & ~(uintptr_t)8191) - 8192);
    /* size + 8192 overflows: returned unchanged. */
    for (uintptr_t d = 0; d < 8192; d += (d < 16 ? 1 : 509))
        check_rup(UINTPTR_MAX - d, UINTPTR_MAX - d);
    check_rup(UINTPTR_MAX - 8191, UINTPTR_MAX - 8191);
}

static void test_mallocgc_sizes(void)
{
    unsigned long bad = 0;
    /* Under efence=1 every request is a large object: its block is its pages (roundupsize
     * still answers with the size classes, as growslice needs). */
    const int efence = tu_godebug("efence") != 0;
    for (uintptr_t n = 1; n <= 32768; n++) {
        uintptr_t want = efence ? TU_ROUND_PAGE(n) : runtime_roundupsize(n);
        unsigned char *p = runtime_mallocgc(n, 0, 0);
        if (!p) {
            if (bad++ < 10)
                CHECK(p != NULL, "mallocgc(%" PRIuPTR ", 0, 0) returned NULL", n);
            continue;
        }
        uint8_t *base = NULL;
        uintptr_t size = 0;
        int32_t r = runtime_mlookup(p, &base, &size, NULL);
        int ok = r == 1 && base == p && size == want && ((uintptr_t)p & 7) == 0 && p[0] == 0 &&
                 p[n - 1] == 0;
        if (!ok && bad++ < 10)
            CHECK(ok,
                  "mallocgc(%" PRIuPTR ", 0, 0) = %p: mlookup returned %d base %p size %" PRIuPTR
                  " (want base = object, size = %" PRIuPTR "), first/last byte %d/%d",
                  n, (void *)p, (int)r, (void *)base, size, want, p[0], p[n - 1]);
        if (runtime_roundupsize(n) >= 16)
            __go_free(p);
        /* FlagNoScan small requests (< 16 bytes) go through the tiny allocator: just usable. */
        if (n < 16) {
            unsigned char *t = runtime_mallocgc(n, 0, FlagNoScan);
            CHECK(t != NULL, "tiny mallocgc(%" PRIuPTR ", 0, FlagNoScan) returned NULL", n);
            if (t)
                memset(t, 0x3c, n);
        }
    }
    CHECK(bad == 0, "%lu of the sizes 1..32768 got a wrong block", bad);
    /* A few large requests: the block size is the page-rounded request. */
    static const uintptr_t large[] = {32769, 33000, 40960, 40961, 100000, 1 << 20};
    for (size_t i = 0; i < sizeof large / sizeof large[0]; i++) {
        void *p = runtime_mallocgc(large[i], 0, 0);
        uintptr_t size = 0;
        uint8_t *base = NULL;
        CHECK(p && runtime_mlookup(p, &base, &size, NULL) == 1 && (void *)base == p &&
                  size == runtime_roundupsize(large[i]) && size == TU_ROUND_PAGE(large[i]),
              "large mallocgc(%" PRIuPTR ") = %p: base %p size %" PRIuPTR ", want %" PRIuPTR, large[i],
              p, (void *)base, size, (uintptr_t)TU_ROUND_PAGE(large[i]));
        if (p)
            __go_free(p);
    }
}

int main(void)
{
    printf("t_roundupsize\n");
    test_table_consistency();
    test_boundaries();
    test_large_and_overflow();
    test_mallocgc_sizes();
    return test_summary();
}
