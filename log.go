package webhook

import (
	"context"
	"net/http"
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
// "[redacted]"; the URL secret never appears.
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
