/*
 * binarytrees: the benchmarks-game binary-trees workload (single-threaded), one source for
 * every backend in backend.h; written here from the benchmark's description.
 *
 *   max_depth = max(6, N); a stretch tree of depth max_depth+1 is built, checked and dropped;
 *   a long-lived tree of depth max_depth stays reachable; then for depth d = 4, 6, ...,
 *   max_depth: 2^(max_depth - d + 4) trees of depth d are built bottom-up, checked (node
 *   count) and dropped; finally the long-lived tree is checked.
 * Node is {left, right *Node} (16 bytes). The explicit-free backends free each tree after
 * checking it.
 *
 * Usage: binarytrees [N]   (default 21)
 * Output: the classic lines, then the RESULT line (see backend.h). Exit status 1 if a check
 * does not add up.
 */
#include "backend.h"

typedef struct Node {
    struct Node *left, *right;
} Node;

/* -DGOGC_GCPTR: GC_PTR with the pointee's program instead of GC_APTR (see gcbench.c). */
#ifdef GOGC_GCPTR
BK_TYPE(node_t, Node, GC_PTR, offsetof(Node, left), (uintptr_t)node_t_prog, GC_PTR, offsetof(Node, right),
        (uintptr_t)node_t_prog);
#else
BK_TYPE(node_t, Node, GC_APTR, offsetof(Node, left), GC_APTR, offsetof(Node, right));
#endif

static Node *bottom_up(int depth)
{
    Node *n = bk_check(bk_new(&node_t));
    if (depth > 0) {
        n->left = bottom_up(depth - 1);
        n->right = bottom_up(depth - 1);
    }
    return n;
}

static long check(const Node *n)
{
    return n->left ? 1 + check(n->left) + check(n->right) : 1;
}

static void free_tree(Node *n)
{
#if !BK_HAS_GC
    if (n->left) {
        free_tree(n->left);
        free_tree(n->right);
    }
    bk_free(n);
#else
    (void)n;
#endif
}

static Node *long_lived;

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 21;
    int min_depth = 4, max_depth = n < min_depth + 2 ? min_depth + 2 : n;
    int ok = 1;
    bk_init();
    bk_add_roots(&long_lived, &long_lived + 1);

    {
        Node *s = bottom_up(max_depth + 1);
        long c = check(s);
        printf("stretch tree of depth %d\t check: %ld\n", max_depth + 1, c);
        ok &= c == (2L << (max_depth + 1)) - 1;
        free_tree(s);
    }

    long_lived = bottom_up(max_depth);

    for (int d = min_depth; d <= max_depth; d += 2) {
        long iters = 1L << (max_depth - d + min_depth), sum = 0;
        for (long i = 0; i < iters; i++) {
            Node *t = bottom_up(d);
            sum += check(t);
            free_tree(t);
        }
        printf("%ld\t trees of depth %d\t check: %ld\n", iters, d, sum);
        ok &= sum == iters * ((2L << d) - 1);
    }

    long c = check(long_lived);
    printf("long lived tree of depth %d\t check: %ld\n", max_depth, c);
    ok &= c == (2L << max_depth) - 1;
    if (!ok)
        fprintf(stderr, "binarytrees [%s]: FAILED: a check did not add up\n", BK_NAME);
    bk_result_line(ok ? "check=ok" : "check=FAILED");
    return ok ? 0 : 1;
}
