/*
 * t_memstats: MemStats, readGCStats, freeOSMemory, the sync.Pool cleanup hook and the GODEBUG
 * knobs that change collection counts (libgo-abi.md sections 11.9, 13.3, 13.4, 13.6, 13.7, 15).
 *
 *  - readGCStats with a capacity under 259 is fatal ("fatal error: runtime: short slice passed
 *    to readGCStats"; forked children, before the parent starts any library thread).
 *  - Sizeof_C_MStats is 5776 and ReadMemStats writes exactly that prefix (the 6 last by_size
 *    rows of the C struct are left alone).
 *  - before any collection readGCStats gives len 3: {last_gc 0, numgc 0, pause_total 0}.
 *  - a workload of ~450 rounds (mixed small/tiny/large allocations, a replaced live set, explicit
 *    runtime_GC / runtime_gc(1) and allocation-triggered collections; more than 256 GCs so the
 *    pause ring wraps) checks after every round: Mallocs - Frees == HeapObjects, Alloc ==
 *    HeapAlloc, Sys == the sum of the *Sys fields, HeapIdle + HeapInuse == HeapSys, HeapAlloc <=
 *    HeapInuse, HeapReleased <= HeapIdle, MSpanInuse <= MSpanSys, MCacheInuse <= MCacheSys,
 *    TotalAlloc >= Alloc, Mallocs/Frees/TotalAlloc/NumGC/PauseTotalNs never decrease, every new
 *    pause_ns[(k-1)%256] > 0, pause_end non-decreasing and within the test's wall-clock span,
 *    LastGC == the newest pause_end, PauseTotalNs grows by exactly the new pauses, by_size sizes
 *    match the class table, by_size nmalloc >= nfree and their sums stay within Mallocs/Frees,
 *    EnableGC set; the live set stays intact. (Under GODEBUG=stress, 120 rounds
 *    without the test's own garbage bursts: allocation collects by itself.)
 *  - runtime_updatememstats(NULL) leaves runtime.memStats with the same invariants.
 *  - snapshot: up to 20000 ReadMemStats (3 s at most) while another attached thread allocates
 *    and the background sweeper runs: every snapshot satisfies Alloc == HeapAlloc, Mallocs -
 *    Frees == HeapObjects, Sys == sum, HeapIdle + HeapInuse == HeapSys.
 *  - exact counting: 1000 allocations of class 3072 raise Mallocs, by_size[3072].nmalloc and
 *    HeapObjects by 1000 and TotalAlloc/HeapAlloc by 1000*3072 (skipped if a collection ran
 *    meanwhile, as under GODEBUG=stress); kept alive over a collection they
 *    are not freed; dropped, Frees and by_size nfree grow by >= 95%.
 *  - readGCStats after > 256 collections: len 259, newest pause first
 *    (p[i] == pause_ns[(numgc-1-i)%256]), then last_gc, numgc, pause_total_ns; capacity and the
 *    rest of the buffer untouched; a capacity of exactly 259 is accepted.
 *  - sync.runtime_registerPoolCleanup: the hook runs once per collection (explicit and
 *    allocation-triggered), with the FuncVal in the static chain register (x86-64), and before
 *    marking: a rooted pointer it clears no longer keeps its (large) object alive in that same
 *    collection.
 *  - freeOSMemory: after 256 MB of 64 KiB blocks are dropped, it lowers RSS by >= 150 MB, makes
 *    HeapReleased >= 150 MB (<= HeapIdle), and NextGC stays >= HEAP_MINIMUM; reusing released
 *    memory gives zeroed blocks and lowers HeapReleased.
 *  - children (fresh exec, GODEBUG set): gctrace=1 prints well-formed "gc..." lines whose fields
 *    agree with MemStats, and freeOSMemory prints "scvg-1: ... MB released" and the
 *    "scvg-1: inuse: ..." line; gctrace=2 makes each runtime_GC / runtime_gc(1) add 2 to NumGC;
 *    stress=65536 makes >= 100 collections happen over 8 MB of allocation with no explicit call
 *    (vs a handful without it), keeping a live set intact.
 */
#include "testutil.h"
#include "t_gc_util.h"
#include <pthread.h>

/* ---------------------------------------------------------------- globals and helpers */

#define LIVE_SLOTS 4096
static struct {
    void **live;      /* LIVE_SLOTS entries */
    void *pool_obj;   /* cleared by the pool hook when armed */
} G;

static uint64_t *live_tag; /* tag written into each live object (not a pointer) */

/* Set when GODEBUG asks for stress collections (run_knobs.sh): allocation then collects every
 * few KB by itself, so the test skips its own garbage bursts. */
static int stress_mode;

static int godebug_stress(void)
{
    const char *g = getenv("GODEBUG");
    const char *s = g ? strstr(g, "stress=") : NULL;
    return s && atol(s + 7) > 0;
}

static uint64_t unix_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &size, &res) != 2)
        res = -1;
    fclose(f);
    return res * sysconf(_SC_PAGESIZE);
}

static int class_of_size(uintptr_t size)
{
    for (int c = 1; c < 67; c++)
        if (tu_class_size[c] == size)
            return c;
    return -1;
}

/* ---------------------------------------------------------------- pool cleanup hook */

/* Entry point that records the static chain register, then continues in C. */
void *pool_chain_seen;
unsigned long pool_calls;
int pool_armed;
void pool_hook_entry(void);
void pool_hook_c(void);

void pool_hook_c(void)
{
    pool_calls++;
    if (pool_armed) {
        G.pool_obj = NULL;
        pool_armed = 0;
    }
}

#if defined(__x86_64__)
__asm__(".text\n"
        ".globl pool_hook_entry\n"
        ".type pool_hook_entry,@function\n"
        "pool_hook_entry:\n"
        "\tmovq %r10, pool_chain_seen(%rip)\n"
        "\tjmp pool_hook_c\n"
        ".size pool_hook_entry, .-pool_hook_entry\n");
#define HAVE_CHAIN_CHECK 1
#else
void pool_hook_entry(void)
{
    pool_hook_c();
}
#define HAVE_CHAIN_CHECK 0
#endif

static const FuncVal pool_fv = {pool_hook_entry};

/* ---------------------------------------------------------------- invariants */

typedef struct {
    int have;
    MStats m;
    uint64_t last_end; /* newest pause_end seen */
    uint64_t t_start;  /* unix ns when the checks began */
} Track;

static void check_invariants(const MStats *m, const char *when)
{
    CHECK(m->nmalloc - m->nfree == m->heap_objects, "%s: Mallocs %" PRIu64 " - Frees %" PRIu64 " != HeapObjects %" PRIu64,
          when, m->nmalloc, m->nfree, m->heap_objects);
    CHECK(m->nmalloc >= m->nfree, "%s: Mallocs < Frees", when);
    CHECK(m->alloc == m->heap_alloc, "%s: Alloc %" PRIu64 " != HeapAlloc %" PRIu64, when, m->alloc, m->heap_alloc);
    uint64_t sum = m->heap_sys + m->stacks_sys + m->mspan_sys + m->mcache_sys + m->buckhash_sys + m->gc_sys +
                   m->other_sys;
    CHECK(m->sys == sum, "%s: Sys %" PRIu64 " != sum of *Sys %" PRIu64, when, m->sys, sum);
    CHECK(m->heap_idle + m->heap_inuse == m->heap_sys,
          "%s: HeapIdle %" PRIu64 " + HeapInuse %" PRIu64 " != HeapSys %" PRIu64, when, m->heap_idle, m->heap_inuse,
          m->heap_sys);
    CHECK(m->heap_alloc <= m->heap_inuse, "%s: HeapAlloc %" PRIu64 " > HeapInuse %" PRIu64, when, m->heap_alloc,
          m->heap_inuse);
    CHECK(m->heap_released <= m->heap_idle, "%s: HeapReleased %" PRIu64 " > HeapIdle %" PRIu64, when,
          m->heap_released, m->heap_idle);
    CHECK(m->mspan_inuse <= m->mspan_sys, "%s: MSpanInuse > MSpanSys", when);
    CHECK(m->mcache_inuse <= m->mcache_sys, "%s: MCacheInuse > MCacheSys", when);
    CHECK(m->total_alloc >= m->alloc, "%s: TotalAlloc %" PRIu64 " < Alloc %" PRIu64, when, m->total_alloc, m->alloc);
    CHECK(m->stacks_inuse == 0, "%s: StackInuse %" PRIu64 " (always 0 here)", when, m->stacks_inuse);
    CHECK(m->enablegc, "%s: EnableGC not set", when);
    uint64_t sm = 0, sf = 0;
    for (int c = 0; c < 61; c++) {
        CHECK(m->by_size[c].size == tu_class_size[c], "%s: by_size[%d].size %u != %zu", when, c, m->by_size[c].size,
              (size_t)tu_class_size[c]);
        CHECK(m->by_size[c].nmalloc >= m->by_size[c].nfree, "%s: by_size[%d] nmalloc %" PRIu64 " < nfree %" PRIu64,
              when, c, m->by_size[c].nmalloc, m->by_size[c].nfree);
        sm += m->by_size[c].nmalloc;
        sf += m->by_size[c].nfree;
    }
    CHECK(sm <= m->nmalloc, "%s: sum of by_size nmalloc %" PRIu64 " > Mallocs %" PRIu64, when, sm, m->nmalloc);
    CHECK(sf <= m->nfree, "%s: sum of by_size nfree %" PRIu64 " > Frees %" PRIu64, when, sf, m->nfree);
    if (m->numgc > 0) {
        CHECK(m->last_gc == m->pause_end[(m->numgc - 1) % 256], "%s: LastGC %" PRIu64 " != newest PauseEnd %" PRIu64,
              when, m->last_gc, m->pause_end[(m->numgc - 1) % 256]);
    }
}

/* Check a new snapshot against the previous one: monotonic counters and every new pause. */
static void check_progress(Track *t, const MStats *m, const char *when)
{
    check_invariants(m, when);
    uint64_t now = unix_ns();
    if (t->have) {
        const MStats *p = &t->m;
        CHECK(m->numgc >= p->numgc, "%s: NumGC went back %u -> %u", when, p->numgc, m->numgc);
        CHECK(m->nmalloc >= p->nmalloc, "%s: Mallocs went back", when);
        CHECK(m->nfree >= p->nfree, "%s: Frees went back", when);
        CHECK(m->total_alloc >= p->total_alloc, "%s: TotalAlloc went back", when);
        CHECK(m->pause_total_ns >= p->pause_total_ns, "%s: PauseTotalNs went back", when);
        for (int c = 0; c < 61; c++) {
            CHECK(m->by_size[c].nmalloc >= p->by_size[c].nmalloc, "%s: by_size[%d].nmalloc went back", when, c);
            CHECK(m->by_size[c].nfree >= p->by_size[c].nfree, "%s: by_size[%d].nfree went back", when, c);
        }
        uint32_t n = m->numgc - p->numgc;
        if (n > 0 && n <= 256) {
            uint64_t sum = 0;
            for (uint32_t k = p->numgc; k < m->numgc; k++) {
                uint32_t i = k % 256;
                CHECK(m->pause_ns[i] > 0, "%s: pause_ns[%u] (GC #%u) is 0", when, i, k + 1);
                CHECK(m->pause_ns[i] < 10000000000ULL, "%s: pause_ns[%u] = %" PRIu64 " ns", when, i, m->pause_ns[i]);
                CHECK(m->pause_end[i] >= t->last_end, "%s: pause_end[%u] %" PRIu64 " < previous %" PRIu64, when, i,
                      m->pause_end[i], t->last_end);
                CHECK(m->pause_end[i] >= t->t_start && m->pause_end[i] <= now + 1000000000ULL,
                      "%s: pause_end[%u] %" PRIu64 " outside [%" PRIu64 ", %" PRIu64 "]", when, i, m->pause_end[i],
                      t->t_start, now);
                t->last_end = m->pause_end[i];
                sum += m->pause_ns[i];
            }
            CHECK(m->pause_total_ns - p->pause_total_ns == sum,
                  "%s: PauseTotalNs grew by %" PRIu64 ", the %u new pauses add up to %" PRIu64, when,
                  m->pause_total_ns - p->pause_total_ns, n, sum);
        }
    }
    t->m = *m;
    t->have = 1;
}

/* ---------------------------------------------------------------- fatal children */

static void child_short_slice(void *arg)
{
    intptr_t cap = (intptr_t)(uintptr_t)arg;
    static uint64_t buf[512];
    GoSlice s = {buf, 0, cap};
    runtime_debug_readGCStats(&s);
}

static void test_fatal(void)
{
    tu_fatal_label = "readGCStats cap 258";
    expect_fatal(child_short_slice, (void *)(uintptr_t)258, "fatal error: runtime: short slice passed to readGCStats",
                 EXPECT_SIGNAL(SIGABRT));
    tu_fatal_label = "readGCStats cap 0";
    expect_fatal(child_short_slice, (void *)(uintptr_t)0, "fatal error: runtime: short slice passed to readGCStats",
                 EXPECT_SIGNAL(SIGABRT));
    tu_fatal_label = NULL;
}

/* ---------------------------------------------------------------- layout, first readGCStats */

static void test_layout_and_first(void)
{
    CHECK(runtime_Sizeof_C_MStats == SIZEOF_C_MSTATS && SIZEOF_C_MSTATS == 5776, "Sizeof_C_MStats %zu",
          (size_t)runtime_Sizeof_C_MStats);
    static MStats m;
    memset(&m, 0xAB, sizeof m);
    runtime_ReadMemStats(&m);
    const unsigned char *tail = (const unsigned char *)&m + 5776;
    int untouched = 1;
    for (size_t i = 0; i < sizeof m - 5776; i++)
        untouched &= tail[i] == 0xAB;
    CHECK(untouched, "ReadMemStats wrote past the Go-visible 5776 bytes");
    check_invariants(&m, "first ReadMemStats");
    if (m.numgc == 0) {
        static uint64_t buf[512];
        GoSlice s = {buf, 0, 512};
        memset(buf, 0xCD, sizeof buf);
        runtime_debug_readGCStats(&s);
        CHECK(s.__count == 3, "readGCStats before any GC: len %zd, want 3", (ssize_t)s.__count);
        CHECK(buf[0] == 0 && buf[1] == 0 && buf[2] == 0,
              "readGCStats before any GC: {%" PRIu64 ", %" PRIu64 ", %" PRIu64 "}, want zeros", buf[0], buf[1], buf[2]);
        CHECK(s.__capacity == 512, "capacity changed");
        CHECK(buf[3] == 0xCDCDCDCDCDCDCDCDULL, "readGCStats wrote past its length");
    } else {
        printf("note: %u collections before main's first check; skipping the zero-GC readGCStats case\n", m.numgc);
    }
}

/* ---------------------------------------------------------------- workload with many GCs */

static __attribute__((noinline)) void *alloc_tagged(uint64_t *rng, size_t slot)
{
    uint64_t r = tu_rand(rng);
    size_t size;
    void *p;
    switch (r % 16) {
    case 0:
        size = 33000 + (r >> 8) % 60000; /* large */
        p = runtime_mallocgc(size, 0, 0);
        break;
    case 1:
    case 2:
        size = 16 + (r >> 8) % 16; /* noscan: tiny candidates go to 16-byte blocks */
        p = runtime_mallocgc(size, 0, FlagNoScan);
        break;
    default:
        size = 16 + (r >> 8) % 3000;
        p = __go_alloc(size);
        break;
    }
    uint64_t tag = (r ^ ((uint64_t)slot << 32)) | 1;
    memcpy(p, &tag, 8);
    live_tag[slot] = tag;
    return p;
}

static void test_workload(unsigned long *pool_base_calls, uint32_t *pool_base_gc)
{
    uint64_t rng = tu_seed(0x3e3e3e);
    printf("t_memstats: seed %#" PRIx64 " (GOGC_TEST_SEED)\n", rng);
    G.live = __go_alloc(LIVE_SLOTS * sizeof(void *));
    live_tag = calloc(LIVE_SLOTS, sizeof *live_tag);
    Track t = {0};
    t.t_start = unix_ns();
    MStats m;
    gc_stats(&m);
    check_progress(&t, &m, "start");
    *pool_base_calls = pool_calls;
    *pool_base_gc = m.numgc;

    /* Under GODEBUG=stress every round collects several times by itself: fewer rounds do. */
    int rounds = stress_mode ? 120 : 450, explicit_gcs = 0;
    uint32_t gc_before = m.numgc;
    char when[64];
    for (int r = 0; r < rounds && tu_failed() < 20; r++) {
        for (int i = 0; i < 64; i++) {
            size_t slot = tu_rand(&rng) % LIVE_SLOTS;
            G.live[slot] = alloc_tagged(&rng, slot);
        }
        /* garbage: sometimes a lot of it, to get allocation-triggered collections */
        size_t garbage = stress_mode ? 0 : (r % 30 == 29) ? 8000 : 50; /* 8 KB each: 64 MB bursts */
        for (size_t i = 0; i < garbage; i++) {
            uint64_t *g = runtime_mal(8192); /* __go_alloc never triggers a collection */
            g[0] = i;
        }
        switch (r % 3) {
        case 0:
            gc_full();
            explicit_gcs++;
            break;
        case 1:
            gc_force(1);
            explicit_gcs++;
            break;
        default:
            break;
        }
        gc_stats(&m);
        snprintf(when, sizeof when, "round %d (numgc %u)", r, m.numgc);
        check_progress(&t, &m, when);
    }
    /* live set intact: the first word of each live object is its tag */
    size_t bad = 0;
    for (size_t s = 0; s < LIVE_SLOTS; s++) {
        uint64_t tag;
        if (!G.live[s])
            continue;
        memcpy(&tag, G.live[s], 8);
        bad += tag != live_tag[s];
    }
    CHECK(bad == 0, "%zu live objects damaged", bad);
    uint32_t ngc = m.numgc - gc_before;
    printf("workload: %u collections (%d explicit), HeapAlloc %" PRIu64 " KB, HeapSys %" PRIu64 " KB\n", ngc,
           explicit_gcs, m.heap_alloc >> 10, m.heap_sys >> 10);
    CHECK(ngc > 256, "only %u collections: the pause ring did not wrap", ngc);
    CHECK((int)ngc > explicit_gcs, "no allocation-triggered collection (%u total, %d explicit)", ngc, explicit_gcs);
    CHECK(m.numgc > 256, "numgc %u", m.numgc);

    /* runtime_updatememstats(NULL) on the exported mstats */
    gc_full();
    runtime_updatememstats(NULL);
    check_invariants(&runtime_memStats, "runtime_memStats after runtime_updatememstats(NULL)");
    G.live = NULL;
}

/* ---------------------------------------------------------------- snapshot consistency */

/* ReadMemStats must return one consistent snapshot ("exact, world stopped") even while another
 * attached thread allocates and the background sweeper works: the copy must not be taken after
 * the world restarts. */
static volatile int snap_stop;

static __attribute__((noinline)) void snap_garbage(int n)
{
    for (int i = 0; i < n; i++) {
        uint64_t *p = runtime_mal(64 + (size_t)(i % 50) * 64);
        p[0] = (uint64_t)i;
    }
}

static void *snap_worker(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&snap_stop, __ATOMIC_RELAXED))
        snap_garbage(1000);
    return NULL;
}

static void test_snapshot_consistency(void)
{
    static MStats m;
    pthread_t th;
    snap_stop = 0;
    CHECK(gogc_pthread_create(&th, NULL, snap_worker, NULL) == 0, "gogc_pthread_create");
    int n = 0, torn_alloc = 0, torn_obj = 0, torn_sys = 0, torn_heap = 0;
    double end = tu_now() + 3;
    for (; n < 20000 && tu_now() < end; n++) {
        runtime_ReadMemStats(&m);
        torn_alloc += m.alloc != m.heap_alloc;
        torn_obj += m.nmalloc - m.nfree != m.heap_objects;
        torn_sys += m.sys != m.heap_sys + m.stacks_sys + m.mspan_sys + m.mcache_sys + m.buckhash_sys + m.gc_sys +
                                 m.other_sys;
        torn_heap += m.heap_idle + m.heap_inuse != m.heap_sys;
        if (n % 64 == 0)
            runtime_gc(1); /* keep the background sweeper busy too */
    }
    __atomic_store_n(&snap_stop, 1, __ATOMIC_RELAXED);
    pthread_join(th, NULL);
    printf("snapshot: %d ReadMemStats while another thread allocates: torn Alloc/HeapAlloc %d, "
           "Mallocs-Frees/HeapObjects %d, Sys %d, HeapIdle+HeapInuse %d\n",
           n, torn_alloc, torn_obj, torn_sys, torn_heap);
    CHECK(torn_alloc + torn_obj + torn_sys + torn_heap == 0,
          "ReadMemStats returned inconsistent snapshots while another thread allocated: of %d, Alloc != HeapAlloc "
          "in %d, Mallocs-Frees != HeapObjects in %d, Sys != sum of *Sys in %d, HeapIdle+HeapInuse != HeapSys in %d",
          n, torn_alloc, torn_obj, torn_sys, torn_heap);
}

/* ---------------------------------------------------------------- readGCStats after many GCs */

static void test_read_gc_stats(void)
{
    static uint64_t buf[600];
    static MStats m;
    gc_full();
    gc_stats(&m);
    memset(buf, 0xCD, sizeof buf);
    GoSlice s = {buf, 0, 512};
    runtime_debug_readGCStats(&s);
    uint32_t n = m.numgc < 256 ? m.numgc : 256;
    CHECK(s.__count == (intptr_t)n + 3, "len %zd, want %u", (ssize_t)s.__count, n + 3);
    CHECK(s.__capacity == 512 && s.__values == buf, "slice capacity/array changed");
    int mism = 0;
    for (uint32_t i = 0; i < n; i++)
        if (buf[i] != m.pause_ns[(m.numgc - 1 - i) % 256]) {
            if (mism++ < 3)
                CHECK(0, "p[%u] = %" PRIu64 ", want pause_ns[%u] = %" PRIu64, i, buf[i], (m.numgc - 1 - i) % 256,
                      m.pause_ns[(m.numgc - 1 - i) % 256]);
        }
    CHECK(mism == 0, "%d pause entries out of order", mism);
    CHECK(buf[n] == m.last_gc, "p[n] = %" PRIu64 ", want last_gc %" PRIu64, buf[n], m.last_gc);
    CHECK(buf[n + 1] == m.numgc, "p[n+1] = %" PRIu64 ", want numgc %u", buf[n + 1], m.numgc);
    CHECK(buf[n + 2] == m.pause_total_ns, "p[n+2] = %" PRIu64 ", want pause_total_ns %" PRIu64, buf[n + 2],
          m.pause_total_ns);
    int past = 0;
    for (size_t i = n + 3; i < 600; i++)
        past += buf[i] != 0xCDCDCDCDCDCDCDCDULL;
    CHECK(past == 0, "%d words written past len", past);
    /* capacity of exactly 259 is enough */
    GoSlice s2 = {buf, 0, 259};
    runtime_debug_readGCStats(&s2);
    CHECK(s2.__count == (intptr_t)n + 3 && s2.__capacity == 259, "cap 259: len %zd", (ssize_t)s2.__count);
}

/* ---------------------------------------------------------------- exact counts */

#define EXACT_N 1000
#define EXACT_SZ 3072

static __attribute__((noinline)) void exact_alloc(void)
{
    for (int i = 0; i < EXACT_N; i++)
        G.live[i] = runtime_mallocgc(EXACT_SZ, 0, FlagNoScan);
}

static void test_exact(void)
{
    int cl = class_of_size(EXACT_SZ);
    CHECK(cl > 0 && cl < 61, "class of %d", EXACT_SZ);
    G.live = __go_alloc(EXACT_N * sizeof(void *));
    gc_full();
    MStats a, b, c, d;
    gc_stats(&a);
    exact_alloc();
    gc_stats(&b);
    if (b.numgc != a.numgc) {
        printf("note: a collection ran during the exact-count allocation; exact checks skipped\n");
    } else {
        CHECK(b.nmalloc - a.nmalloc == EXACT_N, "Mallocs +%" PRIu64 ", want %d", b.nmalloc - a.nmalloc, EXACT_N);
        CHECK(b.by_size[cl].nmalloc - a.by_size[cl].nmalloc == EXACT_N, "by_size[%d].nmalloc +%" PRIu64, cl,
              b.by_size[cl].nmalloc - a.by_size[cl].nmalloc);
        CHECK(b.heap_objects - a.heap_objects == EXACT_N, "HeapObjects +%" PRIu64, b.heap_objects - a.heap_objects);
        CHECK(b.total_alloc - a.total_alloc == (uint64_t)EXACT_N * EXACT_SZ, "TotalAlloc +%" PRIu64,
              b.total_alloc - a.total_alloc);
        CHECK(b.heap_alloc - a.heap_alloc == (uint64_t)EXACT_N * EXACT_SZ, "HeapAlloc +%" PRIu64,
              b.heap_alloc - a.heap_alloc);
        CHECK(b.nfree == a.nfree, "Frees changed without a collection");
    }
    gc_full();
    gc_stats(&c);
    /* Under efence=1 every block is a large object of its own (no class counts it); the heap
     * is asked about each live block, and the drop is seen in Frees. */
    const int efence = tu_godebug("efence") != 0;
    if (efence) {
        int lost = 0;
        for (int i = 0; i < EXACT_N; i++)
            lost += !gc_large_live(G.live[i]);
        CHECK(lost == 0, "efence: %d of %d live %d-byte blocks freed", lost, EXACT_N, EXACT_SZ);
    } else {
        CHECK(c.by_size[cl].nfree == b.by_size[cl].nfree,
              "live objects of class %d freed (%" PRIu64 " -> %" PRIu64 ")", cl, b.by_size[cl].nfree,
              c.by_size[cl].nfree);
    }
    G.live = NULL;
    gc_full();
    gc_stats(&d);
    uint64_t fr = efence ? d.nfree - c.nfree : d.by_size[cl].nfree - c.by_size[cl].nfree;
    CHECK(fr * 100 >= EXACT_N * 95, "by_size[%d].nfree +%" PRIu64 " after dropping %d", cl, fr, EXACT_N);
    CHECK(d.nfree - c.nfree >= fr, "Frees grew less than by_size nfree");
    CHECK(c.heap_objects - d.heap_objects >= fr - 1, "HeapObjects %" PRIu64 " -> %" PRIu64, c.heap_objects,
          d.heap_objects);
}

/* ---------------------------------------------------------------- pool cleanup hook */

static uint64_t pool_h;

static __attribute__((noinline)) void pool_setup(void)
{
    void *p = __go_alloc(300000);
    G.pool_obj = p;
    pool_h = gc_hide(p);
}

static void test_pool(unsigned long base_calls, uint32_t base_gc)
{
    MStats m;
    gc_stats(&m);
    CHECK(pool_calls - base_calls == m.numgc - base_gc,
          "pool cleanup ran %lu times during %u collections of the workload", pool_calls - base_calls,
          m.numgc - base_gc);
    unsigned long c0 = pool_calls;
    uint32_t g0 = m.numgc;
    for (int i = 0; i < 10; i++)
        gc_full();
    gc_stats(&m);
    CHECK(pool_calls - c0 == 10 && m.numgc - g0 == 10, "10 runtime_GC: hook %lu calls, %u collections",
          pool_calls - c0, m.numgc - g0);
#if HAVE_CHAIN_CHECK
    CHECK(pool_chain_seen == (void *)&pool_fv, "static chain %p, want the FuncVal %p", pool_chain_seen,
          (void *)&pool_fv);
#endif
    /* before marking: a root the hook clears does not keep its object alive in that collection */
    pool_setup();
    gc_full();
    CHECK(G.pool_obj != NULL && gc_large_live(gc_unhide(pool_h)), "object freed while still rooted");
    pool_armed = 1;
    gc_full();
    CHECK(G.pool_obj == NULL, "hook did not run");
    CHECK(!gc_large_live(gc_unhide(pool_h)),
          "the object whose root the pool hook cleared survived that collection (hook ran after marking?)");
}

/* ---------------------------------------------------------------- freeOSMemory */

#define BIG_N 4096 /* x 64 KiB = 256 MB */
#define BIG_SZ (64 * 1024)

/* The population's pointers live in a malloc'd, registered array (not in a heap object), so a
 * stale stack copy of some pointer can retain at most one 64 KiB block, not all of them. */
static void **big_roots;

static __attribute__((noinline)) void big_build(int n)
{
    big_roots = calloc((size_t)n, sizeof(void *));
    gogc_add_roots(big_roots, big_roots + n);
    for (int i = 0; i < n; i++) {
        /* FlagNoInvokeGC: building the population needs no collections (GODEBUG=stress would
         * otherwise mark this growing heap thousands of times) */
        char *p = runtime_mallocgc(BIG_SZ, 0, FlagNoScan | FlagNoInvokeGC);
        for (size_t o = 0; o < BIG_SZ; o += 4096)
            p[o] = (char)(i | 1);
        big_roots[i] = p;
    }
}

static __attribute__((noinline)) void big_drop(int n)
{
    memset(big_roots, 0, (size_t)n * sizeof(void *));
}

static __attribute__((noinline)) int big_reuse(int n)
{
    int dirty = 0;
    for (int i = 0; i < n; i++) {
        char *p = runtime_mallocgc(BIG_SZ, 0, FlagNoScan);
        dirty += tu_first_nonzero(p, BIG_SZ) >= 0;
        big_roots[i] = p;
    }
    return dirty;
}

static void test_free_os_memory(void)
{
    static MStats m1, m2, m3;
    gc_full();
    big_build(BIG_N);
    gc_full();
    long r1 = rss_bytes();
    gc_stats(&m1);
    big_drop(BIG_N);
    gc_scrub_stack();
    double t0 = tu_now();
    runtime_debug_freeOSMemory();
    double t1 = tu_now();
    long r2 = rss_bytes();
    gc_stats(&m2);
    printf("freeOSMemory: RSS %ld MB -> %ld MB, HeapReleased %" PRIu64 " MB -> %" PRIu64
           " MB, HeapIdle %" PRIu64 " MB (%.3f s)\n",
           r1 >> 20, r2 >> 20, m1.heap_released >> 20, m2.heap_released >> 20, m2.heap_idle >> 20, t1 - t0);
    CHECK(r1 - r2 >= 150L << 20, "RSS dropped by only %ld MB (from %ld MB)", (r1 - r2) >> 20, r1 >> 20);
    /* Under efence=1 the dropped blocks' pages are made inaccessible, not returned to the
     * heap: they never become idle, so nothing is released (RSS still drops). */
    const int efence = tu_godebug("efence") != 0;
    CHECK(efence || m2.heap_released >= 150ULL << 20, "HeapReleased only %" PRIu64 " MB",
          m2.heap_released >> 20);
    CHECK(m2.heap_released <= m2.heap_idle, "HeapReleased > HeapIdle");
    CHECK(m2.numgc > m1.numgc, "freeOSMemory did not collect");
    /* gogc.h: HEAP_MINIMUM is the smallest collection goal (at GOGC=100). */
    CHECK(m2.next_gc >= HEAP_MINIMUM, "NextGC %" PRIu64 " after a collection that freed 256 MB: below the "
          "documented minimum goal HEAP_MINIMUM (%d)", m2.next_gc, HEAP_MINIMUM);
    check_invariants(&m2, "after freeOSMemory");
    int dirty = big_reuse(512);
    gc_stats(&m3);
    CHECK(dirty == 0, "%d reused 64 KiB blocks not zeroed", dirty);
    CHECK(efence || m3.heap_released < m2.heap_released, "HeapReleased did not drop when released memory was reused (%" PRIu64
          " -> %" PRIu64 ")", m2.heap_released, m3.heap_released);
    check_invariants(&m3, "after reusing released memory");
    big_drop(BIG_N);
}

/* ---------------------------------------------------------------- children (exec with GODEBUG) */

static void **child_live;
static size_t child_live_n;

static __attribute__((noinline)) void child_make_live(size_t n)
{
    child_live_n = n;
    child_live = calloc(n, sizeof(void *));
    gogc_add_roots(child_live, child_live + n);
    for (size_t i = 0; i < n; i++) {
        uint64_t *p = __go_alloc(64);
        p[0] = i;
        p[7] = ~i;
        child_live[i] = p;
    }
}

static size_t child_live_bad(void)
{
    size_t bad = 0;
    for (size_t i = 0; i < child_live_n; i++) {
        uint64_t *p = child_live[i];
        bad += p[0] != i || p[7] != ~i;
    }
    return bad;
}

static __attribute__((noinline)) void child_garbage(size_t bytes)
{
    for (size_t i = 0; i < bytes / 64; i++) {
        uint64_t *p = runtime_mal(64); /* __go_alloc would never trigger a collection */
        p[0] = i;
    }
}

static int child(const char *mode)
{
    MStats m0, m1, m2;
    if (!strcmp(mode, "gctrace2")) {
        gc_full();
        gc_stats(&m0);
        for (int i = 0; i < 5; i++)
            gc_full();
        gc_stats(&m1);
        gc_force(1);
        gc_stats(&m2);
        printf("RESULT gctrace2 %u %u\n", m1.numgc - m0.numgc, m2.numgc - m1.numgc);
        return 0;
    }
    if (!strcmp(mode, "stress") || !strcmp(mode, "nostress")) {
        child_make_live(4096);
        gc_stats(&m0);
        child_garbage(8 << 20);
        gc_stats(&m1);
        printf("RESULT stress %u %zu\n", m1.numgc - m0.numgc, child_live_bad());
        return 0;
    }
    if (!strcmp(mode, "scvg")) {
        big_build(512); /* 32 MB */
        gc_full();
        big_drop(512);
        gc_scrub_stack();
        runtime_debug_freeOSMemory();
        gc_stats(&m1);
        printf("RESULT scvg %u %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", m1.numgc,
               m1.heap_inuse >> 20, m1.heap_idle >> 20, m1.heap_sys >> 20, m1.heap_released >> 20, m1.nmalloc,
               m1.nfree);
        return 0;
    }
    fprintf(stderr, "unknown child mode %s\n", mode);
    return 2;
}

static int run_child(const char *mode, const char *env0, char *out, size_t cap)
{
    const char *env[] = {env0, NULL};
    int status;
    if (tu_run_self(mode, env, out, cap, &status, 60) != 0) {
        CHECK(0, "could not start child %s", mode);
        return 0;
    }
    int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    CHECK(ok, "child %s (%s) ended with status %#x:\n%.2000s", mode, env0, status, out);
    return ok;
}

/* Parses one gctrace=1 line; returns the number of fields read (21 for a full line). */
static int parse_gc_line(const char *l, unsigned long long *f)
{
    return sscanf(l,
                  "gc%llu(%llu): %llu+%llu+%llu+%llu us, %llu -> %llu MB, %llu (%llu-%llu) objects, "
                  "%llu/%llu/%llu sweeps, %llu(%llu) handoff, %llu(%llu) steal, %llu/%llu/%llu yields",
                  &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9], &f[10], &f[11], &f[12],
                  &f[13], &f[14], &f[15], &f[16], &f[17], &f[18], &f[19], &f[20]);
}

static void test_children(void)
{
    static char out[1 << 20];

    /* gctrace=2: two collections per runtime_gc */
    if (run_child("gctrace2", "GODEBUG=gctrace=2", out, sizeof out)) {
        unsigned a = 0, b = 0;
        const char *r = strstr(out, "RESULT gctrace2");
        CHECK(r && sscanf(r, "RESULT gctrace2 %u %u", &a, &b) == 2, "no result line:\n%.2000s", out);
        CHECK(a == 10, "GODEBUG=gctrace=2: 5 runtime_GC() added %u to NumGC, want 10", a);
        CHECK(b == 2, "GODEBUG=gctrace=2: runtime_gc(1) added %u to NumGC, want 2", b);
        int lines = 0;
        for (const char *l = out; (l = strstr(l, "gc")) != NULL; l++) {
            unsigned long long f[21];
            if ((l == out || l[-1] == '\n') && parse_gc_line(l, f) == 21)
                lines++;
        }
        CHECK(lines >= 14, "GODEBUG=gctrace=2: %d gc trace lines, want >= 14", lines);
    }

    /* stress=65536: collections with no explicit call */
    unsigned ns = 0, nn = 0;
    size_t bs = 1, bn = 1;
    if (run_child("stress", "GODEBUG=stress=65536", out, sizeof out)) {
        const char *r = strstr(out, "RESULT stress");
        CHECK(r && sscanf(r, "RESULT stress %u %zu", &ns, &bs) == 2, "no result line:\n%.2000s", out);
    }
    if (run_child("nostress", "GODEBUG", out, sizeof out)) {
        const char *r = strstr(out, "RESULT stress");
        CHECK(r && sscanf(r, "RESULT stress %u %zu", &nn, &bn) == 2, "no result line:\n%.2000s", out);
    }
    printf("stress: %u collections over 8 MB with GODEBUG=stress=65536, %u without\n", ns, nn);
    CHECK(ns >= 100, "GODEBUG=stress=65536: only %u collections over 8 MB of allocation", ns);
    CHECK(nn * 4 < ns, "stress=65536 (%u) does not collect much more often than the default (%u)", ns, nn);
    CHECK(bs == 0 && bn == 0, "live set damaged (%zu with stress, %zu without)", bs, bn);

    /* gctrace=1: gc lines and scvg lines */
    if (run_child("scvg", "GODEBUG=gctrace=1", out, sizeof out)) {
        unsigned long long numgc = 0, inuse = 0, idle = 0, sys = 0, rel = 0, nmalloc = 0, nfree = 0;
        const char *r = strstr(out, "RESULT scvg");
        CHECK(r && sscanf(r, "RESULT scvg %llu %llu %llu %llu %llu %llu %llu", &numgc, &inuse, &idle, &sys, &rel,
                          &nmalloc, &nfree) == 7,
              "no result line:\n%.2000s", out);
        int lines = 0, bad = 0;
        unsigned long long last[21] = {0};
        for (const char *l = out; (l = strstr(l, "gc")) != NULL; l++) {
            unsigned long long f[21];
            if (l != out && l[-1] != '\n')
                continue;
            int k = parse_gc_line(l, f);
            if (k == 21) {
                lines++;
                if (f[0] != (unsigned long long)lines || f[8] != f[9] - f[10] || f[1] < 1)
                    bad++;
                memcpy(last, f, sizeof last);
            } else if (k > 0) {
                bad++;
            }
        }
        CHECK(lines >= 1 && (unsigned long long)lines == numgc, "%d gc lines for %llu collections", lines, numgc);
        CHECK(bad == 0, "%d malformed or inconsistent gc lines:\n%.3000s", bad, out);
        /* the line is printed before that cycle's sweep: its frees are not counted yet */
        CHECK(lines == 0 || (last[9] == nmalloc && last[10] <= nfree),
              "last gc line says %llu-%llu objects, MemStats after it %llu-%llu", last[9], last[10], nmalloc, nfree);
        const char *rel_line = strstr(out, "scvg-1: ");
        unsigned long long mb = 0;
        CHECK(rel_line && sscanf(rel_line, "scvg-1: %llu MB released", &mb) == 1 && mb >= 24,
              "no \"scvg-1: N MB released\" line (N >= 24) after freeing 32 MB:\n%.3000s", out);
        const char *in_line = strstr(out, "scvg-1: inuse: ");
        unsigned long long a, b, c, d, e;
        if (in_line &&
            sscanf(in_line, "scvg-1: inuse: %llu, idle: %llu, sys: %llu, released: %llu, consumed: %llu (MB)", &a, &b,
                   &c, &d, &e) == 5) {
            CHECK(a == inuse && b == idle && c == sys && d == rel && e + 1 >= c - d && e <= c - d + 1,
                  "scvg-1 line %llu/%llu/%llu/%llu/%llu vs MemStats %llu/%llu/%llu/%llu", a, b, c, d, e, inuse, idle,
                  sys, rel);
        } else {
            CHECK(0, "no well-formed \"scvg-1: inuse: ...\" line:\n%.3000s", out);
        }
    }
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "--child"))
        return child(argv[2]);
    test_fatal(); /* forked children first, before this process starts any library thread */
    stress_mode = godebug_stress();
    gogc_add_roots(&G, &G + 1);
    test_layout_and_first();
    sync_runtime_registerPoolCleanup(&pool_fv);

    double t0 = tu_now();
    unsigned long pool_base_calls = 0;
    uint32_t pool_base_gc = 0;
    test_workload(&pool_base_calls, &pool_base_gc);
    double t1 = tu_now();
    gc_scrub_stack();
    test_snapshot_consistency();
    gc_scrub_stack();
    test_read_gc_stats();
    gc_scrub_stack();
    test_exact();
    gc_scrub_stack();
    test_pool(pool_base_calls, pool_base_gc);
    gc_scrub_stack();
    test_free_os_memory();
    double t2 = tu_now();
    test_children();
    printf("t_memstats: workload %.2f s, checks %.2f s, children %.2f s\n", t1 - t0, t2 - t1, tu_now() - t2);
    return test_summary();
}
