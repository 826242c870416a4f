package verify

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Standard Webhooks secret prefixes (standardwebhooks.com, "Signature
// scheme").
const (
	swSecretPrefix     = "whsec_"
	swPublicKeyPrefix  = "whpk_"
	swPrivateKeyPrefix = "whsk_"
)

// Encoded lengths of the two signature kinds in standard base64.
var (
	v1Len  = base64.StdEncoding.EncodedLen(sha256.Size)
	v1aLen = base64.StdEncoding.EncodedLen(ed25519.SignatureSize)
)

var strictBase64 = base64.StdEncoding.Strict()

type standardWebhooks struct {
	macKeys []*macKey
	pubKeys []ed25519.PublicKey
	tol     time.Duration
}

func newStandardWebhooks(secrets []string, tol time.Duration) (*standardWebhooks, error) {
	v := &standardWebhooks{tol: tol}
	for i, s := range secrets {
		switch {
		case strings.HasPrefix(s, swPublicKeyPrefix):
			pk, err := base64.StdEncoding.DecodeString(s[len(swPublicKeyPrefix):])
			if err != nil {
				return nil, fmt.Errorf("verify: scheme %q: secret %d: whpk_ public key is not valid base64", SchemeStandardWebhooks, i)
			}
			if len(pk) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("verify: scheme %q: secret %d: whpk_ public key is %d bytes, want %d", SchemeStandardWebhooks, i, len(pk), ed25519.PublicKeySize)
			}
			v.pubKeys = append(v.pubKeys, ed25519.PublicKey(pk))
		case strings.HasPrefix(s, swPrivateKeyPrefix):
			return nil, fmt.Errorf("verify: scheme %q: secret %d is a whsk_ private signing key; configure its whpk_ public key instead", SchemeStandardWebhooks, i)
		default:
			// The libraries strip an optional whsec_ and decode the rest
			// as standard base64.
			key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, swSecretPrefix))
			if err != nil {
				return nil, fmt.Errorf("verify: scheme %q: secret %d: whsec_ secret is not valid base64", SchemeStandardWebhooks, i)
			}
			if len(key) == 0 {
				return nil, fmt.Errorf("verify: scheme %q: secret %d: whsec_ secret is empty", SchemeStandardWebhooks, i)
			}
			v.macKeys = append(v.macKeys, newMACKey(sha256.New, key))
		}
	}
	return v, nil
}

// maxPooledMessage keeps one huge body from pinning its buffer forever.
const maxPooledMessage = 64 << 10

// messagePool holds buffers for assembling the ed25519-signed message,
// which, unlike an HMAC input, must be contiguous.
var messagePool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func (v *standardWebhooks) Verify(h http.Header, body []byte, now time.Time) error {
	// Standard Webhooks headers first; Svix sends the same scheme under
	// svix- names, and its libraries accept either set.
	id, ts, sig := h.Get("Webhook-Id"), h.Get("Webhook-Timestamp"), h.Get("Webhook-Signature")
	if id == "" && ts == "" && sig == "" {
		id, ts, sig = h.Get("Svix-Id"), h.Get("Svix-Timestamp"), h.Get("Svix-Signature")
	}
	if sig == "" {
		return errMissingHeader()
	}
	if len(sig) > MaxHeaderLength {
		return errTooLong()
	}
	if id == "" {
		return errMissingID()
	}
	if len(id) > MaxHeaderLength {
		return errMalformedID()
	}
	if err := checkTimestamp(ts, now, v.tol); err != nil {
		return err
	}

	var (
		raw            [MaxSignatures][ed25519.SignatureSize + 2]byte
		v1, v1a        [MaxSignatures][]byte
		n1, na         int
		entries        int
		bad, unknown   int
		header         = []byte(sig)
		rest           = header
		entry, version []byte
	)
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, ' ')
		if i < 0 {
			entry, rest = rest, nil
		} else {
			entry, rest = rest[:i], rest[i+1:]
		}
		if len(entry) == 0 {
			continue
		}
		if entries == MaxSignatures {
			return errTooMany()
		}
		slot := &raw[entries]
		entries++
		c := bytes.IndexByte(entry, ',')
		if c < 0 {
			bad++
			continue
		}
		version, entry = entry[:c], entry[c+1:]
		switch string(version) {
		case "v1":
			if len(entry) != v1Len {
				bad++
				continue
			}
			if n, err := strictBase64.Decode(slot[:], entry); err != nil || n != sha256.Size {
				bad++
				continue
			}
			v1[n1] = slot[:sha256.Size]
			n1++
		case "v1a":
			if len(entry) != v1aLen {
				bad++
				continue
			}
			if n, err := strictBase64.Decode(slot[:], entry); err != nil || n != ed25519.SignatureSize {
				bad++
				continue
			}
			v1a[na] = slot[:ed25519.SignatureSize]
			na++
		default:
			unknown++
		}
	}
	if n1+na == 0 {
		if unknown > 0 && bad == 0 {
			return errUnsupported()
		}
		return errMalformedHeader()
	}

	ok := false
	if n1 > 0 && len(v.macKeys) > 0 {
		ok = anyMatches(v.macKeys, []string{id, ".", ts, "."}, body, v1[:n1])
	}
	if na > 0 && len(v.pubKeys) > 0 {
		bp := messagePool.Get().(*[]byte)
		msg := append((*bp)[:0], id...)
		msg = append(msg, '.')
		msg = append(msg, ts...)
		msg = append(msg, '.')
		msg = append(msg, body...)
		// Every key and signature is tried; the keys are public, so the
		// only concern is bounding the work, which MaxSignatures does.
		for _, pk := range v.pubKeys {
			for _, s := range v1a[:na] {
				if ed25519.Verify(pk, msg, s) {
					ok = true
				}
			}
		}
		if cap(msg) <= maxPooledMessage {
			*bp = msg[:0]
			messagePool.Put(bp)
		}
	}
	if !ok {
		return errMismatch()
	}
	return nil
}
