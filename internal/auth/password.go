package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id parameters of new password hashes. Hashes
// record their own parameters, so raising these later still verifies the
// old ones.
type Argon2Params struct {
	Time    uint32 // passes over memory
	Memory  uint32 // KiB
	Threads uint8
	SaltLen uint32
	KeyLen  uint32
}

// RFC9106 are the parameters of RFC 9106's second recommended option
// (section 4): argon2id with 3 passes over 64 MiB, 4 lanes, a 128-bit salt
// and a 256-bit tag.
var RFC9106 = Argon2Params{Time: 3, Memory: 64 * 1024, Threads: 4, SaltLen: 16, KeyLen: 32}

// Password lengths, in characters: long passphrases are welcome, but a
// megabyte of "password" would only cost the server time.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 1024
)

var errBadHash = errors.New("auth: malformed password hash")

// hasher hashes and verifies passwords with argon2id. Each hash takes
// params.Memory of memory, so at most slots run at once: a flood of sign-ins
// waits instead of exhausting the server's memory.
type hasher struct {
	params Argon2Params
	slots  chan struct{}
	// dummy is verified against when an account does not exist, so that
	// an unknown email takes as long to refuse as a wrong password. It is
	// made on first need: a hash takes params.Memory, which a server that
	// nobody signs in to should not hold from its start.
	dummy     string
	dummyOnce sync.Once
}

func newHasher(params Argon2Params, concurrency int) *hasher {
	return &hasher{params: params, slots: make(chan struct{}, max(concurrency, 1))}
}

// checkPassword says what is wrong with a new password, if anything.
func checkPassword(p string) error {
	n := utf8.RuneCountInString(p)
	switch {
	case !utf8.ValidString(p):
		return errors.New("password must be valid UTF-8")
	case n < MinPasswordLen:
		return fmt.Errorf("password must have at least %d characters", MinPasswordLen)
	case n > MaxPasswordLen:
		return fmt.Errorf("password must have at most %d characters", MaxPasswordLen)
	}
	return nil
}

func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *hasher) release() { <-h.slots }

// hash returns password's argon2id hash in the PHC string format:
// $argon2id$v=19$m=65536,t=3,p=4$<salt>$<tag>.
func (h *hasher) hash(ctx context.Context, password string) (string, error) {
	p := h.params
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	h.release()
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// verify reports whether password matches encoded, comparing in constant
// time. An empty encoded (an account without a password) is verified
// against a dummy hash and never matches.
func (h *hasher) verify(ctx context.Context, encoded, password string) (bool, error) {
	target := encoded
	if target == "" {
		h.dummyOnce.Do(func() { h.dummy, _ = h.hash(context.WithoutCancel(ctx), "storybot dummy password") })
		target = h.dummy
	}
	var (
		version              int
		memory, time, thread uint32
		salt64, key64        string
	)
	parts := strings.Split(target, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errBadHash
	}
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &time, &thread); err != nil || thread == 0 || thread > 255 {
		return false, errBadHash
	}
	salt64, key64 = parts[4], parts[5]
	salt, err := base64.RawStdEncoding.DecodeString(salt64)
	if err != nil {
		return false, errBadHash
	}
	want, err := base64.RawStdEncoding.DecodeString(key64)
	if err != nil || len(want) == 0 {
		return false, errBadHash
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, time, memory, uint8(thread), uint32(len(want)))
	h.release()
	return subtle.ConstantTimeCompare(got, want) == 1 && encoded != "", nil
}
