package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"

	"github.com/hookline/webhook/sqlstore"
	"github.com/hookline/webhook/sqlstore/postgres"
)

// postgresEnv names the server the PostgreSQL variants use, as in the
// sqlstore tests (.ci/pg-start prints it). Without it those variants are
// left out of "all".
const postgresEnv = "WEBHOOK_TEST_POSTGRES"

// pgVariants are seed example 1 on PostgreSQL, through the library and by
// hand, each on a database of its own created for the run.
var pgVariants = []*variant{
	{name: "update/pg", about: "seed example 1 on sqlstore/postgres, sale.order mapped to table sale_order, memory call log", baseline: "hand/pg", minRatio: 0.9, setup: setupUpdatePG},
	{name: "hand/pg", about: "hand-written handler: parse JSON and id, UPDATE sale_order in a transaction on PostgreSQL", setup: setupHandPG},
}

func init() {
	variants = append(variants, pgVariants...)
}

// postgresAvailable reports whether the PostgreSQL variants can run.
func postgresAvailable() bool { return os.Getenv(postgresEnv) != "" }

// openPGSaleOrders creates a fresh database on the server in postgresEnv
// holding sale_order 7, and returns a pool on it and a function that drops
// it.
func openPGSaleOrders(ctx context.Context) (*sql.DB, func(), error) {
	base := os.Getenv(postgresEnv)
	if base == "" {
		return nil, nil, &unavailable{reason: "set " + postgresEnv + " to a PostgreSQL URL (see .ci/pg-start)"}
	}
	admin, err := postgres.OpenDB(base)
	if err != nil {
		return nil, nil, err
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "loadbench_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		_ = admin.Close()
		return nil, nil, fmt.Errorf("creating a database on %s: %w", base, err)
	}
	drop := func() {
		_, _ = admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		_ = admin.Close()
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" {
		drop()
		return nil, nil, fmt.Errorf("%s must be a postgres:// URL", postgresEnv)
	}
	u.Path = "/" + name
	db, err := postgres.OpenDB(u.String())
	if err != nil {
		drop()
		return nil, nil, err
	}
	// As many connections as the generator has: neither variant should
	// wait for the pool.
	db.SetMaxOpenConns(64)
	db.SetMaxIdleConns(64)
	for _, q := range []string{
		`CREATE TABLE sale_order (id bigint PRIMARY KEY, name text NOT NULL, currency text NOT NULL)`,
		`INSERT INTO sale_order (id, name, currency) VALUES (7, 'S00007', 'EUR')`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			_ = db.Close()
			drop()
			return nil, nil, err
		}
	}
	return db, func() { _ = db.Close(); drop() }, nil
}

// setupUpdatePG serves seed example 1 on a sqlstore over PostgreSQL.
func setupUpdatePG(ctx context.Context, _ string) (*target, error) {
	db, closeDB, err := openPGSaleOrders(ctx)
	if err != nil {
		return nil, err
	}
	st, err := sqlstore.Open(ctx, db, sqlstore.Config{
		Dialect:    sqlstore.Postgres,
		Tables:     map[string]sqlstore.Table{"sale.order": {Name: "sale_order"}},
		MappedOnly: true,
	})
	if err != nil {
		closeDB()
		return nil, &unavailable{reason: "sqlstore.Open: " + err.Error()}
	}
	t, reg, err := registryTarget(st, currencyDef(), orderBody)
	if err != nil {
		closeDB()
		return nil, err
	}
	if err := probeTarget(reg, t); err != nil {
		closeDB()
		return nil, &unavailable{reason: "seed example 1 on PostgreSQL fails: " + err.Error()}
	}
	t.check = func(int64) error { return checkCurrency(db) }
	t.close = closeDB
	return t, nil
}

// setupHandPG serves handPG on a database of its own.
func setupHandPG(ctx context.Context, _ string) (*target, error) {
	db, closeDB, err := openPGSaleOrders(ctx)
	if err != nil {
		return nil, err
	}
	return &target{
		handler: mount(&handPG{db: db}),
		path:    barePath,
		body:    orderBody,
		check:   func(int64) error { return checkCurrency(db) },
		close:   closeDB,
	}, nil
}

// handPG is what an engineer would write by hand for seed example 1 on
// PostgreSQL: parse the JSON and the id, then UPDATE in a transaction
// (PostgreSQL's row lock orders concurrent writers of the order).
type handPG struct{ db *sql.DB }

// ServeHTTP answers as the library does: 200 {"status":"ok"} on success.
func (h *handPG) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	id, ok := readOrderID(rw, req)
	if !ok {
		return
	}
	ctx := req.Context()
	tx, err := h.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		http.Error(rw, `{"status":"error"}`, http.StatusInternalServerError)
		return
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.ExecContext(ctx, `UPDATE sale_order SET currency = $1 WHERE id = $2`, "USD", id)
	if err != nil {
		http.Error(rw, `{"status":"error"}`, http.StatusInternalServerError)
		return
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		http.Error(rw, `{"status":"error"}`, http.StatusUnprocessableEntity)
		return
	}
	if err := tx.Commit(); err != nil {
		http.Error(rw, `{"status":"error"}`, http.StatusInternalServerError)
		return
	}
	rw.Header().Set("Content-Type", "application/json")
	_, _ = rw.Write(okBody)
}
