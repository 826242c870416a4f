package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/hookline/webhook"
	"github.com/hookline/webhook/memstore"
)

// Define a webhook in code: set sale order 7's currency to USD when an
// external system posts {"model": "sale.order", "id": "7"}.
func Example() {
	store := memstore.New()
	_ = store.Load(map[string][]webhook.Record{
		"sale.order": {{"id": int64(7), "name": "S00007", "currency": "EUR"}},
	})
	reg, _ := webhook.NewRegistry(webhook.Config{Store: store})
	w, err := reg.Add(webhook.Definition{
		Name:    "Update sale order currency",
		Model:   "sale.order",
		Active:  true,
		Target:  "env[payload.model].browse(int(payload.id))",
		Actions: []webhook.Action{{Type: webhook.ActionUpdate, Set: map[string]any{"currency": "USD"}}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	rec := httptest.NewRecorder()
	reg.ServeHTTP(rec, httptest.NewRequest("POST", w.URL(""), strings.NewReader(`{"model": "sale.order", "id": "7"}`)))
	fmt.Print(rec.Code, " ", rec.Body.String())

	order, _ := store.Browse(context.Background(), "sale.order", []webhook.ID{int64(7)})
	fmt.Println(order[0]["currency"])
	// Output:
	// 200 {"status":"ok"}
	// USD
}

// Load definitions from JSON, as stored in a file or a database.
func ExampleLoadDefinitions() {
	defs, err := webhook.LoadDefinitions(strings.NewReader(`{"webhooks": [{
		"name": "Create contact",
		"model": "res.partner",
		"actions": [{"type": "create",
		             "set": {"company_type": "person", "customer_rank": 1},
		             "compute": {"name": "payload.name", "email": "payload.email"},
		             "when": "has(payload.name) && has(payload.email)"}]
	}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	reg, _ := webhook.NewRegistry(webhook.Config{Store: memstore.New()})
	for _, d := range defs {
		w, err := reg.Add(d)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(w.Name(), w.Model(), w.Active())
	}
	// Output:
	// Create contact res.partner true
}

// A mistake in an expression is reported when the webhook is added, with
// the field and the line:column.
func ExampleExprError() {
	reg, _ := webhook.NewRegistry(webhook.Config{Store: memstore.New()})
	_, err := reg.Add(webhook.Definition{
		Name: "broken", Model: "sale.order", Active: true,
		Target:  "model.browse(int(payload.id)",
		Actions: []webhook.Action{{Type: "update", Set: map[string]any{"x": 1}}},
	})
	fmt.Println(err)
	// Output:
	// webhook "broken": target: 1:29: Syntax error: missing ')' at '<EOF>'
}

// Mount the registry on a ServeMux; Go 1.22 patterns give the secret its
// own path value.
func ExampleRegistry_ServeHTTP() {
	reg, _ := webhook.NewRegistry(webhook.Config{Store: memstore.New(), BaseURL: "https://erp.example.com"})
	mux := http.NewServeMux()
	mux.Handle("/web/hook/{secret}", reg)

	w, _ := reg.Add(webhook.Definition{
		Name: "ping", Model: "ping.event", Active: true, Secret: "a-secret-of-at-least-22-chars",
		Actions: []webhook.Action{{Type: "create", Compute: map[string]string{"from": "headers['user-agent']"}}},
	})
	fmt.Println(w.URL("https://erp.example.com"))

	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/web/hook/a-secret-of-at-least-22-chars", nil)
	req.Header.Set("User-Agent", "pinger/1.0")
	mux.ServeHTTP(rec, req)
	fmt.Println(rec.Code)
	// Output:
	// https://erp.example.com/web/hook/a-secret-of-at-least-22-chars
	// 200
}

// Rotate a secret when a URL has leaked: the old URL answers 404 at once.
func ExampleRegistry_RotateSecret() {
	reg, _ := webhook.NewRegistry(webhook.Config{Store: memstore.New()})
	w, _ := reg.Add(webhook.Definition{
		Name: "ping", Model: "ping.event", Active: true,
		Actions: []webhook.Action{{Type: "create", Set: map[string]any{"seen": true}}},
	})
	oldURL := w.URL("")
	newURL, _ := reg.RotateSecret("ping")

	for _, u := range []string{oldURL, newURL} {
		rec := httptest.NewRecorder()
		reg.ServeHTTP(rec, httptest.NewRequest("POST", u, nil))
		fmt.Println(rec.Code)
	}
	// Output:
	// 404
	// 200
}
