package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/coopol/coopol/internal/errs"
)

// Params are argon2id costs; they are written into every hash, so raising them later
// leaves old hashes verifiable.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultParams follow OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane).
func DefaultParams() Params { return Params{Memory: 19 * 1024, Time: 2, Threads: 1} }

// Hasher hashes and checks passwords, at most a few at a time: each hash takes 19 MiB,
// so a flood of logins must queue rather than exhaust memory.
type Hasher struct {
	params Params
	slots  chan struct{}
	dummy  string
}

// NewHasher returns a Hasher running at most concurrent hashes at once.
func NewHasher(p Params, concurrent int) *Hasher {
	h := &Hasher{params: p, slots: make(chan struct{}, max(concurrent, 1))}
	h.dummy = h.encode(make([]byte, 16), "unused")
	return h
}

// ValidatePassword applies CNIL's length rule for passwords without forced complexity
// (deliberation 2022-100: at least 12 characters with a mix, or longer passphrases);
// the upper bound stops megabyte inputs reaching argon2.
func ValidatePassword(pw string) error {
	n := utf8.RuneCountInString(pw)
	if n < 12 || len(pw) > 256 {
		return fmt.Errorf("password: 12 to 256 characters: %w", errs.ErrInvalid)
	}
	return nil
}

// Hash returns the PHC string of pw: $argon2id$v=19$m=…,t=…,p=…$salt$hash.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	salt := make([]byte, 16)
	rand.Read(salt)
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return h.encode(salt, pw), nil
}

func (h *Hasher) encode(salt []byte, pw string) string {
	p := h.params
	sum := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(sum))
}

// Verify reports whether pw matches encoded. An empty encoded (unknown account) is
// checked against a dummy hash, so answering "no such account" costs as long as a
// wrong password and timing does not reveal which addresses have accounts.
func (h *Hasher) Verify(ctx context.Context, encoded, pw string) (bool, error) {
	target := encoded
	if target == "" {
		target = h.dummy
	}
	p, salt, sum, err := decodeHash(target)
	if err != nil {
		return false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(sum)))
	return encoded != "" && subtle.ConstantTimeCompare(got, sum) == 1, nil
}

// NeedsRehash reports whether encoded was made with other parameters than h's.
func (h *Hasher) NeedsRehash(encoded string) bool {
	p, _, _, err := decodeHash(encoded)
	return err != nil || p != h.params
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.slots }

func decodeHash(s string) (Params, []byte, []byte, error) {
	var p Params
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return p, nil, nil, fmt.Errorf("password hash: not argon2id: %w", errs.ErrInvalid)
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, fmt.Errorf("password hash: version %q: %w", parts[2], errs.ErrInvalid)
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, fmt.Errorf("password hash: parameters: %w", errs.ErrInvalid)
	}
	// Bounds keep a tampered hash from asking for gigabytes.
	if p.Memory < 8 || p.Memory > 1<<20 || p.Time < 1 || p.Time > 10 || p.Threads < 1 {
		return p, nil, nil, fmt.Errorf("password hash: parameters out of range: %w", errs.ErrInvalid)
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	sum, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(sum) < 16 {
		return p, nil, nil, fmt.Errorf("password hash: encoding: %w", errs.ErrInvalid)
	}
	return p, salt, sum, nil
}
