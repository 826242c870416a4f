package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/sqlstore"
	"github.com/hookline/webhook/sqlstore/sqlite"
)

// increment is one call of a webhook that adds one to a counter: Begin,
// Browse, Write n+1, Commit.
func increment(ctx context.Context, st webhook.Transactor, model string, id webhook.ID, field string) error {
	tx, err := st.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	recs, err := tx.Browse(ctx, model, []webhook.ID{id})
	if err != nil {
		return err
	}
	n, ok := recs[0][field].(int64)
	if !ok {
		return fmt.Errorf("the counter is a %T", recs[0][field])
	}
	if err := tx.Write(ctx, model, id, webhook.Record{field: n + 1}); err != nil {
		return err
	}
	return tx.Commit()
}

// hammer runs workers increments at once, spread over stores, each retried
// on ErrConflict, and returns how many conflicts there were.
func hammer(t *testing.T, stores []*sqlstore.Store, workers int, model string, id webhook.ID, field string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var mu sync.Mutex
	conflicts := 0
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			st := stores[w%len(stores)]
			for range 100 {
				errs[w] = increment(ctx, st, model, id, field)
				if !errors.Is(errs[w], webhook.ErrConflict) {
					return
				}
				mu.Lock()
				conflicts++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for w, err := range errs {
		require.NoError(t, err, "worker %d", w)
	}
	return conflicts
}

func TestNoLostUpdates(t *testing.T) {
	const workers = 50
	type setup func(t *testing.T) []*sqlstore.Store
	sqliteStores := func(pools int, mapped bool) setup {
		return func(t *testing.T) []*sqlstore.Store {
			path := t.TempDir() + "/store.db"
			var out []*sqlstore.Store
			for range pools {
				db, err := sqlite.OpenDB(path)
				require.NoError(t, err)
				t.Cleanup(func() { _ = db.Close() })
				out = append(out, openCounter(t, db, sqlstore.SQLite, mapped))
			}
			return out
		}
	}
	postgresStores := func(pools int, mapped bool) setup {
		return func(t *testing.T) []*sqlstore.Store {
			url := postgresDatabase(t)
			var out []*sqlstore.Store
			for range pools {
				out = append(out, openCounter(t, postgresDB(t, url), sqlstore.Postgres, mapped))
			}
			return out
		}
	}
	for _, c := range []struct {
		name   string
		stores setup
	}{
		{"SQLite, a document", sqliteStores(1, false)},
		{"SQLite, a mapped table", sqliteStores(1, true)},
		{"SQLite, two pools on one file, as two processes would", sqliteStores(2, true)},
		{"PostgreSQL, a document", postgresStores(1, false)},
		{"PostgreSQL, a mapped table", postgresStores(1, true)},
		{"PostgreSQL, two pools, a document", postgresStores(2, false)},
		{"PostgreSQL, two pools, a mapped table", postgresStores(2, true)},
	} {
		t.Run(c.name, func(t *testing.T) {
			stores := c.stores(t)
			id, err := stores[0].Create(t.Context(), "counter", webhook.Record{"n": int64(0)})
			require.NoError(t, err)
			conflicts := hammer(t, stores, workers, "counter", id, "n")
			t.Logf("%d conflicts retried", conflicts)
			recs, err := stores[len(stores)-1].Browse(t.Context(), "counter", []webhook.ID{id})
			require.NoError(t, err)
			assert.Equal(t, int64(workers), recs[0]["n"], "every increment counts once")
		})
	}
}

// openCounter opens a store whose model "counter" is a document model, or
// the mapped table counter. Several calls on one database share the table.
func openCounter(t *testing.T, db *sql.DB, d sqlstore.Dialect, mapped bool) *sqlstore.Store {
	t.Helper()
	cfg := sqlstore.Config{Dialect: d}
	if mapped {
		key := "INTEGER PRIMARY KEY"
		if d == sqlstore.Postgres {
			key = "SERIAL PRIMARY KEY"
		}
		execSQL(t, db, `CREATE TABLE IF NOT EXISTS counter (id `+key+`, n INTEGER NOT NULL)`)
		cfg.Tables = map[string]sqlstore.Table{"counter": {Name: "counter"}}
	}
	st, err := sqlstore.Open(t.Context(), db, cfg)
	require.NoError(t, err)
	return st
}

func TestPostgresConcurrentCreatesAcrossPools(t *testing.T) {
	url := postgresDatabase(t)
	ctx := t.Context()
	execSQL(t, postgresDB(t, url), `CREATE TABLE item (id BIGSERIAL PRIMARY KEY, w INTEGER, i INTEGER)`)
	cfg := sqlstore.Config{Dialect: sqlstore.Postgres, Tables: map[string]sqlstore.Table{"item": {Name: "item"}}}
	var stores []*sqlstore.Store
	for range 2 {
		st, err := sqlstore.Open(ctx, postgresDB(t, url), cfg)
		require.NoError(t, err)
		stores = append(stores, st)
	}
	for _, model := range []string{"doc", "item"} {
		t.Run(model, func(t *testing.T) {
			const workers, each = 16, 20
			ids := make([][]webhook.ID, workers)
			errs := make([]error, workers)
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := range each {
						id, err := stores[w%2].Create(ctx, model, webhook.Record{"w": int64(w), "i": int64(i)})
						if err != nil {
							errs[w] = err
							return
						}
						ids[w] = append(ids[w], id)
					}
				})
			}
			wg.Wait()
			seen := map[webhook.ID]bool{}
			for w := range workers {
				require.NoError(t, errs[w], "worker %d: no duplicate-key failure", w)
				for _, id := range ids[w] {
					assert.False(t, seen[id], "id %v assigned twice", id)
					seen[id] = true
				}
			}
			assert.Len(t, seen, workers*each)
		})
	}
}

func TestPostgresConcurrentOpen(t *testing.T) {
	db := postgresDB(t, postgresDatabase(t))
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = sqlstore.Open(t.Context(), db, sqlstore.Config{Dialect: sqlstore.Postgres})
		})
	}
	wg.Wait()
	for i, err := range errs {
		assert.NoError(t, err, "Open #%d", i)
	}
}

func TestSQLiteBusyFromAnotherProcessIsAConflict(t *testing.T) {
	ctx := t.Context()
	path := t.TempDir() + "/store.db"
	// A pool with a short busy timeout stands for the store's process.
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(50)&_pragma=journal_mode(WAL)")
	require.NoError(t, err)
	defer db.Close()
	st, err := sqlstore.Open(ctx, db, sqlstore.Config{})
	require.NoError(t, err)
	id, err := st.Create(ctx, "m", webhook.Record{"n": int64(1)})
	require.NoError(t, err)

	// Another process holds SQLite's write lock.
	other, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	defer other.Close()
	conn, err := other.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
	require.NoError(t, err)

	err = st.Write(ctx, "m", id, webhook.Record{"n": int64(2)})
	assert.ErrorIs(t, err, webhook.ErrConflict, "a write lock held past the busy timeout")

	_, err = conn.ExecContext(ctx, "ROLLBACK")
	require.NoError(t, err)
	require.NoError(t, st.Write(ctx, "m", id, webhook.Record{"n": int64(2)}), "once the lock is free")
	recs, err := st.Browse(ctx, "m", []webhook.ID{id})
	require.NoError(t, err)
	assert.Equal(t, int64(2), recs[0]["n"])
}

func TestDeliveryClaims(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		ctx := t.Context()
		st, err := sqlstore.Open(ctx, db, sqlstore.Config{Dialect: d})
		require.NoError(t, err)
		now := time.Now()
		later := now.Add(time.Hour)

		require.NoError(t, st.ClaimDelivery(ctx, "hook", "msg_1", now, later))
		assert.ErrorIs(t, st.ClaimDelivery(ctx, "hook", "msg_1", now, later), webhook.ErrDuplicate, "a second claim")
		require.NoError(t, st.ClaimDelivery(ctx, "other hook", "msg_1", now, later), "another webhook's key")
		require.NoError(t, st.ClaimDelivery(ctx, "hook", "msg_1", later, later.Add(time.Hour)), "a claim after the first expired")

		tx, err := st.Begin(ctx)
		require.NoError(t, err)
		require.NoError(t, tx.(webhook.DeliveryClaimer).ClaimDelivery(ctx, "hook", "msg_2\x00'; --", now, later))
		assert.ErrorIs(t, tx.(webhook.DeliveryClaimer).ClaimDelivery(ctx, "hook", "msg_2\x00'; --", now, later), webhook.ErrDuplicate,
			"the transaction sees its own claim")
		require.NoError(t, tx.Rollback())
		require.NoError(t, st.ClaimDelivery(ctx, "hook", "msg_2\x00'; --", now, later), "a rolled-back claim is gone")
	})
}

func TestConcurrentDeliveryClaimsLetOneCallRun(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		ctx := t.Context()
		var stores []*sqlstore.Store
		for _, pool := range []*sql.DB{db, db} {
			st, err := sqlstore.Open(ctx, pool, sqlstore.Config{Dialect: d})
			require.NoError(t, err)
			stores = append(stores, st)
		}
		const workers = 10
		now := time.Now()
		results := make([]error, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				tx, err := stores[w%2].Begin(ctx)
				if err != nil {
					results[w] = err
					return
				}
				defer func() { _ = tx.Rollback() }()
				if err := tx.(webhook.DeliveryClaimer).ClaimDelivery(ctx, "hook", "msg", now, now.Add(time.Hour)); err != nil {
					results[w] = err
					return
				}
				time.Sleep(5 * time.Millisecond) // the call's actions
				results[w] = tx.Commit()
			})
		}
		wg.Wait()
		ran := 0
		for _, err := range results {
			if err == nil {
				ran++
				continue
			}
			assert.ErrorIs(t, err, webhook.ErrDuplicate)
		}
		assert.Equal(t, 1, ran, "exactly one call claims the delivery")
	})
}
