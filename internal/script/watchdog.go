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
// is charged for each tick's growth of the process's heap (live objects
// plus garbage not yet collected, runtime/metrics
// /memory/classes/heap/objects); a shrink, after a GC, is credited the same
// way, and a charge never goes below zero. The whole growth, not a share:
// splitting it would let a script dilute its charge by keeping many other
// runs busy. That is approximate in three ways, and the policy is built so
// that none of them lets a script escape or, in practice, kills a
// bystander:
//
//   - Garbage is charged until the GC runs, so a run over its budget is
//     not stopped at once: the watchdog forces a GC and stops the run only
//     if it is still over budget after that cycle (or at once if it is
//     over four times its budget, which bounds how far a fast allocator
//     gets while the GC runs).
//   - Concurrent runs are charged each other's growth. When several runs
//     are over budget only the one charged most is stopped and the others'
//     charges are cleared: an attacker accumulates its charge over its
//     whole run, a bystander only over the milliseconds it overlaps. (The
//     case this gets wrong: a well-behaved run that started before an
//     attacker and is still running when the attacker goes over budget is
//     charged more, and is stopped first; the attacker is stopped at the
//     next tick it is over budget again.)
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

	samples  []metrics.Sample
	lastHeap int64 // the previous tick's reading
}

var wd = &watchdog{
	runs: map[*runState]struct{}{},
	samples: []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"},
	},
}

// read samples the heap; call with w.mu held.
func (w *watchdog) read() (heap int64, cycles uint64) {
	metrics.Read(w.samples)
	return int64(w.samples[0].Value.Uint64()), w.samples[1].Value.Uint64()
}

// add registers a run that is about to start.
func (w *watchdog) add(r *runState) {
	now := time.Now()
	w.mu.Lock()
	r.deadline = now.Add(r.lim.Timeout)
	r.hard = r.deadline.Add(r.lim.grace)
	if len(w.runs) == 0 {
		w.lastHeap, _ = w.read() // growth while nothing ran is no one's
	}
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
	heap, cycles := w.read()
	delta := heap - w.lastHeap
	w.lastHeap = heap

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
		r.charge = max(0, r.charge+delta)
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
		case r.charge > 4*budget:
			eligible = true
		case r.charge > budget:
			if r.overAtGC == 0 {
				r.overAtGC = cycles + 1
				w.requestGC()
			} else if cycles >= r.overAtGC {
				eligible = true
			}
		default:
			r.overAtGC = 0
		}
		if eligible {
			overs = append(overs, r)
			if victim == nil || r.charge > victim.charge {
				victim = r
			}
		}
	}
	if victim == nil {
		return
	}
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
