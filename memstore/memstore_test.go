package memstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/memstore"
	"github.com/hookline/webhook/webhooktest"
)

func TestConformance(t *testing.T) {
	webhooktest.TestStore(t, func(t *testing.T) webhook.RecordStore { return memstore.New() })
}

const partner = "res.partner"

func TestLoad(t *testing.T) {
	s := memstore.New()
	require.NoError(t, s.Load(map[string][]webhook.Record{
		partner: {
			{"id": "p-b", "name": "string id"},
			{"id": float64(5), "name": "float id"},
			{"name": "no id"},
			{"id": json.Number("2"), "name": "json.Number id", "n": json.Number("10"), "x": json.Number("1.5")},
		},
		"crm.lead": {{"name": "lead"}},
	}))
	assert.Equal(t, []string{"crm.lead", partner}, s.Models())
	assert.Equal(t, []webhook.Record{
		{"id": int64(2), "name": "json.Number id", "n": int64(10), "x": 1.5},
		{"id": int64(5), "name": "float id"},
		{"id": int64(6), "name": "no id"},
		{"id": "p-b", "name": "string id"},
	}, s.All(partner))
	assert.Equal(t, []webhook.Record{{"id": int64(1), "name": "lead"}}, s.All("crm.lead"))
}

func TestLoadIsAllOrNothing(t *testing.T) {
	s := memstore.New()
	require.NoError(t, s.Load(map[string][]webhook.Record{partner: {{"id": int64(1), "name": "first"}}}))
	for name, data := range map[string]map[string][]webhook.Record{
		"an id taken before": {
			"a.model": {{"name": "would be stored"}},
			partner:   {{"name": "new"}, {"id": int64(1), "name": "dup"}},
		},
		"an id repeated in the data": {
			partner: {{"id": "x"}, {"id": "x"}},
		},
		"an unsupported value": {
			partner: {{"name": "ok"}, {"when": time.Now()}},
		},
	} {
		t.Run(name, func(t *testing.T) {
			err := s.Load(data)
			require.Error(t, err)
			assert.ErrorIs(t, err, webhook.ErrInvalidField)
			assert.Equal(t, []string{partner}, s.Models())
			assert.Equal(t, []webhook.Record{{"id": int64(1), "name": "first"}}, s.All(partner))
		})
	}
}

func TestAllReturnsCopiesInIDOrder(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	for _, id := range []webhook.ID{"b", int64(10), "a", int64(-3), int64(2)} {
		_, err := s.Create(ctx, partner, webhook.Record{"id": id, "tags": []any{"t"}})
		require.NoError(t, err)
	}
	all := s.All(partner)
	var ids []webhook.ID
	for _, r := range all {
		ids = append(ids, r["id"])
	}
	assert.Equal(t, []webhook.ID{int64(-3), int64(2), int64(10), "a", "b"}, ids)
	all[0]["tags"].([]any)[0] = "changed"
	assert.Equal(t, []any{"t"}, s.All(partner)[0]["tags"])
	assert.Empty(t, s.All("no.such.model"))
}

func TestModelsListsOnlyCommittedModels(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	assert.Empty(t, s.Models())
	tx, err := s.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Create(ctx, "rolled.back", webhook.Record{})
	require.NoError(t, err)
	require.ErrorIs(t, tx.Write(ctx, "never.created", int64(1), webhook.Record{}), webhook.ErrNotFound)
	require.NoError(t, tx.Rollback())
	_, err = s.Create(ctx, partner, webhook.Record{"id": "taken"})
	require.NoError(t, err)
	_, err = s.Create(ctx, partner, webhook.Record{"id": "taken"})
	require.Error(t, err)
	assert.Equal(t, []string{partner}, s.Models())
}

// holdLock begins a transaction that holds the store's transaction lock
// until the test ends or the returned Tx is finished.
func holdLock(t *testing.T, s *memstore.Store) webhook.Tx {
	t.Helper()
	tx, err := s.Begin(context.Background())
	require.NoError(t, err)
	_, err = tx.Create(context.Background(), partner, webhook.Record{"name": "holder"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback() })
	return tx
}

func TestWaitingForTheLockHonoursTheContext(t *testing.T) {
	s := memstore.New()
	id, err := s.Create(context.Background(), partner, webhook.Record{"name": "a"})
	require.NoError(t, err)
	holdLock(t, s)

	timeout := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		t.Cleanup(cancel)
		return ctx
	}
	start := time.Now()
	ctx := timeout()
	tx, err := s.Begin(ctx)
	require.NoError(t, err, "Begin does not wait")
	_, err = tx.Browse(ctx, partner, []webhook.ID{id})
	assert.ErrorIs(t, err, context.DeadlineExceeded, "the first operation of a second Tx waits")
	assert.NoError(t, tx.Rollback())

	tx, err = s.Begin(context.Background())
	require.NoError(t, err)
	_, err = tx.Browse(timeout(), partner, []webhook.ID{id})
	assert.ErrorIs(t, err, context.DeadlineExceeded, "the operation's own context also bounds the wait")
	assert.NoError(t, tx.Rollback())

	_, err = s.Create(timeout(), partner, webhook.Record{"name": "b"})
	assert.ErrorIs(t, err, context.DeadlineExceeded, "Store.Create waits for the open Tx")
	assert.ErrorIs(t, s.Write(timeout(), partner, id, webhook.Record{"name": "b"}), context.DeadlineExceeded,
		"Store.Write waits for the open Tx")
	assert.Less(t, time.Since(start), 5*time.Second)

	recs, err := s.Browse(timeout(), partner, []webhook.ID{id})
	require.NoError(t, err, "readers do not wait for the open Tx")
	assert.Equal(t, "a", recs[0]["name"])
	found, err := s.Search(timeout(), partner, nil, 0)
	require.NoError(t, err, "readers do not wait for the open Tx")
	assert.Len(t, found, 1, "readers do not see the open Tx's create")
}

func TestFinishingATxReleasesTheLock(t *testing.T) {
	for name, finish := range map[string]func(webhook.Tx) error{
		"Commit":   webhook.Tx.Commit,
		"Rollback": webhook.Tx.Rollback,
	} {
		t.Run(name, func(t *testing.T) {
			s := memstore.New()
			tx := holdLock(t, s)
			require.NoError(t, finish(tx))
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := s.Create(ctx, partner, webhook.Record{"name": "after"})
			assert.NoError(t, err)
		})
	}
}

func TestCancellingATxReleasesTheLock(t *testing.T) {
	s := memstore.New()
	ctx, cancel := context.WithCancel(context.Background())
	tx, err := s.Begin(ctx)
	require.NoError(t, err)
	id, err := tx.Create(ctx, partner, webhook.Record{"name": "doomed"})
	require.NoError(t, err)
	cancel() // and never call Rollback

	wait, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	_, err = s.Create(wait, partner, webhook.Record{"name": "next"})
	require.NoError(t, err, "the cancelled Tx released the lock")

	_, err = tx.Browse(context.Background(), partner, []webhook.ID{id})
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, tx.Commit(), context.Canceled)
	assert.NoError(t, tx.Rollback())
	assert.Len(t, s.All(partner), 1)
}

func TestTxAfterCommitFails(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	id, err := s.Create(ctx, partner, webhook.Record{"name": "a"})
	require.NoError(t, err)
	tx, err := s.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, tx.Write(ctx, partner, id, webhook.Record{"name": "b"}))
	require.NoError(t, tx.Commit())

	_, err = tx.Browse(ctx, partner, []webhook.ID{id})
	assert.ErrorIs(t, err, memstore.ErrTxDone)
	_, err = tx.Create(ctx, partner, webhook.Record{})
	assert.ErrorIs(t, err, memstore.ErrTxDone)
	assert.ErrorIs(t, tx.Write(ctx, partner, id, webhook.Record{"name": "c"}), memstore.ErrTxDone)
	_, err = tx.(webhook.Searcher).Search(ctx, partner, nil, 0)
	assert.ErrorIs(t, err, memstore.ErrTxDone)
	assert.ErrorIs(t, tx.Commit(), memstore.ErrTxDone)
	assert.NoError(t, tx.Rollback())
	assert.Equal(t, []webhook.Record{{"id": id, "name": "b"}}, s.All(partner))

	// An unused Tx commits as a no-op and is done too.
	tx, err = s.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	_, err = tx.Create(ctx, partner, webhook.Record{})
	assert.ErrorIs(t, err, memstore.ErrTxDone)
}

func TestValuesAreNormalized(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	id, err := s.Create(ctx, partner, webhook.Record{
		"int": 7, "int32": int32(-7), "uint8": uint8(200), "uint64": uint64(1 << 40),
		"float32": float32(0.5), "num": json.Number("12"), "frac": json.Number("1e-3"),
		"rec":  webhook.Record{"nested": []any{1, webhook.Record{"deep": int16(3)}}},
		"nils": []any(nil),
	})
	require.NoError(t, err)
	assert.Equal(t, []webhook.Record{{
		"id": id, "int": int64(7), "int32": int64(-7), "uint8": int64(200), "uint64": int64(1 << 40),
		"float32": 0.5, "num": int64(12), "frac": 0.001,
		"rec":  map[string]any{"nested": []any{int64(1), map[string]any{"deep": int64(3)}}},
		"nils": []any(nil),
	}}, s.All(partner))
}

func TestUnsupportedValuesAreRefused(t *testing.T) {
	ctx := context.Background()
	for name, v := range map[string]any{
		"a struct":              struct{}{},
		"a time":                time.Now(),
		"a []string":            []string{"a"},
		"NaN":                   math.NaN(),
		"+Inf":                  math.Inf(1),
		"a uint64 above int64":  uint64(math.MaxUint64),
		"a nested channel":      []any{map[string]any{"c": make(chan int)}},
		"a non-numeric Number":  json.Number("x"),
		"a map with int keys":   map[int]any{1: "a"},
		"a pointer to a string": new(string),
	} {
		t.Run(name, func(t *testing.T) {
			s := memstore.New()
			_, err := s.Create(ctx, partner, webhook.Record{"ok": 1, "bad": v})
			var fe *webhook.FieldError
			require.ErrorAs(t, err, &fe)
			assert.ErrorIs(t, err, webhook.ErrInvalidField)
			assert.Equal(t, "bad", fe.Field)
			assert.Equal(t, partner, fe.Model)
			assert.Empty(t, s.Models(), "nothing was created")

			id, err := s.Create(ctx, partner, webhook.Record{"ok": 1})
			require.NoError(t, err)
			assert.ErrorIs(t, s.Write(ctx, partner, id, webhook.Record{"ok": 2, "bad": v}), webhook.ErrInvalidField)
			_, err = s.Search(ctx, partner, webhook.Filter{"bad": v}, 0)
			assert.ErrorIs(t, err, webhook.ErrInvalidField)
			assert.Equal(t, []webhook.Record{{"id": id, "ok": int64(1)}}, s.All(partner), "a refused Write changes nothing")
		})
	}
}

func TestIDs(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	create := func(values webhook.Record) (webhook.ID, error) { return s.Create(ctx, partner, values) }

	id, err := create(webhook.Record{"id": nil, "name": "null id"})
	require.NoError(t, err)
	assert.Equal(t, int64(1), id, "a null id is no id")
	id, err = create(webhook.Record{"id": 3.0})
	require.NoError(t, err)
	assert.Equal(t, int64(3), id, "an integral float id is an int64")
	id, err = create(webhook.Record{"id": -5})
	require.NoError(t, err)
	assert.Equal(t, int64(-5), id)
	id, err = create(webhook.Record{})
	require.NoError(t, err)
	assert.Equal(t, int64(4), id, "the next id follows the largest")

	for _, bad := range []any{1.5, "", true, []any{1}} {
		_, err = create(webhook.Record{"id": bad})
		assert.ErrorIs(t, err, webhook.ErrInvalidField, "id %#v", bad)
	}

	recs, err := s.Browse(ctx, partner, []webhook.ID{3, int32(4), 1.0})
	require.NoError(t, err, "Browse accepts any id NormalizeID does")
	assert.Len(t, recs, 3)
	_, err = s.Browse(ctx, partner, []webhook.ID{"3"})
	assert.ErrorIs(t, err, webhook.ErrNotFound, `"3" is not 3`)
	_, err = s.Browse(ctx, partner, []webhook.ID{2.5})
	var nf *webhook.NotFoundError
	require.ErrorAs(t, err, &nf)
	assert.Equal(t, &webhook.NotFoundError{Model: partner, ID: 2.5}, nf)

	assert.NoError(t, s.Write(ctx, partner, int64(3), webhook.Record{"id": 3, "name": "own id"}))
	assert.ErrorIs(t, s.Write(ctx, partner, int64(3), webhook.Record{"id": int64(4)}), webhook.ErrInvalidField)

	_, err = create(webhook.Record{"id": int64(math.MaxInt64)})
	require.NoError(t, err)
	_, err = create(webhook.Record{})
	assert.Error(t, err, "no integer id is left")
}

func TestSearchTreatsAMissingFieldAsNull(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	for _, rec := range []webhook.Record{{"name": "absent"}, {"name": "null", "x": nil}, {"name": "set", "x": 0}} {
		_, err := s.Create(ctx, partner, rec)
		require.NoError(t, err)
	}
	recs, err := s.Search(ctx, partner, webhook.Filter{"x": nil}, 0)
	require.NoError(t, err)
	require.Len(t, recs, 2)
	assert.Equal(t, "absent", recs[0]["name"])
	assert.Equal(t, "null", recs[1]["name"])
}

func TestSearchComparesNestedValues(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	_, err := s.Create(ctx, partner, webhook.Record{"tags": []any{int64(1), "a"}, "m": map[string]any{"k": 2.0}})
	require.NoError(t, err)
	for _, f := range []webhook.Filter{
		{"tags": []any{1.0, "a"}},
		{"m": map[string]any{"k": 2}},
	} {
		recs, err := s.Search(ctx, partner, f, 0)
		require.NoError(t, err)
		assert.Len(t, recs, 1, "filter %v", f)
	}
	for _, f := range []webhook.Filter{
		{"tags": []any{1.0}},
		{"tags": []any{"a", 1}},
		{"m": map[string]any{"k": 2, "j": nil}},
		{"m": map[string]any{}},
		{"tags": int64(1)},
		{"n": uint64(1 << 63)}, // does not fit; refused, not "no match"
	} {
		recs, err := s.Search(ctx, partner, f, 0)
		if _, refused := f["n"]; refused {
			assert.ErrorIs(t, err, webhook.ErrInvalidField)
			continue
		}
		require.NoError(t, err)
		assert.Empty(t, recs, "filter %v", f)
	}
}

func TestSearchComparesLargeNumbersExactly(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	_, err := s.Create(ctx, partner, webhook.Record{"n": int64(1<<53 + 1), "max": int64(math.MaxInt64)})
	require.NoError(t, err)
	for f, want := range map[string]int{
		"n=2^53":     0, // float64(2^53+1) would round to 2^53 and match
		"max=2^63":   0, // float64(MaxInt64) is 2^63, which no int64 equals
		"n=2^53+1 i": 1,
	} {
		var filter webhook.Filter
		switch f {
		case "n=2^53":
			filter = webhook.Filter{"n": float64(1 << 53)}
		case "max=2^63":
			filter = webhook.Filter{"max": float64(math.MaxInt64)}
		default:
			filter = webhook.Filter{"n": int64(1<<53 + 1)}
		}
		recs, err := s.Search(ctx, partner, filter, 0)
		require.NoError(t, err)
		assert.Len(t, recs, want, f)
	}
}

func TestTxSearchMergesCreatesInIDOrder(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	for _, id := range []webhook.ID{int64(2), int64(4), "b", "d"} {
		_, err := s.Create(ctx, partner, webhook.Record{"id": id})
		require.NoError(t, err)
	}
	tx, err := s.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback()
	for _, id := range []webhook.ID{"c", int64(3), "a", int64(1), nil} {
		_, err := tx.Create(ctx, partner, webhook.Record{"id": id})
		require.NoError(t, err)
	}
	recs, err := tx.(webhook.Searcher).Search(ctx, partner, nil, 0)
	require.NoError(t, err)
	var ids []webhook.ID
	for _, r := range recs {
		ids = append(ids, r["id"])
	}
	assert.Equal(t, []webhook.ID{int64(1), int64(2), int64(3), int64(4), int64(5), "a", "b", "c", "d"}, ids)
	recs, err = tx.(webhook.Searcher).Search(ctx, partner, nil, 6)
	require.NoError(t, err)
	assert.Len(t, recs, 6)
	assert.Equal(t, "a", recs[5]["id"])

	require.NoError(t, tx.Commit())
	ids = ids[:0]
	for _, r := range s.All(partner) {
		ids = append(ids, r["id"])
	}
	assert.Equal(t, []webhook.ID{int64(1), int64(2), int64(3), int64(4), int64(5), "a", "b", "c", "d"}, ids)
	id, err := s.Create(ctx, partner, webhook.Record{})
	require.NoError(t, err)
	assert.Equal(t, int64(6), id, "the next id follows the ids the Tx created")
}

func benchStore(b *testing.B, n int) (*memstore.Store, []webhook.ID) {
	b.Helper()
	ctx := context.Background()
	s := memstore.New()
	ids := make([]webhook.ID, n)
	for i := range ids {
		id, err := s.Create(ctx, partner, webhook.Record{
			"name": fmt.Sprintf("Partner %d", i), "email": fmt.Sprintf("p%d@example.com", i),
			"credit": int64(i), "rating": 4.5, "active": true, "city": "Brussels",
			"tags": []any{"vip", "b2b"}, "address": map[string]any{"street": "Rue 1", "zip": "1000"},
		})
		require.NoError(b, err)
		ids[i] = id
	}
	return s, ids
}

func BenchmarkBrowse(b *testing.B) {
	s, ids := benchStore(b, 1000)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.Browse(ctx, partner, ids[i%len(ids):i%len(ids)+1]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkBrowseParallel(b *testing.B) {
	s, ids := benchStore(b, 1000)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.Browse(ctx, partner, ids[i%len(ids):i%len(ids)+1]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func BenchmarkTxBrowseWrite(b *testing.B) {
	s, ids := benchStore(b, 1000)
	ctx, cancel := context.WithCancel(context.Background()) // like a request's context
	defer cancel()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		id := ids[i%len(ids) : i%len(ids)+1]
		tx, err := s.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		recs, err := tx.Browse(ctx, partner, id)
		if err != nil {
			b.Fatal(err)
		}
		if err := tx.Write(ctx, partner, id[0], webhook.Record{"credit": recs[0]["credit"].(int64) + 1}); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkCreate(b *testing.B) {
	s := memstore.New()
	ctx := context.Background()
	values := webhook.Record{"name": "Partner", "credit": int64(1), "active": true, "tags": []any{"vip"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Create(ctx, partner, values); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSearch(b *testing.B) {
	s, _ := benchStore(b, 1000)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		recs, err := s.Search(ctx, partner, webhook.Filter{"credit": 500.0}, 1)
		if err != nil || len(recs) != 1 {
			b.Fatal(recs, err)
		}
	}
}

// TestTxWritesManyRecords covers a Tx that writes more records than it
// keeps as patches, writes some twice and reads some back before the end:
// every write is seen inside the Tx, all of them after Commit, and none
// after Rollback.
func TestTxWritesManyRecords(t *testing.T) {
	ctx := context.Background()
	for _, commit := range []bool{true, false} {
		t.Run(map[bool]string{true: "committed", false: "rolled back"}[commit], func(t *testing.T) {
			s := memstore.New()
			var ids []webhook.ID
			for i := range 60 {
				id, err := s.Create(ctx, partner, webhook.Record{"name": "p", "n": int64(i), "keep": "k"})
				require.NoError(t, err)
				ids = append(ids, id)
			}
			tx, err := s.Begin(ctx)
			require.NoError(t, err)
			for i, id := range ids[:40] {
				require.NoError(t, tx.Write(ctx, partner, id, webhook.Record{"n": int64(100 + i)}))
				if i%3 == 0 {
					require.NoError(t, tx.Write(ctx, partner, id, webhook.Record{"n": int64(200 + i), "extra": true}))
				}
				if i == 10 {
					recs, err := tx.Browse(ctx, partner, ids[:11])
					require.NoError(t, err)
					assert.Equal(t, int64(200), recs[0]["n"], "a Tx reads its own writes")
					assert.Equal(t, int64(110), recs[10]["n"])
				}
			}
			found, err := tx.(webhook.Searcher).Search(ctx, partner, webhook.Filter{"extra": true}, 0)
			require.NoError(t, err)
			assert.Len(t, found, 14, "a Tx searches its own writes")
			// Records first written after the last read: the first 16 are
			// committed as patches.
			for i, id := range ids[40:] {
				require.NoError(t, tx.Write(ctx, partner, id, webhook.Record{"n": int64(340 + i)}))
			}
			if commit {
				require.NoError(t, tx.Commit())
			} else {
				require.NoError(t, tx.Rollback())
			}
			for i, rec := range s.All(partner) {
				want := int64(i)
				switch {
				case !commit:
				case i >= 40:
					want = int64(300 + i)
				case i%3 == 0:
					want = int64(200 + i)
				default:
					want = int64(100 + i)
				}
				assert.Equal(t, want, rec["n"], "record %d", i)
				assert.Equal(t, "k", rec["keep"], "fields not written stay")
				_, extra := rec["extra"]
				assert.Equal(t, commit && i < 40 && i%3 == 0, extra)
			}
		})
	}
}
