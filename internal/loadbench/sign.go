package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
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
