package verify_test

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookline/webhook/internal/verify"
)

// The tests sign requests with their own code, written from each sender's
// documentation, rather than with the package's: a shared mistake would
// otherwise pass unnoticed.

func mac(newHash func() hash.Hash, key []byte, parts ...string) []byte {
	m := hmac.New(newHash, key)
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

func unix(ts time.Time) string { return strconv.FormatInt(ts.Unix(), 10) }

// standardSig is the "v1," entry for a whsec_ secret.
func standardSig(secret, id, ts string, body []byte) string {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		panic(err)
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(sha256.New, key, id, ".", ts, ".", string(body)))
}

// standardEd25519Sig is the "v1a," entry for an ed25519 private key.
func standardEd25519Sig(priv ed25519.PrivateKey, id, ts string, body []byte) string {
	return "v1a," + base64.StdEncoding.EncodeToString(ed25519.Sign(priv, []byte(id+"."+ts+"."+string(body))))
}

func standardHeaders(id, ts, sig string) http.Header {
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", ts)
	h.Set("webhook-signature", sig)
	return h
}

func stripeV1(secret, ts string, body []byte) string {
	return hex.EncodeToString(mac(sha256.New, []byte(secret), ts, ".", string(body)))
}

func whpk(pub ed25519.PublicKey) string { return "whpk_" + base64.StdEncoding.EncodeToString(pub) }

// requireReason asserts that err is a client-safe *verify.Error matching
// sentinel and carrying reason, and that it repeats nothing secret.
func requireReason(t *testing.T, err error, sentinel error, reason string, secrets ...string) {
	t.Helper()
	require.Error(t, err)
	var ve *verify.Error
	require.True(t, errors.As(err, &ve), "error %T is not a *verify.Error", err)
	assert.ErrorIs(t, err, sentinel)
	if reason != "" {
		assert.Equal(t, reason, ve.Reason)
	}
	assert.Less(t, len(ve.Reason), 40, "reason should be short")
	for _, s := range secrets {
		if s != "" {
			assert.NotContains(t, err.Error(), s)
		}
	}
}

func mustNew(t testing.TB, c verify.Config) verify.Verifier {
	t.Helper()
	v, err := verify.New(c)
	require.NoError(t, err)
	return v
}

func shopifySignatureOf(body []byte) string {
	return base64.StdEncoding.EncodeToString(mac(sha256.New, []byte(shopifySecret), string(body)))
}
