// Package filestore is a worked example of a custom webhook.RecordStore: it
// keeps every record in one JSON file and rewrites that file atomically on
// every commit. Read it as a tutorial for an adapter of your own (a
// database, an ERP's API, a key-value store), and run the conformance suite
// webhooktest.TestStore against what you write, as filestore_test.go does.
//
// # What every store must guarantee
//
// webhook.RecordStore has three methods; the registry relies on each of
// them as follows.
//
// Browse(ctx, model, ids) returns one record per id, in the order asked,
// repeating a record for a repeated id. If any id is missing it returns an
// error matching webhook.ErrNotFound (a *webhook.NotFoundError says which)
// and no records: a webhook aimed at order 7 acts on order 7 or answers
// 422, never on part of its target. Every record carries its id under "id".
//
// Create(ctx, model, values) stores a new record and returns its id. An id
// given in values["id"] is used as is and fails if taken (never an
// overwrite); otherwise the store picks one, here the largest integer id of
// the model plus one, as an Odoo sequence would.
//
// Write(ctx, model, id, values) changes only the given fields: a field left
// out keeps its value, a field set to nil becomes null. A missing record is
// an error matching ErrNotFound.
//
// All three must be safe for concurrent use and fail once ctx is done. They
// copy: a store never keeps the caller's map, nor the lists and maps inside
// it, and a record it returns is the caller's to change. Values come back
// exactly as they went in: an int64 as an int64 with all 64 bits, a float64
// as a float64 even when it is 2.0, a string byte for byte. What a store
// cannot keep it refuses with a *webhook.FieldError when the call is made,
// not at some later commit.
//
// # Values in JSON
//
// JSON is where exactness is easy to lose: encoding/json decodes every
// number as a float64, which rounds integers above 2^53 and makes the int64
// 2 and the float64 2.0 the same value. This store decodes with UseNumber
// and keeps the two apart in the file: an integer is written without a
// fraction and a float always with one (2.0, 1e+300), so each reads back as
// the type it was. NaN, ±Inf and text that is not UTF-8 have no exact JSON
// form, so Create and Write refuse them. Every value goes in and comes out
// through the file's own encoding, which makes the copies and guarantees
// that a reload gives back what the store held.
//
// # Search
//
// webhook.Searcher is optional; without it target expressions cannot call
// search. Search returns the records whose fields equal the filter's values
// (int64 3 equals float64 3.0, as webhook.ValuesEqual compares them; a
// field a record lacks equals nil), ordered
// by id, integer ids numerically before string ids, at most limit of them.
// A model without records has none to return: that is not an error.
//
// # Transactions
//
// webhook.Transactor is optional too, but without it a webhook that fails
// half-way keeps the writes it made. A Tx sees its own writes, hides them
// from everyone else until Commit, and never loses an update: when two
// transactions read a record and then write it, the second must see the
// first's write or fail with webhook.ErrConflict.
//
// This store takes the simplest road there: one transaction at a time.
// Begin takes the store's lock, waiting no longer than its context allows,
// and the Tx holds it until Commit or Rollback. The Tx reads the committed
// records through an overlay that holds its own creates and writes; Commit
// merges the two into a new copy of the data, writes the file, and only
// then publishes the copy. Published data is never changed in place (copy
// on write), so Browse and Search outside a transaction read the last
// published copy and never wait. A database adapter would map Begin, Commit
// and Rollback to the database's own and return ErrConflict on a
// serialization failure.
//
// A Tx must stay usable after one of its operations failed without
// changing anything (a taken id, a missing record): a script may catch the
// error and go on. Every operation here checks everything before it touches
// the overlay. And like a database/sql transaction, every Tx must be ended:
// one never committed or rolled back holds the lock for good, so begin with
// defer tx.Rollback().
//
// # Durability
//
// Commit writes the whole file to a temporary file in the same directory,
// fsyncs it, renames it over the old one and fsyncs the directory. A rename
// within a directory is atomic, so after a crash or a failed write the file
// holds either the old records or the new ones, never a mix. When the write
// fails, Commit returns the error and the store keeps the records it had.
//
// # Limits
//
// Every commit rewrites the whole file and every assigned id scans its
// model: fine for the thousands of records of a demo or a small deployment,
// not for millions. A file belongs to one Store in one process; two sharing
// it would overwrite each other's commits.
package filestore

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/hookline/webhook"
)

// ErrTxDone is returned by the operations and Commit of a transaction that
// was already committed or rolled back.
var ErrTxDone = errors.New("filestore: transaction already committed or rolled back")

var (
	_ webhook.RecordStore = (*Store)(nil)
	_ webhook.Searcher    = (*Store)(nil)
	_ webhook.Transactor  = (*Store)(nil)
	_ webhook.Tx          = (*Tx)(nil)
	_ webhook.Searcher    = (*Tx)(nil)
)

// records maps model → id → record. Once published by a commit, a records
// value and every record in it are never changed again.
type records map[string]map[webhook.ID]webhook.Record

// Store is a record store kept in one JSON file. It is safe for concurrent
// use. Create one with Open.
type Store struct {
	path string
	// lock is the store's mutex, held by a Tx from Begin to its end. It is
	// a channel of one token rather than a sync.Mutex so that waiting for
	// it can stop when the context ends.
	lock chan struct{}
	data atomic.Pointer[records] // the last committed records
}

// Open returns a Store for the JSON file at path, loading its records. A
// missing file is created empty (readable by its owner only), so a path the
// process cannot write fails now rather than at the first commit.
func Open(path string) (*Store, error) {
	data, err := load(path)
	if errors.Is(err, fs.ErrNotExist) {
		data, err = records{}, save(path, records{})
	}
	if err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	s := &Store{path: path, lock: make(chan struct{}, 1)}
	s.data.Store(&data)
	return s, nil
}

// Path returns the file the store keeps its records in.
func (s *Store) Path() string { return s.path }

// Browse returns copies of the committed records of model with the given
// ids, in the order of ids. It never waits for a transaction.
func (s *Store) Browse(ctx context.Context, model string, ids []webhook.ID) ([]webhook.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return view{base: *s.data.Load()}.browse(model, ids)
}

// Search returns copies of up to limit committed records of model that
// match filter, ordered by id. It never waits for a transaction.
func (s *Store) Search(ctx context.Context, model string, filter webhook.Filter, limit int) ([]webhook.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return view{base: *s.data.Load()}.search(model, filter, limit)
}

// Create stores a new record in a transaction of its own, so it waits for
// an open transaction to end.
func (s *Store) Create(ctx context.Context, model string, values webhook.Record) (webhook.ID, error) {
	tx, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	id, err := tx.Create(ctx, model, values)
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return nil, err
	}
	return id, nil
}

// Write changes a record in a transaction of its own, so it waits for an
// open transaction to end.
func (s *Store) Write(ctx context.Context, model string, id webhook.ID, values webhook.Record) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := tx.Write(ctx, model, id, values); err != nil {
		return err
	}
	return tx.Commit()
}

// Begin starts a transaction once no other is open, or fails when ctx is
// done first. The Tx holds the store's lock until Commit or Rollback; once
// ctx is done, its operations and Commit fail.
func (s *Store) Begin(ctx context.Context) (webhook.Tx, error) { return s.begin(ctx) }

func (s *Store) begin(ctx context.Context) (*Tx, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case s.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &Tx{s: s, ctx: ctx, view: view{base: *s.data.Load(), over: records{}}}, nil
}

// Tx is a transaction of a Store: it reads the records committed before
// Begin plus its own writes, which nobody else sees until Commit. After
// Commit or Rollback its operations return ErrTxDone; after its context
// ended, an error wrapping the context's. Like every webhook.Tx, it is used
// by one goroutine at a time.
type Tx struct {
	s    *Store
	ctx  context.Context
	view       // base: committed at Begin; over: created or written since
	err  error // why the Tx ended; nil while it is open
}

// Browse is Store.Browse inside the transaction.
func (tx *Tx) Browse(ctx context.Context, model string, ids []webhook.ID) ([]webhook.Record, error) {
	if err := tx.usable(ctx); err != nil {
		return nil, err
	}
	return tx.browse(model, ids)
}

// Search is Store.Search inside the transaction.
func (tx *Tx) Search(ctx context.Context, model string, filter webhook.Filter, limit int) ([]webhook.Record, error) {
	if err := tx.usable(ctx); err != nil {
		return nil, err
	}
	return tx.search(model, filter, limit)
}

// Create adds a record to the transaction: values["id"] if given (an error
// if taken), otherwise the model's largest integer id plus one.
func (tx *Tx) Create(ctx context.Context, model string, values webhook.Record) (webhook.ID, error) {
	if err := tx.usable(ctx); err != nil {
		return nil, err
	}
	rec, err := cleanRecord(model, values)
	if err != nil {
		return nil, err
	}
	id, err := tx.newID(model, values["id"])
	if err != nil {
		return nil, err
	}
	rec["id"] = id
	tx.put(model, id, rec)
	return id, nil
}

// Write sets fields of a record in the transaction. values may hold "id"
// only if it is the record's own.
func (tx *Tx) Write(ctx context.Context, model string, id webhook.ID, values webhook.Record) error {
	if err := tx.usable(ctx); err != nil {
		return err
	}
	old, ok := tx.get(model, id)
	if !ok {
		return &webhook.NotFoundError{Model: model, ID: id}
	}
	if v, ok := values["id"]; ok {
		if same, err := webhook.NormalizeID(v); err != nil || same != id {
			return &webhook.FieldError{Model: model, Field: "id", Reason: "the id of a record cannot change"}
		}
	}
	vals, err := cleanRecord(model, values)
	if err != nil {
		return err
	}
	rec := maps.Clone(old) // never change a record the Tx may share with base
	maps.Copy(rec, vals)
	rec["id"] = id
	tx.put(model, id, rec)
	return nil
}

// Commit writes the file with the transaction's changes and publishes
// them. If the file cannot be written, it returns the error and nothing of
// the transaction remains.
func (tx *Tx) Commit() error {
	if err := tx.usable(tx.ctx); err != nil {
		return err
	}
	if len(tx.over) > 0 {
		next := maps.Clone(tx.base)
		for model, recs := range tx.over {
			m := make(map[webhook.ID]webhook.Record, len(tx.base[model])+len(recs))
			maps.Copy(m, tx.base[model])
			maps.Copy(m, recs)
			next[model] = m
		}
		if err := save(tx.s.path, next); err != nil {
			tx.end(fmt.Errorf("filestore: commit: %w", err))
			return tx.err
		}
		tx.s.data.Store(&next) // before end releases the lock: the next Tx reads it
	}
	tx.end(ErrTxDone)
	return nil
}

// Rollback discards the transaction's changes. It always returns nil.
func (tx *Tx) Rollback() error {
	tx.end(ErrTxDone)
	return nil
}

// usable returns why an operation under ctx cannot run.
func (tx *Tx) usable(ctx context.Context) error {
	if tx.err == nil && tx.ctx.Err() != nil {
		tx.end(fmt.Errorf("filestore: transaction rolled back: %w", tx.ctx.Err()))
	}
	if tx.err != nil {
		return tx.err
	}
	return ctx.Err()
}

// end closes the Tx for good, with err as the answer to later calls, and
// releases the store's lock.
func (tx *Tx) end(err error) {
	if tx.err == nil {
		tx.err, tx.view = err, view{}
		<-tx.s.lock
	}
}

// newID returns the id for a record to create, given the "id" in its
// values (nil when there is none).
func (tx *Tx) newID(model string, given any) (webhook.ID, error) {
	if given == nil {
		var last int64
		for _, m := range []map[webhook.ID]webhook.Record{tx.base[model], tx.over[model]} {
			for id := range m {
				if n, ok := id.(int64); ok {
					last = max(last, n)
				}
			}
		}
		if last == math.MaxInt64 {
			return nil, fmt.Errorf("filestore: %s has no integer id left", model)
		}
		return last + 1, nil
	}
	id, err := webhook.NormalizeID(given)
	if err == nil && id == "" {
		err = errors.New("id is empty")
	}
	if _, taken := tx.get(model, id); err == nil && taken {
		err = fmt.Errorf("id %v is already taken", id)
	}
	if err != nil {
		return nil, &webhook.FieldError{Model: model, Field: "id", Reason: err.Error()}
	}
	return id, nil
}

func (tx *Tx) put(model string, id webhook.ID, rec webhook.Record) {
	if tx.over[model] == nil {
		tx.over[model] = make(map[webhook.ID]webhook.Record)
	}
	tx.over[model][id] = rec
}

// view reads records as a transaction sees them: its overlay first, then
// the committed base. Outside a transaction, over is nil.
type view struct{ base, over records }

func (v view) get(model string, id webhook.ID) (webhook.Record, bool) {
	if rec, ok := v.over[model][id]; ok {
		return rec, true
	}
	rec, ok := v.base[model][id]
	return rec, ok
}

func (v view) browse(model string, ids []webhook.ID) ([]webhook.Record, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	out := make([]webhook.Record, len(ids))
	for i, id := range ids {
		rec, ok := v.get(model, id)
		if !ok {
			return nil, &webhook.NotFoundError{Model: model, ID: id}
		}
		out[i] = copyRecord(rec)
	}
	return out, nil
}

func (v view) search(model string, filter webhook.Filter, limit int) ([]webhook.Record, error) {
	want, err := cleanRecord(model, webhook.Record(filter))
	if err != nil {
		return nil, err
	}
	var out []webhook.Record
	match := func(rec webhook.Record) {
		for field, value := range want {
			// ValuesEqual is what every store means by a Filter.
			if !webhook.ValuesEqual(rec[field], value) {
				return
			}
		}
		out = append(out, rec)
	}
	for _, rec := range v.over[model] {
		match(rec)
	}
	for id, rec := range v.base[model] {
		if _, ok := v.over[model][id]; !ok {
			match(rec)
		}
	}
	slices.SortFunc(out, func(a, b webhook.Record) int { return compareIDs(a["id"], b["id"]) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	for i, rec := range out {
		out[i] = copyRecord(rec)
	}
	return out, nil
}

// compareIDs orders integer ids numerically, before string ids.
func compareIDs(a, b webhook.ID) int {
	x, aInt := a.(int64)
	y, bInt := b.(int64)
	switch {
	case aInt && bInt:
		return cmp.Compare(x, y)
	case aInt:
		return -1
	case bInt:
		return 1
	}
	return strings.Compare(a.(string), b.(string))
}

// cleanRecord returns a copy of values as the file would give it back, or
// a *webhook.FieldError for the first value JSON cannot hold.
func cleanRecord(model string, values webhook.Record) (webhook.Record, error) {
	out := make(webhook.Record, len(values)+1)
	for field, v := range values {
		c, err := roundTrip(v)
		if err != nil {
			return nil, &webhook.FieldError{Model: model, Field: field, Reason: err.Error()}
		}
		out[field] = c
	}
	return out, nil
}

// copyRecord deep-copies a stored record for a caller.
func copyRecord(rec webhook.Record) webhook.Record {
	c, _ := roundTrip(rec) // cannot fail: rec made the trip on its way in
	return c.(map[string]any)
}

// roundTrip returns v encoded and decoded as the file does it: a deep copy
// made of nil, bool, int64, float64, string, []any and map[string]any.
// Passing every value in and out through the file's own encoding means the
// store never holds, nor returns, what a reload would not give back.
func roundTrip(v any) (any, error) {
	b, err := json.Marshal(toJSON(v))
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return fromJSON(out)
}

// toJSON returns a copy of v in which every float64 is a json.Number with a
// fraction or an exponent, so that it reads back as a float64.
func toJSON(v any) any {
	switch x := v.(type) {
	case float64:
		format := byte('f')
		if a := math.Abs(x); a != 0 && (a < 1e-6 || a >= 1e21) {
			format = 'e'
		}
		s := strconv.FormatFloat(x, format, -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return json.Number(s) // NaN and ±Inf make json.Marshal fail, as they should
	case string:
		if !utf8.ValidString(x) {
			return notUTF8{}
		}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = toJSON(e)
		}
		return out
	case webhook.Record:
		return toJSON(map[string]any(x))
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if !utf8.ValidString(k) {
				return notUTF8{}
			}
			out[k] = toJSON(e)
		}
		return out
	}
	return v
}

// notUTF8 stands in for text that is not UTF-8, which encoding/json would
// silently change: it makes json.Marshal fail instead.
type notUTF8 struct{}

func (notUTF8) MarshalJSON() ([]byte, error) { return nil, errors.New("text is not valid UTF-8") }

// fromJSON turns, in place, every json.Number of a value decoded with
// UseNumber into an int64 if it has no fraction or exponent, else into a
// float64.
func fromJSON(v any) (any, error) {
	var err error
	switch x := v.(type) {
	case json.Number:
		if !strings.ContainsAny(string(x), ".eE") {
			if n, err := x.Int64(); err == nil {
				return n, nil
			}
		}
		return x.Float64()
	case []any:
		for i := range x {
			if x[i], err = fromJSON(x[i]); err != nil {
				return nil, err
			}
		}
	case map[string]any:
		for k := range x {
			if x[k], err = fromJSON(x[k]); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// load reads the records of the file at path: one JSON object mapping each
// model to its records, each with its "id".
func load(path string) (records, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.UseNumber()
	var doc map[string][]webhook.Record
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	data := make(records, len(doc))
	for model, list := range doc {
		m := make(map[webhook.ID]webhook.Record, len(list))
		for i, rec := range list {
			_, err := fromJSON(map[string]any(rec))
			id, idErr := webhook.NormalizeID(rec["id"])
			if err == nil && (idErr != nil || id == "" || m[id] != nil) {
				err = fmt.Errorf("missing, invalid or repeated id %v", rec["id"])
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %s record #%d: %w", path, model, i, err)
			}
			rec["id"] = id
			m[id] = rec
		}
		data[model] = m
	}
	return data, nil
}

// save replaces the file at path with data. Whatever happens, the file
// holds either its old content or the new one in full.
func save(path string, data records) (err error) {
	doc := make(map[string][]any, len(data))
	for model, m := range data {
		for _, id := range slices.SortedFunc(maps.Keys(m), compareIDs) {
			doc[model] = append(doc[model], toJSON(m[id]))
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}

	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(buf.Bytes()); err != nil {
		return err
	}
	if err = f.Sync(); err != nil { // the data is on disk before the name points at it
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	// Make the rename itself durable. The commit has happened either way:
	// the file holds the new records, so a failure here (or a system that
	// cannot sync a directory) is not reported.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
