package auth

import (
	"testing"
	"time"

	"github.com/storybot/storybot/internal/viewer"
)

func TestTokenCache(t *testing.T) {
	var c tokenCache
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	hash := hashToken("sbt_one")
	c.put(hash, &viewer.Viewer{UserID: "us_1", Method: viewer.MethodAPIToken, Expiry: now.Add(time.Hour)}, now)

	v, ok := c.get(hash, now.Add(apiTokenTTL-time.Millisecond))
	if !ok || v.UserID != "us_1" {
		t.Fatalf("a token checked just now: %v, %v", v, ok)
	}
	v.UserID = "changed"
	if v, _ := c.get(hash, now); v.UserID != "us_1" {
		t.Error("get hands out the cached viewer itself, not a copy")
	}
	if _, ok := c.get(hash, now.Add(apiTokenTTL)); ok {
		t.Error("a token checked apiTokenTTL ago is still trusted")
	}
	if _, ok := c.get(hash, now.Add(-time.Second)); ok {
		t.Error("a token checked in the future (the clock went back) is trusted")
	}
	if _, ok := c.get(hashToken("sbt_other"), now); ok {
		t.Error("an unknown token is found")
	}

	// A token that expires within the TTL stops at its expiry.
	soon := hashToken("sbt_soon")
	c.put(soon, &viewer.Viewer{UserID: "us_2", Expiry: now.Add(time.Second)}, now)
	if _, ok := c.get(soon, now.Add(time.Second)); ok {
		t.Error("an expired token is trusted")
	}

	c.forget(hash)
	if _, ok := c.get(hash, now); ok {
		t.Error("a forgotten (revoked) token is trusted")
	}

	// The cache stays bounded.
	for i := range apiTokenCacheSize + 10 {
		c.put(hashToken(string(rune(i))+"x"), &viewer.Viewer{}, now)
	}
	if n := len(c.m); n > apiTokenCacheSize {
		t.Errorf("%d tokens cached, want at most %d", n, apiTokenCacheSize)
	}
	if apiTokenTTL >= DefaultWatchInterval || apiTokenTTL >= touchEvery {
		t.Errorf("apiTokenTTL %s must stay below the watch interval %s and touchEvery %s", apiTokenTTL, DefaultWatchInterval, touchEvery)
	}
}
