package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookline/webhook"
)

// swSigner builds Standard Webhooks signed requests for the verified
// variant: each with a webhook-id of its own (so that duplicate
// suppression lets every one through), the current webhook-timestamp and
// a "v1," HMAC-SHA256 signature of id.timestamp.body. It follows the
// published scheme, independently of the library's verifier.
type swSigner struct {
	key  []byte
	run  string // makes ids unique across runs of the process
	next atomic.Int64
}

// newSWSecret returns a fresh random "whsec_<base64>" secret.
func newSWSecret() string {
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	return "whsec_" + base64.StdEncoding.EncodeToString(raw[:])
}

// newSWSigner reads a "whsec_<base64>" secret.
func newSWSigner(secret string) (*swSigner, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) == 0 {
		return nil, fmt.Errorf("loadbench: %q is not a whsec_ secret", secret)
	}
	return &swSigner{key: key, run: strconv.FormatInt(time.Now().UnixNano(), 36)}, nil
}

// requester returns a Load.NewRequester that writes head (the request line
// and headers, each ending in CRLF, without the blank line), the three
// signature headers, the blank line and body. A requester serves one
// connection; once its buffers have grown it does not allocate.
func (s *swSigner) requester(head, body []byte) func() func(dst []byte) []byte {
	return func() func(dst []byte) []byte {
		mac := hmac.New(sha256.New, s.key)
		var id, ts, sum []byte
		return func(dst []byte) []byte {
			id = append(append(append(id[:0], "msg_"...), s.run...), '_')
			id = strconv.AppendInt(id, s.next.Add(1), 10)
			ts = strconv.AppendInt(ts[:0], time.Now().Unix(), 10)
			sum = signInto(mac, sum[:0], id, ts, body)
			dst = append(dst, head...)
			dst = append(append(append(dst, "webhook-id: "...), id...), "\r\n"...)
			dst = append(append(append(dst, "webhook-timestamp: "...), ts...), "\r\n"...)
			dst = append(dst, "webhook-signature: v1,"...)
			dst = base64.StdEncoding.AppendEncode(dst, sum)
			dst = append(dst, "\r\n\r\n"...)
			return append(dst, body...)
		}
	}
}

// signInto appends to sum the HMAC of id.ts.body.
func signInto(mac hash.Hash, sum, id, ts, body []byte) []byte {
	mac.Reset()
	mac.Write(id)
	mac.Write([]byte{'.'})
	mac.Write(ts)
	mac.Write([]byte{'.'})
	mac.Write(body)
	return mac.Sum(sum)
}

// handVerified is what an engineer would write by hand for the verified
// variant without the library: read the body, check the Standard Webhooks
// signature with crypto/hmac, parse the JSON, drop a webhook-id seen in
// the last 24 hours, answer. It writes no record and keeps no log, so it
// is the cost of verification and dedupe alone on top of bare.
type handVerified struct {
	key  []byte
	mu   sync.Mutex
	seen map[string]int64 // webhook-id to when it may run again, Unix ns
}

func (h *handVerified) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(rw, req.Body, webhook.DefaultMaxBody))
	if err != nil {
		http.Error(rw, `{"status":"error"}`, http.StatusBadRequest)
		return
	}
	id, ts, sig := req.Header.Get("Webhook-Id"), req.Header.Get("Webhook-Timestamp"), req.Header.Get("Webhook-Signature")
	now := time.Now()
	sent, err := strconv.ParseInt(ts, 10, 64)
	if id == "" || err != nil || now.Sub(time.Unix(sent, 0)).Abs() > 5*time.Minute {
		http.Error(rw, `{"status":"error"}`, http.StatusUnauthorized)
		return
	}
	mac := hmac.New(sha256.New, h.key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	ok := false
	for _, s := range strings.Split(sig, " ") {
		if v, found := strings.CutPrefix(s, "v1,"); found && hmac.Equal([]byte(v), []byte(want)) {
			ok = true
		}
	}
	if !ok {
		http.Error(rw, `{"status":"error"}`, http.StatusUnauthorized)
		return
	}
	var payload map[string]any
	if err := json.Unmarshal(body, &payload); err != nil {
		http.Error(rw, `{"status":"error"}`, http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	if until, dup := h.seen[id]; !dup || now.UnixNano() >= until {
		h.seen[id] = now.Add(24 * time.Hour).UnixNano()
	}
	h.mu.Unlock()
	rw.Header().Set("Content-Type", "application/json")
	_, _ = rw.Write(okBody)
}
