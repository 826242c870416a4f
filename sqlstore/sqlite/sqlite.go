// Package sqlite opens SQLite database files for package sqlstore with
// modernc.org/sqlite, a pure-Go driver (no cgo). Importing it registers
// that driver under the name "sqlite"; package sqlstore itself imports no
// driver.
//
// The connections it opens are set up the way a Store wants them: WAL
// journaling (readers do not wait for the writer), a 10 s busy timeout
// (another process's writer is waited for, not failed on), foreign keys on,
// synchronous=NORMAL (safe with WAL; a power cut may lose the last commits
// but never corrupts) and BEGIN IMMEDIATE for every transaction.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"strings"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/hookline/webhook/sqlstore"
)

// BusyTimeoutMillis is how long a connection waits for another
// connection's write lock before failing with SQLITE_BUSY.
const BusyTimeoutMillis = 10000

// DSN returns the modernc.org/sqlite data source name for the database
// file at path, with the settings described in the package documentation.
func DSN(path string) string {
	// A "file:" URI, so that a path holding '?' or '#' is still a path.
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return fmt.Sprintf("file:%s?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate",
		esc, BusyTimeoutMillis)
}

// OpenDB opens (creating it if needed) the database file at path. The pool
// is bounded to max(4, GOMAXPROCS) connections: each SQLite connection has
// its own page cache, and a Store writes through one connection at a time.
func OpenDB(path string) (*sql.DB, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file::memory:") {
		return nil, fmt.Errorf("sqlite: %q: a Store needs a database file that all its connections share", path)
	}
	db, err := sql.Open("sqlite", DSN(path))
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	return db, nil
}

// Open opens the database file at path with OpenDB and a Store on it with
// cfg (whose Dialect may be left empty). Close db after the last use of the
// Store.
func Open(ctx context.Context, path string, cfg sqlstore.Config) (st *sqlstore.Store, db *sql.DB, err error) {
	db, err = OpenDB(path)
	if err != nil {
		return nil, nil, err
	}
	cfg.Dialect = sqlstore.SQLite
	st, err = sqlstore.Open(ctx, db, cfg)
	if err != nil {
		_ = db.Close()
		return nil, nil, err
	}
	return st, db, nil
}
