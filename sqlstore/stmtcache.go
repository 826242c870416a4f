package sqlstore

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
)

// maxCachedStmts bounds how many statement texts a Store keeps prepared.
// The texts come from the mapped tables, the fields written together and
// the number of ids browsed at once, so a store meets few of them; once
// the cache is full, further texts run unprepared as before.
const maxCachedStmts = 256

// stmtCache keeps the statements a SQLite Store runs prepared, by text.
//
// modernc.org/sqlite parses and compiles every statement that is not
// prepared, each time it runs: for the UPDATE of a call that is about a
// quarter of the transaction (BEGIN, UPDATE sale_order by id, COMMIT took
// about 21 µs unprepared and 16.5 µs prepared on a 2-core machine), all of
// it spent holding the writing lock that every other call waits for. database/sql
// keeps a prepared *sql.Stmt on each connection it has run on, prepares it
// again on a new connection, and forgets the connections that died, so the
// store still keeps no state tied to a connection of its own.
//
// A text is prepared on its first use in the background, on the pool: the
// caller may hold the only connection the pool allows (a Tx on a pool of
// one), and preparing there would wait for itself. That first use, and any
// use until the preparation is done, runs unprepared.
type stmtCache struct {
	db *sql.DB
	m  sync.Map // query text -> *cachedStmt
	n  atomic.Int32
}

// cachedStmt is one text of the cache; st stays nil while it is being
// prepared and when preparing failed (the text then runs unprepared, as it
// would have without the cache).
type cachedStmt struct {
	st atomic.Pointer[sql.Stmt]
}

// get returns the prepared statement for query, or nil when the query
// should run unprepared this time.
func (c *stmtCache) get(query string) *sql.Stmt {
	if v, ok := c.m.Load(query); ok {
		return v.(*cachedStmt).st.Load()
	}
	if c.n.Load() >= maxCachedStmts {
		return nil
	}
	e := &cachedStmt{}
	if _, loaded := c.m.LoadOrStore(query, e); loaded {
		return nil
	}
	if c.n.Add(1) > maxCachedStmts {
		// Another text took the last place meanwhile: leave this one
		// as a failed entry, which runs unprepared.
		return nil
	}
	go func() {
		if st, err := c.db.PrepareContext(context.Background(), query); err == nil {
			e.st.Store(st)
		}
	}()
	return nil
}

// dbQuerier runs a Store's statements on its pool, prepared when the cache
// has them.
type dbQuerier Store

func (q *dbQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if q.stmts != nil {
		if st := q.stmts.get(query); st != nil {
			return st.ExecContext(ctx, args...)
		}
	}
	return q.db.ExecContext(ctx, query, args...)
}

func (q *dbQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if q.stmts != nil {
		if st := q.stmts.get(query); st != nil {
			return st.QueryContext(ctx, args...)
		}
	}
	return q.db.QueryContext(ctx, query, args...)
}
