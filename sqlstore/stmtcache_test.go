package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	webhook "github.com/hookline/webhook"
)

// prepared counts the texts the cache holds prepared.
func (c *stmtCache) prepared() int {
	n := 0
	c.m.Range(func(_, v any) bool {
		if v.(*cachedStmt).st != nil {
			n++
		}
		return true
	})
	return n
}

func TestStatementCache(t *testing.T) {
	t.Run("a pool of one connection: statements get prepared without waiting for the Tx that holds it", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "one.db")
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate")
		require.NoError(t, err)
		defer db.Close()
		db.SetMaxOpenConns(1)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		_, err = db.ExecContext(ctx, `CREATE TABLE sale_order (id INTEGER PRIMARY KEY, name TEXT, currency TEXT)`)
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, `INSERT INTO sale_order (id, name, currency) VALUES (7, 'S00007', 'EUR')`)
		require.NoError(t, err)
		st, err := Open(ctx, db, Config{Dialect: SQLite, Tables: map[string]Table{"sale.order": {Name: "sale_order"}}})
		require.NoError(t, err)

		call := func(cur string) {
			t.Helper()
			tx, err := st.Begin(ctx)
			require.NoError(t, err)
			defer func() { _ = tx.Rollback() }()
			recs, err := tx.Browse(ctx, "sale.order", []webhook.ID{int64(7)})
			require.NoError(t, err)
			require.Len(t, recs, 1)
			require.NoError(t, tx.Write(ctx, "sale.order", int64(7), webhook.Record{"currency": cur}))
			require.NoError(t, tx.Commit())
			recs, err = st.Browse(ctx, "sale.order", []webhook.ID{int64(7)})
			require.NoError(t, err)
			require.Equal(t, cur, recs[0]["currency"])
		}
		for i := range 20 {
			call(fmt.Sprint("C", i))
		}
		require.GreaterOrEqual(t, st.stmts.prepared(), 2, "the SELECT and the UPDATE are prepared")
		for i := range 20 {
			call(fmt.Sprint("P", i))
		}
		require.NoError(t, ctx.Err(), "no call waited for the pool")
	})

	t.Run("the cache is bounded; texts beyond it run unprepared", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "bound.db")
		db, err := sql.Open("sqlite", "file:"+path)
		require.NoError(t, err)
		defer db.Close()
		c := &stmtCache{db: db}
		for i := range maxCachedStmts {
			assert.NotNil(t, c.prepare(t.Context(), fmt.Sprintf("SELECT %d", i)))
		}
		assert.Nil(t, c.prepare(t.Context(), fmt.Sprintf("SELECT %d", maxCachedStmts)), "the cache is full")
		_, known := c.get(fmt.Sprintf("SELECT %d", maxCachedStmts))
		assert.False(t, known)
		st, known := c.get("SELECT 1")
		assert.True(t, known)
		assert.NotNil(t, st)
	})

	t.Run("a text that does not prepare runs unprepared, and fails as it would", func(t *testing.T) {
		st := newTestStore(t)
		ctx := t.Context()
		for range 3 {
			_, err := (*dbQuerier)(st).ExecContext(ctx, "UPDATE no_such_table SET x = 1")
			require.Error(t, err)
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// newTestStore opens a schemaless SQLite store on a fresh file.
func newTestStore(t *testing.T) *Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "store.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	st, err := Open(t.Context(), db, Config{Dialect: SQLite})
	require.NoError(t, err)
	return st
}
