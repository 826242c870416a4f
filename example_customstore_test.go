package webhook_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hookline/webhook"
	"github.com/hookline/webhook/webhooktest"
)

// mapStore is the smallest correct RecordStore: the records of every model
// in maps under one mutex, with integer ids. It is not a Transactor, so the
// registry cannot roll a call back: when an action fails, the writes of
// the actions before it stay. A store that implements Transactor (as
// memstore and examples/customstore/filestore do) makes every call
// all-or-nothing.
type mapStore struct {
	mu      sync.Mutex
	records map[string]map[int64]webhook.Record
}

func newMapStore() *mapStore {
	return &mapStore{records: map[string]map[int64]webhook.Record{}}
}

func (s *mapStore) Browse(ctx context.Context, model string, ids []webhook.ID) ([]webhook.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []webhook.Record
	for _, id := range ids {
		n, isInt := id.(int64)
		rec, ok := s.records[model][n]
		if !isInt || !ok {
			return nil, &webhook.NotFoundError{Model: model, ID: id}
		}
		out = append(out, copyJSONValue(rec).(webhook.Record)) // callers may change what they get
	}
	return out, nil
}

func (s *mapStore) Create(ctx context.Context, model string, values webhook.Record) (webhook.ID, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	recs := s.records[model]
	var id int64
	if v := values["id"]; v != nil {
		given, err := webhook.NormalizeID(v)
		n, isInt := given.(int64)
		if _, taken := recs[n]; err != nil || !isInt || taken {
			return nil, &webhook.FieldError{Model: model, Field: "id", Reason: fmt.Sprintf("%v is not a free integer id", v)}
		}
		id = n
	} else {
		for n := range recs {
			id = max(id, n)
		}
		id++
	}
	if recs == nil {
		recs = map[int64]webhook.Record{}
		s.records[model] = recs
	}
	rec := copyJSONValue(values).(webhook.Record) // never keep the caller's maps
	rec["id"] = id
	recs[id] = rec
	return id, nil
}

func (s *mapStore) Write(ctx context.Context, model string, id webhook.ID, values webhook.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, isInt := id.(int64)
	rec, ok := s.records[model][n]
	if !isInt || !ok {
		return &webhook.NotFoundError{Model: model, ID: id}
	}
	if _, ok := values["id"]; ok { // checked first: a refused Write changes nothing
		return &webhook.FieldError{Model: model, Field: "id", Reason: "the id of a record cannot change"}
	}
	for field, v := range values {
		rec[field] = copyJSONValue(v)
	}
	return nil
}

// copyJSONValue deep-copies a record or a value in it, so that the store
// and its callers never share a map or a list.
func copyJSONValue(v any) any {
	switch x := v.(type) {
	case webhook.Record:
		return webhook.Record(copyJSONValue(map[string]any(x)).(map[string]any))
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = copyJSONValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = copyJSONValue(e)
		}
		return out
	}
	return v
}

// A RecordStore of your own is all a registry needs: here the smallest
// correct one, a map under a mutex (see mapStore above). Without
// Transactor, a call that fails half-way keeps the writes it made; with
// it, every call is all-or-nothing. Run webhooktest.TestStore against any
// store you write.
func Example_customStore() {
	store := newMapStore()
	ctx := context.Background()
	_, _ = store.Create(ctx, "sale.order", webhook.Record{"id": int64(7), "name": "S00007", "currency": "EUR"})

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

	order, _ := store.Browse(ctx, "sale.order", []webhook.ID{int64(7)})
	fmt.Println(order[0])
	// Output:
	// 200 {"status":"ok"}
	// map[currency:USD id:7 name:S00007]
}

// The store of Example_customStore passes the conformance suite: smallest
// need not mean wrong.
func TestExampleMapStoreMeetsTheContract(t *testing.T) {
	webhooktest.TestStore(t, func(*testing.T) webhook.RecordStore { return newMapStore() })
}
