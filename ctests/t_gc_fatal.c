/*
 * t_gc_fatal: malformed GC programs are fatal (libgo-abi.md 8.4, 17): a typed object whose
 * program holds an unknown opcode, reachable when the collector runs, makes runtime_GC() die with
 * "fatal error: scanblock: invalid GC instruction" (SIGABRT) after printing
 * "runtime: invalid GC instruction". Variants: opcode 99 at the top level of an object found
 * through a registered root; opcode 0x1000 inside a GC_ARRAY_START loop; an unknown opcode in
 * the program that a GC_PTR instruction names for its pointee; an object found only through the
 * stack of the collecting thread. Control: the same objects with valid programs collect fine.
 */
#include "testutil.h"
#include "t_gc_util.h"

static void *root_slot[4];
static struct {
    struct root_list *next;
    struct root_entry roots[2];
} rl = {NULL, {{root_slot, sizeof root_slot}, {NULL, 0}}};

static uintptr_t bad_top[] = {32, GC_APTR, 0, 99, 8, GC_END, 0};
static uintptr_t bad_loop[] = {64, GC_ARRAY_START, 0, 4, 16, GC_APTR, 8, 0x1000, GC_ARRAY_NEXT, GC_END, 0};
static uintptr_t bad_sub[] = {16, 77, 0, GC_END, 0};
static uintptr_t via_ptr[] = {16, GC_PTR, 0, 0 /* bad_sub */, GC_END, 0};
static uintptr_t good_prog[] = {32, GC_APTR, 0, GC_APTR, 8, GC_END, 0};
static uintptr_t good_sub[] = {16, GC_APTR, 0, GC_END, 0};
static uintptr_t via_ptr_good[] = {16, GC_PTR, 0, 0 /* good_sub */, GC_END, 0};

static GoType t_bad_top, t_bad_loop, t_via_ptr, t_good, t_via_ptr_good;

static void init(void)
{
    via_ptr[3] = (uintptr_t)bad_sub;
    via_ptr_good[3] = (uintptr_t)good_sub;
    gc_init_type(&t_bad_top, GO_STRUCT, 32, bad_top);
    gc_init_type(&t_bad_loop, GO_STRUCT, 64, bad_loop);
    gc_init_type(&t_via_ptr, GO_STRUCT, 16, via_ptr);
    gc_init_type(&t_good, GO_STRUCT, 32, good_prog);
    gc_init_type(&t_via_ptr_good, GO_STRUCT, 16, via_ptr_good);
    __go_register_gc_roots((struct root_list *)&rl);
}

static void *typed(const GoType *t)
{
    uintptr_t *p = runtime_mallocgc(t->__size, (uintptr_t)t | TypeInfo_SingleObject, 0);
    p[0] = (uintptr_t)runtime_mal(64); /* something to follow */
    return p;
}

static void fatal_root(void *arg)
{
    root_slot[0] = typed(arg);
    runtime_GC();
}

static void fatal_ptr(void *arg)
{
    (void)arg;
    root_slot[1] = typed(&t_via_ptr); /* its word 0 points to an untyped block scanned with bad_sub */
    runtime_GC();
}

static void __attribute__((noinline)) fatal_stack(void *arg)
{
    void *volatile local = typed(arg); /* only on this thread's stack */
    runtime_GC();
    printf("%p\n", local);
}

static void good(void *arg)
{
    (void)arg;
    root_slot[0] = typed(&t_good);
    root_slot[1] = typed(&t_via_ptr_good);
    runtime_GC();
    runtime_GC();
    _exit(0);
}

int main(void)
{
    init();
    tu_fatal_label = "opcode 99 at the top level, object under a root";
    expect_fatal(fatal_root, &t_bad_top, "fatal error: scanblock: invalid GC instruction", EXPECT_SIGNAL(SIGABRT));
    CHECK(strstr(tu_child_stderr, "runtime: invalid GC instruction") != NULL,
          "stderr lacks \"runtime: invalid GC instruction\":\n%s", tu_child_stderr);

    tu_fatal_label = "opcode 0x1000 inside an array loop";
    expect_fatal(fatal_root, &t_bad_loop, "fatal error: scanblock: invalid GC instruction", EXPECT_SIGNAL(SIGABRT));

    tu_fatal_label = "unknown opcode in a GC_PTR pointee's program";
    expect_fatal(fatal_ptr, NULL, "fatal error: scanblock: invalid GC instruction", EXPECT_SIGNAL(SIGABRT));

    tu_fatal_label = "opcode 99, object only on the stack";
    expect_fatal(fatal_stack, &t_bad_top, "fatal error: scanblock: invalid GC instruction", EXPECT_SIGNAL(SIGABRT));

    tu_fatal_label = "control: valid programs";
    expect_fatal(good, NULL, NULL, EXPECT_EXIT(0));
    CHECK(strstr(tu_child_stderr, "fatal") == NULL, "control child printed: %s", tu_child_stderr);
    return test_summary();
}
