package sqlstore_test

import (
	"database/sql"
	"fmt"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/sqlstore"
)

func callIDs(calls []webhook.Call) []string {
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = c.ID
	}
	return out
}

func TestCallLog(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		ctx := t.Context()
		t0 := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)

		t.Run("Calls returns entries newest first, by webhook, up to the limit", func(t *testing.T) {
			st, err := sqlstore.Open(ctx, db, sqlstore.Config{Dialect: d, Prefix: uniquePrefix()})
			require.NoError(t, err)
			for i := range 7 {
				hook := "a"
				if i%3 == 2 {
					hook = "b"
				}
				require.NoError(t, st.Append(ctx, &webhook.Call{ID: fmt.Sprint("c", i), Webhook: hook, Time: t0.Add(time.Duration(i) * time.Second)}))
			}
			calls, err := st.Calls(ctx, webhook.CallQuery{Webhook: "a", Limit: 3})
			require.NoError(t, err)
			assert.Equal(t, []string{"c6", "c4", "c3"}, callIDs(calls))
			calls, err = st.Calls(ctx, webhook.CallQuery{Webhook: "b"})
			require.NoError(t, err)
			assert.Equal(t, []string{"c5", "c2"}, callIDs(calls))
			calls, err = st.Calls(ctx, webhook.CallQuery{})
			require.NoError(t, err)
			assert.Equal(t, []string{"c6", "c5", "c4", "c3", "c2", "c1", "c0"}, callIDs(calls))
			calls, err = st.Calls(ctx, webhook.CallQuery{Webhook: "none"})
			require.NoError(t, err)
			assert.Empty(t, calls)
		})

		t.Run("An entry round-trips whole", func(t *testing.T) {
			st, err := sqlstore.Open(ctx, db, sqlstore.Config{Dialect: d, Prefix: uniquePrefix()})
			require.NoError(t, err)
			c := webhook.Call{
				ID:         "call-1",
				Webhook:    "Update sale order currency",
				Time:       t0,
				Duration:   1500 * time.Microsecond,
				Method:     "POST",
				RemoteAddr: "127.0.0.1:5555",
				Headers:    http.Header{"Content-Type": {"application/json"}, "Authorization": {"[redacted]"}},
				Payload:    "{\"id\": \"7\"}\x00\xff\xfe not UTF-8",
				Status:     500,
				Outcome:    webhook.OutcomeFailed,
				Error:      "store: it's \"broken\"; --",
				Touched: []webhook.Touch{
					{Model: "sale.order", Op: "write", IDs: []webhook.ID{int64(7), int64(math.MaxInt64)}},
					{Model: "res.partner", Op: "create", IDs: []webhook.ID{"uuid-1"}},
				},
				Logs: []webhook.LogLine{{Time: t0.Add(time.Millisecond), Level: "info", Message: "héllo 🎉"}},
			}
			require.NoError(t, st.Append(ctx, &c))
			calls, err := st.Calls(ctx, webhook.CallQuery{Webhook: c.Webhook})
			require.NoError(t, err)
			require.Len(t, calls, 1)
			assert.Equal(t, c, calls[0])
		})

		t.Run("KeepCalls keeps the newest entries of each webhook", func(t *testing.T) {
			st, err := sqlstore.Open(ctx, db, sqlstore.Config{Dialect: d, Prefix: uniquePrefix(), KeepCalls: 3})
			require.NoError(t, err)
			for i := range 6 {
				require.NoError(t, st.Append(ctx, &webhook.Call{ID: fmt.Sprint("a", i), Webhook: "a", Time: t0}))
			}
			require.NoError(t, st.Append(ctx, &webhook.Call{ID: "b0", Webhook: "b", Time: t0}))
			calls, err := st.Calls(ctx, webhook.CallQuery{})
			require.NoError(t, err)
			assert.Equal(t, []string{"b0", "a5", "a4", "a3"}, callIDs(calls))
		})

		t.Run("MaxCallAge drops old entries", func(t *testing.T) {
			prefix := uniquePrefix()
			st, err := sqlstore.Open(ctx, db, sqlstore.Config{Dialect: d, Prefix: prefix, KeepCalls: -1, MaxCallAge: time.Hour})
			require.NoError(t, err)
			now := time.Now()
			require.NoError(t, st.Append(ctx, &webhook.Call{ID: "recent", Webhook: "a", Time: now.Add(-30 * time.Minute)}))
			require.NoError(t, st.Append(ctx, &webhook.Call{ID: "old", Webhook: "b", Time: now.Add(-2 * time.Hour)}))
			calls, err := st.Calls(ctx, webhook.CallQuery{})
			require.NoError(t, err)
			assert.Equal(t, []string{"old", "recent"}, callIDs(calls), "the purge runs at most once a minute")
			// Another store on the same tables purges on its first Append.
			st2, err := sqlstore.Open(ctx, db, sqlstore.Config{Dialect: d, Prefix: prefix, KeepCalls: -1, MaxCallAge: time.Hour})
			require.NoError(t, err)
			require.NoError(t, st2.Append(ctx, &webhook.Call{ID: "new", Webhook: "a", Time: now}))
			calls, err = st2.Calls(ctx, webhook.CallQuery{})
			require.NoError(t, err)
			assert.Equal(t, []string{"new", "recent"}, callIDs(calls))
		})
	})
}

func TestDefinitions(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		ctx := t.Context()
		st, err := sqlstore.Open(ctx, db, sqlstore.Config{Dialect: d})
		require.NoError(t, err)
		currency := webhook.Definition{
			Name: "Update sale order currency", Model: "sale.order", Active: true, LogCalls: true, Secret: "s3cret",
			Target:  "model.browse(int(payload.id))",
			Actions: []webhook.Action{{Type: webhook.ActionUpdate, Set: map[string]any{"currency": "USD"}}},
		}
		contact := webhook.Definition{Name: "Create a contact", Model: "res.partner", Active: false,
			Actions: []webhook.Action{{Type: webhook.ActionCode, Code: "create('res.partner', {name: payload.name})"}}}
		require.NoError(t, st.SaveDefinition(ctx, currency))
		require.NoError(t, st.SaveDefinition(ctx, contact))

		defs, err := st.Definitions(ctx)
		require.NoError(t, err)
		assert.Equal(t, []webhook.Definition{contact, currency}, defs, "ordered by name")

		currency.Secret = "rotated"
		require.NoError(t, st.SaveDefinition(ctx, currency))
		require.NoError(t, st.DeleteDefinition(ctx, contact.Name))
		require.NoError(t, st.DeleteDefinition(ctx, "never saved"))

		// A store opened later, as after a restart, sees the same.
		st2, err := sqlstore.Open(ctx, db, sqlstore.Config{Dialect: d})
		require.NoError(t, err)
		defs, err = st2.Definitions(ctx)
		require.NoError(t, err)
		assert.Equal(t, []webhook.Definition{currency}, defs)
	})
}
