package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// outcome is what the rounds measured of one variant.
type outcome struct {
	v   *variant
	srv *server
	// err is set when the variant could not run; an *unavailable says
	// why.
	err    error
	res    Result
	mem    memDelta
	rounds []float64 // requests per second of each round
	// warmErrors counts the errors of the warm-up, which void the run as
	// the rounds' do; warmFirst is the first.
	warmErrors int64
	warmFirst  string
	// answered counts the 2xx responses of the warm-up and the rounds,
	// for the after-run check.
	answered int64
	// checkErr is the after-run check's complaint.
	checkErr error
}

// throughput is requests per second over all rounds.
func (o *outcome) throughput() float64 {
	if o.res.Elapsed <= 0 {
		return 0
	}
	return float64(o.res.Requests) / o.res.Elapsed.Seconds()
}

// valid reports whether the variant's figures mean something.
func (o *outcome) valid() bool {
	return o.err == nil && o.res.Requests > 0 && o.res.Errors() == 0 && o.warmErrors == 0 && o.checkErr == nil
}

// clientCost is what the generator costs per request, measured against the
// raw responder.
type clientCost struct {
	rate          float64 // requests per second it reached
	bytes, allocs float64 // per request
}

// calibrate measures the generator against the raw responder.
func calibrate(o *options) (clientCost, error) {
	r, err := startResponder()
	if err != nil {
		return clientCost{}, err
	}
	defer r.Close()
	l := Load{Addr: r.Addr(), Conns: o.conns, Request: buildRequest(r.Addr(), barePath, nil, orderBody)}
	l.Duration = o.warmup
	if _, err := Generate(l); err != nil {
		return clientCost{}, err
	}
	l.Duration = min(o.duration, time.Second)
	res, mem, err := measure(l)
	if err != nil {
		return clientCost{}, err
	}
	if res.Errors() > 0 || res.Requests == 0 {
		return clientCost{}, fmt.Errorf("calibration against the raw responder: %d requests, %d errors: %s", res.Requests, res.Errors(), res.FirstError)
	}
	n := float64(res.Requests)
	return clientCost{
		rate:   n / res.Elapsed.Seconds(),
		bytes:  float64(mem.bytes) / n,
		allocs: float64(mem.mallocs) / n,
	}, nil
}

// bench sets up the selected variants, runs the rounds and reports.
func bench(ctx context.Context, o *options, dir string, stdout, stderr io.Writer) int {
	fmt.Fprintf(stdout, "loadbench: %s %s/%s, %d CPUs, GOMAXPROCS %d; %d conns; %d rounds × %v per variant, round-robin, after a %v warm-up\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), o.conns, o.rounds, o.duration, o.warmup)
	cost, err := calibrate(o)
	if err != nil {
		fmt.Fprintln(stderr, "loadbench: calibrating the generator:", err)
		return 1
	}
	fmt.Fprintf(stdout, "client: %.0f req/s against a raw TCP responder (the generator's ceiling); it allocates %.1f B and %.3f allocs per request itself, subtracted from the per-request figures below\n",
		cost.rate, cost.bytes, cost.allocs)

	var outs []*outcome
	for _, name := range o.variants {
		out := &outcome{v: findVariant(name)}
		outs = append(outs, out)
		t, err := out.v.setup(ctx, dir)
		if err != nil {
			out.err = err
			fmt.Fprintf(stderr, "loadbench: VARIANT %s CANNOT RUN: %v\n", name, err)
			continue
		}
		if out.srv, err = serve(t, o.conns); err != nil {
			out.err = err
			fmt.Fprintf(stderr, "loadbench: VARIANT %s CANNOT RUN: %v\n", name, err)
			if t.close != nil {
				t.close()
			}
		}
	}
	var live []*outcome
	for _, out := range outs {
		if out.srv != nil {
			live = append(live, out)
			defer out.srv.stop()
		}
	}

	for _, out := range live {
		l := out.srv.load
		l.Duration = o.warmup
		res, err := Generate(l)
		if err != nil {
			out.err = err
			continue
		}
		out.answered += res.Requests - res.Non2xx
		out.warmErrors, out.warmFirst = res.Errors(), res.FirstError
	}
	for round := range o.rounds {
		for _, out := range live {
			if out.err != nil {
				continue
			}
			l := out.srv.load
			l.Duration = o.duration
			res, mem, err := measure(l)
			if err != nil {
				out.err = err
				continue
			}
			out.res.Add(res)
			out.answered += res.Requests - res.Non2xx
			out.mem.add(mem)
			out.rounds = append(out.rounds, float64(res.Requests)/res.Elapsed.Seconds())
			if o.verbose {
				fmt.Fprintf(stdout, "round %d  %-14s %7.0f req/s  p99 %-8s errors %d  GCs %d\n",
					round+1, out.v.name, out.rounds[len(out.rounds)-1], ms(res.Latency.Quantile(0.99)), res.Errors(), mem.gcs)
			}
		}
	}
	status := 0
	for _, out := range outs {
		if out.srv != nil && out.err == nil && out.srv.check != nil {
			out.checkErr = out.srv.check(out.answered)
		}
		if !out.valid() {
			status = 1
		}
	}
	report(stdout, outs, cost)
	return status
}

// report prints the table, the targets and the summary.
func report(w io.Writer, outs []*outcome, cost clientCost) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "variant\treq/s\t±rounds\tp50\tp99\tmax\tcpu/req\tB/req\tallocs/req\tGCs\terrors\t")
	for _, o := range outs {
		if o.err != nil {
			continue
		}
		n := float64(o.res.Requests)
		if n == 0 {
			fmt.Fprintf(tw, "%s\t0\t\t\t\t\t\t\t\t\t%d\t\n", o.v.name, o.res.Errors())
			continue
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%s\t%.1fµs\t%.0f\t%.1f\t%d\t%d\t\n", o.v.name, o.throughput(), spread(o.rounds),
			ms(o.res.Latency.Quantile(0.5)), ms(o.res.Latency.Quantile(0.99)), ms(o.res.Latency.Max()),
			float64(o.mem.cpu.Microseconds())/n,
			float64(o.mem.bytes)/n-cost.bytes, float64(o.mem.mallocs)/n-cost.allocs, o.mem.gcs, o.res.Errors())
	}
	tw.Flush()
	for _, o := range outs {
		switch {
		case o.err != nil:
			fmt.Fprintf(w, "%s: %v\n", o.v.name, o.err)
		case o.res.Errors() > 0:
			fmt.Fprintf(w, "%s: INVALID: %d errors (%d non-2xx, %d duplicates, %d failed exchanges); first: %s\n",
				o.v.name, o.res.Errors(), o.res.Non2xx, o.res.Duplicates, o.res.Failed, o.res.FirstError)
		case o.warmErrors > 0:
			fmt.Fprintf(w, "%s: INVALID: %d errors in the warm-up; first: %s\n", o.v.name, o.warmErrors, o.warmFirst)
		case o.checkErr != nil:
			fmt.Fprintf(w, "%s: INVALID: after the run: %v\n", o.v.name, o.checkErr)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "variants:")
	for _, o := range outs {
		fmt.Fprintf(w, "  %-14s %s\n", o.v.name, o.v.about)
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, "targets (throughput and p99 relative to the baseline, same rounds; a MISS does not fail the run):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	var summary []string
	for _, o := range outs {
		if o.v.baseline == "" {
			continue
		}
		want := fmt.Sprintf("≥%.2fx", o.v.minRatio)
		if o.v.minRatio == 0 {
			want = "none (for comparison)"
		}
		if o.v.maxP99 > 0 {
			want += fmt.Sprintf(", p99 ≤%.2fx", o.v.maxP99)
		}
		ratio, p99, verdict := compare(o, find(outs, o.v.baseline))
		fmt.Fprintf(tw, "  %s\tvs %s\t%s\t%s\twant %s\t%s\n", o.v.name, o.v.baseline, ratio, p99, want, verdict)
		if ratio == "n/a" {
			summary = append(summary, o.v.name+" n/a")
		} else {
			summary = append(summary, fmt.Sprintf("%s %s %s (%s) %s", o.v.name, ratio, o.v.baseline, p99, verdict))
		}
	}
	tw.Flush()
	fmt.Fprintln(w, "summary: "+strings.Join(summary, ", "))
}

// compare returns o's throughput and p99 as multiples of base's and the
// verdict on o's targets.
func compare(o, base *outcome) (ratio, p99, verdict string) {
	var u *unavailable
	switch {
	case o.err != nil && errors.As(o.err, &u):
		return "n/a", "", u.Error()
	case o.err != nil:
		return "n/a", "", "FAILED: " + o.err.Error()
	case base == nil:
		return "n/a", "", "baseline " + o.v.baseline + " not selected"
	case base.err != nil:
		return "n/a", "", "baseline " + o.v.baseline + " did not run"
	case !o.valid() || !base.valid():
		return "n/a", "", "INVALID (errors or failed check, see above)"
	}
	r := o.throughput() / base.throughput()
	q := o.res.Latency.Quantile(0.99).Seconds() / base.res.Latency.Quantile(0.99).Seconds()
	verdict = "ok"
	if o.v.minRatio == 0 {
		verdict = "-"
	}
	if r < o.v.minRatio || (o.v.maxP99 > 0 && q > o.v.maxP99) {
		verdict = "MISS"
	}
	return fmt.Sprintf("%.2fx", r), fmt.Sprintf("p99 %.2fx", q), verdict
}

// find returns the outcome of the variant called name, nil if it was not selected.
func find(outs []*outcome, name string) *outcome {
	for _, o := range outs {
		if o.v.name == name {
			return o
		}
	}
	return nil
}

// spread is half the range of the rounds' throughputs, as a percentage of
// their mean.
func spread(rounds []float64) string {
	if len(rounds) < 2 {
		return "-"
	}
	lo, hi, sum := rounds[0], rounds[0], 0.0
	for _, r := range rounds {
		lo, hi, sum = min(lo, r), max(hi, r), sum+r
	}
	return fmt.Sprintf("%.1f%%", 50*(hi-lo)/(sum/float64(len(rounds))))
}

// ms formats a latency in milliseconds, or microseconds below one.
func ms(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%dµs", d.Microseconds())
	}
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}
