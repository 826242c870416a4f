package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookline/webhook"
)

const contactScript = `const {name, email, phone} = payload;
if (name && email) {
  env['res.partner'].create({name, email, phone, company_type: 'person', customer_rank: 1});
} else {
  throw new Error("Missing required fields: 'name' and 'email'");
}`

func contactDef() webhook.Definition {
	return webhook.Definition{Name: "Create contact", Model: "res.partner", Active: true, LogCalls: true,
		Actions: []webhook.Action{{Type: "code", Code: contactScript}}}
}

func TestCodeActionCreatesAContact(t *testing.T) {
	f := newFixture(t, contactDef())

	res := f.post("Create contact", `{"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0000"}`)

	require.Equal(t, http.StatusOK, res.Status, res.Raw)
	recs := f.store.All("res.partner")
	require.Len(t, recs, 2)
	assert.Equal(t, webhook.Record{"id": int64(3), "name": "Ada Lovelace", "email": "ada@example.com",
		"phone": "+44 20 7946 0000", "company_type": "person", "customer_rank": int64(1)}, recs[1])
	assert.Equal(t, []webhook.Touch{{Model: "res.partner", Op: "create", IDs: []webhook.ID{int64(3)}}}, f.lastCall().Touched)
}

func TestCodeActionFailures(t *testing.T) {
	t.Run("a thrown error answers 422 with its message and rolls everything back", func(t *testing.T) {
		def := contactDef()
		def.Actions = append([]webhook.Action{{Type: "create", Set: map[string]any{"name": "first"}}}, def.Actions...)
		f := newFixture(t, def)
		before := f.snapshot()
		res := f.post(def.Name, `{"name": "Ada"}`)
		assert.Equal(t, http.StatusUnprocessableEntity, res.Status)
		assert.Equal(t, "Missing required fields: 'name' and 'email'", res.Body["error"])
		assert.Equal(t, before, f.snapshot())
		call := f.lastCall()
		assert.Contains(t, call.Error, "Missing required fields")
		assert.Contains(t, call.Error, "at ", "the call log keeps the JS stack")
	})
	t.Run("log lines survive a rollback", func(t *testing.T) {
		def := contactDef()
		def.Actions = []webhook.Action{{Type: "code", Code: `log('checking ' + payload.name, 'warning'); throw 'nope';`}}
		f := newFixture(t, def)
		res := f.post(def.Name, `{"name": "Ada"}`)
		assert.Equal(t, http.StatusUnprocessableEntity, res.Status)
		assert.Equal(t, "nope", res.Body["error"])
		logs := f.lastCall().Logs
		require.Len(t, logs, 1)
		assert.Equal(t, "checking Ada", logs[0].Message)
		assert.Equal(t, "warning", logs[0].Level)
	})
	t.Run("a script past its time limit answers 500 and writes nothing", func(t *testing.T) {
		def := contactDef()
		def.Script = &webhook.ScriptLimits{Timeout: webhook.Duration(500 * time.Millisecond)}
		def.Actions = []webhook.Action{{Type: "code", Code: `env['res.partner'].create({name: 'x'}); try { for(;;){} } catch (e) {} for(;;){}`}}
		f := newFixture(t, def)
		before := f.snapshot()
		start := time.Now()
		res := f.post(def.Name, `{}`)
		assert.Less(t, time.Since(start), time.Second, "the call answers within twice the limit")
		assert.Equal(t, http.StatusInternalServerError, res.Status)
		assert.Equal(t, "script timed out after 500ms", res.Body["error"])
		assert.Equal(t, before, f.snapshot())
	})
	t.Run("a store error inside the script can be caught", func(t *testing.T) {
		def := contactDef()
		def.Actions = []webhook.Action{{Type: "code", Code: `
			let missing = false;
			try { env['res.partner'].browse(999); } catch (e) { missing = true; }
			env['res.partner'].create({name: 'caught', missing});`}}
		f := newFixture(t, def)
		require.Equal(t, http.StatusOK, f.post(def.Name, `{}`).Status)
		recs := f.store.All("res.partner")
		require.Len(t, recs, 2)
		assert.Equal(t, true, recs[1]["missing"])
	})
	t.Run("an uncaught store error answers 422 for a missing record", func(t *testing.T) {
		def := contactDef()
		def.Actions = []webhook.Action{{Type: "code", Code: `env['res.partner'].browse(999).write({name: 'x'})`}}
		f := newFixture(t, def)
		res := f.post(def.Name, `{}`)
		assert.Equal(t, http.StatusUnprocessableEntity, res.Status, res.Raw)
	})
	t.Run("a syntax error is reported when the webhook is built, with line and column", func(t *testing.T) {
		def := contactDef()
		def.Actions = []webhook.Action{{Type: "code", Code: "const a = 1;\nconst b = ;"}}
		_, err := newFixture(t).reg.Add(def)
		var se *webhook.ScriptError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, "actions[0].code", se.Field)
		assert.Equal(t, 2, se.Line)
	})
}

func TestCodeActionOnTargets(t *testing.T) {
	def := currencyDef()
	def.Actions = []webhook.Action{
		{Type: "code", Code: `record.write({currency: 'USD', n: record.n + 41}); payload.model = 'mutated';`},
		{Type: "update", Compute: map[string]string{"note": "record.currency + ' ' + string(record.n) + ' ' + payload.model"}},
	}
	f := newFixture(t, def)
	res := f.post(def.Name, `{"model":"sale.order","id":"7"}`)
	require.Equal(t, http.StatusOK, res.Status, res.Raw)
	r := f.record("sale.order", int64(7))
	assert.Equal(t, int64(41), r["n"], "integers stay integers")
	assert.Equal(t, "USD 41 sale.order", r["note"], "later actions see the script's writes, and not its changes to payload")
}

func TestScriptsOfOtherWebhooksKeepRunningDuringAnAttack(t *testing.T) {
	bad := contactDef()
	bad.Name = "attacker"
	bad.Script = &webhook.ScriptLimits{Timeout: webhook.Duration(300 * time.Millisecond)}
	bad.Actions = []webhook.Action{{Type: "code", Code: `let s = 'x'; for (;;) { s += s; }`}}
	f := newFixture(t, bad, contactDef())
	before := len(f.store.All("res.partner"))

	var wg sync.WaitGroup
	wg.Add(1)
	var badStatus int
	go func() {
		defer wg.Done()
		badStatus = f.post("attacker", `{}`).Status
	}()
	time.Sleep(20 * time.Millisecond)
	good := f.post("Create contact", `{"name": "Ada", "email": "ada@example.com"}`)
	wg.Wait()

	assert.Equal(t, http.StatusOK, good.Status)
	assert.Equal(t, http.StatusInternalServerError, badStatus)
	assert.Len(t, f.store.All("res.partner"), before+1)
	calls, _ := f.log.Calls(context.Background(), webhook.CallQuery{Webhook: "attacker"})
	require.Len(t, calls, 1)
	assert.True(t, strings.Contains(calls[0].Error, "memory") || strings.Contains(calls[0].Error, "timed out"), calls[0].Error)
}

func TestScriptLogLinesReachTheLogger(t *testing.T) {
	var buf bytes.Buffer
	f := &fixture{t: t, store: seedStore(t), log: webhook.NewMemoryCallLog(100)}
	reg, err := webhook.NewRegistry(webhook.Config{Store: f.store, CallLog: f.log,
		Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	require.NoError(t, err)
	f.reg = reg
	def := contactDef()
	def.Actions = []webhook.Action{{Type: "code", Code: `log('checking ' + payload.name, 'warning')`}}
	_, err = reg.Add(def)
	require.NoError(t, err)

	require.Equal(t, http.StatusOK, f.post(def.Name, `{"name": "Ada"}`).Status)
	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line), buf.String())
	assert.Equal(t, "webhook script log", line["msg"])
	assert.Equal(t, def.Name, line["webhook"])
	assert.Equal(t, "checking Ada", line["message"])
	assert.Equal(t, "warning", line["level"], "the script's level (the attribute comes after slog's own)")
	assert.NotEmpty(t, line["call_id"])
}
