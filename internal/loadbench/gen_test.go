package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/webhook"
	"github.com/hookline/webhook/webhooktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingServer answers 200, except every failEvery-th request (500),
// every closeEvery-th (then it closes the connection) and every
// duplicateEvery-th (marked as a duplicate delivery), and counts what it
// served.
type countingServer struct {
	served, failed        atomic.Int64
	failEvery, closeEvery int64
	duplicateEvery        int64
	duplicates            atomic.Int64
}

// ServeHTTP drains the body and answers as the server's settings say.
func (s *countingServer) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	_, _ = io.Copy(io.Discard, req.Body)
	n := s.served.Add(1)
	if s.closeEvery > 0 && n%s.closeEvery == 0 {
		rw.Header().Set("Connection", "close")
	}
	if s.duplicateEvery > 0 && n%s.duplicateEvery == 0 {
		s.duplicates.Add(1)
		rw.Header().Set(webhook.DuplicateHeader, "true")
	}
	if s.failEvery > 0 && n%s.failEvery == 0 {
		s.failed.Add(1)
		http.Error(rw, `{"status":"error"}`, http.StatusInternalServerError)
		return
	}
	_, _ = rw.Write(okBody)
}

// TestGenerator runs the generator against a small net/http server and
// checks that its counts match what the server did.
func TestGenerator(t *testing.T) {
	cases := []struct {
		name     string
		srv      *countingServer
		duration time.Duration
		requests int64
	}{
		{"every response is counted and every 500 is an error", &countingServer{failEvery: 7}, 150 * time.Millisecond, 0},
		{"a server that closes connections costs no request and no error", &countingServer{closeEvery: 5}, 150 * time.Millisecond, 0},
		{"a response marked as a duplicate is an error", &countingServer{duplicateEvery: 3}, 150 * time.Millisecond, 0},
		{"a fixed number of requests is sent exactly", &countingServer{failEvery: 10, closeEvery: 4}, 0, 1000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(tc.srv)
			defer ts.Close()
			addr := strings.TrimPrefix(ts.URL, "http://")
			res, err := Generate(Load{
				Addr: addr, Conns: 4, Duration: tc.duration, Requests: tc.requests,
				Request: buildRequest(addr, "/web/hook/x", nil, orderBody),
			})
			require.NoError(t, err)
			served := tc.srv.served.Load()
			assert.NotZero(t, served, "the generator counted %d responses, the server served %d", res.Requests, served)
			assert.Equal(t, served, res.Requests, "the generator counted %d responses, the server served %d", res.Requests, served)
			if tc.requests > 0 {
				assert.Equal(t, tc.requests, res.Requests, "sent %d requests, want %d", res.Requests, tc.requests)
			}
			assert.Equal(t, tc.srv.failed.Load(), res.Non2xx, "counted %d non-2xx responses, the server sent %d", res.Non2xx, tc.srv.failed.Load())
			assert.Equal(t, tc.srv.duplicates.Load(), res.Duplicates, "counted %d duplicates, the server sent %d", res.Duplicates, tc.srv.duplicates.Load())
			assert.Zero(t, res.Failed, "%d failed exchanges, want none: %s", res.Failed, res.FirstError)
			assert.Equal(t, res.Non2xx+res.Duplicates, res.Errors(), "Errors() = %d, want non-2xx plus duplicates, %d", res.Errors(), res.Non2xx+res.Duplicates)
			assert.Equal(t, res.Errors() > 0, res.FirstError != "", "%d errors but first error %q", res.Errors(), res.FirstError)
			got := res.Latency.Count()
			assert.Equal(t, uint64(res.Requests), got, "the histogram holds %d latencies for %d responses", got, res.Requests)
			p50, p99, mx := res.Latency.Quantile(0.5), res.Latency.Quantile(0.99), res.Latency.Max()
			assert.Positive(t, p50, "p50 %v, p99 %v, max %v are not in order", p50, p99, mx)
			assert.LessOrEqual(t, p50, p99, "p50 %v, p99 %v, max %v are not in order", p50, p99, mx)
			assert.LessOrEqual(t, p99, mx, "p50 %v, p99 %v, max %v are not in order", p50, p99, mx)
		})
	}
	t.Run("a server that is gone fails the dial", func(t *testing.T) {
		ts := httptest.NewServer(http.NotFoundHandler())
		addr := strings.TrimPrefix(ts.URL, "http://")
		ts.Close()
		_, err := Generate(Load{Addr: addr, Conns: 1, Duration: time.Millisecond, Request: []byte("x")})
		assert.Error(t, err, "Generate succeeded against a closed port")
	})
}

// TestRawResponderAnswersEveryRequest checks the calibration server, small
// bodies and bodies longer than its buffer.
func TestRawResponderAnswersEveryRequest(t *testing.T) {
	r, err := startResponder()
	require.NoError(t, err)
	defer r.Close()
	big := bytes.Repeat([]byte("x"), 40<<10) // longer than the responder's buffer
	for _, body := range [][]byte{orderBody, big} {
		res, err := Generate(Load{Addr: r.Addr(), Conns: 2, Requests: 200, Request: buildRequest(r.Addr(), "/", nil, body)})
		require.NoError(t, err)
		assert.Equal(t, int64(200), res.Requests, "a %d-byte body: %d responses, %d errors (%s); want 200 and none", len(body), res.Requests, res.Errors(), res.FirstError)
		assert.Zero(t, res.Errors(), "a %d-byte body: %d responses, %d errors (%s); want 200 and none", len(body), res.Requests, res.Errors(), res.FirstError)
	}
}

// TestHistogramQuantilesAreWithinOnePercent checks the precision the
// histogram promises, and that its buckets tile the numbers.
func TestHistogramQuantilesAreWithinOnePercent(t *testing.T) {
	var h Histogram
	for i := 1; i <= 10000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5000 * time.Microsecond}, {0.99, 9900 * time.Microsecond}, {1, 10000 * time.Microsecond}} {
		got := h.Quantile(c.q)
		assert.GreaterOrEqual(t, got, c.want, "quantile %v = %v, want %v to 1%% above", c.q, got, c.want)
		assert.LessOrEqual(t, float64(got), float64(c.want)*1.01, "quantile %v = %v, want %v to 1%% above", c.q, got, c.want)
	}
	assert.Equal(t, 10*time.Millisecond, h.Max(), "max %v, count %d", h.Max(), h.Count())
	assert.Equal(t, uint64(10000), h.Count(), "max %v, count %d", h.Max(), h.Count())
	for v := uint64(0); v < 1<<20; v = v*9/8 + 1 {
		i := bucketOf(v)
		require.LessOrEqual(t, v, bucketHigh(i), "%d is in bucket %d, which holds up to %d", v, i, bucketHigh(i))
		if i > 0 {
			require.Greater(t, v, bucketHigh(i-1), "%d is in bucket %d, which holds up to %d", v, i, bucketHigh(i))
		}
	}
}

// TestSignerMatchesTheStandardWebhooksScheme compares the generator's
// signer with webhooktest's, written separately from the same spec.
func TestSignerMatchesTheStandardWebhooksScheme(t *testing.T) {
	secret := webhooktest.NewStandardWebhooksSecret()
	s, err := newSWSigner(secret)
	require.NoError(t, err)
	next := s.requester(buildHead("loadbench", "/web/hook/x", nil, len(orderBody)), orderBody)()
	var ids []string
	for range 2 {
		raw := next(nil)
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		require.NoError(t, err)
		body, _ := io.ReadAll(req.Body)
		require.Equal(t, orderBody, body, "body %q, want %q", body, orderBody)
		id, ts := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp")
		unix, err := strconv.ParseInt(ts, 10, 64)
		require.NoError(t, err)
		ref := httptest.NewRequest(http.MethodPost, "/", nil)
		webhooktest.SignStandardWebhooks(ref, secret, id, time.Unix(unix, 0), orderBody)
		got, want := req.Header.Get("webhook-signature"), ref.Header.Get("webhook-signature")
		assert.Equal(t, want, got, "signature %q, want %q", got, want)
		ids = append(ids, id)
	}
	assert.NotEqual(t, ids[0], ids[1], "two requests share the id %q", ids[0])
}

// TestTheDuplicateHeaderIsTheLibrarys keeps the generator's lower-case
// copy of webhook.DuplicateHeader in step with the library.
func TestTheDuplicateHeaderIsTheLibrarys(t *testing.T) {
	h := scanHeader([]byte("HTTP/1.1 200 OK\r\n" + webhook.DuplicateHeader + ": true\r\nContent-Length: 3\r\n\r\n"))
	assert.True(t, h.duplicate, "scanHeader = %+v, want a duplicate with 3 bytes", h)
	assert.Equal(t, 3, h.contentLength, "scanHeader = %+v, want a duplicate with 3 bytes", h)
}
