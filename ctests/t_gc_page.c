/*
 * t_gc_page: the marker's page path (src/gc/mark.rs, scan_mask): a block scanned by pointer
 * mask marks pointers into its own page with that page's span read once, and scans the first
 * mask-scanned block it marks there at once instead of queueing it. Allocation-ordered linked
 * data (each node allocated right after the one pointing to it, so mostly in the same page)
 * exercises every branch of it:
 *   A  interior pointers: each node's pointer word points 16 bytes into the next node;
 *   B  two types in one span: Node (the span's primary type, a mask) links to Other (a second
 *      type, found through the span's per-object table and scanned by its program), which links
 *      to the next Node;
 *   C  untyped blocks in a typed span: Node links to an untyped 32-byte block (every word a
 *      candidate) whose last word links to the next Node;
 *   D  precision: each node of a chain holds, in a scalar word, the exact address of a garbage
 *      node allocated right next to it (same page): the page path must not mark it;
 *   E  a large block (its own span, one block per page run) of the Node type, whose pointer
 *      word points into itself;
 *   F  the walk going on into the next page: a list of Node2 {aux, next} in allocation order,
 *      each node followed by its aux block, of one of three kinds in turn, all 32 bytes (the
 *      same size class, so they share spans with the nodes): a noscan block, a block of a type
 *      whose program is not a plain mask (GC_STRING: scanned by the interpreter, its string
 *      only marked), an untyped block pointing to a noscan leaf. Where a node is the last block
 *      of its page, its aux (word 0) is the first pointer into the next page, which the walk
 *      follows when the page is done; the test checks that each kind sits there at least once;
 *   G  untyped blocks in spans without types (48 bytes, a size class nothing else here uses):
 *      the walk's untyped fast case, every word a candidate: word 2 links to the next block,
 *      word 4 to a noscan leaf, the other words hold small integers.
 * Everything is built with collections off, then collected twice (force 1 and force 2), then
 * 20000 fresh 32-byte blocks are allocated and filled (so a node freed by mistake is reused and
 * overwritten), then every chain is walked and every payload checked. D's garbage is counted
 * through MemStats by_size (the 32-byte class's frees). Run under GODEBUG=checkmark=1 by
 * `make check` too, where a second, pipeline-only mark verifies that the first one marked every
 * reachable block.
 */
#include "testutil.h"
#include "t_gc_util.h"

typedef struct Node {
    struct Node *next; /* pointer word (case A: interior pointer) */
    uintptr_t a, b, c;
} Node;

typedef struct Other {
    uintptr_t x;
    void *p; /* pointer word */
    uintptr_t y, z;
} Other;

static uintptr_t node_prog[] = {32, GC_APTR, 0, GC_END, 0};
static uintptr_t other_prog[] = {32, GC_APTR, 8, GC_END, 0};
static GoType node_t, other_t;

typedef struct Node2 {
    void *aux; /* word 0: scanned first */
    struct Node2 *next;
    uintptr_t a, b;
} Node2;

typedef struct Str {
    uintptr_t x;
    const char *s; /* a Go string: data, length */
    uintptr_t len;
    uintptr_t y;
} Str;

static uintptr_t node2_prog[] = {32, GC_APTR, 0, GC_APTR, 8, GC_END, 0};
static uintptr_t str_prog[] = {32, GC_STRING, 8, GC_END, 0};
static GoType node2_t, str_t;
#define PAGE(p) ((uintptr_t)(p) >> 13)
/* How many nodes of F have their aux block of each kind at the start of the next page. */
static int f_cross[3];

#define N 3000
#define MAGIC 0x5eed0000u

enum { RA, RB, RC, RD, RE, RF, RG, NROOTS };
static void *roots[NROOTS];
static struct {
    struct root_list *next;
    struct root_entry roots[2];
} rl = {NULL, {{roots, sizeof roots}, {NULL, 0}}};

static Node *new_node(uintptr_t k)
{
    Node *n = runtime_mallocgc(sizeof(Node), (uintptr_t)&node_t | TypeInfo_SingleObject, 0);
    n->a = k ^ MAGIC;
    n->b = ~k;
    n->c = 0;
    return n;
}

static Other *new_other(uintptr_t k)
{
    Other *o = runtime_mallocgc(sizeof(Other), (uintptr_t)&other_t | TypeInfo_SingleObject, 0);
    o->x = k ^ MAGIC;
    o->y = ~k;
    o->z = 0;
    return o;
}

static int node_ok(const Node *n, uintptr_t k) { return n->a == (k ^ MAGIC) && n->b == ~k; }

/* Frees of D's 32-byte nodes. Under efence=1 there are no size classes (every block is a
 * large object of one page), so it is every free: D's nodes are the only garbage then. */
static uint32_t class32_frees(void)
{
    MStats m;
    gc_stats(&m);
    if (tu_godebug("efence"))
        return (uint32_t)m.nfree;
    for (int i = 0; i < 67; i++)
        if (m.by_size[i].size == 32)
            return (uint32_t)m.by_size[i].nfree;
    return 0;
}

static __attribute__((noinline)) void build(void)
{
    /* A: node k points 16 bytes into node k+1. */
    Node *prev = NULL;
    for (uintptr_t k = 0; k < N; k++) {
        Node *n = new_node(k);
        if (prev)
            prev->next = (Node *)((char *)n + 16);
        else
            roots[RA] = n;
        prev = n;
    }
    prev->next = NULL;

    /* B: Node -> Other -> Node ... */
    prev = NULL;
    for (uintptr_t k = 0; k < N; k++) {
        Node *n = new_node(k);
        if (prev) {
            Other *o = (Other *)prev->next;
            o->p = n;
        } else {
            roots[RB] = n;
        }
        Other *o = new_other(k);
        n->next = (Node *)o;
        prev = n;
    }
    ((Other *)prev->next)->p = NULL;

    /* C: Node -> untyped block (link in its last word) -> Node ... */
    prev = NULL;
    for (uintptr_t k = 0; k < N; k++) {
        Node *n = new_node(k);
        if (prev)
            ((uintptr_t *)prev->next)[3] = (uintptr_t)n;
        else
            roots[RC] = n;
        uintptr_t *u = runtime_mallocgc(32, 0, 0);
        u[0] = k ^ MAGIC;
        u[1] = ~k;
        u[2] = 7;
        u[3] = 0;
        n->next = (Node *)u;
        prev = n;
    }

    /* D: each chain node's scalar word c holds a garbage node's exact address. */
    prev = NULL;
    for (uintptr_t k = 0; k < N; k++) {
        Node *n = new_node(k);
        Node *g = new_node(k + N);
        n->c = (uintptr_t)g;
        g->next = n; /* garbage pointing into the live chain changes nothing */
        if (prev)
            prev->next = n;
        else
            roots[RD] = n;
        prev = n;
    }
    prev->next = NULL;

    /* E: a large block of the Node type pointing into itself. */
    Node *big = runtime_mallocgc(40000, (uintptr_t)&node_t | TypeInfo_SingleObject, 0);
    big->next = (Node *)((char *)big + 24);
    big->a = 12345 ^ MAGIC;
    big->b = ~(uintptr_t)12345;
    roots[RE] = big;

    /* F: Node2 -> aux (noscan / Str -> noscan string / untyped -> noscan leaf), Node2 -> next. */
    Node2 *prev2 = NULL;
    for (uintptr_t k = 0; k < N; k++) {
        Node2 *n = runtime_mallocgc(sizeof(Node2), (uintptr_t)&node2_t | TypeInfo_SingleObject, 0);
        n->a = k ^ MAGIC;
        n->b = ~k;
        uintptr_t *aux;
        switch (k % 3) {
        case 0:
            aux = runtime_mallocgc(32, 0, FlagNoScan);
            aux[0] = k ^ MAGIC, aux[1] = ~k, aux[2] = 0, aux[3] = 0;
            break;
        case 1: {
            Str *st = runtime_mallocgc(sizeof(Str), (uintptr_t)&str_t | TypeInfo_SingleObject, 0);
            uintptr_t *data = runtime_mallocgc(32, 0, FlagNoScan);
            data[0] = k ^ MAGIC, data[1] = ~k, data[2] = 0, data[3] = 0;
            st->x = k ^ MAGIC, st->y = ~k, st->s = (const char *)data, st->len = 32;
            aux = (uintptr_t *)st;
            break;
        }
        default: {
            aux = runtime_mallocgc(32, 0, 0);
            uintptr_t *leaf = runtime_mallocgc(32, 0, FlagNoScan);
            leaf[0] = k ^ MAGIC, leaf[1] = ~k, leaf[2] = 0, leaf[3] = 0;
            /* A second leaf makes 9 blocks per 3 nodes: 256 blocks per page is no multiple of
             * it, so which block ends a page changes from page to page. */
            uintptr_t *leaf2 = runtime_mallocgc(32, 0, FlagNoScan);
            leaf2[0] = k ^ MAGIC, leaf2[1] = ~k, leaf2[2] = 0, leaf2[3] = 0;
            aux[0] = k ^ MAGIC, aux[1] = ~k, aux[2] = (uintptr_t)leaf2, aux[3] = (uintptr_t)leaf;
            break;
        }
        }
        n->aux = aux;
        n->next = NULL;
        if (PAGE(aux) == PAGE(n) + 1)
            f_cross[k % 3]++;
        if (prev2)
            prev2->next = n;
        else
            roots[RF] = n;
        prev2 = n;
    }

    /* G: untyped 48-byte blocks: [k^MAGIC, ~k, next, 7, leaf, k]. */
    uintptr_t *prevu = NULL;
    for (uintptr_t k = 0; k < N; k++) {
        uintptr_t *u = runtime_mallocgc(48, 0, 0);
        uintptr_t *leaf = runtime_mallocgc(48, 0, FlagNoScan);
        leaf[0] = k ^ MAGIC, leaf[1] = ~k;
        u[0] = k ^ MAGIC, u[1] = ~k, u[2] = 0, u[3] = 7, u[4] = (uintptr_t)leaf, u[5] = k;
        if (prevu)
            prevu[2] = (uintptr_t)u;
        else
            roots[RG] = u;
        prevu = u;
    }
}

static int leaf_ok(const uintptr_t *l, uintptr_t k) { return l && l[0] == (k ^ MAGIC) && l[1] == ~k; }

static __attribute__((noinline)) void churn(void)
{
    for (int i = 0; i < 20000; i++) {
        uintptr_t *p = runtime_mallocgc(32, 0, 0);
        for (int w = 0; w < 4; w++)
            p[w] = 0xabababababababab;
    }
}

static void check_chains(const char *when)
{
    uintptr_t k = 0, bad = 0;
    for (Node *n = roots[RA]; n && k < N + 1; k++) {
        if (!node_ok(n, k))
            bad++;
        n = n->next ? (Node *)((char *)n->next - 16) : NULL;
    }
    CHECK(k == N && bad == 0, "%s: A (interior pointers): walked %lu of %d, %lu bad", when, (unsigned long)k, N,
          (unsigned long)bad);

    k = 0, bad = 0;
    for (Node *n = roots[RB]; n && k < N + 1; k++) {
        Other *o = (Other *)n->next;
        if (!node_ok(n, k) || !o || o->x != (k ^ MAGIC) || o->y != ~k)
            bad++;
        n = o ? o->p : NULL;
    }
    CHECK(k == N && bad == 0, "%s: B (two types in a span): walked %lu of %d, %lu bad", when, (unsigned long)k, N,
          (unsigned long)bad);

    k = 0, bad = 0;
    for (Node *n = roots[RC]; n && k < N + 1; k++) {
        uintptr_t *u = (uintptr_t *)n->next;
        if (!node_ok(n, k) || !u || u[0] != (k ^ MAGIC) || u[1] != ~k || u[2] != 7)
            bad++;
        n = u ? (Node *)u[3] : NULL;
    }
    CHECK(k == N && bad == 0, "%s: C (untyped blocks in a typed span): walked %lu of %d, %lu bad", when,
          (unsigned long)k, N, (unsigned long)bad);

    k = 0, bad = 0;
    for (Node *n = roots[RD]; n && k < N + 1; k++) {
        if (!node_ok(n, k))
            bad++;
        n = n->next;
    }
    CHECK(k == N && bad == 0, "%s: D (chain): walked %lu of %d, %lu bad", when, (unsigned long)k, N, (unsigned long)bad);

    k = 0, bad = 0;
    for (Node2 *n = roots[RF]; n && k < N + 1; k++) {
        uintptr_t *aux = n->aux;
        int ok = n->a == (k ^ MAGIC) && n->b == ~k;
        if (ok && k % 3 != 1)
            ok = leaf_ok(aux, k);
        if (ok && k % 3 == 1) {
            const Str *st = (const Str *)aux;
            ok = st->x == (k ^ MAGIC) && st->y == ~k && st->len == 32 && leaf_ok((const uintptr_t *)st->s, k);
        }
        if (ok && k % 3 == 2)
            ok = leaf_ok((const uintptr_t *)aux[3], k) && leaf_ok((const uintptr_t *)aux[2], k);
        if (!ok)
            bad++;
        n = n->next;
    }
    CHECK(k == N && bad == 0, "%s: F (walk into the next page): walked %lu of %d, %lu bad", when, (unsigned long)k, N,
          (unsigned long)bad);

    k = 0, bad = 0;
    for (uintptr_t *u = roots[RG]; u && k < N + 1; k++) {
        if (!leaf_ok(u, k) || u[3] != 7 || u[5] != k || !leaf_ok((const uintptr_t *)u[4], k))
            bad++;
        u = (uintptr_t *)u[2];
    }
    CHECK(k == N && bad == 0, "%s: G (untyped spans): walked %lu of %d, %lu bad", when, (unsigned long)k, N,
          (unsigned long)bad);

    Node *big = roots[RE];
    CHECK(gc_large_live(big) && node_ok(big, 12345) && big->next == (Node *)((char *)big + 24),
          "%s: E (large block pointing into itself) lost or changed", when);
}

int main(void)
{
    gc_init_type(&node_t, 25 /* struct */, sizeof(Node), node_prog);
    gc_init_type(&other_t, 25, sizeof(Other), other_prog);
    gc_init_type(&node2_t, 25, sizeof(Node2), node2_prog);
    gc_init_type(&str_t, 25, sizeof(Str), str_prog);
    __go_register_gc_roots((struct root_list *)&rl);

    int32_t old = runtime_setgcpercent(-1);
    build();
    gc_scrub_stack();
    runtime_setgcpercent(old);

    uint32_t f0 = class32_frees();
    gc_force(1);
    gc_force(2);
    uint32_t freed = class32_frees() - f0;
    /* D's N garbage nodes, and nothing that is reachable; a few may be kept by stale words
     * on the stack or in registers (conservative scanning). */
    CHECK(freed >= N - 50 && freed <= N, "D (precision): %u 32-byte blocks freed, want the %d garbage nodes", freed, N);

    /* Each of F's aux kinds must have been the first block of a next page at least once, or
     * the walk's step into the next page was not exercised for it. */
    CHECK(f_cross[0] > 0 && f_cross[1] > 0 && f_cross[2] > 0,
          "F: aux blocks starting the next page: %d noscan, %d by program, %d untyped (want each > 0)", f_cross[0],
          f_cross[1], f_cross[2]);
    churn();
    check_chains("after two collections");
    gc_force(2);
    churn();
    check_chains("after a third");
    printf("t_gc_page: %d-node chains, %u garbage nodes freed, F's aux at a next page's start %d/%d/%d times\n", N,
           freed, f_cross[0], f_cross[1], f_cross[2]);
    return test_summary();
}
