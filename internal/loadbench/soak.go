package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"time"
)

// soakChunks is how many times the soak stops to look at the heap.
const soakChunks = 10

// soak sends o.soak.n requests to update/mem, in soakChunks runs, and
// reports the heap in use and the goroutines (after a collection) at the
// start, after each run and at the end: a flatness check. The connections
// are closed after each run, so the goroutine count should come back to
// where it started; the heap should stop growing once the bounded call log
// has filled.
func soak(ctx context.Context, o *options, dir string, stdout, stderr io.Writer) int {
	v := findVariant("update/mem")
	t, err := v.setup(ctx, dir)
	if err != nil {
		fmt.Fprintln(stderr, "loadbench: soak: update/mem CANNOT RUN:", err)
		return 1
	}
	srv, err := serve(t, o.conns)
	if err != nil {
		fmt.Fprintln(stderr, "loadbench: soak:", err)
		return 1
	}
	defer srv.stop()
	fmt.Fprintf(stdout, "soak: %d requests to update/mem over %d conns, %s, GOMAXPROCS %d\n", o.soak.n, o.conns, runtime.Version(), runtime.GOMAXPROCS(0))
	start := sample(0)
	fmt.Fprintf(stdout, "start: heap in use %s, goroutines %d\n", mib(start.heap), start.goroutines)
	var total Result
	var first snapshot
	sent := int64(0)
	for i := range soakChunks {
		n := o.soak.n / soakChunks
		if i == soakChunks-1 {
			n = o.soak.n - sent
		}
		if n == 0 {
			continue
		}
		l := srv.load
		l.Requests = n
		res, err := Generate(l)
		if err != nil {
			fmt.Fprintln(stderr, "loadbench: soak:", err)
			return 1
		}
		sent += n
		total.Add(res)
		s := sample(start.goroutines)
		if i == 0 {
			first = s
		}
		fmt.Fprintf(stdout, "%3d%%: %d requests, %.0f req/s, heap in use %s, goroutines %d, errors %d\n",
			100*(i+1)/soakChunks, sent, float64(res.Requests)/res.Elapsed.Seconds(), mib(s.heap), s.goroutines, res.Errors())
	}
	end := sample(start.goroutines)
	growth := int64(end.heap) - int64(first.heap)
	heapOK := growth <= int64(first.heap)/10+1<<20
	fmt.Fprintf(stdout, "end: heap in use %s (%+.2f MiB since the start, %+.2f MiB since the first %d%%: %s), goroutines %d (%+d: %s)\n",
		mib(end.heap), float64(int64(end.heap)-int64(start.heap))/(1<<20), float64(growth)/(1<<20), 100/soakChunks, verdict(heapOK),
		end.goroutines, end.goroutines-start.goroutines, verdict(end.goroutines <= start.goroutines))
	fmt.Fprintf(stdout, "requests %d, errors %d (%d non-2xx, %d duplicates, %d failed), %.0f req/s, p50 %s, p99 %s, max %s\n",
		total.Requests, total.Errors(), total.Non2xx, total.Duplicates, total.Failed, float64(total.Requests)/total.Elapsed.Seconds(),
		ms(total.Latency.Quantile(0.5)), ms(total.Latency.Quantile(0.99)), ms(total.Latency.Max()))
	if total.Errors() > 0 {
		fmt.Fprintln(stdout, "first error:", total.FirstError)
	}
	if srv.check != nil {
		if err := srv.check(total.Requests); err != nil {
			fmt.Fprintln(stdout, "INVALID: after the run:", err)
			return 1
		}
	}
	if total.Errors() > 0 {
		return 1
	}
	return 0
}

// snapshot is the process's state between soak runs.
type snapshot struct {
	heap       uint64
	goroutines int
}

// sample collects garbage and reads the heap in use and the goroutine
// count, first waiting up to a second for the server's connection
// goroutines to end, until there are no more than want (0: do not wait).
func sample(want int) snapshot {
	deadline := time.Now().Add(time.Second)
	for want > 0 && runtime.NumGoroutine() > want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return snapshot{heap: m.HeapInuse, goroutines: runtime.NumGoroutine()}
}

// mib formats a byte count in MiB.
func mib(n uint64) string { return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20)) }

// verdict names the outcome of a flatness check.
func verdict(ok bool) string {
	if ok {
		return "flat"
	}
	return "GROWING"
}
