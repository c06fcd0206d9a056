/*
 * fuzz/api.c: libFuzzer harness driving random interleavings of gogc's exported API against a
 * shadow model.
 *
 * The input is a sequence of operations (one opcode byte, then its argument bytes; a missing
 * byte reads as 0): allocations with every flag and entry point and sizes from tiny to a few
 * MiB, explicit frees (block start or interior pointer), dropping references, C finalizers
 * (set/replace/remove, with hostile arguments), root ranges (add/remove, exact and inexact),
 * collections of every kind, runtime_setgcpercent, ReadMemStats, thread attach/detach,
 * running finalizers, rewriting a block's contents, and misuses.
 *
 * The model owns every reference: block i lives in slot i%32 of root array i/32 (four calloc'd
 * arrays, registered with gogc_add_roots), and a scanned block of 16 bytes or more may hold a
 * link to another block in its word 0 (for the typed pair block that word is its GC_PTR
 * field). A block is *kept* while a registered array's slot holds it or a kept block links
 * to it (the model computes that closure after every operation); everything the model remembers about a block it no longer keeps (a
 * pending finalizer, an unreferenced FlagNoGC block) is stored XOR-disguised, so reachability
 * is exactly what the model says (up to conservative retention by stale stack words, which
 * only ever keeps more alive: nothing here asserts that a dropped block is freed).
 *
 * Checked (abort() on any mismatch, so libFuzzer records the input):
 *  - allocation: size 0 gives &runtime_zerobase; otherwise non-NULL, aligned, zeroed unless
 *    FlagNoZero, runtime_mlookup gives the block start and runtime_roundupsize's size (whole
 *    pages for large blocks);
 *  - the contents of every kept block and every FlagNoGC block (kept or not) stay intact over
 *    collections, frees of other blocks and allocation churn (a pattern written at allocation;
 *    an early free shows up as a changed pattern or a failed mlookup);
 *  - finalizers run only for blocks the model dropped, exactly once, with their own argument,
 *    the object intact, never after being removed; gogc_run_finalizers counts them;
 *  - gogc_set_finalizer: 0 / EEXIST / EINVAL (interior, freed, NULL, global, stack, malloc);
 *  - runtime_setgcpercent returns the previous value; gogc_thread_attach/detach return codes;
 *  - MemStats invariants and monotonicity, Mallocs/Frees growing at least by what the model
 *    did, HeapAlloc covering the kept blocks, NumGC counting the forced collections (none
 *    under a negative GC percent: libgo-abi.md 13.2, runtime_gc returns at once then);
 *  - misuses that the contract makes fatal run in a forked child (at most one per input):
 *    the child must die of SIGABRT with exactly the documented `fatal error: ...` line (or
 *    exit 2 with the documented panic line).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gogc.h"

#define NARR 4
#define SLOTS 32
#define MAXREC (NARR * SLOTS)
#define PENDMAX 4096
#define MAXOPS 256
#define MODEL_BYTES_MAX (16u << 20) /* kept blocks (each collection scans them) */
#define INPUT_BYTES_MAX (64u << 20) /* allocated by one input (GOGC=off keeps all of it) */
#define COST_MAX 512                /* work per input: an op costs 1, more when it collects */
#define KEY ((uintptr_t)0xa5c3a5c3a5c3a5c3ull) /* XOR disguise: never a canonical heap pointer */

typedef struct Rec {
    int used;
    uintptr_t addrx; /* block address ^ KEY */
    size_t size;     /* requested size */
    size_t elem;     /* runtime_mlookup size (0 for tiny blocks) */
    uint32_t flags;
    uint8_t seed;
    int tiny;
    int rooted;      /* its slot holds it */
    int counted;     /* its size is in model_bytes */
    int lk;          /* linkable: scanned, not FlagNoGC, >= 16 bytes; word 0 holds its link */
    int link;        /* record its word 0 points to, or -1 */
    int has_fin;
    uint64_t fin_id;
} Rec;

typedef struct Pend {
    uint64_t id;
    uintptr_t addrx;
    size_t size;
    size_t off; /* where the pattern starts */
    uint8_t seed;
} Pend;

static uintptr_t *arrays[NARR];
static int regcount[NARR];
static Rec recs[MAXREC];
static Pend pend[PENDMAX];
static size_t npend;
static uint64_t evicted_below; /* finalizer ids below this were evicted from pend */
static uint64_t next_fin_id = 1 << 20;
static int32_t gcpercent_model;
static enum { ATT_YES, ATT_NO, ATT_UNKNOWN } attached;
static size_t fins_seen; /* finalizer callbacks since the last gogc_run_finalizers */
static int forks_left;
static size_t model_bytes;
static size_t input_bytes;
static MStats ms_prev, ms_cur;
static int have_prev;
static uint64_t allocs_since, frees_since, forced_gcs_since;
static uintptr_t global_words[4];

static int trace; /* API_FUZZ_TRACE=1: print each operation on stderr */
static unsigned long fins_total;
static const uint8_t *in_p;
static size_t in_n;

static uint8_t next8(void)
{
    if (in_n == 0)
        return 0;
    in_n--;
    return *in_p++;
}

static uint16_t next16(void)
{
    uint16_t a = next8();
    return (uint16_t)(a | (uint16_t)next8() << 8);
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "api fuzz: " __VA_ARGS__);                                                 \
        fprintf(stderr, " (%s:%d)\n", __FILE__, __LINE__);                                          \
        abort();                                                                                   \
    } while (0)

static inline void *rec_ptr(const Rec *r) { return (void *)(r->addrx ^ KEY); }

static int reach[MAXREC];

/* Reachability as the collector must see it: from the slots of registered root arrays, then
 * through the links (word 0) of linkable blocks (FlagNoGC blocks are never scanned). */
static void compute_reach(void)
{
    int stack[MAXREC], n = 0;
    memset(reach, 0, sizeof reach);
    for (int i = 0; i < MAXREC; i++)
        if (recs[i].used && recs[i].rooted && regcount[i / SLOTS] > 0) {
            reach[i] = 1;
            stack[n++] = i;
        }
    while (n > 0) {
        int i = stack[--n];
        int j = recs[i].lk ? recs[i].link : -1;
        if (j >= 0 && !reach[j]) {
            if (!recs[j].used)
                FAIL("model: record %d links to unused record %d", i, j);
            reach[j] = 1;
            stack[n++] = j;
        }
    }
}

static int rec_kept(int i) { return recs[i].used && reach[i]; }

/* The part of a block that holds its pattern (a linkable block's word 0 is its link). */
static inline size_t pat_off(const Rec *r) { return r->lk ? 8 : 0; }

/* ------------------------------------------------------------------ contents */

static inline uint8_t pat(uint8_t seed, size_t i) { return (uint8_t)(seed + i * 7 + (i >> 8) * 13); }

/* Calls f on the sampled bytes of a block: all of it up to 1 KiB, else both 512-byte ends and
 * one byte per 4 KiB. Returns the first offset f rejects, or (size_t)-1. */
static size_t sample(uint8_t *p, size_t size, int (*f)(uint8_t *, size_t, uint8_t), uint8_t seed)
{
    if (size <= 1024) {
        for (size_t i = 0; i < size; i++)
            if (!f(p + i, i, seed))
                return i;
        return (size_t)-1;
    }
    for (size_t i = 0; i < 512; i++)
        if (!f(p + i, i, seed) || !f(p + size - 512 + i, size - 512 + i, seed))
            return f(p + i, i, seed) ? size - 512 + i : i;
    for (size_t i = 512; i < size - 512; i += 4096)
        if (!f(p + i, i, seed))
            return i;
    return (size_t)-1;
}

static int do_write(uint8_t *b, size_t i, uint8_t seed) { *b = pat(seed, i); return 1; }
static int do_check(uint8_t *b, size_t i, uint8_t seed) { return *b == pat(seed, i); }

static void check_contents(void *p, size_t size, uint8_t seed, const char *what)
{
    size_t bad = sample(p, size, do_check, seed);
    if (bad != (size_t)-1)
        FAIL("%s: block %p (%zu bytes) changed at offset %zu: %02x, expected %02x", what, p, size, bad,
             ((uint8_t *)p)[bad], pat(seed, bad));
}

static void check_zero(const uint8_t *p, size_t size)
{
    size_t lim = size <= (64u << 10) ? size : 8192;
    for (size_t i = 0; i < lim; i++)
        if (p[i])
            FAIL("fresh block %p (%zu bytes) not zeroed at %zu", (void *)p, size, i);
    if (size > lim) {
        for (size_t i = size - 8192; i < size; i++)
            if (p[i])
                FAIL("fresh block %p (%zu bytes) not zeroed at %zu", (void *)p, size, i);
        for (size_t i = lim; i < size; i += 4096)
            if (p[i])
                FAIL("fresh block %p (%zu bytes) not zeroed at %zu", (void *)p, size, i);
    }
}

static void check_lookup(const Rec *r, const char *what)
{
    if (r->tiny)
        return;
    uint8_t *base = NULL;
    uintptr_t sz = 0;
    MSpan *sp = NULL;
    void *p = rec_ptr(r);
    if (runtime_mlookup(p, &base, &sz, &sp) != 1 || base != p || sz != r->elem)
        FAIL("%s: mlookup(%p) gives base %p size %zu, expected the block (%zu bytes, flags %#x)", what, p,
             (void *)base, (size_t)sz, r->elem, r->flags);
}

static void check_all(const char *what)
{
    compute_reach();
    for (int i = 0; i < MAXREC; i++) {
        Rec *r = &recs[i];
        if (!r->used)
            continue;
        if (!rec_kept(i) && !(r->flags & FlagNoGC))
            FAIL("model: record %d neither kept nor FlagNoGC", i);
        check_lookup(r, what);
        check_contents((char *)rec_ptr(r) + pat_off(r), r->size - pat_off(r), r->seed, what);
        if (r->lk) {
            uintptr_t w = *(uintptr_t *)rec_ptr(r);
            uintptr_t want = r->link >= 0 ? recs[r->link].addrx ^ KEY : 0;
            if (w != want)
                FAIL("%s: link word of %p is %#zx, expected %#zx", what, rec_ptr(r), (size_t)w, (size_t)want);
        }
    }
}

/* ------------------------------------------------------------------ finalizers */

static Rec *rec_by_fin(uint64_t id)
{
    for (int i = 0; i < MAXREC; i++)
        if (recs[i].used && recs[i].has_fin && recs[i].fin_id == id)
            return &recs[i];
    return NULL;
}

static void fin_cb(void *obj, void *arg)
{
    uint64_t id = (uint64_t)(uintptr_t)arg;
    fins_seen++;
    if (rec_by_fin(id))
        FAIL("finalizer %llu ran for %p, which the model still keeps", (unsigned long long)id, obj);
    for (size_t k = 0; k < npend; k++) {
        if (pend[k].id != id)
            continue;
        if ((void *)(pend[k].addrx ^ KEY) != obj)
            FAIL("finalizer %llu ran with object %p, expected %p", (unsigned long long)id, obj,
                 (void *)(pend[k].addrx ^ KEY));
        check_contents((char *)obj + pend[k].off, pend[k].size - pend[k].off, pend[k].seed,
                       "object passed to its finalizer");
        pend[k] = pend[--npend];
        return;
    }
    if (id >= evicted_below)
        FAIL("finalizer %llu ran for %p: removed, already run, or never set", (unsigned long long)id, obj);
}

static void pend_add(const Rec *r)
{
    if (npend == PENDMAX) { /* evict the oldest (smallest id) */
        size_t m = 0;
        for (size_t k = 1; k < npend; k++)
            if (pend[k].id < pend[m].id)
                m = k;
        if (pend[m].id + 1 > evicted_below)
            evicted_below = pend[m].id + 1;
        pend[m] = pend[--npend];
    }
    pend[npend++] = (Pend){r->fin_id, r->addrx, r->size, pat_off(r), r->seed};
}

static void run_finalizers(void)
{
    fins_seen = 0;
    uintptr_t n = gogc_run_finalizers();
    fins_total += n;
    if (n != fins_seen)
        FAIL("gogc_run_finalizers returned %zu, %zu finalizers ran", (size_t)n, fins_seen);
}

/* ------------------------------------------------------------------ model updates */

static void set_slot(int i, void *p) { arrays[i / SLOTS][i % SLOTS] = (uintptr_t)p; }

/* Forget block i: it is no longer referenced (or was freed: freed = 1). */
static void forget(int i, int freed)
{
    Rec *r = &recs[i];
    set_slot(i, NULL);
    /* Links to it: from kept blocks (it was freed explicitly) the word is cleared; blocks that
     * are not kept are being forgotten too and are not touched. */
    compute_reach();
    for (int j = 0; j < MAXREC; j++)
        if (recs[j].used && recs[j].link == i && j != i) {
            recs[j].link = -1;
            if (reach[j] || (recs[j].flags & FlagNoGC))
                *(uintptr_t *)rec_ptr(&recs[j]) = 0;
        }
    if (r->has_fin && !freed)
        pend_add(r);
    if (r->counted)
        model_bytes -= r->size;
    memset(r, 0, sizeof *r);
    r->link = -1;
}

/* Forgets every block nothing keeps any more (after a reference went away). */
static void prune(void)
{
    for (int again = 1; again;) {
        again = 0;
        compute_reach();
        for (int i = 0; i < MAXREC; i++)
            if (recs[i].used && !reach[i] && !(recs[i].flags & FlagNoGC)) {
                forget(i, 0);
                again = 1;
            }
    }
}

/* Block i loses its root slot. prune() then forgets it unless a kept block links to it; a
 * FlagNoGC block always stays in the model (it must survive). */
static void drop(int i)
{
    Rec *r = &recs[i];
    if (!r->used)
        return;
    set_slot(i, NULL);
    r->rooted = 0;
}

static void unregister_array(int a)
{
    for (int s = 0; s < SLOTS; s++)
        drop(a * SLOTS + s);
}

/* ------------------------------------------------------------------ forked misuses */

enum { EXPECT_FATAL, EXPECT_OOM, EXPECT_PANIC };

static int has_line(const char *buf, const char *line, int prefix)
{
    size_t n = strlen(line);
    for (const char *s = buf; s && *s; s = strchr(s, '\n') ? strchr(s, '\n') + 1 : NULL) {
        const char *e = strchr(s, '\n');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (prefix ? len >= n && memcmp(s, line, n) == 0 : len == n && memcmp(s, line, n) == 0)
            return 1;
    }
    return 0;
}

typedef struct Misuse {
    int kind;
    uintptr_t a, b;
    void *p;
} Misuse;

static char child_stderr[1 << 16];

static void child_run(const Misuse *m)
{
    int stack_word = 0;
    switch (m->kind) {
    case 0: runtime_mallocgc(m->a, 0, (uint32_t)m->b); break;
    case 1: __go_free(&global_words[m->a % 4]); break;
    case 2: __go_free((char *)&stack_word + (m->a & 3)); break;
    case 3: __go_free((char *)malloc(64 + m->a % 4096) + (m->a & 7)); break;
    case 4: { /* past the limit of a large block */
        char *p = runtime_mallocgc(m->a, 0, (uint32_t)m->b);
        __go_free(p + m->a);
        break;
    }
    case 5: { /* double free of a large block */
        char *p = runtime_mallocgc(m->a, 0, (uint32_t)m->b);
        __go_free(p);
        __go_free(p + (m->a > 8 ? m->a / 2 : 0));
        break;
    }
    case 6: __go_free(m->p); break; /* a block with a finalizer (start or interior) */
    case 7: __go_free(runtime_mallocgc(m->a, 0, (uint32_t)m->b)); break; /* an 8-byte block */
    case 8: { uint64_t st = 0; runtime_persistentalloc(64, m->a, &st); break; }
    case 9: { /* cnewarray with a negative or overflowing count */
        static uintptr_t prog16[3] = {16, GC_END, 0};
        static GoType desc16 __attribute__((aligned(16)));
        desc16.__code = GO_STRUCT | GO_NO_POINTERS;
        desc16.__align = desc16.__field_align = 8;
        desc16.__size = 16;
        desc16.__gc = prog16;
        runtime_cnewarray(&desc16, (intptr_t)m->a);
        break;
    }
    }
}

static void expect_in_child(const Misuse *m, int how, const char *msg)
{
    int fd[2];
    if (pipe(fd) != 0)
        FAIL("pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        FAIL("fork: %s", strerror(errno));
    if (pid == 0) {
        signal(SIGABRT, SIG_DFL); /* not libFuzzer's crash handler: the death is the result */
        close(fd[0]);
        dup2(fd[1], 2);
        child_run(m);
        fprintf(stderr, "misuse %d returned\n", m->kind);
        _exit(0);
    }
    close(fd[1]);
    size_t len = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd pf = {fd[0], POLLIN, 0};
        int r = poll(&pf, 1, 1000);
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (t1.tv_sec - t0.tv_sec > 30) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            FAIL("misuse %d: child hung; stderr so far:\n%.*s", m->kind, (int)len, child_stderr);
        }
        if (r <= 0)
            continue;
        ssize_t k = read(fd[0], child_stderr + len, sizeof child_stderr - 1 - len);
        if (k <= 0)
            break;
        len += (size_t)k;
        if (len == sizeof child_stderr - 1)
            break;
    }
    child_stderr[len] = 0;
    close(fd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    char want[256];
    int ok;
    if (how == EXPECT_PANIC) {
        ok = WIFEXITED(st) && WEXITSTATUS(st) == 2 &&
             (has_line(child_stderr, "panic: runtime error: runtime: allocation size out of range", 0) ||
              has_line(child_stderr, "panic: runtime error: allocation size out of range", 0)) &&
             !strstr(child_stderr, "fatal error");
        snprintf(want, sizeof want, "exit 2 and the panic line");
    } else if (how == EXPECT_OOM) {
        ok = WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT &&
             (has_line(child_stderr, "fatal error: out of memory", 0) ||
              has_line(child_stderr, "fatal error: runtime: out of memory", 1));
        snprintf(want, sizeof want, "SIGABRT and \"fatal error: [runtime: ]out of memory\"");
    } else {
        snprintf(want, sizeof want, "fatal error: %s", msg);
        ok = WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT && has_line(child_stderr, want, 0);
    }
    if (!ok)
        FAIL("misuse %d (a=%#zx b=%#zx p=%p): expected %s; child %s %d, stderr:\n%s", m->kind, (size_t)m->a,
             (size_t)m->b, m->p, want, WIFSIGNALED(st) ? "killed by signal" : "exited with",
             WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), child_stderr);
}

static int pick_rec_at(uint8_t b, int want_fin)
{
    int start = b % MAXREC;
    for (int k = 0; k < MAXREC; k++) {
        int i = (start + k) % MAXREC;
        if (recs[i].used && !recs[i].tiny && (!want_fin || recs[i].has_fin))
            return i;
    }
    return -1;
}

/* A block the model holds (not a tiny one), starting the search at the next input byte. */
static int pick_rec(int want_fin) { return pick_rec_at(next8(), want_fin); }

static void op_fork_misuse(void)
{
    if (forks_left <= 0)
        return;
    forks_left--;
    Misuse m = {0};
    m.kind = next8() % 10;
    uint8_t v = next8();
    static const uintptr_t huge[] = {(uintptr_t)1 << 62, UINTPTR_MAX - 100, UINTPTR_MAX, UINTPTR_MAX - 8191,
                                     ((uintptr_t)1 << 37) + 8192 * 3};
    switch (m.kind) {
    case 0:
        m.a = huge[v % 5];
        m.b = next8() & (FlagNoScan | FlagNoZero | FlagNoGC | FlagNoProfiling);
        expect_in_child(&m, EXPECT_OOM, NULL);
        return;
    case 1: case 2: case 3:
        m.a = v | (uintptr_t)next8() << 8;
        expect_in_child(&m, EXPECT_FATAL, "free runtime_mlookup");
        return;
    case 4: case 5:
        m.a = 32769 + (uintptr_t)next16() * 8;
        if (m.kind == 4 && m.a % PageSize == 0)
            m.a++;
        m.b = next8() & (FlagNoScan | FlagNoZero);
        expect_in_child(&m, EXPECT_FATAL, "free runtime_mlookup");
        return;
    case 6: {
        int i = pick_rec(1);
        if (i < 0)
            return;
        m.p = (char *)rec_ptr(&recs[i]) + (v & 1 ? (size_t)next16() % recs[i].size : 0);
        /* libgo-abi.md 6.6 checks the element size before the specials. */
        expect_in_child(&m, EXPECT_FATAL,
                        recs[i].elem < 16 ? "freeing too small block"
                                          : "can't explicitly free an object with a finalizer");
        return;
    }
    case 7:
        m.a = 1 + v % 8;
        m.b = next8() & 1 ? FlagNoGC : 0; /* scanned (or NoGC): never the tiny allocator */
        expect_in_child(&m, EXPECT_FATAL, "freeing too small block");
        return;
    case 8: {
        static const uintptr_t bad[] = {3, 5, 24, 100, 16384, 1 << 20};
        m.a = bad[v % 6];
        expect_in_child(&m, EXPECT_FATAL,
                        m.a & (m.a - 1) ? "persistentalloc: align is not a power of 2"
                                        : "persistentalloc: align is too large");
        return;
    }
    case 9: {
        static const intptr_t ns[] = {-1, -1000, INTPTR_MIN, ((intptr_t)1 << 37) / 16 + 1, INTPTR_MAX};
        m.a = (uintptr_t)ns[v % 5];
        expect_in_child(&m, EXPECT_PANIC, NULL);
        return;
    }
    }
}

/* ------------------------------------------------------------------ operations */

static uintptr_t pair_gc[] = {16, GC_PTR, 0, 0 /* patched: pair_gc */, GC_END, 0};
static GoType pair_type __attribute__((aligned(16)));
static const uintptr_t noptr_gc[] = {24, GC_END, 0};
static GoType noptr_type __attribute__((aligned(16)));

static size_t pick_size(void)
{
    uint8_t s = next8();
    static const size_t edge[] = {0,    1,    8,     15,    16,    17,      24,      1024,
                                  1025, 8192, 8193,  32767, 32768, 32769,   65536,   (1u << 20) + 1,
                                  4u << 20, 48, 256, 4000,  12288, 2u << 20, 100000, 0};
    switch (s >> 6) {
    case 0: return s & 63;
    case 1: return 1 + next16() % 32768;
    case 2: return 32769 + (size_t)next16() * 4;
    default: return edge[s % (sizeof edge / sizeof edge[0])];
    }
}

static void note_alloc_attached(void) { attached = ATT_YES; }

static void op_alloc(void)
{
    int i = next8() % MAXREC;
    size_t size = pick_size();
    uint32_t flags = next8() & 31;
    uint8_t api = next8();
    int rooted = !(api & 0x80);
    api &= 7;
    if (model_bytes + size > MODEL_BYTES_MAX || input_bytes > INPUT_BYTES_MAX)
        size &= 4095;
    void *p;
    switch (api) {
    case 1: p = __go_alloc(size); flags = FlagNoInvokeGC; break;
    case 2: p = runtime_mal(size); flags = 0; break;
    case 3:
        size = 16;
        p = runtime_mallocgc(16, (uintptr_t)&pair_type | TypeInfo_SingleObject, flags & FlagNoInvokeGC);
        flags &= FlagNoInvokeGC;
        break;
    case 4: size = 24; p = runtime_new(&noptr_type); flags = FlagNoScan; break;
    default: p = runtime_mallocgc(size, 0, flags); break;
    }
    if (trace)
        fprintf(stderr, "  alloc record %d: %zu bytes, flags %#x, api %u, rooted %d -> %p\n", i, size, flags, api,
                rooted, p);
    if (size)
        note_alloc_attached();
    input_bytes += size;
    if (size == 0) {
        if (p != &runtime_zerobase)
            FAIL("size-0 allocation (api %u, flags %#x) gave %p, not &runtime_zerobase", api, flags, p);
        return;
    }
    if (!p)
        FAIL("allocation of %zu bytes (api %u, flags %#x) returned NULL", size, api, flags);
    int tiny = (flags & (FlagNoScan | FlagNoGC)) == FlagNoScan && size < 16;
    uintptr_t a = (uintptr_t)p;
    size_t align = tiny ? ((size & 7) == 0 ? 8 : (size & 3) == 0 ? 4 : (size & 1) == 0 ? 2 : 1)
                        : size > MaxSmallSize ? PageSize : 8;
    if (a % align)
        FAIL("block %p of %zu bytes (flags %#x) is not %zu-aligned", p, size, flags, align);
    allocs_since += !tiny;
    if (!(flags & FlagNoZero))
        check_zero(p, size);
    /* The block takes record i (the old occupant loses its root slot). */
    drop(i);
    prune();
    if (recs[i].used) { /* still linked from a kept block, or FlagNoGC: free it */
        Rec *o = &recs[i];
        if (o->elem < 16 || o->has_fin) { /* cannot be freed: the new block stays unreferenced */
            if (!(o->flags & FlagNoGC))
                return;
        } else {
            __go_free(rec_ptr(o));
            frees_since++;
        }
        forget(i, 1); /* (a FlagNoGC block under 16 bytes leaks, by contract) */
    }
    Rec *r = &recs[i];
    r->used = 1;
    r->addrx = a ^ KEY;
    r->size = size;
    r->flags = flags;
    r->seed = next8();
    r->tiny = tiny;
    r->link = -1;
    r->lk = !tiny && size >= 16 && !(flags & (FlagNoScan | FlagNoGC));
    r->elem = tiny ? 0 : size <= MaxSmallSize ? runtime_roundupsize(size) : (size + PageSize - 1) / PageSize * PageSize;
    if (size <= MaxSmallSize && !tiny && runtime_roundupsize(size) < size)
        FAIL("roundupsize(%zu) = %zu", size, (size_t)runtime_roundupsize(size));
    check_lookup(r, "fresh block");
    sample((uint8_t *)p + pat_off(r), size - pat_off(r), do_write, r->seed);
    if (r->lk) /* no link yet (a FlagNoZero block's word 0 may still hold its free-list link) */
        *(uintptr_t *)p = 0;
    r->rooted = rooted && regcount[i / SLOTS] > 0;
    if (r->rooted)
        set_slot(i, p);
    if (r->rooted || (flags & FlagNoGC)) {
        model_bytes += size;
        r->counted = 1;
    } else
        forget(i, 0); /* nothing keeps it */
}

static void op_free(void)
{
    int i = pick_rec(0);
    uint8_t mode = next8();
    if (i < 0)
        return;
    Rec *r = &recs[i];
    if (r->has_fin || r->elem < 16) /* fatal: the forked misuses cover these */
        return;
    char *p = rec_ptr(r);
    size_t off = (mode & 1) && r->size > 1 ? 1 + next16() % (r->size - 1) : 0;
    int large = r->elem > MaxSmallSize;
    __go_free(p + off);
    frees_since++;
    forget(i, 1);
    if (mode & 2) { /* the freed block is no longer an allocated block */
        int rc = gogc_set_finalizer(p, fin_cb, (void *)(uintptr_t)next_fin_id);
        if (rc != EINVAL)
            FAIL("set_finalizer on block %p just freed (via +%zu, %s): %d, expected EINVAL", (void *)p, off,
                 large ? "large" : "small", rc);
    }
    if (large && (mode & 4)) {
        uint8_t *base = (uint8_t *)1;
        uintptr_t sz = 1;
        MSpan *sp;
        if (runtime_mlookup(p, &base, &sz, &sp) != 0 || base != NULL || sz != 0)
            FAIL("mlookup of freed large block %p: base %p size %zu", (void *)p, (void *)base, (size_t)sz);
    }
}

static void op_drop(void)
{
    int i = next8() % MAXREC;
    uint8_t b = next8();
    if (recs[i].used && (recs[i].flags & FlagNoGC) && (b & 1) && recs[i].elem >= 16) {
        __go_free(rec_ptr(&recs[i]));
        frees_since++;
        forget(i, 1);
        return;
    }
    drop(i);
}

static void op_setfin(void)
{
    uint8_t mode = next8();
    int i = pick_rec(0);
    if (i < 0)
        return;
    Rec *r = &recs[i];
    char *p = rec_ptr(r);
    if (trace)
        fprintf(stderr, "  setfin mode %u on record %d (%p, %zu bytes, fin %d)\n", mode % 4, i, (void *)p, r->size,
                r->has_fin);
    /* Neither the contract nor README says whether a FlagNoGC block (never freed, never
     * marked) may take a finalizer; gogc answers EINVAL (its allocated bit is clear), gccgo's
     * SetFinalizer would accept it. Only the interior-pointer case is specified for them. */
    if ((r->flags & FlagNoGC) && mode % 4 != 3)
        return;
    switch (mode % 4) {
    case 0:
    case 1: { /* set on the block start */
        uint64_t id = next_fin_id++;
        int rc = gogc_set_finalizer(p, fin_cb, (void *)(uintptr_t)id);
        int want = r->has_fin ? EEXIST : 0;
        if (rc != want)
            FAIL("set_finalizer(%p, %zu bytes) = %d, expected %d", (void *)p, r->size, rc, want);
        if (!r->has_fin) {
            r->has_fin = 1;
            r->fin_id = id;
        }
        return;
    }
    case 2: { /* remove (0 whether or not one is set) */
        int rc = gogc_set_finalizer(p, NULL, NULL);
        if (rc != 0)
            FAIL("set_finalizer(%p, NULL) = %d, expected 0", (void *)p, rc);
        r->has_fin = 0;
        return;
    }
    case 3: { /* interior pointer */
        if (r->size < 2)
            return;
        size_t off = 1 + next16() % (r->size - 1);
        int rc = gogc_set_finalizer(p + off, fin_cb, (void *)(uintptr_t)next_fin_id);
        if (rc != EINVAL)
            FAIL("set_finalizer(interior %p+%zu of %zu) = %d, expected EINVAL", (void *)p, off, r->size, rc);
        return;
    }
    }
}

static void op_roots(void)
{
    int a = next8() % NARR;
    uint8_t mode = next8() % 6;
    uintptr_t *lo = arrays[a], *hi = arrays[a] + SLOTS;
    switch (mode) {
    case 0:
        gogc_add_roots(lo, hi);
        regcount[a]++;
        if (regcount[a] == 1) /* blocks of an unregistered array are never rooted */
            for (int s = 0; s < SLOTS; s++)
                if (arrays[a][s])
                    FAIL("model: unregistered array %d has a stale slot %d", a, s);
        return;
    case 1:
        gogc_remove_roots(lo, hi);
        if (regcount[a] > 0 && --regcount[a] == 0)
            unregister_array(a);
        return;
    case 2: /* not the registered bounds: nothing changes */
        gogc_remove_roots(lo, hi - 1);
        gogc_remove_roots(lo + 1, hi);
        return;
    case 3: /* empty or reversed ranges are ignored */
        gogc_add_roots(hi, lo);
        gogc_add_roots(lo, lo);
        gogc_remove_roots(hi, lo);
        return;
    case 4: /* an overlapping range added and removed again */
        gogc_add_roots(lo + 1, hi);
        gogc_remove_roots(lo + 1, hi);
        return;
    default: { /* a range that was never added */
        uintptr_t w[2];
        gogc_remove_roots(&w[0], &w[2]);
        return;
    }
    }
}

static void op_gc(void)
{
    uint8_t mode = next8();
    switch (mode % 7) {
    case 0: runtime_GC(); forced_gcs_since += gcpercent_model >= 0; break;
    case 1: runtime_gc(0); break;
    case 2: runtime_gc(1); forced_gcs_since += gcpercent_model >= 0; break;
    case 3: runtime_gc(2); forced_gcs_since += gcpercent_model >= 0; break;
    case 4:
        if (mode & 0x30) {
            runtime_GC();
        } else {
            runtime_debug_freeOSMemory();
        }
        forced_gcs_since += gcpercent_model >= 0;
        break;
    case 5:
        runtime_gc(1);
        forced_gcs_since += gcpercent_model >= 0;
        for (int k = 0; k < 100000 && runtime_sweepone() != (uintptr_t)-1; k++)
            ;
        break;
    case 6: {
        runtime_gc(1);
        forced_gcs_since += gcpercent_model >= 0;
        for (int k = 0; k < (mode >> 3); k++)
            runtime_sweepone();
        break;
    }
    }
    if (attached == ATT_NO)
        attached = ATT_UNKNOWN;
    check_all("after a collection");
}

static void op_setgcpercent(void)
{
    static const int32_t vals[] = {-1, -100, 1, 50, 100, 200, 1000, INT32_MAX, INT32_MIN, 10, 100, 300};
    uint8_t v = next8();
    int32_t x = v == 0 ? 0 : v < 200 ? vals[v % 12] : (int32_t)(next16() | (uint32_t)next16() << 16);
    int32_t old = runtime_setgcpercent(x);
    if (old != gcpercent_model)
        FAIL("setgcpercent(%d) returned %d, expected %d", x, old, gcpercent_model);
    gcpercent_model = x < 0 ? -1 : x;
}

static void op_memstats(void)
{
    MStats *m = &ms_cur;
    runtime_ReadMemStats(m);
    if (m->nmalloc - m->nfree != m->heap_objects || m->nmalloc < m->nfree)
        FAIL("MemStats: Mallocs %llu - Frees %llu != HeapObjects %llu", (unsigned long long)m->nmalloc,
             (unsigned long long)m->nfree, (unsigned long long)m->heap_objects);
    if (m->alloc != m->heap_alloc || m->heap_idle + m->heap_inuse != m->heap_sys ||
        m->heap_alloc > m->heap_inuse || m->heap_released > m->heap_idle || m->total_alloc < m->alloc ||
        m->sys < m->heap_sys || !m->enablegc)
        FAIL("MemStats: Alloc %llu HeapAlloc %llu HeapIdle %llu HeapInuse %llu HeapSys %llu Released %llu "
             "TotalAlloc %llu Sys %llu",
             (unsigned long long)m->alloc, (unsigned long long)m->heap_alloc, (unsigned long long)m->heap_idle,
             (unsigned long long)m->heap_inuse, (unsigned long long)m->heap_sys,
             (unsigned long long)m->heap_released, (unsigned long long)m->total_alloc,
             (unsigned long long)m->sys);
    uint64_t kept = 0;
    for (int i = 0; i < MAXREC; i++)
        if (recs[i].used && !recs[i].tiny)
            kept += recs[i].size;
    if (m->heap_alloc < kept)
        FAIL("MemStats: HeapAlloc %llu < %llu bytes the model keeps", (unsigned long long)m->heap_alloc,
             (unsigned long long)kept);
    uint64_t sm = 0, sf = 0;
    for (int c = 0; c < NumSizeClasses; c++) {
        sm += m->by_size[c].nmalloc;
        sf += m->by_size[c].nfree;
    }
    if (sm > m->nmalloc || sf > m->nfree)
        FAIL("MemStats: by_size sums %llu/%llu exceed Mallocs/Frees", (unsigned long long)sm, (unsigned long long)sf);
    if (have_prev) {
        MStats *p = &ms_prev;
        if (m->numgc < p->numgc + forced_gcs_since || m->nmalloc < p->nmalloc + allocs_since ||
            m->nfree < p->nfree + frees_since || m->total_alloc < p->total_alloc ||
            m->pause_total_ns < p->pause_total_ns)
            FAIL("MemStats went back or missed work: NumGC %u -> %u (%llu forced), Mallocs %llu -> %llu (%llu "
                 "allocated), Frees %llu -> %llu (%llu freed), TotalAlloc %llu -> %llu",
                 p->numgc, m->numgc, (unsigned long long)forced_gcs_since, (unsigned long long)p->nmalloc,
                 (unsigned long long)m->nmalloc, (unsigned long long)allocs_since, (unsigned long long)p->nfree,
                 (unsigned long long)m->nfree, (unsigned long long)frees_since,
                 (unsigned long long)p->total_alloc, (unsigned long long)m->total_alloc);
    }
    memcpy(&ms_prev, m, sizeof *m);
    have_prev = 1;
    allocs_since = frees_since = forced_gcs_since = 0;
}

static void op_attach(void)
{
    if (next8() & 1) {
        int rc = gogc_thread_attach();
        if (rc != 0)
            FAIL("gogc_thread_attach() = %d", rc);
        attached = ATT_YES;
        return;
    }
    int rc = gogc_thread_detach();
    int want = attached == ATT_YES ? 0 : attached == ATT_NO ? EINVAL : rc;
    if (rc != want || (rc != 0 && rc != EINVAL))
        FAIL("gogc_thread_detach() = %d, expected %d", rc, want);
    attached = ATT_NO;
}

/* Block A's word 0 points to block B (or is cleared): B is then kept while A is. */
static void op_link(int a, uint8_t t)
{
    Rec *r = &recs[a];
    if (!r->lk)
        return;
    int b = t == 0xff ? -1 : pick_rec_at(t, 0);
    *(uintptr_t *)rec_ptr(r) = b >= 0 ? recs[b].addrx ^ KEY : 0;
    r->link = b;
}

static void op_rewrite(void)
{
    int i = pick_rec(0);
    uint8_t b = next8();
    if (i < 0)
        return;
    if (b & 0x80) {
        op_link(i, next8());
        return;
    }
    Rec *r = &recs[i];
    char *p = rec_ptr(r);
    check_contents(p + pat_off(r), r->size - pat_off(r), r->seed, "before rewrite");
    r->seed = b;
    sample((uint8_t *)p + pat_off(r), r->size - pat_off(r), do_write, r->seed);
}

static void op_hostile(void)
{
    uint8_t k = next8(), pb = next8();
    uint16_t w = next16();
    int stack_word = 0;
    void *m = malloc(64);
    void *foreign[] = {NULL, &global_words[1], &stack_word, m, &runtime_zerobase, (void *)(uintptr_t)8,
                       (void *)(uintptr_t)-4096};
    void *f = foreign[(k >> 3) % 7];
    switch (k % 6) {
    case 0:
        __go_free(NULL);
        break;
    case 1: {
        int rc = gogc_set_finalizer(f, (k & 0x80) ? NULL : fin_cb, (void *)(uintptr_t)next_fin_id);
        if (rc != EINVAL)
            FAIL("set_finalizer(foreign %p) = %d, expected EINVAL", f, rc);
        break;
    }
    case 2: {
        if ((k >> 3) % 7 >= 5) /* wild addresses: mlookup is specified for any address, but keep it sane */
            f = &stack_word;
        uint8_t *base = (uint8_t *)1;
        uintptr_t sz = 1;
        MSpan *sp;
        if (runtime_mlookup(f, &base, &sz, &sp) != 0 || base != NULL || sz != 0)
            FAIL("mlookup(foreign %p) = base %p size %zu", f, (void *)base, (size_t)sz);
        break;
    }
    case 3: {
        int i = pick_rec_at(pb, 0);
        if (i < 0 || recs[i].size < 2)
            break;
        char *p = rec_ptr(&recs[i]);
        size_t off = 1 + w % (recs[i].size - 1);
        uint8_t *base = NULL;
        uintptr_t sz = 0;
        MSpan *sp;
        if (runtime_mlookup(p + off, &base, &sz, &sp) != 1 || (char *)base != p || sz != recs[i].elem)
            FAIL("mlookup(interior %p+%zu) = base %p size %zu, expected %zu", (void *)p, off, (void *)base,
                 (size_t)sz, recs[i].elem);
        break;
    }
    case 4:
        if (gogc_set_host(NULL) != EINVAL)
            FAIL("gogc_set_host(NULL) != EINVAL");
        break;
    case 5: {
        size_t n = 1 + (size_t)w * (pb | 1);
        uintptr_t r = runtime_roundupsize(n);
        if (r < n || (n <= MaxSmallSize && r > MaxSmallSize))
            FAIL("roundupsize(%zu) = %zu", n, (size_t)r);
        break;
    }
    }
    free(m);
}

/* ------------------------------------------------------------------ driver */

static void end_of_input(void)
{
    check_all("end of input");
    for (int i = 0; i < MAXREC; i++) {
        Rec *r = &recs[i];
        if (!r->used)
            continue;
        if (r->has_fin && gogc_set_finalizer(rec_ptr(r), NULL, NULL) != 0)
            FAIL("removing finalizer of %p failed", rec_ptr(r));
        r->has_fin = 0;
        if (r->elem >= 16) {
            __go_free(rec_ptr(r));
            forget(i, 1);
        } else {
            drop(i);
            if (r->used) /* a FlagNoGC block too small to free: leaks, by contract */
                forget(i, 1);
        }
    }
    for (int a = 0; a < NARR; a++) {
        while (regcount[a] > 0) {
            gogc_remove_roots(arrays[a], arrays[a] + SLOTS);
            regcount[a]--;
        }
        memset(arrays[a], 0, SLOTS * sizeof(uintptr_t));
    }
    if (runtime_setgcpercent(100) != gcpercent_model)
        FAIL("setgcpercent(100) at the end returned something else than %d", gcpercent_model);
    gcpercent_model = 100;
    if (gogc_thread_attach() != 0)
        FAIL("gogc_thread_attach failed");
    attached = ATT_YES;
    static unsigned long inputs;
    if (input_bytes > (16u << 20))
        runtime_gc(1);
    if (++inputs % 2048 == 0) /* keep the fuzzer's RSS from ratcheting up */
        runtime_debug_freeOSMemory();
    run_finalizers();
    if (model_bytes != 0)
        FAIL("model: %zu bytes left after the cleanup", model_bytes);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (int a = 0; a < NARR; a++)
        arrays[a] = calloc(SLOTS, sizeof(uintptr_t));
    pair_gc[3] = (uintptr_t)pair_gc; /* GC_PTR's pointee program: the pair type itself */
    pair_type = (GoType){.__code = GO_STRUCT, .__align = 8, .__field_align = 8, .__size = 16, .__gc = pair_gc};
    noptr_type = (GoType){.__code = GO_STRUCT | GO_NO_POINTERS, .__align = 8, .__field_align = 8, .__size = 24,
                          .__gc = noptr_gc};
    trace = getenv("API_FUZZ_TRACE") != NULL;
    runtime_mallocinit();
    gcpercent_model = 100;
    runtime_setgcpercent(100);
    gogc_thread_attach();
    attached = ATT_YES;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    in_p = data;
    in_n = size;
    forks_left = 1;
    input_bytes = 0;
    int cost = 0;
    for (int nops = 0; in_n > 0 && nops < MAXOPS && cost < COST_MAX; nops++) {
        uint8_t op = next8();
        /* Bound the time per input: collections cost more, and so does everything while a
         * GC percent under 50 makes allocations collect. */
        cost += (op % 16) == 8 ? 8 : 1;
        if (gcpercent_model >= 0 && gcpercent_model < 50)
            cost += 8;
        if (trace) {
            static const char *const names[16] = {"alloc", "alloc",   "alloc",  "alloc",    "free",    "drop",
                                                  "setfin", "roots",  "gc",     "gcpercent", "memstats", "attach",
                                                  "runfin", "rewrite/link", "hostile", "check/fork"};
            fprintf(stderr, "op %d: %s (%#x)\n", nops, names[op % 16], op);
        }
        switch (op % 16) {
        case 0: case 1: case 2: case 3: op_alloc(); break;
        case 4: op_free(); break;
        case 5: op_drop(); break;
        case 6: op_setfin(); break;
        case 7: op_roots(); break;
        case 8: op_gc(); break;
        case 9: op_setgcpercent(); break;
        case 10: op_memstats(); break;
        case 11: op_attach(); break;
        case 12: run_finalizers(); break;
        case 13: op_rewrite(); break;
        case 14: op_hostile(); break;
        case 15:
            if (op >= 0xf0)
                op_fork_misuse();
            else
                check_all("checkpoint");
            break;
        }
        if (attached == ATT_NO && (op % 16) != 11 && (op % 16) > 3)
            attached = ATT_UNKNOWN;
        prune();
    }
    end_of_input();
    if (trace)
        fprintf(stderr, "end of input: %lu finalizers run so far, %zu pending\n", fins_total, npend);
    return 0;
}
