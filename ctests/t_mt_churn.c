/*
 * t_mt_churn: threads that attach, allocate, detach and exit while others collect (issue 4).
 *
 * Background, for the whole test: two allocator threads (gogc_pthread_create) that keep a
 * small checksummed list in their locals and churn garbage, and one collector thread calling
 * runtime_gc(1) every millisecond or so; allocation (GOGC=25) triggers more collections.
 * The main thread holds a long-lived list of LONGLEN checksummed nodes (untyped blocks, some
 * with a FlagNoScan payload block) ONLY in a local, and verifies it after every wave.
 *
 * Churn: the main thread and a spawner thread (itself created with gogc_pthread_create) start
 * waves of WAVE threads until LIFETIMES thread lifetimes have run. Each thread gets a kind:
 *   0 pthread_create; gogc_thread_attach() (twice: idempotent, 0) ... gogc_thread_detach() == 0,
 *     a second detach == EINVAL, then return;
 *   1 pthread_create; gogc_thread_attach(); allocate; return WITHOUT detaching;
 *   2 pthread_create; no attach call (the first allocation attaches); pthread_exit() without
 *     detaching;
 *   3 gogc_pthread_create whose arg is a fresh heap object that nobody else references (the
 *     creator builds it in a noinline function and scrubs its stack): the thread sleeps, then
 *     checks it; it returns normally (the library detaches it);
 *   4 gogc_pthread_create; the thread detaches itself half-way (0), allocates again (attached
 *     again automatically) and returns;
 *   5 pthread_create, never allocates: gogc_thread_detach() == EINVAL; then three
 *     attach/detach pairs (0 each) and a final detach == EINVAL;
 *   6 a detached pthread (PTHREAD_CREATE_DETACHED) that allocates and exits without detaching.
 * Every allocating thread builds a small list of checksummed nodes in its locals, runs a burst
 * of garbage allocation (collections happen meanwhile) and verifies its list before exiting.
 * Results come back through a static array of counters (never heap addresses).
 */
#include "testutil.h"
#include "mt_util.h"

/* Mixed into every thread's seed: GOGC_TEST_SEED, or 0. */
static uint64_t run_seed;
#include <pthread.h>

#define LONGLEN 2000
#define LIFETIMES 500
#define WAVE 10
#define NKINDS 7

typedef struct cnode {
    struct cnode *next;
    uint64_t id;
    uint64_t check;
    uint64_t *ext; /* FlagNoScan block of ext_n words or NULL */
    uint64_t ext_n;
    uint64_t w[4];
} cnode;

static int stop_bg;
static unsigned long lifetimes_started, lifetimes_done;
static unsigned long kind_done[NKINDS];
static unsigned long detached_running;
static uint64_t id_counter = 1;

static uint64_t cnode_sum(const cnode *p)
{
    uint64_t h = mt_mix(p->id ^ p->ext_n);
    for (int i = 0; i < 4; i++)
        h = mt_mix(h ^ p->w[i]);
    for (uint64_t i = 0; i < p->ext_n; i++)
        h = mt_mix(h ^ p->ext[i]);
    return h;
}

static cnode *cnode_new(uint64_t id, cnode *next, int big)
{
    cnode *p = (id & 1) ? runtime_mal(sizeof(cnode)) : runtime_mallocgc(sizeof(cnode), 0, 0);
    p->id = id;
    p->next = next;
    for (int i = 0; i < 4; i++)
        p->w[i] = mt_mix(id * 4 + (uint64_t)i);
    if (big || id % 5 == 0) {
        p->ext_n = big ? 5000 : 1 + id % 300;
        p->ext = runtime_mallocgc(p->ext_n * 8, 0, FlagNoScan);
        for (uint64_t i = 0; i < p->ext_n; i++)
            p->ext[i] = mt_mix(id ^ (i << 20));
    }
    p->check = cnode_sum(p);
    return p;
}

/* Verify a list of n nodes; returns 1 if intact. */
static int list_ok(const cnode *p, long n, const char *who)
{
    long i = 0;
    for (; p && i <= n; p = p->next, i++) {
        int ok = p->check == cnode_sum(p);
        for (int k = 0; ok && k < 4; k++)
            ok = p->w[k] == mt_mix(p->id * 4 + (uint64_t)k);
        for (uint64_t k = 0; ok && k < p->ext_n; k++)
            ok = p->ext[k] == mt_mix(p->id ^ (k << 20));
        if (!ok) {
            CHECK(ok, "%s: node %ld (%p, id %#" PRIx64 ") corrupted (freed early?)", who, i, (const void *)p, p->id);
            return 0;
        }
    }
    CHECK(i == n, "%s: list has %ld nodes, expected %ld", who, i, n);
    return i == n;
}

static __attribute__((noinline)) cnode *build(long n, int big_every)
{
    cnode *h = NULL;
    for (long i = 0; i < n; i++) {
        uint64_t id = __atomic_fetch_add(&id_counter, 1, __ATOMIC_RELAXED);
        h = cnode_new(id, h, big_every && i % big_every == 0);
    }
    return h;
}

static void garbage(uint64_t *seed, int n)
{
    for (int i = 0; i < n; i++) {
        uint64_t r = tu_rand(seed);
        uint64_t *g = runtime_mallocgc(16 + r % 2000, 0, (r >> 20) & 1 ? FlagNoScan : 0);
        g[0] = r;
    }
}

/* The common body of an allocating churn thread. */
static void churn_body(const char *who, uint64_t seed)
{
    cnode *mine = build(40, 0);
    garbage(&seed, 300);
    sched_yield();
    garbage(&seed, 300);
    list_ok(mine, 40, who);
}

typedef struct {
    int kind;
    int idx;
} targ_t;

static void finish_kind(int kind)
{
    __atomic_add_fetch(&kind_done[kind], 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&lifetimes_done, 1, __ATOMIC_SEQ_CST);
}

static void *plain_thread(void *arg)
{
    targ_t a = *(targ_t *)arg;
    free(arg);
    char who[64];
    snprintf(who, sizeof who, "thread %d (kind %d)", a.idx, a.kind);
    uint64_t seed = mt_mix((uint64_t)a.idx ^ run_seed) | 1;
    switch (a.kind) {
    case 0: {
        int r = gogc_thread_attach();
        CHECK(r == 0, "%s: gogc_thread_attach returned %d", who, r);
        r = gogc_thread_attach();
        CHECK(r == 0, "%s: second gogc_thread_attach returned %d", who, r);
        churn_body(who, seed);
        r = gogc_thread_detach();
        CHECK(r == 0, "%s: gogc_thread_detach returned %d", who, r);
        r = gogc_thread_detach();
        CHECK(r == EINVAL, "%s: second gogc_thread_detach returned %d, expected EINVAL", who, r);
        finish_kind(0);
        return NULL;
    }
    case 1: {
        int r = gogc_thread_attach();
        CHECK(r == 0, "%s: gogc_thread_attach returned %d", who, r);
        churn_body(who, seed);
        finish_kind(1);
        return NULL; /* no detach */
    }
    case 2:
        churn_body(who, seed);
        finish_kind(2);
        pthread_exit(NULL); /* never attached explicitly, never detached */
    case 5: {
        int r = gogc_thread_detach();
        CHECK(r == EINVAL, "%s: detach of a never-attached thread returned %d, expected EINVAL", who, r);
        for (int k = 0; k < 3; k++) {
            r = gogc_thread_attach();
            CHECK(r == 0, "%s: attach %d returned %d", who, k, r);
            sched_yield();
            r = gogc_thread_detach();
            CHECK(r == 0, "%s: detach %d returned %d", who, k, r);
        }
        r = gogc_thread_detach();
        CHECK(r == EINVAL, "%s: final detach returned %d, expected EINVAL", who, r);
        finish_kind(5);
        return NULL;
    }
    case 6:
        churn_body(who, seed);
        finish_kind(6);
        __atomic_sub_fetch(&detached_running, 1, __ATOMIC_SEQ_CST);
        return NULL;
    }
    CHECK(0, "%s: bad kind", who);
    return NULL;
}

/* Kind 3: the argument is a heap list only this thread references. */
static void *gogc_thread_arg(void *arg)
{
    cnode *list = arg;
    uint64_t idx = list->w[0]; /* whatever; only used for the seed */
    mt_sleep_us(200 + (long)(idx % 1500));
    uint64_t seed = mt_mix(idx ^ run_seed) | 1;
    garbage(&seed, 200);
    char who[64];
    snprintf(who, sizeof who, "gogc thread (kind 3, arg %p)", (void *)list);
    list_ok(list, 30, who);
    churn_body(who, seed);
    list_ok(list, 30, who);
    finish_kind(3);
    return NULL;
}

/* Kind 4: detaches half-way, allocates again (re-attached automatically). */
static void *gogc_thread_redetach(void *arg)
{
    int idx = (int)(intptr_t)arg;
    char who[64];
    snprintf(who, sizeof who, "gogc thread %d (kind 4)", idx);
    uint64_t seed = mt_mix(((uint64_t)idx + 77) ^ run_seed) | 1;
    churn_body(who, seed);
    int r = gogc_thread_detach();
    CHECK(r == 0, "%s: detach returned %d", who, r);
    churn_body(who, seed + 1); /* attaches again through allocation */
    finish_kind(4);
    return NULL;
}

static __attribute__((noinline)) int start_kind3(pthread_t *t)
{
    cnode *arg = build(30, 7);
    int r = gogc_pthread_create(t, NULL, gogc_thread_arg, arg);
    arg = NULL;
    return r;
}

/* Start one thread of kind k; joinable threads go to *t (returns 1), detached ones return 0. */
static int start_one(int kind, int idx, pthread_t *t)
{
    int r;
    __atomic_add_fetch(&lifetimes_started, 1, __ATOMIC_SEQ_CST);
    switch (kind) {
    case 3:
        r = start_kind3(t);
        mt_scrub_stack();
        CHECK(r == 0, "gogc_pthread_create: %d", r);
        return r == 0;
    case 4:
        r = gogc_pthread_create(t, NULL, gogc_thread_redetach, (void *)(intptr_t)idx);
        CHECK(r == 0, "gogc_pthread_create: %d", r);
        return r == 0;
    case 6: {
        targ_t *a = malloc(sizeof *a);
        a->kind = kind;
        a->idx = idx;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        __atomic_add_fetch(&detached_running, 1, __ATOMIC_SEQ_CST);
        r = pthread_create(t, &attr, plain_thread, a);
        pthread_attr_destroy(&attr);
        CHECK(r == 0, "pthread_create: %d", r);
        if (r != 0)
            __atomic_sub_fetch(&detached_running, 1, __ATOMIC_SEQ_CST);
        return 0;
    }
    default: {
        targ_t *a = malloc(sizeof *a);
        a->kind = kind;
        a->idx = idx;
        r = pthread_create(t, NULL, plain_thread, a);
        CHECK(r == 0, "pthread_create: %d", r);
        return r == 0;
    }
    }
}

static void run_waves(int first_idx, int count, const cnode *keep, long keep_n, const char *who)
{
    for (int done = 0; done < count && !tu_failed();) {
        pthread_t t[WAVE];
        int joinable[WAVE];
        int n = count - done < WAVE ? count - done : WAVE;
        for (int i = 0; i < n; i++) {
            int idx = first_idx + done + i;
            joinable[i] = start_one(idx % NKINDS, idx, &t[i]);
        }
        for (int i = 0; i < n; i++)
            if (joinable[i])
                pthread_join(t[i], NULL);
        done += n;
        if (keep)
            list_ok(keep, keep_n, who);
    }
}

static void *spawner(void *arg)
{
    int count = (int)(intptr_t)arg;
    cnode *mine = build(200, 10);
    run_waves(100000, count, mine, 200, "spawner's list");
    list_ok(mine, 200, "spawner's list (end)");
    return NULL;
}

static void *bg_alloc(void *arg)
{
    uint64_t seed = mt_mix((uint64_t)(intptr_t)arg ^ run_seed) | 1;
    cnode *mine = build(100, 0);
    unsigned long rounds = 0;
    while (!__atomic_load_n(&stop_bg, __ATOMIC_ACQUIRE)) {
        garbage(&seed, 500);
        if (++rounds % 20 == 0) {
            if (!list_ok(mine, 100, "background allocator"))
                break;
            mine = build(100, 0);
        }
    }
    list_ok(mine, 100, "background allocator (end)");
    return NULL;
}

static void *bg_collect(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&stop_bg, __ATOMIC_ACQUIRE)) {
        runtime_gc(1);
        mt_sleep_us(1000);
    }
    return NULL;
}

int main(void)
{
    /* GOGC_TEST_SEED varies the threads' random choices (make soak); unset, it is 0: the
     * choices of the plain run. */
    const char *se = getenv("GOGC_TEST_SEED");
    run_seed = se && *se ? strtoull(se, NULL, 0) : 0;
    printf("t_mt_churn: seed %#" PRIx64 " (GOGC_TEST_SEED)\n", run_seed);
    int old = runtime_setgcpercent(25);
    uint32_t gc0 = mt_numgc();
    double t0 = tu_now();

    CHECK(gogc_thread_attach() == 0, "main: attach (already attached) must return 0");

    cnode *keep = build(LONGLEN, 50);
    mt_scrub_stack();

    pthread_t bg[3], sp;
    CHECK(gogc_pthread_create(&bg[0], NULL, bg_alloc, (void *)1) == 0, "bg 0");
    CHECK(gogc_pthread_create(&bg[1], NULL, bg_alloc, (void *)2) == 0, "bg 1");
    CHECK(gogc_pthread_create(&bg[2], NULL, bg_collect, NULL) == 0, "bg collector");

    int by_spawner = LIFETIMES * 2 / 5;
    CHECK(gogc_pthread_create(&sp, NULL, spawner, (void *)(intptr_t)by_spawner) == 0, "spawner");
    run_waves(0, LIFETIMES - by_spawner, keep, LONGLEN, "main's long-lived list");
    pthread_join(sp, NULL);
    /* Detached threads report through detached_running. */
    for (int i = 0; i < 10000 && __atomic_load_n(&detached_running, __ATOMIC_SEQ_CST); i++)
        mt_sleep_us(1000);
    CHECK(__atomic_load_n(&detached_running, __ATOMIC_SEQ_CST) == 0, "%lu detached threads still running",
          detached_running);

    __atomic_store_n(&stop_bg, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 3; i++)
        pthread_join(bg[i], NULL);

    runtime_gc(1);
    list_ok(keep, LONGLEN, "main's long-lived list (end)");
    /* Threads are gone; a collection must not try to stop them. */
    runtime_gc(1);
    list_ok(keep, LONGLEN, "main's long-lived list (after the last collection)");

    unsigned long started = __atomic_load_n(&lifetimes_started, __ATOMIC_SEQ_CST);
    unsigned long done = __atomic_load_n(&lifetimes_done, __ATOMIC_SEQ_CST);
    uint32_t ngc = mt_numgc() - gc0;
    printf("t_mt_churn: %lu thread lifetimes started, %lu finished (by kind:", started, done);
    for (int k = 0; k < NKINDS; k++)
        printf(" %lu", kind_done[k]);
    printf("), %u collections, %.1f s\n", ngc, tu_now() - t0);
    CHECK(started == LIFETIMES || tu_failed(), "started %lu lifetimes, expected %d", started, LIFETIMES);
    CHECK(done == started, "%lu of %lu threads did not finish", started - done, started);
    for (int k = 0; k < NKINDS; k++)
        CHECK(kind_done[k] >= LIFETIMES / NKINDS - 2 || tu_failed(), "kind %d ran only %lu times", k, kind_done[k]);
    CHECK(ngc >= 50, "only %u collections during the churn", ngc);
    runtime_setgcpercent(old);
    return test_summary();
}
