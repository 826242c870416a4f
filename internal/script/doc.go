// Package script is the "Execute code" action: JavaScript run in a goja
// sandbox that neither the script's author nor a stranger's payload can
// escape, exhaust, or use to leave state for the next run.
//
// # Use
//
//	p, err := script.Compile("partner-hook", code) // once, when the webhook is saved
//	r := script.NewRunner(script.Limits{})         // once per webhook
//	err = r.Run(ctx, p, script.Input{Payload: payload, Model: "res.partner", ...}, host)
//
// Run returns nil, a *ThrownError (the script threw; wraps the Host's error
// if that is what it let through), a *LimitError (errors.Is ErrTimeout,
// ErrMemory or ErrStackOverflow), ErrBusy, or an error wrapping ctx's.
//
// # Cheat-sheet for script authors
//
// The code is the body of a function, in strict mode: declare with
// const/let, "return" ends the script early, undeclared assignments are
// errors. These names are in scope:
//
//	payload        the request's JSON body (undefined for a null body), a plain copy
//	headers        the request headers, {name: value}
//	query          the query string parameters
//	model          the webhook's model, same as env[<webhook model>]
//	env['x.y']     any model by name
//	record         the target record this action runs on, or null
//	records        all target records (an array)
//	log(msg, level='info')   level: 'debug' | 'info' | 'warning' (or 'warn') | 'error'
//	console.log/info/debug/warn/error(...args)   the same, arguments joined by spaces
//
// Models:
//
//	env['res.partner'].browse(7)         → a record (throws HostError if missing)
//	env['res.partner'].browse([7, 8])    → an array of records
//	env['res.partner'].search({email: 'a@x.com'}, 10)  → up to 10 records with those field values
//	env['res.partner'].create({name: 'Ada'})           → the new record, as stored
//	model._name                          → 'res.partner'
//
// Records are plain objects of their fields (id included), plus:
//
//	rec.write({name: 'Ada'})   writes and updates rec's own fields; returns true
//	rec.read(), rec.toJSON()   a plain copy of the fields (JSON.stringify(rec) works)
//	rec._name                  the model name (not enumerable)
//
// Values sent to create/write/search become JSON: integral numbers become
// integers, Dates ISO strings, a record stands for its id; undefined keys
// are dropped; functions, symbols, NaN/Infinity, Maps and other exotic
// objects, and cycles are TypeErrors. A Host failure (missing record,
// invalid field) is an Error named "HostError" that the script may catch.
//
// Not available: require/import, timers, network, files, process, eval and
// the Function constructor (EvalError), BigInt. Built-ins are frozen:
// assigning to String.prototype and the like throws (assigning name,
// message, toString... on your own objects works as usual).
//
// # Limits
//
// Limits.Timeout (default 1s) bounds wall time, Limits.MaxMemory (default
// 64 MiB) heap growth, Limits.MaxCallStack (default 1000) call depth,
// Limits.MaxConcurrent and QueueWait the runs in flight per Runner.
// Built-ins refuse single results above size limits derived from
// MaxMemory (M), with a RangeError the script can catch: strings longer
// than M/4 UTF-16 units, arrays and array-likes longer than M/64 elements
// (1,048,576 at 64 MiB) in any built-in that loops over them, argument
// lists over 65,536, buffers over M/2 bytes, RegExp sources over 32 KiB
// and matches whose pattern × input size is too large; a single
// backtracking (lookaround, backreference) match may take 100ms. A log
// message is cut at 16 KiB, a run logs at most 1,000 messages and 1 MiB.
// Compile refuses scripts over 64 KiB or nested deeper than goja can parse
// in bounded time.
//
// # How the sandbox holds
//
// Time. A single watchdog goroutine ticks every millisecond while runs are
// active and calls vm.Interrupt at the deadline or when ctx ends; the
// interrupt cannot be caught. vm.Interrupt does not stop a built-in that
// is running, so every built-in whose work is not bounded by data the
// script already holds is replaced (guards.go): sizes are checked before
// anything is allocated, reimplemented built-ins count what they produce,
// and long native loops call back into Go code that checks the run's stop
// flag (the default sort comparator, RegExp.prototype.exec, which every
// RegExp method goes through). As a last resort, a run still busy half a
// Timeout after its deadline is abandoned: Run returns ErrTimeout, the
// Host is closed to it, and its slot stays taken until it really ends.
// That is why a run executes on a pooled worker goroutine, not on Run's
// caller: a worker keeps its run state and channels between runs, so the
// hand-off allocates nothing, and a worker whose run was abandoned is
// dropped, never reused.
//
// Regular expressions. goja runs most patterns on Go's regexp package,
// which is linear in the input, and falls back to regexp2 (backtracking)
// for lookaround and backreferences. regexp2's match timeout is set
// process-wide to 100ms (goja offers no per-pattern setting; see
// watchdog.go), and because goja turns regexp2's errors into "no match",
// the exec guard re-runs a backtracking pattern that found nothing and
// throws a RangeError if regexp2 gave up: a validation regexp never
// "passes" because it timed out.
//
// Memory. The watchdog charges every active run for what the process
// allocates while it runs (runtime/metrics), and when a charge passes the
// budget forces a GC and stops the run if the live heap has grown by more
// than the budget since it started; beyond 1.5 × the budget it stops it at
// once. When several runs qualify, only the one charged most is stopped
// (see watchdog.go for how concurrent runs are kept from being blamed for
// each other, and the one case where that guess is wrong). Built-ins
// that could allocate a lot in one call are bounded up front, so the
// watchdog only has to catch memory accumulated step by step.
//
// Stack. goja's call stack limit stops runaway recursion with an error the
// script cannot catch; built-ins that recurse in Go (join, JSON,
// flat) have their own depth limit, and Compile bounds the nesting the
// parser sees (scan.go), since goja's parser recurses per level and a
// goroutine stack overflow kills the process.
//
// Escapes. The script sees only the JavaScript built-ins and the API
// above: values cross the boundary as deep copies converted to plain JS
// objects (never goja's live wrappers of Go maps), and Go values never
// reach JS. eval and the Function, GeneratorFunction and AsyncFunction
// constructors throw EvalError (compiling at run time is uninterruptible
// Go work); BigInt is absent (its arithmetic allocates without bound in one
// VM instruction). Messages of thrown values are computed without running
// any of the script's code (no toString, getters or Proxy traps).
//
// Isolation. Runtimes are pooled: building a hardened runtime costs
// milliseconds (goja creates its built-ins lazily and hardening touches
// them all), running a trivial script in a pooled one microseconds. After
// the built-ins are replaced, every object reachable from the global
// object, plus the hidden intrinsics (%TypedArray%, iterator and generator
// prototypes, %ThrowTypeError%) and the host API, is frozen; the few
// prototype properties that ordinary code assigns on its own objects
// (name, message, toString, constructor...) become accessors that define
// an own property on the receiver, as in SES. The script's globals are the
// parameters of its function, fresh for each run (an input the script
// never names, by a conservative textual test, is not converted at all),
// and Symbol.for's registry is per run. The function itself is made once
// per runtime and program: it is anonymous, and strict mode gives a script
// no way to reach it. Objects made from Go maps get their properties while
// they have no prototype, so a key such as __proto__ is just an own
// property. A runtime is not reused after a run that was
// interrupted or overflowed its stack, after a run longer than 250ms, or
// after 100,000 runs. isolation_test.go fingerprints everything reachable
// before and after a run that tries to pollute it all.
package script
