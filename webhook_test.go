package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookline/webhook"
)

func TestSeedExampleSetsTheOrderCurrency(t *testing.T) {
	f := newFixture(t, currencyDef())

	res := f.post("Update sale order currency", `{"model": "sale.order", "id": "7"}`)

	assert.Equal(t, http.StatusOK, res.Status)
	assert.Equal(t, "{\"status\":\"ok\"}\n", res.Raw)
	assert.Equal(t, "USD", f.record("sale.order", int64(7))["currency"])
	call := f.lastCall()
	assert.Equal(t, res.Header.Get(webhook.CallIDHeader), call.ID)
	assert.Equal(t, webhook.OutcomeOK, call.Outcome)
	assert.Equal(t, []webhook.Touch{{Model: "sale.order", Op: "write", IDs: []webhook.ID{int64(7)}}}, call.Touched)
	assert.JSONEq(t, `{"model": "sale.order", "id": "7"}`, call.Payload)
}

func TestTargetExpressions(t *testing.T) {
	cases := []struct {
		name, target, body string
	}{
		{"Odoo's default reads _model and _id", "env[payload._model].browse(int(payload._id))", `{"_model":"sale.order","_id":7}`},
		{"the seed example reads model and a string id", "env[payload.model].browse(int(payload.id))", `{"model":"sale.order","id":"7"}`},
		{"a list of ids browses several records", "model.browse([7])", `{}`},
		{"search finds records by field value", "model.search({'name': payload.ref})", `{"ref":"S00007"}`},
		{"search takes a limit", "model.search({'currency': 'EUR'}, 1)", `{}`},
		{"headers are visible with lower-case names", "model.browse(int(headers['x-order-id']))", `{}`},
		{"the query string is visible", "model.browse(int(query.id))", `{}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			def := currencyDef()
			def.Target = tc.target
			f := newFixture(t, def)
			req := httptest.NewRequest(http.MethodPost, f.path(def.Name)+"?id=7", strings.NewReader(tc.body))
			req.Header.Set("X-Order-Id", "7")
			res := f.doReq(req)
			assert.Equal(t, http.StatusOK, res.Status, res.Raw)
			assert.Equal(t, "USD", f.record("sale.order", int64(7))["currency"])
		})
	}
}

func TestPayloadSources(t *testing.T) {
	cases := []struct {
		name, method, query, contentType, body string
	}{
		{"JSON is parsed whatever the content type", http.MethodPost, "", "text/plain", `{"id": 7}`},
		{"a form body gives its fields", http.MethodPost, "", "application/x-www-form-urlencoded", "id=7&x=1"},
		{"an unlabelled form body gives its fields", http.MethodPost, "", "", "id=7"},
		{"an empty body falls back to the query string", http.MethodPost, "?id=7", "", ""},
		{"a GET reads the query string", http.MethodGet, "?id=7", "", ""},
		{"free text falls back to the query string", http.MethodPost, "?id=7", "text/plain", "hello world"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			def := currencyDef()
			def.Target = "model.browse(int(payload.id))"
			f := newFixture(t, def)
			res := f.do(tc.method, f.path(def.Name)+tc.query, tc.contentType, strings.NewReader(tc.body))
			assert.Equal(t, http.StatusOK, res.Status, res.Raw)
			assert.Equal(t, "USD", f.record("sale.order", int64(7))["currency"])
		})
	}
}

func TestIntegersStayExact(t *testing.T) {
	for _, body := range []string{`{"n": 9223372036854775807}`, `{"n": "9223372036854775807"}`} {
		t.Run("an id of 2^63-1 sent as "+body+" reaches the store unchanged", func(t *testing.T) {
			def := webhook.Definition{Name: "big", Model: "counter", Active: true,
				Actions: []webhook.Action{{Type: "create", Compute: map[string]string{"n": "int(payload.n)", "raw": "payload.n"}}}}
			f := newFixture(t, def)
			res := f.post("big", body)
			require.Equal(t, http.StatusOK, res.Status, res.Raw)
			recs := f.store.All("counter")
			require.Len(t, recs, 1)
			assert.Equal(t, int64(9223372036854775807), recs[0]["n"])
		})
	}
}

func TestErrorStatuses(t *testing.T) {
	cases := []struct {
		name        string
		method      string
		contentType string
		body        string
		target      string
		status      int
		reason      string
	}{
		{"a PUT is not allowed", http.MethodPut, "application/json", `{}`, "", http.StatusMethodNotAllowed, "method PUT not allowed"},
		{"a body labelled JSON that is not JSON is a bad request", http.MethodPost, "application/json", `{"id":`, "", http.StatusBadRequest, "invalid JSON"},
		{"an unlabelled body that starts like JSON and is not is a bad request", http.MethodPost, "", `{"id": 7,}`, "", http.StatusBadRequest, "invalid JSON"},
		{"a missing key does not fit", http.MethodPost, "application/json", `{"model": "sale.order"}`, "", http.StatusUnprocessableEntity, "no such key: id"},
		{"a value of the wrong type does not fit", http.MethodPost, "application/json", `{"model": "sale.order", "id": "seven"}`, "", http.StatusUnprocessableEntity, "target"},
		{"a record that does not exist does not fit", http.MethodPost, "application/json", `{"model": "sale.order", "id": 99}`, "", http.StatusUnprocessableEntity, "sale.order record 99 not found"},
		{"another model than the webhook's does not fit", http.MethodPost, "application/json", `{"model": "res.partner", "id": 2}`, "", http.StatusUnprocessableEntity, "this webhook acts on sale.order"},
		{"an empty target does not fit", http.MethodPost, "application/json", `{}`, "model.browse([])", http.StatusUnprocessableEntity, "target is empty"},
		{"a search that finds nothing does not fit", http.MethodPost, "application/json", `{}`, "model.search({'name': 'nope'})", http.StatusUnprocessableEntity, "search found none"},
		{"a JSON array payload is refused", http.MethodPost, "application/json", `[1,2]`, "", http.StatusBadRequest, "must be a JSON object, got an array"},
		{"a JSON scalar payload is refused", http.MethodPost, "application/json", `42`, "", http.StatusBadRequest, "must be a JSON object, got a number"},
		{"a number beyond float64 is refused", http.MethodPost, "application/json", `{"id": 1e400}`, "", http.StatusBadRequest, "out of range"},
		{"duplicate keys are refused", http.MethodPost, "application/json", `{"id": 7, "id": 8}`, "", http.StatusBadRequest, "duplicate key"},
		{"invalid UTF-8 is refused", http.MethodPost, "application/json", "{\"id\": \"\xff\"}", "", http.StatusBadRequest, "UTF-8"},
		{"a payload nested 10,000 levels deep is refused", http.MethodPost, "application/json", strings.Repeat("[", 10000) + strings.Repeat("]", 10000), "", http.StatusBadRequest, "nested deeper"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			def := currencyDef()
			if tc.target != "" {
				def.Target = tc.target
			}
			f := newFixture(t, def)
			before := f.snapshot()
			res := f.do(tc.method, f.path(def.Name), tc.contentType, strings.NewReader(tc.body))
			assert.Equal(t, tc.status, res.Status, res.Raw)
			assert.Equal(t, "error", res.Body["status"])
			assert.Contains(t, res.Body["error"], tc.reason)
			assert.NotContains(t, res.Body["error"], "\n")
			assert.Equal(t, res.Header.Get(webhook.CallIDHeader), res.Body["call_id"])
			if tc.status == http.StatusMethodNotAllowed {
				assert.Equal(t, "GET, POST", res.Header.Get("Allow"))
			}
			assert.Equal(t, before, f.snapshot(), "the store must not change")
			call := f.lastCall()
			assert.Equal(t, res.Body["call_id"], call.ID)
			assert.Equal(t, tc.status, call.Status)
			assert.Equal(t, webhook.OutcomeRejected, call.Outcome)
			assert.NotEmpty(t, call.Error)
		})
	}
}

func TestBodyLimit(t *testing.T) {
	f := newFixture(t, currencyDef())
	big := `{"model":"sale.order","id":"7","pad":"` + strings.Repeat("x", 10<<20) + `"}`

	t.Run("a declared length over the limit is refused before reading", func(t *testing.T) {
		body := &countingReader{r: strings.NewReader(big)}
		req := httptest.NewRequest(http.MethodPost, f.path("Update sale order currency"), body)
		req.ContentLength = int64(len(big))
		res := f.doReq(req)
		assert.Equal(t, http.StatusRequestEntityTooLarge, res.Status)
		assert.Zero(t, body.n, "no byte of the body should have been read")
	})
	t.Run("an undeclared length is cut at the limit", func(t *testing.T) {
		body := &countingReader{r: strings.NewReader(big)}
		req := httptest.NewRequest(http.MethodPost, f.path("Update sale order currency"), body)
		req.ContentLength = -1
		res := f.doReq(req)
		assert.Equal(t, http.StatusRequestEntityTooLarge, res.Status)
		assert.LessOrEqual(t, body.n, webhook.DefaultMaxBody+1+32<<10)
		assert.Equal(t, "EUR", f.record("sale.order", int64(7))["currency"])
		assert.Equal(t, http.StatusRequestEntityTooLarge, f.lastCall().Status)
	})
}

type countingReader struct {
	r interface{ Read([]byte) (int, error) }
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestUnknownSecrets(t *testing.T) {
	f := newFixture(t, currencyDef())
	w, _ := f.reg.Get("Update sale order currency")
	body := `{"model":"sale.order","id":"7"}`

	t.Run("an unknown secret answers 404", func(t *testing.T) {
		res := f.do(http.MethodPost, "/web/hook/"+webhook.NewSecret(), "application/json", strings.NewReader(body))
		assert.Equal(t, http.StatusNotFound, res.Status)
		assert.Equal(t, "error", res.Body["status"])
	})
	t.Run("an inactive webhook answers the same 404", func(t *testing.T) {
		require.NoError(t, f.reg.SetActive(w.Name(), false))
		defer func() { require.NoError(t, f.reg.SetActive(w.Name(), true)) }()
		res := f.post(w.Name(), body)
		assert.Equal(t, http.StatusNotFound, res.Status)
		assert.Equal(t, "no active webhook at this URL", res.Body["error"])
		assert.Equal(t, "EUR", f.record("sale.order", int64(7))["currency"])
	})
	t.Run("a rotated-away secret answers 404 at once and the new URL works", func(t *testing.T) {
		old := w.URL("")
		newURL, err := f.reg.RotateSecret(w.Name())
		require.NoError(t, err)
		assert.NotEqual(t, old, newURL)
		assert.Equal(t, http.StatusNotFound, f.do(http.MethodPost, old, "", strings.NewReader(body)).Status)
		assert.Equal(t, http.StatusOK, f.do(http.MethodPost, newURL, "", strings.NewReader(body)).Status)
	})
	t.Run("a removed webhook answers 404", func(t *testing.T) {
		u := w.URL("")
		require.NoError(t, f.reg.Remove(w.Name()))
		assert.Equal(t, http.StatusNotFound, f.do(http.MethodPost, u, "", strings.NewReader(body)).Status)
		assert.ErrorIs(t, f.reg.Remove(w.Name()), webhook.ErrUnknownWebhook)
	})
}

func TestSecrets(t *testing.T) {
	t.Run("generated secrets are 256-bit URL-safe strings and differ", func(t *testing.T) {
		a, b := webhook.NewSecret(), webhook.NewSecret()
		assert.Len(t, a, 43)
		assert.NotEqual(t, a, b)
		assert.Regexp(t, `^[A-Za-z0-9_-]{43}$`, a)
	})
	t.Run("a short chosen secret is refused", func(t *testing.T) {
		def := currencyDef()
		def.Secret = "short"
		_, err := newFixture(t).reg.Add(def)
		var ce *webhook.ConfigError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, "secret", ce.Field)
	})
	t.Run("two webhooks cannot share a secret", func(t *testing.T) {
		a, b := currencyDef(), currencyDef()
		a.Secret = "0123456789abcdefghijklmnop"
		b.Secret, b.Name = a.Secret, "other"
		f := newFixture(t, a)
		_, err := f.reg.Add(b)
		assert.ErrorIs(t, err, webhook.ErrSecretTaken)
	})
	t.Run("a chosen secret is the last path segment under any prefix", func(t *testing.T) {
		def := currencyDef()
		def.Secret = "0123456789abcdefghijklmnop"
		f := newFixture(t, def)
		res := f.do(http.MethodPost, "/any/prefix/"+def.Secret, "", strings.NewReader(`{"model":"sale.order","id":7}`))
		assert.Equal(t, http.StatusOK, res.Status)
	})
	t.Run("the secret never appears in the call log", func(t *testing.T) {
		f := newFixture(t, currencyDef())
		w, _ := f.reg.Get("Update sale order currency")
		f.post(w.Name(), `{"model":"sale.order","id":"7"}`)
		f.post(w.Name(), `{"model":"sale.order"}`)
		calls, err := f.log.Calls(context.Background(), webhook.CallQuery{})
		require.NoError(t, err)
		require.Len(t, calls, 2)
		j, err := json.Marshal(calls)
		require.NoError(t, err)
		assert.NotContains(t, string(j), w.Secret())
	})
}

func TestMountingOnAServeMux(t *testing.T) {
	f := newFixture(t, currencyDef())
	mux := http.NewServeMux()
	mux.Handle("/web/hook/{secret}", f.reg)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	w, _ := f.reg.Get("Update sale order currency")

	resp, err := http.Post(w.URL(srv.URL), "application/json", strings.NewReader(`{"model":"sale.order","id":"7"}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "USD", f.record("sale.order", int64(7))["currency"])
}

func TestAWebhookServesOnItsOwn(t *testing.T) {
	f := newFixture(t, currencyDef())
	w, _ := f.reg.Get("Update sale order currency")
	srv := httptest.NewServer(w)
	defer srv.Close()

	resp, err := http.Post(srv.URL+"/orders/hook", "application/json", strings.NewReader(`{"model":"sale.order","id":"7"}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "USD", f.record("sale.order", int64(7))["currency"])
}

func TestActions(t *testing.T) {
	t.Run("update computes values from the payload and the record", func(t *testing.T) {
		def := currencyDef()
		def.Actions = []webhook.Action{{Type: "update", Compute: map[string]string{
			"note": "'updated by ' + payload.model", "name": "record.name + '-x'"}}}
		f := newFixture(t, def)
		require.Equal(t, http.StatusOK, f.post(def.Name, `{"model":"sale.order","id":"7"}`).Status)
		r := f.record("sale.order", int64(7))
		assert.Equal(t, "updated by sale.order", r["note"])
		assert.Equal(t, "S00007-x", r["name"])
	})
	t.Run("when skips an action whose condition is false", func(t *testing.T) {
		def := currencyDef()
		def.Actions = []webhook.Action{
			{Type: "update", Set: map[string]any{"currency": "USD"}, When: "has(payload.usd)"},
			{Type: "update", Set: map[string]any{"note": "seen"}},
		}
		f := newFixture(t, def)
		require.Equal(t, http.StatusOK, f.post(def.Name, `{"model":"sale.order","id":"7"}`).Status)
		r := f.record("sale.order", int64(7))
		assert.Equal(t, "EUR", r["currency"])
		assert.Equal(t, "seen", r["note"])
	})
	t.Run("create stores fixed and computed values and links the target", func(t *testing.T) {
		def := currencyDef()
		def.Actions = []webhook.Action{{Type: "create", Model: "mail.message", Set: map[string]any{"kind": "log", "qty": 3},
			Compute: map[string]string{"body": "'currency set'"}, LinkField: "res_id"}}
		f := newFixture(t, def)
		res := f.post(def.Name, `{"model":"sale.order","id":"7"}`)
		require.Equal(t, http.StatusOK, res.Status, res.Raw)
		msgs := f.store.All("mail.message")
		require.Len(t, msgs, 1)
		assert.Equal(t, "log", msgs[0]["kind"])
		assert.Equal(t, int64(3), msgs[0]["qty"])
		assert.Equal(t, "currency set", msgs[0]["body"])
		assert.Equal(t, int64(7), msgs[0]["res_id"])
		assert.Equal(t, []webhook.Touch{{Model: "mail.message", Op: "create", IDs: []webhook.ID{msgs[0]["id"]}}}, f.lastCall().Touched)
	})
	t.Run("with no target the actions run once", func(t *testing.T) {
		def := webhook.Definition{Name: "Create contact", Model: "res.partner", Active: true,
			Actions: []webhook.Action{{Type: "create", Set: map[string]any{"company_type": "person", "customer_rank": 1},
				Compute: map[string]string{"name": "payload.name", "email": "payload.email"}}}}
		f := newFixture(t, def)
		require.Equal(t, http.StatusOK, f.post(def.Name, `{"name":"Ada","email":"ada@example.com"}`).Status)
		recs := f.store.All("res.partner")
		require.Len(t, recs, 2)
		assert.Equal(t, "Ada", recs[1]["name"])
		assert.Equal(t, int64(1), recs[1]["customer_rank"])
	})
	t.Run("several targets: each action runs over every record before the next action", func(t *testing.T) {
		def := currencyDef()
		def.Target = "model.browse([7, 8])"
		def.Actions = []webhook.Action{
			{Type: "create", Model: "trace", Compute: map[string]string{"step": "'a'", "rec": "record.id"}},
			{Type: "multi", Actions: []webhook.Action{
				{Type: "create", Model: "trace", Compute: map[string]string{"step": "'b'", "rec": "record.id"}},
			}},
		}
		f := newFixture(t, def)
		_, err := f.store.Create(context.Background(), "sale.order", webhook.Record{"id": int64(8), "name": "S00008"})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, f.post(def.Name, `{}`).Status)
		var got []string
		for _, r := range f.store.All("trace") {
			got = append(got, fmt.Sprintf("%v%v", r["step"], r["rec"]))
		}
		assert.Equal(t, []string{"a7", "a8", "b7", "b8"}, got)
	})
	t.Run("a later action sees what an earlier one wrote", func(t *testing.T) {
		def := currencyDef()
		def.Actions = []webhook.Action{
			{Type: "update", Set: map[string]any{"currency": "USD"}},
			{Type: "update", Compute: map[string]string{"note": "'now ' + record.currency"}},
		}
		f := newFixture(t, def)
		require.Equal(t, http.StatusOK, f.post(def.Name, `{"model":"sale.order","id":"7"}`).Status)
		assert.Equal(t, "now USD", f.record("sale.order", int64(7))["note"])
	})
}

func TestAllOrNothing(t *testing.T) {
	def := currencyDef()
	def.Actions = []webhook.Action{
		{Type: "update", Set: map[string]any{"currency": "USD"}},
		{Type: "create", Model: "mail.message", Set: map[string]any{"kind": "log"}},
		{Type: "update", Compute: map[string]string{"note": "payload.missing"}},
	}
	f := newFixture(t, def)
	before := f.snapshot()

	res := f.post(def.Name, `{"model":"sale.order","id":"7"}`)

	assert.Equal(t, http.StatusUnprocessableEntity, res.Status)
	assert.Contains(t, res.Body["error"], "actions[2].compute.note")
	assert.Equal(t, before, f.snapshot(), "earlier writes must be rolled back")
	assert.Empty(t, f.store.All("mail.message"))
	assert.Equal(t, webhook.OutcomeRejected, f.lastCall().Outcome)
}

func TestConcurrentCallsLoseNoUpdate(t *testing.T) {
	def := currencyDef()
	def.Actions = []webhook.Action{{Type: "update", Compute: map[string]string{"n": "record.n + 1"}}}
	f := newFixture(t, def)
	path := f.path(def.Name)

	var wg sync.WaitGroup
	statuses := make(chan int, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := httptest.NewRecorder()
			f.reg.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, strings.NewReader(`{"model":"sale.order","id":7}`)))
			statuses <- rec.Code
		}()
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		assert.Equal(t, http.StatusOK, s)
	}
	assert.Equal(t, int64(50), f.record("sale.order", int64(7))["n"])
}

func TestChangesWhileServing(t *testing.T) {
	f := newFixture(t, currencyDef())
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, w := range f.reg.Webhooks() {
					rec := httptest.NewRecorder()
					f.reg.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, w.URL(""), strings.NewReader(`{"model":"sale.order","id":7}`)))
					if rec.Code != http.StatusOK && rec.Code != http.StatusNotFound {
						t.Errorf("status %d: %s", rec.Code, rec.Body)
					}
				}
			}
		}()
	}
	for i := 0; i < 50; i++ {
		def := currencyDef()
		def.Name = fmt.Sprintf("hook %d", i)
		_, err := f.reg.Add(def)
		require.NoError(t, err)
		_, err = f.reg.RotateSecret(def.Name)
		require.NoError(t, err)
		require.NoError(t, f.reg.SetActive(def.Name, i%2 == 0))
		if i%3 == 0 {
			require.NoError(t, f.reg.Remove(def.Name))
		}
	}
	close(stop)
	wg.Wait()
	assert.Len(t, f.reg.Webhooks(), 1+50-17)
}

func TestBuildErrors(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*webhook.Definition)
		field string
		line  int
		col   int
	}{
		{"a target that does not parse names its line and column", func(d *webhook.Definition) { d.Target = "model.browse(\n  int(payload.id)" }, "target", 2, 18},
		{"a target of the wrong type is refused", func(d *webhook.Definition) { d.Target = "int(payload.id)" }, "target", 1, 1},
		{"an unknown variable is refused", func(d *webhook.Definition) { d.Target = "modle.browse(1)" }, "target", 1, 1},
		{"a condition that is not a bool is refused", func(d *webhook.Definition) { d.Actions[0].When = "'yes'" }, "actions[0].when", 1, 1},
		{"a compute expression that does not parse is refused", func(d *webhook.Definition) {
			d.Actions[0].Compute = map[string]string{"note": "payload.model +"}
		}, "actions[0].compute.note", 1, 16},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			def := currencyDef()
			tc.edit(&def)
			_, err := newFixture(t).reg.Add(def)
			var ee *webhook.ExprError
			require.ErrorAs(t, err, &ee)
			assert.Equal(t, def.Name, ee.Webhook)
			assert.Equal(t, tc.field, ee.Field)
			assert.Equal(t, tc.line, ee.Line)
			if tc.col > 1 {
				assert.Equal(t, tc.col, ee.Column)
			}
			assert.Contains(t, err.Error(), tc.field)
		})
	}
	configCases := []struct {
		name string
		edit func(*webhook.Definition)
	}{
		{"an update without a target is refused", func(d *webhook.Definition) { d.Target = "" }},
		{"an unknown action type is refused", func(d *webhook.Definition) { d.Actions[0].Type = "delete" }},
		{"a missing model is refused", func(d *webhook.Definition) { d.Model = "" }},
		{"a missing name is refused", func(d *webhook.Definition) { d.Name = "" }},
		{"writing the id is refused", func(d *webhook.Definition) { d.Actions[0].Set = map[string]any{"id": 3} }},
		{"a value that is not JSON is refused", func(d *webhook.Definition) { d.Actions[0].Set = map[string]any{"x": struct{}{}} }},
	}
	for _, tc := range configCases {
		t.Run(tc.name, func(t *testing.T) {
			def := currencyDef()
			tc.edit(&def)
			_, err := newFixture(t).reg.Add(def)
			var ce *webhook.ConfigError
			require.ErrorAs(t, err, &ce)
		})
	}
	t.Run("a duplicate name is refused", func(t *testing.T) {
		f := newFixture(t, currencyDef())
		_, err := f.reg.Add(currencyDef())
		assert.ErrorIs(t, err, webhook.ErrDuplicateName)
	})
}

func TestDefinitionsRoundTripThroughJSON(t *testing.T) {
	const doc = `{"webhooks": [{
	  "name": "Update sale order currency",
	  "model": "sale.order",
	  "active": true,
	  "log_calls": true,
	  "secret": "",
	  "target": "env[payload.model].browse(int(payload.id))",
	  "actions": [
	    {"type": "update", "set": {"currency": "USD"}},
	    {"type": "update", "compute": {"note": "'updated by ' + payload.model"}, "when": "has(payload.model)"},
	    {"type": "create", "model": "mail.message", "set": {"kind": "log", "qty": 9007199254740993}, "compute": {"body": "'currency set'"}, "link_field": "res_id"},
	    {"type": "multi", "actions": []}
	  ]
	}]}`
	defs, err := webhook.LoadDefinitions(strings.NewReader(doc))
	require.NoError(t, err)
	require.Len(t, defs, 1)
	assert.Equal(t, "sale.order", defs[0].Model)
	require.Len(t, defs[0].Actions, 4)

	out, err := json.Marshal(webhook.Definitions{Webhooks: defs})
	require.NoError(t, err)
	again, err := webhook.LoadDefinitions(strings.NewReader(string(out)))
	require.NoError(t, err)
	out2, err := json.Marshal(webhook.Definitions{Webhooks: again})
	require.NoError(t, err)
	assert.JSONEq(t, string(out), string(out2))
	assert.Equal(t, defs[0].Actions[2], again[0].Actions[2])
	assert.Contains(t, string(out), "9007199254740993", "integers must stay exact")

	f := newFixture(t)
	w, err := f.reg.Add(defs[0])
	require.NoError(t, err)
	assert.NotEmpty(t, w.Secret(), "an empty secret means generate one")
	res := f.post(w.Name(), `{"model":"sale.order","id":"7"}`)
	require.Equal(t, http.StatusOK, res.Status, res.Raw)
	msgs := f.store.All("mail.message")
	require.Len(t, msgs, 1)
	assert.Equal(t, int64(9007199254740993), msgs[0]["qty"])

	t.Run("an omitted active flag means active", func(t *testing.T) {
		defs, err := webhook.LoadDefinitions(strings.NewReader(`{"webhooks":[{"name":"a","model":"m"}]}`))
		require.NoError(t, err)
		assert.True(t, defs[0].Active)
	})
	t.Run("an unknown key is refused", func(t *testing.T) {
		_, err := webhook.LoadDefinitions(strings.NewReader(`{"webhooks":[{"name":"a","model":"m","log_call":true}]}`))
		assert.ErrorContains(t, err, "log_call")
	})
}

func TestCallLog(t *testing.T) {
	t.Run("credentials in headers are redacted", func(t *testing.T) {
		f := newFixture(t, currencyDef())
		req := httptest.NewRequest(http.MethodPost, f.path("Update sale order currency"), strings.NewReader(`{"model":"sale.order","id":7}`))
		for _, h := range []string{"Authorization", "Cookie", "X-Hub-Signature-256", "Stripe-Signature", "Webhook-Signature", "X-Api-Key", "X-Shopify-Hmac-Sha256"} {
			req.Header.Set(h, "s3cr3t-"+h)
		}
		req.Header.Set("User-Agent", "curl/8")
		f.doReq(req)
		call := f.lastCall()
		j, _ := json.Marshal(call)
		assert.NotContains(t, string(j), "s3cr3t")
		assert.Equal(t, []string{"[redacted]"}, call.Headers["Authorization"])
		assert.Equal(t, []string{"curl/8"}, call.Headers["User-Agent"])
	})
	t.Run("a long payload is truncated and marked", func(t *testing.T) {
		reg, err := webhook.NewRegistry(webhook.Config{Store: seedStore(t), MaxLoggedPayload: 16})
		require.NoError(t, err)
		w, err := reg.Add(currencyDef())
		require.NoError(t, err)
		rec := httptest.NewRecorder()
		reg.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, w.URL(""), strings.NewReader(`{"model":"sale.order","id":7}`)))
		require.Equal(t, http.StatusOK, rec.Code)
		calls, err := reg.Calls(context.Background(), webhook.CallQuery{Webhook: w.Name()})
		require.NoError(t, err)
		require.Len(t, calls, 1)
		assert.Equal(t, `{"model":"sale.o`, calls[0].Payload)
		assert.True(t, calls[0].PayloadTruncated)
	})
	t.Run("without log_calls no entry is written", func(t *testing.T) {
		def := currencyDef()
		def.LogCalls = false
		f := newFixture(t, def)
		f.post(def.Name, `{"model":"sale.order","id":7}`)
		calls, err := f.log.Calls(context.Background(), webhook.CallQuery{})
		require.NoError(t, err)
		assert.Empty(t, calls)
	})
	t.Run("the memory log keeps the newest entries per webhook, newest first", func(t *testing.T) {
		l := webhook.NewMemoryCallLog(3)
		for i := 0; i < 5; i++ {
			require.NoError(t, l.Append(context.Background(), &webhook.Call{ID: fmt.Sprint(i), Webhook: []string{"a", "b"}[i%2]}))
		}
		all, _ := l.Calls(context.Background(), webhook.CallQuery{})
		assert.Equal(t, []string{"4", "3", "2"}, ids(all))
		a, _ := l.Calls(context.Background(), webhook.CallQuery{Webhook: "a", Limit: 1})
		assert.Equal(t, []string{"4"}, ids(a))
	})
}

func ids(calls []webhook.Call) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.ID)
	}
	return out
}

// faultyStore fails or panics on Write, to show store faults become 500s
// without internals in the body.
type faultyStore struct {
	webhook.RecordStore
	panics bool
}

func (s faultyStore) Write(ctx context.Context, model string, id webhook.ID, v webhook.Record) error {
	if s.panics {
		panic("disk on fire")
	}
	return errors.New("connection reset by peer at 10.0.0.3:5432")
}

func TestServerFaults(t *testing.T) {
	for _, panics := range []bool{false, true} {
		name := "a store error answers 500 without internals"
		if panics {
			name = "a panic answers 500 and the server keeps serving"
		}
		t.Run(name, func(t *testing.T) {
			log := webhook.NewMemoryCallLog(10)
			reg, err := webhook.NewRegistry(webhook.Config{Store: faultyStore{RecordStore: seedStore(t), panics: panics}, CallLog: log})
			require.NoError(t, err)
			w, err := reg.Add(currencyDef())
			require.NoError(t, err)
			for i := 0; i < 2; i++ {
				rec := httptest.NewRecorder()
				reg.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, w.URL(""), strings.NewReader(`{"model":"sale.order","id":7}`)))
				assert.Equal(t, http.StatusInternalServerError, rec.Code)
				assert.Contains(t, rec.Body.String(), `"error":"internal error"`)
				assert.NotContains(t, rec.Body.String(), "10.0.0.3")
				assert.NotContains(t, rec.Body.String(), "fire")
			}
			calls, _ := log.Calls(context.Background(), webhook.CallQuery{})
			require.Len(t, calls, 2)
			assert.Equal(t, webhook.OutcomeFailed, calls[0].Outcome)
			if panics {
				assert.Contains(t, calls[0].Error, "disk on fire")
			} else {
				assert.Contains(t, calls[0].Error, "10.0.0.3")
			}
		})
	}
}

func TestRunawayExpressionsAreStopped(t *testing.T) {
	def := currencyDef()
	def.Target = "model.browse(payload.xs.map(x, payload.xs.map(y, x + y)).size() > 0 ? 7 : 7)"
	f := newFixture(t, def)
	xs := make([]string, 20000)
	for i := range xs {
		xs[i] = fmt.Sprint(i)
	}
	body := `{"xs":[` + strings.Join(xs, ",") + `]}`

	res := f.post(def.Name, body)

	assert.Equal(t, http.StatusUnprocessableEntity, res.Status)
	assert.Contains(t, res.Body["error"], "cost limit")
	assert.Equal(t, "EUR", f.record("sale.order", int64(7))["currency"])
}

func TestAMissingTargetIsRefusedWhateverTheActions(t *testing.T) {
	cases := map[string][]webhook.Action{
		"an update":                          {{Type: "update", Set: map[string]any{"currency": "USD"}}},
		"a create linked to the target":      {{Type: "create", Model: "mail.message", LinkField: "res_id"}},
		"an update whose condition is false": {{Type: "update", Set: map[string]any{"currency": "USD"}, When: "false"}},
		"a create, then an update":           {{Type: "create", Model: "mail.message"}, {Type: "update", Set: map[string]any{"x": 1}}},
	}
	for name, acts := range cases {
		t.Run("a webhook with "+name+" answers 422 for a record that does not exist", func(t *testing.T) {
			def := currencyDef()
			def.Actions = acts
			f := newFixture(t, def)
			before := f.snapshot()
			res := f.post(def.Name, `{"model":"sale.order","id":"99"}`)
			assert.Equal(t, http.StatusUnprocessableEntity, res.Status)
			assert.Equal(t, "sale.order record 99 not found", res.Body["error"])
			assert.Equal(t, before, f.snapshot())
		})
	}
}
