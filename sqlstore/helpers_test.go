package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookline/webhook/sqlstore"
	"github.com/hookline/webhook/sqlstore/postgres"
	"github.com/hookline/webhook/sqlstore/sqlite"
)

// sqliteDB opens a fresh database file in the test's temporary directory.
func sqliteDB(t testing.TB) (*sql.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "store.db")
	db, err := sqlite.OpenDB(path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db, path
}

// openSQLite opens a store on a fresh database file.
func openSQLite(t testing.TB, cfg sqlstore.Config) *sqlstore.Store {
	t.Helper()
	db, _ := sqliteDB(t)
	st, err := sqlstore.Open(context.Background(), db, cfg)
	require.NoError(t, err)
	return st
}

// postgresURL returns the server the PostgreSQL tests run against, from
// WEBHOOK_TEST_POSTGRES. Without it the test is skipped, except in CI
// (CI=true), where it fails.
func postgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("WEBHOOK_TEST_POSTGRES")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("PostgreSQL tests must run in CI: set WEBHOOK_TEST_POSTGRES (eval \"$(.ci/pg-start)\")")
		}
		t.Skip("set WEBHOOK_TEST_POSTGRES to run the PostgreSQL tests: eval \"$(.ci/pg-start)\" starts a throwaway server and prints it")
	}
	return u
}

func randomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// postgresDatabase creates a database of the test's own on the test server,
// dropped when the test ends, and returns its URL.
func postgresDatabase(t testing.TB) string {
	t.Helper()
	base := postgresURL(t)
	admin, err := postgres.OpenDB(base)
	require.NoError(t, err)
	defer admin.Close()
	name := randomName("sqlstore_test_")
	ctx := context.Background()
	_, err = admin.ExecContext(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err, "creating a database for the test on %s", base)
	t.Cleanup(func() {
		admin, err := postgres.OpenDB(base)
		if err != nil {
			return
		}
		defer admin.Close()
		_, _ = admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" {
		// A key=value connection string.
		return base + " dbname=" + name
	}
	u.Path = "/" + name
	return u.String()
}

// postgresDB opens a pool on url, closed when the test ends.
func postgresDB(t testing.TB, url string) *sql.DB {
	t.Helper()
	db, err := postgres.OpenDB(url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

var prefixes atomic.Int64

// uniquePrefix returns a table prefix no other store of the test process
// uses, so that stores can share a database and start empty.
func uniquePrefix() string {
	return fmt.Sprintf("s%d_", prefixes.Add(1))
}

// sprintf fills the %[1]s of a statement; a statement without one is
// returned as it is.
func sprintf(q, prefix string) string {
	if !strings.Contains(q, "%[1]s") {
		return q
	}
	return fmt.Sprintf(q, prefix)
}

// eachDialect runs f as a subtest on a fresh SQLite database file and on a
// fresh PostgreSQL database (skipped without a server, see postgresURL).
func eachDialect(t *testing.T, f func(t *testing.T, db *sql.DB, d sqlstore.Dialect)) {
	t.Helper()
	t.Run("SQLite", func(t *testing.T) {
		db, _ := sqliteDB(t)
		f(t, db, sqlstore.SQLite)
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		db := postgresDB(t, postgresDatabase(t))
		f(t, db, sqlstore.Postgres)
	})
}

// execSQL runs statements, failing the test on error.
func execSQL(t testing.TB, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		_, err := db.ExecContext(context.Background(), q)
		require.NoError(t, err, q)
	}
}
