package verify_test

import (
	"crypto/ed25519"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookline/webhook/internal/verify"
)

// Each fuzz target feeds hostile header values to a verifier with fixed
// secrets and checks two things: Verify never panics and fails only with a
// client-safe *verify.Error, and Verify accepts only what the target
// itself can show carries the right signature, computed independently.
// The seed corpora under testdata/fuzz start from the published vectors,
// so that mutations explore the neighbourhood of valid requests.

// fuzzNow is 10 s after the vectors' timestamp.
var fuzzNow = vectorTime.Add(10 * time.Second)

func checkFailure(t *testing.T, err error) {
	t.Helper()
	var ve *verify.Error
	if !errors.As(err, &ve) {
		t.Fatalf("error %T %q is not a *verify.Error", err, err)
	}
	n := 0
	for _, s := range []error{verify.ErrMissing, verify.ErrMalformed, verify.ErrMismatch, verify.ErrTimestamp} {
		if errors.Is(err, s) {
			n++
		}
	}
	if n != 1 || len(ve.Reason) > 40 {
		t.Fatalf("error %q matches %d sentinels", ve.Reason, n)
	}
}

func withinTolerance(ts string) bool {
	n, err := strconv.ParseUint(ts, 10, 63)
	if err != nil {
		return false
	}
	d := fuzzNow.Sub(time.Unix(int64(n), 0))
	return d <= verify.DefaultTolerance && d >= -verify.DefaultTolerance
}

func fuzzEd25519Key(f *testing.F) ed25519.PrivateKey {
	seed, err := base64.StdEncoding.DecodeString(swEd25519Seed)
	if err != nil {
		f.Fatal(err)
	}
	return ed25519.NewKeyFromSeed(seed)
}

func FuzzStandardWebhooksHeader(f *testing.F) {
	priv := fuzzEd25519Key(f)
	v, err := verify.New(verify.Config{Scheme: "standard-webhooks", Secrets: []string{
		swSecret, whpk(priv.Public().(ed25519.PublicKey)),
	}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(swMsgID, swTimestamp, swSignature, []byte(swBody), false)
	f.Add(swMsgID, swTimestamp, swEd25519Signature+" "+swSignature, []byte(swBody), true)
	f.Add(swMsgID, swTimestamp, "v1,AAAA v1a,BBBB v2,CCCC", []byte(swBody), false)

	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte, svix bool) {
		h := http.Header{}
		prefix := "Webhook-"
		if svix {
			prefix = "Svix-"
		}
		h[prefix+"Id"] = []string{id}
		h[prefix+"Timestamp"] = []string{ts}
		h[prefix+"Signature"] = []string{sig}
		err := v.Verify(h, body, fuzzNow)
		if err != nil {
			checkFailure(t, err)
			return
		}
		if id == "" || !withinTolerance(ts) || len(sig) > verify.MaxHeaderLength {
			t.Fatalf("accepted id %q timestamp %q (header %d bytes)", id, ts, len(sig))
		}
		want := standardSig(swSecret, id, ts, body)
		wantA := standardEd25519Sig(priv, id, ts, body)
		for _, e := range strings.Split(sig, " ") {
			if e == want || e == wantA {
				return
			}
		}
		t.Fatalf("accepted %q, which does not contain %q or %q", sig, want, wantA)
	})
}

func FuzzStripeHeader(f *testing.F) {
	v, err := verify.New(verify.Config{Scheme: "stripe", Secrets: []string{stripeSecret}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("t="+stripeTimestamp+",v1="+stripeSignature, []byte(stripeBody))
	f.Add("t="+stripeTimestamp+",v1=00,v0="+stripeSignature+",v1="+stripeSignature, []byte(stripeBody))
	f.Add("v1="+stripeSignature+",t="+stripeTimestamp, []byte(stripeBody))

	f.Fuzz(func(t *testing.T, sig string, body []byte) {
		h := http.Header{"Stripe-Signature": {sig}}
		err := v.Verify(h, body, fuzzNow)
		if err != nil {
			checkFailure(t, err)
			return
		}
		// Find the one t and the v1 items, as Stripe's documentation
		// describes the header.
		var ts []string
		var v1 []string
		for _, item := range strings.Split(sig, ",") {
			k, val, _ := strings.Cut(strings.TrimSpace(item), "=")
			switch k {
			case "t":
				ts = append(ts, val)
			case "v1":
				v1 = append(v1, strings.ToLower(val))
			}
		}
		if len(ts) != 1 || !withinTolerance(ts[0]) || len(sig) > verify.MaxHeaderLength || len(v1) > verify.MaxSignatures {
			t.Fatalf("accepted %q", sig)
		}
		want := stripeV1(stripeSecret, ts[0], body)
		for _, s := range v1 {
			if s == want {
				return
			}
		}
		t.Fatalf("accepted %q, which has no v1=%s", sig, want)
	})
}

// hmacFuzzConfigs are the configurations FuzzHMACHeader chooses among:
// GitHub, Shopify and the generic scheme's hashes and encodings.
var hmacFuzzConfigs = []struct {
	cfg     verify.Config
	header  string
	prefix  string
	newHash func() hash.Hash
	base64  bool
}{
	{verify.Config{Scheme: "github"}, "X-Hub-Signature-256", "sha256=", sha256.New, false},
	{verify.Config{Scheme: "shopify"}, "X-Shopify-Hmac-Sha256", "", sha256.New, true},
	{verify.Config{Scheme: "hmac", Header: "X-Signature", Algorithm: "sha1", Prefix: "sha1="}, "X-Signature", "sha1=", sha1.New, false},
	{verify.Config{Scheme: "hmac", Header: "X-Signature", Algorithm: "sha512", Encoding: "base64"}, "X-Signature", "", sha512.New, true},
}

func FuzzHMACHeader(f *testing.F) {
	var verifiers []verify.Verifier
	for _, c := range hmacFuzzConfigs {
		c.cfg.Secrets = []string{ghSecret}
		v, err := verify.New(c.cfg)
		if err != nil {
			f.Fatal(err)
		}
		verifiers = append(verifiers, v)
	}
	f.Add(uint8(0), ghSignature, []byte(ghBody))
	f.Add(uint8(0), strings.ToUpper(ghSignature), []byte(ghBody))
	f.Add(uint8(1), base64.StdEncoding.EncodeToString(mac(sha256.New, []byte(ghSecret), ghBody)), []byte(ghBody))
	f.Add(uint8(2), "sha1="+hex.EncodeToString(mac(sha1.New, []byte(ghSecret), ghBody)), []byte(ghBody))
	f.Add(uint8(3), base64.StdEncoding.EncodeToString(mac(sha512.New, []byte(ghSecret), ghBody)), []byte(ghBody))

	f.Fuzz(func(t *testing.T, which uint8, sig string, body []byte) {
		c := hmacFuzzConfigs[int(which)%len(hmacFuzzConfigs)]
		v := verifiers[int(which)%len(hmacFuzzConfigs)]
		err := v.Verify(http.Header{c.header: {sig}}, body, fuzzNow)
		if err != nil {
			checkFailure(t, err)
			return
		}
		sum := mac(c.newHash, []byte(ghSecret), string(body))
		if len(sig) < len(c.prefix) || !strings.EqualFold(sig[:len(c.prefix)], c.prefix) {
			t.Fatalf("accepted %q without prefix %q", sig, c.prefix)
		}
		got := sig[len(c.prefix):]
		if c.base64 && got == base64.StdEncoding.EncodeToString(sum) {
			return
		}
		if !c.base64 && strings.EqualFold(got, hex.EncodeToString(sum)) {
			return
		}
		t.Fatalf("accepted %q for config %d", sig, which%uint8(len(hmacFuzzConfigs)))
	})
}

func FuzzTokenHeader(f *testing.F) {
	const tok = "tok_current"
	v, err := verify.New(verify.Config{Scheme: "token", Secrets: []string{tok, "tok_previous"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("Bearer " + tok)
	f.Add("bearer tok_previous")
	f.Add("Basic dG9r")

	f.Fuzz(func(t *testing.T, auth string) {
		err := v.Verify(http.Header{"Authorization": {auth}}, nil, fuzzNow)
		if err != nil {
			checkFailure(t, err)
			return
		}
		if len(auth) < 7 || !strings.EqualFold(auth[:7], "Bearer ") || (auth[7:] != tok && auth[7:] != "tok_previous") {
			t.Fatalf("accepted %q", auth)
		}
	})
}

func FuzzBasicHeader(f *testing.F) {
	v, err := verify.New(verify.Config{Scheme: "basic", Secrets: []string{"hook:pa55word", "old:pass:word"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte("hook:pa55word")))
	f.Add("basic " + base64.StdEncoding.EncodeToString([]byte("old:pass:word")))
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte("hook:pa55wor")))

	f.Fuzz(func(t *testing.T, auth string) {
		err := v.Verify(http.Header{"Authorization": {auth}}, nil, fuzzNow)
		if err != nil {
			checkFailure(t, err)
			return
		}
		if len(auth) < 6 || !strings.EqualFold(auth[:6], "Basic ") {
			t.Fatalf("accepted %q", auth)
		}
		creds, err := base64.StdEncoding.DecodeString(auth[6:])
		if err != nil || (string(creds) != "hook:pa55word" && string(creds) != "old:pass:word") {
			t.Fatalf("accepted %q", auth)
		}
	})
}
