package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/sqlstore"
	"github.com/hookline/webhook/sqlstore/sqlite"
)

func TestOpenKeepsRecordsInTheFileAtPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "odd name?#%.db")
	st, db, err := sqlite.Open(t.Context(), path, sqlstore.Config{})
	require.NoError(t, err)
	id, err := st.Create(t.Context(), "res.partner", webhook.Record{"name": "Ann"})
	require.NoError(t, err)
	require.NoError(t, db.Close())

	assert.FileExists(t, path)
	st, db, err = sqlite.Open(t.Context(), path, sqlstore.Config{})
	require.NoError(t, err)
	defer db.Close()
	recs, err := st.Browse(t.Context(), "res.partner", []webhook.ID{id})
	require.NoError(t, err)
	assert.Equal(t, "Ann", recs[0]["name"])

	var mode string
	require.NoError(t, db.QueryRow("PRAGMA journal_mode").Scan(&mode))
	assert.Equal(t, "wal", mode)
}

func TestOpenDBRefusesInMemoryDatabases(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file::memory:?cache=shared"} {
		_, err := sqlite.OpenDB(p)
		assert.Error(t, err, "%q", p)
	}
}
