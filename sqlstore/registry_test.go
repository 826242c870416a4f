package sqlstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	webhook "github.com/hookline/webhook"
	"github.com/hookline/webhook/sqlstore"
	"github.com/hookline/webhook/webhooktest"
)

// TestTwoInstancesRunEachDeliveryOnce runs two registries, each with its
// own pool, on one PostgreSQL database, as two instances behind a load
// balancer would. 200 signed deliveries, 10% of them sent twice, several at
// once to either instance: every delivery runs exactly once.
func TestTwoInstancesRunEachDeliveryOnce(t *testing.T) {
	url := postgresDatabase(t)
	ctx := context.Background()
	secret := webhooktest.NewStandardWebhooksSecret()
	def := webhook.Definition{
		Name: "count deliveries", Model: "delivery", Active: true, LogCalls: true,
		Secret:  "a-shared-secret-for-both-instances",
		Verify:  &webhook.Verify{Scheme: "standard-webhooks", Secrets: []string{secret}},
		Dedupe:  &webhook.Dedupe{Window: webhook.Duration(time.Hour)},
		Actions: []webhook.Action{{Type: "create", Compute: map[string]string{"msg": "headers['webhook-id']"}}},
	}
	var regs []*webhook.Registry
	for i := 0; i < 2; i++ {
		st, err := sqlstore.Open(ctx, postgresDB(t, url), sqlstore.Config{Dialect: sqlstore.Postgres})
		require.NoError(t, err)
		reg, err := webhook.NewRegistry(webhook.Config{Store: st, CallLog: st})
		require.NoError(t, err)
		_, err = reg.Add(def)
		require.NoError(t, err)
		regs = append(regs, reg)
	}

	type delivery struct{ id, body string }
	var sends []delivery
	for i := 0; i < 200; i++ {
		d := delivery{id: fmt.Sprintf("msg_%03d", i), body: fmt.Sprintf(`{"n": %d}`, i)}
		sends = append(sends, d)
		if i%10 == 0 {
			sends = append(sends, d)
		}
	}
	rand.Shuffle(len(sends), func(i, j int) { sends[i], sends[j] = sends[j], sends[i] })
	// Send some deliveries twice in a row, so that both copies are in
	// flight at once.
	var paired []delivery
	for i, d := range sends {
		paired = append(paired, d)
		if i%37 == 0 {
			paired = append(paired, d)
		}
	}
	sends = paired

	work := make(chan delivery)
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				reg := regs[rand.IntN(2)]
				req := httptest.NewRequest(http.MethodPost, "/web/hook/"+def.Secret, strings.NewReader(d.body))
				webhooktest.SignStandardWebhooks(req, secret, d.id, time.Now(), []byte(d.body))
				rec := httptest.NewRecorder()
				reg.ServeHTTP(rec, req)
				mu.Lock()
				statuses[rec.Code]++
				mu.Unlock()
			}
		}()
	}
	for _, d := range sends {
		work <- d
	}
	close(work)
	wg.Wait()

	assert.Equal(t, map[int]int{http.StatusOK: len(sends)}, statuses, "every send answers 200, duplicates included")
	st, err := sqlstore.Open(ctx, postgresDB(t, url), sqlstore.Config{Dialect: sqlstore.Postgres})
	require.NoError(t, err)
	recs, err := st.Search(ctx, "delivery", webhook.Filter{}, 0)
	require.NoError(t, err)
	seen := map[any]int{}
	for _, r := range recs {
		seen[r["msg"]]++
	}
	assert.Len(t, seen, 200, "every delivery ran")
	for id, n := range seen {
		assert.Equal(t, 1, n, "delivery %v ran %d times", id, n)
	}
	calls, err := st.Calls(ctx, webhook.CallQuery{Limit: 1000})
	require.NoError(t, err)
	dups := 0
	for _, c := range calls {
		if c.Outcome == webhook.OutcomeDuplicate {
			dups++
		}
	}
	assert.Equal(t, len(sends)-200, dups, "the extra sends were answered as duplicates")
}
