package webhook_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookline/webhook"
	"github.com/hookline/webhook/webhooktest"
)

const orderBody = `{"model":"sale.order","id":"7"}`

func counterDef() webhook.Definition {
	def := currencyDef()
	def.Actions = []webhook.Action{{Type: "update", Compute: map[string]string{"n": "record.n + 1"}}}
	return def
}

func TestSignatures(t *testing.T) {
	secret := webhooktest.NewStandardWebhooksSecret()
	other := webhooktest.NewStandardWebhooksSecret()
	def := counterDef()
	def.Verify = &webhook.Verify{Scheme: "standard-webhooks", Secrets: []string{other, secret}}

	cases := []struct {
		name   string
		sign   func(*http.Request, []byte)
		body   string
		status int
		reason string
	}{
		{"a valid signature with the second secret runs the call", func(r *http.Request, b []byte) {
			webhooktest.SignStandardWebhooks(r, secret, "msg_1", time.Now(), b)
		}, orderBody, http.StatusOK, ""},
		{"a tampered body is refused", func(r *http.Request, b []byte) {
			webhooktest.SignStandardWebhooks(r, secret, "msg_1", time.Now(), []byte(`{"model":"sale.order","id":"8"}`))
		}, orderBody, http.StatusUnauthorized, "signature mismatch"},
		{"a wrong secret is refused", func(r *http.Request, b []byte) {
			webhooktest.SignStandardWebhooks(r, webhooktest.NewStandardWebhooksSecret(), "msg_1", time.Now(), b)
		}, orderBody, http.StatusUnauthorized, "signature mismatch"},
		{"an old timestamp is refused as a replay", func(r *http.Request, b []byte) {
			webhooktest.SignStandardWebhooks(r, secret, "msg_1", time.Now().Add(-10*time.Minute), b)
		}, orderBody, http.StatusUnauthorized, "timestamp outside tolerance"},
		{"a missing signature is refused", func(r *http.Request, b []byte) {}, orderBody, http.StatusUnauthorized, "missing signature header"},
		{"a malformed signature header is refused", func(r *http.Request, b []byte) {
			r.Header.Set("webhook-id", "msg_1")
			r.Header.Set("webhook-timestamp", "123abc")
			r.Header.Set("webhook-signature", "v1,%%%")
		}, orderBody, http.StatusUnauthorized, "malformed timestamp"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, def)
			req := httptest.NewRequest(http.MethodPost, f.path(def.Name), strings.NewReader(tc.body))
			tc.sign(req, []byte(tc.body))
			res := f.doReq(req)
			assert.Equal(t, tc.status, res.Status, res.Raw)
			call := f.lastCall()
			if tc.status == http.StatusOK {
				assert.Equal(t, int64(1), f.record("sale.order", int64(7))["n"])
				return
			}
			assert.Equal(t, tc.reason, res.Body["error"])
			assert.Equal(t, int64(0), f.record("sale.order", int64(7))["n"], "nothing may run")
			assert.Equal(t, tc.status, call.Status)
			j, _ := json.Marshal(call)
			assert.NotContains(t, string(j), secret)
			assert.NotContains(t, string(j), req.Header.Get("webhook-signature")+"x")
		})
	}

	t.Run("GitHub, Stripe and Shopify senders are verified", func(t *testing.T) {
		for scheme, sign := range map[string]func(*http.Request, string, []byte){
			"github":  webhooktest.SignGitHub,
			"shopify": webhooktest.SignShopify,
			"stripe": func(r *http.Request, s string, b []byte) {
				webhooktest.SignStripe(r, s, time.Now(), b)
			},
		} {
			def := counterDef()
			def.Verify = &webhook.Verify{Scheme: scheme, Secrets: []string{"It's a Secret to Everybody"}}
			f := newFixture(t, def)
			req := httptest.NewRequest(http.MethodPost, f.path(def.Name), strings.NewReader(orderBody))
			sign(req, "It's a Secret to Everybody", []byte(orderBody))
			assert.Equal(t, http.StatusOK, f.doReq(req).Status, scheme)
			req = httptest.NewRequest(http.MethodPost, f.path(def.Name), strings.NewReader(orderBody))
			sign(req, "wrong", []byte(orderBody))
			assert.Equal(t, http.StatusUnauthorized, f.doReq(req).Status, scheme)
		}
	})
	t.Run("a bad verify configuration is refused when the webhook is built", func(t *testing.T) {
		def := counterDef()
		def.Verify = &webhook.Verify{Scheme: "standard-webhooks", Secrets: []string{"whsec_!!!"}}
		_, err := newFixture(t).reg.Add(def)
		var ce *webhook.ConfigError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, "verify", ce.Field)
		assert.NotContains(t, err.Error(), "!!!")
	})
}

func TestDedupe(t *testing.T) {
	secret := webhooktest.NewStandardWebhooksSecret()
	def := counterDef()
	def.Verify = &webhook.Verify{Scheme: "standard-webhooks", Secrets: []string{secret}}
	def.Dedupe = &webhook.Dedupe{Window: webhook.Duration(time.Hour)}
	send := func(f *fixture, id, body string) response {
		req := httptest.NewRequest(http.MethodPost, f.path(def.Name), strings.NewReader(body))
		webhooktest.SignStandardWebhooks(req, secret, id, time.Now(), []byte(body))
		return f.doReq(req)
	}

	t.Run("a repeated delivery runs once and is marked as a duplicate", func(t *testing.T) {
		f := newFixture(t, def)
		first := send(f, "msg_a", orderBody)
		second := send(f, "msg_a", orderBody)
		other := send(f, "msg_b", orderBody)
		assert.Equal(t, http.StatusOK, first.Status)
		assert.Empty(t, first.Header.Get(webhook.DuplicateHeader))
		assert.Equal(t, http.StatusOK, second.Status)
		assert.Equal(t, "true", second.Header.Get(webhook.DuplicateHeader))
		assert.Equal(t, http.StatusOK, other.Status)
		assert.Equal(t, int64(2), f.record("sale.order", int64(7))["n"])
		calls, _ := f.log.Calls(context.Background(), webhook.CallQuery{})
		require.Len(t, calls, 3)
		assert.Equal(t, webhook.OutcomeDuplicate, calls[1].Outcome)
	})
	t.Run("a delivery that failed may be retried", func(t *testing.T) {
		f := newFixture(t, def)
		assert.Equal(t, http.StatusUnprocessableEntity, send(f, "msg_c", `{"model":"sale.order","id":"99"}`).Status)
		assert.Equal(t, http.StatusOK, send(f, "msg_c", orderBody).Status)
		assert.Equal(t, int64(1), f.record("sale.order", int64(7))["n"])
	})
	t.Run("concurrent copies of one delivery run exactly once", func(t *testing.T) {
		f := newFixture(t, def)
		var wg sync.WaitGroup
		statuses := make(chan int, 20)
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses <- send(f, "msg_d", orderBody).Status
			}()
		}
		wg.Wait()
		close(statuses)
		for s := range statuses {
			assert.Equal(t, http.StatusOK, s)
		}
		assert.Equal(t, int64(1), f.record("sale.order", int64(7))["n"])
	})
	t.Run("a custom key over the payload", func(t *testing.T) {
		d := counterDef()
		d.Dedupe = &webhook.Dedupe{Key: "payload.event_id"}
		f := newFixture(t, d)
		body := `{"model":"sale.order","id":"7","event_id":"evt_1"}`
		assert.Equal(t, http.StatusOK, f.post(d.Name, body).Status)
		assert.Equal(t, "true", f.post(d.Name, body).Header.Get(webhook.DuplicateHeader))
		assert.Equal(t, http.StatusUnprocessableEntity, f.post(d.Name, orderBody).Status, "a missing key does not fit")
		assert.Equal(t, int64(1), f.record("sale.order", int64(7))["n"])
	})
	t.Run("dedupe without a key or a scheme default is refused at build", func(t *testing.T) {
		d := counterDef()
		d.Dedupe = &webhook.Dedupe{}
		_, err := newFixture(t).reg.Add(d)
		var ce *webhook.ConfigError
		assert.ErrorAs(t, err, &ce)
	})
}

func TestAllowIPs(t *testing.T) {
	cases := []struct {
		name, remote, xff string
		allow, proxies    []string
		status            int
	}{
		{"an address inside an IPv4 CIDR may call", "192.0.2.10:4000", "", []string{"192.0.2.0/24"}, nil, http.StatusOK},
		{"an address outside it is refused", "198.51.100.1:4000", "", []string{"192.0.2.0/24"}, nil, http.StatusForbidden},
		{"a bare IPv4 address is a /32", "192.0.2.11:4000", "", []string{"192.0.2.10"}, nil, http.StatusForbidden},
		{"a bare IPv4 address allows itself", "192.0.2.10:4000", "", []string{"192.0.2.10"}, nil, http.StatusOK},
		{"an IPv6 CIDR may call", "[2001:db8::5]:4000", "", []string{"2001:db8::/32"}, nil, http.StatusOK},
		{"a bare IPv6 address is a /128", "[2001:db8::6]:4000", "", []string{"2001:db8::5"}, nil, http.StatusForbidden},
		{"an IPv4-mapped IPv6 address matches its IPv4 rule", "[::ffff:192.0.2.10]:4000", "", []string{"192.0.2.0/24"}, nil, http.StatusOK},
		{"X-Forwarded-For from an untrusted peer is ignored", "198.51.100.1:4000", "192.0.2.10", []string{"192.0.2.0/24"}, nil, http.StatusForbidden},
		{"behind a trusted proxy the right-most untrusted hop is the caller", "10.0.0.1:4000", "192.0.2.10, 10.0.0.2", []string{"192.0.2.0/24"}, []string{"10.0.0.0/8"}, http.StatusOK},
		{"a forged left-most hop does not help", "10.0.0.1:4000", "192.0.2.10, 198.51.100.1", []string{"192.0.2.0/24"}, []string{"10.0.0.0/8"}, http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			store := seedStore(t)
			log := webhook.NewMemoryCallLog(10)
			reg, err := webhook.NewRegistry(webhook.Config{Store: store, CallLog: log, TrustedProxies: tc.proxies})
			require.NoError(t, err)
			def := counterDef()
			def.AllowIPs = tc.allow
			w, err := reg.Add(def)
			require.NoError(t, err)
			req := httptest.NewRequest(http.MethodPost, w.URL(""), strings.NewReader(orderBody))
			req.RemoteAddr = tc.remote
			if tc.xff != "" {
				req.Header.Set("X-Forwarded-For", tc.xff)
			}
			rec := httptest.NewRecorder()
			reg.ServeHTTP(rec, req)
			assert.Equal(t, tc.status, rec.Code, rec.Body.String())
			calls, _ := log.Calls(context.Background(), webhook.CallQuery{})
			require.Len(t, calls, 1)
			assert.Equal(t, tc.status, calls[0].Status)
		})
	}
	t.Run("a bad CIDR is refused at build", func(t *testing.T) {
		def := counterDef()
		def.AllowIPs = []string{"192.0.2.0/33"}
		_, err := newFixture(t).reg.Add(def)
		var ce *webhook.ConfigError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, "allow_ips[0]", ce.Field)
	})
}

// blockingStore holds every Write until release is closed.
type blockingStore struct {
	*webhookStore
	entered chan struct{}
	release chan struct{}
}

type webhookStore = struct{ webhook.RecordStore }

func (s blockingStore) Write(ctx context.Context, model string, id webhook.ID, v webhook.Record) error {
	s.entered <- struct{}{}
	<-s.release
	return s.RecordStore.Write(ctx, model, id, v)
}

func TestLimits(t *testing.T) {
	t.Run("calls over the rate get 429 with Retry-After", func(t *testing.T) {
		def := counterDef()
		def.Limits = &webhook.Limits{Rate: webhook.Rate{Calls: 1, Per: time.Minute}, Burst: 2}
		f := newFixture(t, def)
		assert.Equal(t, http.StatusOK, f.post(def.Name, orderBody).Status)
		assert.Equal(t, http.StatusOK, f.post(def.Name, orderBody).Status)
		res := f.post(def.Name, orderBody)
		assert.Equal(t, http.StatusTooManyRequests, res.Status)
		assert.Equal(t, "60", res.Header.Get("Retry-After"))
		assert.Equal(t, int64(2), f.record("sale.order", int64(7))["n"])
	})
	t.Run("a call over max_in_flight gets 429", func(t *testing.T) {
		bs := blockingStore{webhookStore: &webhookStore{seedStore(t)}, entered: make(chan struct{}), release: make(chan struct{})}
		reg, err := webhook.NewRegistry(webhook.Config{Store: bs})
		require.NoError(t, err)
		def := counterDef()
		def.Limits = &webhook.Limits{MaxInFlight: 1}
		w, err := reg.Add(def)
		require.NoError(t, err)
		done := make(chan int)
		go func() {
			rec := httptest.NewRecorder()
			reg.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, w.URL(""), strings.NewReader(orderBody)))
			done <- rec.Code
		}()
		<-bs.entered
		rec := httptest.NewRecorder()
		reg.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, w.URL(""), strings.NewReader(orderBody)))
		assert.Equal(t, http.StatusTooManyRequests, rec.Code)
		close(bs.release)
		assert.Equal(t, http.StatusOK, <-done)
		rec = httptest.NewRecorder()
		go func() { <-bs.entered }()
		reg.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, w.URL(""), strings.NewReader(orderBody)))
		assert.Equal(t, http.StatusOK, rec.Code, "the slot is free again")
	})
	t.Run("a per-webhook body limit answers 413", func(t *testing.T) {
		def := counterDef()
		def.Limits = &webhook.Limits{MaxBody: 16}
		f := newFixture(t, def)
		assert.Equal(t, http.StatusRequestEntityTooLarge, f.post(def.Name, orderBody).Status)
	})
	t.Run("a per-webhook depth limit answers 400", func(t *testing.T) {
		def := counterDef()
		def.Limits = &webhook.Limits{MaxDepth: 2}
		f := newFixture(t, def)
		res := f.post(def.Name, `{"model":"sale.order","id":"7","x":{"y":{"z":1}}}`)
		assert.Equal(t, http.StatusBadRequest, res.Status)
	})
	t.Run("limits read from JSON", func(t *testing.T) {
		defs, err := webhook.LoadDefinitions(strings.NewReader(`{"webhooks":[{"name":"a","model":"m",
			"verify":   {"scheme": "standard-webhooks", "secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], "tolerance": "5m"},
			"dedupe":   {"key": "headers['webhook-id']", "window": "24h"},
			"allow_ips": ["192.0.2.0/24", "2001:db8::/32"],
			"limits":   {"max_body": "1MiB", "rate": "50/s", "burst": 100, "max_in_flight": 16}}]}`))
		require.NoError(t, err)
		l := defs[0].Limits
		assert.Equal(t, webhook.ByteSize(1<<20), l.MaxBody)
		assert.Equal(t, webhook.Rate{Calls: 50, Per: time.Second}, l.Rate)
		assert.Equal(t, 100, l.Burst)
		assert.Equal(t, webhook.Duration(5*time.Minute), defs[0].Verify.Tolerance)
		assert.Equal(t, webhook.Duration(24*time.Hour), defs[0].Dedupe.Window)
		out, err := json.Marshal(defs[0])
		require.NoError(t, err)
		assert.Contains(t, string(out), `"rate":"50/s"`)
	})
}

func TestRotationWithGrace(t *testing.T) {
	f := newFixture(t, counterDef())
	w, _ := f.reg.Get(counterDef().Name)
	old := w.URL("")
	newURL, err := f.reg.RotateSecretWithGrace(w.Name(), time.Second)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, f.do(http.MethodPost, old, "", strings.NewReader(orderBody)).Status, "the old URL works during the grace period")
	assert.Equal(t, http.StatusOK, f.do(http.MethodPost, newURL, "", strings.NewReader(orderBody)).Status)
	d := w.Definition()
	assert.NotEmpty(t, d.PreviousSecret, "the grace period is part of the saved definition")
	time.Sleep(1200 * time.Millisecond)
	assert.Equal(t, http.StatusNotFound, f.do(http.MethodPost, old, "", strings.NewReader(orderBody)).Status, "and ends")
	assert.Equal(t, http.StatusOK, f.do(http.MethodPost, newURL, "", strings.NewReader(orderBody)).Status)
}

func TestRedactFields(t *testing.T) {
	def := counterDef()
	def.RedactFields = []string{"card.number", "password"}
	f := newFixture(t, def)
	res := f.post(def.Name, `{"model":"sale.order","id":"7","password":"hunter2","card":{"number":"4111111111111111","brand":"visa"}}`)
	require.Equal(t, http.StatusOK, res.Status)
	p := f.lastCall().Payload
	assert.NotContains(t, p, "hunter2")
	assert.NotContains(t, p, "4111111111111111")
	assert.Contains(t, p, "visa")
	assert.Contains(t, p, "[redacted]")
}
