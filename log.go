package webhook

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Outcome says how a call ended.
type Outcome string

// The outcomes of a call.
const (
	// OutcomeOK: the actions ran and their writes were committed.
	OutcomeOK Outcome = "ok"
	// OutcomeRejected: the request was refused before or while running
	// (bad method, malformed or oversized body, a payload that does not
	// fit, a script that threw); nothing was written. Status is 4xx.
	OutcomeRejected Outcome = "rejected"
	// OutcomeFailed: a fault on the server side (store error, panic,
	// timeout); nothing was written. Status is 5xx.
	OutcomeFailed Outcome = "failed"
	// OutcomeDuplicate: the delivery already ran (see Dedupe); nothing
	// ran this time and the caller got 200.
	OutcomeDuplicate Outcome = "duplicate"
)

// Touch is one kind of change a call made to one model.
type Touch struct {
	Model string `json:"model"`
	// Op is "create" or "write".
	Op  string `json:"op"`
	IDs []ID   `json:"ids"`
}

// LogLine is one line a script wrote with log(), kept with its call even
// when the call's transaction rolls back.
type LogLine struct {
	Time    time.Time `json:"time"`
	Level   string    `json:"level"`
	Message string    `json:"message"`
}

// Call is one entry of the call log: everything needed to troubleshoot a
// call, with credentials removed. Headers that carry credentials
// (Authorization, Cookie, signature headers and the like) are replaced by
// "[redacted]"; the URL secret never appears. Headers may be the request's
// own header map (when nothing in it needed redacting): treat it as
// read-only.
type Call struct {
	ID         string        `json:"id"`
	Webhook    string        `json:"webhook"`
	Time       time.Time     `json:"time"`
	Duration   time.Duration `json:"duration"`
	Method     string        `json:"method"`
	RemoteAddr string        `json:"remote_addr"`
	Headers    http.Header   `json:"headers,omitempty"`
	// Payload is the request body as received (or the query string when
	// the body was empty), cut at the registry's MaxLoggedPayload.
	Payload          string  `json:"payload,omitempty"`
	PayloadTruncated bool    `json:"payload_truncated,omitempty"`
	Status           int     `json:"status"`
	Outcome          Outcome `json:"outcome"`
	// Error is the complete reason for a failure; the client saw a short
	// form of it.
	Error   string    `json:"error,omitempty"`
	Touched []Touch   `json:"touched,omitempty"`
	Logs    []LogLine `json:"logs,omitempty"`
}

// CallQuery selects call-log entries.
type CallQuery struct {
	// Webhook restricts the result to one webhook's calls; empty means all.
	Webhook string
	// Limit caps the number of entries; <= 0 means 100.
	Limit int
}

// CallLog stores call entries. Implementations must be safe for concurrent
// use. The registry appends an entry after the call's transaction has ended,
// committed or rolled back, so an entry survives a rollback.
type CallLog interface {
	// Append stores c. The log may keep c; the registry does not change it
	// afterwards.
	Append(ctx context.Context, c *Call) error
	// Calls returns the entries that match q, newest first.
	Calls(ctx context.Context, q CallQuery) ([]Call, error)
}

// MemoryCallLog is a bounded in-memory [CallLog]: it keeps the most recent
// entries, up to its capacity, across all webhooks. It is safe for
// concurrent use. Entries vanish when the process exits; use the SQL store's
// call log to keep them.
type MemoryCallLog struct {
	mu      sync.Mutex
	entries []*Call // ring buffer
	next    int
	full    bool
}

// NewMemoryCallLog returns a log that keeps the last capacity entries
// (DefaultCallLogSize when capacity <= 0).
func NewMemoryCallLog(capacity int) *MemoryCallLog {
	if capacity <= 0 {
		capacity = DefaultCallLogSize
	}
	return &MemoryCallLog{entries: make([]*Call, capacity)}
}

// Append stores c, dropping the oldest entry when the log is full.
func (l *MemoryCallLog) Append(_ context.Context, c *Call) error {
	l.mu.Lock()
	l.entries[l.next] = c
	l.next++
	if l.next == len(l.entries) {
		l.next, l.full = 0, true
	}
	l.mu.Unlock()
	return nil
}

// Calls returns copies of the entries that match q, newest first.
func (l *MemoryCallLog) Calls(_ context.Context, q CallQuery) ([]Call, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.next
	if l.full {
		n = len(l.entries)
	}
	var out []Call
	for i := 0; i < n && len(out) < limit; i++ {
		idx := (l.next - 1 - i + len(l.entries)) % len(l.entries)
		e := l.entries[idx]
		if q.Webhook != "" && e.Webhook != q.Webhook {
			continue
		}
		out = append(out, *e)
	}
	return out, nil
}

// redacted replaces the value of a header that carries a credential.
const redacted = "[redacted]"

// redactHeaders returns h with the values of headers that carry
// credentials (authorization, cookies, signatures, tokens, keys, secrets)
// replaced. When none does, it returns h itself: a call-log entry then
// shares the request's header map, which nothing changes once the request
// has been served, rather than paying for a copy on every call.
func redactHeaders(h http.Header) http.Header {
	n, sensitive := 0, false
	for k, vs := range h {
		n += len(vs)
		sensitive = sensitive || sensitiveHeader(k)
	}
	if !sensitive {
		return h
	}
	// Every value list is cut from one array: two allocations, not one
	// per header.
	all := make([]string, 0, n)
	out := make(http.Header, len(h))
	for k, vs := range h {
		start := len(all)
		if sensitiveHeader(k) {
			all = append(all, redacted)
		} else {
			all = append(all, vs...)
		}
		out[k] = all[start:len(all):len(all)]
	}
	return out
}

func sensitiveHeader(name string) bool {
	switch name {
	// The common headers, in net/http's canonical form, answered without
	// lower-casing.
	case "Accept", "Accept-Encoding", "Content-Type", "Content-Length", "User-Agent", "Host",
		"Connection", "Webhook-Id", "Webhook-Timestamp", "X-Github-Delivery", "X-Github-Event",
		"X-Forwarded-For", "X-Request-Id", "Traceparent":
		return false
	}
	n := strings.ToLower(name)
	for _, s := range sensitiveHeaderParts {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// sensitiveHeaderParts are matched anywhere in a header name, so that
// X-Hub-Signature-256, Stripe-Signature, Webhook-Signature,
// X-Shopify-Hmac-Sha256, X-Api-Key and X-Auth-Token are all caught.
var sensitiveHeaderParts = []string{
	"authorization", "cookie", "signature", "hmac", "token", "secret", "password", "api-key", "apikey", "x-api", "auth",
}
