package script

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"
)

// Host is the call's view of the record store, already inside the call's
// transaction. The core implements it. The script's calls arrive on the
// goroutine running the script, one at a time; no call is made after Run
// has returned.
type Host interface {
	// Browse returns the records with these ids (int64 or string ids);
	// a missing record is an error.
	Browse(model string, ids []any) ([]map[string]any, error)
	// Search returns up to limit records (0: no limit) whose fields equal
	// the filter's values.
	Search(model string, filter map[string]any, limit int) ([]map[string]any, error)
	// Create creates a record and returns its id (int64 or string).
	Create(model string, values map[string]any) (any, error)
	// Write updates a record.
	Write(model string, id any, values map[string]any) error
	// Log records a message of the script; level is "debug", "info",
	// "warning" or "error".
	Log(level, message string)
}

// Limits bounds a Runner's runs. Zero fields take the defaults.
type Limits struct {
	// Timeout is the wall time a run may take. Default 1s. Run returns at
	// the latest 1.5 × Timeout after the script started, even if the
	// script is stuck in a built-in (see Run).
	Timeout time.Duration
	// MaxCallStack is the deepest call stack a script may build, in
	// frames. Default 1000: ten times what a recursive walk of any sane
	// JSON payload needs, and small enough that the Go stack behind it
	// (a few KiB per frame that re-enters the VM from a built-in) stays
	// around ten MiB. Overflowing it ends the run; the script cannot catch
	// it.
	MaxCallStack int
	// MaxMemory is how much a run may grow the heap, in bytes. Default
	// 64 MiB. It also scales the size limits of built-ins (see the package
	// documentation).
	MaxMemory int64
	// MaxConcurrent is how many runs of this Runner may execute at once.
	// Default 4 × GOMAXPROCS.
	MaxConcurrent int
	// QueueWait is how long Run waits for a free slot before returning
	// ErrBusy. Default 100ms; negative means do not wait.
	QueueWait time.Duration
}

// Default limits.
const (
	DefaultTimeout      = time.Second
	DefaultMaxCallStack = 1000
	DefaultMaxMemory    = 64 << 20
	DefaultQueueWait    = 100 * time.Millisecond
)

func (l Limits) withDefaults() Limits {
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	if l.MaxCallStack <= 0 {
		l.MaxCallStack = DefaultMaxCallStack
	}
	if l.MaxMemory <= 0 {
		l.MaxMemory = DefaultMaxMemory
	}
	if l.MaxConcurrent <= 0 {
		l.MaxConcurrent = 4 * runtime.GOMAXPROCS(0)
	}
	switch {
	case l.QueueWait == 0:
		l.QueueWait = DefaultQueueWait
	case l.QueueWait < 0:
		l.QueueWait = 0
	}
	return l
}

// limits are Limits plus the size limits of built-ins derived from them.
type limits struct {
	Limits
	maxStringLen  int   // UTF-16 units in one string a built-in makes
	maxElems      int   // elements a built-in iterates or makes
	maxArgs       int   // length of an argument list built from an array-like
	maxBuffer     int64 // bytes of one ArrayBuffer / typed array
	maxPattern    int   // characters of a RegExp source built at run time
	maxRegexpWork int64 // pattern length × input length of one match
	grace         time.Duration
}

func clamp(v, lo, hi int64) int64 { return max(lo, min(v, hi)) }

func deriveLimits(l Limits) *limits {
	m := l.MaxMemory
	return &limits{
		Limits:        l,
		maxStringLen:  int(clamp(m/4, 64<<10, 1<<30)),
		maxElems:      int(clamp(m/64, 1<<10, 1<<26)),
		maxArgs:       int(clamp(m/64, 1<<10, 1<<16)),
		maxBuffer:     clamp(m/2, 64<<10, 1<<31),
		maxPattern:    32 << 10,
		maxRegexpWork: 1 << 28,
		grace:         max(l.Timeout/2, 20*time.Millisecond),
	}
}

// Runner runs scripts under one set of Limits. The core makes one per
// webhook. It is safe for concurrent use.
type Runner struct {
	lim   *limits
	slots chan struct{}
}

// NewRunner returns a Runner; zero fields of lim take the defaults.
func NewRunner(lim Limits) *Runner {
	l := deriveLimits(lim.withDefaults())
	return &Runner{lim: l, slots: make(chan struct{}, l.MaxConcurrent)}
}

// Limits returns the Runner's effective limits.
func (r *Runner) Limits() Limits { return r.lim.Limits }

// Input is what a run sees. Everything is copied into the script's world;
// the script cannot change these Go values.
type Input struct {
	Payload map[string]any // JSON-shaped; nil becomes undefined, as in Odoo
	Headers map[string]string
	Query   map[string]any
	Model   string           // the webhook's model
	Record  map[string]any   // the current target record (with "id"), or nil → null
	Records []map[string]any // all target records (may be empty)
}

const (
	stopTimeout int32 = iota + 1
	stopMemory
	stopCanceled
)

// runState is one run: its limits, host, the watchdog's bookkeeping and
// the per-run objects of the JS side.
type runState struct {
	lim  *limits
	ctx  context.Context
	host Host
	stop atomic.Int32
	vm   *goja.Runtime

	gate   sync.Mutex // held during Host calls
	closed bool       // under gate: no more Host calls

	// watchdog fields, under watchdog.mu
	deadline  time.Time
	hard      time.Time
	charge    int64  // bytes allocated (by anyone) while this run was active
	live0     int64  // the live heap (as of the last GC) when the run started
	overAtGC  uint64 // GC cycle that must complete before an over-budget stop
	abandon   chan struct{}
	abandoned bool

	// JS side, only touched on the run's goroutine
	hostErrs   map[*goja.Object]error
	model1Name string                  // the first model object of the run: most use one
	model1     *goja.Object            // (nil until then)
	models     map[string]*goja.Object // the others, by name
	logEntries int
	logBytes   int
	logCapped  bool
	symbols    map[string]*goja.Symbol // Symbol.for's registry
	regexps    map[*goja.Object]*regexpInfo
	started    time.Time
}

func (r *runState) stopError() error {
	switch r.stop.Load() {
	case stopTimeout:
		return &LimitError{Kind: LimitTimeout, Limit: int64(r.lim.Timeout)}
	case stopMemory:
		return &LimitError{Kind: LimitMemory, Limit: r.lim.MaxMemory}
	case stopCanceled:
		return fmt.Errorf("script interrupted: %w", context.Cause(r.ctx))
	}
	return errors.New("script stopped")
}

// Run runs the program once with the given input and host.
//
// It returns nil when the script ran to its end (or returned), a
// *ThrownError when it threw, a *LimitError when it hit a limit, ErrBusy
// when no slot freed up within QueueWait, and an error wrapping ctx's
// error when ctx ended first. Run returns at the latest Timeout/2 after
// the deadline even if the script is stuck inside a built-in (none is
// known to be unbounded, but goja has many): the run is then abandoned, the
// Host is closed to it (Run first waits for a Host call in progress), and
// its slot stays taken until it really ends.
func (r *Runner) Run(ctx context.Context, p *Program, in Input, h Host) error {
	if p == nil {
		return errors.New("script: Run with a nil program")
	}
	if h == nil {
		return errors.New("script: Run with a nil host")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("script interrupted: %w", context.Cause(ctx))
	}
	if err := r.acquire(ctx); err != nil {
		return err
	}
	w := getWorker()
	run := &w.run
	abandon := run.abandon
	if abandon == nil {
		abandon = make(chan struct{})
	}
	*run = runState{lim: r.lim, ctx: ctx, host: h, abandon: abandon}
	w.in = in
	w.jobs <- job{r: r, p: p}
	select {
	case err := <-w.done:
		putWorker(w)
		return err
	case <-run.abandon:
		select {
		case err := <-w.done:
			putWorker(w)
			return err
		default:
		}
		// The worker is still busy with the run; it ends once the run
		// does, and neither it nor its run state is used again.
		close(w.jobs)
		run.gate.Lock()
		run.closed = true
		run.gate.Unlock()
		return run.stopError()
	}
}

func (r *Runner) acquire(ctx context.Context) error {
	select {
	case r.slots <- struct{}{}:
		return nil
	default:
	}
	if r.lim.QueueWait <= 0 {
		return ErrBusy
	}
	t := time.NewTimer(r.lim.QueueWait)
	defer t.Stop()
	select {
	case r.slots <- struct{}{}:
		return nil
	case <-t.C:
		return ErrBusy
	case <-ctx.Done():
		return fmt.Errorf("script interrupted: %w", context.Cause(ctx))
	}
}

func (r *Runner) execute(run *runState, p *Program, in *Input) error {
	sb, err := getSandbox()
	if err != nil {
		<-r.slots
		return err
	}
	run.vm = sb.vm
	run.started = time.Now()
	wd.add(run, run.started)
	err = sb.exec(run, p, in)
	if abandoned := wd.remove(run); abandoned || run.stop.Load() != 0 {
		sb.broken = true // an interrupt may still be pending
	}
	if time.Since(run.started) > time.Duration(retireAfter.Load()) {
		// A long run may have grown the VM's call stack, whose capacity
		// goja keeps (it drops the value stack after each top-level call,
		// which is why every run allocates one); do not let a pooled
		// runtime hold on to it.
		sb.broken = true
	}
	putSandbox(sb)
	<-r.slots // free the slot before reporting, so the caller's next Run finds it
	return err
}

// exec runs one script in the sandbox on the calling goroutine.
func (sb *sandbox) exec(run *runState, p *Program, in *Input) (err error) {
	vm := sb.vm
	sb.cur = run
	sb.uses++
	sb.joinStack = sb.joinStack[:0]
	defer func() {
		sb.cur = nil
		clear(sb.args[:]) // do not keep the last input alive in the pool
		if x := recover(); x != nil {
			sb.broken = true
			if _, ok := x.(*abortSignal); ok {
				err = run.stopError()
				return
			}
			err = fmt.Errorf("script: internal error: %v", x)
		}
	}()
	vm.SetMaxCallStackSize(run.lim.MaxCallStack)

	args, err := sb.arguments(in, p.uses)
	if err != nil {
		return err
	}
	if sb.mainOf != p {
		fnv, err := vm.RunProgram(p.prog)
		if err != nil {
			return sb.mapError(err, run, p)
		}
		fn, ok := goja.AssertFunction(fnv)
		if !ok {
			return errors.New("script: the program is not a function")
		}
		sb.mainOf, sb.main = p, fn
	}
	_, err = sb.main(goja.Undefined(), args...)
	return sb.mapError(err, run, p)
}

// arguments builds the script's globals, in the order of scriptPrefix's
// parameters: payload, headers, query, record, records, env, model, log,
// console. Inputs the script never names (see uses) stay undefined.
func (sb *sandbox) arguments(in *Input, u uses) ([]goja.Value, error) {
	vm := sb.vm
	args := sb.args[:]
	for i := range args {
		args[i] = goja.Undefined()
	}
	if u.payload && in.Payload != nil {
		v, err := sb.toJS(in.Payload, 0)
		if err != nil {
			return nil, fmt.Errorf("script: payload: %w", err)
		}
		args[0] = v
	}
	if u.headers {
		h, err := sb.toJS(in.Headers, 0)
		if err != nil {
			return nil, fmt.Errorf("script: headers: %w", err)
		}
		args[1] = h
	}
	if u.query {
		q, err := sb.newObject(sb.objectProto, "", in.Query, 0)
		if err != nil {
			return nil, fmt.Errorf("script: query: %w", err)
		}
		args[2] = q
	}
	var current goja.Value = goja.Null()
	if u.records {
		recordsArr := make([]any, len(in.Records))
		for i, rec := range in.Records {
			o, err := sb.inputRecord(in.Model, rec)
			if err != nil {
				return nil, fmt.Errorf("script: records: %w", err)
			}
			recordsArr[i] = o
			if in.Record != nil && current == goja.Null() && sameID(rec["id"], in.Record["id"]) {
				current = o
			}
		}
		args[4] = vm.NewArray(recordsArr...)
	}
	if u.record {
		if in.Record != nil && current == goja.Null() {
			o, err := sb.inputRecord(in.Model, in.Record)
			if err != nil {
				return nil, fmt.Errorf("script: record: %w", err)
			}
			current = o
		}
		args[3] = current
	}
	if u.env {
		args[5] = vm.NewDynamicObject(envObject{sb})
	}
	if u.model {
		args[6] = sb.modelObject(in.Model)
	}
	args[7], args[8] = sb.logFn, sb.console
	return args, nil
}

// inputRecord makes the record object of one of the run's target records.
func (sb *sandbox) inputRecord(model string, fields map[string]any) (*goja.Object, error) {
	return sb.newObject(sb.recordProto, model, fields, 0)
}

func sameID(a, b any) bool {
	if a == nil || b == nil {
		return false
	}
	return fmt.Sprint(a) == fmt.Sprint(b)
}

func (sb *sandbox) mapError(err error, run *runState, p *Program) error {
	if err == nil {
		return nil
	}
	// A type switch, not errors.As: goja's Exception.Unwrap runs
	// instanceof and a property get on the thrown value, which is the
	// script's code (a Proxy trap, a getter).
	switch e := err.(type) {
	case *goja.InterruptedError:
		sb.broken = true
		if e, ok := e.Value().(error); ok {
			return e
		}
		return run.stopError()
	case *goja.StackOverflowError:
		sb.broken = true
		return &LimitError{Kind: LimitStack, Limit: int64(run.lim.MaxCallStack)}
	case *goja.Exception:
		exc := e
		val := exc.Value()
		d := sb.describe(val)
		te := &ThrownError{Name: d.name, Message: d.message, Stack: formatStack(exc.Stack(), p)}
		if o, ok := val.(*goja.Object); ok {
			te.Err = run.hostErrs[o]
		}
		return te
	}
	sb.broken = true
	return fmt.Errorf("script: %w", err)
}

// Runs execute on pooled worker goroutines rather than on the caller's, so
// that Run can return when a run is abandoned, and rather than on a new
// goroutine each: goja needs a deep Go stack, and a fresh goroutine would
// grow (copy) its stack on every run. A worker keeps what a run needs
// between runs (its run state, input and channels), so that handing a run
// over allocates nothing. A worker whose run was abandoned is never reused:
// Run closes its jobs, and it exits when that run really ends.
type worker struct {
	jobs chan job
	done chan error // the result of the job, for Run
	run  runState   // the state of the run in progress; reset by Run
	in   Input
}

type job struct {
	r *Runner
	p *Program
}

var workers struct {
	mu   sync.Mutex
	idle []*worker
}

func getWorker() *worker {
	workers.mu.Lock()
	if n := len(workers.idle); n > 0 {
		w := workers.idle[n-1]
		workers.idle = workers.idle[:n-1]
		workers.mu.Unlock()
		return w
	}
	workers.mu.Unlock()
	w := &worker{jobs: make(chan job, 1), done: make(chan error, 1)}
	go w.loop()
	return w
}

// putWorker makes an idle worker available again, or ends it if enough
// are idle.
func putWorker(w *worker) {
	if w.run.abandoned {
		// The watchdog closed abandon just as the run ended (the worker's
		// wd.remove, before it reported, orders this read).
		w.run.abandon = nil
	}
	// Do not keep the last run's input, Host and context alive while idle.
	w.in = Input{}
	w.run.ctx, w.run.host, w.run.vm, w.run.hostErrs, w.run.regexps = nil, nil, nil, nil, nil
	w.run.model1, w.run.models, w.run.symbols = nil, nil, nil
	workers.mu.Lock()
	if len(workers.idle) < 4*runtime.GOMAXPROCS(0) {
		workers.idle = append(workers.idle, w)
		workers.mu.Unlock()
		return
	}
	workers.mu.Unlock()
	close(w.jobs)
}

func (w *worker) loop() {
	for j := range w.jobs {
		w.done <- j.r.execute(&w.run, j.p, &w.in)
	}
}
