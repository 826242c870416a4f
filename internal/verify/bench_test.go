package verify_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"

	"github.com/hookline/webhook/internal/verify"
)

// benchBody is a 1 KiB JSON body, the size of a typical delivery.
var benchBody = append(append([]byte(`{"data":"`), bytes.Repeat([]byte("x"), 1024-11)...), '"', '}')

func benchVerify(b *testing.B, v verify.Verifier, h http.Header) {
	b.Helper()
	if err := v.Verify(h, benchBody, now); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		if err := v.Verify(h, benchBody, now); err != nil {
			b.Fatal(err)
		}
	}
}

// The header carries two signatures and the verifier two secrets, as
// during a rotation: the realistic worst case of ordinary traffic.
func BenchmarkVerifyStandardWebhooks(b *testing.B) {
	old := "whsec_" + "b2xkIHNlY3JldCBvbGQgc2VjcmV0IG9sZA=="
	v := mustNew(b, verify.Config{Scheme: "standard-webhooks", Secrets: []string{swSecret, old}})
	sig := standardSig(old, "msg_1", unix(now), benchBody) + " " + standardSig(swSecret, "msg_1", unix(now), benchBody)
	benchVerify(b, v, standardHeaders("msg_1", unix(now), sig))
}

func BenchmarkVerifyStandardWebhooksEd25519(b *testing.B) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		b.Fatal(err)
	}
	v := mustNew(b, verify.Config{Scheme: "standard-webhooks", Secrets: []string{whpk(pub)}})
	benchVerify(b, v, standardHeaders("msg_1", unix(now), standardEd25519Sig(priv, "msg_1", unix(now), benchBody)))
}

func BenchmarkVerifyGitHub(b *testing.B) {
	v := mustNew(b, verify.Config{Scheme: "github", Secrets: []string{ghSecret, "old secret"}})
	benchVerify(b, v, hdr("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac(sha256.New, []byte(ghSecret), string(benchBody)))))
}

func BenchmarkVerifyStripe(b *testing.B) {
	v := mustNew(b, verify.Config{Scheme: "stripe", Secrets: []string{stripeSecret, "whsec_old"}})
	t1 := unix(now)
	benchVerify(b, v, hdr("Stripe-Signature", "t="+t1+",v1="+stripeV1("whsec_old", t1, benchBody)+",v1="+stripeV1(stripeSecret, t1, benchBody)))
}

func BenchmarkVerifyShopify(b *testing.B) {
	v := mustNew(b, verify.Config{Scheme: "shopify", Secrets: []string{shopifySecret}})
	h := http.Header{}
	h.Set("X-Shopify-Hmac-Sha256", shopifySignatureOf(benchBody))
	benchVerify(b, v, h)
}

// BenchmarkRejectTooManySignatures measures the cost of a hostile header
// at the limit: it must stay close to the cost of a valid request.
func BenchmarkRejectTooManySignatures(b *testing.B) {
	v := mustNew(b, verify.Config{Scheme: "standard-webhooks", Secrets: []string{swSecret}})
	sig := standardSig(swSecret, "msg_1", unix(now), []byte("other"))
	many := sig
	for range verify.MaxSignatures - 1 {
		many += " " + sig
	}
	h := standardHeaders("msg_1", unix(now), many)
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Verify(h, benchBody, now); err == nil {
			b.Fatal("accepted")
		}
	}
}
