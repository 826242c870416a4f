package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// SchemaVersion is the version of the store's own tables that this release
// creates and reads. Open records it in the schema_version table; a later
// release that changes the tables migrates from the version it finds there,
// and Open refuses a database whose version is newer than SchemaVersion.
const SchemaVersion = 1

// ddl returns the statements that create the store's own tables.
func (s *Store) ddl() []string {
	n := s.names
	if s.pg {
		// COLLATE "C" makes text keys sort by byte order, as ids must.
		return []string{
			`CREATE TABLE IF NOT EXISTS ` + n.version + ` (version INTEGER NOT NULL)`,
			`CREATE TABLE IF NOT EXISTS ` + n.records + ` (
				model TEXT COLLATE "C" NOT NULL,
				kind SMALLINT NOT NULL,
				iid BIGINT NOT NULL,
				sid TEXT COLLATE "C" NOT NULL,
				doc JSONB NOT NULL,
				PRIMARY KEY (model, kind, iid, sid))`,
			`CREATE TABLE IF NOT EXISTS ` + n.sequences + ` (
				model TEXT COLLATE "C" PRIMARY KEY,
				last BIGINT NOT NULL)`,
			`CREATE TABLE IF NOT EXISTS ` + n.calls + ` (
				seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
				id TEXT NOT NULL,
				webhook TEXT COLLATE "C" NOT NULL,
				time_ns BIGINT NOT NULL,
				payload BYTEA,
				entry TEXT NOT NULL)`,
			`CREATE INDEX IF NOT EXISTS ` + n.callsWebhookIndex + ` ON ` + n.calls + ` (webhook, seq)`,
			`CREATE INDEX IF NOT EXISTS ` + n.callsTimeIndex + ` ON ` + n.calls + ` (time_ns)`,
			`CREATE TABLE IF NOT EXISTS ` + n.definitions + ` (
				name TEXT COLLATE "C" PRIMARY KEY,
				definition TEXT NOT NULL)`,
			`CREATE TABLE IF NOT EXISTS ` + n.deliveries + ` (
				webhook TEXT NOT NULL,
				delivery TEXT NOT NULL,
				expires_ns BIGINT NOT NULL,
				PRIMARY KEY (webhook, delivery))`,
		}
	}
	return []string{
		`CREATE TABLE IF NOT EXISTS ` + n.version + ` (version INTEGER NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS ` + n.records + ` (
			model TEXT NOT NULL,
			kind INTEGER NOT NULL,
			iid INTEGER NOT NULL,
			sid TEXT NOT NULL,
			doc TEXT NOT NULL,
			PRIMARY KEY (model, kind, iid, sid))`,
		`CREATE TABLE IF NOT EXISTS ` + n.sequences + ` (
			model TEXT PRIMARY KEY,
			last INTEGER NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS ` + n.calls + ` (
			seq INTEGER PRIMARY KEY,
			id TEXT NOT NULL,
			webhook TEXT NOT NULL,
			time_ns INTEGER NOT NULL,
			payload BLOB,
			entry TEXT NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS ` + n.callsWebhookIndex + ` ON ` + n.calls + ` (webhook, seq)`,
		`CREATE INDEX IF NOT EXISTS ` + n.callsTimeIndex + ` ON ` + n.calls + ` (time_ns)`,
		`CREATE TABLE IF NOT EXISTS ` + n.definitions + ` (
			name TEXT PRIMARY KEY,
			definition TEXT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS ` + n.deliveries + ` (
			webhook TEXT NOT NULL,
			delivery TEXT NOT NULL,
			expires_ns INTEGER NOT NULL,
			PRIMARY KEY (webhook, delivery))`,
	}
}

// migrations[v] takes the store's tables from version v to v+1. A release
// that changes the tables appends to it and raises SchemaVersion.
var migrations = map[int]func(s *Store) []string{}

// migrate creates the store's tables, or brings them to SchemaVersion, in
// one transaction.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: Open: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if s.pg {
		// Concurrent CREATE TABLE IF NOT EXISTS can fail on PostgreSQL;
		// stores opening at once take turns.
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", "sqlstore:"+s.cfg.Prefix); err != nil {
			return fmt.Errorf("sqlstore: Open: %w", err)
		}
	}
	for _, q := range s.ddl() {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("sqlstore: Open: creating tables: %w", err)
		}
	}
	var v int
	err = tx.QueryRowContext(ctx, "SELECT version FROM "+s.names.version).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+s.names.version+" (version) VALUES ("+s.stmt().arg(0)+")", SchemaVersion); err != nil {
			return fmt.Errorf("sqlstore: Open: %w", err)
		}
	case err != nil:
		return fmt.Errorf("sqlstore: Open: reading the schema version: %w", err)
	case v > SchemaVersion:
		return fmt.Errorf("sqlstore: Open: the tables with prefix %q are at schema version %d; this release knows up to %d", s.cfg.Prefix, v, SchemaVersion)
	case v < SchemaVersion:
		for ; v < SchemaVersion; v++ {
			step, ok := migrations[v]
			if !ok {
				return fmt.Errorf("sqlstore: Open: no migration from schema version %d", v)
			}
			for _, q := range step(s) {
				if _, err := tx.ExecContext(ctx, q); err != nil {
					return fmt.Errorf("sqlstore: Open: migrating from schema version %d: %w", v, err)
				}
			}
		}
		if _, err := tx.ExecContext(ctx, "UPDATE "+s.names.version+" SET version = "+s.stmt().arg(0), SchemaVersion); err != nil {
			return fmt.Errorf("sqlstore: Open: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: Open: %w", err)
	}
	return nil
}
