package script

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/dop251/goja"
)

// The host API: models (env[...], model), records, log and console. The
// methods are native functions created once per sandbox and frozen with
// it; they find the run they act for in sb.cur, so nothing in JS holds
// per-run state between runs.

// Log limits per run, so that a script logging in a loop cannot flood the
// call log.
const (
	maxLogMessage = 16 << 10
	maxLogEntries = 1000
	maxLogBytes   = 1 << 20
)

var logLevels = map[string]string{
	"debug": "debug", "info": "info", "warning": "warning", "warn": "warning", "error": "error",
}

func (sb *sandbox) installHostAPI() {
	vm := sb.vm
	sb.recordProto = vm.NewObject()
	sb.method(sb.recordProto, "write", 1, sb.recordWrite)
	sb.method(sb.recordProto, "read", 0, sb.recordRead)
	sb.method(sb.recordProto, "toJSON", 0, sb.recordRead)

	sb.modelProto = vm.NewObject()
	sb.method(sb.modelProto, "browse", 1, sb.modelBrowse)
	sb.method(sb.modelProto, "search", 2, sb.modelSearch)
	sb.method(sb.modelProto, "create", 1, sb.modelCreate)

	sb.logFn = sb.native("log", 1, sb.log)
	console := vm.NewObject()
	for _, m := range []struct{ name, level string }{
		{"log", "info"}, {"info", "info"}, {"debug", "debug"}, {"warn", "warning"}, {"error", "error"},
	} {
		level := m.level
		sb.method(console, m.name, 0, func(c goja.FunctionCall) goja.Value {
			parts := make([]string, len(c.Arguments))
			for i, a := range c.Arguments {
				parts[i] = sb.logText(a)
			}
			sb.emitLog(level, strings.Join(parts, " "))
			return goja.Undefined()
		})
	}
	sb.console = console
}

// errRunOver is what a host call made after Run returned gets: the run was
// abandoned while a built-in was still busy, and the Host's transaction
// may be gone.
var errRunOver = errors.New("the script run is over")

// withHost calls f with the run's Host unless the run is over.
func (r *runState) withHost(f func(Host) error) error {
	r.gate.Lock()
	defer r.gate.Unlock()
	if r.closed {
		return errRunOver
	}
	return f(r.host)
}

// host runs a Host call for the script; a Host error becomes a JS Error
// named HostError that the script may catch. If it does not, Run returns
// a ThrownError wrapping the Host's error.
func (sb *sandbox) host(f func(Host) error) {
	sb.checkpoint()
	if err := sb.cur.withHost(f); err != nil {
		sb.throwHost(err)
	}
	sb.checkpoint()
}

func (sb *sandbox) throwHost(err error) {
	o, cerr := sb.errorCtor(nil, sb.vm.ToValue(err.Error()))
	if cerr != nil {
		panic(cerr)
	}
	_ = o.DefineDataProperty("name", sb.vm.ToValue("HostError"), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	if sb.cur.hostErrs == nil {
		sb.cur.hostErrs = map[*goja.Object]error{}
	}
	sb.cur.hostErrs[o] = err
	panic(o)
}

func (sb *sandbox) modelObject(name string) *goja.Object {
	r := sb.cur
	if r.model1 != nil && r.model1Name == name {
		return r.model1
	}
	if m, ok := r.models[name]; ok {
		return m
	}
	m := sb.vm.CreateObject(sb.modelProto)
	_ = m.DefineDataProperty("_name", sb.vm.ToValue(name), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
	switch {
	case r.model1 == nil:
		r.model1Name, r.model1 = name, m
	case r.models == nil:
		r.models = map[string]*goja.Object{name: m}
	default:
		r.models[name] = m
	}
	return m
}

func (sb *sandbox) newRecord(model string, fields map[string]any) *goja.Object {
	o, err := sb.newObject(sb.recordProto, model, fields, 0)
	if err != nil {
		sb.throwType("record from the store: " + err.Error())
	}
	return o
}

func (sb *sandbox) records(model string, rows []map[string]any) goja.Value {
	if len(rows) > sb.lim().maxElems {
		sb.throwRange(fmt.Sprintf("%d records are more than the sandbox holds (%d)", len(rows), sb.lim().maxElems))
	}
	items := make([]any, len(rows))
	for i, row := range rows {
		items[i] = sb.newRecord(model, row)
	}
	return sb.vm.NewArray(items...)
}

// thisModel returns the model name of a model object (this._name).
func (sb *sandbox) thisModel(c goja.FunctionCall, method string) string {
	o, ok := c.This.(*goja.Object)
	if !ok {
		sb.throwType(method + " must be called on a model, like env['res.partner']." + method + "(...)")
	}
	name := o.Get("_name")
	if name == nil || !goja.IsString(name) {
		sb.throwType(method + " must be called on a model, like env['res.partner']." + method + "(...)")
	}
	return name.String()
}

// toID converts a record id from JS: an integral number or a string.
func (sb *sandbox) toID(v goja.Value) any {
	switch {
	case goja.IsString(v):
		return v.String()
	case goja.IsNumber(v):
		f := v.ToFloat()
		if f == float64(int64(f)) {
			return int64(f)
		}
	}
	sb.throwType(fmt.Sprintf("a record id must be an integer or a string, not %s", sb.typeName(v)))
	return nil
}

func (sb *sandbox) typeName(v goja.Value) string {
	switch {
	case v == nil || goja.IsUndefined(v):
		return "undefined"
	case goja.IsNull(v):
		return "null"
	}
	if o, ok := v.(*goja.Object); ok {
		return "an object (" + o.ClassName() + ")"
	}
	return v.String()
}

func (sb *sandbox) modelBrowse(c goja.FunctionCall) goja.Value {
	model := sb.thisModel(c, "browse")
	arg := c.Argument(0)
	if o, ok := arg.(*goja.Object); ok && sb.isArray(o) {
		n := sb.lengthOf(o, sb.lim().maxElems, "the id list")
		ids := make([]any, n)
		for i := int64(0); i < n; i++ {
			ids[i] = sb.toID(o.Get(itoa(i)))
		}
		var rows []map[string]any
		sb.host(func(h Host) (err error) { rows, err = h.Browse(model, ids); return })
		return sb.records(model, rows)
	}
	id := sb.toID(arg)
	var rows []map[string]any
	sb.host(func(h Host) (err error) { rows, err = h.Browse(model, []any{id}); return })
	if len(rows) == 0 {
		sb.throwHost(fmt.Errorf("%s(%v) does not exist", model, id))
	}
	return sb.newRecord(model, rows[0])
}

func (sb *sandbox) modelSearch(c goja.FunctionCall) goja.Value {
	model := sb.thisModel(c, "search")
	filter := sb.exportMap(c.Argument(0), "search filters")
	limit := 0
	if l := c.Argument(1); !goja.IsUndefined(l) && !goja.IsNull(l) {
		f := l.ToFloat()
		if f != f || f < 0 || f != float64(int64(f)) {
			sb.throwType("search limit must be a non-negative integer")
		}
		limit = int(min(f, float64(sb.lim().maxElems)))
	}
	var rows []map[string]any
	sb.host(func(h Host) (err error) { rows, err = h.Search(model, filter, limit); return })
	return sb.records(model, rows)
}

func (sb *sandbox) modelCreate(c goja.FunctionCall) goja.Value {
	model := sb.thisModel(c, "create")
	values := sb.exportMap(c.Argument(0), "create values")
	var id any
	sb.host(func(h Host) (err error) { id, err = h.Create(model, values); return })
	var rows []map[string]any
	sb.host(func(h Host) (err error) { rows, err = h.Browse(model, []any{id}); return })
	if len(rows) == 0 {
		fields := make(map[string]any, len(values)+1)
		for k, v := range values {
			fields[k] = v
		}
		fields["id"] = id
		return sb.newRecord(model, fields)
	}
	return sb.newRecord(model, rows[0])
}

func (sb *sandbox) thisRecord(c goja.FunctionCall, method string) (*goja.Object, string, any) {
	o, ok := c.This.(*goja.Object)
	if !ok {
		sb.throwType(method + " must be called on a record")
	}
	name := o.Get("_name")
	if name == nil || !goja.IsString(name) {
		sb.throwType(method + " must be called on a record")
	}
	return o, name.String(), sb.toID(o.Get("id"))
}

func (sb *sandbox) recordWrite(c goja.FunctionCall) goja.Value {
	o, model, id := sb.thisRecord(c, "write")
	values := sb.exportMap(c.Argument(0), "write values")
	sb.host(func(h Host) error { return h.Write(model, id, values) })
	// The record object follows the write, with copies of the values.
	if err := sb.fill(o, values, 0); err != nil {
		sb.throwType(err.Error())
	}
	return sb.vm.ToValue(true)
}

// recordRead returns a plain object copy of the record's fields.
func (sb *sandbox) recordRead(c goja.FunctionCall) goja.Value {
	o, ok := c.This.(*goja.Object)
	if !ok {
		sb.throwType("read must be called on a record")
	}
	e := &exporter{sb: sb, what: "record fields"}
	fields := map[string]any{}
	for _, k := range o.Keys() {
		if v, present := e.value(o.Get(k), 1); present {
			fields[k] = v
		}
	}
	out, err := sb.newObject(sb.objectProto, "", fields, 0)
	if err != nil {
		sb.throwType(err.Error())
	}
	return out
}

// --- logging ----------------------------------------------------------------

func (sb *sandbox) log(c goja.FunctionCall) goja.Value {
	level := "info"
	if l := c.Argument(1); !goja.IsUndefined(l) {
		lv, ok := logLevels[l.String()]
		if !ok {
			sb.throwType(fmt.Sprintf("log level must be one of debug, info, warning, error, not %q", l.String()))
		}
		level = lv
	}
	sb.emitLog(level, sb.logText(c.Argument(0)))
	return goja.Undefined()
}

// logText renders a log argument: strings as they are, objects as JSON
// (through the sandbox's JSON.stringify, stopped a little past the message
// limit; what does not serialise is described as thrown values are),
// anything else as String.
func (sb *sandbox) logText(v goja.Value) string {
	if o, ok := v.(*goja.Object); ok {
		if _, isFn := goja.AssertFunction(o); !isFn && o.ClassName() != "Error" {
			var s goja.Value
			ex := sb.vm.Try(func() {
				s = sb.stringify(goja.FunctionCall{Arguments: []goja.Value{v}}, 4*maxLogMessage)
			})
			if ex == nil && s != nil && !goja.IsUndefined(s) {
				return truncate(s.String(), maxLogMessage)
			}
		}
		return truncate(sb.describe(v).text(), maxLogMessage)
	}
	if v == nil {
		return "undefined"
	}
	return truncate(v.String(), maxLogMessage)
}

func (sb *sandbox) emitLog(level, msg string) {
	r := sb.cur
	sb.checkpoint()
	if r.logEntries >= maxLogEntries || r.logBytes >= maxLogBytes {
		if !r.logCapped {
			r.logCapped = true
			_ = r.withHost(func(h Host) error {
				h.Log("warning", "log limit reached: further messages of this run are dropped")
				return nil
			})
		}
		return
	}
	r.logEntries++
	r.logBytes += len(msg)
	_ = r.withHost(func(h Host) error { h.Log(level, msg); return nil })
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "… (truncated)"
}

// --- the env object ---------------------------------------------------------

// envObject is the script's env: env[name] is the model object for any
// model name, created on first use in the run.
type envObject struct{ sb *sandbox }

func (e envObject) Get(key string) goja.Value   { return e.sb.modelObject(key) }
func (e envObject) Set(string, goja.Value) bool { return false }
func (e envObject) Has(string) bool             { return true }
func (e envObject) Delete(string) bool          { return false }
func (e envObject) Keys() []string              { return nil }
