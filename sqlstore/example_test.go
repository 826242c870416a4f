package sqlstore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/sqlstore"
	"github.com/hookline/webhook/sqlstore/sqlite"
)

// A store on a SQLite file: the sale orders live in the application's own
// table, contacts are documents in the store's table.
func Example() {
	dir, err := os.MkdirTemp("", "sqlstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	db, err := sqlite.OpenDB(filepath.Join(dir, "erp.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE sale_order (id INTEGER PRIMARY KEY, name TEXT NOT NULL, currency TEXT);
		INSERT INTO sale_order VALUES (7, 'S00007', 'EUR')`); err != nil {
		log.Fatal(err)
	}

	st, err := sqlstore.Open(ctx, db, sqlstore.Config{
		Tables: map[string]sqlstore.Table{"sale.order": {Name: "sale_order"}},
	})
	if err != nil {
		log.Fatal(err)
	}

	// What the webhook "set a sales order's currency to USD" does with
	// the payload {"model": "sale.order", "id": "7"}, in one transaction.
	tx, err := st.Begin(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Browse(ctx, "sale.order", []webhook.ID{int64(7)}); err != nil {
		log.Fatal(err)
	}
	if err := tx.Write(ctx, "sale.order", int64(7), webhook.Record{"currency": "USD"}); err != nil {
		log.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		log.Fatal(err)
	}
	var currency string
	if err := db.QueryRow(`SELECT currency FROM sale_order WHERE id = 7`).Scan(&currency); err != nil {
		log.Fatal(err)
	}
	fmt.Println("S00007:", currency)

	// A model without a table: "create a contact".
	id, err := st.Create(ctx, "res.partner", webhook.Record{
		"name": "Ann Example", "email": "ann@example.com", "company_type": "person", "customer_rank": 1,
	})
	if err != nil {
		log.Fatal(err)
	}
	found, err := st.Search(ctx, "res.partner", webhook.Filter{"email": "ann@example.com"}, 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(id, found[0]["name"], found[0]["customer_rank"])

	// A field the table has no column for is refused.
	err = st.Write(ctx, "sale.order", int64(7), webhook.Record{"colour": "red"})
	fmt.Println(err)
	// Output:
	// S00007: USD
	// 1 Ann Example 1
	// sale.order has no field "colour"
}
