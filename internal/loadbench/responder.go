package main

import (
	"bytes"
	"errors"
	"net"
	"sync"
)

// rawResponse is what the raw responder answers to every request: what the
// variants answer, without the work.
var rawResponse = []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"status\":\"ok\"}\n")

// responder is a bare-TCP HTTP/1.1 server that answers every request with
// rawResponse. It parses only what framing needs and does not allocate per
// request, so that a generator run against it measures the generator: its
// ceiling in requests per second and its own allocations, which the
// harness subtracts from the variants' figures.
type responder struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// startResponder listens on a free loopback port.
func startResponder() (*responder, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &responder{ln: ln, conns: map[net.Conn]struct{}{}}
	r.wg.Add(1)
	go r.accept()
	return r, nil
}

// Addr returns the host:port the responder listens on.
func (r *responder) Addr() string { return r.ln.Addr().String() }

// Close stops the responder and waits for its goroutines.
func (r *responder) Close() {
	_ = r.ln.Close()
	r.mu.Lock()
	for c := range r.conns {
		_ = c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// accept serves each connection on a goroutine of its own until the
// listener closes.
func (r *responder) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		r.conns[c] = struct{}{}
		r.mu.Unlock()
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			_ = serveRaw(c)
			r.mu.Lock()
			delete(r.conns, c)
			r.mu.Unlock()
			_ = c.Close()
		}()
	}
}

// serveRaw answers the requests on c until it closes.
func serveRaw(c net.Conn) error {
	buf := make([]byte, 16<<10)
	n := 0 // bytes of the next request(s) already in buf
	for {
		head := -1
		for {
			if i := bytes.Index(buf[:n], crlf2); i >= 0 {
				head = i + 4
				break
			}
			if n == len(buf) {
				return errHead
			}
			m, err := c.Read(buf[n:])
			n += m
			if err != nil && m == 0 {
				return err
			}
		}
		h := scanHeader(buf[:head])
		if h.chunked {
			return errors.New("chunked request")
		}
		need := head + max(h.contentLength, 0)
		// Drop the body, keeping any bytes of a pipelined next request.
		for n < need {
			if n == len(buf) {
				// The buffer holds only this request: forget it.
				need -= n
				n = 0
			}
			m, err := c.Read(buf[n:])
			n += m
			if err != nil && n < need {
				return err
			}
		}
		n = copy(buf, buf[need:n])
		if _, err := c.Write(rawResponse); err != nil {
			return err
		}
	}
}
