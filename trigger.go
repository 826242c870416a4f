package webhook

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// Target expressions and action expressions are CEL (cel.dev/cel-go). One
// environment serves every webhook; each expression is parsed, checked and
// planned once, when its webhook is built, and the resulting program is
// shared by every call (cel.Program is safe for concurrent use).
//
// Evaluation is pure: browse and search do not touch the store. They yield
// a recordSet naming a model and ids (or a filter); the call resolves it
// inside its transaction, so a target is read, and locked where the store
// locks on read, by the same transaction that writes it.

// Bounds on one evaluation. They stop an expression from turning a large
// payload into quadratic work or memory (a 1 MiB list mapped over itself).
const (
	exprCostLimit   = 1_000_000
	exprMemoryLimit = 16 << 20
)

var (
	modelType   = cel.OpaqueType("webhook.Model")
	recordsType = cel.OpaqueType("webhook.Records")
)

// model is the CEL value of `model` and of `env[name]`.
type model struct{ name string }

func (m model) ConvertToNative(t reflect.Type) (any, error) {
	return nil, fmt.Errorf("model %s cannot be converted to %v", m.name, t)
}
func (m model) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return modelType
	}
	return types.NewErr("model %s cannot be converted to %s", m.name, t.TypeName())
}
func (m model) Equal(o ref.Val) ref.Val {
	om, ok := o.(model)
	return types.Bool(ok && om.name == m.name)
}
func (m model) Type() ref.Type { return modelType }
func (m model) Value() any     { return m.name }

// models is the CEL value of `env`: every model name indexes to a model.
type models struct{}

func (models) ConvertToNative(t reflect.Type) (any, error) {
	return nil, fmt.Errorf("env cannot be converted to %v", t)
}
func (models) ConvertToType(t ref.Type) ref.Val {
	return types.NewErr("env cannot be converted to %s", t.TypeName())
}
func (models) Equal(o ref.Val) ref.Val { _, ok := o.(models); return types.Bool(ok) }
func (models) Type() ref.Type          { return types.MapType }
func (models) Value() any              { return nil }
func (models) Get(index ref.Val) ref.Val {
	name, ok := index.(types.String)
	if !ok {
		return types.NewErr("env[...] needs a model name (string), got %s", index.Type().TypeName())
	}
	if name == "" {
		return types.NewErr("env[...] got an empty model name")
	}
	return model{name: string(name)}
}

var _ traits.Indexer = models{}

// recordSet is what browse and search return: the records a target names,
// resolved later inside the call's transaction.
type recordSet struct {
	model  string
	ids    []ID
	search bool
	filter Filter
	limit  int
	// one holds the id of a set browsed by one id, saving an allocation.
	one [1]ID
}

// browseOne returns the records of model with the one id.
func browseOne(model string, id ID) *recordSet {
	r := &recordSet{model: model}
	r.one[0] = id
	r.ids = r.one[:]
	return r
}

func (r *recordSet) ConvertToNative(t reflect.Type) (any, error) {
	return nil, fmt.Errorf("records cannot be converted to %v", t)
}
func (r *recordSet) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return recordsType
	}
	return types.NewErr("records cannot be converted to %s", t.TypeName())
}
func (r *recordSet) Equal(o ref.Val) ref.Val { return types.Bool(o == ref.Val(r)) }
func (r *recordSet) Type() ref.Type          { return recordsType }
func (r *recordSet) Value() any              { return r }

// celEnv is built once per process.
var celEnv = mustEnv()

func mustEnv() *cel.Env {
	env, err := cel.NewEnv(
		cel.Variable("payload", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("headers", cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable("query", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("record", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("model", modelType),
		cel.Variable("env", cel.MapType(cel.StringType, modelType)),
		cel.Function("browse",
			cel.MemberOverload("model_browse_int", []*cel.Type{modelType, cel.IntType}, recordsType,
				cel.BinaryBinding(browseBinding)),
			cel.MemberOverload("model_browse_string", []*cel.Type{modelType, cel.StringType}, recordsType,
				cel.BinaryBinding(browseBinding)),
			cel.MemberOverload("model_browse_list", []*cel.Type{modelType, cel.ListType(cel.DynType)}, recordsType,
				cel.BinaryBinding(browseBinding)),
		),
		cel.Function("search",
			cel.MemberOverload("model_search_map", []*cel.Type{modelType, cel.MapType(cel.StringType, cel.DynType)}, recordsType,
				cel.BinaryBinding(func(m, f ref.Val) ref.Val { return searchBinding(m, f, types.Int(0)) })),
			cel.MemberOverload("model_search_map_int", []*cel.Type{modelType, cel.MapType(cel.StringType, cel.DynType), cel.IntType}, recordsType,
				cel.FunctionBinding(func(args ...ref.Val) ref.Val { return searchBinding(args[0], args[1], args[2]) })),
		),
	)
	if err != nil {
		panic("webhook: building the CEL environment: " + err.Error())
	}
	return env
}

func browseBinding(mv, arg ref.Val) ref.Val {
	m, ok := mv.(model)
	if !ok {
		return types.NewErr("browse: receiver is not a model")
	}
	switch a := arg.(type) {
	case types.Int:
		return browseOne(m.name, int64(a))
	case types.Uint:
		if uint64(a) > math.MaxInt64 {
			return types.NewErr("browse: id %d out of range", uint64(a))
		}
		return browseOne(m.name, int64(a))
	case types.String:
		return browseOne(m.name, string(a))
	case traits.Lister:
		n := int(a.Size().(types.Int))
		ids := make([]ID, 0, n)
		it := a.Iterator()
		for it.HasNext() == types.True {
			v := it.Next()
			switch x := v.(type) {
			case types.Int:
				ids = append(ids, int64(x))
			case types.String:
				ids = append(ids, string(x))
			case types.Uint:
				if uint64(x) > math.MaxInt64 {
					return types.NewErr("browse: id %d out of range", uint64(x))
				}
				ids = append(ids, int64(x))
			default:
				return types.NewErr("browse: an id must be an int or a string, got %s (convert with int())", v.Type().TypeName())
			}
		}
		return &recordSet{model: m.name, ids: ids}
	case *types.Err:
		return a
	default:
		return types.NewErr("browse: an id must be an int or a string, got %s (convert with int())", arg.Type().TypeName())
	}
}

func searchBinding(mv, fv, lv ref.Val) ref.Val {
	m, ok := mv.(model)
	if !ok {
		return types.NewErr("search: receiver is not a model")
	}
	limit, ok := lv.(types.Int)
	if !ok {
		return types.NewErr("search: limit must be an int")
	}
	mapper, ok := fv.(traits.Mapper)
	if !ok {
		return types.NewErr("search: the filter must be a map of field to value")
	}
	native, err := celToNative(mapper, 0)
	if err != nil {
		return types.NewErr("search: %v", err)
	}
	f, _ := native.(map[string]any)
	return &recordSet{model: m.name, search: true, filter: Filter(f), limit: int(limit)}
}

// celToNative turns a CEL value into the JSON-shaped Go value a store
// receives: nil, bool, int64, float64, string, []any, map[string]any.
func celToNative(v ref.Val, depth int) (any, error) {
	if depth > 64 {
		return nil, errors.New("value nested too deeply")
	}
	switch x := v.(type) {
	case types.Null:
		return nil, nil
	case types.Bool:
		return bool(x), nil
	case types.Int:
		return int64(x), nil
	case types.Uint:
		if uint64(x) > math.MaxInt64 {
			return float64(x), nil
		}
		return int64(x), nil
	case types.Double:
		return float64(x), nil
	case types.String:
		return string(x), nil
	case types.Timestamp:
		return x.Time.UTC().Format(time.RFC3339Nano), nil
	case types.Duration:
		return x.Duration.String(), nil
	case *types.Err:
		return nil, x
	case traits.Lister:
		n := int(x.Size().(types.Int))
		out := make([]any, 0, n)
		it := x.Iterator()
		for it.HasNext() == types.True {
			e, err := celToNative(it.Next(), depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		return out, nil
	case traits.Mapper:
		out := make(map[string]any, int(x.Size().(types.Int)))
		it := x.Iterator()
		for it.HasNext() == types.True {
			k := it.Next()
			ks, ok := k.(types.String)
			if !ok {
				return nil, fmt.Errorf("map key %v is not a string", k)
			}
			e, err := celToNative(x.Get(k), depth+1)
			if err != nil {
				return nil, err
			}
			out[string(ks)] = e
		}
		return out, nil
	default:
		return nil, fmt.Errorf("a %s value cannot be stored", v.Type().TypeName())
	}
}

// ExprError reports a CEL expression that does not compile, with where it
// is: the webhook, the field of the definition and the line:column within
// the expression.
type ExprError struct {
	Webhook string
	// Field locates the expression in the definition, such as "target",
	// "actions[1].when" or "actions[0].compute.note".
	Field  string
	Expr   string
	Line   int
	Column int
	// Message is the compiler's message without the location.
	Message string
}

// Error gives the webhook, the field and the line:column of the mistake.
func (e *ExprError) Error() string {
	return fmt.Sprintf("webhook %q: %s: %d:%d: %s", e.Webhook, e.Field, e.Line, e.Column, e.Message)
}

// expr is a compiled CEL expression.
type expr struct {
	src  string
	prog cel.Program
	// bounded expressions have no comprehension and run without cost
	// tracking or interruption checks.
	bounded bool
	// readsRecord says whether the expression reads `record`.
	readsRecord bool
}

// compileExpr parses, checks and plans src. want, when not nil, is the
// result type the expression must have (dyn also passes: it is checked
// when evaluated).
func compileExpr(webhook, field, src string, want *cel.Type) (*expr, error) {
	ast, iss := celEnv.Compile(src)
	if iss != nil && iss.Err() != nil {
		e := &ExprError{Webhook: webhook, Field: field, Expr: src, Line: 1, Column: 1, Message: iss.Err().Error()}
		if errs := iss.Errors(); len(errs) > 0 {
			first := errs[0]
			e.Message = first.Message
			if loc := first.Location; loc != nil && loc.Line() > 0 {
				e.Line, e.Column = loc.Line(), loc.Column()+1
			}
		}
		return nil, e
	}
	if want != nil {
		out := ast.OutputType()
		if !out.IsExactType(cel.DynType) && !out.IsAssignableType(want) {
			return nil, &ExprError{Webhook: webhook, Field: field, Expr: src, Line: 1, Column: 1,
				Message: fmt.Sprintf("expression yields %s, want %s", typeName(out), typeName(want))}
		}
	}
	// Only a comprehension (all, exists, map, filter) can make an
	// expression's work grow faster than the payload it reads; without
	// one, evaluation is linear in a body already capped at MaxBody, and
	// needs neither cost tracking nor interruption, which cost several
	// allocations per evaluation.
	bounded := !hasComprehension(ast)
	var opts []cel.ProgramOption
	if !bounded {
		opts = append(opts, cel.CostLimit(exprCostLimit), cel.InterruptCheckFrequency(1000))
	}
	prog, err := celEnv.Program(ast, opts...)
	if err != nil {
		return nil, &ExprError{Webhook: webhook, Field: field, Expr: src, Line: 1, Column: 1, Message: err.Error()}
	}
	return &expr{src: src, prog: prog, bounded: bounded, readsRecord: readsIdent(ast, "record")}, nil
}

// hasComprehension reports whether the expression has a comprehension.
func hasComprehension(a *cel.Ast) bool {
	return anyExpr(a, func(e celast.Expr) bool { return e.Kind() == celast.ComprehensionKind })
}

// readsIdent reports whether the expression reads the variable name.
func readsIdent(a *cel.Ast, name string) bool {
	return anyExpr(a, func(e celast.Expr) bool { return e.Kind() == celast.IdentKind && e.AsIdent() == name })
}

// anyExpr reports whether any node of the expression satisfies pred.
func anyExpr(a *cel.Ast, pred func(celast.Expr) bool) bool {
	found := false
	celast.PreOrderVisit(a.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		found = found || pred(e)
	}))
	return found
}

func typeName(t *cel.Type) string {
	switch {
	case t.IsExactType(recordsType):
		return "records (from browse or search)"
	case t.IsExactType(modelType):
		return "a model"
	}
	return t.String()
}

// EvalError is a CEL expression that failed while a call ran, usually
// because the payload does not fit it: a missing key, a value of the wrong
// type. The caller gets 422.
type EvalError struct {
	Field string
	Err   error
}

// Error is the one-line reason the caller gets: the field and CEL's
// message.
func (e *EvalError) Error() string {
	return e.Field + ": " + cleanCELError(e.Err.Error())
}

// Unwrap returns CEL's error.
func (e *EvalError) Unwrap() error { return e.Err }

// cleanCELError keeps CEL's runtime messages, which are already short and
// plain ("no such key: id"), on one line.
func cleanCELError(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// sortedKeys returns m's keys in order, so that compute expressions run in
// a stable order and errors are reproducible.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
