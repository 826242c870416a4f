// Command loadbench measures how close the webhook library comes to the
// speed of a bare net/http handler, over real loopback HTTP/1.1.
//
//	go run ./internal/loadbench                       # every variant, about a minute
//	go run ./internal/loadbench -duration 1s -rounds 2
//	go run ./internal/loadbench -variants update/mem -cpuprofile cpu.out
//	go tool pprof -top cpu.out
//	go run ./internal/loadbench -soak                 # 1,000,000 requests to update/mem
//
// Each variant (see variants.go) serves on its own port of 127.0.0.1, in
// this process, and is driven by a built-in load generator (gen.go):
// -conns keep-alive connections, each writing a prebuilt request and
// reading the response with minimal parsing, which costs much less than
// net/http's client, so that the client does not dominate a small machine.
// Variants are interleaved: each round runs every variant for -duration,
// so that drift of the machine (thermal, noisy neighbours) hits all alike.
// The heap is collected before each run, so that no run pays for the
// garbage of the one before; a variant whose heap grows (code/mem's store,
// verified's remembered deliveries) still makes the others' collections
// longer, as it would in one process.
//
// For each variant it prints requests per second (and how much the rounds
// differ: half their range over their mean), p50/p99/max latency, the
// server side's heap bytes and allocations per request, the collections
// during its rounds, and errors (non-2xx responses, responses marked as
// duplicate deliveries and failed exchanges: a valid run has none). The
// allocation figures are deltas of runtime.MemStats over the variant's
// rounds divided by its requests, minus what the generator itself
// allocates per request, measured first against a raw TCP responder that
// allocates nothing. The load is a closed loop: each connection sends its
// next request when the last one is answered, so latency is mostly queueing
// (about conns ÷ throughput) and a slower variant's p99 is not always
// worse. Then it prints each variant's throughput and p99 relative to its
// baseline next to its target, and a last line that sums those up.
//
// Targets are reported as ok or MISS and never fail the run. The exit
// status is 1 when a measurement is not valid: a variant had errors, failed
// its after-run check, or could not run (as code/mem cannot while the
// library runs the placeholder of its script package); 2 on a bad flag.
//
// A webhook admits DefaultMaxInFlight (64) calls at once and answers 429
// beyond, so -conns above 64 makes the library's variants fail.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// main runs the command with the process's arguments.
func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command-line flags.
type options struct {
	conns                  int
	duration, warmup       time.Duration
	rounds                 int
	variants               []string
	cpuprofile, memprofile string
	verbose                bool
	soak                   soakFlag
}

// soakFlag is -soak: "-soak" alone means defaultSoak requests, "-soak=N"
// or "-soak N" means N.
type soakFlag struct{ n int64 }

// defaultSoak is the number of requests of a plain -soak.
const defaultSoak = 1_000_000

// String implements flag.Value.
func (f *soakFlag) String() string { return strconv.FormatInt(f.n, 10) }

// IsBoolFlag lets "-soak" stand alone.
func (f *soakFlag) IsBoolFlag() bool { return true }

// Set implements flag.Value: "true" (a lone -soak) means defaultSoak.
func (f *soakFlag) Set(s string) error {
	switch s {
	case "true":
		f.n = defaultSoak
		return nil
	case "false":
		f.n = 0
		return nil
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
	if err != nil || n < 0 {
		return errors.New("want a number of requests")
	}
	f.n = n
	return nil
}

// parseFlags reads the command line.
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("loadbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var names string
	fs.IntVar(&o.conns, "conns", 32, "keep-alive connections, each with one request in flight")
	fs.DurationVar(&o.duration, "duration", 2*time.Second, "how long each variant runs in each round")
	fs.IntVar(&o.rounds, "rounds", 5, "rounds; each runs every variant once, in turn")
	fs.DurationVar(&o.warmup, "warmup", 500*time.Millisecond, "unmeasured run of each variant before the first round")
	fs.StringVar(&names, "variants", "all", "comma-separated variants to run: "+strings.Join(variantNames(), ", "))
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run (client and servers) to this file")
	fs.StringVar(&o.memprofile, "memprofile", "", "write an allocation profile of the whole run to this file")
	fs.BoolVar(&o.verbose, "v", false, "print every round of every variant as it ends")
	fs.Var(&o.soak, "soak", "instead of the rounds, send N requests (default 1,000,000) to update/mem and report heap and goroutines")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if rest := fs.Args(); len(rest) > 0 {
		// "-soak 500000": a bool-like flag leaves its value behind.
		n, err := strconv.ParseInt(strings.ReplaceAll(rest[0], "_", ""), 10, 64)
		if len(rest) > 1 || o.soak.n != defaultSoak || err != nil || n <= 0 {
			return nil, fmt.Errorf("unexpected arguments %q", rest)
		}
		o.soak.n = n
	}
	if o.conns <= 0 || o.rounds <= 0 || o.duration <= 0 || o.warmup < 0 {
		return nil, errors.New("-conns, -rounds and -duration must be positive, -warmup not negative")
	}
	if names == "all" {
		for _, n := range variantNames() {
			if !postgresAvailable() && (n == "update/pg" || n == "hand/pg") {
				continue
			}
			o.variants = append(o.variants, n)
		}
	} else {
		for n := range strings.SplitSeq(names, ",") {
			n = strings.TrimSpace(n)
			if findVariant(n) == nil {
				return nil, fmt.Errorf("unknown variant %q: want %s", n, strings.Join(variantNames(), ", "))
			}
			if !slices.Contains(o.variants, n) {
				o.variants = append(o.variants, n)
			}
		}
	}
	return o, nil
}

// variantNames lists every variant, in running order.
func variantNames() []string {
	var out []string
	for _, v := range variants {
		out = append(out, v.name)
	}
	return out
}

// findVariant returns the variant called name, or nil.
func findVariant(name string) *variant {
	for _, v := range variants {
		if v.name == name {
			return v
		}
	}
	return nil
}

// run is the command; it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "loadbench:", err)
		}
		return 2
	}
	dir, err := os.MkdirTemp("", "loadbench-")
	if err != nil {
		fmt.Fprintln(stderr, "loadbench:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			fmt.Fprintln(stderr, "loadbench:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "loadbench:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	if o.memprofile != "" {
		defer func() {
			if err := writeHeapProfile(o.memprofile); err != nil {
				fmt.Fprintln(stderr, "loadbench:", err)
			}
		}()
	}
	ctx := context.Background()
	if o.soak.n > 0 {
		return soak(ctx, o, dir, stdout, stderr)
	}
	return bench(ctx, o, dir, stdout, stderr)
}

// writeHeapProfile writes the allocation profile of the whole run to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// server is a variant serving on its own loopback port.
type server struct {
	*target
	srv  *http.Server
	addr string
	load Load
}

// serve starts t on a free port of 127.0.0.1.
func serve(t *target, conns int) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &server{
		target: t,
		srv:    &http.Server{Handler: t.handler, ReadHeaderTimeout: 10 * time.Second},
		addr:   ln.Addr().String(),
	}
	s.load = Load{Addr: s.addr, Conns: conns, Request: buildRequest(s.addr, t.path, t.header, t.body)}
	if t.signer != nil {
		s.load.NewRequester = t.signer.requester(buildHead(s.addr, t.path, t.header, len(t.body)), t.body)
	}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// stop shuts the server down and releases the variant's resources.
func (s *server) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	if s.close != nil {
		s.close()
	}
}

// measure runs l once and returns what it saw with the heap allocated
// during the run proper (not while dialling). It collects garbage first,
// so that a run does not pay for the garbage of the one before.
func measure(l Load) (*Result, memDelta, error) {
	g, err := Dial(l)
	if err != nil {
		return nil, memDelta{}, err
	}
	defer g.Close()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0 := processCPU()
	res := g.Run()
	cpu := processCPU() - cpu0
	runtime.ReadMemStats(&after)
	return res, memDelta{
		bytes:   after.TotalAlloc - before.TotalAlloc,
		mallocs: after.Mallocs - before.Mallocs,
		gcs:     after.NumGC - before.NumGC,
		cpu:     cpu,
	}, nil
}

// processCPU is the CPU time the process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// memDelta is what the heap saw during a run.
type memDelta struct {
	bytes, mallocs uint64
	gcs            uint32
	// cpu is the CPU time the whole process (client and server) used.
	cpu time.Duration
}

// add accumulates o into m.
func (m *memDelta) add(o memDelta) {
	m.bytes += o.bytes
	m.mallocs += o.mallocs
	m.gcs += o.gcs
	m.cpu += o.cpu
}
