package script

import (
	_ "embed"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"
)

// A sandbox is one goja.Runtime prepared for running scripts: dangerous
// built-ins replaced by bounded versions, dynamic code and BigInt removed,
// the host API objects installed, and then every object reachable from the
// global object (plus the hidden intrinsics such as %TypedArray% and the
// iterator prototypes) frozen. Because nothing a script can reach is
// mutable, and everything a run creates (its arguments, records, env, and
// all objects the code allocates) is fresh and dropped after the run, a
// sandbox can be reused for the next run without any state surviving:
// that is what the pool below relies on, and what isolation_test.go checks.
//
// Building a sandbox costs a few hundred microseconds (goja creates its
// built-ins lazily; hardening touches all of them), running a trivial
// script in a pooled one a few microseconds, so sandboxes are pooled.
// A sandbox is never reused after a run that was interrupted, overflowed
// its stack or panicked (goja's state may be half unwound), nor after a run
// longer than retireAfter (goja keeps the capacity its call stack grew
// to), and is retired after maxSandboxUses runs as a precaution against
// slow growth of goja's internal caches.
type sandbox struct {
	vm     *goja.Runtime
	cur    *runState // the run in progress; nil between runs
	uses   int
	broken bool

	recordProto *goja.Object
	modelProto  *goja.Object
	objectProto *goja.Object // Object.prototype
	logFn       goja.Value
	console     goja.Value

	// intrinsics the Go side needs, captured before anything could change
	rangeError  goja.Constructor
	typeError   goja.Constructor
	errorCtor   goja.Constructor
	evalError   goja.Constructor
	isArrayFn   goja.Callable
	getOwnDesc  goja.Callable
	jsonQuote   goja.Callable // the original JSON.stringify, only ever used on strings
	isRawJSON   goja.Callable
	hasFn       goja.Callable               // Reflect.has
	objToString goja.Callable               // Object.prototype.toString
	valueOf     map[string]goja.Callable    // String/Number/Boolean.prototype.valueOf
	copyStatics goja.Callable               // prelude: copy a constructor's static properties
	tamed       map[*goja.Object]goja.Value // override-taming getter → the value it returns
	regexpCache map[string]*regexpInfo      // by flags + source
	joinStack   []*goja.Object              // cycle detection for join/toString
	steps       int                         // sort comparator calls, for checkpoints

	// Per-run scratch, reused so that a run allocates less. args is the
	// argument list of the script's function (goja copies it onto the VM
	// stack); mainOf/main cache the function the last program evaluated
	// to: evaluating the program makes a new closure each time, and that
	// closure is never reachable from the script (it is anonymous, strict
	// mode has no arguments.callee or caller, and stacks are strings), so
	// calling the same one again leaks nothing between runs.
	args   [9]goja.Value
	mainOf *Program
	main   goja.Callable
}

// maxSandboxUses is a precaution, not a measured need: 200,000 runs of a
// script touching Maps, WeakMaps, Symbol.for, RegExps, Promises, private
// fields and exceptions left one sandbox's heap flat (~1 MiB). At 10,000
// the rebuilds (~7 ms and 2.5 MB of garbage each) were a fifth of
// BenchmarkRunTrivial's CPU.
const maxSandboxUses = 100000

// retireAfter is wall time, which under load includes time spent waiting
// for a CPU: at 25ms the load harness saw most runs retired and every call
// paying the ~6ms a hardened sandbox takes to build. A variable so that
// tests which check reuse can run on a slow machine; atomic because
// workers read it.
var retireAfter atomic.Int64

func init() { retireAfter.Store(int64(250 * time.Millisecond)) }

//go:embed prelude.js
var preludeSrc string

var preludeProgram = goja.MustCompile("prelude", preludeSrc, true)

// abortSignal is panicked by the sandbox's own Go code (checkpoints inside
// long native loops) when the watchdog has stopped the run. goja does not
// recognise it, so it unwinds through the script's try/catch/finally
// without running them and out of RunProgram, where exec recovers it.
type abortSignal struct{}

// checkpoint aborts the run if the watchdog stopped it. Long loops in the
// sandbox's Go code call it so they stop as promptly as JS code does.
func (sb *sandbox) checkpoint() {
	if r := sb.cur; r != nil && r.stop.Load() != 0 {
		panic(&abortSignal{})
	}
}

func (sb *sandbox) throwRange(msg string) {
	o, err := sb.rangeError(nil, sb.vm.ToValue(msg))
	if err != nil {
		panic(err)
	}
	panic(o)
}

func (sb *sandbox) throwType(msg string) {
	o, err := sb.typeError(nil, sb.vm.ToValue(msg))
	if err != nil {
		panic(err)
	}
	panic(o)
}

// rethrow propagates an error from a goja.Callable back into the VM as it
// was: a JS exception stays catchable, an interrupt stays uncatchable.
func rethrow(err error) {
	panic(err)
}

// call invokes a captured original and rethrows its exception.
func call(fn goja.Callable, this goja.Value, args ...goja.Value) goja.Value {
	v, err := fn(this, args...)
	if err != nil {
		rethrow(err)
	}
	return v
}

// isArray is Array.isArray. For anything but a Proxy that is goja's own
// test, a class check; calling the built-in costs a VM call and an
// allocation, and the bridge asks for every value crossing it.
func (sb *sandbox) isArray(v goja.Value) bool {
	if o, ok := v.(*goja.Object); ok && !sb.isProxy(o) {
		return o.ClassName() == "Array"
	}
	return call(sb.isArrayFn, goja.Undefined(), v).ToBoolean()
}

func (sb *sandbox) isProxy(o *goja.Object) bool {
	return o.ExportType() == proxyExportType
}

// str is ToString, returning goja's string type (goja's Value.ToString
// may return a number for numbers).
func (sb *sandbox) str(v goja.Value) goja.String {
	if s, ok := v.(goja.String); ok {
		return s
	}
	if v == nil {
		return sb.vm.ToValue("undefined").(goja.String)
	}
	s := v.ToString()
	if gs, ok := s.(goja.String); ok {
		return gs
	}
	return sb.vm.ToValue(s.String()).(goja.String)
}

// unbox returns the primitive inside a String, Number or Boolean object
// (o.ClassName() is one of those; o is not a Proxy).
func (sb *sandbox) unbox(o *goja.Object) goja.Value {
	return call(sb.valueOf[o.ClassName()], o)
}

// tag is Object.prototype.toString's "[object Tag]" for o.
func (sb *sandbox) tag(o *goja.Object) string {
	return call(sb.objToString, o).String()
}

// plainTag reports whether tag(o) is "[object Object]", without building
// the string: goja's Object.prototype.toString takes a string
// Symbol.toStringTag (read like any property, getters included) and
// otherwise the class. o is neither a Proxy nor an array.
func (sb *sandbox) plainTag(o *goja.Object) bool {
	if t, ok := o.GetSymbol(goja.SymToStringTag).(goja.String); ok {
		return t.String() == "Object"
	}
	return o.ClassName() == "Object"
}

// lengthOf reads ToLength(o.length) and throws a RangeError if it is above
// limit. Reading length may run a getter; the original will read it again.
func (sb *sandbox) lengthOf(o *goja.Object, limit int, what string) int64 {
	n := o.Get("length")
	if n == nil {
		return 0
	}
	l := n.ToNumber().ToFloat()
	switch {
	case l != l || l <= 0: // NaN
		return 0
	case l > float64(limit):
		sb.throwRange(fmt.Sprintf("%s has %s elements, more than the sandbox allows (%d)", what, n.String(), limit))
	}
	return int64(l)
}

// --- the pool ---------------------------------------------------------------

var sandboxPool = struct {
	mu   sync.Mutex
	free []*sandbox
}{}

// poolCap keeps enough sandboxes for the default number of concurrent runs
// of a Runner (4×GOMAXPROCS): a run that finds the pool empty builds one.
func poolCap() int { return 4*runtime.GOMAXPROCS(0) + 2 }

func getSandbox() (*sandbox, error) {
	sandboxPool.mu.Lock()
	if n := len(sandboxPool.free); n > 0 {
		sb := sandboxPool.free[n-1]
		sandboxPool.free = sandboxPool.free[:n-1]
		sandboxPool.mu.Unlock()
		return sb, nil
	}
	sandboxPool.mu.Unlock()
	return newSandbox()
}

func putSandbox(sb *sandbox) {
	if sb.broken || sb.uses >= maxSandboxUses {
		return
	}
	sb.vm.ClearInterrupt()
	sandboxPool.mu.Lock()
	if len(sandboxPool.free) < poolCap() {
		sandboxPool.free = append(sandboxPool.free, sb)
	}
	sandboxPool.mu.Unlock()
}

// drainPool empties the pool (tests use it to force fresh sandboxes).
func drainPool() {
	sandboxPool.mu.Lock()
	sandboxPool.free = nil
	sandboxPool.mu.Unlock()
}

// --- building ---------------------------------------------------------------

// Test hooks: testInstall adds globals before hardening; sandboxBuilds
// counts newSandbox calls.
var (
	testInstall   func(sb *sandbox, global *goja.Object)
	sandboxBuilds atomic.Int64
)

func newSandbox() (sb *sandbox, err error) {
	sandboxBuilds.Add(1)
	vm := goja.New()
	sb = &sandbox{vm: vm, tamed: map[*goja.Object]goja.Value{}, regexpCache: map[string]*regexpInfo{}}
	defer func() {
		if x := recover(); x != nil {
			sb, err = nil, fmt.Errorf("script: building the sandbox: %v", x)
		}
	}()
	if ex := vm.Try(sb.build); ex != nil {
		return nil, fmt.Errorf("script: building the sandbox: %v", ex)
	}
	return sb, nil
}

func (sb *sandbox) get(path string) *goja.Object {
	var v goja.Value = sb.vm.GlobalObject()
	for _, part := range strings.Split(path, ".") {
		v = v.(*goja.Object).Get(part)
	}
	return v.(*goja.Object)
}

func (sb *sandbox) ctor(name string) goja.Constructor {
	c, ok := goja.AssertConstructor(sb.get(name))
	if !ok {
		panic(name + " is not a constructor")
	}
	return c
}

func (sb *sandbox) fn(path string) goja.Callable {
	c, ok := goja.AssertFunction(sb.get(path))
	if !ok {
		panic(path + " is not a function")
	}
	return c
}

func (sb *sandbox) build() {
	vm := sb.vm
	g := vm.GlobalObject()
	sb.objectProto = sb.get("Object.prototype")
	sb.rangeError = sb.ctor("RangeError")
	sb.typeError = sb.ctor("TypeError")
	sb.errorCtor = sb.ctor("Error")
	sb.evalError = sb.ctor("EvalError")
	sb.isArrayFn = sb.fn("Array.isArray")
	sb.getOwnDesc = sb.fn("Object.getOwnPropertyDescriptor")
	sb.jsonQuote = sb.fn("JSON.stringify")
	sb.isRawJSON = sb.fn("JSON.isRawJSON")
	sb.hasFn = sb.fn("Reflect.has")
	sb.objToString = sb.fn("Object.prototype.toString")
	sb.valueOf = map[string]goja.Callable{
		"String":  sb.fn("String.prototype.valueOf"),
		"Number":  sb.fn("Number.prototype.valueOf"),
		"Boolean": sb.fn("Boolean.prototype.valueOf"),
	}

	prelude, err := vm.RunProgram(preludeProgram)
	if err != nil {
		panic(err)
	}
	kit := call(mustFunc(prelude), goja.Undefined()).(*goja.Object)
	intrinsics := kit.Get("intrinsics").(*goja.Object)
	sb.copyStatics = mustFunc(kit.Get("copyStatics"))

	// No dynamic code: eval, Function and the generator/async function
	// constructors compile source at run time, in Go code that cannot be
	// interrupted and that is superlinear on nested input (see scan.go).
	sb.disableDynamicCode(g, intrinsics)

	// No BigInt: its arithmetic allocates without bound inside one VM
	// instruction (2n ** 2n**32n). Compile rejects BigInt literals; these
	// are the other ways to make one.
	for _, name := range []string{"BigInt", "BigInt64Array", "BigUint64Array", "GoError"} {
		_ = g.Delete(name)
	}
	dv := sb.get("DataView.prototype")
	for _, name := range []string{"getBigInt64", "getBigUint64", "setBigInt64", "setBigUint64"} {
		_ = dv.Delete(name)
	}

	sb.installGuards(g, intrinsics)
	sb.installHostAPI()

	if testInstall != nil {
		testInstall(sb, g)
	}
	sb.tameOverrides(intrinsics)
	harden := mustFunc(kit.Get("harden"))
	call(harden, goja.Undefined(), vm.NewArray(g, intrinsics, sb.recordProto, sb.modelProto, sb.logFn, sb.console))
}

func mustFunc(v goja.Value) goja.Callable {
	f, ok := goja.AssertFunction(v)
	if !ok {
		panic("not a function")
	}
	return f
}

// native wraps a Go function as a JS function with the given name and
// length, like goja's own built-ins.
func (sb *sandbox) native(name string, length int, f func(goja.FunctionCall) goja.Value) *goja.Object {
	o := sb.vm.ToValue(f).(*goja.Object)
	_ = o.DefineDataProperty("name", sb.vm.ToValue(name), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	_ = o.DefineDataProperty("length", sb.vm.ToValue(length), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	return o
}

// method installs f as o[name], with the attributes built-in methods have.
func (sb *sandbox) method(o *goja.Object, name string, length int, f func(goja.FunctionCall) goja.Value) *goja.Object {
	fn := sb.native(name, length, f)
	if err := o.DefineDataProperty(name, fn, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE); err != nil {
		panic(err)
	}
	return fn
}

func (sb *sandbox) disableDynamicCode(g, intrinsics *goja.Object) {
	vm := sb.vm
	thrower := func(name string, proto goja.Value) *goja.Object {
		f := sb.native(name, 1, func(goja.FunctionCall) goja.Value {
			o, _ := sb.evalError(nil, vm.ToValue("dynamic code evaluation ("+name+") is disabled in webhook scripts"))
			panic(o)
		})
		if proto != nil {
			_ = f.DefineDataProperty("prototype", proto, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
			_ = proto.(*goja.Object).DefineDataProperty("constructor", f, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
		}
		return f
	}
	fnProto := sb.get("Function.prototype")
	_ = g.DefineDataProperty("Function", thrower("Function", fnProto), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	_ = g.DefineDataProperty("eval", thrower("eval", nil), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	for _, name := range []string{"GeneratorFunction", "AsyncFunction"} { // goja has no async generators
		thrower(name, intrinsics.Get(name+"Prototype"))
	}
}

// tameOverrides turns a few data properties of the intrinsic prototypes
// into accessor pairs, as SES does: once Object.prototype is frozen,
// assigning obj.toString or err.name on an ordinary object would otherwise
// fail ("the override mistake"), because the inherited property is
// read-only. The setter defines an own property on the receiver instead.
func (sb *sandbox) tameOverrides(intrinsics *goja.Object) {
	vm := sb.vm
	names := []string{"constructor", "name", "message", "toString", "valueOf", "toLocaleString",
		"toJSON", "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable"}
	list := intrinsics.Get("prototypes").(*goja.Object)
	protos := []*goja.Object{sb.recordProto, sb.modelProto}
	for i := int64(0); i < list.Get("length").ToInteger(); i++ {
		protos = append(protos, list.Get(itoa(i)).(*goja.Object))
	}
	for _, proto := range protos {
		for _, name := range names {
			d := call(sb.getOwnDesc, goja.Undefined(), proto, vm.ToValue(name))
			desc, ok := d.(*goja.Object)
			if !ok || !desc.Get("configurable").ToBoolean() {
				continue
			}
			value := desc.Get("value")
			if value == nil || goja.IsUndefined(desc.Get("writable")) {
				continue // an accessor already
			}
			name, proto, value := name, proto, value
			getter := sb.native("get "+name, 0, func(goja.FunctionCall) goja.Value { return value })
			sb.tamed[getter] = value
			setter := sb.native("set "+name, 1, func(c goja.FunctionCall) goja.Value {
				this, ok := c.This.(*goja.Object)
				if !ok || this == proto {
					sb.throwType("Cannot assign to read only property '" + name + "' of a built-in prototype")
				}
				if err := this.DefineDataProperty(name, c.Argument(0), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE); err != nil {
					sb.throwType(err.Error())
				}
				return goja.Undefined()
			})
			if err := proto.DefineAccessorProperty(name, getter, setter, goja.FLAG_TRUE, goja.FLAG_FALSE); err != nil {
				panic(err)
			}
		}
	}
}

var proxyExportType = reflect.TypeOf(goja.Proxy{})
