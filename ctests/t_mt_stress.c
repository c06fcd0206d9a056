/*
 * t_mt_stress: many mutator threads and many collections (issue 4).
 *
 * NWORK worker threads (gogc_pthread_create) each build and mutate, round after round:
 *  - a singly linked list of about LISTLEN nodes (untyped runtime_mal / runtime_mallocgc(.., 0, 0)
 *    blocks of 32..600 bytes with an inline payload; every 4th node also owns a separate
 *    FlagNoScan payload block of 16..20000 bytes, sometimes 40000 (a large span), sometimes held
 *    only through an interior pointer);
 *  - a binary tree of depth TREEDEPTH (untyped blocks), whose subtrees are replaced at random.
 * The heads are held ONLY in the worker's locals and registers: the thread's argument block
 * (libc malloc) holds ids and counters, never heap addresses, and nothing is registered as a
 * root. Every node carries an id and a checksum over its payload and its children's ids; the
 * payload bytes are a function of the id, so a block freed early and reused by another thread
 * (every thread allocates all the time) shows up as a wrong id, checksum or payload. Each round
 * ends with a full verification of both structures.
 * Collections come from three sources at once: allocation (GOGC=10 via runtime_setgcpercent,
 * flag 0 allocations), two attached collector threads (runtime_gc(1) and runtime_GC() in a
 * loop) and one plain pthread that is never attached (runtime_gc(1)). The test requires at least
 * MIN_GC collections in total and some triggered by allocation (numgc minus the explicit calls),
 * and numgc from runtime_memStats and runtime_ReadMemStats to agree with the count.
 * The seed is printed; GOGC_TEST_SEED replays the per-thread random choices. For narrowing a
 * failure down: MT_STRESS_WORKERS=n (1..4 workers) and MT_STRESS_COLLECTORS=bits (1: the
 * runtime_gc(1) thread, 2: the runtime_GC() thread, 4: the unattached one; default 7) (the
 * collection-count checks are skipped when either is set).
 */
#include "testutil.h"
#include "mt_util.h"
#include <pthread.h>

#define NWORK 4
#define LISTLEN 300
#define TREEDEPTH 7
#define MIN_ROUNDS 100
#define MAX_ROUNDS 4000
#define MIN_GC 250
#define TIME_LIMIT 20.0

typedef struct lnode {
    struct lnode *next;
    uint64_t id;
    uint64_t check;
    uint32_t n;       /* inline payload bytes */
    uint32_t ext_off; /* offset of ext from the start of its block (interior pointer) */
    unsigned char *ext; /* FlagNoScan payload block (+ ext_off) or NULL */
    uint64_t ext_n;
    unsigned char pay[];
} lnode;

typedef struct tnode {
    struct tnode *l, *r;
    uint64_t id;
    uint64_t check;
    uint64_t pad[2];
} tnode;

typedef struct {
    int idx;
    uint64_t seed;
    uint64_t next_id;
    unsigned long rounds, allocs, bad;
    int out_of_time; /* stopped by TIME_LIMIT (slow machine, valgrind) before MIN_ROUNDS */
    uint64_t *ids; /* expected ids of the list, in order (libc memory, ids only) */
    int nids;
} worker_t;

static worker_t workers[NWORK];
static int stop_flag;
static unsigned long explicit_gcs;
static unsigned long workers_done;

static unsigned char pay_byte(uint64_t id, uint64_t i)
{
    return (unsigned char)(mt_mix(id + (i >> 3)) >> ((i & 7) * 8));
}

static uint64_t lnode_check(const lnode *p)
{
    uint64_t h = mt_mix(p->id ^ ((uint64_t)p->n << 40) ^ p->ext_n);
    for (uint32_t i = 0; i < p->n; i++)
        h = mt_mix(h ^ p->pay[i]);
    if (p->ext) {
        for (uint64_t i = 0; i < p->ext_n; i += 61)
            h = mt_mix(h ^ p->ext[i]);
        h ^= p->ext[p->ext_n - 1];
    }
    return h;
}

static lnode *new_lnode(worker_t *w, uint64_t id)
{
    uint64_t r = tu_rand(&w->seed);
    uint32_t n = 8 + (uint32_t)(r % 560);
    lnode *p = (r >> 20) & 1 ? runtime_mal(sizeof(lnode) + n) : runtime_mallocgc(sizeof(lnode) + n, 0, 0);
    w->allocs++;
    CHECK(tu_first_nonzero(p, sizeof(lnode) + n) < 0, "worker %d: new block %p not zeroed", w->idx, (void *)p);
    p->id = id;
    p->n = n;
    for (uint32_t i = 0; i < n; i++)
        p->pay[i] = pay_byte(id, i);
    if (id % 4 == 0) {
        uint64_t en = (r >> 32) % 64 == 0 ? 40000 : 16 + (r >> 32) % 20000;
        uint32_t off = (r >> 40) % 3 == 0 ? (uint32_t)((r >> 48) % (en < 64 ? en : 64)) : 0;
        unsigned char *e = runtime_mallocgc(en + off, 0, FlagNoScan);
        w->allocs++;
        for (uint64_t i = 0; i < en; i++)
            e[off + i] = pay_byte(id ^ 0xABCDEF, i);
        p->ext = e + off;
        p->ext_off = off;
        p->ext_n = en;
    }
    p->check = lnode_check(p);
    return p;
}

static int verify_lnode(worker_t *w, const lnode *p, uint64_t want_id, int pos)
{
    if (p->id != want_id) {
        CHECK(p->id == want_id, "worker %d round %lu: list[%d] at %p has id %#" PRIx64 ", expected %#" PRIx64,
              w->idx, w->rounds, pos, (const void *)p, p->id, want_id);
        return 0;
    }
    uint64_t c = lnode_check(p);
    int ok = c == p->check;
    for (uint32_t i = 0; ok && i < p->n; i++)
        ok = p->pay[i] == pay_byte(p->id, i);
    if (ok && p->ext)
        for (uint64_t i = 0; ok && i < p->ext_n; i++)
            ok = p->ext[i] == pay_byte(p->id ^ 0xABCDEF, i);
    CHECK(ok, "worker %d round %lu: list[%d] %p id %#" PRIx64 ": payload corrupted (freed early?)", w->idx,
          w->rounds, pos, (const void *)p, p->id);
    return ok;
}

static uint64_t tnode_check(const tnode *t)
{
    return mt_mix(t->id ^ mt_mix((t->l ? t->l->id : 1) + 3 * (t->r ? t->r->id : 2)) ^ t->pad[0] ^ t->pad[1]);
}

static tnode *build_tree(worker_t *w, int depth)
{
    if (depth == 0)
        return NULL;
    tnode *t = (w->next_id & 1) ? runtime_mal(sizeof(tnode)) : runtime_mallocgc(sizeof(tnode), 0, 0);
    w->allocs++;
    t->id = w->next_id++;
    t->l = build_tree(w, depth - 1);
    t->r = build_tree(w, depth - 1);
    t->pad[0] = mt_mix(t->id * 7);
    t->pad[1] = ~t->id;
    t->check = tnode_check(t);
    return t;
}

/* Number of nodes, or -1 after reporting a corrupt node. */
static long verify_tree(worker_t *w, const tnode *t, int depth)
{
    if (!t)
        return 0;
    if (depth > 64) {
        CHECK(0, "worker %d: tree deeper than 64 (cycle?)", w->idx);
        return -1;
    }
    if (t->check != tnode_check(t) || t->pad[0] != mt_mix(t->id * 7) || t->pad[1] != ~t->id) {
        CHECK(0, "worker %d round %lu: tree node %p (id %#" PRIx64 ") corrupted (freed early?)", w->idx,
              w->rounds, (const void *)t, t->id);
        return -1;
    }
    long a = verify_tree(w, t->l, depth + 1);
    if (a < 0)
        return -1;
    long b = verify_tree(w, t->r, depth + 1);
    if (b < 0)
        return -1;
    return 1 + a + b;
}

/* Replace a random subtree (at most `depth` levels down) with a new one of the same height.
 * Returns the change in the node count. */
static long mutate_tree(worker_t *w, tnode *t, int height)
{
    if (!t || height <= 1)
        return 0;
    uint64_t r = tu_rand(&w->seed);
    tnode **slot = (r & 1) ? &t->l : &t->r;
    if ((r >> 1) % 3 == 0 || !*slot) {
        long before = verify_tree(w, *slot, 0);
        *slot = build_tree(w, height - 1);
        t->check = tnode_check(t);
        return ((1L << (height - 1)) - 1) - (before < 0 ? 0 : before);
    }
    long d = mutate_tree(w, *slot, height - 1);
    t->check = tnode_check(t);
    return d;
}

static long verify_list(worker_t *w, const lnode *head)
{
    int i = 0;
    for (const lnode *p = head; p; p = p->next, i++) {
        if (i >= w->nids) {
            CHECK(0, "worker %d round %lu: list longer than %d", w->idx, w->rounds, w->nids);
            return -1;
        }
        if (!verify_lnode(w, p, w->ids[i], i))
            return -1;
    }
    CHECK(i == w->nids, "worker %d round %lu: list has %d nodes, expected %d", w->idx, w->rounds, i, w->nids);
    return i;
}

static void garbage(worker_t *w, int n)
{
    for (int i = 0; i < n; i++) {
        uint64_t r = tu_rand(&w->seed);
        uint64_t *g = runtime_mallocgc(16 + r % 3000, 0, (r >> 30) & 1 ? FlagNoScan : 0);
        g[0] = r;
        w->allocs++;
    }
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    w->ids = malloc(sizeof(uint64_t) * LISTLEN * 3);
    w->next_id = ((uint64_t)(w->idx + 1) << 48) | 1;
    lnode *head = NULL;
    w->nids = 0;
    for (int i = 0; i < LISTLEN; i++) {
        uint64_t id = w->next_id++;
        lnode *p = new_lnode(w, id);
        p->next = head;
        head = p;
        memmove(w->ids + 1, w->ids, sizeof(uint64_t) * (size_t)w->nids);
        w->ids[0] = id;
        w->nids++;
    }
    tnode *tree = build_tree(w, TREEDEPTH);
    long tcount = (1L << TREEDEPTH) - 1;
    double t0 = tu_now();

    for (w->rounds = 0; w->rounds < MAX_ROUNDS; w->rounds++) {
        if (w->rounds >= MIN_ROUNDS && (__atomic_load_n(&stop_flag, __ATOMIC_ACQUIRE) || mt_numgc() >= MIN_GC * 2))
            break;
        if (tu_now() - t0 > TIME_LIMIT) {
            w->out_of_time = 1;
            break;
        }
        /* List mutations: replace, insert, delete at random positions; sometimes reverse. */
        for (int k = 0; k < 40; k++) {
            uint64_t r = tu_rand(&w->seed);
            int op = (int)(r % 4);
            int pos = w->nids ? (int)((r >> 8) % (uint64_t)w->nids) : 0;
            if (op == 3 && w->nids > 2 * LISTLEN / 3) {
                /* delete pos */
                lnode **pp = &head;
                for (int i = 0; i < pos; i++)
                    pp = &(*pp)->next;
                *pp = (*pp)->next;
                memmove(w->ids + pos, w->ids + pos + 1, sizeof(uint64_t) * (size_t)(w->nids - pos - 1));
                w->nids--;
            } else if (op == 2 && w->nids < 2 * LISTLEN) {
                /* insert before pos */
                uint64_t id = w->next_id++;
                lnode *n = new_lnode(w, id);
                lnode **pp = &head;
                for (int i = 0; i < pos; i++)
                    pp = &(*pp)->next;
                n->next = *pp;
                *pp = n;
                memmove(w->ids + pos + 1, w->ids + pos, sizeof(uint64_t) * (size_t)(w->nids - pos));
                w->ids[pos] = id;
                w->nids++;
            } else if (w->nids) {
                /* replace pos */
                uint64_t id = w->next_id++;
                lnode *n = new_lnode(w, id);
                lnode **pp = &head;
                for (int i = 0; i < pos; i++)
                    pp = &(*pp)->next;
                n->next = (*pp)->next;
                *pp = n;
                w->ids[pos] = id;
            }
        }
        if (w->rounds % 7 == 3) {
            lnode *rev = NULL;
            while (head) {
                lnode *nx = head->next;
                head->next = rev;
                rev = head;
                head = nx;
            }
            head = rev;
            for (int i = 0, j = w->nids - 1; i < j; i++, j--) {
                uint64_t t = w->ids[i];
                w->ids[i] = w->ids[j];
                w->ids[j] = t;
            }
        }
        for (int k = 0; k < 6; k++)
            tcount += mutate_tree(w, tree, TREEDEPTH);
        garbage(w, 200);
        if (w->rounds % 16 == 5) {
            /* A fresh tree held only in a register/stack slot while the old one is checked. */
            tnode *fresh = build_tree(w, TREEDEPTH);
            garbage(w, 100);
            long c = verify_tree(w, tree, 0);
            CHECK(c == tcount, "worker %d round %lu: tree has %ld nodes, expected %ld", w->idx, w->rounds, c,
                  tcount);
            tree = fresh;
            tcount = (1L << TREEDEPTH) - 1;
        }
        if (verify_list(w, head) < 0 || verify_tree(w, tree, 0) != tcount) {
            if (verify_tree(w, tree, 0) >= 0)
                CHECK(0, "worker %d round %lu: tree node count differs from %ld", w->idx, w->rounds, tcount);
            w->bad++;
            break;
        }
        if (tu_failed())
            break;
    }
    /* Final verification after the last collections of this thread's life. */
    runtime_gc(1);
    __atomic_add_fetch(&explicit_gcs, 1, __ATOMIC_SEQ_CST);
    verify_list(w, head);
    CHECK(verify_tree(w, tree, 0) == tcount, "worker %d: final tree check", w->idx);
    __atomic_add_fetch(&workers_done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void *collector_main(void *arg)
{
    int kind = (int)(intptr_t)arg;
    while (!__atomic_load_n(&stop_flag, __ATOMIC_ACQUIRE)) {
        if (kind == 0)
            runtime_gc(1);
        else
            runtime_GC();
        __atomic_add_fetch(&explicit_gcs, 1, __ATOMIC_SEQ_CST);
        mt_sleep_us(kind == 0 ? 5000 : 9000);
    }
    return NULL;
}

int main(void)
{
    uint64_t seed = tu_seed(0x5712E55ULL);
    printf("t_mt_stress: seed %#" PRIx64 " (GOGC_TEST_SEED)\n", seed);
    int old = runtime_setgcpercent(10);
    uint32_t gc0 = mt_numgc();
    double t0 = tu_now();

    int nwork = NWORK, cmask = 7, tuned = 0;
    if (getenv("MT_STRESS_WORKERS")) {
        nwork = atoi(getenv("MT_STRESS_WORKERS"));
        nwork = nwork < 1 ? 1 : nwork > NWORK ? NWORK : nwork;
        tuned = 1;
    }
    if (getenv("MT_STRESS_COLLECTORS")) {
        cmask = atoi(getenv("MT_STRESS_COLLECTORS")) & 7;
        tuned = 1;
    }
    pthread_t wt[NWORK], ct[3];
    for (int i = 0; i < nwork; i++) {
        workers[i].idx = i;
        workers[i].seed = mt_mix(seed + (uint64_t)i) | 1;
        int rc = gogc_pthread_create(&wt[i], NULL, worker_main, &workers[i]);
        CHECK(rc == 0, "gogc_pthread_create: %d", rc);
    }
    if (cmask & 1)
        CHECK(gogc_pthread_create(&ct[0], NULL, collector_main, (void *)(intptr_t)0) == 0, "collector 0");
    if (cmask & 2)
        CHECK(gogc_pthread_create(&ct[1], NULL, collector_main, (void *)(intptr_t)1) == 0, "collector 1");
    /* A thread that is never attached (plain pthread, no allocation) also collects. */
    if (cmask & 4)
        CHECK(pthread_create(&ct[2], NULL, collector_main, (void *)(intptr_t)0) == 0, "plain collector");

    while (__atomic_load_n(&workers_done, __ATOMIC_ACQUIRE) < (unsigned long)nwork) {
        if (mt_numgc() - gc0 >= MIN_GC)
            __atomic_store_n(&stop_flag, 1, __ATOMIC_RELEASE);
        mt_sleep_us(5000);
    }
    __atomic_store_n(&stop_flag, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < nwork; i++)
        pthread_join(wt[i], NULL);
    for (int i = 0; i < 3; i++)
        if (cmask & (1 << i))
            pthread_join(ct[i], NULL);

    uint32_t ngc = mt_numgc() - gc0;
    unsigned long expl = __atomic_load_n(&explicit_gcs, __ATOMIC_SEQ_CST);
    MStats ms;
    memset(&ms, 0, sizeof ms);
    runtime_ReadMemStats(&ms);
    unsigned long rounds = 0, allocs = 0;
    for (int i = 0; i < nwork; i++) {
        rounds += workers[i].rounds;
        allocs += workers[i].allocs;
        CHECK(workers[i].rounds >= MIN_ROUNDS || workers[i].out_of_time || tu_failed(), "worker %d did only %lu rounds",
              i, workers[i].rounds);
        if (workers[i].out_of_time)
            printf("t_mt_stress: worker %d stopped by the %.0f s time limit after %lu rounds\n", i, TIME_LIMIT,
                   workers[i].rounds);
    }
    printf("t_mt_stress: %u collections (%lu explicit, %ld from allocation), %lu rounds, %lu allocations, "
           "%.1f s\n",
           ngc, expl, (long)ngc - (long)expl, rounds, allocs, tu_now() - t0);
    if (!tuned) {
        CHECK(ngc >= MIN_GC, "only %u collections (need %d)", ngc, MIN_GC);
        CHECK((long)ngc - (long)expl >= 20, "only %ld collections triggered by allocation", (long)ngc - (long)expl);
    }
    CHECK(ms.numgc == gc0 + ngc, "ReadMemStats numgc %u, memStats %u", ms.numgc, gc0 + ngc);
    runtime_setgcpercent(old);
    return test_summary();
}
