package auth

import (
	"sync"
	"time"

	"github.com/storybot/storybot/internal/viewer"
)

// apiTokenTTL is how long a checked API token is trusted without asking
// the database again. A token revoked on this replica is forgotten at
// once; one revoked on another replica, or whose user changed, keeps
// working here for at most this long, well within DefaultWatchInterval, the
// bound within which a revoked credential's sockets already end. It is
// shorter than touchEvery, so a token's last use is still recorded.
const apiTokenTTL = 5 * time.Second

// apiTokenCacheSize bounds the tokens remembered at once.
const apiTokenCacheSize = 10_000

// tokenCache remembers, by the hash of the token, the viewers of API tokens
// checked within apiTokenTTL: a request with a known token then costs no
// database lookups (there were two: the token, then its user).
type tokenCache struct {
	mu sync.Mutex
	m  map[string]cachedToken
}

type cachedToken struct {
	v       viewer.Viewer
	checked time.Time
}

// get returns a copy of the viewer of the token with hash, if it was
// checked within apiTokenTTL of now and has not expired since.
func (c *tokenCache) get(hash []byte, now time.Time) (*viewer.Viewer, bool) {
	c.mu.Lock()
	e, ok := c.m[string(hash)]
	c.mu.Unlock()
	if !ok || now.Sub(e.checked) >= apiTokenTTL || now.Before(e.checked) ||
		(!e.v.Expiry.IsZero() && !now.Before(e.v.Expiry)) {
		return nil, false
	}
	v := e.v
	return &v, true
}

// put remembers v as the viewer of the token with hash, checked at now.
func (c *tokenCache) put(hash []byte, v *viewer.Viewer, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]cachedToken)
	}
	if len(c.m) >= apiTokenCacheSize {
		for k, e := range c.m {
			if now.Sub(e.checked) >= apiTokenTTL {
				delete(c.m, k)
			}
		}
		if len(c.m) >= apiTokenCacheSize {
			clear(c.m)
		}
	}
	c.m[string(hash)] = cachedToken{v: *v, checked: now}
}

// forget drops the token with hash, revoked on this replica.
func (c *tokenCache) forget(hash []byte) {
	c.mu.Lock()
	delete(c.m, string(hash))
	c.mu.Unlock()
}
