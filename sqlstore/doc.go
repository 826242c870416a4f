// Package sqlstore keeps webhook records, the call log and webhook
// definitions in an SQL database through database/sql: SQLite for a single
// process (the embedded default) and PostgreSQL for deployments of many
// instances sharing one database.
//
// A [Store] is a webhook.RecordStore, webhook.Searcher,
// webhook.Transactor and webhook.DeliveryClaimer (its [Tx] is a
// webhook.Searcher and webhook.DeliveryClaimer too), a webhook.CallLog and
// a webhook.DefinitionStore, so one value fills all three places of a
// webhook.Config:
//
//	st, db, err := sqlite.Open(ctx, "erp.db", sqlstore.Config{})
//	...
//	reg, err := webhook.NewRegistry(webhook.Config{Store: st, CallLog: st, Definitions: st})
//
// This package imports no database driver. Package sqlstore/sqlite opens
// SQLite files with modernc.org/sqlite (pure Go) and the settings a Store
// wants; package sqlstore/postgres opens PostgreSQL with pgx. Any other
// database/sql driver for the two works with [Open] too.
//
// # Opening
//
// [Open] creates the store's own tables when they are missing (CREATE
// TABLE IF NOT EXISTS, in one transaction; on PostgreSQL under an advisory
// lock, so instances starting together do not trip over each other): the
// records of schemaless models, a per-model id counter, the call log, the
// definitions, the delivery claims, and a schema_version table holding
// [SchemaVersion]. Their names start with Config.Prefix ("webhook_"). A later release that changes
// these tables migrates them at Open from the version it finds; Open
// refuses tables newer than it knows. Open also checks every mapped table,
// so a missing table or column is reported at startup.
//
// # Mapped tables
//
// Config.Tables maps a model, such as "sale.order", to a table the
// application already has. The key column is the record's "id" (Integer
// or Text, [KeyType]) and must be unique; the other columns are fields of
// the same name, or those named in Table.Columns. Every identifier is
// quoted and every value is a bound parameter: a field that is not a
// mapped column is never SQL text; writing one fails with a
// *webhook.FieldError (matching webhook.ErrInvalidField) and changes
// nothing, unless Table.Extra names a JSON column that keeps such fields.
// A record read from a mapped table has every mapped field, NULL as nil.
//
// Values are JSON-shaped (nil, bool, int64, float64, string, []any,
// map[string]any) on the way in and out:
//
//   - SQLite stores what it is given, as SQLite does (a list or an object
//     as JSON text), and returns what is stored: int64 stays int64. A
//     column declared BOOLEAN reads 0 and 1 as false and true, one declared
//     JSON reads as the JSON value, one declared DATE, DATETIME, TIME or
//     TIMESTAMP as the stored text. A STRICT table's type errors match
//     webhook.ErrInvalidField.
//   - PostgreSQL types are checked before a statement is sent, and a value
//     of the wrong type, out of range, too long for varchar(n), or holding a
//     NUL byte (PostgreSQL text cannot) fails with a *webhook.FieldError.
//     Integers read as int64, real and double precision as float64, numeric
//     as int64 when integral and in range, else float64 ("NaN" as a
//     string), json and jsonb as JSON values, and every other type as
//     to_json renders it (timestamps as ISO 8601 strings, arrays as lists).
//     Those other types are written from text through a cast, inside a
//     savepoint when in a transaction, so a value the type refuses fails the
//     operation (matching webhook.ErrInvalidField) but not the transaction.
//
// A record created without an id gets one from the table: SQLite's rowid
// for an INTEGER PRIMARY KEY, else one more than the largest key;
// PostgreSQL's default (serial or identity; a sequence is moved past ids
// given explicitly); a random UUID for a Text key. On PostgreSQL an Integer
// key without a default needs the id to be given.
//
// # Schemaless models
//
// Every model that is not mapped (unless Config.MappedOnly) is stored as
// JSON documents, one row per record in the records table, keyed by model
// and id. Integer ids are assigned per model from a counter row (one more
// than the largest assigned or given id); string ids are kept when given.
// Documents keep values exactly: integers are written and read as decimal
// text, never through float64, so int64 extremes round-trip; a float64 with
// an integral value is written with a fraction ("2.0") so that it reads
// back as float64. Strings must be valid UTF-8 (JSON cannot hold other
// bytes): others fail with a *webhook.FieldError.
//
// PostgreSQL's jsonb cannot hold NUL (not even as \u0000), so on
// PostgreSQL a string or key that contains NUL, or begins with U+0001, is
// stored as U+0001 followed by the string with U+0001 written as U+0001
// U+0002 and NUL as U+0001 U+0003. Every other string is stored as it is;
// the mapping is one-to-one, so equality and search are unaffected, and
// records read back exactly. The same applies to model names, text ids and
// call-log webhook names in PostgreSQL text columns. SQLite stores NUL as
// it is.
//
// # Search
//
// Search narrows the rows in SQL (json_each on SQLite, jsonb containment
// on PostgreSQL, column comparisons on mapped tables) and then checks each
// record in Go, so that a Filter means the same on every store: JSON
// equality, integers and floats by exact numeric value, a missing field
// equal to nil. Results are ordered by id: integer ids numerically before
// string ids in byte order.
//
// # Transactions and concurrency
//
// A Store is safe for concurrent use; a Tx is for one goroutine at a time.
// Reads outside a transaction never wait for one. A Tx never loses an
// update, by a different means on each dialect:
//
// SQLite has one writer at a time. A Store lets one of its transactions
// run at a time (a Tx's first operation waits for the running one to end,
// or for the Tx's context), and Create, Write, Append and the definition
// methods are such transactions too. A Tx begins on the database, and takes
// its turn, at its first operation rather than at Begin, so that what the
// caller does in between does not hold up the other writers. Waiting in Go is cheaper and fairer than SQLite's busy
// handler, which polls with sleeps: fifty concurrent read-modify-write
// calls on one record took about 4 ms this way and about 40 ms through the
// busy handler alone (50 Stores on one file), on a 2-core machine.
// Processes sharing a file (or several Stores on one file) are serialized
// by SQLite itself: package
// sqlite opens connections with BEGIN IMMEDIATE, so a transaction takes
// the write lock as it begins and another writer waits up to the 10 s busy
// timeout. With a DSN without _txlock=immediate a transaction that read
// data another process then changed fails on its first write instead;
// either way SQLite's SQLITE_BUSY surfaces as webhook.ErrConflict, and
// the call may be retried. Use WAL journaling (package sqlite does), so
// that readers do not wait for a commit.
//
// PostgreSQL runs transactions at READ COMMITTED, and a Tx's Browse and
// Search lock the rows they return (SELECT ... FOR NO KEY UPDATE) until
// Commit or Rollback: a concurrent call that reads the same record waits
// for the first to commit and then reads its write. This never asks the
// caller to retry a plain read-modify-write, where SERIALIZABLE would fail
// most of fifty calls on one hot record with serialization errors and
// retry them in a storm. Deadlocks (40P01), serialization failures
// (40001) and lock timeouts (55P03) surface as webhook.ErrConflict. Ids of
// schemaless models come from a counter row locked until the transaction
// ends, so concurrent creates, in one process or many, never collide;
// creates of one model therefore take turns.
//
// # Failures
//
// An operation that fails with a *webhook.FieldError, a taken id (a
// *webhook.FieldError for "id") or webhook.ErrNotFound has changed nothing,
// and the Tx it ran in remains usable. Any other failure inside a Tx (a
// constraint the table declares, a broken connection, the context ending)
// may have ended the transaction on the server: roll back. Create, Write
// and the other writes outside a Tx run in a transaction of their own and
// change nothing when they fail.
//
// When the database goes away (a restart, a failover, an administrator
// ending the connection), the calls in flight fail and their transactions
// are rolled back by the server. The Store keeps no state tied to a
// connection: on SQLite it keeps the statements it runs prepared as
// *sql.Stmt, which database/sql prepares on each connection and forgets
// with a dead one; on PostgreSQL it prepares none of its own, and a dead
// connection (with the driver's per-connection statement cache) is
// dropped by database/sql. Reads outside a transaction and a BEGIN are tried again on
// another connection when the one they got turns out dead, so the first
// calls after the database is back succeed without reopening the Store.
//
// # Call log, definitions and delivery claims
//
// The call log is one row per call: the payload byte for byte, the rest of
// the webhook.Call as JSON. Calls returns entries newest first (in the
// order they were appended). Config.KeepCalls bounds each webhook's
// entries (default [DefaultKeepCalls]) and Config.MaxCallAge their age.
// Definitions are kept as their JSON, by name. Delivery claims (for
// duplicate suppression) are rows keyed by webhook and delivery key: a
// claim inside a Tx commits or rolls back with it, a concurrent claim of
// the same key waits for that transaction and then fails with
// webhook.ErrDuplicate, so across instances sharing a PostgreSQL database
// a delivery runs once. Expired claims are purged at most once a minute.
package sqlstore
