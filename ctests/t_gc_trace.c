/*
 * t_gc_trace: GODEBUG=gctrace (libgo-abi.md sections 13.4, 13.5), in fresh execs of this binary.
 *  - gctrace=1: one line per collection on stderr, each matching exactly
 *      gc%d(%d): %D+%D+%D+%D us, %D -> %D MB, %D (%D-%D) objects, %d/%d/%d sweeps,
 *      %D(%D) handoff, %D(%D) steal, %D/%D/%D yields
 *    (POSIX ERE, whole line); gc numbers run 1, 2, 3, ... with no gap; as many lines as the
 *    child's final numgc; objects == mallocs - frees on every line; mallocs and frees never
 *    decrease; nproc >= 1; the collection taken with a 12 MB live set reports heap1 >= 12 MB and
 *    at least that many live objects; the first line after the live set is dropped reports it
 *    being freed by a later line's frees.
 *  - GODEBUG with several settings ("foo=1,gctrace=1,bar=2") still enables the trace.
 *  - gctrace=2: every runtime_gc collects twice: numgc is even and the lines match numgc.
 *  - no GODEBUG, or gctrace=0: no gc lines. GOGC=off with gctrace=1: no collections, no lines.
 */
#include "testutil.h"
#include "t_gc_util.h"

#include <regex.h>

#define LIVE_OBJS 3072 /* 4 KiB each: 12 MiB */

static void **live;

static void __attribute__((noinline)) make_live(void)
{
    live = calloc(LIVE_OBJS, sizeof *live);
    gogc_add_roots(live, live + LIVE_OBJS);
    for (int i = 0; i < LIVE_OBJS; i++) {
        uint64_t *p = runtime_mallocgc(4096, 0, FlagNoScan);
        p[0] = (uint64_t)i;
        live[i] = p;
    }
}

static void __attribute__((noinline)) garbage(int n)
{
    for (int i = 0; i < n; i++) {
        uint64_t *p = runtime_mal(48);
        p[1] = (uint64_t)i;
    }
}

static int child(const char *mode)
{
    MStats m;
    if (!strcmp(mode, "trace")) {
        garbage(5000);
        gc_full();
        make_live();
        gc_full();
        gc_stats(&m);
        printf("child: live_gc=%u\n", m.numgc);
        garbage(20000);
        gc_full();
        memset(live, 0, LIVE_OBJS * sizeof *live);
        gc_full();
        gc_stats(&m);
        printf("child: dropped_gc=%u\n", m.numgc);
        gc_full();
        gc_force(1);
        gc_force(0);
    } else if (!strcmp(mode, "small")) {
        garbage(1000);
        runtime_GC();
        garbage(1000);
        runtime_gc(1);
        garbage(1000);
        runtime_gc(2);
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 3;
    }
    gc_stats(&m);
    printf("child: numgc=%u nmalloc=%" PRIu64 " nfree=%" PRIu64 "\n", m.numgc, m.nmalloc, m.nfree);
    return 0;
}

static char out[1 << 18];
static regex_t re;

static long long field(const char *key, long long def)
{
    char pat[64];
    snprintf(pat, sizeof pat, "%s=", key);
    const char *p = strstr(out, pat);
    return p ? strtoll(p + strlen(pat), NULL, 10) : def;
}

typedef struct {
    unsigned long long n, nproc, t[4], heap0, heap1, objs, mallocs, frees, sw[3], ho[2], st[2], y[3];
} trace_line;

/* Runs the child, checks every "gc" line; returns the number of gc lines (or -1). */
static int run_and_check(const char *what, const char *mode, const char *const *env, trace_line *lines,
                         int maxlines)
{
    int st;
    if (tu_run_self(mode, env, out, sizeof out, &st, 60) != 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        CHECK(0, "%s: child failed (status %#x):\n%.3000s", what, st, out);
        return -1;
    }
    int n = 0;
    char *save = NULL;
    static char copy[sizeof out];
    memcpy(copy, out, sizeof out);
    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (strncmp(l, "gc", 2) != 0)
            continue;
        int ok = regexec(&re, l, 0, NULL, 0) == 0;
        CHECK(ok, "%s: trace line does not match the format: \"%s\"", what, l);
        if (!ok)
            continue;
        trace_line t;
        int k = sscanf(l,
                       "gc%llu(%llu): %llu+%llu+%llu+%llu us, %llu -> %llu MB, %llu (%llu-%llu) objects, "
                       "%llu/%llu/%llu sweeps, %llu(%llu) handoff, %llu(%llu) steal, %llu/%llu/%llu yields",
                       &t.n, &t.nproc, &t.t[0], &t.t[1], &t.t[2], &t.t[3], &t.heap0, &t.heap1, &t.objs,
                       &t.mallocs, &t.frees, &t.sw[0], &t.sw[1], &t.sw[2], &t.ho[0], &t.ho[1], &t.st[0],
                       &t.st[1], &t.y[0], &t.y[1], &t.y[2]);
        CHECK(k == 21, "%s: sscanf read %d of 21 fields from \"%s\"", what, k, l);
        CHECK(t.n == (unsigned long long)n + 1, "%s: line %d is numbered gc%llu: \"%s\"", what, n + 1, t.n, l);
        CHECK(t.nproc >= 1 && t.nproc <= 64, "%s: nproc %llu: \"%s\"", what, t.nproc, l);
        CHECK(t.objs == t.mallocs - t.frees, "%s: objects %llu != mallocs %llu - frees %llu: \"%s\"", what, t.objs,
              t.mallocs, t.frees, l);
        if (n > 0 && n <= maxlines) {
            CHECK(t.mallocs >= lines[n - 1].mallocs, "%s: mallocs went down (%llu -> %llu)", what,
                  lines[n - 1].mallocs, t.mallocs);
            CHECK(t.frees >= lines[n - 1].frees, "%s: frees went down (%llu -> %llu)", what, lines[n - 1].frees,
                  t.frees);
        }
        if (n < maxlines)
            lines[n] = t;
        n++;
    }
    long long numgc = field("numgc", -1);
    if (strstr(what, "gctrace=") && !strstr(what, "gctrace=0"))
        CHECK(numgc == n, "%s: %d gc lines, but the child's numgc is %lld", what, n, numgc);
    return n;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "--child"))
        return child(argv[2]);

    const char *pattern =
        "^gc[0-9]+\\([0-9]+\\): [0-9]+\\+[0-9]+\\+[0-9]+\\+[0-9]+ us, [0-9]+ -> [0-9]+ MB, [0-9]+ "
        "\\([0-9]+-[0-9]+\\) objects, [0-9]+/[0-9]+/[0-9]+ sweeps, [0-9]+\\([0-9]+\\) handoff, "
        "[0-9]+\\([0-9]+\\) steal, [0-9]+/[0-9]+/[0-9]+ yields$";
    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0) {
        CHECK(0, "regcomp failed");
        return test_summary();
    }

    static trace_line lines[4096];
    {
        const char *env[] = {"GODEBUG=gctrace=1", "GOGC", NULL};
        int n = run_and_check("gctrace=1", "trace", env, lines, 4096);
        printf("gctrace=1: %d lines\n", n);
        if (n > 0) {
            printf("first: %.*s\n", (int)strcspn(strstr(out, "gc1("), "\n"), strstr(out, "gc1("));
            CHECK(n >= 7, "expected at least 7 collections, got %d", n);
            long long lg = field("live_gc", 0), dg = field("dropped_gc", 0);
            CHECK(lg >= 1 && lg <= n && dg > lg && dg <= n, "live_gc %lld dropped_gc %lld of %d", lg, dg, n);
            if (lg >= 1 && lg <= n && dg > lg && dg <= n) {
                const trace_line *a = &lines[lg - 1], *d = &lines[dg - 1];
                CHECK(a->heap1 >= 12, "gc%lld (12 MB live): heap1 %llu MB", lg, a->heap1);
                CHECK(a->objs >= LIVE_OBJS, "gc%lld (12 MB live): %llu objects < %d", lg, a->objs, LIVE_OBJS);
                /* the collection that dropped them counts them as live (sweep follows); a later
                 * line shows them freed */
                if (dg < n) {
                    const trace_line *after = &lines[dg];
                    CHECK(after->frees >= d->frees + LIVE_OBJS, "gc%lld frees %llu, gc%lld frees %llu: the %d dropped "
                          "objects were not counted as freed", dg, d->frees, dg + 1, after->frees, LIVE_OBJS);
                    CHECK(after->heap1 + 6 <= a->heap1, "heap1 after dropping the live set: %llu MB (was %llu)",
                          after->heap1, a->heap1);
                }
            }
            long long final_frees = field("nfree", -1);
            CHECK(final_frees >= (long long)lines[n - 1].frees, "child's final Frees %lld < last line's %llu",
                  final_frees, lines[n - 1].frees);
        }
    }
    {
        const char *env[] = {"GODEBUG=foo=1,gctrace=1,bar=2", "GOGC", NULL};
        int n = run_and_check("GODEBUG=foo=1,gctrace=1,bar=2", "small", env, lines, 4096);
        CHECK(n >= 3, "GODEBUG=foo=1,gctrace=1,bar=2: %d gc lines, expected >= 3", n);
    }
    {
        const char *env[] = {"GODEBUG=gctrace=2", "GOGC", NULL};
        int n = run_and_check("gctrace=2", "small", env, lines, 4096);
        CHECK(n >= 6 && n % 2 == 0, "gctrace=2: %d collections, expected an even number >= 6", n);
    }
    {
        const char *env[] = {"GODEBUG", "GOGC", NULL};
        int n = run_and_check("no GODEBUG", "small", env, lines, 4096);
        CHECK(n == 0, "without GODEBUG: %d gc lines", n);
        CHECK(field("numgc", 0) >= 3, "without GODEBUG: numgc %lld", field("numgc", 0));
    }
    {
        const char *env[] = {"GODEBUG=gctrace=0", "GOGC", NULL};
        int n = run_and_check("gctrace=0", "small", env, lines, 4096);
        CHECK(n == 0, "gctrace=0: %d gc lines", n);
    }
    {
        const char *env[] = {"GODEBUG=gctrace=1", "GOGC=off", NULL};
        int n = run_and_check("GOGC=off gctrace=1", "small", env, lines, 4096);
        CHECK(n == 0 && field("numgc", -1) == 0, "GOGC=off: %d gc lines, numgc %lld", n, field("numgc", -1));
    }
    regfree(&re);
    return test_summary();
}
