package script

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/dlclark/regexp2/v2"
	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"
)

// The guards: goja's built-ins are Go code that vm.Interrupt cannot stop,
// and several of them do work or allocate memory in proportion to a number
// the script chooses rather than to data it already holds ('x'.repeat(2**40),
// Array.prototype.indexOf.call({length: 2**53-1}), new ArrayBuffer(2**31),
// a 20-level array of itself joined to 2**20 copies). Each such built-in
// is replaced, on every sandbox, by one of:
//
//   - a pre-check, then the original: the size of the result or the number
//     of loop iterations is computed from the arguments before anything is
//     allocated, and a RangeError thrown when it is over the run's limit
//     (repeat, padStart/padEnd, split, normalize, case mapping, typed array
//     and ArrayBuffer constructors, apply/construct argument lists, and every
//     Array.prototype method that loops up to this.length, whose receiver may
//     be a sparse array or a plain {length: 1e15});
//   - a reimplementation in Go that counts what it produces and checks the
//     run's stop flag as it goes (join/toString, concat, flat, String.raw,
//     JSON.stringify, and the expansion of "$&"-style replacement patterns);
//   - a checkpoint: a Go function the original calls back for every step
//     (the default sort comparator, RegExp.prototype.exec which every other
//     RegExp method goes through once exec is replaced).
//
// The limits scale with Limits.MaxMemory (M): strings up to M/4 UTF-16
// units, arrays and array-likes up to M/64 elements in built-ins, buffers
// up to M/2 bytes. A script that needs more than that gets a RangeError it
// can catch; a script that gets there by many small steps is stopped by the
// memory watchdog instead.

// regexpMatchTimeout bounds one backtracking (regexp2) match. goja turns
// regexp2's timeout into "no match"; the exec guard turns it into an error.
const regexpMatchTimeout = 100 * time.Millisecond

func (sb *sandbox) lim() *limits { return sb.cur.lim }

func (sb *sandbox) thisObject(c goja.FunctionCall) *goja.Object {
	if goja.IsUndefined(c.This) || goja.IsNull(c.This) {
		return nil
	}
	return c.This.ToObject(sb.vm)
}

// guardLength replaces o[name] by a function that checks this.length first.
func (sb *sandbox) guardLength(o *goja.Object, name string, typed bool) *goja.Object {
	origV := o.Get(name).(*goja.Object)
	orig := mustFunc(origV)
	length := int(origV.Get("length").ToInteger())
	what := "the array"
	if typed {
		what = "the typed array"
	}
	return sb.method(o, name, length, func(c goja.FunctionCall) goja.Value {
		if this := sb.thisObject(c); this != nil {
			sb.lengthOf(this, sb.lim().maxElems, what)
		}
		return call(orig, c.This, c.Arguments...)
	})
}

func (sb *sandbox) installGuards(g, intrinsics *goja.Object) {
	vm := sb.vm
	ap := sb.get("Array.prototype")
	for _, name := range []string{"copyWithin", "entries", "every", "fill", "filter", "find",
		"findIndex", "findLast", "findLastIndex", "flatMap", "forEach", "includes", "indexOf",
		"keys", "lastIndexOf", "map", "reduce", "reduceRight", "reverse", "shift", "slice",
		"some", "splice", "unshift", "with", "toReversed", "toSpliced"} {
		sb.guardLength(ap, name, false)
	}
	values := sb.guardLength(ap, "values", false)
	must(ap.DefineDataPropertySymbol(goja.SymIterator, values, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE))
	sb.method(ap, "concat", 1, sb.arrayConcat(mustFunc(ap.Get("concat"))))
	sb.method(ap, "join", 1, sb.join)
	toString := sb.method(ap, "toString", 0, sb.arrayToString)
	sb.method(ap, "toLocaleString", 0, sb.toLocaleString)
	sb.method(ap, "flat", 0, sb.flat)
	sb.method(ap, "sort", 1, sb.sortWith(mustFunc(ap.Get("sort")), false))
	sb.method(ap, "toSorted", 1, sb.sortWith(mustFunc(ap.Get("toSorted")), false))

	// Typed arrays: their length is real memory (bounded by the buffer
	// limit), so only what amplifies it or sorts it is guarded.
	tap := intrinsics.Get("TypedArray").(*goja.Object).Get("prototype").(*goja.Object)
	sb.guardLength(tap, "entries", true)
	sb.guardLength(tap, "keys", true)
	tvalues := sb.guardLength(tap, "values", true)
	must(tap.DefineDataPropertySymbol(goja.SymIterator, tvalues, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE))
	sb.method(tap, "join", 1, sb.join)
	must(tap.DefineDataProperty("toString", toString, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE))
	sb.method(tap, "toLocaleString", 0, sb.toLocaleString)
	sb.method(tap, "sort", 1, sb.sortWith(mustFunc(tap.Get("sort")), true))
	sb.method(tap, "toSorted", 1, sb.sortWith(mustFunc(tap.Get("toSorted")), true))

	arr := sb.get("Array")
	sb.method(arr, "from", 1, sb.arrayFrom(mustFunc(arr.Get("from"))))

	sb.installStringGuards()
	sb.installRegExpGuards(g)
	sb.installBufferGuards(g, intrinsics)
	sb.installObjectGuards()
	sb.installJSON()

	// Argument lists built from array-likes.
	fp := sb.get("Function.prototype")
	apply := mustFunc(fp.Get("apply"))
	sb.method(fp, "apply", 2, func(c goja.FunctionCall) goja.Value {
		sb.checkArgList(c.Argument(1))
		return call(apply, c.This, c.Arguments...)
	})
	refl := sb.get("Reflect")
	rapply := mustFunc(refl.Get("apply"))
	sb.method(refl, "apply", 3, func(c goja.FunctionCall) goja.Value {
		sb.checkArgList(c.Argument(2))
		return call(rapply, c.This, c.Arguments...)
	})
	rconstruct := mustFunc(refl.Get("construct"))
	sb.method(refl, "construct", 2, func(c goja.FunctionCall) goja.Value {
		sb.checkArgList(c.Argument(1))
		return call(rconstruct, c.This, c.Arguments...)
	})
	rownKeys := mustFunc(refl.Get("ownKeys"))
	sb.method(refl, "ownKeys", 1, func(c goja.FunctionCall) goja.Value {
		sb.checkIndexed(c.Argument(0))
		return call(rownKeys, c.This, c.Arguments...)
	})

	// Symbol.for's registry is per runtime and never shrinks; a pooled
	// runtime would keep every key any run registered (a script could park
	// megabytes there). The sandbox's registry is per run instead, which
	// no script can tell apart: nothing else survives a run either.
	symbol := sb.get("Symbol")
	newSymbol := mustFunc(symbol)
	sb.method(symbol, "for", 1, func(c goja.FunctionCall) goja.Value {
		key := sb.str(c.Argument(0)).String()
		r := sb.cur
		if s, ok := r.symbols[key]; ok {
			return s
		}
		if r.symbols == nil {
			r.symbols = map[string]*goja.Symbol{}
		}
		s := call(newSymbol, goja.Undefined(), vm.ToValue(key)).(*goja.Symbol)
		r.symbols[key] = s
		return s
	})
	sb.method(symbol, "keyFor", 1, func(c goja.FunctionCall) goja.Value {
		s, ok := c.Argument(0).(*goja.Symbol)
		if !ok {
			sb.throwType(sb.str(c.Argument(0)).String() + " is not a symbol")
		}
		for k, v := range sb.cur.symbols {
			if v == s {
				return vm.ToValue(k)
			}
		}
		return goja.Undefined()
	})

	// URI coding and escape() expand each UTF-16 unit to up to 6-9 chars.
	for _, name := range []string{"encodeURI", "encodeURIComponent", "escape"} {
		orig := mustFunc(g.Get(name))
		name := name
		_ = g.DefineDataProperty(name, sb.native(name, 1, func(c goja.FunctionCall) goja.Value {
			s := sb.str(c.Argument(0))
			sb.checkStringLen(int64(stringLength(s))*9, "the result of "+name)
			return call(orig, c.This, s)
		}), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func stringLength(v goja.Value) int {
	if s, ok := v.(goja.String); ok {
		return s.Length()
	}
	return len(v.String())
}

func (sb *sandbox) checkStringLen(n int64, what string) {
	if n > int64(sb.lim().maxStringLen) {
		sb.throwRange(fmt.Sprintf("Invalid string length: %s would be longer than the sandbox allows (%d)", what, sb.lim().maxStringLen))
	}
}

func (sb *sandbox) checkArgList(v goja.Value) {
	if o, ok := v.(*goja.Object); ok {
		sb.lengthOf(o, sb.lim().maxArgs, "the argument list")
	}
}

// checkIndexed rejects enumerating the keys of huge strings, arrays and
// typed arrays: every index becomes a string key (~40 bytes each).
func (sb *sandbox) checkIndexed(v goja.Value) {
	switch x := v.(type) {
	case goja.String:
		if x.Length() > sb.lim().maxElems {
			sb.throwRange(fmt.Sprintf("the string has %d characters, more keys than the sandbox allows (%d)", x.Length(), sb.lim().maxElems))
		}
	case *goja.Object:
		if sb.isProxy(x) {
			return
		}
		switch x.ClassName() {
		case "Array", "String", "Arguments", "Int8Array", "Uint8Array", "Uint8ClampedArray",
			"Int16Array", "Uint16Array", "Int32Array", "Uint32Array", "Float32Array", "Float64Array":
			sb.lengthOf(x, sb.lim().maxElems, "the object")
		}
	}
}

func (sb *sandbox) installObjectGuards() {
	obj := sb.get("Object")
	for _, name := range []string{"keys", "values", "entries", "getOwnPropertyNames", "getOwnPropertyDescriptors", "freeze", "seal", "isFrozen", "isSealed"} {
		orig := mustFunc(obj.Get(name))
		sb.method(obj, name, 1, func(c goja.FunctionCall) goja.Value {
			sb.checkIndexed(c.Argument(0))
			return call(orig, c.This, c.Arguments...)
		})
	}
	assign := mustFunc(obj.Get("assign"))
	sb.method(obj, "assign", 2, func(c goja.FunctionCall) goja.Value {
		for _, a := range c.Arguments {
			sb.checkIndexed(a)
		}
		return call(assign, c.This, c.Arguments...)
	})
}

// --- arrays -----------------------------------------------------------------

func (sb *sandbox) arrayConcat(orig goja.Callable) func(goja.FunctionCall) goja.Value {
	return func(c goja.FunctionCall) goja.Value {
		total := int64(0)
		add := func(v goja.Value) {
			o, ok := v.(*goja.Object)
			if !ok {
				total++
				return
			}
			spreadable := o.GetSymbol(goja.SymIsConcatSpreadable)
			if (spreadable != nil && !goja.IsUndefined(spreadable) && spreadable.ToBoolean()) ||
				((spreadable == nil || goja.IsUndefined(spreadable)) && sb.isArray(o)) {
				total += sb.lengthOf(o, sb.lim().maxElems, "the array")
			} else {
				total++
			}
			if total > int64(sb.lim().maxElems) {
				sb.throwRange(fmt.Sprintf("concat would make an array of more than %d elements", sb.lim().maxElems))
			}
		}
		if this := sb.thisObject(c); this != nil {
			add(this)
		}
		for _, a := range c.Arguments {
			add(a)
		}
		return call(orig, c.This, c.Arguments...)
	}
}

// join is Array.prototype.join and %TypedArray%.prototype.join: the spec
// algorithm, with the result length bounded and a cycle check (a cyclic
// array joins as "", as in other engines).
func (sb *sandbox) join(c goja.FunctionCall) goja.Value {
	this := sb.thisObject(c)
	if this == nil {
		sb.throwType("Array.prototype.join called on null or undefined")
	}
	n := sb.lengthOf(this, sb.lim().maxElems, "the array")
	sep := goja.Value(sb.vm.ToValue(","))
	if a := c.Argument(0); !goja.IsUndefined(a) {
		sep = sb.str(a)
	}
	if sb.enterJoin(this) {
		return sb.vm.ToValue("")
	}
	defer sb.leaveJoin()

	var b goja.StringBuilder
	max := int64(sb.lim().maxStringLen)
	size := int64(0)
	sepS := sep.(goja.String)
	for i := int64(0); i < n; i++ {
		if i&1023 == 1023 {
			sb.checkpoint()
		}
		if i > 0 {
			size += int64(sepS.Length())
			sb.checkJoinSize(size, max)
			b.WriteString(sepS)
		}
		e := this.Get(itoa(i))
		if e == nil || goja.IsUndefined(e) || goja.IsNull(e) {
			continue
		}
		s := sb.str(e)
		size += int64(s.Length())
		sb.checkJoinSize(size, max)
		b.WriteString(s)
	}
	return b.String()
}

// enterJoin pushes o on the stack of arrays being joined; it reports a
// cycle (the array is already being joined). Nested joins recurse in Go,
// so their depth is bounded like JSON's.
func (sb *sandbox) enterJoin(o *goja.Object) (cycle bool) {
	for _, j := range sb.joinStack {
		if j == o {
			return true
		}
	}
	if len(sb.joinStack) >= maxDepth {
		sb.throwRange(fmt.Sprintf("arrays nested deeper than %d levels cannot be joined", maxDepth))
	}
	sb.joinStack = append(sb.joinStack, o)
	return false
}

func (sb *sandbox) leaveJoin() { sb.joinStack = sb.joinStack[:len(sb.joinStack)-1] }

func (sb *sandbox) checkJoinSize(size, max int64) {
	if size > max {
		sb.throwRange(fmt.Sprintf("Invalid string length: the joined string would be longer than the sandbox allows (%d)", max))
	}
}

func itoa(i int64) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return fmt.Sprint(i)
}

func (sb *sandbox) arrayToString(c goja.FunctionCall) goja.Value {
	this := sb.thisObject(c)
	if this == nil {
		sb.throwType("Array.prototype.toString called on null or undefined")
	}
	if f, ok := goja.AssertFunction(this.Get("join")); ok {
		return call(f, this)
	}
	return sb.vm.ToValue("[object " + this.ClassName() + "]")
}

func (sb *sandbox) toLocaleString(c goja.FunctionCall) goja.Value {
	this := sb.thisObject(c)
	if this == nil {
		sb.throwType("toLocaleString called on null or undefined")
	}
	n := sb.lengthOf(this, sb.lim().maxElems, "the array")
	if sb.enterJoin(this) {
		return sb.vm.ToValue("")
	}
	defer sb.leaveJoin()
	var b goja.StringBuilder
	max := int64(sb.lim().maxStringLen)
	size := int64(0)
	for i := int64(0); i < n; i++ {
		if i > 0 {
			size++
			b.WriteRune(',')
		}
		e := this.Get(itoa(i))
		if e == nil || goja.IsUndefined(e) || goja.IsNull(e) {
			continue
		}
		eo := e.ToObject(sb.vm)
		f, ok := goja.AssertFunction(eo.Get("toLocaleString"))
		if !ok {
			sb.throwType("toLocaleString is not a function")
		}
		s := sb.str(call(f, e))
		size += int64(s.Length())
		sb.checkJoinSize(size, max)
		b.WriteString(s)
	}
	return b.String()
}

// flat is Array.prototype.flat with the output size bounded: nested arrays
// that share elements (a = [a0, a0], twenty levels deep) would otherwise
// flatten to millions of elements in one call.
func (sb *sandbox) flat(c goja.FunctionCall) goja.Value {
	this := sb.thisObject(c)
	if this == nil {
		sb.throwType("Array.prototype.flat called on null or undefined")
	}
	depth := 1.0
	if d := c.Argument(0); !goja.IsUndefined(d) {
		depth = d.ToNumber().ToFloat()
		if depth != depth || depth < 0 {
			depth = 0
		}
	}
	var out []any
	max := sb.lim().maxElems
	var walk func(o *goja.Object, depth float64, level int)
	walk = func(o *goja.Object, depth float64, level int) {
		if level > maxDepth {
			sb.throwRange("Array.prototype.flat: arrays nested too deeply")
		}
		n := sb.lengthOf(o, max, "the array")
		for i := int64(0); i < n; i++ {
			if len(out)&1023 == 1023 {
				sb.checkpoint()
			}
			key := itoa(i)
			if !sb.has(o, key) {
				continue
			}
			e := o.Get(key)
			if eo, ok := e.(*goja.Object); ok && depth > 0 && sb.isArray(eo) {
				walk(eo, depth-1, level+1)
				continue
			}
			if len(out) >= max {
				sb.throwRange(fmt.Sprintf("Array.prototype.flat would make an array of more than %d elements", max))
			}
			out = append(out, e)
		}
	}
	walk(this, depth, 0)
	return sb.vm.NewArray(out...)
}

// has is the "in" operator (HasProperty).
func (sb *sandbox) has(o *goja.Object, key string) bool {
	return call(sb.hasFn, goja.Undefined(), o, sb.vm.ToValue(key)).ToBoolean()
}

// sortWith wraps sort/toSorted: with no comparator, it passes a native one
// implementing the default order that checks the stop flag on every call,
// so sorting a large array stays interruptible.
func (sb *sandbox) sortWith(orig goja.Callable, typed bool) func(goja.FunctionCall) goja.Value {
	var cmp goja.Value
	if typed {
		cmp = sb.native("compare", 2, func(c goja.FunctionCall) goja.Value {
			sb.sortSteps()
			x, y := c.Argument(0).ToFloat(), c.Argument(1).ToFloat()
			switch {
			case x != x && y != y:
				return sb.vm.ToValue(0)
			case x != x:
				return sb.vm.ToValue(1)
			case y != y:
				return sb.vm.ToValue(-1)
			case x < y:
				return sb.vm.ToValue(-1)
			case x > y:
				return sb.vm.ToValue(1)
			case x == 0 && y == 0:
				sx, sy := math.Signbit(x), math.Signbit(y)
				if sx && !sy {
					return sb.vm.ToValue(-1)
				}
				if !sx && sy {
					return sb.vm.ToValue(1)
				}
			}
			return sb.vm.ToValue(0)
		})
	} else {
		cmp = sb.native("compare", 2, func(c goja.FunctionCall) goja.Value {
			sb.sortSteps()
			x := sb.str(c.Argument(0))
			y := sb.str(c.Argument(1))
			return sb.vm.ToValue(x.CompareTo(y))
		})
	}
	return func(c goja.FunctionCall) goja.Value {
		if this := sb.thisObject(c); this != nil && !typed {
			sb.lengthOf(this, sb.lim().maxElems, "the array")
		}
		if f := c.Argument(0); goja.IsUndefined(f) {
			return call(orig, c.This, cmp)
		}
		return call(orig, c.This, c.Arguments...)
	}
}

func (sb *sandbox) sortSteps() {
	sb.steps++
	if sb.steps&255 == 0 {
		sb.checkpoint()
	}
}

func (sb *sandbox) arrayFrom(orig goja.Callable) func(goja.FunctionCall) goja.Value {
	return func(c goja.FunctionCall) goja.Value {
		items := c.Argument(0)
		switch x := items.(type) {
		case goja.String:
			if x.Length() > sb.lim().maxElems {
				sb.throwRange(fmt.Sprintf("Array.from: the string has %d characters, more than the sandbox allows (%d)", x.Length(), sb.lim().maxElems))
			}
		case *goja.Object:
			if it := x.GetSymbol(goja.SymIterator); it == nil || goja.IsUndefined(it) || goja.IsNull(it) {
				sb.lengthOf(x, sb.lim().maxElems, "the array-like")
			}
		}
		return call(orig, c.This, c.Arguments...)
	}
}

// --- strings ----------------------------------------------------------------

func (sb *sandbox) thisString(c goja.FunctionCall, name string) goja.String {
	if goja.IsUndefined(c.This) || goja.IsNull(c.This) {
		sb.throwType("String.prototype." + name + " called on null or undefined")
	}
	return sb.str(c.This)
}

func (sb *sandbox) installStringGuards() {
	vm := sb.vm
	sp := sb.get("String.prototype")
	orig := func(name string) goja.Callable { return mustFunc(sp.Get(name)) }

	// repeat and padStart/padEnd: goja builds the result one copy of the
	// string at a time, which for a one-character string is tens of
	// nanoseconds per character, uninterruptible. These check the result
	// size first and build it by doubling (O(log n) copies of growing
	// chunks, each a memmove).
	sb.method(sp, "repeat", 1, func(c goja.FunctionCall) goja.Value {
		s := sb.thisString(c, "repeat")
		n := c.Argument(0).ToNumber().ToFloat()
		if n < 0 || math.IsInf(n, 1) {
			sb.throwRange("Invalid count value: " + c.Argument(0).String())
		}
		n = math.Trunc(n)
		if n != n || n == 0 || s.Length() == 0 {
			return vm.ToValue("")
		}
		sb.checkStringLen(int64(min(float64(s.Length())*n, math.MaxInt64/2)), "the repeated string")
		return sb.repeatString(s, int(n))
	})
	for _, name := range []string{"padStart", "padEnd"} {
		name := name
		sb.method(sp, name, 1, func(c goja.FunctionCall) goja.Value {
			s := sb.thisString(c, name)
			maxLen := c.Argument(0).ToNumber().ToFloat()
			if maxLen != maxLen || maxLen <= float64(s.Length()) {
				return s
			}
			filler := vm.ToValue(" ").(goja.String)
			if f := c.Argument(1); !goja.IsUndefined(f) {
				filler = sb.str(f)
			}
			if filler.Length() == 0 {
				return s
			}
			sb.checkStringLen(int64(min(math.Trunc(maxLen), math.MaxInt64/2)), "the padded string")
			remaining := int(maxLen) - s.Length()
			pad := sb.repeatString(filler, remaining/filler.Length())
			if rest := remaining % filler.Length(); rest > 0 {
				pad = pad.Concat(filler.Substring(0, rest))
			}
			if name == "padStart" {
				return pad.Concat(s)
			}
			return s.Concat(pad)
		})
	}
	for _, name := range []string{"toUpperCase", "toLowerCase", "toLocaleUpperCase", "toLocaleLowerCase", "normalize"} {
		fn := orig(name)
		name := name
		factor := int64(3) // case mapping expands a UTF-16 unit to at most 3
		if name == "normalize" {
			factor = 18 // NFKD/NFKC: U+FDFA becomes 18 characters
		}
		sb.method(sp, name, 0, func(c goja.FunctionCall) goja.Value {
			s := sb.thisString(c, name)
			if int64(s.Length())*factor > int64(sb.lim().maxStringLen) && !isASCII(s) {
				sb.checkStringLen(math.MaxInt64, "the result of "+name)
			}
			return call(fn, s, c.Arguments...)
		})
	}
	sb.method(sp, "concat", 1, func(c goja.FunctionCall) goja.Value {
		s := sb.thisString(c, "concat")
		var b goja.StringBuilder
		b.WriteString(s)
		size := int64(s.Length())
		for _, a := range c.Arguments {
			as := sb.str(a)
			size += int64(as.Length())
			sb.checkStringLen(size, "the concatenated string")
			b.WriteString(as)
		}
		return b.String()
	})
	split := orig("split")
	sb.method(sp, "split", 2, func(c goja.FunctionCall) goja.Value {
		sep, limit := c.Argument(0), c.Argument(1)
		if o, ok := sep.(*goja.Object); ok {
			if f := o.GetSymbol(goja.SymSplit); f != nil && !goja.IsUndefined(f) && !goja.IsNull(f) {
				return call(split, c.This, c.Arguments...) // RegExp.prototype[@@split]: goes through exec
			}
		}
		s := sb.thisString(c, "split")
		lim := uint32(math.MaxUint32)
		if !goja.IsUndefined(limit) {
			lim = toUint32(limit.ToNumber().ToFloat())
		}
		sepS := sb.str(sep)
		var pieces int64
		if sepS.Length() == 0 {
			pieces = int64(s.Length())
		} else {
			pieces = int64(strings.Count(s.String(), sepS.String())) + 1
		}
		pieces = min(pieces, int64(lim))
		if pieces > int64(sb.lim().maxElems) {
			sb.throwRange(fmt.Sprintf("split would make an array of %d elements, more than the sandbox allows (%d)", pieces, sb.lim().maxElems))
		}
		return call(split, s, sepS, vm.ToValue(int64(lim)))
	})
	for _, name := range []string{"replace", "replaceAll"} {
		fn := orig(name)
		name := name
		sb.method(sp, name, 2, func(c goja.FunctionCall) goja.Value {
			if goja.IsUndefined(c.This) || goja.IsNull(c.This) {
				sb.throwType("String.prototype." + name + " called on null or undefined")
			}
			return call(fn, c.This, c.Argument(0), sb.boundedReplacer(c.Argument(1)))
		})
	}
	for _, name := range []string{"match", "matchAll", "search"} {
		fn := orig(name)
		name := name
		sb.method(sp, name, 1, func(c goja.FunctionCall) goja.Value {
			if _, isObj := c.Argument(0).(*goja.Object); !isObj && !goja.IsUndefined(c.Argument(0)) {
				sb.checkPattern(sb.str(c.Argument(0)))
			}
			return call(fn, c.This, c.Arguments...)
		})
	}
	iter := mustFunc(sp.GetSymbol(goja.SymIterator))
	iterFn := sb.native("[Symbol.iterator]", 0, func(c goja.FunctionCall) goja.Value {
		s := sb.thisString(c, "[Symbol.iterator]")
		if s.Length() > sb.lim().maxElems {
			sb.throwRange(fmt.Sprintf("the string has %d characters, more than the sandbox iterates (%d)", s.Length(), sb.lim().maxElems))
		}
		return call(iter, s)
	})
	must(sp.DefineDataPropertySymbol(goja.SymIterator, iterFn, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE))

	str := sb.get("String")
	sb.method(str, "raw", 1, sb.stringRaw)
}

// repeatString is s repeated n times, built by doubling.
func (sb *sandbox) repeatString(s goja.String, n int) goja.String {
	result := sb.vm.ToValue("").(goja.String)
	chunk := s
	for n > 0 {
		if n&1 == 1 {
			result = result.Concat(chunk)
		}
		n >>= 1
		if n > 0 {
			chunk = chunk.Concat(chunk)
		}
	}
	return result
}

func toUint32(f float64) uint32 {
	if f != f || math.IsInf(f, 0) {
		return 0
	}
	return uint32(int64(math.Mod(math.Trunc(f), 1<<32)))
}

func isASCII(s goja.String) bool {
	for i, n := 0, s.Length(); i < n; i++ {
		if s.CharAt(i) >= 0x80 {
			return false
		}
	}
	return true
}

func (sb *sandbox) stringRaw(c goja.FunctionCall) goja.Value {
	tmpl := c.Argument(0).ToObject(sb.vm)
	raw := tmpl.Get("raw")
	if raw == nil || goja.IsUndefined(raw) || goja.IsNull(raw) {
		sb.throwType("String.raw: template.raw is not an object")
	}
	ro := raw.ToObject(sb.vm)
	n := sb.lengthOf(ro, sb.lim().maxElems, "template.raw")
	var b goja.StringBuilder
	size := int64(0)
	add := func(v goja.Value) {
		s := sb.str(v)
		size += int64(s.Length())
		sb.checkStringLen(size, "the raw string")
		b.WriteString(s)
	}
	for i := int64(0); i < n; i++ {
		if i&1023 == 1023 {
			sb.checkpoint()
		}
		add(ro.Get(itoa(i)))
		if i+1 < n && int(i+1) < len(c.Arguments) {
			add(c.Arguments[i+1])
		}
	}
	return b.String()
}

// boundedReplacer turns a replacement string into a native replacer
// function that expands "$&", "$`", "$'", "$1" and "$<name>" itself
// (GetSubstitution, ECMA-262 22.1.3.19.1), computing each replacement's
// length before building it and stopping once the replacements add up to
// more than the string limit ("$`" on a long string is quadratic).
// Functions are passed through: they are the script's own code and
// interruptible.
func (sb *sandbox) boundedReplacer(r goja.Value) goja.Value {
	if _, ok := goja.AssertFunction(r); ok {
		return r
	}
	tmpl := sb.str(r)
	if !strings.Contains(tmpl.String(), "$") {
		return tmpl // costs no more than its length per match
	}
	parts := parseReplacement(tmpl)
	total := int64(0)
	return sb.native("replacer", 0, func(c goja.FunctionCall) goja.Value {
		sb.checkpoint()
		args := c.Arguments
		matched := sb.str(args[0])
		i := 1
		for i < len(args) && !goja.IsNumber(args[i]) {
			i++
		}
		captures := args[1:i]
		pos := int(args[i].ToInteger())
		str := sb.str(args[i+1])
		var groups *goja.Object
		if i+2 < len(args) {
			groups, _ = args[i+2].(*goja.Object)
		}
		tail := min(pos+matched.Length(), str.Length())
		pieces := make([]goja.String, 0, len(parts))
		size := int64(0)
		for _, p := range parts {
			var piece goja.String
			switch p.kind {
			case partLiteral:
				piece = p.text
			case partMatch:
				piece = matched
			case partBefore:
				size += int64(min(pos, str.Length()))
				sb.checkReplacement(total + size)
				piece = str.Substring(0, min(pos, str.Length()))
			case partAfter:
				size += int64(str.Length() - tail)
				sb.checkReplacement(total + size)
				piece = str.Substring(tail, str.Length())
			case partCapture:
				// $nn if 1 <= nn <= captures, else $n and a literal digit;
				// $n is the capture if 1 <= n <= captures, else literal.
				d, m := p.digits, len(captures)
				if len(d) == 2 {
					if nn := int(d[0]-'0')*10 + int(d[1]-'0'); nn >= 1 && nn <= m {
						piece = sb.captureText(captures[nn-1])
						break
					}
				}
				if n := int(d[0] - '0'); n >= 1 && n <= m {
					piece = sb.captureText(captures[n-1])
				} else {
					piece = asString("$" + d[:1])
				}
				if len(d) == 2 {
					piece = piece.Concat(asString(d[1:]))
				}
			case partGroup:
				if groups == nil {
					piece = p.text
				} else if v := groups.Get(p.name); v != nil && !goja.IsUndefined(v) {
					piece = sb.str(v)
				}
			}
			if piece == nil {
				continue
			}
			if p.kind != partBefore && p.kind != partAfter {
				size += int64(piece.Length())
			}
			pieces = append(pieces, piece)
		}
		total += size
		sb.checkReplacement(total)
		var b goja.StringBuilder
		for _, piece := range pieces {
			b.WriteString(piece)
		}
		return b.String()
	})
}

func (sb *sandbox) checkReplacement(n int64) {
	sb.checkStringLen(n, "the replaced string")
}

const (
	partLiteral = iota
	partMatch   // $&
	partBefore  // $`
	partAfter   // $'
	partCapture // $n, $nn
	partGroup   // $<name>
)

type replacementPart struct {
	kind   int
	text   goja.String // literal text; for groups, the text to use when there are no named groups
	digits string      // partCapture: one or two digits
	name   string      // partGroup
}

func parseReplacement(tmpl goja.String) []replacementPart {
	t := tmpl.String()
	var parts []replacementPart
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, replacementPart{kind: partLiteral, text: asString(lit.String())})
			lit.Reset()
		}
	}
	for i := 0; i < len(t); i++ {
		if t[i] != '$' || i+1 >= len(t) {
			lit.WriteByte(t[i])
			continue
		}
		next := t[i+1]
		switch {
		case next == '$':
			lit.WriteByte('$')
			i++
		case next == '&' || next == '`' || next == '\'':
			flush()
			kind := partMatch
			if next == '`' {
				kind = partBefore
			} else if next == '\'' {
				kind = partAfter
			}
			parts = append(parts, replacementPart{kind: kind})
			i++
		case next >= '0' && next <= '9':
			flush()
			if i+2 < len(t) && t[i+2] >= '0' && t[i+2] <= '9' {
				// Two digits: $nn if there are that many captures, else
				// $n followed by a literal digit; decided per match.
				parts = append(parts, replacementPart{kind: partCapture, digits: t[i+1 : i+3]})
				i += 2
			} else {
				parts = append(parts, replacementPart{kind: partCapture, digits: t[i+1 : i+2]})
				i++
			}
		case next == '<':
			end := strings.IndexByte(t[i+2:], '>')
			if end < 0 {
				lit.WriteString("$<")
				i++
				continue
			}
			flush()
			parts = append(parts, replacementPart{kind: partGroup, name: t[i+2 : i+2+end], text: asString(t[i : i+3+end])})
			i += 2 + end
		default:
			lit.WriteByte('$')
		}
	}
	flush()
	return parts
}

func (sb *sandbox) captureText(v goja.Value) goja.String {
	if v == nil || goja.IsUndefined(v) {
		return asString("")
	}
	return sb.str(v)
}

func asString(s string) goja.String { return goja.StringFromUTF16(utf16.Encode([]rune(s))) }

// --- regular expressions ----------------------------------------------------

func (sb *sandbox) checkPattern(s goja.Value) {
	if n := stringLength(s); n > sb.lim().maxPattern {
		sb.throwRange(fmt.Sprintf("the regular expression is %d characters long, more than the sandbox allows (%d)", n, sb.lim().maxPattern))
	}
}

func (sb *sandbox) installRegExpGuards(g *goja.Object) {
	vm := sb.vm
	origObj := sb.get("RegExp")
	origNew, _ := goja.AssertConstructor(origObj)
	proto := origObj.Get("prototype").(*goja.Object)
	wrapper := sb.wrapConstructor(origObj, "RegExp", 2, func(c goja.ConstructorCall) *goja.Object {
		if p := c.Argument(0); !sb.isRegExp(p) && !goja.IsUndefined(p) {
			sb.checkPattern(sb.str(p))
		}
		// goja passes a nil NewTarget both for "new RegExp()" and for
		// "RegExp()"; constructing is right for both but for the corner
		// case RegExp(re) === re.
		o, err := origNew(c.NewTarget, c.Arguments...)
		if err != nil {
			rethrow(err)
		}
		return o
	}, true)
	_ = g.DefineDataProperty("RegExp", wrapper, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)

	compile := mustFunc(proto.Get("compile"))
	sb.method(proto, "compile", 2, func(c goja.FunctionCall) goja.Value {
		if p := c.Argument(0); !sb.isRegExp(p) && !goja.IsUndefined(p) {
			sb.checkPattern(sb.str(p))
		}
		if o, ok := c.This.(*goja.Object); ok {
			delete(sb.cur.regexps, o) // the pattern changes
		}
		return call(compile, c.This, c.Arguments...)
	})

	// Every RegExp method reaches the matcher through exec once exec is
	// not the original (goja then leaves its fast paths), so this is the
	// one place to bound matching: a work estimate before (Go's RE2 engine
	// is linear in the input but also in the pattern size, with no
	// timeout), the stop flag, and a clock after (goja reports a regexp2
	// timeout as "no match"; a wrong answer must not pass silently).
	exec := mustFunc(proto.Get("exec"))
	sb.method(proto, "exec", 1, func(c goja.FunctionCall) goja.Value {
		sb.checkpoint()
		s := sb.str(c.Argument(0))
		rx, ok := c.This.(*goja.Object)
		if !ok || !sb.isRegExp(rx) {
			return call(exec, c.This, s)
		}
		info := sb.regexpInfo(rx)
		if work := int64(info.srcLen+16) * int64(s.Length()); work > sb.lim().maxRegexpWork {
			sb.throwRange(fmt.Sprintf("the regular expression (%d characters) is too expensive to run on a string of %d characters in the sandbox", info.srcLen, s.Length()))
		}
		if info.backtracking != nil && s.Length() > sb.lim().maxStringLen/4 {
			sb.throwRange(fmt.Sprintf("a regular expression with backreferences or lookaround cannot run on a string of %d characters in the sandbox", s.Length()))
		}
		lastIndex := int64(0)
		if info.global || info.sticky {
			lastIndex = rx.Get("lastIndex").ToInteger()
		}
		start := time.Now()
		res := call(exec, rx, s)
		if time.Since(start) >= regexpMatchTimeout {
			sb.throwRange(fmt.Sprintf("regular expression match took longer than %v", regexpMatchTimeout))
		}
		if goja.IsNull(res) && info.backtracking != nil {
			sb.recheckNoMatch(info, s, lastIndex)
		}
		return res
	})
	// goja's test calls the matcher directly; the spec's calls exec.
	sb.method(proto, "test", 1, func(c goja.FunctionCall) goja.Value {
		this, ok := c.This.(*goja.Object)
		if !ok {
			sb.throwType("RegExp.prototype.test called on a non-object")
		}
		s := sb.str(c.Argument(0))
		var res goja.Value
		if f, ok := goja.AssertFunction(this.Get("exec")); ok {
			res = call(f, this, s)
		} else {
			res = call(exec, this, s)
		}
		return vm.ToValue(!goja.IsNull(res))
	})
	replace := mustFunc(proto.GetSymbol(goja.SymReplace))
	replaceFn := sb.native("[Symbol.replace]", 2, func(c goja.FunctionCall) goja.Value {
		return call(replace, c.This, c.Argument(0), sb.boundedReplacer(c.Argument(1)))
	})
	must(proto.DefineDataPropertySymbol(goja.SymReplace, replaceFn, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE))
}

// regexpInfo describes a RegExp object for the exec guard: its source
// length, flags, and, when goja runs it with the backtracking regexp2
// engine (backreferences, lookaround, repeat counts over 1000), a regexp2
// compilation of it for recheckNoMatch.
type regexpInfo struct {
	srcLen         int
	global, sticky bool
	backtracking   *regexp2.Regexp
}

func (sb *sandbox) regexpInfo(rx *goja.Object) *regexpInfo {
	if info, ok := sb.cur.regexps[rx]; ok {
		return info
	}
	src := sb.str(rx.Get("source"))
	flags := sb.str(rx.Get("flags")).String()
	key := flags + "/" + src.String()
	info, ok := sb.regexpCache[key]
	if !ok {
		info = &regexpInfo{
			srcLen: src.Length(),
			global: strings.Contains(flags, "g"),
			sticky: strings.Contains(flags, "y"),
		}
		if needsBacktracking(src.String(), flags) {
			opts := regexp2.ECMAScript
			if strings.Contains(flags, "m") {
				opts |= regexp2.Multiline
			}
			if strings.Contains(flags, "s") {
				opts |= regexp2.Singleline
			}
			if strings.Contains(flags, "i") {
				opts |= regexp2.IgnoreCase
			}
			if strings.Contains(flags, "u") {
				opts |= regexp2.Unicode
			}
			if re, err := regexp2.Compile(src.String(), opts); err == nil {
				re.MatchTimeout = regexpMatchTimeout
				info.backtracking = re
			}
		}
		if len(sb.regexpCache) >= 256 {
			clear(sb.regexpCache)
		}
		sb.regexpCache[key] = info
	}
	if sb.cur.regexps == nil {
		sb.cur.regexps = map[*goja.Object]*regexpInfo{}
	}
	sb.cur.regexps[rx] = info
	return info
}

// needsBacktracking repeats goja's choice of engine (compileRegexp): Go's
// linear RE2 engine unless the pattern needs features it lacks.
func needsBacktracking(src, flags string) bool {
	re2, err := parser.TransformRegExp(src, strings.Contains(flags, "s"), strings.Contains(flags, "u"))
	if err != nil {
		var incompat parser.RegexpErrorIncompatible
		return errors.As(err, &incompat)
	}
	if _, err := regexp.Compile(re2); err != nil {
		var se *syntax.Error
		return errors.As(err, &se) && se.Code == syntax.ErrInvalidRepeatSize
	}
	return false
}

// recheckNoMatch: goja reports every regexp2 failure (timeout, backtracking
// stack exhausted) as "no match". After a backtracking pattern found no
// match, run it again here, where the error is visible, and throw instead
// of letting a wrong answer through (a validation regexp that "does not
// match" because it gave up must not pass bad input).
func (sb *sandbox) recheckNoMatch(info *regexpInfo, s goja.String, lastIndex int64) {
	n := s.Length()
	if lastIndex > int64(n) {
		return
	}
	runes := make([]rune, n)
	for i := 0; i < n; i++ {
		runes[i] = rune(s.CharAt(i))
	}
	if _, err := info.backtracking.FindRunesMatchStartingAt(runes, int(lastIndex)); err != nil {
		reason := fmt.Sprintf("it took longer than %v", regexpMatchTimeout)
		if errors.Is(err, regexp2.ErrBacktrackingStackLimit) {
			reason = "it backtracked too much"
		}
		sb.throwRange("regular expression match abandoned: " + reason)
	}
}

func (sb *sandbox) isRegExp(v goja.Value) bool {
	o, ok := v.(*goja.Object)
	return ok && o.ClassName() == "RegExp" && !sb.isProxy(o)
}

// wrapConstructor makes a native constructor standing in for orig: same
// name, length, prototype, statics and [[Prototype]], and orig.prototype's
// constructor pointing at it, so that orig is no longer reachable.
func (sb *sandbox) wrapConstructor(orig *goja.Object, name string, length int, f func(goja.ConstructorCall) *goja.Object, callable bool) *goja.Object {
	w := sb.vm.ToValue(f).(*goja.Object)
	_ = w.DefineDataProperty("name", sb.vm.ToValue(name), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	_ = w.DefineDataProperty("length", sb.vm.ToValue(length), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	proto := orig.Get("prototype").(*goja.Object)
	must(w.Set("prototype", proto))
	must(w.SetPrototype(orig.Prototype()))
	call(sb.copyStatics, goja.Undefined(), orig, w)
	must(proto.DefineDataProperty("constructor", w, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE))
	return w
}

// --- buffers ----------------------------------------------------------------

var typedArrayNames = []struct {
	name string
	size int64
}{
	{"Int8Array", 1}, {"Uint8Array", 1}, {"Uint8ClampedArray", 1}, {"Int16Array", 2},
	{"Uint16Array", 2}, {"Int32Array", 4}, {"Uint32Array", 4}, {"Float32Array", 4}, {"Float64Array", 8},
}

func (sb *sandbox) checkBytes(n float64, what string) {
	if n > float64(sb.lim().maxBuffer) {
		sb.throwRange(fmt.Sprintf("%s of %.0f bytes is larger than the sandbox allows (%d)", what, n, sb.lim().maxBuffer))
	}
}

func (sb *sandbox) installBufferGuards(g, intrinsics *goja.Object) {
	ab := sb.get("ArrayBuffer")
	abNew, _ := goja.AssertConstructor(ab)
	abw := sb.wrapConstructor(ab, "ArrayBuffer", 1, func(c goja.ConstructorCall) *goja.Object {
		sb.checkBytes(c.Argument(0).ToNumber().ToFloat(), "an ArrayBuffer")
		if opts, ok := c.Argument(1).(*goja.Object); ok {
			if m := opts.Get("maxByteLength"); m != nil && !goja.IsUndefined(m) {
				sb.checkBytes(m.ToNumber().ToFloat(), "an ArrayBuffer")
			}
		}
		o, err := abNew(c.NewTarget, c.Arguments...)
		if err != nil {
			rethrow(err)
		}
		return o
	}, false)
	_ = g.DefineDataProperty("ArrayBuffer", abw, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)

	for _, ta := range typedArrayNames {
		orig := sb.get(ta.name)
		origNew, _ := goja.AssertConstructor(orig)
		ta := ta
		w := sb.wrapConstructor(orig, ta.name, 3, func(c goja.ConstructorCall) *goja.Object {
			switch a := c.Argument(0).(type) {
			case *goja.Object:
				if a.ClassName() != "ArrayBuffer" { // a view of a buffer allocates nothing
					if it := a.GetSymbol(goja.SymIterator); it == nil || goja.IsUndefined(it) {
						n := sb.lengthOf(a, sb.lim().maxElems, "the array-like")
						sb.checkBytes(float64(n*ta.size), "a "+ta.name)
					}
				}
			default:
				if !goja.IsUndefined(a) {
					sb.checkBytes(a.ToNumber().ToFloat()*float64(ta.size), "a "+ta.name)
				}
			}
			o, err := origNew(c.NewTarget, c.Arguments...)
			if err != nil {
				rethrow(err)
			}
			return o
		}, false)
		_ = g.DefineDataProperty(ta.name, w, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
}
