package sqlstore_test

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/sqlstore"
)

// These tests take the database away in the middle of a call: the call
// fails, none of its writes land, and the same Store works again once the
// database is back.

// terminateBackends ends every server process connected to the database
// of url, as an administrator or a failover would.
func terminateBackends(t *testing.T, dbURL string) {
	t.Helper()
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	admin := postgresDB(t, postgresURL(t))
	var n int
	err = admin.QueryRowContext(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = $1 AND pid <> pg_backend_pid()`, strings.TrimPrefix(u.Path, "/")).Scan(&n)
	require.NoError(t, err)
	require.Positive(t, n, "terminated no backend")
}

// orderCheck creates a sale order on st and returns a function that
// reports its currency.
func orderCheck(t *testing.T, st *sqlstore.Store, model string) (webhook.ID, func() any) {
	t.Helper()
	id, err := st.Create(t.Context(), model, webhook.Record{"name": "S00007", "currency": "EUR"})
	require.NoError(t, err)
	return id, func() any {
		recs, err := st.Browse(t.Context(), model, []webhook.ID{id})
		require.NoError(t, err, "Browse after the database came back")
		return recs[0]["currency"]
	}
}

// setCurrency is the call of the brief's first example.
func setCurrency(ctx context.Context, st *sqlstore.Store, model string, id webhook.ID, cur string) error {
	tx, err := st.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.Browse(ctx, model, []webhook.ID{id}); err != nil {
		return err
	}
	if err := tx.Write(ctx, model, id, webhook.Record{"currency": cur}); err != nil {
		return err
	}
	return tx.Commit()
}

func TestPostgresBackendTerminatedMidTransaction(t *testing.T) {
	dbURL := postgresDatabase(t)
	db := postgresDB(t, dbURL)
	st := openSaleOrders(t, db, sqlstore.Postgres)
	for _, model := range []string{"sale.order", "document"} {
		t.Run(model, func(t *testing.T) {
			ctx := t.Context()
			id, currency := orderCheck(t, st, model)
			// Fill the pool with idle connections, which die too.
			warmPool(t, st)

			tx, err := st.Begin(ctx)
			require.NoError(t, err)
			_, err = tx.Browse(ctx, model, []webhook.ID{id})
			require.NoError(t, err)
			require.NoError(t, tx.Write(ctx, model, id, webhook.Record{"currency": "USD"}))

			terminateBackends(t, dbURL)

			err = tx.Write(ctx, model, id, webhook.Record{"name": "S00007-b"})
			if err == nil {
				err = tx.Commit()
			}
			assert.Error(t, err, "the transaction's connection is gone")
			assert.NoError(t, tx.Rollback(), "Rollback of a transaction whose connection is gone")

			assert.Equal(t, "EUR", currency(), "none of the transaction's writes landed")
			require.NoError(t, setCurrency(ctx, st, model, id, "USD"), "a new transaction on the same Store")
			assert.Equal(t, "USD", currency())

			terminateBackends(t, dbURL)
			require.NoError(t, st.Write(ctx, model, id, webhook.Record{"currency": "JPY"}), "a write right after the connections died")
			assert.Equal(t, "JPY", currency())
		})
	}
}

// warmPool opens a few connections at once and leaves them idle in the
// store's pool.
func warmPool(t *testing.T, st *sqlstore.Store) {
	t.Helper()
	var conns []*sql.Conn
	for range 2 {
		c, err := st.DB().Conn(t.Context())
		require.NoError(t, err)
		require.NoError(t, c.PingContext(t.Context()))
		conns = append(conns, c)
	}
	for _, c := range conns {
		require.NoError(t, c.Close())
	}
}

// testCluster returns a function that runs pg_ctl on the cluster that
// .ci/pg-start started, and the cluster's log file, or skips the test when
// there is no such cluster to control.
func testCluster(t *testing.T) (pgctl func(args ...string), logFile string) {
	t.Helper()
	u, err := url.Parse(postgresURL(t))
	require.NoError(t, err)
	state := os.Getenv("WEBHOOK_PG_STATE")
	if state == "" {
		state = "/tmp/webhook-pg-" + u.Port() + ".dir"
	}
	dir, err := os.ReadFile(state)
	if err != nil {
		t.Skipf("no cluster of .ci/pg-start to restart (%v)", err)
	}
	data := filepath.Join(strings.TrimSpace(string(dir)), "data")
	logFile = filepath.Join(strings.TrimSpace(string(dir)), "postgres.log")
	ctls, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(ctls) == 0 {
		t.Skip("no pg_ctl")
	}
	ctl := ctls[len(ctls)-1]
	return func(args ...string) {
		t.Helper()
		t.Logf("pg_ctl %s", strings.Join(args, " "))
		args = append([]string{"-D", data, "-w", "-t", "60"}, args...)
		cmd := exec.Command(ctl, args...)
		if os.Geteuid() == 0 {
			cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", ctl}, args...)...)
		}
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "pg_ctl %v: %s", args, out)
	}, logFile
}

func TestPostgresServerRestart(t *testing.T) {
	pgctl, logFile := testCluster(t)
	dbURL := postgresDatabase(t)
	db := postgresDB(t, dbURL)
	st := openSaleOrders(t, db, sqlstore.Postgres)
	ctx := t.Context()
	id, currency := orderCheck(t, st, "sale.order")
	warmPool(t, st)

	tx, err := st.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, tx.Write(ctx, "sale.order", id, webhook.Record{"currency": "USD"}))

	started := true
	start := func() {
		pgctl("-l", logFile, "start")
		started = true
	}
	t.Cleanup(func() {
		if !started {
			start()
		}
	})
	pgctl("-m", "fast", "stop")
	started = false

	assert.Error(t, tx.Commit(), "Commit while the server is down")
	_ = tx.Rollback()
	down, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = st.Browse(down, "sale.order", []webhook.ID{id})
	assert.Error(t, err, "Browse while the server is down")
	assert.NoError(t, down.Err(), "fails without waiting for the context")
	assert.Error(t, setCurrency(down, st, "sale.order", id, "GBP"), "a transaction while the server is down")

	start()
	assert.Equal(t, "EUR", currency(), "the write of the transaction cut short did not land")
	require.NoError(t, setCurrency(ctx, st, "sale.order", id, "USD"), "a new transaction on the same Store")
	assert.Equal(t, "USD", currency())
	var n int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM sale_order").Scan(&n))
	assert.Equal(t, 1, n)
}
