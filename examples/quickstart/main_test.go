package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// start runs the quickstart on a free loopback port and returns the URL of
// each webhook by name and the base URL.
func start(t *testing.T, o options) (map[string]string, string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, o, pw)
		pw.Close()
	}()
	urls := map[string]string{}
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			break
		}
		name, url, ok := strings.Cut(line, "\t")
		require.True(t, ok, "want name<TAB>URL, got %q", line)
		urls[name] = url
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	var base string
	for _, u := range urls {
		base = u[:strings.Index(u, "/web/hook/")]
	}
	return urls, base, func() {
		cancel()
		require.NoError(t, <-done)
	}
}

func post(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

func get(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
	return resp.StatusCode
}

func TestQuickstartRunsBothSeedExamples(t *testing.T) {
	for _, store := range []string{"memory", "sqlite"} {
		t.Run("on the "+store+" store", func(t *testing.T) {
			o := options{addr: "127.0.0.1:0", store: store, db: filepath.Join(t.TempDir(), "q.db")}
			urls, base, stop := start(t, o)
			defer stop()
			require.Len(t, urls, 2)

			status, body := post(t, urls["Update sale order currency"], `{"model": "sale.order", "id": "7"}`)
			assert.Equal(t, http.StatusOK, status)
			assert.Equal(t, map[string]any{"status": "ok"}, body)
			var order map[string]any
			require.Equal(t, http.StatusOK, get(t, base+"/records/sale.order/7", &order))
			assert.Equal(t, "USD", order["currency"])
			assert.Equal(t, "S00007", order["name"])

			status, _ = post(t, urls["Create contact"], `{"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+44"}`)
			assert.Equal(t, http.StatusOK, status)
			status, body = post(t, urls["Create contact"], `{"name": "Ada Lovelace"}`)
			assert.Equal(t, http.StatusUnprocessableEntity, status)
			assert.Equal(t, "Missing required fields: 'name' and 'email'", body["error"])
			var partners []map[string]any
			require.Equal(t, http.StatusOK, get(t, base+"/records/res.partner", &partners))
			require.Len(t, partners, 2)
			assert.Equal(t, "Ada Lovelace", partners[1]["name"])
			assert.Equal(t, "person", partners[1]["company_type"])
			assert.EqualValues(t, 1, partners[1]["customer_rank"])

			var missing map[string]any
			assert.Equal(t, http.StatusNotFound, get(t, base+"/records/sale.order/99", &missing))
			var calls []map[string]any
			require.Equal(t, http.StatusOK, get(t, base+"/calls", &calls))
			assert.Len(t, calls, 3)
		})
	}
}

func TestQuickstartKeepsEverythingAcrossARestart(t *testing.T) {
	o := options{addr: "127.0.0.1:0", store: "sqlite", db: filepath.Join(t.TempDir(), "q.db")}
	urls, _, stop := start(t, o)
	status, _ := post(t, urls["Update sale order currency"], `{"model": "sale.order", "id": "7"}`)
	require.Equal(t, http.StatusOK, status)
	stop()

	again, base, stop := start(t, o)
	defer stop()
	for name, u := range urls {
		assert.Equal(t, u[strings.Index(u, "/web/hook/"):], again[name][strings.Index(again[name], "/web/hook/"):], "%s keeps its secret", name)
	}
	var order map[string]any
	require.Equal(t, http.StatusOK, get(t, base+"/records/sale.order/7", &order))
	assert.Equal(t, "USD", order["currency"])
	var calls []map[string]any
	require.Equal(t, http.StatusOK, get(t, base+"/calls", &calls))
	assert.Len(t, calls, 1, "the call log survives the restart")
}
