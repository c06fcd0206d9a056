/*
 * t_fatal: the allocator's fatal errors (libgo-abi.md 4, 6.6, 17), each provoked in a forked
 * child whose stderr and death are checked. Throws print "fatal error: <msg>" on stderr and die
 * of SIGABRT; the cnewarray size panic prints "panic: runtime error: allocation size out of
 * range" and exits with status 2.
 *
 * The parent never calls into the library itself: every child starts from a fresh, unshared
 * heap (no fork while library threads might hold locks).
 */
#include "testutil.h"
#include "gogc.h"
#include <sys/time.h>

static long global_word = 1;
static char global_buf[256];

/* ---- __go_free of memory that is not a heap block ---- */

static void child_free_global(void *arg)
{
    void *warm = __go_alloc(100); /* the heap exists */
    (void)warm;
    __go_free(arg);
}

static void child_free_global_no_heap(void *arg)
{
    __go_free(arg); /* the very first library call */
}

static void child_free_stack(void *arg)
{
    (void)arg;
    volatile char buf[128];
    buf[0] = 1;
    void *warm = __go_alloc(100);
    (void)warm;
    __go_free((void *)(buf + 16));
}

static void child_free_malloc(void *arg)
{
    (void)arg;
    void *warm = __go_alloc(100);
    (void)warm;
    void *m = malloc(64);
    __go_free(m);
}

static void child_double_free_large(void *arg)
{
    (void)arg;
    void *p = runtime_mallocgc(1 << 20, 0, 0);
    __go_free(p);
    __go_free(p); /* the span is free now: not an allocated block */
}

static void child_free_past_large_limit(void *arg)
{
    (void)arg;
    unsigned char *p = runtime_mallocgc(40000, 0, 0); /* 5 pages, limit at +40000 */
    __go_free(p + 40000);
}

/* ---- __go_free of a block smaller than 16 bytes ---- */

static void child_free_small_mallocgc(void *arg)
{
    (void)arg;
    void *p = runtime_mallocgc(8, 0, 0); /* class 1: 8-byte block */
    __go_free(p);
}

static void child_free_small_go_alloc(void *arg)
{
    (void)arg;
    void *p = __go_alloc(3); /* untyped, scanned: class 1, not tiny */
    __go_free(p);
}

/* Under efence=1 a small request is a large object with a page of its own (no tiny blocks to
 * share it), so freeing it is legal: the free returns and the block becomes inaccessible. */
static void child_free_small_efence(void *arg)
{
    volatile char *p = arg ? __go_alloc(3) : runtime_mallocgc(8, 0, 0);
    p[0] = 1;
    __go_free((void *)p);
    fprintf(stderr, "free returned\n");
    fflush(stderr);
    p[0] = 2; /* must fault */
    fprintf(stderr, "freed block still writable\n");
}

/* ---- persistentalloc alignment ---- */

static void child_palloc_align(void *arg)
{
    uintptr_t align = (uintptr_t)arg;
    uint64_t stat = 0;
    runtime_persistentalloc(64, align, &stat);
}

/* ---- cnewarray size panic ---- */

static uintptr_t prog16[3] = {16, GC_END, 0};
static GoType desc16 __attribute__((aligned(16)));

static void init_desc16(void)
{
    desc16.__code = GO_STRUCT | GO_NO_POINTERS;
    desc16.__align = 8;
    desc16.__field_align = 8;
    desc16.__size = 16;
    desc16.__gc = prog16;
}

static void child_cnewarray(void *arg)
{
    intptr_t n = *(intptr_t *)arg;
    void *warm = __go_alloc(100);
    (void)warm;
    runtime_cnewarray(&desc16, n);
}

/* ---- out of memory ---- */

static void child_huge(void *arg)
{
    uintptr_t n = *(uintptr_t *)arg;
    runtime_mallocgc(n, 0, 0);
}

static void child_huge_noscan(void *arg)
{
    uintptr_t n = *(uintptr_t *)arg;
    void *warm = __go_alloc(100);
    (void)warm;
    runtime_mallocgc(n, 0, FlagNoScan);
}

/* ---- malloc/free re-entered from a signal handler ---- */

static volatile long prof_allocs;

static void prof_handler(int sig)
{
    (void)sig;
    void *p = __go_alloc(64);
    (void)p;
    prof_allocs++;
}

static void child_deadlock(void *arg)
{
    (void)arg;
    void *warm = __go_alloc(64);
    __go_free(warm);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = prof_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGPROF, &sa, NULL);
    struct itimerval it = {{0, 50}, {0, 50}};
    setitimer(ITIMER_PROF, &it, NULL);
    uint64_t seed = 42;
    double end = tu_now() + 10.0;
    long loops = 0;
    while (tu_now() < end) {
        for (int i = 0; i < 256; i++) {
            uintptr_t n = 16 + (uintptr_t)(tu_rand(&seed) % 3000);
            if ((i & 63) == 0)
                n = 40000; /* a large one now and then: longer time inside the allocator */
            void *p = __go_alloc(n);
            __go_free(p);
        }
        loops++;
    }
    struct itimerval off;
    memset(&off, 0, sizeof off);
    setitimer(ITIMER_PROF, &off, NULL);
    fprintf(stderr, "no deadlock detected: %ld loops, %ld allocations from the SIGPROF handler\n", loops,
            prof_allocs);
}

/* ---- driver ---- */

static void has(const char *needle, const char *test)
{
    CHECK(strstr(tu_child_stderr, needle) != NULL, "%s: child stderr lacks \"%s\":\n%s", test, needle,
          tu_child_stderr);
}

static void lacks(const char *needle, const char *test)
{
    CHECK(strstr(tu_child_stderr, needle) == NULL, "%s: child stderr unexpectedly has \"%s\":\n%s", test,
          needle, tu_child_stderr);
}

static void run(const char *name, void (*fn)(void *), void *arg, const char *expect, int how)
{
    double t0 = tu_now();
    tu_fatal_label = name;
    int ok = expect_fatal(fn, arg, expect, how);
    tu_fatal_label = NULL;
    printf("%-34s %s (%.2f s)\n", name, ok ? "ok" : "FAILED", tu_now() - t0);
    if (getenv("T_FATAL_SHOW")) /* show what each child printed */
        printf("%s", tu_child_stderr);
    fflush(stdout);
}

static void test_free_not_heap(void)
{
    char want[128];

    run("free of a global", child_free_global, &global_word, "fatal error: free runtime_mlookup",
        EXPECT_SIGNAL(SIGABRT));
    snprintf(want, sizeof want, "free %p: not an allocated block", (void *)&global_word);
    has(want, "free of a global");
    /* The explanation comes before the throw. */
    {
        const char *a = strstr(tu_child_stderr, "not an allocated block");
        const char *b = strstr(tu_child_stderr, "fatal error: free runtime_mlookup");
        CHECK(a && b && a < b, "free of a global: \"not an allocated block\" should precede the fatal error");
    }

    run("free of a global (no heap yet)", child_free_global_no_heap, global_buf + 8,
        "fatal error: free runtime_mlookup", EXPECT_SIGNAL(SIGABRT));
    snprintf(want, sizeof want, "free %p: not an allocated block", (void *)(global_buf + 8));
    has(want, "free before any allocation");

    run("free of a stack address", child_free_stack, NULL, "fatal error: free runtime_mlookup",
        EXPECT_SIGNAL(SIGABRT));
    has("free 0x", "free of a stack address");
    has(": not an allocated block", "free of a stack address");

    run("free of libc malloc memory", child_free_malloc, NULL, "fatal error: free runtime_mlookup",
        EXPECT_SIGNAL(SIGABRT));
    has("not an allocated block", "free of libc malloc memory");

    run("double free of a large object", child_double_free_large, NULL, "fatal error: free runtime_mlookup",
        EXPECT_SIGNAL(SIGABRT));
    has("not an allocated block", "double free of a large object");

    run("free at a large object's limit", child_free_past_large_limit, NULL,
        "fatal error: free runtime_mlookup", EXPECT_SIGNAL(SIGABRT));
    has("not an allocated block", "free at a large object's limit");
}

static void test_free_too_small(void)
{
    if (tu_godebug("efence")) {
        run("free of an 8-byte block (efence)", child_free_small_efence, NULL, "free returned",
            EXPECT_SIGNAL(SIGSEGV));
        lacks("still writable", "free of an 8-byte block (efence)");
        run("free of __go_alloc(3) (efence)", child_free_small_efence, (void *)1, "free returned",
            EXPECT_SIGNAL(SIGSEGV));
        lacks("still writable", "free of __go_alloc(3) (efence)");
        return;
    }
    run("free of an 8-byte block", child_free_small_mallocgc, NULL, "fatal error: freeing too small block",
        EXPECT_SIGNAL(SIGABRT));
    lacks("not an allocated block", "free of an 8-byte block");
    run("free of __go_alloc(3)", child_free_small_go_alloc, NULL, "fatal error: freeing too small block",
        EXPECT_SIGNAL(SIGABRT));
}

static void test_persistentalloc_align(void)
{
    static const uintptr_t not_pow2[] = {3, 6, 12, 24, 100, 4097, 12288};
    for (size_t i = 0; i < sizeof not_pow2 / sizeof not_pow2[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "persistentalloc align %" PRIuPTR, not_pow2[i]);
        run(name, child_palloc_align, (void *)not_pow2[i],
            "fatal error: persistentalloc: align is not a power of 2", EXPECT_SIGNAL(SIGABRT));
    }
    static const uintptr_t too_big[] = {16384, 32768, 1 << 20, (uintptr_t)1 << 40};
    for (size_t i = 0; i < sizeof too_big / sizeof too_big[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "persistentalloc align %" PRIuPTR, too_big[i]);
        run(name, child_palloc_align, (void *)too_big[i], "fatal error: persistentalloc: align is too large",
            EXPECT_SIGNAL(SIGABRT));
    }
}

static void test_cnewarray_range(void)
{
    static intptr_t ns[] = {-1, -1000, INTPTR_MIN, ((intptr_t)1 << 37) / 16 + 1, INTPTR_MAX};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "cnewarray(16-byte type, %" PRIdPTR ")", ns[i]);
        /* gccgo panics with runtime_panicstring("runtime: allocation size out of range"), whose
         * Error() adds "runtime error: ": the unrecovered-panic line is
         * "panic: runtime error: runtime: allocation size out of range". Accept that and the
         * shorter "panic: runtime error: allocation size out of range". */
        run(name, child_cnewarray, &ns[i], "allocation size out of range", EXPECT_EXIT(2));
        CHECK(strstr(tu_child_stderr, "panic: runtime error: runtime: allocation size out of range\n") ||
                  strstr(tu_child_stderr, "panic: runtime error: allocation size out of range\n"),
              "%s: no \"panic: runtime error: [runtime: ]allocation size out of range\" line:\n%s", name,
              tu_child_stderr);
        lacks("fatal error", name);
    }
}

static void test_out_of_memory(void)
{
    static uintptr_t huge[] = {(uintptr_t)1 << 62, UINTPTR_MAX - 100, UINTPTR_MAX, UINTPTR_MAX - 8191,
                               ((uintptr_t)1 << 37) + 8192 * 3};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        for (int variant = 0; variant < 2; variant++) {
            char name[80];
            snprintf(name, sizeof name, "mallocgc(%#" PRIxPTR ")%s", huge[i], variant ? " noscan" : "");
            run(name, variant ? child_huge_noscan : child_huge, &huge[i], "out of memory",
                EXPECT_SIGNAL(SIGABRT));
            CHECK(strstr(tu_child_stderr, "fatal error: out of memory") ||
                      strstr(tu_child_stderr, "fatal error: runtime: out of memory"),
                  "%s: no \"fatal error: out of memory\" (or \"fatal error: runtime: out of memory\"):\n%s", name,
                  tu_child_stderr);
        }
    }
}

static void test_deadlock(void)
{
    run("malloc from a SIGPROF handler", child_deadlock, NULL, "fatal error: malloc/free - deadlock",
        EXPECT_SIGNAL(SIGABRT));
}

int main(void)
{
    printf("t_fatal\n");
    init_desc16();
    test_free_not_heap();
    test_free_too_small();
    test_persistentalloc_align();
    test_cnewarray_range();
    test_out_of_memory();
    test_deadlock();
    return test_summary();
}
