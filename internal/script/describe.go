package script

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/dop251/goja"
)

// Turning a thrown value into a Go error message must not run any code of
// the script: the script has already thrown, its time may be up, and an
// object whose toString throws or loops forever must not hang or escape
// the error path. So the description reads only own data properties (never
// getters, toString, toJSON or Proxy traps), through the original
// Object.getOwnPropertyDescriptor, which for non-Proxy objects is plain Go.

const (
	maxDescribeDepth = 4
	maxDescribeLen   = 1024
	maxMessageLen    = 4 << 10
	maxStackFrames   = 32
)

type description struct{ name, message string }

func (d description) text() string {
	if d.name == "" {
		return d.message
	}
	if d.message == "" {
		return d.name
	}
	return d.name + ": " + d.message
}

func (sb *sandbox) describe(v goja.Value) (d description) {
	defer func() {
		if recover() != nil { // nothing here should throw; never let it escape
			d = description{message: "(a value that could not be described)"}
		}
		d.message = truncate(d.message, maxMessageLen)
	}()
	switch {
	case v == nil || goja.IsUndefined(v):
		return description{message: "undefined"}
	case goja.IsNull(v):
		return description{message: "null"}
	}
	if sym, ok := v.(*goja.Symbol); ok {
		return description{message: "Symbol(" + sym.String() + ")"}
	}
	o, ok := v.(*goja.Object)
	if !ok {
		return description{message: v.String()}
	}
	if sb.isProxy(o) {
		return description{message: "[object Proxy]"}
	}
	if o.ClassName() == "Error" {
		name := "Error"
		if n, ok := sb.dataLookup(o, "name"); ok && goja.IsString(n) {
			name = n.String()
		}
		msg := ""
		if m, ok := sb.ownData(o, "message"); ok && goja.IsString(m) {
			msg = m.String()
		}
		return description{name: name, message: msg}
	}
	var b strings.Builder
	sb.safeJSON(o, 0, &b)
	return description{message: truncate(b.String(), maxDescribeLen)}
}

// ownData returns o's own data property key, without running any code.
func (sb *sandbox) ownData(o *goja.Object, key string) (goja.Value, bool) {
	if sb.isProxy(o) {
		return nil, false
	}
	d, err := sb.getOwnDesc(goja.Undefined(), o, sb.vm.ToValue(key))
	if err != nil {
		return nil, false
	}
	desc, ok := d.(*goja.Object)
	if !ok {
		return nil, false
	}
	// A fresh descriptor object: reading it runs nothing of the script's.
	if w := desc.Get("writable"); w == nil || goja.IsUndefined(w) {
		// An accessor: only the override-taming ones are known to be
		// harmless, and they stand for a data property.
		if g, ok := desc.Get("get").(*goja.Object); ok {
			if v, ok := sb.tamed[g]; ok {
				return v, true
			}
		}
		return nil, false
	}
	return desc.Get("value"), true
}

// dataLookup finds key along o's prototype chain, data properties only.
func (sb *sandbox) dataLookup(o *goja.Object, key string) (goja.Value, bool) {
	for i := 0; o != nil && i < 32; i++ {
		if sb.isProxy(o) {
			return nil, false
		}
		if v, ok := sb.ownData(o, key); ok {
			return v, true
		}
		o = o.Prototype()
	}
	return nil, false
}

func (sb *sandbox) safeJSON(v goja.Value, depth int, b *strings.Builder) {
	if b.Len() > maxDescribeLen {
		return
	}
	switch {
	case v == nil || goja.IsUndefined(v) || goja.IsNull(v):
		b.WriteString("null")
		return
	case goja.IsString(v):
		q, _ := json.Marshal(v.String())
		b.Write(q)
		return
	case goja.IsNumber(v):
		f := v.ToFloat()
		if f != f || f > 1.7976931348623157e308 || f < -1.7976931348623157e308 {
			b.WriteString("null")
		} else {
			b.WriteString(v.String())
		}
		return
	}
	o, ok := v.(*goja.Object)
	if !ok {
		b.WriteString(v.String()) // booleans, symbols
		return
	}
	switch {
	case sb.isProxy(o):
		b.WriteString(`"[object Proxy]"`)
		return
	case depth >= maxDescribeDepth:
		b.WriteString(`"…"`)
		return
	}
	if _, isFn := goja.AssertFunction(o); isFn {
		b.WriteString("null")
		return
	}
	switch o.ClassName() {
	case "Date":
		if t, ok := o.Export().(time.Time); ok {
			fmt.Fprintf(b, "%q", t.UTC().Format(isoMillis))
			return
		}
	case "Error":
		d := sb.describe(o)
		q, _ := json.Marshal(d.text())
		b.Write(q)
		return
	}
	if sb.isArray(o) {
		b.WriteByte('[')
		n := int64(0)
		if l, ok := sb.ownData(o, "length"); ok {
			n = min(l.ToInteger(), 100)
		}
		for i := int64(0); i < n && b.Len() <= maxDescribeLen; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			e, _ := sb.ownData(o, itoa(i))
			sb.safeJSON(e, depth+1, b)
		}
		b.WriteByte(']')
		return
	}
	b.WriteByte('{')
	first := true
	for _, k := range o.Keys() {
		if b.Len() > maxDescribeLen {
			break
		}
		e, ok := sb.ownData(o, k)
		if !ok || e == nil || goja.IsUndefined(e) {
			continue
		}
		if eo, isObj := e.(*goja.Object); isObj {
			if _, isFn := goja.AssertFunction(eo); isFn {
				continue
			}
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		q, _ := json.Marshal(k)
		b.Write(q)
		b.WriteByte(':')
		sb.safeJSON(e, depth+1, b)
	}
	b.WriteByte('}')
}

// formatStack renders goja's stack frames with positions in the user's
// code (line 1 is shifted by the wrapper's prefix).
func formatStack(frames []goja.StackFrame, p *Program) string {
	var b strings.Builder
	for i, f := range frames {
		if i == maxStackFrames {
			fmt.Fprintf(&b, "... %d more\n", len(frames)-i)
			break
		}
		name := f.FuncName()
		if name == "" {
			name = "<anonymous>"
		}
		pos := f.Position()
		if pos.Filename == "" || pos.Line == 0 {
			fmt.Fprintf(&b, "at %s (native)\n", name)
			continue
		}
		line, col := pos.Line, pos.Column
		if line == 1 && pos.Filename == p.name {
			col -= len(scriptPrefix)
			if col < 1 {
				col = 1
			}
		}
		fmt.Fprintf(&b, "at %s (%s:%d:%d)\n", name, pos.Filename, line, col)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
