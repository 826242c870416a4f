package script

import (
	"context"
	"testing"

	"github.com/dop251/goja"
)

// benchHost answers without storing anything.
type benchHost struct{}

func (benchHost) Browse(model string, ids []any) ([]map[string]any, error) {
	return []map[string]any{{"id": ids[0], "name": "Ada", "email": "ada@example.com"}}, nil
}
func (benchHost) Search(string, map[string]any, int) ([]map[string]any, error) { return nil, nil }
func (benchHost) Create(string, map[string]any) (any, error)                   { return int64(7), nil }
func (benchHost) Write(string, any, map[string]any) error                      { return nil }
func (benchHost) Log(string, string)                                           {}

func benchRun(b *testing.B, code string, in Input) {
	p, err := Compile("bench", code)
	if err != nil {
		b.Fatal(err)
	}
	r := NewRunner(Limits{})
	ctx := context.Background()
	if err := r.Run(ctx, p, in, benchHost{}); err != nil { // warm the pool
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := r.Run(ctx, p, in, benchHost{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunTrivial is the whole cost of an "Execute code" action that
// does almost nothing: slot, pooled sandbox, watchdog, worker hand-off,
// arguments, the call, the log.
func BenchmarkRunTrivial(b *testing.B) {
	benchRun(b, `log('hi')`, Input{Model: "res.partner"})
}

func BenchmarkRunOnePlusOne(b *testing.B) {
	benchRun(b, `1 + 1`, Input{Model: "res.partner"})
}

// BenchmarkRunContact is the brief's second example with its test payload.
func BenchmarkRunContact(b *testing.B) {
	benchRun(b, seedScript, Input{
		Payload: map[string]any{"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0000"},
		Model:   "res.partner",
		Record:  map[string]any{"id": int64(2)},
		Records: []map[string]any{{"id": int64(2)}},
	})
}

// The pooled-versus-fresh comparison: the same trivial script executed in
// a pooled sandbox, and in a sandbox built for the run (what a fresh,
// equally hardened runtime per run would cost), and, for scale, in a bare
// goja runtime with none of the hardening.

func benchExec(b *testing.B, fresh bool) {
	p, err := Compile("bench", `log('hi')`)
	if err != nil {
		b.Fatal(err)
	}
	lim := deriveLimits(Limits{}.withDefaults())
	sb, err := newSandbox()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if fresh {
			if sb, err = newSandbox(); err != nil {
				b.Fatal(err)
			}
		}
		run := &runState{lim: lim, ctx: context.Background(), host: benchHost{}}
		run.vm = sb.vm
		if err := sb.exec(run, p, &Input{Model: "res.partner"}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSandboxPooled(b *testing.B) { benchExec(b, false) }
func BenchmarkSandboxFresh(b *testing.B)  { benchExec(b, true) }

func BenchmarkBareGojaRuntime(b *testing.B) {
	prg := goja.MustCompile("bench", `(function(log){ log('hi') })`, true)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		vm := goja.New()
		fn, _ := vm.RunProgram(prg)
		f, _ := goja.AssertFunction(fn)
		_, _ = f(goja.Undefined(), vm.ToValue(func(goja.FunctionCall) goja.Value { return nil }))
	}
}
