// result.go: the RESULT line shared by the Go peers (gcbench.go, binarytrees.go), built into
// each of them (benches/run.sh passes both files to go build and gccgo-12).
package main

import (
	"fmt"
	"runtime"
	"strings"
	"syscall"
	"time"
)

func backendName() string {
	if runtime.Compiler == "gccgo" {
		return "gccgo"
	}
	return "go"
}

func resultLine(start time.Time, extra string) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	window := ms.NumGC
	if window > uint32(len(ms.PauseNs)) {
		window = uint32(len(ms.PauseNs))
	}
	var maxPause uint64
	for k := uint32(0); k < window; k++ {
		if p := ms.PauseNs[k]; p > maxPause {
			maxPause = p
		}
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	line := fmt.Sprintf("RESULT backend=%s workers=%d gcs=%d maxpause_us=%d totalpause_ms=%.1f heap_mb=%.1f rss_mb=%.1f ms=%d",
		backendName(), runtime.GOMAXPROCS(0), ms.NumGC, maxPause/1000,
		float64(ms.PauseTotalNs)/1e6, float64(ms.HeapSys)/1048576.0, float64(ru.Maxrss)/1024.0,
		time.Since(start).Milliseconds())
	if ms.NumGC > uint32(len(ms.PauseNs)) {
		line += fmt.Sprintf(" maxpause_window=%d", len(ms.PauseNs))
	}
	fmt.Println(strings.TrimSpace(line + " " + extra))
}
