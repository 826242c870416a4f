package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/sqlstore"
)

// saleOrderDDL creates a sale_order table with a column of each kind the
// store converts.
var saleOrderDDL = map[sqlstore.Dialect][]string{
	sqlstore.SQLite: {`CREATE TABLE sale_order (
		id INTEGER PRIMARY KEY,
		name TEXT NOT NULL DEFAULT '',
		"partner name" TEXT,
		currency TEXT,
		amount REAL,
		qty INTEGER,
		confirmed BOOLEAN,
		meta JSON,
		created DATETIME,
		note
	)`},
	sqlstore.Postgres: {`CREATE TABLE sale_order (
		id BIGSERIAL PRIMARY KEY,
		name TEXT NOT NULL DEFAULT '',
		"partner name" TEXT,
		currency VARCHAR(3),
		amount NUMERIC(12,2),
		qty INTEGER,
		confirmed BOOLEAN,
		meta JSONB,
		created TIMESTAMPTZ,
		ratio DOUBLE PRECISION,
		tags TEXT[]
	)`},
}

// openSaleOrders creates sale_order and opens a store that maps the model
// sale.order to it, every column a field.
func openSaleOrders(t *testing.T, db *sql.DB, d sqlstore.Dialect) *sqlstore.Store {
	t.Helper()
	execSQL(t, db, saleOrderDDL[d]...)
	st, err := sqlstore.Open(context.Background(), db, sqlstore.Config{
		Dialect: d,
		Tables:  map[string]sqlstore.Table{"sale.order": {Name: "sale_order"}},
	})
	require.NoError(t, err)
	return st
}

func TestMappedColumnsRoundTrip(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		ctx := t.Context()
		st := openSaleOrders(t, db, d)
		values := webhook.Record{
			"name":         "S00007",
			"partner name": "Azure Interior",
			"currency":     "EUR",
			"amount":       12.5,
			"qty":          int64(3),
			"confirmed":    true,
			"meta":         map[string]any{"source": "web", "lines": []any{int64(1), 2.5, "x'; --"}},
			"created":      "2024-05-01 10:00:00",
		}
		want := webhook.Record{}
		for k, v := range values {
			want[k] = v
		}
		if d == sqlstore.SQLite {
			values["note"] = int64(5)
			want["note"] = int64(5) // a column without a type keeps what it is given
		} else {
			want["created"] = "2024-05-01T10:00:00+00:00" // read through to_json
			want["ratio"] = nil
			want["tags"] = []any{"a", "b"}
		}
		id, err := st.Create(ctx, "sale.order", values)
		require.NoError(t, err)
		if d == sqlstore.Postgres {
			// An array column is read as a list (and cannot be written).
			execSQL(t, db, `UPDATE sale_order SET tags = '{a,b}'`)
		}
		want["id"] = id
		recs, err := st.Browse(ctx, "sale.order", []webhook.ID{id})
		require.NoError(t, err)
		require.Len(t, recs, 1)
		assert.Equal(t, want, recs[0])

		require.NoError(t, st.Write(ctx, "sale.order", id, webhook.Record{"currency": "USD", "meta": nil, "qty": 4.0}))
		want["currency"], want["meta"], want["qty"] = "USD", nil, int64(4)
		recs, err = st.Browse(ctx, "sale.order", []webhook.ID{id})
		require.NoError(t, err)
		assert.Equal(t, want, recs[0], "after Write: an integral float is stored in an integer column")

		t.Run("a record created with only some fields reads its other columns as nil", func(t *testing.T) {
			id, err := st.Create(ctx, "sale.order", webhook.Record{"name": "S00008"})
			require.NoError(t, err)
			recs, err := st.Browse(ctx, "sale.order", []webhook.ID{id})
			require.NoError(t, err)
			assert.Equal(t, "S00008", recs[0]["name"])
			assert.Nil(t, recs[0]["currency"])
			assert.Contains(t, recs[0], "currency")
		})
	})
}

func TestMappedFieldsWithoutAColumnAreRefused(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		ctx := t.Context()
		st := openSaleOrders(t, db, d)
		id, err := st.Create(ctx, "sale.order", webhook.Record{"name": "S1", "currency": "EUR"})
		require.NoError(t, err)

		_, err = st.Create(ctx, "sale.order", webhook.Record{"name": "S2", "x'; DROP TABLE sale_order; --": 1})
		var fe *webhook.FieldError
		require.ErrorAs(t, err, &fe)
		assert.ErrorIs(t, err, webhook.ErrInvalidField)
		assert.Equal(t, "x'; DROP TABLE sale_order; --", fe.Field)

		err = st.Write(ctx, "sale.order", id, webhook.Record{"currency": "USD", "colour": "red"})
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, "colour", fe.Field)

		recs, err := st.Search(ctx, "sale.order", nil, 0)
		require.NoError(t, err)
		require.Len(t, recs, 1, "the failed Create created nothing")
		assert.Equal(t, "EUR", recs[0]["currency"], "the failed Write changed nothing")

		assert.Empty(t, mustSearch(t, st, "sale.order", webhook.Filter{"colour": "red"}), "no record has a field without a column")
		assert.Len(t, mustSearch(t, st, "sale.order", webhook.Filter{"colour": nil}), 1, "a field a record does not have equals nil")
	})
}

func mustSearch(t *testing.T, s webhook.Searcher, model string, f webhook.Filter) []webhook.Record {
	t.Helper()
	recs, err := s.Search(t.Context(), model, f, 0)
	require.NoError(t, err)
	return recs
}

func TestMappedSearchComparesValuesAsTheRecordReadsThem(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		ctx := t.Context()
		st := openSaleOrders(t, db, d)
		for _, r := range []webhook.Record{
			{"name": "a", "currency": "EUR", "qty": int64(3), "amount": 12.5, "confirmed": true, "partner name": "Azure"},
			{"name": "b", "currency": "USD", "qty": int64(5), "amount": 3.0, "confirmed": false},
			{"name": "c", "currency": "EUR", "qty": int64(3), "amount": 7.25, "confirmed": false, "meta": map[string]any{"k": int64(1)}},
		} {
			_, err := st.Create(ctx, "sale.order", r)
			require.NoError(t, err)
		}
		names := func(f webhook.Filter) []string {
			var out []string
			for _, r := range mustSearch(t, st, "sale.order", f) {
				out = append(out, r["name"].(string))
			}
			return out
		}
		for _, c := range []struct {
			name   string
			filter webhook.Filter
			want   []string
		}{
			{"text equals text", webhook.Filter{"currency": "EUR"}, []string{"a", "c"}},
			{"an integer column equals an integral float", webhook.Filter{"qty": 3.0}, []string{"a", "c"}},
			{"a decimal equals a float", webhook.Filter{"amount": 12.5}, []string{"a"}},
			{"a decimal equals an integer", webhook.Filter{"amount": int64(3)}, []string{"b"}},
			{"a boolean equals a boolean", webhook.Filter{"confirmed": false}, []string{"b", "c"}},
			{"a boolean does not equal 0", webhook.Filter{"confirmed": int64(0)}, nil},
			{"an integer does not equal a string", webhook.Filter{"qty": "3"}, nil},
			{"a column name with a space", webhook.Filter{"partner name": "Azure"}, []string{"a"}},
			{"null equals a NULL column", webhook.Filter{"partner name": nil, "currency": "EUR"}, []string{"c"}},
			{"an object equals an object", webhook.Filter{"meta": map[string]any{"k": 1.0}}, []string{"c"}},
			{"the id", webhook.Filter{"id": int64(2)}, []string{"b"}},
			{"a string id equals no integer key", webhook.Filter{"id": "2"}, nil},
		} {
			t.Run(c.name, func(t *testing.T) { assert.Equal(t, c.want, names(c.filter)) })
		}
	})
}

func TestMappedIdentifiersAreQuoted(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		ctx := t.Context()
		execSQL(t, db, `CREATE TABLE "we""ird; table" ("k""ey" TEXT PRIMARY KEY, "co""l; --" TEXT, "Upper Case" INTEGER)`)
		st, err := sqlstore.Open(ctx, db, sqlstore.Config{Dialect: d, Tables: map[string]sqlstore.Table{
			"odd": {Name: `we"ird; table`, Key: `k"ey`, KeyType: sqlstore.Text, Columns: map[string]string{"col": `co"l; --`, "n": "Upper Case"}},
		}})
		require.NoError(t, err)
		id, err := st.Create(ctx, "odd", webhook.Record{"id": `'); DROP TABLE "we""ird; table"; --`, "col": `"quoted" 'value'`, "n": int64(1)})
		require.NoError(t, err)
		require.NoError(t, st.Write(ctx, "odd", id, webhook.Record{"n": int64(2)}))
		recs, err := st.Browse(ctx, "odd", []webhook.ID{id})
		require.NoError(t, err)
		assert.Equal(t, []webhook.Record{{"id": id, "col": `"quoted" 'value'`, "n": int64(2)}}, recs)
		assert.Len(t, mustSearch(t, st, "odd", webhook.Filter{"col": `"quoted" 'value'`}), 1)

		var n int
		require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM "we""ird; table" WHERE "co""l; --" = '"quoted" ''value'''`).Scan(&n))
		assert.Equal(t, 1, n, "the value is in the mapped column")
	})
}

func TestMappedExtraColumnHoldsFieldsWithoutAColumn(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		ctx := t.Context()
		extraType := "JSON"
		if d == sqlstore.Postgres {
			extraType = "JSONB"
		}
		execSQL(t, db, `CREATE TABLE partner (id INTEGER PRIMARY KEY, name TEXT, extra `+extraType+`)`)
		st, err := sqlstore.Open(ctx, db, sqlstore.Config{Dialect: d, Tables: map[string]sqlstore.Table{
			"res.partner": {Name: "partner", Extra: "extra"},
		}})
		require.NoError(t, err)
		if d == sqlstore.Postgres {
			// No serial here: ids must be given.
			_, err = st.Create(ctx, "res.partner", webhook.Record{"name": "x"})
			assert.ErrorIs(t, err, webhook.ErrInvalidField, "a key without a default needs a given id")
		}
		_, err = st.Create(ctx, "res.partner", webhook.Record{"id": int64(7), "name": "Ann", "email": "ann@example.com", "nul": "a\x00b"})
		require.NoError(t, err)
		require.NoError(t, st.Write(ctx, "res.partner", int64(7), webhook.Record{"phone": "+1", "email": nil}))
		recs, err := st.Browse(ctx, "res.partner", []webhook.ID{int64(7)})
		require.NoError(t, err)
		assert.Equal(t, webhook.Record{"id": int64(7), "name": "Ann", "email": nil, "phone": "+1", "nul": "a\x00b"}, recs[0])
		assert.Len(t, mustSearch(t, st, "res.partner", webhook.Filter{"phone": "+1", "name": "Ann"}), 1)
		assert.Empty(t, mustSearch(t, st, "res.partner", webhook.Filter{"phone": "+2"}))
	})
}

func TestPostgresMappedValuesAreCheckedBeforeTheDatabaseSeesThem(t *testing.T) {
	db := postgresDB(t, postgresDatabase(t))
	ctx := t.Context()
	st := openSaleOrders(t, db, sqlstore.Postgres)
	id, err := st.Create(ctx, "sale.order", webhook.Record{"name": "S1", "currency": "EUR", "qty": int64(1)})
	require.NoError(t, err)

	tx, err := st.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	for _, c := range []struct {
		name   string
		values webhook.Record
	}{
		{"a string in an integer column", webhook.Record{"qty": "three"}},
		{"a fraction in an integer column", webhook.Record{"qty": 1.5}},
		{"an integer out of the column's range", webhook.Record{"qty": int64(1) << 40}},
		{"a number in a text column", webhook.Record{"currency": int64(3)}},
		{"text longer than varchar(3)", webhook.Record{"currency": "EURO"}},
		{"a NUL byte in a text column", webhook.Record{"name": "a\x00b"}},
		{"a NUL byte in a jsonb column", webhook.Record{"meta": map[string]any{"k": "a\x00b"}}},
		{"a string in a boolean column", webhook.Record{"confirmed": "yes"}},
		{"a string in a numeric column", webhook.Record{"amount": "12.5"}},
		{"NaN", webhook.Record{"ratio": nanValue()}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := tx.Write(ctx, "sale.order", id, c.values)
			var fe *webhook.FieldError
			assert.ErrorAs(t, err, &fe)
		})
	}
	t.Run("a value the column's type refuses fails and leaves the transaction usable", func(t *testing.T) {
		err := tx.Write(ctx, "sale.order", id, webhook.Record{"created": "not a date"})
		assert.ErrorIs(t, err, webhook.ErrInvalidField)
		err = tx.Write(ctx, "sale.order", id, webhook.Record{"amount": 1e300})
		assert.ErrorIs(t, err, webhook.ErrInvalidField, "numeric(12,2) overflows")
	})
	require.NoError(t, tx.Write(ctx, "sale.order", id, webhook.Record{"currency": "USD", "created": "2024-05-01T10:00:00Z"}))
	require.NoError(t, tx.Commit())
	recs, err := st.Browse(ctx, "sale.order", []webhook.ID{id})
	require.NoError(t, err)
	assert.Equal(t, "USD", recs[0]["currency"])
	assert.Equal(t, int64(1), recs[0]["qty"])
}

func nanValue() float64 {
	var zero float64
	return zero / zero
}

func TestSQLiteStrictTableRefusesWrongTypes(t *testing.T) {
	db, _ := sqliteDB(t)
	ctx := t.Context()
	execSQL(t, db, `CREATE TABLE item (id INTEGER PRIMARY KEY, qty INTEGER) STRICT`)
	st, err := sqlstore.Open(ctx, db, sqlstore.Config{Tables: map[string]sqlstore.Table{"item": {Name: "item"}}})
	require.NoError(t, err)
	tx, err := st.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	_, err = tx.Create(ctx, "item", webhook.Record{"qty": "three"})
	assert.ErrorIs(t, err, webhook.ErrInvalidField)
	id, err := tx.Create(ctx, "item", webhook.Record{"qty": int64(3)})
	require.NoError(t, err, "the transaction goes on")
	require.NoError(t, tx.Commit())
	recs, err := st.Search(ctx, "item", nil, 0)
	require.NoError(t, err)
	assert.Equal(t, []webhook.Record{{"id": id, "qty": int64(3)}}, recs)
}

func TestOpenChecksMappedTables(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		execSQL(t, db,
			`CREATE TABLE good (id INTEGER PRIMARY KEY, name TEXT)`,
			`CREATE TABLE nokey (code TEXT, name TEXT)`,
			`CREATE TABLE idcol (code TEXT PRIMARY KEY, id TEXT)`,
		)
		for _, c := range []struct {
			name  string
			table sqlstore.Table
		}{
			{"a missing table", sqlstore.Table{Name: "missing"}},
			{"a table without a name", sqlstore.Table{}},
			{"a missing key column", sqlstore.Table{Name: "good", Key: "code"}},
			{"a key that is not unique", sqlstore.Table{Name: "nokey", Key: "code", KeyType: sqlstore.Text}},
			{"a missing mapped column", sqlstore.Table{Name: "good", Columns: map[string]string{"title": "title"}}},
			{"a field named id", sqlstore.Table{Name: "good", Columns: map[string]string{"id": "name"}}},
			{"a column named id that is not the key", sqlstore.Table{Name: "idcol", Key: "code", KeyType: sqlstore.Text}},
			{"a missing extra column", sqlstore.Table{Name: "good", Extra: "extra"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				_, err := sqlstore.Open(t.Context(), db, sqlstore.Config{Dialect: d, Tables: map[string]sqlstore.Table{"m": c.table}})
				require.Error(t, err)
				assert.Contains(t, err.Error(), `"m"`, "the error names the model")
			})
		}
		if d == sqlstore.Postgres {
			_, err := sqlstore.Open(t.Context(), db, sqlstore.Config{Dialect: d, Tables: map[string]sqlstore.Table{"m": {Name: "good", KeyType: sqlstore.Text}}})
			assert.Error(t, err, "a text key on an integer column")
		}
		_, err := sqlstore.Open(t.Context(), db, sqlstore.Config{Dialect: d, MappedOnly: true, Tables: map[string]sqlstore.Table{"m": {Name: "good"}}})
		require.NoError(t, err)
	})
}

func TestMappedOnlyRefusesOtherModels(t *testing.T) {
	db, _ := sqliteDB(t)
	execSQL(t, db, `CREATE TABLE good (id INTEGER PRIMARY KEY, name TEXT)`)
	st, err := sqlstore.Open(t.Context(), db, sqlstore.Config{MappedOnly: true, Tables: map[string]sqlstore.Table{"m": {Name: "good"}}})
	require.NoError(t, err)
	_, err = st.Create(t.Context(), "other", webhook.Record{"name": "x"})
	assert.ErrorIs(t, err, webhook.ErrUnknownModel)
	_, err = st.Browse(t.Context(), "other", []webhook.ID{int64(1)})
	assert.ErrorIs(t, err, webhook.ErrUnknownModel)
	assert.False(t, errors.Is(err, webhook.ErrNotFound))
}

func TestBrowseOfManyIds(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		ctx := t.Context()
		st := openSaleOrders(t, db, d)
		for _, model := range []string{"sale.order", "document"} {
			t.Run(model, func(t *testing.T) {
				const n = 1200 // more than one statement takes
				tx, err := st.Begin(ctx)
				require.NoError(t, err)
				ids := make([]webhook.ID, n)
				for i := range ids {
					ids[n-1-i], err = tx.Create(ctx, model, webhook.Record{"name": fmt.Sprint(i)})
					require.NoError(t, err)
				}
				require.NoError(t, tx.Commit())
				recs, err := st.Browse(ctx, model, append(ids, ids[0]))
				require.NoError(t, err)
				require.Len(t, recs, n+1)
				for i, r := range recs[:n] {
					assert.Equal(t, fmt.Sprint(n-1-i), r["name"])
				}
				assert.Equal(t, recs[0], recs[n])
				_, err = st.Browse(ctx, model, append(ids, int64(1)<<40))
				assert.ErrorIs(t, err, webhook.ErrNotFound)
			})
		}
	})
}
