package webhook

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ID is a record's key. Stores use int64 for Odoo-style integer ids and
// string for text keys such as UUIDs; no other Go type is ever passed to a
// store or returned by one. Use [NormalizeID] to turn a decoded JSON value
// into an ID.
type ID = any

// Record is one record's fields as JSON-compatible Go values: nil, bool,
// int64, float64, string, []any and map[string]any. The key "id" holds the
// record's [ID]; stores fill it in on every record they return.
type Record map[string]any

// Sentinel errors a [RecordStore] returns, wrapped or not; callers test them
// with errors.Is.
var (
	// ErrNotFound means a record with the requested id does not exist.
	ErrNotFound = errors.New("record not found")
	// ErrConflict means a transaction could not commit because a
	// concurrent one changed what it read; the whole call may be retried.
	ErrConflict = errors.New("transaction conflict")
	// ErrInvalidField means a field name or value cannot be stored by this
	// store: a field that is not a column of a mapped table, a value of the
	// wrong type for its column, or a name the store does not accept.
	ErrInvalidField = errors.New("invalid field")
	// ErrUnknownModel means the store has no model of that name.
	ErrUnknownModel = errors.New("unknown model")
)

// NotFoundError reports which record was missing. It matches ErrNotFound
// with errors.Is.
type NotFoundError struct {
	Model string
	ID    ID
}

// Error names the model and the id that was not found.
func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s record %v not found", e.Model, e.ID)
}

// Is reports whether target is ErrNotFound.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// FieldError reports a field a store refused. It matches ErrInvalidField
// with errors.Is.
type FieldError struct {
	Model  string
	Field  string
	Reason string
}

// Error names the model and field, and why the store refused it.
func (e *FieldError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("%s has no field %q", e.Model, e.Field)
	}
	return fmt.Sprintf("%s field %q: %s", e.Model, e.Field, e.Reason)
}

// Is reports whether target is ErrInvalidField.
func (e *FieldError) Is(target error) bool { return target == ErrInvalidField }

// RecordStore is what webhooks read and write records through. It is the
// least an adapter must implement to be correct; transactions and search are
// optional capabilities ([Transactor], [Searcher]) discovered with a type
// assertion. Run the conformance suite in package webhooktest against any
// implementation.
//
// Implementations must be safe for concurrent use. Records passed in and
// returned are copies: a store must not keep a caller's map, and a caller
// may change a returned record without changing the store.
type RecordStore interface {
	// Browse returns the records of model with the given ids, in the order
	// of ids (a repeated id yields the record again). If any id does not
	// exist it returns an error that matches ErrNotFound, preferably a
	// *NotFoundError, and no records. An empty ids returns no records and
	// no error.
	Browse(ctx context.Context, model string, ids []ID) ([]Record, error)

	// Create stores a new record of model and returns its id. If values
	// holds "id", the store uses that id (and fails if it is taken);
	// otherwise it assigns one: integer stores the next integer, text-key
	// stores a fresh unique string. values is neither retained nor
	// changed: callers may pass the same map to concurrent calls.
	Create(ctx context.Context, model string, values Record) (ID, error)

	// Write sets the given fields of an existing record, leaving the
	// others as they are. A missing record is an error matching
	// ErrNotFound. values must not contain "id". values is neither
	// retained nor changed: callers may pass the same map to concurrent
	// calls.
	Write(ctx context.Context, model string, id ID, values Record) error
}

// Filter selects records whose fields equal the given values: every key is
// a field name, every value a JSON-compatible value compared for equality
// (integers and floats compare by numeric value). An empty Filter selects
// every record of the model.
type Filter map[string]any

// Searcher is the optional capability behind the `search` function of
// target expressions and scripts.
type Searcher interface {
	// Search returns up to limit records of model that match filter,
	// ordered by id ascending. limit <= 0 means no limit. A model with no
	// records yields an empty result, not an error.
	Search(ctx context.Context, model string, filter Filter, limit int) ([]Record, error)
}

// Transactor is the optional capability that makes a call all-or-nothing.
// When the store implements it, every call runs its reads and writes in one
// transaction; a failure anywhere rolls all of them back.
type Transactor interface {
	// Begin starts a transaction. The context bounds the whole
	// transaction: when it is done, the transaction's operations fail.
	Begin(ctx context.Context) (Tx, error)
}

// Tx is a transaction begun by a [Transactor]. A Tx is used by one
// goroutine at a time. If the store is a [Searcher], its Tx must be one too.
//
// A Tx must not lose updates: if two transactions read the same record and
// both write it, the second must see the first's write (the store locks
// records it reads, or serializes transactions) or must fail with an error
// matching ErrConflict, on which the caller retries the whole call.
// Reads inside a Tx see its own earlier writes; other readers see none of
// them until Commit.
type Tx interface {
	RecordStore
	// Commit makes every write of the transaction visible at once.
	Commit() error
	// Rollback discards every write. It is safe to call after Commit, in
	// which case it does nothing and returns nil.
	Rollback() error
}

// ErrDuplicate is returned by [DeliveryClaimer.ClaimDelivery] for a
// delivery that already ran.
var ErrDuplicate = errors.New("duplicate delivery")

// DeliveryClaimer is the optional capability that [Dedupe] needs: a store
// that remembers which deliveries ran. A store that implements it must
// return a Tx that implements it too; the registry claims a delivery inside
// the call's transaction, so the claim commits with the call's writes or
// not at all.
type DeliveryClaimer interface {
	// ClaimDelivery records, as part of the transaction (or at once, on
	// the store itself), that webhook ran the delivery key, remembered
	// until expires. If an unexpired claim of the same webhook and key
	// has been committed, it returns an error matching ErrDuplicate and
	// records nothing. Two transactions that claim the same key must never
	// both commit: the later claim waits until the earlier transaction
	// ends (and then succeeds or returns ErrDuplicate), or fails with
	// ErrConflict. Expired claims may be purged at any time.
	ClaimDelivery(ctx context.Context, webhook, key string, now, expires time.Time) error
}
