package webhook

import (
	"errors"
	"fmt"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"

	"github.com/hookline/webhook/internal/script"
)

// action is an Action compiled once, when its webhook is built.
type action struct {
	kind  string
	field string // "actions[2]", for messages
	when  *expr
	set   map[string]any
	// constant is set when the action writes the same scalar values on
	// every call (an update with set and no compute): stores neither keep
	// nor change the values they are given, so every call shares set.
	constant  bool
	compute   []computed
	model     string
	linkField string
	sub       []*action
	script    *script.Program
}

type computed struct {
	name string
	e    *expr
}

// ConfigError reports a definition that cannot be built, other than an
// expression that does not compile (that is an [ExprError]).
type ConfigError struct {
	Webhook string
	Field   string
	Message string
}

// Error describes the mistake with the webhook and field it is in.
func (e *ConfigError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("webhook %q: %s", e.Webhook, e.Message)
	}
	return fmt.Sprintf("webhook %q: %s: %s", e.Webhook, e.Field, e.Message)
}

// compileActions checks and compiles a list of actions; hasTarget says
// whether the webhook has a target expression, which update and link_field
// need.
func compileActions(def *Definition, list []Action, prefix string, hasTarget bool) ([]*action, error) {
	out := make([]*action, 0, len(list))
	for i := range list {
		a := &list[i]
		field := fmt.Sprintf("%s[%d]", prefix, i)
		ca := &action{kind: a.Type, field: field}
		bad := func(format string, args ...any) error {
			return &ConfigError{Webhook: def.Name, Field: field, Message: fmt.Sprintf(format, args...)}
		}
		if a.When != "" {
			e, err := compileExpr(def.Name, field+".when", a.When, cel.BoolType)
			if err != nil {
				return nil, err
			}
			ca.when = e
		}
		switch a.Type {
		case ActionUpdate, ActionCreate:
			if a.Type == ActionUpdate {
				if !hasTarget {
					return nil, bad("an update action needs a target expression (which records to update)")
				}
				if a.Model != "" || a.LinkField != "" {
					return nil, bad("model and link_field apply to create actions only")
				}
			}
			if len(a.Actions) > 0 || a.Code != "" {
				return nil, bad("%s actions take set and compute, not actions or code", a.Type)
			}
			if len(a.Set) == 0 && len(a.Compute) == 0 && a.Type == ActionUpdate {
				return nil, bad("an update action needs set or compute")
			}
			if len(a.Set) > 0 {
				ca.set = make(map[string]any, len(a.Set))
				for k, v := range a.Set {
					if k == "" || k == "id" {
						return nil, bad("set: field %q cannot be written", k)
					}
					nv, err := NormalizeValue(v)
					if err != nil {
						return nil, bad("set.%s: %v", k, err)
					}
					ca.set[k] = nv
				}
			}
			for _, k := range sortedKeys(a.Compute) {
				if k == "" || k == "id" {
					return nil, bad("compute: field %q cannot be written", k)
				}
				e, err := compileExpr(def.Name, field+".compute."+k, a.Compute[k], nil)
				if err != nil {
					return nil, err
				}
				ca.compute = append(ca.compute, computed{name: k, e: e})
			}
			ca.constant = a.Type == ActionUpdate && len(ca.compute) == 0 && scalars(ca.set)
			if a.Type == ActionCreate {
				ca.model = a.Model
				if ca.model == "" {
					ca.model = def.Model
				}
				if a.LinkField != "" {
					if !hasTarget {
						return nil, bad("link_field needs a target expression (whose id to store)")
					}
					ca.linkField = a.LinkField
				}
			}
		case ActionMulti:
			if len(a.Set) > 0 || len(a.Compute) > 0 || a.Code != "" || a.Model != "" || a.LinkField != "" {
				return nil, bad("a multi action takes only actions and when")
			}
			sub, err := compileActions(def, a.Actions, field+".actions", hasTarget)
			if err != nil {
				return nil, err
			}
			ca.sub = sub
		case ActionCode:
			if a.Code == "" {
				return nil, bad("a code action needs code")
			}
			if len(a.Set) > 0 || len(a.Compute) > 0 || len(a.Actions) > 0 || a.Model != "" || a.LinkField != "" {
				return nil, bad("a code action takes only code and when")
			}
			p, err := script.Compile(def.Name+" "+field, a.Code)
			if err != nil {
				var se *script.SyntaxError
				if errors.As(err, &se) {
					return nil, &ScriptError{Webhook: def.Name, Field: field + ".code", Line: se.Line, Column: se.Column, Message: se.Message}
				}
				return nil, bad("code: %v", err)
			}
			ca.script = p
		case "":
			return nil, bad("type is missing (update, create, multi or code)")
		default:
			return nil, bad("unknown type %q (want update, create, multi or code)", a.Type)
		}
		out = append(out, ca)
	}
	return out, nil
}

// ScriptError reports JavaScript that does not compile, with where it is.
type ScriptError struct {
	Webhook string
	Field   string
	Line    int
	Column  int
	Message string
}

// Error gives the webhook, the field and the line:column of the mistake.
func (e *ScriptError) Error() string {
	return fmt.Sprintf("webhook %q: %s: %d:%d: %s", e.Webhook, e.Field, e.Line, e.Column, e.Message)
}

// runActions runs acts in order, each over every record in recs before the
// next one starts (Odoo's order); ids holds the records' ids. A nil entry
// in recs stands for a record that was not read (its id is in ids), or,
// with a nil id, for "no target record": the action runs once without one.
func (c *call) runActions(acts []*action, recs []Record, ids []ID) error {
	for _, a := range acts {
		if a.kind == ActionMulti {
			sel, selIDs := recs, ids
			if a.when != nil {
				sel, selIDs = make([]Record, 0, len(recs)), make([]ID, 0, len(ids))
				for i, r := range recs {
					ok, err := c.evalWhen(a, r)
					if err != nil {
						return err
					}
					if ok {
						sel, selIDs = append(sel, r), append(selIDs, ids[i])
					}
				}
			}
			if len(sel) > 0 {
				if err := c.runActions(a.sub, sel, selIDs); err != nil {
					return err
				}
			}
			continue
		}
		for i, r := range recs {
			if a.when != nil {
				ok, err := c.evalWhen(a, r)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
			}
			if err := c.runAction(a, r, ids[i], recs); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *call) evalWhen(a *action, rec Record) (bool, error) {
	v, err := c.eval(a.when, a.field+".when", rec)
	if err != nil {
		return false, err
	}
	b, ok := v.(types.Bool)
	if !ok {
		return false, &EvalError{Field: a.field + ".when", Err: fmt.Errorf("condition yields %s, want bool", v.Type().TypeName())}
	}
	return bool(b), nil
}

// values builds the fields an update or create writes.
func (c *call) values(a *action, rec Record) (Record, error) {
	if a.constant {
		return a.set, nil
	}
	vals := make(Record, len(a.set)+len(a.compute)+1)
	for k, v := range a.set {
		vals[k] = copyJSON(v)
	}
	for _, cp := range a.compute {
		field := a.field + ".compute." + cp.name
		v, err := c.eval(cp.e, field, rec)
		if err != nil {
			return nil, err
		}
		nv, err := celToNative(v, 0)
		if err != nil {
			return nil, &EvalError{Field: field, Err: err}
		}
		vals[cp.name] = nv
	}
	return vals, nil
}

func (c *call) runAction(a *action, rec Record, id ID, recs []Record) error {
	switch a.kind {
	case ActionUpdate:
		vals, err := c.values(a, rec)
		if err != nil {
			return err
		}
		if err := c.st.Write(c.ctx, c.w.model, id, vals); err != nil {
			return err
		}
		// Later actions see the record as written; an unread record is
		// read by none of them.
		if rec != nil {
			for k, v := range vals {
				rec[k] = v
			}
		}
		c.touch(c.w.model, "write", id)
	case ActionCreate:
		vals, err := c.values(a, rec)
		if err != nil {
			return err
		}
		if a.linkField != "" && id != nil {
			vals[a.linkField] = id
		}
		id, err := c.st.Create(c.ctx, a.model, vals)
		if err != nil {
			return err
		}
		c.touch(a.model, "create", id)
	case ActionCode:
		return c.runScript(a, rec, recs)
	}
	return nil
}

// scalars reports whether m holds no list or map.
func scalars(m map[string]any) bool {
	for _, v := range m {
		switch v.(type) {
		case []any, map[string]any:
			return false
		}
	}
	return true
}

// copyJSON copies a JSON-shaped value so that a store may keep what it is
// given without sharing it with the compiled definition.
func copyJSON(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = copyJSON(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = copyJSON(e)
		}
		return out
	}
	return v
}

// mustReadTargets reports whether the target records must be read before
// the actions run. They need not be when no action reads their fields (no
// script, no condition or computed value that reads `record`) and the
// first action updates every one of them unconditionally: that write
// reports a record that does not exist, as the read would have, before
// anything else happens in the call's transaction.
func mustReadTargets(acts []*action) bool {
	if len(acts) == 0 || acts[0].kind != ActionUpdate || acts[0].when != nil {
		return true
	}
	return readRecords(acts)
}

// readRecords reports whether any of acts reads the target records'
// fields: a condition or computed value that reads `record`, or a script.
func readRecords(acts []*action) bool {
	for _, a := range acts {
		if a.script != nil || a.when != nil && a.when.readsRecord || readRecords(a.sub) {
			return true
		}
		for _, c := range a.compute {
			if c.e.readsRecord {
				return true
			}
		}
	}
	return false
}
