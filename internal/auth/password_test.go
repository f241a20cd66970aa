package auth

import (
	"context"
	"strings"
	"testing"
)

func TestPasswordHashes(t *testing.T) {
	ctx := context.Background()
	h := newHasher(RFC9106, 1)
	encoded, err := h.hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	// RFC 9106's second recommendation, in the PHC string format.
	if !strings.HasPrefix(encoded, "$argon2id$v=19$m=65536,t=3,p=4$") || strings.Count(encoded, "$") != 5 {
		t.Errorf("hash %q is not argon2id with RFC 9106's parameters", encoded)
	}
	again, _ := h.hash(ctx, "correct horse battery staple")
	if again == encoded {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	for _, tc := range []struct {
		password string
		want     bool
	}{
		{"correct horse battery staple", true},
		{"correct horse battery stapl", false},
		{"Correct horse battery staple", false},
		{"", false},
	} {
		if ok, err := h.verify(ctx, encoded, tc.password); err != nil || ok != tc.want {
			t.Errorf("verify(%q) = %t, %v; want %t", tc.password, ok, err, tc.want)
		}
	}
	// Hashes keep their own parameters: a cheaper hasher still verifies
	// them, and what it makes verifies anywhere.
	cheap := newHasher(Argon2Params{Time: 1, Memory: 8 * 1024, Threads: 1, SaltLen: 16, KeyLen: 32}, 1)
	if ok, _ := cheap.verify(ctx, encoded, "correct horse battery staple"); !ok {
		t.Error("a hash did not verify under other parameters")
	}
	// An account without a password never matches, whatever is tried.
	if ok, err := cheap.verify(ctx, "", ""); ok || err != nil {
		t.Errorf("an empty hash matched (%v)", err)
	}
	for _, bad := range []string{"plain", "$argon2i$v=19$m=65536,t=3,p=4$c2FsdA$a2V5", "$argon2id$v=18$m=8,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=8,t=1,p=0$c2FsdA$a2V5", "$argon2id$v=19$m=8,t=1,p=1$!!$a2V5"} {
		if ok, err := cheap.verify(ctx, bad, "x"); ok || err == nil {
			t.Errorf("malformed hash %q: %t, %v; want an error", bad, ok, err)
		}
	}
}

func TestPasswordRules(t *testing.T) {
	for _, tc := range []struct {
		password string
		ok       bool
	}{
		{"12345678", true},
		{"1234567", false},
		{strings.Repeat("é", 8), true},
		{strings.Repeat("x", MaxPasswordLen+1), false},
		{"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", false},
	} {
		if err := checkPassword(tc.password); (err == nil) != tc.ok {
			t.Errorf("checkPassword(%.20q) = %v, want ok %t", tc.password, err, tc.ok)
		}
	}
}

func TestTokens(t *testing.T) {
	a, ha := newToken(apiTokenPrefix)
	b, hb := newToken(apiTokenPrefix)
	if a == b || string(ha) == string(hb) {
		t.Fatal("two tokens are equal")
	}
	if !wellFormed(a, apiTokenPrefix) || wellFormed(a, sessionTokenPrefix) || wellFormed(a[:len(a)-1], apiTokenPrefix) {
		t.Errorf("wellFormed misjudges %q", a)
	}
	if string(hashToken(a)) != string(ha) || len(ha) != 32 {
		t.Error("the stored hash is not the token's SHA-256")
	}
	if s := NewShareToken(); !wellFormed(s, shareTokenPrefix) {
		t.Errorf("share token %q", s)
	}
}
