// Package verify checks that an incoming webhook request was sent by who
// it claims: a signature over the raw body (Standard Webhooks, GitHub,
// Stripe, Shopify, generic HMAC) or a static credential (bearer token,
// HTTP basic auth).
//
// A [Verifier] is built once from a [Config] by [New], which reports every
// configuration mistake up front; after that it is immutable and safe for
// concurrent use. Verify never returns an error that contains a secret, a
// computed signature or the signature received: every failure is an
// [*Error] whose Reason is short enough to send to the client, and which
// matches one of [ErrMissing], [ErrMalformed], [ErrMismatch] or
// [ErrTimestamp] with errors.Is.
//
// All comparisons of secret material are constant time, every configured
// secret is tried on every request (so that timing does not reveal which
// one matched), and the work a request can cause is bounded: signature
// headers longer than 4 KiB, or carrying more than 16 signatures, are
// rejected before any MAC is computed.
package verify

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The schemes [New] accepts in [Config.Scheme].
const (
	// SchemeStandardWebhooks is the Standard Webhooks specification
	// (standardwebhooks.com), also sent by Svix: headers webhook-id,
	// webhook-timestamp and webhook-signature (or their svix- twins),
	// "v1," HMAC-SHA256 or "v1a," ed25519 signatures over
	// "id.timestamp.body".
	SchemeStandardWebhooks = "standard-webhooks"
	// SchemeGitHub is GitHub's X-Hub-Signature-256: "sha256=" and the hex
	// HMAC-SHA256 of the body. The legacy SHA-1 X-Hub-Signature, which
	// GitHub sends alongside, is deliberately not a fallback: accepting it
	// would let a request without the SHA-256 header downgrade the check.
	// A sender that only signs with SHA-1 can be verified with the hmac
	// scheme (Header "X-Hub-Signature", Algorithm "sha1", Prefix "sha1=").
	SchemeGitHub = "github"
	// SchemeStripe is Stripe's Stripe-Signature: "t=<unix>,v1=<hex>,..."
	// with HMAC-SHA256 over "t.body". Unlike Stripe's own libraries, a
	// timestamp too far in the future is refused as well as a stale one.
	SchemeStripe = "stripe"
	// SchemeShopify is Shopify's X-Shopify-Hmac-Sha256: the base64
	// HMAC-SHA256 of the body.
	SchemeShopify = "shopify"
	// SchemeHMAC is an HMAC of the body in a header the configuration
	// names, for senders that follow none of the schemes above.
	SchemeHMAC = "hmac"
	// SchemeToken is a static token sent with every request, by default
	// as "Authorization: Bearer <token>".
	SchemeToken = "token"
	// SchemeBasic is HTTP basic authentication (RFC 7617).
	SchemeBasic = "basic"
)

// DefaultTolerance is how far a signed timestamp may be from the
// verifier's clock, in either direction, when [Config.Tolerance] is zero.
// It is the default of the Standard Webhooks and Stripe libraries.
const DefaultTolerance = 5 * time.Minute

// Limits on what one request can make a [Verifier] do.
const (
	// MaxHeaderLength is the longest signature, credential or message id
	// header accepted, in bytes.
	MaxHeaderLength = 4096
	// MaxSignatures is the most signatures one header may carry.
	MaxSignatures = 16
)

// Config says how a [Verifier] authenticates requests. Fields a scheme
// does not use must be left zero; [New] reports them otherwise.
type Config struct {
	// Scheme is one of "standard-webhooks", "github", "stripe",
	// "shopify", "hmac", "token" or "basic".
	Scheme string

	// Secrets are the accepted secrets; a request is authentic when it
	// matches any one of them, so that a secret can be rotated without
	// downtime. Their form depends on the scheme:
	//
	//   - standard-webhooks: "whsec_<base64>" HMAC keys and
	//     "whpk_<base64>" ed25519 public keys, mixed freely; a key with
	//     neither prefix is read as "whsec_" base64, as the Standard
	//     Webhooks libraries do.
	//   - github, stripe, shopify, hmac: the signing secret exactly as the
	//     sender shows it (for Stripe the "whsec_" prefix is part of the
	//     key and is not decoded).
	//   - token: the token.
	//   - basic: "user:password", both non-empty; the password may
	//     contain colons.
	Secrets []string

	// Tolerance bounds the difference between a signed timestamp and now,
	// in both directions, for standard-webhooks and stripe; zero means
	// [DefaultTolerance]. The timestamp is checked before the signature,
	// so a stale request costs no MAC.
	Tolerance time.Duration

	// Header names the header carrying the signature (hmac, required) or
	// the token (token). For token, an empty Header means
	// "Authorization: Bearer <token>" (the scheme word in any case); a
	// named Header carries the token itself, after Prefix if one is set,
	// as in GitLab's X-Gitlab-Token.
	Header string
	// Algorithm is the hmac scheme's hash: "sha1", "sha256" (default) or
	// "sha512", in any case.
	Algorithm string
	// Encoding is how the hmac scheme's signature is written: "hex"
	// (default; either case is accepted) or "base64" (standard alphabet,
	// padded).
	Encoding string
	// Prefix is text the header value must start with, removed before the
	// signature or token is read, such as "sha256=" (hmac) or "Token "
	// (token); it is matched without regard to ASCII case.
	Prefix string
}

// Verifier authenticates incoming requests. Implementations returned by
// [New] are safe for concurrent use.
type Verifier interface {
	// Verify checks the request headers and the raw body bytes, as
	// received, at time now. It returns nil when the request is
	// authentic, and otherwise an [*Error].
	Verify(h http.Header, body []byte, now time.Time) error
}

// Sentinel errors matched by every [*Error] a [Verifier] returns, for
// callers that branch with errors.Is.
var (
	// ErrMissing means a header the scheme requires is absent or empty.
	ErrMissing = errors.New("missing signature header")
	// ErrMalformed means a header is present but cannot be read.
	ErrMalformed = errors.New("malformed signature header")
	// ErrMismatch means no signature or credential matched any secret.
	ErrMismatch = errors.New("signature mismatch")
	// ErrTimestamp means the signed timestamp is too far from now.
	ErrTimestamp = errors.New("timestamp outside tolerance")
)

// Error is why a request failed verification. Reason is short and safe to
// return to the client: it never contains a secret or a signature.
type Error struct {
	// Reason is a short, client-safe explanation such as "signature
	// mismatch" or "timestamp outside tolerance".
	Reason string
	kind   error
}

// Error returns the Reason.
func (e *Error) Error() string { return e.Reason }

// Unwrap returns the sentinel ([ErrMissing], [ErrMalformed],
// [ErrMismatch] or [ErrTimestamp]) the error belongs to.
func (e *Error) Unwrap() error { return e.kind }

func fail(kind error, reason string) error { return &Error{Reason: reason, kind: kind} }

// The reasons, kept in one place so that they stay short and uniform.
func errMissingHeader() error    { return fail(ErrMissing, "missing signature header") }
func errMissingTimestamp() error { return fail(ErrMissing, "missing timestamp") }
func errMissingID() error        { return fail(ErrMissing, "missing message id") }
func errMissingCreds() error     { return fail(ErrMissing, "missing credentials") }
func errMalformedHeader() error  { return fail(ErrMalformed, "malformed signature header") }
func errMalformedID() error      { return fail(ErrMalformed, "malformed message id") }
func errMalformedTS() error      { return fail(ErrMalformed, "malformed timestamp") }
func errTooLong() error          { return fail(ErrMalformed, "signature header too long") }
func errTooMany() error          { return fail(ErrMalformed, "too many signatures") }
func errUnsupported() error      { return fail(ErrMalformed, "unsupported signature version") }
func errMalformedCreds() error   { return fail(ErrMalformed, "malformed credentials") }
func errMismatch() error         { return fail(ErrMismatch, "signature mismatch") }
func errInvalidCreds() error     { return fail(ErrMismatch, "invalid credentials") }
func errOutsideTolerance() error { return fail(ErrTimestamp, "timestamp outside tolerance") }

// New builds the [Verifier] c describes. It reports every mistake in c
// (unknown scheme, no secret, a secret that cannot be decoded, a field the
// scheme does not use) without quoting any secret.
func New(c Config) (Verifier, error) {
	if len(c.Secrets) == 0 {
		return nil, fmt.Errorf("verify: scheme %q: no secrets configured", c.Scheme)
	}
	for i, s := range c.Secrets {
		if s == "" {
			return nil, fmt.Errorf("verify: scheme %q: secret %d is empty", c.Scheme, i)
		}
	}
	if c.Tolerance < 0 {
		return nil, fmt.Errorf("verify: scheme %q: negative Tolerance %v", c.Scheme, c.Tolerance)
	}
	switch c.Scheme {
	case SchemeStandardWebhooks:
		if err := unused(c, true, "Header", "Algorithm", "Encoding", "Prefix"); err != nil {
			return nil, err
		}
		return newStandardWebhooks(c.Secrets, tolerance(c))
	case SchemeStripe:
		if err := unused(c, true, "Header", "Algorithm", "Encoding", "Prefix"); err != nil {
			return nil, err
		}
		return newStripe(c.Secrets, tolerance(c)), nil
	case SchemeGitHub:
		if err := unused(c, false, "Header", "Algorithm", "Encoding", "Prefix"); err != nil {
			return nil, err
		}
		return newBodyMAC(c.Secrets, "X-Hub-Signature-256", "sha256", "hex", "sha256=")
	case SchemeShopify:
		if err := unused(c, false, "Header", "Algorithm", "Encoding", "Prefix"); err != nil {
			return nil, err
		}
		return newBodyMAC(c.Secrets, "X-Shopify-Hmac-Sha256", "sha256", "base64", "")
	case SchemeHMAC:
		if err := unused(c, false); err != nil {
			return nil, err
		}
		if strings.TrimSpace(c.Header) == "" {
			return nil, errors.New(`verify: scheme "hmac": Header is required`)
		}
		return newBodyMAC(c.Secrets, c.Header, c.Algorithm, c.Encoding, c.Prefix)
	case SchemeToken:
		if err := unused(c, false, "Algorithm", "Encoding"); err != nil {
			return nil, err
		}
		return newToken(c.Secrets, c.Header, c.Prefix)
	case SchemeBasic:
		if err := unused(c, false, "Header", "Algorithm", "Encoding", "Prefix"); err != nil {
			return nil, err
		}
		return newBasic(c.Secrets)
	case "":
		return nil, errors.New("verify: no scheme configured")
	default:
		return nil, fmt.Errorf("verify: unknown scheme %q", c.Scheme)
	}
}

// unused reports a field set in c that the scheme ignores, so that a
// misread configuration fails at setup rather than silently verifying
// less than its author believed.
func unused(c Config, timestamped bool, fields ...string) error {
	if !timestamped && c.Tolerance != 0 {
		return fmt.Errorf("verify: scheme %q: Tolerance is not used by this scheme (it signs no timestamp)", c.Scheme)
	}
	for _, f := range fields {
		var v string
		switch f {
		case "Header":
			v = c.Header
		case "Algorithm":
			v = c.Algorithm
		case "Encoding":
			v = c.Encoding
		case "Prefix":
			v = c.Prefix
		}
		if v != "" {
			return fmt.Errorf("verify: scheme %q: %s is not used by this scheme", c.Scheme, f)
		}
	}
	return nil
}

func tolerance(c Config) time.Duration {
	if c.Tolerance == 0 {
		return DefaultTolerance
	}
	return c.Tolerance
}

// DefaultDedupeKey returns the CEL expression, over the request's
// lower-cased headers and decoded payload, that identifies one delivery of
// the scheme (the same across the sender's retries), or "" when the scheme
// defines none.
func DefaultDedupeKey(scheme string) string {
	switch scheme {
	case SchemeStandardWebhooks:
		return "headers['webhook-id']"
	case SchemeGitHub:
		return "headers['x-github-delivery']"
	case SchemeStripe:
		return "payload.id"
	}
	return ""
}

// checkTimestamp parses a decimal unix-seconds header value and checks it
// against now. Only plain ASCII digits are accepted, so that the string
// signed is the string checked.
func checkTimestamp(ts string, now time.Time, tol time.Duration) error {
	if ts == "" {
		return errMissingTimestamp()
	}
	if len(ts) > 18 {
		return errMalformedTS()
	}
	var n int64
	for i := 0; i < len(ts); i++ {
		c := ts[i]
		if c < '0' || c > '9' {
			return errMalformedTS()
		}
		n = n*10 + int64(c-'0')
	}
	d := now.Sub(time.Unix(n, 0))
	if d > tol || d < -tol {
		return errOutsideTolerance()
	}
	return nil
}
