// Package postgres opens PostgreSQL databases for package sqlstore with
// github.com/jackc/pgx/v5 through its database/sql adapter. Importing it
// registers that driver under the name "pgx"; package sqlstore itself
// imports no driver.
package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/hookline/webhook/sqlstore"
)

// OpenDB returns a pool of connections to the database at url, a
// PostgreSQL URL ("postgres://user@host:5432/db?sslmode=disable") or
// key=value connection string. It does not connect yet.
func OpenDB(url string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return stdlib.OpenDB(*cfg), nil
}

// Open opens a pool with OpenDB and a Store on it with cfg (whose Dialect
// may be left empty). Close db after the last use of the Store.
func Open(ctx context.Context, url string, cfg sqlstore.Config) (st *sqlstore.Store, db *sql.DB, err error) {
	db, err = OpenDB(url)
	if err != nil {
		return nil, nil, err
	}
	cfg.Dialect = sqlstore.Postgres
	st, err = sqlstore.Open(ctx, db, cfg)
	if err != nil {
		_ = db.Close()
		return nil, nil, err
	}
	return st, db, nil
}
