/*
 * t_threads: concurrent allocation and explicit free from plain pthreads.
 *
 * Phase 1: 4 threads, each 200k operations on a window of live objects: pick a slot, verify the
 *          checksum of the object in it and __go_free it, then allocate a new object (random size
 *          16..4096, sometimes tiny, sometimes large), check it is zero, fill it with random bytes
 *          and remember its checksum. Allocation entry points are mixed (mallocgc with and
 *          without FlagNoScan and FlagNoProfiling, __go_alloc).
 * Phase 2: every thread verifies and frees the window of its neighbour (cross-thread frees).
 * Phase 3: 64 short-lived threads (8 at a time) allocate, free some, and exit with objects still
 *          live; the objects they leave behind are verified and freed by the main thread.
 * The seed is printed; GOGC_TEST_SEED replays a run.
 *
 * Every allocation passes FlagNoInvokeGC (mallocgc, __go_alloc): this is a test of concurrent
 * allocation and explicit free, and the live objects sit in static arrays and calloc'd memory
 * that no collector scans. Collections with several mutator threads belong to the GC tests.
 */
#include "testutil.h"
#include "gogc.h"
#include <pthread.h>

#define NTHREADS 4
#define OPS 200000
#define WINDOW 512

typedef struct {
    unsigned char *p;
    uintptr_t n;
    uint64_t sum;
    int freeable;
} obj_t;

typedef struct {
    int id;
    uint64_t seed;
    obj_t win[WINDOW];
    unsigned long nalloc, nfree, nlarge, ntiny;
} worker_t;

static worker_t workers[NTHREADS];
static pthread_barrier_t barrier;

static uint64_t checksum(const unsigned char *p, uintptr_t n)
{
    uint64_t h = 1469598103934665603ULL ^ n;
    uintptr_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 1099511628211ULL;
        h ^= h >> 29;
    }
    for (; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static void fill_random(unsigned char *p, uintptr_t n, uint64_t *seed)
{
    uintptr_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = tu_rand(seed);
        memcpy(p + i, &w, 8);
    }
    for (; i < n; i++)
        p[i] = (unsigned char)tu_rand(seed);
}

static int verify_obj(const obj_t *o, int who, const char *phase)
{
    uint64_t s = checksum(o->p, o->n);
    CHECK(s == o->sum, "thread %d %s: object %p (%" PRIuPTR " bytes) was modified (checksum %#" PRIx64
          " != %#" PRIx64 ")",
          who, phase, (void *)o->p, o->n, s, o->sum);
    return s == o->sum;
}

static void new_object(obj_t *o, uint64_t *seed, worker_t *w)
{
    uint64_t r = tu_rand(seed);
    uintptr_t n;
    int kind = (int)(r % 1000);
    int tiny = 0;
    if (kind < 5) {
        n = 32769 + (uintptr_t)(tu_rand(seed) % (300 * 1024)); /* large */
        w->nlarge++;
    } else if (kind < 25) {
        n = 1 + (uintptr_t)(tu_rand(seed) % 15); /* tiny: never freed */
        tiny = 1;
        w->ntiny++;
    } else {
        n = 16 + (uintptr_t)(tu_rand(seed) % (4096 - 16 + 1));
    }
    unsigned char *p;
    int how = (int)((r >> 20) % 4);
    if (tiny)
        p = runtime_mallocgc(n, 0, FlagNoScan | FlagNoInvokeGC);
    else if (how == 0)
        p = runtime_mallocgc(n, 0, FlagNoInvokeGC);
    else if (how == 1)
        p = runtime_mallocgc(n, 0, FlagNoScan | FlagNoInvokeGC);
    else if (how == 2)
        p = __go_alloc(n);
    else
        p = runtime_mallocgc(n, 0, FlagNoInvokeGC | FlagNoProfiling);
    w->nalloc++;
    CHECK(p != NULL, "thread %d: allocation of %" PRIuPTR " returned NULL", w->id, n);
    o->p = p;
    o->n = n;
    o->freeable = !tiny;
    if (!p) {
        o->n = 0;
        o->sum = checksum(NULL, 0);
        return;
    }
    long nz = tu_first_nonzero(p, n);
    CHECK(nz < 0, "thread %d: new %" PRIuPTR "-byte object %p not zeroed at byte %ld", w->id, n,
          (void *)p, nz);
    if (!tiny && (w->nalloc & 63) == 0) {
        uint8_t *base = NULL;
        uintptr_t bs = 0;
        /* efence=1: every request is a large object, of its pages. */
        uintptr_t want = tu_godebug("efence") ? TU_ROUND_PAGE(n) : runtime_roundupsize(n);
        CHECK(runtime_mlookup(p, &base, &bs, NULL) == 1 && base == p && bs == want,
              "thread %d: mlookup(%p) base %p size %" PRIuPTR ", want size %" PRIuPTR, w->id,
              (void *)p, (void *)base, bs, want);
    }
    fill_random(p, n, seed);
    o->sum = checksum(p, n);
}

static void release(obj_t *o, int who, const char *phase)
{
    if (!o->p)
        return;
    verify_obj(o, who, phase);
    if (o->freeable)
        __go_free(o->p);
    o->p = NULL;
}

static void *worker(void *arg)
{
    worker_t *w = arg;
    uint64_t seed = w->seed;
    for (long op = 0; op < OPS && tu_failed() < 50; op++) {
        int slot = (int)(tu_rand(&seed) % WINDOW);
        obj_t *o = &w->win[slot];
        if (o->p) {
            release(o, w->id, "phase 1");
            w->nfree++;
        }
        /* Sometimes leave the slot empty for a while so the live set breathes. */
        if ((tu_rand(&seed) & 7) != 0)
            new_object(o, &seed, w);
        if ((op & 4095) == 0) {
            /* Spot-check the whole window now and then. */
            for (int i = 0; i < WINDOW; i++)
                if (w->win[i].p)
                    verify_obj(&w->win[i], w->id, "window scan");
        }
    }
    pthread_barrier_wait(&barrier);
    /* Phase 2: everybody's window is still live: check them all, then free the neighbour's. */
    for (int t = 0; t < NTHREADS; t++)
        for (int i = 0; i < WINDOW; i++)
            if (workers[t].win[i].p)
                verify_obj(&workers[t].win[i], w->id, "phase 2 scan");
    pthread_barrier_wait(&barrier);
    worker_t *nb = &workers[(w->id + 1) % NTHREADS];
    for (int i = 0; i < WINDOW; i++)
        release(&nb->win[i], w->id, "phase 2 (cross-thread free)");
    return NULL;
}

/* Phase 3. */
#define SHORT_THREADS 64
#define SHORT_OBJS 2000
#define SHORT_LEFT 64
typedef struct {
    int id;
    uint64_t seed;
    obj_t left[SHORT_LEFT];
} shortlived_t;

static void *short_worker(void *arg)
{
    shortlived_t *s = arg;
    worker_t w;
    memset(&w, 0, sizeof w);
    w.id = 100 + s->id;
    uint64_t seed = s->seed;
    obj_t *tmp = calloc(SHORT_OBJS, sizeof(obj_t));
    if (!tmp)
        return NULL;
    for (int i = 0; i < SHORT_OBJS; i++)
        new_object(&tmp[i], &seed, &w);
    for (int i = 0; i < SHORT_OBJS; i++) {
        if (i < SHORT_LEFT)
            s->left[i] = tmp[i]; /* survives the thread */
        else
            release(&tmp[i], w.id, "short-lived thread");
    }
    free(tmp);
    return NULL;
}

int main(void)
{
    uint64_t seed = tu_seed(0x7e57ab1e5eedULL);
    printf("t_threads seed %#" PRIx64 " (set GOGC_TEST_SEED=%#" PRIx64 " to replay)\n", seed, seed);
    fflush(stdout);

    /* Phases 1 and 2. */
    pthread_barrier_init(&barrier, NULL, NTHREADS);
    pthread_t th[NTHREADS];
    double t0 = tu_now();
    for (int i = 0; i < NTHREADS; i++) {
        workers[i].id = i;
        workers[i].seed = seed + 0x1000193ULL * (uint64_t)(i + 1);
        int rc = pthread_create(&th[i], NULL, worker, &workers[i]);
        CHECK(rc == 0, "pthread_create: %s", strerror(rc));
        if (rc)
            return test_summary();
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&barrier);
    unsigned long na = 0, nf = 0, nl = 0, nt = 0;
    for (int i = 0; i < NTHREADS; i++) {
        na += workers[i].nalloc;
        nf += workers[i].nfree;
        nl += workers[i].nlarge;
        nt += workers[i].ntiny;
        for (int k = 0; k < WINDOW; k++)
            CHECK(workers[i].win[k].p == NULL, "thread %d slot %d not released", i, k);
    }
    printf("phase 1+2: %lu allocations (%lu large, %lu tiny), %lu frees in %.2f s\n", na, nl, nt, nf,
           tu_now() - t0);
    CHECK(na >= (unsigned long)NTHREADS * OPS / 2, "only %lu allocations happened", na);

    /* Phase 3. */
    static shortlived_t sl[SHORT_THREADS];
    t0 = tu_now();
    for (int base = 0; base < SHORT_THREADS; base += 8) {
        pthread_t st[8];
        for (int i = 0; i < 8; i++) {
            sl[base + i].id = base + i;
            sl[base + i].seed = seed ^ (0xabcdef12345ULL * (uint64_t)(base + i + 1));
            int rc = pthread_create(&st[i], NULL, short_worker, &sl[base + i]);
            CHECK(rc == 0, "pthread_create: %s", strerror(rc));
            if (rc)
                return test_summary();
        }
        for (int i = 0; i < 8; i++)
            pthread_join(st[i], NULL);
    }
    /* The main thread checks and frees what the dead threads left behind, then allocates some
     * more: the dead threads' caches must not have been lost or corrupted. */
    for (int t = 0; t < SHORT_THREADS; t++)
        for (int i = 0; i < SHORT_LEFT; i++)
            release(&sl[t].left[i], -1, "main after thread exit");
    worker_t mw;
    memset(&mw, 0, sizeof mw);
    mw.id = -1;
    uint64_t ms = seed ^ 0x5555;
    static obj_t after[20000];
    for (int i = 0; i < 20000; i++)
        new_object(&after[i], &ms, &mw);
    for (int i = 0; i < 20000; i++)
        release(&after[i], -1, "main final");
    printf("phase 3: %d short-lived threads in %.2f s\n", SHORT_THREADS, tu_now() - t0);
    return test_summary();
}
