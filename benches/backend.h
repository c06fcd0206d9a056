/*
 * backend.h: one allocation interface over several memory managers, so each benchmark program
 * is written once and compiled once per backend.
 *
 * Pick exactly one with -D:
 *   BACKEND_GOGC      libgogc (include/gogc.h). GOGC_TYPED=1 (default): objects carry a
 *                     GoType descriptor with a GC program, scanned precisely; GOGC_TYPED=0:
 *                     runtime_mallocgc(size, 0, 0), scanned conservatively.
 *                     Link: target/release/libgogc.a -lpthread -ldl -lm
 *   BACKEND_BDWGC     Boehm-Demers-Weiser collector, default configuration (GC_MALLOC,
 *                     GC_MALLOC_ATOMIC for pointer-free data). Link: -lgc
 *   BACKEND_MALLOC    glibc malloc/free, objects freed explicitly
 *   BACKEND_JEMALLOC  jemalloc via malloc/free (Debian's jemalloc has no prefix, so linking
 *                     -ljemalloc replaces malloc); objects freed explicitly
 *   BACKEND_MIMALLOC  mi_malloc/mi_free; objects freed explicitly. Link: -lmimalloc
 *
 * The interface:
 *   BK_TYPE(name, T, prog...)  declares the type of heap object T. `prog` are the GC-program
 *                              instructions after the element size (GC_APTR, offset, ...),
 *                              without GC_END; only gogc-typed uses them
 *   bk_init()                  once, at the start of main
 *   bk_new(&name)              a zeroed object of the declared type (pointerful)
 *   bk_new_atomic(n)           n zeroed bytes that hold no pointers
 *   bk_free(p)                 explicit free (no-op under a collector); BK_HAS_GC says which
 *   bk_collect()               a full collection (no-op without a collector)
 *   bk_gc_off() / bk_gc_on()   suspend / resume automatic collections
 *   bk_add_roots(lo, hi)       make a C global range a root (gogc needs it; bdwgc already
 *                              scans data and bss)
 *   bk_workers()               mark workers the collector uses (0 without a collector)
 *   bk_last_pause_ns()         the last collection's stop-the-world time
 *   bk_result_line(extra)      prints the machine-readable last line:
 *     RESULT backend=NAME workers=N gcs=N maxpause_us=N totalpause_ms=N heap_mb=N rss_mb=N
 *            ms=N [maxpause_window=256] EXTRA
 *   (heap_mb: gogc heap_sys, bdwgc GC_get_heap_size(); rss_mb: getrusage ru_maxrss; ms: since
 *   bk_init)
 *
 * Pauses: gogc from MStats.pause_ns (stop-the-world to restart; the ring holds the last 256
 * collections, so with more than 256 collections "max" is the max of the last 256 and the
 * RESULT line says maxpause_window=256); bdwgc from GC_EVENT_START..GC_EVENT_END of its
 * collection-event callback (the whole stop-the-world collection, marker threads included).
 */
#ifndef BENCH_BACKEND_H
#define BENCH_BACKEND_H

#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#if (defined(BACKEND_GOGC) + defined(BACKEND_BDWGC) + defined(BACKEND_MALLOC) + \
     defined(BACKEND_JEMALLOC) + defined(BACKEND_MIMALLOC)) != 1
#error "define exactly one of BACKEND_GOGC, BACKEND_BDWGC, BACKEND_MALLOC, BACKEND_JEMALLOC, BACKEND_MIMALLOC"
#endif

static inline uint64_t bk_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t bk_t_start;

/* ========================================================================================= */
#if defined(BACKEND_GOGC)
#include "gogc.h"

#ifndef GOGC_TYPED
#define GOGC_TYPED 1
#endif
#define BK_HAS_GC 1
#define BK_NAME (GOGC_TYPED ? "gogc-typed" : "gogc-untyped")

typedef struct bk_type {
    GoType t;
    const uintptr_t *prog;
} bk_type;

#define BK_TYPE(name, T, ...)                                                                \
    static const uintptr_t name##_prog[] = {sizeof(T), __VA_ARGS__, GC_END, 0};            \
    static const bk_type name = {                                                           \
        {.__code = GO_STRUCT, .__align = _Alignof(T), .__field_align = _Alignof(T),         \
         .__size = sizeof(T), .__gc = name##_prog},                                         \
        name##_prog}

static inline void bk_init(void)
{
    runtime_mallocinit();
    bk_t_start = bk_now_ns();
}

static inline void *bk_new(const bk_type *t)
{
#if GOGC_TYPED
    return runtime_mallocgc(t->t.__size, (uintptr_t)&t->t | TypeInfo_SingleObject, 0);
#else
    return runtime_mallocgc(t->t.__size, 0, 0);
#endif
}

static inline void *bk_new_atomic(size_t n) { return runtime_mallocgc(n, 0, FlagNoScan); }
static inline void bk_free(void *p) { (void)p; }
static inline void bk_collect(void) { runtime_GC(); }
static int bk_saved_pct = 100;
static inline void bk_gc_off(void) { bk_saved_pct = runtime_setgcpercent(-1); }
static inline void bk_gc_on(void) { runtime_setgcpercent(bk_saved_pct); }
static inline void bk_add_roots(void *lo, void *hi) { gogc_add_roots(lo, hi); }

typedef struct bk_stats {
    uint64_t gcs, maxpause_ns, totalpause_ns, heap_bytes, window;
} bk_stats;

static MStats bk_ms; /* 5.9 KB: static rather than on the stack the collector scans */

/* The last collection's stop-the-world pause. */
static inline uint64_t bk_last_pause_ns(void)
{
    runtime_ReadMemStats(&bk_ms);
    return bk_ms.numgc ? bk_ms.pause_ns[(bk_ms.numgc - 1) % 256] : 0;
}

/* Mark workers: gogc uses min(cores, GOMAXPROCS, GODEBUG=gcprocs, 32). */
static inline int bk_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    const char *g = getenv("GOMAXPROCS"), *d = getenv("GODEBUG");
    if (g && atoi(g) > 0 && atoi(g) < n)
        n = atoi(g);
    if (d && (d = strstr(d, "gcprocs=")) && atoi(d + 8) > 0 && atoi(d + 8) < n)
        n = atoi(d + 8);
    return n < 1 ? 1 : n > 32 ? 32 : (int)n;
}

static inline bk_stats bk_get_stats(void)
{
    bk_stats s = {0, 0, 0, 0, 0};
    runtime_ReadMemStats(&bk_ms);
    s.gcs = bk_ms.numgc;
    s.totalpause_ns = bk_ms.pause_total_ns;
    s.window = s.gcs < 256 ? s.gcs : 256;
    for (uint64_t i = 0; i < s.window; i++)
        if (bk_ms.pause_ns[i] > s.maxpause_ns)
            s.maxpause_ns = bk_ms.pause_ns[i];
    s.heap_bytes = bk_ms.heap_sys;
    return s;
}

/* ========================================================================================= */
#elif defined(BACKEND_BDWGC)
#define GC_THREADS /* declares GC_get_parallel/GC_start_mark_threads; no threads are made here */
#include <gc.h>

#define BK_HAS_GC 1
#define BK_NAME "bdwgc"
typedef struct bk_type {
    size_t size;
} bk_type;
#define BK_TYPE(name, T, ...) static const bk_type name = {sizeof(T)}

static uint64_t bk_gc_t0, bk_gc_max, bk_gc_total, bk_gc_count, bk_gc_last;

static void bk_on_event(GC_EventType e)
{
    if (e == GC_EVENT_START) {
        bk_gc_t0 = bk_now_ns();
    } else if (e == GC_EVENT_END) {
        uint64_t d = bk_now_ns() - bk_gc_t0;
        bk_gc_last = d;
        bk_gc_total += d;
        bk_gc_count++;
        if (d > bk_gc_max)
            bk_gc_max = d;
    }
}

/* GC_INIT must be expanded in main's frame on some platforms, hence a macro. bdwgc starts its
 * parallel marker threads only in multi-threaded clients; GC_start_mark_threads() is the
 * documented way for a single-threaded one to get them (GC_MARKERS=1 still limits it to one),
 * so bdwgc, like gogc, may mark on every core. BK_BDWGC_NO_INTERIOR: recognise only pointers to
 * an object's start; this also drops the extra byte bdwgc otherwise adds to every object (so a
 * 32-byte object stays in the 32-byte class instead of 48). */
#ifdef BK_BDWGC_NO_INTERIOR
#define BK_BDWGC_PRE_INIT() GC_set_all_interior_pointers(0)
#else
#define BK_BDWGC_PRE_INIT() ((void)0)
#endif
#define bk_init()                                                                          \
    do {                                                                                    \
        BK_BDWGC_PRE_INIT();                                                                \
        GC_INIT();                                                                          \
        GC_start_mark_threads();                                                            \
        GC_set_on_collection_event(bk_on_event);                                            \
        bk_t_start = bk_now_ns();                                                           \
    } while (0)

/* Marker threads, the initiating one included. */
static inline int bk_workers(void) { return GC_get_parallel() + 1; }
static inline uint64_t bk_last_pause_ns(void) { return bk_gc_last; }

static inline void *bk_new(const bk_type *t) { return GC_MALLOC(t->size); }
static inline void *bk_new_atomic(size_t n)
{
    void *p = GC_MALLOC_ATOMIC(n);
    if (p)
        memset(p, 0, n); /* GC_MALLOC_ATOMIC does not clear */
    return p;
}
static inline void bk_free(void *p) { (void)p; }
static inline void bk_collect(void) { GC_gcollect(); }
static inline void bk_gc_off(void) { GC_disable(); }
static inline void bk_gc_on(void) { GC_enable(); }
static inline void bk_add_roots(void *lo, void *hi) { (void)lo, (void)hi; }

typedef struct bk_stats {
    uint64_t gcs, maxpause_ns, totalpause_ns, heap_bytes, window;
} bk_stats;

static inline bk_stats bk_get_stats(void)
{
    bk_stats s;
    s.gcs = GC_get_gc_no();
    s.maxpause_ns = bk_gc_max;
    s.totalpause_ns = bk_gc_total;
    s.heap_bytes = GC_get_heap_size();
    s.window = bk_gc_count;
    return s;
}

/* ========================================================================================= */
#else /* explicit-free allocators */

#define BK_HAS_GC 0
typedef struct bk_type {
    size_t size;
} bk_type;
#define BK_TYPE(name, T, ...) static const bk_type name = {sizeof(T)}

#if defined(BACKEND_MIMALLOC)
#include <mimalloc.h>
#define BK_NAME "mimalloc"
#define bk_calloc(n) mi_zalloc(n)
#define bk_free_raw(p) mi_free(p)
#elif defined(BACKEND_JEMALLOC)
#include <jemalloc/jemalloc.h>
#define BK_NAME "jemalloc"
#define bk_calloc(n) calloc(1, n)
#define bk_free_raw(p) free(p)
#else
#define BK_NAME "glibc"
#define bk_calloc(n) calloc(1, n)
#define bk_free_raw(p) free(p)
#endif

static inline void bk_init(void)
{
#if defined(BACKEND_JEMALLOC)
    /* proves that malloc is jemalloc's: mallctl exists only there */
    const char *v = NULL;
    size_t vl = sizeof v;
    if (mallctl("version", &v, &vl, NULL, 0) != 0 || !v) {
        fprintf(stderr, "jemalloc backend: mallctl(\"version\") failed\n");
        exit(3);
    }
#endif
    bk_t_start = bk_now_ns();
}

static inline void *bk_new(const bk_type *t) { return bk_calloc(t->size); }
static inline void *bk_new_atomic(size_t n) { return bk_calloc(n); }
static inline void bk_free(void *p) { bk_free_raw(p); }
static inline void bk_collect(void) {}
static inline void bk_gc_off(void) {}
static inline void bk_gc_on(void) {}
static inline void bk_add_roots(void *lo, void *hi) { (void)lo, (void)hi; }

typedef struct bk_stats {
    uint64_t gcs, maxpause_ns, totalpause_ns, heap_bytes, window;
} bk_stats;

static inline int bk_workers(void) { return 0; }
static inline uint64_t bk_last_pause_ns(void) { return 0; }

static inline bk_stats bk_get_stats(void)
{
    bk_stats s = {0, 0, 0, 0, 0};
    return s;
}
#endif

/* ========================================================================================= */

static inline void *bk_check(void *p)
{
    if (!p) {
        fprintf(stderr, "%s: out of memory\n", BK_NAME);
        exit(3);
    }
    return p;
}

static inline long bk_maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* The machine-readable last line the runner parses. */
static inline void bk_result_line(const char *extra)
{
    uint64_t ms = (bk_now_ns() - bk_t_start) / 1000000;
    bk_stats s = bk_get_stats();
    printf("RESULT backend=%s workers=%d gcs=%llu maxpause_us=%llu totalpause_ms=%.1f heap_mb=%.1f "
           "rss_mb=%.1f ms=%llu",
           BK_NAME, bk_workers(), (unsigned long long)s.gcs, (unsigned long long)(s.maxpause_ns / 1000),
           (double)s.totalpause_ns / 1e6, (double)s.heap_bytes / 1048576.0,
           (double)bk_maxrss_kb() / 1024.0, (unsigned long long)ms);
#if defined(BACKEND_GOGC)
    if (s.gcs > 256)
        printf(" maxpause_window=256");
#endif
    if (extra && *extra)
        printf(" %s", extra);
    printf("\n");
    fflush(stdout);
}

#endif /* BENCH_BACKEND_H */
