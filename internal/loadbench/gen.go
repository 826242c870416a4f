package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Load is what one run of the generator sends, and for how long.
type Load struct {
	// Addr is the server's host:port on the loopback interface.
	Addr string
	// Request is one complete HTTP/1.1 request, headers and body, sent as
	// it is on every exchange. Build it with buildRequest.
	Request []byte
	// Conns is the number of connections, each with one request in
	// flight at a time.
	Conns int
	// Duration ends the run: no request starts after it has passed.
	// Used when Requests is zero.
	Duration time.Duration
	// Requests, when positive, ends the run after that many exchanges in
	// all (answered or failed) instead of after Duration.
	Requests int64
	// NewRequester, when set, is called once per connection for a
	// function that appends the next request to dst and returns it, used
	// instead of Request: for requests that must differ, such as signed
	// ones with a fresh id. The time it takes counts as latency.
	NewRequester func() func(dst []byte) []byte
}

// Result is what a run of the generator saw.
type Result struct {
	// Requests counts the responses received, whatever their status.
	Requests int64
	// Non2xx counts the responses whose status is not 2xx.
	Non2xx int64
	// Duplicates counts 2xx responses marked "Webhook-Duplicate: true":
	// the library suppressed the delivery and ran nothing, so the request
	// did not measure what it should have.
	Duplicates int64
	// Failed counts the exchanges that got no usable response: the
	// connection broke or timed out, or the response could not be
	// parsed.
	Failed int64
	// Elapsed is the time from the start of the run until its last
	// exchange ended.
	Elapsed time.Duration
	// Latency holds the time from writing each request until its whole
	// response was read, for every response received.
	Latency Histogram
	// FirstError describes the first non-2xx response or failed exchange,
	// with the start of the response body; empty when there was none.
	FirstError string
}

// Errors counts the exchanges that did not succeed: non-2xx responses and
// failed exchanges. A valid measurement has none.
func (r *Result) Errors() int64 { return r.Non2xx + r.Duplicates + r.Failed }

// Add merges the counts of o into r; Elapsed adds up, so that Requests /
// Elapsed stays the throughput over several runs.
func (r *Result) Add(o *Result) {
	r.Requests += o.Requests
	r.Non2xx += o.Non2xx
	r.Duplicates += o.Duplicates
	r.Failed += o.Failed
	r.Elapsed += o.Elapsed
	r.Latency.Merge(&o.Latency)
	if r.FirstError == "" {
		r.FirstError = o.FirstError
	}
}

// buildHead returns the start of a keep-alive HTTP/1.1 POST of a body of
// n bytes to path on addr, with a JSON content type: the request line and
// the headers, each line ending in CRLF, without the blank line that ends
// them.
func buildHead(addr, path string, header map[string]string, n int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", path, addr, n)
	for k, v := range header {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	return b.Bytes()
}

// buildRequest returns the whole request buildHead starts, with body.
func buildRequest(addr, path string, header map[string]string, body []byte) []byte {
	b := buildHead(addr, path, header, len(body))
	b = append(b, "\r\n"...)
	return append(b, body...)
}

// stallTimeout fails an exchange on which the server has said nothing for
// that long, so that a stuck server ends the run instead of hanging it.
const stallTimeout = 10 * time.Second

// maxDialFailures in a row end a connection's part of the run: the server
// is gone, and retrying would spin.
const maxDialFailures = 3

// Generate runs the load l and returns what it saw: Dial, Run and Close. It is built to cost the
// process as little as possible, since the client shares the machine (and
// the allocation counters) with the server under test: every connection is
// a goroutine with a net.Conn that writes the prebuilt request and reads
// the response into a fixed buffer, parsing only the status line,
// Content-Length and Connection: close. Once connected it does not allocate
// per request. A response must be framed by Content-Length (net/http's
// server does so for the small responses measured here); a chunked one
// fails the exchange.
//
// A connection that breaks is counted as a failed exchange and dialled
// again. Generate returns an error only when no connection could be made
// at all.
func Generate(l Load) (*Result, error) {
	g, err := Dial(l)
	if err != nil {
		return nil, err
	}
	defer g.Close()
	return g.Run(), nil
}

// Generator is a load ready to run: its connections are open and its
// buffers allocated, so that what Run allocates is the traffic's.
type Generator struct {
	load    Load
	workers []*worker
	res     *Result
}

// Dial opens the connections of l (so that dialling counts neither as
// latency nor in Run's allocations, and a dead server is found before the
// run) and allocates what Run needs.
func Dial(l Load) (*Generator, error) {
	if l.Conns <= 0 {
		return nil, errors.New("loadbench: Conns must be positive")
	}
	g := &Generator{load: l, workers: make([]*worker, l.Conns), res: new(Result)}
	for i := range g.workers {
		w := &worker{load: &g.load, buf: make([]byte, 16<<10), req: l.Request}
		if l.NewRequester != nil {
			w.next = l.NewRequester()
			w.req = make([]byte, 0, len(l.Request)+1024)
		}
		g.workers[i] = w
		if err := w.dial(); err != nil {
			g.Close()
			return nil, err
		}
	}
	return g, nil
}

// Run sends the load once and returns what it saw. Call it once.
func (g *Generator) Run() *Result {
	var issued atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(g.load.Duration)
	for _, w := range g.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(end, &issued)
		}()
	}
	wg.Wait()
	res := g.res
	res.Elapsed = time.Since(start)
	for _, w := range g.workers {
		res.Requests += w.requests
		res.Non2xx += w.non2xx
		res.Duplicates += w.duplicates
		res.Failed += w.failed
		res.Latency.Merge(&w.hist)
		if res.FirstError == "" {
			res.FirstError = w.firstErr
		}
	}
	return res
}

// Close closes the connections.
func (g *Generator) Close() {
	for _, w := range g.workers {
		if w != nil {
			w.close()
		}
	}
}

// worker is one connection of the generator.
type worker struct {
	load *Load
	conn net.Conn
	buf  []byte
	// req is the request to send; next, when set, rebuilds it for each
	// exchange.
	req  []byte
	next func(dst []byte) []byte
	hist Histogram
	// sinceDeadline counts exchanges since the connection's deadline was
	// last pushed back.
	sinceDeadline int

	requests, non2xx, duplicates, failed int64
	firstErr                             string
}

// dial opens the worker's connection, with a deadline that a stalled
// server trips.
func (w *worker) dial() error {
	c, err := net.DialTimeout("tcp", w.load.Addr, stallTimeout)
	if err != nil {
		return fmt.Errorf("loadbench: dial %s: %w", w.load.Addr, err)
	}
	w.conn = c
	w.sinceDeadline = 0
	return c.SetDeadline(time.Now().Add(stallTimeout))
}

// close closes the worker's connection, if open.
func (w *worker) close() {
	if w.conn != nil {
		_ = w.conn.Close()
		w.conn = nil
	}
}

// note keeps the first error the worker saw.
func (w *worker) note(format string, args ...any) {
	if w.firstErr == "" {
		w.firstErr = fmt.Sprintf(format, args...)
	}
}

// run sends requests until the end of the run.
func (w *worker) run(end time.Time, issued *atomic.Int64) {
	dialFailures := 0
	for {
		t0 := time.Now()
		if w.load.Requests > 0 {
			if issued.Add(1) > w.load.Requests {
				return
			}
		} else if !t0.Before(end) {
			return
		}
		if w.conn == nil {
			if err := w.dial(); err != nil {
				w.failed++
				w.note("%v", err)
				if dialFailures++; dialFailures >= maxDialFailures {
					return
				}
				continue
			}
			t0 = time.Now()
		}
		dialFailures = 0
		// Pushing the deadline back costs a timer update: do it now
		// and then, well before it can expire.
		if w.sinceDeadline++; w.sinceDeadline >= 256 {
			w.sinceDeadline = 0
			_ = w.conn.SetDeadline(t0.Add(stallTimeout))
		}
		status, dup, keep, err := w.exchange()
		if err != nil {
			w.failed++
			w.note("%v", err)
			w.close()
			continue
		}
		w.hist.Record(time.Since(t0))
		w.requests++
		if status < 200 || status > 299 {
			w.non2xx++
		} else if dup {
			w.duplicates++
			w.note("a response marked Webhook-Duplicate: true")
		}
		if !keep {
			w.close()
		}
	}
}

// Byte strings of the protocol, and the error of a header that does not
// fit the read buffer.
var (
	crlf2   = []byte("\r\n\r\n")
	http1   = []byte("HTTP/1.")
	errHead = errors.New("message header larger than the read buffer")
)

// exchange writes the request and reads one response, returning its
// status, whether it is marked a duplicate and whether the connection stays
// open.
func (w *worker) exchange() (status int, dup, keep bool, err error) {
	if w.next != nil {
		w.req = w.next(w.req[:0])
	}
	if _, err := w.conn.Write(w.req); err != nil {
		return 0, false, false, err
	}
	buf := w.buf
	n, head := 0, -1
	for head < 0 {
		if n == len(buf) {
			return 0, false, false, errHead
		}
		m, err := w.conn.Read(buf[n:])
		from := max(0, n-3)
		n += m
		if i := bytes.Index(buf[from:n], crlf2); i >= 0 {
			head = from + i + 4
			break
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, false, false, fmt.Errorf("reading response header: %w", err)
		}
	}
	status, ok := parseStatus(buf[:head])
	if !ok {
		return 0, false, false, fmt.Errorf("malformed status line %q", firstLine(buf[:head]))
	}
	h := scanHeader(buf[:head])
	length := h.contentLength
	switch {
	case h.chunked:
		return 0, false, false, errors.New("chunked response: the generator reads only Content-Length framing")
	case status == 204 || status == 304 || status < 200:
		length = 0
	case length < 0:
		return 0, false, false, errors.New("response without Content-Length")
	}
	got := n - head
	if got > length {
		return 0, false, false, fmt.Errorf("%d bytes after the response: the server answered more than asked", got-length)
	}
	if (status < 200 || status > 299) && w.firstErr == "" {
		w.note("status %d: %.200q", status, buf[head:n])
	}
	for got < length {
		m, err := w.conn.Read(buf[:min(len(buf), length-got)])
		got += m
		if err != nil && got < length {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, false, false, fmt.Errorf("reading response body: %w", err)
		}
	}
	return status, h.duplicate, !h.close, nil
}

// parseStatus reads the status code of "HTTP/1.x NNN ...".
func parseStatus(head []byte) (int, bool) {
	if len(head) < 12 || !bytes.HasPrefix(head, http1) || head[8] != ' ' {
		return 0, false
	}
	s := 0
	for _, c := range head[9:12] {
		if c < '0' || c > '9' {
			return 0, false
		}
		s = s*10 + int(c-'0')
	}
	return s, true
}

// firstLine returns b up to its first CR, for error messages.
func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\r'); i >= 0 {
		return b[:i]
	}
	return b
}

// header is what the generator and the raw responder need of a message
// header.
type header struct {
	// contentLength is -1 when there is none (or it is malformed).
	contentLength int
	chunked       bool
	// close is set by "Connection: close".
	close bool
	// duplicate is set by "Webhook-Duplicate: true".
	duplicate bool
}

// scanHeader reads the fields of a message header (start line included,
// skipped), without allocating.
func scanHeader(head []byte) header {
	h := header{contentLength: -1}
	i := bytes.IndexByte(head, '\n')
	for i >= 0 && i+1 < len(head) {
		line := head[i+1:]
		j := bytes.IndexByte(line, '\n')
		if j < 0 {
			break
		}
		i += j + 1
		line = bytes.TrimRight(line[:j], "\r")
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			continue
		}
		name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
		switch {
		case asciiEqualFold(name, "content-length"):
			n, err := strconv.Atoi(string(value)) // no allocation: the conversion does not escape
			if err == nil && n >= 0 {
				h.contentLength = n
			}
		case asciiEqualFold(name, "transfer-encoding"):
			h.chunked = !asciiEqualFold(value, "identity")
		case asciiEqualFold(name, "connection"):
			h.close = asciiEqualFold(value, "close")
		case asciiEqualFold(name, "webhook-duplicate"):
			h.duplicate = asciiEqualFold(value, "true")
		}
	}
	return h
}

// asciiEqualFold reports whether b equals s, ignoring the case of ASCII
// letters; s must be lower case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
