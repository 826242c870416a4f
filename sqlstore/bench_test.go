package sqlstore_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/sqlstore"
)

// The benchmarks compare the call of the brief's first example (Begin,
// Browse one sale.order, Write its currency, Commit) through a Store with
// the same work written directly against database/sql.

// benchDB returns a database with the table sale_order holding order 7.
func benchDB(b *testing.B, d sqlstore.Dialect) *sql.DB {
	b.Helper()
	var db *sql.DB
	if d == sqlstore.SQLite {
		db, _ = sqliteDB(b)
	} else {
		db = postgresDB(b, postgresDatabase(b))
	}
	ctx := context.Background()
	for _, q := range []string{
		`CREATE TABLE sale_order (id INTEGER PRIMARY KEY, name TEXT NOT NULL, currency TEXT)`,
		`INSERT INTO sale_order (id, name, currency) VALUES (7, 'S00007', 'EUR')`,
	} {
		_, err := db.ExecContext(ctx, q)
		require.NoError(b, err)
	}
	return db
}

var benchDialects = []struct {
	name string
	d    sqlstore.Dialect
}{{"SQLite", sqlstore.SQLite}, {"PostgreSQL", sqlstore.Postgres}}

var currencies = [2]string{"USD", "EUR"}

func BenchmarkTxBrowseWrite(b *testing.B) {
	for _, bd := range benchDialects {
		b.Run(bd.name, func(b *testing.B) {
			db := benchDB(b, bd.d)
			ctx := context.Background()
			st, err := sqlstore.Open(ctx, db, sqlstore.Config{Dialect: bd.d, Tables: map[string]sqlstore.Table{"sale.order": {Name: "sale_order"}}})
			require.NoError(b, err)
			ids := []webhook.ID{int64(7)}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				tx, err := st.Begin(ctx)
				if err != nil {
					b.Fatal(err)
				}
				recs, err := tx.Browse(ctx, "sale.order", ids)
				if err != nil || len(recs) != 1 {
					b.Fatal(err)
				}
				if err := tx.Write(ctx, "sale.order", ids[0], webhook.Record{"currency": currencies[i%2]}); err != nil {
					b.Fatal(err)
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkHandwrittenTx(b *testing.B) {
	for _, bd := range benchDialects {
		b.Run(bd.name, func(b *testing.B) {
			db := benchDB(b, bd.d)
			ctx := context.Background()
			sel, upd := "SELECT id, name, currency FROM sale_order WHERE id = ?", "UPDATE sale_order SET currency = ? WHERE id = ?"
			if bd.d == sqlstore.Postgres {
				sel, upd = "SELECT id, name, currency FROM sale_order WHERE id = $1 FOR NO KEY UPDATE", "UPDATE sale_order SET currency = $1 WHERE id = $2"
			}
			// update is the UPDATE alone; select-update also reads the
			// order first, as the store's call does.
			for _, withSelect := range []bool{false, true} {
				name := "update"
				if withSelect {
					name = "select-update"
				}
				b.Run(name, func(b *testing.B) {
					b.ReportAllocs()
					i := 0
					for b.Loop() {
						tx, err := db.BeginTx(ctx, nil)
						if err != nil {
							b.Fatal(err)
						}
						if withSelect {
							var id int64
							var n, c sql.NullString
							if err := tx.QueryRowContext(ctx, sel, 7).Scan(&id, &n, &c); err != nil {
								b.Fatal(err)
							}
						}
						if _, err := tx.ExecContext(ctx, upd, currencies[i%2], 7); err != nil {
							b.Fatal(err)
						}
						if err := tx.Commit(); err != nil {
							b.Fatal(err)
						}
						i++
					}
				})
			}
		})
	}
}

// BenchmarkTxWrite is the call of the first example as the registry makes
// it: the target is only written, so it is not read first. Compare it with
// BenchmarkHandwrittenTx/*/update.
func BenchmarkTxWrite(b *testing.B) {
	for _, bd := range benchDialects {
		b.Run(bd.name, func(b *testing.B) {
			db := benchDB(b, bd.d)
			ctx := context.Background()
			st, err := sqlstore.Open(ctx, db, sqlstore.Config{Dialect: bd.d, Tables: map[string]sqlstore.Table{"sale.order": {Name: "sale_order"}}})
			require.NoError(b, err)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				tx, err := st.Begin(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if err := tx.Write(ctx, "sale.order", int64(7), webhook.Record{"currency": currencies[i%2]}); err != nil {
					b.Fatal(err)
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// The parallel benchmarks run the call of BenchmarkTxWrite and of
// BenchmarkHandwrittenTx/SQLite/update from many goroutines at once, each
// with a context that can end, as an HTTP request's does: SQLite
// serializes the writers, so what counts under load is how long each one
// holds the writing slot and what it costs the other goroutines meanwhile.
// The hand-written one takes turns on a sync.Mutex, as the load harness's
// baseline does.

const benchParallelism = 16

func BenchmarkTxWriteParallel(b *testing.B) {
	db := benchDB(b, sqlstore.SQLite)
	base := context.Background()
	st, err := sqlstore.Open(base, db, sqlstore.Config{Dialect: sqlstore.SQLite, Tables: map[string]sqlstore.Table{"sale.order": {Name: "sale_order"}}})
	require.NoError(b, err)
	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ctx, cancel := context.WithCancel(base)
			tx, err := st.Begin(ctx)
			if err != nil {
				b.Error(err)
				cancel()
				return
			}
			if err := tx.Write(ctx, "sale.order", int64(7), webhook.Record{"currency": "USD"}); err != nil {
				b.Error(err)
			}
			if err := tx.Commit(); err != nil {
				b.Error(err)
			}
			cancel()
		}
	})
}

func BenchmarkHandwrittenTxParallel(b *testing.B) {
	db := benchDB(b, sqlstore.SQLite)
	base := context.Background()
	var mu sync.Mutex
	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ctx, cancel := context.WithCancel(base)
			mu.Lock()
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				mu.Unlock()
				b.Error(err)
				cancel()
				return
			}
			res, err := tx.ExecContext(ctx, "UPDATE sale_order SET currency = ? WHERE id = ?", "USD", int64(7))
			if err != nil {
				b.Error(err)
			} else if n, err := res.RowsAffected(); err != nil || n != 1 {
				b.Error(n, err)
			}
			if err := tx.Commit(); err != nil {
				b.Error(err)
			}
			mu.Unlock()
			cancel()
		}
	})
}
