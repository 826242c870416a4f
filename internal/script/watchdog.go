package script

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dlclark/regexp2/v2"
)

// The watchdog is one goroutine for the whole process, ticking every
// millisecond while any run is active. Each tick it reads the heap size
// once and, for every active run, checks its context, its deadline and
// its memory growth; a run over a limit gets its stop flag set and
// vm.Interrupt called (the VM checks the flag between instructions, the
// sandbox's Go loops at checkpoints). A run still not finished grace after
// being stopped is abandoned: Run returns and the run's goroutine is left
// to finish alone (see Run).
//
// Memory. Go has no per-goroutine allocation counter, so every active run
// is charged for everything the process allocates while it runs
// (runtime/metrics /gc/heap/allocs:bytes, a cumulative count a GC cannot
// lower), and a run whose charge passes its budget is stopped if the heap
// it leaves live has grown by more than the budget too. In detail:
//
//   - Charges count garbage, so a run over budget is not stopped at once:
//     the watchdog forces a GC and, when that cycle is done, compares the
//     live heap (/gc/heap/live:bytes) with the live heap when the run
//     started. Over budget: the run is a candidate for stopping. Not: its
//     charge is cleared (it made garbage, not a hoard) and counting starts
//     again. A run charged more than one and a half times its budget is a
//     candidate at once: a script doubling a string must be stopped before
//     it doubles again, because each doubling is one VM instruction that
//     nothing interrupts (and that a GC's stop-the-world has to wait for).
//   - Every run is charged the whole growth, not a share: splitting it
//     would let a script dilute its charge by keeping many runs busy.
//     So concurrent runs are charged each other's allocations; when
//     several are candidates, only the one charged most is stopped and the
//     others' charges are cleared: an attacker is charged for its whole
//     run, a bystander only for the milliseconds it overlaps. A
//     well-behaved run that started before an attacker and is still
//     running when the attacker is caught has been charged more, so when
//     several runs are candidates at once the watchdog first waits a
//     short window (blameWindow) for the innocent ones to finish.
//   - A stopped run finishes its current instruction before it ends, and
//     that instruction may still allocate (a string doubling from 64 to
//     128 MiB): while a stopped run is finishing (up to its grace period),
//     no one else is charged.
//
// A single built-in call that allocates a lot at once is bounded before it
// starts by the size checks in guards.go; the watchdog bounds what a
// script accumulates step by step (s += s; a.push(new Array(1e5))).

const watchdogTick = time.Millisecond

type watchdog struct {
	mu      sync.Mutex
	runs    map[*runState]struct{}
	running bool
	gcBusy  atomic.Bool

	samples    []metrics.Sample
	lastAllocs uint64 // the previous tick's cumulative allocations
	// contested is when several runs first became candidates at once
	// (zero when they have not); see blameWindow.
	contested time.Time
}

// blameWindow is how long the watchdog waits, when several runs are over
// budget together, for the innocent ones to finish on their own. A
// well-behaved run is over budget only because it overlapped an attacker's
// allocations (every run is charged the whole growth); it ends in
// milliseconds once it gets a CPU, while the attacker keeps running. Only
// if several are still candidates after the window is the one charged
// most stopped. A run charged more than twice its budget is stopped at
// once, window or not.
const blameWindow = 30 * time.Millisecond

var wd = &watchdog{
	runs: map[*runState]struct{}{},
	samples: []metrics.Sample{
		{Name: "/gc/heap/allocs:bytes"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"},
	},
}

// read samples the heap; call with w.mu held.
func (w *watchdog) read() (allocs uint64, live int64, cycles uint64) {
	metrics.Read(w.samples)
	return w.samples[0].Value.Uint64(), int64(w.samples[1].Value.Uint64()), w.samples[2].Value.Uint64()
}

// add registers a run that is about to start at now.
//
// It reads the heap afresh although the ticking watchdog has a reading at
// most a tick old (reading costs about half a microsecond): with that
// reading, the attack test that sorts a million strings under load was
// stopped for memory instead of time in 4 runs of 100, against none of 83
// with a fresh one.
func (w *watchdog) add(r *runState, now time.Time) {
	w.mu.Lock()
	r.deadline = now.Add(r.lim.Timeout)
	r.hard = r.deadline.Add(r.lim.grace)
	allocs, live, _ := w.read()
	if len(w.runs) == 0 {
		w.lastAllocs = allocs // what was allocated while nothing ran is no one's
	}
	r.live0 = live
	w.runs[r] = struct{}{}
	if !w.running {
		w.running = true
		go w.loop()
	}
	w.mu.Unlock()
}

// remove unregisters a run; it reports whether the run was abandoned.
// After remove, the watchdog no longer touches the run or its VM.
func (w *watchdog) remove(r *runState) bool {
	w.mu.Lock()
	delete(w.runs, r)
	abandoned := r.abandoned
	if r.stop.Load() != 0 {
		// What the stopped run held is garbage now; whoever was over
		// budget must be confirmed by a new GC cycle.
		for o := range w.runs {
			o.overAtGC = 0
		}
	}
	w.mu.Unlock()
	return abandoned
}

func (w *watchdog) loop() {
	t := time.NewTicker(watchdogTick)
	defer t.Stop()
	idle := 0
	for range t.C {
		w.mu.Lock()
		if len(w.runs) == 0 {
			idle++
			if idle > 100 {
				w.running = false
				w.mu.Unlock()
				return
			}
			w.mu.Unlock()
			continue
		}
		idle = 0
		w.tick(time.Now())
		w.mu.Unlock()
	}
}

func (w *watchdog) stopRun(r *runState, code int32, now time.Time) {
	if !r.stop.CompareAndSwap(0, code) {
		return
	}
	if code != stopTimeout {
		r.hard = now.Add(r.lim.grace)
	}
	r.vm.Interrupt(r.stopError())
}

func (w *watchdog) requestGC() {
	if w.gcBusy.CompareAndSwap(false, true) {
		go func() {
			runtime.GC()
			w.gcBusy.Store(false)
		}()
	}
}

// tick runs with w.mu held.
func (w *watchdog) tick(now time.Time) {
	allocs, live, cycles := w.read()
	delta := int64(allocs - w.lastAllocs)
	w.lastAllocs = allocs

	finishing := false
	for r := range w.runs {
		if r.stop.Load() == 0 {
			continue
		}
		if !r.abandoned && now.After(r.hard) {
			r.abandoned = true
			close(r.abandon)
		}
		if !r.abandoned {
			finishing = true
		}
	}
	if finishing {
		delta = 0
	}

	var victim *runState
	var overs []*runState
	for r := range w.runs {
		if r.stop.Load() != 0 {
			continue
		}
		r.charge += delta
		select {
		case <-r.ctx.Done():
			w.stopRun(r, stopCanceled, now)
			continue
		default:
		}
		if !now.Before(r.deadline) {
			w.stopRun(r, stopTimeout, now)
			continue
		}
		budget := r.lim.MaxMemory
		eligible := false
		switch {
		case r.charge > budget+budget/2:
			eligible = true
		case r.charge > budget:
			switch {
			case r.overAtGC == 0:
				r.overAtGC = cycles + 1
				w.requestGC()
			case cycles < r.overAtGC:
				// waiting for the GC
			case live-r.live0 > budget:
				eligible = true
			default:
				r.charge, r.overAtGC = 0, 0 // garbage, not a hoard
			}
		}
		if eligible {
			overs = append(overs, r)
			if victim == nil || r.charge > victim.charge {
				victim = r
			}
		}
	}
	if victim == nil {
		w.contested = time.Time{}
		return
	}
	if len(overs) > 1 && victim.charge <= 2*victim.lim.MaxMemory {
		if w.contested.IsZero() {
			w.contested = now
		}
		if now.Sub(w.contested) < blameWindow {
			return
		}
	}
	w.contested = time.Time{}
	w.stopRun(victim, stopMemory, now)
	for _, r := range overs {
		if r != victim {
			r.charge, r.overAtGC = 0, 0
		}
	}
}

// regexp2's global match timeout is set when the package is loaded. goja
// compiles backtracking patterns (backreferences, lookaround) with regexp2
// - regexp literals already inside goja.Compile - and offers no way to set
// a timeout per pattern; regexp2 reads the package variable
// DefaultMatchTimeout when a pattern is compiled. Setting it process-wide
// affects other users of regexp2/v2 in the process only where they do not
// set Regexp.MatchTimeout themselves; the alternative, no timeout, lets
// /^(a+)+\1$/ run for years inside one built-in call. The clock period is
// lowered so the timeout fires within ~10ms of its value instead of ~100ms.
func init() {
	regexp2.DefaultMatchTimeout = regexpMatchTimeout
	regexp2.SetTimeoutCheckPeriod(10 * time.Millisecond)
}
