// Package webhooktest provides helpers for testing code that uses package
// webhook.
//
// TestStore is the conformance suite for webhook.RecordStore adapters: run
// it from a test of every adapter. The package also holds request signers,
// which set the headers a real webhook sender would so that a test can
// exercise a webhook's signature verification end to end.
package webhooktest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	webhook "github.com/hookline/webhook"
)

// Option changes what TestStore expects of a store.
type Option func(*config)

type config struct {
	stringIDs bool
}

// StringIDs tells TestStore that the store assigns string ids (such as
// UUIDs) instead of int64 ones. The suite then checks only that assigned
// ids are distinct, non-empty strings, and the ids it chooses itself are
// strings.
func StringIDs() Option {
	return func(c *config) { c.stringIDs = true }
}

// The models the suite uses. unknownModel never gets a record.
const (
	thingModel   = "webhooktest.thing"
	otherModel   = "webhooktest.other"
	counterModel = "webhooktest.counter"
	unknownModel = "webhooktest.unknown"
)

// TestStore runs the conformance suite for webhook.RecordStore
// implementations as subtests of t. open must return a new, empty store
// each time it is called, and may register its clean-up with t.Cleanup.
// Every subtest opens a store of its own; TestStore also opens a few to
// learn whether the store is a webhook.Searcher and a webhook.Transactor.
//
// The suite checks the contract documented on webhook.RecordStore,
// webhook.Searcher, webhook.Transactor and webhook.Tx: ids, the order and
// errors of Browse, partial writes, exact round-trips of JSON values
// (int64 stays int64, float64 stays float64, strings keep NUL bytes, a
// 1 MB string survives), copies in and out, concurrent use, and the
// capabilities a store has: search semantics, and transactions (commit,
// rollback, reading one's own writes, isolation from other readers, no lost
// updates under 50 concurrent read-modify-write transactions, retried on
// ErrConflict up to 100 times each) and context cancellation. When the
// store is a Transactor, the record checks run three times: on the store,
// inside one open transaction, and with every call in a transaction of its
// own that commits.
//
// It assumes:
//   - The store is schemaless: records of any model (the suite uses models
//     named "webhooktest.*") can be created with any field names, and a
//     Write may add a field.
//   - A store with int64 ids accepts a caller-given int64 "id" in Create,
//     one with string ids (see StringIDs) a string "id".
//   - A Tx stays usable after one of its operations failed (a taken id, a
//     missing record) and that operation changed nothing, as a script may
//     catch the error and go on. A database adapter may need a savepoint or
//     a check before the statement for that.
//   - Reads outside a transaction either run while a transaction is open
//     or wait for it; a store that waits must give up when the context
//     ends. The suite gives such reads 500 ms, and gives any call that
//     might wait for a transaction 5 s before it reports a hang.
func TestStore(t *testing.T, open func(t *testing.T) webhook.RecordStore, opts ...Option) {
	t.Helper()
	s := &suite{open: open}
	for _, o := range opts {
		o(&s.cfg)
	}
	probe := open(t)
	_, isTransactor := probe.(webhook.Transactor)
	_, isSearcher := probe.(webhook.Searcher)

	t.Run("store", func(t *testing.T) {
		s.records(t, open)
		s.concurrency(t)
	})
	if isTransactor {
		t.Run("in one transaction", func(t *testing.T) { s.records(t, s.openTx) })
		t.Run("in committed transactions", func(t *testing.T) {
			s.records(t, func(t *testing.T) webhook.RecordStore {
				c := committing{open(t).(webhook.Transactor)}
				if isSearcher {
					return committingSearcher{c}
				}
				return c
			})
		})
	}
	t.Run("transactions", func(t *testing.T) {
		if !isTransactor {
			t.Skip("the store is not a webhook.Transactor")
		}
		s.transactions(t)
	})
	t.Run("contexts", s.contexts)
}

type suite struct {
	cfg  config
	open func(t *testing.T) webhook.RecordStore
}

type check struct {
	name string
	f    func(t *testing.T, st webhook.RecordStore)
}

// run runs each check as a subtest on a store of its own from open.
func run(t *testing.T, open func(t *testing.T) webhook.RecordStore, checks []check) {
	t.Helper()
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) { c.f(t, open(t)) })
	}
}

// openTx opens a store and returns a transaction on it that is rolled back
// at the end of the test.
func (s *suite) openTx(t *testing.T) webhook.RecordStore {
	tx, err := s.open(t).(webhook.Transactor).Begin(t.Context())
	require.NoError(t, err, "Begin")
	t.Cleanup(func() { _ = tx.Rollback() })
	return tx
}

// records runs the checks of the RecordStore and Searcher contracts.
func (s *suite) records(t *testing.T, open func(t *testing.T) webhook.RecordStore) {
	run(t, open, []check{
		{"Create assigns distinct ids that Browse returns in the id field", s.createAssignsIDs},
		{"Create uses the id given in values", s.createUsesGivenID},
		{"Create never assigns an id that was given before", s.createAvoidsGivenIDs},
		{"Create fails on a taken id and keeps the first record", s.createRejectsTakenID},
		{"Browse returns records in the order of the ids asked for", s.browseOrder},
		{"Browse returns a record again for a repeated id", s.browseRepeats},
		{"Browse of no ids returns no records and no error", s.browseNothing},
		{"Browse fails with ErrNotFound and returns no records when an id is missing", s.browseMissing},
		{"Browse of a model without records fails like a missing id", s.browseUnknownModel},
		{"Records of two models with the same id are distinct", s.modelsAreSeparate},
		{"Write changes only the given fields", s.writeChangesGivenFields},
		{"Write with no fields leaves the record as it was", s.writeNothing},
		{"Write fails with ErrNotFound on a missing record and creates nothing", s.writeMissing},
	})
	t.Run("values", func(t *testing.T) { run(t, open, s.valueChecks()) })
	run(t, open, []check{
		{"Changing a returned record does not change the store", s.returnedRecordIsACopy},
		{"Records returned for a repeated id are separate copies", s.repeatedRecordsAreCopies},
		{"Changing the values given to Create does not change the store", s.createCopiesValues},
		{"Changing the values given to Write does not change the store", s.writeCopiesValues},
		{"Create and Write leave the values they are given unchanged", s.valuesLeftUnchanged},
	})
	t.Run("search", func(t *testing.T) {
		if _, ok := open(t).(webhook.Searcher); !ok {
			t.Skip("the store is not a webhook.Searcher")
		}
		run(t, open, []check{
			{"Search returns the records whose fields equal the filter, ordered by id", s.searchEquality},
			{"Search requires every field of the filter to match", s.searchAllFields},
			{"Search compares integers and floats by numeric value", s.searchNumeric},
			{"Search does not equate strings or booleans with numbers", s.searchTypes},
			{"Search can filter on the id", s.searchByID},
			{"Search returns at most limit records", s.searchLimit},
			{"Search with an empty filter returns every record", s.searchEverything},
			{"Search with no match returns no records and no error", s.searchNoMatch},
			{"Search of a model without records returns nothing", s.searchUnknownModel},
			{"Search orders integer ids by value", s.searchNumericOrder},
			{"Changing a record returned by Search does not change the store", s.searchReturnsCopies},
		})
	})
}

// concurrency runs checks of concurrent use of the store itself.
func (s *suite) concurrency(t *testing.T) {
	run(t, s.open, []check{
		{"Concurrent creates get distinct ids", s.concurrentCreates},
		{"Concurrent writes to different records all land", s.concurrentWrites},
	})
}

// transactions runs the checks of the Transactor and Tx contracts.
func (s *suite) transactions(t *testing.T) {
	run(t, s.open, []check{
		{"A transaction of a Searcher store is a Searcher", s.txIsSearcher},
		{"Commit makes a transaction's creates and writes visible", s.txCommit},
		{"Rollback discards a transaction's creates and writes", s.txRollback},
		{"A transaction reads its own creates and writes", s.txReadsOwnWrites},
		{"Other readers do not see a transaction's writes before Commit", s.txIsolation},
		{"Rollback after Commit does nothing and returns nil", s.txRollbackAfterCommit},
		{"Concurrent read-modify-write transactions lose no update", s.txNoLostUpdates},
		{"Search inside a transaction sees the transaction's writes", s.txSearch},
		{"A transaction fails once its context is cancelled", s.txCancelled},
		{"A write waiting for an open transaction gives up when its context ends", s.txWaitingWrite},
	})
}

// contexts runs the checks of context cancellation on the store.
func (s *suite) contexts(t *testing.T) {
	run(t, s.open, []check{
		{"Operations with a cancelled context fail and change nothing", s.cancelledContext},
	})
}

// ids

// given returns an id chosen by the suite: int64(n), or a string that sorts
// by n.
func (s *suite) given(n int) webhook.ID {
	if s.cfg.stringIDs {
		return fmt.Sprintf("webhooktest-%06d", n)
	}
	return int64(n)
}

// missing returns an id no record of the suite has.
func (s *suite) missing() webhook.ID { return s.given(987654) }

// checkNewID checks the type of an id the store assigned.
func (s *suite) checkNewID(t *testing.T, id webhook.ID) {
	t.Helper()
	if s.cfg.stringIDs {
		str, ok := id.(string)
		require.Truef(t, ok, "Create returned the id %#v of type %T; with StringIDs, ids are strings", id, id)
		require.NotEmpty(t, str, "Create returned an empty string id")
		return
	}
	n, ok := id.(int64)
	require.Truef(t, ok, "Create returned the id %#v of type %T, want int64 (pass webhooktest.StringIDs() for a store with string ids)", id, id)
	require.Positive(t, n, "integer ids start above zero, as in Odoo")
}

func requireDistinct(t *testing.T, ids []webhook.ID) {
	t.Helper()
	seen := make(map[webhook.ID]int, len(ids))
	for i, id := range ids {
		if j, dup := seen[id]; dup {
			require.Failf(t, "duplicate id", "ids #%d and #%d are both %#v", j, i, id)
		}
		seen[id] = i
	}
}

// helpers that fail the test on error

func create(t *testing.T, st webhook.RecordStore, model string, values webhook.Record) webhook.ID {
	t.Helper()
	id, err := st.Create(t.Context(), model, values)
	require.NoError(t, err, "Create(%s)", model)
	return id
}

func write(t *testing.T, st webhook.RecordStore, model string, id webhook.ID, values webhook.Record) {
	t.Helper()
	require.NoError(t, st.Write(t.Context(), model, id, values), "Write(%s, %v)", model, id)
}

func browse(t *testing.T, st webhook.RecordStore, model string, ids ...webhook.ID) []webhook.Record {
	t.Helper()
	recs, err := st.Browse(t.Context(), model, ids)
	require.NoError(t, err, "Browse(%s, %v)", model, ids)
	require.Len(t, recs, len(ids), "Browse(%s, %v) returns one record per id", model, ids)
	return recs
}

func browseOne(t *testing.T, st webhook.RecordStore, model string, id webhook.ID) webhook.Record {
	t.Helper()
	return browse(t, st, model, id)[0]
}

func search(t *testing.T, st webhook.RecordStore, model string, f webhook.Filter, limit int) []webhook.Record {
	t.Helper()
	recs, err := st.(webhook.Searcher).Search(t.Context(), model, f, limit)
	require.NoError(t, err, "Search(%s, %v, %d)", model, f, limit)
	return recs
}

// with returns values with "id" added.
func with(id webhook.ID, values webhook.Record) webhook.Record {
	rec := make(webhook.Record, len(values)+1)
	for k, v := range values {
		rec[k] = v
	}
	rec["id"] = id
	return rec
}

// names returns the "name" field of each record.
func names(recs []webhook.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = fmt.Sprint(r["name"])
	}
	return out
}

func notFoundOrUnknownModel(err error) bool {
	return errors.Is(err, webhook.ErrNotFound) || errors.Is(err, webhook.ErrUnknownModel)
}

// hangAfter is how long a call may take before the suite reports a hang.
const hangAfter = 5 * time.Second

// errHung is what within returns for a call that did not return in time.
var errHung = errors.New("webhooktest: the call did not return in time")

// within runs f, reporting a failure and returning errHung if it does not
// return within d.
func within[T any](t *testing.T, d time.Duration, what string, f func() (T, error)) (T, error) {
	t.Helper()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-time.After(d):
		t.Errorf("%s did not return within %v", what, d)
		var zero T
		return zero, errHung
	}
}

func within0(t *testing.T, d time.Duration, what string, f func() error) error {
	t.Helper()
	_, err := within(t, d, what, func() (struct{}, error) { return struct{}{}, f() })
	return err
}

// Create, Browse and Write

func (s *suite) createAssignsIDs(t *testing.T, st webhook.RecordStore) {
	ids := make([]webhook.ID, 5)
	for i := range ids {
		ids[i] = create(t, st, thingModel, webhook.Record{"n": int64(i)})
		s.checkNewID(t, ids[i])
	}
	requireDistinct(t, ids)
	if !s.cfg.stringIDs {
		for i := 1; i < len(ids); i++ {
			assert.Greater(t, ids[i].(int64), ids[i-1].(int64), "integer ids increase in creation order")
		}
	}
	for i, rec := range browse(t, st, thingModel, ids...) {
		assert.Equal(t, webhook.Record{"id": ids[i], "n": int64(i)}, rec)
	}
}

func (s *suite) createUsesGivenID(t *testing.T, st webhook.RecordStore) {
	id := s.given(7)
	got := create(t, st, thingModel, webhook.Record{"id": id, "name": "seven"})
	assert.Equal(t, id, got, "Create returns the id given in values")
	assert.Equal(t, webhook.Record{"id": id, "name": "seven"}, browseOne(t, st, thingModel, id))
}

func (s *suite) createAvoidsGivenIDs(t *testing.T, st webhook.RecordStore) {
	ids := []webhook.ID{s.given(1), s.given(2), s.given(3)}
	kinds := []string{"given", "given", "given"}
	for _, id := range ids {
		create(t, st, thingModel, webhook.Record{"id": id, "kind": "given"})
	}
	for range 3 {
		id := create(t, st, thingModel, webhook.Record{"kind": "assigned"})
		s.checkNewID(t, id)
		ids, kinds = append(ids, id), append(kinds, "assigned")
	}
	if !s.cfg.stringIDs {
		// An id given just above the last one assigned must not be
		// assigned next (as a database sequence would).
		next := ids[len(ids)-1].(int64) + 1
		create(t, st, thingModel, webhook.Record{"id": next, "kind": "given"})
		ids, kinds = append(ids, next), append(kinds, "given")
		id := create(t, st, thingModel, webhook.Record{"kind": "assigned"})
		ids, kinds = append(ids, id), append(kinds, "assigned")
	}
	requireDistinct(t, ids)
	for i, rec := range browse(t, st, thingModel, ids...) {
		assert.Equal(t, webhook.Record{"id": ids[i], "kind": kinds[i]}, rec)
	}
}

func (s *suite) createRejectsTakenID(t *testing.T, st webhook.RecordStore) {
	ctx := t.Context()
	id := s.given(5)
	create(t, st, thingModel, webhook.Record{"id": id, "name": "first"})
	_, err := st.Create(ctx, thingModel, webhook.Record{"id": id, "name": "second"})
	require.Error(t, err, "Create with an id given before")
	assert.Equal(t, webhook.Record{"id": id, "name": "first"}, browseOne(t, st, thingModel, id))

	assigned := create(t, st, thingModel, webhook.Record{"name": "assigned"})
	_, err = st.Create(ctx, thingModel, webhook.Record{"id": assigned, "name": "again"})
	require.Error(t, err, "Create with an id the store assigned")
	assert.Equal(t, webhook.Record{"id": assigned, "name": "assigned"}, browseOne(t, st, thingModel, assigned))
}

func (s *suite) browseOrder(t *testing.T, st webhook.RecordStore) {
	a := create(t, st, thingModel, webhook.Record{"name": "a"})
	b := create(t, st, thingModel, webhook.Record{"name": "b"})
	c := create(t, st, thingModel, webhook.Record{"name": "c"})
	recs := browse(t, st, thingModel, c, a, b)
	assert.Equal(t, []string{"c", "a", "b"}, names(recs))
	assert.Equal(t, []webhook.ID{c, a, b}, []webhook.ID{recs[0]["id"], recs[1]["id"], recs[2]["id"]})
}

func (s *suite) browseRepeats(t *testing.T, st webhook.RecordStore) {
	a := create(t, st, thingModel, webhook.Record{"name": "a"})
	b := create(t, st, thingModel, webhook.Record{"name": "b"})
	assert.Equal(t, []string{"a", "a", "b", "a"}, names(browse(t, st, thingModel, a, a, b, a)))
}

func (s *suite) browseNothing(t *testing.T, st webhook.RecordStore) {
	create(t, st, thingModel, webhook.Record{"name": "a"})
	for _, ids := range [][]webhook.ID{nil, {}} {
		recs, err := st.Browse(t.Context(), thingModel, ids)
		require.NoError(t, err, "Browse(%#v)", ids)
		assert.Empty(t, recs, "Browse(%#v)", ids)
	}
}

func (s *suite) browseMissing(t *testing.T, st webhook.RecordStore) {
	a := create(t, st, thingModel, webhook.Record{"name": "a"})
	m := s.missing()
	for _, ids := range [][]webhook.ID{{m}, {a, m}, {m, a}, {a, a, m}} {
		recs, err := st.Browse(t.Context(), thingModel, ids)
		require.Error(t, err, "Browse(%v)", ids)
		assert.ErrorIs(t, err, webhook.ErrNotFound, "Browse(%v)", ids)
		assert.Empty(t, recs, "Browse(%v) returns no records", ids)
	}
}

func (s *suite) browseUnknownModel(t *testing.T, st webhook.RecordStore) {
	id := create(t, st, thingModel, webhook.Record{"name": "a"})
	recs, err := st.Browse(t.Context(), unknownModel, []webhook.ID{id})
	require.Error(t, err, "Browse of a model without records, with an id another model has")
	assert.Truef(t, notFoundOrUnknownModel(err), "the error %q matches neither ErrNotFound nor ErrUnknownModel", err)
	assert.Empty(t, recs)
}

func (s *suite) modelsAreSeparate(t *testing.T, st webhook.RecordStore) {
	id := create(t, st, thingModel, webhook.Record{"name": "thing"})
	got := create(t, st, otherModel, webhook.Record{"id": id, "name": "other"})
	assert.Equal(t, id, got)
	write(t, st, otherModel, id, webhook.Record{"n": int64(2)})
	assert.Equal(t, webhook.Record{"id": id, "name": "thing"}, browseOne(t, st, thingModel, id))
	assert.Equal(t, webhook.Record{"id": id, "name": "other", "n": int64(2)}, browseOne(t, st, otherModel, id))
}

func (s *suite) writeChangesGivenFields(t *testing.T, st webhook.RecordStore) {
	a := create(t, st, thingModel, webhook.Record{"name": "a", "n": int64(1), "ok": true, "tags": []any{"x"}})
	b := create(t, st, thingModel, webhook.Record{"name": "b", "n": int64(2), "ok": false})
	write(t, st, thingModel, a, webhook.Record{"n": int64(10), "tags": []any{"y", "z"}})
	assert.Equal(t, with(a, webhook.Record{"name": "a", "n": int64(10), "ok": true, "tags": []any{"y", "z"}}),
		browseOne(t, st, thingModel, a))
	write(t, st, thingModel, a, webhook.Record{"ok": nil, "added": "new"})
	assert.Equal(t, with(a, webhook.Record{"name": "a", "n": int64(10), "ok": nil, "tags": []any{"y", "z"}, "added": "new"}),
		browseOne(t, st, thingModel, a))
	assert.Equal(t, with(b, webhook.Record{"name": "b", "n": int64(2), "ok": false}),
		browseOne(t, st, thingModel, b), "another record is left alone")
}

func (s *suite) writeNothing(t *testing.T, st webhook.RecordStore) {
	a := create(t, st, thingModel, webhook.Record{"name": "a", "n": int64(1)})
	write(t, st, thingModel, a, webhook.Record{})
	write(t, st, thingModel, a, nil)
	assert.Equal(t, with(a, webhook.Record{"name": "a", "n": int64(1)}), browseOne(t, st, thingModel, a))
}

func (s *suite) writeMissing(t *testing.T, st webhook.RecordStore) {
	ctx := t.Context()
	create(t, st, thingModel, webhook.Record{"name": "a"})
	m := s.missing()
	assert.ErrorIs(t, st.Write(ctx, thingModel, m, webhook.Record{"name": "ghost"}), webhook.ErrNotFound)
	assert.ErrorIs(t, st.Write(ctx, thingModel, m, webhook.Record{}), webhook.ErrNotFound, "Write with no fields")
	_, err := st.Browse(ctx, thingModel, []webhook.ID{m})
	assert.ErrorIs(t, err, webhook.ErrNotFound, "a failed Write creates no record")
	err = st.Write(ctx, unknownModel, m, webhook.Record{"name": "ghost"})
	require.Error(t, err, "Write to a model without records")
	assert.Truef(t, notFoundOrUnknownModel(err), "the error %q matches neither ErrNotFound nor ErrUnknownModel", err)
}

// values

type valueCase struct {
	name  string
	field string
	value any
}

func valueCases() []valueCase {
	return []valueCase{
		{"the largest int64", "n", int64(math.MaxInt64)},
		{"the smallest int64", "n", int64(math.MinInt64)},
		{"the int64 2^53+1, which no float64 holds", "n", int64(1<<53 + 1)},
		{"the int64 zero", "n", int64(0)},
		{"the float64 1.5", "x", 1.5},
		{"the float64 1e300", "x", 1e300},
		{"the float64 -2.5e-300", "x", -2.5e-300},
		{"a float64 with an integral value", "x", float64(2)},
		{"true", "b", true},
		{"false", "b", false},
		{"null", "z", nil},
		{"an empty string", "s", ""},
		{"unicode text", "s", "héllo wörld — ✓ 日本語 🎉 \u200b"},
		{"quotes and backslashes", "s", `'single' "double" \back\slash`},
		{"text with a semicolon and SQL", "s", "x'; DROP TABLE records; --"},
		{"a NUL byte inside a string", "s", "before\x00after"},
		{"newlines and tabs", "s", "one\ntwo\r\n\tthree"},
		{"a 1 MB string", "s", strings.Repeat("0123456789abcdef", 1<<16)},
		{"an empty list", "l", []any{}},
		{"an empty object", "o", map[string]any{}},
		{"nested objects and lists", "doc", map[string]any{
			"list": []any{int64(1), 2.5, "three", true, nil, []any{}, map[string]any{"deep": []any{int64(math.MinInt64)}}},
			"obj":  map[string]any{"empty": map[string]any{}, "n": int64(math.MaxInt64), "f": 1.0},
		}},
		{"a field name with spaces", "field with spaces", "v"},
		{"a field name with quotes", `fi"eld's`, "v"},
		{"a unicode field name", "名前 ünïcødé", "v"},
		{"a field name with a semicolon", "a;b", "v"},
		{"a field name with a dot", "partner.name", "v"},
	}
}

func (s *suite) valueChecks() []check {
	cases := valueCases()
	checks := make([]check, 0, len(cases)+1)
	for _, c := range cases {
		checks = append(checks, check{"Create and Write preserve " + c.name, func(t *testing.T, st webhook.RecordStore) {
			id := create(t, st, thingModel, webhook.Record{c.field: c.value, "other": "kept"})
			rec := browseOne(t, st, thingModel, id)
			sameValue(t, c.value, rec, c.field, "after Create")
			assert.Equal(t, "kept", rec["other"], "after Create")
			assert.Len(t, rec, 3, "after Create, the record has its two fields and id")

			id = create(t, st, thingModel, webhook.Record{c.field: "placeholder", "other": "kept"})
			write(t, st, thingModel, id, webhook.Record{c.field: c.value})
			rec = browseOne(t, st, thingModel, id)
			sameValue(t, c.value, rec, c.field, "after Write")
			assert.Equal(t, "kept", rec["other"], "after Write")
		}})
	}
	checks = append(checks, check{"Create preserves all of these together in one record", func(t *testing.T, st webhook.RecordStore) {
		values := webhook.Record{}
		for i, c := range cases {
			values[fmt.Sprintf("%s #%d", c.field, i)] = c.value
		}
		id := create(t, st, thingModel, values)
		rec := browseOne(t, st, thingModel, id)
		for field, v := range values {
			sameValue(t, v, rec, field, "after Create")
		}
		assert.Len(t, rec, len(values)+1, "the record has its fields and id")
	}})
	return checks
}

// sameValue checks that rec[field] is exactly want, type included.
func sameValue(t *testing.T, want any, rec webhook.Record, field, when string) {
	t.Helper()
	got, ok := rec[field]
	if !assert.Truef(t, ok, "%s: the field %q is missing from the record", when, field) {
		return
	}
	if reflect.DeepEqual(want, got) {
		return
	}
	if w, ok := want.(string); ok && len(w) > 1000 {
		g, _ := got.(string)
		assert.Failf(t, "a long string changed", "%s: a %d-byte string came back as a %T of length %d", when, len(w), got, len(g))
		return
	}
	assert.Equalf(t, want, got, "%s: the field %q changed (want %T, got %T)", when, field, want, got)
}

// copies

// nested returns a new record with a list and an object in it.
func nested() webhook.Record {
	return webhook.Record{
		"name": "orig",
		"tags": []any{"a", "b"},
		"meta": map[string]any{"k": "v", "list": []any{int64(1)}},
	}
}

// scribble changes every level of a record made by nested.
func scribble(t *testing.T, rec webhook.Record) {
	t.Helper()
	tags, ok := rec["tags"].([]any)
	require.Truef(t, ok, "tags is a %T, want []any", rec["tags"])
	meta, ok := rec["meta"].(map[string]any)
	require.Truef(t, ok, "meta is a %T, want map[string]any", rec["meta"])
	list, ok := meta["list"].([]any)
	require.Truef(t, ok, "meta.list is a %T, want []any", meta["list"])
	tags[0] = "changed"
	list[0] = int64(99)
	meta["k"] = "changed"
	meta["added"] = true
	rec["name"] = "changed"
	rec["added"] = true
	delete(rec, "id")
}

func (s *suite) returnedRecordIsACopy(t *testing.T, st webhook.RecordStore) {
	id := create(t, st, thingModel, nested())
	scribble(t, browseOne(t, st, thingModel, id))
	assert.Equal(t, with(id, nested()), browseOne(t, st, thingModel, id))
}

func (s *suite) repeatedRecordsAreCopies(t *testing.T, st webhook.RecordStore) {
	id := create(t, st, thingModel, nested())
	recs := browse(t, st, thingModel, id, id)
	scribble(t, recs[0])
	assert.Equal(t, with(id, nested()), recs[1])
}

func (s *suite) createCopiesValues(t *testing.T, st webhook.RecordStore) {
	values := nested()
	id := create(t, st, thingModel, values)
	scribble(t, values)
	assert.Equal(t, with(id, nested()), browseOne(t, st, thingModel, id))
}

func (s *suite) writeCopiesValues(t *testing.T, st webhook.RecordStore) {
	id := create(t, st, thingModel, webhook.Record{"name": "orig"})
	values := nested()
	write(t, st, thingModel, id, values)
	scribble(t, values)
	assert.Equal(t, with(id, nested()), browseOne(t, st, thingModel, id))
}

func (s *suite) valuesLeftUnchanged(t *testing.T, st webhook.RecordStore) {
	values := nested()
	id := create(t, st, thingModel, values)
	assert.Equal(t, nested(), values, "Create changed the values it was given")
	values = nested()
	values["name"] = "again"
	write(t, st, thingModel, id, values)
	want := nested()
	want["name"] = "again"
	assert.Equal(t, want, values, "Write changed the values it was given")
}

// search

// searchFixture creates four records with ids given(1) to given(4), out of
// id order, and returns them by name.
func (s *suite) searchFixture(t *testing.T, st webhook.RecordStore) map[string]webhook.Record {
	t.Helper()
	recs := []struct {
		n   int
		rec webhook.Record
	}{
		{3, webhook.Record{"name": "cid", "team": "red", "score": int64(7), "ratio": 1.5, "active": true}},
		{1, webhook.Record{"name": "ann", "team": "red", "score": int64(3), "ratio": 0.5, "active": true}},
		{4, webhook.Record{"name": "dee", "team": "red", "score": int64(3), "ratio": 2.5, "active": false}},
		{2, webhook.Record{"name": "bob", "team": "blue", "score": int64(5), "ratio": float64(3), "active": false}},
	}
	byName := make(map[string]webhook.Record, len(recs))
	for _, r := range recs {
		rec := with(s.given(r.n), r.rec)
		create(t, st, thingModel, rec)
		byName[rec["name"].(string)] = rec
	}
	return byName
}

func (s *suite) searchEquality(t *testing.T, st webhook.RecordStore) {
	fx := s.searchFixture(t, st)
	assert.Equal(t, []webhook.Record{fx["ann"], fx["cid"], fx["dee"]},
		search(t, st, thingModel, webhook.Filter{"team": "red"}, 0))
	assert.Equal(t, []string{"bob"}, names(search(t, st, thingModel, webhook.Filter{"name": "bob"}, 0)))
}

func (s *suite) searchAllFields(t *testing.T, st webhook.RecordStore) {
	s.searchFixture(t, st)
	assert.Equal(t, []string{"ann", "dee"}, names(search(t, st, thingModel, webhook.Filter{"team": "red", "score": int64(3)}, 0)))
	assert.Equal(t, []string{"dee"}, names(search(t, st, thingModel, webhook.Filter{"team": "red", "active": false}, 0)))
	assert.Empty(t, search(t, st, thingModel, webhook.Filter{"team": "blue", "score": int64(3)}, 0))
}

func (s *suite) searchNumeric(t *testing.T, st webhook.RecordStore) {
	s.searchFixture(t, st)
	assert.Equal(t, []string{"ann", "dee"}, names(search(t, st, thingModel, webhook.Filter{"score": float64(3)}, 0)), "float64 3 finds int64 3")
	assert.Equal(t, []string{"bob"}, names(search(t, st, thingModel, webhook.Filter{"ratio": int64(3)}, 0)), "int64 3 finds float64 3")
	assert.Equal(t, []string{"cid"}, names(search(t, st, thingModel, webhook.Filter{"ratio": 1.5}, 0)))
	assert.Empty(t, search(t, st, thingModel, webhook.Filter{"score": 3.5}, 0), "3.5 equals no integer")
}

func (s *suite) searchTypes(t *testing.T, st webhook.RecordStore) {
	s.searchFixture(t, st)
	assert.Empty(t, search(t, st, thingModel, webhook.Filter{"score": "3"}, 0), `"3" is not 3`)
	assert.Empty(t, search(t, st, thingModel, webhook.Filter{"active": int64(1)}, 0), "1 is not true")
	assert.Empty(t, search(t, st, thingModel, webhook.Filter{"active": int64(0)}, 0), "0 is not false")
	assert.Equal(t, []string{"ann", "cid"}, names(search(t, st, thingModel, webhook.Filter{"active": true}, 0)))
}

func (s *suite) searchByID(t *testing.T, st webhook.RecordStore) {
	fx := s.searchFixture(t, st)
	assert.Equal(t, []webhook.Record{fx["bob"]}, search(t, st, thingModel, webhook.Filter{"id": s.given(2)}, 0))
}

func (s *suite) searchLimit(t *testing.T, st webhook.RecordStore) {
	s.searchFixture(t, st)
	red := webhook.Filter{"team": "red"}
	assert.Equal(t, []string{"ann"}, names(search(t, st, thingModel, red, 1)))
	assert.Equal(t, []string{"ann", "cid"}, names(search(t, st, thingModel, red, 2)))
	assert.Equal(t, []string{"ann", "cid", "dee"}, names(search(t, st, thingModel, red, 3)))
	assert.Equal(t, []string{"ann", "cid", "dee"}, names(search(t, st, thingModel, red, 10)))
	assert.Equal(t, []string{"ann", "cid", "dee"}, names(search(t, st, thingModel, red, 0)), "limit 0 means no limit")
	assert.Equal(t, []string{"ann", "cid", "dee"}, names(search(t, st, thingModel, red, -1)), "a negative limit means no limit")
	assert.Equal(t, []string{"ann", "bob"}, names(search(t, st, thingModel, nil, 2)))
}

func (s *suite) searchEverything(t *testing.T, st webhook.RecordStore) {
	s.searchFixture(t, st)
	for _, f := range []webhook.Filter{nil, {}} {
		assert.Equal(t, []string{"ann", "bob", "cid", "dee"}, names(search(t, st, thingModel, f, 0)), "filter %#v", f)
	}
}

func (s *suite) searchNoMatch(t *testing.T, st webhook.RecordStore) {
	s.searchFixture(t, st)
	assert.Empty(t, search(t, st, thingModel, webhook.Filter{"team": "green"}, 0))
	assert.Empty(t, search(t, st, thingModel, webhook.Filter{"no such field": "x"}, 0))
}

func (s *suite) searchUnknownModel(t *testing.T, st webhook.RecordStore) {
	s.searchFixture(t, st)
	for _, f := range []webhook.Filter{nil, {"team": "red"}} {
		recs, err := st.(webhook.Searcher).Search(t.Context(), unknownModel, f, 0)
		if err != nil {
			assert.ErrorIs(t, err, webhook.ErrUnknownModel, "Search of a model without records either finds nothing or fails with ErrUnknownModel")
		}
		assert.Empty(t, recs)
	}
}

func (s *suite) searchNumericOrder(t *testing.T, st webhook.RecordStore) {
	if s.cfg.stringIDs {
		t.Skip("the store has string ids")
	}
	for _, n := range []int64{10, 9, 100, 2, 1000} {
		create(t, st, thingModel, webhook.Record{"id": n, "name": fmt.Sprint(n), "kind": "num"})
	}
	want := []string{"2", "9", "10", "100", "1000"}
	assert.Equal(t, want, names(search(t, st, thingModel, webhook.Filter{"kind": "num"}, 0)))
	assert.Equal(t, want, names(search(t, st, thingModel, nil, 0)))
}

func (s *suite) searchReturnsCopies(t *testing.T, st webhook.RecordStore) {
	id := create(t, st, thingModel, nested())
	recs := search(t, st, thingModel, webhook.Filter{"name": "orig"}, 0)
	require.Len(t, recs, 1)
	scribble(t, recs[0])
	assert.Equal(t, []webhook.Record{with(id, nested())}, search(t, st, thingModel, nil, 0))
}

// concurrent use

func (s *suite) concurrentCreates(t *testing.T, st webhook.RecordStore) {
	const workers, each = 16, 25
	ids := make([][]webhook.ID, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				id, err := st.Create(t.Context(), thingModel, webhook.Record{"w": int64(w), "i": int64(i)})
				if err != nil {
					errs[w] = err
					return
				}
				ids[w] = append(ids[w], id)
			}
		})
	}
	wg.Wait()
	var all []webhook.ID
	for w := range workers {
		require.NoError(t, errs[w], "worker %d", w)
		for _, id := range ids[w] {
			s.checkNewID(t, id)
		}
		all = append(all, ids[w]...)
	}
	requireDistinct(t, all)
	for w := range workers {
		for i, rec := range browse(t, st, thingModel, ids[w]...) {
			assert.Equal(t, webhook.Record{"id": ids[w][i], "w": int64(w), "i": int64(i)}, rec)
		}
	}
}

func (s *suite) concurrentWrites(t *testing.T, st webhook.RecordStore) {
	const workers, each = 16, 25
	ids := make([]webhook.ID, workers)
	for w := range ids {
		ids[w] = create(t, st, thingModel, webhook.Record{"w": int64(w), "n": int64(-1)})
	}
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				err := st.Write(t.Context(), thingModel, ids[w], webhook.Record{"n": int64(i)})
				if err == nil {
					_, err = st.Browse(t.Context(), thingModel, ids)
				}
				if err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for w, err := range errs {
		require.NoError(t, err, "worker %d", w)
	}
	for w, rec := range browse(t, st, thingModel, ids...) {
		assert.Equal(t, webhook.Record{"id": ids[w], "w": int64(w), "n": int64(each - 1)}, rec)
	}
}

// transactions

func begin(t *testing.T, st webhook.RecordStore) webhook.Tx {
	t.Helper()
	tx, err := st.(webhook.Transactor).Begin(t.Context())
	require.NoError(t, err, "Begin")
	t.Cleanup(func() { _ = tx.Rollback() })
	return tx
}

func (s *suite) txIsSearcher(t *testing.T, st webhook.RecordStore) {
	if _, ok := st.(webhook.Searcher); !ok {
		t.Skip("the store is not a webhook.Searcher")
	}
	tx := begin(t, st)
	_, ok := tx.(webhook.Searcher)
	assert.Truef(t, ok, "the store is a Searcher but its Tx, a %T, is not", tx)
}

func (s *suite) txCommit(t *testing.T, st webhook.RecordStore) {
	a := create(t, st, thingModel, webhook.Record{"name": "a", "n": int64(1)})
	tx := begin(t, st)
	b := create(t, tx, thingModel, webhook.Record{"name": "b"})
	write(t, tx, thingModel, a, webhook.Record{"n": int64(2)})
	require.NoError(t, tx.Commit(), "Commit")
	assert.Equal(t, with(a, webhook.Record{"name": "a", "n": int64(2)}), browseOne(t, st, thingModel, a))
	assert.Equal(t, with(b, webhook.Record{"name": "b"}), browseOne(t, st, thingModel, b))
}

func (s *suite) txRollback(t *testing.T, st webhook.RecordStore) {
	ctx := t.Context()
	a := create(t, st, thingModel, webhook.Record{"name": "a", "n": int64(1)})
	tx := begin(t, st)
	b := create(t, tx, thingModel, webhook.Record{"id": s.given(50), "name": "b"})
	c := create(t, tx, thingModel, webhook.Record{"name": "c"})
	write(t, tx, thingModel, a, webhook.Record{"n": int64(2)})
	write(t, tx, thingModel, b, webhook.Record{"n": int64(3)})
	require.NoError(t, tx.Rollback(), "Rollback")

	assert.Equal(t, with(a, webhook.Record{"name": "a", "n": int64(1)}), browseOne(t, st, thingModel, a))
	for _, id := range []webhook.ID{b, c} {
		_, err := st.Browse(ctx, thingModel, []webhook.ID{id})
		assert.ErrorIs(t, err, webhook.ErrNotFound, "a record created by a rolled-back transaction")
	}
	create(t, st, thingModel, webhook.Record{"id": b, "name": "b again"})
	assert.Equal(t, with(b, webhook.Record{"name": "b again"}), browseOne(t, st, thingModel, b))
}

func (s *suite) txReadsOwnWrites(t *testing.T, st webhook.RecordStore) {
	a := create(t, st, thingModel, webhook.Record{"name": "a", "n": int64(1), "keep": "yes"})
	tx := begin(t, st)
	b := create(t, tx, thingModel, webhook.Record{"name": "b"})
	assert.Equal(t, with(b, webhook.Record{"name": "b"}), browseOne(t, tx, thingModel, b))
	write(t, tx, thingModel, a, webhook.Record{"n": int64(2)})
	write(t, tx, thingModel, b, webhook.Record{"n": int64(3)})
	assert.Equal(t, []webhook.Record{
		with(a, webhook.Record{"name": "a", "n": int64(2), "keep": "yes"}),
		with(b, webhook.Record{"name": "b", "n": int64(3)}),
	}, browse(t, tx, thingModel, a, b))
	write(t, tx, thingModel, a, webhook.Record{"n": int64(4)})
	assert.Equal(t, with(a, webhook.Record{"name": "a", "n": int64(4), "keep": "yes"}), browseOne(t, tx, thingModel, a))
	require.NoError(t, tx.Commit())
}

func (s *suite) txIsolation(t *testing.T, st webhook.RecordStore) {
	a := create(t, st, thingModel, webhook.Record{"name": "a", "n": int64(1)})
	tx := begin(t, st)
	b := create(t, tx, thingModel, webhook.Record{"name": "b", "tag": "pending"})
	write(t, tx, thingModel, a, webhook.Record{"n": int64(2), "tag": "pending"})

	// peek runs a read outside the transaction, which may wait for the
	// transaction and give up.
	peek := func(what string, read func(ctx context.Context) error) {
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		err := within0(t, hangAfter, what, func() error { return read(ctx) })
		if errors.Is(err, context.DeadlineExceeded) {
			t.Logf("%s waits for the open transaction", what)
		}
	}
	peek("Browse of a record written in the transaction", func(ctx context.Context) error {
		recs, err := st.Browse(ctx, thingModel, []webhook.ID{a})
		if err == nil && assert.Len(t, recs, 1) {
			assert.Equal(t, with(a, webhook.Record{"name": "a", "n": int64(1)}), recs[0], "the record as last committed")
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			assert.NoError(t, err)
		}
		return err
	})
	peek("Browse of a record created in the transaction", func(ctx context.Context) error {
		_, err := st.Browse(ctx, thingModel, []webhook.ID{b})
		if !errors.Is(err, context.DeadlineExceeded) {
			assert.ErrorIs(t, err, webhook.ErrNotFound, "the record does not exist until Commit")
		}
		return err
	})
	if sr, ok := st.(webhook.Searcher); ok {
		peek("Search for the transaction's writes", func(ctx context.Context) error {
			recs, err := sr.Search(ctx, thingModel, webhook.Filter{"tag": "pending"}, 0)
			if !errors.Is(err, context.DeadlineExceeded) {
				assert.NoError(t, err)
				assert.Empty(t, recs, "Search outside the transaction finds none of its writes")
			}
			return err
		})
	}
	require.NoError(t, tx.Commit(), "Commit")
	assert.Equal(t, []webhook.Record{
		with(a, webhook.Record{"name": "a", "n": int64(2), "tag": "pending"}),
		with(b, webhook.Record{"name": "b", "tag": "pending"}),
	}, browse(t, st, thingModel, a, b), "after Commit")
}

func (s *suite) txRollbackAfterCommit(t *testing.T, st webhook.RecordStore) {
	tx := begin(t, st)
	id := create(t, tx, thingModel, webhook.Record{"name": "kept"})
	require.NoError(t, tx.Commit())
	assert.NoError(t, tx.Rollback(), "Rollback after Commit")
	assert.Equal(t, with(id, webhook.Record{"name": "kept"}), browseOne(t, st, thingModel, id))
}

func (s *suite) txNoLostUpdates(t *testing.T, st webhook.RecordStore) {
	const workers, attempts = 50, 100
	tr := st.(webhook.Transactor)
	id := create(t, st, counterModel, webhook.Record{"n": int64(0)})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	increment := func() error {
		tx, err := tr.Begin(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback() }()
		recs, err := tx.Browse(ctx, counterModel, []webhook.ID{id})
		if err != nil {
			return err
		}
		if len(recs) != 1 {
			return fmt.Errorf("Browse of one id returned %d records", len(recs))
		}
		n, ok := recs[0]["n"].(int64)
		if !ok {
			return fmt.Errorf("the counter is a %T, want int64", recs[0]["n"])
		}
		if err := tx.Write(ctx, counterModel, id, webhook.Record{"n": n + 1}); err != nil {
			return err
		}
		return tx.Commit()
	}
	var conflicts atomic.Int64
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range attempts {
				errs[w] = increment()
				if !errors.Is(errs[w], webhook.ErrConflict) {
					return
				}
				conflicts.Add(1)
			}
		})
	}
	wg.Wait()
	for w, err := range errs {
		require.NoError(t, err, "worker %d", w)
	}
	if c := conflicts.Load(); c > 0 {
		t.Logf("%d transactions failed with ErrConflict and were retried", c)
	}
	assert.Equal(t, int64(workers), browseOne(t, st, counterModel, id)["n"], "every increment counts once")
}

func (s *suite) txSearch(t *testing.T, st webhook.RecordStore) {
	if _, ok := st.(webhook.Searcher); !ok {
		t.Skip("the store is not a webhook.Searcher")
	}
	a := create(t, st, thingModel, webhook.Record{"id": s.given(1), "name": "a", "tag": "old"})
	create(t, st, thingModel, webhook.Record{"id": s.given(3), "name": "b", "tag": "old"})
	tx := begin(t, st)
	_, ok := tx.(webhook.Searcher)
	require.Truef(t, ok, "the store is a Searcher but its Tx, a %T, is not", tx)
	write(t, tx, thingModel, a, webhook.Record{"tag": "new"})
	create(t, tx, thingModel, webhook.Record{"id": s.given(2), "name": "c", "tag": "new"})

	assert.Equal(t, []string{"a", "c"}, names(search(t, tx, thingModel, webhook.Filter{"tag": "new"}, 0)))
	assert.Equal(t, []string{"b"}, names(search(t, tx, thingModel, webhook.Filter{"tag": "old"}, 0)), "a record written away from the filter")
	assert.Equal(t, []string{"a"}, names(search(t, tx, thingModel, webhook.Filter{"tag": "new"}, 1)))
	assert.Equal(t, []string{"a", "c", "b"}, names(search(t, tx, thingModel, nil, 0)))
}

func (s *suite) txCancelled(t *testing.T, st webhook.RecordStore) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	tx, err := st.(webhook.Transactor).Begin(ctx)
	require.NoError(t, err, "Begin")
	t.Cleanup(func() { _ = tx.Rollback() })
	id, err := tx.Create(ctx, thingModel, webhook.Record{"name": "doomed"})
	require.NoError(t, err, "Create")
	cancel()

	_, err = within(t, hangAfter, "Browse in a cancelled transaction", func() ([]webhook.Record, error) {
		return tx.Browse(ctx, thingModel, []webhook.ID{id})
	})
	assert.Error(t, err, "Browse in a cancelled transaction")
	_, err = within(t, hangAfter, "Create in a cancelled transaction", func() (webhook.ID, error) {
		return tx.Create(ctx, thingModel, webhook.Record{"name": "more"})
	})
	assert.Error(t, err, "Create in a cancelled transaction")
	err = within0(t, hangAfter, "Commit of a cancelled transaction", tx.Commit)
	assert.Error(t, err, "Commit of a cancelled transaction")
	_ = within0(t, hangAfter, "Rollback of a cancelled transaction", tx.Rollback)

	_, err = st.Browse(t.Context(), thingModel, []webhook.ID{id})
	assert.ErrorIs(t, err, webhook.ErrNotFound, "nothing of the cancelled transaction was committed")
	_, err = within(t, hangAfter, "a transaction after a cancelled one", func() (webhook.ID, error) {
		tx, err := st.(webhook.Transactor).Begin(t.Context())
		if err != nil {
			return nil, err
		}
		defer func() { _ = tx.Rollback() }()
		id, err := tx.Create(t.Context(), thingModel, webhook.Record{"name": "next"})
		if err != nil {
			return nil, err
		}
		return id, tx.Commit()
	})
	assert.NoError(t, err, "a transaction after a cancelled one")
}

func (s *suite) txWaitingWrite(t *testing.T, st webhook.RecordStore) {
	a := create(t, st, thingModel, webhook.Record{"n": int64(0)})
	tx := begin(t, st)
	write(t, tx, thingModel, a, webhook.Record{"n": int64(1)})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	err := within0(t, hangAfter, "Write outside an open transaction that wrote the same record", func() error {
		return st.Write(ctx, thingModel, a, webhook.Record{"n": int64(2)})
	})
	t.Logf("Write outside the open transaction returned %v", err)
	require.NoError(t, tx.Rollback())
}

// contexts

func (s *suite) cancelledContext(t *testing.T, st webhook.RecordStore) {
	id := create(t, st, thingModel, webhook.Record{"name": "a"})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	recs, err := within(t, hangAfter, "Browse", func() ([]webhook.Record, error) {
		return st.Browse(ctx, thingModel, []webhook.ID{id})
	})
	assert.Error(t, err, "Browse with a cancelled context")
	assert.Empty(t, recs)
	_, err = within(t, hangAfter, "Create", func() (webhook.ID, error) {
		return st.Create(ctx, thingModel, webhook.Record{"name": "b"})
	})
	assert.Error(t, err, "Create with a cancelled context")
	err = within0(t, hangAfter, "Write", func() error {
		return st.Write(ctx, thingModel, id, webhook.Record{"name": "changed"})
	})
	assert.Error(t, err, "Write with a cancelled context")
	assert.Equal(t, with(id, webhook.Record{"name": "a"}), browseOne(t, st, thingModel, id), "a Write that failed changes nothing")

	if sr, ok := st.(webhook.Searcher); ok {
		_, err = within(t, hangAfter, "Search", func() ([]webhook.Record, error) {
			return sr.Search(ctx, thingModel, nil, 0)
		})
		assert.Error(t, err, "Search with a cancelled context")
		assert.Equal(t, []webhook.Record{with(id, webhook.Record{"name": "a"})}, search(t, st, thingModel, nil, 0),
			"a Create that failed creates nothing")
	}
	if tr, ok := st.(webhook.Transactor); ok {
		tx, err := within(t, hangAfter, "Begin", func() (webhook.Tx, error) { return tr.Begin(ctx) })
		if err == nil {
			// Begin may succeed and leave the failure to the first
			// operation.
			t.Cleanup(func() { _ = tx.Rollback() })
			_, err = within(t, hangAfter, "Browse in a transaction begun with a cancelled context", func() ([]webhook.Record, error) {
				return tx.Browse(ctx, thingModel, []webhook.ID{id})
			})
			assert.Error(t, err, "Browse in a transaction begun with a cancelled context")
		}
	}
}

// committing is a RecordStore that runs every call in a transaction of its
// own and commits it, so that the record checks exercise Commit.
type committing struct{ tr webhook.Transactor }

func (c committing) run(ctx context.Context, f func(tx webhook.Tx) error) error {
	tx, err := c.tr.Begin(ctx)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (c committing) Browse(ctx context.Context, model string, ids []webhook.ID) (recs []webhook.Record, err error) {
	err = c.run(ctx, func(tx webhook.Tx) (err error) {
		recs, err = tx.Browse(ctx, model, ids)
		return err
	})
	if err != nil {
		return nil, err
	}
	return recs, nil
}

func (c committing) Create(ctx context.Context, model string, values webhook.Record) (id webhook.ID, err error) {
	err = c.run(ctx, func(tx webhook.Tx) (err error) {
		id, err = tx.Create(ctx, model, values)
		return err
	})
	if err != nil {
		return nil, err
	}
	return id, nil
}

func (c committing) Write(ctx context.Context, model string, id webhook.ID, values webhook.Record) error {
	return c.run(ctx, func(tx webhook.Tx) error { return tx.Write(ctx, model, id, values) })
}

type committingSearcher struct{ committing }

func (c committingSearcher) Search(ctx context.Context, model string, f webhook.Filter, limit int) (recs []webhook.Record, err error) {
	err = c.run(ctx, func(tx webhook.Tx) error {
		sr, ok := tx.(webhook.Searcher)
		if !ok {
			return fmt.Errorf("the store is a Searcher but its Tx, a %T, is not", tx)
		}
		recs, err = sr.Search(ctx, model, f, limit)
		return err
	})
	if err != nil {
		return nil, err
	}
	return recs, nil
}
