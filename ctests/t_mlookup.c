/*
 * t_mlookup: runtime_mlookup (libgo-abi.md 6.7) on base and interior pointers of small and large
 * blocks, on the limit of a large object (its requested end), on freed large objects and on
 * pointers that are not in the heap (stack, globals, rodata, libc malloc, code); every out-param
 * may be NULL.
 */
#include "testutil.h"
#include "gogc.h"

static int global_int = 42;
static char global_bss[4096];
static const char rodata[] = "not in the heap";

#define JUNK_BASE ((uint8_t *)(uintptr_t)0x5a5a5a5a)
#define JUNK_SIZE ((uintptr_t)0xa5a5a5a5)
#define JUNK_SPAN ((MSpan *)(uintptr_t)0x77777777)

/* Look up v, expecting success with the given base and size. Returns the span. */
static MSpan *expect_found(void *v, void *base_want, uintptr_t size_want, const char *what)
{
    uint8_t *base = JUNK_BASE;
    uintptr_t size = JUNK_SIZE;
    MSpan *sp = JUNK_SPAN;
    int32_t r = runtime_mlookup(v, &base, &size, &sp);
    CHECK(r == 1 && (void *)base == base_want && size == size_want && sp != NULL && sp != JUNK_SPAN,
          "%s: mlookup(%p) = %d base %p size %" PRIuPTR " span %p; want 1 base %p size %" PRIuPTR,
          what, v, (int)r, (void *)base, size, (void *)sp, base_want, size_want);
    /* The same answer with NULL out-params, one at a time and all together. */
    uint8_t *b2 = JUNK_BASE;
    uintptr_t s2 = JUNK_SIZE;
    MSpan *sp2 = JUNK_SPAN;
    CHECK(runtime_mlookup(v, NULL, NULL, NULL) == 1, "%s: mlookup(%p, NULL, NULL, NULL) != 1", what, v);
    CHECK(runtime_mlookup(v, &b2, NULL, NULL) == 1 && b2 == base, "%s: base-only lookup gave %p",
          what, (void *)b2);
    CHECK(runtime_mlookup(v, NULL, &s2, NULL) == 1 && s2 == size, "%s: size-only lookup gave %" PRIuPTR,
          what, s2);
    CHECK(runtime_mlookup(v, NULL, NULL, &sp2) == 1 && sp2 == sp, "%s: span-only lookup gave %p",
          what, (void *)sp2);
    return sp;
}

static void expect_not_found(void *v, const char *what)
{
    uint8_t *base = JUNK_BASE;
    uintptr_t size = JUNK_SIZE;
    MSpan *sp = JUNK_SPAN;
    int32_t r = runtime_mlookup(v, &base, &size, &sp);
    CHECK(r == 0 && base == NULL && size == 0,
          "%s: mlookup(%p) = %d base %p size %" PRIuPTR "; want 0, base NULL, size 0", what, v, (int)r,
          (void *)base, size);
    CHECK(runtime_mlookup(v, NULL, NULL, NULL) == 0, "%s: mlookup(%p, NULL, NULL, NULL) != 0", what, v);
}

/* Under efence=1 every request, however small, is a large object with pages of its own: mlookup
 * reports the page-rounded size, and the object ends at its requested size, as large ones do. */
static void test_small_efence(void)
{
    for (int c = 1; c < 67; c++) {
        uintptr_t req = c > 1 ? tu_class_size[c - 1] + 1 : 5;
        for (int k = 0; k < 4; k++) {
            unsigned char *p = runtime_mallocgc(k == 3 ? 1 + (uintptr_t)c % 15 : req, 0, k & 1 ? FlagNoScan : 0);
            uintptr_t n = k == 3 ? 1 + (uintptr_t)c % 15 : req;
            CHECK(p != NULL && ((uintptr_t)p & (TU_PAGE - 1)) == 0,
                  "efence: mallocgc(%" PRIuPTR ") = %p, want a page-aligned block", n, (void *)p);
            if (!p)
                continue;
            char what[96];
            snprintf(what, sizeof what, "efence: %" PRIuPTR "-byte request, first byte", n);
            MSpan *sp = expect_found(p, p, TU_ROUND_PAGE(n), what);
            snprintf(what, sizeof what, "efence: %" PRIuPTR "-byte request, last byte", n);
            CHECK(expect_found(p + n - 1, p, TU_ROUND_PAGE(n), what) == sp, "%s: different span", what);
            snprintf(what, sizeof what, "efence: %" PRIuPTR "-byte request, its limit", n);
            expect_not_found(p + n, what);
        }
    }
}

static void test_small(void)
{
    if (tu_godebug("efence")) {
        test_small_efence();
        return;
    }
    for (int c = 1; c < 67; c++) {
        uintptr_t s = tu_class_size[c];
        /* Request a size inside the class, not necessarily the class size. */
        uintptr_t req = c > 1 ? tu_class_size[c - 1] + 1 : 5;
        unsigned char *objs[8];
        for (int k = 0; k < 8; k++) {
            unsigned char *p = runtime_mallocgc(req, 0, k & 1 ? FlagNoScan : 0);
            objs[k] = p;
            CHECK(p != NULL, "mallocgc(%" PRIuPTR ") returned NULL", req);
            if (!p || (k & 1 && req < 16))
                continue; /* tiny-allocated: not a block start */
            char what[96];
            snprintf(what, sizeof what, "class %d (%" PRIuPTR "), req %" PRIuPTR " first byte", c, s, req);
            MSpan *sp = expect_found(p, p, s, what);
            snprintf(what, sizeof what, "class %d middle byte", c);
            CHECK(expect_found(p + s / 2, p, s, what) == sp, "%s: different span", what);
            snprintf(what, sizeof what, "class %d last requested byte", c);
            CHECK(expect_found(p + req - 1, p, s, what) == sp, "%s: different span", what);
            snprintf(what, sizeof what, "class %d last byte of block", c);
            CHECK(expect_found(p + s - 1, p, s, what) == sp, "%s: different span", what);
            /* Unaligned interior pointers too. */
            if (s > 3) {
                snprintf(what, sizeof what, "class %d byte 3", c);
                expect_found(p + 3, p, s, what);
            }
        }
        /* Two consecutive objects that happen to be adjacent: p+s belongs to the second one. */
        for (int k = 0; k + 2 < 8; k += 2)
            if (objs[k] && objs[k + 2] && objs[k + 2] == objs[k] + s) {
                char what[64];
                snprintf(what, sizeof what, "class %d: one past the block", c);
                expect_found(objs[k] + s, objs[k + 2], s, what);
            }
    }
    /* Tiny objects: the block is the 16-byte class-2 block that contains them. */
    for (int i = 0; i < 64; i++) {
        uintptr_t n = 1 + (uintptr_t)i % 15;
        unsigned char *p = runtime_mallocgc(n, 0, FlagNoScan);
        CHECK(p != NULL, "tiny mallocgc(%" PRIuPTR ") returned NULL", n);
        if (!p)
            continue;
        uint8_t *base = NULL;
        uintptr_t size = 0;
        CHECK(runtime_mlookup(p, &base, &size, NULL) == 1 && size == 16 && base <= p &&
                  p + n <= base + 16 && ((uintptr_t)base & 15) == 0,
              "tiny %" PRIuPTR "-byte object %p: base %p size %" PRIuPTR, n, (void *)p, (void *)base, size);
    }
}

static void test_large(void)
{
    static const uintptr_t sizes[] = {32769, 40000, 40960, 49153, 100000, 1 << 20, (1 << 20) + 123,
                                      5 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uintptr_t n = sizes[i], pages = TU_ROUND_PAGE(n);
        for (int mode = 0; mode < 2; mode++) {
            unsigned char *p = mode ? __go_alloc(n) : runtime_mallocgc(n, 0, FlagNoScan);
            CHECK(p != NULL, "large allocation of %" PRIuPTR " returned NULL", n);
            if (!p)
                continue;
            CHECK(((uintptr_t)p & (TU_PAGE - 1)) == 0, "large object %p is not page aligned", (void *)p);
            char what[96];
            snprintf(what, sizeof what, "large %" PRIuPTR ": first byte", n);
            MSpan *sp = expect_found(p, p, pages, what);
            snprintf(what, sizeof what, "large %" PRIuPTR ": middle", n);
            CHECK(expect_found(p + n / 2, p, pages, what) == sp, "%s: other span", what);
            snprintf(what, sizeof what, "large %" PRIuPTR ": page 1 byte 1", n);
            CHECK(expect_found(p + TU_PAGE + 1, p, pages, what) == sp, "%s: other span", what);
            snprintf(what, sizeof what, "large %" PRIuPTR ": last requested byte", n);
            CHECK(expect_found(p + n - 1, p, pages, what) == sp, "%s: other span", what);
            if (n < pages) {
                /* At and past the limit (start + requested size), inside the span's last page. */
                snprintf(what, sizeof what, "large %" PRIuPTR ": limit (p + %" PRIuPTR ")", n, n);
                expect_not_found(p + n, what);
                snprintf(what, sizeof what, "large %" PRIuPTR ": last byte of last page", n);
                expect_not_found(p + pages - 1, what);
            }
            __go_free(p);
            /* Freed: the span is no longer in use. */
            snprintf(what, sizeof what, "freed large %" PRIuPTR, n);
            expect_not_found(p, what);
            expect_not_found(p + n / 2, what);
        }
    }
}

static void test_not_heap(void)
{
    int local = 1;
    char stackbuf[256];
    memset(stackbuf, 0, sizeof stackbuf);
    expect_not_found(&local, "stack variable");
    expect_not_found(stackbuf + 100, "stack buffer");
    expect_not_found(&global_int, "initialised global");
    expect_not_found(global_bss + 2048, "bss global");
    expect_not_found((void *)rodata, "rodata string");
    expect_not_found((void *)(uintptr_t)&test_not_heap, "code address");
    expect_not_found(NULL, "NULL");
    expect_not_found((void *)(uintptr_t)8, "tiny address 8");
    expect_not_found((void *)(UINTPTR_MAX - 7), "address near UINTPTR_MAX");
    expect_not_found((void *)((uintptr_t)1 << 47), "address 1<<47");
    void *m = malloc(100);
    void *big = malloc(1 << 20);
    expect_not_found(m, "libc malloc(100)");
    expect_not_found(big, "libc malloc(1 MiB)");
    free(m);
    free(big);
    uint64_t stat = 0;
    void *sys = runtime_SysAlloc(1 << 16, &stat);
    if (sys) {
        expect_not_found(sys, "runtime_SysAlloc memory");
        runtime_SysFree(sys, 1 << 16, &stat);
    }
    void *pa = runtime_persistentalloc(128, 0, NULL);
    if (pa)
        expect_not_found(pa, "runtime_persistentalloc memory");
    expect_not_found(&runtime_zerobase, "&runtime_zerobase");
}

int main(void)
{
    printf("t_mlookup\n");
    /* Before anything was allocated: the heap may not even exist yet. */
    int early = 0;
    expect_not_found(&early, "stack variable before the first allocation");
    expect_not_found(&global_int, "global before the first allocation");
    test_small();
    test_large();
    test_not_heap();
    return test_summary();
}
