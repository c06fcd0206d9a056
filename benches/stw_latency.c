/*
 * stw_latency: how long gogc takes to stop the world, by number of attached threads.
 *
 * Not a test: prints a table. For N in {2, 8, 32} attached threads (gogc_pthread_create), each
 * either asleep (blocked in nanosleep after a few allocations) or busy (allocating small
 * garbage in a loop, a little live data), the main thread runs ROUNDS runtime_gc(1) on an
 * almost empty heap. Reported, as median / 90th percentile over the collections:
 *   stop   the first gctrace field (t1-t0: from the start of the collection until every other
 *          attached thread acknowledged the stop, plus the sync.Pool hook, in microseconds;
 *          GODEBUG=gctrace=1 is set by re-executing the program, and stderr is read back
 *          through a pipe);
 *   gc     wall time of the whole runtime_gc(1) call in the main thread (stop + mark of the
 *          tiny heap + restart), in microseconds.
 * In busy mode the busy threads' own allocation may also trigger collections; their trace
 * lines count in `stop` as well (GOGC=400 keeps those rare).
 *
 * Build: cc -O2 -pthread -Iinclude benches/stw_latency.c -o build/stw_latency \
 *            -Ltarget/release -lgogc -Wl,-rpath,$PWD/target/release
 * Run:   build/stw_latency [ROUNDS]   (default 200)
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gogc.h"

#define MAXT 64
#define MAXS 20000

static int stop_flag;
static int busy_mode;
static unsigned long busy_allocs;

/* gctrace samples (first field, us) gathered by the reader thread. */
static pthread_mutex_t smu = PTHREAD_MUTEX_INITIALIZER;
static unsigned long stop_us[MAXS];
static int nstop;
static int collecting;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void *reader(void *arg)
{
    int fd = (int)(intptr_t)arg;
    static char buf[1 << 16];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            return NULL;
        }
        len += (size_t)n;
        buf[len] = 0;
        char *line = buf, *nl;
        while ((nl = strchr(line, '\n')) != NULL) {
            *nl = 0;
            unsigned g, p;
            unsigned long a, b, c, d;
            if (sscanf(line, "gc%u(%u): %lu+%lu+%lu+%lu us", &g, &p, &a, &b, &c, &d) == 6) {
                pthread_mutex_lock(&smu);
                if (collecting && nstop < MAXS)
                    stop_us[nstop++] = a;
                pthread_mutex_unlock(&smu);
            }
            line = nl + 1;
        }
        len = strlen(line);
        memmove(buf, line, len);
    }
}

static void *worker(void *arg)
{
    (void)arg;
    void *keep[16] = {0};
    unsigned i = 0;
    if (!busy_mode) {
        for (int k = 0; k < 16; k++)
            keep[k] = runtime_mal(64);
        while (!__atomic_load_n(&stop_flag, __ATOMIC_ACQUIRE)) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    } else {
        while (!__atomic_load_n(&stop_flag, __ATOMIC_ACQUIRE)) {
            void *p = runtime_mallocgc(16 + (i * 37) % 200, 0, 0);
            keep[i % 16] = p;
            i++;
        }
        __atomic_add_fetch(&busy_allocs, i, __ATOMIC_RELAXED);
    }
    __asm__ volatile("" ::"r"(keep) : "memory");
    return NULL;
}

static int cmp_ul(const void *a, const void *b)
{
    unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;
    return x < y ? -1 : x > y;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void run(int nthreads, int busy, int rounds)
{
    pthread_t t[MAXT];
    static double wall[MAXS];
    busy_mode = busy;
    __atomic_store_n(&stop_flag, 0, __ATOMIC_RELEASE);
    for (int i = 0; i < nthreads; i++)
        if (gogc_pthread_create(&t[i], NULL, worker, NULL) != 0) {
            fprintf(stdout, "cannot create thread %d\n", i);
            exit(1);
        }
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL); /* let them start (and attach) */
    runtime_GC();
    pthread_mutex_lock(&smu);
    nstop = 0;
    collecting = 1;
    pthread_mutex_unlock(&smu);
    uint32_t gc0 = runtime_memStats.numgc;
    for (int r = 0; r < rounds; r++) {
        double a = now_us();
        runtime_gc(1);
        wall[r] = now_us() - a;
        struct timespec gap = {0, 2 * 1000 * 1000};
        nanosleep(&gap, NULL);
    }
    uint32_t ngc = runtime_memStats.numgc - gc0;
    nanosleep(&ts, NULL); /* let the reader catch up */
    pthread_mutex_lock(&smu);
    collecting = 0;
    int n = nstop;
    qsort(stop_us, (size_t)n, sizeof stop_us[0], cmp_ul);
    unsigned long med = n ? stop_us[n / 2] : 0, p90 = n ? stop_us[n * 9 / 10] : 0, mx = n ? stop_us[n - 1] : 0;
    pthread_mutex_unlock(&smu);
    qsort(wall, (size_t)rounds, sizeof wall[0], cmp_d);
    __atomic_store_n(&stop_flag, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < nthreads; i++)
        pthread_join(t[i], NULL);
    printf("%3d threads %-6s  stop median %5lu us  p90 %5lu us  max %6lu us  (%d trace lines, %u collections)   "
           "runtime_gc(1) wall median %7.1f us  p90 %7.1f us\n",
           nthreads, busy ? "busy" : "asleep", med, p90, mx, n, ngc, wall[rounds / 2], wall[rounds * 9 / 10]);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const char *gd = getenv("GODEBUG");
    if (!gd || !strstr(gd, "gctrace=1")) {
        setenv("GODEBUG", "gctrace=1", 1);
        setenv("GOGC", "400", 1);
        execv("/proc/self/exe", argv);
        perror("execv");
        return 1;
    }
    int rounds = argc > 1 ? atoi(argv[1]) : 200;
    if (rounds < 1 || rounds > MAXS)
        rounds = 200;
    int fds[2];
    if (pipe(fds) != 0)
        return 1;
    int real_err = dup(2);
    dup2(fds[1], 2);
    close(fds[1]);
    pthread_t rt;
    pthread_create(&rt, NULL, reader, (void *)(intptr_t)fds[0]); /* never attached: no allocation */
    (void)real_err;

    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    printf("stw_latency: %d runtime_gc(1) per configuration, %ld CPUs, GODEBUG=%s GOGC=%s\n", rounds, ncpu,
           getenv("GODEBUG"), getenv("GOGC"));
    static const int ns[] = {2, 8, 32};
    for (int busy = 0; busy < 2; busy++)
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
            run(ns[i], busy, rounds);
    return 0;
}
