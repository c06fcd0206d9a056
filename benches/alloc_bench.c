/*
 * alloc_bench: allocation micro-benchmark, gogc vs glibc malloc (and, in the multi-thread
 * table, jemalloc and mimalloc), side by side in one process.
 *
 * Build (what `make bench` does):
 *   objcopy --localize-symbol=malloc --localize-symbol=free ... libjemalloc_pic.a \
 *       build/libjemalloc_local.a          (jemalloc reachable only as mallocx/dallocx)
 *   cc -O2 -Iinclude -DHAVE_JEMALLOC -o build/alloc_bench benches/alloc_bench.c \
 *      target/release/libgogc.a build/libjemalloc_local.a -lpthread -ldl -lm
 * Without -DHAVE_JEMALLOC the jemalloc column says n/a. mimalloc is opened at run time
 * (dlopen of libmimalloc.so.2 with RTLD_LOCAL, then mi_malloc / mi_zalloc / mi_free), n/a if
 * that fails. Neither replaces the process's malloc, which stays glibc's: Debian's jemalloc
 * and mimalloc both export malloc/free, so linking either the usual way would turn every
 * "glibc" number into theirs.
 *
 * Usage: alloc_bench [--quick] [--reps N] [--only SUBSTR] [--threads LIST]
 *   --quick          short run (fewer repetitions, less work per run)
 *   --reps N         repetitions per row (default 11, quick 5)
 *   --only SUBSTR    run only the rows whose workload label contains SUBSTR (multi-thread
 *                    labels start with "N threads, ")
 *   --threads LIST   thread counts of the multi-thread table, comma-separated (default 1,2,4;
 *                    0 skips the table)
 *
 * Every single-thread row runs the gogc kernel and the glibc kernel alternately (gogc first on
 * even repetitions, glibc first on odd ones) so slow drift (frequency scaling, other load) hits
 * both sides alike, and reports the median of the repetitions. Multi-thread rows rotate the
 * order of the four allocators in the same way. Output is a markdown document on stdout.
 *
 * Workloads
 *   small mixed  sizes cycle through 16,24,32,48,64,96,128,192,256 bytes
 *   per size     8, 16, 32, 64, 128, 256, 512 bytes
 *     alloc+free   allocate a batch of 4096 objects, write one word into each, free them all;
 *                  gogc: __go_alloc / __go_free; glibc: malloc / free. ns per pair.
 *     alloc-only   same batch, only the allocations are timed; gogc: runtime_mallocgc(size, 0,
 *                  0) ("pointerful") or runtime_mallocgc(size, 0, FlagNoScan) ("noscan");
 *                  glibc: malloc. The batch is freed outside the timed region.
 *   large        64 KiB and 1 MiB alloc + write one word + free, one object at a time; against
 *                glibc malloc, then once more against glibc calloc (zeroed, as gogc's are).
 *   multi-thread T = 1, 2, 4 threads started together (gogc's with gogc_pthread_create, the
 *                others' with pthread_create), each allocating and freeing its own batches:
 *                mixed 16..256 B, 64 B and 512 B alloc+free (gogc __go_alloc/__go_free, glibc
 *                malloc/free, jemalloc mallocx/dallocx, mimalloc mi_malloc/mi_free), and 64 KiB
 *                alloc+free zeroed (glibc calloc, mallocx(MALLOCX_ZERO), mi_zalloc). ns/op is
 *                the wall time from the first thread's start to the last one's end divided by
 *                the operations of all threads together, so perfect scaling halves it from 1
 *                to 2 threads on a machine with 2 free cores.
 *
 * gogc cannot free blocks smaller than 16 bytes (gccgo: "freeing too small block"), so the
 * 8-byte alloc+free row is n/a for gogc and 8-byte gogc alloc-only blocks are never freed
 * explicitly (a collector, when present, reclaims them).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "gogc.h"

#ifndef GOGC_COMMIT
#define GOGC_COMMIT "unknown"
#endif

#define NOINLINE __attribute__((noinline))
#define BATCH 4096
#define MAX_REPS 64

static void *ptrs[BATCH];

/*
 * ptrs[] is a C global: with a collector present it must be a registered root, or a collection
 * started by an alloc-only row could free blocks the row is about to __go_free. Declared weak
 * so this file also builds against a header and library that predate the collector.
 */
extern void __go_register_gc_roots(root_list *r) __attribute__((weak));
static struct {
    root_list *next;
    root_entry roots[2];
} bench_roots = {NULL, {{ptrs, sizeof ptrs}, {NULL, 0}}};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Keeps the compiler from reasoning about the objects between allocation and free. */
static inline void clobber(void) { __asm__ volatile("" ::: "memory"); }

/* ----------------------------------------------------------------------------------------- */
/* Kernels. Each returns elapsed nanoseconds for `batches` batches of BATCH objects.          */

struct small_cfg {
    const size_t *sizes; /* cycled through */
    size_t nsizes;
    long batches;
    uint32_t flag;       /* runtime_mallocgc flag for gogc alloc-only */
    int gogc_can_free;   /* 0 when gogc blocks are < 16 bytes */
};

static NOINLINE uint64_t gogc_pair(const struct small_cfg *c)
{
    size_t k = 0;
    uint64_t t0 = now_ns();
    for (long b = 0; b < c->batches; b++) {
        for (int i = 0; i < BATCH; i++) {
            size_t sz = c->sizes[k];
            if (++k == c->nsizes)
                k = 0;
            uintptr_t *p = __go_alloc(sz);
            p[0] = (uintptr_t)i;
            ptrs[i] = p;
        }
        clobber();
        for (int i = 0; i < BATCH; i++)
            __go_free(ptrs[i]);
        clobber();
    }
    return now_ns() - t0;
}

static NOINLINE uint64_t glibc_pair(const struct small_cfg *c)
{
    size_t k = 0;
    uint64_t t0 = now_ns();
    for (long b = 0; b < c->batches; b++) {
        for (int i = 0; i < BATCH; i++) {
            size_t sz = c->sizes[k];
            if (++k == c->nsizes)
                k = 0;
            uintptr_t *p = malloc(sz);
            p[0] = (uintptr_t)i;
            ptrs[i] = p;
        }
        clobber();
        for (int i = 0; i < BATCH; i++)
            free(ptrs[i]);
        clobber();
    }
    return now_ns() - t0;
}

static NOINLINE uint64_t gogc_alloc_only(const struct small_cfg *c)
{
    size_t k = 0;
    uint64_t total = 0;
    for (long b = 0; b < c->batches; b++) {
        uint64_t t0 = now_ns();
        for (int i = 0; i < BATCH; i++) {
            size_t sz = c->sizes[k];
            if (++k == c->nsizes)
                k = 0;
            uintptr_t *p = runtime_mallocgc(sz, 0, c->flag);
            p[0] = (uintptr_t)i;
            ptrs[i] = p;
        }
        clobber();
        total += now_ns() - t0;
        if (c->gogc_can_free)
            for (int i = 0; i < BATCH; i++)
                __go_free(ptrs[i]);
        clobber();
    }
    return total;
}

static NOINLINE uint64_t glibc_alloc_only(const struct small_cfg *c)
{
    size_t k = 0;
    uint64_t total = 0;
    for (long b = 0; b < c->batches; b++) {
        uint64_t t0 = now_ns();
        for (int i = 0; i < BATCH; i++) {
            size_t sz = c->sizes[k];
            if (++k == c->nsizes)
                k = 0;
            uintptr_t *p = malloc(sz);
            p[0] = (uintptr_t)i;
            ptrs[i] = p;
        }
        clobber();
        total += now_ns() - t0;
        for (int i = 0; i < BATCH; i++)
            free(ptrs[i]);
        clobber();
    }
    return total;
}

static NOINLINE uint64_t gogc_large(size_t size, long n)
{
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        uintptr_t *p = __go_alloc(size);
        p[0] = (uintptr_t)i;
        clobber();
        __go_free(p);
    }
    return now_ns() - t0;
}

static int glibc_large_calloc; /* compare large rows against calloc (zeroed, like gogc) */

static NOINLINE uint64_t glibc_large(size_t size, long n)
{
    int zeroed = glibc_large_calloc;
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        uintptr_t *p = zeroed ? calloc(1, size) : malloc(size);
        p[0] = (uintptr_t)i;
        clobber();
        free(p);
    }
    return now_ns() - t0;
}

/* ----------------------------------------------------------------------------------------- */
/* Rows                                                                                        */

enum kind { PAIR, ALLOC_ONLY, LARGE };

struct row {
    enum kind kind;
    struct small_cfg cfg; /* PAIR, ALLOC_ONLY */
    size_t large_size;    /* LARGE */
    long large_n;
    int gogc_na;          /* gogc cannot run this row */
};

static int reps = 11;
static const char *only; /* --only SUBSTR: run just the rows whose label contains SUBSTR */

static double ops_of(const struct row *r)
{
    return r->kind == LARGE ? (double)r->large_n : (double)r->cfg.batches * BATCH;
}

static uint64_t run_side(const struct row *r, int gogc)
{
    switch (r->kind) {
    case PAIR:
        return gogc ? gogc_pair(&r->cfg) : glibc_pair(&r->cfg);
    case ALLOC_ONLY:
        return gogc ? gogc_alloc_only(&r->cfg) : glibc_alloc_only(&r->cfg);
    case LARGE:
        return gogc ? gogc_large(r->large_size, r->large_n) : glibc_large(r->large_size, r->large_n);
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void fmt_ns(char *buf, size_t len, double ns)
{
    if (ns < 100)
        snprintf(buf, len, "%.1f", ns);
    else
        snprintf(buf, len, "%.0f", ns);
}

static void run_row(const char *label, struct row *r)
{
    double g[MAX_REPS], c[MAX_REPS];
    double ops = ops_of(r);

    if (only && !strstr(label, only))
        return;

    /* warm-up: initialises the library, faults in the arenas, fills the thread caches */
    if (!r->gogc_na)
        run_side(r, 1);
    run_side(r, 0);

    for (int i = 0; i < reps; i++) {
        int gogc_first = (i % 2) == 0;
        for (int j = 0; j < 2; j++) {
            int gogc = (j == 0) == gogc_first;
            if (gogc && r->gogc_na)
                continue;
            double ns = (double)run_side(r, gogc) / ops;
            if (gogc)
                g[i] = ns;
            else
                c[i] = ns;
        }
    }

    double mc = median(c, reps);
    char gs[32], cs[32], rs[32];
    fmt_ns(cs, sizeof cs, mc);
    if (r->gogc_na) {
        snprintf(gs, sizeof gs, "n/a");
        snprintf(rs, sizeof rs, "n/a");
    } else {
        double mg = median(g, reps);
        fmt_ns(gs, sizeof gs, mg);
        snprintf(rs, sizeof rs, "%.2f", mg / mc);
    }
    printf("| %s | %s | %s | %s |\n", label, gs, cs, rs);
    fflush(stdout);
}

/* ----------------------------------------------------------------------------------------- */
/* Multi-thread rows: gogc, glibc, jemalloc, mimalloc at 1, 2 and 4 threads                     */

static const char *loadavg(void);

enum { A_GOGC, A_GLIBC, A_JEMALLOC, A_MIMALLOC, N_ALLOC };
static const char *alloc_na[N_ALLOC]; /* why a peer is not available, NULL if it is */

#ifdef HAVE_JEMALLOC
/* jemalloc's non-standard API; the standard names are localized in build/libjemalloc_local.a */
void *mallocx(size_t size, int flags);
void dallocx(void *ptr, int flags);
int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
#define JE_MALLOCX_ZERO 0x40
#endif

static void *(*mi_malloc_p)(size_t);
static void *(*mi_zalloc_p)(size_t);
static void (*mi_free_p)(void *);
static char peer_versions[256];

static void open_peers(void)
{
    char je[96] = "n/a", mi[32] = "n/a";
#ifdef HAVE_JEMALLOC
    const char *v = NULL;
    size_t vl = sizeof v;
    if (mallctl("version", &v, &vl, NULL, 0) == 0 && v)
        snprintf(je, sizeof je, "%.*s", (int)strcspn(v, "-"), v);
#else
    alloc_na[A_JEMALLOC] = "n/a (not built in)";
#endif
    /* RTLD_LOCAL: mimalloc's own malloc/free stay out of the global scope */
    void *h = dlopen("libmimalloc.so.2", RTLD_NOW | RTLD_LOCAL);
    if (h) {
        mi_malloc_p = (void *(*)(size_t))dlsym(h, "mi_malloc");
        mi_zalloc_p = (void *(*)(size_t))dlsym(h, "mi_zalloc");
        mi_free_p = (void (*)(void *))dlsym(h, "mi_free");
        int (*ver)(void) = (int (*)(void))dlsym(h, "mi_version");
        if (ver) {
            int n = ver();
            snprintf(mi, sizeof mi, "%d.%d.%d", n / 100, n / 10 % 10, n % 10);
        }
    }
    if (!mi_malloc_p || !mi_zalloc_p || !mi_free_p)
        alloc_na[A_MIMALLOC] = "n/a (no libmimalloc.so.2)";
    snprintf(peer_versions, sizeof peer_versions, "jemalloc %s (static, mallocx/dallocx), mimalloc %s "
             "(dlopen, mi_malloc/mi_free)", je, mi);
}

struct mt_row {
    const size_t *sizes; /* small rows: cycled through */
    size_t nsizes;
    long batches;        /* small rows: batches of BATCH objects per thread */
    size_t large;        /* large rows: object size (0 for small rows) */
    long large_n;        /* large rows: objects per thread */
};

struct mt_job {
    const struct mt_row *row;
    int alloc;
    pthread_barrier_t *start;
    uint64_t t0, t1;
};

/* One kernel per allocator, so that every call is a direct one (mimalloc's go through dlsym'd
 * pointers, as a PLT call would). */
#define MT_KERNEL(NAME, ALLOC, ALLOCZ, FREE)                                                  \
    static NOINLINE void NAME(const struct mt_row *r)                                       \
    {                                                                                       \
        void *local[BATCH]; /* on this thread's stack: scanned if a collection happens */    \
        if (r->large) {                                                                     \
            for (long i = 0; i < r->large_n; i++) {                                         \
                uintptr_t *p = ALLOCZ(r->large);                                            \
                p[0] = (uintptr_t)i;                                                        \
                clobber();                                                                  \
                FREE(p);                                                                    \
            }                                                                               \
            return;                                                                         \
        }                                                                                   \
        size_t k = 0;                                                                       \
        for (long b = 0; b < r->batches; b++) {                                             \
            for (int i = 0; i < BATCH; i++) {                                               \
                size_t sz = r->sizes[k];                                                    \
                if (++k == r->nsizes)                                                       \
                    k = 0;                                                                  \
                uintptr_t *p = ALLOC(sz);                                                   \
                p[0] = (uintptr_t)i;                                                        \
                local[i] = p;                                                               \
            }                                                                               \
            clobber();                                                                      \
            for (int i = 0; i < BATCH; i++)                                                 \
                FREE(local[i]);                                                             \
            clobber();                                                                      \
        }                                                                                   \
    }

static inline void *glibc_zalloc(size_t n) { return calloc(1, n); }
static inline void *mi_malloc_call(size_t n) { return mi_malloc_p(n); }
static inline void *mi_zalloc_call(size_t n) { return mi_zalloc_p(n); }
static inline void mi_free_call(void *p) { mi_free_p(p); }

MT_KERNEL(mt_gogc, __go_alloc, __go_alloc, __go_free)
MT_KERNEL(mt_glibc, malloc, glibc_zalloc, free)
MT_KERNEL(mt_mimalloc, mi_malloc_call, mi_zalloc_call, mi_free_call)
#ifdef HAVE_JEMALLOC
static inline void *je_malloc_call(size_t n) { return mallocx(n, 0); }
static inline void *je_zalloc_call(size_t n) { return mallocx(n, JE_MALLOCX_ZERO); }
static inline void je_free_call(void *p) { dallocx(p, 0); }
MT_KERNEL(mt_jemalloc, je_malloc_call, je_zalloc_call, je_free_call)
#endif

static void *mt_thread(void *arg)
{
    struct mt_job *j = arg;
    pthread_barrier_wait(j->start);
    j->t0 = now_ns();
    switch (j->alloc) {
    case A_GOGC: mt_gogc(j->row); break;
    case A_GLIBC: mt_glibc(j->row); break;
#ifdef HAVE_JEMALLOC
    case A_JEMALLOC: mt_jemalloc(j->row); break;
#endif
    case A_MIMALLOC: mt_mimalloc(j->row); break;
    }
    j->t1 = now_ns();
    return NULL;
}

#define MAX_THREADS 64

/* Runs T threads of allocator `a` over row r; returns ns per operation (all threads' ops). */
static double mt_run(const struct mt_row *r, int a, int nthreads)
{
    pthread_t th[MAX_THREADS];
    struct mt_job jobs[MAX_THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)nthreads);
    for (int i = 0; i < nthreads; i++) {
        jobs[i] = (struct mt_job){r, a, &start, 0, 0};
        int rc = a == A_GOGC ? gogc_pthread_create(&th[i], NULL, mt_thread, &jobs[i])
                             : pthread_create(&th[i], NULL, mt_thread, &jobs[i]);
        if (rc != 0) {
            fprintf(stderr, "alloc_bench: cannot create thread %d: %s\n", i, strerror(rc));
            exit(1);
        }
    }
    uint64_t t0 = UINT64_MAX, t1 = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        if (jobs[i].t0 < t0)
            t0 = jobs[i].t0;
        if (jobs[i].t1 > t1)
            t1 = jobs[i].t1;
    }
    pthread_barrier_destroy(&start);
    double ops = r->large ? (double)r->large_n : (double)r->batches * BATCH;
    return (double)(t1 - t0) / (ops * nthreads);
}

static void mt_row_run(const char *what, const struct mt_row *r, int nthreads)
{
    char label[160];
    snprintf(label, sizeof label, "%d thread%s, %s", nthreads, nthreads == 1 ? "" : "s", what);
    if (only && !strstr(label, only))
        return;
    double v[N_ALLOC][MAX_REPS], med[N_ALLOC];
    for (int a = 0; a < N_ALLOC; a++) /* warm-up */
        if (!alloc_na[a])
            mt_run(r, a, nthreads);
    for (int i = 0; i < reps; i++)
        for (int j = 0; j < N_ALLOC; j++) {
            int a = (i + j) % N_ALLOC; /* rotate which allocator goes first */
            if (!alloc_na[a])
                v[a][i] = mt_run(r, a, nthreads);
        }
    printf("| %s |", label);
    for (int a = 0; a < N_ALLOC; a++) {
        char buf[32];
        if (alloc_na[a]) {
            printf(" %s |", alloc_na[a]);
            continue;
        }
        med[a] = median(v[a], reps);
        fmt_ns(buf, sizeof buf, med[a]);
        printf(" %s |", buf);
    }
    for (int a = 1; a < N_ALLOC; a++) {
        if (alloc_na[a])
            printf(" n/a |");
        else
            printf(" %.2f |", med[A_GOGC] / med[a]);
    }
    printf("\n");
    fflush(stdout);
}

/* threads: the counts to run, ended by 0 */
static void mt_table(const int *threads, int quick)
{
    static const size_t mixed[] = {16, 24, 32, 48, 64, 96, 128, 192, 256};
    static const size_t s64[] = {64}, s512[] = {512};
    long batches = quick ? 32 : 160;
    long n64k = quick ? 2000 : 10000;
    const struct mt_row rows[] = {
        {mixed, sizeof mixed / sizeof mixed[0], batches, 0, 0},
        {s64, 1, batches, 0, 0},
        {s512, 1, batches, 0, 0},
        {NULL, 0, 0, 64 << 10, n64k},
    };
    static const char *const what[] = {
        "small 16..256 B mixed, alloc+free",
        "64 B alloc+free",
        "512 B alloc+free",
        "64 KiB alloc+free (zeroed: calloc, MALLOCX_ZERO, mi_zalloc)",
    };

    int any = !only;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0] && !any; i++)
        for (const int *t = threads; *t && !any; t++) {
            char label[160];
            snprintf(label, sizeof label, "%d thread%s, %s", *t, *t == 1 ? "" : "s", what[i]);
            any = strstr(label, only) != NULL;
        }
    if (!any)
        return;

    printf("\n## Multi-thread allocation: each thread allocates and frees its own batches\n\n");
    printf("- peers: glibc %s (malloc/free), %s; the process's malloc stays glibc's\n",
           gnu_get_libc_version(), peer_versions);
    printf("- method: T threads started together (gogc: gogc_pthread_create; others: pthread_create); "
           "per thread %ld batches of %d objects (small rows) or %ld objects (64 KiB); median of %d "
           "repetitions, allocator order rotated each repetition; fresh threads every run; load "
           "average at start: %s\n\n",
           batches, BATCH, n64k, reps, loadavg());
    printf("| workload | gogc ns/op | glibc ns/op | jemalloc ns/op | mimalloc ns/op | gogc/glibc | "
           "gogc/jemalloc | gogc/mimalloc |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    fflush(stdout);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        for (const int *t = threads; *t; t++)
            mt_row_run(what[i], &rows[i], *t);
    printf("\nNotes:\n");
    printf("- ns/op = wall time from the first thread's start to the last thread's end, divided by "
           "the allocations of all threads (an allocation and its free count as one op). With "
           "more threads than free cores it rises again.\n");
    printf("- gogc's large objects come from the page heap under its lock; the small rows use the "
           "per-thread caches of every allocator. __go_alloc never starts a collection.\n");
}

/* ----------------------------------------------------------------------------------------- */

static void cpu_model(char *buf, size_t len)
{
    snprintf(buf, len, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *p = strchr(line, ':');
            if (p) {
                p++;
                while (*p == ' ' || *p == '\t')
                    p++;
                p[strcspn(p, "\n")] = 0;
                snprintf(buf, len, "%s", p);
            }
            break;
        }
    }
    fclose(f);
}

/* The first three fields of /proc/loadavg (other load skews the multi-thread rows most). */
static const char *loadavg(void)
{
    static char buf[64];
    snprintf(buf, sizeof buf, "?");
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        double a, b, c;
        if (fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
            snprintf(buf, sizeof buf, "%.2f %.2f %.2f", a, b, c);
        fclose(f);
    }
    return buf;
}

static void usage(const char *argv0)
{
    fprintf(stderr, "usage: %s [--quick] [--reps N] [--only SUBSTR] [--threads LIST]\n", argv0);
    exit(2);
}

int main(int argc, char **argv)
{
    int quick = 0;
    int threads[16] = {1, 2, 4, 0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            char *list = argv[++i], *end;
            int n = 0;
            for (;;) {
                long t = strtol(list, &end, 10);
                if (end == list || t < 0 || t > MAX_THREADS || n == 15)
                    usage(argv[0]);
                if (t > 0)
                    threads[n++] = (int)t;
                if (*end != ',')
                    break;
                list = end + 1;
            }
            if (*end)
                usage(argv[0]);
            threads[n] = 0;
        }
        else
            usage(argv[0]);
    }
    if (__go_register_gc_roots)
        __go_register_gc_roots((root_list *)&bench_roots);
    open_peers();

    if (quick && reps == 11)
        reps = 5;
    if (reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "--reps must be in 1..%d\n", MAX_REPS);
        return 2;
    }

    /* work per timed run: full runs take roughly 5-50 ms each */
    long small_batches = quick ? 16 : 160;
    long leak_batches = quick ? 4 : 32; /* gogc 8-byte rows: nothing can be freed */
    long n64k = quick ? 2000 : 20000;
    long n1m = quick ? 200 : 2000;

    char cpu[256], date[32];
    struct utsname un;
    time_t t = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d", localtime(&t));
    cpu_model(cpu, sizeof cpu);
    if (uname(&un) != 0)
        snprintf(un.release, sizeof un.release, "?");

    printf("# gogc allocation benchmark, %s%s\n\n", date, quick ? " (--quick)" : "");
    printf("- machine: %s, %ld online CPUs, Linux %s\n", cpu, sysconf(_SC_NPROCESSORS_ONLN), un.release);
    printf("- build: gcc %s -O2; gogc %s, static libgogc.a (cargo release); glibc %s\n",
           __VERSION__, GOGC_COMMIT, gnu_get_libc_version());
    printf("- method: one process, one thread; median of %d repetitions per row, gogc and glibc "
           "runs interleaved; small rows use batches of %d objects\n\n", reps, BATCH);
    printf("| workload | gogc ns/op | glibc ns/op | ratio gogc/glibc |\n");
    printf("|---|---:|---:|---:|\n");
    fflush(stdout);

    static const size_t mixed[] = {16, 24, 32, 48, 64, 96, 128, 192, 256};
    static const size_t sizes[] = {8, 16, 32, 64, 128, 256, 512};
    const size_t nmixed = sizeof mixed / sizeof mixed[0];
    struct row r;

    /* (a) mixed small sizes from the thread cache */
    memset(&r, 0, sizeof r);
    r.cfg = (struct small_cfg){mixed, nmixed, small_batches, 0, 1};
    r.kind = PAIR;
    run_row("small 16..256 B mixed, alloc+free", &r);
    r.kind = ALLOC_ONLY;
    r.cfg.flag = 0;
    run_row("small 16..256 B mixed, alloc-only, pointerful (flag 0)", &r);
    r.cfg.flag = FlagNoScan;
    run_row("small 16..256 B mixed, alloc-only, noscan (FlagNoScan)", &r);

    /* (b) one size per row */
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char label[128];
        int small = sizes[i] < 16;
        memset(&r, 0, sizeof r);
        r.cfg = (struct small_cfg){&sizes[i], 1, small ? leak_batches : small_batches, 0, !small};

        r.kind = PAIR;
        r.gogc_na = small;
        snprintf(label, sizeof label, "%zu B alloc+free", sizes[i]);
        run_row(label, &r);

        r.kind = ALLOC_ONLY;
        r.gogc_na = 0;
        r.cfg.flag = 0;
        snprintf(label, sizeof label, "%zu B alloc-only, pointerful", sizes[i]);
        run_row(label, &r);
        r.cfg.flag = FlagNoScan;
        snprintf(label, sizeof label, "%zu B alloc-only, noscan", sizes[i]);
        run_row(label, &r);
    }

    /* (c) large objects */
    memset(&r, 0, sizeof r);
    r.kind = LARGE;
    r.large_size = 64 << 10;
    r.large_n = n64k;
    run_row("64 KiB alloc+free", &r);
    r.large_size = 1 << 20;
    r.large_n = n1m;
    run_row("1 MiB alloc+free", &r);
    /* the same against calloc, which zeroes like gogc does */
    glibc_large_calloc = 1;
    r.large_size = 64 << 10;
    r.large_n = n64k;
    run_row("64 KiB alloc+free (glibc: calloc)", &r);
    r.large_size = 1 << 20;
    r.large_n = n1m;
    run_row("1 MiB alloc+free (glibc: calloc)", &r);
    glibc_large_calloc = 0;

    printf("\nNotes:\n");
    printf("- ns/op is per allocation (alloc+free rows: per allocate/free pair). ratio < 1 means gogc is faster.\n");
    printf("- gogc returns zeroed memory (no FlagNoZero here); glibc malloc does not zero, which "
           "dominates the large rows; the \"(glibc: calloc)\" rows compare against zeroed memory.\n");
    printf("- gogc: alloc+free uses __go_alloc/__go_free; alloc-only uses runtime_mallocgc(size, 0, flag) "
           "and frees outside the timed region. gogc cannot free blocks < 16 B, so the 8 B alloc+free row "
           "is n/a and 8 B gogc alloc-only blocks are left to the collector (if there is one).\n");
    printf("- glibc's rows at 128 B and up include glibc trimming the top of its heap after each freed "
           "batch (brk shrink, then page faults when it grows again); with "
           "GLIBC_TUNABLES=glibc.malloc.trim_threshold=1000000000 those rows get several times faster.\n");
    printf("- noscan requests below 16 B use gogc's tiny allocator (several objects per 16-byte block).\n");
    printf("- rows that may start a collection (alloc-only, flag 0 or FlagNoScan) include its cost; "
           "__go_alloc never starts one.\n");
    runtime_updatememstats(NULL);
    printf("\ngogc at exit: heap_sys %.1f MiB, heap_inuse %.1f MiB, sys %.1f MiB, %u collections "
           "(%.1f ms total pause)\n",
           runtime_memStats.heap_sys / 1048576.0, runtime_memStats.heap_inuse / 1048576.0,
           runtime_memStats.sys / 1048576.0, (unsigned)runtime_memStats.numgc,
           runtime_memStats.pause_total_ns / 1e6);
    fflush(stdout);

    if (threads[0])
        mt_table(threads, quick);
    return 0;
}
