package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"
)

// APITokenPrefix marks API tokens so secret scanners and people recognise them.
const APITokenPrefix = "coopol_"

// NewToken returns a random 256-bit secret, URL-safe, and the hash to store.
func NewToken() (token string, hash []byte) {
	b := make([]byte, 32)
	rand.Read(b)
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token)
}

// NewAPIToken is NewToken with APITokenPrefix.
func NewAPIToken() (token string, hash []byte) {
	t, _ := NewToken()
	token = APITokenPrefix + t
	return token, HashToken(token)
}

// HashToken returns the SHA-256 of a token. A fast hash is enough: tokens have 256 bits
// of entropy, unlike passwords.
func HashToken(token string) []byte {
	s := sha256.Sum256([]byte(token))
	return s[:]
}

// IsAPIToken reports whether a bearer credential looks like an API token.
func IsAPIToken(s string) bool { return strings.HasPrefix(s, APITokenPrefix) }

// CSRFToken derives the anti-CSRF token of a session from its secret. Bound to the
// session and unguessable without the HttpOnly cookie, it needs no storage, and a new
// login (a new session) gets a new one.
func CSRFToken(sessionToken string) string {
	m := hmac.New(sha256.New, []byte(sessionToken))
	m.Write([]byte("coopol csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CheckCSRF compares a submitted token with the session's, in constant time.
func CheckCSRF(sessionToken, submitted string) bool {
	want := CSRFToken(sessionToken)
	return submitted != "" && subtle.ConstantTimeCompare([]byte(want), []byte(submitted)) == 1
}
