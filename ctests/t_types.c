/*
 * t_types: per-object type words (libgo-abi.md 6.2, 11.6) and the typed allocation entry points
 * (section 4: runtime_cnew, runtime_cnewarray, runtime_new, __go_new).
 *
 *  - mallocgc(size, (uintptr)&desc | TypeInfo_SingleObject / _Array / _Chan, 0): runtime_gettype
 *    returns exactly that word, for the base and for interior pointers;
 *  - with FlagNoScan, with typ 0, and for non-heap pointers it returns 0;
 *  - more than 7 distinct types in one size class (forces the "Words" representation): every
 *    object's word, including those recorded before the conversion, stays readable;
 *  - large objects record their type word; a large span allocated again untyped reads 0;
 *  - cnew/cnewarray/new/__go_new allocate __size (* n) zeroed bytes and record the descriptor with
 *    the right TypeInfo kind; a GO_NO_POINTERS descriptor gives a noscan object (gettype 0).
 */
#include "testutil.h"
#include "gogc.h"

/* GC programs (section 8): [size, ops..., GC_END, 0]. */
#define NDESC 16
static uintptr_t progs[NDESC][6];
static GoType descs[NDESC] __attribute__((aligned(16)));
static uintptr_t noptr_prog[3];
static GoType noptr_desc __attribute__((aligned(16)));
static uintptr_t noptr8_prog[3];
static GoType noptr8_desc __attribute__((aligned(16))); /* 8 bytes, no pointers: tiny candidate */
static uintptr_t zero_prog[3];
static GoType zero_desc __attribute__((aligned(16))); /* struct{} */
static GoChanType chan_desc __attribute__((aligned(16)));
static GoString names[NDESC];

static void init_descs(void)
{
    for (int i = 0; i < NDESC; i++) {
        uintptr_t size = 16 + 16 * (uintptr_t)(i % 4); /* 16, 32, 48, 64 */
        progs[i][0] = size;
        progs[i][1] = GC_APTR;
        progs[i][2] = 8; /* one pointer at offset 8 */
        progs[i][3] = GC_END;
        progs[i][4] = 0;
        names[i].str = (const uint8_t *)"test.T";
        names[i].len = 6;
        descs[i].__code = GO_STRUCT;
        descs[i].__align = 8;
        descs[i].__field_align = 8;
        descs[i].__size = size;
        descs[i].__hash = 0x1000u + (uint32_t)i;
        descs[i].__gc = progs[i];
        descs[i].__reflection = &names[i];
    }
    noptr_prog[0] = 40;
    noptr_prog[1] = GC_END;
    noptr_desc.__code = GO_STRUCT | GO_NO_POINTERS;
    noptr_desc.__align = 8;
    noptr_desc.__field_align = 8;
    noptr_desc.__size = 40;
    noptr_desc.__gc = noptr_prog;
    noptr8_prog[0] = 8;
    noptr8_prog[1] = GC_END;
    noptr8_desc.__code = GO_INT64 | GO_NO_POINTERS;
    noptr8_desc.__align = 8;
    noptr8_desc.__field_align = 8;
    noptr8_desc.__size = 8;
    noptr8_desc.__gc = noptr8_prog;
    zero_prog[0] = 0;
    zero_prog[1] = GC_END;
    zero_desc.__code = GO_STRUCT | GO_NO_POINTERS;
    zero_desc.__align = 1;
    zero_desc.__field_align = 1;
    zero_desc.__size = 0;
    zero_desc.__gc = zero_prog;
    chan_desc.__common.__code = GO_CHAN;
    chan_desc.__common.__align = 8;
    chan_desc.__common.__field_align = 8;
    chan_desc.__common.__size = 8;
    chan_desc.__common.__gc = progs[0];
    chan_desc.__element_type = &descs[0];
    chan_desc.__dir = 3;
}

static uintptr_t word(const void *desc, uintptr_t kind)
{
    return (uintptr_t)desc | kind;
}

static void expect_type(void *p, uintptr_t want, const char *what)
{
    uintptr_t got = runtime_gettype(p);
    CHECK(got == want, "%s: gettype(%p) = %#" PRIxPTR ", want %#" PRIxPTR, what, p, got, want);
}

/* Base, interior and last byte of a block. For a large object the last byte that belongs to it
 * is the last requested byte: from its limit (start + requested size) on, the span does not
 * answer (section 6.7 / 11.6), so gettype reads 0 there. */
static void expect_type_block(unsigned char *p, uintptr_t req, uintptr_t want, const char *what)
{
    uint8_t *base = NULL;
    uintptr_t size = 0;
    CHECK(runtime_mlookup(p, &base, &size, NULL) == 1 && base == p, "%s: %p is not a block start", what,
          (void *)p);
    expect_type(p, want, what);
    char w2[128];
    snprintf(w2, sizeof w2, "%s (interior +%" PRIuPTR ")", what, req / 2 + 1);
    expect_type(p + req / 2 + 1, want, w2);
    snprintf(w2, sizeof w2, "%s (last requested byte)", what);
    expect_type(p + req - 1, want, w2);
    /* Under efence=1 every block is a large object (its pages), small requests included. */
    if (size <= 32768 && !tu_godebug("efence")) {
        snprintf(w2, sizeof w2, "%s (last byte of the block)", what);
        expect_type(p + size - 1, want, w2);
    } else if (size > req) {
        snprintf(w2, sizeof w2, "%s (at the large object's limit)", what);
        expect_type(p + req, 0, w2);
    }
}

static void test_basic_kinds(void)
{
    for (int i = 0; i < 4; i++) {
        GoType *t = &descs[i];
        uintptr_t ws = word(t, TypeInfo_SingleObject), wa = word(t, TypeInfo_Array);
        unsigned char *a = runtime_mallocgc(t->__size, ws, 0);
        unsigned char *b = runtime_mallocgc(t->__size * 5, wa, 0);
        unsigned char *c = runtime_mallocgc(t->__size, ws, FlagNoScan);
        unsigned char *d = runtime_mallocgc(t->__size, 0, 0);
        unsigned char *e = runtime_mallocgc(t->__size * 3, wa, FlagNoScan);
        CHECK(a && b && c && d && e, "allocation returned NULL");
        if (!(a && b && c && d && e))
            return;
        char what[96];
        snprintf(what, sizeof what, "SingleObject size %" PRIuPTR, t->__size);
        expect_type_block(a, t->__size, ws, what);
        snprintf(what, sizeof what, "Array of 5 x %" PRIuPTR, t->__size);
        expect_type_block(b, t->__size * 5, wa, what);
        expect_type_block(c, t->__size, 0, "typed but FlagNoScan");
        expect_type_block(d, t->__size, 0, "typ 0");
        expect_type_block(e, t->__size * 3, 0, "typed array but FlagNoScan");
        /* Recording must not disturb the contents, and objects stay zeroed. */
        CHECK(tu_first_nonzero(a, t->__size) < 0 && tu_first_nonzero(b, t->__size * 5) < 0,
              "typed objects not zeroed");
    }
    /* Channel: an Hchan (88 bytes) followed by a buffer of 4 elements. */
    uintptr_t wc = word(&chan_desc, TypeInfo_Chan);
    unsigned char *ch = runtime_mallocgc(88 + 4 * descs[0].__size, wc, 0);
    CHECK(ch != NULL, "channel allocation returned NULL");
    if (ch)
        expect_type_block(ch, 88 + 4 * descs[0].__size, wc, "TypeInfo_Chan");
    /* Non-heap pointers. */
    int local = 0;
    expect_type(&local, 0, "stack pointer");
    expect_type(&descs[0], 0, "global");
    expect_type(NULL, 0, "NULL");
}

/* More than 7 distinct types among the objects of one span. `flag` is added to every
 * allocation: FlagNoInvokeGC takes mallocgc's general path, 0 its fast path (which records
 * an object of the span's first type in the heap bitmap only), with collections off. */
static void test_many_types_one_class(uint32_t flag)
{
    /* Class 14 (208 bytes, 39 objects per span): allocate a batch that spans at least one full
     * span, cycling through all 16 descriptors plus untyped and noscan objects. FlagNoInvokeGC:
     * a collection in the middle would flush the cache and scatter the batch over spans. */
    enum { N = 160 };
    const uintptr_t size = 208;
    unsigned char *objs[N];
    uintptr_t want[N];
    for (int i = 0; i < N; i++) {
        int sel = i % (NDESC + 2);
        if (sel < NDESC) {
            want[i] = word(&descs[sel], (i / (NDESC + 2)) & 1 ? TypeInfo_Array : TypeInfo_SingleObject);
            objs[i] = runtime_mallocgc(size, want[i], flag);
        } else if (sel == NDESC) {
            want[i] = 0;
            objs[i] = runtime_mallocgc(size, 0, flag);
        } else {
            want[i] = 0;
            objs[i] = runtime_mallocgc(size, word(&descs[0], 0), FlagNoScan | flag);
        }
        CHECK(objs[i] != NULL, "allocation %d returned NULL", i);
        if (!objs[i])
            return;
        /* Read back immediately and re-read every earlier object: the 8th distinct type
         * converts the span's table, and nothing recorded before may be lost. */
        for (int k = 0; k <= i; k++) {
            uintptr_t got = runtime_gettype(objs[k] + (k % 2 ? 100 : 0));
            if (got != want[k]) {
                CHECK(got == want[k],
                      "after allocating object %d: object %d (%p) reads type %#" PRIxPTR ", want %#" PRIxPTR,
                      i, k, (void *)objs[k], got, want[k]);
                break;
            }
        }
    }
    /* The most distinct type words any one span got: it must exceed 7, or the test did not
     * exercise the conversion it is about. */
    int nseen = 0, in_span = 0;
    for (int j = 0; j < N; j++) {
        MSpan *spj = NULL;
        runtime_mlookup(objs[j], NULL, NULL, &spj);
        uintptr_t seen[NDESC * 2];
        int ns = 0, typed = 0;
        for (int i = 0; i < N; i++) {
            MSpan *sp = NULL;
            runtime_mlookup(objs[i], NULL, NULL, &sp);
            if (sp != spj || !want[i])
                continue;
            typed++;
            int dup = 0;
            for (int k = 0; k < ns; k++)
                dup |= seen[k] == want[i];
            if (!dup && ns < NDESC * 2)
                seen[ns++] = want[i];
        }
        if (ns > nseen) {
            nseen = ns;
            in_span = typed;
        }
    }
    printf("many types (flag %#x): at most %d distinct type words (%d typed objects) in one span\n", (unsigned)flag, nseen, in_span);
    if (tu_godebug("efence")) /* one object per span */
        CHECK(nseen <= 1, "efence: %d distinct types in one span, want at most 1", nseen);
    else
        CHECK(nseen > 7, "the test did not get more than 7 types into one span (%d)", nseen);

    /* Free some and re-allocate them with other types: the new word wins. */
    for (int i = 0; i < N; i += 3) {
        __go_free(objs[i]);
        uintptr_t w = word(&descs[(i + 5) % NDESC], TypeInfo_Array);
        unsigned char *p = runtime_mallocgc(size, w, 0);
        CHECK(p != NULL, "re-allocation returned NULL");
        if (!p)
            continue;
        expect_type_block(p, size, w, "re-allocated typed object");
        CHECK(tu_first_nonzero(p, size) < 0, "re-allocated object not zeroed");
        /* It may reuse objs[i]'s slot, but never a block that is still live. */
        for (int k = 0; k < N; k++)
            if (k != i && objs[k] == p) {
                CHECK(objs[k] != p, "mallocgc returned %p, which is live object %d", (void *)p, k);
                objs[k] = NULL;
            }
        objs[i] = p;
        want[i] = w;
    }
    for (int i = 0; i < N; i++)
        if (objs[i])
            expect_type(objs[i] + size - 1, want[i], "after re-allocations");
}

/* Objects of a span's first (primary) type allocated through mallocgc's fast path carry
 * their type in the heap bitmap only; when an eighth distinct type converts the span's table
 * to one word per object, they must keep reading their type. Collections are off, so the
 * thread cache keeps one span of the class; size 176 is used by no other test here. */
static void test_primary_then_conversion(void)
{
    enum { NA = 10, NB = 9 };
    const uintptr_t size = 176;
    unsigned char *a[NA], *b[NB];
    uintptr_t wa = word(&descs[0], TypeInfo_SingleObject);
    int32_t pct = runtime_setgcpercent(-1);
    for (int i = 0; i < NA; i++)
        a[i] = runtime_mallocgc(size, wa, 0);
    for (int i = 0; i < NB; i++)
        b[i] = runtime_mallocgc(size, word(&descs[1 + i], TypeInfo_Array), 0);
    MSpan *s0 = NULL, *s = NULL;
    runtime_mlookup(a[0], NULL, NULL, &s0);
    int same = 1;
    for (int i = 0; i < NA; i++)
        same &= runtime_mlookup(a[i], NULL, NULL, &s) == 1 && s == s0;
    for (int i = 0; i < NB; i++)
        same &= runtime_mlookup(b[i], NULL, NULL, &s) == 1 && s == s0;
    /* Under efence=1 each object is a span of its own: no table to convert, the types must
     * still read back. */
    CHECK(same || tu_godebug("efence"), "the %d objects did not all come from one span", NA + NB);
    for (int i = 0; i < NA; i++)
        expect_type_block(a[i], size, wa, "primary-type object after the table conversion");
    for (int i = 0; i < NB; i++)
        expect_type_block(b[i], size, word(&descs[1 + i], TypeInfo_Array), "eighth-or-later type");
    runtime_setgcpercent(pct);
}

static void test_large_types(void)
{
    uintptr_t w = word(&descs[1], TypeInfo_Array);
    unsigned char *p = runtime_mallocgc(100000, w, 0);
    CHECK(p != NULL, "large typed allocation returned NULL");
    if (!p)
        return;
    expect_type_block(p, 100000, w, "large Array");
    expect_type(p + 99999, w, "large Array, last requested byte");
    unsigned char *q = runtime_mallocgc(40000, word(&descs[2], TypeInfo_SingleObject), 0);
    CHECK(q != NULL, "large typed allocation returned NULL");
    if (q)
        expect_type_block(q, 40000, word(&descs[2], TypeInfo_SingleObject), "large SingleObject");
    unsigned char *r = runtime_mallocgc(50000, w, FlagNoScan);
    CHECK(r != NULL, "large noscan allocation returned NULL");
    if (r)
        expect_type_block(r, 50000, 0, "large typed but FlagNoScan");
    /* Free the typed large object and allocate the same size untyped: whatever span it gets, the
     * type record must be reset. Repeat to make reuse of the very same span likely. */
    __go_free(p);
    for (int i = 0; i < 4; i++) {
        unsigned char *u = runtime_mallocgc(100000, 0, 0);
        CHECK(u != NULL, "large untyped allocation returned NULL");
        if (!u)
            continue;
        if (u == p)
            printf("large span reused (round %d)\n", i);
        expect_type_block(u, 100000, 0, "untyped large object (possibly in a span that was typed)");
        __go_free(u);
        unsigned char *t = runtime_mallocgc(100000, w, 0);
        CHECK(t != NULL, "large typed allocation returned NULL");
        if (t) {
            expect_type_block(t, 100000, w, "typed large object again");
            __go_free(t);
        }
    }
}

static void check_new_block(void *v, uintptr_t want_size, uintptr_t want_type, const char *what)
{
    unsigned char *p = v;
    CHECK(p != NULL, "%s returned NULL", what);
    if (!p)
        return;
    uint8_t *base = NULL;
    uintptr_t size = 0;
    uintptr_t want_block = tu_godebug("efence") ? TU_ROUND_PAGE(want_size) : runtime_roundupsize(want_size);
    CHECK(runtime_mlookup(p, &base, &size, NULL) == 1 && base == p && size >= want_size && size == want_block,
          "%s = %p: mlookup base %p size %" PRIuPTR ", want a block of %" PRIuPTR " bytes for %" PRIuPTR,
          what, (void *)p, (void *)base, size, want_block, want_size);
    long nz = tu_first_nonzero(p, want_size);
    CHECK(nz < 0, "%s: byte %ld not zero", what, nz);
    expect_type(p, want_type, what);
    expect_type(p + want_size - 1, want_type, what);
}

/* Dirty a few blocks of `size` and free them, so the next allocations reuse dirty memory. */
static void dirty(uintptr_t size)
{
    void *b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = runtime_mallocgc(size, 0, 0);
        if (b[i])
            memset(b[i], 0xdb, size);
    }
    for (int i = 0; i < 8; i++)
        if (b[i] && runtime_roundupsize(size) >= 16)
            __go_free(b[i]);
}

static void test_entry_points(void)
{
    for (int i = 0; i < 4; i++) {
        GoType *t = &descs[i];
        char what[96];
        dirty(t->__size);
        snprintf(what, sizeof what, "runtime_cnew(size %" PRIuPTR ")", t->__size);
        check_new_block(runtime_cnew(t), t->__size, word(t, TypeInfo_SingleObject), what);
        snprintf(what, sizeof what, "runtime_new(size %" PRIuPTR ")", t->__size);
        check_new_block(runtime_new(t), t->__size, word(t, TypeInfo_SingleObject), what);
        snprintf(what, sizeof what, "__go_new(size %" PRIuPTR ")", t->__size);
        check_new_block(__go_new(t, t->__size), t->__size, word(t, TypeInfo_SingleObject), what);
        for (intptr_t n = 1; n <= 300; n = n * 3 + 1) {
            dirty(t->__size * (uintptr_t)n);
            snprintf(what, sizeof what, "runtime_cnewarray(size %" PRIuPTR ", %ld)", t->__size, (long)n);
            check_new_block(runtime_cnewarray(t, n), t->__size * (uintptr_t)n, word(t, TypeInfo_Array),
                            what);
        }
        /* Large array via cnewarray. */
        intptr_t big = (intptr_t)(70000 / t->__size) + 1;
        snprintf(what, sizeof what, "runtime_cnewarray(size %" PRIuPTR ", %ld) (large)", t->__size,
                 (long)big);
        check_new_block(runtime_cnewarray(t, big), t->__size * (uintptr_t)big, word(t, TypeInfo_Array),
                        what);
    }
    /* NO_POINTERS: noscan, no type recorded. 40 bytes: not tiny, a real class-4 block. */
    dirty(40);
    check_new_block(runtime_cnew(&noptr_desc), 40, 0, "runtime_cnew(NO_POINTERS)");
    check_new_block(runtime_new(&noptr_desc), 40, 0, "runtime_new(NO_POINTERS)");
    check_new_block(__go_new(&noptr_desc, 40), 40, 0, "__go_new(NO_POINTERS)");
    check_new_block(runtime_cnewarray(&noptr_desc, 7), 280, 0, "runtime_cnewarray(NO_POINTERS, 7)");
    check_new_block(runtime_cnewarray(&noptr_desc, 2000), 80000, 0,
                    "runtime_cnewarray(NO_POINTERS, 2000) (large)");
    /* __go_new with a size other than the descriptor's (the compiler passes the size). */
    check_new_block(__go_new(&descs[3], 200), 200, word(&descs[3], TypeInfo_SingleObject),
                    "__go_new(desc, 200)");
    /* 8-byte NO_POINTERS values go through the tiny allocator: zeroed, untyped. */
    for (int i = 0; i < 50; i++) {
        unsigned char *p = runtime_cnew(&noptr8_desc);
        CHECK(p != NULL && tu_first_nonzero(p, 8) < 0 && runtime_gettype(p) == 0,
              "runtime_cnew(8-byte NO_POINTERS) = %p", (void *)p);
        if (p)
            memset(p, 0xee, 8);
        unsigned char *q = runtime_cnewarray(&noptr8_desc, 1);
        CHECK(q != NULL && tu_first_nonzero(q, 8) < 0 && runtime_gettype(q) == 0 && q != p,
              "runtime_cnewarray(8-byte NO_POINTERS, 1) = %p", (void *)q);
        if (q)
            memset(q, 0xee, 8);
    }
    /* Zero-size values. */
    CHECK(runtime_cnewarray(&descs[0], 0) == (void *)&runtime_zerobase,
          "runtime_cnewarray(t, 0) is not &runtime_zerobase");
    CHECK(runtime_cnew(&zero_desc) == (void *)&runtime_zerobase, "runtime_cnew(struct{}) is not &runtime_zerobase");
    CHECK(runtime_cnewarray(&zero_desc, 1000) == (void *)&runtime_zerobase,
          "runtime_cnewarray(struct{}, 1000) is not &runtime_zerobase");
    CHECK((void *)runtime_new(&zero_desc) == (void *)&runtime_zerobase,
          "runtime_new(struct{}) is not &runtime_zerobase");
    CHECK(__go_new(&zero_desc, 0) == (void *)&runtime_zerobase, "__go_new(t, 0) is not &runtime_zerobase");
}

int main(void)
{
    printf("t_types\n");
    init_descs();
    test_basic_kinds();
    test_many_types_one_class(FlagNoInvokeGC);
    int32_t pct = runtime_setgcpercent(-1);
    test_many_types_one_class(0);
    runtime_setgcpercent(pct);
    test_primary_then_conversion();
    test_large_types();
    test_entry_points();
    return test_summary();
}
