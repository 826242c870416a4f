package webhook

import (
	"context"
	"net/http/httptest"
	"testing"
)

// BenchmarkTargetEval measures one evaluation of seed example 1's target.
func BenchmarkTargetEval(b *testing.B) {
	e, err := compileExpr("bench", "target", "env[payload.model].browse(int(payload.id))", recordsType)
	if err != nil {
		b.Fatal(err)
	}
	c := &call{w: &Webhook{model: "sale.order", modelVal: model{name: "sale.order"}}, ctx: context.Background(),
		req:     httptest.NewRequest("POST", "/", nil),
		payload: map[string]any{"model": "sale.order", "id": "7"}}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		v, err := c.eval(e, "target", nil)
		if err != nil {
			b.Fatal(err)
		}
		if rs := v.(*recordSet); rs.ids[0] != int64(7) {
			b.Fatal(rs.ids)
		}
	}
}

// BenchmarkComputeEval measures a compute expression over the record.
func BenchmarkComputeEval(b *testing.B) {
	e, err := compileExpr("bench", "compute", "record.n + 1", nil)
	if err != nil {
		b.Fatal(err)
	}
	c := &call{w: &Webhook{model: "sale.order"}, ctx: context.Background(), req: httptest.NewRequest("POST", "/", nil)}
	rec := Record{"id": int64(7), "n": int64(41)}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := c.eval(e, "compute", rec); err != nil {
			b.Fatal(err)
		}
	}
}
