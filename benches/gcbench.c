/*
 * gcbench: the GCBench workload, one source for every backend in backend.h.
 *
 * Shape (Ellis/Kovac/Boehm's GCBench, written here from its description):
 *   - stretch the heap with a bottom-up tree of depth max(18, max_depth+2) and drop it;
 *   - a long-lived tree of depth long_lived_depth (16; built top-down) and a long-lived array
 *     of 500000 doubles (half of them set to 1/i) stay reachable for the whole run;
 *   - for depth 4, 6, ..., max_depth (16): NumIters(d) = 2 * TreeSize(stretch) / TreeSize(d)
 *     trees built top-down (allocate the node, then populate its children) and as many built
 *     bottom-up (children first), each dropped right after it is built.
 * Node is {left, right *Node; i, j int64} (32 bytes). Under a collector nothing is freed; the
 * explicit-free backends free every temporary tree (and the stretch tree) once it is built,
 * which is the work a collector saves them.
 *
 * Usage: gcbench [long_lived_depth [max_depth]]   (defaults 16 16, the classic parameters;
 *        benches/run.sh's larger variant is 20 18: a 64 MiB long-lived tree, stretch depth 20)
 * benches/go/gcbench.go is the same program in Go (the go and gccgo backends of run.sh).
 * Prints the classic progress lines, then the RESULT line (see backend.h).
 * Exit status 1 if the long-lived tree or array did not survive intact.
 */
#include "backend.h"

typedef struct Node {
    struct Node *left, *right;
    int64_t i, j;
} Node;

/* gogc-typed: GC_APTR (pointer, target type unknown) by default; -DGOGC_GCPTR: GC_PTR with the
 * pointee's program, which is what gccgo emits for a *Node field (the collector then need not
 * look the target's type up). */
#ifdef GOGC_GCPTR
BK_TYPE(node_t, Node, GC_PTR, offsetof(Node, left), (uintptr_t)node_t_prog, GC_PTR, offsetof(Node, right),
        (uintptr_t)node_t_prog);
#else
BK_TYPE(node_t, Node, GC_APTR, offsetof(Node, left), GC_APTR, offsetof(Node, right));
#endif

enum { kArraySize = 500000, kMinTreeDepth = 4 };
static int kStretchTreeDepth = 18, kLongLivedTreeDepth = 16, kMaxTreeDepth = 16;

/* Long-lived data in globals: a root for bdwgc (data segment), registered for gogc. */
static Node *long_lived_tree;
static double *long_lived_array;

static Node *new_node(Node *l, Node *r)
{
    Node *n = bk_check(bk_new(&node_t));
    n->left = l;
    n->right = r;
    return n;
}

static long tree_size(int d) { return (1L << (d + 1)) - 1; }
static long num_iters(int d) { return 2 * tree_size(kStretchTreeDepth) / tree_size(d); }

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

static Node *make_tree(int depth)
{
    if (depth <= 0)
        return new_node(NULL, NULL);
    Node *l = make_tree(depth - 1);
    Node *r = make_tree(depth - 1);
    return new_node(l, r);
}

static void free_tree(Node *n)
{
#if !BK_HAS_GC
    while (n) {
        Node *r = n->right;
        free_tree(n->left);
        bk_free(n);
        n = r;
    }
#else
    (void)n;
#endif
}

static long count_nodes(const Node *n) { return n ? 1 + count_nodes(n->left) + count_nodes(n->right) : 0; }

static void label(Node *n, int64_t *next)
{
    for (; n; n = n->right) {
        n->i = (*next)++;
        n->j = ~n->i;
        label(n->left, next);
    }
}

static uint64_t checksum(const Node *n, long *count)
{
    uint64_t h = 0;
    for (; n; n = n->right) {
        (*count)++;
        if (n->j != ~n->i)
            h ^= 0xdeadbeefu;
        h = h * 1000003u ^ (uint64_t)n->i;
        h += checksum(n->left, count);
    }
    return h;
}

static double ms_since(uint64_t t0) { return (double)(bk_now_ns() - t0) / 1e6; }

static int failures;

static void time_construction(int depth)
{
    long iters = num_iters(depth);
    printf("Creating %ld trees of depth %d\n", iters, depth);
    uint64_t t0 = bk_now_ns();
    for (long i = 0; i < iters; i++) {
        Node *temp = new_node(NULL, NULL);
        populate(depth, temp);
        if (i == iters - 1 && count_nodes(temp) != tree_size(depth))
            failures++;
        free_tree(temp);
    }
    printf("\tTop down construction took %.0f msec\n", ms_since(t0));
    t0 = bk_now_ns();
    for (long i = 0; i < iters; i++) {
        Node *temp = make_tree(depth);
        if (i == iters - 1 && count_nodes(temp) != tree_size(depth))
            failures++;
        free_tree(temp);
    }
    printf("\tBottom up construction took %.0f msec\n", ms_since(t0));
}

int main(int argc, char **argv)
{
    if (argc > 1)
        kLongLivedTreeDepth = atoi(argv[1]);
    if (argc > 2)
        kMaxTreeDepth = atoi(argv[2]);
    if (kMaxTreeDepth + 2 > kStretchTreeDepth)
        kStretchTreeDepth = kMaxTreeDepth + 2;
    bk_init();
    bk_add_roots(&long_lived_tree, &long_lived_tree + 1);
    bk_add_roots(&long_lived_array, &long_lived_array + 1);

    printf("Garbage Collector Test [%s]\n", BK_NAME);
    printf(" Stretching memory with a binary tree of depth %d\n", kStretchTreeDepth);
    {
        Node *temp = make_tree(kStretchTreeDepth);
        if (count_nodes(temp) != tree_size(kStretchTreeDepth))
            failures++;
        free_tree(temp);
    }

    printf(" Creating a long-lived binary tree of depth %d\n", kLongLivedTreeDepth);
    long_lived_tree = new_node(NULL, NULL);
    populate(kLongLivedTreeDepth, long_lived_tree);
    int64_t next = 0;
    label(long_lived_tree, &next);
    long n0 = 0;
    uint64_t h0 = checksum(long_lived_tree, &n0);

    printf(" Creating a long-lived array of %d doubles\n", kArraySize);
    long_lived_array = bk_check(bk_new_atomic(sizeof(double) * kArraySize));
    for (int i = 0; i < kArraySize / 2; i++)
        long_lived_array[i] = 1.0 / i;

    for (int d = kMinTreeDepth; d <= kMaxTreeDepth; d += 2)
        time_construction(d);

    long n1 = 0;
    uint64_t h1 = checksum(long_lived_tree, &n1);
    int ok = failures == 0 && n0 == tree_size(kLongLivedTreeDepth) && n1 == n0 && h1 == h0 &&
             long_lived_array[1000] == 1.0 / 1000;
    printf("long-lived tree %s (%ld nodes), array %s\n", h1 == h0 && n1 == n0 ? "intact" : "BROKEN",
           n1, long_lived_array[1000] == 1.0 / 1000 ? "intact" : "BROKEN");
    if (!ok)
        fprintf(stderr, "gcbench [%s]: FAILED (%d temporary-tree failures)\n", BK_NAME, failures);
    bk_result_line(ok ? "check=ok" : "check=FAILED");
    return ok ? 0 : 1;
}
