package sqlstore_test

import (
	"database/sql"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/sqlstore"
)

func TestOpen(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		ctx := t.Context()

		t.Run("Open asks the database for its dialect", func(t *testing.T) {
			st, err := sqlstore.Open(ctx, db, sqlstore.Config{})
			require.NoError(t, err)
			assert.Equal(t, d, st.Dialect())
		})

		t.Run("Open creates the tables once and records the schema version", func(t *testing.T) {
			for range 2 {
				_, err := sqlstore.Open(ctx, db, sqlstore.Config{Dialect: d})
				require.NoError(t, err)
			}
			var versions []int
			rows, err := db.QueryContext(ctx, "SELECT version FROM webhook_schema_version")
			require.NoError(t, err)
			for rows.Next() {
				var v int
				require.NoError(t, rows.Scan(&v))
				versions = append(versions, v)
			}
			require.NoError(t, rows.Err())
			assert.Equal(t, []int{sqlstore.SchemaVersion}, versions)
		})

		t.Run("Records outlive the store", func(t *testing.T) {
			st, err := sqlstore.Open(ctx, db, sqlstore.Config{Dialect: d})
			require.NoError(t, err)
			id, err := st.Create(ctx, "res.partner", webhook.Record{"name": "Ann"})
			require.NoError(t, err)
			st2, err := sqlstore.Open(ctx, db, sqlstore.Config{Dialect: d})
			require.NoError(t, err)
			recs, err := st2.Browse(ctx, "res.partner", []webhook.ID{id})
			require.NoError(t, err)
			assert.Equal(t, "Ann", recs[0]["name"])
		})

		t.Run("Stores with different prefixes do not share records", func(t *testing.T) {
			a, err := sqlstore.Open(ctx, db, sqlstore.Config{Dialect: d, Prefix: "tenant_a_"})
			require.NoError(t, err)
			b, err := sqlstore.Open(ctx, db, sqlstore.Config{Dialect: d, Prefix: `tenant "b"; `})
			require.NoError(t, err)
			id, err := a.Create(ctx, "m", webhook.Record{"n": int64(1)})
			require.NoError(t, err)
			_, err = b.Browse(ctx, "m", []webhook.ID{id})
			assert.ErrorIs(t, err, webhook.ErrNotFound)
		})

		t.Run("Open refuses tables of a newer release", func(t *testing.T) {
			_, err := sqlstore.Open(ctx, db, sqlstore.Config{Dialect: d, Prefix: "future_"})
			require.NoError(t, err)
			execSQL(t, db, "UPDATE future_schema_version SET version = 99")
			_, err = sqlstore.Open(ctx, db, sqlstore.Config{Dialect: d, Prefix: "future_"})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "99")
		})

		t.Run("Open refuses an unknown dialect", func(t *testing.T) {
			_, err := sqlstore.Open(ctx, db, sqlstore.Config{Dialect: "oracle"})
			assert.Error(t, err)
		})
	})
}
