/*
 * t_fin: C finalizers (gogc_set_finalizer / gogc_run_finalizers; libgo-abi.md section 14.2).
 *
 *  - fatal (forked children, before the parent touches the heap): __go_free of a small or large
 *    object that has a finalizer dies with "fatal error: can't explicitly free an object with a
 *    finalizer"; after the finalizer is removed, __go_free is fine.
 *  - API: 0 for a block start (small and large); EINVAL for interior pointers (small, large),
 *    globals, stack, malloc memory, NULL and a block already freed with __go_free; EEXIST for a
 *    second set (the first finalizer stays in force, 200 objects); NULL fn removes (0, even when none is set),
 *    after which no finalizer runs; a removed finalizer can be set again.
 *  - once: 2000 objects with finalizers are not finalized while reachable (several collections);
 *    after they are dropped, >= 95% are finalized, each with its own object and argument, and no
 *    finalizer ever runs twice over further collections.
 *  - resurrection (16 objects): the finalizer stores its object into a registered root; the
 *    object, its child and its large grandchild stay intact over later collections and allocation
 *    churn, and it is never finalized again; once the roots are cleared, they are freed.
 *  - allocating finalizers: each allocates small and large objects and links them into a rooted
 *    list; they stay intact across collections.
 *  - a finalizer that collects (runtime_GC) while other finalizers of the same batch are still
 *    waiting to run: those objects (and what they reference) must still be intact when their
 *    finalizer runs.
 *  - pending (8 objects): a queued finalizer keeps its object, a referenced small object and a
 *    referenced large object alive across several collections and churn (contents checked before
 *    it runs); the heap pointer passed as the finalizer's arg is kept alive too; once the
 *    finalizers ran, the next collections free the large referents.
 *  - freeing: objects with finalizers survive the collection that queues them (large objects
 *    stay in-use spans, Frees barely moves); after the finalizers run, the next collection frees
 *    them (>= 95% of the large ones gone; Frees grows by >= 95% of the small population).
 */
#include "testutil.h"
#include "t_gc_util.h"

#define MAGIC 0x46494e414c495a45ULL /* "FINALIZE" */
#define RES_N 16                      /* resurrection population */

typedef struct Obj {
    uint64_t magic;
    uint64_t id;
    struct Obj *ref;
    void *big;
    uint64_t pad[4];
} Obj; /* 64 bytes */

/* Globals the collector must see (registered with gogc_add_roots in main). */
static struct {
    Obj **keep;             /* reachable population (phase "once") */
    Obj *res[RES_N];        /* written by the resurrecting finalizers */
    Obj *alloc_list;        /* objects allocated by finalizers */
} G;

static int global_obj[16];

/* ---------------------------------------------------------------- helpers */

static __attribute__((noinline)) Obj *new_obj(uint64_t id)
{
    Obj *o = __go_alloc(sizeof(Obj));
    o->magic = MAGIC;
    o->id = id;
    for (int i = 0; i < 4; i++)
        o->pad[i] = id * 4 + (uint64_t)i;
    return o;
}

static int obj_ok(const Obj *o, uint64_t id)
{
    if (o->magic != MAGIC || o->id != id)
        return 0;
    for (int i = 0; i < 4; i++)
        if (o->pad[i] != id * 4 + (uint64_t)i)
            return 0;
    return 1;
}

static void fill_pattern(uint64_t *p, size_t bytes, uint64_t seed)
{
    for (size_t i = 0; i < bytes / 8; i++)
        p[i] = seed ^ (i * 0x9E3779B97F4A7C15ULL);
}

static long check_pattern(const uint64_t *p, size_t bytes, uint64_t seed)
{
    for (size_t i = 0; i < bytes / 8; i++)
        if (p[i] != (seed ^ (i * 0x9E3779B97F4A7C15ULL)))
            return (long)i;
    return -1;
}

/* Allocation churn: garbage of mixed sizes that would reuse freed memory. */
static __attribute__((noinline)) void churn(size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t *p = __go_alloc(64 + (i % 7) * 32);
        p[0] = 0xdeaddeaddeaddeadULL;
        p[1] = 0xdeaddeaddeaddeadULL;
        p[2] = 0xdeaddeaddeaddeadULL;
        p[3] = 0xdeaddeaddeaddeadULL;
    }
}

/* Run queued finalizers with a clean stack below us afterwards. */
static __attribute__((noinline)) uintptr_t run_fins(void)
{
    uintptr_t n = gogc_run_finalizers();
    gc_scrub_stack();
    return n;
}

static void fin_nop(void *obj, void *arg)
{
    (void)obj;
    (void)arg;
}

/* ---------------------------------------------------------------- fatal children */

static void child_free_small_finalized(void *arg)
{
    (void)arg;
    void *p = __go_alloc(64);
    if (gogc_set_finalizer(p, fin_nop, NULL) != 0)
        _exit(3);
    __go_free(p);
}

static void child_free_large_finalized(void *arg)
{
    (void)arg;
    void *p = __go_alloc(100000);
    if (gogc_set_finalizer(p, fin_nop, NULL) != 0)
        _exit(3);
    __go_free(p);
}

static void test_fatal(void)
{
    tu_fatal_label = "__go_free of a small object with a finalizer";
    expect_fatal(child_free_small_finalized, NULL,
                 "fatal error: can't explicitly free an object with a finalizer", EXPECT_SIGNAL(SIGABRT));
    tu_fatal_label = "__go_free of a large object with a finalizer";
    expect_fatal(child_free_large_finalized, NULL,
                 "fatal error: can't explicitly free an object with a finalizer", EXPECT_SIGNAL(SIGABRT));
    tu_fatal_label = NULL;
}

/* ---------------------------------------------------------------- API: EINVAL / EEXIST / remove */

static int api_count_a, api_count_b;
static void fin_a(void *obj, void *arg)
{
    (void)obj;
    (void)arg;
    api_count_a++;
}
static void fin_b(void *obj, void *arg)
{
    (void)obj;
    (void)arg;
    api_count_b++;
}

#define API_DOUBLE_N 200

static __attribute__((noinline)) void api_setup(void)
{
    int stack_local[4] = {0};
    Obj *o = new_obj(1);
    unsigned char *big = __go_alloc(100000);
    void *m = malloc(64);

    CHECK(gogc_set_finalizer((char *)o + 8, fin_a, NULL) == EINVAL, "interior pointer (+8) not EINVAL");
    CHECK(gogc_set_finalizer((char *)o + 63, fin_a, NULL) == EINVAL, "interior pointer (+63) not EINVAL");
    CHECK(gogc_set_finalizer(big + 4096, fin_a, NULL) == EINVAL, "large interior (+4096) not EINVAL");
    CHECK(gogc_set_finalizer(big + 8, fin_a, NULL) == EINVAL, "large interior (+8) not EINVAL");
    CHECK(gogc_set_finalizer(global_obj, fin_a, NULL) == EINVAL, "global not EINVAL");
    CHECK(gogc_set_finalizer(stack_local, fin_a, NULL) == EINVAL, "stack address not EINVAL");
    CHECK(gogc_set_finalizer(m, fin_a, NULL) == EINVAL, "malloc memory not EINVAL");
    CHECK(gogc_set_finalizer(NULL, fin_a, NULL) == EINVAL, "NULL not EINVAL");
    CHECK(gogc_set_finalizer(NULL, NULL, NULL) == EINVAL, "NULL/NULL not EINVAL");
    free(m);


    /* remove when none set */
    CHECK(gogc_set_finalizer(o, NULL, NULL) == 0, "removing a finalizer that is not set");
    /* set, double set, remove, re-set, remove, then __go_free is fine */
    CHECK(gogc_set_finalizer(o, fin_a, NULL) == 0, "set on block start");
    CHECK(gogc_set_finalizer(o, fin_b, NULL) == EEXIST, "second set not EEXIST");
    CHECK(gogc_set_finalizer(o, fin_a, NULL) == EEXIST, "third set not EEXIST");
    CHECK(gogc_set_finalizer(o, NULL, NULL) == 0, "remove");
    CHECK(gogc_set_finalizer(o, NULL, NULL) == 0, "remove twice");
    CHECK(gogc_set_finalizer(o, fin_b, NULL) == 0, "set after remove");
    CHECK(gogc_set_finalizer(o, NULL, NULL) == 0, "remove again");
    __go_free(o); /* no finalizer any more: not fatal */

    CHECK(gogc_set_finalizer(big, fin_a, NULL) == 0, "set on large block start");
    CHECK(gogc_set_finalizer(big, NULL, NULL) == 0, "remove on large block");
    __go_free(big);

    /* double set on a population: the first finalizer (fin_a) stays in force, fin_b never runs */
    for (int i = 0; i < API_DOUBLE_N; i++) {
        Obj *d = new_obj(3);
        CHECK(gogc_set_finalizer(d, fin_a, NULL) == 0, "set");
        CHECK(gogc_set_finalizer(d, fin_b, NULL) == EEXIST, "double set not EEXIST");
    }

    /* Blocks already freed with __go_free are not allocated blocks. (If the library accepts one,
     * remove the record at once so that it cannot stick to the block's next owner.) */
    void *fl = __go_alloc(200000);
    __go_free(fl);
    int rc = gogc_set_finalizer(fl, fin_b, NULL);
    CHECK(rc == EINVAL, "large block freed with __go_free: %d, not EINVAL", rc);
    if (rc == 0)
        gogc_set_finalizer(fl, NULL, NULL);
    void *f = __go_alloc(64);
    __go_free(f);
    rc = gogc_set_finalizer(f, fin_b, NULL);
    CHECK(rc == EINVAL, "small block freed with __go_free: %d, not EINVAL", rc);
    if (rc == 0) {
        /* Show the consequence: the next 64-byte allocation reuses the block and inherits it. */
        Obj *n = new_obj(4);
        if (n == f)
            CHECK(gogc_set_finalizer(n, fin_a, NULL) == 0,
                  "a fresh allocation reusing that block already has the stale finalizer (EEXIST)");
        gogc_set_finalizer(f, NULL, NULL);
    }
}

/* Removed finalizers on a population: none of them run. */
static int rm_ran;
static void fin_rm(void *obj, void *arg)
{
    (void)obj;
    (void)arg;
    rm_ran++;
}

static __attribute__((noinline)) void rm_population(int n)
{
    for (int i = 0; i < n; i++) {
        Obj *o = new_obj((uint64_t)i);
        CHECK(gogc_set_finalizer(o, fin_rm, NULL) == 0, "set %d", i);
        CHECK(gogc_set_finalizer(o, NULL, NULL) == 0, "remove %d", i);
    }
}

static void test_api(void)
{
    run_fins();
    api_count_a = api_count_b = 0;
    api_setup();
    rm_population(1000);
    for (int i = 0; i < 3; i++) {
        gc_full();
        run_fins();
    }
    CHECK(api_count_b == 0, "a removed or rejected (EEXIST) finalizer ran %d times", api_count_b);
    CHECK(api_count_a * 100 >= API_DOUBLE_N * 95 && api_count_a <= API_DOUBLE_N,
          "the first finalizers of %d double-set objects ran %d times", API_DOUBLE_N, api_count_a);
    CHECK(rm_ran == 0, "%d removed finalizers ran", rm_ran);
}

/* ---------------------------------------------------------------- once per object */

#define ONCE_N 2000
static uint64_t *once_addr; /* gc_hide values */
static int *once_count;
static int once_bad_obj, once_total;

static void fin_once(void *obj, void *arg)
{
    uintptr_t id = (uintptr_t)arg - 1;
    once_total++;
    if (id >= ONCE_N) {
        once_bad_obj++;
        return;
    }
    once_count[id]++;
    Obj *o = obj;
    if (once_addr[id] != gc_hide(o) || !obj_ok(o, id))
        once_bad_obj++;
}

static __attribute__((noinline)) void once_build(void)
{
    G.keep = __go_alloc(ONCE_N * sizeof(Obj *));
    for (int i = 0; i < ONCE_N; i++) {
        Obj *o = new_obj((uint64_t)i);
        int rc = gogc_set_finalizer(o, fin_once, (void *)(uintptr_t)(i + 1));
        CHECK(rc == 0, "set_finalizer %d -> %d", i, rc);
        once_addr[i] = gc_hide(o);
        G.keep[i] = o;
    }
}

static __attribute__((noinline)) int once_intact(void)
{
    int intact = 0;
    for (int i = 0; i < ONCE_N; i++)
        intact += obj_ok(G.keep[i], (uint64_t)i);
    return intact;
}

static __attribute__((noinline)) void once_drop(void)
{
    G.keep = NULL;
}

static void test_once(void)
{
    once_addr = calloc(ONCE_N, sizeof *once_addr);
    once_count = calloc(ONCE_N, sizeof *once_count);
    run_fins();
    once_build();
    for (int round = 0; round < 3; round++) {
        gc_full();
        churn(2000);
        uintptr_t ran = run_fins();
        CHECK(ran == 0, "round %d: %zu finalizers ran while every object was reachable", round, (size_t)ran);
    }
    CHECK(once_total == 0, "%d finalizers of reachable objects ran", once_total);
    int intact = once_intact(); /* (a helper: no copy of G.keep may stay in this frame) */
    CHECK(intact == ONCE_N, "only %d of %d reachable finalizable objects intact", intact, ONCE_N);

    once_drop();
    gc_full();
    uintptr_t ran = run_fins();
    gc_full();
    ran += run_fins();
    int done = 0, twice = 0;
    for (int i = 0; i < ONCE_N; i++) {
        done += once_count[i] >= 1;
        twice += once_count[i] > 1;
    }
    printf("once: %zu finalizers ran after drop (%d distinct of %d)\n", (size_t)ran, done, ONCE_N);
    CHECK(done * 100 >= ONCE_N * 95, "only %d of %d unreachable objects were finalized", done, ONCE_N);
    CHECK(twice == 0, "%d objects finalized more than once", twice);
    CHECK(once_bad_obj == 0, "%d finalizers got a wrong or damaged object/arg", once_bad_obj);
    CHECK(once_total == done, "%d finalizer calls for %d finalized objects", once_total, done);

    /* Later collections never run them again. */
    for (int round = 0; round < 4; round++) {
        churn(5000);
        gc_full();
        run_fins();
    }
    twice = 0;
    int done2 = 0;
    for (int i = 0; i < ONCE_N; i++) {
        twice += once_count[i] > 1;
        done2 += once_count[i] >= 1;
    }
    CHECK(twice == 0, "%d objects finalized more than once after more collections", twice);
    CHECK(once_bad_obj == 0, "%d finalizers got a wrong or damaged object/arg", once_bad_obj);
    printf("once: %d distinct finalized after 4 more collections\n", done2);
}

/* ---------------------------------------------------------------- resurrection */

/* RES_N objects, each with a child and a large grandchild; the finalizer stores the object into
 * G.res[id]. A population, so that one object kept alive by a stale stack word cannot fail the
 * test: every resurrected object is checked, and >= RES_N - 2 must be resurrected. */
#define RES_BIG 100000
static int res_count[RES_N];
static int res_bad_arg;
static uint64_t res_big_h[RES_N];

static void fin_resurrect(void *obj, void *arg)
{
    Obj *o = obj;
    uintptr_t id = (uintptr_t)arg - 1;
    if (id >= RES_N || o->id != id) {
        res_bad_arg++;
        return;
    }
    res_count[id]++;
    G.res[id] = o;
}

static __attribute__((noinline)) void res_build(void)
{
    for (int i = 0; i < RES_N; i++) {
        Obj *o = new_obj((uint64_t)i);
        Obj *child = new_obj((uint64_t)i + 1000);
        uint64_t *big = __go_alloc(RES_BIG);
        fill_pattern(big, RES_BIG, 0x5151 + (uint64_t)i);
        child->big = big;
        o->ref = child;
        CHECK(gogc_set_finalizer(o, fin_resurrect, (void *)(uintptr_t)(i + 1)) == 0, "set %d", i);
        res_big_h[i] = gc_hide(big);
    }
}

/* Checks every resurrected object; returns how many are resurrected. */
static __attribute__((noinline)) int res_check(const char *when)
{
    int n = 0;
    for (int i = 0; i < RES_N; i++) {
        Obj *o = G.res[i];
        if (!o)
            continue;
        n++;
        if (!obj_ok(o, (uint64_t)i)) {
            CHECK(0, "%s: resurrected object %d damaged (magic %#" PRIx64 " id %" PRIu64 ")", when, i, o->magic,
                  o->id);
            continue;
        }
        Obj *c = o->ref;
        if (!c || !obj_ok(c, (uint64_t)i + 1000)) {
            CHECK(0, "%s: resurrected object %d's child damaged", when, i);
            continue;
        }
        CHECK((uint64_t)gc_hide(c->big) == res_big_h[i], "%s: object %d's grandchild pointer changed", when, i);
        if (!gc_large_live(c->big)) {
            CHECK(0, "%s: resurrected object %d's large grandchild was freed", when, i);
            continue;
        }
        long bad = check_pattern(c->big, RES_BIG, 0x5151 + (uint64_t)i);
        CHECK(bad < 0, "%s: resurrected object %d's large grandchild damaged at word %ld", when, i, bad);
    }
    return n;
}

static __attribute__((noinline)) void res_clear(void)
{
    memset(G.res, 0, sizeof G.res);
}

static void test_resurrection(void)
{
    run_fins();
    res_build();
    gc_full();
    run_fins();
    int n = res_check("right after the finalizers");
    CHECK(n >= RES_N - 2, "only %d of %d objects resurrected after one collection", n, RES_N);
    CHECK(res_bad_arg == 0, "%d resurrecting finalizers got a wrong object/arg", res_bad_arg);
    char when[64];
    for (int round = 0; round < 5; round++) {
        churn(20000);
        gc_full();
        run_fins();
        snprintf(when, sizeof when, "after collection %d", round + 1);
        res_check(when);
    }
    int twice = 0;
    for (int i = 0; i < RES_N; i++)
        twice += res_count[i] > 1;
    CHECK(twice == 0, "%d resurrected objects finalized again", twice);
    /* Drop them: no finalizer any more, so they are simply freed. */
    res_clear();
    gc_full();
    gc_full();
    run_fins();
    int live = 0;
    twice = 0;
    for (int i = 0; i < RES_N; i++) {
        live += gc_large_live(gc_unhide(res_big_h[i]));
        twice += res_count[i] > 1;
    }
    CHECK(live <= 2, "%d of %d large grandchildren of dropped resurrected objects still allocated", live, RES_N);
    CHECK(twice == 0, "%d resurrected objects finalized again after the drop", twice);
}

/* ---------------------------------------------------------------- allocating finalizers */

#define ALLOC_N 1000
static int alloc_ran;

static void fin_alloc(void *obj, void *arg)
{
    (void)arg;
    Obj *o = obj;
    Obj *n = new_obj(o->id + 100000);
    if (o->id % 50 == 0) {
        uint64_t *big = __go_alloc(50000);
        fill_pattern(big, 50000, o->id);
        n->big = big;
    }
    n->ref = G.alloc_list;
    G.alloc_list = n;
    alloc_ran++;
}

static __attribute__((noinline)) void alloc_build(void)
{
    for (int i = 0; i < ALLOC_N; i++) {
        Obj *o = new_obj((uint64_t)i);
        CHECK(gogc_set_finalizer(o, fin_alloc, NULL) == 0, "set %d", i);
    }
}

static __attribute__((noinline)) int alloc_verify(int *count)
{
    int bad = 0, n = 0;
    for (Obj *p = G.alloc_list; p; p = p->ref) {
        n++;
        if (p->magic != MAGIC || p->id < 100000 || p->id >= 100000 + ALLOC_N || !obj_ok(p, p->id)) {
            bad++;
            break;
        }
        uint64_t id = p->id - 100000;
        if (id % 50 == 0) {
            if (!p->big || check_pattern(p->big, 50000, id) >= 0)
                bad++;
        }
    }
    *count = n;
    return bad;
}

static void test_alloc(void)
{
    run_fins();
    alloc_build();
    gc_full();
    run_fins();
    gc_full();
    run_fins();
    CHECK(alloc_ran * 100 >= ALLOC_N * 95, "only %d of %d allocating finalizers ran", alloc_ran, ALLOC_N);
    int n = 0;
    for (int round = 0; round < 3; round++) {
        gc_full();
        churn(10000);
        int bad = alloc_verify(&n);
        CHECK(bad == 0, "round %d: %d objects allocated by finalizers damaged", round, bad);
        CHECK(n == alloc_ran, "round %d: list has %d objects, %d finalizers ran", round, n, alloc_ran);
    }
    G.alloc_list = NULL;
    printf("alloc: %d allocating finalizers ran\n", alloc_ran);
}

/* ---------------------------------------------------------------- collecting inside a batch */

#define BATCH_N 64
#define BATCH_BIG 40000
static int batch_ran, batch_collected, batch_bad, batch_big_dead;

static void fin_batch(void *obj, void *arg)
{
    uintptr_t id = (uintptr_t)arg - 1;
    Obj *o = obj;
    batch_ran++;
    if (!obj_ok(o, id) || !o->ref || !obj_ok(o->ref, id + 1000)) {
        batch_bad++;
    } else if (!gc_large_live(o->big)) {
        batch_big_dead++;
    } else if (check_pattern(o->big, BATCH_BIG, id) >= 0) {
        batch_bad++;
    }
    if (!batch_collected) {
        batch_collected = 1;
        gc_full(); /* the rest of this batch is still waiting to run */
        churn(20000);
    }
}

static __attribute__((noinline)) void batch_build(void)
{
    for (int i = 0; i < BATCH_N; i++) {
        Obj *o = new_obj((uint64_t)i);
        o->ref = new_obj((uint64_t)i + 1000);
        o->big = __go_alloc(BATCH_BIG);
        fill_pattern(o->big, BATCH_BIG, (uint64_t)i);
        CHECK(gogc_set_finalizer(o, fin_batch, (void *)(uintptr_t)(i + 1)) == 0, "set %d", i);
    }
}

static void test_collect_in_batch(void)
{
    run_fins();
    batch_build();
    gc_full();
    uintptr_t ran = run_fins();
    gc_full();
    ran += run_fins();
    printf("batch: %zu ran, %d damaged, %d with their large referent freed\n", (size_t)ran, batch_bad,
           batch_big_dead);
    CHECK(batch_ran * 100 >= BATCH_N * 90, "only %d of %d finalizers ran", batch_ran, BATCH_N);
    CHECK(batch_bad == 0 && batch_big_dead == 0,
          "a collection run by a finalizer freed objects whose finalizers were still waiting in the same "
          "batch: %d objects damaged, %d large referents freed, of %d",
          batch_bad, batch_big_dead, batch_ran);
}

/* ---------------------------------------------------------------- pending keeps alive */

/* PEND_N objects, each referencing a small and a large object, with a heap object as the
 * finalizer's arg. While queued (not run), everything must stay intact over collections. */
#define PEND_N 8
#define PEND_SMALL 4096
#define PEND_BIG 300000
static uint64_t pend_obj_h[PEND_N], pend_small_h[PEND_N], pend_big_h[PEND_N], pend_arg_h[PEND_N];
static int pend_ran[PEND_N], pend_bad_in_fin;

static void fin_pending(void *obj, void *arg)
{
    Obj *o = obj;
    uint64_t i = o->id - 500;
    if (i >= PEND_N) {
        pend_bad_in_fin++;
        return;
    }
    pend_ran[i]++;
    int ok = obj_ok(o, 500 + i) && o->ref && check_pattern((uint64_t *)o->ref, PEND_SMALL, 11 + i) < 0 &&
             o->big && check_pattern(o->big, PEND_BIG, 22 + i) < 0;
    ok = ok && arg && (uint64_t)gc_hide(arg) == pend_arg_h[i] && check_pattern(arg, 256, 33 + i) < 0;
    if (!ok)
        pend_bad_in_fin++;
}

static __attribute__((noinline)) void pend_build(void)
{
    for (uint64_t i = 0; i < PEND_N; i++) {
        Obj *o = new_obj(500 + i);
        uint64_t *s = __go_alloc(PEND_SMALL);
        fill_pattern(s, PEND_SMALL, 11 + i);
        uint64_t *b = __go_alloc(PEND_BIG);
        fill_pattern(b, PEND_BIG, 22 + i);
        uint64_t *a = __go_alloc(256);
        fill_pattern(a, 256, 33 + i);
        o->ref = (Obj *)s;
        o->big = b;
        CHECK(gogc_set_finalizer(o, fin_pending, a) == 0, "set");
        pend_obj_h[i] = gc_hide(o);
        pend_small_h[i] = gc_hide(s);
        pend_big_h[i] = gc_hide(b);
        pend_arg_h[i] = gc_hide(a);
    }
}

static __attribute__((noinline)) void pend_check(const char *when)
{
    for (uint64_t i = 0; i < PEND_N; i++) {
        Obj *o = gc_unhide(pend_obj_h[i]);
        uint64_t *s = gc_unhide(pend_small_h[i]), *b = gc_unhide(pend_big_h[i]), *a = gc_unhide(pend_arg_h[i]);
        if (!gc_large_live(b)) {
            CHECK(0, "%s: large referent of pending finalizable object %d was freed", when, (int)i);
            continue;
        }
        CHECK(obj_ok(o, 500 + i), "%s: pending finalizable object %d damaged", when, (int)i);
        CHECK(o->ref == (Obj *)s && o->big == b, "%s: pending object %d's pointers changed", when, (int)i);
        long bad = check_pattern(s, PEND_SMALL, 11 + i);
        CHECK(bad < 0, "%s: object %d's small referent damaged at word %ld", when, (int)i, bad);
        bad = check_pattern(b, PEND_BIG, 22 + i);
        CHECK(bad < 0, "%s: object %d's large referent damaged at word %ld", when, (int)i, bad);
        bad = check_pattern(a, 256, 33 + i);
        CHECK(bad < 0, "%s: object %d's finalizer arg (heap) damaged at word %ld", when, (int)i, bad);
    }
}

static void test_pending(void)
{
    run_fins();
    pend_build();
    /* The first collection finds them unreachable and queues them; their referents and the
     * finalizer args are reachable only through the finalizer records / the queue. */
    gc_full();
    char when[64];
    for (int round = 0; round < 5; round++) {
        churn(20000);
        gc_full();
        snprintf(when, sizeof when, "pending, collection %d", round + 1);
        pend_check(when);
    }
    int ran = 0;
    for (int i = 0; i < PEND_N; i++)
        ran += pend_ran[i];
    CHECK(ran == 0, "%d finalizers ran without gogc_run_finalizers", ran);
    run_fins();
    int once = 0, twice = 0;
    for (int i = 0; i < PEND_N; i++) {
        once += pend_ran[i] == 1;
        twice += pend_ran[i] > 1;
    }
    CHECK(once >= PEND_N - 2 && twice == 0, "pending finalizers: %d of %d ran once, %d more than once", once, PEND_N,
          twice);
    CHECK(pend_bad_in_fin == 0, "%d finalizers saw damaged contents", pend_bad_in_fin);
    gc_full();
    gc_full();
    int live = 0;
    for (int i = 0; i < PEND_N; i++)
        live += gc_large_live(gc_unhide(pend_big_h[i]));
    CHECK(live <= 2, "%d of %d large referents still allocated after their finalizers ran", live, PEND_N);
}

/* ---------------------------------------------------------------- freed one cycle later */

#define FREE_BIG_N 300
#define FREE_BIG_SZ 40000
#define FREE_SMALL_N 4000
static uint64_t *free_big_h;
static int free_ran;

static void fin_count(void *obj, void *arg)
{
    (void)obj;
    (void)arg;
    free_ran++;
}

static __attribute__((noinline)) void free_build(void)
{
    for (int i = 0; i < FREE_BIG_N; i++) {
        void *p = __go_alloc(FREE_BIG_SZ);
        CHECK(gogc_set_finalizer(p, fin_count, NULL) == 0, "set big %d", i);
        free_big_h[i] = gc_hide(p);
    }
    for (int i = 0; i < FREE_SMALL_N; i++) {
        Obj *o = new_obj((uint64_t)i);
        CHECK(gogc_set_finalizer(o, fin_count, NULL) == 0, "set small %d", i);
    }
}

static int free_count_live(void)
{
    int n = 0;
    for (int i = 0; i < FREE_BIG_N; i++)
        n += gc_large_live(gc_unhide(free_big_h[i]));
    return n;
}

static void test_freed_later(void)
{
    free_big_h = calloc(FREE_BIG_N, sizeof *free_big_h);
    run_fins();
    gc_full();
    gc_full();
    free_build();
    MStats m0, m1, m2, m3;
    gc_stats(&m0);
    gc_full(); /* queues the finalizers; nothing is freed */
    gc_stats(&m1);
    int live1 = free_count_live();
    CHECK(live1 == FREE_BIG_N, "%d of %d large finalizable objects freed by the collection that queued them",
          FREE_BIG_N - live1, FREE_BIG_N);
    uint64_t d1 = m1.nfree - m0.nfree;
    CHECK(d1 < (FREE_BIG_N + FREE_SMALL_N) / 20, "Frees grew by %" PRIu64 " in the queueing collection", d1);
    gc_full(); /* still queued: still not freed */
    int live1b = free_count_live();
    CHECK(live1b == FREE_BIG_N, "%d large objects with queued finalizers freed by a second collection",
          FREE_BIG_N - live1b);
    gc_stats(&m2);
    uintptr_t ran = run_fins();
    CHECK(free_ran * 100 >= (FREE_BIG_N + FREE_SMALL_N) * 95, "only %d of %d finalizers ran (%zu)", free_ran,
          FREE_BIG_N + FREE_SMALL_N, (size_t)ran);
    gc_full();
    gc_stats(&m3);
    int live3 = free_count_live();
    uint64_t d3 = m3.nfree - m2.nfree;
    printf("freed-later: Frees +%" PRIu64 " (queueing GC), +%" PRIu64 " (after finalizers); large live %d -> %d\n",
           d1, d3, live1, live3);
    CHECK(live3 * 100 <= FREE_BIG_N * 5, "%d of %d large objects still allocated after their finalizers ran",
          live3, FREE_BIG_N);
    CHECK(d3 * 100 >= (uint64_t)(FREE_BIG_N + FREE_SMALL_N) * 95,
          "Frees grew by only %" PRIu64 " after %d finalized objects became garbage", d3,
          FREE_BIG_N + FREE_SMALL_N);
    CHECK(m3.heap_objects + d3 <= m2.heap_objects + 100, "HeapObjects did not drop (%" PRIu64 " -> %" PRIu64 ")",
          m2.heap_objects, m3.heap_objects);
}

/* ---------------------------------------------------------------- main */

int main(void)
{
    test_fatal(); /* forked children first, before this process starts any library thread */
    gogc_add_roots(&G, &G + 1);

    double t0 = tu_now();
    test_api();
    test_once();
    test_resurrection();
    test_alloc();
    test_pending();
    test_freed_later();
    test_collect_in_batch();
    printf("t_fin: %.2f s\n", tu_now() - t0);
    return test_summary();
}
