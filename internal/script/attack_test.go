package script

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dop251/goja"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The attack tests run each hostile script with the default time limit
// (attackTimeout, 1s) and check that:
//   - Run returns within twice the limit;
//   - the error is of the expected kind;
//   - the script's Host saw no write (every attack ends with a create that
//     must never be reached);
//   - after runtime.GC the heap is back near its level before the run;
//   - a well-behaved script on another Runner keeps succeeding meanwhile.

// scaled stretches a test's time bound under the race detector.
func scaled(d time.Duration) time.Duration {
	if raceEnabled {
		return 5 * d
	}
	return d
}

// attackTimeout is the default limit that webhooks run with. A shorter
// one made the string-doubling attack flaky: its last doubling, a single
// uninterruptible concatenation of up to 128 MB, can take 200ms or more on
// a loaded machine, which fits twice 1s but not always twice 300ms.
var attackTimeout = DefaultTimeout

// after is appended to every attack: reaching it would be a Host write.
const after = "\nenv['res.partner'].create({name: 'escaped'});\n"

type outcome func(t *testing.T, err error)

func limitOf(kind error) outcome {
	return func(t *testing.T, err error) {
		var le *LimitError
		assert.ErrorAs(t, err, &le)
		assert.ErrorIs(t, err, kind)
	}
}

func thrown(name string) outcome {
	return func(t *testing.T, err error) {
		var te *ThrownError
		if assert.ErrorAs(t, err, &te) {
			assert.Equal(t, name, te.Name, "message: %s", te.Message)
		}
	}
}

// stopped accepts either a thrown error of the given name or a limit: for
// attacks where which guard fires first depends on the machine's speed.
func stopped(name string, kinds ...error) outcome {
	return func(t *testing.T, err error) {
		var te *ThrownError
		if errors.As(err, &te) {
			assert.Equal(t, name, te.Name, "message: %s", te.Message)
			return
		}
		for _, k := range kinds {
			if errors.Is(err, k) {
				return
			}
		}
		t.Errorf("want a thrown %s or one of %v, got %v", name, kinds, err)
	}
}

type bystander struct {
	stop    chan struct{}
	done    chan struct{}
	ok, bad atomic.Int64
	blamed  atomic.Int64 // runs stopped with ErrMemory
	lastErr atomic.Value
}

// startBystander runs a small well-behaved script in a loop on its own
// Runner until stopped.
func startBystander(t *testing.T) *bystander {
	t.Helper()
	p, err := Compile("bystander", `
		let sum = 0;
		for (let i = 0; i < 1000; i++) sum += i;
		const rec = env['res.partner'].create({name: payload.name, sum});
		if (rec.sum !== 499500) throw new Error('wrong sum');
		log(JSON.stringify(rec.read()));
	`)
	require.NoError(t, err)
	b := &bystander{stop: make(chan struct{}), done: make(chan struct{})}
	r := NewRunner(Limits{Timeout: 2 * time.Second})
	go func() {
		defer close(b.done)
		for i := 0; ; i++ {
			select {
			case <-b.stop:
				return
			default:
			}
			err := r.Run(context.Background(), p, Input{Payload: map[string]any{"name": "ok"}, Model: "res.partner"}, newFakeHost())
			switch {
			case errors.Is(err, ErrMemory):
				b.blamed.Add(1)
			case err != nil:
				b.bad.Add(1)
				b.lastErr.Store(err)
			default:
				b.ok.Add(1)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return b
}

// finish stops the bystander and checks that it kept succeeding. One
// exception is allowed: memory is accounted process-wide (Go has no
// per-goroutine allocation counter), so a bystander run that overlapped the
// attacker's whole growth, typically because a loaded machine kept it off
// the CPU, can be stopped with ErrMemory in the attacker's place; the
// watchdog's blame window makes this rare, and the attacker is stopped
// right after. Any other failure, or more than one, fails the test.
func (b *bystander) finish(t *testing.T) {
	close(b.stop)
	<-b.done
	assert.Positive(t, b.ok.Load(), "the bystander never completed a run")
	assert.Zero(t, b.bad.Load(), "the bystander failed: %v", b.lastErr.Load())
	assert.LessOrEqual(t, b.blamed.Load(), int64(1), "bystander runs stopped for the attacker's memory")
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// attack runs code as a hostile script and checks the box held.
func attack(t *testing.T, code string, want outcome) {
	t.Helper()
	p, err := Compile("attack", code+after)
	require.NoError(t, err)
	before := heapInUse()
	by := startBystander(t)
	time.Sleep(5 * time.Millisecond) // let the bystander get going

	h := newFakeHost()
	r := NewRunner(Limits{Timeout: attackTimeout})
	start := time.Now()
	err = r.Run(context.Background(), p, Input{Payload: map[string]any{"name": "x"}, Model: "res.partner"}, h)
	elapsed := time.Since(start)

	by.finish(t)
	assert.Less(t, elapsed, 2*attackTimeout, "Run took too long")
	want(t, err)
	assert.Empty(t, h.Writes(), "the attack reached the Host")
	drainPool()
	afterHeap := heapInUse()
	const slack = 24 << 20
	assert.Less(t, int64(afterHeap)-int64(before), int64(slack),
		"heap grew from %d MiB to %d MiB", before>>20, afterHeap>>20)
}

type attackCase struct {
	name string
	code string
	want outcome
}

func runAttacks(t *testing.T, cases []attackCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { attack(t, c.code, c.want) })
	}
}

func TestTheBoxHoldsAgainstRunawayCode(t *testing.T) {
	runAttacks(t, []attackCase{
		{"an infinite loop is stopped at the deadline", `for(;;){}`, limitOf(ErrTimeout)},
		{"a loop that catches everything is still stopped", `while(true){try{for(;;){}}catch(e){}}`, limitOf(ErrTimeout)},
		{"a loop whose finally blocks continue is still stopped", `for(;;){ try { for(;;){} } finally { continue } }`, limitOf(ErrTimeout)},
		{"deep recursion overflows the stack and cannot be caught", `function f(){f()} try { f() } catch (e) {}`, limitOf(ErrStackOverflow)},
		{"recursion through getters overflows the stack", `const o = {get x(){ return this.x }}; try { o.x } catch (e) {}`, limitOf(ErrStackOverflow)},
		{"recursion through toString overflows the stack", `const o = {toString(){ return String(o) }}; try { String(o) } catch (e) {}`, limitOf(ErrStackOverflow)},
		{"recursion through a built-in callback overflows the stack", `function f(){ [1].map(f) } try { f() } catch (e) {}`, limitOf(ErrStackOverflow)},
		{"an endless promise chain is stopped", `function loop(){ return Promise.resolve().then(loop) }
			loop().then(() => env['res.partner'].create({name: 'escaped'}));
			return; // the jobs run after the body returns`, stopped("", ErrTimeout, ErrMemory)},
		{"an endless generator drained by spread is stopped", `function* g(){ for(;;) yield 1 } [...g()]`, stopped("RangeError", ErrTimeout, ErrMemory)},
		{"sorting with a comparator that never returns is stopped", `[3,2,1].sort(() => { for(;;){} })`, limitOf(ErrTimeout)},
		{"sorting a big array with the default order stays interruptible", `
			const a = []; for (let i = 0; i < 1000000; i++) a.push('k' + (i * 7919 % 1000003));
			for (;;) { a.sort(); a.reverse(); }`, limitOf(ErrTimeout)},
	})
}

func TestTheBoxHoldsAgainstCatastrophicRegexps(t *testing.T) {
	t.Run("nested quantifiers run in linear time because Go's engine handles them", func(t *testing.T) {
		h := newFakeHost()
		p, err := Compile("re", `log(String(/^(a+)+$/.test('a'.repeat(40)+'b')))`)
		require.NoError(t, err)
		r := NewRunner(Limits{Timeout: attackTimeout})
		require.NoError(t, r.Run(context.Background(), mustCompile(t, "1"), Input{}, h)) // a warm sandbox
		start := time.Now()
		require.NoError(t, r.Run(context.Background(), p, Input{}, h))
		assert.Less(t, time.Since(start), scaled(20*time.Millisecond))
		assert.Equal(t, []logLine{{"info", "false"}}, h.Logs())
	})
	bad := `'a'.repeat(40)+'b'`
	runAttacks(t, []attackCase{
		{"a backreference pattern is cut off and reported, not answered wrongly", `/^(a+)+\1$/.test(` + bad + `)`, thrown("RangeError")},
		{"a lookahead pattern is cut off", `/^(?=(a+)+$)a*b$/.test(` + bad + `)`, stopped("RangeError")},
		{"an alternation under a negative lookahead is cut off", `/^(?:(a|aa)+)+(?!x)$/.test(` + bad + `)`, thrown("RangeError")},
		{"exec is cut off", `/^(a+)+\1$/.exec(` + bad + `)`, thrown("RangeError")},
		{"String.prototype.replace is cut off", "(" + bad + `).replace(/^(a+)+\1$/, 'x')`, thrown("RangeError")},
		{"String.prototype.match is cut off", "(" + bad + `).match(/^(a+)+\1$/)`, thrown("RangeError")},
		{"String.prototype.search is cut off", "(" + bad + `).search(/^(a+)+\1$/)`, thrown("RangeError")},
		{"String.prototype.split is cut off", "(" + bad + `).split(/^(a+)+\1$/)`, thrown("RangeError")},
		{"String.prototype.matchAll is cut off", `[...(` + bad + `).matchAll(/^(a+)+\1$/g)]`, thrown("RangeError")},
		{"a constructed RegExp is cut off", `new RegExp('^(a+)+\\1$').test(` + bad + `)`, thrown("RangeError")},
		{"retrying a catastrophic match in a loop is stopped at the deadline", `for(;;){ try { /^(a+)+\1$/.test(` + bad + `) } catch (e) {} }`, limitOf(ErrTimeout)},
		{"a huge pattern on a huge input is refused before matching", `new RegExp('(?:a|b|c)'.repeat(5000)).test('x'.repeat(1000000))`, thrown("RangeError")},
		{"a pattern longer than the limit is refused", `new RegExp('a'.repeat(100000))`, thrown("RangeError")},
	})
}

func TestTheBoxHoldsAgainstHugeAllocations(t *testing.T) {
	runAttacks(t, []attackCase{
		{"repeat to a gigabyte is refused before allocating", `'x'.repeat(2**30)`, thrown("RangeError")},
		{"repeat to a terabyte is refused before allocating", `'x'.repeat(2**40)`, thrown("RangeError")},
		{"padStart to a gigabyte is refused", `'ab'.padStart(2**30)`, thrown("RangeError")},
		{"padEnd to a gigabyte is refused", `'ab'.padEnd(2**30, 'xy')`, thrown("RangeError")},
		{"filling a billion-element array is refused", `new Array(1e9).fill(0)`, thrown("RangeError")},
		{"Array.from a billion-long array-like is refused", `Array.from({length: 1e9})`, thrown("RangeError")},
		{"a 2 GiB ArrayBuffer is refused", `new ArrayBuffer(2**31)`, thrown("RangeError")},
		{"a 2 GiB typed array is refused", `new Uint8Array(2**31)`, thrown("RangeError")},
		{"a 2 GiB Float64Array is refused", `new Float64Array(2**28)`, thrown("RangeError")},
		{"a typed array from a billion-long array-like is refused", `new Int32Array({length: 1e9})`, thrown("RangeError")},
		{"TypedArray.from a billion-long array-like is refused", `Uint8Array.from({length: 1e9})`, thrown("RangeError")},
		{"joining ten million holes is refused", `Array(1e7).join('x')`, thrown("RangeError")},
		{"splitting ten million characters is refused", `'x'.repeat(1e7).split('')`, thrown("RangeError")},
		{"spreading a ten-million-character string is refused", `[...'x'.repeat(1e7)]`, thrown("RangeError")},
		{"the keys of a long string are refused", `Object.keys('x'.repeat(1e7))`, thrown("RangeError")},
		{"assigning a long string's indices is refused", `Object.assign({}, 'x'.repeat(1e7))`, thrown("RangeError")},
		{"JSON.stringify of a cyclic structure throws", `const o = {}; o.o = o; JSON.stringify(o)`, thrown("TypeError")},
		{"JSON.stringify of a structure sharing itself 40 times is bounded",
			`let a = [1]; for (let i = 0; i < 40; i++) a = [a, a]; JSON.stringify(a)`, stopped("RangeError", ErrTimeout)},
		{"JSON.stringify of a big object visited many times is bounded",
			`const u = {}; for (let i = 0; i < 200000; i++) u['k' + i] = undefined; JSON.stringify(Array(1000).fill(u))`, stopped("RangeError", ErrTimeout, ErrMemory)},
		{"joining a structure sharing itself 40 times is bounded",
			`let a = [1]; for (let i = 0; i < 40; i++) a = [a, a]; String(a)`, stopped("RangeError", ErrTimeout)},
		{"flattening a structure sharing itself 40 times is bounded",
			`let a = [1]; for (let i = 0; i < 40; i++) a = [a, a]; a.flat(Infinity)`, stopped("RangeError", ErrTimeout)},
		{"joining many references to one big string is refused",
			`const big = 'x'.repeat(1e6); Array(10000).fill(big).join('')`, thrown("RangeError")},
		{"concatenating many references to one big string is refused",
			`const big = 'x'.repeat(1e6); ''.concat(...Array(10000).fill(big))`, thrown("RangeError")},
		{"String.raw over many references to one big string is refused",
			`const big = 'x'.repeat(1e6); String.raw({raw: Array(10000).fill(big)})`, thrown("RangeError")},
		{"String.raw over a billion-long raw array is refused", `String.raw({raw: {length: 1e9}})`, thrown("RangeError")},
		{"a quadratic replacement pattern is refused", `'x'.repeat(1e5).replace(/x/g, '$` + "`" + `')`, stopped("RangeError", ErrTimeout, ErrMemory)},
		{"a quadratic replaceAll pattern is refused", `'x'.repeat(1e5).replaceAll('x', "$'")`, stopped("RangeError", ErrTimeout, ErrMemory)},
		{"an argument list of a billion is refused", `Math.max.apply(null, {length: 1e9})`, thrown("RangeError")},
		{"Reflect.apply with a billion arguments is refused", `Reflect.apply(Math.max, null, {length: 1e9})`, thrown("RangeError")},
		{"JSON.parse of ten million brackets is refused without recursing", `JSON.parse('['.repeat(1e7))`, thrown("RangeError")},
		{"JSON.parse of millions of values is refused", `JSON.parse('[' + '0,'.repeat(3e6) + '0]')`, thrown("RangeError")},
		{"encoding a long string is refused", `encodeURIComponent('\u00e9'.repeat(1e7))`, thrown("RangeError")},
		{"upper-casing a long non-ASCII string is refused", `'\u00df'.repeat(1e7).toUpperCase()`, stopped("RangeError", ErrMemory)},
	})
}

func TestTheBoxHoldsAgainstGrowingMemory(t *testing.T) {
	runAttacks(t, []attackCase{
		{"a string doubling in a loop is stopped by the memory limit", `let s = 'x'; for (;;) s += s;`, limitOf(ErrMemory)},
		// goja does not allocate the elements of new Array(1e5) until they
		// are set, so this loop holds little memory and runs into the clock.
		{"an array of empty arrays growing in a loop is stopped", `let a = []; for (;;) a.push(new Array(1e5));`, stopped("", ErrTimeout, ErrMemory)},
		{"an array of filled arrays growing in a loop is stopped", `let a = []; for (;;) a.push('x'.repeat(1e5).split(''));`, stopped("", ErrMemory, ErrTimeout)},
		// The loops below reach the memory limit in well under a second on
		// this machine; on one starved of CPU (-race, other jobs) they can
		// reach the clock first. Either limit holds the box.
		{"an array of fresh strings growing in a loop is stopped", `let a = []; for (let i = 0;; i++) a.push('x'.repeat(1e5) + i);`, stopped("", ErrMemory, ErrTimeout)},
		{"a map of objects growing in a loop is stopped", `const m = new Map(); for (let i = 0;; i++) m.set(i, {i, s: 'v' + i});`, stopped("", ErrMemory, ErrTimeout)},
		{"repeated near-limit allocations are stopped", `let a = []; for (;;) a.push('y'.repeat(1 << 24));`, stopped("", ErrMemory, ErrTimeout)},
		{"typed arrays growing in a loop are stopped", `let a = []; for (;;) a.push(new Float64Array(1 << 20));`, stopped("", ErrMemory, ErrTimeout)},
	})
}

func TestTheBoxHoldsAgainstHugeArrayLikes(t *testing.T) {
	huge := `{length: 2**53 - 1}`
	runAttacks(t, []attackCase{
		{"indexOf over a huge array-like is refused", `Array.prototype.indexOf.call(` + huge + `, 1)`, thrown("RangeError")},
		{"lastIndexOf over a huge array-like is refused", `Array.prototype.lastIndexOf.call(` + huge + `, 1)`, thrown("RangeError")},
		{"forEach over a huge array-like is refused", `Array.prototype.forEach.call(` + huge + `, x => x)`, thrown("RangeError")},
		{"includes over a huge sparse array is refused", `const a = []; a.length = 2**32 - 1; a.includes(1)`, thrown("RangeError")},
		{"reversing a huge sparse array is refused", `const a = []; a[2**32 - 2] = 1; a.reverse()`, thrown("RangeError")},
		{"sorting a huge sparse array is refused", `const a = []; a[2**32 - 2] = 1; a.sort()`, thrown("RangeError")},
		{"concat of a huge spreadable array-like is refused", `[].concat({length: 2**53 - 1, [Symbol.isConcatSpreadable]: true})`, thrown("RangeError")},
		{"iterating a huge array-like is refused", `[...Array.prototype.values.call(` + huge + `)]`, thrown("RangeError")},
		{"a typed array set from a huge array-like is refused", `new Uint8Array(8).set(` + huge + `)`, thrown("RangeError")},
		{"enumerating a huge sparse array's length via keys() is refused", `const a = []; a.length = 2**32 - 1; [...a.keys()]`, thrown("RangeError")},
	})
}

func TestTheBoxHoldsAgainstEscapes(t *testing.T) {
	runAttacks(t, []attackCase{
		{"the Function constructor is disabled", `Function('return this')()`, thrown("EvalError")},
		{"reaching Function through a constructor chain is disabled", `(function(){}).constructor('return this')()`, thrown("EvalError")},
		{"reaching the generator function constructor is disabled", `(function*(){}).constructor('yield 1')`, thrown("EvalError")},
		{"reaching the async function constructor is disabled", `(async function(){}).constructor('return 1')`, thrown("EvalError")},
		{"eval is disabled", `eval('1 + 1')`, thrown("EvalError")},
		{"indirect eval is disabled", `(0, eval)('1 + 1')`, thrown("EvalError")},
		{"this at the top level is undefined", `this.constructor.constructor('return process')()`, thrown("TypeError")},
		{"BigInt does not exist", `BigInt(1)`, thrown("ReferenceError")},
		{"require does not exist", `require('fs')`, thrown("ReferenceError")},
		{"setTimeout does not exist", `setTimeout(() => {}, 0)`, thrown("ReferenceError")},
		{"process does not exist", `process.exit(1)`, thrown("ReferenceError")},
		{"goja's GoError does not exist", `new GoError('x')`, thrown("ReferenceError")},
	})
	t.Run("globalThis is the sandbox's own frozen global", func(t *testing.T) {
		h := newFakeHost()
		p, err := Compile("g", `
			const g = globalThis;
			log(String(Object.isFrozen(g)));
			log(String(typeof g.process + typeof g.require + typeof g.setTimeout + typeof g.console + typeof g.payload));
		`)
		require.NoError(t, err)
		require.NoError(t, NewRunner(Limits{}).Run(context.Background(), p, Input{}, h))
		assert.Equal(t, []logLine{{"info", "true"}, {"info", "undefinedundefinedundefinedundefinedundefined"}}, h.Logs())
	})
}

func TestTheBoxHoldsAgainstHostileThrownValues(t *testing.T) {
	cases := []struct {
		name, code, message string
	}{
		{"a thrown string is its own message", `throw "x"`, "x"},
		{"a thrown number is its string", `throw 42`, "42"},
		{"a thrown null reads null", `throw null`, "null"},
		{"a thrown undefined reads undefined", `throw undefined`, "undefined"},
		{"a thrown plain object reads as JSON", `throw {a: 1}`, `{"a":1}`},
		{"a thrown symbol reads as its description", `throw Symbol('s')`, "Symbol(s)"},
		{"a thrown object without prototype reads as JSON", `const o = Object.create(null); o.k = 'v'; throw o`, `{"k":"v"}`},
		{"a thrown Proxy is not inspected", `throw new Proxy({}, {get(){ for(;;){} }, ownKeys(){ for(;;){} }, getOwnPropertyDescriptor(){ for(;;){} }, getPrototypeOf(){ for(;;){} }})`, "[object Proxy]"},
		{"an object whose toString loops forever is not stringified", `throw {toString(){ for(;;){} }, valueOf(){ for(;;){} }}`, "{}"},
		{"an object whose toString throws is not stringified", `throw {toString(){ throw new Error('no') }}`, "{}"},
		{"getters of a thrown object are not run", `throw {get a(){ for(;;){} }, b: 2}`, `{"b":2}`},
		{"an Error whose message is a looping getter is not read", `const e = new Error('x'); Object.defineProperty(e, 'message', {get(){ for(;;){} }}); throw e`, ""},
		{"an Error whose name is a looping getter is not read", `const e = new TypeError('x'); Object.defineProperty(e, 'name', {get(){ for(;;){} }}); throw e`, "x"},
		{"a deeply nested thrown object is cut short", `let o = {}; for (let i = 0; i < 10000; i++) o = {o}; throw o`, `{"o":{"o":{"o":{"o":"…"}}}}`},
		{"a thrown cyclic object is cut short", `const o = {}; o.self = o; throw o`, `{"self":{"self":{"self":{"self":"…"}}}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Compile("throw", c.code)
			require.NoError(t, err)
			start := time.Now()
			err = NewRunner(Limits{Timeout: attackTimeout}).Run(context.Background(), p, Input{}, newFakeHost())
			// Reading the thrown value must not run its code: a looping
			// getter would take the whole time limit. (Building 10,000
			// nested objects alone took 345ms once under -race on a
			// starved machine, so the bound is the limit, not less.)
			assert.Less(t, time.Since(start), attackTimeout)
			var te *ThrownError
			require.ErrorAs(t, err, &te)
			assert.Equal(t, c.message, te.Message)
		})
	}
}

func TestARunStuckInABuiltInIsAbandonedAtTheHardDeadline(t *testing.T) {
	// A stand-in for a built-in this package does not know to be unbounded:
	// a native function that ignores interrupts for two seconds.
	release := make(chan struct{})
	testInstall = func(sb *sandbox, g *goja.Object) {
		_ = g.Set("stuck", sb.native("stuck", 0, func(goja.FunctionCall) goja.Value {
			select {
			case <-release:
			case <-time.After(5 * time.Second):
			}
			return nil
		}))
	}
	drainPool()
	defer func() {
		testInstall = nil
		drainPool()
	}()
	p, err := Compile("stuck", `stuck(); env['res.partner'].create({name: 'late'})`)
	require.NoError(t, err)
	h := newFakeHost()
	r := NewRunner(Limits{Timeout: attackTimeout, MaxConcurrent: 1, QueueWait: -1})
	start := time.Now()
	err = r.Run(context.Background(), p, Input{}, h)
	elapsed := time.Since(start)

	t.Run("Run returns with a timeout within twice the limit", func(t *testing.T) {
		assert.ErrorIs(t, err, ErrTimeout)
		assert.GreaterOrEqual(t, elapsed, attackTimeout*3/2, "abandoned before the grace period")
		assert.Less(t, elapsed, 2*attackTimeout)
	})
	t.Run("the stuck run keeps its slot until it really ends", func(t *testing.T) {
		assert.ErrorIs(t, r.Run(context.Background(), p, Input{}, h), ErrBusy)
	})
	close(release)
	t.Run("the stuck run never reaches the Host afterwards", func(t *testing.T) {
		require.Eventually(t, func() bool {
			return !errors.Is(r.Run(context.Background(), mustCompile(t, "1"), Input{}, h), ErrBusy)
		}, 2*time.Second, 10*time.Millisecond)
		assert.Empty(t, h.Writes())
	})
}

func mustCompile(t *testing.T, code string) *Program {
	t.Helper()
	p, err := Compile(t.Name(), code)
	require.NoError(t, err)
	return p
}

func TestConcurrencyIsBoundedPerRunner(t *testing.T) {
	r := NewRunner(Limits{Timeout: attackTimeout, MaxConcurrent: 1, QueueWait: 50 * time.Millisecond})
	long := mustCompile(t, `for(;;){}`)
	var wg sync.WaitGroup
	wg.Add(1)
	started := make(chan struct{})
	go func() {
		defer wg.Done()
		close(started)
		_ = r.Run(context.Background(), long, Input{}, newFakeHost())
	}()
	<-started
	time.Sleep(20 * time.Millisecond)
	t.Run("a second run waits at most QueueWait and then gets ErrBusy", func(t *testing.T) {
		start := time.Now()
		err := r.Run(context.Background(), mustCompile(t, "1"), Input{}, newFakeHost())
		assert.ErrorIs(t, err, ErrBusy)
		assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)
		assert.Less(t, time.Since(start), scaled(150*time.Millisecond))
	})
	t.Run("another Runner is not affected", func(t *testing.T) {
		assert.NoError(t, NewRunner(Limits{}).Run(context.Background(), mustCompile(t, "1"), Input{}, newFakeHost()))
	})
	wg.Wait()
	t.Run("once the slot is free a run gets it", func(t *testing.T) {
		assert.NoError(t, r.Run(context.Background(), mustCompile(t, "1"), Input{}, newFakeHost()))
	})
}

func TestCancellingTheContextInterruptsTheScript(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	err := NewRunner(Limits{Timeout: 5 * time.Second}).Run(ctx, mustCompile(t, `for(;;){}`+after), Input{}, newFakeHost())
	assert.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), scaled(200*time.Millisecond))

	t.Run("a context that is already done does not start the script", func(t *testing.T) {
		h := newFakeHost()
		err := NewRunner(Limits{}).Run(ctx, mustCompile(t, `env['x'].create({})`), Input{}, h)
		assert.ErrorIs(t, err, context.Canceled)
		assert.Zero(t, h.calls)
	})
	t.Run("a context deadline shorter than the timeout wins", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		err := NewRunner(Limits{Timeout: 5 * time.Second}).Run(ctx, mustCompile(t, `for(;;){}`), Input{}, newFakeHost())
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
}
