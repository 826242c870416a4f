package verify_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookline/webhook/internal/verify"
)

// Published test vectors, checked against the verifiers as data, not
// recomputed.

// Standard Webhooks, symmetric: the vector shared by the reference
// libraries' tests (standard-webhooks/standard-webhooks, libraries/*).
const (
	swSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	swMsgID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	swTimestamp = "1614265330"
	swBody      = `{"test": 2432232314}`
	swSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

// Standard Webhooks, asymmetric: the v1a vector of the reference Go
// library (libraries/go/webhook_asymmetric_test.go, TestAsymmetricWebhookSign);
// the key is an ed25519 seed, same message as above.
const (
	swEd25519Seed      = "VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk="
	swEd25519Signature = "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag=="
)

// GitHub: the example in "Validating webhook deliveries" (docs.github.com).
const (
	ghSecret    = "It's a Secret to Everybody"
	ghBody      = "Hello, World!"
	ghSignature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
)

// Stripe publishes no test vector. This one was computed outside Go
// (Python's hmac module) from the documented algorithm: HMAC-SHA256 keyed
// with the secret string as given, over "<t>.<body>", hex.
const (
	stripeSecret    = "whsec_test_secret"
	stripeTimestamp = "1614265330"
	stripeBody      = `{"id":"evt_test_webhook","object":"event"}`
	stripeSignature = "3c5817089d739023dd6190f70a3757e04f7a2fd8b5dab12c2e000f51970dccff"
)

// Shopify publishes no test vector either; computed the same way: base64
// HMAC-SHA256 of the body keyed with the app secret.
const (
	shopifySecret    = "hush"
	shopifyBody      = `{"id":820982911946154508,"email":"jon@doe.ca"}`
	shopifySignature = "fp5HwmAHEVGQQwJU1KRpk57Ts2YHF6/TLOCczCtB5bs="
)

var vectorTime = time.Unix(1614265330, 0)

func TestPublishedVectors(t *testing.T) {
	seed, err := base64.StdEncoding.DecodeString(swEd25519Seed)
	require.NoError(t, err)
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)

	cases := []struct {
		name    string
		cfg     verify.Config
		headers http.Header
		body    string
	}{
		{"Standard Webhooks v1", verify.Config{Scheme: "standard-webhooks", Secrets: []string{swSecret}},
			standardHeaders(swMsgID, swTimestamp, swSignature), swBody},
		{"Standard Webhooks v1a", verify.Config{Scheme: "standard-webhooks", Secrets: []string{whpk(pub)}},
			standardHeaders(swMsgID, swTimestamp, swEd25519Signature), swBody},
		{"GitHub", verify.Config{Scheme: "github", Secrets: []string{ghSecret}},
			hdr("X-Hub-Signature-256", ghSignature), ghBody},
		{"Stripe (computed)", verify.Config{Scheme: "stripe", Secrets: []string{stripeSecret}},
			hdr("Stripe-Signature", "t="+stripeTimestamp+",v1="+stripeSignature), stripeBody},
		{"Shopify (computed)", verify.Config{Scheme: "shopify", Secrets: []string{shopifySecret}},
			hdr("X-Shopify-Hmac-Sha256", shopifySignature), shopifyBody},
	}
	for _, tc := range cases {
		t.Run(tc.name+" verifies", func(t *testing.T) {
			v := mustNew(t, tc.cfg)
			assert.NoError(t, v.Verify(tc.headers, []byte(tc.body), vectorTime))
		})
		t.Run(tc.name+" fails with one byte of the body changed", func(t *testing.T) {
			v := mustNew(t, tc.cfg)
			b := []byte(tc.body)
			b[0] ^= 1
			assert.ErrorIs(t, v.Verify(tc.headers, b, vectorTime), verify.ErrMismatch)
		})
	}
}

// The test helpers that sign requests must agree with the vectors, or the
// rest of the tests prove little.
func TestHelpersReproduceVectors(t *testing.T) {
	assert.Equal(t, swSignature, standardSig(swSecret, swMsgID, swTimestamp, []byte(swBody)))
	seed, err := base64.StdEncoding.DecodeString(swEd25519Seed)
	require.NoError(t, err)
	assert.Equal(t, swEd25519Signature, standardEd25519Sig(ed25519.NewKeyFromSeed(seed), swMsgID, swTimestamp, []byte(swBody)))
	assert.Equal(t, ghSignature, "sha256="+hex.EncodeToString(mac(sha256.New, []byte(ghSecret), ghBody)))
	assert.Equal(t, stripeSignature, stripeV1(stripeSecret, stripeTimestamp, []byte(stripeBody)))
	assert.Equal(t, shopifySignature, base64.StdEncoding.EncodeToString(mac(sha256.New, []byte(shopifySecret), shopifyBody)))
}
