package verify_test

import (
	"crypto/ed25519"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookline/webhook/internal/verify"
)

var (
	now  = time.Unix(1700000000, 0)
	body = []byte(`{"model": "sale.order", "id": "7"}`)
)

// scheme describes one scheme for the behaviour every scheme shares.
type scheme struct {
	cfg verify.Config
	// current and previous are both in cfg.Secrets (previous second, as
	// during a rotation); wrong is not.
	current, previous, wrong string
	// sign returns the headers a sender using secret would send.
	sign        func(secret string, ts time.Time, body []byte) http.Header
	header      string // the header whose absence is "missing"
	bodySigned  bool
	timestamped bool
}

func schemes() map[string]scheme {
	return map[string]scheme{
		"standard-webhooks": {
			cfg:     verify.Config{Scheme: "standard-webhooks"},
			current: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", previous: "whsec_" + base64.StdEncoding.EncodeToString([]byte("previous secret, 24 bytes")),
			wrong: "whsec_" + base64.StdEncoding.EncodeToString([]byte("a wrong secret of 24 byt")),
			sign: func(secret string, ts time.Time, body []byte) http.Header {
				return standardHeaders("msg_1", unix(ts), standardSig(secret, "msg_1", unix(ts), body))
			},
			header: "Webhook-Signature", bodySigned: true, timestamped: true,
		},
		"github": {
			cfg:     verify.Config{Scheme: "github"},
			current: "It's a Secret to Everybody", previous: "old secret", wrong: "wrong",
			sign: func(secret string, _ time.Time, body []byte) http.Header {
				h := http.Header{}
				h.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac(sha256.New, []byte(secret), string(body))))
				return h
			},
			header: "X-Hub-Signature-256", bodySigned: true,
		},
		"stripe": {
			cfg:     verify.Config{Scheme: "stripe"},
			current: "whsec_test_secret", previous: "whsec_previous", wrong: "whsec_wrong",
			sign: func(secret string, ts time.Time, body []byte) http.Header {
				h := http.Header{}
				h.Set("Stripe-Signature", "t="+unix(ts)+",v1="+stripeV1(secret, unix(ts), body))
				return h
			},
			header: "Stripe-Signature", bodySigned: true, timestamped: true,
		},
		"shopify": {
			cfg:     verify.Config{Scheme: "shopify"},
			current: "hush", previous: "old hush", wrong: "wrong",
			sign: func(secret string, _ time.Time, body []byte) http.Header {
				h := http.Header{}
				h.Set("X-Shopify-Hmac-Sha256", base64.StdEncoding.EncodeToString(mac(sha256.New, []byte(secret), string(body))))
				return h
			},
			header: "X-Shopify-Hmac-Sha256", bodySigned: true,
		},
		"hmac sha512 base64 with prefix": {
			cfg:     verify.Config{Scheme: "hmac", Header: "x-signature", Algorithm: "sha512", Encoding: "base64", Prefix: "sha512="},
			current: "s3cret", previous: "old", wrong: "wrong",
			sign: func(secret string, _ time.Time, body []byte) http.Header {
				h := http.Header{}
				h.Set("X-Signature", "sha512="+base64.StdEncoding.EncodeToString(mac(sha512.New, []byte(secret), string(body))))
				return h
			},
			header: "X-Signature", bodySigned: true,
		},
		"hmac sha1 hex": {
			cfg:     verify.Config{Scheme: "hmac", Header: "X-Hub-Signature", Algorithm: "sha1", Prefix: "sha1="},
			current: "s3cret", previous: "old", wrong: "wrong",
			sign: func(secret string, _ time.Time, body []byte) http.Header {
				h := http.Header{}
				h.Set("X-Hub-Signature", "sha1="+hex.EncodeToString(mac(sha1.New, []byte(secret), string(body))))
				return h
			},
			header: "X-Hub-Signature", bodySigned: true,
		},
		"hmac sha256 hex default": {
			cfg:     verify.Config{Scheme: "hmac", Header: "X-Gitea-Signature"},
			current: "s3cret", previous: "old", wrong: "wrong",
			sign: func(secret string, _ time.Time, body []byte) http.Header {
				h := http.Header{}
				h.Set("X-Gitea-Signature", hex.EncodeToString(mac(sha256.New, []byte(secret), string(body))))
				return h
			},
			header: "X-Gitea-Signature", bodySigned: true,
		},
		"token bearer": {
			cfg:     verify.Config{Scheme: "token"},
			current: "tok_current", previous: "tok_previous", wrong: "tok_wrong",
			sign: func(secret string, _ time.Time, _ []byte) http.Header {
				h := http.Header{}
				h.Set("Authorization", "Bearer "+secret)
				return h
			},
			header: "Authorization",
		},
		"token custom header": {
			cfg:     verify.Config{Scheme: "token", Header: "X-Gitlab-Token"},
			current: "tok_current", previous: "tok_previous", wrong: "tok_current_but_longer",
			sign: func(secret string, _ time.Time, _ []byte) http.Header {
				h := http.Header{}
				h.Set("X-Gitlab-Token", secret)
				return h
			},
			header: "X-Gitlab-Token",
		},
		"basic": {
			cfg:     verify.Config{Scheme: "basic"},
			current: "hook:pa55word", previous: "hook:old-pass", wrong: "hook:pa55wore",
			sign: func(secret string, _ time.Time, _ []byte) http.Header {
				user, pass, _ := strings.Cut(secret, ":")
				r, _ := http.NewRequest("POST", "/", nil)
				r.SetBasicAuth(user, pass)
				return r.Header
			},
			header: "Authorization",
		},
	}
}

func (s scheme) verifier(t testing.TB) verify.Verifier {
	c := s.cfg
	c.Secrets = []string{s.current, s.previous}
	return mustNew(t, c)
}

func TestEveryScheme(t *testing.T) {
	for name, s := range schemes() {
		t.Run(name, func(t *testing.T) {
			v := s.verifier(t)
			secrets := []string{s.current, s.previous, s.wrong}

			t.Run("accepts a request signed with the current secret", func(t *testing.T) {
				assert.NoError(t, v.Verify(s.sign(s.current, now, body), body, now))
			})
			t.Run("accepts a request signed with the previous secret during rotation", func(t *testing.T) {
				assert.NoError(t, v.Verify(s.sign(s.previous, now, body), body, now))
			})
			t.Run("rejects a request signed with another secret", func(t *testing.T) {
				h := s.sign(s.wrong, now, body)
				err := v.Verify(h, body, now)
				requireReason(t, err, verify.ErrMismatch, "", secrets...)
				assert.NotContains(t, err.Error(), h.Get(s.header))
			})
			t.Run("rejects a request without its header", func(t *testing.T) {
				h := s.sign(s.current, now, body)
				h.Del(s.header)
				requireReason(t, v.Verify(h, body, now), verify.ErrMissing, "", secrets...)
			})
			t.Run("rejects a request whose header is empty", func(t *testing.T) {
				h := s.sign(s.current, now, body)
				h.Set(s.header, "")
				requireReason(t, v.Verify(h, body, now), verify.ErrMissing, "", secrets...)
			})
			t.Run("rejects a header longer than the limit", func(t *testing.T) {
				h := s.sign(s.current, now, body)
				h.Set(s.header, h.Get(s.header)+strings.Repeat(" ", verify.MaxHeaderLength))
				requireReason(t, v.Verify(h, body, now), verify.ErrMalformed, "", secrets...)
			})
			if s.bodySigned {
				t.Run("rejects a tampered body", func(t *testing.T) {
					tampered := append([]byte(nil), body...)
					tampered[len(tampered)-3] = '8'
					requireReason(t, v.Verify(s.sign(s.current, now, body), tampered, now), verify.ErrMismatch, "signature mismatch", secrets...)
				})
				t.Run("rejects a signature of an empty body", func(t *testing.T) {
					requireReason(t, v.Verify(s.sign(s.current, now, nil), body, now), verify.ErrMismatch, "signature mismatch")
				})
			} else {
				t.Run("does not depend on the body", func(t *testing.T) {
					assert.NoError(t, v.Verify(s.sign(s.current, now, body), []byte("anything"), now))
				})
			}
			if s.timestamped {
				t.Run("accepts a timestamp at the edge of the tolerance", func(t *testing.T) {
					assert.NoError(t, v.Verify(s.sign(s.current, now.Add(-verify.DefaultTolerance), body), body, now))
					assert.NoError(t, v.Verify(s.sign(s.current, now.Add(verify.DefaultTolerance), body), body, now))
				})
				t.Run("rejects an expired timestamp", func(t *testing.T) {
					h := s.sign(s.current, now.Add(-verify.DefaultTolerance-time.Second), body)
					requireReason(t, v.Verify(h, body, now), verify.ErrTimestamp, "timestamp outside tolerance")
				})
				t.Run("rejects a timestamp in the future beyond the tolerance", func(t *testing.T) {
					h := s.sign(s.current, now.Add(verify.DefaultTolerance+time.Second), body)
					requireReason(t, v.Verify(h, body, now), verify.ErrTimestamp, "timestamp outside tolerance")
				})
				t.Run("honours a configured tolerance", func(t *testing.T) {
					c := s.cfg
					c.Secrets, c.Tolerance = []string{s.current}, 10*time.Second
					short := mustNew(t, c)
					assert.NoError(t, short.Verify(s.sign(s.current, now.Add(-10*time.Second), body), body, now))
					requireReason(t, short.Verify(s.sign(s.current, now.Add(-11*time.Second), body), body, now), verify.ErrTimestamp, "")
					requireReason(t, short.Verify(s.sign(s.current, now.Add(11*time.Second), body), body, now), verify.ErrTimestamp, "")
				})
			}
		})
	}
}

func TestVerifierIsSafeForConcurrentUse(t *testing.T) {
	for name, s := range schemes() {
		t.Run(name, func(t *testing.T) {
			v := s.verifier(t)
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					for i := range 200 {
						secret := []string{s.current, s.previous, s.wrong}[(g+i)%3]
						b := fmt.Appendf(nil, `{"n":%d}`, i)
						err := v.Verify(s.sign(secret, now, b), b, now)
						if secret == s.wrong {
							assert.ErrorIs(t, err, verify.ErrMismatch)
						} else {
							assert.NoError(t, err)
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

// malformed lists header values each scheme must refuse, and why.
func TestMalformedHeaders(t *testing.T) {
	sw := schemes()["standard-webhooks"]
	valid := standardSig(sw.current, "msg_1", unix(now), body)
	b64 := valid[len("v1,"):]
	// Flipping the low bits of the last data character keeps the decoded
	// bytes but makes the encoding non-canonical.
	nonCanonical := b64[:42] + string(b64[42]^1) + "="

	gh := schemes()["github"]
	ghHex := hex.EncodeToString(mac(sha256.New, []byte(gh.current), string(body)))
	st := schemes()["stripe"]
	stV1 := stripeV1(st.current, unix(now), body)
	shop := schemes()["shopify"]
	shopB64 := base64.StdEncoding.EncodeToString(mac(sha256.New, []byte(shop.current), string(body)))

	tooMany := strings.TrimSpace(strings.Repeat("v1,AAAA ", verify.MaxSignatures) + valid)

	cases := []struct {
		scheme  string
		name    string
		headers http.Header
		err     error
		reason  string
	}{
		// Standard Webhooks.
		{"standard-webhooks", "an entry without a comma", standardHeaders("msg_1", unix(now), "v1"), verify.ErrMalformed, "malformed signature header"},
		{"standard-webhooks", "a v1 entry that is not base64", standardHeaders("msg_1", unix(now), "v1,"+strings.Repeat("!", 44)), verify.ErrMalformed, "malformed signature header"},
		{"standard-webhooks", "a v1 entry of the wrong length", standardHeaders("msg_1", unix(now), "v1,AAAA"), verify.ErrMalformed, "malformed signature header"},
		{"standard-webhooks", "a v1 entry with nothing after the comma", standardHeaders("msg_1", unix(now), "v1,"), verify.ErrMalformed, "malformed signature header"},
		{"standard-webhooks", "a non-canonical base64 encoding of the right signature", standardHeaders("msg_1", unix(now), "v1,"+nonCanonical), verify.ErrMalformed, "malformed signature header"},
		{"standard-webhooks", "only a signature version it does not know", standardHeaders("msg_1", unix(now), "v2,"+b64), verify.ErrMalformed, "unsupported signature version"},
		{"standard-webhooks", "the signature under a comma-less version", standardHeaders("msg_1", unix(now), "v1 "+b64), verify.ErrMalformed, "malformed signature header"},
		{"standard-webhooks", "more signatures than the limit", standardHeaders("msg_1", unix(now), tooMany), verify.ErrMalformed, "too many signatures"},
		{"standard-webhooks", "a message id longer than the limit", standardHeaders(strings.Repeat("m", verify.MaxHeaderLength+1), unix(now), valid), verify.ErrMalformed, "malformed message id"},
		{"standard-webhooks", "no message id", standardHeaders("", unix(now), valid), verify.ErrMissing, "missing message id"},
		{"standard-webhooks", "no timestamp", standardHeaders("msg_1", "", valid), verify.ErrMissing, "missing timestamp"},
		{"standard-webhooks", "a timestamp that is not a number", standardHeaders("msg_1", "17e8", valid), verify.ErrMalformed, "malformed timestamp"},
		{"standard-webhooks", "a signed timestamp", standardHeaders("msg_1", "+"+unix(now), valid), verify.ErrMalformed, "malformed timestamp"},
		{"standard-webhooks", "a negative timestamp", standardHeaders("msg_1", "-1", valid), verify.ErrMalformed, "malformed timestamp"},
		{"standard-webhooks", "a timestamp in milliseconds", standardHeaders("msg_1", unix(now)+"000", valid), verify.ErrTimestamp, "timestamp outside tolerance"},
		{"standard-webhooks", "a timestamp too long to be a time", standardHeaders("msg_1", strings.Repeat("9", 40), valid), verify.ErrMalformed, "malformed timestamp"},
		{"standard-webhooks", "the right signature over another message id", standardHeaders("msg_2", unix(now), valid), verify.ErrMismatch, "signature mismatch"},

		// GitHub.
		{"github", "a signature without its sha256= prefix", hdr("X-Hub-Signature-256", ghHex), verify.ErrMalformed, "malformed signature header"},
		{"github", "a sha1= signature in the sha256 header", hdr("X-Hub-Signature-256", "sha1="+ghHex[:40]), verify.ErrMalformed, "malformed signature header"},
		{"github", "a signature that is not hex", hdr("X-Hub-Signature-256", "sha256="+strings.Repeat("zz", 32)), verify.ErrMalformed, "malformed signature header"},
		{"github", "a truncated signature", hdr("X-Hub-Signature-256", "sha256="+ghHex[:63]), verify.ErrMalformed, "malformed signature header"},
		{"github", "only the legacy sha1 header, which is not a fallback", hdr("X-Hub-Signature", "sha1="+hex.EncodeToString(mac(sha1.New, []byte(gh.current), string(body)))), verify.ErrMissing, "missing signature header"},

		// Stripe.
		{"stripe", "no timestamp", hdr("Stripe-Signature", "v1="+stV1), verify.ErrMissing, "missing timestamp"},
		{"stripe", "an empty timestamp", hdr("Stripe-Signature", "t=,v1="+stV1), verify.ErrMissing, "missing timestamp"},
		{"stripe", "a timestamp that is not a number", hdr("Stripe-Signature", "t=now,v1="+stV1), verify.ErrMalformed, "malformed timestamp"},
		{"stripe", "two timestamps", hdr("Stripe-Signature", "t="+unix(now)+",t="+unix(now)+",v1="+stV1), verify.ErrMalformed, "malformed signature header"},
		{"stripe", "an item without =", hdr("Stripe-Signature", "t="+unix(now)+",v1"), verify.ErrMalformed, "malformed signature header"},
		{"stripe", "no v1 signature", hdr("Stripe-Signature", "t="+unix(now)+",v0="+stV1), verify.ErrMalformed, "malformed signature header"},
		{"stripe", "only a v1 that is not hex", hdr("Stripe-Signature", "t="+unix(now)+",v1="+strings.Repeat("g", 64)), verify.ErrMalformed, "malformed signature header"},
		{"stripe", "only a truncated v1", hdr("Stripe-Signature", "t="+unix(now)+",v1="+stV1[:62]), verify.ErrMalformed, "malformed signature header"},
		{"stripe", "more v1 signatures than the limit", hdr("Stripe-Signature", "t="+unix(now)+strings.Repeat(",v1="+stV1, verify.MaxSignatures+1)), verify.ErrMalformed, "too many signatures"},
		{"stripe", "garbage", hdr("Stripe-Signature", "garbage"), verify.ErrMalformed, "malformed signature header"},
		{"stripe", "the right signature under another timestamp", hdr("Stripe-Signature", "t="+unix(now.Add(-time.Second))+",v1="+stV1), verify.ErrMismatch, "signature mismatch"},

		// Shopify.
		{"shopify", "a hex signature", hdr("X-Shopify-Hmac-Sha256", hex.EncodeToString(mac(sha256.New, []byte(shop.current), string(body)))), verify.ErrMalformed, "malformed signature header"},
		{"shopify", "a signature that is not base64", hdr("X-Shopify-Hmac-Sha256", strings.Repeat("*", 44)), verify.ErrMalformed, "malformed signature header"},
		{"shopify", "unpadded base64", hdr("X-Shopify-Hmac-Sha256", strings.TrimRight(shopB64, "=")), verify.ErrMalformed, "malformed signature header"},
		{"shopify", "URL-safe base64", hdr("X-Shopify-Hmac-Sha256", strings.NewReplacer("+", "-", "/", "_").Replace(shopB64)+"-"), verify.ErrMalformed, "malformed signature header"},

		// Generic HMAC.
		{"hmac sha512 base64 with prefix", "a signature without its prefix", hdr("X-Signature", base64.StdEncoding.EncodeToString(mac(sha512.New, []byte("s3cret"), string(body)))), verify.ErrMalformed, "malformed signature header"},
		{"hmac sha512 base64 with prefix", "a sha256-sized signature", hdr("X-Signature", "sha512="+shopB64), verify.ErrMalformed, "malformed signature header"},

		// Token.
		{"token bearer", "another authorization scheme", hdr("Authorization", "Basic dG9rX2N1cnJlbnQ="), verify.ErrMalformed, "malformed credentials"},
		{"token bearer", "the token without Bearer", hdr("Authorization", "tok_current"), verify.ErrMalformed, "malformed credentials"},
		{"token bearer", "Bearer and no token", hdr("Authorization", "Bearer "), verify.ErrMalformed, "malformed credentials"},
		{"token bearer", "a token that differs only in case", hdr("Authorization", "Bearer TOK_CURRENT"), verify.ErrMismatch, "invalid credentials"},
		{"token bearer", "a prefix of the token", hdr("Authorization", "Bearer tok_curren"), verify.ErrMismatch, "invalid credentials"},
		{"token custom header", "the token in Authorization instead", hdr("Authorization", "Bearer tok_current"), verify.ErrMissing, "missing credentials"},

		// Basic.
		{"basic", "a bearer token", hdr("Authorization", "Bearer hook:pa55word"), verify.ErrMalformed, "malformed credentials"},
		{"basic", "credentials that are not base64", hdr("Authorization", "Basic !!!"), verify.ErrMalformed, "malformed credentials"},
		{"basic", "credentials without a colon", hdr("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("hookpa55word"))), verify.ErrMalformed, "malformed credentials"},
		{"basic", "the right password for another user", basicAuth("other", "pa55word"), verify.ErrMismatch, "invalid credentials"},
		{"basic", "the right user with the previous secret's password", basicAuth("hook", "old-pass-x"), verify.ErrMismatch, "invalid credentials"},
		{"basic", "a password joining two secrets' passwords", basicAuth("hook", "pa55word:old-pass"), verify.ErrMismatch, "invalid credentials"},
	}
	all := schemes()
	for _, tc := range cases {
		t.Run(tc.scheme+" rejects "+tc.name, func(t *testing.T) {
			s := all[tc.scheme]
			err := s.verifier(t).Verify(tc.headers, body, now)
			requireReason(t, err, tc.err, tc.reason, s.current, s.previous)
			for _, vals := range tc.headers {
				for _, v := range vals {
					if len(v) > 3 {
						assert.NotContains(t, err.Error(), v, "the error repeats a header")
					}
				}
			}
		})
	}
}

func hdr(name, value string) http.Header {
	h := http.Header{}
	h.Set(name, value)
	return h
}

func basicAuth(user, pass string) http.Header {
	return hdr("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
}

func TestAcceptedVariants(t *testing.T) {
	all := schemes()
	sw := all["standard-webhooks"]
	valid := standardSig(sw.current, "msg_1", unix(now), body)
	gh := all["github"]
	ghHex := hex.EncodeToString(mac(sha256.New, []byte(gh.current), string(body)))
	st := all["stripe"]
	stV1 := stripeV1(st.current, unix(now), body)
	t1 := unix(now)

	garbage15 := strings.Repeat("v1,AAAA ", verify.MaxSignatures-1)

	cases := []struct {
		scheme, name string
		headers      http.Header
	}{
		{"standard-webhooks", "the valid signature after others that do not match", standardHeaders("msg_1", t1, "v1,"+strings.Repeat("A", 43)+"= "+valid)},
		{"standard-webhooks", "the valid signature as the last of the most allowed", standardHeaders("msg_1", t1, garbage15+valid)},
		{"standard-webhooks", "signatures separated by several spaces", standardHeaders("msg_1", t1, "v2,abc   "+valid+"  ")},
		{"standard-webhooks", "unknown versions next to a valid one", standardHeaders("msg_1", t1, "v9,whatever "+valid)},
		{"standard-webhooks", "the svix- header names", func() http.Header {
			h := http.Header{}
			h.Set("svix-id", "msg_1")
			h.Set("svix-timestamp", t1)
			h.Set("svix-signature", valid)
			return h
		}()},
		{"github", "upper-case hex", hdr("X-Hub-Signature-256", "sha256="+strings.ToUpper(ghHex))},
		{"github", "an upper-case prefix", hdr("X-Hub-Signature-256", "SHA256="+ghHex)},
		{"stripe", "a v0 and unknown items around the v1", hdr("Stripe-Signature", "t="+t1+",v0=abc,v1="+stV1+",v2=zzz")},
		{"stripe", "an undecodable v1 before the valid one", hdr("Stripe-Signature", "t="+t1+",v1=nothex,v1="+stV1)},
		{"stripe", "a v1 from an old secret before the valid one", hdr("Stripe-Signature", "t="+t1+",v1="+stripeV1("whsec_other", t1, body)+",v1="+stV1)},
		{"stripe", "the timestamp after the signatures", hdr("Stripe-Signature", "v1="+stV1+",t="+t1)},
		{"stripe", "spaces after the commas", hdr("Stripe-Signature", "t="+t1+", v1="+stV1)},
		{"token bearer", "a lower-case bearer scheme", hdr("Authorization", "bearer tok_current")},
	}
	for _, tc := range cases {
		t.Run(tc.scheme+" accepts "+tc.name, func(t *testing.T) {
			assert.NoError(t, all[tc.scheme].verifier(t).Verify(tc.headers, body, now))
		})
	}
}

func TestStandardWebhooksEd25519(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	oldPub, oldPriv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	_, otherPriv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	hmacSecret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	v := mustNew(t, verify.Config{Scheme: "standard-webhooks", Secrets: []string{whpk(pub), hmacSecret, whpk(oldPub)}})
	t1 := unix(now)

	t.Run("accepts a v1a signature from a configured key", func(t *testing.T) {
		assert.NoError(t, v.Verify(standardHeaders("msg_1", t1, standardEd25519Sig(priv, "msg_1", t1, body)), body, now))
		assert.NoError(t, v.Verify(standardHeaders("msg_1", t1, standardEd25519Sig(oldPriv, "msg_1", t1, body)), body, now))
	})
	t.Run("accepts v1a and v1 signatures side by side", func(t *testing.T) {
		sig := standardEd25519Sig(otherPriv, "msg_1", t1, body) + " " + standardSig(hmacSecret, "msg_1", t1, body)
		assert.NoError(t, v.Verify(standardHeaders("msg_1", t1, sig), body, now))
	})
	t.Run("rejects a v1a signature from another key", func(t *testing.T) {
		requireReason(t, v.Verify(standardHeaders("msg_1", t1, standardEd25519Sig(otherPriv, "msg_1", t1, body)), body, now), verify.ErrMismatch, "signature mismatch")
	})
	t.Run("rejects a v1a signature over a tampered body", func(t *testing.T) {
		requireReason(t, v.Verify(standardHeaders("msg_1", t1, standardEd25519Sig(priv, "msg_1", t1, body)), []byte("{}"), now), verify.ErrMismatch, "signature mismatch")
	})
	t.Run("rejects an ed25519 signature sent as v1", func(t *testing.T) {
		sig := "v1," + strings.TrimPrefix(standardEd25519Sig(priv, "msg_1", t1, body), "v1a,")
		requireReason(t, v.Verify(standardHeaders("msg_1", t1, sig), body, now), verify.ErrMalformed, "malformed signature header")
	})
	t.Run("rejects a v1a signature when only HMAC secrets are configured", func(t *testing.T) {
		hmacOnly := mustNew(t, verify.Config{Scheme: "standard-webhooks", Secrets: []string{hmacSecret}})
		requireReason(t, hmacOnly.Verify(standardHeaders("msg_1", t1, standardEd25519Sig(priv, "msg_1", t1, body)), body, now), verify.ErrMismatch, "signature mismatch")
	})
	t.Run("rejects a v1 signature when only public keys are configured", func(t *testing.T) {
		keysOnly := mustNew(t, verify.Config{Scheme: "standard-webhooks", Secrets: []string{whpk(pub)}})
		requireReason(t, keysOnly.Verify(standardHeaders("msg_1", t1, standardSig(hmacSecret, "msg_1", t1, body)), body, now), verify.ErrMismatch, "signature mismatch")
	})
	t.Run("rejects an expired v1a signature", func(t *testing.T) {
		old := unix(now.Add(-time.Hour))
		requireReason(t, v.Verify(standardHeaders("msg_1", old, standardEd25519Sig(priv, "msg_1", old, body)), body, now), verify.ErrTimestamp, "timestamp outside tolerance")
	})
}

func TestStandardWebhooksSecretWithoutPrefixIsBase64(t *testing.T) {
	// The libraries strip an optional "whsec_" and decode the rest.
	v := mustNew(t, verify.Config{Scheme: "standard-webhooks", Secrets: []string{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}})
	sig := standardSig("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_1", unix(now), body)
	assert.NoError(t, v.Verify(standardHeaders("msg_1", unix(now), sig), body, now))
}

func TestStripeKeyIsUsedAsGiven(t *testing.T) {
	// Stripe's whsec_ prefix is part of the HMAC key; a verifier that
	// decoded it the Standard Webhooks way would be wrong.
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("twenty-four bytes of key"))
	v := mustNew(t, verify.Config{Scheme: "stripe", Secrets: []string{secret}})
	decoded, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	require.NoError(t, err)
	t1 := unix(now)
	wrong := hex.EncodeToString(mac(sha256.New, decoded, t1, ".", string(body)))
	requireReason(t, v.Verify(hdr("Stripe-Signature", "t="+t1+",v1="+wrong), body, now), verify.ErrMismatch, "signature mismatch")
	assert.NoError(t, v.Verify(hdr("Stripe-Signature", "t="+t1+",v1="+stripeV1(secret, t1, body)), body, now))
}

func TestNewRejectsBadConfig(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	const secret = "s3cret-value"
	cases := []struct {
		name string
		cfg  verify.Config
		want string
	}{
		{"no scheme", verify.Config{Secrets: []string{secret}}, "no scheme"},
		{"an unknown scheme", verify.Config{Scheme: "gitlab", Secrets: []string{secret}}, `unknown scheme "gitlab"`},
		{"a scheme in the wrong case", verify.Config{Scheme: "GitHub", Secrets: []string{secret}}, "unknown scheme"},
		{"no secrets", verify.Config{Scheme: "github"}, "no secrets"},
		{"an empty secret", verify.Config{Scheme: "github", Secrets: []string{secret, ""}}, "secret 1 is empty"},
		{"a negative tolerance", verify.Config{Scheme: "stripe", Secrets: []string{secret}, Tolerance: -time.Second}, "negative Tolerance"},
		{"a whsec_ secret that is not base64", verify.Config{Scheme: "standard-webhooks", Secrets: []string{"whsec_" + secret + "!"}}, "secret 0: whsec_ secret is not valid base64"},
		{"a secret without prefix that is not base64", verify.Config{Scheme: "standard-webhooks", Secrets: []string{"not base64!"}}, "not valid base64"},
		{"an empty whsec_ secret", verify.Config{Scheme: "standard-webhooks", Secrets: []string{"whsec_"}}, "whsec_ secret is empty"},
		{"a whpk_ key that is not base64", verify.Config{Scheme: "standard-webhooks", Secrets: []string{"whpk_" + secret + "!"}}, "whpk_ public key is not valid base64"},
		{"a whpk_ key of the wrong size", verify.Config{Scheme: "standard-webhooks", Secrets: []string{"whpk_" + base64.StdEncoding.EncodeToString(pub[:31])}}, "whpk_ public key is 31 bytes, want 32"},
		{"a whsk_ private key", verify.Config{Scheme: "standard-webhooks", Secrets: []string{"whsk_" + base64.StdEncoding.EncodeToString(pub)}}, "whsk_ private signing key"},
		{"a Header for github", verify.Config{Scheme: "github", Secrets: []string{secret}, Header: "X-Hub-Signature"}, "Header is not used"},
		{"a Prefix for stripe", verify.Config{Scheme: "stripe", Secrets: []string{secret}, Prefix: "t="}, "Prefix is not used"},
		{"an Algorithm for shopify", verify.Config{Scheme: "shopify", Secrets: []string{secret}, Algorithm: "sha1"}, "Algorithm is not used"},
		{"an Encoding for standard-webhooks", verify.Config{Scheme: "standard-webhooks", Secrets: []string{"whsec_AAAA"}, Encoding: "hex"}, "Encoding is not used"},
		{"a Tolerance for an untimestamped scheme", verify.Config{Scheme: "github", Secrets: []string{secret}, Tolerance: time.Minute}, "Tolerance is not used"},
		{"hmac without a Header", verify.Config{Scheme: "hmac", Secrets: []string{secret}}, "Header is required"},
		{"hmac with an invalid Header", verify.Config{Scheme: "hmac", Secrets: []string{secret}, Header: "X Sig:"}, "not a valid header name"},
		{"hmac with an unknown Algorithm", verify.Config{Scheme: "hmac", Secrets: []string{secret}, Header: "X-Sig", Algorithm: "md5"}, `unknown Algorithm "md5"`},
		{"hmac with an unknown Encoding", verify.Config{Scheme: "hmac", Secrets: []string{secret}, Header: "X-Sig", Encoding: "base32"}, `unknown Encoding "base32"`},
		{"token with a Prefix but no Header", verify.Config{Scheme: "token", Secrets: []string{secret}, Prefix: "Token "}, "Prefix needs Header"},
		{"token with an Algorithm", verify.Config{Scheme: "token", Secrets: []string{secret}, Algorithm: "sha256"}, "Algorithm is not used"},
		{"basic without a colon", verify.Config{Scheme: "basic", Secrets: []string{secret}}, `secret 0 is not "user:password"`},
		{"basic with an empty password", verify.Config{Scheme: "basic", Secrets: []string{"user:"}}, `secret 0 is not "user:password"`},
		{"basic with an empty user", verify.Config{Scheme: "basic", Secrets: []string{":" + secret}}, `secret 0 is not "user:password"`},
	}
	for _, tc := range cases {
		t.Run("New rejects "+tc.name, func(t *testing.T) {
			v, err := verify.New(tc.cfg)
			require.Error(t, err)
			assert.Nil(t, v)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), secret, "the error quotes a secret")
		})
	}
}

func TestNewAcceptsOptionalSpellings(t *testing.T) {
	for _, c := range []verify.Config{
		{Scheme: "hmac", Header: "X-Sig", Algorithm: "SHA512", Encoding: "Base64", Secrets: []string{"k"}},
		{Scheme: "token", Header: "Authorization", Prefix: "Token ", Secrets: []string{"k"}},
		{Scheme: "basic", Secrets: []string{"user:pass:with:colons"}},
	} {
		_, err := verify.New(c)
		assert.NoError(t, err, "%+v", c)
	}
}

func TestTokenWithCustomPrefix(t *testing.T) {
	v := mustNew(t, verify.Config{Scheme: "token", Header: "Authorization", Prefix: "Token ", Secrets: []string{"abc"}})
	assert.NoError(t, v.Verify(hdr("Authorization", "token abc"), nil, now))
	requireReason(t, v.Verify(hdr("Authorization", "Bearer abc"), nil, now), verify.ErrMalformed, "malformed credentials")
}

func TestBasicPasswordMayContainColons(t *testing.T) {
	v := mustNew(t, verify.Config{Scheme: "basic", Secrets: []string{"user:pass:with:colons"}})
	assert.NoError(t, v.Verify(basicAuth("user", "pass:with:colons"), nil, now))
	requireReason(t, v.Verify(basicAuth("user", "pass"), nil, now), verify.ErrMismatch, "invalid credentials")
}

func TestDefaultDedupeKey(t *testing.T) {
	for scheme, want := range map[string]string{
		"standard-webhooks": "headers['webhook-id']",
		"github":            "headers['x-github-delivery']",
		"stripe":            "payload.id",
		"shopify":           "",
		"hmac":              "",
		"token":             "",
		"basic":             "",
		"unknown":           "",
	} {
		assert.Equal(t, want, verify.DefaultDedupeKey(scheme), scheme)
	}
}

func TestErrorMatchesItsSentinelOnly(t *testing.T) {
	v := mustNew(t, verify.Config{Scheme: "github", Secrets: []string{"k"}})
	err := v.Verify(http.Header{}, body, now)
	assert.ErrorIs(t, err, verify.ErrMissing)
	for _, other := range []error{verify.ErrMalformed, verify.ErrMismatch, verify.ErrTimestamp} {
		assert.NotErrorIs(t, err, other)
	}
	assert.Equal(t, "missing signature header", err.Error())
}
