package script

import (
	"fmt"
	"strings"

	"github.com/dop251/goja"
)

// JSON.stringify is reimplemented (ECMA-262 25.5.2) because goja's does
// its whole walk in Go: a structure that shares sub-objects (a = [a0, a0],
// thirty levels) serialises to gigabytes in one call, and one object with
// many undefined-valued keys visited many times spins without producing
// output. This version counts its output against the string limit, bounds
// nesting, and checks the run's stop flag as it walks. toJSON, replacer
// functions, getters and Proxy traps are the script's code and run as
// usual. The original is kept only to quote strings, where it is linear.
//
// JSON.parse keeps goja's parser but checks its input first: nesting
// (goja's parser recurses once per level; a string of 10^7 "[" overflows
// the goroutine stack and kills the process) and the number of values
// (each costs far more memory than its text).

func (sb *sandbox) installJSON() {
	j := sb.get("JSON")
	sb.method(j, "stringify", 3, sb.jsonStringify)
	parse := mustFunc(j.Get("parse"))
	sb.method(j, "parse", 2, func(c goja.FunctionCall) goja.Value {
		text := sb.str(c.Argument(0))
		sb.checkJSONText(text.String())
		return call(parse, goja.Undefined(), text, c.Argument(1))
	})
}

func (sb *sandbox) checkJSONText(s string) {
	depth, values, containers := 0, 1, 0
	inString, esc := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inString {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
			containers++
			if depth > maxDepth {
				sb.throwRange(fmt.Sprintf("JSON.parse: the text nests deeper than %d levels", maxDepth))
			}
		case ']', '}':
			depth--
		case ',':
			values++
		}
	}
	if values > sb.lim().maxElems || containers > sb.lim().maxElems/8 {
		sb.throwRange(fmt.Sprintf("JSON.parse: the text has more values than the sandbox allows (%d)", sb.lim().maxElems))
	}
}

type stringifier struct {
	sb       *sandbox
	replacer goja.Callable
	props    []goja.Value // the replacer array's keys, or nil
	gap      string
	indent   string
	stack    []*goja.Object
	b        goja.StringBuilder
	size     int64
	max      int64
	steps    int
}

func (sb *sandbox) jsonStringify(c goja.FunctionCall) goja.Value {
	return sb.stringify(c, int64(sb.lim().maxStringLen))
}

// stringify is JSON.stringify with an output limit of max UTF-16 units.
func (sb *sandbox) stringify(c goja.FunctionCall, max int64) goja.Value {
	vm := sb.vm
	st := &stringifier{sb: sb, max: max}
	if r, ok := c.Argument(1).(*goja.Object); ok {
		if f, ok := goja.AssertFunction(r); ok {
			st.replacer = f
		} else if sb.isArray(r) {
			n := sb.lengthOf(r, sb.lim().maxElems, "the replacer array")
			seen := map[string]bool{}
			st.props = []goja.Value{}
			for i := int64(0); i < n; i++ {
				v := r.Get(itoa(i))
				var key goja.Value
				switch x := v.(type) {
				case goja.String:
					key = x
				case *goja.Object:
					if cn := x.ClassName(); cn == "String" || cn == "Number" {
						key = sb.str(x)
					}
				default:
					if goja.IsNumber(v) {
						key = sb.str(v)
					}
				}
				if key != nil && !seen[key.String()] {
					seen[key.String()] = true
					st.props = append(st.props, key)
				}
			}
		}
	}
	space := c.Argument(2)
	if o, ok := space.(*goja.Object); ok {
		switch o.ClassName() {
		case "Number":
			space = o.ToNumber()
		case "String":
			space = sb.str(o)
		}
	}
	if goja.IsNumber(space) {
		n := min(10, space.ToInteger())
		if n >= 1 {
			st.gap = strings.Repeat(" ", int(n))
		}
	} else if s, ok := space.(goja.String); ok {
		gs := s.String()
		if s.Length() > 10 {
			gs = s.Substring(0, 10).String()
		}
		st.gap = gs
	}
	wrapper := vm.NewObject()
	_ = wrapper.Set("", c.Argument(0))
	v, ok := st.resolve(wrapper, vm.ToValue(""), c.Argument(0))
	if !ok {
		return goja.Undefined()
	}
	st.write(v)
	return st.b.String()
}

// resolve applies toJSON, the replacer function and unboxing; ok is false
// when the property serialises to nothing (undefined, functions, symbols).
func (st *stringifier) resolve(holder *goja.Object, key, v goja.Value) (goja.Value, bool) {
	sb := st.sb
	st.steps++
	if st.steps&255 == 0 {
		sb.checkpoint()
	}
	if o, ok := v.(*goja.Object); ok {
		if f, ok := goja.AssertFunction(o.Get("toJSON")); ok {
			v = call(f, o, key)
		}
	}
	if st.replacer != nil {
		v = call(st.replacer, holder, key, v)
	}
	if o, ok := v.(*goja.Object); ok && !sb.isProxy(o) {
		switch o.ClassName() {
		case "Number":
			v = o.ToNumber()
		case "String":
			v = sb.str(o)
		case "Boolean":
			v = sb.unbox(o)
		}
	}
	switch x := v.(type) {
	case *goja.Object:
		if _, callable := goja.AssertFunction(x); callable {
			return nil, false
		}
		return v, true
	case *goja.Symbol:
		return nil, false
	}
	if v == nil || goja.IsUndefined(v) {
		return nil, false
	}
	return v, true
}

func (st *stringifier) emit(s goja.String) {
	st.size += int64(s.Length())
	if st.size > st.max {
		st.sb.throwRange(fmt.Sprintf("Invalid string length: JSON.stringify would produce more than the sandbox allows (%d)", st.max))
	}
	st.b.WriteString(s)
}

func (st *stringifier) emitGo(s string) {
	st.emit(st.sb.vm.ToValue(s).(goja.String))
}

func (st *stringifier) write(v goja.Value) {
	sb := st.sb
	switch {
	case goja.IsNull(v):
		st.emitGo("null")
		return
	}
	switch x := v.(type) {
	case goja.String:
		st.emit(call(sb.jsonQuote, goja.Undefined(), x).(goja.String))
		return
	case *goja.Object:
		if call(sb.isRawJSON, goja.Undefined(), x).ToBoolean() {
			st.emit(sb.str(x.Get("rawJSON")))
			return
		}
		if sb.isArray(x) {
			st.array(x)
		} else {
			st.object(x)
		}
		return
	}
	if goja.IsNumber(v) {
		f := v.ToFloat()
		if f != f || f > 1.7976931348623157e308 || f < -1.7976931348623157e308 {
			st.emitGo("null")
			return
		}
		st.emit(sb.str(v))
		return
	}
	// booleans
	st.emit(sb.str(v))
}

func (st *stringifier) enter(o *goja.Object) string {
	for _, s := range st.stack {
		if s == o {
			st.sb.throwType("Converting circular structure to JSON")
		}
	}
	if len(st.stack) >= maxDepth {
		st.sb.throwRange(fmt.Sprintf("JSON.stringify: the value nests deeper than %d levels", maxDepth))
	}
	st.stack = append(st.stack, o)
	stepback := st.indent
	st.indent += st.gap
	return stepback
}

func (st *stringifier) leave(stepback string) {
	st.stack = st.stack[:len(st.stack)-1]
	st.indent = stepback
}

func (st *stringifier) separator(first bool) {
	if !first {
		st.emitGo(",")
	}
	if st.gap != "" {
		st.emitGo("\n" + st.indent)
	}
}

func (st *stringifier) closing(open bool, ch string, stepback string) {
	if open && st.gap != "" {
		st.emitGo("\n" + stepback)
	}
	st.emitGo(ch)
}

func (st *stringifier) object(o *goja.Object) {
	stepback := st.enter(o)
	defer st.leave(stepback)
	var keys []goja.Value
	if st.props != nil {
		keys = st.props
	} else {
		for _, k := range o.Keys() {
			keys = append(keys, st.sb.vm.ToValue(k))
		}
	}
	st.emitGo("{")
	first := true
	for _, k := range keys {
		v, ok := st.resolve(o, k, o.Get(k.String()))
		if !ok {
			continue
		}
		st.separator(first)
		first = false
		st.emit(call(st.sb.jsonQuote, goja.Undefined(), k).(goja.String))
		if st.gap != "" {
			st.emitGo(": ")
		} else {
			st.emitGo(":")
		}
		st.write(v)
	}
	st.closing(!first, "}", stepback)
}

func (st *stringifier) array(o *goja.Object) {
	stepback := st.enter(o)
	defer st.leave(stepback)
	n := st.sb.lengthOf(o, st.sb.lim().maxElems, "the array")
	st.emitGo("[")
	for i := int64(0); i < n; i++ {
		st.separator(i == 0)
		key := st.sb.vm.ToValue(itoa(i))
		if v, ok := st.resolve(o, key, o.Get(itoa(i))); ok {
			st.write(v)
		} else {
			st.emitGo("null")
		}
	}
	st.closing(n > 0, "]", stepback)
}
