/*
 * t_host: the GogcHost table's registration rules and the callbacks that plain threads can
 * exercise (issue 4); minigo (t_minigo) covers stop_world/start_world/scan_roots/start_thread.
 *
 *  - gogc_set_host rejects NULL, a size smaller than the first version of the table, only one of
 *    stop_world/start_world, only one of gc_acquire/gc_release (EINVAL each) and accepts a
 *    first-version table (size = offsetof(GogcHost, gc_acquire)) without reading past it: the
 *    bytes after it are a gc_acquire/gc_release pair that fail the test if ever called.
 *  - gc_acquire/gc_release: called exactly once each, in that order, around runtime_gc(0/1/2),
 *    ReadMemStats and a collection triggered by allocation; never nested; and with neither
 *    gogc's GC lock nor the world stopped at the time (another thread can finish a collection
 *    while the caller sits inside gc_acquire).
 *  - run_finalizer: a Go finalizer set with runtime.SetFinalizer is handed to the host with its
 *    FuncVal, object, func type and pointer type; the host's call runs it (here: a C function
 *    through the FuncVal's code pointer) exactly once per object; C finalizers
 *    (gogc_set_finalizer) never reach the host.
 */
#include "testutil.h"
#include "t_gc_util.h"
#include <errno.h>
#include <pthread.h>
#include <stddef.h>

/* ---------------------------------------------------------------- registration */

static void never_called(void *ctx)
{
    (void)ctx;
    fprintf(stderr, "t_host: a callback beyond the declared table size was called\n");
    abort();
}

static void nop_world(void *ctx) { (void)ctx; }

static void test_registration(void)
{
    GogcHost h;
    CHECK(gogc_set_host(NULL) == EINVAL, "NULL table accepted");

    memset(&h, 0, sizeof h);
    h.size = offsetof(GogcHost, gc_acquire) - 1;
    CHECK(gogc_set_host(&h) == EINVAL, "short table accepted");

    memset(&h, 0, sizeof h);
    h.size = sizeof h;
    h.stop_world = nop_world;
    CHECK(gogc_set_host(&h) == EINVAL, "stop_world without start_world accepted");

    memset(&h, 0, sizeof h);
    h.size = sizeof h;
    h.gc_release = nop_world;
    CHECK(gogc_set_host(&h) == EINVAL, "gc_release without gc_acquire accepted");

    /* A first-version table: everything after `fatal` belongs to someone else. */
    memset(&h, 0, sizeof h);
    h.size = offsetof(GogcHost, gc_acquire);
    h.gc_acquire = never_called;
    h.gc_release = never_called;
    CHECK(gogc_set_host(&h) == 0, "first-version table rejected");
    MStats m;
    gc_force(1);
    gc_stats(&m);
    CHECK(m.numgc >= 1, "no collection after registering a first-version table");

    /* Back to the built-in host. */
    memset(&h, 0, sizeof h);
    h.size = sizeof h;
    CHECK(gogc_set_host(&h) == 0, "empty table rejected");
}

/* ---------------------------------------------------------------- gc_acquire / gc_release */

static int acq_held;         /* 1 between acquire and release */
static unsigned long nacq, nrel, nested;
static int acq_block;        /* acquire waits until a collection ran on the helper thread */
static volatile uint32_t helper_done;

static void *helper_collect(void *arg)
{
    (void)arg;
    runtime_gc(1); /* must not wait for the main thread, which sits in gc_acquire */
    __atomic_store_n(&helper_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void host_acquire(void *ctx)
{
    (void)ctx;
    if (__atomic_load_n(&acq_block, __ATOMIC_ACQUIRE)) {
        /* Called holding nothing: a collection on another thread can start and finish now. */
        __atomic_store_n(&acq_block, 0, __ATOMIC_RELEASE);
        pthread_t t;
        CHECK(gogc_pthread_create(&t, NULL, helper_collect, NULL) == 0, "gogc_pthread_create");
        double t0 = tu_now();
        while (!__atomic_load_n(&helper_done, __ATOMIC_ACQUIRE) && tu_now() - t0 < 20)
            usleep(1000);
        CHECK(helper_done, "a collection on another thread could not run while gc_acquire waited");
        pthread_join(t, NULL);
    }
    if (__atomic_exchange_n(&acq_held, 1, __ATOMIC_ACQ_REL))
        __atomic_add_fetch(&nested, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&nacq, 1, __ATOMIC_RELAXED);
}

static void host_release(void *ctx)
{
    (void)ctx;
    CHECK(__atomic_exchange_n(&acq_held, 0, __ATOMIC_ACQ_REL) == 1, "gc_release without gc_acquire");
    __atomic_add_fetch(&nrel, 1, __ATOMIC_RELAXED);
}

static void test_gc_semaphore(void)
{
    GogcHost h;
    memset(&h, 0, sizeof h);
    h.size = sizeof h;
    h.gc_acquire = host_acquire;
    h.gc_release = host_release;
    CHECK(gogc_set_host(&h) == 0, "gc_acquire/gc_release table rejected");

    for (int force = 0; force <= 2; force++) {
        unsigned long a0 = nacq, r0 = nrel;
        runtime_gc(force);
        CHECK(nacq == a0 + 1 && nrel == r0 + 1, "runtime_gc(%d): %lu acquires, %lu releases", force,
              nacq - a0, nrel - r0);
    }
    unsigned long a0 = nacq, r0 = nrel;
    MStats m;
    gc_stats(&m);
    CHECK(nacq == a0 + 1 && nrel == r0 + 1, "ReadMemStats: %lu acquires, %lu releases", nacq - a0, nrel - r0);

    /* Allocation-triggered collections go through the semaphore too. */
    uint32_t gc0 = m.numgc;
    a0 = nacq;
    for (int i = 0; i < 200000; i++)
        (void)runtime_mallocgc(256, 0, FlagNoScan);
    gc_stats(&m);
    CHECK(m.numgc > gc0, "no allocation-triggered collection");
    CHECK(nacq - a0 >= m.numgc - gc0, "%lu acquires for %u triggered collections", nacq - a0 - 1,
          m.numgc - gc0);

    /* gc_acquire is called holding nothing: another thread's collection completes meanwhile. */
    gc_stats(&m);
    gc0 = m.numgc;
    __atomic_store_n(&acq_block, 1, __ATOMIC_RELEASE);
    runtime_gc(1);
    gc_stats(&m);
    CHECK(m.numgc == gc0 + 2, "expected 2 collections (helper's and ours), got %u", m.numgc - gc0);
    CHECK(nested == 0, "gc_acquire nested %lu times", nested);
    CHECK(nacq == nrel, "%lu acquires, %lu releases", nacq, nrel);

    memset(&h, 0, sizeof h);
    h.size = sizeof h;
    CHECK(gogc_set_host(&h) == 0, "empty table rejected");
}

/* ---------------------------------------------------------------- run_finalizer */

#define NFIN 200
#define OBJ_MAGIC 0x4f424a4543540000ULL

typedef struct Obj {
    uint64_t magic;
    struct Obj *ref;
} Obj;

static uintptr_t prog_obj[] = {16, GC_APTR, 8, GC_END, 0};
static uintptr_t prog_word[] = {8, GC_APTR, 0, GC_END, 0};
static GoType obj_desc;
static GoPtrType pobj_desc;
static const GoType *fin_in[1];
static GoFuncType fin_desc;

static volatile uint32_t fin_ran[NFIN];
static uint32_t nhost_calls, nbad_args, ncfin;

/* The finalizer's code; the host calls it (a real runtime would use reflect_call). */
static void obj_finalizer(Obj *o)
{
    if ((o->magic & ~0xffffULL) != OBJ_MAGIC) {
        __atomic_add_fetch(&nbad_args, 1, __ATOMIC_RELAXED);
        return;
    }
    __atomic_add_fetch(&fin_ran[o->magic & 0xffff], 1, __ATOMIC_RELAXED);
}

static FuncVal fin_fv = {(void *)obj_finalizer};
static const FuncVal *fin_cell = &fin_fv;

static void host_run_finalizer(void *ctx, const void *fn, void *obj, const void *ft, const void *ot)
{
    (void)ctx;
    __atomic_add_fetch(&nhost_calls, 1, __ATOMIC_RELAXED);
    if (fn != &fin_fv || ft != &fin_desc || ot != &pobj_desc) {
        __atomic_add_fetch(&nbad_args, 1, __ATOMIC_RELAXED);
        return;
    }
    ((void (*)(Obj *))((const FuncVal *)fn)->fn)((Obj *)obj);
}

static void c_finalizer(void *obj, void *arg)
{
    (void)obj;
    (void)arg;
    __atomic_add_fetch(&ncfin, 1, __ATOMIC_RELAXED);
}

static __attribute__((noinline)) void make_finalizable(void)
{
    for (int i = 0; i < NFIN; i++) {
        Obj *o = runtime_mallocgc(sizeof(Obj), (uintptr_t)&obj_desc, 0);
        o->magic = OBJ_MAGIC | (uint64_t)i;
        GoEface e_obj = {&pobj_desc.__common, o};
        GoEface e_fin = {&fin_desc.__common, (void *)&fin_cell};
        runtime_SetFinalizer(e_obj, e_fin);
    }
    for (int i = 0; i < 10; i++) {
        void *p = runtime_mallocgc(32, 0, 0);
        CHECK(gogc_set_finalizer(p, c_finalizer, NULL) == 0, "gogc_set_finalizer");
    }
}

static void test_run_finalizer(void)
{
    gc_init_type(&obj_desc, GO_STRUCT, sizeof(Obj), prog_obj);
    gc_init_type(&pobj_desc.__common, GO_PTR, 8, prog_word);
    pobj_desc.__element_type = &obj_desc;
    fin_in[0] = &pobj_desc.__common;
    gc_init_type(&fin_desc.__common, GO_FUNC, 8, prog_word);
    fin_desc.__in.__values = (void *)fin_in;
    fin_desc.__in.__count = 1;
    fin_desc.__in.__capacity = 1;

    GogcHost h;
    memset(&h, 0, sizeof h);
    h.size = sizeof h;
    h.run_finalizer = host_run_finalizer;
    CHECK(gogc_set_host(&h) == 0, "run_finalizer table rejected");

    make_finalizable();
    double t0 = tu_now();
    uint32_t done = 0;
    while (tu_now() - t0 < 30) {
        gc_full();
        (void)gogc_run_finalizers();
        done = 0;
        for (int i = 0; i < NFIN; i++)
            done += fin_ran[i] != 0;
        if (done >= NFIN * 9 / 10 && ncfin >= 9)
            break;
        usleep(2000);
    }
    CHECK(done >= NFIN * 9 / 10, "only %u of %d Go finalizers ran through the host", done, NFIN);
    CHECK(ncfin >= 9, "only %u of 10 C finalizers ran", ncfin);
    usleep(50 * 1000);
    uint32_t twice = 0;
    for (int i = 0; i < NFIN; i++)
        twice += fin_ran[i] > 1;
    CHECK(twice == 0, "%u finalizers ran more than once", twice);
    done = 0;
    for (int i = 0; i < NFIN; i++)
        done += fin_ran[i] != 0;
    CHECK(nbad_args == 0, "%u host calls with wrong arguments", nbad_args);
    CHECK(nhost_calls == done, "%u host calls for %u finalizers (C finalizers must not reach the host)",
          nhost_calls, done);
}

int main(void)
{
    test_registration();
    test_gc_semaphore();
    test_run_finalizer();
    return test_summary();
}
