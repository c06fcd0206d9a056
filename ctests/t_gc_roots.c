/*
 * t_gc_roots: the collector's root set (libgo-abi.md section 7) and basic reclamation.
 *
 * Three groups of objects, each reachable from one kind of root only:
 *  (a) registered globals: a root_list (__go_register_gc_roots) naming a static array of 1000
 *      untyped objects (some of them large) and a static list head of 1000 typed nodes (GC_PTR);
 *  (b) a gogc_add_roots range: a libc-malloc'd array (outside the GC heap) of 1000 untyped
 *      objects, each holding the only pointer to a child object (2000 objects);
 *  (c) a local variable of the calling frame: the head of a 1000-node typed list, kept in a local
 *      across the collections and used afterwards (register / stack slot).
 * Every object carries an id and a payload; between 20 forced collections the test allocates
 * and drops garbage of the same sizes (so a wrongly freed object would be overwritten) and then
 * verifies every object. Then each group is dropped in turn (globals cleared; range removed;
 * the local's frame returned) and ReadMemStats must show, after runtime_GC(), that Frees grew
 * and HeapObjects shrank by at least 95% of the group (conservative stack scanning may retain a
 * few) and by not much more than the group; the other groups stay intact.
 * Also: gogc_remove_roots with bounds that were not registered removes nothing; a root_list
 * registered after objects exist protects them from the next collection.
 */
#include "testutil.h"
#include "t_gc_util.h"

#define NA 1000
#define NB 1000
#define NC 1000
#define MAGIC 0x5EED000000000000ULL

typedef struct node {
    struct node *next;
    uint64_t id;
    uint64_t data[4];
} node;

static uintptr_t node_prog[] = {sizeof(node), GC_PTR, 0, 0 /* node_prog */, GC_END, 0};
static GoType node_type __attribute__((aligned(16)));

/* (a) registered globals */
static void *g_objs[NA];
static node *g_head;
static struct {
    struct root_list *next;
    struct root_entry roots[3];
} g_rl = {NULL, {{g_objs, sizeof g_objs}, {&g_head, sizeof g_head}, {NULL, 0}}};

/* (a2) a root list registered late */
#define NL 300
static void *g_late[NL];
static struct {
    struct root_list *next;
    struct root_entry roots[2];
} g_rl_late = {NULL, {{g_late, sizeof g_late}, {NULL, 0}}};

/* (b) a range root outside the GC heap */
static void **b_arr;

static uint64_t pay(uint64_t id, uint64_t w)
{
    return ((id * 0x9E3779B97F4A7C15ULL) ^ (w * 0xC2B2AE3D27D4EB4FULL)) | 0xFF00000000000000ULL;
}

static size_t obj_size_a(int i)
{
    if (i % 100 == 7)
        return 40000 + (size_t)i; /* large */
    return 16 + (size_t)(i * 37) % 500;
}

static void *new_obj(uint64_t id, size_t size)
{
    uint64_t *p = runtime_mallocgc(size, 0, 0);
    size_t nw = size / 8;
    p[0] = id ^ MAGIC;
    for (size_t w = 1; w < nw; w++)
        p[w] = pay(id, w);
    return p;
}

/* Returns 1 if the object looks exactly as new_obj wrote it; words [skip_lo, skip_hi) are not
 * compared (they hold pointers). */
static int obj_ok(const void *v, uint64_t id, size_t size, size_t skip_lo, size_t skip_hi)
{
    const uint64_t *p = v;
    if (p[0] != (id ^ MAGIC))
        return 0;
    for (size_t w = 1; w < size / 8; w++)
        if ((w < skip_lo || w >= skip_hi) && p[w] != pay(id, w))
            return 0;
    return 1;
}

static node *new_node(uint64_t id, node *next)
{
    node *n = runtime_mallocgc(sizeof(node), (uintptr_t)&node_type | TypeInfo_SingleObject, 0);
    n->next = next;
    n->id = id;
    for (int k = 0; k < 4; k++)
        n->data[k] = pay(id, (uint64_t)k);
    return n;
}

static node *__attribute__((noinline)) build_list(uint64_t first_id, int n)
{
    node *head = NULL;
    for (int i = n - 1; i >= 0; i--)
        head = new_node(first_id + (uint64_t)i, head);
    return head;
}

/* Number of nodes that are wrong (walks at most n + 1 nodes). */
static int __attribute__((noinline)) list_bad(const node *h, uint64_t first_id, int n)
{
    int bad = 0, i = 0;
    for (; h && i <= n; h = h->next, i++) {
        int ok = h->id == first_id + (uint64_t)i;
        for (int k = 0; k < 4; k++)
            ok &= h->data[k] == pay(first_id + (uint64_t)i, (uint64_t)k);
        bad += !ok;
    }
    if (i != n)
        bad += 1000000;
    return bad;
}

static void __attribute__((noinline)) build_ab(void)
{
    for (int i = 0; i < NA; i++)
        g_objs[i] = new_obj(1000000 + (uint64_t)i, obj_size_a(i));
    g_head = build_list(2000000, NA);
    /* Register the range before it holds anything: a collection may run at any allocation
     * (GODEBUG=stress), and objects referenced only from an unregistered range are garbage. */
    b_arr = calloc(NB, sizeof(void *));
    gogc_add_roots(b_arr, b_arr + NB);
    for (int i = 0; i < NB; i++) {
        uint64_t *p = new_obj(3000000 + (uint64_t)i, 64);
        p[1] = (uint64_t)(uintptr_t)new_obj(4000000 + (uint64_t)i, 128); /* the child's only ref */
        b_arr[i] = p;
    }
}

static int __attribute__((noinline)) bad_a(void)
{
    int bad = 0;
    for (int i = 0; i < NA; i++)
        bad += !g_objs[i] || !obj_ok(g_objs[i], 1000000 + (uint64_t)i, obj_size_a(i), 0, 0);
    return bad + list_bad(g_head, 2000000, NA);
}

static int __attribute__((noinline)) bad_b(void)
{
    int bad = 0;
    for (int i = 0; i < NB; i++) {
        const uint64_t *p = b_arr[i];
        if (!p || !obj_ok(p, 3000000 + (uint64_t)i, 64, 1, 2)) {
            bad++;
            continue;
        }
        bad += !obj_ok((const void *)(uintptr_t)p[1], 4000000 + (uint64_t)i, 128, 0, 0);
    }
    return bad;
}

static int __attribute__((noinline)) bad_late(void)
{
    int bad = 0;
    for (int i = 0; i < NL; i++)
        bad += !g_late[i] || !obj_ok(g_late[i], 5000000 + (uint64_t)i, 96, 0, 0);
    return bad;
}

/* Allocates and drops objects of the same sizes, filled with a pattern. */
static void __attribute__((noinline)) churn(uint64_t *seed)
{
    for (int i = 0; i < 3000; i++) {
        size_t sz = 16 + (size_t)(tu_rand(seed) % 600);
        if (i % 200 == 0)
            sz = 40000 + (size_t)(tu_rand(seed) % 20000);
        unsigned char *p = runtime_mallocgc(sz, 0, 0);
        memset(p, 0xAA, sz);
    }
    for (int i = 0; i < 500; i++) {
        node *n = runtime_mallocgc(sizeof(node), (uintptr_t)&node_type | TypeInfo_SingleObject, 0);
        memset(n, 0xBB, sizeof *n);
        n->next = NULL;
    }
}

static MStats s_before, s_after;

/* Phase (c): the list head lives in this frame across the collections. Fills *live_stats with
 * the statistics of a collection taken while the list is still in use. */
static int __attribute__((noinline)) local_phase(uint64_t *seed, MStats *live_stats)
{
    node *head = build_list(6000000, NC);
    int bad_total = 0;
    for (int round = 0; round < 20; round++) {
        churn(seed);
        gc_force(2);
        int ba = bad_a(), bb = bad_b(), bc = list_bad(head, 6000000, NC);
        CHECK(ba == 0, "round %d: %d objects rooted in registered globals are damaged or missing", round, ba);
        CHECK(bb == 0, "round %d: %d objects rooted in the gogc_add_roots range are damaged", round, bb);
        CHECK(bc == 0, "round %d: %d nodes of the list held in a local are damaged", round, bc);
        bad_total += ba + bb + bc;
        if (bad_total)
            break;
    }
    gc_full();
    gc_stats(live_stats);
    /* use the head after the collection: it must have been found in this frame or a register */
    bad_total += list_bad(head, 6000000, NC);
    CHECK(bad_total == 0, "list held in a local damaged after the last collection");
    return bad_total;
}

static void __attribute__((noinline)) drop_a(void)
{
    memset(g_objs, 0, sizeof g_objs);
    g_head = NULL;
}

static void __attribute__((noinline)) build_late(void)
{
    /* The objects exist before their root list does: no collection may run in between
     * (GODEBUG=stress would otherwise collect them, correctly, as unreachable). */
    int old = runtime_setgcpercent(-1);
    for (int i = 0; i < NL; i++)
        g_late[i] = new_obj(5000000 + (uint64_t)i, 96);
    __go_register_gc_roots((struct root_list *)&g_rl_late);
    runtime_setgcpercent(old);
}

static void check_dropped(const char *what, const MStats *b, const MStats *a, uint64_t n)
{
    uint64_t freed = a->nfree - b->nfree;
    uint64_t dropped = b->heap_objects > a->heap_objects ? b->heap_objects - a->heap_objects : 0;
    printf("%s: %" PRIu64 " objects dropped: Frees +%" PRIu64 ", HeapObjects -%" PRIu64
           " (%" PRIu64 " -> %" PRIu64 "), HeapAlloc %" PRIu64 " -> %" PRIu64 "\n",
           what, n, freed, dropped, b->heap_objects, a->heap_objects, b->heap_alloc, a->heap_alloc);
    CHECK(freed * 100 >= n * 95, "%s: Frees grew by %" PRIu64 ", expected >= 95%% of %" PRIu64, what,
          freed, n);
    CHECK(freed <= n + 64, "%s: Frees grew by %" PRIu64 ", far more than the %" PRIu64 " dropped", what,
          freed, n);
    CHECK(dropped * 100 >= n * 95, "%s: HeapObjects fell by %" PRIu64 ", expected >= 95%% of %" PRIu64,
          what, dropped, n);
    CHECK(a->heap_alloc < b->heap_alloc, "%s: HeapAlloc did not fall (%" PRIu64 " -> %" PRIu64 ")", what,
          b->heap_alloc, a->heap_alloc);
    CHECK(a->numgc > b->numgc, "%s: numgc did not advance", what);
}

int main(void)
{
    uint64_t seed = tu_seed(0x12345);
    printf("seed %#" PRIx64 "\n", seed);
    node_prog[3] = (uintptr_t)node_prog;
    gc_init_type(&node_type, GO_STRUCT, sizeof(node), node_prog);
    __go_register_gc_roots((struct root_list *)&g_rl);

    build_ab();
    {
        MStats m;
        gc_full();
        gc_stats(&m);
        CHECK(m.numgc >= 1, "runtime_GC did not count a collection (numgc %u)", m.numgc);
        CHECK(m.heap_objects >= NA * 2 + NB * 2, "HeapObjects %" PRIu64 " < %d rooted objects",
              m.heap_objects, NA * 2 + NB * 2);
    }

    /* A root list registered after its objects were allocated. */
    build_late();
    gc_full();
    CHECK(bad_late() == 0, "objects under a late-registered root_list were damaged");

    /* (c), with (a) and (b) checked on every round */
    MStats live_c;
    local_phase(&seed, &live_c);
    gc_full();
    gc_stats(&s_after);
    check_dropped("local list returned", &live_c, &s_after, NC);
    CHECK(bad_a() == 0 && bad_b() == 0 && bad_late() == 0, "other groups damaged after dropping (c)");

    /* Removing a range with bounds that were never registered must remove nothing. */
    gogc_remove_roots(b_arr, b_arr + NB - 1);
    gogc_remove_roots(b_arr + 1, b_arr + NB);
    churn(&seed);
    gc_full();
    churn(&seed);
    CHECK(bad_b() == 0, "gogc_remove_roots with other bounds unregistered the range");

    /* (a) */
    gc_full();
    gc_stats(&s_before);
    drop_a();
    gc_full();
    gc_stats(&s_after);
    check_dropped("registered globals cleared", &s_before, &s_after, NA * 2);
    CHECK(bad_b() == 0 && bad_late() == 0, "other groups damaged after dropping (a)");

    /* (b): the array keeps its pointers, but is no longer scanned. */
    gc_full();
    gc_stats(&s_before);
    gogc_remove_roots(b_arr, b_arr + NB);
    gc_full();
    gc_stats(&s_after);
    check_dropped("root range removed", &s_before, &s_after, NB * 2);
    CHECK(bad_late() == 0, "late roots damaged after dropping (b)");

    /* late list */
    gc_full();
    gc_stats(&s_before);
    memset(g_late, 0, sizeof g_late);
    gc_full();
    gc_stats(&s_after);
    check_dropped("late globals cleared", &s_before, &s_after, NL);
    free(b_arr);
    return test_summary();
}
