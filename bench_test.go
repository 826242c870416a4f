package webhook_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hookline/webhook"
)

// reusableBody lets a benchmark send the same body without allocating a
// reader per request.
type reusableBody struct {
	*bytes.Reader
	data []byte
}

func (b *reusableBody) Close() error { return nil }
func (b *reusableBody) reset()       { b.Reset(b.data) }

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

func benchServe(b *testing.B, def webhook.Definition, body string) {
	f := newFixture(b, def)
	w, _ := f.reg.Get(def.Name)
	req := httptest.NewRequest(http.MethodPost, w.URL(""), nil)
	req.Header.Set("Content-Type", "application/json")
	rb := &reusableBody{data: []byte(body)}
	rb.Reader = bytes.NewReader(rb.data)
	req.Body = rb
	req.ContentLength = int64(len(body))
	rw := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rb.reset()
		clear(rw.h)
		f.reg.ServeHTTP(rw, req)
	}
}

// BenchmarkServeHTTPUpdate is seed example 1 end to end on the in-memory
// store, call log on.
func BenchmarkServeHTTPUpdate(b *testing.B) {
	benchServe(b, currencyDef(), `{"model": "sale.order", "id": "7"}`)
}

// BenchmarkServeHTTPUpdateNoLog is the same without the call log.
func BenchmarkServeHTTPUpdateNoLog(b *testing.B) {
	def := currencyDef()
	def.LogCalls = false
	benchServe(b, def, `{"model": "sale.order", "id": "7"}`)
}

// BenchmarkServeHTTPCreate creates a record per call from computed values.
func BenchmarkServeHTTPCreate(b *testing.B) {
	benchServe(b, webhook.Definition{Name: "c", Model: "res.partner", Active: true,
		Actions: []webhook.Action{{Type: "create", Set: map[string]any{"company_type": "person"},
			Compute: map[string]string{"name": "payload.name", "email": "payload.email"}}}},
		`{"name": "Ada", "email": "ada@example.com"}`)
}

// BenchmarkServeHTTPNotFound is the cost of refusing an unknown secret.
func BenchmarkServeHTTPNotFound(b *testing.B) {
	f := newFixture(b, currencyDef())
	req := httptest.NewRequest(http.MethodPost, "/web/hook/"+webhook.NewSecret(), nil)
	rw := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		clear(rw.h)
		f.reg.ServeHTTP(rw, req)
	}
}

// BenchmarkServeHTTPContact is seed example 2, the contact script, end to
// end on the in-memory store (it creates a partner per call).
func BenchmarkServeHTTPContact(b *testing.B) {
	benchServe(b, contactDef(), `{"name": "Ada", "email": "ada@example.com", "phone": "+1"}`)
}

// BenchmarkServeHTTPUpdateThenTrivialScript is BenchmarkServeHTTPUpdate
// with a trivial script after the update: the difference between the two
// is what a code action costs.
func BenchmarkServeHTTPUpdateThenTrivialScript(b *testing.B) {
	def := currencyDef()
	def.Actions = append(def.Actions, webhook.Action{Type: "code", Code: "log('hi')"})
	benchServe(b, def, `{"model": "sale.order", "id": "7"}`)
}
