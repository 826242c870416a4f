package verify

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Static credentials are compared as SHA-256 digests: the digests have a
// fixed length, so the comparison is constant time in the length of the
// secret as well as its content.

// token verifies a static token, by default "Authorization: Bearer <t>".
type token struct {
	header string
	prefix string
	sums   [][sha256.Size]byte
}

func newToken(secrets []string, header, prefix string) (*token, error) {
	switch {
	case header == "" && prefix != "":
		return nil, fmt.Errorf("verify: scheme %q: Prefix needs Header", SchemeToken)
	case header == "":
		header, prefix = "Authorization", "Bearer "
	case !validHeaderName(header):
		return nil, fmt.Errorf("verify: scheme %q: Header %q is not a valid header name", SchemeToken, header)
	}
	v := &token{header: http.CanonicalHeaderKey(header), prefix: prefix}
	for _, s := range secrets {
		v.sums = append(v.sums, sha256.Sum256([]byte(s)))
	}
	return v, nil
}

func (v *token) Verify(h http.Header, _ []byte, _ time.Time) error {
	val := h.Get(v.header)
	if val == "" {
		return errMissingCreds()
	}
	if len(val) > MaxHeaderLength {
		return errMalformedCreds()
	}
	if !hasPrefixFold(val, v.prefix) {
		return errMalformedCreds()
	}
	val = val[len(v.prefix):]
	if val == "" {
		return errMalformedCreds()
	}
	sum := sha256.Sum256([]byte(val))
	ok := 0
	for i := range v.sums {
		ok |= subtle.ConstantTimeCompare(sum[:], v.sums[i][:])
	}
	if ok != 1 {
		return errInvalidCreds()
	}
	return nil
}

// basic verifies HTTP basic authentication against "user:password" pairs.
type basic struct {
	users, passwords [][sha256.Size]byte
}

func newBasic(secrets []string) (*basic, error) {
	v := &basic{}
	for i, s := range secrets {
		user, pass, found := strings.Cut(s, ":")
		if !found || user == "" || pass == "" {
			return nil, fmt.Errorf("verify: scheme %q: secret %d is not \"user:password\" with both parts non-empty", SchemeBasic, i)
		}
		v.users = append(v.users, sha256.Sum256([]byte(user)))
		v.passwords = append(v.passwords, sha256.Sum256([]byte(pass)))
	}
	return v, nil
}

func (v *basic) Verify(h http.Header, _ []byte, _ time.Time) error {
	auth := h.Get("Authorization")
	if auth == "" {
		return errMissingCreds()
	}
	if len(auth) > MaxHeaderLength {
		return errMalformedCreds()
	}
	user, pass, ok := (&http.Request{Header: h}).BasicAuth()
	if !ok {
		return errMalformedCreds()
	}
	u, p := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
	match := 0
	for i := range v.users {
		// Both halves are compared whatever the first one gives.
		match |= subtle.ConstantTimeCompare(u[:], v.users[i][:]) & subtle.ConstantTimeCompare(p[:], v.passwords[i][:])
	}
	if match != 1 {
		return errInvalidCreds()
	}
	return nil
}
