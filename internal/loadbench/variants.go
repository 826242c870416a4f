package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/hookline/webhook"
	"github.com/hookline/webhook/memstore"
	"github.com/hookline/webhook/sqlstore"
	"github.com/hookline/webhook/sqlstore/sqlite"
)

// variant is one server under test.
type variant struct {
	name string
	// about says in a few words what the variant does, for the output.
	about string
	// baseline names the variant this one is compared with; empty for a
	// baseline.
	baseline string
	// minRatio is the target throughput as a fraction of the baseline's,
	// and maxP99 the target p99 as a multiple of the baseline's; zero
	// means no target.
	minRatio, maxP99 float64
	// setup builds the variant's handler; dir is a temporary directory
	// the variant may put files in.
	setup func(ctx context.Context, dir string) (*target, error)
}

// target is a variant ready to serve.
type target struct {
	handler http.Handler
	// path is the request path and body the request body.
	path string
	body []byte
	// header holds extra request headers.
	header map[string]string
	// signer, when set, signs each request with a fresh id.
	signer *swSigner
	// check, when set, is called after the last round with the number of
	// 2xx responses the variant gave (warm-up included) to confirm that
	// the requests did what they should have.
	check func(answered int64) error
	// close releases what setup opened.
	close func()
}

// unavailable is the error of a variant that cannot run in this build,
// such as one whose part of the library is still a placeholder.
type unavailable struct {
	reason string
}

// Error says the variant is not available, and why.
func (u *unavailable) Error() string { return "not available: " + u.reason }

// The bodies of the seed examples.
var (
	orderBody   = []byte(`{"model": "sale.order", "id": "7"}`)
	contactBody = []byte(`{"name": "Ada", "email": "ada@example.com", "phone": "+1"}`)
)

// variants are all the variants, in the order they run in a round.
var variants = []*variant{
	{name: "bare", about: "net/http handler: read body, encoding/json into map[string]any, answer {\"status\":\"ok\"}", setup: setupBare},
	{name: "update/mem", about: "seed example 1 (update currency, log calls) on memstore", baseline: "bare", minRatio: 0.85, maxP99: 1.5, setup: setupUpdateMem},
	{name: "create/mem", about: "seed example 2 without JavaScript: the same partner made by a create action computed from the payload (no target, call log on): what code/mem costs without the script", baseline: "bare", setup: setupCreateMem},
	{name: "code/mem", about: "seed example 2 (create contact) as a JavaScript code action on memstore", baseline: "bare", minRatio: 0.6, setup: setupCodeMem},
	{name: "update/sqlite", about: "seed example 1 on sqlstore/sqlite, sale.order mapped to table sale_order, memory call log", baseline: "hand/sqlite", minRatio: 0.9, setup: setupUpdateSQLite},
	{name: "hand/sqlite", about: "hand-written handler: parse JSON and id, UPDATE sale_order in a transaction", setup: setupHandSQLite},
	{name: "verified", about: "update/mem with Standard Webhooks signatures (the client signs each request afresh) and dedupe on webhook-id (default 24h window)", baseline: "bare", minRatio: 0.8, setup: setupVerified},
	{name: "hand/verified", about: "hand-written handler: bare plus Standard Webhooks verification with crypto/hmac and a map of webhook-ids (no record written, no log): what verifying costs without the library", baseline: "bare", setup: setupHandVerified},
}

// okBody is what every variant answers on success.
var okBody = []byte("{\"status\":\"ok\"}\n")

// mount serves h where a registry is mounted in the product, so that every
// variant pays the same routing.
func mount(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/web/hook/{secret}", h)
	return mux
}

// barePath is the URL path of the handlers that are not a registry: the
// same shape as a webhook URL.
const barePath = "/web/hook/0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"

// setupBare serves bareHandler.
func setupBare(context.Context, string) (*target, error) {
	return &target{handler: mount(http.HandlerFunc(bareHandler)), path: barePath, body: orderBody}, nil
}

// bareHandler is the ceiling: what any JSON webhook handler must do at
// least.
func bareHandler(rw http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(rw, req.Body, webhook.DefaultMaxBody))
	if err != nil {
		http.Error(rw, `{"status":"error"}`, http.StatusBadRequest)
		return
	}
	var payload map[string]any
	if err := json.Unmarshal(body, &payload); err != nil {
		http.Error(rw, `{"status":"error"}`, http.StatusBadRequest)
		return
	}
	rw.Header().Set("Content-Type", "application/json")
	_, _ = rw.Write(okBody)
}

// currencyDef is seed example 1.
func currencyDef() webhook.Definition {
	return webhook.Definition{
		Name:     "Update sale order currency",
		Model:    "sale.order",
		Active:   true,
		LogCalls: true,
		Target:   "env[payload.model].browse(int(payload.id))",
		Actions:  []webhook.Action{{Type: webhook.ActionUpdate, Set: map[string]any{"currency": "USD"}}},
	}
}

// seedStore returns a memstore holding sale.order 7 and the placeholder
// partner 2, as the seed examples expect.
func seedStore() (*memstore.Store, error) {
	s := memstore.New()
	err := s.Load(map[string][]webhook.Record{
		"sale.order":  {{"id": int64(7), "name": "S00007", "currency": "EUR"}},
		"res.partner": {{"id": int64(2), "name": "Placeholder"}},
	})
	return s, err
}

// registryTarget registers def on a registry over store, with a memory call
// log, and serves it mounted as in the product.
func registryTarget(store webhook.RecordStore, def webhook.Definition, body []byte) (*target, *webhook.Registry, error) {
	reg, err := webhook.NewRegistry(webhook.Config{Store: store, CallLog: webhook.NewMemoryCallLog(webhook.DefaultCallLogSize)})
	if err != nil {
		return nil, nil, err
	}
	w, err := reg.Add(def)
	if err != nil {
		return nil, nil, err
	}
	return &target{handler: mount(reg), path: w.URL(""), body: body}, reg, nil
}

// setupUpdateMem serves seed example 1 on memstore and checks afterwards
// that the order is in USD.
func setupUpdateMem(context.Context, string) (*target, error) {
	store, err := seedStore()
	if err != nil {
		return nil, err
	}
	t, _, err := registryTarget(store, currencyDef(), orderBody)
	if err != nil {
		return nil, err
	}
	t.check = func(int64) error {
		recs, err := store.Browse(context.Background(), "sale.order", []webhook.ID{int64(7)})
		if err != nil {
			return err
		}
		if recs[0]["currency"] != "USD" {
			return fmt.Errorf("sale.order 7 has currency %v, want USD", recs[0]["currency"])
		}
		return nil
	}
	return t, nil
}

// contactScript is seed example 2, "Create a contact", as JavaScript: the
// Odoo original reads name, email and phone from the payload and, when name
// and email are there, creates a partner with them plus company_type
// "person" and customer_rank 1; otherwise it raises.
const contactScript = `const {name, email, phone} = payload;
if (name && email) {
  env['res.partner'].create({name, email, phone, company_type: 'person', customer_rank: 1});
} else {
  throw new Error("Missing required fields: 'name' and 'email'");
}
`

// contactDef is seed example 2 as the quickstart serves it: without
// Odoo's placeholder target, which we do not need (a target is read, and
// on memstore locked, for the whole script).
func contactDef() webhook.Definition {
	return webhook.Definition{
		Name:     "Create contact",
		Model:    "res.partner",
		Active:   true,
		LogCalls: true,
		Actions:  []webhook.Action{{Type: webhook.ActionCode, Code: contactScript}},
	}
}

// setupCodeMem serves seed example 2 as a code action on memstore, first
// making sure that the action really creates the partner, and checks
// afterwards that every request created one.
func setupCodeMem(context.Context, string) (*target, error) {
	store, err := seedStore()
	if err != nil {
		return nil, err
	}
	t, reg, err := registryTarget(store, contactDef(), contactBody)
	if err != nil {
		return nil, &unavailable{reason: "adding the code action failed: " + err.Error()}
	}
	// A code action that answers 200 without creating the partner is
	// the placeholder script package: measuring it would flatter the
	// library.
	before := len(store.All("res.partner"))
	if err := probeTarget(reg, t); err != nil {
		return nil, &unavailable{reason: "the code action does not work: " + err.Error()}
	}
	after := store.All("res.partner")
	if len(after) != before+1 {
		return nil, &unavailable{reason: "the code action answered 200 but created no partner: the root package still runs a placeholder instead of internal/script"}
	}
	if p := after[len(after)-1]; p["name"] != "Ada" || p["company_type"] != "person" {
		return nil, &unavailable{reason: fmt.Sprintf("the code action created %v, want Ada, a person", p)}
	}
	t.check = func(answered int64) error {
		// The probe made one partner; each call answered 200 one more.
		if got, want := int64(len(store.All("res.partner"))), int64(before)+1+answered; got != want {
			return fmt.Errorf("%d partners after %d calls answered 200, want %d", got, answered, want)
		}
		return nil
	}
	return t, nil
}

// setupCreateMem serves seed example 2 as a create action, and checks
// afterwards that every request created a partner.
func setupCreateMem(context.Context, string) (*target, error) {
	store, err := seedStore()
	if err != nil {
		return nil, err
	}
	def := contactDef()
	def.Actions = []webhook.Action{{
		Type:    webhook.ActionCreate,
		Set:     map[string]any{"company_type": "person", "customer_rank": 1},
		Compute: map[string]string{"name": "payload.name", "email": "payload.email", "phone": "payload.phone"},
	}}
	t, _, err := registryTarget(store, def, contactBody)
	if err != nil {
		return nil, err
	}
	before := len(store.All("res.partner"))
	t.check = func(answered int64) error {
		if got, want := int64(len(store.All("res.partner"))), int64(before)+answered; got != want {
			return fmt.Errorf("%d partners after %d calls answered 200, want %d", got, answered, want)
		}
		return nil
	}
	return t, nil
}

// probe sends the raw request in-process to h and wants a 200.
func probe(h http.Handler, raw []byte) (*httptest.ResponseRecorder, error) {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return rec, fmt.Errorf("status %d: %.200s", rec.Code, rec.Body)
	}
	return rec, nil
}

// probeTarget sends t's request once in-process to h and wants a 200.
func probeTarget(h http.Handler, t *target) error {
	_, err := probe(h, buildRequest("loadbench", t.path, t.header, t.body))
	return err
}

// The two SQLite variants each get their own database file with the same
// table, so that they touch a plain sale_order table in the same way.
const saleOrderDDL = `CREATE TABLE sale_order (id INTEGER PRIMARY KEY, name TEXT NOT NULL, currency TEXT NOT NULL)`

// openSaleOrders creates a database file in dir holding sale_order 7,
// opened as package sqlstore/sqlite opens databases (WAL, busy timeout,
// BEGIN IMMEDIATE, a small pool).
func openSaleOrders(ctx context.Context, dir, file string) (*sql.DB, error) {
	db, err := sqlite.OpenDB(filepath.Join(dir, file))
	if err != nil {
		return nil, err
	}
	for _, q := range []string{saleOrderDDL, `INSERT INTO sale_order (id, name, currency) VALUES (7, 'S00007', 'EUR')`} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	return db, nil
}

// checkCurrency confirms that sale_order 7 is in USD.
func checkCurrency(db *sql.DB) error {
	var cur string
	if err := db.QueryRow(`SELECT currency FROM sale_order WHERE id = 7`).Scan(&cur); err != nil {
		return err
	}
	if cur != "USD" {
		return fmt.Errorf("sale_order 7 has currency %q, want USD", cur)
	}
	return nil
}

// setupUpdateSQLite serves seed example 1 on a sqlstore in a file of
// dir, with sale.order mapped to the table sale_order.
func setupUpdateSQLite(ctx context.Context, dir string) (*target, error) {
	db, err := openSaleOrders(ctx, dir, "library.db")
	if err != nil {
		return nil, err
	}
	st, err := sqlstore.Open(ctx, db, sqlstore.Config{
		Dialect:    sqlstore.SQLite,
		Tables:     map[string]sqlstore.Table{"sale.order": {Name: "sale_order"}},
		MappedOnly: true,
	})
	if err != nil {
		_ = db.Close()
		return nil, &unavailable{reason: "sqlstore.Open: " + err.Error()}
	}
	// The call log stays in memory: the hand-written handler keeps no log
	// either, so both variants run the same statements on sale_order.
	t, reg, err := registryTarget(st, currencyDef(), orderBody)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	if err := probeTarget(reg, t); err != nil {
		_ = db.Close()
		return nil, &unavailable{reason: "seed example 1 on sqlstore fails: " + err.Error()}
	}
	t.check = func(int64) error { return checkCurrency(db) }
	t.close = func() { _ = db.Close() }
	return t, nil
}

// setupHandSQLite serves handSQLite on a file of its own in dir.
func setupHandSQLite(ctx context.Context, dir string) (*target, error) {
	db, err := openSaleOrders(ctx, dir, "hand.db")
	if err != nil {
		return nil, err
	}
	h := &handSQLite{db: db}
	return &target{
		handler: mount(h),
		path:    barePath,
		body:    orderBody,
		check:   func(int64) error { return checkCurrency(db) },
		close:   func() { _ = db.Close() },
	}, nil
}

// handSQLite is what an engineer would write by hand for seed example 1 on
// SQLite: parse the JSON and the id, then UPDATE in a transaction. Writers
// take turns on a mutex, as sqlstore's do on its writing lock: SQLite has
// one writer, and leaving the waiting to its busy handler (which sleeps)
// would make the baseline needlessly slow.
type handSQLite struct {
	db *sql.DB
	mu sync.Mutex
}

// ServeHTTP answers as the library does: 200 {"status":"ok"} on success.
func (h *handSQLite) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	id, ok := readOrderID(rw, req)
	if !ok {
		return
	}
	if status := h.update(req.Context(), id); status != http.StatusOK {
		http.Error(rw, `{"status":"error"}`, status)
		return
	}
	rw.Header().Set("Content-Type", "application/json")
	_, _ = rw.Write(okBody)
}

// update sets the currency of order id, answering the status to send.
func (h *handSQLite) update(ctx context.Context, id int64) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	tx, err := h.db.BeginTx(ctx, nil)
	if err != nil {
		return http.StatusInternalServerError
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.ExecContext(ctx, `UPDATE sale_order SET currency = ? WHERE id = ?`, "USD", id)
	if err != nil {
		return http.StatusInternalServerError
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return http.StatusUnprocessableEntity
	}
	if err := tx.Commit(); err != nil {
		return http.StatusInternalServerError
	}
	return http.StatusOK
}

// readOrderID is the hand-written handlers' first half: read the body,
// parse the JSON and take the order's id from it. It answers the error
// itself and reports false when the request does not fit.
func readOrderID(rw http.ResponseWriter, req *http.Request) (int64, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(rw, req.Body, webhook.DefaultMaxBody))
	if err != nil {
		http.Error(rw, `{"status":"error"}`, http.StatusBadRequest)
		return 0, false
	}
	var payload map[string]any
	if err := json.Unmarshal(body, &payload); err != nil {
		http.Error(rw, `{"status":"error"}`, http.StatusBadRequest)
		return 0, false
	}
	id, ok := orderID(payload)
	if !ok || payload["model"] != "sale.order" {
		http.Error(rw, `{"status":"error"}`, http.StatusUnprocessableEntity)
		return 0, false
	}
	return id, true
}

// orderID reads payload.id, a number or a decimal string, as Odoo's
// int(payload.get('id')) does.
func orderID(payload map[string]any) (int64, bool) {
	switch v := payload["id"].(type) {
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	case float64:
		n := int64(v)
		return n, float64(n) == v
	}
	return 0, false
}

// setupHandVerified serves handVerified, signed by the same client as
// verified.
func setupHandVerified(context.Context, string) (*target, error) {
	signer, err := newSWSigner(newSWSecret())
	if err != nil {
		return nil, err
	}
	h := &handVerified{key: signer.key, seen: make(map[string]int64)}
	t := &target{handler: mount(h), path: barePath, body: orderBody, signer: signer}
	head := buildHead("loadbench", t.path, nil, len(t.body))
	if _, err := probe(h, signer.requester(head, t.body)()(nil)); err != nil {
		return nil, fmt.Errorf("a signed delivery: %w", err)
	}
	if _, err := probe(h, buildRequest("loadbench", t.path, nil, t.body)); err == nil {
		return nil, errors.New("an unsigned delivery was accepted")
	}
	return t, nil
}

// setupVerified is seed example 1 with Standard Webhooks signatures and
// duplicate suppression on the webhook-id. Each request the generator
// sends is signed afresh with an id of its own (swSigner), so every call
// is verified, claims its delivery in the store and runs; the client's
// signing is part of the measured round trip, as it would be for a real
// sender.
func setupVerified(context.Context, string) (*target, error) {
	secret := newSWSecret()
	signer, err := newSWSigner(secret)
	if err != nil {
		return nil, err
	}
	store, err := seedStore()
	if err != nil {
		return nil, err
	}
	def := currencyDef()
	def.Verify = &webhook.Verify{Scheme: "standard-webhooks", Secrets: []string{secret}}
	def.Dedupe = &webhook.Dedupe{}
	t, reg, err := registryTarget(store, def, orderBody)
	if err != nil {
		return nil, &unavailable{reason: "adding a webhook with verify and dedupe failed: " + err.Error()}
	}
	t.signer = signer
	// Make sure the load measures what it claims: a signed delivery runs,
	// the same delivery again is a duplicate, an unsigned one is refused.
	head := buildHead("loadbench", t.path, nil, len(t.body))
	next := signer.requester(head, t.body)()
	signed := next(nil)
	if res, err := probe(reg, signed); err != nil {
		return nil, &unavailable{reason: "a signed delivery: " + err.Error()}
	} else if res.Header().Get(webhook.DuplicateHeader) != "" {
		return nil, &unavailable{reason: "a first delivery was taken for a duplicate"}
	}
	if res, err := probe(reg, signed); err != nil || res.Header().Get(webhook.DuplicateHeader) != "true" {
		return nil, &unavailable{reason: fmt.Sprintf("the same delivery sent twice was not suppressed (%v)", err)}
	}
	if _, err := probe(reg, buildRequest("loadbench", t.path, nil, t.body)); err == nil {
		return nil, &unavailable{reason: "an unsigned delivery was accepted"}
	}
	return t, nil
}
