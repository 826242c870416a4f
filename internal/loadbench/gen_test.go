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
			if err != nil {
				t.Fatal(err)
			}
			served := tc.srv.served.Load()
			if served == 0 || res.Requests != served {
				t.Errorf("the generator counted %d responses, the server served %d", res.Requests, served)
			}
			if tc.requests > 0 && res.Requests != tc.requests {
				t.Errorf("sent %d requests, want %d", res.Requests, tc.requests)
			}
			if res.Non2xx != tc.srv.failed.Load() {
				t.Errorf("counted %d non-2xx responses, the server sent %d", res.Non2xx, tc.srv.failed.Load())
			}
			if res.Duplicates != tc.srv.duplicates.Load() {
				t.Errorf("counted %d duplicates, the server sent %d", res.Duplicates, tc.srv.duplicates.Load())
			}
			if res.Failed != 0 {
				t.Errorf("%d failed exchanges, want none: %s", res.Failed, res.FirstError)
			}
			if res.Errors() != res.Non2xx+res.Duplicates {
				t.Errorf("Errors() = %d, want non-2xx plus duplicates, %d", res.Errors(), res.Non2xx+res.Duplicates)
			}
			if (res.Errors() > 0) != (res.FirstError != "") {
				t.Errorf("%d errors but first error %q", res.Errors(), res.FirstError)
			}
			if got := res.Latency.Count(); got != uint64(res.Requests) {
				t.Errorf("the histogram holds %d latencies for %d responses", got, res.Requests)
			}
			if p50, p99, mx := res.Latency.Quantile(0.5), res.Latency.Quantile(0.99), res.Latency.Max(); p50 <= 0 || p50 > p99 || p99 > mx {
				t.Errorf("p50 %v, p99 %v, max %v are not in order", p50, p99, mx)
			}
		})
	}
	t.Run("a server that is gone fails the dial", func(t *testing.T) {
		ts := httptest.NewServer(http.NotFoundHandler())
		addr := strings.TrimPrefix(ts.URL, "http://")
		ts.Close()
		if _, err := Generate(Load{Addr: addr, Conns: 1, Duration: time.Millisecond, Request: []byte("x")}); err == nil {
			t.Error("Generate succeeded against a closed port")
		}
	})
}

// TestRawResponderAnswersEveryRequest checks the calibration server, small
// bodies and bodies longer than its buffer.
func TestRawResponderAnswersEveryRequest(t *testing.T) {
	r, err := startResponder()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	big := bytes.Repeat([]byte("x"), 40<<10) // longer than the responder's buffer
	for _, body := range [][]byte{orderBody, big} {
		res, err := Generate(Load{Addr: r.Addr(), Conns: 2, Requests: 200, Request: buildRequest(r.Addr(), "/", nil, body)})
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests != 200 || res.Errors() != 0 {
			t.Errorf("a %d-byte body: %d responses, %d errors (%s); want 200 and none", len(body), res.Requests, res.Errors(), res.FirstError)
		}
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
		if got < c.want || float64(got) > float64(c.want)*1.01 {
			t.Errorf("quantile %v = %v, want %v to 1%% above", c.q, got, c.want)
		}
	}
	if h.Max() != 10*time.Millisecond || h.Count() != 10000 {
		t.Errorf("max %v, count %d", h.Max(), h.Count())
	}
	for v := uint64(0); v < 1<<20; v = v*9/8 + 1 {
		if i := bucketOf(v); v > bucketHigh(i) || (i > 0 && v <= bucketHigh(i-1)) {
			t.Fatalf("%d is in bucket %d, which holds up to %d", v, i, bucketHigh(i))
		}
	}
}

// TestSignerMatchesTheStandardWebhooksScheme compares the generator's
// signer with webhooktest's, written separately from the same spec.
func TestSignerMatchesTheStandardWebhooksScheme(t *testing.T) {
	secret := webhooktest.NewStandardWebhooksSecret()
	s, err := newSWSigner(secret)
	if err != nil {
		t.Fatal(err)
	}
	next := s.requester(buildHead("loadbench", "/web/hook/x", nil, len(orderBody)), orderBody)()
	var ids []string
	for range 2 {
		raw := next(nil)
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(req.Body)
		if !bytes.Equal(body, orderBody) {
			t.Fatalf("body %q, want %q", body, orderBody)
		}
		id, ts := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp")
		unix, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		ref := httptest.NewRequest(http.MethodPost, "/", nil)
		webhooktest.SignStandardWebhooks(ref, secret, id, time.Unix(unix, 0), orderBody)
		if got, want := req.Header.Get("webhook-signature"), ref.Header.Get("webhook-signature"); got != want {
			t.Errorf("signature %q, want %q", got, want)
		}
		ids = append(ids, id)
	}
	if ids[0] == ids[1] {
		t.Errorf("two requests share the id %q", ids[0])
	}
}

// TestTheDuplicateHeaderIsTheLibrarys keeps the generator's lower-case
// copy of webhook.DuplicateHeader in step with the library.
func TestTheDuplicateHeaderIsTheLibrarys(t *testing.T) {
	h := scanHeader([]byte("HTTP/1.1 200 OK\r\n" + webhook.DuplicateHeader + ": true\r\nContent-Length: 3\r\n\r\n"))
	if !h.duplicate || h.contentLength != 3 {
		t.Errorf("scanHeader = %+v, want a duplicate with 3 bytes", h)
	}
}
