/*
 * gcbench: a GCBench-style collector workload against libgogc.
 *
 * The classic GCBench shape (John Ellis and Pete Kovac's Java benchmark, later carried to C by
 * Hans Boehm): a long-lived binary tree and a long-lived array of doubles stay reachable for the
 * whole run while many short-lived trees are built and dropped, so the collector has to keep
 * the first two intact while reclaiming the rest.
 *
 *   1. stretch the heap with one tree of depth 18, then drop it;
 *   2. build the long-lived tree (depth 16, top-down) and the long-lived array of 500000 doubles;
 *   3. for depth 4, 6, ..., 16: build NumIters(depth) = 2 * TreeSize(18) / TreeSize(depth)
 *      temporary trees top-down (allocate a node, then populate its children) and as many
 *      bottom-up (children first), dropping each as soon as it is built;
 *   4. verify the long-lived tree (node count and a checksum of the ids written into it at
 *      construction) and the array, and print MemStats.
 *
 * Nodes are typed: a GoType whose GC program lists the two pointer words, so the collector
 * scans them precisely; the array is pointer-free (FlagNoScan). Nothing is freed explicitly.
 * The two long-lived objects are referenced from C globals, registered as GC roots with
 * __go_register_gc_roots (gogc does not scan data/bss by itself).
 *
 * `make demo` runs it with GODEBUG=gctrace=1: one line per collection on stderr.
 * Exit status: 0 if the long-lived data survived intact, 1 otherwise.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gogc.h"

/* Go: type Node struct { left, right *Node; i, j int } */
typedef struct Node {
    struct Node *left, *right;
    int64_t i, j;
} Node;

/* GC program: element size, GC_APTR <offset> per pointer word, GC_END, the trailing zero. */
static const uintptr_t node_gc[] = {
    sizeof(Node), GC_APTR, offsetof(Node, left), GC_APTR, offsetof(Node, right), GC_END, 0,
};
static const GoString node_name = {(const uint8_t *)"main.Node", 9};
static const GoType node_type = {
    .__code = GO_STRUCT,
    .__align = _Alignof(Node),
    .__field_align = _Alignof(Node),
    .__size = sizeof(Node),
    .__gc = node_gc,
    .__reflection = &node_name,
};
#define NODE_TYPEWORD ((uintptr_t)&node_type | TypeInfo_SingleObject)

enum {
    kStretchTreeDepth = 18,
    kLongLivedTreeDepth = 16,
    kArraySize = 500000,
    kMinTreeDepth = 4,
    kMaxTreeDepth = 16,
};

/* The long-lived data, in C globals registered as roots. */
static Node *long_lived_tree;
static double *long_lived_array;
static struct {
    root_list *next;
    root_entry roots[3];
} gcbench_roots = {NULL,
                   {{&long_lived_tree, sizeof long_lived_tree},
                    {&long_lived_array, sizeof long_lived_array},
                    {NULL, 0}}};

static Node *new_node(Node *l, Node *r)
{
    Node *n = runtime_mallocgc(sizeof(Node), NODE_TYPEWORD, 0);
    n->left = l;
    n->right = r;
    return n;
}

static long tree_size(int depth) { return (1L << (depth + 1)) - 1; }
static long num_iters(int depth) { return 2 * tree_size(kStretchTreeDepth) / tree_size(depth); }

/* Top-down: give `node` two fresh children, then recurse into them. */
static void populate(int depth, Node *node)
{
    if (depth <= 0)
        return;
    depth--;
    node->left = new_node(NULL, NULL);
    node->right = new_node(NULL, NULL);
    populate(depth, node->left);
    populate(depth, node->right);
}

/* Bottom-up: children first. */
static Node *make_tree(int depth)
{
    if (depth <= 0)
        return new_node(NULL, NULL);
    Node *l = make_tree(depth - 1);
    Node *r = make_tree(depth - 1);
    return new_node(l, r);
}

static long count_nodes(const Node *n)
{
    return n ? 1 + count_nodes(n->left) + count_nodes(n->right) : 0;
}

/* Preorder ids into i, depth into j. */
static void label(Node *n, int64_t *next, int64_t depth)
{
    for (; n; n = n->right) {
        n->i = (*next)++;
        n->j = depth;
        label(n->left, next, depth + 1);
        depth++;
    }
}

/* Order-sensitive checksum over (i, j) in preorder; counts nodes into *count. */
static uint64_t checksum(const Node *n, long *count)
{
    uint64_t h = 0;
    for (; n; n = n->right) {
        (*count)++;
        h = h * 1000003u ^ ((uint64_t)n->i * 0x9e3779b97f4a7c15u + (uint64_t)n->j);
        h += checksum(n->left, count);
    }
    return h;
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static int failures;
static void fail(const char *what)
{
    fprintf(stderr, "gcbench: FAILED: %s\n", what);
    failures++;
}

static void time_construction(int depth)
{
    long iters = num_iters(depth);
    struct timespec t0;
    printf("Creating %ld trees of depth %d\n", iters, depth);
    fflush(stdout);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < iters; i++) {
        Node *temp = new_node(NULL, NULL);
        populate(depth, temp);
        if (i == iters - 1 && count_nodes(temp) != tree_size(depth))
            fail("a temporary top-down tree lost nodes");
    }
    printf("\tTop down construction took %.0f msec\n", ms_since(&t0));

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < iters; i++) {
        Node *temp = make_tree(depth);
        if (i == iters - 1 && count_nodes(temp) != tree_size(depth))
            fail("a temporary bottom-up tree lost nodes");
    }
    printf("\tBottom up construction took %.0f msec\n", ms_since(&t0));
    fflush(stdout);
}

static double mib(uint64_t b) { return (double)b / 1048576.0; }

int main(void)
{
    struct timespec t_start;
    __go_register_gc_roots((root_list *)&gcbench_roots);
    runtime_mallocinit();
    clock_gettime(CLOCK_MONOTONIC, &t_start);

    printf("Garbage Collector Test (gogc, typed nodes of %zu bytes)\n", sizeof(Node));
    printf(" Live storage will peak at %ld bytes.\n\n",
           (long)(2 * sizeof(Node) * tree_size(kLongLivedTreeDepth) + sizeof(double) * kArraySize));
    printf(" Stretching memory with a binary tree of depth %d\n", kStretchTreeDepth);
    fflush(stdout);
    {
        Node *temp = make_tree(kStretchTreeDepth);
        if (count_nodes(temp) != tree_size(kStretchTreeDepth))
            fail("the stretch tree lost nodes");
    }

    printf(" Creating a long-lived binary tree of depth %d\n", kLongLivedTreeDepth);
    long_lived_tree = new_node(NULL, NULL);
    populate(kLongLivedTreeDepth, long_lived_tree);
    int64_t next_id = 0;
    label(long_lived_tree, &next_id, 0);
    long n_before = 0;
    uint64_t sum_before = checksum(long_lived_tree, &n_before);

    printf(" Creating a long-lived array of %d doubles\n", kArraySize);
    long_lived_array = runtime_mallocgc(sizeof(double) * kArraySize, 0, FlagNoScan);
    for (int i = 0; i < kArraySize / 2; i++)
        long_lived_array[i] = 1.0 / i;
    fflush(stdout);

    for (int d = kMinTreeDepth; d <= kMaxTreeDepth; d += 2)
        time_construction(d);

    /* The long-lived data must have survived every collection. */
    long n_after = 0;
    uint64_t sum_after = checksum(long_lived_tree, &n_after);
    if (n_before != tree_size(kLongLivedTreeDepth) || n_after != n_before)
        fail("the long-lived tree has the wrong number of nodes");
    if (sum_after != sum_before)
        fail("the long-lived tree's checksum changed");
    if (long_lived_array[1000] != 1.0 / 1000)
        fail("long_lived_array[1000] changed");
    for (int i = 1; i < kArraySize; i++)
        if (long_lived_array[i] != (i < kArraySize / 2 ? 1.0 / i : 0.0)) {
            fail("the long-lived array changed");
            break;
        }
    double total_ms = ms_since(&t_start);
    printf("\nlong-lived tree: %ld nodes, checksum %016" PRIx64 " (%s); array of %d doubles (%s)\n",
           n_after, sum_after, sum_after == sum_before ? "intact" : "CHANGED", kArraySize,
           long_lived_array[1000] == 1.0 / 1000 ? "intact" : "CHANGED");
    printf("Completed in %.0f msec\n", total_ms);

    static MStats m; /* 5.9 KB: keep it off the stack */
    runtime_ReadMemStats(&m);
    uint64_t window = m.numgc < 256 ? m.numgc : 256, max_pause = 0;
    for (uint64_t i = 0; i < window; i++)
        if (m.pause_ns[i] > max_pause)
            max_pause = m.pause_ns[i];
    printf("\n-- runtime_ReadMemStats --\n");
    printf("  numgc        %10" PRIu32 "\n", m.numgc);
    printf("  pause total  %10.2f ms   max %.2f ms (over the last %" PRIu64 " collections)   mean %.3f ms\n",
           (double)m.pause_total_ns / 1e6, (double)max_pause / 1e6, window,
           m.numgc ? (double)m.pause_total_ns / 1e6 / m.numgc : 0.0);
    printf("  heap_alloc   %10.2f MiB   heap_sys %.2f MiB   sys %.2f MiB   total_alloc %.2f MiB\n",
           mib(m.heap_alloc), mib(m.heap_sys), mib(m.sys), mib(m.total_alloc));
    printf("  mallocs      %10" PRIu64 "   frees %" PRIu64 "   HeapObjects %" PRIu64 "\n",
           m.nmalloc, m.nfree, m.heap_objects);

    if (m.numgc == 0)
        fail("no collection ran (is GOGC=off set?)");
    if (failures) {
        printf("gcbench: FAILED (%d check%s)\n", failures, failures == 1 ? "" : "s");
        return 1;
    }
    printf("gcbench: OK\n");
    return 0;
}
