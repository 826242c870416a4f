package webhooktest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/memstore"
	"github.com/hookline/webhook/webhooktest"
)

// The suite is tested by running it on stores broken on purpose, each in a
// child process (a failing subtest cannot be caught in-process), and
// checking that the subtests that should notice do fail.

const mutantEnv = "WEBHOOKTEST_MUTANT"

type mutant struct {
	open func() webhook.RecordStore
	opts []webhooktest.Option
	// fails lists subtests of TestMutant, with spaces, that must fail.
	fails []string
}

var mutants = map[string]mutant{
	"correct": {
		open: func() webhook.RecordStore { return memstore.New() },
	},
	"turns int64 into float64": {
		open: func() webhook.RecordStore { return floatInts{memstore.New()} },
		fails: []string{
			"store/values/Create and Write preserve the largest int64",
			"store/values/Create and Write preserve nested objects and lists",
		},
	},
	"returns shared maps": {
		open: func() webhook.RecordStore { return &sharing{Store: memstore.New(), cache: map[any]webhook.Record{}} },
		fails: []string{
			"store/Changing a returned record does not change the store",
		},
	},
	"skips missing ids": {
		open: func() webhook.RecordStore { return skipping{memstore.New()} },
		fails: []string{
			"store/Browse fails with ErrNotFound and returns no records when an id is missing",
			"store/Browse of a model without records fails like a missing id",
		},
	},
	"browses in id order": {
		open: func() webhook.RecordStore { return sorting{memstore.New()} },
		fails: []string{
			"store/Browse returns records in the order of the ids asked for",
			"store/Browse returns a record again for a repeated id",
		},
	},
	"overwrites taken ids": {
		open: func() webhook.RecordStore { return overwriting{memstore.New()} },
		fails: []string{
			"store/Create fails on a taken id and keeps the first record",
		},
	},
	"replaces on write": {
		open: func() webhook.RecordStore { return replacing{memstore.New()} },
		fails: []string{
			"store/Write changes only the given fields",
		},
	},
	"ignores limit and compares types strictly": {
		open: func() webhook.RecordStore { return strictSearch{memstore.New()} },
		fails: []string{
			"store/search/Search returns at most limit records",
			"store/search/Search compares integers and floats by numeric value",
		},
	},
	"has no real transactions": {
		open: func() webhook.RecordStore { return fakeTx{memstore.New()} },
		fails: []string{
			"transactions/Rollback discards a transaction's creates and writes",
			"transactions/Other readers do not see a transaction's writes before Commit",
			"transactions/Concurrent read-modify-write transactions lose no update",
		},
	},
	"ignores contexts": {
		open: func() webhook.RecordStore { return deaf{memstore.New()} },
		fails: []string{
			"contexts/Operations with a cancelled context fail and change nothing",
			"transactions/A transaction fails once its context is cancelled",
			"transactions/A write waiting for an open transaction gives up when its context ends",
		},
	},
	"assigns string ids without StringIDs": {
		open: func() webhook.RecordStore { return stringIDs{memstore.New()} },
		fails: []string{
			"store/Create assigns distinct ids that Browse returns in the id field",
		},
	},
	"assigns string ids with StringIDs": {
		open: func() webhook.RecordStore { return stringIDs{memstore.New()} },
		opts: []webhooktest.Option{webhooktest.StringIDs()},
	},
}

// TestMutant runs the suite on the store named by $WEBHOOKTEST_MUTANT.
func TestMutant(t *testing.T) {
	m, ok := mutants[os.Getenv(mutantEnv)]
	if !ok {
		t.Skip("run by TestSuiteCatchesBrokenStores")
	}
	webhooktest.TestStore(t, func(t *testing.T) webhook.RecordStore { return m.open() }, m.opts...)
}

func TestSuiteCatchesBrokenStores(t *testing.T) {
	if os.Getenv(mutantEnv) != "" {
		t.Skip("in a child process")
	}
	if testing.Short() {
		t.Skip("runs the suite a dozen times")
	}
	for name, m := range mutants {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestMutant$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), mutantEnv+"="+name)
			out, err := cmd.CombinedOutput()
			if len(m.fails) == 0 {
				if err != nil {
					t.Fatalf("the suite fails a store that should pass: %v\n%s", err, failures(out))
				}
				return
			}
			if err == nil {
				t.Fatalf("the suite passes a store that %s", name)
			}
			if crashed(out) {
				// A broken store may crash the suite before the subtest
				// meant to catch it reports: a store that shares its maps
				// meets the suite's concurrency checks with a fatal
				// "concurrent map writes", or the race detector. The
				// store was still caught.
				return
			}
			for _, f := range m.fails {
				line := "--- FAIL: TestMutant/" + strings.ReplaceAll(f, " ", "_") + " "
				if !strings.Contains(string(out), line) {
					t.Errorf("the subtest %q did not fail on a store that %s; failures:\n%s", f, name, failures(out))
				}
			}
		})
	}
}

// crashed reports whether go test output shows the test binary dying
// rather than a test failing.
func crashed(out []byte) bool {
	o := string(out)
	return strings.Contains(o, "fatal error: ") || strings.Contains(o, "WARNING: DATA RACE") || strings.Contains(o, "\npanic: ")
}

// failures returns the FAIL lines of go test -v output.
func failures(out []byte) string {
	var b strings.Builder
	for line := range strings.Lines(string(out)) {
		if strings.Contains(line, "--- FAIL") || strings.Contains(line, "panic") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// The broken stores. Each embeds a correct memstore.Store and breaks one
// thing; methods it does not override (Search, Begin, ...) stay correct.

type floatInts struct{ *memstore.Store }

func (s floatInts) Browse(ctx context.Context, model string, ids []webhook.ID) ([]webhook.Record, error) {
	recs, err := s.Store.Browse(ctx, model, ids)
	for _, r := range recs {
		for k, v := range r {
			r[k] = floatify(v)
		}
	}
	return recs, err
}

func floatify(v any) any {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case []any:
		for i := range x {
			x[i] = floatify(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = floatify(x[k])
		}
	}
	return v
}

type sharing struct {
	*memstore.Store
	cache map[any]webhook.Record // not safe for concurrent use: a broken store
}

func (s *sharing) Browse(ctx context.Context, model string, ids []webhook.ID) ([]webhook.Record, error) {
	recs, err := s.Store.Browse(ctx, model, ids)
	for i, r := range recs {
		k := [2]any{model, r["id"]}
		if c, ok := s.cache[k]; ok {
			recs[i] = c
		} else {
			s.cache[k] = r
		}
	}
	return recs, err
}

func (s *sharing) Write(ctx context.Context, model string, id webhook.ID, values webhook.Record) error {
	delete(s.cache, [2]any{model, id})
	return s.Store.Write(ctx, model, id, values)
}

type skipping struct{ *memstore.Store }

func (s skipping) Browse(ctx context.Context, model string, ids []webhook.ID) ([]webhook.Record, error) {
	var out []webhook.Record
	for _, id := range ids {
		if recs, err := s.Store.Browse(ctx, model, []webhook.ID{id}); err == nil {
			out = append(out, recs...)
		}
	}
	return out, nil
}

type sorting struct{ *memstore.Store }

func (s sorting) Browse(ctx context.Context, model string, ids []webhook.ID) ([]webhook.Record, error) {
	ids = slices.Clone(ids)
	slices.SortFunc(ids, func(a, b webhook.ID) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	return s.Store.Browse(ctx, model, slices.Compact(ids))
}

type overwriting struct{ *memstore.Store }

func (s overwriting) Create(ctx context.Context, model string, values webhook.Record) (webhook.ID, error) {
	if id, ok := values["id"]; ok {
		if _, err := s.Store.Browse(ctx, model, []webhook.ID{id}); err == nil {
			rest := copyRecord(values)
			delete(rest, "id")
			return id, s.Store.Write(ctx, model, id, rest)
		}
	}
	return s.Store.Create(ctx, model, values)
}

func copyRecord(r webhook.Record) webhook.Record {
	out := webhook.Record{}
	for k, v := range r {
		out[k] = v
	}
	return out
}

type replacing struct{ *memstore.Store }

func (s replacing) Write(ctx context.Context, model string, id webhook.ID, values webhook.Record) error {
	recs, err := s.Store.Browse(ctx, model, []webhook.ID{id})
	if err != nil {
		return err
	}
	all := copyRecord(values)
	for k := range recs[0] {
		if _, ok := all[k]; !ok && k != "id" {
			all[k] = nil
		}
	}
	return s.Store.Write(ctx, model, id, all)
}

type strictSearch struct{ *memstore.Store }

func (s strictSearch) Search(ctx context.Context, model string, f webhook.Filter, limit int) ([]webhook.Record, error) {
	recs, err := s.Store.Search(ctx, model, f, 0)
	return slices.DeleteFunc(recs, func(r webhook.Record) bool {
		for k, v := range f {
			if !reflect.DeepEqual(r[k], v) {
				return true
			}
		}
		return false
	}), err
}

type fakeTx struct{ *memstore.Store }

func (s fakeTx) Begin(ctx context.Context) (webhook.Tx, error) { return noTx(s), nil }

// noTx runs every operation straight on the store, slowly.
type noTx struct{ *memstore.Store }

func (t noTx) Browse(ctx context.Context, model string, ids []webhook.ID) ([]webhook.Record, error) {
	recs, err := t.Store.Browse(ctx, model, ids)
	time.Sleep(100 * time.Microsecond) // so that concurrent read-modify-writes overlap
	return recs, err
}
func (noTx) Commit() error   { return nil }
func (noTx) Rollback() error { return nil }

type deaf struct{ s *memstore.Store }

func (d deaf) Browse(_ context.Context, model string, ids []webhook.ID) ([]webhook.Record, error) {
	return d.s.Browse(context.Background(), model, ids)
}
func (d deaf) Create(_ context.Context, model string, values webhook.Record) (webhook.ID, error) {
	return d.s.Create(context.Background(), model, values)
}
func (d deaf) Write(_ context.Context, model string, id webhook.ID, values webhook.Record) error {
	return d.s.Write(context.Background(), model, id, values)
}
func (d deaf) Search(_ context.Context, model string, f webhook.Filter, limit int) ([]webhook.Record, error) {
	return d.s.Search(context.Background(), model, f, limit)
}
func (d deaf) Begin(context.Context) (webhook.Tx, error) {
	tx, err := d.s.Begin(context.Background())
	return deafTx{tx}, err
}

type deafTx struct{ tx webhook.Tx }

func (d deafTx) Browse(_ context.Context, model string, ids []webhook.ID) ([]webhook.Record, error) {
	return d.tx.Browse(context.Background(), model, ids)
}
func (d deafTx) Create(_ context.Context, model string, values webhook.Record) (webhook.ID, error) {
	return d.tx.Create(context.Background(), model, values)
}
func (d deafTx) Write(_ context.Context, model string, id webhook.ID, values webhook.Record) error {
	return d.tx.Write(context.Background(), model, id, values)
}
func (d deafTx) Search(_ context.Context, model string, f webhook.Filter, limit int) ([]webhook.Record, error) {
	return d.tx.(webhook.Searcher).Search(context.Background(), model, f, limit)
}
func (d deafTx) Commit() error   { return d.tx.Commit() }
func (d deafTx) Rollback() error { return d.tx.Rollback() }

// stringIDs gives every record without an id a string one. It is neither
// a Searcher nor a Transactor.
type stringIDs struct{ s *memstore.Store }

func (s stringIDs) Create(ctx context.Context, model string, values webhook.Record) (webhook.ID, error) {
	if values["id"] == nil {
		values = copyRecord(values)
		values["id"] = fmt.Sprintf("k%d", time.Now().UnixNano())
	}
	return s.s.Create(ctx, model, values)
}

func (s stringIDs) Browse(ctx context.Context, model string, ids []webhook.ID) ([]webhook.Record, error) {
	return s.s.Browse(ctx, model, ids)
}

func (s stringIDs) Write(ctx context.Context, model string, id webhook.ID, values webhook.Record) error {
	return s.s.Write(ctx, model, id, values)
}
