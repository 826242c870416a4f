package webhooktest_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookline/webhook/internal/verify"
	"github.com/hookline/webhook/webhooktest"
)

var (
	signNow  = time.Unix(1700000000, 0)
	signBody = []byte(`{"model": "sale.order", "id": "7"}`)
)

func signRequest() *http.Request {
	// A body unrelated to the signed one: signers must not read it.
	return httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader("not the signed body"))
}

func signVerifier(t *testing.T, c verify.Config) verify.Verifier {
	t.Helper()
	v, err := verify.New(c)
	require.NoError(t, err)
	return v
}

// Each signer must produce what the matching verifier accepts, and only
// for the body and secret it was given.
func TestSignersRoundTripWithVerifiers(t *testing.T) {
	swSecret := webhooktest.NewStandardWebhooksSecret()
	pub, priv := webhooktest.NewStandardWebhooksKey()
	cases := []struct {
		name string
		cfg  verify.Config
		sign func(req *http.Request, secret string, body []byte)
	}{
		{"SignStandardWebhooks", verify.Config{Scheme: "standard-webhooks", Secrets: []string{swSecret}},
			func(req *http.Request, secret string, body []byte) {
				webhooktest.SignStandardWebhooks(req, secret, "msg_1", signNow, body)
			}},
		{"SignStandardWebhooksEd25519", verify.Config{Scheme: "standard-webhooks", Secrets: []string{pub}},
			func(req *http.Request, secret string, body []byte) {
				k := priv
				if secret != pub {
					_, k = webhooktest.NewStandardWebhooksKey()
				}
				webhooktest.SignStandardWebhooksEd25519(req, k, "msg_1", signNow, body)
			}},
		{"SignGitHub", verify.Config{Scheme: "github", Secrets: []string{"gh-secret"}},
			func(req *http.Request, secret string, body []byte) { webhooktest.SignGitHub(req, secret, body) }},
		{"SignStripe", verify.Config{Scheme: "stripe", Secrets: []string{"whsec_stripe"}},
			func(req *http.Request, secret string, body []byte) {
				webhooktest.SignStripe(req, secret, signNow, body)
			}},
		{"SignShopify", verify.Config{Scheme: "shopify", Secrets: []string{"shpss_secret"}},
			func(req *http.Request, secret string, body []byte) { webhooktest.SignShopify(req, secret, body) }},
		{"SignHMAC sha1 hex", verify.Config{Scheme: "hmac", Header: "X-Sig", Algorithm: "sha1", Prefix: "sha1=", Secrets: []string{"k1"}},
			func(req *http.Request, secret string, body []byte) {
				webhooktest.SignHMAC(req, "X-Sig", "sha1", "hex", "sha1=", secret, body)
			}},
		{"SignHMAC default sha256 hex", verify.Config{Scheme: "hmac", Header: "X-Sig", Secrets: []string{"k1"}},
			func(req *http.Request, secret string, body []byte) {
				webhooktest.SignHMAC(req, "X-Sig", "", "", "", secret, body)
			}},
		{"SignHMAC sha512 base64", verify.Config{Scheme: "hmac", Header: "X-Sig", Algorithm: "sha512", Encoding: "base64", Secrets: []string{"k1"}},
			func(req *http.Request, secret string, body []byte) {
				webhooktest.SignHMAC(req, "X-Sig", "sha512", "base64", "", secret, body)
			}},
	}
	for _, tc := range cases {
		v := signVerifier(t, tc.cfg)
		secret := tc.cfg.Secrets[0]
		t.Run(tc.name+" is accepted by its verifier", func(t *testing.T) {
			req := signRequest()
			tc.sign(req, secret, signBody)
			assert.NoError(t, v.Verify(req.Header, signBody, signNow))
		})
		t.Run(tc.name+" signs the body argument only", func(t *testing.T) {
			req := signRequest()
			tc.sign(req, secret, signBody)
			assert.ErrorIs(t, v.Verify(req.Header, []byte("not the signed body"), signNow), verify.ErrMismatch)
		})
		t.Run(tc.name+" with another secret is rejected", func(t *testing.T) {
			req := signRequest()
			other := "other-secret"
			if strings.HasPrefix(secret, "whsec_") {
				other = webhooktest.NewStandardWebhooksSecret()
			}
			tc.sign(req, other, signBody)
			assert.ErrorIs(t, v.Verify(req.Header, signBody, signNow), verify.ErrMismatch)
		})
	}
}

func TestSignersReproducePublishedVectors(t *testing.T) {
	t.Run("Standard Webhooks v1", func(t *testing.T) {
		req := signRequest()
		webhooktest.SignStandardWebhooks(req, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
		assert.Equal(t, "msg_p5jXN8AQM9LWM0D4loKWxJek", req.Header.Get("webhook-id"))
		assert.Equal(t, "1614265330", req.Header.Get("webhook-timestamp"))
		assert.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", req.Header.Get("webhook-signature"))
	})
	t.Run("Standard Webhooks v1a", func(t *testing.T) {
		seed, err := base64.StdEncoding.DecodeString("VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=")
		require.NoError(t, err)
		req := signRequest()
		webhooktest.SignStandardWebhooksEd25519(req, ed25519.NewKeyFromSeed(seed), "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
		assert.Equal(t, "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag==", req.Header.Get("webhook-signature"))
	})
	t.Run("GitHub", func(t *testing.T) {
		req := signRequest()
		webhooktest.SignGitHub(req, "It's a Secret to Everybody", []byte("Hello, World!"))
		assert.Equal(t, "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", req.Header.Get("X-Hub-Signature-256"))
		assert.True(t, strings.HasPrefix(req.Header.Get("X-Hub-Signature"), "sha1="))
	})
	t.Run("Stripe (computed from the documented algorithm)", func(t *testing.T) {
		req := signRequest()
		webhooktest.SignStripe(req, "whsec_test_secret", time.Unix(1614265330, 0), []byte(`{"id":"evt_test_webhook","object":"event"}`))
		assert.Equal(t, "t=1614265330,v1=3c5817089d739023dd6190f70a3757e04f7a2fd8b5dab12c2e000f51970dccff", req.Header.Get("Stripe-Signature"))
	})
	t.Run("Shopify (computed from the documented algorithm)", func(t *testing.T) {
		req := signRequest()
		webhooktest.SignShopify(req, "hush", []byte(`{"id":820982911946154508,"email":"jon@doe.ca"}`))
		assert.Equal(t, "fp5HwmAHEVGQQwJU1KRpk57Ts2YHF6/TLOCczCtB5bs=", req.Header.Get("X-Shopify-Hmac-Sha256"))
	})
}

func TestSigningTwiceSendsBothSignaturesLikeARotatingSender(t *testing.T) {
	oldSecret, newSecret := webhooktest.NewStandardWebhooksSecret(), webhooktest.NewStandardWebhooksSecret()
	pub, priv := webhooktest.NewStandardWebhooksKey()

	t.Run("Standard Webhooks appends for the same message", func(t *testing.T) {
		req := signRequest()
		webhooktest.SignStandardWebhooks(req, oldSecret, "msg_1", signNow, signBody)
		webhooktest.SignStandardWebhooks(req, newSecret, "msg_1", signNow, signBody)
		webhooktest.SignStandardWebhooksEd25519(req, priv, "msg_1", signNow, signBody)
		sigs := strings.Split(req.Header.Get("webhook-signature"), " ")
		require.Len(t, sigs, 3)
		assert.True(t, strings.HasPrefix(sigs[2], "v1a,"))
		for _, secret := range []string{oldSecret, newSecret, pub} {
			v := signVerifier(t, verify.Config{Scheme: "standard-webhooks", Secrets: []string{secret}})
			assert.NoError(t, v.Verify(req.Header, signBody, signNow))
		}
	})
	t.Run("Standard Webhooks replaces for another message", func(t *testing.T) {
		req := signRequest()
		webhooktest.SignStandardWebhooks(req, oldSecret, "msg_1", signNow, signBody)
		webhooktest.SignStandardWebhooks(req, newSecret, "msg_2", signNow, signBody)
		assert.Equal(t, "msg_2", req.Header.Get("webhook-id"))
		assert.NotContains(t, req.Header.Get("webhook-signature"), " ")
		v := signVerifier(t, verify.Config{Scheme: "standard-webhooks", Secrets: []string{oldSecret}})
		assert.ErrorIs(t, v.Verify(req.Header, signBody, signNow), verify.ErrMismatch)
	})
	t.Run("Stripe appends a v1 for the same timestamp", func(t *testing.T) {
		req := signRequest()
		webhooktest.SignStripe(req, "whsec_old", signNow, signBody)
		webhooktest.SignStripe(req, "whsec_new", signNow, signBody)
		assert.Equal(t, 2, strings.Count(req.Header.Get("Stripe-Signature"), "v1="))
		for _, secret := range []string{"whsec_old", "whsec_new"} {
			v := signVerifier(t, verify.Config{Scheme: "stripe", Secrets: []string{secret}})
			assert.NoError(t, v.Verify(req.Header, signBody, signNow))
		}
	})
	t.Run("Stripe replaces for another timestamp", func(t *testing.T) {
		req := signRequest()
		webhooktest.SignStripe(req, "whsec_old", signNow, signBody)
		webhooktest.SignStripe(req, "whsec_new", signNow.Add(time.Second), signBody)
		assert.Equal(t, 1, strings.Count(req.Header.Get("Stripe-Signature"), "v1="))
	})
}

func TestSignedTimestampsAreChecked(t *testing.T) {
	secret := webhooktest.NewStandardWebhooksSecret()
	v := signVerifier(t, verify.Config{Scheme: "standard-webhooks", Secrets: []string{secret}})
	req := signRequest()
	webhooktest.SignStandardWebhooks(req, secret, "msg_1", signNow.Add(-time.Hour), signBody)
	assert.ErrorIs(t, v.Verify(req.Header, signBody, signNow), verify.ErrTimestamp)

	sv := signVerifier(t, verify.Config{Scheme: "stripe", Secrets: []string{"whsec_x"}})
	req = signRequest()
	webhooktest.SignStripe(req, "whsec_x", signNow.Add(time.Hour), signBody)
	assert.ErrorIs(t, sv.Verify(req.Header, signBody, signNow), verify.ErrTimestamp)
}

func TestNewStandardWebhooksSecret(t *testing.T) {
	a, b := webhooktest.NewStandardWebhooksSecret(), webhooktest.NewStandardWebhooksSecret()
	assert.NotEqual(t, a, b)
	require.True(t, strings.HasPrefix(a, "whsec_"))
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(a, "whsec_"))
	require.NoError(t, err)
	assert.Len(t, key, 32)
}

func TestNewStandardWebhooksKey(t *testing.T) {
	pub, priv := webhooktest.NewStandardWebhooksKey()
	require.True(t, strings.HasPrefix(pub, "whpk_"))
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(pub, "whpk_"))
	require.NoError(t, err)
	assert.Equal(t, ed25519.PublicKey(raw), priv.Public())
}

func TestSignersPanicOnArgumentsNoSenderUses(t *testing.T) {
	assert.Panics(t, func() { webhooktest.SignStandardWebhooks(signRequest(), "whsec_not base64!", "m", signNow, nil) })
	assert.Panics(t, func() { webhooktest.SignHMAC(signRequest(), "X-Sig", "md5", "hex", "", "k", nil) })
	assert.Panics(t, func() { webhooktest.SignHMAC(signRequest(), "X-Sig", "sha256", "base32", "", "k", nil) })
}
