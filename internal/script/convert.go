package script

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dop251/goja"
)

// maxDepth bounds the nesting of values crossing the boundary in either
// direction, and of JSON.parse/JSON.stringify inside the sandbox.
const maxDepth = 1000

// toJS converts a JSON-shaped Go value into a fresh JS value: objects and
// arrays are new plain JS objects and arrays, never views of the Go data,
// and nothing of Go (methods, struct fields) is reachable from them.
func (sb *sandbox) toJS(v any, depth int) (goja.Value, error) {
	vm := sb.vm
	if depth > maxDepth {
		return nil, fmt.Errorf("value nested deeper than %d levels", maxDepth)
	}
	switch x := v.(type) {
	case nil:
		return goja.Null(), nil
	case goja.Value:
		return nil, fmt.Errorf("unsupported value type %T", v)
	case bool:
		return vm.ToValue(x), nil
	case string:
		return vm.ToValue(x), nil
	case int:
		return vm.ToValue(int64(x)), nil
	case int8:
		return vm.ToValue(int64(x)), nil
	case int16:
		return vm.ToValue(int64(x)), nil
	case int32:
		return vm.ToValue(int64(x)), nil
	case int64:
		return vm.ToValue(x), nil
	case uint:
		return sb.uintToJS(uint64(x)), nil
	case uint8:
		return vm.ToValue(int64(x)), nil
	case uint16:
		return vm.ToValue(int64(x)), nil
	case uint32:
		return vm.ToValue(int64(x)), nil
	case uint64:
		return sb.uintToJS(x), nil
	case float32:
		return vm.ToValue(float64(x)), nil
	case float64:
		return vm.ToValue(x), nil
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return vm.ToValue(i), nil
		}
		if f, err := x.Float64(); err == nil {
			return vm.ToValue(f), nil
		}
		return vm.ToValue(string(x)), nil
	case time.Time:
		return vm.ToValue(x.UTC().Format(isoMillis)), nil
	case []any:
		items := make([]any, len(x))
		for i, e := range x {
			jv, err := sb.toJS(e, depth+1)
			if err != nil {
				return nil, err
			}
			items[i] = jv
		}
		return vm.NewArray(items...), nil
	case []string:
		items := make([]any, len(x))
		for i, e := range x {
			items[i] = vm.ToValue(e)
		}
		return vm.NewArray(items...), nil
	case []map[string]any:
		items := make([]any, len(x))
		for i, e := range x {
			jv, err := sb.toJS(e, depth+1)
			if err != nil {
				return nil, err
			}
			items[i] = jv
		}
		return vm.NewArray(items...), nil
	case map[string]any:
		return sb.newObject(sb.objectProto, "", x, depth)
	case map[string]string:
		o := vm.CreateObject(nil) // see newObject
		for _, k := range sortedKeys(x) {
			if err := o.Set(k, vm.ToValue(x[k])); err != nil {
				return nil, err
			}
		}
		if err := o.SetPrototype(sb.objectProto); err != nil {
			return nil, err
		}
		return o, nil
	}
	return nil, fmt.Errorf("unsupported value type %T", v)
}

const isoMillis = "2006-01-02T15:04:05.000Z"

func (sb *sandbox) uintToJS(u uint64) goja.Value {
	if u <= math.MaxInt64 {
		return sb.vm.ToValue(int64(u))
	}
	return sb.vm.ToValue(float64(u))
}

// newObject makes a new object with prototype proto whose own properties
// are m's entries, enumerable data properties in key order with "id" first.
// With a model name, it is a record: a non-enumerable _name comes first.
//
// The entries are added with Set while the object has no prototype yet:
// DefineDataProperty allocates a descriptor per property, and Set on an
// object with a prototype could be intercepted by an inherited setter
// (__proto__, the tamed toString...) or refused by an inherited read-only
// property (a record's write). Without one, a key such as "__proto__" just
// becomes an own property.
func (sb *sandbox) newObject(proto *goja.Object, model string, m map[string]any, depth int) (*goja.Object, error) {
	vm := sb.vm
	o := vm.CreateObject(nil)
	if model != "" {
		_ = o.DefineDataProperty("_name", vm.ToValue(model), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
	for _, k := range sortedKeys(m) {
		jv, err := sb.toJS(m[k], depth+1)
		if err != nil {
			return nil, err
		}
		if k == "_name" && model != "" {
			// A field of that name replaces the model name, enumerable.
			err = o.DefineDataProperty(k, jv, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE)
		} else {
			err = o.Set(k, jv)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := o.SetPrototype(proto); err != nil {
		return nil, err
	}
	return o, nil
}

// fill defines m's entries as own enumerable data properties of o, in key
// order with "id" first.
func (sb *sandbox) fill(o *goja.Object, m map[string]any, depth int) error {
	for _, k := range sortedKeys(m) {
		jv, err := sb.toJS(m[k], depth+1)
		if err != nil {
			return err
		}
		_ = o.DefineDataProperty(k, jv, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// slices.SortFunc, not sort.Slice: the latter allocates a swapper.
	slices.SortFunc(keys, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == "id":
			return -1
		case b == "id":
			return 1
		}
		return strings.Compare(a, b)
	})
	return keys
}

// exporter converts JS values coming back from a script (create/write
// values, search filters) into JSON shape: nil, bool, int64, float64,
// string, []any, map[string]any. It runs inside the VM, so property reads
// may run the script's getters and Proxy traps; that code is interruptible
// like any other, and the exporter itself checks the run's stop flag.
type exporter struct {
	sb    *sandbox
	what  string // "create values" etc., for error messages
	nodes int
	// The objects being exported, outermost first: meeting one of them
	// again is a cycle. The first levels are searched linearly (values
	// are shallow, and a map per export was a third of its allocations),
	// deeper ones go to a map so a deep value stays linear.
	path [pathShallow]*goja.Object
	n    int
	deep map[*goja.Object]bool
}

const pathShallow = 16

func (e *exporter) onPath(o *goja.Object) bool {
	for _, p := range e.path[:min(e.n, pathShallow)] {
		if p == o {
			return true
		}
	}
	return e.deep[o]
}

func (e *exporter) push(o *goja.Object) {
	if e.n < pathShallow {
		e.path[e.n] = o
	} else {
		if e.deep == nil {
			e.deep = map[*goja.Object]bool{}
		}
		e.deep[o] = true
	}
	e.n++
}

func (e *exporter) pop(o *goja.Object) {
	e.n--
	if e.n < pathShallow {
		e.path[e.n] = nil
	} else {
		delete(e.deep, o)
	}
}

func (sb *sandbox) export(v goja.Value, what string) any {
	e := exporter{sb: sb, what: what}
	out, _ := e.value(v, 0)
	return out
}

// exportMap is export for values that must be objects.
func (sb *sandbox) exportMap(v goja.Value, what string) map[string]any {
	if goja.IsUndefined(v) || goja.IsNull(v) {
		return map[string]any{}
	}
	m, ok := sb.export(v, what).(map[string]any)
	if !ok {
		sb.throwType(what + " must be an object")
	}
	return m
}

// value returns the Go value and whether it is present (undefined is not:
// such object keys are dropped, array elements become null).
func (e *exporter) value(v goja.Value, depth int) (any, bool) {
	sb := e.sb
	e.nodes++
	if e.nodes&1023 == 0 {
		sb.checkpoint()
	}
	if e.nodes > sb.cur.lim.maxElems {
		sb.throwRange(e.what + " is too large")
	}
	switch {
	case v == nil || goja.IsUndefined(v):
		return nil, false
	case goja.IsNull(v):
		return nil, true
	}
	if _, isSym := v.(*goja.Symbol); isSym {
		sb.throwType(e.what + " cannot contain a Symbol")
	}
	o, ok := v.(*goja.Object)
	if !ok {
		// Export of a primitive is a plain Go value; of an object it
		// would run getters, so objects never get here.
		switch x := v.Export().(type) {
		case bool:
			return x, true
		case string:
			return x, true
		case int64:
			return x, true
		case float64:
			return e.number(x), true
		}
		sb.throwType(fmt.Sprintf("%s cannot contain %s", e.what, v.String()))
	}
	if depth >= maxDepth {
		sb.throwType(fmt.Sprintf("%s are nested deeper than %d levels", e.what, maxDepth))
	}
	if e.onPath(o) {
		sb.throwType(e.what + " contain a cycle")
	}
	if !sb.isProxy(o) && o.Prototype() == sb.recordProto {
		// A record stands for its id, as in Odoo's many2one values.
		return e.value(o.Get("id"), depth+1)
	}
	if _, isFn := goja.AssertFunction(o); isFn {
		sb.throwType(e.what + " cannot contain a function")
	}
	// o is on the path while its elements are exported. No defer pops
	// it: a throw abandons the whole export.
	if sb.isArray(o) {
		e.push(o)
		n := sb.lengthOf(o, sb.cur.lim.maxElems, e.what)
		out := make([]any, n)
		for i := int64(0); i < n; i++ {
			item, _ := e.value(o.Get(strconv.FormatInt(i, 10)), depth+1)
			out[i] = item
		}
		e.pop(o)
		return out, true
	}
	if !sb.isProxy(o) {
		switch cn := o.ClassName(); cn {
		case "Date":
			if t, ok := o.Export().(time.Time); ok && !t.IsZero() {
				return t.UTC().Format(isoMillis), true
			}
			sb.throwType(e.what + " cannot contain an invalid Date")
		case "String", "Number", "Boolean":
			return e.value(sb.unbox(o), depth)
		}
		// Plain objects and instances of the script's classes; not Maps,
		// Sets, RegExps, Errors, typed arrays, promises...
		if !sb.plainTag(o) {
			tag := sb.tag(o)
			sb.throwType(fmt.Sprintf("%s cannot contain a %s", e.what, strings.TrimSuffix(strings.TrimPrefix(tag, "[object "), "]")))
		}
	}
	e.push(o)
	keys := o.Keys()
	out := make(map[string]any, len(keys))
	for _, k := range keys {
		item, present := e.value(o.Get(k), depth+1)
		if present {
			out[k] = item
		}
	}
	e.pop(o)
	return out, true
}

// number turns integral numbers into int64 (3.0 → 3) and rejects NaN and
// infinities, which have no JSON form.
func (e *exporter) number(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		e.sb.throwType(fmt.Sprintf("%s cannot contain %v", e.what, f))
	}
	if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
		return int64(f)
	}
	return f
}
