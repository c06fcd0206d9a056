/*
 * t_setfinalizer: Go's runtime.SetFinalizer (libgo-abi.md section 14) driven from C with
 * hand-built type descriptors, and the finalizer thread it starts.
 *
 *  - fatal (forked children, run before the parent starts any library thread), each printing
 *    its message and then "fatal error: runtime.SetFinalizer", dying of SIGABRT:
 *      nil interface; a non-pointer first argument (message names its type string); an interior
 *      pointer of a type with pointers, small and large (the message shows the address); wrong
 *      finalizer types: func(int), a non-func, a variadic func(...*T), a two-argument func;
 *      finalizer already set.
 *  - silent returns: element type of size 0 and non-heap pointers (global, stack, malloc) return
 *    without validating the finalizer and without installing anything (checked through
 *    gogc_set_finalizer, which shares the record: it must not report EEXIST).
 *  - a nil finalizer removes one (none runs); removing when none is set is fine.
 *  - func(*T) finalizers of 1000 objects run on the finalizer thread (not the main thread), each
 *    exactly once with its own object, while the main thread polls a counter calling runtime_GC.
 *  - after a batch, the finalizer thread runs a collection by itself (NumGC grows with no
 *    runtime_GC call from the test).
 *  - finalizer input types: func(PT) with PT a named pointer type to the same T (one unnamed
 *    side: allowed); func(interface {}) receives {type, pointer} with the object's own pointer
 *    type; a NO_POINTERS element smaller than 16 bytes may be set at an interior address, and the
 *    finalizer receives that exact address.
 *  - collections running on the main thread while the finalizer thread works through a batch
 *    must not free objects whose finalizers are still waiting in that batch.
 *  - C finalizers (gogc_set_finalizer) are run by gogc_run_finalizers on the calling thread only,
 *    never by the finalizer thread (gogc.h: "runs ... (from gogc_run_finalizers)").
 */
#include "testutil.h"
#include "t_gc_util.h"
#include <pthread.h>

#define MAGIC 0x53455446494e414cULL

/* ---------------------------------------------------------------- type descriptors */

#define GS(s) {(const uint8_t *)(s), (intptr_t)(sizeof(s) - 1)}

static const GoString s_T = GS("main.T"), s_Tname = GS("T"), s_pkg = GS("main");
static const GoString s_PtrT = GS("*main.T"), s_PT = GS("main.PT"), s_PTname = GS("PT");
static const GoString s_int = GS("int"), s_int64 = GS("int64"), s_Pint64 = GS("*int64");
static const GoString s_Z = GS("struct {}"), s_PZ = GS("*struct {}");
static const GoString s_eface = GS("interface {}");
static const GoString s_fT = GS("func(*main.T)"), s_fPT = GS("func(main.PT)");
static const GoString s_fint = GS("func(int)"), s_feface = GS("func(interface {})");
static const GoString s_fvar = GS("func(...*main.T)"), s_f2 = GS("func(*main.T, int)");
static const GoString s_fPint64 = GS("func(*int64)"), s_SliceT = GS("[]*main.T");

static const GoUncommonType u_T = {&s_Tname, &s_pkg, {NULL, 0, 0}};
static const GoUncommonType u_PT = {&s_PTname, &s_pkg, {NULL, 0, 0}};

/* type T struct { id uint64; ref *T; magic uint64; x uint64 } */
static uintptr_t prog_T[] = {32, GC_APTR, 8, GC_END, 0};
static uintptr_t prog_word[] = {8, GC_APTR, 0, GC_END, 0};
static uintptr_t prog_noptr8[] = {8, GC_END, 0};
static uintptr_t prog_zero[] = {0, GC_END, 0};
static uintptr_t prog_eface[] = {16, GC_EFACE, 0, GC_END, 0};
static uintptr_t prog_slice[] = {24, GC_SLICE, 0, 0, GC_END, 0};

static GoType T_desc = {.__code = GO_STRUCT, .__align = 8, .__field_align = 8, .__size = 32,
                        .__hash = 0x1111, .__gc = prog_T, .__reflection = &s_T, .__uncommon = &u_T};
static GoPtrType PtrT_desc = {{.__code = GO_PTR, .__align = 8, .__field_align = 8, .__size = 8,
                               .__hash = 0x2222, .__gc = prog_word, .__reflection = &s_PtrT},
                              &T_desc};
/* type PT *T (named) */
static GoPtrType PT_desc = {{.__code = GO_PTR, .__align = 8, .__field_align = 8, .__size = 8,
                             .__hash = 0x3333, .__gc = prog_word, .__reflection = &s_PT, .__uncommon = &u_PT},
                            &T_desc};
static GoType int_desc = {.__code = GO_INT | GO_NO_POINTERS, .__align = 8, .__field_align = 8, .__size = 8,
                          .__hash = 0x4444, .__gc = prog_noptr8, .__reflection = &s_int};
static GoType int64_desc = {.__code = GO_INT64 | GO_NO_POINTERS, .__align = 8, .__field_align = 8,
                            .__size = 8, .__hash = 0x4545, .__gc = prog_noptr8, .__reflection = &s_int64};
static GoPtrType Pint64_desc = {{.__code = GO_PTR, .__align = 8, .__field_align = 8, .__size = 8,
                                 .__hash = 0x4646, .__gc = prog_word, .__reflection = &s_Pint64},
                                &int64_desc};
static GoType Z_desc = {.__code = GO_STRUCT | GO_NO_POINTERS, .__align = 1, .__field_align = 1, .__size = 0,
                        .__hash = 0x5555, .__gc = prog_zero, .__reflection = &s_Z};
static GoPtrType PZ_desc = {{.__code = GO_PTR, .__align = 8, .__field_align = 8, .__size = 8,
                             .__hash = 0x6666, .__gc = prog_word, .__reflection = &s_PZ},
                            &Z_desc};
static GoInterfaceType eface_desc = {{.__code = GO_INTERFACE, .__align = 8, .__field_align = 8, .__size = 16,
                                      .__hash = 0x7777, .__gc = prog_eface, .__reflection = &s_eface},
                                     {NULL, 0, 0}};
static GoSliceType SliceT_desc = {{.__code = GO_SLICE, .__align = 8, .__field_align = 8, .__size = 24,
                                   .__hash = 0x7878, .__gc = prog_slice, .__reflection = &s_SliceT},
                                  &PtrT_desc.__common};

static const GoType *in_PtrT[1] = {&PtrT_desc.__common};
static const GoType *in_PT[1] = {&PT_desc.__common};
static const GoType *in_int[1] = {&int_desc};
static const GoType *in_eface[1] = {&eface_desc.__common};
static const GoType *in_slice[1] = {&SliceT_desc.__common};
static const GoType *in_two[2] = {&PtrT_desc.__common, &int_desc};
static const GoType *in_Pint64[1] = {&Pint64_desc.__common};

#define FUNC_DESC(name, refl, hash, ins, n, variadic)                                                    \
    static GoFuncType name = {{.__code = GO_FUNC, .__align = 8, .__field_align = 8, .__size = 8,        \
                               .__hash = (hash), .__gc = prog_word, .__reflection = &(refl)},           \
                              (variadic),                                                               \
                              {(void *)(ins), (n), (n)},                                                \
                              {NULL, 0, 0}}

FUNC_DESC(fT_desc, s_fT, 0xf001, in_PtrT, 1, false);
FUNC_DESC(fPT_desc, s_fPT, 0xf002, in_PT, 1, false);
FUNC_DESC(fint_desc, s_fint, 0xf003, in_int, 1, false);
FUNC_DESC(feface_desc, s_feface, 0xf004, in_eface, 1, false);
FUNC_DESC(fvar_desc, s_fvar, 0xf005, in_slice, 1, true);
FUNC_DESC(f2_desc, s_f2, 0xf006, in_two, 2, false);
FUNC_DESC(fPint64_desc, s_fPint64, 0xf007, in_Pint64, 1, false);

/* The object layout of T. */
typedef struct T {
    uint64_t id;
    struct T *ref;
    uint64_t magic;
    uint64_t x;
} T;

static GoEface obj_eface(const void *ptrtype, void *p)
{
    GoEface e = {(const GoType *)ptrtype, p};
    return e;
}

/* A finalizer eface: {func type, pointer to a cell holding the FuncVal*}. */
static GoEface fin_eface(const GoFuncType *ft, const FuncVal *const *cell)
{
    GoEface e = {&ft->__common, (void *)cell};
    return e;
}

static const GoEface nil_eface = {NULL, NULL};

static T *new_T(uint64_t id)
{
    T *t = (T *)runtime_new(&T_desc);
    t->id = id;
    t->magic = MAGIC;
    t->x = ~id;
    return t;
}

static int T_ok(const T *t, uint64_t id)
{
    return t->id == id && t->magic == MAGIC && t->x == ~id;
}

/* Globals the collector must see (registered with gogc_add_roots). */
static struct {
    T *keep[8];
} G;

static pthread_t main_thread;

/* usleep that is not cut short by the collector's stop-the-world signals. */
static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---------------------------------------------------------------- finalizers */

static void fin_nop(void *p)
{
    (void)p;
}
static const FuncVal fv_nop = {(void (*)(void))fin_nop};
static const FuncVal *const cell_nop = &fv_nop;

#define POP 1000
static uint64_t *pop_h;
static int *pop_count;
static int pop_total, pop_bad, pop_on_main;

static void fin_pop(void *p)
{
    T *t = p;
    __atomic_add_fetch(&pop_total, 1, __ATOMIC_SEQ_CST);
    if (pthread_equal(pthread_self(), main_thread))
        __atomic_add_fetch(&pop_on_main, 1, __ATOMIC_SEQ_CST);
    uint64_t id = t->id;
    if (id >= POP || pop_h[id] != gc_hide(t) || !T_ok(t, id)) {
        __atomic_add_fetch(&pop_bad, 1, __ATOMIC_SEQ_CST);
        return;
    }
    __atomic_add_fetch(&pop_count[id], 1, __ATOMIC_SEQ_CST);
}
static const FuncVal fv_pop = {(void (*)(void))fin_pop};
static const FuncVal *const cell_pop = &fv_pop;

/* ---------------------------------------------------------------- fatal children */

static void child_nil_interface(void *arg)
{
    (void)arg;
    runtime_SetFinalizer(nil_eface, fin_eface(&fT_desc, &cell_nop));
}

static void child_not_pointer(void *arg)
{
    (void)arg;
    T *t = new_T(1);
    runtime_SetFinalizer(obj_eface(&T_desc, t), fin_eface(&fT_desc, &cell_nop));
}

static void child_not_pointer_int(void *arg)
{
    (void)arg;
    T *t = new_T(1);
    runtime_SetFinalizer(obj_eface(&int_desc, t), fin_eface(&fT_desc, &cell_nop));
}

static void child_interior_small(void *arg)
{
    (void)arg;
    T *t = new_T(1);
    fprintf(stderr, "addr=%p\n", (void *)((char *)t + 8));
    runtime_SetFinalizer(obj_eface(&PtrT_desc, (char *)t + 8), fin_eface(&fT_desc, &cell_nop));
}

static void child_interior_large(void *arg)
{
    (void)arg;
    char *p = runtime_mallocgc(100000, 0, 0);
    fprintf(stderr, "addr=%p\n", (void *)(p + 40960));
    runtime_SetFinalizer(obj_eface(&PtrT_desc, p + 40960), fin_eface(&fT_desc, &cell_nop));
}

static void child_wrong_func_int(void *arg)
{
    (void)arg;
    T *t = new_T(1);
    runtime_SetFinalizer(obj_eface(&PtrT_desc, t), fin_eface(&fint_desc, &cell_nop));
}

static void child_wrong_not_func(void *arg)
{
    (void)arg;
    T *t = new_T(1);
    static int64_t v = 5;
    GoEface f = {&int_desc, &v};
    runtime_SetFinalizer(obj_eface(&PtrT_desc, t), f);
}

static void child_wrong_variadic(void *arg)
{
    (void)arg;
    T *t = new_T(1);
    runtime_SetFinalizer(obj_eface(&PtrT_desc, t), fin_eface(&fvar_desc, &cell_nop));
}

static void child_wrong_two_args(void *arg)
{
    (void)arg;
    T *t = new_T(1);
    runtime_SetFinalizer(obj_eface(&PtrT_desc, t), fin_eface(&f2_desc, &cell_nop));
}

static void child_already_set(void *arg)
{
    (void)arg;
    T *t = new_T(1);
    runtime_SetFinalizer(obj_eface(&PtrT_desc, t), fin_eface(&fT_desc, &cell_nop));
    fprintf(stderr, "first SetFinalizer returned\n");
    runtime_SetFinalizer(obj_eface(&PtrT_desc, t), fin_eface(&fT_desc, &cell_nop));
}

static void fatal_case(const char *label, void (*fn)(void *), const char *msg)
{
    tu_fatal_label = label;
    if (expect_fatal(fn, NULL, msg, EXPECT_SIGNAL(SIGABRT))) {
        const char *at = strstr(tu_child_stderr, msg);
        CHECK(strstr(at, "fatal error: runtime.SetFinalizer") != NULL,
              "%s: \"fatal error: runtime.SetFinalizer\" does not follow the message:\n%s", label,
              tu_child_stderr);
    }
    tu_fatal_label = NULL;
}

static void fatal_interior(const char *label, void (*fn)(void *))
{
    const char *msg = "runtime.SetFinalizer: pointer not at beginning of allocated block (0x";
    fatal_case(label, fn, msg);
    /* The address in the message is the one passed. */
    void *addr = NULL;
    const char *a = strstr(tu_child_stderr, "addr=");
    const char *m = strstr(tu_child_stderr, msg);
    if (a && m && sscanf(a, "addr=%p", &addr) == 1) {
        unsigned long long shown = strtoull(m + strlen(msg) - 2, NULL, 16);
        CHECK(shown == (unsigned long long)(uintptr_t)addr, "%s: message shows %#llx, pointer was %p", label,
              shown, addr);
    } else {
        CHECK(0, "%s: cannot find the address in the child's stderr:\n%s", label, tu_child_stderr);
    }
}

static void test_fatal(void)
{
    fatal_case("nil interface", child_nil_interface, "runtime.SetFinalizer: first argument is nil interface");
    fatal_case("struct, not pointer", child_not_pointer,
               "runtime.SetFinalizer: first argument is main.T, not pointer");
    fatal_case("int, not pointer", child_not_pointer_int, "runtime.SetFinalizer: first argument is int, not pointer");
    fatal_interior("interior pointer (small)", child_interior_small);
    fatal_interior("interior pointer (large)", child_interior_large);
    fatal_case("func(int)", child_wrong_func_int, "runtime.SetFinalizer: cannot pass *main.T to finalizer func(int)");
    fatal_case("non-func finalizer", child_wrong_not_func, "runtime.SetFinalizer: cannot pass *main.T to finalizer int");
    fatal_case("variadic finalizer", child_wrong_variadic,
               "runtime.SetFinalizer: cannot pass *main.T to finalizer func(...*main.T)");
    fatal_case("two-argument finalizer", child_wrong_two_args,
               "runtime.SetFinalizer: cannot pass *main.T to finalizer func(*main.T, int)");
    fatal_case("already set", child_already_set, "runtime.SetFinalizer: finalizer already set");
    CHECK(strstr(tu_child_stderr, "first SetFinalizer returned") != NULL, "the first SetFinalizer did not return");
}

/* ---------------------------------------------------------------- silent returns, removal */

static T global_T = {1, NULL, MAGIC, ~1ULL};
static int bad_ran;
static void fin_bad(void *p)
{
    (void)p;
    __atomic_add_fetch(&bad_ran, 1, __ATOMIC_SEQ_CST);
}
static const FuncVal fv_bad = {(void (*)(void))fin_bad};
static const FuncVal *const cell_bad = &fv_bad;

static void cfin_nop(void *o, void *a)
{
    (void)o;
    (void)a;
}

/* 1 if no finalizer record is on the block p (probing with the C API, then undoing). */
static int no_record(void *p)
{
    int rc = gogc_set_finalizer(p, cfin_nop, NULL);
    if (rc == 0)
        gogc_set_finalizer(p, NULL, NULL);
    return rc == 0;
}

static __attribute__((noinline)) void silent_setup(void)
{
    T stack_T = {2, NULL, MAGIC, ~2ULL};
    void *m = malloc(64);
    /* Non-heap pointers: return at once, even with a finalizer that would be rejected. */
    runtime_SetFinalizer(obj_eface(&PtrT_desc, &global_T), fin_eface(&fint_desc, &cell_bad));
    runtime_SetFinalizer(obj_eface(&PtrT_desc, &stack_T), fin_eface(&fint_desc, &cell_bad));
    runtime_SetFinalizer(obj_eface(&PtrT_desc, m), fin_eface(&fint_desc, &cell_bad));
    runtime_SetFinalizer(obj_eface(&PtrT_desc, &global_T), fin_eface(&fT_desc, &cell_bad));
    free(m);
    CHECK(1, "non-heap pointers returned");

    /* Zero-size element type: returns at once, installs nothing. */
    T *z = new_T(3);
    runtime_SetFinalizer(obj_eface(&PZ_desc, z), fin_eface(&fint_desc, &cell_bad));
    runtime_SetFinalizer(obj_eface(&PZ_desc, z), fin_eface(&fT_desc, &cell_bad));
    CHECK(no_record(z), "SetFinalizer with a zero-size element type installed a finalizer");
    runtime_SetFinalizer(obj_eface(&PZ_desc, &runtime_zerobase), fin_eface(&fT_desc, &cell_bad));

    /* nil finalizer removes; removing when none is set is fine. */
    T *r = new_T(4);
    runtime_SetFinalizer(obj_eface(&PtrT_desc, r), nil_eface);
    runtime_SetFinalizer(obj_eface(&PtrT_desc, r), fin_eface(&fT_desc, &cell_bad));
    CHECK(!no_record(r), "SetFinalizer installed no record (the C API could set another)");
    runtime_SetFinalizer(obj_eface(&PtrT_desc, r), nil_eface);
    CHECK(no_record(r), "a nil finalizer did not remove the finalizer");
    runtime_SetFinalizer(obj_eface(&PtrT_desc, r), nil_eface);
    /* set again after removal works, and removal again */
    runtime_SetFinalizer(obj_eface(&PtrT_desc, r), fin_eface(&fT_desc, &cell_bad));
    runtime_SetFinalizer(obj_eface(&PtrT_desc, r), nil_eface);
    CHECK(no_record(r), "second removal did not remove");

    /* removal on a population */
    for (int i = 0; i < 500; i++) {
        T *t = new_T(100 + (uint64_t)i);
        runtime_SetFinalizer(obj_eface(&PtrT_desc, t), fin_eface(&fT_desc, &cell_bad));
        runtime_SetFinalizer(obj_eface(&PtrT_desc, t), nil_eface);
    }
}

static void test_silent_and_remove(void)
{
    silent_setup();
    for (int i = 0; i < 5; i++) {
        gc_full();
        sleep_us(20000);
    }
    CHECK(__atomic_load_n(&bad_ran, __ATOMIC_SEQ_CST) == 0, "%d removed/never-installed finalizers ran", bad_ran);
}

/* ---------------------------------------------------------------- the finalizer thread */

static __attribute__((noinline)) void pop_build(void)
{
    for (int i = 0; i < POP; i++) {
        T *t = new_T((uint64_t)i);
        pop_h[i] = gc_hide(t);
        runtime_SetFinalizer(obj_eface(&PtrT_desc, t), fin_eface(&fT_desc, &cell_pop));
    }
}

/* Wait until *counter >= want (up to secs), optionally calling runtime_GC between polls. */
static int wait_count(int *counter, int want, double secs, int collect)
{
    double end = tu_now() + secs;
    while (__atomic_load_n(counter, __ATOMIC_SEQ_CST) < want && tu_now() < end) {
        if (collect)
            gc_full();
        sleep_us(10000);
    }
    return __atomic_load_n(counter, __ATOMIC_SEQ_CST);
}

static void test_thread(void)
{
    pop_h = calloc(POP, sizeof *pop_h);
    pop_count = calloc(POP, sizeof *pop_count);
    MStats m0;
    gc_stats(&m0);
    pop_build();
    MStats m0b;
    gc_stats(&m0b);
    printf("thread: numgc %u -> %u while building, %d finalizers ran meanwhile\n", m0.numgc, m0b.numgc,
           pop_total);
    double t0 = tu_now();
    int n = wait_count(&pop_total, POP, 5.0, 1);
    double t1 = tu_now();
    printf("thread: %d of %d finalizers ran in %.3f s\n", n, POP, t1 - t0);
    CHECK(n * 100 >= POP * 95, "only %d of %d Go finalizers ran within 5 s", n, POP);
    CHECK(pop_on_main == 0, "%d Go finalizers ran on the main thread", pop_on_main);
    CHECK(pop_bad == 0, "%d finalizers got a wrong or damaged object", pop_bad);
    /* More collections: nothing runs twice. */
    for (int i = 0; i < 5; i++) {
        gc_full();
        sleep_us(10000);
    }
    int twice = 0;
    for (int i = 0; i < POP; i++)
        twice += pop_count[i] > 1;
    CHECK(twice == 0, "%d objects finalized more than once", twice);
    CHECK(pop_total <= POP, "%d finalizer calls for %d objects", pop_total, POP);
}

/* After a batch, the finalizer thread collects by itself. */
static int self_total;
static void fin_self(void *p)
{
    (void)p;
    __atomic_add_fetch(&self_total, 1, __ATOMIC_SEQ_CST);
}
static const FuncVal fv_self = {(void (*)(void))fin_self};
static const FuncVal *const cell_self = &fv_self;

static __attribute__((noinline)) void self_build(int n)
{
    for (int i = 0; i < n; i++) {
        T *t = new_T((uint64_t)i);
        runtime_SetFinalizer(obj_eface(&PtrT_desc, t), fin_eface(&fT_desc, &cell_self));
    }
}

static void test_thread_collects(void)
{
    sleep_us(100000); /* let earlier batches and their collections finish */
    self_build(200);
    MStats m0, m2;
    gc_stats(&m0);
    gc_full(); /* queues them: numgc + 1 */
    int n = wait_count(&self_total, 1, 5.0, 0);
    CHECK(n >= 1, "no finalizer ran within 5 s after the collection that queued them (no runtime_GC calls)");
    double end = tu_now() + 5;
    do {
        sleep_us(10000);
        gc_stats(&m2);
    } while (m2.numgc < m0.numgc + 2 && tu_now() < end);
    CHECK(m2.numgc >= m0.numgc + 2,
          "the finalizer thread did not collect after its batch (numgc %u before our one runtime_GC, %u now)",
          m0.numgc, m2.numgc);
    printf("thread collects: %d finalizers ran, numgc %u -> %u (one runtime_GC by the test)\n", self_total,
           m0.numgc, m2.numgc);
}

/* ---------------------------------------------------------------- finalizer input types */

static void *named_arg, *eface_t, *eface_v, *tiny_arg;
static int named_ran, eface_ran, tiny_ran;

static void fin_named(void *p)
{
    named_arg = (void *)(uintptr_t)gc_hide(p);
    __atomic_add_fetch(&named_ran, 1, __ATOMIC_SEQ_CST);
}
static const FuncVal fv_named = {(void (*)(void))fin_named};
static const FuncVal *const cell_named = &fv_named;

/* func(interface{}) gets the eface {type, pointer} in two registers. */
static void fin_eface_fn(void *t, void *v)
{
    eface_t = t;
    eface_v = (void *)(uintptr_t)gc_hide(v);
    __atomic_add_fetch(&eface_ran, 1, __ATOMIC_SEQ_CST);
}
static const FuncVal fv_eface = {(void (*)(void))fin_eface_fn};
static const FuncVal *const cell_eface = &fv_eface;

static void fin_tiny(void *p)
{
    tiny_arg = (void *)(uintptr_t)gc_hide(p);
    __atomic_add_fetch(&tiny_ran, 1, __ATOMIC_SEQ_CST);
}
static const FuncVal fv_tiny = {(void (*)(void))fin_tiny};
static const FuncVal *const cell_tiny = &fv_tiny;

static uint64_t named_h, eface_h, tiny_h;

static __attribute__((noinline)) void types_build(void)
{
    T *a = new_T(1);
    runtime_SetFinalizer(obj_eface(&PtrT_desc, a), fin_eface(&fPT_desc, &cell_named));
    named_h = gc_hide(a);
    T *b = new_T(2);
    runtime_SetFinalizer(obj_eface(&PtrT_desc, b), fin_eface(&feface_desc, &cell_eface));
    eface_h = gc_hide(b);
    /* NO_POINTERS element smaller than 16 bytes: an interior address is accepted. */
    uint64_t *blk = runtime_mallocgc(32, 0, FlagNoScan);
    blk[2] = 42;
    runtime_SetFinalizer(obj_eface(&Pint64_desc, blk + 2), fin_eface(&fPint64_desc, &cell_tiny));
    tiny_h = gc_hide(blk + 2);
}

static void test_input_types(void)
{
    types_build();
    wait_count(&named_ran, 1, 5.0, 1);
    wait_count(&eface_ran, 1, 5.0, 1);
    wait_count(&tiny_ran, 1, 5.0, 1);
    CHECK(named_ran == 1, "func(main.PT) finalizer ran %d times", named_ran);
    CHECK((uint64_t)(uintptr_t)named_arg == named_h, "func(main.PT) finalizer got the wrong pointer");
    CHECK(eface_ran == 1, "func(interface {}) finalizer ran %d times", eface_ran);
    CHECK(eface_t == (void *)&PtrT_desc, "func(interface {}) finalizer got type %p, want %p", eface_t,
          (void *)&PtrT_desc);
    CHECK((uint64_t)(uintptr_t)eface_v == eface_h, "func(interface {}) finalizer got the wrong pointer");
    CHECK(tiny_ran == 1, "interior (tiny) finalizer ran %d times", tiny_ran);
    CHECK((uint64_t)(uintptr_t)tiny_arg == tiny_h, "interior (tiny) finalizer got %p, want the interior address %p",
          gc_unhide((uint64_t)(uintptr_t)tiny_arg), gc_unhide(tiny_h));
}

/* ---------------------------------------------------------------- collections during a batch */

#define RACE_N 400
static int race_total, race_bad;
static uint64_t *race_h;

static void fin_race(void *p)
{
    T *t = p;
    uint64_t id = t->id;
    int ok = id < RACE_N && race_h[id] == gc_hide(t) && T_ok(t, id) && t->ref && T_ok(t->ref, id + 10000);
    if (!ok)
        __atomic_add_fetch(&race_bad, 1, __ATOMIC_SEQ_CST);
    sleep_us(500); /* a slow finalizer: the batch takes a while */
    __atomic_add_fetch(&race_total, 1, __ATOMIC_SEQ_CST);
}
static const FuncVal fv_race = {(void (*)(void))fin_race};
static const FuncVal *const cell_race = &fv_race;

static __attribute__((noinline)) void race_build(void)
{
    for (int i = 0; i < RACE_N; i++) {
        T *t = new_T((uint64_t)i);
        t->ref = new_T((uint64_t)i + 10000);
        race_h[i] = gc_hide(t);
        runtime_SetFinalizer(obj_eface(&PtrT_desc, t), fin_eface(&fT_desc, &cell_race));
    }
}

static __attribute__((noinline)) void race_churn(void)
{
    for (int i = 0; i < 2000; i++) {
        T *t = new_T(0xdead);
        t->magic = 0xdeaddeaddeaddeadULL;
        t->x = 0xdeaddeaddeaddeadULL;
    }
}

static void test_collect_during_batch(void)
{
    race_h = calloc(RACE_N, sizeof *race_h);
    sleep_us(50000);
    race_build();
    gc_full(); /* queues the batch */
    double end = tu_now() + 10;
    int gcs = 0;
    while (__atomic_load_n(&race_total, __ATOMIC_SEQ_CST) < RACE_N * 95 / 100 && tu_now() < end) {
        race_churn();
        gc_full();
        gcs++;
        sleep_us(2000);
    }
    printf("collect during batch: %d of %d finalizers ran, %d saw a damaged object, %d collections\n", race_total,
           RACE_N, race_bad, gcs);
    CHECK(race_total * 100 >= RACE_N * 95, "only %d of %d finalizers ran", race_total, RACE_N);
    CHECK(race_bad == 0,
          "%d of %d Go finalizers received a freed/damaged object (collections ran on the main thread while the "
          "finalizer thread was working through its batch)",
          race_bad, race_total);
}

/* ---------------------------------------------------------------- C finalizers stay with run_finalizers */

static int c_ran, c_on_main;
static void cfin_count(void *o, void *a)
{
    (void)o;
    (void)a;
    __atomic_add_fetch(&c_ran, 1, __ATOMIC_SEQ_CST);
    if (pthread_equal(pthread_self(), main_thread))
        __atomic_add_fetch(&c_on_main, 1, __ATOMIC_SEQ_CST);
}

static __attribute__((noinline)) void cfin_build(void)
{
    for (int i = 0; i < 100; i++) {
        T *t = new_T((uint64_t)i);
        CHECK(gogc_set_finalizer(t, cfin_count, NULL) == 0, "gogc_set_finalizer");
    }
    /* and one Go finalizer, so the finalizer thread has something of its own to run */
    T *g = new_T(7);
    runtime_SetFinalizer(obj_eface(&PtrT_desc, g), fin_eface(&fT_desc, &cell_nop));
}

static void test_c_finalizers_not_on_thread(void)
{
    sleep_us(50000);
    cfin_build();
    for (int i = 0; i < 5; i++) {
        gc_full();
        sleep_us(50000);
    }
    int before = __atomic_load_n(&c_ran, __ATOMIC_SEQ_CST);
    CHECK(before == 0, "%d C finalizers ran without gogc_run_finalizers (on the Go finalizer thread)", before);
    uintptr_t n = gogc_run_finalizers();
    printf("C finalizers: %d ran before gogc_run_finalizers, it then ran %zu; %d on the main thread\n", before,
           (size_t)n, c_on_main);
    CHECK(c_ran >= 95, "only %d of 100 C finalizers ran in total", c_ran);
    CHECK(c_on_main == c_ran, "%d of %d C finalizers ran off the calling thread", c_ran - c_on_main, c_ran);
}

/* ---------------------------------------------------------------- main */

int main(void)
{
    main_thread = pthread_self();
    test_fatal(); /* forked children first, before this process starts any library thread */
    gogc_add_roots(&G, &G + 1);
    double t0 = tu_now();
    test_silent_and_remove();
    test_thread();
    test_thread_collects();
    test_input_types();
    test_collect_during_batch();
    test_c_finalizers_not_on_thread();
    printf("t_setfinalizer: %.2f s\n", tu_now() - t0);
    return test_summary();
}
