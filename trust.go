package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/hookline/webhook/internal/verify"
)

// Verify configures how a webhook checks who sent a call, beyond knowing
// its URL. Every scheme is checked on the raw body bytes before anything is
// parsed or run; a call that fails answers 401 with a short reason.
//
// Schemes:
//   - "standard-webhooks": webhook-id, webhook-timestamp and
//     webhook-signature headers (or svix-*), "v1" HMAC-SHA256 with
//     whsec_ secrets and "v1a" ed25519 with whpk_ public keys.
//   - "github": X-Hub-Signature-256 (sha256=<hex>).
//   - "stripe": Stripe-Signature (t=...,v1=...), the key used as given.
//   - "shopify": X-Shopify-Hmac-Sha256 (base64).
//   - "hmac": an HMAC of the body in Header, with Algorithm (sha1, sha256,
//     sha512), Encoding (hex or base64) and an optional Prefix.
//   - "token": a static token, by default "Authorization: Bearer <token>",
//     or raw in Header.
//   - "basic": HTTP basic auth; each secret is "user:password".
//
// Several secrets may be listed at once, so a sender's key can be rotated
// without downtime: any one of them is enough.
type Verify struct {
	Scheme    string   `json:"scheme"`
	Secrets   []string `json:"secrets"`
	Tolerance Duration `json:"tolerance,omitempty"`
	Header    string   `json:"header,omitempty"`
	Algorithm string   `json:"algorithm,omitempty"`
	Encoding  string   `json:"encoding,omitempty"`
	Prefix    string   `json:"prefix,omitempty"`
}

// Dedupe makes a webhook run each delivery once. Key is a CEL expression
// over headers, query and payload that names the delivery; empty means the
// scheme's own id (webhook-id, X-GitHub-Delivery, Stripe's event id). A
// delivery whose key was seen in a call that succeeded within Window
// (default 24h) runs nothing and answers 200 with the header
// Webhook-Duplicate: true. A failed call is not remembered, so the sender
// may retry it. The keys are kept by the record store, in the call's
// transaction, so two instances on one database never both run a delivery.
type Dedupe struct {
	Key    string   `json:"key,omitempty"`
	Window Duration `json:"window,omitempty"`
}

// Limits bounds what callers may send to one webhook. Zero fields take
// the registry's defaults.
type Limits struct {
	// MaxBody caps the body, such as "1MiB"; a longer one gets 413
	// without being read past the limit.
	MaxBody ByteSize `json:"max_body,omitempty"`
	// MaxDepth caps how deeply a JSON payload nests.
	MaxDepth int `json:"max_depth,omitempty"`
	// Rate is a sustained rate of calls such as "50/s" or "100/m";
	// calls beyond it (and Burst) get 429 with Retry-After.
	Rate Rate `json:"rate,omitempty"`
	// Burst is how many calls may arrive at once above Rate; default
	// the rate per second, at least 1.
	Burst int `json:"burst,omitempty"`
	// MaxInFlight caps the calls running at once; one more gets 429.
	// Default DefaultMaxInFlight.
	MaxInFlight int `json:"max_in_flight,omitempty"`
}

// DefaultMaxInFlight is the default cap on calls running at once per
// webhook: enough for a busy sender, small enough that a flood cannot tie
// up every connection of a small database pool.
const DefaultMaxInFlight = 64

// ByteSize is a size in bytes that reads JSON as a number or a string such
// as "512KiB", "1MiB" or "16MB".
type ByteSize int64

// MarshalJSON writes s as a number of bytes.
func (s ByteSize) MarshalJSON() ([]byte, error) { return json.Marshal(int64(s)) }

// UnmarshalJSON reads a number of bytes or a size string.
func (s *ByteSize) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case float64:
		if x < 0 || x > math.MaxInt64 || x != math.Trunc(x) {
			return fmt.Errorf("invalid size %s", b)
		}
		*s = ByteSize(x)
		return nil
	case string:
		n, err := ParseByteSize(x)
		if err != nil {
			return err
		}
		*s = n
		return nil
	}
	return fmt.Errorf("invalid size %s: want a number or a string such as \"1MiB\"", b)
}

// ParseByteSize reads "1024", "512KiB", "1MiB", "1GiB", "16MB", "64kB".
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	mult := map[string]float64{"": 1, "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q", s, unit)
	}
	if f*mult > math.MaxInt64 {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return ByteSize(f * mult), nil
}

// Rate is a number of calls per unit of time, written "50/s", "100/m" or
// "1000/h" in JSON.
type Rate struct {
	Calls int
	Per   time.Duration
}

// String writes r as "N/s", "N/m" or "N/h".
func (r Rate) String() string {
	switch r.Per {
	case time.Minute:
		return fmt.Sprintf("%d/m", r.Calls)
	case time.Hour:
		return fmt.Sprintf("%d/h", r.Calls)
	}
	return fmt.Sprintf("%d/s", r.Calls)
}

// MarshalJSON writes r as a string; a zero Rate as "".
func (r Rate) MarshalJSON() ([]byte, error) {
	if r.Calls == 0 {
		return []byte(`""`), nil
	}
	return json.Marshal(r.String())
}

// UnmarshalJSON reads "N/s", "N/m", "N/h" (or "N/1s", any duration).
func (r *Rate) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("invalid rate %s: want a string such as \"50/s\"", b)
	}
	if s == "" {
		*r = Rate{}
		return nil
	}
	p, err := ParseRate(s)
	if err != nil {
		return err
	}
	*r = p
	return nil
}

// ParseRate reads "50/s", "100/m", "1000/h" or "10/30s".
func ParseRate(s string) (Rate, error) {
	n, per, ok := strings.Cut(strings.TrimSpace(s), "/")
	calls, err := strconv.Atoi(n)
	if !ok || err != nil || calls <= 0 {
		return Rate{}, fmt.Errorf("invalid rate %q: want calls/unit such as \"50/s\"", s)
	}
	var d time.Duration
	switch per {
	case "s", "sec", "second":
		d = time.Second
	case "m", "min", "minute":
		d = time.Minute
	case "h", "hour":
		d = time.Hour
	default:
		if d, err = time.ParseDuration(per); err != nil || d <= 0 {
			return Rate{}, fmt.Errorf("invalid rate %q: unknown unit %q", s, per)
		}
	}
	return Rate{Calls: calls, Per: d}, nil
}

// guard is a webhook's compiled trust configuration.
type guard struct {
	verifier    verify.Verifier
	allow       []netip.Prefix
	limiter     *rate.Limiter
	retryAfter  string
	maxInFlight int64
	inFlight    atomic.Int64
	maxBody     int64
	maxDepth    int
	dedupeKey   *expr
	dedupeTTL   time.Duration
}

func (r *Registry) buildGuard(def *Definition) (*guard, error) {
	g := &guard{maxBody: r.cfg.MaxBody, maxDepth: r.cfg.MaxDepth, maxInFlight: DefaultMaxInFlight}
	bad := func(field string, err error) error {
		return &ConfigError{Webhook: def.Name, Field: field, Message: err.Error()}
	}
	if v := def.Verify; v != nil {
		ver, err := verify.New(verify.Config{Scheme: v.Scheme, Secrets: v.Secrets, Tolerance: time.Duration(v.Tolerance),
			Header: v.Header, Algorithm: v.Algorithm, Encoding: v.Encoding, Prefix: v.Prefix})
		if err != nil {
			return nil, bad("verify", err)
		}
		g.verifier = ver
	}
	for i, s := range def.AllowIPs {
		p, err := parsePrefix(s)
		if err != nil {
			return nil, bad(fmt.Sprintf("allow_ips[%d]", i), err)
		}
		g.allow = append(g.allow, p)
	}
	if l := def.Limits; l != nil {
		if l.MaxBody < 0 || l.MaxDepth < 0 || l.Burst < 0 || l.MaxInFlight < 0 {
			return nil, bad("limits", errors.New("limits cannot be negative"))
		}
		if l.MaxBody > 0 {
			g.maxBody = int64(l.MaxBody)
		}
		if l.MaxDepth > 0 {
			g.maxDepth = l.MaxDepth
		}
		if l.MaxInFlight > 0 {
			g.maxInFlight = int64(l.MaxInFlight)
		}
		if l.Rate.Calls > 0 {
			every := l.Rate.Per / time.Duration(l.Rate.Calls)
			burst := l.Burst
			if burst <= 0 {
				burst = max(1, int(float64(l.Rate.Calls)*float64(time.Second)/float64(l.Rate.Per)))
			}
			g.limiter = rate.NewLimiter(rate.Every(every), burst)
			g.retryAfter = strconv.Itoa(int(math.Ceil(every.Seconds())))
		}
	}
	if d := def.Dedupe; d != nil {
		key := d.Key
		if key == "" && def.Verify != nil {
			key = verify.DefaultDedupeKey(def.Verify.Scheme)
		}
		if key == "" {
			return nil, bad("dedupe.key", errors.New("a dedupe key is needed (a CEL expression such as headers['x-delivery-id']); only some verify schemes have a default"))
		}
		e, err := compileExpr(def.Name, "dedupe.key", key, nil)
		if err != nil {
			return nil, err
		}
		g.dedupeKey = e
		g.dedupeTTL = time.Duration(d.Window)
		if g.dedupeTTL <= 0 {
			g.dedupeTTL = 24 * time.Hour
		}
		_, tx := r.cfg.Store.(Transactor)
		_, claims := r.cfg.Store.(DeliveryClaimer)
		if !tx || !claims {
			return nil, bad("dedupe", fmt.Errorf("the record store (%T) cannot remember deliveries: it must implement Transactor and DeliveryClaimer", r.cfg.Store))
		}
	}
	return g, nil
}

// parsePrefix reads a CIDR or a bare address, which stands for itself
// alone: a /32 for IPv4, a /128 for IPv6. IPv4-mapped IPv6 forms are
// treated as the IPv4 address they carry.
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid CIDR %q", s)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid address %q", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func containsAddr(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr is the address a call came from: RemoteAddr, unless that is a
// trusted proxy; then the right-most address of X-Forwarded-For (or
// Forwarded) that is not a trusted proxy, since everything to its left was
// written by the client and can be forged.
func (r *Registry) clientAddr(req *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(req.RemoteAddr)
	var a netip.Addr
	if err == nil {
		a = ap.Addr()
	} else if a, err = netip.ParseAddr(req.RemoteAddr); err != nil {
		return netip.Addr{}, false
	}
	a = a.Unmap().WithZone("")
	if len(r.proxies) == 0 || !containsAddr(r.proxies, a) {
		return a, true
	}
	hops := forwardedFor(req.Header)
	for i := len(hops) - 1; i >= 0; i-- {
		h, err := netip.ParseAddr(hops[i])
		if err != nil {
			return netip.Addr{}, false
		}
		h = h.Unmap().WithZone("")
		if !containsAddr(r.proxies, h) {
			return h, true
		}
		a = h
	}
	return a, true
}

// forwardedFor lists the addresses of X-Forwarded-For, or of Forwarded's
// for= parameters when there is no X-Forwarded-For, left to right.
func forwardedFor(h http.Header) []string {
	var out []string
	if xs := h.Values("X-Forwarded-For"); len(xs) > 0 {
		for _, x := range xs {
			for _, p := range strings.Split(x, ",") {
				if p = strings.TrimSpace(p); p != "" {
					out = append(out, p)
				}
			}
		}
		return out
	}
	for _, f := range h.Values("Forwarded") {
		for _, elem := range strings.Split(f, ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if !ok || !strings.EqualFold(k, "for") {
					continue
				}
				v = strings.Trim(v, `"`)
				if strings.HasPrefix(v, "[") {
					if end := strings.IndexByte(v, ']'); end > 0 {
						v = v[1:end]
					}
				} else if host, _, ok := strings.Cut(v, ":"); ok && strings.Count(v, ":") == 1 {
					v = host
				}
				out = append(out, v)
			}
		}
	}
	return out
}
