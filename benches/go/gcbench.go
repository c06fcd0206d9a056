// gcbench: the GCBench workload in Go, the peer of benches/gcbench.c (same shape, same
// parameters, same checks, same RESULT line). Built by benches/run.sh twice: with the Go
// toolchain (`go build`, backend "go") and with gccgo-12 -O2 (backend "gccgo").
//
//   - stretch the heap with a bottom-up tree of depth max_depth+2 and drop it;
//   - a long-lived tree of depth long_lived_depth (built top-down, then labelled and
//     checksummed) and a long-lived array of 500000 float64 (half set to 1/i) stay reachable;
//   - for depth 4, 6, ..., max_depth: NumIters(d) = 2 * TreeSize(stretch) / TreeSize(d) trees
//     built top-down and as many built bottom-up, each dropped right after it is built.
//
// Node is {left, right *Node; i, j int64} (32 bytes), as in the C program.
//
// Usage: gcbench [long_lived_depth [max_depth]]   (defaults 16 16, the classic parameters)
// Last line: RESULT backend=go|gccgo workers=N gcs=N maxpause_us=N totalpause_ms=N heap_mb=N
// rss_mb=N ms=N [maxpause_window=256] check=ok|FAILED (NumGC and the largest PauseNs entry of
// runtime.MemStats; HeapSys; getrusage ru_maxrss). Exit status 1 if a check fails.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

type Node struct {
	left, right *Node
	i, j        int64
}

const (
	arraySize    = 500000
	minTreeDepth = 4
)

var (
	stretchDepth   = 18
	longLivedDepth = 16
	maxTreeDepth   = 16

	// Long-lived data in package variables, as the C program keeps it in globals.
	longLivedTree  *Node
	longLivedArray []float64

	failures int
)

func treeSize(d int) int64 { return (int64(1) << uint(d+1)) - 1 }

func numIters(d int) int64 { return 2 * treeSize(stretchDepth) / treeSize(d) }

// populate gives node two children and recurses: top-down construction.
func populate(depth int, node *Node) {
	if depth <= 0 {
		return
	}
	depth--
	node.left = &Node{}
	node.right = &Node{}
	populate(depth, node.left)
	populate(depth, node.right)
}

// makeTree builds the children first, then their parent: bottom-up construction.
func makeTree(depth int) *Node {
	if depth <= 0 {
		return &Node{}
	}
	l := makeTree(depth - 1)
	r := makeTree(depth - 1)
	return &Node{left: l, right: r}
}

func countNodes(n *Node) int64 {
	if n == nil {
		return 0
	}
	return 1 + countNodes(n.left) + countNodes(n.right)
}

func label(n *Node, next *int64) {
	for ; n != nil; n = n.right {
		n.i = *next
		*next++
		n.j = ^n.i
		label(n.left, next)
	}
}

func checksum(n *Node, count *int64) uint64 {
	var h uint64
	for ; n != nil; n = n.right {
		*count++
		if n.j != ^n.i {
			h ^= 0xdeadbeef
		}
		h = h*1000003 ^ uint64(n.i)
		h += checksum(n.left, count)
	}
	return h
}

func msSince(t0 time.Time) float64 { return float64(time.Since(t0).Nanoseconds()) / 1e6 }

func timeConstruction(depth int) {
	iters := numIters(depth)
	fmt.Printf("Creating %d trees of depth %d\n", iters, depth)
	t0 := time.Now()
	for i := int64(0); i < iters; i++ {
		temp := &Node{}
		populate(depth, temp)
		if i == iters-1 && countNodes(temp) != treeSize(depth) {
			failures++
		}
	}
	fmt.Printf("\tTop down construction took %.0f msec\n", msSince(t0))
	t0 = time.Now()
	for i := int64(0); i < iters; i++ {
		temp := makeTree(depth)
		if i == iters-1 && countNodes(temp) != treeSize(depth) {
			failures++
		}
	}
	fmt.Printf("\tBottom up construction took %.0f msec\n", msSince(t0))
}

func main() {
	start := time.Now()
	if len(os.Args) > 1 {
		longLivedDepth, _ = strconv.Atoi(os.Args[1])
	}
	if len(os.Args) > 2 {
		maxTreeDepth, _ = strconv.Atoi(os.Args[2])
	}
	if maxTreeDepth+2 > stretchDepth {
		stretchDepth = maxTreeDepth + 2
	}

	fmt.Printf("Garbage Collector Test [%s]\n", backendName())
	fmt.Printf(" Stretching memory with a binary tree of depth %d\n", stretchDepth)
	{
		temp := makeTree(stretchDepth)
		if countNodes(temp) != treeSize(stretchDepth) {
			failures++
		}
	}

	fmt.Printf(" Creating a long-lived binary tree of depth %d\n", longLivedDepth)
	longLivedTree = &Node{}
	populate(longLivedDepth, longLivedTree)
	var next int64
	label(longLivedTree, &next)
	var n0 int64
	h0 := checksum(longLivedTree, &n0)

	fmt.Printf(" Creating a long-lived array of %d doubles\n", arraySize)
	longLivedArray = make([]float64, arraySize)
	for i := 0; i < arraySize/2; i++ {
		longLivedArray[i] = 1.0 / float64(i)
	}

	for d := minTreeDepth; d <= maxTreeDepth; d += 2 {
		timeConstruction(d)
	}

	var n1 int64
	h1 := checksum(longLivedTree, &n1)
	arrayOK := longLivedArray[1000] == 1.0/1000
	ok := failures == 0 && n0 == treeSize(longLivedDepth) && n1 == n0 && h1 == h0 && arrayOK
	treeState, arrayState := "BROKEN", "BROKEN"
	if h1 == h0 && n1 == n0 {
		treeState = "intact"
	}
	if arrayOK {
		arrayState = "intact"
	}
	fmt.Printf("long-lived tree %s (%d nodes), array %s\n", treeState, n1, arrayState)
	if !ok {
		fmt.Fprintf(os.Stderr, "gcbench [%s]: FAILED (%d temporary-tree failures)\n", backendName(), failures)
		resultLine(start, "check=FAILED")
		os.Exit(1)
	}
	resultLine(start, "check=ok")
}
