package verify

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"hash"
	"sync"
)

// macKey is one HMAC secret. Verifying a request costs one hmac.New per
// secret unless the keyed state is reused, so it is pooled: Reset puts an
// HMAC back to its keyed initial state.
type macKey struct {
	pool sync.Pool // *macState
}

type macState struct {
	mac hash.Hash
	buf []byte // the signed prefix, then the sum
}

func newMACKey(newHash func() hash.Hash, key []byte) *macKey {
	k := &macKey{}
	key = append([]byte(nil), key...)
	k.pool.New = func() any {
		return &macState{mac: hmac.New(newHash, key), buf: make([]byte, 0, 128)}
	}
	return k
}

// matches computes the MAC of the concatenation of head and body and
// reports, as 1 or 0, whether it equals any of sigs. Every signature is
// compared, in constant time, whatever the outcome.
func (k *macKey) matches(head []string, body []byte, sigs [][]byte) int {
	st := k.pool.Get().(*macState)
	st.mac.Reset()
	if len(head) > 0 {
		b := st.buf[:0]
		for _, s := range head {
			b = append(b, s...)
		}
		st.mac.Write(b)
		st.buf = b
	}
	st.mac.Write(body)
	sum := st.mac.Sum(st.buf[:0])
	st.buf = sum
	ok := 0
	for _, s := range sigs {
		ok |= subtle.ConstantTimeCompare(sum, s)
	}
	k.pool.Put(st)
	return ok
}

// anyMatches tries every key, never stopping early, so that the time
// taken does not depend on which key matched.
func anyMatches(keys []*macKey, head []string, body []byte, sigs [][]byte) bool {
	ok := 0
	for _, k := range keys {
		ok |= k.matches(head, body, sigs)
	}
	return ok == 1
}

// hashFor maps a configured algorithm name to its hash and MAC size.
func hashFor(alg string) (func() hash.Hash, int, bool) {
	switch alg {
	case "sha1":
		return sha1.New, sha1.Size, true
	case "sha256", "":
		return sha256.New, sha256.Size, true
	case "sha512":
		return sha512.New, sha512.Size, true
	}
	return nil, 0, false
}

// hasPrefixFold reports whether s starts with prefix, ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		a, b := s[i], prefix[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}
