package memstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/memstore"
)

func Example() {
	ctx := context.Background()
	store := memstore.New()
	id, _ := store.Create(ctx, "res.partner", webhook.Record{"name": "Azure Interior", "credit": 0})

	// A read-modify-write in a transaction: no other writer runs between
	// the Browse and the Commit.
	tx, _ := store.Begin(ctx)
	recs, _ := tx.Browse(ctx, "res.partner", []webhook.ID{id})
	credit := recs[0]["credit"].(int64) // Go ints are stored as int64
	_ = tx.Write(ctx, "res.partner", id, webhook.Record{"credit": credit + 100})
	_ = tx.Commit()

	// Search compares numbers by value: 100.0 finds int64 100.
	found, _ := store.Search(ctx, "res.partner", webhook.Filter{"credit": 100.0}, 0)
	fmt.Println(found[0]["id"], found[0]["name"], found[0]["credit"])
	// Output: 1 Azure Interior 100
}

func ExampleStore_Load() {
	seed := `{
		"res.partner": [
			{"id": 7, "name": "Deco Addict"},
			{"name": "Gemini Furniture", "rating": 4.5}
		],
		"crm.lead": [{"id": "lead-1", "partner_id": 7}]
	}`
	var data map[string][]webhook.Record
	dec := json.NewDecoder(strings.NewReader(seed))
	dec.UseNumber() // keep integers exact; Load turns json.Number into int64 or float64
	if err := dec.Decode(&data); err != nil {
		panic(err)
	}
	store := memstore.New()
	if err := store.Load(data); err != nil {
		panic(err)
	}
	for _, model := range store.Models() {
		for _, rec := range store.All(model) {
			fmt.Printf("%s %v %v\n", model, rec["id"], rec["name"])
		}
	}
	// Output:
	// crm.lead lead-1 <nil>
	// res.partner 7 Deco Addict
	// res.partner 8 Gemini Furniture
}
