package verify

import (
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// bodyMAC verifies one HMAC of the raw body carried in one header: GitHub
// (hex, "sha256=" prefix), Shopify (base64) and the generic hmac scheme.
type bodyMAC struct {
	header string // canonical form, so that Get does not allocate
	prefix string
	size   int // MAC length in bytes
	base64 bool
	keys   []*macKey
}

func newBodyMAC(secrets []string, header, alg, enc, prefix string) (*bodyMAC, error) {
	if !validHeaderName(header) {
		return nil, fmt.Errorf("verify: Header %q is not a valid header name", header)
	}
	newHash, size, ok := hashFor(strings.ToLower(alg))
	if !ok {
		return nil, fmt.Errorf(`verify: unknown Algorithm %q (want "sha1", "sha256" or "sha512")`, alg)
	}
	v := &bodyMAC{header: http.CanonicalHeaderKey(header), prefix: prefix, size: size}
	switch strings.ToLower(enc) {
	case "hex", "":
	case "base64":
		v.base64 = true
	default:
		return nil, fmt.Errorf(`verify: unknown Encoding %q (want "hex" or "base64")`, enc)
	}
	for _, s := range secrets {
		v.keys = append(v.keys, newMACKey(newHash, []byte(s)))
	}
	return v, nil
}

func (v *bodyMAC) Verify(h http.Header, body []byte, _ time.Time) error {
	sig := h.Get(v.header)
	if sig == "" {
		return errMissingHeader()
	}
	if len(sig) > MaxHeaderLength {
		return errTooLong()
	}
	if !hasPrefixFold(sig, v.prefix) {
		return errMalformedHeader()
	}
	sig = sig[len(v.prefix):]
	var raw [sha512.Size + 2]byte
	mac := raw[:v.size]
	if v.base64 {
		if len(sig) != base64.StdEncoding.EncodedLen(v.size) {
			return errMalformedHeader()
		}
		if n, err := strictBase64.Decode(raw[:], []byte(sig)); err != nil || n != v.size {
			return errMalformedHeader()
		}
	} else if !decodeHex(mac, sig) {
		return errMalformedHeader()
	}
	if !anyMatches(v.keys, nil, body, [][]byte{mac}) {
		return errMismatch()
	}
	return nil
}

// validHeaderName reports whether s is an RFC 9110 token, the syntax of a
// field name.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
