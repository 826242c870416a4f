// Package memstore is the in-memory record store bundled with package
// webhook. It implements webhook.RecordStore, webhook.Searcher and
// webhook.Transactor, and its transactions are Searchers too. It backs
// tests, demos, the quickstart and small single-process deployments; all
// records are lost when the process exits.
//
// # Records
//
// A model springs into existence with its first record; there is no schema,
// so any field name and any JSON-shaped value is accepted. Values are
// normalized and deep-copied on the way in: nil, bool, string, int64,
// float64, []any and map[string]any are kept as they are; other Go integers,
// float32 and json.Number become int64 or float64; webhook.Record becomes
// map[string]any. Anything else (and NaN or ±Inf, which JSON cannot hold) is
// refused with a *webhook.FieldError. Records are deep-copied on the way
// out, so callers may change what they get back.
//
// Ids are int64 or string. Without a caller-given "id", a record gets the
// largest integer id of its model plus one, so ids start at 1 and follow any
// id a caller chose. Ids created by a rolled-back transaction may be handed
// out again. A taken id makes Create fail with a *webhook.FieldError for the
// field "id".
//
// # Concurrency
//
// A Store is safe for concurrent use. Reads outside a transaction (Browse,
// Search, All, Models) run in parallel under a read lock and see only
// committed data.
//
// Writers take turns, like SQLite's single writer: there is one transaction
// at a time. A Tx takes the store's transaction lock at its first
// operation, read or write, and holds it until Commit or Rollback;
// Store.Create, Store.Write and Store.Load take it for the length of the
// call. Waiting for the lock honours the context. A Tx buffers its writes
// and applies them all at once on Commit. Because transactions never
// overlap, they are serializable, updates are never lost and ErrConflict is
// never returned; the price is that a slow transaction holds up every other
// writer. Keep transactions short, and always end them: a Tx that is never
// committed or rolled back blocks all writers until its context is done
// (the store rolls it back then). A goroutine with an open Tx must write
// through that Tx: calling Store.Create, Store.Write, Store.Load or the
// operations of a second Tx would wait for the first Tx, that is for
// itself, until the context ends.
//
// # Search
//
// Search is a linear scan in id order: integer ids first, numerically, then
// string ids, by byte order. Filter values compare by JSON equality:
// integers and floats by exact numeric value (int64(3) equals 3.0), lists
// and maps element by element, and a field a record does not have equals
// nil.
package memstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"iter"
	"maps"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/internal/ctxlock"
)

// ErrTxDone is returned by the operations and Commit of a Tx that was
// already committed or rolled back.
var ErrTxDone = errors.New("memstore: transaction already committed or rolled back")

// Store is an in-memory record store. Create one with New; the zero value
// is not usable.
type Store struct {
	// sem is the transaction lock: holding its one token is the right to
	// change data. Every change to models (and to the tables in it) is
	// made while holding both sem and mu's write lock, so the holder of
	// sem may read models without taking mu.
	sem    *ctxlock.Mutex
	mu     sync.RWMutex
	models map[string]*table
	// deliveries maps the digest of a claimed webhook and key to when the
	// claim expires, in Unix nanoseconds; it changes under the same locks
	// as models. Neither holds a pointer, so a window of millions of
	// claims costs the garbage collector nothing to scan.
	deliveries map[digest]int64
	// expiry lists claims in the order they were made, so that expired
	// ones are forgotten from the front, a few at a time, at no cost
	// proportional to how many are remembered.
	expiry []claim
	seeds  [2]maphash.Seed
	// holder is the Tx holding sem, if a Tx holds it; see acquire.
	holder atomic.Pointer[Tx]
}

// claim is a claimed delivery and when it expires, in Unix nanoseconds.
type claim struct {
	key     digest
	expires int64
}

// digest identifies a claimed delivery by 128 bits of keyed hash of its
// webhook and key: the store keeps no strings for the claims it
// remembers. The seeds are random per store, so a sender cannot choose
// keys that collide; by chance, two of a billion claims collide with a
// probability below 10^-20.
type digest [2]uint64

var (
	_ webhook.RecordStore = (*Store)(nil)
	_ webhook.Searcher    = (*Store)(nil)
	_ webhook.Transactor  = (*Store)(nil)
	_ webhook.Tx          = (*Tx)(nil)
	_ webhook.Searcher    = (*Tx)(nil)

	_ webhook.DeliveryClaimer = (*Store)(nil)
	_ webhook.DeliveryClaimer = (*Tx)(nil)
)

// New returns an empty Store.
func New() *Store {
	return &Store{
		sem:        ctxlock.New(),
		models:     make(map[string]*table),
		deliveries: make(map[digest]int64),
		seeds:      [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
	}
}

// Browse returns copies of the records of model with the given ids, in the
// order of ids. If an id does not exist it returns a *webhook.NotFoundError
// and no records.
func (s *Store) Browse(ctx context.Context, model string, ids []webhook.ID) ([]webhook.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return browse(model, ids, s.models[model].get)
}

// Create stores a new record of model and returns its id: values["id"] if
// present and not nil (an error if that id is taken), otherwise the next
// integer id. It waits for any open transaction to end.
func (s *Store) Create(ctx context.Context, model string, values webhook.Record) (webhook.ID, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rec, k, given, err := newRecord(model, values)
	if err != nil {
		return nil, err
	}
	if err := s.acquire(ctx, nil); err != nil {
		return nil, err
	}
	defer s.release()
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.models[model]
	k, err = assignID(model, k, given, t.maxIntID(), t.has)
	if err != nil {
		return nil, err
	}
	if t == nil {
		t = new(table)
		s.models[model] = t
	}
	id := k.id()
	rec["id"] = id
	t.insert(k, rec)
	return id, nil
}

// Write sets the given fields of the record of model with id id. A missing
// record is a *webhook.NotFoundError. values may hold "id" only if it is
// the record's own id. It waits for any open transaction to end.
func (s *Store) Write(ctx context.Context, model string, id webhook.ID, values webhook.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var buf [8]fieldValue
	k, vals, err := writeValues(model, id, values, buf[:0])
	if err != nil {
		return err
	}
	if err := s.acquire(ctx, nil); err != nil {
		return err
	}
	defer s.release()
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.models[model].get(k)
	if !ok {
		return &webhook.NotFoundError{Model: model, ID: id}
	}
	// Readers only copy records under the read lock, and no Tx is open,
	// so the stored map can be changed in place.
	setFields(rec, vals)
	return nil
}

// Search returns copies of up to limit records of model whose fields equal
// those of filter, in id order. limit <= 0 means no limit. An unknown model
// yields no records and no error.
func (s *Store) Search(ctx context.Context, model string, filter webhook.Filter, limit int) ([]webhook.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	conds, err := conditions(model, filter)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	t := s.models[model]
	if t == nil {
		return nil, nil
	}
	out := scan(nil, slices.Values(t.ints.order), t.ints.rows, nil, conds, limit)
	return scan(out, slices.Values(t.strs.order), t.strs.rows, nil, conds, limit), nil
}

// All returns copies of every record of model, ordered by id (integer ids
// first). It is meant for read-only views and tests; it does not wait for
// open transactions and sees only committed data.
func (s *Store) All(model string) []webhook.Record {
	recs, _ := s.Search(context.Background(), model, nil, 0)
	return recs
}

// Models returns the names of the models that have at least one committed
// record, sorted.
func (s *Store) Models() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Sorted(maps.Keys(s.models))
}

// Load creates the given records, keyed by model, all at once: if any
// record is refused (an invalid value, a taken id) nothing is stored.
// Records keep the id they hold in "id" (a JSON number such as 7.0 is taken
// as int64 7); records without one get the next integer id, models being
// loaded in name order and records in slice order. Load suits seed files
// and test fixtures; it waits for any open transaction to end.
func (s *Store) Load(data map[string][]webhook.Record) error {
	ctx := context.Background()
	tx := &Tx{s: s, ctx: ctx}
	defer tx.Rollback()
	for _, model := range slices.Sorted(maps.Keys(data)) {
		for i, rec := range data[model] {
			if _, err := tx.Create(ctx, model, rec); err != nil {
				return fmt.Errorf("memstore: load %s record #%d: %w", model, i, err)
			}
		}
	}
	return tx.Commit()
}

// Begin starts a transaction bounded by ctx. It does not wait: the Tx takes
// the store's transaction lock at its first operation.
func (s *Store) Begin(ctx context.Context) (webhook.Tx, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &Tx{s: s, ctx: ctx}, nil
}

// acquire takes the transaction lock, giving up when a or b (which may be
// nil) is done.
//
// A Tx whose context has ended is rolled back, but nothing watches every
// Tx's context for that: registering a watch on each would cost every
// transaction, while a Tx left open only matters to someone who wants the
// lock. So whoever waits for the lock watches the context of the Tx
// holding it, and rolls that Tx back when it ends.
func (s *Store) acquire(a, b context.Context) error {
	if err := a.Err(); err != nil {
		return err
	}
	if b != nil {
		if err := b.Err(); err != nil {
			return err
		}
	}
	if s.sem.TryLock() {
		return nil
	}
	ctx := a
	if b != nil {
		both, cancel := context.WithCancel(a)
		defer cancel()
		stop := context.AfterFunc(b, cancel)
		defer stop()
		ctx = both
	}
	for {
		var holderDone <-chan struct{}
		h := s.holder.Load()
		if h != nil {
			holderDone = h.ctx.Done()
		}
		stopped, err := s.sem.LockUnless(ctx, holderDone)
		if err != nil {
			if b != nil {
				if berr := b.Err(); berr != nil && a.Err() == nil {
					return berr
				}
			}
			return err
		}
		if !stopped {
			return nil
		}
		if !h.abort() {
			// h had already finished, and the next holder has not
			// announced itself yet.
			runtime.Gosched()
		}
	}
}

func (s *Store) release() { s.sem.Unlock() }

// apply makes a committed transaction's writes visible. The caller holds
// the transaction lock.
func (s *Store) apply(over []*overlay, claims []claim, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remember(claims, now)
	for _, ov := range over {
		model := ov.model
		// Readers copy records under the read lock, which is held off
		// here, so patched records can be changed in place.
		for _, p := range ov.patches {
			rec, _ := ov.base.get(p.k)
			setFields(rec, p.fields)
		}
		if len(ov.ints.rows) == 0 && len(ov.strs.rows) == 0 {
			continue
		}
		t := s.models[model]
		if t == nil {
			t = new(table)
			s.models[model] = t
		}
		t.ints.merge(&ov.ints)
		t.strs.merge(&ov.strs)
		t.maxInt = max(t.maxInt, ov.maxInt)
	}
}

type txState uint8

const (
	txIdle   txState = iota // not yet holding the transaction lock
	txActive                // holding it
	txDone                  // committed, rolled back or aborted
)

// Tx is a memstore transaction. It sees its own writes, and nobody else
// sees them until Commit. A Tx holds the store's transaction lock from its
// first operation until Commit or Rollback, or until its context is done,
// which rolls it back: at its next operation, or as soon as another
// transaction or write waits for the lock. After Commit or Rollback its
// operations return ErrTxDone; after its context ended they return an
// error wrapping the context's error.
type Tx struct {
	s   *Store
	ctx context.Context

	mu    sync.Mutex // guards the fields below against the abort on ctx done
	state txState
	err   error // why the Tx is done
	// over holds the pending writes, one overlay per model written; a
	// transaction seldom writes more than a few models.
	over    []*overlay
	overBuf [1]*overlay
	first   overlay
	// claims are the deliveries claimed in the Tx, with their expiry.
	claims    []claim
	claimedAt time.Time
}

// Browse is Store.Browse inside the transaction.
func (tx *Tx) Browse(ctx context.Context, model string, ids []webhook.ID) ([]webhook.Record, error) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if err := tx.enter(ctx); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	if ov := tx.pending(model); ov != nil {
		ov.settle()
		return browse(model, ids, ov.get)
	}
	return browse(model, ids, tx.s.models[model].get)
}

// Create is Store.Create inside the transaction.
func (tx *Tx) Create(ctx context.Context, model string, values webhook.Record) (webhook.ID, error) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if err := tx.enter(ctx); err != nil {
		return nil, err
	}
	rec, k, given, err := newRecord(model, values)
	if err != nil {
		return nil, err
	}
	ov := tx.overlay(model)
	k, err = assignID(model, k, given, ov.maxInt, ov.has)
	if err != nil {
		return nil, err
	}
	id := k.id()
	rec["id"] = id
	ov.create(k, rec)
	return id, nil
}

// Write is Store.Write inside the transaction.
func (tx *Tx) Write(ctx context.Context, model string, id webhook.ID, values webhook.Record) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if err := tx.enter(ctx); err != nil {
		return err
	}
	var buf [8]fieldValue
	k, vals, err := writeValues(model, id, values, buf[:0])
	if err != nil {
		return err
	}
	ov := tx.pending(model)
	if ov == nil && !tx.s.models[model].has(k) {
		return &webhook.NotFoundError{Model: model, ID: id}
	}
	if ov == nil {
		ov = tx.overlay(model)
	}
	if !ov.has(k) {
		return &webhook.NotFoundError{Model: model, ID: id}
	}
	ov.write(k, vals)
	return nil
}

// Search is Store.Search inside the transaction: it sees the
// transaction's own creates and writes.
func (tx *Tx) Search(ctx context.Context, model string, filter webhook.Filter, limit int) ([]webhook.Record, error) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if err := tx.enter(ctx); err != nil {
		return nil, err
	}
	conds, err := conditions(model, filter)
	if err != nil {
		return nil, err
	}
	base := tx.s.models[model]
	ov := tx.pending(model)
	if ov == nil {
		if base == nil {
			return nil, nil
		}
		out := scan(nil, slices.Values(base.ints.order), base.ints.rows, nil, conds, limit)
		return scan(out, slices.Values(base.strs.order), base.strs.rows, nil, conds, limit), nil
	}
	var baseInts []int64
	var baseStrs []string
	var baseIntRows map[int64]webhook.Record
	var baseStrRows map[string]webhook.Record
	if base != nil {
		baseInts, baseStrs = base.ints.order, base.strs.order
		baseIntRows, baseStrRows = base.ints.rows, base.strs.rows
	}
	ov.settle()
	out := scan(nil, merged(baseInts, ov.ints.order), ov.ints.rows, baseIntRows, conds, limit)
	return scan(out, merged(baseStrs, ov.strs.order), ov.strs.rows, baseStrRows, conds, limit), nil
}

// Commit applies every write of the transaction at once and releases the
// transaction lock. It fails, rolling back, if the transaction's context is
// done.
func (tx *Tx) Commit() error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	switch tx.state {
	case txDone:
		return tx.err
	case txIdle:
		if err := tx.ctx.Err(); err != nil {
			tx.finish(abortError(err))
			return tx.err
		}
		tx.finish(ErrTxDone)
		return nil
	}
	if err := tx.ctx.Err(); err != nil {
		tx.finish(abortError(err))
		return tx.err
	}
	tx.s.apply(tx.over, tx.claims, tx.claimedAt)
	tx.finish(ErrTxDone)
	return nil
}

// Rollback discards every write of the transaction and releases the
// transaction lock. After Commit, Rollback or the end of the context it
// does nothing and returns nil.
func (tx *Tx) Rollback() error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.state != txDone {
		tx.finish(ErrTxDone)
	}
	return nil
}

// enter readies the Tx for an operation under ctx, taking the transaction
// lock on first use. The caller holds tx.mu.
func (tx *Tx) enter(ctx context.Context) error {
	switch tx.state {
	case txDone:
		return tx.err
	case txActive:
		if err := tx.ctx.Err(); err != nil {
			tx.finish(abortError(err))
			return tx.err
		}
		return ctx.Err()
	}
	op := ctx
	if op == tx.ctx {
		op = nil
	}
	if err := tx.s.acquire(tx.ctx, op); err != nil {
		if txErr := tx.ctx.Err(); txErr != nil {
			tx.finish(abortError(txErr))
			return tx.err
		}
		return err
	}
	tx.state = txActive
	tx.s.holder.Store(tx)
	return nil
}

// abort rolls the Tx back when its context is done, reporting whether it
// did.
func (tx *Tx) abort() bool {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.state != txActive || tx.ctx.Err() == nil {
		return false
	}
	tx.finish(abortError(tx.ctx.Err()))
	return true
}

// finish ends the Tx with err as the answer to later calls, releasing the
// transaction lock if it is held. The caller holds tx.mu.
func (tx *Tx) finish(err error) {
	if tx.state == txActive {
		tx.s.holder.CompareAndSwap(tx, nil)
		tx.s.release()
	}
	tx.state, tx.err, tx.over, tx.claims, tx.first = txDone, err, nil, nil, overlay{}
}

func abortError(ctxErr error) error {
	return fmt.Errorf("memstore: transaction rolled back: %w", ctxErr)
}

// overlay returns the Tx's pending writes to model, creating them.
func (tx *Tx) overlay(model string) *overlay {
	ov := tx.pending(model)
	if ov == nil {
		base := tx.s.models[model]
		if tx.over == nil {
			// The first model's overlay lives in the Tx.
			tx.over = tx.overBuf[:0]
			ov = &tx.first
		} else {
			ov = new(overlay)
		}
		*ov = overlay{model: model, base: base, maxInt: base.maxIntID()}
		tx.over = append(tx.over, ov)
	}
	return ov
}

// pending returns the Tx's pending writes to model, or nil.
func (tx *Tx) pending(model string) *overlay {
	for _, ov := range tx.over {
		if ov.model == model {
			return ov
		}
	}
	return nil
}

// key is an id split by type: an int64 or a string.
type key struct {
	n   int64
	s   string
	str bool
}

// keyOf returns the key of id; ok is false for an id no record can have.
func keyOf(id webhook.ID) (k key, ok bool) {
	switch v := id.(type) {
	case int64:
		return key{n: v}, true
	case string:
		return key{s: v, str: true}, true
	}
	id, err := webhook.NormalizeID(id)
	if err != nil {
		return key{}, false
	}
	return keyOf(id)
}

func (k key) id() webhook.ID {
	if k.str {
		return k.s
	}
	return k.n
}

// index holds the records of one model whose ids have type K.
type index[K int64 | string] struct {
	rows  map[K]webhook.Record
	order []K // ascending; in an overlay, only the created ids
}

func (x *index[K]) put(k K, rec webhook.Record) {
	if x.rows == nil {
		x.rows = make(map[K]webhook.Record)
	}
	x.rows[k] = rec
}

func (x *index[K]) insert(k K, rec webhook.Record) {
	x.put(k, rec)
	if n := len(x.order); n == 0 || x.order[n-1] < k {
		x.order = append(x.order, k)
		return
	}
	i, _ := slices.BinarySearch(x.order, k)
	x.order = slices.Insert(x.order, i, k)
}

// merge takes over the rows and created ids of an overlay's index.
func (x *index[K]) merge(o *index[K]) {
	if x.rows == nil {
		x.rows = o.rows
	} else {
		maps.Copy(x.rows, o.rows)
	}
	switch a, b := x.order, o.order; {
	case len(b) == 0:
	case len(a) == 0:
		x.order = b
	case a[len(a)-1] < b[0]:
		x.order = append(a, b...)
	default:
		x.order = slices.Collect(merged(a, b))
	}
}

// table holds the committed records of one model. Stored records include
// "id" and are never shared with callers; the lists and maps inside them
// are never changed once stored, so a record may be copied shallowly.
type table struct {
	keyed
	maxInt int64 // the largest integer id, or 0
}

// keyed holds records by key, integer and string ids apart.
type keyed struct {
	ints index[int64]
	strs index[string]
}

// row returns the record with key k, or nil.
func (r *keyed) row(k key) webhook.Record {
	if k.str {
		return r.strs.rows[k.s]
	}
	return r.ints.rows[k.n]
}

// put sets the record with key k, which the caller knows is in order.
func (r *keyed) put(k key, rec webhook.Record) {
	if k.str {
		r.strs.put(k.s, rec)
	} else {
		r.ints.put(k.n, rec)
	}
}

// insert adds the record with key k in id order.
func (r *keyed) insert(k key, rec webhook.Record) {
	if k.str {
		r.strs.insert(k.s, rec)
	} else {
		r.ints.insert(k.n, rec)
	}
}

func (t *table) get(k key) (webhook.Record, bool) {
	if t == nil {
		return nil, false
	}
	rec := t.row(k)
	return rec, rec != nil
}

func (t *table) has(k key) bool {
	_, ok := t.get(k)
	return ok
}

func (t *table) maxIntID() int64 {
	if t == nil {
		return 0
	}
	return t.maxInt
}

func (t *table) insert(k key, rec webhook.Record) {
	t.keyed.insert(k, rec)
	if !k.str {
		t.maxInt = max(t.maxInt, k.n)
	}
}

// overlay holds a transaction's pending writes to one model: full new
// versions of the records it created or wrote, owned by the transaction.
type overlay struct {
	model string
	base  *table // committed records; nil if the model had none
	keyed
	maxInt int64
	// patches are writes to committed records that the transaction has
	// not read back: the fields to set, applied in place at commit. A
	// write does not copy the record, which is what most transactions
	// (write, then commit) would otherwise pay for. Any read settles
	// them into full copies in ints and strs first.
	patches  []patch
	patchBuf [1]patch
}

// patch is the pending fields of one committed record.
type patch struct {
	k      key
	fields []fieldValue
	inline [2]fieldValue // fields, when there are few
}

// write sets fields of the existing record with key k.
func (o *overlay) write(k key, fields []fieldValue) {
	if rec := o.row(k); rec != nil {
		setFields(rec, fields)
		return
	}
	for i := range o.patches {
		if p := &o.patches[i]; p.k == k {
			p.fields = mergeFields(p.fields, fields)
			return
		}
	}
	if len(o.patches) >= 16 {
		// Many records written: copies are cheaper to look up.
		rec, _ := o.own(k)
		setFields(rec, fields)
		return
	}
	if o.patches == nil {
		o.patches = o.patchBuf[:0]
	}
	o.patches = append(o.patches, patch{k: k})
	// A patch's fields start in its inline array. When patches grows,
	// the fields of earlier patches stay in the old array, which they
	// alone use from then on.
	p := &o.patches[len(o.patches)-1]
	p.fields = append(p.inline[:0], fields...)
}

// setFields sets fields in rec.
func setFields(rec webhook.Record, fields []fieldValue) {
	for _, fv := range fields {
		rec[fv.name] = fv.value
	}
}

// mergeFields sets fields in dst, replacing the values of names it has.
func mergeFields(dst, fields []fieldValue) []fieldValue {
next:
	for _, fv := range fields {
		for i := range dst {
			if dst[i].name == fv.name {
				dst[i].value = fv.value
				continue next
			}
		}
		dst = append(dst, fv)
	}
	return dst
}

// settle turns the patches into full copies, for a read.
func (o *overlay) settle() {
	for _, p := range o.patches {
		rec, _ := o.own(p.k)
		setFields(rec, p.fields)
	}
	o.patches = o.patches[:0]
}

func (o *overlay) get(k key) (webhook.Record, bool) {
	if rec := o.row(k); rec != nil {
		return rec, true
	}
	return o.base.get(k)
}

func (o *overlay) has(k key) bool {
	_, ok := o.get(k)
	return ok
}

// own returns the overlay's version of the record with key k, copying the
// committed one into the overlay on first use.
func (o *overlay) own(k key) (webhook.Record, bool) {
	if rec := o.row(k); rec != nil {
		return rec, true
	}
	base, ok := o.base.get(k)
	if !ok {
		return nil, false
	}
	rec := make(webhook.Record, len(base)+2)
	maps.Copy(rec, base)
	o.put(k, rec)
	return rec, true
}

func (o *overlay) create(k key, rec webhook.Record) {
	o.insert(k, rec)
	if !k.str {
		o.maxInt = max(o.maxInt, k.n)
	}
}

// merged yields the elements of two ascending slices in ascending order.
func merged[K cmp.Ordered](a, b []K) iter.Seq[K] {
	return func(yield func(K) bool) {
		i, j := 0, 0
		for i < len(a) || j < len(b) {
			var k K
			if j == len(b) || (i < len(a) && a[i] < b[j]) {
				k, i = a[i], i+1
			} else {
				k, j = b[j], j+1
			}
			if !yield(k) {
				return
			}
		}
	}
}

// browse copies the records with the given ids out of get.
func browse(model string, ids []webhook.ID, get func(key) (webhook.Record, bool)) ([]webhook.Record, error) {
	out := make([]webhook.Record, len(ids))
	for i, id := range ids {
		k, ok := keyOf(id)
		var rec webhook.Record
		if ok {
			rec, ok = get(k)
		}
		if !ok {
			return nil, &webhook.NotFoundError{Model: model, ID: id}
		}
		out[i] = cloneRecord(rec)
	}
	return out, nil
}

// scan appends to out copies of the records, taken in the order of ids from
// rows or else from base, that satisfy conds, until out holds limit records.
func scan[K int64 | string](out []webhook.Record, ids iter.Seq[K], rows, base map[K]webhook.Record, conds []cond, limit int) []webhook.Record {
	if limit > 0 && len(out) >= limit {
		return out
	}
	for k := range ids {
		rec := rows[k]
		if rec == nil {
			rec = base[k]
		}
		if !matches(rec, conds) {
			continue
		}
		if out == nil {
			out = make([]webhook.Record, 0, 8)
		}
		out = append(out, cloneRecord(rec))
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out
}

// cond is one field of a normalized Filter.
type cond struct {
	field string
	value any
}

func conditions(model string, f webhook.Filter) ([]cond, error) {
	if len(f) == 0 {
		return nil, nil
	}
	conds := make([]cond, 0, len(f))
	for field, v := range f {
		nv, err := webhook.NormalizeValue(v)
		if err != nil {
			return nil, &webhook.FieldError{Model: model, Field: field, Reason: "filter: " + err.Error()}
		}
		conds = append(conds, cond{field, nv})
	}
	return conds, nil
}

func matches(rec webhook.Record, conds []cond) bool {
	for _, c := range conds {
		if !webhook.ValuesEqual(rec[c.field], c.value) {
			return false
		}
	}
	return true
}

// newRecord normalizes the values of a record to create, returning the key
// of a given id (given false if there is none).
func newRecord(model string, values webhook.Record) (rec webhook.Record, k key, given bool, err error) {
	rec = make(webhook.Record, len(values)+1)
	for field, v := range values {
		if field == "id" {
			if v == nil {
				continue
			}
			id, err := webhook.NormalizeID(v)
			if err != nil {
				return nil, key{}, false, &webhook.FieldError{Model: model, Field: "id", Reason: err.Error()}
			}
			if id == "" {
				return nil, key{}, false, &webhook.FieldError{Model: model, Field: "id", Reason: "id is empty"}
			}
			k, given = must(keyOf(id)), true
			continue
		}
		nv, err := webhook.NormalizeValue(v)
		if err != nil {
			return nil, key{}, false, &webhook.FieldError{Model: model, Field: field, Reason: err.Error()}
		}
		rec[field] = nv
	}
	return rec, k, given, nil
}

func must(k key, ok bool) key {
	if !ok {
		panic("memstore: a normalized id has no key")
	}
	return k
}

// assignID returns the key for a new record: k if given (an error if it is
// taken), otherwise the integer after maxInt.
func assignID(model string, k key, given bool, maxInt int64, taken func(key) bool) (key, error) {
	if given {
		if taken(k) {
			return key{}, &webhook.FieldError{Model: model, Field: "id", Reason: fmt.Sprintf("id %v is already taken", k.id())}
		}
		return k, nil
	}
	if maxInt == math.MaxInt64 {
		return key{}, fmt.Errorf("memstore: %s: no integer id left after %d", model, maxInt)
	}
	return key{n: maxInt + 1}, nil
}

// fieldValue is one normalized field of a Write.
type fieldValue struct {
	name  string
	value any
}

// writeValues checks the id of a Write and normalizes its values,
// appending them to out (most writes set a few fields: callers pass an
// array on their stack rather than build a map), so that a bad field is
// refused before any is written.
func writeValues(model string, id webhook.ID, values webhook.Record, out []fieldValue) (key, []fieldValue, error) {
	k, ok := keyOf(id)
	if !ok {
		return key{}, nil, &webhook.NotFoundError{Model: model, ID: id}
	}
	for field, v := range values {
		if field == "id" {
			if id, err := webhook.NormalizeID(v); err == nil && id == k.id() {
				continue
			}
			return key{}, nil, &webhook.FieldError{Model: model, Field: "id", Reason: "the id of a record cannot be changed"}
		}
		nv, err := webhook.NormalizeValue(v)
		if err != nil {
			return key{}, nil, &webhook.FieldError{Model: model, Field: field, Reason: err.Error()}
		}
		out = append(out, fieldValue{field, nv})
	}
	return k, out, nil
}

// cloneRecord deep-copies a stored record.
func cloneRecord(rec webhook.Record) webhook.Record {
	// maps.Clone copies the hash table as it is, which beats inserting
	// every field again; only lists and maps inside need copies.
	out := maps.Clone(rec)
	for k, v := range rec {
		switch v.(type) {
		case []any, map[string]any:
			out[k] = clone(v)
		}
	}
	return out
}

// clone deep-copies a normalized value.
func clone(v any) any {
	switch x := v.(type) {
	case []any:
		if x == nil {
			return v
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = clone(e)
		}
		return out
	case map[string]any:
		if x == nil {
			return v
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = clone(e)
		}
		return out
	}
	return v
}

// ClaimDelivery records that webhook ran the delivery key, until expires.
// It returns an error matching webhook.ErrDuplicate if an unexpired claim
// exists. The claim is made at once, under the transaction lock.
func (s *Store) ClaimDelivery(ctx context.Context, webhookName, key string, now, expires time.Time) error {
	if err := s.acquire(ctx, nil); err != nil {
		return err
	}
	defer s.release()
	k := s.digest(webhookName, key)
	if exp, ok := s.deliveries[k]; ok && now.UnixNano() < exp {
		return webhook.ErrDuplicate
	}
	s.mu.Lock()
	s.remember([]claim{{key: k, expires: expires.UnixNano()}}, now)
	s.mu.Unlock()
	return nil
}

// ClaimDelivery is Store.ClaimDelivery inside the transaction: the claim
// becomes visible at Commit and vanishes on Rollback. Transactions are
// serialized, so a second claim of a key waits for the first transaction
// to end and then sees its claim.
func (tx *Tx) ClaimDelivery(ctx context.Context, webhookName, key string, now, expires time.Time) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if err := tx.enter(ctx); err != nil {
		return err
	}
	k := tx.s.digest(webhookName, key)
	t := now.UnixNano()
	for _, c := range tx.claims {
		if c.key == k && t < c.expires {
			return webhook.ErrDuplicate
		}
	}
	if exp, ok := tx.s.deliveries[k]; ok && t < exp {
		return webhook.ErrDuplicate
	}
	tx.claims = append(tx.claims, claim{key: k, expires: expires.UnixNano()})
	tx.claimedAt = now
	return nil
}

// digest returns the digest of webhook name's delivery key.
func (s *Store) digest(name, key string) digest {
	var d digest
	for i, seed := range s.seeds {
		var h maphash.Hash
		h.SetSeed(seed)
		h.WriteString(name)
		h.WriteByte(0)
		h.WriteString(key)
		d[i] = h.Sum64()
	}
	return d
}

// remember adds claims to the store and forgets claims that have expired,
// oldest first. Windows differ between webhooks, so the front of the queue
// may outlive claims behind it; those are forgotten when it goes. The
// caller holds the transaction lock and mu.
func (s *Store) remember(claims []claim, now time.Time) {
	if len(claims) == 0 {
		return
	}
	for _, c := range claims {
		s.deliveries[c.key] = c.expires
		s.expiry = append(s.expiry, c)
	}
	t := now.UnixNano()
	n := 0
	for n < len(s.expiry) && t >= s.expiry[n].expires {
		c := s.expiry[n]
		if s.deliveries[c.key] == c.expires {
			delete(s.deliveries, c.key)
		}
		n++
	}
	if n > 0 {
		s.expiry = s.expiry[n:]
		if cap(s.expiry) > 1024 && len(s.expiry) < cap(s.expiry)/4 {
			s.expiry = append([]claim(nil), s.expiry...)
		}
	}
}
