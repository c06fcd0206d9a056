/*
 * t_gc_gogc: GOGC, pacing and the sweep API (libgo-abi.md sections 13.1-13.3). Every scenario runs
 * in a fresh exec of this binary (GOGC is read once per process), with GOGC set as stated:
 *  - GOGC=off: runtime_GC(), runtime_gc(1), runtime_gc(2) and 24 MB of garbage collect nothing
 *    (numgc 0, Frees 0, HeapAlloc keeps the garbage); setgcpercent returns -1.
 *  - parsing: unset/empty -> 100, "off" -> -1, "50" -> 50, "007" -> 7, "25abc" -> 25, and
 *    "abc", "-1" -> 0 (leading digits only), observed through setgcpercent's return value.
 *  - setgcpercent returns the previous value (100 by default; -5 is stored as -1); while it is
 *    negative runtime_GC() is a no-op, and after it is set back collections resume.
 *  - pacing: the same workload (a 2 MB live set of 64-byte objects under a gogc_add_roots range,
 *    then 48 MB of 64-byte runtime_mal garbage) collects more often with GOGC=50 than with 100,
 *    and more often with 100 than with 200; the live set stays intact; with a live set of 16 MB,
 *    after runtime_GC() NextGC is about HeapAlloc * (1 + GOGC/100).
 *  - GOGC=abc means 0, not off: the same (smaller) workload collects many times more often than
 *    with GOGC=100.
 *  - runtime_sweepone(): after runtime_gc(2) it returns all-ones at once; after runtime_gc(1) it
 *    returns page counts until the cycle is swept, then all-ones, and the garbage is then freed.
 */
#include "testutil.h"
#include "t_gc_util.h"

#define ALL_ONES ((uintptr_t)-1)

/* ---------------- children ---------------- */

static uint64_t **live_set;
static size_t live_n;

static void __attribute__((noinline)) make_live(size_t kb)
{
    live_n = kb * 1024 / 64;
    live_set = calloc(live_n, sizeof *live_set);
    gogc_add_roots(live_set, live_set + live_n); /* before filling: collections run meanwhile */
    for (size_t i = 0; i < live_n; i++) {
        uint64_t *p = runtime_mal(64);
        for (int w = 0; w < 8; w++)
            p[w] = i * 8 + (uint64_t)w;
        live_set[i] = p;
    }
}

static size_t live_bad(void)
{
    size_t bad = 0;
    for (size_t i = 0; i < live_n; i++)
        for (int w = 0; w < 8; w++)
            bad += live_set[i][w] != i * 8 + (uint64_t)w;
    return bad;
}

static void __attribute__((noinline)) churn_kb(size_t kb)
{
    size_t n = kb * 1024 / 64;
    for (size_t i = 0; i < n; i++) {
        uint64_t *p = runtime_mal(64);
        p[0] = i;
        p[7] = ~i;
    }
}

static void churn(size_t mb)
{
    churn_kb(mb * 1024);
}

static void print_stats(const char *tag)
{
    MStats m;
    gc_stats(&m);
    printf("%s numgc=%u nfree=%" PRIu64 " nmalloc=%" PRIu64 " heap_alloc=%" PRIu64 " next_gc=%" PRIu64
           " heap_objects=%" PRIu64 "\n",
           tag, m.numgc, m.nfree, m.nmalloc, m.heap_alloc, m.next_gc, m.heap_objects);
}

static int child(const char *mode)
{
    if (!strcmp(mode, "off")) {
        make_live(1024);
        churn(24);
        gc_full();
        runtime_GC();
        runtime_gc(1);
        runtime_gc(2);
        runtime_gc(0);
        print_stats("off");
        printf("setgcpercent=%d\n", runtime_setgcpercent(100));
        printf("live_bad=%zu\n", live_bad());
        return 0;
    }
    if (!strcmp(mode, "parse")) {
        printf("setgcpercent=%d\n", runtime_setgcpercent(100));
        return 0;
    }
    if (!strcmp(mode, "setpct")) {
        MStats a, b, c;
        int r1 = runtime_setgcpercent(50);
        int r2 = runtime_setgcpercent(-5);
        gc_stats(&a);
        churn(8);
        runtime_GC();
        runtime_gc(1);
        gc_stats(&b);
        int r3 = runtime_setgcpercent(70);
        runtime_GC();
        gc_stats(&c);
        int r4 = runtime_setgcpercent(100);
        printf("r1=%d r2=%d r3=%d r4=%d numgc_off=%u/%u numgc_on=%u nfree_off=%" PRIu64 "/%" PRIu64
               " nfree_on=%" PRIu64 "\n",
               r1, r2, r3, r4, a.numgc, b.numgc, c.numgc, a.nfree, b.nfree, c.nfree);
        return 0;
    }
    if (!strncmp(mode, "work:", 5)) {
        size_t live_kb = 0, churn_k = 0;
        sscanf(mode + 5, "%zu:%zu", &live_kb, &churn_k);
        make_live(live_kb);
        MStats a;
        gc_stats(&a);
        double t0 = tu_now();
        churn_kb(churn_k);
        double t1 = tu_now();
        print_stats("work");
        printf("numgc_before=%u ms=%d\n", a.numgc, (int)((t1 - t0) * 1000));
        printf("live_bad=%zu\n", live_bad());
        return 0;
    }
    if (!strncmp(mode, "pace:", 5)) {
        size_t live_kb = 0;
        sscanf(mode + 5, "%zu", &live_kb);
        make_live(live_kb);
        churn(8);
        gc_full();
        print_stats("pace");
        printf("live_bad=%zu\n", live_bad());
        return 0;
    }
    if (!strcmp(mode, "sweep")) {
        make_live(512);
        churn(4);
        gc_force(2);
        uintptr_t s1 = runtime_sweepone(), s2 = runtime_sweepone();
        churn(4);
        MStats a, b;
        gc_force(1);
        long calls = 0, pages = 0;
        uintptr_t r;
        while ((r = runtime_sweepone()) != ALL_ONES && calls < 10000000) {
            calls++;
            pages += (long)r;
        }
        uintptr_t s3 = runtime_sweepone();
        gc_stats(&a);
        churn(1); /* allocation after a complete sweep */
        gc_force(2);
        gc_stats(&b);
        printf("s1=%#" PRIxPTR " s2=%#" PRIxPTR " s3=%#" PRIxPTR " calls=%ld pages=%ld nfree_after_lazy=%" PRIu64
               " nfree_final=%" PRIu64 " r_last=%#" PRIxPTR "\n",
               s1, s2, s3, calls, pages, a.nfree, b.nfree, r);
        printf("live_bad=%zu\n", live_bad());
        return 0;
    }
    fprintf(stderr, "unknown child mode %s\n", mode);
    return 3;
}

/* ---------------- parent ---------------- */

static char out[1 << 16];

/* Runs a child; returns 1 if it exited 0 (reporting otherwise). */
static int run(const char *mode, const char *const *env)
{
    int st;
    if (tu_run_self(mode, env, out, sizeof out, &st, 60) != 0) {
        CHECK(0, "could not start child %s", mode);
        return 0;
    }
    int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    CHECK(ok, "child %s (%s%s) ended with status %#x:\n%s", mode, env && env[0] ? env[0] : "",
          env && env[0] && env[1] ? " ..." : "", st, out);
    return ok;
}

/* Value of "key=" in out (integer), or def. */
static long long field(const char *key, long long def)
{
    char pat[64];
    snprintf(pat, sizeof pat, "%s=", key);
    const char *p = out;
    while ((p = strstr(p, pat)) != NULL) {
        if (p == out || p[-1] == ' ' || p[-1] == '\n')
            return (long long)strtoull(p + strlen(pat), NULL, 0);
        p++;
    }
    return def;
}

static long long work_numgc(const char *gogc, const char *mode, long long *nfree)
{
    const char *env[] = {gogc, "GODEBUG", NULL};
    if (!run(mode, env))
        return -1;
    long long n = field("numgc", -1) - field("numgc_before", 0);
    if (nfree)
        *nfree = field("nfree", -1);
    printf("%-9s %-14s numgc %lld, churn %lld ms\n", gogc, mode, n, field("ms", 0));
    CHECK(field("live_bad", -1) == 0, "%s %s: live set damaged (%lld bad words)", gogc, mode,
          field("live_bad", -1));
    return n;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "--child"))
        return child(argv[2]);

    /* GOGC=off */
    {
        const char *env[] = {"GOGC=off", "GODEBUG", NULL};
        if (run("off", env)) {
            CHECK(field("numgc", -1) == 0, "GOGC=off: numgc %lld, expected 0", field("numgc", -1));
            CHECK(field("nfree", -1) == 0, "GOGC=off: Frees %lld, expected 0", field("nfree", -1));
            CHECK(field("heap_alloc", 0) >= 24LL << 20, "GOGC=off: HeapAlloc %lld, expected >= 24 MB of garbage",
                  field("heap_alloc", 0));
            CHECK(field("setgcpercent", 0) == -1, "GOGC=off: setgcpercent returned %lld, expected -1",
                  field("setgcpercent", 0));
            CHECK(field("live_bad", -1) == 0, "GOGC=off: live set damaged");
        }
    }

    /* parsing */
    {
        static const struct {
            const char *env;
            int want;
        } cases[] = {
            {"GOGC", 100},       {"GOGC=", 100},  {"GOGC=off", -1}, {"GOGC=50", 50},    {"GOGC=007", 7},
            {"GOGC=25abc", 25}, {"GOGC=abc", 0}, {"GOGC=-1", 0},    {"GOGC=1000", 1000},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            const char *env[] = {cases[i].env, NULL};
            if (run("parse", env))
                CHECK(field("setgcpercent", -99) == cases[i].want, "%s: setgcpercent returned %lld, expected %d",
                      cases[i].env, field("setgcpercent", -99), cases[i].want);
        }
    }

    /* setgcpercent */
    {
        const char *env[] = {"GOGC", NULL};
        if (run("setpct", env)) {
            CHECK(field("r1", -99) == 100, "first setgcpercent returned %lld, expected 100", field("r1", -99));
            CHECK(field("r2", -99) == 50, "setgcpercent returned %lld, expected the 50 set before", field("r2", -99));
            CHECK(field("r3", -99) == -1, "setgcpercent after setgcpercent(-5) returned %lld, expected -1",
                  field("r3", -99));
            CHECK(field("r4", -99) == 70, "setgcpercent returned %lld, expected 70", field("r4", -99));
            const char *o = strstr(out, "numgc_off=");
            unsigned a = 0, b = 0, c = 0;
            unsigned long long fa = 0, fb = 0, fc = 0;
            if (o && sscanf(o, "numgc_off=%u/%u numgc_on=%u nfree_off=%llu/%llu nfree_on=%llu", &a, &b, &c, &fa,
                            &fb, &fc) == 6) {
                CHECK(a == b, "collections ran while GOGC was negative (numgc %u -> %u)", a, b);
                CHECK(fa == fb, "objects were freed while GOGC was negative (Frees %llu -> %llu)", fa, fb);
                CHECK(c > b, "runtime_GC did not collect after setgcpercent(70) (numgc %u -> %u)", b, c);
                CHECK(fc >= fb + (8ULL << 20) / 64 * 95 / 100,
                      "after setgcpercent(70) runtime_GC freed %llu objects, expected most of the %llu garbage",
                      fc - fb, (8ULL << 20) / 64);
            } else {
                CHECK(0, "cannot parse setpct output: %s", out);
            }
        }
    }

    /* pacing: numgc(50) > numgc(100) > numgc(200) on the same workload */
    long long n50 = work_numgc("GOGC=50", "work:2048:49152", NULL);
    long long n100 = work_numgc("GOGC=100", "work:2048:49152", NULL);
    long long n200 = work_numgc("GOGC=200", "work:2048:49152", NULL);
    CHECK(n200 >= 2, "GOGC=200: only %lld collections during 48 MB of garbage", n200);
    CHECK(n50 > 0 && n100 > 0 && n200 > 0, "a workload child failed");
    CHECK(n50 > n100 && n100 > n200, "expected numgc(GOGC=50) > numgc(100) > numgc(200), got %lld, %lld, %lld",
          n50, n100, n200);
    CHECK(n50 >= 2 * n200, "expected GOGC=50 to collect at least twice as often as GOGC=200: %lld vs %lld", n50,
          n200);

    /* next_gc after a collection, live set 16 MB */
    static const int pcts[] = {50, 100, 200};
    for (int k = 0; k < 3; k++) {
        char e[32];
        snprintf(e, sizeof e, "GOGC=%d", pcts[k]);
        const char *env[] = {e, "GODEBUG", NULL};
        if (!run("pace:16384", env))
            continue;
        long long ha = field("heap_alloc", 0), ng = field("next_gc", 0);
        double want = (double)ha * (1.0 + pcts[k] / 100.0);
        printf("%s: HeapAlloc %lld NextGC %lld (HeapAlloc*(1+GOGC/100) = %.0f)\n", e, ha, ng, want);
        CHECK(ha >= 16LL << 20, "%s: HeapAlloc %lld below the 16 MB live set", e, ha);
        CHECK(ng >= want * 0.9 && ng <= want * 1.1 + 65536, "%s: NextGC %lld, expected about %.0f", e, ng, want);
        CHECK(field("live_bad", -1) == 0, "%s pace: live set damaged", e);
    }

    /* GOGC=abc is 0: collects far more often than 100 */
    long long nabc = work_numgc("GOGC=abc", "work:16:64", NULL);
    long long n100s = work_numgc("GOGC=100", "work:16:64", NULL);
    CHECK(nabc >= 20 && nabc >= 4 * (n100s > 0 ? n100s : 1),
          "GOGC=abc (= 0) collected %lld times, GOGC=100 %lld times; expected many more with 0", nabc, n100s);

    /* sweepone */
    {
        const char *env[] = {"GOGC", "GODEBUG", NULL};
        if (run("sweep", env)) {
            uintptr_t s1 = (uintptr_t)field("s1", 0), s2 = (uintptr_t)field("s2", 0), s3 = (uintptr_t)field("s3", 0);
            printf("sweep: %s", out);
            CHECK(s1 == ALL_ONES && s2 == ALL_ONES, "after runtime_gc(2) sweepone returned %#" PRIxPTR " / %#" PRIxPTR,
                  s1, s2);
            CHECK(s3 == ALL_ONES, "sweepone returned %#" PRIxPTR " after it had reported the end", s3);
            CHECK(field("calls", 10000000) < 10000000, "sweepone never reported the end of the sweep");
            CHECK(field("pages", -1) >= 0 && field("pages", -1) <= 1 << 20, "sweepone page total %lld",
                  field("pages", -1));
            long long fa = field("nfree_after_lazy", 0);
            CHECK(fa >= 2 * ((4LL << 20) / 64) * 95 / 100,
                  "after runtime_gc(1) and sweepone to the end, Frees %lld, expected most of 2 x %lld garbage", fa,
                  (4LL << 20) / 64);
            CHECK(field("live_bad", -1) == 0, "sweep: live set damaged");
        }
    }
    return test_summary();
}
