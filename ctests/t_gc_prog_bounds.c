/*
 * t_gc_prog_bounds: malformed GC programs that used to hang the collector (found by
 * fuzz/gcprog.c) now end in "fatal error: scanblock: invalid GC instruction" (SIGABRT), and a
 * GC_REGION whose program does not describe all of its data is rescanned once, conservatively,
 * instead of re-queueing itself forever. Rules: src/gc/gcprog.rs (module comment).
 *   - GC_ARRAY_NEXT at the top level of an Array-kind object (was: endless loop);
 *   - GC_ARRAY_START with 2^40 elements of 8 bytes in a 64-byte type (was: 2^40 iterations);
 *   - GC_ARRAY_START with element size 0 and a huge count;
 *   - GC_END inside an array body, GC_ARRAY_NEXT inside a GC_CALL subroutine;
 *   - a region [b, b+64) whose 8-byte program leaves data in its tail (was: endless rescans);
 *     the object behind a pointer in that tail survives;
 *   - a region whose program is its own type's, queueing the same range again (was: endless
 *     work), and two overlapping regions in one program (fan-out for exponential work).
 *   - an Array-kind object whose 296-byte element program has a pointer at offset -8 (the last
 *     word of the element before): the object behind it survives (the mark's mask compiler let
 *     the offset wrap past its bound check and scanned mask bit 63 instead; found by
 *     fuzz/gcprog.c).
 * Control: nested arrays and a call at the frame limit scan their pointers (objects survive),
 * and so do disjoint regions holding smaller regions.
 */
#include "testutil.h"
#include "t_gc_util.h"

static void *root_slot[2];
static struct {
    struct root_list *next;
    struct root_entry roots[2];
} rl = {NULL, {{root_slot, sizeof root_slot}, {NULL, 0}}};

static uintptr_t next_top[] = {16, GC_APTR, 0, GC_ARRAY_NEXT, GC_END, 0};
static uintptr_t huge_count[] = {64, GC_ARRAY_START, 0, (uintptr_t)1 << 40, 8, GC_APTR, 0, GC_ARRAY_NEXT, GC_END, 0};
static uintptr_t zero_esize[] = {64, GC_ARRAY_START, 0, (uintptr_t)1 << 50, 0, GC_APTR, 0, GC_ARRAY_NEXT, GC_END, 0};
static uintptr_t end_in_array[] = {64, GC_ARRAY_START, 0, 2, 8, GC_APTR, 0, GC_END, 0};
/* CALL to word 5 (byte offset 32 from the opcode at word 1); the subroutine ends in NEXT. */
static uintptr_t next_in_call[] = {64, GC_CALL, 0, 32, GC_END, GC_APTR, 0, GC_ARRAY_NEXT, GC_END, 0};
static uintptr_t region_sub[] = {8, GC_END, 0};
static uintptr_t region_prog[] = {64, GC_REGION, 0, 64, 0 /* region_sub */, GC_END, 0};
/* A region of the whole object whose program is the object's own. */
static uintptr_t self_region[] = {64, GC_REGION, 0, 64, 0 /* self_region */, GC_END, 0};
static uintptr_t overlap_region[] = {64, GC_REGION, 0, 32, 0 /* region_sub */, GC_REGION, 16, 32, 0, GC_END, 0};
/* Two disjoint 32-byte regions, each holding a 16-byte region at +8 with two pointers: words
 * 1, 2, 5 and 6. */
static uintptr_t leaf2[] = {16, GC_APTR, 0, GC_APTR, 8, GC_END, 0};
static uintptr_t half_region[] = {32, GC_REGION, 8, 16, 0 /* leaf2 */, GC_END, 0};
static uintptr_t nested_regions[] = {64, GC_REGION, 0, 32, 0 /* half_region */, GC_REGION, 32, 32, 0, GC_END, 0};
static uintptr_t neg_off[] = {296, GC_APTR, (uintptr_t)-8, GC_END, 0};
/* [2][2]struct{p *T; x int} at offset 0, then a call (to word 12) of a subroutine for word 7. */
static uintptr_t good_prog[] = {64, GC_ARRAY_START, 0, 2, 32, GC_ARRAY_START, 0, 2, 16, GC_APTR, 0,
                                GC_ARRAY_NEXT, GC_ARRAY_NEXT, GC_CALL, 56, 32, GC_END, GC_APTR, 0, GC_END, 0};

static GoType t_next_top, t_huge, t_zero, t_end_arr, t_next_call, t_region, t_good, t_self_region, t_overlap,
    t_nested, t_neg_off;

static int finalized;
static void on_final(void *obj, void *arg)
{
    (void)obj;
    (void)arg;
    finalized++;
}

static void *typed(const GoType *t, uintptr_t kind, uintptr_t size)
{
    return runtime_mallocgc(size, (uintptr_t)t | kind, 0);
}

static void fatal_case(void *arg)
{
    const GoType *t = arg;
    uintptr_t *o = typed(t, t == &t_next_top ? TypeInfo_Array : TypeInfo_SingleObject,
                         t == &t_next_top ? 64 : t->__size);
    o[0] = (uintptr_t)runtime_mal(64);
    root_slot[0] = o;
    runtime_GC();
}

/* Fills word `w` of a fresh object with a pointer to a finalizer-watched block, collects twice
 * and exits 0 if that block survived, 3 if it was collected. */
static void survives(const GoType *t, const int *words, int nwords)
{
    uintptr_t *o = typed(t, TypeInfo_SingleObject, t->__size);
    for (int i = 0; i < 8; i++)
        o[i] = 1;
    for (int i = 0; i < nwords; i++) {
        void *x = runtime_mallocgc(32, 0, FlagNoScan);
        if (gogc_set_finalizer(x, on_final, NULL) != 0)
            _exit(4);
        o[words[i]] = (uintptr_t)x;
    }
    root_slot[0] = o;
    o = NULL;
    gc_full();
    gogc_run_finalizers();
    gc_full();
    gogc_run_finalizers();
    _exit(finalized ? 3 : 0);
}

static void region_case(void *arg)
{
    (void)arg;
    static const int words[] = {0, 3, 7}; /* 1..7 lie past the region program's 8 bytes */
    survives(&t_region, words, 3);
}

static void good_case(void *arg)
{
    (void)arg;
    static const int words[] = {0, 2, 4, 6, 7};
    survives(&t_good, words, 5);
}

static void nested_case(void *arg)
{
    (void)arg;
    static const int words[] = {1, 2, 5, 6};
    survives(&t_nested, words, 4);
}

/* Two 296-byte elements in an Array-kind object: element 1's slot at -8 is word 36. The
 * watched block is made in a frame of its own, so no register or stack slot keeps it. */
static __attribute__((noinline)) void neg_off_fill(void)
{
    uintptr_t *o = typed(&t_neg_off, TypeInfo_Array, 2 * 296);
    for (int i = 0; i < 74; i++)
        o[i] = 1;
    void *x = runtime_mallocgc(32, 0, FlagNoScan);
    if (gogc_set_finalizer(x, on_final, NULL) != 0)
        _exit(4);
    o[36] = (uintptr_t)x;
    root_slot[0] = o;
}

static void neg_off_case(void *arg)
{
    (void)arg;
    neg_off_fill();
    gc_full();
    gogc_run_finalizers();
    gc_full();
    gogc_run_finalizers();
    _exit(finalized ? 3 : 0);
}

int main(void)
{
    region_prog[4] = (uintptr_t)region_sub;
    self_region[4] = (uintptr_t)self_region;
    overlap_region[4] = overlap_region[8] = (uintptr_t)region_sub;
    half_region[4] = (uintptr_t)leaf2;
    nested_regions[4] = nested_regions[8] = (uintptr_t)half_region;
    gc_init_type(&t_self_region, GO_STRUCT, 64, self_region);
    gc_init_type(&t_overlap, GO_STRUCT, 64, overlap_region);
    gc_init_type(&t_nested, GO_STRUCT, 64, nested_regions);
    gc_init_type(&t_neg_off, GO_STRUCT, 296, neg_off);
    gc_init_type(&t_next_top, GO_STRUCT, 16, next_top);
    gc_init_type(&t_huge, GO_STRUCT, 64, huge_count);
    gc_init_type(&t_zero, GO_STRUCT, 64, zero_esize);
    gc_init_type(&t_end_arr, GO_STRUCT, 64, end_in_array);
    gc_init_type(&t_next_call, GO_STRUCT, 64, next_in_call);
    gc_init_type(&t_region, GO_STRUCT, 64, region_prog);
    gc_init_type(&t_good, GO_STRUCT, 64, good_prog);
    __go_register_gc_roots((struct root_list *)&rl);

    static const struct {
        const char *label;
        GoType *t;
    } fatal[] = {
        {"GC_ARRAY_NEXT at the top level of an Array-kind object", &t_next_top},
        {"GC_ARRAY_START of 2^40 elements in a 64-byte type", &t_huge},
        {"GC_ARRAY_START with element size 0", &t_zero},
        {"GC_END inside an array body", &t_end_arr},
        {"GC_ARRAY_NEXT inside a GC_CALL subroutine", &t_next_call},
        {"GC_REGION of the whole object with the object's own program", &t_self_region},
        {"two overlapping GC_REGIONs", &t_overlap},
    };
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) {
        tu_fatal_label = fatal[i].label;
        expect_fatal_timeout(fatal_case, fatal[i].t, "fatal error: scanblock: invalid GC instruction\n",
                             EXPECT_SIGNAL(SIGABRT), 20);
        CHECK(strstr(tu_child_stderr, "runtime: invalid GC instruction 0x") != NULL,
              "%s: stderr lacks the instruction line:\n%s", fatal[i].label, tu_child_stderr);
    }
    tu_fatal_label = "region whose program leaves data in its tail: rescanned once, conservatively";
    expect_fatal_timeout(region_case, NULL, NULL, EXPECT_EXIT(0), 20);
    tu_fatal_label = "control: nested arrays and a call keep their pointees";
    expect_fatal_timeout(good_case, NULL, NULL, EXPECT_EXIT(0), 20);
    tu_fatal_label = "pointer slot at offset -8 of an array element";
    expect_fatal_timeout(neg_off_case, NULL, NULL, EXPECT_EXIT(0), 20);
    tu_fatal_label = "control: disjoint regions holding smaller regions keep their pointees";
    expect_fatal_timeout(nested_case, NULL, NULL, EXPECT_EXIT(0), 20);
    return test_summary();
}
