package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/internal/ctxlock"
)

// Dialect names the SQL database behind a Store.
type Dialect string

// The dialects a Store speaks.
const (
	// SQLite is SQLite 3.35 or later, through modernc.org/sqlite (pure Go)
	// or any other database/sql driver for it.
	SQLite Dialect = "sqlite"
	// Postgres is PostgreSQL 11 or later, through
	// github.com/jackc/pgx/v5/stdlib or any other database/sql driver for
	// it.
	Postgres Dialect = "postgres"
)

// DefaultPrefix starts the names of the tables a Store creates for itself.
const DefaultPrefix = "webhook_"

// DefaultKeepCalls is how many call-log entries a Store keeps per webhook
// when Config.KeepCalls is zero.
const DefaultKeepCalls = 1000

// Config says how a Store uses its database. The zero Config is a
// schemaless store with the default table prefix, whose dialect is asked of
// the database.
type Config struct {
	// Dialect is the database's dialect. Empty means: ask the database
	// (select version() and sqlite_version()) at Open.
	Dialect Dialect
	// Prefix starts the name of every table the store creates for itself
	// (records, sequences, calls, definitions, deliveries, schema_version).
	// Empty means DefaultPrefix. Two stores with different prefixes share
	// a database without seeing each other's data.
	Prefix string
	// Tables maps model names, such as "sale.order", to existing tables.
	// Records of the other models are JSON documents in the store's own
	// records table, unless MappedOnly is set.
	Tables map[string]Table
	// MappedOnly refuses models that are not in Tables with
	// webhook.ErrUnknownModel instead of storing them as documents.
	MappedOnly bool
	// KeepCalls bounds the call log: after each Append the store keeps the
	// newest KeepCalls entries of that webhook. Zero means
	// DefaultKeepCalls; a negative value keeps every entry.
	KeepCalls int
	// MaxCallAge, when positive, also drops entries whose call started
	// longer ago than that. The purge runs with an Append, at most once a
	// minute.
	MaxCallAge time.Duration
}

// KeyType is the type of a mapped table's key column.
type KeyType int

const (
	// Integer keys are int64 ids. A record created without an id gets the
	// one the database assigns: SQLite's rowid for an INTEGER PRIMARY
	// KEY, one more than the largest key otherwise; PostgreSQL's column
	// default (serial or identity).
	Integer KeyType = iota
	// Text keys are string ids. A record created without an id gets a
	// random UUID (version 4) as its id.
	Text
)

// Table maps a model to an existing table. Every identifier is quoted in
// the SQL the store writes, so names keep their case and may hold any
// character but NUL.
type Table struct {
	// Name is the table's name. Required.
	Name string
	// Schema qualifies Name: a PostgreSQL schema or the name of an
	// attached SQLite database. Empty means PostgreSQL's search path or
	// SQLite's main database.
	Schema string
	// Key is the column that holds the record's id, the field "id".
	// Empty means "id". It must be the table's primary key or have a
	// unique index of its own.
	Key string
	// KeyType is the type of the ids: Integer (the default) or Text.
	KeyType KeyType
	// Columns maps field names to column names. Nil maps every column
	// but Key and Extra to a field of the same name, as the table is at
	// Open.
	Columns map[string]string
	// Extra names a JSON column (on PostgreSQL: jsonb) that holds, as one
	// object, the fields that have no column of their own. Empty means a
	// record has only the fields in Columns, and writing any other field
	// fails with a *webhook.FieldError.
	Extra string
}

// Store is a webhook.RecordStore, webhook.Searcher, webhook.Transactor,
// webhook.DeliveryClaimer, webhook.CallLog and webhook.DefinitionStore on a
// database/sql database. It is safe for concurrent use. Create one with
// Open.
type Store struct {
	db     *sql.DB
	pg     bool
	cfg    Config
	names  tableNames
	tables map[string]*table

	// writer is the SQLite writing slot, held by every transaction the
	// store begins (see the package documentation); nil on PostgreSQL.
	writer *ctxlock.Mutex
	// stmts keeps SQLite statements prepared; nil on PostgreSQL, whose
	// drivers keep their own per-connection statement caches (pgx).
	stmts *stmtCache

	keepCalls      int
	lastPurge      atomic.Int64 // unix nanoseconds of the last call-log age purge
	lastClaimPurge atomic.Int64 // unix nanoseconds of the last purge of expired delivery claims
}

// tableNames are the quoted names of the store's own tables.
type tableNames struct {
	version, records, sequences, calls, definitions, deliveries string
	// callsWebhookIndex and callsTimeIndex are the quoted index names.
	callsWebhookIndex, callsTimeIndex string
}

var (
	_ webhook.RecordStore     = (*Store)(nil)
	_ webhook.Searcher        = (*Store)(nil)
	_ webhook.Transactor      = (*Store)(nil)
	_ webhook.CallLog         = (*Store)(nil)
	_ webhook.DefinitionStore = (*Store)(nil)
	_ webhook.Tx              = (*Tx)(nil)
	_ webhook.Searcher        = (*Tx)(nil)
)

// Open returns a Store on db, creating the store's own tables when they do
// not exist (it is safe to call Open on the same database from several
// processes at once) and checking every mapped table: a missing table,
// key column or mapped column is an error here, not on the first call.
// The Store does not own db: close db after the last use of the Store.
//
// For SQLite, open db with a busy timeout and WAL journaling, as package
// sqlstore/sqlite does; see the package documentation.
func Open(ctx context.Context, db *sql.DB, cfg Config) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlstore: Open: db is nil")
	}
	if cfg.Dialect == "" {
		d, err := detectDialect(ctx, db)
		if err != nil {
			return nil, err
		}
		cfg.Dialect = d
	}
	if cfg.Dialect != SQLite && cfg.Dialect != Postgres {
		return nil, fmt.Errorf("sqlstore: unknown dialect %q: want %q or %q", cfg.Dialect, SQLite, Postgres)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if strings.IndexByte(cfg.Prefix, 0) >= 0 {
		return nil, errors.New("sqlstore: Config.Prefix holds a NUL byte")
	}
	s := &Store{db: db, pg: cfg.Dialect == Postgres, cfg: cfg, keepCalls: cfg.KeepCalls}
	if s.keepCalls == 0 {
		s.keepCalls = DefaultKeepCalls
	}
	p := cfg.Prefix
	s.names = tableNames{
		version:           quote(p + "schema_version"),
		records:           quote(p + "records"),
		sequences:         quote(p + "sequences"),
		calls:             quote(p + "calls"),
		definitions:       quote(p + "definitions"),
		deliveries:        quote(p + "deliveries"),
		callsWebhookIndex: quote(p + "calls_webhook"),
		callsTimeIndex:    quote(p + "calls_time"),
	}
	if !s.pg {
		s.writer = ctxlock.New()
		s.stmts = &stmtCache{db: db}
	}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	s.tables = make(map[string]*table, len(cfg.Tables))
	for model, t := range cfg.Tables {
		tbl, err := s.introspect(ctx, model, t)
		if err != nil {
			return nil, err
		}
		s.tables[model] = tbl
	}
	return s, nil
}

// detectDialect asks the database what it is.
func detectDialect(ctx context.Context, db *sql.DB) (Dialect, error) {
	var v string
	if err := db.QueryRowContext(ctx, "SELECT version()").Scan(&v); err == nil && strings.Contains(v, "PostgreSQL") {
		return Postgres, nil
	}
	if err := db.QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&v); err == nil {
		return SQLite, nil
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("sqlstore: Open: %w", err)
	}
	return "", errors.New("sqlstore: Open: the database is neither PostgreSQL nor SQLite; set Config.Dialect")
}

// Dialect returns the dialect the store speaks.
func (s *Store) Dialect() Dialect { return s.cfg.Dialect }

// DB returns the database the store was opened on.
func (s *Store) DB() *sql.DB { return s.db }

// quote returns name as an SQL identifier, for both dialects.
func quote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// querier is what operations run their statements on: the pool or a
// transaction. It has no QueryRowContext because a transaction begins at
// its first statement (see Tx.start), and a failure to begin cannot be
// handed back inside a *sql.Row: use queryRow.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryRow runs a query that returns at most one row and scans that row
// into dest, as (*sql.Row).Scan does: sql.ErrNoRows when there is none,
// the first row when there are several.
func queryRow(ctx context.Context, q querier, dest []any, query string, args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Close()
}

// on is where an operation runs.
type on struct {
	q querier
	// tx is set inside a transaction.
	tx bool
}

// pool is where an operation outside a transaction runs.
func (s *Store) pool() on { return on{q: (*dbQuerier)(s)} }

// lock returns the clause that locks the rows a read inside a PostgreSQL
// transaction returns, so that a later write of the same transaction
// cannot lose a concurrent update.
func (s *Store) lock(o on) string {
	if o.tx && s.pg {
		return " FOR NO KEY UPDATE"
	}
	return ""
}

// stmt builds one SQL statement and its arguments, writing each argument's
// placeholder in the store's dialect.
type stmt struct {
	pg   bool
	sb   strings.Builder
	args []any
}

func (s *Store) stmt() *stmt { return &stmt{pg: s.pg} }

// arg adds v as an argument and returns its placeholder.
func (b *stmt) arg(v any) string {
	b.args = append(b.args, v)
	if b.pg {
		return "$" + strconv.Itoa(len(b.args))
	}
	return "?"
}

func (b *stmt) add(parts ...string) *stmt {
	for _, p := range parts {
		b.sb.WriteString(p)
	}
	return b
}

func (b *stmt) String() string { return b.sb.String() }

// model is the storage of one model: a mapped table or documents.
type model interface {
	browse(ctx context.Context, o on, ids []webhook.ID) ([]webhook.Record, error)
	create(ctx context.Context, o on, values webhook.Record) (webhook.ID, error)
	write(ctx context.Context, o on, id webhook.ID, values webhook.Record) error
	search(ctx context.Context, o on, conds []cond, limit int) ([]webhook.Record, error)
}

func (s *Store) model(name string) (model, error) {
	if t, ok := s.tables[name]; ok {
		return t, nil
	}
	if s.cfg.MappedOnly {
		return nil, fmt.Errorf("sqlstore: %w: %q has no table", webhook.ErrUnknownModel, name)
	}
	return docModel{s: s, name: name}, nil
}

// Browse implements webhook.RecordStore.
func (s *Store) Browse(ctx context.Context, model string, ids []webhook.ID) ([]webhook.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.wrap(err)
	}
	m, err := s.model(model)
	if err != nil {
		return nil, err
	}
	var recs []webhook.Record
	err = s.read(ctx, func() (err error) {
		recs, err = m.browse(ctx, s.pool(), ids)
		return err
	})
	if err != nil {
		return nil, s.wrap(err)
	}
	return recs, nil
}

// Create implements webhook.RecordStore.
func (s *Store) Create(ctx context.Context, model string, values webhook.Record) (webhook.ID, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.wrap(err)
	}
	m, err := s.model(model)
	if err != nil {
		return nil, err
	}
	var id webhook.ID
	err = s.inTx(ctx, func(o on) (err error) {
		id, err = m.create(ctx, o, values)
		return err
	})
	if err != nil {
		return nil, err
	}
	return id, nil
}

// Write implements webhook.RecordStore.
func (s *Store) Write(ctx context.Context, model string, id webhook.ID, values webhook.Record) error {
	if err := ctx.Err(); err != nil {
		return s.wrap(err)
	}
	m, err := s.model(model)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(o on) error { return m.write(ctx, o, id, values) })
}

// Search implements webhook.Searcher.
func (s *Store) Search(ctx context.Context, model string, filter webhook.Filter, limit int) ([]webhook.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.wrap(err)
	}
	conds, err := conditions(model, filter)
	if err != nil {
		return nil, err
	}
	m, err := s.model(model)
	if err != nil {
		return nil, err
	}
	var recs []webhook.Record
	err = s.read(ctx, func() (err error) {
		recs, err = m.search(ctx, s.pool(), conds, limit)
		return err
	})
	if err != nil {
		return nil, s.wrap(err)
	}
	return recs, nil
}

// read runs a read outside a transaction, again when the connection it ran
// on turns out to be dead (database/sql hands out pooled connections that
// the server may have closed since; a read is safe to repeat).
func (s *Store) read(ctx context.Context, f func() error) error {
	var err error
	for range 3 {
		if err = f(); err == nil || ctx.Err() != nil || !connectionLost(err) {
			return err
		}
	}
	return err
}

// inTx runs f in a transaction of its own and commits it.
func (s *Store) inTx(ctx context.Context, f func(o on) error) error {
	t, err := s.begin(ctx)
	if err != nil {
		return err
	}
	if err := f(t.on()); err != nil {
		_ = t.Rollback()
		return s.wrap(err)
	}
	return t.Commit()
}

// Begin implements webhook.Transactor. On SQLite the database transaction
// and the store's writing lock start with the Tx's first statement, not
// at Begin, and the lock is held until Commit or Rollback (or until ctx is
// done); on PostgreSQL the transaction begins at Begin, runs at READ
// COMMITTED, and its reads lock the rows they return. See the package
// documentation.
func (s *Store) Begin(ctx context.Context) (webhook.Tx, error) {
	t, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (s *Store) begin(ctx context.Context) (*Tx, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.wrap(err)
	}
	t := &Tx{s: s, ctx: ctx}
	if s.writer == nil {
		// PostgreSQL: no lock to spare. Beginning here keeps a failure
		// to reach the server where callers have always seen it.
		if err := t.start(); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// start begins the database transaction, on SQLite after taking the
// store's writing lock. A Tx on SQLite calls it at its first statement:
// SQLite serializes writers, so every microsecond between taking the lock
// and COMMIT is a microsecond no other call can write, and what a caller
// does between Begin and its first operation (evaluating expressions,
// building values) and what the operation does before its first statement
// (checking fields, building SQL) need not be in it. Beginning later
// serializes the transaction no differently: nothing of it has touched the
// database before.
func (t *Tx) start() error {
	switch {
	case t.tx != nil:
		return nil
	case t.ended:
		return sql.ErrTxDone
	case t.failed != nil:
		return t.failed
	}
	s := t.s
	if err := t.ctx.Err(); err != nil {
		return t.fail(err)
	}
	if s.writer != nil {
		if err := s.writer.Lock(t.ctx); err != nil {
			return t.fail(err)
		}
	}
	var opts *sql.TxOptions // the driver's default: SQLite's BEGIN (IMMEDIATE, as package sqlite sets it)
	if s.pg {
		opts = readCommitted
	}
	var tx *sql.Tx
	var err error
	for range 3 {
		// Nothing has happened yet when BEGIN fails, so a dead pooled
		// connection is no reason to fail the call.
		if tx, err = s.db.BeginTx(t.ctx, opts); err == nil || t.ctx.Err() != nil || !connectionLost(err) {
			break
		}
	}
	if err != nil {
		if s.writer != nil {
			s.writer.Unlock()
		}
		return t.fail(err)
	}
	t.tx = tx
	if s.writer != nil {
		// database/sql rolls the transaction back when ctx is done; the
		// writing lock must follow even if the caller never ends the Tx.
		t.stop = context.AfterFunc(t.ctx, t.unlock)
	}
	return nil
}

// readCommitted is the isolation of PostgreSQL transactions; database/sql
// only reads it, so one value serves every BeginTx.
var readCommitted = &sql.TxOptions{Isolation: sql.LevelReadCommitted}

// fail records that the transaction could not begin, so that the Tx's
// later statements and Commit fail the same way, and returns the error.
func (t *Tx) fail(err error) error {
	t.failed = t.s.wrap(err)
	return t.failed
}

// unlock releases the writing lock the Tx holds, once, whichever of end
// and the context's AfterFunc gets there first.
func (t *Tx) unlock() {
	if t.unlocked.CompareAndSwap(false, true) {
		t.s.writer.Unlock()
	}
}

// Tx is a transaction of a Store. It implements webhook.Tx,
// webhook.Searcher and webhook.DeliveryClaimer. Like a *sql.Tx, it is for
// one goroutine at a time. End every Tx with Commit or Rollback: on SQLite
// an open Tx holds up every other writer of its Store, from its first
// operation until it ends or its context is done (then the Tx is rolled
// back).
//
// An operation that fails with a *webhook.FieldError, a taken id or
// webhook.ErrNotFound has changed nothing and leaves the Tx usable. Any
// other error (the database refused a statement, the connection broke, the
// context ended) may have ended the transaction on the server: roll back.
type Tx struct {
	s   *Store
	ctx context.Context
	// tx is the database transaction; nil until start.
	tx *sql.Tx
	// failed is why start failed; ended is set by Commit and Rollback.
	failed error
	ended  bool
	// stop cancels the AfterFunc that unlocks when ctx is done; unlocked
	// makes the unlocking happen once.
	stop     func() bool
	unlocked atomic.Bool
	// later holds the new statement texts the Tx ran unprepared, to be
	// prepared once it ends and holds no connection.
	later []string
}

// txQuerier runs a Tx's statements, beginning the transaction at the
// first. It is a distinct type so that Tx does not export the methods.
type txQuerier Tx

func (q *txQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	t := (*Tx)(q)
	st := t.prepared(ctx, query)
	if err := t.start(); err != nil {
		return nil, err
	}
	if st != nil {
		return t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}

func (q *txQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	t := (*Tx)(q)
	st := t.prepared(ctx, query)
	if err := t.start(); err != nil {
		return nil, err
	}
	if st != nil {
		return t.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}

// prepared returns the store's prepared statement for query, if it has
// one; it is looked up before start, outside the writing lock. A new text
// is prepared now if the Tx has not begun (it holds no connection yet),
// else after the Tx ends.
func (t *Tx) prepared(ctx context.Context, query string) *sql.Stmt {
	c := t.s.stmts
	if c == nil {
		return nil
	}
	st, known := c.get(query)
	switch {
	case known:
	case t.tx == nil && t.failed == nil && !t.ended:
		st = c.prepare(ctx, query)
	default:
		t.later = append(t.later, query)
	}
	return st
}

func (t *Tx) on() on { return on{q: (*txQuerier)(t), tx: true} }

// check fails the operations of a transaction whose context is done.
func (t *Tx) check(ctx context.Context) error {
	if err := t.ctx.Err(); err != nil {
		return t.s.wrap(err)
	}
	if err := ctx.Err(); err != nil {
		return t.s.wrap(err)
	}
	return nil
}

// Browse implements webhook.RecordStore. On PostgreSQL it locks the rows it
// returns until the transaction ends.
func (t *Tx) Browse(ctx context.Context, model string, ids []webhook.ID) ([]webhook.Record, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	m, err := t.s.model(model)
	if err != nil {
		return nil, err
	}
	recs, err := m.browse(ctx, t.on(), ids)
	if err != nil {
		return nil, t.s.wrap(err)
	}
	return recs, nil
}

// Create implements webhook.RecordStore.
func (t *Tx) Create(ctx context.Context, model string, values webhook.Record) (webhook.ID, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	m, err := t.s.model(model)
	if err != nil {
		return nil, err
	}
	id, err := m.create(ctx, t.on(), values)
	if err != nil {
		return nil, t.s.wrap(err)
	}
	return id, nil
}

// Write implements webhook.RecordStore.
func (t *Tx) Write(ctx context.Context, model string, id webhook.ID, values webhook.Record) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	m, err := t.s.model(model)
	if err != nil {
		return err
	}
	return t.s.wrap(m.write(ctx, t.on(), id, values))
}

// Search implements webhook.Searcher. On PostgreSQL it locks the rows it
// returns until the transaction ends.
func (t *Tx) Search(ctx context.Context, model string, filter webhook.Filter, limit int) ([]webhook.Record, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	conds, err := conditions(model, filter)
	if err != nil {
		return nil, err
	}
	m, err := t.s.model(model)
	if err != nil {
		return nil, err
	}
	recs, err := m.search(ctx, t.on(), conds, limit)
	if err != nil {
		return nil, t.s.wrap(err)
	}
	return recs, nil
}

// Commit implements webhook.Tx. A Tx that ran no statement has nothing to
// commit; it fails only if its context is done or it could not begin.
func (t *Tx) Commit() error {
	if t.tx == nil {
		if t.ended {
			return t.s.wrap(sql.ErrTxDone)
		}
		t.ended = true
		if t.failed != nil {
			return t.failed
		}
		if err := t.ctx.Err(); err != nil {
			return fmt.Errorf("sqlstore: commit: %w", err)
		}
		return nil
	}
	err := t.tx.Commit()
	t.end()
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrTxDone) && t.ctx.Err() != nil {
		return fmt.Errorf("sqlstore: commit: %w", t.ctx.Err())
	}
	return t.s.wrap(err)
}

// Rollback implements webhook.Tx. It returns nil after Commit and after the
// transaction's context ended (which rolled it back already).
func (t *Tx) Rollback() error {
	if t.tx == nil {
		t.ended = true
		return nil
	}
	err := t.tx.Rollback()
	t.end()
	if err == nil || errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	if connectionLost(err) {
		// The server rolled back when the connection broke.
		return nil
	}
	return t.s.wrap(err)
}

// end releases the writing lock after the transaction ended; the lock goes
// first, so that the next writer does not wait for the AfterFunc's removal.
func (t *Tx) end() {
	t.ended = true
	if t.s.writer != nil {
		t.unlock()
	}
	if t.stop != nil {
		t.stop()
	}
	for _, q := range t.later {
		t.s.stmts.prepare(t.ctx, q)
	}
	t.later = nil
}

// wrap leaves the store's own errors alone and turns database errors into
// errors that match webhook.ErrConflict or webhook.ErrInvalidField when
// they mean that.
func (s *Store) wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, webhook.ErrNotFound), errors.Is(err, webhook.ErrInvalidField),
		errors.Is(err, webhook.ErrUnknownModel), errors.Is(err, webhook.ErrConflict),
		errors.Is(err, webhook.ErrDuplicate):
		return err
	case conflict(err):
		return fmt.Errorf("sqlstore: %w: %w", webhook.ErrConflict, err)
	case invalidData(err):
		return fmt.Errorf("sqlstore: %w: %w", webhook.ErrInvalidField, err)
	}
	if strings.HasPrefix(err.Error(), "sqlstore:") {
		return err
	}
	return fmt.Errorf("sqlstore: %w", err)
}

// sqlState is implemented by PostgreSQL driver errors (pgx's *pgconn.PgError
// and lib/pq's *pq.Error).
type sqlState interface{ SQLState() string }

// sqliteCode is implemented by modernc.org/sqlite's *sqlite.Error.
type sqliteCode interface{ Code() int }

func stateOf(err error) string {
	var e sqlState
	if errors.As(err, &e) {
		return e.SQLState()
	}
	return ""
}

// conflict reports whether err means a concurrent transaction got in the
// way, so that the whole call may be retried.
func conflict(err error) bool {
	switch stateOf(err) {
	case "40001", "40P01", "55P03": // serialization failure, deadlock, lock not available
		return true
	}
	var c sqliteCode
	if errors.As(err, &c) {
		switch c.Code() & 0xff {
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return true
		}
	}
	return false
}

// invalidData reports whether err means a value did not fit its column.
func invalidData(err error) bool {
	if st := stateOf(err); strings.HasPrefix(st, "22") {
		return true
	}
	var c sqliteCode
	if errors.As(err, &c) && c.Code() == 3091 { // SQLITE_CONSTRAINT_DATATYPE
		return true
	}
	return false
}

// connectionLost reports whether err means the connection broke, so that
// nothing of the statement can have taken effect after it.
func connectionLost(err error) bool {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	if st := stateOf(err); strings.HasPrefix(st, "08") || st == "57P01" || st == "57P02" || st == "57P03" {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "connection reset") ||
		strings.Contains(msg, "broken pipe") || strings.Contains(msg, "failed to connect")
}
