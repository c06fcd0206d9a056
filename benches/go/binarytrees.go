// binarytrees: the benchmarks-game binary-trees workload in Go, single-threaded, the peer of
// benches/binarytrees.c (same parameters, same checks, same RESULT line). Built by
// benches/run.sh with the Go toolchain (backend "go") and with gccgo-12 -O2 (backend "gccgo").
//
//   max_depth = max(6, N); a stretch tree of depth max_depth+1 is built, checked and dropped;
//   a long-lived tree of depth max_depth stays reachable; then for d = 4, 6, ..., max_depth:
//   2^(max_depth - d + 4) trees of depth d are built bottom-up, checked (node count) and
//   dropped; finally the long-lived tree is checked.
//
// Node is {left, right *Node} (16 bytes).
//
// Usage: binarytrees [N]   (default 21)
// Last line: the RESULT line described in gcbench.go. Exit status 1 if a check fails.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

type Node struct {
	left, right *Node
}

func bottomUp(depth int) *Node {
	if depth <= 0 {
		return &Node{}
	}
	return &Node{left: bottomUp(depth - 1), right: bottomUp(depth - 1)}
}

func (n *Node) check() int64 {
	if n.left == nil {
		return 1
	}
	return 1 + n.left.check() + n.right.check()
}

// The long-lived tree lives in a package variable, as in the C program's global.
var longLived *Node

func main() {
	start := time.Now()
	n := 21
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	minDepth := 4
	maxDepth := n
	if maxDepth < minDepth+2 {
		maxDepth = minDepth + 2
	}
	ok := true

	{
		s := bottomUp(maxDepth + 1)
		c := s.check()
		fmt.Printf("stretch tree of depth %d\t check: %d\n", maxDepth+1, c)
		ok = ok && c == (int64(2)<<uint(maxDepth+1))-1
	}

	longLived = bottomUp(maxDepth)

	for d := minDepth; d <= maxDepth; d += 2 {
		iters := int64(1) << uint(maxDepth-d+minDepth)
		var sum int64
		for i := int64(0); i < iters; i++ {
			sum += bottomUp(d).check()
		}
		fmt.Printf("%d\t trees of depth %d\t check: %d\n", iters, d, sum)
		ok = ok && sum == iters*((int64(2)<<uint(d))-1)
	}

	c := longLived.check()
	fmt.Printf("long lived tree of depth %d\t check: %d\n", maxDepth, c)
	ok = ok && c == (int64(2)<<uint(maxDepth))-1
	if !ok {
		fmt.Fprintf(os.Stderr, "binarytrees [%s]: FAILED: a check did not add up\n", backendName())
		resultLine(start, "check=FAILED")
		os.Exit(1)
	}
	resultLine(start, "check=ok")
}
