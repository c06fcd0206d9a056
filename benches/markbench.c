/*
 * markbench: how fast a full collection traces a large live heap.
 *
 * Builds a live heap of N MiB of 32-byte objects {next, id, chain, check}, linked into C chains
 * (default 1024) whose heads sit in a C global (a registered root for gogc; bdwgc scans bss):
 *   --order alloc     object k links to object k+1 (consecutive in memory)
 *   --order shuffle   objects are linked in a random permutation (fixed seed), so following
 *                     `next` jumps around the whole heap, as in a heap that has aged
 * Collections are off while the heap is built. Then one untimed warm-up collection, then K
 * timed full collections (runtime_GC / GC_gcollect); the heap is checked afterwards.
 *
 * Per collection: wall time of the call, and the backend's own stop-the-world pause (gogc:
 * MStats.pause_ns; bdwgc: GC_EVENT_START..END). runtime_GC also sweeps the whole heap before
 * returning; GC_gcollect sweeps lazily, so compare the pause columns for marking.
 * Throughput: live MiB / pause / workers = MB/s per worker.
 *
 * Workers: set with the environment: gogc GODEBUG=gcprocs=W, bdwgc GC_MARKERS=W.
 * The bdwgc build of this program uses BK_BDWGC_NO_INTERIOR (see backend.h), so its objects
 * are 32 bytes as well (with interior pointers on, bdwgc adds a byte and they become 48).
 *
 * Usage: markbench [--mib N] [--order alloc|shuffle] [--gcs K] [--chains C]
 * Output: one line per collection, then the RESULT line with
 *   mib=N order=O chains=C ms_per_gc=MEDIAN pause_ms=MEDIAN mbps_per_worker=X
 */
#include "backend.h"

typedef struct Obj {
    struct Obj *next;
    int64_t id, chain, check;
} Obj;

/* -DGOGC_GCPTR: GC_PTR with the pointee's program instead of GC_APTR (see gcbench.c). */
#ifdef GOGC_GCPTR
BK_TYPE(obj_t, Obj, GC_PTR, offsetof(Obj, next), (uintptr_t)obj_t_prog);
#else
BK_TYPE(obj_t, Obj, GC_APTR, offsetof(Obj, next));
#endif

#define MAX_CHAINS 65536
static Obj *heads[MAX_CHAINS];

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t next_rand(void)
{
    /* xorshift64* */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717u;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_u64);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    long mib = 256, chains = 1024;
    int gcs = 5, shuffle = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mib") && i + 1 < argc)
            mib = atol(argv[++i]);
        else if (!strcmp(argv[i], "--gcs") && i + 1 < argc)
            gcs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--chains") && i + 1 < argc)
            chains = atol(argv[++i]);
        else if (!strcmp(argv[i], "--order") && i + 1 < argc)
            shuffle = !strcmp(argv[++i], "shuffle");
        else {
            fprintf(stderr, "usage: %s [--mib N] [--order alloc|shuffle] [--gcs K] [--chains C]\n", argv[0]);
            return 2;
        }
    }
    if (gcs < 1 || gcs > 1000 || chains < 1 || chains > MAX_CHAINS || mib < 1) {
        fprintf(stderr, "markbench: bad arguments\n");
        return 2;
    }
    bk_init();
    bk_add_roots(heads, heads + MAX_CHAINS);
    const long nobj = mib * 1048576 / (long)sizeof(Obj);
    const char *order = shuffle ? "shuffle" : "alloc";

    /* Build. The pointer table is glibc memory, invisible to both collectors, so collections
     * stay off until every object is linked from heads[]. */
    uint64_t t0 = bk_now_ns();
    bk_gc_off();
    Obj **tab = malloc((size_t)nobj * sizeof *tab);
    if (!tab) {
        fprintf(stderr, "markbench: out of memory for the table\n");
        return 3;
    }
    for (long k = 0; k < nobj; k++)
        tab[k] = bk_check(bk_new(&obj_t));
    if (shuffle)
        for (long k = nobj - 1; k > 0; k--) {
            long j = (long)(next_rand() % (uint64_t)(k + 1));
            Obj *t = tab[k];
            tab[k] = tab[j];
            tab[j] = t;
        }
    long per = (nobj + chains - 1) / chains;
    for (long k = 0; k < nobj; k++) {
        long c = k / per;
        Obj *o = tab[k];
        o->id = k;
        o->chain = c;
        o->check = k ^ 0x5a5a5a5a;
        if (k % per == 0)
            heads[c] = o;
        else
            tab[k - 1]->next = o;
    }
    memset(tab, 0, (size_t)nobj * sizeof *tab);
    free(tab);
    bk_gc_on();
    printf("markbench [%s]: %ld MiB live, %ld objects of %zu bytes in %ld chains, %s order, "
           "built in %.0f ms; %d workers\n",
           BK_NAME, mib, nobj, sizeof(Obj), chains, order, (double)(bk_now_ns() - t0) / 1e6,
           bk_workers());
    fflush(stdout);

    bk_collect(); /* warm-up: first-touch of mark bits, helper threads */

    uint64_t wall[1000], pause[1000];
    for (int g = 0; g < gcs; g++) {
        uint64_t a = bk_now_ns();
        bk_collect();
        wall[g] = bk_now_ns() - a;
        pause[g] = bk_last_pause_ns();
        printf("  gc %d: %.1f ms (pause %.1f ms)\n", g + 1, (double)wall[g] / 1e6, (double)pause[g] / 1e6);
    }

    /* Everything must have survived. */
    long seen = 0;
    int ok = 1;
    for (long c = 0; c < chains; c++)
        for (Obj *o = heads[c]; o; o = o->next) {
            seen++;
            if (o->chain != c || o->check != (o->id ^ 0x5a5a5a5a))
                ok = 0;
        }
    if (seen != nobj)
        ok = 0;
    if (!ok)
        fprintf(stderr, "markbench [%s]: FAILED: %ld of %ld objects reachable or corrupted\n", BK_NAME, seen, nobj);

    uint64_t mw = median(wall, gcs), mp = median(pause, gcs);
    int w = bk_workers();
    char extra[256];
    snprintf(extra, sizeof extra,
             "mib=%ld order=%s chains=%ld ms_per_gc=%.1f pause_ms=%.1f mbps_per_worker=%.0f check=%s", mib,
             order, chains, (double)mw / 1e6, (double)mp / 1e6,
             mp ? (double)mib / ((double)mp / 1e9) / (w ? w : 1) : 0.0, ok ? "ok" : "FAILED");
    bk_result_line(extra);
    return ok ? 0 : 1;
}
