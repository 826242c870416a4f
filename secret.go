package webhook

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/maphash"
)

// A secret is the last path segment of a webhook's URL. Generated secrets
// carry 256 bits from crypto/rand, encoded as 43 URL-safe characters.
//
// The registry never compares a guessed secret with a real one: it looks up
// a 128-bit keyed hash of the path segment (two hash/maphash sums under
// seeds drawn at start-up) in a map keyed by the same hash of each secret.
// The time a lookup takes depends on the hash, which an attacker who does
// not know the seeds cannot steer towards a prefix of a real secret, so
// timing reveals nothing about how much of a guess was right. A keyed hash
// does this as well as SHA-256 did, at a tenth of the cost per request.

const (
	secretBytes = 32
	// MinSecretLength is the shortest secret a definition may set: 22
	// URL-safe characters carry at least 128 bits when random.
	MinSecretLength = 22
	maxSecretLength = 256
)

// ErrSecretTaken is returned when a definition's secret is already used by
// another webhook of the registry.
var ErrSecretTaken = errors.New("secret already used by another webhook")

type secretHash [2]uint64

var secretSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

// hashSecret returns the keyed hash of s.
func hashSecret(s string) secretHash {
	return secretHash{maphash.String(secretSeeds[0], s), maphash.String(secretSeeds[1], s)}
}

// NewSecret returns a fresh secret: 256 bits from crypto/rand, base64url
// without padding.
func NewSecret() string {
	var b [secretBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand.Read does not fail on supported platforms (it
		// panics itself when the OS source is broken).
		panic("webhook: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// checkSecret accepts a secret a user chose: long enough to be unguessable
// if random, and made only of characters that need no escaping in a URL
// path segment.
func checkSecret(s string) error {
	if len(s) < MinSecretLength {
		return fmt.Errorf("secret is %d characters; at least %d are needed (leave it empty to generate one)", len(s), MinSecretLength)
	}
	if len(s) > maxSecretLength {
		return fmt.Errorf("secret is longer than %d characters", maxSecretLength)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~') {
			// The character itself is not quoted: the error may be logged.
			return fmt.Errorf("secret has a character at position %d that is not a letter, a digit or - _ . ~", i+1)
		}
	}
	return nil
}
