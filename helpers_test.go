package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookline/webhook"
	"github.com/hookline/webhook/memstore"
)

// seedStore returns the in-memory store with the seed records: sale.order
// 7 (S00007, EUR) and res.partner 2.
func seedStore(t testing.TB) *memstore.Store {
	t.Helper()
	s := memstore.New()
	require.NoError(t, s.Load(map[string][]webhook.Record{
		"sale.order":  {{"id": int64(7), "name": "S00007", "currency": "EUR", "n": int64(0)}},
		"res.partner": {{"id": int64(2), "name": "Placeholder"}},
	}))
	return s
}

func currencyDef() webhook.Definition {
	return webhook.Definition{
		Name:     "Update sale order currency",
		Model:    "sale.order",
		Active:   true,
		LogCalls: true,
		Target:   "env[payload.model].browse(int(payload.id))",
		Actions:  []webhook.Action{{Type: "update", Set: map[string]any{"currency": "USD"}}},
	}
}

type fixture struct {
	t     testing.TB
	store *memstore.Store
	reg   *webhook.Registry
	log   *webhook.MemoryCallLog
}

func newFixture(t testing.TB, defs ...webhook.Definition) *fixture {
	t.Helper()
	f := &fixture{t: t, store: seedStore(t), log: webhook.NewMemoryCallLog(100)}
	reg, err := webhook.NewRegistry(webhook.Config{Store: f.store, CallLog: f.log})
	require.NoError(t, err)
	f.reg = reg
	for _, d := range defs {
		_, err := reg.Add(d)
		require.NoError(t, err)
	}
	return f
}

type response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// do sends a request to the registry through its ServeHTTP.
func (f *fixture) do(method, path, contentType string, body io.Reader) response {
	f.t.Helper()
	req := httptest.NewRequest(method, path, body)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return f.doReq(req)
}

func (f *fixture) doReq(req *http.Request) response {
	f.t.Helper()
	rec := httptest.NewRecorder()
	f.reg.ServeHTTP(rec, req)
	res := response{Status: rec.Code, Header: rec.Header(), Raw: rec.Body.String()}
	if rec.Body.Len() > 0 {
		require.NoError(f.t, json.Unmarshal(rec.Body.Bytes(), &res.Body), "body %q", rec.Body.String())
	}
	return res
}

func (f *fixture) post(name, body string) response {
	f.t.Helper()
	return f.do(http.MethodPost, f.path(name), "application/json", strings.NewReader(body))
}

func (f *fixture) path(name string) string {
	f.t.Helper()
	w, ok := f.reg.Get(name)
	require.True(f.t, ok, "webhook %q", name)
	return w.URL("")
}

func (f *fixture) record(model string, id any) webhook.Record {
	f.t.Helper()
	recs, err := f.store.Browse(context.Background(), model, []webhook.ID{id})
	require.NoError(f.t, err)
	return recs[0]
}

// snapshot returns every record of the seeded models, to compare before
// and after a call that must change nothing.
func (f *fixture) snapshot() string {
	f.t.Helper()
	var b bytes.Buffer
	for _, m := range f.store.Models() {
		recs := f.store.All(m)
		j, err := json.Marshal(recs)
		require.NoError(f.t, err)
		b.WriteString(m)
		b.Write(j)
	}
	return b.String()
}

func (f *fixture) lastCall() webhook.Call {
	f.t.Helper()
	calls, err := f.log.Calls(context.Background(), webhook.CallQuery{Limit: 1})
	require.NoError(f.t, err)
	require.Len(f.t, calls, 1)
	return calls[0]
}
