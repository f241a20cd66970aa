package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// Token prefixes tell the kinds apart at a glance (and to secret scanners):
// a session cookie, a personal API token, a share link.
const (
	sessionTokenPrefix = "sbs_"
	apiTokenPrefix     = "sbt_"
	shareTokenPrefix   = "sbl_"
)

// newToken returns a new random 256-bit token with the given prefix, and
// the SHA-256 hash that is stored in its place.
func newToken(prefix string) (token string, hash []byte) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("auth: the system's random source failed: " + err.Error()) // crypto/rand never fails on Linux
	}
	token = prefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, hashToken(token)
}

// hashToken returns the SHA-256 hash of token: tokens carry 256 random bits,
// so a fast hash is as strong as a slow one, and lookups stay cheap.
func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// NewShareToken returns a new unguessable token for a story's share link.
func NewShareToken() string {
	t, _ := newToken(shareTokenPrefix)
	return t
}

// wellFormed reports whether token has the prefix and the length of a token
// newToken made, so that malformed ones cost no database lookup.
func wellFormed(token, prefix string) bool {
	return strings.HasPrefix(token, prefix) && len(token) == len(prefix)+43
}
