package verify

import (
	"crypto/sha256"
	"net/http"
	"strings"
	"time"
)

// stripe verifies Stripe-Signature as Stripe's libraries do: the secret is
// used as the HMAC key exactly as given (its "whsec_" prefix included),
// every v1 signature is tried, v0 and unknown items are ignored. Unlike
// Stripe's libraries, a timestamp too far in the future is also refused.
type stripe struct {
	keys []*macKey
	tol  time.Duration
}

func newStripe(secrets []string, tol time.Duration) *stripe {
	v := &stripe{tol: tol}
	for _, s := range secrets {
		v.keys = append(v.keys, newMACKey(sha256.New, []byte(s)))
	}
	return v
}

func (v *stripe) Verify(h http.Header, body []byte, now time.Time) error {
	sig := h.Get("Stripe-Signature")
	if sig == "" {
		return errMissingHeader()
	}
	if len(sig) > MaxHeaderLength {
		return errTooLong()
	}
	var (
		ts     string
		haveTS bool
		raw    [MaxSignatures][sha256.Size]byte
		sigs   [MaxSignatures][]byte
		n, v1s int
		item   string
	)
	for rest := sig; rest != ""; {
		item, rest, _ = strings.Cut(rest, ",")
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		key, val, found := strings.Cut(item, "=")
		if !found {
			return errMalformedHeader()
		}
		switch key {
		case "t":
			if haveTS {
				return errMalformedHeader()
			}
			ts, haveTS = val, true
		case "v1":
			if v1s == MaxSignatures {
				return errTooMany()
			}
			v1s++
			// An undecodable v1 is skipped, as Stripe's libraries do;
			// another v1 may still match.
			if decodeHex(raw[n][:], val) {
				sigs[n] = raw[n][:]
				n++
			}
		}
	}
	if !haveTS {
		return errMissingTimestamp()
	}
	if err := checkTimestamp(ts, now, v.tol); err != nil {
		return err
	}
	if n == 0 {
		return errMalformedHeader()
	}
	if !anyMatches(v.keys, []string{ts, "."}, body, sigs[:n]) {
		return errMismatch()
	}
	return nil
}

// decodeHex decodes s, in either case, into dst, reporting whether s is
// exactly len(dst) bytes of hex. It reads a string so that no copy of the
// header is needed.
func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := fromHex(s[2*i])
		lo, ok2 := fromHex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
