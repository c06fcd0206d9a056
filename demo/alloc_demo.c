/*
 * alloc_demo: a small allocation workload through include/gogc.h.
 *
 * Builds binary trees of typed nodes (a GoType descriptor with a GC program, allocated with
 * runtime_mallocgc), some untyped and pointer-free buffers (__go_alloc, FlagNoScan), and a
 * large object; checks them; frees everything with __go_free; and prints runtime_memStats
 * before and after.
 *
 * Build (what `make demo` does):
 *   cc -O2 -Iinclude -o build/alloc_demo demo/alloc_demo.c target/release/libgogc.a \
 *      -lpthread -ldl -lm
 *
 * Nothing here relies on a collector: every block is freed explicitly. The C globals that hold
 * heap pointers are registered as GC roots, so a collector that runs meanwhile keeps them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gogc.h"

/* Go: type node struct { left, right *node; value int64 } */
typedef struct node {
    struct node *left, *right;
    int64_t value;
} node;

/*
 * The GC program gccgo would emit for `node`: element size, then a GC_PTR per pointer field
 * (offset, program of the pointee), then GC_END, plus the trailing zero word the compiler adds.
 */
static const uintptr_t node_gc[] = {
    sizeof(node),
    GC_PTR, offsetof(node, left), (uintptr_t)node_gc,
    GC_PTR, offsetof(node, right), (uintptr_t)node_gc,
    GC_END, 0,
};

static const GoString node_name = {(const uint8_t *)"main.node", 9};

static const GoType node_type = {
    .__code = GO_STRUCT,
    .__align = _Alignof(node),
    .__field_align = _Alignof(node),
    .__size = sizeof(node),
    .__hash = 0x6e6f6465u,
    .__gc = node_gc,
    .__reflection = &node_name,
};

/*
 * Heap pointers kept in C globals must be visible to the collector, the way gccgo registers a
 * package's globals. Declared weak so the demo also builds against a library without roots.
 */
extern void __go_register_gc_roots(root_list *r) __attribute__((weak));
enum { NTREES = 8, NBUF = 1000 };
static node *roots[NTREES];
static void *bufs[NBUF];
static uint8_t *big;
static struct {
    root_list *next;
    root_entry roots[4];
} demo_roots = {NULL, {{roots, sizeof roots}, {bufs, sizeof bufs}, {&big, sizeof big}, {NULL, 0}}};

#define NODE_TYPEWORD ((uintptr_t)&node_type | TypeInfo_SingleObject)

static node *new_node(node *l, node *r, int64_t v)
{
    node *n = runtime_mallocgc(sizeof(node), NODE_TYPEWORD, 0);
    n->left = l;
    n->right = r;
    n->value = v;
    return n;
}

static node *build(int depth, int64_t *next)
{
    if (depth == 0)
        return new_node(NULL, NULL, (*next)++);
    node *l = build(depth - 1, next);
    node *r = build(depth - 1, next);
    return new_node(l, r, 0);
}

static int64_t sum(const node *n)
{
    if (!n->left)
        return n->value;
    return sum(n->left) + sum(n->right);
}

static long free_tree(node *n)
{
    if (!n)
        return 0;
    long c = free_tree(n->left) + free_tree(n->right);
    __go_free(n);
    return c + 1;
}

static void die(const char *msg)
{
    fprintf(stderr, "alloc_demo: %s\n", msg);
    exit(1);
}

static double mib(uint64_t b) { return (double)b / (1024.0 * 1024.0); }

static void print_stats(const char *when)
{
    runtime_updatememstats(NULL);
    const MStats *s = &runtime_memStats;
    printf("-- memStats %s --\n", when);
    printf("  heap_alloc   %10.2f MiB   heap_sys     %10.2f MiB\n", mib(s->heap_alloc), mib(s->heap_sys));
    printf("  heap_inuse   %10.2f MiB   heap_idle    %10.2f MiB   heap_released %8.2f MiB\n",
           mib(s->heap_inuse), mib(s->heap_idle), mib(s->heap_released));
    printf("  sys          %10.2f MiB   total_alloc  %10.2f MiB\n", mib(s->sys), mib(s->total_alloc));
    printf("  nmalloc      %10" PRIu64 "       nfree        %10" PRIu64 "       heap_objects %9" PRIu64 "\n",
           s->nmalloc, s->nfree, s->heap_objects);
    printf("  mspan_inuse  %10" PRIu64 " B     mcache_inuse %10" PRIu64 " B     next_gc %14" PRIu64 "\n",
           s->mspan_inuse, s->mcache_inuse, s->next_gc);
    printf("  numgc        %10" PRIu32 "       pause_total  %10.2f ms    enablegc %d\n",
           s->numgc, (double)s->pause_total_ns / 1e6, (int)s->enablegc);
}

int main(void)
{
    const int depth = 16, trees = NTREES;
    const long nodes_per_tree = (2L << depth) - 1;
    struct timespec t0, t1;

    if (__go_register_gc_roots)
        __go_register_gc_roots((root_list *)&demo_roots);

    printf("gogc alloc_demo: %d binary trees of depth %d (%ld typed nodes of %zu bytes each)\n",
           trees, depth, nodes_per_tree, sizeof(node));
    printf("runtime_roundupsize: 24 -> %" PRIuPTR ", 100 -> %" PRIuPTR ", 40000 -> %" PRIuPTR "\n",
           runtime_roundupsize(24), runtime_roundupsize(100), runtime_roundupsize(40000));

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int t = 0; t < trees; t++) {
        int64_t next = 0;
        roots[t] = build(depth, &next);
        int64_t want = (int64_t)(nodes_per_tree / 2 + 1) * (nodes_per_tree / 2) / 2;
        if (sum(roots[t]) != want)
            die("tree checksum mismatch");
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("built and checked %ld nodes in %.1f ms (%.1f ns/node)\n",
           trees * nodes_per_tree, ms, ms * 1e6 / (double)(trees * nodes_per_tree));

    /* what the heap knows about one node */
    uint8_t *base = NULL;
    uintptr_t size = 0;
    if (!runtime_mlookup(&roots[0]->right, &base, &size, NULL))
        die("runtime_mlookup does not know a live node");
    /* size is the 32-byte class; under GODEBUG=efence=1 every block has its own page */
    if (base != (uint8_t *)roots[0] || size < runtime_roundupsize(sizeof(node)))
        die("runtime_mlookup returned the wrong block");
    printf("runtime_mlookup(interior pointer) -> base %p size %" PRIuPTR "; runtime_gettype %s\n",
           (void *)base, size, runtime_gettype(roots[0]) == NODE_TYPEWORD ? "= &node_type" : "(not recorded)");

    /* untyped (conservatively scanned), pointer-free and large blocks */
    for (int i = 0; i < NBUF; i++) {
        uintptr_t n = 16 + (uintptr_t)(i % 64) * 16;
        bufs[i] = (i % 2) ? __go_alloc(n) : runtime_mallocgc(n, 0, FlagNoScan);
        const uint8_t *b = bufs[i];
        for (uintptr_t j = 0; j < n; j++)
            if (b[j])
                die("allocation is not zeroed");
        memset(bufs[i], 0xab, n);
    }
    big = __go_alloc(3u << 20);
    big[0] = big[(3u << 20) - 1] = 1;
    printf("also allocated %d untyped/noscan buffers of 16..1024 bytes and one 3 MiB block\n", NBUF);

    print_stats("with everything live");

    long freed = 0;
    for (int t = 0; t < trees; t++)
        freed += free_tree(roots[t]);
    for (int i = 0; i < NBUF; i++)
        __go_free(bufs[i]);
    __go_free(big);
    printf("freed %ld nodes, %d buffers and the large block with __go_free\n", freed, NBUF);

    print_stats("after freeing");

    /* freed memory is reused: a new tree fits in the spans the old ones left behind */
    uint64_t sys_before = runtime_memStats.heap_sys;
    int64_t next = 0;
    node *again = build(depth, &next);
    long n2 = free_tree(again);
    runtime_updatememstats(NULL);
    printf("rebuilt and freed one more tree (%ld nodes): heap_sys %s (%.2f -> %.2f MiB)\n", n2,
           runtime_memStats.heap_sys == sys_before ? "unchanged" : "changed",
           mib(sys_before), mib(runtime_memStats.heap_sys));
    return 0;
}
