/*
 * t_mt_sweepone: mutator threads that call the sweeper entry points while others collect
 * (issue 4, next to t_mt_stress).
 *
 * gccgo's runtime calls runtime_sweepone from an ordinary goroutine (bgsweep) and
 * runtime_MSpan_EnsureSwept from mutators; with gogc's built-in stopper those callers are
 * attached threads that the collector stops with a signal at any point.
 *  - two sweeper threads (gogc_pthread_create) loop like bgsweep: runtime_sweepone() until it
 *    returns all-ones, then a short sleep;
 *  - one thread looks up its own objects with runtime_mlookup and calls
 *    runtime_MSpan_EnsureSwept on their spans;
 *  - one collector thread calls runtime_gc(1) every half millisecond, and two allocator threads
 *    keep checksummed lists in their locals (GOGC=25: allocation triggers collections too).
 * A watchdog thread (plain pthread, never attached) fails the test with a diagnosis if no
 * collection completes for WATCHDOG seconds (a deadlock) instead of letting the harness time
 * out. At the end: at least MIN_GC collections, the lists intact.
 */
#include "testutil.h"
#include "mt_util.h"
#include <pthread.h>

#define RUN_SECONDS 3.0
#define WATCHDOG 15
#define MIN_GC 100

typedef struct wnode {
    struct wnode *next;
    uint64_t id;
    uint64_t w[4];
} wnode;

static int stop_flag;
static unsigned long sweep_calls, sweep_spans, ensure_calls;
static uint64_t id_counter = 1;

static __attribute__((noinline)) wnode *build(long n)
{
    wnode *h = NULL;
    for (long i = 0; i < n; i++) {
        uint64_t id = __atomic_fetch_add(&id_counter, 1, __ATOMIC_RELAXED);
        wnode *p = runtime_mallocgc(sizeof(wnode) + (id % 5) * 16, 0, 0);
        p->id = id;
        p->next = h;
        for (int k = 0; k < 4; k++)
            p->w[k] = mt_mix(id * 4 + (uint64_t)k);
        h = p;
    }
    return h;
}

static int list_ok(const wnode *p, long n, const char *who)
{
    long i = 0;
    for (; p && i <= n; p = p->next, i++) {
        int ok = 1;
        for (int k = 0; ok && k < 4; k++)
            ok = p->w[k] == mt_mix(p->id * 4 + (uint64_t)k);
        if (!ok) {
            CHECK(ok, "%s: node %ld (%p, id %#" PRIx64 ") corrupted (freed early?)", who, i, (const void *)p, p->id);
            return 0;
        }
    }
    CHECK(i == n, "%s: list has %ld nodes, expected %ld", who, i, n);
    return i == n;
}

static void *sweeper(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&stop_flag, __ATOMIC_ACQUIRE)) {
        uintptr_t r;
        while ((r = runtime_sweepone()) != (uintptr_t)-1) {
            __atomic_add_fetch(&sweep_spans, 1, __ATOMIC_RELAXED);
            if (__atomic_load_n(&stop_flag, __ATOMIC_ACQUIRE))
                break;
        }
        __atomic_add_fetch(&sweep_calls, 1, __ATOMIC_RELAXED);
        mt_sleep_us(100);
    }
    return NULL;
}

static void *ensurer(void *arg)
{
    (void)arg;
    wnode *mine = build(300);
    unsigned long rounds = 0;
    while (!__atomic_load_n(&stop_flag, __ATOMIC_ACQUIRE)) {
        for (wnode *p = mine; p; p = p->next) {
            MSpan *s = NULL;
            if (runtime_mlookup(p, NULL, NULL, &s) == 1 && s) {
                runtime_MSpan_EnsureSwept(s);
                __atomic_add_fetch(&ensure_calls, 1, __ATOMIC_RELAXED);
            }
        }
        if (++rounds % 20 == 0) {
            if (!list_ok(mine, 300, "ensurer"))
                break;
            mine = build(300);
        }
    }
    list_ok(mine, 300, "ensurer (end)");
    return NULL;
}

static void *allocator(void *arg)
{
    uint64_t seed = mt_mix((uint64_t)(intptr_t)arg) | 1;
    wnode *mine = build(400);
    unsigned long rounds = 0;
    while (!__atomic_load_n(&stop_flag, __ATOMIC_ACQUIRE)) {
        for (int i = 0; i < 300; i++) {
            uint64_t r = tu_rand(&seed);
            uint64_t *g = runtime_mallocgc(16 + r % 2500, 0, (r >> 21) & 1 ? FlagNoScan : 0);
            g[0] = r;
        }
        if (++rounds % 10 == 0) {
            if (!list_ok(mine, 400, "allocator"))
                break;
            mine = build(400);
        }
    }
    list_ok(mine, 400, "allocator (end)");
    return NULL;
}

static void *collector(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&stop_flag, __ATOMIC_ACQUIRE)) {
        runtime_gc(1);
        mt_sleep_us(500);
    }
    return NULL;
}

static void *watchdog(void *arg)
{
    (void)arg;
    uint32_t last = mt_numgc();
    double since = tu_now();
    for (;;) { /* until main sets stop_flag to 2 after joining everyone */
        mt_sleep_us(100000);
        if (__atomic_load_n(&stop_flag, __ATOMIC_ACQUIRE) == 2)
            return NULL;
        uint32_t n = mt_numgc();
        if (n != last) {
            last = n;
            since = tu_now();
        } else if (tu_now() - since > WATCHDOG) {
            fprintf(stderr,
                    "t_mt_sweepone: DEADLOCK: no collection finished for %d s (numgc stuck at %u; %lu "
                    "runtime_sweepone rounds, %lu spans swept, %lu EnsureSwept calls so far). A thread "
                    "stopped inside runtime_sweepone / runtime_MSpan_EnsureSwept blocks the collector "
                    "(attach gdb: look for gogc::gc::sweep::pause_background)\n",
                    WATCHDOG, n, sweep_calls, sweep_spans, ensure_calls);
            printf("FAILED: deadlock\n");
            fflush(stdout);
            fflush(stderr);
            _exit(1);
        }
    }
}

int main(void)
{
    int old = runtime_setgcpercent(25);
    uint32_t gc0 = mt_numgc();
    pthread_t wd, t[6];
    pthread_create(&wd, NULL, watchdog, NULL);
    CHECK(gogc_pthread_create(&t[0], NULL, sweeper, NULL) == 0, "sweeper 0");
    CHECK(gogc_pthread_create(&t[1], NULL, sweeper, NULL) == 0, "sweeper 1");
    CHECK(gogc_pthread_create(&t[2], NULL, ensurer, NULL) == 0, "ensurer");
    CHECK(gogc_pthread_create(&t[3], NULL, allocator, (void *)1) == 0, "allocator 0");
    CHECK(gogc_pthread_create(&t[4], NULL, allocator, (void *)2) == 0, "allocator 1");
    CHECK(gogc_pthread_create(&t[5], NULL, collector, NULL) == 0, "collector");
    double t0 = tu_now();
    while (tu_now() - t0 < RUN_SECONDS && !tu_failed())
        mt_sleep_us(20000);
    __atomic_store_n(&stop_flag, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 6; i++)
        pthread_join(t[i], NULL);
    __atomic_store_n(&stop_flag, 2, __ATOMIC_RELEASE);
    pthread_join(wd, NULL);
    uint32_t ngc = mt_numgc() - gc0;
    printf("t_mt_sweepone: %u collections, %lu runtime_sweepone rounds (%lu spans swept), %lu EnsureSwept calls, "
           "%.1f s\n",
           ngc, sweep_calls, sweep_spans, ensure_calls, tu_now() - t0);
    CHECK(ngc >= MIN_GC, "only %u collections", ngc);
    CHECK(sweep_spans > 0, "runtime_sweepone never swept a span");
    runtime_setgcpercent(old);
    return test_summary();
}
