package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/hookline/webhook/internal/payload"
	"github.com/hookline/webhook/internal/script"
	"github.com/hookline/webhook/internal/verify"
)

// CallIDHeader is the response header that carries the call id, which
// finds the call's entry in the call log.
const CallIDHeader = "Webhook-Call-Id"

// DuplicateHeader is set to "true" on the answer to a delivery that
// already ran (see [Dedupe]).
const DuplicateHeader = "Webhook-Duplicate"

// maxConflictRetries bounds how often a call is rerun when the store
// reports a transaction conflict.
const maxConflictRetries = 5

var now = time.Now

// call is the state of one request to one webhook.
type call struct {
	w       *Webhook
	id      string
	req     *http.Request
	ctx     context.Context
	start   time.Time
	body    []byte
	payload map[string]any
	headers map[string]string
	query   map[string]any
	st      RecordStore
	touched []Touch
	logs    []LogLine
	// delivery is the dedupe key of the call, if its webhook dedupes.
	delivery  string
	duplicate bool
	logMu     sync.Mutex // scripts' log() may be called while a timeout fires
	act       activation
}

// failure is an error with the status and the short, client-safe reason
// it is answered with. The full error goes to the call log.
type failure struct {
	status     int
	reason     string
	err        error
	retryAfter string
}

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

func fail(status int, reason string, err error) *failure {
	if err == nil {
		err = errors.New(reason)
	}
	return &failure{status: status, reason: reason, err: err}
}

// okBody is the answer to a call that succeeded.
var okBody = []byte(`{"status":"ok"}` + "\n")

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (w *Webhook) serve(rw http.ResponseWriter, req *http.Request) {
	c := &call{w: w, id: newCallID(), req: req, ctx: req.Context(), start: now()}
	buf := bodyPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 4*DefaultMaxBody {
			bodyPool.Put(buf)
		}
	}()
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			err := fmt.Errorf("panic: %v\n%s", p, debug.Stack())
			w.reg.log.Error("webhook: panic while serving a call", "webhook", w.name, "call_id", c.id, "panic", fmt.Sprint(p))
			writeError(rw, http.StatusInternalServerError, "internal error", c.id)
			c.finish(http.StatusInternalServerError, "internal error", err)
		}
	}()
	err := c.run(rw, buf)
	if err == nil || errors.Is(err, ErrDuplicate) {
		h := rw.Header()
		// Both values share one array: one allocation, not two.
		vals := [...]string{c.id, "application/json"}
		vs := vals[:]
		h[CallIDHeader] = vs[0:1:1]
		h["Content-Type"] = vs[1:2:2]
		if err != nil {
			h.Set(DuplicateHeader, "true")
			c.duplicate = true
		}
		rw.WriteHeader(http.StatusOK)
		_, _ = rw.Write(okBody)
		c.finish(http.StatusOK, "", nil)
		return
	}
	f := classify(err)
	if f.retryAfter != "" {
		rw.Header().Set("Retry-After", f.retryAfter)
	}
	writeError(rw, f.status, f.reason, c.id)
	c.finish(f.status, f.reason, f.err)
}

func (c *call) run(rw http.ResponseWriter, buf *bytes.Buffer) error {
	req := c.req
	if req.Method != http.MethodPost && req.Method != http.MethodGet {
		rw.Header().Set("Allow", "GET, POST")
		return fail(http.StatusMethodNotAllowed, "method "+req.Method+" not allowed; use POST or GET", nil)
	}
	g := c.w.guard
	if len(g.allow) > 0 {
		a, ok := c.w.reg.clientAddr(req)
		if !ok || !containsAddr(g.allow, a) {
			return fail(http.StatusForbidden, "caller address not allowed", fmt.Errorf("caller address %v not in allow_ips", a))
		}
	}
	if g.limiter != nil && !g.limiter.Allow() {
		f := fail(http.StatusTooManyRequests, "rate limit exceeded", nil)
		f.retryAfter = g.retryAfter
		return f
	}
	if n := g.inFlight.Add(1); n > g.maxInFlight {
		g.inFlight.Add(-1)
		f := fail(http.StatusTooManyRequests, "too many calls in flight", nil)
		f.retryAfter = "1"
		return f
	}
	defer g.inFlight.Add(-1)
	body, err := readBody(req, g.maxBody, buf)
	if err != nil {
		return err
	}
	c.body = body
	if g.verifier != nil {
		if err := g.verifier.Verify(req.Header, body, now()); err != nil {
			var ve *verify.Error
			if errors.As(err, &ve) {
				return fail(http.StatusUnauthorized, ve.Reason, err)
			}
			return fail(http.StatusUnauthorized, "verification failed", err)
		}
	}
	if err := c.parsePayload(g.maxDepth); err != nil {
		return err
	}
	if g.dedupeKey != nil {
		if err := c.deliveryKey(g.dedupeKey); err != nil {
			return err
		}
	}
	var target *recordSet
	if c.w.target != nil {
		v, err := c.eval(c.w.target, "target", nil)
		if err != nil {
			return err
		}
		rs, ok := v.(*recordSet)
		if !ok {
			return &EvalError{Field: "target", Err: fmt.Errorf("expression yields %s, want records from browse or search", v.Type().TypeName())}
		}
		if rs.model != c.w.model {
			return fail(http.StatusUnprocessableEntity,
				fmt.Sprintf("target: records of %s, but this webhook acts on %s", rs.model, c.w.model), nil)
		}
		if !rs.search && len(rs.ids) == 0 {
			return fail(http.StatusUnprocessableEntity, "target: no record to run the actions on (the target is empty)", nil)
		}
		target = rs
	}
	for attempt := 1; ; attempt++ {
		err := c.transaction(target)
		if err == nil || !errors.Is(err, ErrConflict) || attempt == maxConflictRetries {
			return err
		}
		if c.ctx.Err() != nil {
			return c.ctx.Err()
		}
		// Back off briefly so that competing calls do not collide again
		// in lockstep.
		time.Sleep(time.Duration(attempt) * time.Millisecond)
	}
}

// transaction runs the actions in one store transaction; any error rolls
// back every write of the call.
func (c *call) transaction(target *recordSet) (err error) {
	c.touched = c.touched[:0]
	if c.w.reg.tx == nil {
		c.st = c.w.reg.cfg.Store
		return c.execute(target)
	}
	tx, err := c.w.reg.tx.Begin(c.ctx)
	if err != nil {
		return fmt.Errorf("beginning a transaction: %w", err)
	}
	c.st = tx
	if c.delivery != "" {
		t := now()
		if err := tx.(DeliveryClaimer).ClaimDelivery(c.ctx, c.w.name, c.delivery, t, t.Add(c.w.guard.dedupeTTL)); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			if rerr := tx.Rollback(); rerr != nil {
				c.w.reg.log.Warn("webhook: rollback failed", "webhook", c.w.name, "call_id", c.id, "error", rerr)
			}
			return
		}
		if cerr := tx.Commit(); cerr != nil {
			err = fmt.Errorf("committing: %w", cerr)
		}
	}()
	return c.execute(target)
}

func (c *call) execute(target *recordSet) error {
	recs, ids := noTarget, noIDs
	if target != nil {
		var err error
		recs, ids, err = c.resolve(target)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return fail(http.StatusUnprocessableEntity, "target: no record to run the actions on (the search found none)", nil)
		}
	}
	return c.runActions(c.w.actions, recs, ids)
}

// noTarget and noIDs run every action once, without a record.
var (
	noTarget = []Record{nil}
	noIDs    = []ID{nil}
)

// resolve returns the target records and their ids.
func (c *call) resolve(rs *recordSet) ([]Record, []ID, error) {
	if !rs.search && !c.w.readTargets {
		// Nothing reads the records' fields: skip the read, and let the
		// first write report a record that does not exist. The records
		// stay nil: only their ids are used, and no action writes to
		// them, so one record needs no allocation.
		if len(rs.ids) == 1 {
			return noTarget, rs.ids, nil
		}
		return make([]Record, len(rs.ids)), rs.ids, nil
	}
	var recs []Record
	var err error
	if !rs.search {
		recs, err = c.st.Browse(c.ctx, rs.model, rs.ids)
	} else if s, ok := c.st.(Searcher); ok {
		recs, err = s.Search(c.ctx, rs.model, rs.filter, rs.limit)
	} else {
		return nil, nil, errors.New("the record store does not support search")
	}
	if err != nil {
		return nil, nil, err
	}
	ids := make([]ID, len(recs))
	for i, r := range recs {
		ids[i] = r["id"]
	}
	return recs, ids, nil
}

func (c *call) touch(model, op string, id ID) {
	for i := range c.touched {
		t := &c.touched[i]
		if t.Model == model && t.Op == op {
			t.IDs = append(t.IDs, id)
			return
		}
	}
	c.touched = append(c.touched, Touch{Model: model, Op: op, IDs: []ID{id}})
}

// eval runs a compiled expression with the call's variables and rec as
// `record`.
func (c *call) eval(e *expr, field string, rec Record) (ref.Val, error) {
	// The activation lives in the call, so that an evaluation does not
	// allocate one; evaluations of a call never nest.
	act := &c.act
	act.c, act.record = c, rec
	var v ref.Val
	var err error
	if e.bounded {
		v, _, err = e.prog.Eval(act)
	} else {
		v, _, err = e.prog.ContextEval(c.ctx, act)
	}
	act.record = nil
	if err != nil {
		return nil, &EvalError{Field: field, Err: err}
	}
	return v, nil
}

// activation resolves the variables of an expression lazily: headers and
// query are built only if an expression reads them.
type activation struct {
	c      *call
	record Record
}

var emptyRecord = map[string]any{}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "payload":
		return a.c.payload, true
	case "record":
		if a.record == nil {
			return emptyRecord, true
		}
		return map[string]any(a.record), true
	case "model":
		return a.c.w.modelVal, true
	case "env":
		return models{}, true
	case "headers":
		return headerValue{a.c}, true
	case "query":
		return a.c.queryMap(), true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// headerMap gives expressions and scripts the request headers with
// lower-case names; repeated headers are joined with ", " as HTTP allows.
func (c *call) headerMap() map[string]string {
	if c.headers == nil {
		c.headers = make(map[string]string, len(c.req.Header))
		for k, vs := range c.req.Header {
			c.headers[lowerHeader(k)] = strings.Join(vs, ", ")
		}
	}
	return c.headers
}

// lowerHeader returns the lower-case form of a canonical header name,
// without allocating for the names webhook senders commonly use.
func lowerHeader(k string) string {
	if l, ok := commonHeaders[k]; ok {
		return l
	}
	return strings.ToLower(k)
}

var commonHeaders = func() map[string]string {
	m := make(map[string]string)
	for _, k := range []string{
		"Accept", "Accept-Encoding", "Authorization", "Connection", "Content-Length", "Content-Type",
		"Host", "User-Agent", "Traceparent", "X-Forwarded-For", "X-Forwarded-Proto", "X-Real-Ip", "X-Request-Id",
		"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature",
		"X-Github-Delivery", "X-Github-Event", "X-Github-Hook-Id", "X-Hub-Signature", "X-Hub-Signature-256",
		"Stripe-Signature", "X-Shopify-Hmac-Sha256", "X-Shopify-Topic", "X-Shopify-Webhook-Id",
		"X-Gitlab-Event", "X-Gitlab-Token", "X-Slack-Signature", "X-Slack-Request-Timestamp",
	} {
		m[k] = strings.ToLower(k)
	}
	return m
}()

// queryMap gives the URL query: a key given once is a string, a key given
// several times a list of strings.
func (c *call) queryMap() map[string]any {
	if c.query == nil {
		c.query = valuesMap(c.req.URL.Query())
	}
	return c.query
}

func valuesMap(v url.Values) map[string]any {
	m := make(map[string]any, len(v))
	for k, vs := range v {
		if len(vs) == 1 {
			m[k] = vs[0]
			continue
		}
		l := make([]any, len(vs))
		for i, s := range vs {
			l[i] = s
		}
		m[k] = l
	}
	return m
}

// readBody reads the whole body into buf, refusing one longer than max
// before reading it when its length is declared, and as soon as it passes
// max when it is not.
func readBody(req *http.Request, max int64, buf *bytes.Buffer) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	tooLarge := func() error {
		return fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", max), nil)
	}
	if req.ContentLength > max {
		return nil, tooLarge()
	}
	if req.ContentLength > 0 {
		// One byte more than declared, to see the end of the body
		// without growing the buffer.
		buf.Grow(int(req.ContentLength) + 1)
	}
	// Read into buf's spare room until the end, stopping one byte past
	// max (io.LimitReader would cost an allocation per call).
	for {
		if int64(buf.Len()) > max {
			return nil, tooLarge()
		}
		if buf.Available() == 0 {
			buf.Grow(bytes.MinRead)
		}
		room := buf.AvailableBuffer()
		room = room[:min(int64(cap(room)), max+1-int64(buf.Len()))]
		n, err := req.Body.Read(room)
		buf.Write(room[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, tooLarge()
			}
			return nil, fail(http.StatusBadRequest, "could not read the body", err)
		}
	}
	if int64(buf.Len()) > max {
		return nil, tooLarge()
	}
	return buf.Bytes(), nil
}

// parsePayload turns the body into the payload object: JSON when it parses
// (whatever the Content-Type), else form fields, else the query string.
func (c *call) parsePayload(maxDepth int) error {
	body := bytes.TrimSpace(c.body)
	ct := mediaType(c.req.Header.Get("Content-Type"))
	if len(body) == 0 {
		c.payload = c.queryMap()
		return nil
	}
	jsonish := ct == "application/json" || strings.HasSuffix(ct, "+json") || ct == "text/json"
	looksJSON := strings.IndexByte(`{["-0123456789tfn`, body[0]) >= 0
	if jsonish || looksJSON {
		v, err := payload.Parse(body, maxDepth)
		if err == nil {
			switch x := v.(type) {
			case map[string]any:
				c.payload = x
				return nil
			case nil:
				c.payload = map[string]any{}
				return nil
			default:
				return fail(http.StatusBadRequest, "payload must be a JSON object, got "+jsonKind(x), nil)
			}
		}
		if jsonish || ct != "application/x-www-form-urlencoded" && (body[0] == '{' || body[0] == '[') {
			var pe *payload.Error
			if errors.As(err, &pe) {
				return fail(http.StatusBadRequest, pe.Error(), err)
			}
			return fail(http.StatusBadRequest, "invalid JSON", err)
		}
	}
	if ct == "application/x-www-form-urlencoded" || ct == "" || ct == "text/plain" {
		form, err := url.ParseQuery(string(body))
		if err == nil && formLike(form) {
			c.payload = valuesMap(form)
			return nil
		}
		if ct == "application/x-www-form-urlencoded" {
			return fail(http.StatusBadRequest, "invalid form body", err)
		}
	}
	c.payload = c.queryMap()
	return nil
}

// formLike tells a form body from free text that happens to parse as one.
func formLike(v url.Values) bool {
	if len(v) == 0 {
		return false
	}
	for k := range v {
		if k == "" || strings.ContainsAny(k, " \t\r\n{}[]\"") {
			return false
		}
	}
	return true
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}

func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	for i := 0; i < len(ct); i++ {
		if 'A' <= ct[i] && ct[i] <= 'Z' {
			return strings.ToLower(ct)
		}
	}
	return ct
}

// classify maps an error to the status and short reason the client gets.
func classify(err error) *failure {
	var f *failure
	if errors.As(err, &f) {
		return f
	}
	var ee *EvalError
	var te *script.ThrownError
	var nf *NotFoundError
	var fe *FieldError
	switch {
	case errors.As(err, &te):
		return fail(http.StatusUnprocessableEntity, oneLine(te.Message), err)
	case errors.Is(err, script.ErrBusy):
		return fail(http.StatusServiceUnavailable, "too many scripts running; retry later", err)
	case errors.Is(err, script.ErrTimeout), errors.Is(err, script.ErrMemory), errors.Is(err, script.ErrStackOverflow):
		return fail(http.StatusInternalServerError, oneLine(limitMessage(err)), err)
	case errors.As(err, &ee):
		return fail(http.StatusUnprocessableEntity, oneLine(ee.Error()), err)
	case errors.As(err, &nf):
		return fail(http.StatusUnprocessableEntity, oneLine(nf.Error()), err)
	case errors.As(err, &fe):
		return fail(http.StatusUnprocessableEntity, oneLine(fe.Error()), err)
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrInvalidField), errors.Is(err, ErrUnknownModel):
		return fail(http.StatusUnprocessableEntity, oneLine(err.Error()), err)
	case errors.Is(err, context.Canceled):
		return fail(http.StatusServiceUnavailable, "the request was cancelled", err)
	case errors.Is(err, context.DeadlineExceeded):
		return fail(http.StatusServiceUnavailable, "the request timed out", err)
	}
	return fail(http.StatusInternalServerError, "internal error", err)
}

func limitMessage(err error) string {
	var le *script.LimitError
	if errors.As(err, &le) {
		return le.Error()
	}
	return err.Error()
}

// oneLine keeps a reason short and on one line.
func oneLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func writeError(rw http.ResponseWriter, status int, reason, id string) {
	h := rw.Header()
	h.Set("Content-Type", "application/json")
	h.Set(CallIDHeader, id)
	if (status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests) && h.Get("Retry-After") == "" {
		h.Set("Retry-After", "1")
	}
	rw.WriteHeader(status)
	b := make([]byte, 0, 64+len(reason))
	b = append(b, `{"status":"error","error":`...)
	b = strconv.AppendQuote(b, reason)
	b = append(b, `,"call_id":"`...)
	b = append(b, id...)
	b = append(b, "\"}\n"...)
	_, _ = rw.Write(b)
}

func newCallID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// finish writes the call-log entry (when the webhook logs calls) and
// reports failures to slog.
func (c *call) finish(status int, reason string, err error) {
	w := c.w
	d := now().Sub(c.start)
	outcome := OutcomeOK
	switch {
	case c.duplicate:
		outcome = OutcomeDuplicate
	case status >= 500:
		outcome = OutcomeFailed
	case status >= 400:
		outcome = OutcomeRejected
	}
	if status >= 400 {
		w.reg.log.Warn("webhook call failed", "webhook", w.name, "call_id", c.id, "status", status, "error", errText(err, reason))
	}
	if !w.logCalls {
		return
	}
	entry := &Call{
		ID:         c.id,
		Webhook:    w.name,
		Time:       c.start,
		Duration:   d,
		Method:     c.req.Method,
		RemoteAddr: c.req.RemoteAddr,
		Headers:    redactHeaders(c.req.Header),
		Status:     status,
		Outcome:    outcome,
	}
	if status >= 400 {
		entry.Error = errText(err, reason)
	}
	raw := c.body
	if len(raw) == 0 {
		entry.Payload = c.req.URL.RawQuery
	} else {
		max := w.reg.cfg.MaxLoggedPayload
		if len(raw) > max {
			raw, entry.PayloadTruncated = raw[:max], true
		}
		entry.Payload = string(raw)
	}
	if len(w.redact) > 0 && c.payload != nil {
		entry.Payload, entry.PayloadTruncated = redactPayload(c.payload, w.redact, w.reg.cfg.MaxLoggedPayload)
	} else if len(w.redact) > 0 {
		// The payload never parsed: keep nothing of it rather than risk
		// logging a field that should have been redacted.
		entry.Payload, entry.PayloadTruncated = "", len(raw) > 0
	}
	// The call is over: its touches and log lines move to the entry. A
	// script abandoned after its time limit may still log; it then starts
	// a slice of its own.
	if status < 400 && len(c.touched) > 0 {
		entry.Touched, c.touched = c.touched, nil
	}
	c.logMu.Lock()
	if len(c.logs) > 0 {
		entry.Logs, c.logs = c.logs, nil
	}
	c.logMu.Unlock()
	// The entry is written after the transaction has ended, so it stands
	// whether the call committed or rolled back. It is written even when
	// the client has gone, so its context does not carry the request's
	// cancellation.
	if err := w.reg.calls.Append(context.WithoutCancel(c.ctx), entry); err != nil {
		w.reg.log.Warn("webhook: writing the call log failed", "webhook", w.name, "call_id", c.id, "error", err)
	}
}

func errText(err error, reason string) string {
	if err == nil {
		return reason
	}
	var te *script.ThrownError
	if errors.As(err, &te) && te.Stack != "" {
		return te.Message + "\n" + te.Stack
	}
	return err.Error()
}

// deliveryKey evaluates the dedupe key of the call.
func (c *call) deliveryKey(e *expr) error {
	v, err := c.eval(e, "dedupe.key", nil)
	if err != nil {
		return err
	}
	var key string
	switch x := v.Value().(type) {
	case string:
		key = x
	case int64:
		key = strconv.FormatInt(x, 10)
	case uint64:
		key = strconv.FormatUint(x, 10)
	default:
		return &EvalError{Field: "dedupe.key", Err: fmt.Errorf("key yields %s, want a string or an int", v.Type().TypeName())}
	}
	if key == "" {
		return &EvalError{Field: "dedupe.key", Err: errors.New("the delivery key is empty")}
	}
	if len(key) > 512 {
		return &EvalError{Field: "dedupe.key", Err: errors.New("the delivery key is longer than 512 bytes")}
	}
	c.delivery = key
	return nil
}

// redactPayload serializes the payload for the call log with the listed
// fields replaced, cut at max bytes.
func redactPayload(p map[string]any, paths [][]string, max int) (string, bool) {
	red := redactValue(p, paths, 0).(map[string]any)
	b, err := json.Marshal(red)
	if err != nil {
		return "", true
	}
	if len(b) > max {
		return string(b[:max]), true
	}
	return string(b), false
}

func redactValue(v any, paths [][]string, depth int) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]any, len(m))
	for k, e := range m {
		var sub [][]string
		hit := false
		for _, p := range paths {
			if len(p) > depth && p[depth] == k {
				if len(p) == depth+1 {
					hit = true
				} else {
					sub = append(sub, p)
				}
			}
		}
		switch {
		case hit:
			out[k] = redacted
		case len(sub) > 0:
			if l, ok := e.([]any); ok {
				nl := make([]any, len(l))
				for i, x := range l {
					nl[i] = redactValue(x, sub, depth+1)
				}
				out[k] = nl
			} else {
				out[k] = redactValue(e, sub, depth+1)
			}
		default:
			out[k] = e
		}
	}
	return out
}
