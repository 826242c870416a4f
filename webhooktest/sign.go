package webhooktest

// Signers that set the headers a real sender would, so that a test can
// exercise a webhook's signature verification end to end. They are
// written independently of the verifiers, from each sender's published
// algorithm, so that the two check each other.
//
// Every signer signs the body argument and never reads req.Body: the
// caller must send exactly those bytes. Signers panic on arguments no
// sender could use (a secret that is not valid base64 where base64 is
// required, an unknown algorithm), which in a test is a bug in the test.

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SignStandardWebhooks signs body as a Standard Webhooks (or Svix) sender
// does with an HMAC secret, setting webhook-id, webhook-timestamp and
// webhook-signature ("v1,<base64 HMAC-SHA256 of id.timestamp.body>").
// secret is "whsec_<base64>"; without the prefix it is still read as
// base64, as the Standard Webhooks libraries do.
//
// When req already carries a signature for the same msgID and ts, the new
// one is appended, space-separated, as a sender does while rotating keys;
// otherwise the three headers are replaced.
func SignStandardWebhooks(req *http.Request, secret, msgID string, ts time.Time, body []byte) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		panic("webhooktest: SignStandardWebhooks: secret is not whsec_ followed by base64")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(standardWebhooksContent(msgID, ts, body))
	setStandardWebhooks(req, msgID, ts, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
}

// SignStandardWebhooksEd25519 signs body as a Standard Webhooks sender
// does with an asymmetric key: a "v1a,<base64 ed25519 signature of
// id.timestamp.body>" entry in webhook-signature. The verifier is
// configured with the matching "whpk_" public key (see
// [NewStandardWebhooksKey]). Appending follows [SignStandardWebhooks].
func SignStandardWebhooksEd25519(req *http.Request, priv ed25519.PrivateKey, msgID string, ts time.Time, body []byte) {
	sig := ed25519.Sign(priv, standardWebhooksContent(msgID, ts, body))
	setStandardWebhooks(req, msgID, ts, "v1a,"+base64.StdEncoding.EncodeToString(sig))
}

func standardWebhooksContent(msgID string, ts time.Time, body []byte) []byte {
	content := make([]byte, 0, len(msgID)+len(body)+24)
	content = append(content, msgID...)
	content = append(content, '.')
	content = strconv.AppendInt(content, ts.Unix(), 10)
	content = append(content, '.')
	return append(content, body...)
}

func setStandardWebhooks(req *http.Request, msgID string, ts time.Time, sig string) {
	unix := strconv.FormatInt(ts.Unix(), 10)
	h := req.Header
	if prev := h.Get("webhook-signature"); prev != "" && h.Get("webhook-id") == msgID && h.Get("webhook-timestamp") == unix {
		sig = prev + " " + sig
	}
	h.Set("webhook-id", msgID)
	h.Set("webhook-timestamp", unix)
	h.Set("webhook-signature", sig)
}

// NewStandardWebhooksSecret returns a fresh Standard Webhooks HMAC secret:
// "whsec_" and the base64 of 32 random bytes.
func NewStandardWebhooksSecret() string {
	key := make([]byte, 32)
	rand.Read(key) // never fails (crypto/rand, Go 1.24+)
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

// NewStandardWebhooksKey returns a fresh ed25519 key pair for
// [SignStandardWebhooksEd25519]: the public key in the "whpk_<base64>"
// form a verifier is configured with, and the private key to sign with.
func NewStandardWebhooksKey() (publicKey string, priv ed25519.PrivateKey) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		panic("webhooktest: NewStandardWebhooksKey: " + err.Error())
	}
	return "whpk_" + base64.StdEncoding.EncodeToString(pub), priv
}

// SignGitHub signs body as GitHub does: X-Hub-Signature-256 is
// "sha256=<hex HMAC-SHA256 of body>", and, like GitHub, the legacy
// X-Hub-Signature is "sha1=<hex HMAC-SHA1 of body>".
func SignGitHub(req *http.Request, secret string, body []byte) {
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(macOf(sha256.New, secret, body)))
	req.Header.Set("X-Hub-Signature", "sha1="+hex.EncodeToString(macOf(sha1.New, secret, body)))
}

// SignStripe signs body as Stripe does: Stripe-Signature is
// "t=<unix>,v1=<hex HMAC-SHA256 of "t.body">", the secret used as the key
// exactly as given, "whsec_" prefix included.
//
// When req already carries a Stripe-Signature with the same t, the new
// signature is appended as another v1, as Stripe does while an endpoint's
// old secret is still valid; otherwise the header is replaced.
func SignStripe(req *http.Request, secret string, ts time.Time, body []byte) {
	t := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(t + "."))
	mac.Write(body)
	v1 := "v1=" + hex.EncodeToString(mac.Sum(nil))
	if prev := req.Header.Get("Stripe-Signature"); strings.HasPrefix(prev, "t="+t+",") {
		req.Header.Set("Stripe-Signature", prev+","+v1)
		return
	}
	req.Header.Set("Stripe-Signature", "t="+t+","+v1)
}

// SignShopify signs body as Shopify does: X-Shopify-Hmac-Sha256 is the
// base64 HMAC-SHA256 of body keyed with the app's secret.
func SignShopify(req *http.Request, secret string, body []byte) {
	req.Header.Set("X-Shopify-Hmac-Sha256", base64.StdEncoding.EncodeToString(macOf(sha256.New, secret, body)))
}

// SignHMAC sets header to prefix followed by the HMAC of body keyed with
// secret, the way a verifier configured with the same Header, Algorithm
// ("sha1", "sha256" or "sha512"; "" means "sha256"), Encoding ("hex" or
// "base64"; "" means "hex") and Prefix expects it.
func SignHMAC(req *http.Request, header, algorithm, encoding, prefix, secret string, body []byte) {
	var newHash func() hash.Hash
	switch algorithm {
	case "sha1":
		newHash = sha1.New
	case "sha256", "":
		newHash = sha256.New
	case "sha512":
		newHash = sha512.New
	default:
		panic("webhooktest: SignHMAC: unknown algorithm " + strconv.Quote(algorithm))
	}
	sum := macOf(newHash, secret, body)
	var sig string
	switch encoding {
	case "hex", "":
		sig = hex.EncodeToString(sum)
	case "base64":
		sig = base64.StdEncoding.EncodeToString(sum)
	default:
		panic("webhooktest: SignHMAC: unknown encoding " + strconv.Quote(encoding))
	}
	req.Header.Set(header, prefix+sig)
}

func macOf(newHash func() hash.Hash, secret string, body []byte) []byte {
	mac := hmac.New(newHash, []byte(secret))
	mac.Write(body)
	return mac.Sum(nil)
}
